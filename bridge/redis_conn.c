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

struct redis_pool {
    struct event_base *base;
    struct redis_addr addr;
    struct redis_pool_cfg cfg;
    struct redis_conn **conns; /* every connection but the probe's */
    size_t nconns;
    struct redis_conn *probe; /* NULL: no probe */
    struct event *probe_ev;
    bool ping_outstanding, answering;
    unsigned long long ping_sent_ms, down_since_ms, probe_wait_since_ms;
    /* Sentinel (addr.nsentinels > 0): when the primary was last asked, which sentinel
     * answered, the connection that listens for +switch-master, whether none answers. */
    unsigned long long resolved_ms;
    int sentinel;
    struct redis_conn *watch;
    bool no_sentinel_logged;
};

struct redis_conn {
    struct redis_pool *pool;
    struct event_base *base;
    struct redis_addr addr;
    char name[32];
    const char *reset_why; /* set while the pool tears the connection down */
    redisAsyncContext *ac;
    enum conn_state state;
    struct backoff backoff;
    struct event *retry_ev;
    struct redis_conn_handlers handlers;
    void *arg;
    unsigned long long connects;
    bool down_logged;
    bool watcher; /* the pool's +switch-master listener: to a sentinel, not the primary */
};

/* sentinel://[[user]:password@]h[:p][,h[:p]...]/master[/db] */
static const char *sentinel_url_parse(const char *url, struct redis_addr *out) {
    const char *p = url + strlen("sentinel://");
    const char *slash = strchr(p, '/');
    if (slash == NULL)
        return "expected sentinel://host[:port][,host[:port]...]/master[/db]";
    const char *at = memchr(p, '@', (size_t)(slash - p));
    if (at != NULL) {
        const char *colon = memchr(p, ':', (size_t)(at - p));
        if (colon == NULL || (size_t)(colon - p) >= sizeof(out->user) ||
            (size_t)(at - colon - 1) >= sizeof(out->password))
            return "credentials must be user:password or :password";
        memcpy(out->user, p, (size_t)(colon - p));
        memcpy(out->password, colon + 1, (size_t)(at - colon - 1));
        p = at + 1;
    }
    while (p < slash) {
        const char *end = memchr(p, ',', (size_t)(slash - p));
        if (end == NULL)
            end = slash;
        if (out->nsentinels == REDIS_SENTINELS_MAX)
            return "at most 8 sentinels";
        const char *colon = memchr(p, ':', (size_t)(end - p));
        size_t hlen = (size_t)((colon ? colon : end) - p);
        if (hlen == 0 || hlen >= sizeof(out->sentinels[0].host))
            return "missing or overlong sentinel host";
        int port = 26379;
        if (colon != NULL) {
            char num[8] = {0};
            size_t nlen = (size_t)(end - colon - 1);
            char *e;
            if (nlen == 0 || nlen >= sizeof(num))
                return "a sentinel port is a number from 1 to 65535";
            memcpy(num, colon + 1, nlen);
            long v = strtol(num, &e, 10);
            if (*e != '\0' || v < 1 || v > 65535)
                return "a sentinel port is a number from 1 to 65535";
            port = (int)v;
        }
        memcpy(out->sentinels[out->nsentinels].host, p, hlen);
        out->sentinels[out->nsentinels++].port = port;
        p = end < slash ? end + 1 : slash;
    }
    if (out->nsentinels == 0)
        return "no sentinel";
    const char *name = slash + 1, *db = strchr(name, '/');
    size_t nlen = db ? (size_t)(db - name) : strlen(name);
    if (nlen == 0 || nlen >= sizeof(out->master))
        return "missing or overlong master name";
    memcpy(out->master, name, nlen);
    if (db != NULL) {
        char *e;
        long v = strtol(db + 1, &e, 10);
        if (db[1] == '\0' || *e != '\0' || v < 0 || v > 1000)
            return "the path after the master name, if any, is a database number";
        out->db = (int)v;
    }
    /* Until a sentinel answers: the first sentinel's host, for the logs. */
    snprintf(out->host, sizeof(out->host), "%s", out->sentinels[0].host);
    out->port = 0;
    return NULL;
}

const char *redis_url_parse(const char *url, struct redis_addr *out) {
    memset(out, 0, sizeof(*out));
    if (strncmp(url, "sentinel://", 11) == 0)
        return sentinel_url_parse(url, out);
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
    struct redis_conn *c = ac->data;
    lost(c, c->reset_why ? c->reset_why : status == REDIS_OK ? "closed" : ac->errstr);
}

/* Tears the connection down (pending callbacks get NULL replies) and reconnects after the
 * backoff, as if the server had closed it. */
static void reset(struct redis_conn *c, const char *why) {
    redisAsyncContext *ac = c->ac;
    if (ac == NULL || c->state == CONN_CLOSED)
        return;
    c->reset_why = why;
    redisAsyncFree(ac); /* calls on_disconnect, hence lost(), when it was connected */
    c->reset_why = NULL;
    if (c->ac == ac) /* still connecting: hiredis calls no disconnect callback */
        lost(c, why);
}

static unsigned long long pool_now_ms(const struct redis_pool *p);

/* Asks the sentinels, one after the other, for the primary's address (synchronously, 300 ms
 * each at most; at most every 100 ms). */
static void resolve_primary(struct redis_pool *p) {
    struct redis_addr *a = &p->addr;
    unsigned long long now = pool_now_ms(p);
    if (a->port > 0 && now - p->resolved_ms < 100)
        return;
    const struct timeval tv = {0, 300 * 1000};
    for (int k = 0; k < a->nsentinels; k++) {
        int i = (p->sentinel + k) % a->nsentinels;
        redisContext *ctx = redisConnectWithTimeout(a->sentinels[i].host, a->sentinels[i].port, tv);
        redisReply *r = NULL;
        if (ctx != NULL && !ctx->err && redisSetTimeout(ctx, tv) == REDIS_OK)
            r = redisCommand(ctx, "SENTINEL get-master-addr-by-name %s", a->master);
        bool ok = r != NULL && r->type == REDIS_REPLY_ARRAY && r->elements == 2 &&
                  r->element[0]->type == REDIS_REPLY_STRING &&
                  r->element[1]->type == REDIS_REPLY_STRING && r->element[0]->len < sizeof(a->host);
        if (ok) {
            int port = atoi(r->element[1]->str);
            if (port != a->port || strcmp(r->element[0]->str, a->host) != 0)
                log_info("redis: sentinel %s:%d says the primary of %s is %s:%d",
                         a->sentinels[i].host, a->sentinels[i].port, a->master, r->element[0]->str,
                         port);
            snprintf(a->host, sizeof(a->host), "%s", r->element[0]->str);
            a->port = port;
            p->resolved_ms = now;
            p->sentinel = i;
            p->no_sentinel_logged = false;
        }
        if (r != NULL)
            freeReplyObject(r);
        if (ctx != NULL)
            redisFree(ctx);
        if (ok)
            return;
    }
    if (!p->no_sentinel_logged)
        log_warn("redis: no sentinel knows the primary of %s (asked %d); trying again", a->master,
                 a->nsentinels);
    p->no_sentinel_logged = true;
}

static void connect_now(struct redis_conn *c) {
    if (c->state == CONN_CLOSED)
        return;
    struct redis_pool *p = c->pool;
    if (c->watcher) {
        /* The next sentinel each time: one that is gone does not keep us deaf. */
        int i = p->sentinel++ % p->addr.nsentinels;
        snprintf(c->addr.host, sizeof(c->addr.host), "%s", p->addr.sentinels[i].host);
        c->addr.port = p->addr.sentinels[i].port;
    } else if (p != NULL && p->addr.nsentinels > 0) {
        resolve_primary(p);
        if (p->addr.port == 0) {
            c->state = CONN_CONNECTING;
            lost(c, "no sentinel answers");
            return;
        }
        snprintf(c->addr.host, sizeof(c->addr.host), "%s", p->addr.host);
        c->addr.port = p->addr.port;
    }
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
    /* TCP keepalive finds a peer whose kernel is gone; one that is there but does not
     * answer is found by the pool's probe. */
    redisEnableKeepAlive(&ac->c);
    redisLibeventAttach(ac, c->base);
    redisAsyncSetConnectCallback(ac, on_connect);
    redisAsyncSetDisconnectCallback(ac, on_disconnect);
}

static struct redis_conn *conn_new(struct redis_pool *p, const char *name,
                                   struct redis_conn_handlers handlers, void *arg) {
    struct redis_conn *c = xcalloc(1, sizeof(*c));
    c->pool = p;
    c->base = p->base;
    c->addr = p->addr;
    snprintf(c->name, sizeof(c->name), "%s", name);
    c->handlers = handlers;
    c->arg = arg;
    backoff_init(&c->backoff, p->cfg.backoff_min_ms, p->cfg.backoff_max_ms);
    c->retry_ev = evtimer_new(p->base, on_retry, c);
    return c;
}

struct redis_conn *redis_conn_new(struct redis_pool *p, const char *name,
                                  struct redis_conn_handlers handlers, void *arg) {
    struct redis_conn *c = conn_new(p, name, handlers, arg);
    p->conns = xrealloc(p->conns, (p->nconns + 1) * sizeof(*p->conns));
    p->conns[p->nconns++] = c;
    return c;
}

/* ---- the pool's probe ---- */

static unsigned long long pool_now_ms(const struct redis_pool *p) {
    struct timeval tv;
    event_base_gettimeofday_cached(p->base, &tv);
    return (unsigned long long)tv.tv_sec * 1000 + (unsigned long long)tv.tv_usec / 1000;
}

static void probe_arm(struct redis_pool *p, unsigned ms) {
    struct timeval tv = {ms / 1000, (ms % 1000) * 1000};
    event_add(p->probe_ev, &tv);
}

static void on_pong(redisAsyncContext *ac, void *r, void *privdata) {
    struct redis_pool *p = privdata;
    (void)ac;
    if (!p->ping_outstanding)
        return;
    p->ping_outstanding = false;
    if (r == NULL)
        return; /* torn down: the next probe tick tries again */
    unsigned long long now = pool_now_ms(p);
    if (!p->answering) {
        log_info("redis: %s:%d answers again after %llu ms", p->addr.host, p->addr.port,
                 now - p->down_since_ms);
        p->answering = true;
    }
    unsigned late = (unsigned)(now - p->ping_sent_ms);
    probe_arm(p, late < p->cfg.probe_interval_ms ? p->cfg.probe_interval_ms - late : 0);
}

/* No answer within probe_timeout: the server is down for this pool until it answers. */
static void server_silent(struct redis_pool *p, const char *what) {
    if (p->answering) {
        log_warn("redis: %s:%d %s for %u ms; reconnecting every connection", p->addr.host,
                 p->addr.port, what, p->cfg.probe_timeout_ms);
        p->answering = false;
        p->down_since_ms = pool_now_ms(p);
        for (size_t i = 0; i < p->nconns; i++)
            reset(p->conns[i], "the server stopped answering");
        p->ping_outstanding = false;
        reset(p->probe, "the server stopped answering");
    }
}

static void on_probe(evutil_socket_t fd, short what, void *arg) {
    struct redis_pool *p = arg;
    (void)fd, (void)what;
    unsigned long long now = pool_now_ms(p);
    if (p->ping_outstanding) {
        if (now - p->ping_sent_ms >= p->cfg.probe_timeout_ms)
            server_silent(p, "has not answered PING");
        probe_arm(p, p->cfg.probe_timeout_ms);
        return;
    }
    redisAsyncContext *ac = redis_conn_ctx(p->probe);
    if (ac == NULL) {
        /* Not connected: a connect that hangs (a host gone) counts as silence too. */
        if (p->probe_wait_since_ms == 0)
            p->probe_wait_since_ms = now;
        else if (now - p->probe_wait_since_ms >= p->cfg.probe_timeout_ms)
            server_silent(p, "accepts no connection");
        probe_arm(p, p->cfg.probe_timeout_ms);
        return;
    }
    p->probe_wait_since_ms = 0;
    p->ping_outstanding = true;
    p->ping_sent_ms = now;
    redisAsyncCommand(ac, on_pong, p, "PING");
    probe_arm(p, p->cfg.probe_timeout_ms);
}

static void probe_ready(void *arg) {
    struct redis_pool *p = arg;
    p->probe_wait_since_ms = 0;
    if (!p->ping_outstanding) {
        event_del(p->probe_ev);
        on_probe(-1, 0, p); /* at once: a reconnect after silence is checked straight away */
    }
}

static void probe_lost(void *arg) {
    (void)arg;
}

/* +switch-master <master> <old ip> <old port> <new ip> <new port>: ours moved. */
static void on_switch(redisAsyncContext *ac, void *r, void *privdata) {
    struct redis_pool *p = privdata;
    redisReply *reply = r;
    (void)ac;
    if (reply == NULL || reply->type != REDIS_REPLY_ARRAY || reply->elements != 3 ||
        reply->element[2]->type != REDIS_REPLY_STRING)
        return;
    const char *msg = reply->element[2]->str;
    size_t n = strlen(p->addr.master);
    if (strncmp(msg, p->addr.master, n) != 0 || msg[n] != ' ')
        return;
    log_warn("redis: sentinel failover of %s (%s); reconnecting every connection", p->addr.master,
             msg + n + 1);
    p->resolved_ms = 0;
    p->addr.port = 0; /* asked again before the next connection */
    for (size_t i = 0; i < p->nconns; i++)
        reset(p->conns[i], "the primary changed");
    p->ping_outstanding = false;
    if (p->probe)
        reset(p->probe, "the primary changed");
}

static void watch_ready(void *arg) {
    struct redis_pool *p = arg;
    redisAsyncCommand(redis_conn_ctx(p->watch), on_switch, p, "SUBSCRIBE +switch-master");
}

static void watch_lost(void *arg) {
    (void)arg;
}

struct redis_pool *redis_pool_new(struct event_base *base, const struct redis_addr *addr,
                                  const struct redis_pool_cfg *cfg) {
    struct redis_pool *p = xcalloc(1, sizeof(*p));
    p->base = base;
    p->addr = *addr;
    p->cfg = *cfg;
    p->answering = true;
    if (cfg->probe_interval_ms > 0) {
        p->probe = conn_new(p, "probe", (struct redis_conn_handlers){probe_ready, probe_lost}, p);
        p->probe_ev = evtimer_new(base, on_probe, p);
    }
    if (addr->nsentinels > 0) {
        p->watch =
            conn_new(p, "sentinel", (struct redis_conn_handlers){watch_ready, watch_lost}, p);
        p->watch->watcher = true;
        p->watch->addr.password[0] = p->watch->addr.user[0] = '\0';
        p->watch->addr.db = 0;
    }
    return p;
}

void redis_pool_start(struct redis_pool *p) {
    if (p->watch)
        connect_now(p->watch);
    if (p->probe)
        connect_now(p->probe);
}

bool redis_pool_answering(const struct redis_pool *p) {
    return p->answering;
}

void redis_pool_free(struct redis_pool *p) {
    if (p == NULL)
        return;
    redis_conn_free(p->probe);
    redis_conn_free(p->watch);
    if (p->probe_ev)
        event_free(p->probe_ev);
    free(p->conns);
    free(p);
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

bool redis_conn_up(const struct redis_conn *c) {
    return redis_conn_ready(c) && c->pool->answering;
}

unsigned long long redis_conn_reconnects(const struct redis_conn *c) {
    return c->connects > 0 ? c->connects - 1 : 0;
}

void redis_conn_free(struct redis_conn *c) {
    if (c == NULL)
        return;
    struct redis_pool *p = c->pool;
    for (size_t i = 0; i < p->nconns; i++) {
        if (p->conns[i] == c) {
            p->conns[i] = p->conns[--p->nconns];
            break;
        }
    }
    c->state = CONN_CLOSED;
    if (c->ac)
        redisAsyncFree(c->ac); /* runs on_disconnect and pending callbacks with NULL */
    event_free(c->retry_ev);
    free(c);
}
