#include "redis_conn.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/http.h>
#include <hiredis/adapters/libevent.h>
#include <hiredis/hiredis.h>

#include "backoff.h"
#include "log.h"
#include "xmalloc.h"

enum conn_state {
    CONN_IDLE,       /* not started */
    CONN_CONNECTING, /* TCP connect, AUTH, SELECT */
    CONN_READY,
    CONN_BACKOFF, /* waiting to reconnect */
    CONN_CLOSED,  /* being freed: no callbacks, no reconnect */
};

struct redis_conn {
    struct event_base *base;
    struct redis_addr addr;
    char name[32];
    redisAsyncContext *ac;
    enum conn_state state;
    struct backoff backoff;
    struct event *retry_ev;
    struct redis_conn_handlers handlers;
    void *arg;
    unsigned long long connects;
    bool down_logged;
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

static void connect_now(struct redis_conn *c);

static void on_retry(evutil_socket_t fd, short what, void *arg) {
    (void)fd, (void)what;
    connect_now(arg);
}

static void lost(struct redis_conn *c, const char *why) {
    bool was_ready = c->state == CONN_READY;
    c->ac = NULL;
    if (c->state == CONN_CLOSED)
        return;
    if (!c->down_logged) {
        log_warn("redis %s: %s %s:%d: %s; reconnecting", c->name,
                 c->connects ? "lost connection to" : "cannot connect to", c->addr.host,
                 c->addr.port, why);
        c->down_logged = true;
    }
    c->state = CONN_BACKOFF;
    unsigned ms = backoff_next(&c->backoff, (unsigned)random());
    struct timeval tv = {ms / 1000, (ms % 1000) * 1000};
    event_add(c->retry_ev, &tv);
    if (was_ready)
        c->handlers.lost(c->arg);
}

static void ready(struct redis_conn *c) {
    c->state = CONN_READY;
    backoff_reset(&c->backoff);
    c->connects++;
    if (c->connects == 1 || c->down_logged)
        log_info("redis %s: connected to %s:%d", c->name, c->addr.host, c->addr.port);
    c->down_logged = false;
    c->handlers.ready(c->arg);
}

static void on_setup_reply(redisAsyncContext *ac, void *r, void *privdata) {
    struct redis_conn *c = privdata;
    redisReply *reply = r;
    if (reply == NULL || c->state != CONN_CONNECTING)
        return; /* going away: the disconnect callback decides */
    if (reply->type == REDIS_REPLY_ERROR) {
        log_error("redis %s: setup refused: %s", c->name, reply->str);
        redisAsyncDisconnect(ac);
        return;
    }
    /* AUTH and SELECT are pipelined; the last reply makes the connection ready. */
    if (ac->replies.head == NULL)
        ready(c);
}

static void on_connect(const redisAsyncContext *ac, int status) {
    struct redis_conn *c = ac->data;
    if (status != REDIS_OK) {
        lost(c, ac->errstr); /* hiredis frees the context after this callback */
        return;
    }
    redisAsyncContext *w = c->ac;
    if (c->addr.password[0] && c->addr.user[0])
        redisAsyncCommand(w, on_setup_reply, c, "AUTH %s %s", c->addr.user, c->addr.password);
    else if (c->addr.password[0])
        redisAsyncCommand(w, on_setup_reply, c, "AUTH %s", c->addr.password);
    if (c->addr.db != 0)
        redisAsyncCommand(w, on_setup_reply, c, "SELECT %d", c->addr.db);
    if (!c->addr.password[0] && c->addr.db == 0)
        ready(c);
}

static void on_disconnect(const redisAsyncContext *ac, int status) {
    lost(ac->data, status == REDIS_OK ? "closed" : ac->errstr);
}

static void connect_now(struct redis_conn *c) {
    if (c->state == CONN_CLOSED)
        return;
    c->state = CONN_CONNECTING;
    redisAsyncContext *ac = redisAsyncConnect(c->addr.host, c->addr.port);
    if (ac == NULL || ac->err) {
        char why[128];
        snprintf(why, sizeof(why), "%s", ac ? ac->errstr : "out of memory");
        if (ac)
            redisAsyncFree(ac);
        lost(c, why);
        return;
    }
    ac->data = c;
    c->ac = ac;
    /* A Redis that stops answering without closing is found by TCP keepalive. */
    redisEnableKeepAlive(&ac->c);
    redisLibeventAttach(ac, c->base);
    redisAsyncSetConnectCallback(ac, on_connect);
    redisAsyncSetDisconnectCallback(ac, on_disconnect);
}

struct redis_conn *redis_conn_new(struct event_base *base, const struct redis_addr *addr,
                                  const char *name, unsigned backoff_min_ms,
                                  unsigned backoff_max_ms, struct redis_conn_handlers handlers,
                                  void *arg) {
    struct redis_conn *c = xcalloc(1, sizeof(*c));
    c->base = base;
    c->addr = *addr;
    snprintf(c->name, sizeof(c->name), "%s", name);
    c->handlers = handlers;
    c->arg = arg;
    backoff_init(&c->backoff, backoff_min_ms, backoff_max_ms);
    c->retry_ev = evtimer_new(base, on_retry, c);
    return c;
}

void redis_conn_start(struct redis_conn *c) {
    connect_now(c);
}

redisAsyncContext *redis_conn_ctx(struct redis_conn *c) {
    /* While hiredis answers pending callbacks with NULL before its disconnect callback, the
     * context is still set but refuses commands (their callbacks would never run). */
    if (c->state != CONN_READY || c->ac == NULL ||
        (c->ac->c.flags & (REDIS_DISCONNECTING | REDIS_FREEING)))
        return NULL;
    return c->ac;
}

bool redis_conn_ready(const struct redis_conn *c) {
    return c != NULL && c->state == CONN_READY;
}

unsigned long long redis_conn_reconnects(const struct redis_conn *c) {
    return c->connects > 0 ? c->connects - 1 : 0;
}

void redis_conn_free(struct redis_conn *c) {
    if (c == NULL)
        return;
    c->state = CONN_CLOSED;
    if (c->ac)
        redisAsyncFree(c->ac); /* runs on_disconnect and pending callbacks with NULL */
    event_free(c->retry_ev);
    free(c);
}
