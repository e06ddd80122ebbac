/* The Redis pub/sub source: one hiredis async connection on the bridge's loop that follows
 * the hub (SUBSCRIBE when a topic is wanted, UNSUBSCRIBE after its linger) and hands every
 * message to bridge_deliver. When Redis goes away, clients stay connected; the source
 * reconnects with capped exponential backoff and subscribes again to everything wanted.
 *
 * Per topic, at most one (UN)SUBSCRIBE is in flight: hiredis 0.14 keys its subscription
 * callbacks by channel name and an UNSUBSCRIBE reply would drop the callback of a SUBSCRIBE
 * sent after it, silently losing that channel's messages. */
#ifndef SOURCE_REDIS_H
#define SOURCE_REDIS_H

#include <stdbool.h>
#include <stddef.h>

#include "bridge.h"

struct redis_addr {
    char host[256];
    int port;
    char password[256]; /* empty: no AUTH */
    char user[128];     /* Redis 6 ACL user, with password */
    int db;
};

/* Parses redis://[[user]:password@]host[:port][/db]. Returns NULL, or what is wrong. */
const char *redis_url_parse(const char *url, struct redis_addr *out);

struct source_redis *source_redis_new(struct bridge *b, const struct redis_addr *addr);
void source_redis_start(struct source_redis *s);
void source_redis_free(struct source_redis *s);
int source_redis_up(const struct source_redis *s);
/* Brings the upstream in line with the hub for one topic (may hub_remove it). */
void source_redis_sync(struct source_redis *s, struct topic *t);

#endif
