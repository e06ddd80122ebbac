#include "source_stream.h"

#include <stdint.h>
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
    bool lagging;                 /* reading far behind: warned, until caught up */
    bool trim_warned;             /* entries trimmed unread: warned, until caught up */
    unsigned long long behind_ms; /* when it was last behind (or found entries trimmed) */
};

/* Gap reasons of the reader's own (sent live, without an id: a client that reconnects with
 * its position replays what it can from the journal). */
static const char GAP_LAGGING[] = "lagging", GAP_TRUNCATED[] = "truncated";

/* A reader warns at half of lag_max (at 5 s without one), and says it has caught up once it
 * has not been behind for a second. */
#define LAG_WARN_OFF_MS 5000
#define LAG_QUIET_MS 1000

static void stream_sync(struct source_stream *s, struct topic *t);
static void stream_free(struct source_stream *s);

static void send_read(struct source_stream *s);

/* A stream topic's own state is ours; for a journalled channel, pattern or MQTT filter (whose
 * `state` is its source's subscription) ours is `follow`: reading its journal. */
static enum upstream_state *read_state(struct topic *t) {
    return t->kind == TOPIC_STREAM ? &t->state : &t->follow;
}

static bool reading(const struct topic *t) {
    return t->kind == TOPIC_STREAM ? t->state == UPSTREAM_SUBSCRIBED
                                   : t->journal_key != NULL && t->follow == UPSTREAM_SUBSCRIBED;
}

/* The stream XREAD reads for t: the stream, or the topic's journal. */
static const char *read_key(const struct topic *t) {
    return t->kind == TOPIC_STREAM ? t->name : t->journal_key;
}

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
    *n += reading(t);
}

static void add_key(void *arg, struct topic *t) {
    struct read_args *a = arg;
    if (!reading(t) || a->n == a->cap)
        return;
    a->argv[6 + a->n] = read_key(t);
    a->lens[6 + a->n] = strlen(read_key(t));
    stream_id_format(t->last_id, a->ids[a->n]);
    a->n++;
}

/* The topics that read `key`: a stream of that name, and the channel, pattern or MQTT filter
 * whose journal it is (journal_prefix + ["p:" | "m:"] + name). */
static size_t find_topics(struct source_stream *s, const char *key, size_t len,
                          struct topic *found[2]) {
    size_t n = 0;
    struct topic *t = hub_find(s->b->hub, TOPIC_STREAM, key, len);
    if (t != NULL)
        found[n++] = t;
    const char *prefix = s->b->cfg->journal_prefix;
    size_t plen = strlen(prefix);
    if (len < plen || memcmp(key, prefix, plen) != 0)
        return n;
    const char *name = key + plen;
    size_t nlen = len - plen;
    static const struct {
        enum topic_kind kind;
        const char *mark;
    } kinds[] = {{TOPIC_CHANNEL, ""}, {TOPIC_PATTERN, "p:"}, {TOPIC_MQTT, "m:"}};
    for (size_t i = 0; i < sizeof(kinds) / sizeof(kinds[0]) && n < 2; i++) {
        size_t mlen = strlen(kinds[i].mark);
        if (nlen < mlen || memcmp(name, kinds[i].mark, mlen) != 0)
            continue;
        t = hub_find(s->b->hub, kinds[i].kind, name + mlen, nlen - mlen);
        /* "p:x" may be a channel's name as well as the mark of pattern x: the key decides. */
        if (t != NULL && t->journal_key != NULL && strlen(t->journal_key) == len &&
            memcmp(t->journal_key, key, len) == 0)
            found[n++] = t;
    }
    return n;
}

/* One entry XREAD gave for topic t: [id, [f, v, ...]]. */
static void read_entry(struct source_stream *s, struct topic *t, const redisReply *item) {
    const char *fields[2 * 16];
    size_t lens[2 * 16];
    struct entry e;
    if (record_parse_entry(item, &e, fields, lens, 16) != 0) {
        s->b->metrics.messages_dropped++;
        return;
    }
    if (stream_id_cmp(e.id, t->last_id) > 0) {
        t->last_id = e.id;
        record_entry_from_fields(t, &e);
        if (t->kind == TOPIC_STREAM) /* a journal's messages were counted by their source */
            s->b->metrics.messages_in++;
        delivery_entry(s->b, t, &e);
    }
    record_entry_clear(&e);
}

/* The entries of one XREAD reply, in id order across its streams: a client of several topics
 * gets them as they were written (ids of one Redis share its clock), not stream by stream. */
struct item {
    struct stream_id id;
    size_t order;
    size_t key; /* index of its stream in the reply */
    const redisReply *entry;
};

static int item_cmp(const void *a, const void *b) {
    const struct item *x = a, *y = b;
    int c = stream_id_cmp(x->id, y->id);
    return c ? c : x->order < y->order ? -1 : x->order > y->order;
}

static bool stream_reply(const redisReply *kv) {
    return kv->type == REDIS_REPLY_ARRAY && kv->elements == 2 &&
           kv->element[0]->type == REDIS_REPLY_STRING && kv->element[1]->type == REDIS_REPLY_ARRAY;
}

/* A gap event to t's live clients only (not in the journal). */
static void tell_gap(struct source_stream *s, struct topic *t, const char *reason) {
    struct entry e = record_gap_entry(t, reason);
    delivery_entry(s->b, t, &e);
}

struct first_check {
    struct source_stream *s;
    struct topic *t;         /* kept alive (pending) until answered */
    struct stream_id cursor; /* where the reply started reading (exclusive) */
    struct stream_id got;    /* the reply's first entry */
};

/* XRANGE key - + COUNT 1, asked when a reader is behind: the stream now starting at (or after)
 * the reply's first entry, which came after the cursor, means that what lay between was
 * trimmed (journal length or age) before it could be read. (Unless the trim cut exactly at
 * the cursor: then this says so needlessly.) */
static void on_first(redisAsyncContext *ac, void *r, void *privdata) {
    struct first_check *fc = privdata;
    redisReply *reply = r;
    struct topic *t = fc->t;
    (void)ac;
    t->pending--;
    struct stream_id first;
    if (reply != NULL && reply->type == REDIS_REPLY_ARRAY && reply->elements == 1 &&
        reply->element[0]->type == REDIS_REPLY_ARRAY && reply->element[0]->elements == 2 &&
        reply->element[0]->element[0]->type == REDIS_REPLY_STRING &&
        stream_id_parse(reply->element[0]->element[0]->str, reply->element[0]->element[0]->len,
                        &first) == 0 &&
        !stream_id_is_zero(fc->cursor) && stream_id_cmp(fc->got, fc->cursor) > 0 &&
        stream_id_cmp(first, fc->got) >= 0) {
        fc->s->b->metrics.unread_trimmed++;
        if (!fc->s->trim_warned) /* once until caught up: unread_trimmed_total counts them */
            log_warn("streams: %s was trimmed past the entries not read yet (reading too far "
                     "behind for its journal length or age); its clients get a truncated gap "
                     "event",
                     read_key(t));
        fc->s->trim_warned = true;
        fc->s->behind_ms = clock_wall_ms();
        tell_gap(fc->s, t, GAP_TRUNCATED);
    }
    hub_sync(fc->s->b->hub, t); /* it may go now */
    free(fc);
}

static void check_first(struct source_stream *s, struct topic *t, struct stream_id cursor,
                        struct stream_id got) {
    redisAsyncContext *ac = redis_conn_ctx(s->conn);
    if (ac == NULL)
        return;
    struct first_check *fc = xmalloc(sizeof(*fc));
    *fc = (struct first_check){s, t, cursor, got};
    t->pending++;
    if (redisAsyncCommand(ac, on_first, fc, "XRANGE %s - + COUNT 1", read_key(t)) != REDIS_OK)
        on_first(ac, NULL, fc);
}

static bool entry_id(const redisReply *e, struct stream_id *id) {
    return e->type == REDIS_REPLY_ARRAY && e->elements == 2 &&
           e->element[0]->type == REDIS_REPLY_STRING &&
           stream_id_parse(e->element[0]->str, e->element[0]->len, id) == 0;
}

/* After a reply: a stream whose reply was full has more waiting, and the age of its newest
 * entry read is how far behind the reader is. Past lag_max it skips to the present (its
 * clients told with a lagging gap); otherwise it checks nothing was trimmed unread. */
static unsigned long long behind(struct source_stream *s, struct topic *t,
                                 const redisReply *entries, struct stream_id cursor,
                                 unsigned long long now) {
    struct stream_id id, got;
    if (entries->elements < s->b->cfg->replay_batch || !reading(t) ||
        !entry_id(entries->element[entries->elements - 1], &id) ||
        !entry_id(entries->element[0], &got))
        return 0;
    unsigned long long lag = now > id.ms ? now - id.ms : 0;
    unsigned max = s->b->cfg->lag_max_ms;
    if (max > 0 && lag > max) {
        s->b->metrics.lag_skips++;
        log_warn("streams: %s read %llu ms behind (lag_max %u ms): skipping to the present; its "
                 "clients get a lagging gap event",
                 read_key(t), lag, max);
        t->last_id = (struct stream_id){now, 0};
        tell_gap(s, t, GAP_LAGGING);
    } else {
        check_first(s, t, cursor, got);
    }
    return lag;
}

/* The reader's lag, for /metrics and the log: warned once an episode, at half of lag_max. */
static void note_lag(struct source_stream *s, unsigned long long lag) {
    unsigned warn = s->b->cfg->lag_max_ms ? s->b->cfg->lag_max_ms / 2 : LAG_WARN_OFF_MS;
    s->b->metrics.read_lag_ms = lag;
    unsigned long long now = clock_wall_ms();
    if (lag > 0)
        s->behind_ms = now;
    if (lag > warn && !s->lagging) {
        log_warn("streams: reading %llu ms behind the journals and streams (more waiting than "
                 "this process delivers: overloaded?); read_lag_milliseconds in /metrics",
                 lag);
        s->lagging = true;
    } else if (lag == 0 && (s->lagging || s->trim_warned) && now > s->behind_ms + LAG_QUIET_MS) {
        log_info("streams: caught up with the journals and streams (%llu trimmed unread, %llu "
                 "skips so far)",
                 s->b->metrics.unread_trimmed, s->b->metrics.lag_skips);
        s->lagging = s->trim_warned = false;
    }
}

/* [[key, [[id, [f, v, ...]], ...]], ...] */
static void read_reply(struct source_stream *s, const redisReply *reply) {
    /* Each stream's topics, found once and kept (pending) while its entries are delivered: a
     * delivery may cut off a topic's last client, and the sweep frees it afterwards. */
    struct readers {
        struct topic *t[2];
        struct stream_id cursor[2]; /* where each read from: behind() checks for trimming */
        size_t n;
    } *of = xcalloc(reply->elements ? reply->elements : 1, sizeof(*of));
    size_t n = 0;
    for (size_t i = 0; i < reply->elements; i++) {
        const redisReply *kv = reply->element[i];
        if (!stream_reply(kv))
            continue;
        n += kv->element[1]->elements;
        of[i].n = find_topics(s, kv->element[0]->str, kv->element[0]->len, of[i].t);
        for (size_t f = 0; f < of[i].n; f++) {
            of[i].t[f]->pending++;
            of[i].cursor[f] = of[i].t[f]->last_id;
        }
    }
    struct item *items = xmalloc((n ? n : 1) * sizeof(*items));
    size_t k = 0;
    for (size_t i = 0; i < reply->elements; i++) {
        const redisReply *kv = reply->element[i];
        for (size_t j = 0; of[i].n > 0 && j < kv->element[1]->elements; j++) {
            const redisReply *e = kv->element[1]->element[j];
            items[k] = (struct item){{0, 0}, k, i, e};
            if (e->type == REDIS_REPLY_ARRAY && e->elements == 2 &&
                e->element[0]->type == REDIS_REPLY_STRING)
                stream_id_parse(e->element[0]->str, e->element[0]->len, &items[k].id);
            k++;
        }
    }
    if (reply->elements > 1)
        qsort(items, k, sizeof(*items), item_cmp);
    for (size_t i = 0; i < k; i++) {
        const struct readers *r = &of[items[i].key];
        for (size_t f = 0; f < r->n; f++)
            read_entry(s, r->t[f], items[i].entry);
    }
    unsigned long long now = clock_wall_ms(), lag = 0;
    for (size_t i = 0; i < reply->elements; i++) {
        for (size_t f = 0; f < of[i].n; f++) {
            unsigned long long l =
                behind(s, of[i].t[f], reply->element[i]->element[1], of[i].cursor[f], now);
            lag = l > lag ? l : lag;
        }
    }
    note_lag(s, lag);
    for (size_t i = 0; i < reply->elements; i++) {
        for (size_t f = 0; f < of[i].n; f++)
            of[i].t[f]->pending--;
    }
    free(items);
    free(of);
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
    if (reply->type == REDIS_REPLY_ARRAY)
        read_reply(s, reply);
    else
        note_lag(s, 0); /* the read blocked until its timeout: nothing was waiting */
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
        struct topic *found[2];
        size_t n = find_topics(s, tc->key, strlen(tc->key), found);
        for (size_t i = 0; i < n; i++) {
            struct topic *t = found[i];
            if (!reading(t))
                continue;
            log_warn("streams: %s is a %s, not a stream: not read until it is one", tc->key,
                     reply->str);
            *read_state(t) = UPSTREAM_NONE; /* the sweep retries; XREVRANGE fails until fixed */
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
    if (ac == NULL || !reading(t))
        return;
    const char *key = read_key(t);
    size_t len = strlen(key);
    struct type_check *tc = xmalloc(sizeof(*tc) + len + 1);
    tc->s = s;
    memcpy(tc->key, key, len + 1);
    if (redisAsyncCommand(ac, on_type, tc, "TYPE %b", key, len) == REDIS_OK)
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
    if (ok && t->follow_from_ms > 0 && t->last_id.ms >= t->follow_from_ms) {
        /* Written since the topic started, while the end could not be read: its clients
         * came before, they get it. (The bridge's clock against Redis's: an outage only.) */
        t->last_id = (struct stream_id){t->follow_from_ms - 1, UINT64_MAX};
    }
    if (ok)
        t->follow_from_ms = 0;
    if (*read_state(t) == UPSTREAM_SUBSCRIBING)
        *read_state(t) = ok ? UPSTREAM_SUBSCRIBED : UPSTREAM_NONE;
    /* On failure (Redis away, or the key is not a stream) the next sweep tries again; trying
     * again from here would spin while the reader is down. */
    if (!ok)
        return;
    kick(s);
    stream_sync(s, t);
}

/* A stream topic is ours alone: we free it. A journalled topic's own source frees it once we
 * have stopped reading its journal (hub_topic_idle). */
static void stream_sync(struct source_stream *s, struct topic *t) {
    bool own = t->kind == TOPIC_STREAM;
    if (!own && t->journal_key == NULL)
        return;
    bool wanted = hub_topic_wanted(s->b->hub, t, clock_now_ms(s->b->base));
    enum upstream_state *state = read_state(t);
    switch (*state) {
    case UPSTREAM_NONE:
        if (!wanted) {
            if (own && hub_topic_idle(t))
                hub_remove(s->b->hub, t);
        } else if (t->cursor_known) {
            *state = UPSTREAM_SUBSCRIBED; /* resume from the cursor */
            kick(s);
        } else {
            if (!journal_reader_ready(s->b->journal) && t->follow_from_ms == 0)
                t->follow_from_ms = clock_wall_ms();
            *state = UPSTREAM_SUBSCRIBING;
            journal_stream_end(s->b->journal, t, on_end, s);
        }
        break;
    case UPSTREAM_SUBSCRIBED:
        if (!wanted) {
            *state = UPSTREAM_NONE;
            kick(s);
            if (own && hub_topic_idle(t))
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
    /* Every bridge reads the journals of journalled channels, patterns and MQTT filters. */
    .journals = SOURCE_KIND(TOPIC_CHANNEL) | SOURCE_KIND(TOPIC_PATTERN) | SOURCE_KIND(TOPIC_MQTT),
    .start = ops_start,
    .sync = ops_sync,
    .up = ops_up,
    .reconnects = ops_reconnects,
    .free = ops_free,
};
