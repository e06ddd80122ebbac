/* The publish endpoint's Redis side: routes with `publish = true` accept POST and the body is
 * PUBLISHed to the route's channels, over a connection of its own (the pub/sub connection is
 * in subscriber mode and cannot publish). Fire and forget: the HTTP answer (202) says the
 * message was handed to Redis, failures are logged and counted. Created only when a route
 * publishes. */
#ifndef PUBLISH_H
#define PUBLISH_H

#include <stdbool.h>
#include <stddef.h>

#include "context.h"
#include "redis_conn.h"

struct publish *publish_new(struct bridge *b);
void publish_start(struct publish *p);
void publish_free(struct publish *p);
bool publish_up(const struct publish *p);
/* Queues PUBLISH channel payload. Returns 0, or -1 when Redis is not connected now. */
int publish_send(struct publish *p, const char *channel, const char *payload, size_t len);

#endif
