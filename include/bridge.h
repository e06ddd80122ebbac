/* The bridge context: everything one running sse-bridge holds, passed to every I/O module
 * (no globals). bridge.c builds it, starts and stops its parts in order, and owns the one
 * path every upstream message takes: frame_build once per route, fan out the frame.
 *
 * Start order: hub, HTTP listener, the Redis pool and its connections (pub/sub, journal,
 * streams, publish), MQTT, static routes pinned, the pool's probe, timers, signals. Stop
 * (SIGTERM/SIGINT): stop accepting, send the close event to every client, wait for their buffers to
 * drain (at most shutdown_flush), then free in reverse order and leave the loop. */
#ifndef BRIDGE_H
#define BRIDGE_H

#include <stdbool.h>

#include <event2/event.h>

#include "config.h"
#include "frame.h"
#include "hub.h"
#include "metrics.h"
#include "msg.h"
#include "streamid.h"
#include "translate.h"

struct client;

/* One journalled event: a stream entry (read with XREAD or XRANGE), or a pub/sub message that
 * the journal just wrote. `in` holds what translation reads. */
struct entry {
    bool has_id;
    struct stream_id id;
    bool gap; /* a gap marker: in.payload holds the reason */
    struct translate_in in;
    char *owned;        /* a payload made for the occasion; bridge_entry_clear frees it */
    void *owned_fields; /* the field arrays of an entry with more fields than the caller's */
    bool binary_fields; /* the payload made of its fields had non-UTF-8 ones (base64 in it) */
};

/* A configured route, ready for matching; rules point into cfg. */
struct route {
    const struct route_cfg *cfg;
};

enum bridge_state { BRIDGE_RUNNING, BRIDGE_DRAINING };

struct bridge {
    struct event_base *base;
    struct config *cfg;
    struct route *routes;
    size_t nroutes;
    struct hub *hub;
    struct http *http;
    struct redis_pool *redis_pool; /* the address, backoff and health probe of every Redis
                                      connection */
    struct source_redis *redis;
    struct source_stream *streams;
    struct source_mqtt *mqtt; /* NULL when no route reads MQTT */
    struct publish *publish;  /* NULL when no route publishes */
    struct journal *journal;
    struct metrics metrics;
    struct frame_opts names; /* close and gap event names, for frame_build */
    enum bridge_state state;
    /* Numbers each upstream message, so that a client subscribed to several filters that all
     * match one MQTT message gets it once (see client.last_message). */
    unsigned long long message_seq;

    struct client *clients; /* every open SSE stream, for heartbeats and shutdown */
    struct client *dirty;   /* clients with frames queued this loop turn */
    struct event *flush_ev; /* activated by the first queued frame of a turn */
    size_t nclients;
    int null_fd; /* /dev/null, for clients taking sockets over from evhttp (client.c) */

    struct msg *retry_frame;     /* sent first on every stream; NULL when retry is 0 */
    struct msg *heartbeat_frame; /* ": heartbeat" comment */
    struct msg *shutdown_frame;  /* the close event sent on SIGTERM */
    struct msg *blank_frame;     /* "\n": ends an event body that carries no id */
    struct msg *crlf_frame;      /* "\r\n": ends a chunk (client.c) */

    struct event *heartbeat_ev, *sweep_ev, *drain_ev, *sigterm_ev, *sigint_ev;
    unsigned long long drain_deadline_ms;
    int exit_code;
};

struct bridge *bridge_new(struct event_base *base, struct config *cfg);
/* Listens, connects upstream, arms timers and signals. Returns 0, or -1 after logging why. */
int bridge_start(struct bridge *b);
void bridge_free(struct bridge *b);

/* Milliseconds of the loop's cached clock. */
unsigned long long bridge_now_ms(const struct bridge *b);
/* Milliseconds since the epoch (journal ages compare with stream ids). */
unsigned long long bridge_wall_ms(const struct bridge *b);
/* Whether every Redis connection in use is up (/healthz). */
bool bridge_upstream_up(const struct bridge *b);

/* One upstream message: `subject` is the topic it arrived on (channel or pattern), `channel`
 * the channel it was published to. Buffers are the caller's; nothing is kept. */
void bridge_deliver(struct bridge *b, enum topic_kind kind, const char *subject, size_t subject_len,
                    const char *channel, size_t channel_len, const char *payload,
                    size_t payload_len);

/* One MQTT message for filter t (the source found which filters it matched). `in->channel` is
 * the topic, `in->props` its MQTT 5 user properties. `retained`: the broker sent it because
 * the bridge subscribed; it is kept for later clients, and not journalled. */
void bridge_deliver_mqtt(struct bridge *b, struct topic *t, const struct translate_in *in,
                         bool retained);
/* Sends a new client the retained messages of its MQTT topics (routes with retained = true). */
void bridge_send_retained(struct bridge *b, struct client *c);

/* A journalled event for topic t (from the journal writer or the stream reader): encoded once
 * per route and handed to each subscriber, which holds it while syncing and drops it if it
 * is not newer than what it has. */
void bridge_deliver_entry(struct bridge *b, struct topic *t, const struct entry *e);

/* Fills e->in (and e->gap) from a stream entry's fields: a journal entry's channel and
 * payload, or for a stream route, its "data" field (or all fields as a JSON object). */
void bridge_entry_from_fields(const struct topic *t, struct entry *e);
void bridge_entry_clear(struct entry *e);

/* Adds what building frames for one message found (binary, not JSON) to the counters. */
void bridge_count_frames(struct bridge *b, const struct frame_src *src);

/* Asks the upstream to follow the hub for this topic (after a join, leave or pin). */
void bridge_sync_topic(struct bridge *b, struct topic *t);
/* Makes a new topic journalled as route r says (no-op for routes without journal). */
void bridge_topic_setup(struct bridge *b, struct topic *t, const struct route_cfg *r);

#endif
