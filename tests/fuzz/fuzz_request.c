/* libFuzzer driver for the request decision (request.c): the request line's target, the
 * method, the HTTP version and the headers come from the input, are taken apart by libevent's
 * own URI and query parsers exactly as http.c does it, and decided against a configuration
 * with a route of every kind. Whatever the input:
 *   - a refusal has a status the README lists and a one-line reason;
 *   - a stream, HEAD, pre-flight or publish names a route whose path matches the request;
 *   - a stream asks for 1 to max_topics topics, none empty, none with a character that could
 *     widen a subscription (glob characters for Redis, + and # for MQTT: the configuration
 *     has none, so any would come from the client) or break a line;
 *   - a cross-origin request from an origin not allowed never gets a stream;
 *   - a route with auth = jwt (its token from the header, the cookie or the query: the
 *     parsing of hostile text the decision does itself) opens a stream only for a token that
 *     verified, with its expiry; every 401/403 of it carries a WWW-Authenticate.
 * Any difference aborts.
 *
 * Input layout: byte 0: bits 0-2 the method, bit 3 HTTP/1.0, bit 4 draining, bit 5 at
 * max_clients; then lines: the request target, then "Name: value" headers. */
#include "request.h"

#include "auth.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/queue.h>
#include <unistd.h>

#include <event2/http.h>
#include <event2/keyvalq_struct.h>

#include "xmalloc.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char config_text[] = "[bridge]\n"
                                  "max_topics = 4\n"
                                  "cors_origins = https://app.example\n"
                                  "static_dir = /\n"
                                  "[route orders]\npath = /events/orders/{customer}\n"
                                  "channel = orders.{customer}\njournal = 10\n"
                                  "[route multi]\npath = /multi/{tenant}\n"
                                  "topic = {tenant}.news\ntopic = {tenant}.alerts.{level}\n"
                                  "[route all]\npath = /all\npattern = orders.*\n"
                                  "[route feed]\npath = /feed/{id}\nstream = feed:{id}\n"
                                  "topic = feed:{id}:{part}\n"
                                  "[route sensors]\npath = /sensors/{room}\n"
                                  "mqtt_topic = sensors/{room}/t\ntopic = sensors/{room}/{x}\n"
                                  "[route pub]\npath = /pub/{ch}\nchannel = pub.{ch}\n"
                                  "publish = true\n"
                                  "[auth]\njwt_cookie = tok\njwt_query = true\n"
                                  "[route secret]\npath = /secret/{x}?app={app}\n"
                                  "channel = s.{app}.{x}\nauth = jwt\n";

/* The seeds' tokens are signed with it (HS256), valid until 1800000100; NOW is before. */
#define SECRET "0123456789abcdef0123456789abcdef"
#define NOW 1800000000LL

static struct config *cfg;
static struct auth *verifier;

static void no_errors(const char *line) {
    fprintf(stderr, "fuzz_request: config: %s\n", line);
    abort();
}

static void load_config(void) {
    char path[] = "/tmp/fuzz-request-XXXXXX";
    int fd = mkstemp(path);
    if (fd < 0 || write(fd, config_text, sizeof(config_text) - 1) < 0)
        abort();
    close(fd);
    cfg = config_new();
    cfg->jwt_secret = xstrdup(SECRET);
    if (config_load_file(cfg, path, no_errors) != 0 || config_validate(cfg, no_errors) != 0)
        abort();
    unlink(path);
    struct auth_cfg acfg = {"HS256", NULL, NULL, 30, cfg->max_header_size};
    const char *err;
    if ((verifier = auth_new(&acfg, SECRET, strlen(SECRET), &err)) == NULL)
        abort();
}

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

static void check(const struct request *req, const struct request_decision *d, const char *origin) {
    static const int statuses[] = {400, 401, 403, 404, 405, 413, 414, 501, 503};
    if ((d->status == 401 || (d->status == 403 && d->auth == REQ_AUTH_FORBIDDEN)) &&
        d->www_authenticate == NULL)
        abort();
    if (d->action == ACT_REFUSE) {
        bool known = false;
        for (size_t i = 0; i < sizeof(statuses) / sizeof(statuses[0]); i++)
            known |= d->status == statuses[i];
        if (!known || d->reason == NULL || strpbrk(d->reason, "\r\n") != NULL)
            abort();
        return;
    }
    if (d->action == ACT_STREAM || d->action == ACT_HEAD || d->action == ACT_PREFLIGHT ||
        d->action == ACT_PUBLISH) {
        struct route_params params;
        if (d->route >= cfg->nroutes ||
            route_match(cfg->routes[d->route].path, req->path, &params) != ROUTE_MATCH)
            abort();
    }
    bool guarded =
        d->route < cfg->nroutes && config_route_auth(cfg, &cfg->routes[d->route]) == AUTH_JWT;
    if ((d->action == ACT_STREAM || d->action == ACT_HEAD) && guarded &&
        (d->auth != REQ_AUTH_ALLOWED || d->expires_at_ms != 1800000100LL * 1000))
        abort();
    if (d->action != ACT_STREAM)
        return;
    if (d->ntopics == 0 || d->ntopics > cfg->max_topics)
        abort();
    for (size_t i = 0; i < d->ntopics; i++) {
        const struct request_topic *t = &d->topics[i];
        const char *bad = t->kind == TOPIC_MQTT      ? "+# \r\n"
                          : t->kind == TOPIC_PATTERN ? "?[] \r\n"
                                                     : "*?[] \r\n";
        if (t->name[0] == '\0' || strpbrk(t->name, bad) != NULL)
            abort();
        if (t->kind == TOPIC_PATTERN && strcmp(t->name, "orders.*") != 0)
            abort(); /* the one configured pattern, never a client's */
    }
    if (origin != NULL && strcmp(origin, "https://app.example") != 0 && d->cors != CORS_NONE)
        abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (cfg == NULL)
        load_config();
    if (size < 1 || size > 8192)
        return 0;
    char *text = xstrndup((const char *)data + 1, size - 1);
    char *save = NULL;
    char *target = strtok_r(text, "\n", &save);
    if (target == NULL) {
        free(text);
        return 0;
    }
    struct request_pair headers[32];
    size_t nheaders = 0;
    const char *origin = NULL, *host = NULL;
    for (char *line; nheaders < 32 && (line = strtok_r(NULL, "\n", &save)) != NULL;) {
        char *colon = strchr(line, ':');
        if (colon == NULL)
            continue;
        *colon = '\0';
        char *value = colon + 1;
        while (*value == ' ')
            value++;
        headers[nheaders].key = line;
        headers[nheaders++].value = value;
        if (!strcasecmp(line, "Origin") && origin == NULL)
            origin = value;
        if (!strcasecmp(line, "Host") && host == NULL)
            host = value;
    }
    static const enum request_method methods[] = {REQ_GET,   REQ_HEAD, REQ_OPTIONS, REQ_POST,
                                                  REQ_OTHER, REQ_GET,  REQ_GET,     REQ_POST};
    struct evhttp_uri *uri = evhttp_uri_parse_with_flags(target, EVHTTP_URI_NONCONFORMANT);
    struct request r = {
        .method = methods[data[0] & 7],
        .major = 1,
        .minor = data[0] & 8 ? 0 : 1,
        .uri_len = strlen(target),
        .raw_path = uri ? evhttp_uri_get_path(uri) : NULL,
        .query = uri ? evhttp_uri_get_query(uri) : NULL,
        .headers = headers,
        .nheaders = nheaders,
        .draining = data[0] & 16,
        .open_streams = data[0] & 32 ? cfg->max_clients : 0,
        .now_s = NOW,
    };
    char *path = r.raw_path ? evhttp_uridecode(r.raw_path, 0, &r.path_len) : NULL;
    r.path = path;
    struct evkeyvalq q;
    TAILQ_INIT(&q);
    r.query_bad = r.query != NULL && evhttp_parse_query_str(r.query, &q) != 0;
    struct request_pair *qp = pairs_of(&q, &r.nquery);
    r.query_pairs = qp;
    struct request_decision d;
    request_decide(cfg, verifier, &r, &d);
    /* Same-origin requests get no CORS headers: only a foreign origin may be checked. */
    bool foreign =
        origin != NULL &&
        !(host != NULL && (!strncmp(origin, "http://", 7) || !strncmp(origin, "https://", 8)) &&
          !strcmp(strstr(origin, "://") + 3, host));
    check(&r, &d, foreign ? origin : NULL);
    if (foreign && strcmp(origin, "https://app.example") != 0 && d.action == ACT_STREAM)
        abort();
    request_decision_clear(&d);
    free(qp);
    evhttp_clear_headers(&q);
    free(path);
    if (uri)
        evhttp_uri_free(uri);
    free(text);
    return 0;
}
