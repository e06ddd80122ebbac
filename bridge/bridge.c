#include "bridge.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/event.h>
#include <jansson.h>

#include "client.h"
#include "frame.h"
#include "http.h"
#include "journal.h"
#include "log.h"
#include "sse.h"
#include "publish.h"
#include "source_mqtt.h"
#include "source_redis.h"
#include "source_stream.h"
#include "text.h"
#include "translate.h"
#include "xmalloc.h"

unsigned long long bridge_now_ms(const struct bridge *b) {
    struct timeval tv;
    event_base_gettimeofday_cached(b->base, &tv);
    return (unsigned long long)tv.tv_sec * 1000 + (unsigned long long)tv.tv_usec / 1000;
}

unsigned long long bridge_wall_ms(const struct bridge *b) {
    (void)b;
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (unsigned long long)ts.tv_sec * 1000 + (unsigned long long)ts.tv_nsec / 1000000;
}

static bool uses_streams(const struct config *cfg) {
    for (size_t i = 0; i < cfg->nroutes; i++) {
        if (route_is_stream(&cfg->routes[i]))
            return true;
    }
    return false;
}

static bool uses_journal(const struct config *cfg) {
    for (size_t i = 0; i < cfg->nroutes; i++) {
        if (route_is_journalled(&cfg->routes[i]))
            return true;
    }
    return false;
}

bool bridge_upstream_up(const struct bridge *b) {
    return source_redis_up(b->redis) && (b->journal == NULL || journal_up(b->journal)) &&
           (b->streams == NULL || source_stream_up(b->streams)) &&
           (b->mqtt == NULL || source_mqtt_up(b->mqtt)) &&
           (b->publish == NULL || publish_up(b->publish));
}

void bridge_sync_topic(struct bridge *b, struct topic *t) {
    if (t->kind == TOPIC_STREAM) {
        if (b->streams != NULL)
            source_stream_sync(b->streams, t);
    } else if (t->kind == TOPIC_MQTT) {
        if (b->mqtt != NULL)
            source_mqtt_sync(b->mqtt, t);
    } else if (b->redis != NULL) {
        source_redis_sync(b->redis, t);
    }
}

void bridge_topic_setup(struct bridge *b, struct topic *t, const struct route_cfg *r) {
    if (t->kind == TOPIC_STREAM) {
        hub_topic_journal(t, t->name, 0, 0, 0);
    } else if (route_is_journalled(r)) {
        bool was_journalled = t->journal_key != NULL;
        size_t n = strlen(b->cfg->journal_prefix) + t->name_len + 3;
        char *key = xmalloc(n);
        /* Channels, patterns and MQTT filters live in separate key spaces: "p:" marks a
         * pattern's journal, "m:" an MQTT filter's. */
        snprintf(key, n, "%s%s%s", b->cfg->journal_prefix,
                 t->kind == TOPIC_PATTERN ? "p:"
                 : t->kind == TOPIC_MQTT  ? "m:"
                                          : "",
                 t->name);
        hub_topic_journal(t, key, r->journal, r->journal_age_ms, b->cfg->journal_linger_ms);
        free(key);
        /* Already subscribed for a plain route: journalling starts now, not at a SUBSCRIBE
         * reply, so the start marker is owed here. */
        if (!was_journalled && t->state == UPSTREAM_SUBSCRIBED && b->journal != NULL) {
            journal_owe_gap(b->journal, t, false);
            t->journal_seen = true;
        }
    }
}

static const char *field_value(const struct entry *e, const char *name, size_t *len) {
    for (size_t i = 0; i < e->in.nfields; i++) {
        if (e->in.field_lens[2 * i] == strlen(name) &&
            memcmp(e->in.fields[2 * i], name, e->in.field_lens[2 * i]) == 0) {
            *len = e->in.field_lens[2 * i + 1];
            return e->in.fields[2 * i + 1];
        }
    }
    return NULL;
}

/* s as JSON text: itself when it is UTF-8 (and, for a name, holds no NUL), else its base64
 * (marking e). *len is the length of what is returned, which the caller frees. */
static char *text_or_base64(const char *s, size_t *len, bool name, struct entry *e) {
    size_t n = *len;
    if (text_utf8_valid(s, n) && !(name && memchr(s, '\0', n) != NULL)) {
        char *copy = xmalloc(n + 1); /* a value may hold NUL: copied whole */
        if (n > 0)                   /* fields are hiredis reply strings: never NULL */
            memcpy(copy, s, n);      // NOLINT(clang-analyzer-core.NonNullParamChecker)
        copy[n] = '\0';
        return copy;
    }
    e->binary_fields = true;
    char *b64 = xmalloc(text_base64_len(n) + 1);
    *len = text_base64_encode(s, n, b64);
    b64[*len] = '\0';
    return b64;
}

void bridge_entry_from_fields(const struct topic *t, struct entry *e) {
    size_t len;
    const char *v;
    if (t->kind != TOPIC_STREAM) {
        /* Journal entries: "c" channel and "p" payload, or "gap" reason. */
        if ((v = field_value(e, "gap", &len)) != NULL) {
            e->gap = true;
            e->in.payload = v;
            e->in.payload_len = len;
        } else {
            e->in.payload = field_value(e, "p", &e->in.payload_len);
        }
        e->in.channel = field_value(e, "c", &e->in.channel_len);
        if (e->in.channel == NULL) {
            e->in.channel = t->name;
            e->in.channel_len = t->name_len;
        }
        if (e->in.payload == NULL) {
            e->in.payload = "";
            e->in.payload_len = 0;
        }
        return;
    }
    e->in.channel = t->name;
    e->in.channel_len = t->name_len;
    if ((v = field_value(e, "data", &len)) != NULL) {
        e->in.payload = v;
        e->in.payload_len = len;
        return;
    }
    /* No "data" field: the whole entry, as a JSON object, is the payload. JSON holds text:
     * a name or value that is not UTF-8 goes in as its base64, and the entry is marked so
     * that routes with binary = reject drop it. */
    json_t *obj = json_object();
    for (size_t i = 0; i < e->in.nfields; i++) {
        size_t name_len = e->in.field_lens[2 * i], value_len = e->in.field_lens[2 * i + 1];
        char *name = text_or_base64(e->in.fields[2 * i], &name_len, true, e);
        char *value = text_or_base64(e->in.fields[2 * i + 1], &value_len, false, e);
        json_object_set_new(obj, name, json_stringn(value, value_len));
        free(name);
        free(value);
    }
    e->owned = json_dumps(obj, JSON_COMPACT);
    json_decref(obj);
    e->in.payload = e->owned ? e->owned : "";
    e->in.payload_len = e->owned ? strlen(e->owned) : 0;
}

void bridge_entry_clear(struct entry *e) {
    free(e->owned);
    free(e->owned_fields);
    e->owned = NULL;
    e->owned_fields = NULL;
}

void bridge_count_frames(struct bridge *b, const struct frame_src *src) {
    b->metrics.messages_binary += src->binary;
    b->metrics.messages_non_json += src->non_json;
    if (src->too_large) {
        b->metrics.messages_dropped++;
        log_warn("deliver: an event on %.*s is over %zu bytes once encoded; sent as a too-large "
                 "gap on journalled routes, dropped on the others",
                 (int)src->in.channel_len, src->in.channel, b->names.max_frame);
    }
}

void bridge_deliver_entry(struct bridge *b, struct topic *t, const struct entry *e) {
    if (t->nsubs == 0)
        return;
    struct frame_src src;
    frame_src_init(&src, &e->in, e->gap);
    src.binary_input = e->binary_fields;
    struct msg *id_frame = NULL; /* "id: X\n\n", shared by single-topic clients */
    if (e->has_id) {
        char id[STREAM_ID_MAX_LEN + 1];
        size_t n = stream_id_format(e->id, id);
        id_frame = sse_id_frame(id, n);
    }
    for (struct feed *f = t->feeds; f; f = f->next) {
        if (f->subs == NULL)
            continue;
        const struct route *r = f->key;
        /* A plain route sharing a journalled channel: no ids, no gap events. */
        bool journalled = route_is_journalled(r->cfg);
        if (!journalled && e->gap)
            continue;
        struct entry plain = *e;
        plain.has_id = false;
        const struct entry *fe = journalled ? e : &plain;
        bool closing;
        struct msg *body = frame_build(&src, r->cfg, &b->names, FRAME_BODY, &closing);
        if (body == NULL)
            continue; /* a binary payload this route rejects */
        for (struct hub_sub *s = f->subs, *next; s; s = next) {
            next = s->next; /* a client cut off below leaves the list */
            struct client *c = s->client;
            if (client_send_entry(c, s, body, fe, id_frame) == 0 && closing && !s->syncing)
                client_finish(c);
        }
        msg_unref(body);
    }
    msg_unref(id_frame);
    bridge_count_frames(b, &src);
    frame_src_clear(&src);
}

/* Translates and encodes a live message once per feed (route) of t and queues the frame to
 * every subscriber of that feed. `retained_only`: only routes that want retained messages. */
static void fan_out(struct bridge *b, struct topic *t, const struct translate_in *msg,
                    bool retained_only) {
    struct frame_src src;
    frame_src_init(&src, msg, false);
    for (struct feed *f = t->feeds; f; f = f->next) {
        const struct route *r = f->key;
        if (f->subs == NULL || (retained_only && !r->cfg->retained))
            continue;
        bool closing;
        struct msg *frame = frame_build(&src, r->cfg, &b->names, FRAME_WHOLE, &closing);
        if (frame == NULL)
            continue; /* a binary payload this route rejects */
        for (struct hub_sub *s = f->subs, *next; s; s = next) {
            next = s->next; /* a client cut off below leaves the list */
            struct client *c = s->client;
            if (c->last_message == b->message_seq)
                continue; /* had it through another of its filters */
            c->last_message = b->message_seq;
            if (client_send(c, frame) == 0 && closing)
                client_finish(c);
        }
        msg_unref(frame);
    }
    bridge_count_frames(b, &src);
    frame_src_clear(&src);
}

/* Counts and logs a message over max_message_size; true when it must be dropped. */
static bool too_large(struct bridge *b, const struct topic *t, size_t len) {
    if (len <= b->cfg->max_message_size)
        return false;
    b->metrics.messages_dropped++;
    log_warn("deliver: dropped a %zu-byte message on %s (max_message_size %zu)", len, t->name,
             b->cfg->max_message_size);
    return true;
}

/* One message for topic t: journalled (then delivered with its entry id), or fanned out. */
static void deliver_topic(struct bridge *b, struct topic *t, const struct translate_in *in) {
    if (too_large(b, t, in->payload_len))
        return;
    /* Journalled topics are written even with no client (during their linger), so that a
     * browser coming back finds what it missed. */
    if (t->journal_key != NULL && b->journal != NULL) {
        journal_append(b->journal, t, in->channel, in->channel_len, in->payload, in->payload_len);
        return;
    }
    if (t->nsubs == 0)
        return;
    fan_out(b, t, in, false);
}

void bridge_deliver(struct bridge *b, enum topic_kind kind, const char *subject, size_t subject_len,
                    const char *channel, size_t channel_len, const char *payload,
                    size_t payload_len) {
    b->metrics.messages_in++;
    b->message_seq++;
    struct topic *t = hub_find(b->hub, kind, subject, subject_len);
    if (t == NULL)
        return;
    struct translate_in in = {.channel = channel,
                              .channel_len = channel_len,
                              .payload = payload,
                              .payload_len = payload_len};
    deliver_topic(b, t, &in);
}

void bridge_deliver_mqtt(struct bridge *b, struct topic *t, const struct translate_in *in,
                         bool retained) {
    if (too_large(b, t, in->payload_len)) /* dropped, and never kept as a retained value */
        return;
    if (!retained) {
        hub_retain_refresh(t, in->channel, in->channel_len, in->payload, in->payload_len);
        deliver_topic(b, t, in);
        return;
    }
    /* Sent by the broker because the bridge (re)subscribed: kept for clients that join later;
     * the clients already here get it unless they had it (a resubscription repeats it). */
    if (hub_retain(t, in->channel, in->channel_len, in->payload, in->payload_len,
                   b->cfg->mqtt_retained_max) &&
        in->payload_len > 0 && t->nsubs > 0)
        fan_out(b, t, in, true);
}

void bridge_send_retained(struct bridge *b, struct client *c) {
    if (!c->route->cfg->retained)
        return;
    for (size_t i = 0; i < c->nsubs; i++) {
        struct topic *t = c->subs[i]->topic;
        if (t->kind != TOPIC_MQTT || t->retained == NULL)
            continue;
        /* Oldest first, as the broker would have sent them. */
        struct retained **list = xmalloc(t->nretained * sizeof(*list));
        /* The newest that fit in half a client buffer, so that retained values can never
         * cut off the client they are for. */
        size_t n = 0, bytes = 0;
        for (struct retained *r = t->retained; r && n < t->nretained; r = r->next) {
            bytes += r->payload_len + r->topic_len + 64;
            if (bytes > b->cfg->client_buffer / 2)
                break;
            list[n++] = r;
        }
        int rc = 0;
        while (rc == 0 && n-- > 0) {
            struct translate_in in = {.channel = list[n]->topic,
                                      .channel_len = list[n]->topic_len,
                                      .payload = list[n]->payload,
                                      .payload_len = list[n]->payload_len};
            struct frame_src src;
            frame_src_init(&src, &in, false);
            bool closing;
            struct msg *frame = frame_build(&src, c->route->cfg, &b->names, FRAME_WHOLE, &closing);
            bridge_count_frames(b, &src);
            frame_src_clear(&src);
            if (frame == NULL)
                continue;
            rc = client_send(c, frame);
            msg_unref(frame);
        }
        free(list);
        if (rc != 0)
            return; /* cut off: c is gone */
    }
}

/* End of the loop turn's callbacks: every client's frames of this turn leave together. */
static void on_flush(evutil_socket_t fd, short what, void *arg) {
    (void)fd, (void)what;
    client_flush_all(arg);
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
    b->names.close_event = cfg->close_event;
    b->names.gap_event = cfg->gap_event;
    /* config_validate keeps it under half a client buffer: a poison entry never cuts its
     * readers (and a resuming client is never cut at the same place again). */
    b->names.max_frame = cfg->max_message_size;
    b->flush_ev = event_new(base, -1, 0, on_flush, b);
    b->null_fd = open("/dev/null", O_RDWR | O_CLOEXEC);
    if (cfg->retry_ms > 0)
        b->retry_frame = sse_retry_frame(cfg->retry_ms);
    b->heartbeat_frame = sse_comment_frame("heartbeat");
    b->blank_frame = msg_copy("\n", 1);
    b->crlf_frame = msg_copy("\r\n", 2);
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
            bridge_topic_setup(b, hub_pin(b->hub, TOPIC_CHANNEL, rc->channels[j]), rc);
        for (size_t j = 0; j < rc->npatterns; j++)
            bridge_topic_setup(b, hub_pin(b->hub, TOPIC_PATTERN, rc->patterns[j]), rc);
        for (size_t j = 0; j < rc->nstreams; j++)
            bridge_topic_setup(b, hub_pin(b->hub, TOPIC_STREAM, rc->streams[j]), rc);
        for (size_t j = 0; j < rc->nmqtt_topics; j++)
            bridge_topic_setup(b, hub_pin(b->hub, TOPIC_MQTT, rc->mqtt_topics[j]), rc);
    }
}

int bridge_start(struct bridge *b) {
    struct redis_addr addr;
    const char *err = redis_url_parse(b->cfg->redis_url, &addr);
    if (err) {
        log_error("redis URL %s: %s", b->cfg->redis_url, err);
        return -1;
    }
    if (b->null_fd < 0) {
        log_error("cannot open /dev/null (needed to take sockets over from evhttp)");
        return -1;
    }
    b->http = http_new(b);
    if (b->http == NULL)
        return -1;
    srandom((unsigned)time(NULL) ^ (unsigned)getpid());
    const struct redis_pool_cfg pool_cfg = {b->cfg->backoff_min_ms, b->cfg->backoff_max_ms,
                                            b->cfg->redis_probe_interval_ms,
                                            b->cfg->redis_probe_timeout_ms};
    b->redis_pool = redis_pool_new(b->base, &addr, &pool_cfg);
    b->redis = source_redis_new(b);
    if (uses_journal(b->cfg))
        b->journal = journal_new(b);
    if (uses_streams(b->cfg))
        b->streams = source_stream_new(b);
    for (size_t i = 0; i < b->nroutes && b->publish == NULL; i++) {
        if (b->routes[i].cfg->publish)
            b->publish = publish_new(b);
    }
    if (config_uses_mqtt(b->cfg)) {
        b->mqtt = source_mqtt_new(b);
        if (b->mqtt == NULL)
            return -1;
    }
    pin_static_routes(b);
    redis_pool_start(b->redis_pool);
    source_redis_start(b->redis);
    if (b->journal)
        journal_start(b->journal);
    if (b->streams)
        source_stream_start(b->streams);
    if (b->mqtt)
        source_mqtt_start(b->mqtt);
    if (b->publish)
        publish_start(b->publish);

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
    while (b->clients) /* clients whose connections were not connected: no close callback */
        client_forget(b->clients);
    /* The journal first: freeing it answers the stream source's pending requests. */
    journal_free(b->journal); /* answers pending writes: their topics must still exist */
    b->journal = NULL;
    source_stream_free(b->streams);
    b->streams = NULL;
    source_redis_free(b->redis);
    b->redis = NULL;
    source_mqtt_free(b->mqtt);
    b->mqtt = NULL;
    publish_free(b->publish);
    b->publish = NULL;
    redis_pool_free(b->redis_pool); /* after every connection of it */
    b->redis_pool = NULL;
    free_event(b->flush_ev);
    if (b->null_fd >= 0)
        close(b->null_fd);
    free_event(b->heartbeat_ev);
    free_event(b->sweep_ev);
    free_event(b->drain_ev);
    free_event(b->sigterm_ev);
    free_event(b->sigint_ev);
    msg_unref(b->retry_frame);
    msg_unref(b->heartbeat_frame);
    msg_unref(b->shutdown_frame);
    msg_unref(b->blank_frame);
    msg_unref(b->crlf_frame);
    hub_free(b->hub);
    free(b->routes);
    free(b);
}
