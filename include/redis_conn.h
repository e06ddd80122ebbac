/* One hiredis async connection on the bridge's loop that stays up: connects, authenticates,
 * selects the database, and when the connection fails or drops, tells its owner and
 * reconnects after a capped, jittered exponential backoff. Each failure episode is logged
 * once (not once per attempt), and so is the recovery. The Redis sources and the journal each
 * own one; what they send is theirs.
 *
 * Every connection of a bridge belongs to one pool: the server's address, the backoff, and a
 * health probe of its own. A Redis that stops answering without closing (SIGSTOP, a host gone
 * without a reset, a full disk) keeps TCP alive: the kernel answers keepalive probes for it.
 * So the pool sends PING on a connection of its own every probe_interval; when no answer comes
 * within probe_timeout the server is down (logged once), every connection of the pool is torn
 * down and reconnects (their owners resume as after any reconnect), and the pool reports down
 * until a PING is answered again (logged once, with how long it was).
 *
 * With Redis Sentinel (a sentinel:// address) the pool asks the sentinels for the primary
 * before each connection attempt (at most every 100 ms, one sentinel after the other, 300 ms
 * each), and listens to one of them for +switch-master: a failover tears every connection
 * down, and they reconnect to the new primary (their owners resume as after any reconnect). */
#ifndef REDIS_CONN_H
#define REDIS_CONN_H

#include <stdbool.h>

#include <event2/event.h>
#include <hiredis/async.h>

#define REDIS_SENTINELS_MAX 8

struct redis_addr {
    char host[256];
    int port;
    char password[256]; /* empty: no AUTH */
    char user[128];     /* Redis 6 ACL user, with password */
    int db;
    /* sentinel://: the primary of `master` is asked of these (host and port above are the
     * primary's, once known). */
    char master[128];
    int nsentinels;
    struct {
        char host[256];
        int port;
    } sentinels[REDIS_SENTINELS_MAX];
};

/* Parses redis://[[user]:password@]host[:port][/db], or
 * sentinel://[[user]:password@]host[:port][,host[:port]...]/master[/db] (the credentials and
 * the database are the primary's; the sentinels' default port is 26379). Returns NULL, or what
 * is wrong. */
const char *redis_url_parse(const char *url, struct redis_addr *out);

struct redis_conn_handlers {
    void (*ready)(void *arg); /* connected and set up: (re)send what the owner needs */
    void (*lost)(void *arg);  /* gone; pending callbacks got NULL replies */
};

struct redis_pool_cfg {
    unsigned backoff_min_ms, backoff_max_ms;
    unsigned probe_interval_ms; /* 0: no probe */
    unsigned probe_timeout_ms;
};

struct redis_pool *redis_pool_new(struct event_base *base, const struct redis_addr *addr,
                                  const struct redis_pool_cfg *cfg);
/* Starts the probe (the connections start on their own, with redis_conn_start). */
void redis_pool_start(struct redis_pool *p);
/* Whether the server answers: false from a probe's timeout until its next answer. */
bool redis_pool_answering(const struct redis_pool *p);
/* Frees the probe; every connection of the pool must be freed first. */
void redis_pool_free(struct redis_pool *p);

/* A connection of pool p; `name` is for logs ("pubsub", "journal", ...). */
struct redis_conn *redis_conn_new(struct redis_pool *p, const char *name,
                                  struct redis_conn_handlers handlers, void *arg);
void redis_conn_start(struct redis_conn *c);
/* The context, only while ready (NULL otherwise). Valid until the next return to the loop. */
redisAsyncContext *redis_conn_ctx(struct redis_conn *c);
/* Connected and set up: commands may be sent, replies are this connection's. */
bool redis_conn_ready(const struct redis_conn *c);
/* Ready, and its server answering the pool's probe: what health reports. */
bool redis_conn_up(const struct redis_conn *c);
/* Successful connections after the first one. */
unsigned long long redis_conn_reconnects(const struct redis_conn *c);
/* Frees the connection without calling `lost`. */
void redis_conn_free(struct redis_conn *c);

#endif
