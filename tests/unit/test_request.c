/* request: one row per request (method, path, query, headers, what the bridge is doing) and
 * the decision: the action, or the status and reason of a refusal, the route, the topics and
 * the position. The configuration is tests/unit/configs/request.ini. */
#include "request.h"

#include <stdlib.h>
#include <string.h>

#include "check.h"

#define MAXP 4

struct row {
    enum request_method method;
    int minor;
    const char *path;
    const char *query; /* raw; the pairs below are its decoding */
    const char *qk[MAXP], *qv[MAXP];
    const char *hk[MAXP], *hv[MAXP];
    bool draining, full;
    enum request_action action;
    int status;
    const char *reason; /* ACT_REFUSE */
    const char *route;  /* name of the route, or NULL */
    const char *topics; /* "kind:name,..." for ACT_STREAM */
    const char *last_event_id;
};

// clang-format off
static const struct row rows[] = {
    {REQ_GET, 1, "/events/orders/42", NULL, {0}, {0}, {"Host"}, {"x"}, false, false,
     ACT_STREAM, 0, NULL, "orders", "c:orders.42", NULL},
    {REQ_GET, 1, "/events/orders/42", NULL, {0}, {0}, {"host", "LAST-EVENT-ID"}, {"x", "5-1"},
     false, false, ACT_STREAM, 0, NULL, "orders", "c:orders.42", "5-1"},
    {REQ_GET, 1, "/events/orders/42", "lastEventId=7-0", {"lastEventId"}, {"7-0"}, {"Host"},
     {"x"}, false, false, ACT_STREAM, 0, NULL, "orders", "c:orders.42", "7-0"},
    {REQ_HEAD, 1, "/events/orders/42", NULL, {0}, {0}, {"Host"}, {"x"}, false, false,
     ACT_HEAD, 0, NULL, "orders", NULL, NULL},
    {REQ_GET, 1, "/events/orders/42", NULL, {0}, {0}, {0}, {0}, false, false,
     ACT_REFUSE, 400, "HTTP/1.1 needs a Host header", NULL, NULL, NULL},
    {REQ_GET, 0, "/events/orders/42", NULL, {0}, {0}, {0}, {0}, false, false,
     ACT_STREAM, 0, NULL, "orders", "c:orders.42", NULL},
    {REQ_GET, 1, "/events/orders/a*b", NULL, {0}, {0}, {"Host"}, {"x"}, false, false,
     ACT_REFUSE, 400, "invalid path parameter (names are [A-Za-z0-9_.:-], no '..')", NULL, NULL, NULL},
    {REQ_GET, 1, "/nowhere", NULL, {0}, {0}, {"Host"}, {"x"}, false, false,
     ACT_REFUSE, 404, "no route for this path", NULL, NULL, NULL},
    {REQ_POST, 1, "/events/orders/1", NULL, {0}, {0}, {"Host"}, {"x"}, false, false,
     ACT_REFUSE, 405, "an event stream is read with GET", NULL, NULL, NULL},
    {REQ_POST, 1, "/healthz", NULL, {0}, {0}, {"Host"}, {"x"}, false, false,
     ACT_REFUSE, 405, "use GET", NULL, NULL, NULL},
    {REQ_GET, 1, "/healthz", NULL, {0}, {0}, {"Host"}, {"x"}, true, true,
     ACT_HEALTHZ, 0, NULL, NULL, NULL, NULL},
    {REQ_GET, 1, "/multi/acme", "topic=acme.news&topic=acme.alerts.high",
     {"topic", "topic"}, {"acme.news", "acme.alerts.high"}, {"Host"}, {"x"}, false, false,
     ACT_STREAM, 0, NULL, "multi", "c:acme.news,c:acme.alerts.high", NULL},
    {REQ_GET, 1, "/multi/acme", "topic=other.news", {"topic"}, {"other.news"}, {"Host"}, {"x"},
     false, false, ACT_REFUSE, 400,
     "topic not allowed on this route (names are [A-Za-z0-9_.:-], no '..')", NULL, NULL, NULL},
    {REQ_GET, 1, "/multi/acme", NULL, {0}, {0}, {"Host"}, {"x"}, false, false, ACT_REFUSE, 400,
     "at least one topic parameter is needed, e.g. ?topic=news", NULL, NULL, NULL},
    {REQ_GET, 1, "/events/orders/1", NULL, {0}, {0}, {"Host", "Origin"}, {"x", "https://evil.example"},
     false, false, ACT_REFUSE, 403, "origin not allowed", NULL, NULL, NULL},
    {REQ_GET, 1, "/events/orders/1", NULL, {0}, {0}, {"Host", "Origin"}, {"x", "javascript://x"},
     false, false, ACT_REFUSE, 403, "origin not allowed", NULL, NULL, NULL},
    {REQ_GET, 1, "/events/orders/1", NULL, {0}, {0}, {"Host", "Origin"}, {"x", "http://x"},
     false, false, ACT_STREAM, 0, NULL, "orders", "c:orders.1", NULL},
    {REQ_OPTIONS, 1, "/pub/a", NULL, {0}, {0}, {"Host", "Origin"}, {"x", "https://app.example"},
     false, false, ACT_PREFLIGHT, 0, NULL, "pub", NULL, NULL},
    {REQ_POST, 1, "/pub/a", NULL, {0}, {0}, {"Host"}, {"x"}, false, false,
     ACT_PUBLISH, 0, NULL, "pub", NULL, NULL},
    {REQ_GET, 1, "/events/orders/1", NULL, {0}, {0}, {"Host"}, {"x"}, true, false,
     ACT_REFUSE, 503, "shutting down", NULL, NULL, NULL},
    {REQ_GET, 1, "/events/orders/1", NULL, {0}, {0}, {"Host"}, {"x"}, false, true,
     ACT_REFUSE, 503, "too many clients", NULL, NULL, NULL},
    {REQ_GET, 1, "/events/orders/1", NULL, {0}, {0}, {"Host", "Transfer-Encoding"}, {"x", "gzip"},
     false, false, ACT_REFUSE, 501, "unsupported transfer coding (only chunked)", NULL, NULL, NULL},
    {REQ_GET, 1, "/events/orders/1", NULL, {0}, {0}, {"Host", "Content-Length", "content-length"},
     {"x", "0", "5"}, false, false, ACT_REFUSE, 400, "conflicting Content-Length headers", NULL, NULL, NULL},
    {REQ_GET, 1, "/multi/acme", "topic=acme.news%00", {"topic"}, {"acme.news"}, {"Host"}, {"x"},
     false, false, ACT_REFUSE, 400, "NUL in the query string", NULL, NULL, NULL},
    {REQ_GET, 1, "/sensors/kitchen", NULL, {0}, {0}, {"Host"}, {"x"}, false, false,
     ACT_STREAM, 0, NULL, "sensors", "m:sensors/kitchen/t", NULL},
    {REQ_GET, 1, "/sensors/kitchen", "topic=sensors/kitchen/%2B", {"topic"}, {"sensors/kitchen/+"},
     {"Host"}, {"x"}, false, false, ACT_REFUSE, 400,
     "topic not allowed on this route (levels are [A-Za-z0-9_.:-] split by '/', no '..', no + or #)",
     NULL, NULL, NULL},
};
// clang-format on

static const char *route_name(const struct config *cfg, size_t i) {
    return i < cfg->nroutes ? cfg->routes[i].name : "(none)";
}

static void topics_text(const struct request_decision *d, char *out, size_t cap) {
    size_t n = 0;
    out[0] = '\0';
    for (size_t i = 0; i < d->ntopics && n < cap; i++) {
        char kind = d->topics[i].kind == TOPIC_MQTT      ? 'm'
                    : d->topics[i].kind == TOPIC_STREAM  ? 's'
                    : d->topics[i].kind == TOPIC_PATTERN ? 'p'
                                                         : 'c';
        n += (size_t)snprintf(out + n, cap - n, "%s%c:%s", i ? "," : "", kind, d->topics[i].name);
    }
}

static void errors(const char *line) {
    fprintf(stderr, "unexpected config error: %s\n", line);
    check_failures++;
}

int main(void) {
    struct config *cfg = config_new();
    CHECK_INT(config_load_file(cfg, "configs/request.ini", errors), 0);
    CHECK_INT(config_validate(cfg, errors), 0);
    for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
        const struct row *w = &rows[i];
        struct request_pair q[MAXP], h[MAXP];
        size_t nq = 0, nh = 0;
        for (; nq < MAXP && w->qk[nq]; nq++)
            q[nq] = (struct request_pair){w->qk[nq], w->qv[nq]};
        for (; nh < MAXP && w->hk[nh]; nh++)
            h[nh] = (struct request_pair){w->hk[nh], w->hv[nh]};
        struct request r = {.method = w->method,
                            .major = 1,
                            .minor = w->minor,
                            .uri_len = strlen(w->path),
                            .raw_path = w->path,
                            .path = w->path,
                            .path_len = strlen(w->path),
                            .query = w->query,
                            .query_pairs = q,
                            .nquery = nq,
                            .headers = h,
                            .nheaders = nh,
                            .draining = w->draining,
                            .open_streams = w->full ? cfg->max_clients : 0};
        struct request_decision d;
        request_decide(cfg, NULL, &r, &d);
        int before = check_failures;
        CHECK_INT(d.action, w->action);
        if (w->action == ACT_REFUSE) {
            CHECK_INT(d.status, w->status);
            CHECK_STR(d.reason, w->reason);
        }
        if (w->route)
            CHECK_STR(route_name(cfg, d.route), w->route);
        if (w->topics) {
            char got[512];
            topics_text(&d, got, sizeof(got));
            CHECK_MEM(got, strlen(got), w->topics);
        }
        if (w->action == ACT_STREAM)
            CHECK_STR(d.last_event_id, w->last_event_id);
        if (check_failures != before)
            fprintf(stderr, "  in row %zu: %s%s%s\n", i, w->path, w->query ? "?" : "",
                    w->query ? w->query : "");
        request_decision_clear(&d);
    }
    config_free(cfg);
    return check_report("request");
}
