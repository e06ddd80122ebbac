#include "http.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/queue.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/http.h>
#include <event2/http_struct.h> /* the request's HTTP version (no accessor in 2.1) */
#include <event2/listener.h>
#include <event2/keyvalq_struct.h>
#include <event2/util.h>

#include "client.h"
#include "log.h"
#include "publish.h"
#include "route.h"
#include "journal.h"
#include "listener.h"
#include "source_mqtt.h"
#include "source_redis.h"
#include "source_stream.h"
#include "webroot.h"
#include "xmalloc.h"

struct http {
    struct bridge *b;
    struct evhttp *evhttp;
    struct listener *listener;
    char *static_root; /* realpath of static_dir; NULL: no static files */
};

static void reply_text(struct http *h, struct evhttp_request *req, int code, const char *reason,
                       const char *text) {
    struct evbuffer *body = evbuffer_new();
    evbuffer_add_printf(body, "%s\n", text);
    evhttp_add_header(evhttp_request_get_output_headers(req), "Content-Type",
                      "text/plain; charset=utf-8");
    evhttp_add_header(evhttp_request_get_output_headers(req), "Cache-Control", "no-cache");
    if (code >= 400 && code < 500)
        h->b->metrics.requests_bad++;
    evhttp_send_reply(req, code, reason, body);
    evbuffer_free(body);
}

static void reply_healthz(struct http *h, struct evhttp_request *req) {
    struct bridge *b = h->b;
    int up = bridge_upstream_up(b);
    int redis_up = source_redis_up(b->redis) && (b->journal == NULL || journal_up(b->journal)) &&
                   (b->streams == NULL || source_stream_up(b->streams));
    struct evbuffer *body = evbuffer_new();
    bool journal_bad = b->journal != NULL && journal_degraded(b->journal);
    /* down: an upstream is away (503, a load balancer should send clients elsewhere);
     * degraded: streams work but Redis refuses journal writes (replay misses those events). */
    evbuffer_add_printf(body, "{\"status\":\"%s\",\"redis\":\"%s\",",
                        !up           ? "down"
                        : journal_bad ? "degraded"
                                      : "ok",
                        redis_up ? "up" : "down");
    if (b->journal != NULL)
        evbuffer_add_printf(body, "\"journal\":\"%s\",", journal_bad ? "degraded" : "ok");
    if (b->mqtt != NULL)
        evbuffer_add_printf(body, "\"mqtt\":\"%s\",", source_mqtt_up(b->mqtt) ? "up" : "down");
    evbuffer_add_printf(body, "\"clients\":%zu}\n", b->nclients);
    struct evkeyvalq *out = evhttp_request_get_output_headers(req);
    evhttp_add_header(out, "Content-Type", "application/json");
    evhttp_add_header(out, "Cache-Control", "no-cache");
    evhttp_send_reply(req, up ? 200 : 503, up ? "OK" : "Service Unavailable", body);
    evbuffer_free(body);
}

static void reply_metrics(struct http *h, struct evhttp_request *req) {
    struct bridge *b = h->b;
    b->metrics.redis_reconnects = source_redis_reconnects(b->redis);
    b->metrics.mqtt_reconnects = source_mqtt_reconnects(b->mqtt);
    struct metrics_gauges g = {b->nclients,
                               h->listener ? listener_pending(h->listener) : 0,
                               hub_topic_count(b->hub),
                               bridge_upstream_up(b),
                               b->journal ? journal_degraded(b->journal) : -1,
                               b->mqtt ? source_mqtt_up(b->mqtt) : -1};
    char text[4096];
    size_t n = metrics_render(&b->metrics, &g, text, sizeof(text));
    struct evbuffer *body = evbuffer_new();
    evbuffer_add(body, text, n);
    evhttp_add_header(evhttp_request_get_output_headers(req), "Content-Type",
                      "text/plain; version=0.0.4");
    evhttp_send_reply(req, 200, "OK", body);
    evbuffer_free(body);
}

/* An http(s) Origin whose host is the request's Host is the bridge's own page. Another
 * scheme (javascript:, file:, null) is never the bridge's page. */
static int same_origin(struct evhttp_request *req, const char *origin) {
    const char *host = evhttp_find_header(evhttp_request_get_input_headers(req), "Host");
    const char *rest = !strncmp(origin, "http://", 7)    ? origin + 7
                       : !strncmp(origin, "https://", 8) ? origin + 8
                                                         : NULL;
    return host != NULL && rest != NULL && strcmp(rest, host) == 0;
}

/* RFC 9110 token characters: what a header name is made of. */
static bool token(const char *s) {
    if (*s == '\0')
        return false;
    for (; *s; s++) {
        if (!(isalnum((unsigned char)*s) || strchr("!#$%&'*+-.^_`|~", *s)))
            return false;
    }
    return true;
}

/* What evhttp lets through and HTTP/1.1 (RFC 9112) refuses. NULL, or the reason with *status. */
static const char *request_conformance(struct evhttp_request *req, int *status) {
    struct evkeyvalq *in = evhttp_request_get_input_headers(req);
    *status = 400;
    if (req->major == 1 && req->minor >= 1 && evhttp_find_header(in, "Host") == NULL)
        return "HTTP/1.1 needs a Host header";
    const char *length = NULL, *coding = NULL;
    struct evkeyval *kv;
    TAILQ_FOREACH(kv, in, next) {
        if (!token(kv->key))
            return "malformed header name";
        if (!evutil_ascii_strcasecmp(kv->key, "Content-Length")) {
            if (length != NULL && strcmp(length, kv->value) != 0)
                return "conflicting Content-Length headers";
            length = kv->value;
        } else if (!evutil_ascii_strcasecmp(kv->key, "Transfer-Encoding")) {
            if (coding != NULL)
                return "more than one Transfer-Encoding header";
            coding = kv->value;
        }
    }
    if (coding != NULL && length != NULL)
        return "Transfer-Encoding and Content-Length together";
    if (coding != NULL && evutil_ascii_strcasecmp(coding, "chunked") != 0) {
        *status = 501;
        return "unsupported transfer coding (only chunked)";
    }
    /* evhttp decodes %00 in query values to the end of the string: "a%00b" would be "a". */
    const char *query = evhttp_uri_get_query(evhttp_request_get_evhttp_uri(req));
    if (query != NULL && (strstr(query, "%00") != NULL))
        return "NUL in the query string";
    return NULL;
}

enum cors { CORS_NONE, CORS_ALLOWED, CORS_DENIED };

/* Adds the CORS response headers for an allowed cross-origin request. */
static enum cors cors_apply(struct http *h, struct evhttp_request *req) {
    const struct config *cfg = h->b->cfg;
    const char *origin = evhttp_find_header(evhttp_request_get_input_headers(req), "Origin");
    if (origin == NULL || same_origin(req, origin))
        return CORS_NONE;
    int any = 0, listed = 0;
    for (size_t i = 0; i < cfg->ncors_origins; i++) {
        any |= strcmp(cfg->cors_origins[i], "*") == 0;
        listed |= strcmp(cfg->cors_origins[i], origin) == 0;
    }
    if (!any && !listed)
        return CORS_DENIED;
    struct evkeyvalq *out = evhttp_request_get_output_headers(req);
    /* With credentials the spec forbids "*": the allowed origin is echoed instead. */
    int echo = listed || cfg->cors_credentials;
    evhttp_add_header(out, "Access-Control-Allow-Origin", echo ? origin : "*");
    if (echo)
        evhttp_add_header(out, "Vary", "Origin");
    if (cfg->cors_credentials)
        evhttp_add_header(out, "Access-Control-Allow-Credentials", "true");
    return CORS_ALLOWED;
}

/* The client's position, from the Last-Event-ID header that EventSource sends when it
 * reconnects, or from a query parameter for clients that cannot set headers (the spellings
 * other hubs and polyfills use). NULL: a new client. The result is owned by the request or
 * the parsed query. */
static const char *last_event_id(struct evhttp_request *req, struct evkeyvalq *query) {
    const char *h = evhttp_find_header(evhttp_request_get_input_headers(req), "Last-Event-ID");
    if (h != NULL && *h != '\0')
        return h;
    static const char *const names[] = {"lastEventID", "lastEventId", "last_event_id"};
    for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
        const char *v = evhttp_find_header(query, names[i]);
        if (v != NULL && *v != '\0')
            return v;
    }
    return NULL;
}

static const struct route *find_route(struct http *h, const char *path, struct route_params *params,
                                      int *bad_param) {
    *bad_param = 0;
    for (size_t i = 0; i < h->b->nroutes; i++) {
        enum route_match_result m = route_match(h->b->routes[i].cfg->path, path, params);
        if (m == ROUTE_MATCH)
            return &h->b->routes[i];
        if (m == ROUTE_BAD_PARAM)
            *bad_param = 1;
    }
    return NULL;
}

/* Collects the channels and patterns a stream asks for, checked against the route. Returns
 * NULL, or the reason for a 400. The names are written to `names` (n entries). */
struct wanted {
    enum topic_kind kind;
    char name[PARAM_MAX_LEN * 4];
};

static const char *collect_topics(struct http *h, const struct route *r,
                                  const struct route_params *params, const char *query,
                                  struct wanted **out, size_t *n) {
    const struct route_cfg *rc = r->cfg;
    size_t max = h->b->cfg->max_topics;
    const char *err = NULL;
    struct evkeyvalq q;
    TAILQ_INIT(&q);
    if (query && evhttp_parse_query_str(query, &q) != 0)
        return "malformed query string";
    size_t fixed = rc->nchannels + rc->npatterns + rc->nstreams + rc->nmqtt_topics;
    *out = xcalloc(fixed + max, sizeof(**out));
    *n = 0;
    for (size_t i = 0; i < fixed; i++) {
        const char *tmpl;
        struct wanted *w = &(*out)[(*n)++];
        if (i < rc->nchannels) {
            tmpl = rc->channels[i];
            w->kind = TOPIC_CHANNEL;
        } else if (i < rc->nchannels + rc->npatterns) {
            tmpl = rc->patterns[i - rc->nchannels];
            w->kind = TOPIC_PATTERN;
        } else if (i < rc->nchannels + rc->npatterns + rc->nstreams) {
            tmpl = rc->streams[i - rc->nchannels - rc->npatterns];
            w->kind = TOPIC_STREAM;
        } else {
            tmpl = rc->mqtt_topics[i - rc->nchannels - rc->npatterns - rc->nstreams];
            w->kind = TOPIC_MQTT;
        }
        if (route_expand(tmpl, params, w->name, sizeof(w->name)) < 0) {
            err = "channel name too long";
            goto done;
        }
    }
    size_t asked = 0;
    struct evkeyval *kv;
    TAILQ_FOREACH(kv, &q, next) {
        if (strcmp(kv->key, "topic") != 0)
            continue;
        if (rc->ntopics == 0) {
            err = "this route takes no topic parameter";
            goto done;
        }
        if (++asked > max) {
            err = "too many topics on one connection";
            goto done;
        }
        size_t t = 0;
        while (t < rc->ntopics &&
               !(rc->topics_mqtt ? route_mqtt_topic_allowed(rc->topics[t], params, kv->value)
                                 : route_topic_allowed(rc->topics[t], params, kv->value)))
            t++;
        if (t == rc->ntopics) {
            err = rc->topics_mqtt ? "topic not allowed on this route (levels are "
                                    "[A-Za-z0-9_.:-] split by '/', no '..', no + or #)"
                                  : "topic not allowed on this route (names are [A-Za-z0-9_.:-], "
                                    "no '..')";
            goto done;
        }
        struct wanted *w = &(*out)[(*n)++];
        w->kind = rc->topics_mqtt            ? TOPIC_MQTT
                  : route_is_stream_only(rc) ? TOPIC_STREAM
                                             : TOPIC_CHANNEL;
        snprintf(w->name, sizeof(w->name), "%s", kv->value);
    }
    if (rc->ntopics > 0 && asked == 0 && fixed == 0)
        err = "at least one topic parameter is needed, e.g. ?topic=news";
    else if (*n > max)
        err = "too many topics on one connection";
done:
    evhttp_clear_headers(&q);
    if (err) {
        free(*out);
        *out = NULL;
    }
    return err;
}

/* A file of static_dir, for GET/HEAD requests no route took. The name is checked by
 * webroot_resolve, and its real path must stay inside the directory (a symbolic link
 * pointing out is refused). Anything else is 404. */
static void serve_static(struct http *h, struct evhttp_request *req, const char *path) {
    char name[STATIC_MAX_PATH + 16], full[PATH_MAX], real[PATH_MAX];
    int fd = -1;
    struct stat st;
    size_t root_len = strlen(h->static_root);
    if (webroot_resolve(path, name, sizeof(name)) < 0 ||
        (size_t)snprintf(full, sizeof(full), "%s/%s", h->static_root, name) >= sizeof(full) ||
        realpath(full, real) == NULL || strncmp(real, h->static_root, root_len) != 0 ||
        real[root_len] != '/' || (fd = open(real, O_RDONLY | O_CLOEXEC | O_NONBLOCK)) < 0 ||
        fstat(fd, &st) != 0 || !S_ISREG(st.st_mode) || st.st_size > STATIC_MAX_FILE_SIZE) {
        if (fd >= 0)
            close(fd);
        reply_text(h, req, 404, "Not Found", "no route or file for this path");
        return;
    }
    struct evkeyvalq *out = evhttp_request_get_output_headers(req);
    evhttp_add_header(out, "Content-Type", webroot_content_type(name));
    evhttp_add_header(out, "Cache-Control", "no-cache");
    evhttp_add_header(out, "X-Content-Type-Options", "nosniff");
    struct evbuffer *body = evbuffer_new();
    /* O_NONBLOCK kept a FIFO from blocking the open; S_ISREG kept it out. */
    if (st.st_size == 0 || evbuffer_add_file(body, fd, 0, st.st_size) != 0)
        close(fd); /* on success evbuffer_add_file owns the descriptor */
    evhttp_send_reply(req, 200, "OK", body);
    evbuffer_free(body);
}

/* POST on a publish route: the body goes to each of the route's channels. */
static void handle_publish(struct http *h, struct evhttp_request *req, const struct route *r,
                           const struct route_params *params) {
    struct bridge *b = h->b;
    struct evbuffer *in = evhttp_request_get_input_buffer(req);
    size_t len = evbuffer_get_length(in);
    if (len > b->cfg->max_publish_size) {
        reply_text(h, req, 413, "Payload Too Large", "message larger than max_publish_size");
        return;
    }
    if (!publish_up(b->publish)) {
        evhttp_add_header(evhttp_request_get_output_headers(req), "Retry-After", "5");
        reply_text(h, req, 503, "Service Unavailable", "Redis is not connected");
        return;
    }
    const char *body = len ? (const char *)evbuffer_pullup(in, (ev_ssize_t)len) : "";
    char channel[PARAM_MAX_LEN * 4];
    size_t sent = 0;
    for (size_t i = 0; i < r->cfg->nchannels; i++) {
        if (route_expand(r->cfg->channels[i], params, channel, sizeof(channel)) >= 0 &&
            publish_send(b->publish, channel, body, len) == 0)
            sent++;
    }
    b->metrics.published += sent;
    char text[64];
    snprintf(text, sizeof(text), "published to %zu channel(s)", sent);
    reply_text(h, req, 202, "Accepted", text);
}

static void on_request(struct evhttp_request *req, void *arg) {
    struct http *h = arg;
    struct bridge *b = h->b;
    listener_request_seen(h->listener, req);
    const char *uri = evhttp_request_get_uri(req);
    enum evhttp_cmd_type method = evhttp_request_get_command(req);
    if (strlen(uri) > b->cfg->max_uri_size) {
        reply_text(h, req, 414, "URI Too Long", "request URI too long");
        return;
    }
    const struct evhttp_uri *parsed = evhttp_request_get_evhttp_uri(req);
    const char *raw_path = parsed ? evhttp_uri_get_path(parsed) : NULL;
    if (raw_path == NULL || raw_path[0] != '/') {
        reply_text(h, req, 400, "Bad Request", "malformed request URI");
        return;
    }
    int status;
    const char *refused = request_conformance(req, &status);
    if (refused != NULL) {
        reply_text(h, req, status, status == 400 ? "Bad Request" : "Not Implemented", refused);
        return;
    }
    size_t path_len;
    char *path = evhttp_uridecode(raw_path, 0, &path_len);
    if (path == NULL || strlen(path) != path_len) {
        free(path);
        reply_text(h, req, 400, "Bad Request", "malformed path");
        return;
    }
    int is_get = method == EVHTTP_REQ_GET || method == EVHTTP_REQ_HEAD;
    if (!strcmp(path, "/healthz") || !strcmp(path, "/metrics")) {
        if (!is_get) {
            evhttp_add_header(evhttp_request_get_output_headers(req), "Allow", "GET, HEAD");
            reply_text(h, req, 405, "Method Not Allowed", "use GET");
        } else if (path[1] == 'h') {
            reply_healthz(h, req);
        } else {
            reply_metrics(h, req);
        }
        free(path);
        return;
    }
    struct route_params params;
    int bad_param;
    const struct route *r = find_route(h, path, &params, &bad_param);
    bool publishing = r != NULL && r->cfg->publish && method == EVHTTP_REQ_POST;
    /* evhttp's own body limit is the larger of the two when a route publishes. */
    if (!publishing && (r != NULL || !bad_param) &&
        evbuffer_get_length(evhttp_request_get_input_buffer(req)) > b->cfg->max_body_size) {
        free(path);
        reply_text(h, req, 413, "Payload Too Large", "request body too large");
        return;
    }
    if (r == NULL) {
        if (bad_param)
            reply_text(h, req, 400, "Bad Request",
                       "invalid path parameter (names are [A-Za-z0-9_.:-], no '..')");
        else if (h->static_root != NULL && is_get)
            serve_static(h, req, path);
        else
            reply_text(h, req, 404, "Not Found", "no route for this path");
        free(path);
        return;
    }
    free(path);
    const char *allow = r->cfg->publish ? "GET, HEAD, OPTIONS, POST" : "GET, HEAD, OPTIONS";
    if (method != EVHTTP_REQ_OPTIONS && !is_get && !publishing) {
        evhttp_add_header(evhttp_request_get_output_headers(req), "Allow", allow);
        reply_text(h, req, 405, "Method Not Allowed", "an event stream is read with GET");
        return;
    }
    enum cors cors = cors_apply(h, req);
    if (cors == CORS_DENIED) {
        reply_text(h, req, 403, "Forbidden", "origin not allowed");
        return;
    }
    if (method == EVHTTP_REQ_OPTIONS) {
        struct evkeyvalq *out = evhttp_request_get_output_headers(req);
        evhttp_add_header(out, "Allow", allow);
        if (cors == CORS_ALLOWED) {
            evhttp_add_header(out, "Access-Control-Allow-Methods", allow);
            evhttp_add_header(out, "Access-Control-Allow-Headers",
                              "Last-Event-ID, Cache-Control, Accept, Content-Type");
            evhttp_add_header(out, "Access-Control-Max-Age", "600");
        }
        evhttp_send_reply(req, 204, "No Content", NULL);
        return;
    }
    if (publishing) {
        handle_publish(h, req, r, &params);
        return;
    }
    struct wanted *topics;
    size_t ntopics;
    const char *err =
        collect_topics(h, r, &params, evhttp_uri_get_query(parsed), &topics, &ntopics);
    if (err) {
        reply_text(h, req, 400, "Bad Request", err);
        return;
    }
    if (b->state != BRIDGE_RUNNING || b->nclients >= b->cfg->max_clients) {
        free(topics);
        b->metrics.clients_rejected++;
        evhttp_add_header(evhttp_request_get_output_headers(req), "Retry-After", "5");
        reply_text(h, req, 503, "Service Unavailable",
                   b->state != BRIDGE_RUNNING ? "shutting down" : "too many clients");
        return;
    }
    if (method == EVHTTP_REQ_HEAD) {
        free(topics);
        evhttp_add_header(evhttp_request_get_output_headers(req), "Content-Type",
                          "text/event-stream; charset=utf-8");
        evhttp_send_reply(req, 200, "OK", NULL);
        return;
    }
    struct evkeyvalq query;
    TAILQ_INIT(&query);
    const char *qs = evhttp_uri_get_query(parsed);
    if (qs != NULL)
        evhttp_parse_query_str(qs, &query);
    char *from = last_event_id(req, &query) ? xstrdup(last_event_id(req, &query)) : NULL;
    evhttp_clear_headers(&query);
    struct client *c = client_open(b, req, r);
    for (size_t i = 0; c != NULL && i < ntopics; i++)
        client_subscribe(c, topics[i].kind, topics[i].name);
    free(topics);
    /* Retained MQTT values go to clients that replay nothing: new ones, or any on a route
     * without a journal. */
    if (c != NULL && client_start_sync(c, from) == 0 &&
        (from == NULL || !route_is_journalled(r->cfg)))
        bridge_send_retained(b, c);
    free(from);
}

struct http *http_new(struct bridge *b) {
    struct http *h = xcalloc(1, sizeof(*h));
    h->b = b;
    h->evhttp = evhttp_new(b->base);
    if (h->evhttp == NULL)
        goto fail;
    evhttp_set_max_headers_size(h->evhttp, (ev_ssize_t)b->cfg->max_header_size);
    size_t max_body = b->cfg->max_body_size;
    for (size_t i = 0; i < b->nroutes; i++) {
        if (b->routes[i].cfg->publish && b->cfg->max_publish_size > max_body)
            max_body = b->cfg->max_publish_size;
    }
    evhttp_set_max_body_size(h->evhttp, (ev_ssize_t)max_body);
    if (b->cfg->static_dir != NULL) {
        h->static_root = realpath(b->cfg->static_dir, NULL);
        if (h->static_root == NULL) {
            log_error("http: static_dir %s: %s", b->cfg->static_dir, strerror(errno));
            goto fail;
        }
    }
    /* Every method evhttp knows reaches on_request, which answers 405 with an Allow header. */
    evhttp_set_allowed_methods(h->evhttp, EVHTTP_REQ_GET | EVHTTP_REQ_HEAD | EVHTTP_REQ_OPTIONS |
                                              EVHTTP_REQ_POST | EVHTTP_REQ_PUT | EVHTTP_REQ_DELETE |
                                              EVHTTP_REQ_PATCH | EVHTTP_REQ_TRACE |
                                              EVHTTP_REQ_CONNECT);
    evhttp_set_gencb(h->evhttp, on_request, h);
    h->listener = listener_new(b->base, h->evhttp, b->cfg, &b->metrics);
    if (h->listener == NULL)
        goto fail;
    log_info("http: listening on %s:%d", b->cfg->listen_host, listener_port(h->listener));
    return h;
fail:
    http_free(h);
    return NULL;
}

void http_stop_accepting(struct http *h) {
    if (h->listener)
        listener_stop(h->listener);
}

void http_free(struct http *h) {
    if (h == NULL)
        return;
    listener_free(h->listener); /* before evhttp, which it unbinds from */
    if (h->evhttp)
        evhttp_free(h->evhttp);
    free(h->static_root);
    free(h);
}
