#include "source_redis.h"

#include <stdlib.h>
#include <string.h>

#include <event2/event.h>
#include <event2/http.h>
#include <hiredis/adapters/libevent.h>
#include <hiredis/async.h>
#include <hiredis/hiredis.h>

#include "backoff.h"
#include "log.h"
#include "xmalloc.h"

enum redis_state {
    REDIS_IDLE,       /* not started */
    REDIS_CONNECTING, /* TCP connect or AUTH/SELECT in progress */
    REDIS_READY,      /* subscriptions follow the hub */
    REDIS_BACKOFF,    /* waiting to reconnect */
    REDIS_CLOSED,     /* freeing: no reconnect */
};

struct source_redis {
    struct bridge *b;
    struct redis_addr addr;
    redisAsyncContext *ac;
    enum redis_state state;
    struct backoff backoff;
    struct event *retry_ev;
    bool ever_connected;
    bool down_logged; /* log a failure once, not on every attempt */
};

const char *redis_url_parse(const char *url, struct redis_addr *out) {
    memset(out, 0, sizeof(*out));
    struct evhttp_uri *u = evhttp_uri_parse(url);
    const char *err = NULL;
    if (u == NULL || evhttp_uri_get_scheme(u) == NULL ||
        strcmp(evhttp_uri_get_scheme(u), "redis") != 0) {
        err = "expected redis://[[user]:password@]host[:port][/db]";
        goto done;
    }
    const char *host = evhttp_uri_get_host(u);
    if (host == NULL || *host == '\0' || strlen(host) >= sizeof(out->host)) {
        err = "missing or overlong host";
        goto done;
    }
    snprintf(out->host, sizeof(out->host), "%s", host);
    out->port = evhttp_uri_get_port(u) < 0 ? 6379 : evhttp_uri_get_port(u);
    const char *userinfo = evhttp_uri_get_userinfo(u);
    if (userinfo) {
        const char *colon = strchr(userinfo, ':');
        if (colon == NULL || strlen(colon + 1) >= sizeof(out->password) ||
            (size_t)(colon - userinfo) >= sizeof(out->user)) {
            err = "credentials must be user:password or :password";
            goto done;
        }
        memcpy(out->user, userinfo, (size_t)(colon - userinfo));
        snprintf(out->password, sizeof(out->password), "%s", colon + 1);
    }
    const char *path = evhttp_uri_get_path(u);
    if (path && *path && strcmp(path, "/") != 0) {
        char *end;
        long db = strtol(path + 1, &end, 10);
        if (*end != '\0' || db < 0 || db > 1000) {
            err = "the path, if any, is a database number";
            goto done;
        }
        out->db = (int)db;
    }
done:
    if (u)
        evhttp_uri_free(u);
    return err;
}

static void connect_now(struct source_redis *s);

static void on_retry(evutil_socket_t fd, short what, void *arg) {
    (void)fd, (void)what;
    connect_now(arg);
}

static void reset_topic(void *arg, struct topic *t) {
    struct source_redis *s = arg;
    t->state = UPSTREAM_NONE;
    source_redis_sync(s, t);
}

static void sync_topic(void *arg, struct topic *t) {
    source_redis_sync(arg, t);
}

/* The connection is gone (or never came up): every subscription went with it. */
static void connection_lost(struct source_redis *s, const char *why) {
    s->ac = NULL;
    if (s->state == REDIS_CLOSED)
        return;
    if (!s->down_logged) {
        log_warn("redis: %s %s:%d: %s; clients stay connected, reconnecting",
                 s->ever_connected ? "lost connection to" : "cannot connect to", s->addr.host,
                 s->addr.port, why);
        s->down_logged = true;
    }
    s->state = REDIS_BACKOFF;
    hub_foreach(s->b->hub, reset_topic, s);
    unsigned ms = backoff_next(&s->backoff, (unsigned)random());
    struct timeval tv = {ms / 1000, (ms % 1000) * 1000};
    event_add(s->retry_ev, &tv);
}

static void ready(struct source_redis *s) {
    s->state = REDIS_READY;
    backoff_reset(&s->backoff);
    if (s->ever_connected)
        s->b->metrics.redis_reconnects++;
    log_info("redis: connected to %s:%d", s->addr.host, s->addr.port);
    s->ever_connected = true;
    s->down_logged = false;
    hub_foreach(s->b->hub, sync_topic, s);
}

static void on_setup_reply(redisAsyncContext *ac, void *r, void *privdata) {
    struct source_redis *s = privdata;
    redisReply *reply = r;
    if (reply == NULL || s->state != REDIS_CONNECTING)
        return; /* the connection is going away; its disconnect callback decides */
    if (reply->type == REDIS_REPLY_ERROR) {
        log_error("redis: setup refused: %s", reply->str);
        redisAsyncDisconnect(ac);
        return;
    }
    /* AUTH and SELECT are pipelined; the last reply makes the connection ready. */
    if (ac->replies.head == NULL)
        ready(s);
}

static void on_connect(const redisAsyncContext *ac, int status) {
    struct source_redis *s = ac->data;
    if (status != REDIS_OK) {
        connection_lost(s, ac->errstr);
        return;
    }
    redisAsyncContext *w = s->ac;
    if (s->addr.password[0] && s->addr.user[0])
        redisAsyncCommand(w, on_setup_reply, s, "AUTH %s %s", s->addr.user, s->addr.password);
    else if (s->addr.password[0])
        redisAsyncCommand(w, on_setup_reply, s, "AUTH %s", s->addr.password);
    /* SELECT does not matter to pub/sub, but streams (the journal) live in a database. */
    if (s->addr.db != 0)
        redisAsyncCommand(w, on_setup_reply, s, "SELECT %d", s->addr.db);
    if (!s->addr.password[0] && s->addr.db == 0)
        ready(s);
}

static void on_disconnect(const redisAsyncContext *ac, int status) {
    struct source_redis *s = ac->data;
    connection_lost(s, status == REDIS_OK ? "closed" : ac->errstr);
}

static void connect_now(struct source_redis *s) {
    if (s->state == REDIS_CLOSED)
        return;
    s->state = REDIS_CONNECTING;
    redisAsyncContext *ac = redisAsyncConnect(s->addr.host, s->addr.port);
    if (ac == NULL || ac->err) {
        const char *why = ac ? ac->errstr : "out of memory";
        char copy[128];
        snprintf(copy, sizeof(copy), "%s", why);
        if (ac)
            redisAsyncFree(ac);
        connection_lost(s, copy);
        return;
    }
    ac->data = s;
    s->ac = ac;
    redisLibeventAttach(ac, s->b->base);
    redisAsyncSetConnectCallback(ac, on_connect);
    redisAsyncSetDisconnectCallback(ac, on_disconnect);
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
    if (reply == NULL || s->state != REDIS_READY || reply->type != REDIS_REPLY_ARRAY ||
        reply->elements < 3 || reply->element[1]->type != REDIS_REPLY_STRING)
        return;
    const redisReply *name = reply->element[1];
    if (reply_is(reply, 0, "message") && reply->element[2]->type == REDIS_REPLY_STRING) {
        bridge_deliver(s->b, TOPIC_CHANNEL, name->str, name->len, name->str, name->len,
                       reply->element[2]->str, reply->element[2]->len);
        return;
    }
    if (reply_is(reply, 0, "pmessage") && reply->elements == 4 &&
        reply->element[2]->type == REDIS_REPLY_STRING &&
        reply->element[3]->type == REDIS_REPLY_STRING) {
        bridge_deliver(s->b, TOPIC_PATTERN, name->str, name->len, reply->element[2]->str,
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
    source_redis_sync(s, t);
}

void source_redis_sync(struct source_redis *s, struct topic *t) {
    int wanted = hub_topic_wanted(s->b->hub, t, bridge_now_ms(s->b));
    if (s->state != REDIS_READY) {
        if (!wanted && t->state == UPSTREAM_NONE)
            hub_remove(s->b->hub, t);
        return;
    }
    const char *kind = t->kind == TOPIC_PATTERN ? "P" : "";
    switch (t->state) {
    case UPSTREAM_NONE:
        if (!wanted) {
            hub_remove(s->b->hub, t);
            return;
        }
        redisAsyncCommand(s->ac, on_pubsub, s, "%sSUBSCRIBE %b", kind, t->name, t->name_len);
        t->state = UPSTREAM_SUBSCRIBING;
        break;
    case UPSTREAM_SUBSCRIBED:
        if (wanted)
            return;
        redisAsyncCommand(s->ac, on_pubsub, s, "%sUNSUBSCRIBE %b", kind, t->name, t->name_len);
        t->state = UPSTREAM_UNSUBSCRIBING;
        break;
    case UPSTREAM_SUBSCRIBING:
    case UPSTREAM_UNSUBSCRIBING:
        break; /* the reply syncs again */
    }
}

struct source_redis *source_redis_new(struct bridge *b, const struct redis_addr *addr) {
    struct source_redis *s = xcalloc(1, sizeof(*s));
    s->b = b;
    s->addr = *addr;
    s->state = REDIS_IDLE;
    backoff_init(&s->backoff, b->cfg->backoff_min_ms, b->cfg->backoff_max_ms);
    s->retry_ev = evtimer_new(b->base, on_retry, s);
    return s;
}

void source_redis_start(struct source_redis *s) {
    connect_now(s);
}

void source_redis_free(struct source_redis *s) {
    if (s == NULL)
        return;
    s->state = REDIS_CLOSED;
    if (s->ac)
        redisAsyncFree(s->ac); /* runs on_disconnect, which sees REDIS_CLOSED */
    event_free(s->retry_ev);
    free(s);
}

int source_redis_up(const struct source_redis *s) {
    return s != NULL && s->state == REDIS_READY;
}
