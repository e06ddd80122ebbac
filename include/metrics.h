/* Counters for /metrics (Prometheus text format) and the logs. Plain numbers in the bridge
 * context, bumped where things happen; rendering is pure. */
#ifndef METRICS_H
#define METRICS_H

#include <stdbool.h>
#include <stddef.h>

struct metrics {
    unsigned long long clients_total;         /* SSE streams accepted since start */
    unsigned long long clients_rejected;      /* refused: max_clients reached, shutting down */
    unsigned long long clients_slow_cut;      /* cut off for passing client_buffer */
    unsigned long long messages_in;           /* upstream messages received */
    unsigned long long messages_non_json;     /* needed JSON, got something else: sent as is */
    unsigned long long messages_dropped;      /* over max_message_size, or malformed upstream */
    unsigned long long messages_binary;       /* not UTF-8: base64-encoded or rejected per route */
    unsigned long long events_out;            /* frames queued to clients */
    unsigned long long bytes_out;             /* bytes of those frames */
    unsigned long long redis_reconnects;      /* successful connections after the first */
    unsigned long long mqtt_reconnects;       /* MQTT: successful connections after the first */
    unsigned long long mqtt_redeliveries;     /* QoS 1 resends of messages already delivered */
    unsigned long long requests_bad;          /* answered 4xx */
    unsigned long long connections_timed_out; /* closed: no whole request in request_timeout */
    unsigned long long connections_shed;      /* closed: max_pending_connections reached */
    unsigned long long connections_refused;   /* reset at the file limit */
    unsigned long long published;             /* POSTs of publish routes handed to Redis */
    unsigned long long publish_failed;        /* ... that Redis refused or lost */
    unsigned long long journal_write_errors;  /* XADDs Redis refused (OOM, read-only, ...) */
    unsigned long long lag_skips;             /* a follower past lag_max skipped to the present */
    unsigned long long unread_trimmed;        /* entries trimmed before they were read: gaps */
    unsigned long long auth_allowed;          /* requests to auth routes let in by a token */
    unsigned long long auth_missing;          /* 401: no token */
    unsigned long long auth_invalid;          /* 401: a bad, expired or unverifiable token */
    unsigned long long auth_forbidden;        /* 403: a valid token without the grant */
    unsigned long long auth_backend_allowed;  /* backend checks (or cached decisions) allowing */
    unsigned long long auth_backend_denied;   /* ... answering 401 or 403 */
    unsigned long long auth_backend_failed;   /* ... timing out, down, another status: 503 */
    /* A level, not a counter (source_stream's): how old the entries it delivers are while more
     * are waiting; 0: caught up. */
    unsigned long long read_lag_ms;
};

struct metrics_gauges {
    size_t clients;
    size_t pending; /* connections without a whole request yet */
    size_t topics;
    int redis_up;
    int journal_degraded; /* -1: no journal */
    int mqtt_up;          /* -1: no MQTT route */
    int worker;           /* which of `workers` processes (1-based); 0: the only one */
};

/* One worker's figures in the board the workers share (workers = N, workers.h): each copies
 * its own there, at most a second old; /metrics shows them all. */
struct metrics_slot {
    struct metrics m;
    struct metrics_gauges g;
    bool alive; /* written once since the worker (re)started */
};

/* Room for the whole exposition text with every counter at its largest (test_metrics), for
 * one process; workers need this much each. */
#define METRICS_TEXT_MAX 16384

/* Writes the exposition text into buf (cap bytes); returns the length written (truncated to
 * fit, never past cap - 1). */
size_t metrics_render(const struct metrics *m, const struct metrics_gauges *g, char *buf,
                      size_t cap);
/* The figures of n workers, each sample labelled worker="N" (Prometheus sums them with
 * `sum without (worker)`), and which one answered. */
size_t metrics_render_workers(const struct metrics_slot *slots, size_t n, int answering, char *buf,
                              size_t cap);

#endif
