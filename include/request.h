/* What to do with one HTTP request, decided from the request and the configuration alone:
 * limits and HTTP conformance, the endpoint or route and its parameters, the method, CORS,
 * the topics a stream asks for (each checked against the route), admission, and the client's
 * position (Last-Event-ID), and authorization (a token from the Authorization header, a
 * cookie or the query, checked against what the request would subscribe to or publish on).
 * Pure: http.c turns evhttp's request into a struct request, calls
 * request_decide, and carries the decision out; a fuzz driver calls it directly.
 *
 * Ownership: a decision points into the request and the configuration (reason strings are
 * static) and owns only its topics, freed by request_decision_clear. */
#ifndef REQUEST_H
#define REQUEST_H

#include <stdbool.h>
#include <stddef.h>

#include "auth.h"
#include "config.h"
#include "hub.h"
#include "route.h"

enum request_method { REQ_GET, REQ_HEAD, REQ_OPTIONS, REQ_POST, REQ_OTHER };

struct request_pair {
    const char *key, *value; /* a header (name, value) or a decoded query parameter */
};

struct request {
    enum request_method method;
    int major, minor;     /* HTTP version */
    size_t uri_len;       /* the request target as sent */
    const char *raw_path; /* its path, still %-encoded; NULL: the target did not parse */
    const char *path;     /* decoded; NULL when decoding failed */
    size_t path_len;      /* decoded length (a NUL inside makes it differ from strlen) */
    const char *query;    /* the raw query string, or NULL */
    const struct request_pair *query_pairs; /* decoded */
    size_t nquery;
    bool query_bad; /* the query string did not parse */
    const struct request_pair *headers;
    size_t nheaders;
    size_t body_len;
    /* What the bridge is doing now (admission). */
    bool draining;
    size_t open_streams;
    long long now_s; /* seconds since the epoch (token expiry) */
};

enum request_action {
    ACT_REFUSE,    /* answer status with reason (text/plain), and `allow` when set */
    ACT_HEALTHZ,   /* /healthz */
    ACT_METRICS,   /* /metrics */
    ACT_STATIC,    /* a file of static_dir, if there is one by that name (404 otherwise) */
    ACT_PREFLIGHT, /* 204 with Allow (and the CORS pre-flight headers when allowed) */
    ACT_PUBLISH,   /* POST the body to route's channels */
    ACT_HEAD,      /* HEAD on a stream: the head only, no subscription */
    ACT_STREAM,    /* open a stream on route with topics, from last_event_id */
};

enum request_cors { CORS_NONE, CORS_ALLOWED };

/* What authorization said of a request to a route with auth (counted in /metrics). */
enum request_auth {
    REQ_AUTH_OPEN,      /* the route has no auth */
    REQ_AUTH_ALLOWED,   /* a token that grants it */
    REQ_AUTH_MISSING,   /* 401: no token */
    REQ_AUTH_INVALID,   /* 401: a bad, expired or unverifiable token */
    REQ_AUTH_FORBIDDEN, /* 403: a valid token without the grant */
    REQ_AUTH_BACKEND,   /* the backend decides (auth = backend): ask it before acting */
};

struct request_topic {
    enum topic_kind kind;
    char name[PARAM_MAX_LEN * 4];
};

struct request_decision {
    enum request_action action;
    int status;         /* ACT_REFUSE: the HTTP status */
    const char *reason; /* ACT_REFUSE: the one-line reason */
    const char *allow;  /* an Allow header to send, or NULL */
    bool retry_after;   /* a 503 that a client may retry (Retry-After: 5) */
    bool rejected;      /* a stream refused by admission (counted as clients_rejected) */
    /* CORS: with CORS_ALLOWED, Access-Control-Allow-Origin is `origin` when cors_echo, else *;
     * Vary: Origin with the echo; Allow-Credentials with cors_credentials. */
    enum request_cors cors;
    const char *origin;
    bool cors_echo;
    size_t route; /* index in cfg->routes, for ACT_PREFLIGHT, ACT_PUBLISH, ACT_HEAD, ACT_STREAM */
    struct route_params params;
    struct request_topic *topics; /* ACT_STREAM; owned */
    size_t ntopics;
    const char *last_event_id; /* ACT_STREAM: NULL for a new client; points into the request
                                  (a header or query value: copy it before they are freed) */
    enum request_auth auth;
    const char *auth_why;         /* why a token was refused (for the log; never the token) */
    const char *www_authenticate; /* a WWW-Authenticate header to send, or NULL */
    long long expires_at_ms;      /* ACT_STREAM: the stream ends then, wall-clock ms (0: never) */
};

/* `auth` verifies tokens for routes with auth = jwt (NULL: there are none). */
void request_decide(const struct config *cfg, const struct auth *auth, const struct request *req,
                    struct request_decision *d);
void request_decision_clear(struct request_decision *d);

/* The phrase of a status this module decides ("Bad Request", ...). */
const char *request_status_phrase(int status);

#endif
