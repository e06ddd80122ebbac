/* The context of one running sse-bridge: everything it holds, handed to every I/O module (no
 * globals). bridge.c makes it and starts and stops its parts (bridge.h); the path of a message
 * through them is in ARCHITECTURE.md. Each part is written only by the module named beside
 * it; the others read it. */
#ifndef CONTEXT_H
#define CONTEXT_H

#include <stdbool.h>

#include <event2/event.h>

#include "config.h"
#include "frame.h"
#include "hub.h"
#include "metrics.h"
#include "msg.h"

struct client;
struct source;

/* A configured route, ready for matching; rules point into cfg. */
struct route {
    const struct route_cfg *cfg;
};

enum bridge_state { BRIDGE_RUNNING, BRIDGE_DRAINING };

#define BRIDGE_SOURCES_MAX 3 /* Redis pub/sub, Redis streams, MQTT */

struct bridge {
    struct event_base *base;
    struct config *cfg;
    struct route *routes;
    size_t nroutes;
    struct hub *hub;
    struct http *http;
    int listen_port; /* http.c's: the port bound (a listen port of 0 has the kernel pick one) */
    struct redis_pool *redis_pool; /* the address, backoff and health probe of every Redis
                                      connection */
    struct source *sources[BRIDGE_SOURCES_MAX]; /* those some route reads */
    size_t nsources;
    struct publish *publish; /* NULL when no route publishes */
    struct journal *journal; /* NULL when no route is journalled */
    struct replay *replay;   /* with the journal */
    struct lease *lease;     /* with the journal: which journals this process writes */
    /* What client.c calls back, so that it calls no module above it and a client holds one
     * flag, not a callback (the replays' hooks when there is a journal). */
    struct client_hooks {
        /* After client_on_drain: the client's unsent bytes fell to a quarter of client_buffer. */
        void (*drained)(struct client *c, void *arg);
        /* A subscription with a sync_job is leaving: its job must let go of it. */
        void (*cancel_sync)(void *job);
        void *arg;
    } client_hooks;
    struct auth *auth;       /* verifies tokens; NULL when no route has auth = jwt */
    struct backend *backend; /* asks backend_url; NULL when no route has auth = backend */
    struct metrics metrics;  /* counters: each module adds to its own */
    /* workers = N: every worker's figures, shared (workers.h); NULL for the only process. */
    struct metrics_slot *board;
    size_t nboard;
    struct frame_opts names; /* close and gap event names, for frame_build */
    enum bridge_state state;
    /* delivery.c: numbers each upstream message, so that a client subscribed to several
     * filters that all match one MQTT message gets it once (client_send_once). */
    unsigned long long message_seq;

    /* client.c's */
    struct client *clients; /* every open SSE stream, for heartbeats and shutdown */
    struct client *dirty;   /* clients with frames queued this loop turn */
    struct event *flush_ev; /* activated by the first queued frame of a turn */
    size_t nclients;
    int null_fd; /* /dev/null, for clients taking sockets over from evhttp */

    struct msg *retry_frame;     /* sent first on every stream; NULL when retry is 0 */
    struct msg *heartbeat_frame; /* ": heartbeat" comment */
    struct msg *shutdown_frame;  /* the close event sent on SIGTERM */
    struct msg *blank_frame;     /* "\n": ends an event body that carries no id */
    struct msg *crlf_frame;      /* "\r\n": ends a chunk */

    struct event *heartbeat_ev, *sweep_ev, *drain_ev, *sigterm_ev, *sigint_ev, *board_ev;
    unsigned long long drain_deadline_ms;
    int exit_code;
};

#endif
