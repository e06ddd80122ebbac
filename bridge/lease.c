#include "lease.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/event.h>
#include <hiredis/hiredis.h>

#include "clock.h"
#include "functions_lua.h" /* FUNCTIONS_LUA: bridge/functions.lua, made by CMakeLists.txt */
#include "log.h"
#include "record.h"
#include "redis_conn.h"
#include "xmalloc.h"

struct lease {
    struct bridge *b;
    struct lease_events ev;
    struct redis_conn *conn; /* NULL: solo (journal_lease = 0) */
    struct event *tick_ev;
    unsigned ttl_ms;
    bool solo;      /* plain XADD: this process writes every journal it follows */
    bool loaded;    /* the function library is loaded on this connection */
    bool ticking;   /* a tick's FCALL is unanswered: the next tick waits for it */
    bool releasing; /* lease_free's release is unanswered */
    char token[320];
};

/* One FCALL's topics, in the order of its keys; each kept alive (pending) until answered. */
struct batch {
    struct lease *l;
    size_t n;
    struct topic *topics[];
};

bool lease_holds(const struct lease *l, const struct topic *t) {
    return l->solo || t->lease != LEASE_OTHER;
}

bool lease_may_take(const struct lease *l, const struct topic *t) {
    return !l->solo && t->lease == LEASE_UNKNOWN;
}

static void hold(struct topic *t) {
    if (t->lease != LEASE_HELD) {
        t->lease = LEASE_HELD;
        t->pending++;
    }
}

void lease_wrote(struct lease *l, struct topic *t) {
    if (!l->solo && t->lease == LEASE_UNKNOWN) {
        log_debug("journal: writing %s (its lease taken by a write)", t->journal_key);
        hold(t);
    }
}

bool lease_fenced(const struct lease *l) {
    return !l->solo;
}

const char *lease_token(const struct lease *l) {
    return l->token;
}

/* Not held any more: `to` says whether another bridge is known to hold it. */
static void drop(struct topic *t, enum lease_state to) {
    if (t->lease == LEASE_HELD)
        t->pending--;
    t->lease = to;
}

void lease_lost(struct lease *l, struct topic *t) {
    unsigned long long now = clock_now_ms(l->b->base);
    if (t->lease == LEASE_HELD)
        log_info("journal: %s is written by another bridge now", t->journal_key);
    if (t->lease != LEASE_OTHER)
        t->other_since_ms = now;
    t->other_seen_ms = now;
    drop(t, LEASE_OTHER);
}

void lease_missed(struct lease *l, struct topic *t) {
    t->missed_ms = clock_now_ms(l->b->base);
}

/* Taking over from another writer: could the journal miss a message? The other writer was
 * alive until at least its last renewal, after (other_seen - ttl): a lease seen held then
 * expires later. So messages from then on may be missing, and this process heard every
 * message published since it subscribed (a subscription that was down counts as missed),
 * dropping each as not its to write. Dropped one since then: some are missing. None, and
 * listening since before then: nothing is (sse_publish messages never pass through here).
 * None, but listening for less: cannot tell. A quarter of journal_lease covers the time a
 * reply takes. */
static enum lease_taken taken_over(const struct lease *l, const struct topic *t) {
    unsigned long long window = l->ttl_ms + l->b->cfg->journal_lease_ms / 4;
    unsigned long long since = t->other_seen_ms > window ? t->other_seen_ms - window : 0;
    if (t->missed_ms != 0 && t->missed_ms >= since)
        return LEASE_TAKEN_RESUMED;
    return t->other_since_ms <= since ? LEASE_TAKEN_CONTINUED : LEASE_TAKEN_UNHEARD;
}

static void go_solo(struct lease *l, const char *why) {
    log_warn("journal: %s; this bridge writes its journals with plain XADD, as if it were the "
             "only one on this Redis (README: Running several bridges)",
             why);
    l->solo = true;
}

/* Topics this process follows whose journal it may write: journalled pub/sub and MQTT
 * topics (a stream topic is its own journal, written by the application). */
static bool leased(const struct topic *t) {
    return t->journal_key != NULL && t->kind != TOPIC_STREAM;
}

struct collect {
    struct lease *l;
    unsigned long long now;
    struct batch *take, *release;
    size_t cap;
    size_t leased; /* topics whose journal may need a lease: while any, the tick goes on */
};

static void collect(void *arg, struct topic *t) {
    struct collect *c = arg;
    if (!leased(t))
        return;
    c->leased++;
    bool wanted = hub_topic_wanted(c->l->b->hub, t, c->now);
    struct batch *into = NULL;
    /* Contend only once subscribed upstream: a writer that cannot hear the channel would only
     * keep another bridge from writing it. */
    if (wanted && (t->lease == LEASE_HELD || t->state == UPSTREAM_SUBSCRIBED))
        into = c->take;
    else if (!wanted && t->lease == LEASE_HELD)
        into = c->release;
    if (into == NULL || into->n == c->cap)
        return;
    into->topics[into->n++] = t;
    t->pending++;
}

static void on_lease(redisAsyncContext *ac, void *r, void *privdata) {
    struct batch *bt = privdata;
    struct lease *l = bt->l;
    redisReply *reply = r;
    (void)ac;
    l->ticking = false;
    bool ok = reply != NULL && reply->type == REDIS_REPLY_ARRAY && reply->elements == bt->n;
    if (reply != NULL && !ok)
        log_warn("journal: the lease call failed: %s",
                 reply->type == REDIS_REPLY_ERROR ? reply->str : "unexpected reply");
    for (size_t i = 0; i < bt->n; i++) {
        struct topic *t = bt->topics[i];
        t->pending--;
        long long code =
            ok && reply->element[i]->type == REDIS_REPLY_INTEGER ? reply->element[i]->integer : -1;
        if (code >= 1)
            t->renewed_ms = clock_now_ms(l->b->base);
        if (code == 0) {
            lease_lost(l, t);
        } else if (code >= 1 && t->lease != LEASE_HELD) {
            /* 1: our token already (a write took it, or a restart of this bridge on the same
             * address). 3 after another bridge: a failover, or its release. */
            enum lease_taken how =
                code == 3 && t->lease == LEASE_OTHER ? taken_over(l, t) : LEASE_TAKEN_NEW;
            hold(t);
            t->taken_after_other = how != LEASE_TAKEN_NEW;
            if (how == LEASE_TAKEN_NEW)
                log_debug("journal: writing %s (lease new)", t->journal_key);
            else if (t->journal_session) /* its session tells what was missed */
                log_info("journal: writing %s (lease taken over)", t->journal_key);
            else /* a failover: said at info */
                log_info("journal: writing %s (lease taken over, %s)", t->journal_key,
                         how == LEASE_TAKEN_CONTINUED ? "nothing missed"
                         : how == LEASE_TAKEN_UNHEARD
                             ? "not heard long enough to tell whether plain PUBLISHes were lost"
                             : "plain PUBLISHes of the handover lost");
            l->ev.acquired(l->ev.arg, t, how);
        }
    }
    free(bt);
}

static void on_release(redisAsyncContext *ac, void *r, void *privdata) {
    struct batch *bt = privdata;
    (void)ac, (void)r;
    bt->l->releasing = false;
    for (size_t i = 0; i < bt->n; i++) {
        bt->topics[i]->pending--;
        hub_sync(bt->l->b->hub, bt->topics[i]); /* it may go now */
    }
    free(bt);
}

/* FCALL fn <n> <lease keys> <token> [<ttl> (<journal> <trim>)...]. */
static void send_batch(struct lease *l, const char *fn, struct batch *bt, redisCallbackFn *cb) {
    redisAsyncContext *ac = redis_conn_ctx(l->conn);
    bool take = cb == on_lease;
    size_t argc = 3 + bt->n + 1 + (take ? 1 + 2 * bt->n : 0);
    const char **argv = xcalloc(argc, sizeof(*argv));
    size_t *lens = xcalloc(argc, sizeof(*lens));
    char **owned = xcalloc(2 * bt->n + 2, sizeof(*owned));
    char ttl[24], nkeys[24];
    snprintf(ttl, sizeof(ttl), "%u", l->ttl_ms);
    snprintf(nkeys, sizeof(nkeys), "%zu", bt->n);
    size_t k = 0, o = 0;
    argv[k++] = "FCALL";
    argv[k++] = fn;
    argv[k++] = nkeys;
    for (size_t i = 0; i < bt->n; i++)
        argv[k++] = owned[o++] = record_lease_key(bt->topics[i]->journal_key);
    argv[k++] = l->token;
    if (take) {
        argv[k++] = ttl;
        for (size_t i = 0; i < bt->n; i++) {
            argv[k++] = bt->topics[i]->journal_key;
            char *spec = owned[o++] = xmalloc(RECORD_TRIM_SPEC_MAX);
            record_trim_spec(bt->topics[i], spec, RECORD_TRIM_SPEC_MAX);
            argv[k++] = spec;
        }
    }
    for (size_t i = 0; i < k; i++)
        lens[i] = strlen(argv[i]);
    if (ac == NULL || redisAsyncCommandArgv(ac, cb, bt, (int)k, argv, lens) != REDIS_OK)
        cb(NULL, NULL, bt);
    for (size_t i = 0; i < o; i++)
        free(owned[i]);
    free(owned);
    free(argv);
    free(lens);
}

/* Returns whether the tick must go on: some topic's journal may need a lease (or Redis cannot
 * be asked now, and will be at the next tick). */
static bool tick(struct lease *l) {
    if (l->solo)
        return false;
    if (!l->loaded || l->ticking || redis_conn_ctx(l->conn) == NULL)
        return true;
    size_t n = hub_topic_count(l->b->hub);
    struct collect c = {l,
                        clock_now_ms(l->b->base),
                        xmalloc(sizeof(struct batch) + n * sizeof(void *)),
                        xmalloc(sizeof(struct batch) + n * sizeof(void *)),
                        n,
                        0};
    c.take->l = c.release->l = l;
    c.take->n = c.release->n = 0;
    hub_foreach(l->b->hub, collect, &c);
    /* No write from now on, whatever Redis answers (messages still arriving until the source
     * unsubscribes must not take it back); wanted again, the next tick takes it. */
    for (size_t i = 0; i < c.release->n; i++)
        drop(c.release->topics[i], LEASE_OTHER);
    if (c.release->n > 0)
        send_batch(l, "sse_release", c.release, on_release);
    else
        free(c.release);
    if (c.take->n > 0) {
        l->ticking = true;
        send_batch(l, "sse_lease", c.take, on_lease);
    } else {
        free(c.take);
    }
    return c.leased > 0;
}

/* Ticks while some journal needs a lease: an idle bridge sleeps. */
static void arm(struct lease *l) {
    if (l->tick_ev == NULL || evtimer_pending(l->tick_ev, NULL))
        return;
    unsigned ms = l->b->cfg->journal_lease_ms / 4;
    struct timeval tv = {ms / 1000, (ms % 1000) * 1000};
    event_add(l->tick_ev, &tv);
}

void lease_kick(struct lease *l) {
    arm(l);
}

void lease_tick_now(struct lease *l) {
    if (tick(l))
        arm(l);
}

static void on_tick(evutil_socket_t fd, short what, void *arg) {
    struct lease *l = arg;
    (void)fd, (void)what;
    if (tick(l))
        arm(l);
}

static void on_load(redisAsyncContext *ac, void *r, void *privdata) {
    struct lease *l = privdata;
    redisReply *reply = r;
    (void)ac;
    if (reply == NULL)
        return; /* lost: loaded again when the connection is back */
    if (reply->type == REDIS_REPLY_ERROR) {
        /* Redis 6 has no functions ("unknown command"); a Redis that refuses the library (an
         * ACL, a read-only replica) leaves the same choice. */
        char why[300];
        snprintf(why, sizeof(why), "Redis refused FUNCTION LOAD (%s)", reply->str);
        go_solo(l, why);
        return;
    }
    l->loaded = true;
    tick(l);
}

/* The journal writer's load: its writes come after it on its connection. */
static void on_load_other(redisAsyncContext *ac, void *r, void *privdata) {
    redisReply *reply = r;
    (void)ac;
    if (reply != NULL && reply->type == REDIS_REPLY_ERROR)
        log_debug("journal: FUNCTION LOAD on the writer: %s", reply->str);
    (void)privdata;
}

static void unhold(void *arg, struct topic *t) {
    (void)arg;
    if (t->lease == LEASE_HELD) /* may be ours still: a write finds out (sse_append takes it) */
        drop(t, LEASE_UNKNOWN);
}

void lease_load(struct lease *l, redisAsyncContext *ac) {
    if (l->solo || ac == NULL)
        return;
    /* The library with this bridge's settings on its second line. */
    const char *nl = strchr(FUNCTIONS_LUA, '\n');
    char head[512];
    int hn = snprintf(head, sizeof(head), "local PREFIX = '");
    for (const char *p = l->b->cfg->journal_prefix; *p && hn < (int)sizeof(head) - 96; p++)
        hn += snprintf(head + hn, sizeof(head) - (size_t)hn, "\\%03u", (unsigned char)*p);
    hn += snprintf(head + hn, sizeof(head) - (size_t)hn,
                   "' local DEFAULT_TRIM = 'MAXLEN %zu' local LEASE_TTL = %u\n",
                   l->b->cfg->journal ? l->b->cfg->journal : (size_t)1000, l->ttl_ms);
    size_t first = (size_t)(nl - FUNCTIONS_LUA) + 1, rest = strlen(nl + 1);
    char *code = xmalloc(first + (size_t)hn + rest + 1);
    memcpy(code, FUNCTIONS_LUA, first);
    memcpy(code + first, head, (size_t)hn);
    memcpy(code + first + hn, nl + 1, rest + 1);
    bool own = ac == redis_conn_ctx(l->conn);
    redisAsyncCommand(ac, own ? on_load : on_load_other, l, "FUNCTION LOAD REPLACE %s", code);
    free(code);
}

static void on_ready(void *arg) {
    struct lease *l = arg;
    l->loaded = false;
    l->ticking = false;
    lease_load(l, redis_conn_ctx(l->conn));
}

static void on_lost(void *arg) {
    /* Fenced writes would be refused anyway once another bridge takes over; not writing is
     * the honest state until the lease is renewed. */
    struct lease *l = arg;
    l->loaded = false;
    hub_foreach(l->b->hub, unhold, l);
}

struct lease *lease_new(struct bridge *b, const struct lease_events *ev) {
    struct lease *l = xcalloc(1, sizeof(*l));
    l->b = b;
    l->ev = *ev;
    /* A bridge's identity: a restart on the same address takes its own lease back at once. */
    char host[256] = "localhost";
    gethostname(host, sizeof(host) - 1);
    snprintf(l->token, sizeof(l->token), "%s:%d/%d", host, b->listen_port, b->cfg->worker);
    if (b->cfg->journal_lease_ms == 0) {
        l->solo = true;
        return l;
    }
    l->ttl_ms = b->cfg->journal_lease_ms * 3 / 4;
    l->conn =
        redis_conn_new(b->redis_pool, "lease", (struct redis_conn_handlers){on_ready, on_lost}, l);
    l->tick_ev = evtimer_new(b->base, on_tick, l);
    return l;
}

void lease_start(struct lease *l) {
    if (l->conn == NULL)
        return;
    redis_conn_start(l->conn);
    arm(l);
}

static void on_release_deadline(evutil_socket_t fd, short what, void *arg) {
    (void)fd, (void)what;
    ((struct lease *)arg)->releasing = false;
}

struct held_list {
    struct batch *bt;
    size_t cap;
};

static void collect_held(void *arg, struct topic *t) {
    struct held_list *h = arg;
    if (t->lease == LEASE_HELD && h->bt->n < h->cap) {
        h->bt->topics[h->bt->n++] = t;
        t->pending++;
        drop(t, LEASE_OTHER);
    }
}

void lease_free(struct lease *l) {
    if (l == NULL)
        return;
    if (l->conn != NULL && redis_conn_ctx(l->conn) != NULL) {
        /* Released, so that another bridge takes over at once rather than after the lease:
         * the loop runs until Redis answers, a second at most. */
        size_t n = hub_topic_count(l->b->hub);
        struct held_list h = {xmalloc(sizeof(struct batch) + n * sizeof(void *)), n};
        h.bt->l = l;
        h.bt->n = 0;
        hub_foreach(l->b->hub, collect_held, &h);
        if (h.bt->n > 0) {
            l->releasing = true;
            send_batch(l, "sse_release", h.bt, on_release);
            struct event *deadline = evtimer_new(l->b->base, on_release_deadline, l);
            struct timeval tv = {1, 0};
            event_add(deadline, &tv);
            while (l->releasing)
                event_base_loop(l->b->base, EVLOOP_ONCE);
            event_free(deadline);
        } else {
            free(h.bt);
        }
    }
    if (l->tick_ev)
        event_free(l->tick_ev);
    redis_conn_free(l->conn);
    free(l);
}
