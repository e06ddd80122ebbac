/* The bridge context: everything one running sse-bridge holds, passed to every I/O module
 * (no globals). bridge.c builds it, starts and stops its parts in order, and owns the one
 * path every upstream message takes: translate once per route, encode once, fan out.
 *
 * Start order: hub, HTTP listener, Redis source, timers, signals. Stop (SIGTERM/SIGINT):
 * stop accepting, send the close event to every client, wait for their buffers to drain (at
 * most shutdown_flush), then free in reverse order and leave the loop. */
#ifndef BRIDGE_H
#define BRIDGE_H

#include <stdbool.h>

#include <event2/event.h>

#include "config.h"
#include "hub.h"
#include "metrics.h"
#include "msg.h"

struct client;

/* A configured route, ready for matching; rules point into cfg. */
struct route {
    const struct route_cfg *cfg;
};

enum bridge_state { BRIDGE_RUNNING, BRIDGE_DRAINING };

struct bridge {
    struct event_base *base;
    struct config *cfg;
    struct route *routes;
    size_t nroutes;
    struct hub *hub;
    struct http *http;
    struct source_redis *redis;
    struct metrics metrics;
    enum bridge_state state;

    struct client *clients; /* every open SSE stream, for heartbeats and shutdown */
    size_t nclients;

    struct msg *retry_frame;     /* sent first on every stream; NULL when retry is 0 */
    struct msg *heartbeat_frame; /* ": heartbeat" comment */
    struct msg *shutdown_frame;  /* the close event sent on SIGTERM */
    struct evbuffer *scratch;    /* carries one frame reference into evhttp; always empty */

    struct event *heartbeat_ev, *sweep_ev, *drain_ev, *sigterm_ev, *sigint_ev;
    unsigned long long drain_deadline_ms;
    int exit_code;
};

struct bridge *bridge_new(struct event_base *base, struct config *cfg);
/* Listens, connects upstream, arms timers and signals. Returns 0, or -1 after logging why. */
int bridge_start(struct bridge *b);
void bridge_free(struct bridge *b);

/* Milliseconds of the loop's cached clock (monotonic). */
unsigned long long bridge_now_ms(const struct bridge *b);

/* One upstream message: `subject` is the topic it arrived on (channel or pattern), `channel`
 * the channel it was published to. Buffers are the caller's; nothing is kept. */
void bridge_deliver(struct bridge *b, enum topic_kind kind, const char *subject, size_t subject_len,
                    const char *channel, size_t channel_len, const char *payload,
                    size_t payload_len);

/* Asks the upstream to follow the hub for this topic (after a join, leave or pin). */
void bridge_sync_topic(struct bridge *b, struct topic *t);

#endif
