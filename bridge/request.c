#include "request.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "xmalloc.h"

const char *request_status_phrase(int status) {
    switch (status) {
    case 400:
        return "Bad Request";
    case 401:
        return "Unauthorized";
    case 403:
        return "Forbidden";
    case 404:
        return "Not Found";
    case 405:
        return "Method Not Allowed";
    case 413:
        return "Payload Too Large";
    case 414:
        return "URI Too Long";
    case 501:
        return "Not Implemented";
    case 503:
        return "Service Unavailable";
    default:
        return "Error";
    }
}

static void refuse(struct request_decision *d, int status, const char *reason) {
    d->action = ACT_REFUSE;
    d->status = status;
    d->reason = reason;
}

/* Header lookup as HTTP has it: names are case-insensitive; the first one wins. */
static const char *header(const struct request *req, const char *name) {
    for (size_t i = 0; i < req->nheaders; i++) {
        if (strcasecmp(req->headers[i].key, name) == 0)
            return req->headers[i].value;
    }
    return NULL;
}

static const char *query_param(const struct request *req, const char *name) {
    for (size_t i = 0; i < req->nquery; i++) {
        if (strcasecmp(req->query_pairs[i].key, name) == 0)
            return req->query_pairs[i].value;
    }
    return NULL;
}

/* A query parameter's decoded value by exact key (route query templates). */
static const char *query_value(void *arg, const char *key) {
    const struct request *req = arg;
    for (size_t i = 0; i < req->nquery; i++) {
        if (strcmp(req->query_pairs[i].key, key) == 0)
            return req->query_pairs[i].value;
    }
    return NULL;
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
static const char *conformance(const struct request *req, int *status) {
    *status = 400;
    if (req->major == 1 && req->minor >= 1 && header(req, "Host") == NULL)
        return "HTTP/1.1 needs a Host header";
    const char *length = NULL, *coding = NULL;
    for (size_t i = 0; i < req->nheaders; i++) {
        const struct request_pair *h = &req->headers[i];
        if (!token(h->key))
            return "malformed header name";
        if (!strcasecmp(h->key, "Content-Length")) {
            if (length != NULL && strcmp(length, h->value) != 0)
                return "conflicting Content-Length headers";
            length = h->value;
        } else if (!strcasecmp(h->key, "Transfer-Encoding")) {
            if (coding != NULL)
                return "more than one Transfer-Encoding header";
            coding = h->value;
        }
    }
    if (coding != NULL && length != NULL)
        return "Transfer-Encoding and Content-Length together";
    if (coding != NULL && strcasecmp(coding, "chunked") != 0) {
        *status = 501;
        return "unsupported transfer coding (only chunked)";
    }
    /* evhttp decodes %00 in query values to the end of the string: "a%00b" would be "a". */
    if (req->query != NULL && strstr(req->query, "%00") != NULL)
        return "NUL in the query string";
    return NULL;
}

/* An http(s) Origin whose host is the request's Host is the bridge's own page. Another
 * scheme (javascript:, file:, null) is never the bridge's page. */
static bool same_origin(const struct request *req, const char *origin) {
    const char *host = header(req, "Host");
    const char *rest = !strncmp(origin, "http://", 7)    ? origin + 7
                       : !strncmp(origin, "https://", 8) ? origin + 8
                                                         : NULL;
    return host != NULL && rest != NULL && strcmp(rest, host) == 0;
}

/* CORS for a request to a route; false: the origin is not allowed. */
static bool cors(const struct config *cfg, const struct request *req, struct request_decision *d) {
    const char *origin = header(req, "Origin");
    if (origin == NULL || same_origin(req, origin))
        return true;
    bool any = false, listed = false;
    for (size_t i = 0; i < cfg->ncors_origins; i++) {
        any |= strcmp(cfg->cors_origins[i], "*") == 0;
        listed |= strcmp(cfg->cors_origins[i], origin) == 0;
    }
    if (!any && !listed)
        return false;
    d->cors = CORS_ALLOWED;
    d->origin = origin;
    /* With credentials the spec forbids "*": the allowed origin is echoed instead. */
    d->cors_echo = listed || cfg->cors_credentials;
    return true;
}

/* The client's position, from the Last-Event-ID header that EventSource sends when it
 * reconnects, or from a query parameter for clients that cannot set headers (the spellings
 * other hubs and polyfills use). NULL: a new client. */
static const char *last_event_id(const struct request *req) {
    const char *h = header(req, "Last-Event-ID");
    if (h != NULL && *h != '\0')
        return h;
    static const char *const names[] = {"lastEventID", "lastEventId", "last_event_id"};
    for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
        const char *v = query_param(req, names[i]);
        if (v != NULL && *v != '\0')
            return v;
    }
    return NULL;
}

static bool find_route(const struct config *cfg, const char *path, struct request_decision *d,
                       bool *bad_param) {
    *bad_param = false;
    for (size_t i = 0; i < cfg->nroutes; i++) {
        enum route_match_result m = route_match(cfg->routes[i].path, path, &d->params);
        if (m == ROUTE_MATCH) {
            d->route = i;
            return true;
        }
        if (m == ROUTE_BAD_PARAM)
            *bad_param = true;
    }
    return false;
}

/* The channels, patterns, streams and MQTT topics a stream asks for, checked against the
 * route. NULL, or the reason for a 400. */
static const char *collect_topics(const struct config *cfg, const struct request *req,
                                  struct request_decision *d) {
    const struct route_cfg *rc = &cfg->routes[d->route];
    size_t max = cfg->max_topics;
    if (req->query_bad)
        return "malformed query string";
    size_t fixed = rc->nchannels + rc->npatterns + rc->nstreams + rc->nmqtt_topics;
    d->topics = xcalloc(fixed + max, sizeof(*d->topics));
    d->ntopics = 0;
    for (size_t i = 0; i < fixed; i++) {
        const char *tmpl;
        struct request_topic *w = &d->topics[d->ntopics++];
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
        if (route_expand(tmpl, &d->params, w->name, sizeof(w->name)) < 0)
            return "channel name too long";
    }
    size_t asked = 0;
    for (size_t q = 0; q < req->nquery; q++) {
        const char *value = req->query_pairs[q].value;
        if (strcmp(req->query_pairs[q].key, "topic") != 0)
            continue;
        if (rc->ntopics == 0)
            return "this route takes no topic parameter";
        if (++asked > max)
            return "too many topics on one connection";
        size_t t = 0;
        while (t < rc->ntopics &&
               !(rc->topics_mqtt ? route_mqtt_topic_allowed(rc->topics[t], &d->params, value)
                                 : route_topic_allowed(rc->topics[t], &d->params, value)))
            t++;
        if (t == rc->ntopics)
            return rc->topics_mqtt ? "topic not allowed on this route (levels are "
                                     "[A-Za-z0-9_.:-] split by '/', no '..', no + or #)"
                                   : "topic not allowed on this route (names are "
                                     "[A-Za-z0-9_.:-], no '..')";
        struct request_topic *w = &d->topics[d->ntopics++];
        w->kind = rc->topics_mqtt            ? TOPIC_MQTT
                  : route_is_stream_only(rc) ? TOPIC_STREAM
                                             : TOPIC_CHANNEL;
        snprintf(w->name, sizeof(w->name), "%s", value);
    }
    if (rc->ntopics > 0 && asked == 0 && fixed == 0)
        return "at least one topic parameter is needed, e.g. ?topic=news";
    if (d->ntopics > max)
        return "too many topics on one connection";
    return NULL;
}

/* The token of a request: Authorization: Bearer, then the cookie, then ?access_token= when
 * allowed. NULL when there is none. */
static const char *token_of(const struct config *cfg, const struct request *req, size_t *len) {
    const char *h = header(req, "Authorization");
    if (h != NULL && strncasecmp(h, "Bearer ", 7) == 0) {
        h += 7;
        h += strspn(h, " ");
        *len = strcspn(h, " ");
        if (*len > 0)
            return h;
    }
    for (size_t i = 0; cfg->jwt_cookie != NULL && i < req->nheaders; i++) {
        if (strcasecmp(req->headers[i].key, "Cookie") != 0)
            continue;
        /* name=value pairs separated by ';' (RFC 6265 section 4.2.1). */
        size_t n = strlen(cfg->jwt_cookie);
        for (const char *c = req->headers[i].value; *c;) {
            c += strspn(c, " ;");
            size_t pair = strcspn(c, ";");
            if (pair > n && strncmp(c, cfg->jwt_cookie, n) == 0 && c[n] == '=') {
                *len = pair - n - 1;
                while (*len > 0 && c[n + *len] == ' ')
                    (*len)--;
                if (*len > 0)
                    return c + n + 1;
            }
            c += pair;
        }
    }
    const char *q = cfg->jwt_query ? query_param(req, "access_token") : NULL;
    if (q != NULL && *q != '\0') {
        *len = strlen(q);
        return q;
    }
    return NULL;
}

/* Whether the token grants every name the request would subscribe to (or publish on). */
static bool granted(const struct config *cfg, const struct auth_grant *g, bool publishing,
                    struct request_decision *d) {
    if (!publishing) {
        for (size_t i = 0; i < d->ntopics; i++) {
            if (!auth_grant_allows(g, false, d->topics[i].name))
                return false;
        }
        return true;
    }
    const struct route_cfg *rc = &cfg->routes[d->route];
    char name[PARAM_MAX_LEN * 4];
    for (size_t i = 0; i < rc->nchannels; i++) {
        if (route_expand(rc->channels[i], &d->params, name, sizeof(name)) < 0 ||
            !auth_grant_allows(g, true, name))
            return false;
    }
    return true;
}

/* Authorization of a request to the decided route: true to go on, false when refused. */
static bool authorize(const struct config *cfg, const struct auth *auth, const struct request *req,
                      bool publishing, struct request_decision *d) {
    enum auth_mode mode = config_route_auth(cfg, &cfg->routes[d->route]);
    if (mode == AUTH_NONE)
        return true;
    if (mode == AUTH_BACKEND) {
        d->auth = REQ_AUTH_BACKEND;
        return true;
    }
    size_t len = 0;
    const char *tok = token_of(cfg, req, &len);
    if (tok == NULL) {
        d->auth = REQ_AUTH_MISSING;
        d->www_authenticate = "Bearer";
        refuse(d, 401, "a token is needed");
        return false;
    }
    struct auth_grant g;
    const char *why = auth ? auth_verify(auth, tok, len, req->now_s, &g) : "no verifier";
    if (why != NULL) {
        d->auth = REQ_AUTH_INVALID;
        d->auth_why = why;
        d->www_authenticate = "Bearer error=\"invalid_token\"";
        refuse(d, 401, "invalid token");
        return false;
    }
    bool ok = granted(cfg, &g, publishing, d);
    d->expires_at_ms = g.exp * 1000;
    auth_grant_clear(&g);
    if (!ok) {
        d->auth = REQ_AUTH_FORBIDDEN;
        d->auth_why = publishing ? "no publish grant for a channel" : "no grant for a topic";
        d->www_authenticate = "Bearer error=\"insufficient_scope\"";
        refuse(d, 403, "the token does not grant this");
        return false;
    }
    d->auth = REQ_AUTH_ALLOWED;
    return true;
}

void request_decide(const struct config *cfg, const struct auth *auth, const struct request *req,
                    struct request_decision *d) {
    memset(d, 0, sizeof(*d));
    if (req->uri_len > cfg->max_uri_size) {
        refuse(d, 414, "request URI too long");
        return;
    }
    if (req->raw_path == NULL || req->raw_path[0] != '/') {
        refuse(d, 400, "malformed request URI");
        return;
    }
    int status;
    const char *err = conformance(req, &status);
    if (err != NULL) {
        refuse(d, status, err);
        return;
    }
    if (req->path == NULL || strlen(req->path) != req->path_len) {
        refuse(d, 400, "malformed path");
        return;
    }
    bool is_get = req->method == REQ_GET || req->method == REQ_HEAD;
    if (!strcmp(req->path, "/healthz") || !strcmp(req->path, "/metrics")) {
        if (!is_get) {
            d->allow = "GET, HEAD";
            refuse(d, 405, "use GET");
            return;
        }
        d->action = req->path[1] == 'h' ? ACT_HEALTHZ : ACT_METRICS;
        return;
    }
    bool bad_param;
    bool found = find_route(cfg, req->path, d, &bad_param);
    bool publishing = found && cfg->routes[d->route].publish && req->method == REQ_POST;
    /* evhttp's own body limit is the larger of the two when a route publishes. */
    if (!publishing && (found || !bad_param) && req->body_len > cfg->max_body_size) {
        refuse(d, 413, "request body too large");
        return;
    }
    if (publishing && req->body_len > cfg->max_publish_size) {
        refuse(d, 413, "message larger than max_publish_size");
        return;
    }
    if (!found) {
        if (bad_param) {
            refuse(d, 400, "invalid path parameter (names are [A-Za-z0-9_.:-], no '..')");
            return;
        }
        if (cfg->static_dir != NULL && is_get) {
            d->action = ACT_STATIC;
            return;
        }
        refuse(d, 404, "no route for this path");
        return;
    }
    const struct route_cfg *rc = &cfg->routes[d->route];
    if (rc->query != NULL) {
        static char missing[32 + 40]; /* the reason names the key: single-threaded */
        char key[32];
        enum route_match_result m =
            route_match_query(rc->query, query_value, (void *)req, &d->params, key, sizeof(key));
        if (m != ROUTE_MATCH) {
            snprintf(missing, sizeof(missing), "missing query parameter %s", key);
            refuse(d, 400,
                   m == ROUTE_BAD_PARAM
                       ? "invalid query parameter (names are [A-Za-z0-9_.:-], no '..')"
                       : missing);
            return;
        }
    }
    const char *allow = rc->publish ? "GET, HEAD, OPTIONS, POST" : "GET, HEAD, OPTIONS";
    if (req->method != REQ_OPTIONS && !is_get && !publishing) {
        d->allow = allow;
        refuse(d, 405, "an event stream is read with GET");
        return;
    }
    if (!cors(cfg, req, d)) {
        refuse(d, 403, "origin not allowed");
        return;
    }
    if (req->method == REQ_OPTIONS) {
        d->allow = allow;
        d->action = ACT_PREFLIGHT;
        return;
    }
    if (publishing) {
        if (authorize(cfg, auth, req, true, d))
            d->action = ACT_PUBLISH;
        return;
    }
    if ((err = collect_topics(cfg, req, d)) != NULL) {
        request_decision_clear(d);
        refuse(d, 400, err);
        return;
    }
    if (!authorize(cfg, auth, req, false, d)) {
        request_decision_clear(d);
        return;
    }
    if (req->draining || req->open_streams >= cfg->max_clients) {
        request_decision_clear(d);
        d->retry_after = true;
        d->rejected = true;
        refuse(d, 503, req->draining ? "shutting down" : "too many clients");
        return;
    }
    if (req->method == REQ_HEAD) {
        request_decision_clear(d);
        d->action = ACT_HEAD;
        return;
    }
    d->action = ACT_STREAM;
    d->last_event_id = last_event_id(req);
}

void request_decision_clear(struct request_decision *d) {
    free(d->topics);
    d->topics = NULL;
    d->ntopics = 0;
}
