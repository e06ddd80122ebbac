#include "source_redis.h"

#include <stdlib.h>
#include <string.h>

#include <hiredis/async.h>
#include <hiredis/hiredis.h>

#include "clock.h"
#include "delivery.h"
#include "journal.h"
#include "record.h"
#include "log.h"
#include "xmalloc.h"

struct source_redis {
    struct source base; /* first: the ops table (source.h) */
    struct bridge *b;
    struct redis_conn *conn;
};

static void redis_sync(struct source_redis *s, struct topic *t);
static void redis_free(struct source_redis *s);

/* Channels and patterns are ours; streams and MQTT filters belong to other sources. */
static bool is_pubsub(const struct topic *t) {
    return t->kind == TOPIC_CHANNEL || t->kind == TOPIC_PATTERN;
}

static void sync_topic(void *arg, struct topic *t) {
    if (is_pubsub(t))
        redis_sync(arg, t);
}

static void reset_topic(void *arg, struct topic *t) {
    if (!is_pubsub(t))
        return;
    t->state = UPSTREAM_NONE;
    redis_sync(arg, t);
}

static void on_ready(void *arg) {
    struct source_redis *s = arg;
    hub_foreach(s->b->hub, sync_topic, s);
}

static void on_lost(void *arg) {
    struct source_redis *s = arg;
    hub_foreach(s->b->hub, reset_topic, s);
}

static int reply_is(const redisReply *r, size_t i, const char *s) {
    return r->element[i]->type == REDIS_REPLY_STRING && strcmp(r->element[i]->str, s) == 0;
}

/* Every reply on a subscribed channel or pattern: (p)subscribe and (p)unsubscribe
 * confirmations, and messages. */
static void on_pubsub(redisAsyncContext *ac, void *r, void *privdata) {
    struct source_redis *s = privdata;
    redisReply *reply = r;
    (void)ac;
    if (reply == NULL || !redis_conn_ready(s->conn) || reply->type != REDIS_REPLY_ARRAY ||
        reply->elements < 3 || reply->element[1]->type != REDIS_REPLY_STRING)
        return;
    const redisReply *name = reply->element[1];
    if (reply_is(reply, 0, "message") && reply->element[2]->type == REDIS_REPLY_STRING) {
        delivery_message(s->b, TOPIC_CHANNEL, name->str, name->len, name->str, name->len,
                         reply->element[2]->str, reply->element[2]->len);
        return;
    }
    if (reply_is(reply, 0, "pmessage") && reply->elements == 4 &&
        reply->element[2]->type == REDIS_REPLY_STRING &&
        reply->element[3]->type == REDIS_REPLY_STRING) {
        delivery_message(s->b, TOPIC_PATTERN, name->str, name->len, reply->element[2]->str,
                         reply->element[2]->len, reply->element[3]->str, reply->element[3]->len);
        return;
    }
    int sub = reply_is(reply, 0, "subscribe"), psub = reply_is(reply, 0, "psubscribe");
    int unsub = reply_is(reply, 0, "unsubscribe"), punsub = reply_is(reply, 0, "punsubscribe");
    if (!(sub || psub || unsub || punsub))
        return;
    struct topic *t =
        hub_find(s->b->hub, (sub || unsub) ? TOPIC_CHANNEL : TOPIC_PATTERN, name->str, name->len);
    if (t == NULL)
        return;
    t->state = (sub || psub) ? UPSTREAM_SUBSCRIBED : UPSTREAM_NONE;
    log_debug("redis: %s %s", reply->element[0]->str, t->name);
    /* Messages published while the topic was not subscribed are gone (pub/sub keeps
     * nothing): say so in the journal, before the first message journalled from now on. */
    if (t->state == UPSTREAM_SUBSCRIBED && t->journal_key != NULL) {
        journal_owe_gap(s->b->journal, t, t->journal_seen);
        t->journal_seen = true;
    }
    redis_sync(s, t);
}

static void redis_sync(struct source_redis *s, struct topic *t) {
    bool wanted = hub_topic_wanted(s->b->hub, t, clock_now_ms(s->b->base));
    redisAsyncContext *ac = redis_conn_ctx(s->conn);
    if (ac == NULL) {
        if (!wanted && hub_topic_idle(t))
            hub_remove(s->b->hub, t);
        return;
    }
    const char *kind = t->kind == TOPIC_PATTERN ? "P" : "";
    switch (t->state) {
    case UPSTREAM_NONE:
        if (!wanted) {
            if (hub_topic_idle(t))
                hub_remove(s->b->hub, t);
            return;
        }
        redisAsyncCommand(ac, on_pubsub, s, "%sSUBSCRIBE %b", kind, t->name, t->name_len);
        t->state = UPSTREAM_SUBSCRIBING;
        break;
    case UPSTREAM_SUBSCRIBED:
        if (wanted)
            return;
        redisAsyncCommand(ac, on_pubsub, s, "%sUNSUBSCRIBE %b", kind, t->name, t->name_len);
        t->state = UPSTREAM_UNSUBSCRIBING;
        break;
    case UPSTREAM_SUBSCRIBING:
    case UPSTREAM_UNSUBSCRIBING:
        break; /* the reply syncs again */
    }
}

static const struct source_ops ops;

struct source *source_redis_new(struct bridge *b) {
    struct source_redis *s = xcalloc(1, sizeof(*s));
    s->b = b;
    s->conn =
        redis_conn_new(b->redis_pool, "pubsub", (struct redis_conn_handlers){on_ready, on_lost}, s);
    s->base.ops = &ops;
    return &s->base;
}

static void redis_start(struct source_redis *s) {
    redis_conn_start(s->conn);
}

static void redis_free(struct source_redis *s) {
    if (s == NULL)
        return;
    redis_conn_free(s->conn);
    free(s);
}

static bool redis_up(const struct source_redis *s) {
    return s != NULL && redis_conn_up(s->conn);
}

static unsigned long long redis_reconnects(const struct source_redis *s) {
    return redis_conn_reconnects(s->conn);
}

static void ops_start(struct source *src) {
    redis_start((struct source_redis *)src);
}

static void ops_sync(struct source *src, struct topic *t) {
    redis_sync((struct source_redis *)src, t);
}

static bool ops_up(const struct source *src) {
    return redis_up((const struct source_redis *)src);
}

static unsigned long long ops_reconnects(const struct source *src) {
    return redis_reconnects((const struct source_redis *)src);
}

static void ops_free(struct source *src) {
    redis_free((struct source_redis *)src);
}

static const struct source_ops ops = {
    .name = "redis pub/sub",
    .upstream = "redis",
    .kinds = SOURCE_KIND(TOPIC_CHANNEL) | SOURCE_KIND(TOPIC_PATTERN),
    .start = ops_start,
    .sync = ops_sync,
    .up = ops_up,
    .reconnects = ops_reconnects,
    .free = ops_free,
};
