/* One SSE stream: an evhttp request answered with a chunked text/event-stream response that
 * never ends on its own. evhttp reads the request and makes the response head; at the end of
 * that loop turn the client takes the socket over and evhttp's per-connection state is freed
 * (see detach in client.c), so an idle stream costs this struct, one event and its
 * subscriptions. Frames are shared, never copied: a client queues a reference to each frame
 * it is sent, and once per loop turn (the bridge's flush event) its queued frames leave as
 * one chunk, in one writev straight to the socket when nothing waits before them; only what
 * the kernel does not take goes to the client's backlog, an array of references to the same
 * frames (a pointer per frame, whatever the number of clients), freed once empty. So a client costs
 * one system call per loop turn however many events it got, and nothing is allocated per event in
 * the usual case. A client whose unsent bytes would pass client_buffer, or that takes no byte for
 * client_write_timeout, is cut off (it reconnects and, with a journal, replays), so memory per
 * client stays bounded.
 *
 * Lifetime: client_open links the client into the bridge. It ends in exactly one of three
 * ways, each leaving the hub at once:
 *   - the peer goes away (EOF or error on its socket, or evhttp's close callback before the
 *     takeover): freed then;
 *   - client_cut (slow client): the connection is dropped, freed now;
 *   - client_finish (close event, shutdown): the response is ended and the client is freed
 *     once the last bytes are written (or the peer leaves first).
 * After client_send returns -1 or client_finish is called, the pointer must not be used. */
#ifndef CLIENT_H
#define CLIENT_H

#include <stddef.h>

#include <event2/http.h>

#include "context.h"
#include "hub.h"
#include "record.h"

enum client_state { CLIENT_STREAMING, CLIENT_FINISHING };

struct client {
    struct bridge *b;
    struct evhttp_request *req;      /* until the takeover; NULL after */
    struct evhttp_connection *evcon; /* until the takeover; NULL after */
    int fd;                          /* the socket once taken over; -1 before */
    enum client_state state;
    bool chunked;      /* HTTP/1.1: the body goes in chunks */
    bool reset;        /* cut off: the connection is reset, not ended */
    bool dirty;        /* in the bridge's list of clients to flush at the end of the turn */
    bool drain_wanted; /* call the drained hook once its output is down to a quarter buffer */
    struct event *io;  /* reads the socket once taken over */
    struct event *wev; /* waits for room to write while a backlog exists */
    /* The backlog: references to what the kernel did not take yet, oldest first, from
     * out[out_head] (out_skip bytes of it already written); NULL when empty. */
    struct msg **out;
    size_t nout, out_head, out_cap, out_skip, out_bytes;
    const struct route *route;
    struct hub_sub **subs;
    size_t nsubs;
    struct msg **queue; /* frames for this loop turn, one reference each */
    size_t nqueue, queue_cap, queue_bytes;
    struct client *dirty_prev, *dirty_next;
    unsigned long long last_message; /* the message_seq it was last sent (client_send_once) */
    struct event *expiry;       /* ends the stream when its token does (client_end_at); or NULL */
    struct client *prev, *next; /* the bridge's list */
};

/* Sends the response head (the caller has added CORS headers) and the retry frame. Returns
 * NULL when the client was cut off at once (client_buffer below one frame). */
struct client *client_open(struct bridge *b, struct evhttp_request *req, const struct route *r);
/* Joins one topic (setting its journal up as the route says, and asking the upstream to
 * follow); a topic the client already has is not joined twice. On a journalled route the
 * subscription starts `syncing` (live events held) until replay.c brings it up to date. */
void client_subscribe(struct client *c, enum topic_kind kind, const char *name);
/* A journalled entry for subscriber s: held while syncing, dropped if not newer than what s
 * has, else sent as body + id ("id: X" for one topic, the composite id for several). */
int client_send_entry(struct client *c, struct hub_sub *s, struct msg *body, const struct entry *e,
                      struct msg *shared_id_frame);
/* A replayed entry (replay.c, while s is syncing), its frame built for the client's route:
 * sent when newer than what s has; `closing` (a close event) then ends the stream. -1: the
 * client is gone or finished. shared_id_frame: the entry's "id:" line, shared by the clients
 * of one topic (or NULL: made here). */
int client_replay_entry(struct client *c, struct hub_sub *s, struct msg *body,
                        const struct entry *e, bool closing, struct msg *shared_id_frame);
/* s is up to date at `pos`: held events newer than what it was sent are sent (a new client,
 * which was sent nothing, gets every held event: all came after it registered), then it is
 * live from max(pos, last sent). When no topic of the client is syncing any more, its
 * position is sent ("id: X" alone). -1: cut off. */
int client_sync_done(struct client *c, struct hub_sub *s, struct stream_id pos);
/* Queues a frame. Returns 0, or -1 when the client was cut off (and freed) instead. */
int client_send(struct client *c, struct msg *m);
/* Queues a frame of upstream message `seq` unless the client had that message already
 * (through another filter): 1 sent, 0 not needed, -1 cut off. */
int client_send_once(struct client *c, struct msg *m, unsigned long long seq);
/* Calls the context's client_hooks.drained once, the next time the client's unsent bytes are at
 * most a quarter of client_buffer after a write (a replay waiting for it to read). */
void client_on_drain(struct client *c);
void client_finish(struct client *c);
/* Ends the stream (client_finish) at `epoch_ms`, wall-clock milliseconds. */
void client_end_at(struct client *c, long long epoch_ms);
void client_cut(struct client *c);
/* Sends every client's queued frames (the bridge's flush event, once per loop turn). */
void client_flush_all(struct bridge *b);
/* Bytes queued but not yet written to the socket. */
size_t client_pending(const struct client *c);
/* Frees a client at exit (its socket, if it owns one, is closed). */
void client_forget(struct client *c);

#endif
