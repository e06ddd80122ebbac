/* One hiredis async connection on the bridge's loop that stays up: connects, authenticates,
 * selects the database, and when the connection fails or drops, tells its owner and
 * reconnects after a capped, jittered exponential backoff. Each failure episode is logged
 * once (not once per attempt), and so is the recovery. The Redis sources and the journal each
 * own one; what they send is theirs. */
#ifndef REDIS_CONN_H
#define REDIS_CONN_H

#include <stdbool.h>

#include <event2/event.h>
#include <hiredis/async.h>

struct redis_addr {
    char host[256];
    int port;
    char password[256]; /* empty: no AUTH */
    char user[128];     /* Redis 6 ACL user, with password */
    int db;
};

/* Parses redis://[[user]:password@]host[:port][/db]. Returns NULL, or what is wrong. */
const char *redis_url_parse(const char *url, struct redis_addr *out);

struct redis_conn_handlers {
    void (*ready)(void *arg); /* connected and set up: (re)send what the owner needs */
    void (*lost)(void *arg);  /* gone; pending callbacks got NULL replies */
};

struct redis_conn *redis_conn_new(struct event_base *base, const struct redis_addr *addr,
                                  const char *name, unsigned backoff_min_ms,
                                  unsigned backoff_max_ms, struct redis_conn_handlers handlers,
                                  void *arg);
void redis_conn_start(struct redis_conn *c);
/* The context, only while ready (NULL otherwise). Valid until the next return to the loop. */
redisAsyncContext *redis_conn_ctx(struct redis_conn *c);
bool redis_conn_ready(const struct redis_conn *c);
/* Successful connections after the first one. */
unsigned long long redis_conn_reconnects(const struct redis_conn *c);
/* Frees the connection without calling `lost`. */
void redis_conn_free(struct redis_conn *c);

#endif
