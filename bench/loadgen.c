/* loadgen: the benchmark load generator. Opens N SSE connections to one URL (spread over source
 * addresses 127.0.0.2, 127.0.0.3, ... so that more than one ephemeral port range fits), parses
 * every stream with sse_parse, and publishes at a given rate and size through Redis PUBLISH,
 * Redis XADD, MQTT or HTTP POST (for peers that take their messages that way). Each payload
 * carries a sequence number and a send time (CLOCK_MONOTONIC, one clock for the whole
 * machine), so receivers count deliveries, lost, duplicated and reordered events, and latency.
 *
 * One run: connect everything (bounded pace), warm up, measure for -d seconds, stop publishing,
 * drain (1 s: what was published while measuring and arrives then still counts), print one
 * JSON line. deliveries_per_s counts what was published in the window and arrived by the end
 * of the drain (lossless is all of it); arrivals_per_s what arrived in the window, whenever
 * published (a saturated server's rate, seconds behind its publisher). Every phase is bounded in
 * time. The servers' RSS (sum, and the largest seen while publishing) and CPU come from /proc/<pid>
 * (-P, a comma-separated list for servers of several processes), the generator's own CPU from
 * getrusage.
 *
 * Past one process's descriptor limit, -F forks receiving processes that share the
 * connections; the first process publishes and runs the phases, and all of them count into
 * shared memory. -k spreads clients and messages over K channels: "{k}" in the URL becomes
 * the connection's number modulo K, "{k}" in the channel the message's sequence modulo K.
 * -Y reconnects streams the server ends (with Last-Event-ID when one was seen), counting them.
 * -S n makes n of the clients slow: a small receive buffer, and no reading for -Z seconds
 * (default 3) once measuring starts; a server should cut them off rather than hold it all.
 *
 *   loadgen -u http://127.0.0.1:8080/events/bench -n 1000 -r 1000 -z 100 -d 5 \
 *           -m redis-publish -R 127.0.0.1:6379 -c bench -P <server pid>
 *   loadgen ... -r 0 -d 1 -m none     idle connections only: RSS per connection */
#define _GNU_SOURCE /* memmem */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <event2/buffer.h>
#include <event2/event.h>
#include <event2/http.h>
#include <hiredis/adapters/libevent.h>
#include <hiredis/async.h>
#include <hiredis/hiredis.h>
#include <mosquitto.h>

#include "sse_parse.h"
#include "xmalloc.h"

#define LAT_BUCKET_US 10
#define LAT_BUCKETS 1000000 /* 10 s at 10 us */
#define CONNECT_BATCH 256   /* connections of one process waiting for their head at once */
#define MAX_PROCS 16
#define MAX_PIDS 16
#define HEAD_MAX 4096

enum mode { MODE_REDIS_PUBLISH, MODE_REDIS_XADD, MODE_MQTT, MODE_HTTP_POST, MODE_NONE };
enum phase { CONNECTING, WARMUP, MEASURING, DRAINING, DONE };
enum chunk_state { CHUNK_SIZE, CHUNK_DATA, CHUNK_CRLF };

/* What one receiving process counted; in shared memory, read by the first process at the end. */
struct tally {
    int heads, failed, ended, reconnects, slow;
    uint64_t deliveries, lost, dups, reordered, lat_n, lat_max_us;
    /* Events of ours that arrived while measuring, whenever they were published: what a
     * saturated server delivers per second, when it is too far behind for `deliveries` (what
     * was published in the window and had arrived by the end of the drain) to say. */
    uint64_t arrivals;
    double cpu_s; /* this process's CPU while measuring */
    uint64_t lat[LAT_BUCKETS];
};

struct shared {
    volatile int phase;
    volatile uint64_t measure_from_seq;
    struct tally tally[MAX_PROCS];
};

#define SEEN_WINDOW 1024

/* One SSE stream, read with a minimal HTTP/1.1 client of our own (raw recv, chunked decoding):
 * evhttp's client takes a response without length or chunking (nchan's) as empty, and a
 * bufferevent costs an ioctl and a copy per read. */
struct conn {
    struct gen *g;
    struct event *ev;
    struct sse_parser *parser;
    evutil_socket_t fd;
    int idx;
    uint64_t last_seq;
    /* The last SEEN_WINDOW positions (seq / stride) up to last_seq: which arrived. An event
     * older than last_seq fills its gap (a server that commits concurrent publishes in another
     * order, nchan's, delivers it late, not never). */
    uint64_t seen[SEEN_WINDOW / 64];
    char *head; /* the response head while it arrives */
    size_t head_len;
    int open, closed, chunked;
    int counted; /* its first head was counted (a reconnect's is not) */
    int slow;    /* stops reading for a while once measuring starts (-S) */
    enum chunk_state cstate;
    size_t chunk_left, crlf_left, size_len;
    char size_line[24];
    char last_id[64];
};

#define MAX_PORTS 16

struct gen {
    /* options */
    char host[64], path[1024], channel[256], broker_host[64], post_url_path[1024];
    int port, broker_port, nconns, nsources, nprocs, channels, reconnect, nslow;
    int ports[MAX_PORTS], nports; /* -u http://host:p1,p2,.../path: connection i goes to p[i % n] */
    double slow_pause;
    int pids[MAX_PIDS], npids;
    double rate, duration, warmup;
    size_t size;
    enum mode mode;
    const char *label;
    /* this process */
    struct event_base *base;
    struct shared *sh;
    struct tally *t;
    int proc, first, count; /* connections [first, first + count) are this process's */
    pid_t parent;
    struct conn *conns;
    int opened, ramp_next;
    struct event *ramp_ev, *poll_ev, *resume_ev;
    int seen_phase;
    struct rusage ru_measure;
    /* the publishing process */
    redisAsyncContext *redis;
    struct mosquitto *mosq;
    struct evhttp_connection *post;
    struct event *tick_ev, *phase_ev, *rss_ev;
    double tick_s, credit, connect_s, measured_s;
    uint64_t last_tick_ns;
    uint64_t seq, sent, sent_measured, publish_errors;
    long rss_max_kb;
    struct timespec t_start, t_measure;
    unsigned long long srv_cpu0;
    char *payload_pad;
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

static struct timeval seconds_tv(double s) {
    return (struct timeval){(time_t)s, (suseconds_t)((s - (double)(time_t)s) * 1e6)};
}

static double cpu_seconds(const struct rusage *ru) {
    return (double)(ru->ru_utime.tv_sec + ru->ru_stime.tv_sec) +
           (double)(ru->ru_utime.tv_usec + ru->ru_stime.tv_usec) / 1e6;
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

/* A memory figure of a process in KiB: VmRSS from status, or Pss (RSS with each shared page
 * divided among the processes that share it: nginx workers share their memory zone) from
 * smaps_rollup. -1 when unreadable. */
static long proc_mem_kb(int pid, int pss) {
    char path[64], line[256];
    snprintf(path, sizeof(path), pss ? "/proc/%d/smaps_rollup" : "/proc/%d/status", pid);
    FILE *f = fopen(path, "r");
    long kb = -1;
    while (f != NULL && fgets(line, sizeof(line), f) != NULL) {
        if (sscanf(line, pss ? "Pss: %ld kB" : "VmRSS: %ld kB", &kb) == 1)
            break;
    }
    if (f)
        fclose(f);
    return kb;
}

static unsigned long long servers_cpu(const struct gen *g) {
    unsigned long long sum = 0;
    for (int i = 0; i < g->npids; i++)
        sum += proc_cpu_ticks(g->pids[i]);
    return sum;
}

static long servers_mem_kb(const struct gen *g, int pss) {
    long sum = 0;
    for (int i = 0; i < g->npids; i++) {
        long kb = proc_mem_kb(g->pids[i], pss);
        if (kb < 0)
            return -1;
        sum += kb;
    }
    return g->npids ? sum : -1;
}

static int phase(const struct gen *g) {
    return __atomic_load_n(&g->sh->phase, __ATOMIC_ACQUIRE);
}

/* Replaces the first "{k}" of template with n. */
static void expand(char *out, size_t cap, const char *template, long n) {
    const char *k = strstr(template, "{k}");
    if (k == NULL)
        snprintf(out, cap, "%s", template);
    else
        snprintf(out, cap, "%.*s%ld%s", (int)(k - template), template, n, k + 3);
}

/* --- receiving ------------------------------------------------------------------------------ */

/* The digits at *p (advanced past them). */
static uint64_t digits(const char **p, const char *end) {
    uint64_t v = 0;
    for (; *p < end && **p >= '0' && **p <= '9'; (*p)++)
        v = v * 10 + (uint64_t)(**p - '0');
    return v;
}

/* seq and t of what publish() sends, {"seq":N,"t":T,...}: read at fixed places (at 6M events
 * a second, searching each event for them cost the generator a fifth of its time), else
 * searched for, for a server that passes the payload on in another shape. */
static int our_payload(const char *d, size_t n, uint64_t *seq, uint64_t *sent) {
    const char *end = d + n, *p = d + 7;
    if (n > 7 && memcmp(d, "{\"seq\":", 7) == 0) {
        *seq = digits(&p, end);
        if (end - p > 5 && memcmp(p, ",\"t\":", 5) == 0) {
            p += 5;
            *sent = digits(&p, end);
            return 1;
        }
    }
    const char *s = memmem(d, n, "\"seq\":", 6), *tm = memmem(d, n, "\"t\":", 4);
    if (s == NULL || tm == NULL)
        return 0;
    s += 6, tm += 4;
    *seq = digits(&s, end);
    *sent = digits(&tm, end);
    return 1;
}

static void on_event(void *arg, const struct sse_event *ev) {
    struct conn *c = arg;
    struct gen *g = c->g;
    struct tally *t = g->t;
    if (g->reconnect && ev->last_id_len > 0 && ev->last_id_len < sizeof(c->last_id)) {
        memcpy(c->last_id, ev->last_id, ev->last_id_len);
        c->last_id[ev->last_id_len] = '\0';
    }
    uint64_t seq, sent;
    if (!our_payload(ev->data, ev->data_len, &seq, &sent))
        return; /* not ours (a gap or close event) */
    uint64_t stride = (uint64_t)g->channels, from = g->sh->measure_from_seq;
    uint64_t pos = seq / stride, slot = pos % SEEN_WINDOW, bit = 1ull << (slot % 64);
    if (c->last_seq != 0 && seq <= c->last_seq) {
        /* Late: a duplicate if seen (or too old to tell), else the delivery of a gap. */
        if (c->last_seq / stride - pos >= SEEN_WINDOW || (c->seen[slot / 64] & bit)) {
            t->dups++;
            return;
        }
        t->reordered++;
        c->seen[slot / 64] |= bit;
        if (from != 0 && seq > from && t->lost > 0)
            t->lost--; /* counted lost when the gap opened */
    } else {
        if (c->last_seq != 0 && seq > c->last_seq + stride && from != 0 && seq > from)
            t->lost += (seq - c->last_seq) / stride - 1;
        /* The positions passed over are not seen yet. */
        uint64_t first = c->last_seq != 0 ? c->last_seq / stride + 1 : pos;
        if (pos - first >= SEEN_WINDOW)
            first = pos - SEEN_WINDOW + 1;
        for (uint64_t q = first; q < pos; q++)
            c->seen[(q % SEEN_WINDOW) / 64] &= ~(1ull << (q % SEEN_WINDOW % 64));
        c->seen[slot / 64] |= bit;
        c->last_seq = seq;
    }
    /* Events published while measuring count when they arrive, during the drain too: the
     * rate is what was published in the window and delivered, not what happened to arrive
     * inside it (the window would cut off the events in flight at its end). */
    int p = phase(g);
    if (p == MEASURING)
        t->arrivals++;
    if (p < MEASURING || p > DRAINING || from == 0 || seq < from)
        return;
    t->deliveries++;
    uint64_t us = (now_ns() - sent) / 1000;
    if (us > t->lat_max_us)
        t->lat_max_us = us;
    size_t b = us / LAT_BUCKET_US;
    t->lat[b < LAT_BUCKETS ? b : LAT_BUCKETS - 1]++;
    t->lat_n++;
}

static void open_conn(struct gen *g, struct conn *c);

static void conn_end(struct conn *c, int failed) {
    struct gen *g = c->g;
    if (c->closed)
        return;
    c->closed = 1;
    event_free(c->ev);
    c->ev = NULL;
    close(c->fd);
    free(c->head);
    c->head = NULL;
    int was_open = c->open;
    if (g->reconnect && was_open && phase(g) <= MEASURING) {
        g->t->reconnects++;
        open_conn(g, c);
        return;
    }
    if (failed)
        g->t->failed++;
    else
        g->t->ended++; /* the stream ended while we were still reading */
}

/* The response head: status 200, and whether the body is chunked. Returns the bytes of buf
 * that belong to the head, or -1 when more is needed or the response is not a stream. */
static ssize_t read_head(struct conn *c, const char *buf, size_t n) {
    if (c->head == NULL)
        c->head = xmalloc(HEAD_MAX + 1);
    size_t take = n < HEAD_MAX - c->head_len ? n : HEAD_MAX - c->head_len;
    memcpy(c->head + c->head_len, buf, take);
    size_t before = c->head_len;
    c->head_len += take;
    c->head[c->head_len] = '\0';
    char *end = strstr(c->head, "\r\n\r\n");
    if (end == NULL) {
        if (c->head_len == HEAD_MAX)
            conn_end(c, 1);
        return -1;
    }
    size_t used = (size_t)(end + 4 - c->head) - before;
    int ok = strncmp(c->head, "HTTP/1.1 200", 12) == 0 || strncmp(c->head, "HTTP/1.0 200", 12) == 0;
    for (char *p = c->head; *p; p++)
        *p = (char)(*p >= 'A' && *p <= 'Z' ? *p + 32 : *p);
    c->chunked = strstr(c->head, "\ntransfer-encoding: chunked") != NULL;
    free(c->head);
    c->head = NULL;
    if (!ok) {
        conn_end(c, 1);
        return -1;
    }
    if (!c->counted) /* a first head, not a reconnect's */
        c->g->t->heads++;
    c->counted = 1;
    c->open = 1;
    return (ssize_t)used;
}

/* Body bytes: chunked framing taken off, the rest to the SSE parser. */
static void body(struct conn *c, const char *p, size_t n) {
    if (!c->chunked) {
        sse_parser_feed(c->parser, p, n);
        return;
    }
    while (n > 0 && !c->closed) {
        switch (c->cstate) {
        case CHUNK_SIZE: /* hex size, maybe extensions, then CRLF */
            if (*p == '\n') {
                c->size_line[c->size_len] = '\0';
                c->chunk_left = strtoul(c->size_line, NULL, 16);
                c->size_len = 0;
                if (c->chunk_left == 0) {
                    conn_end(c, 0);
                    return;
                }
                c->cstate = CHUNK_DATA;
            } else if (c->size_len < sizeof(c->size_line) - 1) {
                c->size_line[c->size_len++] = *p;
            }
            p++, n--;
            break;
        case CHUNK_DATA: {
            size_t k = n < c->chunk_left ? n : c->chunk_left;
            sse_parser_feed(c->parser, p, k);
            p += k, n -= k, c->chunk_left -= k;
            if (c->chunk_left == 0) {
                c->cstate = CHUNK_CRLF;
                c->crlf_left = 2;
            }
            break;
        }
        case CHUNK_CRLF: {
            size_t k = n < c->crlf_left ? n : c->crlf_left;
            p += k, n -= k, c->crlf_left -= k;
            if (c->crlf_left == 0)
                c->cstate = CHUNK_SIZE;
            break;
        }
        }
    }
}

static void on_readable(evutil_socket_t fd, short what, void *arg) {
    static char buf[65536];
    struct conn *c = arg;
    (void)what;
    ssize_t n = recv(fd, buf, sizeof(buf), 0);
    if (n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR)) {
        conn_end(c, !c->open);
        return;
    }
    if (n < 0)
        return;
    const char *p = buf;
    if (!c->open) {
        ssize_t used = read_head(c, buf, (size_t)n);
        if (used < 0)
            return;
        p += used, n -= used;
    }
    body(c, p, (size_t)n);
}

static void on_connected(evutil_socket_t fd, short what, void *arg) {
    struct conn *c = arg;
    struct gen *g = c->g;
    (void)what;
    int err = 0;
    socklen_t len = sizeof(err);
    getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len);
    char path[1100], req[1400], last[96] = "";
    int port = g->ports[c->idx % g->nports];
    expand(path, sizeof(path), g->path, c->idx % g->channels);
    if (c->last_id[0])
        snprintf(last, sizeof(last), "Last-Event-ID: %s\r\n", c->last_id);
    int rn = snprintf(req, sizeof(req),
                      "GET %s HTTP/1.1\r\nHost: %s:%d\r\nAccept: text/event-stream\r\n%s\r\n", path,
                      g->host, port, last);
    if (err != 0 || send(fd, req, (size_t)rn, MSG_NOSIGNAL) != rn) {
        conn_end(c, 1);
        return;
    }
    event_assign(c->ev, g->base, fd, EV_READ | EV_PERSIST, on_readable, c);
    event_add(c->ev, NULL);
}

static void open_conn(struct gen *g, struct conn *c) {
    c->g = g;
    c->closed = c->open = 0;
    c->head_len = 0;
    c->cstate = CHUNK_SIZE;
    c->size_len = 0;
    sse_parser_free(c->parser);
    c->parser = sse_parser_new(1024 * 1024, on_event, c);
    c->fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (c->fd >= 0 && c->slow) { /* a small window: the server, not the kernel, holds its backlog */
        int size = 16384;
        setsockopt(c->fd, SOL_SOCKET, SO_RCVBUF, &size, sizeof(size));
    }
    struct sockaddr_in src = {.sin_family = AF_INET}, dst = {.sin_family = AF_INET};
    if (c->fd >= 0 && g->nsources > 1) {
        char addr[32];
        snprintf(addr, sizeof(addr), "127.0.0.%d", 2 + c->idx % g->nsources);
        inet_pton(AF_INET, addr, &src.sin_addr);
        /* The port is chosen at connect, by the 4-tuple: choosing it at bind searches every
         * bound port, and 100k binds become quadratic. */
        int one = 1;
        setsockopt(c->fd, IPPROTO_IP, IP_BIND_ADDRESS_NO_PORT, &one, sizeof(one));
        if (bind(c->fd, (struct sockaddr *)&src, sizeof(src)) != 0) {
            close(c->fd);
            c->fd = -1;
        }
    }
    dst.sin_port = htons((uint16_t)g->ports[c->idx % g->nports]);
    inet_pton(AF_INET, g->host, &dst.sin_addr);
    if (c->fd < 0 ||
        (connect(c->fd, (struct sockaddr *)&dst, sizeof(dst)) != 0 && errno != EINPROGRESS)) {
        if (c->fd >= 0)
            close(c->fd);
        c->closed = 1;
        g->t->failed++;
        return;
    }
    c->ev = event_new(g->base, c->fd, EV_WRITE, on_connected, c);
    event_add(c->ev, NULL);
}

static void on_ramp(evutil_socket_t fd, short what, void *arg) {
    struct gen *g = arg;
    (void)fd, (void)what;
    /* Keep at most CONNECT_BATCH connections waiting for their head. */
    while (g->ramp_next < g->count && g->opened - g->t->heads - g->t->failed < CONNECT_BATCH) {
        g->opened++;
        open_conn(g, &g->conns[g->ramp_next++]);
    }
    if (g->ramp_next >= g->count || phase(g) != CONNECTING)
        event_del(g->ramp_ev);
}

/* Receivers follow the phases the publishing process sets: CPU is counted while measuring,
 * and a receiving process ends at DONE. */
/* Slow clients read again: what the kernel holds, then the end of the stream if the server
 * cut them off (they reconnect with -Y). */
static void on_resume(evutil_socket_t fd, short what, void *arg) {
    struct gen *g = arg;
    (void)fd, (void)what;
    for (int i = 0; i < g->count; i++) {
        struct conn *c = &g->conns[i];
        if (c->slow && !c->closed && c->open)
            event_add(c->ev, NULL);
    }
}

/* Slow clients stop reading for -Z seconds. */
static void pause_slow(struct gen *g) {
    for (int i = 0; i < g->count; i++) {
        struct conn *c = &g->conns[i];
        if (c->slow && !c->closed && c->open) {
            event_del(c->ev);
            g->t->slow++;
        }
    }
    struct timeval tv = seconds_tv(g->slow_pause);
    event_add(g->resume_ev, &tv);
}

static void on_poll(evutil_socket_t fd, short what, void *arg) {
    struct gen *g = arg;
    (void)fd, (void)what;
    int p = phase(g);
    if (p == g->seen_phase && (g->proc == 0 || getppid() == g->parent))
        return;
    struct rusage ru;
    if (p >= MEASURING && g->seen_phase < MEASURING) {
        getrusage(RUSAGE_SELF, &g->ru_measure);
        if (g->nslow > 0)
            pause_slow(g);
    }
    if (p >= DRAINING && g->seen_phase < DRAINING) {
        getrusage(RUSAGE_SELF, &ru);
        g->t->cpu_s = cpu_seconds(&ru) - cpu_seconds(&g->ru_measure);
    }
    g->seen_phase = p;
    if (g->proc > 0 && (p == DONE || getppid() != g->parent)) /* done, or orphaned */
        event_base_loopexit(g->base, NULL);
}

static void receiver_start(struct gen *g) {
    g->t = &g->sh->tally[g->proc];
    g->first = (int)((long)g->nconns * g->proc / g->nprocs);
    g->count = (int)((long)g->nconns * (g->proc + 1) / g->nprocs) - g->first;
    g->conns = xcalloc((size_t)(g->count > 0 ? g->count : 1), sizeof(*g->conns));
    for (int i = 0; i < g->count; i++) {
        struct conn *c = &g->conns[i];
        c->idx = g->first + i;
        /* Spread over the connections: every (n / S)-th is slow. */
        c->slow =
            g->nslow > 0 && c->idx % (g->nconns / g->nslow > 0 ? g->nconns / g->nslow : 1) == 0;
    }
    g->ramp_ev = event_new(g->base, -1, EV_PERSIST, on_ramp, g);
    struct timeval ramp = {0, 1000};
    event_add(g->ramp_ev, &ramp);
    g->poll_ev = event_new(g->base, -1, EV_PERSIST, on_poll, g);
    g->resume_ev = evtimer_new(g->base, on_resume, g);
    struct timeval poll = {0, 2000};
    event_add(g->poll_ev, &poll);
}

static void receiver_free(struct gen *g) {
    /* Reset, not closed: a close leaves every connection in TIME_WAIT here for a minute, and
     * the next run's connections would find their ports taken. */
    struct linger reset = {1, 0};
    for (int i = 0; i < g->count; i++) {
        struct conn *c = &g->conns[i];
        if (!c->closed && c->ev != NULL) {
            event_free(c->ev);
            setsockopt(c->fd, SOL_SOCKET, SO_LINGER, &reset, sizeof(reset));
            close(c->fd);
        }
        free(c->head);
        sse_parser_free(c->parser);
    }
    free(g->conns);
    event_free(g->ramp_ev);
    event_free(g->poll_ev);
    event_free(g->resume_ev);
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
    char msg[65536], channel[300];
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
    expand(channel, sizeof(channel), g->channel, (long)(seq % (uint64_t)g->channels));
    switch (g->mode) {
    case MODE_REDIS_PUBLISH:
        redisAsyncCommand(g->redis, on_reply, g, "PUBLISH %s %b", channel, msg, (size_t)n);
        break;
    case MODE_REDIS_XADD:
        redisAsyncCommand(g->redis, on_reply, g, "XADD %s MAXLEN ~ 100000 * data %b", channel, msg,
                          (size_t)n);
        break;
    case MODE_MQTT:
        if (mosquitto_publish(g->mosq, NULL, channel, n, msg, 0, false) != MOSQ_ERR_SUCCESS)
            g->publish_errors++;
        break;
    case MODE_HTTP_POST: {
        struct evhttp_request *req = evhttp_request_new(on_post_done, g);
        evhttp_add_header(evhttp_request_get_output_headers(req), "Host", g->host);
        evbuffer_add(evhttp_request_get_output_buffer(req), msg, (size_t)n);
        char path[1100];
        expand(path, sizeof(path), g->post_url_path, (long)(seq % (uint64_t)g->channels));
        evhttp_make_request(g->post, req, EVHTTP_REQ_POST, path);
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

static void on_rss(evutil_socket_t fd, short what, void *arg) {
    struct gen *g = arg;
    (void)fd, (void)what;
    long kb = servers_mem_kb(g, 0);
    if (kb > g->rss_max_kb)
        g->rss_max_kb = kb;
}

/* --- phases (the publishing process) -------------------------------------------------------- */

static void set_phase(struct gen *g, int p, double seconds) {
    __atomic_store_n(&g->sh->phase, p, __ATOMIC_RELEASE);
    struct timeval tv = seconds_tv(seconds);
    event_add(g->phase_ev, &tv);
}

static void totals(const struct gen *g, int *heads, int *failed) {
    *heads = *failed = 0;
    for (int i = 0; i < g->nprocs; i++) {
        *heads += g->sh->tally[i].heads;
        *failed += g->sh->tally[i].failed;
    }
}

static void on_phase(evutil_socket_t fd, short what, void *arg) {
    struct gen *g = arg;
    (void)fd, (void)what;
    int heads, failed;
    switch (phase(g)) {
    case CONNECTING: /* polled; bounded at 60 s */
        totals(g, &heads, &failed);
        if (heads + failed < g->nconns && since(&g->t_start) < 60) {
            struct timeval tv = {0, 10000};
            event_add(g->phase_ev, &tv);
            break;
        }
        g->connect_s = since(&g->t_start);
        if (g->rate > 0) {
            struct timeval tv = seconds_tv(g->tick_s);
            event_add(g->tick_ev, &tv);
            struct timeval rtv = {0, 100000};
            event_add(g->rss_ev, &rtv);
        }
        set_phase(g, WARMUP, g->warmup);
        break;
    case WARMUP:
        g->sh->measure_from_seq = g->seq + 1;
        clock_gettime(CLOCK_MONOTONIC, &g->t_measure);
        g->srv_cpu0 = servers_cpu(g);
        g->sent_measured = g->sent;
        set_phase(g, MEASURING, g->duration);
        break;
    case MEASURING:
        g->measured_s = since(&g->t_measure);
        g->sent_measured = g->sent - g->sent_measured;
        g->srv_cpu0 = servers_cpu(g) - g->srv_cpu0;
        event_del(g->tick_ev);
        set_phase(g, DRAINING, 1.0);
        break;
    default:
        __atomic_store_n(&g->sh->phase, DONE, __ATOMIC_RELEASE);
        event_base_loopexit(g->base, NULL);
    }
}

static uint64_t percentile(const struct tally *t, double q) {
    if (t->lat_n == 0)
        return 0;
    uint64_t want = (uint64_t)ceil(q * (double)t->lat_n), seen = 0;
    for (size_t b = 0; b < LAT_BUCKETS; b++) {
        seen += t->lat[b];
        if (seen >= want)
            return (uint64_t)(b + 1) * LAT_BUCKET_US;
    }
    return t->lat_max_us;
}

/* http://host[:port[,port...]][/path]: ports gets every port (at most cap), *n how many. */
static int parse_url_ports(const char *url, char *host, size_t hcap, int *ports, int cap, int *n,
                           char *path, size_t pcap) {
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
    *n = 0;
    if (colon && colon < slash) {
        for (const char *p = colon + 1; p < slash && *n < cap;) {
            ports[(*n)++] = atoi(p);
            const char *comma = memchr(p, ',', (size_t)(slash - p));
            if (comma == NULL)
                break;
            p = comma + 1;
        }
    }
    if (*n == 0)
        ports[(*n)++] = 80;
    snprintf(path, pcap, "%s", *slash ? slash : "/");
    return 0;
}

static int parse_url(const char *url, char *host, size_t hcap, int *port, char *path, size_t pcap) {
    int n;
    return parse_url_ports(url, host, hcap, port, 1, &n, path, pcap);
}

static void usage(void) {
    fprintf(stderr,
            "usage: loadgen -u URL (http://host:port[,port...]/path) [-n conns] [-s sources] [-F "
            "procs] [-k channels] [-Y]\n"
            "               [-S slow-clients] [-Z slow-pause-s]\n"
            "               [-r msgs/s] [-z bytes] [-d seconds] [-w warmup-s]\n"
            "               [-m redis-publish|redis-xadd|mqtt|http-post|none]\n"
            "               [-R host:port (Redis or MQTT broker)] [-c channel] [-p post-URL]\n"
            "               [-P server-pid[,pid...]] [-l label]\n");
}

static int connect_publisher(struct gen *g, const char *post) {
    switch (g->mode) {
    case MODE_REDIS_PUBLISH:
    case MODE_REDIS_XADD:
        g->redis = redisAsyncConnect(g->broker_host, g->broker_port);
        if (g->redis == NULL || g->redis->err) {
            fprintf(stderr, "loadgen: redis %s:%d: %s\n", g->broker_host, g->broker_port,
                    g->redis ? g->redis->errstr : "no memory");
            return -1;
        }
        redisLibeventAttach(g->redis, g->base);
        return 0;
    case MODE_MQTT:
        /* libmosquitto's own thread sends; started after the receivers were forked. */
        mosquitto_lib_init();
        g->mosq = mosquitto_new(NULL, true, NULL);
        if (g->mosq == NULL ||
            mosquitto_connect(g->mosq, g->broker_host, g->broker_port, 30) != MOSQ_ERR_SUCCESS ||
            mosquitto_loop_start(g->mosq) != MOSQ_ERR_SUCCESS) {
            fprintf(stderr, "loadgen: MQTT broker %s:%d unreachable\n", g->broker_host,
                    g->broker_port);
            return -1;
        }
        return 0;
    case MODE_HTTP_POST: {
        char phost[64];
        int pport;
        if (post == NULL || parse_url(post, phost, sizeof(phost), &pport, g->post_url_path,
                                      sizeof(g->post_url_path)) != 0)
            return -1;
        g->post = evhttp_connection_base_new(g->base, NULL, phost, (ev_uint16_t)pport);
        return 0;
    }
    case MODE_NONE:
        return 0;
    }
    return 0;
}

static void report(struct gen *g, long rss0, long pss0) {
    struct tally *sum = xcalloc(1, sizeof(*sum));
    for (int i = 0; i < g->nprocs; i++) {
        const struct tally *t = &g->sh->tally[i];
        sum->heads += t->heads;
        sum->failed += t->failed;
        sum->ended += t->ended;
        sum->reconnects += t->reconnects;
        sum->slow += t->slow;
        sum->deliveries += t->deliveries;
        sum->arrivals += t->arrivals;
        sum->lost += t->lost;
        sum->dups += t->dups;
        sum->reordered += t->reordered;
        sum->lat_n += t->lat_n;
        sum->cpu_s += t->cpu_s;
        if (t->lat_max_us > sum->lat_max_us)
            sum->lat_max_us = t->lat_max_us;
        for (size_t b = 0; b < LAT_BUCKETS; b++)
            sum->lat[b] += t->lat[b];
    }
    double m = g->measured_s > 0 ? g->measured_s : 1;
    long rss = servers_mem_kb(g, 0), pss = servers_mem_kb(g, 1);
    uint64_t expected =
        g->sent_measured * (uint64_t)(sum->heads - sum->ended) / (uint64_t)g->channels;
    printf("{\"label\":\"%s\",\"clients\":%d,\"connected\":%d,\"failed\":%d,\"procs\":%d,"
           "\"channels\":%d,\"servers\":%d,\"rate\":%.0f,"
           "\"size\":%zu,\"seconds\":%.3f,\"published\":%" PRIu64 ",\"expected\":%" PRIu64
           ",\"deliveries\":%" PRIu64 ",\"deliveries_per_s\":%.0f,\"arrivals_per_s\":%.0f"
           ",\"lost\":%" PRIu64 ",\"duplicated\":%" PRIu64 ",\"reordered\":%" PRIu64
           ",\"publish_errors\":%" PRIu64
           ",\"reconnects\":%d,\"slow\":%d,\"p50_ms\":%.3f,\"p90_ms\":%.3f,\"p99_ms\":%.3f,\"max_"
           "ms\":%.3f,"
           "\"gen_cpu_pct\":%.1f,\"server_cpu_pct\":%.1f,\"server_rss_kb_before\":%ld,"
           "\"server_rss_kb\":%ld,\"server_rss_kb_max\":%ld,\"server_pss_kb_before\":%ld,"
           "\"server_pss_kb\":%ld,\"ended_early\":%d,"
           "\"connect_s\":%.3f}\n",
           g->label, g->nconns, sum->heads, sum->failed, g->nprocs, g->channels, g->npids, g->rate,
           g->size, g->measured_s, g->sent_measured, expected, sum->deliveries,
           (double)sum->deliveries / m, (double)sum->arrivals / m, sum->lost, sum->dups,
           sum->reordered, g->publish_errors, sum->reconnects, sum->slow,
           (double)percentile(sum, 0.50) / 1e3, (double)percentile(sum, 0.90) / 1e3,
           (double)percentile(sum, 0.99) / 1e3, (double)sum->lat_max_us / 1e3,
           100.0 * sum->cpu_s / m, 100.0 * (double)g->srv_cpu0 / (double)sysconf(_SC_CLK_TCK) / m,
           rss0, rss, g->rss_max_kb > rss ? g->rss_max_kb : rss, pss0, pss, sum->ended,
           g->connect_s);
    fflush(stdout);
    free(sum);
}

static int parse_args(struct gen *g, int argc, char **argv, const char **url, const char **post) {
    int opt;
    while ((opt = getopt(argc, argv, "u:n:s:F:k:YS:Z:r:z:d:w:m:R:c:p:P:l:")) != -1) {
        switch (opt) {
        case 'u':
            *url = optarg;
            break;
        case 'n':
            g->nconns = atoi(optarg);
            break;
        case 's':
            g->nsources = atoi(optarg);
            break;
        case 'F':
            g->nprocs = atoi(optarg);
            break;
        case 'k':
            g->channels = atoi(optarg);
            break;
        case 'S':
            g->nslow = atoi(optarg);
            break;
        case 'Z':
            g->slow_pause = atof(optarg);
            break;
        case 'Y':
            g->reconnect = 1;
            break;
        case 'r':
            g->rate = atof(optarg);
            break;
        case 'z':
            g->size = (size_t)atol(optarg);
            break;
        case 'd':
            g->duration = atof(optarg);
            break;
        case 'w':
            g->warmup = atof(optarg);
            break;
        case 'm':
            g->mode = !strcmp(optarg, "redis-xadd")  ? MODE_REDIS_XADD
                      : !strcmp(optarg, "mqtt")      ? MODE_MQTT
                      : !strcmp(optarg, "http-post") ? MODE_HTTP_POST
                      : !strcmp(optarg, "none")      ? MODE_NONE
                                                     : MODE_REDIS_PUBLISH;
            break;
        case 'R': {
            const char *c = strrchr(optarg, ':');
            snprintf(g->broker_host, sizeof(g->broker_host), "%.*s",
                     (int)(c ? (size_t)(c - optarg) : strlen(optarg)), optarg);
            if (c)
                g->broker_port = atoi(c + 1);
            break;
        }
        case 'c':
            snprintf(g->channel, sizeof(g->channel), "%s", optarg);
            break;
        case 'p':
            *post = optarg;
            break;
        case 'P':
            for (char *s = strtok(optarg, ","); s && g->npids < MAX_PIDS; s = strtok(NULL, ","))
                g->pids[g->npids++] = atoi(s);
            break;
        case 'l':
            g->label = optarg;
            break;
        default:
            return -1;
        }
    }
    if (*url == NULL || g->nconns < 1 || g->nsources < 1 || g->nsources > 250 || g->nprocs < 1 ||
        g->nprocs > MAX_PROCS || g->channels < 1 ||
        parse_url_ports(*url, g->host, sizeof(g->host), g->ports, MAX_PORTS, &g->nports, g->path,
                        sizeof(g->path)) != 0)
        return -1;
    g->port = g->ports[0];
    return 0;
}

int main(int argc, char **argv) {
    static struct gen g;
    g.nconns = 100;
    g.nsources = 1;
    g.nprocs = 1;
    g.channels = 1;
    g.rate = 100;
    g.size = 100;
    g.duration = 5;
    g.warmup = 1;
    g.mode = MODE_REDIS_PUBLISH;
    g.label = "";
    g.slow_pause = 3;
    snprintf(g.broker_host, sizeof(g.broker_host), "127.0.0.1");
    g.broker_port = 6379;
    snprintf(g.channel, sizeof(g.channel), "bench");
    const char *url = NULL, *post = NULL;
    if (parse_args(&g, argc, argv, &url, &post) != 0) {
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
    g.sh = mmap(NULL, sizeof(*g.sh), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    if (g.sh == MAP_FAILED) {
        perror("loadgen: mmap");
        return 1;
    }
    /* Receiving processes first: each makes its own event base after the fork. */
    g.parent = getpid();
    pid_t children[MAX_PROCS] = {0};
    for (int p = 1; p < g.nprocs; p++) {
        children[p] = fork();
        if (children[p] < 0) {
            perror("loadgen: fork");
            return 1;
        }
        if (children[p] == 0) {
            g.proc = p;
            g.base = event_base_new();
            receiver_start(&g);
            event_base_dispatch(g.base);
            receiver_free(&g);
            event_base_free(g.base);
            _exit(0);
        }
    }
    g.base = event_base_new();
    if (connect_publisher(&g, post) != 0) {
        usage();
        __atomic_store_n(&g.sh->phase, DONE, __ATOMIC_RELEASE);
        return 2;
    }
    g.payload_pad = xmalloc(65536);
    memset(g.payload_pad, 'x', 65536);
    g.tick_s = g.rate > 1000 ? 0.001 : g.rate > 0 ? 1.0 / g.rate : 1.0;
    g.tick_ev = event_new(g.base, -1, EV_PERSIST, on_tick, &g);
    g.rss_ev = event_new(g.base, -1, EV_PERSIST, on_rss, &g);
    g.phase_ev = evtimer_new(g.base, on_phase, &g);
    receiver_start(&g); /* this process receives its share too */
    struct timeval tv = {0, 10000};
    event_add(g.phase_ev, &tv);
    clock_gettime(CLOCK_MONOTONIC, &g.t_start);
    long rss0 = servers_mem_kb(&g, 0), pss0 = servers_mem_kb(&g, 1);
    event_base_dispatch(g.base);
    on_poll(-1, 0, &g); /* this process's CPU while measuring */
    for (int p = 1; p < g.nprocs; p++)
        waitpid(children[p], NULL, 0);
    report(&g, rss0, pss0);
    receiver_free(&g);
    if (g.mosq) {
        mosquitto_disconnect(g.mosq);
        mosquitto_loop_stop(g.mosq, false);
        mosquitto_destroy(g.mosq);
        mosquitto_lib_cleanup();
    }
    if (g.redis)
        redisAsyncFree(g.redis);
    if (g.post)
        evhttp_connection_free(g.post);
    event_free(g.tick_ev);
    event_free(g.rss_ev);
    event_free(g.phase_ev);
    event_base_free(g.base);
    free(g.payload_pad);
    munmap(g.sh, sizeof(*g.sh));
    return 0;
}
