/* ssecat: our SSE test client. Opens N concurrent GET streams to one http:// URL on a single
 * event_base; libevent's evhttp client parses HTTP, sse_parse parses the event stream, and
 * every head, event and close is printed as one compact JSON line on stdout (flushed, so a
 * test reading the pipe sees it at once). The integration tests and the demo drive it.
 *
 * Output lines, in order per connection:
 *   {"conn":0,"status":200,"headers":{"content-type":"text/event-stream",...}}
 *   {"conn":0,"event":"message","id":"...","data":"..."}           per dispatched event
 *   {"conn":0,"closed":true,"events":N,"comments":C,"retry":R|null[,"error":"..."]}
 * A non-200 response prints its status line only at the end, with "body" added (at most
 * BODY_MAX bytes), then its close line. The last line is always
 *   {"summary":true,"connections":N,"events":TOTAL,"complete":true|false,"elapsed_ms":MS}
 * where elapsed_ms runs from the first connect to the last connection settled (the process's
 * own start left out: what a benchmark times). With -q only the summary is printed; connection
 * errors then go to stderr, one line each.
 *
 * Exit: 0 complete (-c reached on every connection; without -c, every connection ended
 * cleanly: the server ended the stream or answered non-200), 1 every connection ended but
 * that was not reached (a stream closed early, a connection failed), 2 usage, 3 timeout or
 * SIGINT/SIGTERM first.
 *
 * Lifetimes: struct conn lives in one array for the whole run; its evhttp_connection and
 * parser are freed only after the loop has stopped, never inside a libevent callback. The
 * request belongs to libevent (it frees it after the done callback or a failure), so no
 * pointer to it is kept: once a connection is CLOSED its late callbacks are ignored. */
#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <strings.h>
#include <sys/resource.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>
#include <event2/util.h>
#include <jansson.h>

#include "sse_parse.h"
#include "xmalloc.h"

#define EVENT_MAX (1024 * 1024) /* longest line / event data one stream may send */
#define EVENT_MAX_TEXT "1 MiB"
#define BODY_MAX (64 * 1024) /* non-200 body kept for the status line */
#define CONNS_MAX 100000
#define HEADERS_MAX 64
#define DEFAULT_TIMEOUT_S 30.0

enum { EXIT_COMPLETE = 0, EXIT_ENDED = 1, EXIT_USAGE = 2, EXIT_TIMEOUT = 3 };

enum conn_state {
    CONN_WAITING,  /* request sent, no response head yet */
    CONN_STREAM,   /* 200: body goes to the parser */
    CONN_REJECTED, /* non-200: body is collected for the status line */
    CONN_CLOSED,   /* close line printed; libevent callbacks are ignored from here on */
};

struct app;

struct conn {
    struct app *app;
    unsigned idx;
    enum conn_state state;
    int settled; /* counted in app->settled: reached -c, or closed */
    struct evhttp_connection *evcon;
    struct sse_parser *parser;
    json_t *head;          /* CONN_REJECTED: the status line, printed at close */
    struct evbuffer *body; /* CONN_REJECTED: its body, up to BODY_MAX */
    size_t events;
    const char *error;  /* NULL, or a static description of the failure */
    const char *detail; /* NULL, or the static strerror/gai_strerror text behind it */
};

struct app {
    /* Options. */
    unsigned n;
    unsigned long count; /* -c; 0 when not given */
    double timeout_s;
    int quiet;
    int stamp; /* -T: add the arrival time to each event line */
    const char *headers[HEADERS_MAX];
    unsigned n_headers;
    /* The URL, split for evhttp. */
    struct evhttp_uri *uri;
    char *connect_host; /* host without IPv6 brackets */
    int port;
    char *request_uri; /* path and query */
    char *host_header;

    struct event_base *base;
    struct event *timer;
    struct event *sigint;
    struct event *sigterm;
    struct conn *conns;
    unsigned settled; /* connections done with: every one settled stops the loop */
    unsigned reached; /* connections that got -c events */
    unsigned closed;
    unsigned failed; /* closed with an error */
    size_t total_events;
};

static void usage(FILE *out) {
    fputs("usage: ssecat [options] URL    (http:// only)\n"
          "  -n N            open N concurrent connections to the URL (default 1)\n"
          "  -H 'Name: val'  extra request header (repeatable)\n"
          "  -c COUNT        exit 0 once every connection has received COUNT events\n"
          "  -t SECONDS      give up after SECONDS (default 30) and exit 3\n"
          "  -q              quiet: print only the final summary line\n"
          "  -T              add \"at\": arrival time (ms since the epoch) to each event\n",
          out);
}

/* Output */

static void emit(json_t *obj) {
    char *line = json_dumps(obj, JSON_COMPACT);
    fputs(line, stdout);
    fputc('\n', stdout);
    fflush(stdout);
    free(line);
}

/* A JSON string of bytes that are not guaranteed to be UTF-8 (header values, error bodies):
 * jansson refuses invalid UTF-8, so non-ASCII bytes then become '?'. */
static json_t *json_bytes(const char *s, size_t n) {
    json_t *j = json_stringn(s, n);
    if (j != NULL)
        return j;
    char *copy = xmalloc(n);
    for (size_t i = 0; i < n; i++)
        copy[i] = (unsigned char)s[i] < 0x80 ? s[i] : '?';
    j = json_stringn(copy, n);
    free(copy);
    return j;
}

/* Headers as one object, names lower-cased; a repeated name joins its values with ", ". */
static json_t *headers_json(struct evkeyvalq *headers) {
    json_t *obj = json_object();
    for (struct evkeyval *kv = headers->tqh_first; kv != NULL; kv = kv->next.tqe_next) {
        char *name = xstrdup(kv->key);
        for (char *p = name; *p; p++)
            *p = (char)tolower((unsigned char)*p);
        json_t *old = json_object_get(obj, name);
        if (old != NULL && json_is_string(old)) {
            size_t old_len = json_string_length(old), val_len = strlen(kv->value);
            char *joined = xmalloc(old_len + 2 + val_len);
            memcpy(joined, json_string_value(old), old_len);
            memcpy(joined + old_len, ", ", 2);
            memcpy(joined + old_len + 2, kv->value, val_len);
            json_object_set_new(obj, name, json_bytes(joined, old_len + 2 + val_len));
            free(joined);
        } else {
            json_object_set_new(obj, name, json_bytes(kv->value, strlen(kv->value)));
        }
        free(name);
    }
    return obj;
}

/* Run bookkeeping */

/* A connection is settled once it reached -c or closed, whichever comes first; when all
 * are, the run is over. loopbreak only sets a flag, so this is safe inside any callback. */
static void conn_settle(struct conn *c) {
    struct app *app = c->app;
    if (c->settled)
        return;
    c->settled = 1;
    if (++app->settled == app->n)
        event_base_loopbreak(app->base);
}

static void conn_close(struct conn *c) {
    struct app *app = c->app;
    if (c->state == CONN_CLOSED)
        return;
    if (c->head != NULL) {
        size_t len = evbuffer_get_length(c->body);
        const char *body = len ? (const char *)evbuffer_pullup(c->body, -1) : "";
        json_object_set_new(c->head, "body", json_bytes(body, len));
        if (!app->quiet)
            emit(c->head);
        json_decref(c->head);
        c->head = NULL;
    }
    c->state = CONN_CLOSED;
    app->closed++;

    char error[160] = "";
    if (c->error != NULL) {
        app->failed++;
        if (c->detail != NULL)
            snprintf(error, sizeof(error), "%s: %s", c->error, c->detail);
        else
            snprintf(error, sizeof(error), "%s", c->error);
    }
    if (!app->quiet) {
        long retry = sse_parser_retry(c->parser);
        json_t *o = json_pack("{s:I, s:b, s:I, s:I, s:o}", "conn", (json_int_t)c->idx, "closed", 1,
                              "events", (json_int_t)c->events, "comments",
                              (json_int_t)sse_parser_comments(c->parser), "retry",
                              retry < 0 ? json_null() : json_integer(retry));
        if (c->error != NULL)
            json_object_set_new(o, "error", json_string(error));
        emit(o);
        json_decref(o);
    } else if (c->error != NULL) {
        fprintf(stderr, "ssecat: conn %u: %s\n", c->idx, error);
    }
    conn_settle(c);
}

/* Parser callback */

static void on_event(void *arg, const struct sse_event *ev) {
    struct conn *c = arg;
    struct app *app = c->app;
    /* -c N means exactly N: events parsed from the same read after the Nth are not shown. */
    if (app->count > 0 && c->events >= app->count)
        return;
    c->events++;
    app->total_events++;
    if (!app->quiet) {
        /* The parser hands out valid UTF-8 only, so json_stringn cannot fail here. */
        json_t *o = json_pack("{s:I, s:s%, s:s%, s:s%}", "conn", (json_int_t)c->idx, "event",
                              ev->type, ev->type_len, "id", ev->last_id, ev->last_id_len, "data",
                              ev->data, ev->data_len);
        if (app->stamp) {
            struct timespec ts;
            clock_gettime(CLOCK_REALTIME, &ts);
            json_object_set_new(o, "at", json_real((double)ts.tv_sec * 1e3 + ts.tv_nsec / 1e6));
        }
        emit(o);
        json_decref(o);
    }
    if (app->count > 0 && c->events == app->count) {
        app->reached++;
        conn_settle(c);
    }
}

/* evhttp callbacks */

static int on_head(struct evhttp_request *req, void *arg) {
    struct conn *c = arg;
    int status = evhttp_request_get_response_code(req);
    json_t *o = json_pack("{s:I, s:i, s:o}", "conn", (json_int_t)c->idx, "status", status,
                          "headers", headers_json(evhttp_request_get_input_headers(req)));
    if (status == 200) {
        c->state = CONN_STREAM;
        if (!c->app->quiet)
            emit(o);
        json_decref(o);
    } else {
        c->state = CONN_REJECTED;
        c->head = o;
        c->body = evbuffer_new();
    }
    return 0;
}

/* Body data as it arrives: per HTTP chunk with chunked encoding, per read otherwise. libevent
 * drains the input buffer after we return. */
static void on_chunk(struct evhttp_request *req, void *arg) {
    struct conn *c = arg;
    struct evbuffer *in = evhttp_request_get_input_buffer(req);

    if (c->state == CONN_REJECTED) {
        size_t room = BODY_MAX - evbuffer_get_length(c->body);
        size_t len = evbuffer_get_length(in);
        evbuffer_remove_buffer(in, c->body, len < room ? len : room);
        return;
    }
    if (c->state != CONN_STREAM)
        return;
    while (evbuffer_get_length(in) > 0) {
        struct evbuffer_iovec v;
        if (evbuffer_peek(in, -1, NULL, &v, 1) < 1)
            break;
        if (sse_parser_feed(c->parser, v.iov_base, v.iov_len) != 0) {
            c->error = "line or event over the " EVENT_MAX_TEXT " limit";
            conn_close(c);
            /* Documented as safe from the chunked callback: the request is freed once we
             * return, the connection reset; only our error callback runs, and ignores it. */
            evhttp_cancel_request(req);
            return;
        }
        evbuffer_drain(in, v.iov_len);
    }
}

/* Before a response head, libevent reports a refused connect (done with no error callback)
 * and a failed lookup (as EOF) without usable errno; the lookup error at least is kept on the
 * bufferevent. */
static void explain_connect_failure(struct conn *c) {
    int dns = bufferevent_socket_get_dns_error(evhttp_connection_get_bufferevent(c->evcon));
    if (dns != 0) {
        c->error = "cannot resolve host";
        c->detail = evutil_gai_strerror(dns);
    } else {
        c->error = "connection failed";
    }
}

static void on_error(enum evhttp_request_error err, void *arg) {
    struct conn *c = arg;
    int sys = EVUTIL_SOCKET_ERROR(); /* restored by evhttp just before calling us */
    if (c->state == CONN_CLOSED)
        return;
    switch (err) {
    case EVREQ_HTTP_TIMEOUT:
        c->error = "timeout";
        break;
    case EVREQ_HTTP_EOF:
        if (c->state == CONN_WAITING)
            explain_connect_failure(c);
        else
            c->error = "connection closed before the response ended";
        break;
    case EVREQ_HTTP_INVALID_HEADER:
        c->error = "invalid response head";
        break;
    case EVREQ_HTTP_BUFFER_ERROR:
        c->error = "connection error";
        c->detail = sys != 0 ? evutil_socket_error_to_string(sys) : NULL;
        break;
    case EVREQ_HTTP_REQUEST_CANCEL:
        c->error = "cancelled";
        break;
    case EVREQ_HTTP_DATA_TOO_LONG:
        c->error = "malformed or oversized body";
        break;
    default:
        c->error = "request failed";
        break;
    }
}

/* The response ended (req != NULL) or the request failed (req == NULL, after on_error). */
static void on_done(struct evhttp_request *req, void *arg) {
    struct conn *c = arg;
    if (c->state == CONN_CLOSED)
        return;
    if (c->error == NULL && (req == NULL || c->state == CONN_WAITING))
        explain_connect_failure(c);
    conn_close(c);
}

static void on_give_up(evutil_socket_t fd, short what, void *arg) {
    struct app *app = arg;
    (void)fd;
    (void)what;
    event_base_loopbreak(app->base);
}

/* Setup */

static int header_given(const struct app *app, const char *name) {
    size_t len = strlen(name);
    for (unsigned i = 0; i < app->n_headers; i++) {
        if (strncasecmp(app->headers[i], name, len) == 0 && app->headers[i][len] == ':')
            return 1;
    }
    return 0;
}

/* Builds and sends the request; on any failure the connection is closed with an error. */
static void conn_start(struct app *app, struct conn *c) {
    c->parser = sse_parser_new(EVENT_MAX, on_event, c);
    c->evcon =
        evhttp_connection_base_new(app->base, NULL, app->connect_host, (ev_uint16_t)app->port);
    if (c->evcon == NULL) {
        c->error = "cannot create connection";
        goto fail;
    }
    /* evhttp's default 50 s idle timeout would cut a quiet stream; our own timer decides. */
    evhttp_connection_set_timeout(c->evcon, (int)app->timeout_s + 5);

    struct evhttp_request *req = evhttp_request_new(on_done, c);
    evhttp_request_set_header_cb(req, on_head);
    evhttp_request_set_chunked_cb(req, on_chunk);
    evhttp_request_set_error_cb(req, on_error);
    struct evkeyvalq *out = evhttp_request_get_output_headers(req);
    /* evhttp adds no Host header of its own; HTTP/1.1 servers must reject a request without. */
    if (!header_given(app, "Host"))
        evhttp_add_header(out, "Host", app->host_header);
    if (!header_given(app, "Accept"))
        evhttp_add_header(out, "Accept", "text/event-stream");
    if (!header_given(app, "Cache-Control"))
        evhttp_add_header(out, "Cache-Control", "no-cache");
    for (unsigned i = 0; i < app->n_headers; i++) {
        const char *h = app->headers[i];
        const char *colon = strchr(h, ':');
        char *name = xstrndup(h, (size_t)(colon - h));
        const char *value = colon + 1;
        while (*value == ' ' || *value == '\t')
            value++;
        evhttp_add_header(out, name, value);
        free(name);
    }
    /* A local connect may fail synchronously: our callbacks then run before this returns. */
    if (evhttp_make_request(c->evcon, req, EVHTTP_REQ_GET, app->request_uri) != 0) {
        if (c->error == NULL)
            c->error = "cannot send request";
        goto fail;
    }
    return;

fail:
    conn_close(c);
}

static int parse_url(struct app *app, const char *url) {
    app->uri = evhttp_uri_parse(url);
    if (app->uri == NULL)
        return -1;
    const char *scheme = evhttp_uri_get_scheme(app->uri);
    const char *host = evhttp_uri_get_host(app->uri);
    if (scheme == NULL || strcasecmp(scheme, "http") != 0 || host == NULL || *host == '\0')
        return -1;
    int port = evhttp_uri_get_port(app->uri);
    app->port = port < 0 ? 80 : port;

    size_t host_len = strlen(host);
    if (host[0] == '[' && host_len > 2 && host[host_len - 1] == ']')
        app->connect_host = xstrndup(host + 1, host_len - 2);
    else
        app->connect_host = xstrdup(host);

    char portbuf[16] = "";
    if (port >= 0 && port != 80)
        snprintf(portbuf, sizeof(portbuf), ":%d", port);
    app->host_header = xmalloc(host_len + strlen(portbuf) + 1);
    sprintf(app->host_header, "%s%s", host, portbuf);

    const char *path = evhttp_uri_get_path(app->uri);
    const char *query = evhttp_uri_get_query(app->uri);
    if (path == NULL || *path == '\0')
        path = "/";
    size_t len = strlen(path) + (query ? strlen(query) + 1 : 0) + 1;
    app->request_uri = xmalloc(len);
    snprintf(app->request_uri, len, "%s%s%s", path, query ? "?" : "", query ? query : "");
    return 0;
}

static int parse_ulong(const char *s, unsigned long min, unsigned long max, unsigned long *out) {
    char *end;
    if (*s < '0' || *s > '9')
        return -1;
    errno = 0;
    unsigned long v = strtoul(s, &end, 10);
    if (errno != 0 || *end != '\0' || v < min || v > max)
        return -1;
    *out = v;
    return 0;
}

static int parse_options(struct app *app, int argc, char **argv) {
    int opt;
    unsigned long v;
    char *end;

    app->n = 1;
    app->timeout_s = DEFAULT_TIMEOUT_S;
    while ((opt = getopt(argc, argv, "n:H:c:t:qTh")) != -1) {
        switch (opt) {
        case 'n':
            if (parse_ulong(optarg, 1, CONNS_MAX, &v) != 0) {
                fprintf(stderr, "ssecat: -n wants 1..%d\n", CONNS_MAX);
                return -1;
            }
            app->n = (unsigned)v;
            break;
        case 'c':
            if (parse_ulong(optarg, 1, ULONG_MAX, &v) != 0) {
                fprintf(stderr, "ssecat: -c wants a positive count\n");
                return -1;
            }
            app->count = v;
            break;
        case 't':
            errno = 0;
            app->timeout_s = strtod(optarg, &end);
            if (errno != 0 || end == optarg || *end != '\0' || !(app->timeout_s > 0) ||
                app->timeout_s > 1e7) {
                fprintf(stderr, "ssecat: -t wants a positive number of seconds\n");
                return -1;
            }
            break;
        case 'H': {
            const char *colon = strchr(optarg, ':');
            if (colon == NULL || colon == optarg || strpbrk(optarg, "\r\n") != NULL) {
                fprintf(stderr, "ssecat: -H wants 'Name: value'\n");
                return -1;
            }
            if (app->n_headers == HEADERS_MAX) {
                fprintf(stderr, "ssecat: at most %d -H headers\n", HEADERS_MAX);
                return -1;
            }
            app->headers[app->n_headers++] = optarg;
            break;
        }
        case 'q':
            app->quiet = 1;
            break;
        case 'T':
            app->stamp = 1;
            break;
        case 'h':
            usage(stdout);
            exit(0);
        default:
            return -1;
        }
    }
    if (optind != argc - 1) {
        fprintf(stderr, "ssecat: want exactly one URL\n");
        return -1;
    }
    if (parse_url(app, argv[optind]) != 0) {
        fprintf(stderr, "ssecat: %s: not an http:// URL\n", argv[optind]);
        return -1;
    }
    return 0;
}

/* Each connection is a descriptor; -n in the thousands passes the usual soft limit. */
static void raise_fd_limit(unsigned n) {
    struct rlimit rl;
    rlim_t want = (rlim_t)n + 64;
    if (getrlimit(RLIMIT_NOFILE, &rl) != 0 || rl.rlim_cur >= want)
        return;
    rl.rlim_cur = rl.rlim_max == RLIM_INFINITY || rl.rlim_max > want ? want : rl.rlim_max;
    setrlimit(RLIMIT_NOFILE, &rl);
}

static int exit_status(const struct app *app) {
    if (app->count > 0) {
        if (app->reached == app->n)
            return EXIT_COMPLETE;
        return app->settled == app->n ? EXIT_ENDED : EXIT_TIMEOUT;
    }
    if (app->closed < app->n)
        return EXIT_TIMEOUT;
    return app->failed == 0 ? EXIT_COMPLETE : EXIT_ENDED;
}

static void app_free(struct app *app) {
    for (unsigned i = 0; app->conns != NULL && i < app->n; i++) {
        struct conn *c = &app->conns[i];
        /* Frees a still-pending request without calling back into us. */
        if (c->evcon != NULL)
            evhttp_connection_free(c->evcon);
        sse_parser_free(c->parser);
        json_decref(c->head);
        if (c->body != NULL)
            evbuffer_free(c->body);
    }
    free(app->conns);
    if (app->timer != NULL)
        event_free(app->timer);
    if (app->sigint != NULL)
        event_free(app->sigint);
    if (app->sigterm != NULL)
        event_free(app->sigterm);
    if (app->base != NULL)
        event_base_free(app->base);
    if (app->uri != NULL)
        evhttp_uri_free(app->uri);
    free(app->connect_host);
    free(app->request_uri);
    free(app->host_header);
}

int main(int argc, char **argv) {
    struct app app = {0};
    int status = EXIT_USAGE;

    if (parse_options(&app, argc, argv) != 0) {
        usage(stderr);
        goto done;
    }
    /* Jansson allocates through the project's OOM policy too. */
    json_set_alloc_funcs(xmalloc, free);
    signal(SIGPIPE, SIG_IGN);
    raise_fd_limit(app.n);

    app.base = event_base_new();
    if (app.base == NULL) {
        fprintf(stderr, "ssecat: cannot create the event loop\n");
        status = EXIT_ENDED;
        goto done;
    }
    struct timeval tv = {(time_t)app.timeout_s,
                         (suseconds_t)((app.timeout_s - (double)(time_t)app.timeout_s) * 1e6)};
    app.timer = evtimer_new(app.base, on_give_up, &app);
    app.sigint = evsignal_new(app.base, SIGINT, on_give_up, &app);
    app.sigterm = evsignal_new(app.base, SIGTERM, on_give_up, &app);
    evtimer_add(app.timer, &tv);
    evsignal_add(app.sigint, NULL);
    evsignal_add(app.sigterm, NULL);

    app.conns = xcalloc(app.n, sizeof(*app.conns));
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    for (unsigned i = 0; i < app.n; i++) {
        app.conns[i].app = &app;
        app.conns[i].idx = i;
        conn_start(&app, &app.conns[i]);
    }
    /* A break requested before the loop runs is forgotten, so check first. */
    if (app.settled < app.n)
        event_base_dispatch(app.base);

    clock_gettime(CLOCK_MONOTONIC, &t1);
    status = exit_status(&app);
    double elapsed_ms =
        (double)(t1.tv_sec - t0.tv_sec) * 1e3 + (double)(t1.tv_nsec - t0.tv_nsec) / 1e6;
    json_t *summary = json_pack("{s:b, s:I, s:I, s:b, s:f}", "summary", 1, "connections",
                                (json_int_t)app.n, "events", (json_int_t)app.total_events,
                                "complete", status == EXIT_COMPLETE, "elapsed_ms", elapsed_ms);
    emit(summary);
    json_decref(summary);

done:
    app_free(&app);
    libevent_global_shutdown();
    return status;
}
