/* The backend check of routes with auth = backend: a GET to backend_url on the bridge's own
 * loop (libevent's HTTP client, names resolved by evdns: nothing blocks), as nginx's
 * auth_request and nchan_authorize_request do. Any 2xx allows (a JSON body
 * {"expires_in": seconds} ends the stream then); 401 and 403 are the client's answer as they
 * are (status, WWW-Authenticate, body and its type); a timeout, a refused connection or any other
 * status is 503: fail closed. Decisions are cached for backend_cache per forwarded headers +
 * channels, and at most BACKEND_INFLIGHT_MAX checks wait at once (more are 503 at once). */
#ifndef BACKEND_H
#define BACKEND_H

#include <stddef.h>

#include "context.h"

struct backend_query {
    const char *uri, *method;
    const char *channels;       /* the names the request would subscribe to, comma separated */
    const char *last_event_id;  /* or NULL */
    const char *forwarded_for;  /* X-Forwarded-For to send */
    const char *const *headers; /* name, value, name, value...: the backend_forward ones */
    size_t nheaders;
};

struct backend_answer {
    int status;                   /* 200 (allowed), 401, 403 or 503 */
    long long expires_at_ms;      /* wall-clock milliseconds; 0: no end */
    const char *www_authenticate; /* the backend's, for 401/403, or NULL */
    const char *body; /* the backend's 401/403 body (at most BACKEND_BODY_MAX), or NULL */
    size_t body_len;
    const char *content_type; /* of that body, or NULL */
    const char *reason;       /* a one-line reason for the client */
};

typedef void backend_cb(void *arg, const struct backend_answer *a);

/* NULL after logging why (a URL libevent cannot read). */
struct backend *backend_new(struct bridge *b);
void backend_free(struct backend *bk);
/* Asks (or answers from the cache, before returning). done is called exactly once, unless
 * backend_cancel is called first with what this returns (NULL when done was called already). */
void *backend_check(struct backend *bk, const struct backend_query *q, backend_cb *done, void *arg);
/* The asker is gone: done will not be called. */
void backend_cancel(void *check);

#endif
