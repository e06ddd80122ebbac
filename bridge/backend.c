#include "backend.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/buffer.h>
#include <event2/dns.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>
#include <jansson.h>

#include "clock.h"
#include "defaults.h"
#include "log.h"
#include "xmalloc.h"

/* A decision kept for backend_cache. */
struct cached {
    char *key;
    unsigned long long until_ms;
    int status;
    long long expires_at_ms;
    char *www_authenticate, *body, *content_type;
    size_t body_len;
    struct cached *next; /* oldest first */
};

struct backend {
    struct bridge *b;
    struct evdns_base *dns;
    struct evhttp_uri *uri;
    char *target; /* path and query to request */
    int port;
    size_t inflight;
    struct check *checks; /* in flight */
    struct cached *cache, *cache_tail;
    size_t ncached;
};

struct check {
    struct backend *bk;
    char *key;
    backend_cb *done; /* NULL once cancelled */
    void *arg;
    struct evhttp_connection *evcon; /* while in flight */
    struct check *prev, *next;       /* the backend's in-flight list */
};

static void cache_drop_oldest(struct backend *bk) {
    struct cached *c = bk->cache;
    bk->cache = c->next;
    if (bk->cache == NULL)
        bk->cache_tail = NULL;
    bk->ncached--;
    free(c->key);
    free(c->www_authenticate);
    free(c->body);
    free(c->content_type);
    free(c);
}

static const struct cached *cache_find(struct backend *bk, const char *key) {
    unsigned long long now = clock_now_ms(bk->b->base);
    while (bk->cache != NULL && bk->cache->until_ms <= now) /* all share one lifetime: FIFO */
        cache_drop_oldest(bk);
    for (const struct cached *c = bk->cache; c; c = c->next) {
        if (strcmp(c->key, key) == 0)
            return c;
    }
    return NULL;
}

static void cache_put(struct backend *bk, const char *key, const struct backend_answer *a) {
    unsigned ttl = bk->b->cfg->backend_cache_ms;
    if (ttl == 0 || a->status == 503)
        return;
    if (bk->ncached >= BACKEND_CACHE_MAX)
        cache_drop_oldest(bk);
    struct cached *c = xcalloc(1, sizeof(*c));
    c->key = xstrdup(key);
    c->until_ms = clock_now_ms(bk->b->base) + ttl;
    c->status = a->status;
    c->expires_at_ms = a->expires_at_ms;
    c->www_authenticate = a->www_authenticate ? xstrdup(a->www_authenticate) : NULL;
    c->body = a->body ? xstrndup(a->body, a->body_len) : NULL;
    c->body_len = a->body_len;
    c->content_type = a->content_type ? xstrdup(a->content_type) : NULL;
    if (bk->cache_tail)
        bk->cache_tail->next = c;
    else
        bk->cache = c;
    bk->cache_tail = c;
    bk->ncached++;
}

static const char *reason_of(int status) {
    return status == 200   ? NULL
           : status == 401 ? "denied by the backend (401)"
           : status == 403 ? "denied by the backend (403)"
                           : "the authorization backend did not answer";
}

static void finish(struct check *ck, const struct backend_answer *a) {
    struct backend *bk = ck->bk;
    struct metrics *m = &bk->b->metrics;
    if (a->status == 200)
        m->auth_backend_allowed++;
    else if (a->status == 401 || a->status == 403)
        m->auth_backend_denied++;
    else
        m->auth_backend_failed++;
    if (ck->done != NULL)
        ck->done(ck->arg, a);
    free(ck->key);
    free(ck);
}

/* {"expires_in": seconds} in a 2xx body: when the stream must end, wall-clock ms (0: never). */
static long long expiry_of(struct evhttp_request *req) {
    struct evbuffer *in = evhttp_request_get_input_buffer(req);
    size_t len = evbuffer_get_length(in);
    if (len == 0 || len > BACKEND_BODY_MAX)
        return 0;
    json_t *j = json_loadb((const char *)evbuffer_pullup(in, (ev_ssize_t)len), len, 0, NULL);
    json_t *e = json_is_object(j) ? json_object_get(j, "expires_in") : NULL;
    long long at = 0;
    if (json_is_integer(e) && json_integer_value(e) > 0 && json_integer_value(e) < 100000000)
        at = (long long)clock_wall_ms() + 1000 * (long long)json_integer_value(e);
    json_decref(j);
    return at;
}

static void unlink_check(struct check *ck) {
    struct backend *bk = ck->bk;
    if (ck->prev)
        ck->prev->next = ck->next;
    else
        bk->checks = ck->next;
    if (ck->next)
        ck->next->prev = ck->prev;
    bk->inflight--;
}

static void on_answer(struct evhttp_request *req, void *arg) {
    struct check *ck = arg;
    struct backend *bk = ck->bk;
    unlink_check(ck); /* evhttp frees the connection after this (free_on_completion) */
    int code = req ? evhttp_request_get_response_code(req) : 0;
    struct backend_answer a = {.status = 503};
    if (code >= 200 && code < 300) {
        a.status = 200;
        a.expires_at_ms = expiry_of(req);
    } else if (code == 401 || code == 403) {
        struct evkeyvalq *in = evhttp_request_get_input_headers(req);
        struct evbuffer *body = evhttp_request_get_input_buffer(req);
        size_t len = evbuffer_get_length(body);
        a.status = code;
        a.www_authenticate = evhttp_find_header(in, "WWW-Authenticate");
        if (len > 0 && len <= BACKEND_BODY_MAX) { /* a longer one is replaced by our reason */
            a.body = (const char *)evbuffer_pullup(body, (ev_ssize_t)len);
            a.body_len = len;
            a.content_type = evhttp_find_header(in, "Content-Type");
        }
    } else {
        log_warn("auth: backend %s answered %s%d: 503 (fail closed)", bk->b->cfg->backend_url,
                 code == 0 ? "nothing (timeout or refused), " : "", code);
    }
    a.reason = reason_of(a.status);
    cache_put(bk, ck->key, &a);
    finish(ck, &a);
}

/* The cache key: the channels and every forwarded header, NUL-free text. */
static char *key_of(const struct backend_query *q) {
    size_t n = strlen(q->channels) + 2;
    for (size_t i = 0; i < 2 * q->nheaders; i++)
        n += strlen(q->headers[i]) + 1;
    char *k = xmalloc(n), *p = k;
    p += sprintf(p, "%s\n", q->channels);
    for (size_t i = 0; i < q->nheaders; i++)
        p += sprintf(p, "%s:%s\n", q->headers[2 * i], q->headers[2 * i + 1]);
    return k;
}

void *backend_check(struct backend *bk, const struct backend_query *q, backend_cb *done,
                    void *arg) {
    struct check *ck = xcalloc(1, sizeof(*ck));
    *ck = (struct check){.bk = bk, .key = key_of(q), .done = done, .arg = arg};
    const struct cached *c = cache_find(bk, ck->key);
    if (c != NULL) {
        struct backend_answer a = {.status = c->status,
                                   .expires_at_ms = c->expires_at_ms,
                                   .www_authenticate = c->www_authenticate,
                                   .reason = reason_of(c->status),
                                   .body = c->body,
                                   .body_len = c->body_len,
                                   .content_type = c->content_type};
        finish(ck, &a);
        return NULL;
    }
    if (bk->inflight >= BACKEND_INFLIGHT_MAX) {
        struct backend_answer a = {.status = 503,
                                   .reason = "too many authorization checks at once"};
        finish(ck, &a);
        return NULL;
    }
    struct evhttp_connection *evcon = evhttp_connection_base_new(
        bk->b->base, bk->dns, evhttp_uri_get_host(bk->uri), (ev_uint16_t)bk->port);
    struct evhttp_request *req = evcon ? evhttp_request_new(on_answer, ck) : NULL;
    if (req == NULL) {
        if (evcon)
            evhttp_connection_free(evcon);
        struct backend_answer a = {.status = 503, .reason = reason_of(503)};
        finish(ck, &a);
        return NULL;
    }
    unsigned ms = bk->b->cfg->backend_timeout_ms;
    struct timeval tv = {ms / 1000, (ms % 1000) * 1000};
    evhttp_connection_set_timeout_tv(evcon, &tv);
    evhttp_connection_set_retries(evcon, 0);
    struct evkeyvalq *h = evhttp_request_get_output_headers(req);
    evhttp_add_header(h, "Host", evhttp_uri_get_host(bk->uri));
    evhttp_add_header(h, "X-Original-URI", q->uri);
    evhttp_add_header(h, "X-Original-Method", q->method);
    evhttp_add_header(h, "X-SSE-Channels", q->channels);
    if (q->last_event_id != NULL)
        evhttp_add_header(h, "Last-Event-ID", q->last_event_id);
    evhttp_add_header(h, "X-Forwarded-For", q->forwarded_for);
    for (size_t i = 0; i < q->nheaders; i++)
        evhttp_add_header(h, q->headers[2 * i], q->headers[2 * i + 1]);
    evhttp_add_header(h, "Connection", "close");
    if (evhttp_make_request(evcon, req, EVHTTP_REQ_GET, bk->target) != 0) {
        /* evhttp freed the request; the connection is ours */
        evhttp_connection_free(evcon);
        struct backend_answer a = {.status = 503, .reason = reason_of(503)};
        finish(ck, &a);
        return NULL;
    }
    evhttp_connection_free_on_completion(evcon);
    ck->evcon = evcon;
    ck->next = bk->checks;
    if (bk->checks)
        bk->checks->prev = ck;
    bk->checks = ck;
    bk->inflight++;
    return ck;
}

void backend_cancel(void *check) {
    struct check *ck = check;
    if (ck != NULL)
        ck->done = NULL; /* the answer still comes, is cached, and goes nowhere */
}

struct backend *backend_new(struct bridge *b) {
    struct evhttp_uri *uri = evhttp_uri_parse(b->cfg->backend_url);
    const char *scheme = uri ? evhttp_uri_get_scheme(uri) : NULL;
    if (uri == NULL || scheme == NULL || strcmp(scheme, "http") != 0 ||
        evhttp_uri_get_host(uri) == NULL) {
        log_error("auth: backend_url %s: not an http:// URL (for TLS, a local proxy)",
                  b->cfg->backend_url);
        if (uri)
            evhttp_uri_free(uri);
        return NULL;
    }
    struct backend *bk = xcalloc(1, sizeof(*bk));
    bk->b = b;
    bk->uri = uri;
    bk->port = evhttp_uri_get_port(uri) > 0 ? evhttp_uri_get_port(uri) : 80;
    const char *path = evhttp_uri_get_path(uri), *query = evhttp_uri_get_query(uri);
    size_t n = strlen(path && *path ? path : "/") + (query ? strlen(query) + 1 : 0) + 1;
    bk->target = xmalloc(n);
    snprintf(bk->target, n, "%s%s%s", path && *path ? path : "/", query ? "?" : "",
             query ? query : "");
    bk->dns = evdns_base_new(b->base, EVDNS_BASE_INITIALIZE_NAMESERVERS);
    return bk;
}

void backend_free(struct backend *bk) {
    if (bk == NULL)
        return;
    while (bk->cache)
        cache_drop_oldest(bk);
    /* At exit: their askers are gone already. */
    for (struct check *ck = bk->checks, *next; ck; ck = next) {
        next = ck->next;
        evhttp_connection_free(ck->evcon); /* frees its request, without calling back */
        free(ck->key);
        free(ck);
    }
    bk->checks = NULL;
    bk->inflight = 0;
    if (bk->dns)
        evdns_base_free(bk->dns, 1); /* fails pending lookups: their checks answer 503 */
    evhttp_uri_free(bk->uri);
    free(bk->target);
    free(bk);
}
