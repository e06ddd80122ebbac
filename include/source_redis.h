/* The Redis pub/sub source: one connection (redis_conn) that follows the hub (SUBSCRIBE when
 * a channel or pattern is wanted, UNSUBSCRIBE after its linger) and hands every message to
 * delivery_message. When Redis goes away, clients stay connected; once it is back, everything
 * wanted is subscribed again (and journalled topics get a gap marker: messages published
 * meanwhile were lost by Redis pub/sub).
 *
 * Per topic, at most one (UN)SUBSCRIBE is in flight: hiredis 0.14 keys its subscription
 * callbacks by channel name and an UNSUBSCRIBE reply would drop the callback of a SUBSCRIBE
 * sent after it, silently losing that channel's messages. */
#ifndef SOURCE_REDIS_H
#define SOURCE_REDIS_H

#include <stdbool.h>

#include "context.h"
#include "source.h"
#include "redis_conn.h"

struct source *source_redis_new(struct bridge *b);

#endif
