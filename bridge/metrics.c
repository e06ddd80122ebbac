#include "metrics.h"

#include <stdio.h>
#include <string.h>

size_t metrics_render(const struct metrics *m, const struct metrics_gauges *g, char *buf,
                      size_t cap) {
    const struct {
        const char *name, *type, *help;
        unsigned long long value;
    } rows[] = {
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
    size_t len = 0;
    for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]) && len < cap; i++) {
        if ((!strcmp(rows[i].name, "mqtt_up") && g->mqtt_up < 0) ||
            (!strcmp(rows[i].name, "journal_degraded") && g->journal_degraded < 0))
            continue;
        int n = snprintf(buf + len, cap - len,
                         "# HELP sse_bridge_%s %s\n# TYPE sse_bridge_%s %s\nsse_bridge_%s %llu\n",
                         rows[i].name, rows[i].help, rows[i].name, rows[i].type, rows[i].name,
                         rows[i].value);
        if (n < 0 || (size_t)n >= cap - len)
            return len;
        len += (size_t)n;
    }
    return len;
}
