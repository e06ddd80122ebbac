/* loadgen: the benchmark load generator. Opens N SSE connections to one URL (spread over source
 * addresses 127.0.0.2, 127.0.0.3, ... so that more than one ephemeral port range fits), parses
 * every stream with sse_parse, and publishes at a given rate and size through Redis PUBLISH,
 * Redis XADD or HTTP POST (for peers that take their messages that way). Each payload carries
 * a sequence number and a send time (CLOCK_MONOTONIC: publisher and receivers are this one
 * process), so receivers count deliveries, lost, duplicated and reordered events, and latency.
 *
 * One run: connect everything (bounded pace), warm up, measure for -d seconds, stop publishing,
 * drain, print one JSON line. Every phase is bounded in time. The server's RSS and CPU come
 * from /proc/<pid> (-P), the generator's own CPU from getrusage.
 *
 *   loadgen -u http://127.0.0.1:8080/events/bench -n 1000 -r 1000 -z 100 -d 5 \
 *           -m redis-publish -R 127.0.0.1:6379 -c bench -P <server pid>
 *   loadgen ... -r 0 -d 3        idle connections only: RSS per connection */
#define _GNU_SOURCE /* memmem */
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <event2/http.h>
#include <hiredis/adapters/libevent.h>
#include <hiredis/async.h>
#include <hiredis/hiredis.h>

#include "sse_parse.h"
#include "xmalloc.h"

#define LAT_BUCKET_US 10
#define LAT_BUCKETS 1000000 /* 10 s at 10 us */
#define CONNECT_BATCH 256   /* connections opened at once while ramping up */

enum mode { MODE_REDIS_PUBLISH, MODE_REDIS_XADD, MODE_HTTP_POST, MODE_NONE };

/* One SSE stream, read with a minimal HTTP/1.1 client of our own: evhttp's client takes a
 * response without length or chunking (nchan's) as empty, and costs more per event. */
struct conn {
    struct gen *g;
    struct bufferevent *bev;
    struct sse_parser *parser;
    uint64_t last_seq;
    int open;          /* 200 head seen */
    int closed;        /* the stream ended or failed */
    int chunked;       /* Transfer-Encoding: chunked */
    size_t chunk_left; /* body bytes left in the current chunk */
    int chunk_crlf;    /* the CRLF after a chunk is still to be skipped */
};

struct gen {
    struct event_base *base;
    /* options */
    char host[64], path[1024], channel[256], redis_host[64], post_url_path[1024];
    int port, redis_port, nconns, nsources, pid;
    double rate, duration, warmup;
    size_t size;
    enum mode mode;
    const char *label;
    /* state */
    struct conn *conns;
    int opened, heads, failed, ended, ramp_next;
    double connect_s;
    redisAsyncContext *redis;
    struct evhttp_connection *post;
    struct event *ramp_ev, *tick_ev, *phase_ev;
    int phase; /* 0 connecting, 1 warmup, 2 measuring, 3 draining */
    double tick_s, credit;
    uint64_t last_tick_ns;
    uint64_t seq, sent, sent_measured, measure_from_seq, measure_to_seq;
    uint64_t deliveries, lost, dups, reordered, publish_errors;
    uint64_t *lat;
    uint64_t lat_n, lat_max_us;
    struct timespec t_start, t_measure;
    struct rusage ru_measure;
    unsigned long long srv_cpu0;
    double measured_s;
    char *payload_pad;
    char request[1200];
};

static uint64_t now_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}

static double since(const struct timespec *t0) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)(t.tv_sec - t0->tv_sec) + (double)(t.tv_nsec - t0->tv_nsec) / 1e9;
}

/* utime + stime of a process, in clock ticks; 0 when unreadable. */
static unsigned long long proc_cpu_ticks(int pid) {
    char path[64], buf[1024];
    snprintf(path, sizeof(path), "/proc/%d/stat", pid);
    FILE *f = fopen(path, "r");
    if (f == NULL)
        return 0;
    size_t n = fread(buf, 1, sizeof(buf) - 1, f);
    fclose(f);
    buf[n] = '\0';
    const char *p = strrchr(buf, ')');
    unsigned long long ut = 0, st = 0;
    /* Fields after the command: state ppid pgrp session tty tpgid flags minflt cminflt majflt
     * cmajflt utime stime. */
    if (p == NULL ||
        sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu %llu", &ut, &st) != 2)
        return 0;
    return ut + st;
}

static long proc_rss_kb(int pid) {
    char path[64], line[256];
    snprintf(path, sizeof(path), "/proc/%d/status", pid);
    FILE *f = fopen(path, "r");
    long kb = -1;
    while (f != NULL && fgets(line, sizeof(line), f) != NULL) {
        if (sscanf(line, "VmRSS: %ld kB", &kb) == 1)
            break;
    }
    if (f)
        fclose(f);
    return kb;
}

/* --- receiving ------------------------------------------------------------------------------ */

static void on_event(void *arg, const struct sse_event *ev) {
    struct conn *c = arg;
    struct gen *g = c->g;
    const char *s = memmem(ev->data, ev->data_len, "\"seq\":", 6);
    const char *t = memmem(ev->data, ev->data_len, "\"t\":", 4);
    if (s == NULL || t == NULL)
        return; /* not ours (a gap or close event) */
    uint64_t seq = strtoull(s + 6, NULL, 10), sent = strtoull(t + 4, NULL, 10);
    if (c->last_seq != 0 && seq <= c->last_seq) {
        if (seq == c->last_seq)
            g->dups++;
        else
            g->reordered++;
        return;
    }
    if (c->last_seq != 0 && seq > c->last_seq + 1 && seq > g->measure_from_seq)
        g->lost += seq - c->last_seq - 1;
    c->last_seq = seq;
    if (g->phase != 2 || seq < g->measure_from_seq)
        return;
    g->deliveries++;
    uint64_t us = (now_ns() - sent) / 1000;
    if (us > g->lat_max_us)
        g->lat_max_us = us;
    size_t b = us / LAT_BUCKET_US;
    g->lat[b < LAT_BUCKETS ? b : LAT_BUCKETS - 1]++;
    g->lat_n++;
}

static void conn_end(struct conn *c, int failed) {
    if (c->closed)
        return;
    c->closed = 1;
    if (failed)
        c->g->failed++;
    else
        c->g->ended++; /* the stream ended while we were still reading */
    bufferevent_disable(c->bev, EV_READ | EV_WRITE);
}

/* The response head: status 200, and whether the body is chunked. Returns 1 when complete. */
static int read_head(struct conn *c, struct evbuffer *in) {
    struct evbuffer_ptr end = evbuffer_search(in, "\r\n\r\n", 4, NULL);
    if (end.pos < 0)
        return 0;
    size_t n = (size_t)end.pos + 4;
    char *head = xmalloc(n + 1);
    evbuffer_remove(in, head, n);
    head[n] = '\0';
    int ok = strncmp(head, "HTTP/1.1 200", 12) == 0 || strncmp(head, "HTTP/1.0 200", 12) == 0;
    for (char *p = head; *p; p++)
        *p = (char)(*p >= 'A' && *p <= 'Z' ? *p + 32 : *p);
    c->chunked = strstr(head, "\ntransfer-encoding: chunked") != NULL;
    free(head);
    if (!ok) {
        conn_end(c, 1);
        return 0;
    }
    c->open = 1;
    c->g->heads++;
    return 1;
}

static void feed(struct conn *c, struct evbuffer *in, size_t n) {
    struct evbuffer_iovec v[8];
    int k = evbuffer_peek(in, (ev_ssize_t)n, NULL, v, 8);
    size_t done = 0;
    for (int i = 0; i < k && k <= 8 && done < n; i++) {
        size_t len = v[i].iov_len < n - done ? v[i].iov_len : n - done;
        sse_parser_feed(c->parser, v[i].iov_base, len);
        done += len;
    }
    if (done < n) /* more than 8 segments: rare, linearize */
        sse_parser_feed(c->parser, (const char *)evbuffer_pullup(in, (ev_ssize_t)n) + done,
                        n - done);
    evbuffer_drain(in, n);
}

static void on_read(struct bufferevent *bev, void *arg) {
    struct conn *c = arg;
    struct evbuffer *in = bufferevent_get_input(bev);
    if (!c->open && !read_head(c, in))
        return;
    if (!c->chunked) {
        feed(c, in, evbuffer_get_length(in));
        return;
    }
    for (;;) {
        if (c->chunk_crlf) {
            if (evbuffer_get_length(in) < 2)
                return;
            evbuffer_drain(in, 2);
            c->chunk_crlf = 0;
        }
        if (c->chunk_left == 0) {
            size_t len;
            char *line = evbuffer_readln(in, &len, EVBUFFER_EOL_CRLF);
            if (line == NULL)
                return;
            c->chunk_left = strtoul(line, NULL, 16);
            free(line);
            if (c->chunk_left == 0) {
                conn_end(c, 0);
                return;
            }
        }
        size_t avail = evbuffer_get_length(in);
        if (avail == 0)
            return;
        size_t n = avail < c->chunk_left ? avail : c->chunk_left;
        feed(c, in, n);
        c->chunk_left -= n;
        if (c->chunk_left == 0)
            c->chunk_crlf = 1;
    }
}

static void on_bev_event(struct bufferevent *bev, short what, void *arg) {
    struct conn *c = arg;
    (void)bev;
    if (what & BEV_EVENT_CONNECTED)
        return;
    conn_end(c, !c->open);
}

static void open_conn(struct gen *g, int i) {
    struct conn *c = &g->conns[i];
    c->g = g;
    c->parser = sse_parser_new(1024 * 1024, on_event, c);
    evutil_socket_t fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in src = {.sin_family = AF_INET}, dst = {.sin_family = AF_INET};
    if (g->nsources > 1) {
        char addr[32];
        snprintf(addr, sizeof(addr), "127.0.0.%d", 2 + i % g->nsources);
        inet_pton(AF_INET, addr, &src.sin_addr);
        if (bind(fd, (struct sockaddr *)&src, sizeof(src)) != 0) {
            close(fd);
            fd = -1;
        }
    }
    dst.sin_port = htons((uint16_t)g->port);
    inet_pton(AF_INET, g->host, &dst.sin_addr);
    g->opened++;
    if (fd < 0) {
        c->closed = 1;
        g->failed++;
        return;
    }
    evutil_make_socket_nonblocking(fd);
    c->bev = bufferevent_socket_new(g->base, fd, BEV_OPT_CLOSE_ON_FREE);
    bufferevent_setcb(c->bev, on_read, NULL, on_bev_event, c);
    bufferevent_enable(c->bev, EV_READ);
    if (bufferevent_socket_connect(c->bev, (struct sockaddr *)&dst, sizeof(dst)) != 0) {
        conn_end(c, 1);
        return;
    }
    bufferevent_write(c->bev, g->request, strlen(g->request));
}

/* --- publishing ----------------------------------------------------------------------------- */

static void on_reply(redisAsyncContext *ac, void *r, void *privdata) {
    struct gen *g = privdata;
    redisReply *reply = r;
    (void)ac;
    if (reply == NULL || reply->type == REDIS_REPLY_ERROR)
        g->publish_errors++;
}

static void on_post_done(struct evhttp_request *req, void *arg) {
    struct gen *g = arg;
    int code = req ? evhttp_request_get_response_code(req) : 0;
    if (code < 200 || code >= 300)
        g->publish_errors++;
}

static void publish_one(struct gen *g) {
    char msg[65536];
    uint64_t seq = ++g->seq;
    int n = snprintf(msg, sizeof(msg), "{\"seq\":%" PRIu64 ",\"t\":%" PRIu64 ",\"pad\":\"", seq,
                     now_ns());
    size_t pad = g->size > (size_t)n + 2 ? g->size - (size_t)n - 2 : 0;
    if (pad > sizeof(msg) - (size_t)n - 3)
        pad = sizeof(msg) - (size_t)n - 3;
    memcpy(msg + n, g->payload_pad, pad);
    n += (int)pad;
    msg[n++] = '"';
    msg[n++] = '}';
    switch (g->mode) {
    case MODE_REDIS_PUBLISH:
        redisAsyncCommand(g->redis, on_reply, g, "PUBLISH %s %b", g->channel, msg, (size_t)n);
        break;
    case MODE_REDIS_XADD:
        redisAsyncCommand(g->redis, on_reply, g, "XADD %s MAXLEN ~ 100000 * data %b", g->channel,
                          msg, (size_t)n);
        break;
    case MODE_HTTP_POST: {
        struct evhttp_request *req = evhttp_request_new(on_post_done, g);
        evhttp_add_header(evhttp_request_get_output_headers(req), "Host", g->host);
        evbuffer_add(evhttp_request_get_output_buffer(req), msg, (size_t)n);
        evhttp_make_request(g->post, req, EVHTTP_REQ_POST, g->post_url_path);
        break;
    }
    case MODE_NONE:
        break;
    }
    g->sent++;
}

static void on_tick(evutil_socket_t fd, short what, void *arg) {
    struct gen *g = arg;
    (void)fd, (void)what;
    /* By the clock, not by the number of ticks: a busy loop fires the timer late, and the
     * offered rate must not sink with it. */
    uint64_t now = now_ns();
    if (g->last_tick_ns == 0)
        g->last_tick_ns = now;
    g->credit += g->rate * (double)(now - g->last_tick_ns) / 1e9;
    g->last_tick_ns = now;
    if (g->credit > g->rate) /* at most one second of backlog at once */
        g->credit = g->rate;
    while (g->credit >= 1.0) {
        publish_one(g);
        g->credit -= 1.0;
    }
}

/* --- phases --------------------------------------------------------------------------------- */

static void start_phase(struct gen *g, int phase, double seconds);

static void on_phase(evutil_socket_t fd, short what, void *arg) {
    struct gen *g = arg;
    (void)fd, (void)what;
    switch (g->phase) {
    case 0: /* connect timeout or done */
        g->connect_s = since(&g->t_start);
        event_del(g->ramp_ev);
        start_phase(g, 1, g->warmup);
        break;
    case 1:
        g->measure_from_seq = g->seq + 1;
        clock_gettime(CLOCK_MONOTONIC, &g->t_measure);
        getrusage(RUSAGE_SELF, &g->ru_measure);
        g->srv_cpu0 = g->pid ? proc_cpu_ticks(g->pid) : 0;
        g->sent_measured = g->sent;
        start_phase(g, 2, g->duration);
        break;
    case 2:
        g->measured_s = since(&g->t_measure);
        g->measure_to_seq = g->seq;
        g->sent_measured = g->sent - g->sent_measured;
        event_del(g->tick_ev);
        start_phase(g, 3, 1.0);
        break;
    default:
        event_base_loopexit(g->base, NULL);
    }
}

static void start_phase(struct gen *g, int phase, double seconds) {
    g->phase = phase;
    if (phase == 1 && g->rate > 0) {
        struct timeval tv = {0, (suseconds_t)(g->tick_s * 1e6)};
        event_add(g->tick_ev, &tv);
    }
    struct timeval tv = {(time_t)seconds, (suseconds_t)((seconds - (double)(time_t)seconds) * 1e6)};
    event_add(g->phase_ev, &tv);
}

static void on_ramp(evutil_socket_t fd, short what, void *arg) {
    struct gen *g = arg;
    (void)fd, (void)what;
    /* Keep at most CONNECT_BATCH connections waiting for their head. */
    while (g->ramp_next < g->nconns && g->opened - g->heads - g->failed < CONNECT_BATCH)
        open_conn(g, g->ramp_next++);
    if (g->heads + g->failed >= g->nconns) {
        event_del(g->phase_ev);
        on_phase(-1, 0, g);
    }
}

static uint64_t percentile(const struct gen *g, double q) {
    if (g->lat_n == 0)
        return 0;
    uint64_t want = (uint64_t)ceil(q * (double)g->lat_n), seen = 0;
    for (size_t b = 0; b < LAT_BUCKETS; b++) {
        seen += g->lat[b];
        if (seen >= want)
            return (uint64_t)(b + 1) * LAT_BUCKET_US;
    }
    return g->lat_max_us;
}

static int parse_url(const char *url, char *host, size_t hcap, int *port, char *path, size_t pcap) {
    if (strncmp(url, "http://", 7) != 0)
        return -1;
    const char *h = url + 7, *colon = strchr(h, ':'), *slash = strchr(h, '/');
    if (slash == NULL)
        slash = h + strlen(h);
    const char *hend = colon && colon < slash ? colon : slash;
    if ((size_t)(hend - h) >= hcap)
        return -1;
    memcpy(host, h, (size_t)(hend - h));
    host[hend - h] = '\0';
    *port = colon && colon < slash ? atoi(colon + 1) : 80;
    snprintf(path, pcap, "%s", *slash ? slash : "/");
    return 0;
}

static void usage(void) {
    fprintf(
        stderr,
        "usage: loadgen -u URL [-n conns] [-s sources] [-r msgs/s] [-z bytes] [-d seconds]\n"
        "               [-w warmup-s] [-m redis-publish|redis-xadd|http-post|none]\n"
        "               [-R host:port] [-c channel] [-p post-URL] [-P server-pid] [-l label]\n");
}

int main(int argc, char **argv) {
    struct gen g;
    memset(&g, 0, sizeof(g));
    g.nconns = 100;
    g.nsources = 1;
    g.rate = 100;
    g.size = 100;
    g.duration = 5;
    g.warmup = 1;
    g.mode = MODE_REDIS_PUBLISH;
    g.label = "";
    snprintf(g.redis_host, sizeof(g.redis_host), "127.0.0.1");
    g.redis_port = 6379;
    snprintf(g.channel, sizeof(g.channel), "bench");
    const char *url = NULL, *post = NULL;
    int opt;
    while ((opt = getopt(argc, argv, "u:n:s:r:z:d:w:m:R:c:p:P:l:")) != -1) {
        switch (opt) {
        case 'u':
            url = optarg;
            break;
        case 'n':
            g.nconns = atoi(optarg);
            break;
        case 's':
            g.nsources = atoi(optarg);
            break;
        case 'r':
            g.rate = atof(optarg);
            break;
        case 'z':
            g.size = (size_t)atol(optarg);
            break;
        case 'd':
            g.duration = atof(optarg);
            break;
        case 'w':
            g.warmup = atof(optarg);
            break;
        case 'm':
            g.mode = !strcmp(optarg, "redis-xadd")  ? MODE_REDIS_XADD
                     : !strcmp(optarg, "http-post") ? MODE_HTTP_POST
                     : !strcmp(optarg, "none")      ? MODE_NONE
                                                    : MODE_REDIS_PUBLISH;
            break;
        case 'R': {
            const char *c = strrchr(optarg, ':');
            snprintf(g.redis_host, sizeof(g.redis_host), "%.*s",
                     (int)(c ? (size_t)(c - optarg) : strlen(optarg)), optarg);
            if (c)
                g.redis_port = atoi(c + 1);
            break;
        }
        case 'c':
            snprintf(g.channel, sizeof(g.channel), "%s", optarg);
            break;
        case 'p':
            post = optarg;
            break;
        case 'P':
            g.pid = atoi(optarg);
            break;
        case 'l':
            g.label = optarg;
            break;
        default:
            usage();
            return 2;
        }
    }
    if (url == NULL || g.nconns < 1 || g.nsources < 1 || g.nsources > 250 ||
        parse_url(url, g.host, sizeof(g.host), &g.port, g.path, sizeof(g.path)) != 0) {
        usage();
        return 2;
    }
    /* As many descriptors as the hard limit allows. */
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0) {
        rl.rlim_cur = rl.rlim_max;
        setrlimit(RLIMIT_NOFILE, &rl);
    }
    signal(SIGPIPE, SIG_IGN);
    g.base = event_base_new();
    snprintf(g.request, sizeof(g.request),
             "GET %s HTTP/1.1\r\nHost: %s:%d\r\nAccept: text/event-stream\r\n\r\n", g.path, g.host,
             g.port);
    g.conns = xcalloc((size_t)g.nconns, sizeof(*g.conns));
    g.lat = xcalloc(LAT_BUCKETS, sizeof(*g.lat));
    g.payload_pad = xmalloc(65536);
    memset(g.payload_pad, 'x', 65536);
    g.tick_s = g.rate > 1000 ? 0.001 : g.rate > 0 ? 1.0 / g.rate : 1.0;
    if (g.mode == MODE_REDIS_PUBLISH || g.mode == MODE_REDIS_XADD) {
        g.redis = redisAsyncConnect(g.redis_host, g.redis_port);
        if (g.redis == NULL || g.redis->err) {
            fprintf(stderr, "loadgen: redis %s:%d: %s\n", g.redis_host, g.redis_port,
                    g.redis ? g.redis->errstr : "no memory");
            return 1;
        }
        redisLibeventAttach(g.redis, g.base);
    } else if (g.mode == MODE_HTTP_POST) {
        char phost[64];
        int pport;
        if (post == NULL || parse_url(post, phost, sizeof(phost), &pport, g.post_url_path,
                                      sizeof(g.post_url_path)) != 0) {
            usage();
            return 2;
        }
        g.post = evhttp_connection_base_new(g.base, NULL, phost, (ev_uint16_t)pport);
    }
    g.tick_ev = event_new(g.base, -1, EV_PERSIST, on_tick, &g);
    g.phase_ev = evtimer_new(g.base, on_phase, &g);
    g.ramp_ev = event_new(g.base, -1, EV_PERSIST, on_ramp, &g);
    struct timeval ramp = {0, 1000};
    event_add(g.ramp_ev, &ramp);
    /* Connecting is bounded too: 60 s, then the run goes on with what is connected. */
    struct timeval limit = {60, 0};
    event_add(g.phase_ev, &limit);
    clock_gettime(CLOCK_MONOTONIC, &g.t_start);
    long rss0 = g.pid ? proc_rss_kb(g.pid) : -1;
    event_base_dispatch(g.base);

    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    double gen_cpu = (double)(ru.ru_utime.tv_sec - g.ru_measure.ru_utime.tv_sec) +
                     (double)(ru.ru_stime.tv_sec - g.ru_measure.ru_stime.tv_sec) +
                     (double)(ru.ru_utime.tv_usec - g.ru_measure.ru_utime.tv_usec) / 1e6 +
                     (double)(ru.ru_stime.tv_usec - g.ru_measure.ru_stime.tv_usec) / 1e6;
    double m = g.measured_s > 0 ? g.measured_s : 1;
    unsigned long long srv_cpu = g.pid ? proc_cpu_ticks(g.pid) - g.srv_cpu0 : 0;
    long rss = g.pid ? proc_rss_kb(g.pid) : -1;
    uint64_t expected = g.sent_measured * (uint64_t)(g.heads - g.ended);
    printf("{\"label\":\"%s\",\"clients\":%d,\"connected\":%d,\"failed\":%d,\"rate\":%.0f,"
           "\"size\":%zu,\"seconds\":%.3f,\"published\":%" PRIu64 ",\"expected\":%" PRIu64
           ",\"deliveries\":%" PRIu64 ",\"deliveries_per_s\":%.0f,\"lost\":%" PRIu64
           ",\"duplicated\":%" PRIu64 ",\"reordered\":%" PRIu64 ",\"publish_errors\":%" PRIu64
           ",\"p50_ms\":%.3f,\"p90_ms\":%.3f,\"p99_ms\":%.3f,\"max_ms\":%.3f,"
           "\"gen_cpu_pct\":%.1f,\"server_cpu_pct\":%.1f,\"server_rss_kb_before\":%ld,"
           "\"server_rss_kb\":%ld,\"ended_early\":%d,\"connect_s\":%.3f}\n",
           g.label, g.nconns, g.heads, g.failed, g.rate, g.size, g.measured_s, g.sent_measured,
           expected, g.deliveries, (double)g.deliveries / m, g.lost, g.dups, g.reordered,
           g.publish_errors, (double)percentile(&g, 0.50) / 1e3, (double)percentile(&g, 0.90) / 1e3,
           (double)percentile(&g, 0.99) / 1e3, (double)g.lat_max_us / 1e3, 100.0 * gen_cpu / m,
           100.0 * (double)srv_cpu / (double)sysconf(_SC_CLK_TCK) / m, rss0, rss, g.ended,
           g.connect_s);
    fflush(stdout);
    for (int i = 0; i < g.nconns; i++) {
        if (g.conns[i].bev)
            bufferevent_free(g.conns[i].bev);
        sse_parser_free(g.conns[i].parser);
    }
    return 0;
}
