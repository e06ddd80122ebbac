#include "bridge.h"

#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/event.h>
#include <jansson.h>

#include "client.h"
#include "http.h"
#include "log.h"
#include "sse.h"
#include "source_redis.h"
#include "translate.h"
#include "xmalloc.h"

unsigned long long bridge_now_ms(const struct bridge *b) {
    struct timeval tv;
    event_base_gettimeofday_cached(b->base, &tv);
    return (unsigned long long)tv.tv_sec * 1000 + (unsigned long long)tv.tv_usec / 1000;
}

void bridge_sync_topic(struct bridge *b, struct topic *t) {
    if (b->redis != NULL)
        source_redis_sync(b->redis, t);
}

static bool is_close_event(const struct bridge *b, const struct sse_fields *f) {
    const char *name = b->cfg->close_event;
    size_t n = strlen(name);
    return n > 0 && f->event != NULL && f->event_len == n && memcmp(f->event, name, n) == 0;
}

void bridge_deliver(struct bridge *b, enum topic_kind kind, const char *subject, size_t subject_len,
                    const char *channel, size_t channel_len, const char *payload,
                    size_t payload_len) {
    b->metrics.messages_in++;
    struct topic *t = hub_find(b->hub, kind, subject, subject_len);
    if (t == NULL || t->nsubs == 0)
        return;
    if (payload_len > b->cfg->max_message_size) {
        b->metrics.messages_dropped++;
        log_warn("deliver: dropped a %zu-byte message on %s (max_message_size %zu)", payload_len,
                 t->name, b->cfg->max_message_size);
        return;
    }
    struct translate_in in = {channel, channel_len, payload, payload_len, NULL};
    bool parsed = false;
    /* One translation and one encoding per feed (route), shared by all of its clients. */
    for (struct feed *f = t->feeds; f; f = f->next) {
        if (f->subs == NULL)
            continue;
        const struct route *r = f->key;
        if (!parsed && translate_needs_json(&r->cfg->rules)) {
            parsed = true;
            /* \u0000 is valid JSON: allowed here, and the encoder keeps NUL out of names and ids.
             */
            in.json = json_loadb(payload, payload_len, JSON_ALLOW_NUL, NULL);
            if (in.json != NULL && !json_is_object(in.json)) {
                json_decref(in.json);
                in.json = NULL;
            }
            if (in.json == NULL)
                b->metrics.messages_non_json++;
        }
        struct translate_out out;
        translate(&r->cfg->rules, &in, &out);
        struct msg *frame = sse_frame(&out.f);
        bool closing = is_close_event(b, &out.f);
        translate_out_clear(&out);
        for (struct hub_sub *s = f->subs, *next; s; s = next) {
            next = s->next; /* a client cut off below leaves the list */
            struct client *c = s->client;
            if (client_send(c, frame) == 0 && closing)
                client_finish(c);
        }
        msg_unref(frame);
    }
    json_decref(in.json);
}

static void on_heartbeat(evutil_socket_t fd, short what, void *arg) {
    struct bridge *b = arg;
    (void)fd, (void)what;
    for (struct client *c = b->clients, *next; c; c = next) {
        next = c->next;
        client_send(c, b->heartbeat_frame);
    }
}

static void sweep_topic(void *arg, struct topic *t) {
    struct bridge *b = arg;
    hub_prune(t);
    bridge_sync_topic(b, t);
}

/* Unsubscribes upstream from topics whose linger ran out. */
static void on_sweep(evutil_socket_t fd, short what, void *arg) {
    (void)fd, (void)what;
    struct bridge *b = arg;
    hub_foreach(b->hub, sweep_topic, b);
}

static void on_drain_deadline(evutil_socket_t fd, short what, void *arg) {
    struct bridge *b = arg;
    (void)fd, (void)what;
    log_warn("shutdown: %zu client(s) not flushed after %u ms; closing them", b->nclients,
             b->cfg->shutdown_flush_ms);
    event_base_loopexit(b->base, NULL);
}

static void on_signal(evutil_socket_t sig, short what, void *arg) {
    struct bridge *b = arg;
    (void)what;
    if (b->state == BRIDGE_DRAINING) {
        log_warn("shutdown: second signal, exiting now");
        event_base_loopbreak(b->base);
        return;
    }
    log_info("shutdown: %s received; closing %zu stream(s)", sig == SIGTERM ? "SIGTERM" : "SIGINT",
             b->nclients);
    b->state = BRIDGE_DRAINING;
    http_stop_accepting(b->http);
    event_del(b->heartbeat_ev);
    if (b->nclients == 0) {
        event_base_loopexit(b->base, NULL);
        return;
    }
    struct timeval tv = {b->cfg->shutdown_flush_ms / 1000,
                         (b->cfg->shutdown_flush_ms % 1000) * 1000};
    event_add(b->drain_ev, &tv);
    for (struct client *c = b->clients, *next; c; c = next) {
        next = c->next;
        if (b->shutdown_frame == NULL || client_send(c, b->shutdown_frame) == 0)
            client_finish(c);
    }
}

struct bridge *bridge_new(struct event_base *base, struct config *cfg) {
    struct bridge *b = xcalloc(1, sizeof(*b));
    b->base = base;
    b->cfg = cfg;
    b->hub = hub_new(cfg->linger_ms);
    b->nroutes = cfg->nroutes;
    b->routes = xcalloc(cfg->nroutes, sizeof(*b->routes));
    for (size_t i = 0; i < cfg->nroutes; i++)
        b->routes[i].cfg = &cfg->routes[i];
    b->scratch = evbuffer_new();
    if (cfg->retry_ms > 0)
        b->retry_frame = sse_retry_frame(cfg->retry_ms);
    b->heartbeat_frame = sse_comment_frame("heartbeat");
    if (cfg->close_event[0]) {
        static const char data[] = "{\"reason\":\"shutdown\"}";
        struct sse_fields f = {cfg->close_event, strlen(cfg->close_event), NULL, 0, data,
                               sizeof(data) - 1};
        b->shutdown_frame = sse_frame(&f);
    }
    return b;
}

static void pin_static_routes(struct bridge *b) {
    for (size_t i = 0; i < b->nroutes; i++) {
        const struct route_cfg *rc = b->routes[i].cfg;
        if (!rc->pinned)
            continue;
        for (size_t j = 0; j < rc->nchannels; j++)
            hub_pin(b->hub, TOPIC_CHANNEL, rc->channels[j]);
        for (size_t j = 0; j < rc->npatterns; j++)
            hub_pin(b->hub, TOPIC_PATTERN, rc->patterns[j]);
    }
}

int bridge_start(struct bridge *b) {
    struct redis_addr addr;
    const char *err = redis_url_parse(b->cfg->redis_url, &addr);
    if (err) {
        log_error("redis URL %s: %s", b->cfg->redis_url, err);
        return -1;
    }
    b->http = http_new(b);
    if (b->http == NULL)
        return -1;
    pin_static_routes(b);
    srandom((unsigned)time(NULL) ^ (unsigned)getpid());
    b->redis = source_redis_new(b, &addr);
    source_redis_start(b->redis);

    b->heartbeat_ev = event_new(b->base, -1, EV_PERSIST, on_heartbeat, b);
    if (b->cfg->heartbeat_ms > 0) {
        struct timeval tv = {b->cfg->heartbeat_ms / 1000, (b->cfg->heartbeat_ms % 1000) * 1000};
        event_add(b->heartbeat_ev, &tv);
    }
    /* Sweep at half the linger so a topic is dropped at most 1.5 lingers after its last client. */
    unsigned sweep_ms = b->cfg->linger_ms / 2;
    sweep_ms = sweep_ms < 50 ? 50 : sweep_ms > 1000 ? 1000 : sweep_ms;
    b->sweep_ev = event_new(b->base, -1, EV_PERSIST, on_sweep, b);
    struct timeval stv = {sweep_ms / 1000, (sweep_ms % 1000) * 1000};
    event_add(b->sweep_ev, &stv);
    b->drain_ev = evtimer_new(b->base, on_drain_deadline, b);
    b->sigterm_ev = evsignal_new(b->base, SIGTERM, on_signal, b);
    b->sigint_ev = evsignal_new(b->base, SIGINT, on_signal, b);
    event_add(b->sigterm_ev, NULL);
    event_add(b->sigint_ev, NULL);
    signal(SIGPIPE, SIG_IGN); /* a peer gone mid-write is an error return, not a death */
    return 0;
}

static void free_event(struct event *ev) {
    if (ev)
        event_free(ev);
}

void bridge_free(struct bridge *b) {
    if (b == NULL)
        return;
    http_free(b->http); /* closes every connection; their close callbacks free the clients */
    b->http = NULL;
    source_redis_free(b->redis);
    b->redis = NULL;
    while (b->clients)
        client_forget(b->clients);
    free_event(b->heartbeat_ev);
    free_event(b->sweep_ev);
    free_event(b->drain_ev);
    free_event(b->sigterm_ev);
    free_event(b->sigint_ev);
    msg_unref(b->retry_frame);
    msg_unref(b->heartbeat_frame);
    msg_unref(b->shutdown_frame);
    evbuffer_free(b->scratch);
    hub_free(b->hub);
    free(b->routes);
    free(b);
}
