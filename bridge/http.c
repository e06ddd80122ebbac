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

#include "backend.h"
#include "client.h"
#include "clock.h"
#include "delivery.h"
#include "log.h"
#include "publish.h"
#include "request.h"
#include "route.h"
#include "journal.h"
#include "listener.h"
#include "replay.h"
#include "source.h"
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

/* Whether every part that talks to `upstream` ("redis" or "mqtt") is up; -1: none does. */
static int upstream_up(const struct bridge *b, const char *upstream) {
    int up = -1;
    for (size_t i = 0; i < b->nsources; i++) {
        const struct source *src = b->sources[i];
        if (strcmp(src->ops->upstream, upstream) == 0)
            up = (up != 0) && src->ops->up(src);
    }
    if (strcmp(upstream, "redis") == 0) {
        if (b->journal != NULL)
            up = (up != 0) && journal_up(b->journal);
        if (b->publish != NULL)
            up = (up != 0) && publish_up(b->publish);
    }
    return up;
}

/* The most reconnections of any source that talks to `upstream`. */
static unsigned long long upstream_reconnects(const struct bridge *b, const char *upstream) {
    unsigned long long n = 0;
    for (size_t i = 0; i < b->nsources; i++) {
        const struct source *src = b->sources[i];
        unsigned long long r = src->ops->reconnects(src);
        if (strcmp(src->ops->upstream, upstream) == 0 && r > n)
            n = r;
    }
    return n;
}

/* Every upstream in use is up (/healthz 200). */
static bool all_up(const struct bridge *b) {
    return upstream_up(b, "redis") != 0 && upstream_up(b, "mqtt") != 0;
}

static void reply_healthz(struct http *h, struct evhttp_request *req) {
    struct bridge *b = h->b;
    int up = all_up(b);
    int mqtt_up = upstream_up(b, "mqtt");
    /* "redis" as before: the connections that read (publishing counts in the status only). */
    int redis_up = 1;
    for (size_t i = 0; i < b->nsources; i++) {
        const struct source *src = b->sources[i];
        if (strcmp(src->ops->upstream, "redis") == 0)
            redis_up = redis_up && src->ops->up(src);
    }
    if (b->journal != NULL)
        redis_up = redis_up && journal_up(b->journal);
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
    if (mqtt_up >= 0)
        evbuffer_add_printf(body, "\"mqtt\":\"%s\",", mqtt_up ? "up" : "down");
    evbuffer_add_printf(body, "\"clients\":%zu}\n", b->nclients);
    struct evkeyvalq *out = evhttp_request_get_output_headers(req);
    evhttp_add_header(out, "Content-Type", "application/json");
    evhttp_add_header(out, "Cache-Control", "no-cache");
    evhttp_send_reply(req, up ? 200 : 503, up ? "OK" : "Service Unavailable", body);
    evbuffer_free(body);
}

void http_metrics_snapshot(struct http *h, struct metrics_slot *slot) {
    struct bridge *b = h->b;
    b->metrics.redis_reconnects = upstream_reconnects(b, "redis");
    b->metrics.mqtt_reconnects = upstream_reconnects(b, "mqtt");
    struct metrics_gauges g = {
        b->nclients,   h->listener ? listener_pending(h->listener) : 0, hub_topic_count(b->hub),
        all_up(b),     b->journal ? journal_degraded(b->journal) : -1,  upstream_up(b, "mqtt"),
        b->cfg->worker};
    *slot = (struct metrics_slot){b->metrics, g, true};
}

static void reply_metrics(struct http *h, struct evhttp_request *req) {
    struct bridge *b = h->b;
    size_t cap = METRICS_TEXT_MAX * (b->board ? b->nboard : 1), n;
    char *text = xmalloc(cap);
    if (b->board != NULL) {
        http_metrics_snapshot(h, &b->board[b->cfg->worker - 1]);
        n = metrics_render_workers(b->board, b->nboard, b->cfg->worker, text, cap);
    } else {
        struct metrics_slot own;
        http_metrics_snapshot(h, &own);
        n = metrics_render(&own.m, &own.g, text, cap);
    }
    struct evbuffer *body = evbuffer_new();
    evbuffer_add(body, text, n);
    free(text);
    evhttp_add_header(evhttp_request_get_output_headers(req), "Content-Type",
                      "text/plain; version=0.0.4");
    evhttp_send_reply(req, 200, "OK", body);
    evbuffer_free(body);
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

static enum request_method method_of(enum evhttp_cmd_type cmd) {
    switch (cmd) {
    case EVHTTP_REQ_GET:
        return REQ_GET;
    case EVHTTP_REQ_HEAD:
        return REQ_HEAD;
    case EVHTTP_REQ_OPTIONS:
        return REQ_OPTIONS;
    case EVHTTP_REQ_POST:
        return REQ_POST;
    default:
        return REQ_OTHER;
    }
}

/* evkeyvalq as the pairs request_decide reads (pointing into q). */
static struct request_pair *pairs_of(const struct evkeyvalq *q, size_t *n) {
    const struct evkeyval *kv;
    *n = 0;
    TAILQ_FOREACH(kv, q, next)
    (*n)++;
    struct request_pair *p = xcalloc(*n ? *n : 1, sizeof(*p));
    size_t i = 0;
    TAILQ_FOREACH(kv, q, next) {
        p[i].key = kv->key;
        p[i++].value = kv->value;
    }
    return p;
}

static void add_cors_headers(struct evhttp_request *req, const struct request_decision *d,
                             const struct config *cfg) {
    if (d->cors != CORS_ALLOWED)
        return;
    struct evkeyvalq *out = evhttp_request_get_output_headers(req);
    evhttp_add_header(out, "Access-Control-Allow-Origin", d->cors_echo ? d->origin : "*");
    if (d->cors_echo)
        evhttp_add_header(out, "Vary", "Origin");
    if (cfg->cors_credentials)
        evhttp_add_header(out, "Access-Control-Allow-Credentials", "true");
}

/* Opens the stream the decision asks for. */
static void open_stream(struct http *h, struct evhttp_request *req,
                        const struct request_decision *d) {
    struct bridge *b = h->b;
    const struct route *r = &b->routes[d->route];
    /* A copy: client_open frees the request's headers, which the id may point into. */
    char *from = d->last_event_id ? xstrdup(d->last_event_id) : NULL;
    struct client *c = client_open(b, req, r);
    /* A stream ends when its token does (within the leeway that let it in): a plain end, so
     * that EventSource comes back, with a fresh cookie if the page has one, and resumes. */
    long long leeway = d->auth == REQ_AUTH_ALLOWED ? b->cfg->jwt_leeway_ms / 1000 * 1000 : 0;
    if (c != NULL && d->expires_at_ms > 0)
        client_end_at(c, d->expires_at_ms + leeway);
    for (size_t i = 0; c != NULL && i < d->ntopics; i++)
        client_subscribe(c, d->topics[i].kind, d->topics[i].name);
    /* Retained MQTT values go to clients that replay nothing: new ones, or any on a route
     * without a journal. */
    if (c != NULL && replay_start(b->replay, c, from) == 0 &&
        (from == NULL || !route_is_journalled(r->cfg)))
        delivery_send_retained(b, c);
    free(from);
}

/* Counts what authorization said, and logs a refusal: why, never the token (nor the query,
 * which may hold one). */
static void count_auth(struct http *h, struct evhttp_request *req, const struct request_decision *d,
                       const char *path) {
    struct metrics *m = &h->b->metrics;
    if (d->auth == REQ_AUTH_OPEN || d->auth == REQ_AUTH_BACKEND)
        return; /* the common case: nothing to count, no peer to look up */
    const char *peer = "?";
    ev_uint16_t port = 0;
    struct evhttp_connection *evcon = evhttp_request_get_connection(req);
    if (evcon != NULL && d->auth != REQ_AUTH_ALLOWED)
        evhttp_connection_get_peer(evcon, (char **)&peer, &port);
    switch (d->auth) {
    case REQ_AUTH_OPEN:
    case REQ_AUTH_BACKEND:
        break;
    case REQ_AUTH_ALLOWED:
        m->auth_allowed++;
        break;
    case REQ_AUTH_MISSING:
        m->auth_missing++;
        log_debug("auth: 401 for %s from %s: no token", path, peer);
        break;
    case REQ_AUTH_INVALID:
        m->auth_invalid++;
        log_info("auth: 401 for %s from %s: %s", path, peer, d->auth_why);
        break;
    case REQ_AUTH_FORBIDDEN:
        m->auth_forbidden++;
        log_info("auth: 403 for %s from %s: %s", path, peer, d->auth_why);
        break;
    }
}

/* Carries out what request_decide decided. */
static void act(struct http *h, struct evhttp_request *req, const char *path,
                const struct request_decision *d) {
    struct bridge *b = h->b;
    struct evkeyvalq *out = evhttp_request_get_output_headers(req);
    add_cors_headers(req, d, b->cfg);
    if (d->allow)
        evhttp_add_header(out, "Allow", d->allow);
    switch (d->action) {
    case ACT_REFUSE:
        if (d->retry_after)
            evhttp_add_header(out, "Retry-After", "5");
        if (d->www_authenticate)
            evhttp_add_header(out, "WWW-Authenticate", d->www_authenticate);
        b->metrics.clients_rejected += d->rejected;
        reply_text(h, req, d->status, request_status_phrase(d->status), d->reason);
        break;
    case ACT_HEALTHZ:
        reply_healthz(h, req);
        break;
    case ACT_METRICS:
        reply_metrics(h, req);
        break;
    case ACT_STATIC:
        if (h->static_root != NULL)
            serve_static(h, req, path);
        else
            reply_text(h, req, 404, "Not Found", "no route for this path");
        break;
    case ACT_PREFLIGHT:
        if (d->cors == CORS_ALLOWED) {
            evhttp_add_header(out, "Access-Control-Allow-Methods", d->allow);
            evhttp_add_header(out, "Access-Control-Allow-Headers",
                              "Authorization, Last-Event-ID, Cache-Control, Accept, "
                              "Content-Type");
            evhttp_add_header(out, "Access-Control-Max-Age", "600");
        }
        evhttp_send_reply(req, 204, "No Content", NULL);
        break;
    case ACT_PUBLISH:
        handle_publish(h, req, &b->routes[d->route], &d->params);
        break;
    case ACT_HEAD:
        evhttp_add_header(out, "Content-Type", "text/event-stream; charset=utf-8");
        evhttp_send_reply(req, 200, "OK", NULL);
        break;
    case ACT_STREAM:
        open_stream(h, req, d);
        break;
    }
}

/* ---- auth = backend: the decision waits for the backend's answer ---- */

struct pending {
    struct http *h;
    struct evhttp_request *req;
    struct evhttp_connection *evcon;
    char *path, *last_event_id;
    struct request_decision d; /* owns its topics */
    void *check;
    bool in_check, answered;
};

static void pending_free(struct pending *pc) {
    request_decision_clear(&pc->d);
    free(pc->path);
    free(pc->last_event_id);
    free(pc);
}

/* The client left while the backend was asked. On EOF evhttp detaches the unanswered
 * request from its connection and leaves it to us (see client.c's on_close); one still
 * attached goes with the connection. */
static void on_pending_close(struct evhttp_connection *evcon, void *arg) {
    struct pending *pc = arg;
    (void)evcon;
    backend_cancel(pc->check);
    if (evhttp_request_get_connection(pc->req) == NULL)
        evhttp_request_free(pc->req);
    pending_free(pc);
}

static void on_backend(void *arg, const struct backend_answer *a) {
    struct pending *pc = arg;
    struct http *h = pc->h;
    evhttp_connection_set_closecb(pc->evcon, NULL, NULL);
    if (a->status == 200) {
        pc->d.expires_at_ms = a->expires_at_ms;
        pc->d.last_event_id = pc->last_event_id;
        act(h, pc->req, pc->path, &pc->d);
    } else {
        struct evkeyvalq *out = evhttp_request_get_output_headers(pc->req);
        if (a->www_authenticate != NULL)
            evhttp_add_header(out, "WWW-Authenticate", a->www_authenticate);
        if (a->status == 503)
            evhttp_add_header(out, "Retry-After", "5");
        log_info("auth: %d for %s: %s", a->status, pc->path, a->reason);
        const char *phrase = a->status == 503   ? "Service Unavailable"
                             : a->status == 401 ? "Unauthorized"
                                                : "Forbidden";
        if (a->body != NULL) { /* the backend's own answer, as it was */
            struct evbuffer *body = evbuffer_new();
            evbuffer_add(body, a->body, a->body_len);
            evhttp_add_header(out, "Content-Type",
                              a->content_type ? a->content_type : "text/plain; charset=utf-8");
            evhttp_add_header(out, "Cache-Control", "no-cache");
            h->b->metrics.requests_bad++;
            evhttp_send_reply(pc->req, a->status, phrase, body);
            evbuffer_free(body);
        } else {
            reply_text(h, pc->req, a->status, phrase, a->reason);
        }
    }
    pc->answered = true;
    if (!pc->in_check)
        pending_free(pc);
}

/* The names the backend is told of (X-SSE-Channels): what the request would subscribe to,
 * or publish on. */
static char *channels_of(const struct bridge *b, const struct request_decision *d) {
    const struct route_cfg *rc = b->routes[d->route].cfg;
    size_t n = d->action == ACT_PUBLISH ? rc->nchannels : d->ntopics;
    char *out = xcalloc(n + 1, PARAM_MAX_LEN * 4 + 1);
    size_t len = 0;
    for (size_t i = 0; i < n; i++) {
        char name[PARAM_MAX_LEN * 4];
        if (d->action == ACT_PUBLISH) {
            if (route_expand(rc->channels[i], &d->params, name, sizeof(name)) < 0)
                continue;
        } else {
            snprintf(name, sizeof(name), "%s", d->topics[i].name);
        }
        len += (size_t)sprintf(out + len, "%s%s", len ? "," : "", name);
    }
    return out;
}

static void ask_backend(struct http *h, struct evhttp_request *req, char *path,
                        struct request_decision *d) {
    struct bridge *b = h->b;
    struct evkeyvalq *in = evhttp_request_get_input_headers(req);
    struct pending *pc = xcalloc(1, sizeof(*pc));
    pc->h = h;
    pc->req = req;
    pc->evcon = evhttp_request_get_connection(req);
    pc->path = path;
    pc->last_event_id = d->last_event_id ? xstrdup(d->last_event_id) : NULL;
    pc->d = *d;
    d->topics = NULL; /* moved */
    d->ntopics = 0;
    char *channels = channels_of(b, &pc->d);
    char *peer = NULL, xff[512];
    ev_uint16_t port = 0;
    evhttp_connection_get_peer(pc->evcon, &peer, &port);
    const char *prior = evhttp_find_header(in, "X-Forwarded-For");
    snprintf(xff, sizeof(xff), "%s%s%s", prior ? prior : "", prior ? ", " : "", peer ? peer : "");
    /* backend_forward: the request's headers of those names, first of each. */
    const char *fwd[2 * BACKEND_FORWARD_MAX];
    char names[256];
    size_t nfwd = 0;
    snprintf(names, sizeof(names), "%s", b->cfg->backend_forward ? b->cfg->backend_forward : "");
    for (char *save = NULL, *name = strtok_r(names, ", ", &save);
         name != NULL && nfwd < BACKEND_FORWARD_MAX; name = strtok_r(NULL, ", ", &save)) {
        const char *v = evhttp_find_header(in, name);
        if (v != NULL) {
            fwd[2 * nfwd] = name;
            fwd[2 * nfwd + 1] = v;
            nfwd++;
        }
    }
    const struct backend_query q = {
        .uri = evhttp_request_get_uri(req),
        .method = pc->d.action == ACT_PUBLISH ? "POST"
                  : pc->d.action == ACT_HEAD  ? "HEAD"
                                              : "GET",
        .channels = channels,
        .last_event_id = pc->last_event_id,
        .forwarded_for = xff,
        .headers = fwd,
        .nheaders = nfwd,
    };
    evhttp_connection_set_closecb(pc->evcon, on_pending_close, pc);
    pc->in_check = true;
    void *check = backend_check(b->backend, &q, on_backend, pc);
    pc->in_check = false;
    free(channels);
    if (pc->answered)
        pending_free(pc);
    else
        pc->check = check;
}

static void on_request(struct evhttp_request *req, void *arg) {
    struct http *h = arg;
    struct bridge *b = h->b;
    listener_request_seen(h->listener, req);
    const struct evhttp_uri *uri = evhttp_request_get_evhttp_uri(req);
    struct request r = {
        .method = method_of(evhttp_request_get_command(req)),
        .major = req->major,
        .minor = req->minor,
        .uri_len = strlen(evhttp_request_get_uri(req)),
        .raw_path = uri ? evhttp_uri_get_path(uri) : NULL,
        .query = uri ? evhttp_uri_get_query(uri) : NULL,
        .body_len = evbuffer_get_length(evhttp_request_get_input_buffer(req)),
        .draining = b->state != BRIDGE_RUNNING,
        .open_streams = b->nclients,
        .now_s = (long long)(clock_wall_ms() / 1000),
    };
    char *path = NULL;
    if (r.raw_path != NULL && r.uri_len <= b->cfg->max_uri_size)
        path = evhttp_uridecode(r.raw_path, 0, &r.path_len);
    r.path = path;
    struct evkeyvalq query;
    TAILQ_INIT(&query);
    r.query_bad = r.query != NULL && evhttp_parse_query_str(r.query, &query) != 0;
    struct request_pair *qp = pairs_of(&query, &r.nquery);
    struct request_pair *hp = pairs_of(evhttp_request_get_input_headers(req), &r.nheaders);
    r.query_pairs = qp;
    r.headers = hp;
    struct request_decision d;
    request_decide(b->cfg, b->auth, &r, &d);
    count_auth(h, req, &d, path);
    bool asks = d.auth == REQ_AUTH_BACKEND && b->backend != NULL &&
                (d.action == ACT_STREAM || d.action == ACT_HEAD || d.action == ACT_PUBLISH);
    if (asks) {
        ask_backend(h, req, path, &d); /* takes path */
        path = NULL;
    } else {
        act(h, req, path, &d);
    }
    request_decision_clear(&d);
    free(qp);
    free(hp);
    evhttp_clear_headers(&query);
    free(path);
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
    b->listen_port = listener_port(h->listener);
    log_info("http: listening on %s:%d", b->cfg->listen_host, b->listen_port);
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
