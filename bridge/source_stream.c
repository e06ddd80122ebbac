#include "source_stream.h"

#include <stdlib.h>
#include <string.h>

#include <hiredis/async.h>
#include <hiredis/hiredis.h>

#include "defaults.h"
#include "clock.h"
#include "delivery.h"
#include "journal.h"
#include "record.h"
#include "log.h"
#include "xmalloc.h"

struct source_stream {
    struct source base; /* first: the ops table (source.h) */
    struct bridge *b;
    struct redis_conn *conn;
    long long client_id;    /* this connection's CLIENT ID, for CLIENT UNBLOCK */
    bool reading;           /* an XREAD is in flight */
    bool stale;             /* the set of streams changed since it was sent */
    struct event *retry_ev; /* after an XREAD error: check the keys, then read again */
    unsigned checks;        /* TYPE replies still awaited */
    bool error_logged;
};

static void stream_sync(struct source_stream *s, struct topic *t);
static void stream_free(struct source_stream *s);

static void send_read(struct source_stream *s);

/* Re-reads with the current set of streams: now if idle, else by unblocking the XREAD. */
static void kick(struct source_stream *s) {
    if (!redis_conn_ready(s->conn))
        return;
    if (!s->reading) {
        send_read(s);
    } else if (!s->stale) {
        s->stale = true;
        journal_unblock(s->b->journal, s->client_id);
    }
}

struct read_args {
    const char **argv;
    size_t *lens;
    char (*ids)[STREAM_ID_MAX_LEN + 1];
    size_t n, cap;
};

static void count_stream(void *arg, struct topic *t) {
    size_t *n = arg;
    *n += t->kind == TOPIC_STREAM && t->state == UPSTREAM_SUBSCRIBED;
}

static void add_key(void *arg, struct topic *t) {
    struct read_args *a = arg;
    if (t->kind != TOPIC_STREAM || t->state != UPSTREAM_SUBSCRIBED || a->n == a->cap)
        return;
    a->argv[6 + a->n] = t->name;
    a->lens[6 + a->n] = t->name_len;
    stream_id_format(t->last_id, a->ids[a->n]);
    a->n++;
}

static void on_read(redisAsyncContext *ac, void *r, void *privdata) {
    struct source_stream *s = privdata;
    redisReply *reply = r;
    (void)ac;
    s->reading = false;
    if (reply == NULL)
        return; /* connection lost: on_ready reads again from the cursors */
    if (reply->type == REDIS_REPLY_ERROR) {
        /* Most likely one key is not a stream (WRONGTYPE): one bad key must not stop every
         * stream route, nor make the loop spin. Check the keys in a moment, then read on. */
        if (!s->error_logged)
            log_warn("streams: XREAD failed: %s; checking the keys", reply->str);
        s->error_logged = true;
        struct timeval tv = {1, 0};
        event_add(s->retry_ev, &tv);
        return;
    }
    s->error_logged = false;
    if (reply->type == REDIS_REPLY_ARRAY) {
        /* [[key, [[id, [f, v, ...]], ...]], ...] */
        for (size_t i = 0; i < reply->elements; i++) {
            const redisReply *kv = reply->element[i];
            if (kv->type != REDIS_REPLY_ARRAY || kv->elements != 2 ||
                kv->element[0]->type != REDIS_REPLY_STRING ||
                kv->element[1]->type != REDIS_REPLY_ARRAY)
                continue;
            struct topic *t =
                hub_find(s->b->hub, TOPIC_STREAM, kv->element[0]->str, kv->element[0]->len);
            if (t == NULL)
                continue;
            for (size_t k = 0; k < kv->element[1]->elements; k++) {
                const char *fields[2 * 16];
                size_t lens[2 * 16];
                struct entry e;
                if (record_parse_entry(kv->element[1]->element[k], &e, fields, lens, 16) != 0) {
                    s->b->metrics.messages_dropped++;
                    continue;
                }
                if (stream_id_cmp(e.id, t->last_id) <= 0)
                    continue;
                t->last_id = e.id;
                record_entry_from_fields(t, &e);
                s->b->metrics.messages_in++;
                delivery_entry(s->b, t, &e);
                record_entry_clear(&e);
            }
        }
    }
    send_read(s);
}

static void send_read(struct source_stream *s) {
    redisAsyncContext *ac = redis_conn_ctx(s->conn);
    size_t n = 0;
    hub_foreach(s->b->hub, count_stream, &n);
    if (ac == NULL || n == 0 || s->reading)
        return;
    struct read_args a = {xcalloc(6 + 2 * n, sizeof(char *)), xcalloc(6 + 2 * n, sizeof(size_t)),
                          xcalloc(n, sizeof(*a.ids)), 0, n};
    char count[24], block[24];
    snprintf(count, sizeof(count), "%zu", s->b->cfg->replay_batch);
    snprintf(block, sizeof(block), "%d", DEFAULT_STREAM_BLOCK_MS);
    const char *head[6] = {"XREAD", "COUNT", count, "BLOCK", block, "STREAMS"};
    for (int i = 0; i < 6; i++) {
        a.argv[i] = head[i];
        a.lens[i] = strlen(head[i]);
    }
    hub_foreach(s->b->hub, add_key, &a);
    for (size_t i = 0; i < a.n; i++) {
        a.argv[6 + a.n + i] = a.ids[i];
        a.lens[6 + a.n + i] = strlen(a.ids[i]);
    }
    redisAsyncCommandArgv(ac, on_read, s, (int)(6 + 2 * a.n), a.argv, a.lens);
    s->reading = true;
    s->stale = false;
    free(a.argv);
    free(a.lens);
    free(a.ids);
}

struct type_check {
    struct source_stream *s;
    char key[];
};

static void on_type(redisAsyncContext *ac, void *r, void *privdata) {
    struct type_check *tc = privdata;
    struct source_stream *s = tc->s;
    redisReply *reply = r;
    (void)ac;
    if (reply != NULL && reply->type == REDIS_REPLY_STATUS && strcmp(reply->str, "stream") != 0 &&
        strcmp(reply->str, "none") != 0) {
        struct topic *t = hub_find(s->b->hub, TOPIC_STREAM, tc->key, strlen(tc->key));
        if (t != NULL && t->state == UPSTREAM_SUBSCRIBED) {
            log_warn("streams: %s is a %s, not a stream: not read until it is one", tc->key,
                     reply->str);
            t->state = UPSTREAM_NONE; /* the sweep retries; XREVRANGE fails until fixed */
            t->cursor_known = false;
        }
    }
    free(tc);
    if (reply != NULL && --s->checks == 0)
        send_read(s);
}

static void check_type(void *arg, struct topic *t) {
    struct source_stream *s = arg;
    redisAsyncContext *ac = redis_conn_ctx(s->conn);
    if (ac == NULL || t->kind != TOPIC_STREAM || t->state != UPSTREAM_SUBSCRIBED)
        return;
    struct type_check *tc = xmalloc(sizeof(*tc) + t->name_len + 1);
    tc->s = s;
    memcpy(tc->key, t->name, t->name_len + 1);
    if (redisAsyncCommand(ac, on_type, tc, "TYPE %b", t->name, t->name_len) == REDIS_OK)
        s->checks++;
    else
        free(tc);
}

static void on_retry(evutil_socket_t fd, short what, void *arg) {
    struct source_stream *s = arg;
    (void)fd, (void)what;
    s->checks = 0;
    hub_foreach(s->b->hub, check_type, s);
    if (s->checks == 0)
        send_read(s);
}

static void on_client_id(redisAsyncContext *ac, void *r, void *privdata) {
    struct source_stream *s = privdata;
    redisReply *reply = r;
    (void)ac;
    if (reply != NULL && reply->type == REDIS_REPLY_INTEGER) {
        s->client_id = reply->integer;
        send_read(s);
    }
}

static void on_ready(void *arg) {
    struct source_stream *s = arg;
    s->reading = false;
    redisAsyncCommand(redis_conn_ctx(s->conn), on_client_id, s, "CLIENT ID");
}

static void on_lost(void *arg) {
    struct source_stream *s = arg;
    s->reading = false;
}

static void on_end(void *arg, struct topic *t, bool ok) {
    struct source_stream *s = arg;
    if (t->state == UPSTREAM_SUBSCRIBING)
        t->state = ok ? UPSTREAM_SUBSCRIBED : UPSTREAM_NONE;
    /* On failure (Redis away, or the key is not a stream) the next sweep tries again; trying
     * again from here would spin while the reader is down. */
    if (!ok)
        return;
    kick(s);
    stream_sync(s, t);
}

static void stream_sync(struct source_stream *s, struct topic *t) {
    bool wanted = hub_topic_wanted(s->b->hub, t, clock_now_ms(s->b->base));
    switch (t->state) {
    case UPSTREAM_NONE:
        if (!wanted) {
            if (t->pending == 0)
                hub_remove(s->b->hub, t);
        } else if (t->cursor_known) {
            t->state = UPSTREAM_SUBSCRIBED; /* resume from the cursor */
            kick(s);
        } else {
            t->state = UPSTREAM_SUBSCRIBING;
            journal_stream_end(s->b->journal, t, on_end, s);
        }
        break;
    case UPSTREAM_SUBSCRIBED:
        if (!wanted) {
            t->state = UPSTREAM_NONE;
            kick(s);
            if (t->pending == 0)
                hub_remove(s->b->hub, t);
        }
        break;
    case UPSTREAM_SUBSCRIBING:
    case UPSTREAM_UNSUBSCRIBING:
        break;
    }
}

static const struct source_ops ops;

struct source *source_stream_new(struct bridge *b) {
    struct source_stream *s = xcalloc(1, sizeof(*s));
    s->b = b;
    s->conn = redis_conn_new(b->redis_pool, "streams",
                             (struct redis_conn_handlers){on_ready, on_lost}, s);
    s->retry_ev = evtimer_new(b->base, on_retry, s);
    s->base.ops = &ops;
    return &s->base;
}

static void stream_start(struct source_stream *s) {
    redis_conn_start(s->conn);
}

static void stream_free(struct source_stream *s) {
    if (s == NULL)
        return;
    redis_conn_free(s->conn);
    event_free(s->retry_ev);
    free(s);
}

static bool stream_up(const struct source_stream *s) {
    return s != NULL && redis_conn_up(s->conn);
}

static void ops_start(struct source *src) {
    stream_start((struct source_stream *)src);
}

static void ops_sync(struct source *src, struct topic *t) {
    stream_sync((struct source_stream *)src, t);
}

static bool ops_up(const struct source *src) {
    return stream_up((const struct source_stream *)src);
}

static unsigned long long ops_reconnects(const struct source *src) {
    return redis_conn_reconnects(((const struct source_stream *)src)->conn);
}

static void ops_free(struct source *src) {
    stream_free((struct source_stream *)src);
}

static const struct source_ops ops = {
    .name = "redis streams",
    .upstream = "redis",
    .kinds = SOURCE_KIND(TOPIC_STREAM),
    .start = ops_start,
    .sync = ops_sync,
    .up = ops_up,
    .reconnects = ops_reconnects,
    .free = ops_free,
};
