#include "bridge.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/event.h>

#include "auth.h"
#include "backend.h"
#include "client.h"
#include "defaults.h"
#include "delivery.h"
#include "http.h"
#include "journal.h"
#include "lease.h"
#include "log.h"
#include "publish.h"
#include "replay.h"
#include "source.h"
#include "source_mqtt.h"
#include "source_redis.h"
#include "source_stream.h"
#include "sse.h"
#include "xmalloc.h"

static bool uses_journal(const struct config *cfg) {
    for (size_t i = 0; i < cfg->nroutes; i++) {
        if (route_is_journalled(&cfg->routes[i]))
            return true;
    }
    return false;
}

/* The hub's sync callback: the source that reads the topic's journal follows it, then the
 * source that serves its kind (which may free it). */
static void sync_topic(void *arg, struct topic *t) {
    struct bridge *b = arg;
    struct source *own = NULL;
    /* Read now: the topic's own source may free it below. */
    bool leased = t->journal_key != NULL && t->kind != TOPIC_STREAM;
    for (size_t i = 0; i < b->nsources; i++) {
        struct source *src = b->sources[i];
        if (t->journal_key != NULL && (src->ops->journals & SOURCE_KIND(t->kind)))
            src->ops->sync(src, t);
        if (src->ops->kinds & SOURCE_KIND(t->kind))
            own = src;
    }
    if (own != NULL)
        own->ops->sync(own, t);
    if (leased && b->lease != NULL) /* the tick runs while some journal may need a lease */
        lease_kick(b->lease);
}

/* The journal's callbacks: entries go to delivery, a ready reader to the replays. */
static void journal_entry(void *arg, struct topic *t, const struct entry *e) {
    delivery_entry(arg, t, e);
}

/* The lease's: this bridge writes t's journal from now on. */
static void lease_acquired(void *arg, struct topic *t, enum lease_taken how) {
    struct bridge *b = arg;
    journal_lease_taken(b->journal, t, how);
    if (t->journal_session) /* an MQTT filter's journal session opens with its lease */
        hub_sync(b->hub, t);
}

static void resync(void *arg, struct topic *t) {
    struct bridge *b = arg;
    if (t->journal_key != NULL)
        hub_sync(b->hub, t);
}

/* The reader is back: the journals' followers ask where their journals end first, then the
 * replays read, on the same connection: a client's position is never older than the point
 * from which its topic's live entries are read, so nothing falls between the two. */
static void journal_reader_ready_cb(void *arg) {
    struct bridge *b = arg;
    hub_foreach(b->hub, resync, b);
    replay_pump(b->replay);
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
    hub_sync(b->hub, t);
}

/* Unsubscribes upstream from topics whose linger ran out. */
static void on_sweep(evutil_socket_t fd, short what, void *arg) {
    (void)fd, (void)what;
    struct bridge *b = arg;
    hub_foreach(b->hub, sweep_topic, b);
}

/* workers = N: this worker's figures, for the others' /metrics, at most a second old. */
static void on_board(evutil_socket_t fd, short what, void *arg) {
    struct bridge *b = arg;
    (void)fd, (void)what;
    http_metrics_snapshot(b->http, &b->board[b->cfg->worker - 1]);
}

void bridge_share_metrics(struct bridge *b, struct metrics_slot *board, size_t n) {
    b->board = board;
    b->nboard = n;
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
    hub_set_sync(b->hub, sync_topic, b);
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

static void pin(struct bridge *b, enum topic_kind kind, const char *name,
                const struct route_cfg *rc) {
    journal_topic_setup(b->journal, b->cfg, hub_pin(b->hub, kind, name), rc);
}

static void pin_static_routes(struct bridge *b) {
    for (size_t i = 0; i < b->nroutes; i++) {
        const struct route_cfg *rc = b->routes[i].cfg;
        if (!rc->pinned)
            continue;
        for (size_t j = 0; j < rc->nchannels; j++)
            pin(b, TOPIC_CHANNEL, rc->channels[j], rc);
        for (size_t j = 0; j < rc->npatterns; j++)
            pin(b, TOPIC_PATTERN, rc->patterns[j], rc);
        for (size_t j = 0; j < rc->nstreams; j++)
            pin(b, TOPIC_STREAM, rc->streams[j], rc);
        for (size_t j = 0; j < rc->nmqtt_topics; j++)
            pin(b, TOPIC_MQTT, rc->mqtt_topics[j], rc);
    }
}

/* Reads a whole small file (a key or a secret). NULL after logging why. */
static char *read_key_file(const char *path, size_t *len) {
    FILE *f = fopen(path, "rb");
    if (f == NULL) {
        log_error("auth: cannot read %s: %s", path, strerror(errno));
        return NULL;
    }
    char *buf = xmalloc(AUTH_KEY_FILE_MAX + 1);
    *len = fread(buf, 1, AUTH_KEY_FILE_MAX + 1, f);
    fclose(f);
    if (*len > AUTH_KEY_FILE_MAX) {
        log_error("auth: %s is larger than %d bytes", path, AUTH_KEY_FILE_MAX);
        free(buf);
        return NULL;
    }
    return buf;
}

/* The token verifier, when a route has auth = jwt. Returns -1 after logging why. */
static int start_auth(struct bridge *b) {
    const struct config *cfg = b->cfg;
    bool jwt = false;
    for (size_t i = 0; i < cfg->nroutes; i++)
        jwt |= config_route_auth(cfg, &cfg->routes[i]) == AUTH_JWT;
    if (!jwt)
        return 0;
    const char *alg = config_jwt_algorithm(cfg);
    char *key = NULL;
    size_t len = 0;
    const char *from = "JWT_SECRET";
    if (alg[0] == 'H' && cfg->jwt_secret != NULL) {
        key = xstrdup(cfg->jwt_secret);
        len = strlen(key);
    } else {
        from = alg[0] == 'H' ? cfg->jwt_secret_file : cfg->jwt_key_file;
        if ((key = read_key_file(from, &len)) == NULL)
            return -1;
    }
    /* A token is a header value: no longer than the request's headers may be. */
    const struct auth_cfg acfg = {alg, cfg->jwt_issuer, cfg->jwt_audience,
                                  (long long)(cfg->jwt_leeway_ms / 1000), cfg->max_header_size};
    const char *err = NULL;
    b->auth = auth_new(&acfg, key, len, &err);
    memset(key, 0, len);
    free(key);
    if (b->auth == NULL) {
        log_error("auth: %s (%s): %s", from, alg, err);
        return -1;
    }
    return 0;
}

/* Routes anyone may read, on an address others can reach: said once. */
static void warn_open_routes(const struct bridge *b) {
    size_t open = config_open_routes(b->cfg);
    const char *host = b->cfg->listen_host;
    if (open > 0 && !config_listen_is_loopback(b->cfg))
        log_warn("auth: %zu route(s) without auth on %s, which other hosts can reach: anyone "
                 "may read them (README: Authorization)",
                 open, host && *host ? host : "every address");
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
    if (start_auth(b) != 0)
        return -1;
    for (size_t i = 0; i < b->cfg->nroutes && b->backend == NULL; i++) {
        if (config_route_auth(b->cfg, &b->cfg->routes[i]) == AUTH_BACKEND &&
            (b->backend = backend_new(b)) == NULL)
            return -1;
    }
    warn_open_routes(b);
    b->http = http_new(b);
    if (b->http == NULL)
        return -1;
    srandom((unsigned)time(NULL) ^ (unsigned)getpid());
    const struct redis_pool_cfg pool_cfg = {b->cfg->backoff_min_ms, b->cfg->backoff_max_ms,
                                            b->cfg->redis_probe_interval_ms,
                                            b->cfg->redis_probe_timeout_ms};
    b->redis_pool = redis_pool_new(b->base, &addr, &pool_cfg);
    b->sources[b->nsources++] = source_redis_new(b);
    /* The stream source reads stream routes, and the journals of every journalled route. */
    if (uses_journal(b->cfg))
        b->sources[b->nsources++] = source_stream_new(b);
    if (config_uses_mqtt(b->cfg)) {
        struct source *mqtt = source_mqtt_new(b);
        if (mqtt == NULL)
            return -1;
        b->sources[b->nsources++] = mqtt;
    }
    if (uses_journal(b->cfg)) {
        const struct journal_events ev = {journal_entry, journal_reader_ready_cb, b};
        b->journal = journal_new(b, &ev);
        const struct lease_events lev = {lease_acquired, b};
        b->lease = lease_new(b, &lev);
        b->replay = replay_new(b, b->journal);
        b->client_hooks = replay_client_hooks(b->replay);
    }
    for (size_t i = 0; i < b->nroutes && b->publish == NULL; i++) {
        if (b->routes[i].cfg->publish)
            b->publish = publish_new(b);
    }
    pin_static_routes(b);
    redis_pool_start(b->redis_pool);
    /* The journal connects first: the broker hands a persistent session's queued messages
     * over as soon as the MQTT source connects, and they are journalled. */
    if (b->journal) {
        journal_start(b->journal);
        lease_start(b->lease);
    }
    for (size_t i = 0; i < b->nsources; i++)
        b->sources[i]->ops->start(b->sources[i]);
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
    if (b->board != NULL && b->cfg->worker > 0) {
        b->board_ev = event_new(b->base, -1, EV_PERSIST, on_board, b);
        struct timeval btv = {1, 0};
        event_add(b->board_ev, &btv);
        on_board(-1, 0, b);
    }
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
    /* First, while everything else still runs: releasing the leases runs the loop briefly. */
    lease_free(b->lease);
    b->lease = NULL;
    http_free(b->http); /* closes every connection; their close callbacks free the clients */
    b->http = NULL;
    backend_free(b->backend); /* the requests that waited for it went with their connections */
    b->backend = NULL;
    while (b->clients) /* clients whose connections were not connected: no close callback */
        client_forget(b->clients);
    /* The journal first: freeing it answers the stream source's pending requests and the
     * replays' reads, whose jobs the replays free. */
    journal_free(b->journal); /* answers pending writes: their topics must still exist */
    b->journal = NULL;
    replay_free(b->replay);
    b->replay = NULL;
    for (size_t i = b->nsources; i-- > 0;)
        b->sources[i]->ops->free(b->sources[i]);
    b->nsources = 0;
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
    free_event(b->board_ev);
    free_event(b->sigterm_ev);
    free_event(b->sigint_ev);
    msg_unref(b->retry_frame);
    msg_unref(b->heartbeat_frame);
    msg_unref(b->shutdown_frame);
    msg_unref(b->blank_frame);
    msg_unref(b->crlf_frame);
    hub_free(b->hub);
    auth_free(b->auth);
    free(b->routes);
    free(b);
}
