#include "metrics.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct row {
    const char *name, *type, *help;
    unsigned long long value;
};

#define NROWS 35

/* The rows of one process's figures, in exposition order. */
static void fill_rows(const struct metrics *m, const struct metrics_gauges *g,
                      struct row out[NROWS]) {
    const struct row rows[] = {
        {"clients", "gauge", "SSE streams open now", g->clients},
        {"connections_pending", "gauge", "connections that have not sent a whole request",
         g->pending},
        {"topics", "gauge", "upstream channels and patterns known now", g->topics},
        {"redis_up", "gauge", "1 when the Redis connection is up", (unsigned long long)g->redis_up},
        {"mqtt_up", "gauge", "1 when the MQTT broker connection is up (absent: no MQTT route)",
         (unsigned long long)g->mqtt_up},
        {"journal_degraded", "gauge",
         "1 while Redis refuses journal writes (absent: no journalled route)",
         (unsigned long long)g->journal_degraded},
        {"journal_write_errors_total", "counter", "journal writes Redis refused",
         m->journal_write_errors},
        {"read_lag_milliseconds", "gauge",
         "how old the journal and stream entries being delivered are while more are waiting "
         "(0: caught up)",
         m->read_lag_ms},
        {"lag_skips_total", "counter",
         "times a journal or stream reader past lag_max skipped to the present (lagging gap)",
         m->lag_skips},
        {"unread_trimmed_total", "counter",
         "times entries were trimmed from a journal or stream before they were read (truncated "
         "gap)",
         m->unread_trimmed},
        {"auth_allowed_total", "counter", "requests to auth routes let in by a token",
         m->auth_allowed},
        {"auth_missing_total", "counter", "requests refused 401: no token", m->auth_missing},
        {"auth_invalid_total", "counter",
         "requests refused 401: bad, expired or unverifiable token", m->auth_invalid},
        {"auth_forbidden_total", "counter", "requests refused 403: token without the grant",
         m->auth_forbidden},
        {"auth_backend_allowed_total", "counter", "backend checks allowing (cached ones too)",
         m->auth_backend_allowed},
        {"auth_backend_denied_total", "counter", "backend checks answering 401 or 403",
         m->auth_backend_denied},
        {"auth_backend_failed_total", "counter",
         "backend checks failed (timeout, down, other status): 503", m->auth_backend_failed},
        {"clients_total", "counter", "SSE streams accepted", m->clients_total},
        {"clients_rejected_total", "counter", "SSE streams refused (limits, shutdown)",
         m->clients_rejected},
        {"clients_slow_cut_total", "counter", "clients cut off for a full output buffer",
         m->clients_slow_cut},
        {"messages_in_total", "counter", "upstream messages received", m->messages_in},
        {"messages_non_json_total", "counter", "messages a JSON rule could not parse",
         m->messages_non_json},
        {"messages_dropped_total", "counter", "upstream messages dropped (too large)",
         m->messages_dropped},
        {"messages_binary_total", "counter",
         "payloads that were not UTF-8 (base64-encoded or rejected per route)", m->messages_binary},
        {"events_out_total", "counter", "events queued to clients", m->events_out},
        {"bytes_out_total", "counter", "bytes of events queued to clients", m->bytes_out},
        {"redis_reconnects_total", "counter",
         "Redis reconnections (of the source connection that reconnected most)",
         m->redis_reconnects},
        {"mqtt_reconnects_total", "counter", "MQTT broker reconnections", m->mqtt_reconnects},
        {"mqtt_redeliveries_dropped_total", "counter",
         "QoS 1 messages the broker sent again after a restart, already delivered",
         m->mqtt_redeliveries},
        {"published_total", "counter", "messages POSTed to publish routes", m->published},
        {"publish_failed_total", "counter", "published messages Redis refused or lost",
         m->publish_failed},
        {"requests_bad_total", "counter", "requests answered with 4xx", m->requests_bad},
        {"connections_timed_out_total", "counter",
         "connections closed without a whole request within request_timeout",
         m->connections_timed_out},
        {"connections_shed_total", "counter",
         "connections closed at once: max_pending_connections reached", m->connections_shed},
        {"connections_refused_total", "counter", "connections reset at the file limit",
         m->connections_refused},
    };
    _Static_assert(sizeof(rows) / sizeof(rows[0]) == NROWS, "NROWS is the number of rows");
    memcpy(out, rows, sizeof(rows));
}

/* A gauge of an upstream no route uses is left out. */
static bool absent(const struct row *r, const struct metrics_gauges *g) {
    return (!strcmp(r->name, "mqtt_up") && g->mqtt_up < 0) ||
           (!strcmp(r->name, "journal_degraded") && g->journal_degraded < 0);
}

/* Every metric once (HELP, TYPE), then one sample per process: labelled with its worker when
 * there are several. */
static size_t render(const struct metrics_slot *slots, size_t n, bool labelled, char *buf,
                     size_t cap) {
    struct row(*rows)[NROWS] = malloc(n * sizeof(*rows));
    if (rows == NULL)
        return 0;
    for (size_t w = 0; w < n; w++)
        fill_rows(&slots[w].m, &slots[w].g, rows[w]);
    size_t len = 0;
    int k;
    for (size_t i = 0; i < NROWS && len < cap; i++) {
        if (absent(&rows[0][i], &slots[0].g))
            continue;
        const struct row *r = &rows[0][i];
        k = snprintf(buf + len, cap - len, "# HELP sse_bridge_%s %s\n# TYPE sse_bridge_%s %s\n",
                     r->name, r->help, r->name, r->type);
        if (k < 0 || (size_t)k >= cap - len)
            break;
        len += (size_t)k;
        for (size_t w = 0; w < n && len < cap; w++) {
            if (!slots[w].alive)
                continue;
            if (labelled)
                k = snprintf(buf + len, cap - len, "sse_bridge_%s{worker=\"%d\"} %llu\n", r->name,
                             slots[w].g.worker, rows[w][i].value);
            else
                k = snprintf(buf + len, cap - len, "sse_bridge_%s %llu\n", r->name,
                             rows[w][i].value);
            if (k < 0 || (size_t)k >= cap - len) {
                free(rows);
                return len;
            }
            len += (size_t)k;
        }
    }
    free(rows);
    return len;
}

size_t metrics_render(const struct metrics *m, const struct metrics_gauges *g, char *buf,
                      size_t cap) {
    struct metrics_slot one = {*m, *g, true};
    return render(&one, 1, false, buf, cap);
}

size_t metrics_render_workers(const struct metrics_slot *slots, size_t n, int answering, char *buf,
                              size_t cap) {
    size_t len = render(slots, n, true, buf, cap);
    int k = snprintf(buf + len, cap - len,
                     "# HELP sse_bridge_worker_answering the worker that answered this scrape\n"
                     "# TYPE sse_bridge_worker_answering gauge\n"
                     "sse_bridge_worker_answering{worker=\"%d\"} 1\n",
                     answering);
    return k < 0 || (size_t)k >= cap - len ? len : len + (size_t)k;
}
