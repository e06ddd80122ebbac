#include "client.h"

#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <event2/http.h>
#include <event2/http_struct.h>

#include "clock.h"
#include "journal.h"
#include "log.h"
#include "record.h"
#include "sse.h"
#include "xmalloc.h"

#define FLUSH_IOV_MAX                                                                              \
    1024              /* pieces of one writev (Linux's IOV_MAX); a longer chunk is buffered        \
                       */
#define QUEUE_KEEP 64 /* a frame queue larger than this is freed after its flush */

static void link_client(struct bridge *b, struct client *c) {
    c->next = b->clients;
    if (b->clients)
        b->clients->prev = c;
    b->clients = c;
    b->nclients++;
}

/* Leaves the hub; the upstream follows at the next sweep, after the linger period. */
static void leave_topics(struct client *c) {
    unsigned long long now = clock_now_ms(c->b->base);
    for (size_t i = 0; i < c->nsubs; i++) {
        struct hub_sub *s = c->subs[i];
        if (s->sync_job != NULL)
            c->b->client_hooks.cancel_sync(s->sync_job);
        hub_leave(c->b->hub, s, now);
    }
    free(c->subs);
    c->subs = NULL;
    c->nsubs = 0;
}

static void dirty_unlink(struct client *c) {
    if (!c->dirty)
        return;
    if (c->dirty_prev)
        c->dirty_prev->dirty_next = c->dirty_next;
    else
        c->b->dirty = c->dirty_next;
    if (c->dirty_next)
        c->dirty_next->dirty_prev = c->dirty_prev;
    c->dirty = false;
    c->dirty_prev = c->dirty_next = NULL;
}

static void queue_drop(struct client *c) {
    for (size_t i = 0; i < c->nqueue; i++)
        msg_unref(c->queue[i]);
    c->nqueue = 0;
    c->queue_bytes = 0;
}

/* --- the backlog: what the kernel did not take, as references to frames ------------------- */

static void out_drop(struct client *c) {
    for (size_t i = c->out_head; i < c->nout; i++)
        msg_unref(c->out[i]);
    free(c->out);
    c->out = NULL;
    c->nout = c->out_head = c->out_cap = 0;
    c->out_skip = c->out_bytes = 0;
}

/* Appends bytes [skip, len) of m (a reference is taken). Only the first piece of an empty
 * backlog can start inside its frame: the rest of a partly written writev. */
static void out_push(struct client *c, struct msg *m, size_t skip) {
    if (skip >= m->len)
        return;
    if (c->nout == c->out_cap) {
        if (c->out_head > 0) { /* reuse the room of what was written */
            memmove(c->out, c->out + c->out_head, (c->nout - c->out_head) * sizeof(*c->out));
            c->nout -= c->out_head;
            c->out_head = 0;
        }
        if (c->nout == c->out_cap) {
            c->out_cap = c->out_cap ? 2 * c->out_cap : 16;
            c->out = xrealloc(c->out, c->out_cap * sizeof(*c->out));
        }
    }
    if (c->nout == c->out_head)
        c->out_skip = skip;
    c->out[c->nout++] = msg_ref(m);
    c->out_bytes += m->len - skip;
}

/* Appends bytes [skip, len) of p as a frame of their own (chunk framing that must outlive
 * the stack). */
static void out_push_bytes(struct client *c, const char *p, size_t len, size_t skip) {
    if (skip >= len)
        return;
    struct msg *m = msg_copy(p + skip, len - skip);
    out_push(c, m, 0);
    msg_unref(m);
}

/* Drops the first n bytes of the backlog (the kernel took them). */
static void out_advance(struct client *c, size_t n) {
    c->out_bytes -= n;
    while (n > 0) {
        struct msg *m = c->out[c->out_head];
        size_t left = m->len - c->out_skip;
        if (n < left) {
            c->out_skip += n;
            return;
        }
        n -= left;
        msg_unref(m);
        c->out_head++;
        c->out_skip = 0;
    }
    if (c->out_head == c->nout)
        out_drop(c); /* an idle stream keeps no array */
}

/* Closes the socket the client owns (nothing while evhttp still has it). */
static void close_socket(struct client *c) {
    if (c->expiry != NULL)
        event_free(c->expiry);
    c->expiry = NULL;
    if (c->io != NULL)
        event_free(c->io);
    if (c->wev != NULL)
        event_free(c->wev);
    c->io = c->wev = NULL;
    out_drop(c);
    if (c->fd >= 0 && c->reset) {
        /* A client cut off: reset, so that the kernel drops what it still holds for it (up
         * to its send buffer, megabytes) at once instead of trying to deliver it. */
        struct linger now = {1, 0};
        setsockopt(c->fd, SOL_SOCKET, SO_LINGER, &now, sizeof(now));
    } else if (c->fd >= 0) {
        shutdown(c->fd, SHUT_WR); /* the end of the stream follows what was written */
    }
    if (c->fd >= 0)
        close(c->fd);
    c->fd = -1;
}

static void release(struct client *c) {
    struct bridge *b = c->b;
    dirty_unlink(c);
    queue_drop(c);
    free(c->queue);
    leave_topics(c);
    close_socket(c);
    if (c->prev)
        c->prev->next = c->next;
    else
        b->clients = c->next;
    if (c->next)
        c->next->prev = c->prev;
    b->nclients--;
    free(c);
    /* A shutdown waits for the last stream to be flushed. */
    if (b->state == BRIDGE_DRAINING && b->nclients == 0)
        event_base_loopexit(b->base, NULL);
}

/* evhttp's close callback, for a peer that leaves before the client owns its socket. */
static void on_close(struct evhttp_connection *evcon, void *arg) {
    struct client *c = arg;
    (void)evcon;
    /* On EOF or timeout evhttp detaches a streaming request from its connection and leaves it
     * to us; ending the reply frees it. An attached request is freed with the connection. */
    if (evhttp_request_get_connection(c->req) == NULL)
        evhttp_send_reply_end(c->req);
    release(c);
}

size_t client_pending(const struct client *c) {
    size_t n = c->queue_bytes + c->out_bytes;
    if (c->evcon != NULL)
        n += evbuffer_get_length(
            bufferevent_get_output(evhttp_connection_get_bufferevent(c->evcon)));
    return n;
}

static bool would_block(int err) {
    return err == EAGAIN || err == EWOULDBLOCK || err == EINTR;
}

static void on_read(evutil_socket_t fd, short what, void *arg);
static void on_write(evutil_socket_t fd, short what, void *arg);

/* Reads always (to see the peer leave); watches for room to write only while bytes wait,
 * with the write timeout then: a peer that takes no byte for that long is stuck or gone.
 * The write event exists only meanwhile, and is apart from the read one, so that bytes the
 * peer sends do not restart the write timeout. */
static void watch(struct client *c, bool writing) {
    if (c->io == NULL) {
        c->io = event_new(c->b->base, c->fd, EV_READ | EV_PERSIST, on_read, c);
        event_add(c->io, NULL);
    }
    if (writing && c->wev == NULL) {
        unsigned ms = c->b->cfg->client_write_timeout_ms;
        struct timeval tv = {ms / 1000, (ms % 1000) * 1000};
        c->wev = event_new(c->b->base, c->fd, EV_WRITE | EV_PERSIST, on_write, c);
        event_add(c->wev, ms > 0 ? &tv : NULL);
    } else if (!writing && c->wev != NULL) {
        event_free(c->wev);
        c->wev = NULL;
    }
}

/* Hands the kernel what waits in the backlog, then watches for room if some is left. A
 * finished stream is closed once everything is out. Returns 0, or -1 when c is gone. */
static int send_out(struct client *c, bool try_write) {
    while (try_write && c->out_bytes > 0) {
        struct iovec iov[FLUSH_IOV_MAX];
        int n = 0;
        size_t want = 0;
        for (size_t i = c->out_head; i < c->nout && n < FLUSH_IOV_MAX; i++, n++) {
            size_t skip = i == c->out_head ? c->out_skip : 0;
            iov[n] = (struct iovec){c->out[i]->data + skip, c->out[i]->len - skip};
            want += iov[n].iov_len;
        }
        ssize_t w = writev(c->fd, iov, n);
        if (w < 0 && !would_block(errno)) {
            log_debug("client: peer gone while writing (%s)", strerror(errno));
            release(c);
            return -1;
        }
        if (w > 0)
            out_advance(c, (size_t)w);
        if (w <= 0 || (size_t)w < want)
            break; /* the socket is full */
    }
    if (c->out_bytes == 0 && c->state == CLIENT_FINISHING) {
        release(c);
        return -1;
    }
    watch(c, c->out_bytes > 0);
    if (c->drain_wanted && client_pending(c) <= c->b->cfg->client_buffer / 4) {
        c->drain_wanted = false;
        c->b->client_hooks.drained(c, c->b->client_hooks.arg);
    }
    return 0;
}

void client_on_drain(struct client *c) {
    c->drain_wanted = true;
}

/* A stream's request is read; what a peer sends after it is dropped. EOF or an error is the
 * peer leaving. */
static void on_read(evutil_socket_t fd, short what, void *arg) {
    struct client *c = arg;
    (void)what;
    char buf[512];
    ssize_t n = recv(fd, buf, sizeof(buf), 0);
    if (n == 0 || (n < 0 && !would_block(errno)))
        release(c);
}

static void on_write(evutil_socket_t fd, short what, void *arg) {
    struct client *c = arg;
    (void)fd;
    if (what & EV_TIMEOUT) {
        c->b->metrics.clients_slow_cut++;
        log_warn("client: cut off a client that took no byte for %u ms",
                 c->b->cfg->client_write_timeout_ms);
        client_cut(c);
        return;
    }
    send_out(c, true);
}

/* Takes the socket from evhttp once the head is made: evhttp's per-connection state (a
 * bufferevent, four evbuffers, the connection and request, about 2 KiB) is freed, and the
 * stream costs the client struct, one event and its subscriptions. libevent 2.1 has no call
 * to hand a connection's socket over, so: a duplicate of the socket is kept, the
 * bufferevent's events leave epoll while the number still names the socket, that number is
 * pointed at /dev/null (evhttp shuts down and closes the number it knows when freed), and the
 * connection is freed. Whatever of the head evhttp has not written goes first in the
 * client's backlog. Returns 0, or -1 when the client was cut off (released). */
static int detach(struct client *c) {
    struct bufferevent *bev = evhttp_connection_get_bufferevent(c->evcon);
    evutil_socket_t fd = bufferevent_getfd(bev);
    int own = fcntl(fd, F_DUPFD_CLOEXEC, 0);
    if (own < 0) {
        log_warn("client: cannot take over a stream's socket: %s", strerror(errno));
        client_cut(c);
        return -1;
    }
    bufferevent_disable(bev, EV_READ | EV_WRITE);
    if (dup2(c->b->null_fd, fd) < 0) {
        log_warn("client: cannot take over a stream's socket: %s", strerror(errno));
        close(own);
        client_cut(c);
        return -1;
    }
    struct evbuffer *head = bufferevent_get_output(bev);
    size_t hlen = evbuffer_get_length(head);
    if (hlen > 0)
        out_push_bytes(c, (const char *)evbuffer_pullup(head, (ev_ssize_t)hlen), hlen, 0);
    evhttp_connection_set_closecb(c->evcon, NULL, NULL);
    evhttp_connection_free(c->evcon); /* frees the request too: it is still attached */
    c->evcon = NULL;
    c->req = NULL;
    c->fd = own;
    return 0;
}

/* Sends the frames queued this turn as one chunk (see the header). Returns 0, or -1 when c is
 * gone (released). */
static int flush(struct client *c) {
    dirty_unlink(c);
    if (c->fd < 0 && detach(c) != 0)
        return -1;
    if (c->nqueue == 0)
        return send_out(c, c->out_bytes > 0);
    char head[24];
    size_t hlen = c->chunked ? (size_t)snprintf(head, sizeof(head), "%zx\r\n", c->queue_bytes) : 0;
    size_t done = 0; /* bytes of head, frames and tail that the kernel took */
    bool tried = c->out_bytes == 0 && c->nqueue + 2 <= FLUSH_IOV_MAX; /* else all to the backlog */
    if (tried) {
        struct iovec iov[FLUSH_IOV_MAX];
        int n = 0;
        if (hlen > 0)
            iov[n++] = (struct iovec){head, hlen};
        for (size_t i = 0; i < c->nqueue; i++)
            iov[n++] = (struct iovec){c->queue[i]->data, c->queue[i]->len};
        if (c->chunked)
            iov[n++] = (struct iovec){(void *)"\r\n", 2};
        ssize_t w = writev(c->fd, iov, n);
        if (w < 0 && !would_block(errno)) {
            log_debug("client: peer gone while writing (%s)", strerror(errno));
            release(c);
            return -1;
        }
        done = w > 0 ? (size_t)w : 0;
    }
    /* What the kernel did not take joins the backlog: frames by reference, the few framing
     * bytes as small frames of their own. */
    size_t total = hlen + c->queue_bytes + (c->chunked ? 2 : 0);
    if (done < total) {
        size_t skip = done;
        out_push_bytes(c, head, hlen, skip);
        skip = skip > hlen ? skip - hlen : 0;
        for (size_t i = 0; i < c->nqueue; i++) {
            out_push(c, c->queue[i], skip);
            skip = skip > c->queue[i]->len ? skip - c->queue[i]->len : 0;
        }
        if (c->chunked)
            out_push(c, c->b->crlf_frame, skip);
    }
    queue_drop(c);
    if (c->queue_cap > QUEUE_KEEP) { /* a burst's worth: not kept for the stream's life */
        free(c->queue);
        c->queue = NULL;
        c->queue_cap = 0;
    }
    /* A writev that the kernel cut short says the socket is full: no second try now. */
    return send_out(c, !tried);
}

void client_flush_all(struct bridge *b) {
    while (b->dirty)
        flush(b->dirty); /* unlinks it */
}

static void mark_dirty(struct client *c) {
    if (c->dirty)
        return;
    struct bridge *b = c->b;
    c->dirty = true;
    c->dirty_prev = NULL;
    c->dirty_next = b->dirty;
    if (b->dirty)
        b->dirty->dirty_prev = c;
    b->dirty = c;
    event_active(b->flush_ev, EV_TIMEOUT, 1);
}

/* Queues a reference to m for the end of the turn. */
static void queue_frame(struct client *c, struct msg *m) {
    if (c->queue == NULL || c->nqueue == c->queue_cap) {
        c->queue_cap = c->queue != NULL ? 2 * c->queue_cap : 8;
        c->queue = xrealloc(c->queue, c->queue_cap * sizeof(*c->queue));
    }
    c->queue[c->nqueue++] = msg_ref(m);
    c->queue_bytes += m->len;
    mark_dirty(c);
}

struct client *client_open(struct bridge *b, struct evhttp_request *req, const struct route *r) {
    struct client *c = xcalloc(1, sizeof(*c));
    c->b = b;
    c->req = req;
    c->evcon = evhttp_request_get_connection(req);
    c->route = r;
    struct evkeyvalq *h = evhttp_request_get_output_headers(req);
    evhttp_add_header(h, "Content-Type", "text/event-stream; charset=utf-8");
    evhttp_add_header(h, "Cache-Control", "no-cache");
    evhttp_add_header(h, "X-Accel-Buffering", "no"); /* nginx and friends: do not buffer */
    /* A finished stream is not followed by another request on the same connection
     * (EventSource always opens a new one), and closing lets a shutdown see it flushed. */
    evhttp_add_header(h, "Connection", "close");
    /* The request was read (Last-Event-ID and CORS are done): its headers go now, before the
     * head is made, or an HTTP/1.0 "Connection: keep-alive" would make evhttp add a
     * keep-alive and a zero length to it. A browser sends a dozen headers, each an
     * allocation or three, held for the life of the stream otherwise. */
    evhttp_clear_headers(evhttp_request_get_input_headers(req));
    evhttp_send_reply_start(req, 200, "OK");
    /* The head is written: keep only what evhttp still reads when the response ends. */
    evhttp_clear_headers(h);
    evhttp_add_header(h, "Connection", "close");

    c->chunked = req->chunked; /* evhttp chunks HTTP/1.1 responses without a length */
    c->fd = -1;                /* evhttp's until the end of this loop turn (flush) */
    int one = 1;
    setsockopt(bufferevent_getfd(evhttp_connection_get_bufferevent(c->evcon)), IPPROTO_TCP,
               TCP_NODELAY, &one, sizeof(one));
    evhttp_connection_set_closecb(c->evcon, on_close, c);
    link_client(b, c);
    mark_dirty(c); /* the socket is taken over at the end of the turn, frames or not */
    b->metrics.clients_total++;
    if (b->retry_frame && client_send(c, b->retry_frame) != 0)
        return NULL; /* a client_buffer smaller than one frame: cut at once */
    return c;
}

void client_subscribe(struct client *c, enum topic_kind kind, const char *name) {
    for (size_t i = 0; i < c->nsubs; i++) {
        if (c->subs[i]->topic->kind == kind && strcmp(c->subs[i]->topic->name, name) == 0)
            return;
    }
    c->subs = xrealloc(c->subs, (c->nsubs + 1) * sizeof(*c->subs));
    struct hub_sub *s = hub_join(c->b->hub, kind, name, c->route, c);
    c->subs[c->nsubs++] = s;
    /* The first journalled route to use a topic sets its journal up (a plain route may have
     * been there first); a second one may lengthen its retention. */
    if (route_is_journalled(c->route->cfg) || s->topic->kind == TOPIC_STREAM)
        journal_topic_setup(c->b->journal, c->b->cfg, s->topic, c->route->cfg);
    s->syncing = route_is_journalled(c->route->cfg);
    hub_sync(c->b->hub, s->topic);
}

/* Makes room for len more bytes in the client's output, or cuts the client. Output is only
 * written at the end of the loop turn, so a burst read from Redis in one turn can fill the
 * buffer of a client that reads at full speed; before calling such a client slow, hand the
 * kernel what it will take now. A peer whose socket fails is gone, not slow. */
static int make_room(struct client *c, size_t len) {
    size_t limit = c->b->cfg->client_buffer;
    if (client_pending(c) + len <= limit)
        return 0;
    if (flush(c) != 0)
        return -1; /* gone */
    if (client_pending(c) + len <= limit)
        return 0;
    c->b->metrics.clients_slow_cut++;
    log_warn("client: cut off a slow client (%zu bytes unsent, limit %zu)", client_pending(c),
             limit);
    client_cut(c);
    return -1;
}

int client_send_once(struct client *c, struct msg *m, unsigned long long seq) {
    if (c->last_message == seq)
        return 0; /* had it through another of its filters */
    c->last_message = seq;
    return client_send(c, m) == 0 ? 1 : -1;
}

int client_send(struct client *c, struct msg *m) {
    if (c->state != CLIENT_STREAMING)
        return 0;
    if (make_room(c, m->len) != 0)
        return -1;
    /* The frame is referenced, not copied: every client points at the same bytes, and the
     * last one written drops the last reference. */
    queue_frame(c, m);
    c->b->metrics.events_out++;
    c->b->metrics.bytes_out += m->len;
    return 0;
}

/* Queues two frames as one chunk: an event body and the line(s) that end it. */
static int send_parts(struct client *c, struct msg *a, struct msg *b) {
    if (c->state != CLIENT_STREAMING)
        return 0;
    size_t len = a->len + b->len;
    if (make_room(c, len) != 0)
        return -1;
    queue_frame(c, a);
    queue_frame(c, b);
    c->b->metrics.events_out++;
    c->b->metrics.bytes_out += len;
    return 0;
}

/* The client's position: its topics' last ids, in request order, joined with ','. */
static struct msg *position_frame(const struct client *c) {
    char *buf = xmalloc(c->nsubs * (STREAM_ID_MAX_LEN + 1) + 1);
    size_t len = 0;
    for (size_t i = 0; i < c->nsubs; i++) {
        if (i > 0)
            buf[len++] = ',';
        len += stream_id_format(c->subs[i]->last_id, buf + len);
    }
    struct msg *m = sse_id_frame(buf, len);
    free(buf);
    return m;
}

/* Sends body with s's new position as its id. */
static int send_with_id(struct client *c, struct msg *body, struct msg *shared_id_frame) {
    if (c->nsubs == 1 && shared_id_frame != NULL)
        return send_parts(c, body, shared_id_frame);
    struct msg *id = position_frame(c);
    int rc = send_parts(c, body, id);
    msg_unref(id);
    return rc;
}

/* Bytes of live events held for the client while it syncs, all topics together. */
static size_t held_bytes(const struct client *c) {
    size_t n = 0;
    for (size_t i = 0; i < c->nsubs; i++)
        n += c->subs[i]->held_bytes;
    return n;
}

int client_send_entry(struct client *c, struct hub_sub *s, struct msg *body, const struct entry *e,
                      struct msg *shared_id_frame) {
    if (c->state != CLIENT_STREAMING)
        return 0;
    if (!e->has_id) /* the journal could not write it: delivered, but never replayable */
        return send_parts(c, body, c->b->blank_frame);
    if (s->syncing) {
        hub_sub_hold(s, msg_ref(body), e->id, record_is_start_marker(e));
        /* Live events held during a replay count against the same bound. */
        return make_room(c, held_bytes(c));
    }
    if (stream_id_cmp(e->id, s->last_id) <= 0)
        return 0; /* already sent by the replay */
    s->last_id = e->id;
    if (s->fresh && record_is_start_marker(e))
        return 0; /* nothing was missed by a client that had seen nothing */
    return send_with_id(c, body, shared_id_frame);
}

int client_replay_entry(struct client *c, struct hub_sub *s, struct msg *body,
                        const struct entry *e, bool closing, struct msg *shared_id_frame) {
    int rc = 0;
    if (!e->has_id) {
        rc = send_parts(c, body, c->b->blank_frame);
    } else if (stream_id_cmp(e->id, s->last_id) > 0) {
        s->last_id = e->id;
        rc = send_with_id(c, body, shared_id_frame);
        /* A close event in the history ends the stream as it would have live; the client
         * comes back after it (if it wants) and resumes from there. */
        if (rc == 0 && closing) {
            client_finish(c);
            rc = -1;
        }
    }
    return rc;
}

/* Sends s's held events newer than what it was sent, in order; frees them all. */
static int flush_held(struct client *c, struct hub_sub *s) {
    struct held *h = hub_sub_take_held(s); /* c, and s, may go while they are sent */
    int rc = 0;
    while (h) {
        if (rc == 0 && stream_id_cmp(h->id, s->last_id) > 0) {
            s->last_id = h->id;
            if (!(s->fresh && h->start_marker)) {
                rc = send_with_id(c, h->body, NULL);
                if (rc == 0 && frame_is_close(h->body, c->b->cfg->close_event)) {
                    client_finish(c);
                    rc = -1;
                }
            }
        }
        h = hub_held_free(h);
    }
    return rc;
}

int client_sync_done(struct client *c, struct hub_sub *s, struct stream_id pos) {
    s->synced = true;
    s->sync_pos = pos;
    /* A client goes live on all its topics together: until every topic knows its position,
     * an id sent for one would carry a meaningless 0-0 for another. */
    for (size_t i = 0; i < c->nsubs; i++) {
        if (!c->subs[i]->synced)
            return 0;
    }
    for (size_t i = 0; i < c->nsubs; i++) {
        struct hub_sub *t = c->subs[i];
        if (!t->syncing)
            continue;
        t->syncing = false;
        int rc = flush_held(c, t);
        if (rc != 0)
            return rc; /* cut off or finished: c is gone */
        if (stream_id_cmp(t->sync_pos, t->last_id) > 0)
            t->last_id = t->sync_pos;
    }
    struct msg *frame = position_frame(c);
    int rc = client_send(c, frame);
    msg_unref(frame);
    return rc;
}

void client_finish(struct client *c) {
    if (c->state != CLIENT_STREAMING)
        return;
    if (flush(c) != 0) /* what it was sent goes before the end of the response */
        return;
    c->state = CLIENT_FINISHING;
    leave_topics(c);
    if (c->chunked)
        out_push_bytes(c, "0\r\n\r\n", 5, 0);
    send_out(c, true); /* closes the connection once all is written */
}

static void on_expiry(evutil_socket_t fd, short what, void *arg) {
    (void)fd, (void)what;
    client_finish(arg);
}

void client_end_at(struct client *c, long long epoch_ms) {
    long long left = epoch_ms - (long long)clock_wall_ms();
    if (left < 0)
        left = 0;
    struct timeval tv = {(time_t)(left / 1000), (suseconds_t)((left % 1000) * 1000)};
    if (c->expiry == NULL)
        c->expiry = evtimer_new(c->b->base, on_expiry, c);
    evtimer_add(c->expiry, &tv);
}

void client_cut(struct client *c) {
    c->reset = true;
    struct evhttp_connection *evcon = c->evcon;
    if (evcon != NULL)
        evhttp_connection_set_closecb(evcon, NULL, NULL);
    release(c); /* closes the socket if the client owns it */
    if (evcon != NULL)
        evhttp_connection_free(evcon); /* frees the request too: it is still attached */
}

void client_forget(struct client *c) {
    release(c);
}
