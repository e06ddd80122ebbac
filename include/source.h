/* The upstream sources: Redis pub/sub (source_redis.c), Redis streams (source_stream.c) and
 * MQTT (source_mqtt.c). Each implements these operations, as libevent's bufferevent_ops do
 * for bufferevents; the bridge holds them in an array and knows only their constructors, and
 * health and metrics iterate them. A source delivers what it receives through delivery.h. */
#ifndef SOURCE_H
#define SOURCE_H

#include <stdbool.h>

#include "hub.h"

struct source;

struct source_ops {
    const char *name;     /* in logs: "redis pub/sub", "redis streams", "mqtt" */
    const char *upstream; /* the /healthz field it counts in: "redis" or "mqtt" */
    unsigned kinds;       /* SOURCE_KIND(k) for each topic kind it serves */
    unsigned journals;    /* ... and for each kind whose journal it reads, when journalled */
    void (*start)(struct source *s);
    /* Follows the hub for topic t: subscribes when it is wanted, unsubscribes when not. */
    void (*sync)(struct source *s, struct topic *t);
    bool (*up)(const struct source *s);
    unsigned long long (*reconnects)(const struct source *s);
    void (*free)(struct source *s);
};

#define SOURCE_KIND(kind) (1u << (kind))

/* The first member of every source's own struct. */
struct source {
    const struct source_ops *ops;
};

#endif
