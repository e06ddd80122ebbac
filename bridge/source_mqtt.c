#include "source_mqtt.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include <event2/event.h>
#include <mosquitto.h>
#include <mqtt_protocol.h>

#include "backoff.h"
#include "defaults.h"
#include "clock.h"
#include "delivery.h"
#include "journal.h"
#include "lease.h"
#include "record.h"
#include "log.h"
#include "xmalloc.h"

#define MAX_SUB_ID 268435455u /* MQTT 5: subscription identifiers are 1 .. 2^28 - 1 */
#define MAX_USER_PROPS 32     /* user properties read from one message */

enum mqtt_state { MQTT_DOWN, MQTT_CONNECTING, MQTT_UP };

struct source_mqtt;

/* One libmosquitto client in the loop: the process's own, or a journal session. */
struct link {
    struct source_mqtt *s;
    struct mosquitto *mosq;
    enum mqtt_state state;
    int fd;                 /* the socket the events watch; -1: none */
    struct event *read_ev;  /* persistent, on fd */
    struct event *write_ev; /* armed while libmosquitto has bytes to send */
    bool disconnecting;     /* we asked for the disconnect (DISCONNECT with rc 0 is then ours) */
    void (*lost)(struct link *l, const char *why); /* the connection failed */
};

/* QoS 1 messages lately received on one client: a broker that restarts before our PUBACK
 * reached it (or whose state on disk predates it) sends them again, with their packet
 * identifiers. */
struct redelivery {
    struct {
        int mid;
        unsigned long long hash; /* topic and payload */
    } seen[MQTT_REDELIVERY_WINDOW];
    size_t next;
};

/* The journal session of one journalled MQTT filter: a client of its own whose id is derived
 * from the journal (the same on every bridge), connected only while this process holds the
 * journal's lease, never with a clean session: when the writer dies or hands over, the broker
 * queues the filter's QoS 1 messages for the session, and the next holder, connecting with the
 * same id, journals them. Two processes never hold one lease, so they never kick each other
 * off the broker; after a lost connection the session waits for the lease to be confirmed
 * again (a writer that was paused must not take the session back from its successor). */
struct session {
    struct link link;
    struct topic *t; /* kept (one pending) while the session exists */
    bool connected_once;
    unsigned long long lost_ms, retry_at_ms; /* its connection's last loss; the next attempt */
    struct backoff backoff;
    struct redelivery redelivery;
    struct session *next;
};

struct source_mqtt {
    struct source base; /* first: the ops table (source.h) */
    struct bridge *b;
    struct link link; /* the process's own client */
    struct mqtt_addr addr;
    struct event *misc_ev;     /* keepalive pings, timeouts, the journal sessions' checks */
    struct event *retry_ev;    /* the next connection attempt */
    struct event *sessions_ev; /* opens and closes journal sessions, outside their callbacks */
    struct backoff backoff;
    bool ever_up, failing_logged;
    bool session_resumed; /* the broker kept our session (CONNACK session present) */
    unsigned long long reconnects;
    struct session *sessions;
    unsigned next_sub_id;
    char **wild; /* subscribed filters with + or #: matched against each message's topic */
    size_t nwild;
    /* MQTT 5 brokers send one copy of a message per matching subscription, each naming its
     * subscription identifier. Copies arrive back to back with the same topic and payload and
     * disjoint identifiers: they share one message_seq, so a client gets the message once. */
    struct {
        char *topic;
        size_t payload_len;
        unsigned long long payload_hash;
        uint32_t ids[16];
        size_t nids;
    } last;
    struct redelivery redelivery;
};

static void mqtt_sync(struct source_mqtt *s, struct topic *t);
static void mqtt_free(struct source_mqtt *s);

const char *mqtt_url_parse(const char *url, struct mqtt_addr *out) {
    memset(out, 0, sizeof(*out));
    const char *rest;
    if (strncmp(url, "mqtt://", 7) == 0) {
        rest = url + 7;
        out->port = 1883;
    } else if (strncmp(url, "mqtts://", 8) == 0) {
        rest = url + 8;
        out->port = 8883;
        out->tls = true;
    } else {
        return "expected mqtt:// or mqtts://";
    }
    const char *at = strrchr(rest, '@');
    if (at != NULL) {
        size_t cred = (size_t)(at - rest), colon = strcspn(rest, ":");
        size_t user_len = colon < cred ? colon : cred;
        if (user_len >= sizeof(out->username) || cred - user_len >= sizeof(out->password))
            return "user name or password too long";
        memcpy(out->username, rest, user_len);
        if (colon < cred)
            memcpy(out->password, rest + colon + 1, cred - colon - 1);
        rest = at + 1;
    }
    size_t host_len = strcspn(rest, ":/");
    if (host_len == 0 || host_len >= sizeof(out->host))
        return "missing or too long host";
    memcpy(out->host, rest, host_len);
    rest += host_len;
    if (*rest == ':') {
        char *end;
        long port = strtol(rest + 1, &end, 10);
        if (end == rest + 1 || port < 1 || port > 65535)
            return "bad port";
        out->port = (int)port;
        rest = end;
    }
    if (*rest == '/')
        rest++;
    if (*rest != '\0')
        return "unexpected text after host:port";
    return NULL;
}

static bool has_wildcard(const char *filter) {
    return strpbrk(filter, "+#") != NULL;
}

static void wild_add(struct source_mqtt *s, const char *filter) {
    for (size_t i = 0; i < s->nwild; i++) {
        if (strcmp(s->wild[i], filter) == 0)
            return;
    }
    s->wild = xrealloc(s->wild, (s->nwild + 1) * sizeof(*s->wild));
    s->wild[s->nwild++] = xstrdup(filter);
}

static void wild_remove(struct source_mqtt *s, const char *filter) {
    for (size_t i = 0; i < s->nwild; i++) {
        if (strcmp(s->wild[i], filter) == 0) {
            free(s->wild[i]);
            s->wild[i] = s->wild[--s->nwild];
            return;
        }
    }
}

static void remove_topic(struct source_mqtt *s, struct topic *t) {
    if (has_wildcard(t->name))
        wild_remove(s, t->name);
    hub_remove(s->b->hub, t);
}

/* --- the socket in the loop ---------------------------------------------------------------- */

/* Arms the write event while libmosquitto has something queued (a packet queued from inside
 * one of its callbacks is only sent by the next loop_write). */
static void want_write(struct link *l) {
    if (l->fd >= 0 && l->write_ev != NULL && mosquitto_want_write(l->mosq))
        event_add(l->write_ev, NULL);
}

/* Whether bytes wait on the socket. */
static bool readable(evutil_socket_t fd) {
    int avail = 0;
    return ioctl(fd, FIONREAD, &avail) == 0 && avail > 0;
}

static void on_socket(evutil_socket_t fd, short what, void *arg) {
    struct link *l = arg;
    int rc = MOSQ_ERR_SUCCESS;
    if (what & EV_READ) {
        /* libmosquitto reads one QoS 0 packet per call. Every packet already here is taken in
         * this loop turn, so that their frames leave together at its end (one write per
         * client per turn, as for Redis, where hiredis parses every reply read); bounded, so
         * that a busy broker cannot hold the loop. */
        for (int i = 0; i < MQTT_READ_BATCH && rc == MOSQ_ERR_SUCCESS; i++) {
            rc = mosquitto_loop_read(l->mosq, 1);
            if (rc == MOSQ_ERR_SUCCESS && (l->fd != fd || !readable(fd)))
                break;
        }
    } else {
        rc = mosquitto_loop_write(l->mosq, 1);
    }
    if (rc != MOSQ_ERR_SUCCESS) {
        l->lost(l, mosquitto_strerror(rc));
        return;
    }
    want_write(l);
}

static void unwatch(struct link *l) {
    if (l->read_ev) {
        event_free(l->read_ev);
        l->read_ev = NULL;
    }
    if (l->write_ev) {
        event_free(l->write_ev);
        l->write_ev = NULL;
    }
    l->fd = -1;
}

/* Watches libmosquitto's socket; after a reconnect it is a different one. */
static void watch(struct link *l) {
    int fd = mosquitto_socket(l->mosq);
    if (fd != l->fd) {
        unwatch(l);
        if (fd < 0)
            return;
        l->fd = fd;
        l->read_ev = event_new(l->s->b->base, fd, EV_READ | EV_PERSIST, on_socket, l);
        l->write_ev = event_new(l->s->b->base, fd, EV_WRITE, on_socket, l);
        event_add(l->read_ev, NULL);
    }
    want_write(l);
}

/* Down, and the socket closed now (libmosquitto would close it only at the next connect), so
 * that the broker sees us go and the descriptor does not linger. A persistent session stays
 * at the broker. */
static void link_drop(struct link *l) {
    l->state = MQTT_DOWN;
    unwatch(l);
    l->disconnecting = true;
    mosquitto_disconnect(l->mosq);
    l->disconnecting = false;
}

/* The first connection, or again after one was lost. */
static int link_connect(struct link *l, bool again) {
    const struct source_mqtt *s = l->s;
    int rc = again ? mosquitto_reconnect_async(l->mosq)
                   : mosquitto_connect_bind_async(l->mosq, s->addr.host, s->addr.port,
                                                  (int)s->b->cfg->mqtt_keepalive_s, NULL);
    if (rc == MOSQ_ERR_SUCCESS) {
        l->state = MQTT_CONNECTING;
        watch(l);
    }
    return rc;
}

/* libmosquitto's periodic work: PINGREQ, and giving up on a silent broker. */
static void link_misc(struct link *l) {
    if (l->state == MQTT_DOWN)
        return;
    int rc = mosquitto_loop_misc(l->mosq);
    if (rc != MOSQ_ERR_SUCCESS || mosquitto_socket(l->mosq) < 0) {
        l->lost(l, rc != MOSQ_ERR_SUCCESS ? mosquitto_strerror(rc) : "keepalive timeout");
        return;
    }
    want_write(l);
}

static void schedule_retry(struct source_mqtt *s) {
    unsigned ms = backoff_next(&s->backoff, (unsigned)random());
    struct timeval tv = {ms / 1000, (ms % 1000) * 1000};
    event_add(s->retry_ev, &tv);
}

static void reset_topic(void *arg, struct topic *t) {
    (void)arg;
    if (t->kind == TOPIC_MQTT)
        t->state = UPSTREAM_NONE;
}

static void connection_lost(struct link *l, const char *why) {
    struct source_mqtt *s = l->s;
    if (l->state == MQTT_DOWN)
        return;
    if (!s->failing_logged) {
        log_warn("mqtt: %s:%d: %s; reconnecting", s->addr.host, s->addr.port, why);
        s->failing_logged = true;
    }
    link_drop(l);
    hub_foreach(s->b->hub, reset_topic, s);
    schedule_retry(s);
}

static void try_connect(struct source_mqtt *s) {
    int rc = link_connect(&s->link, s->ever_up || s->reconnects > 0 || s->failing_logged);
    if (rc != MOSQ_ERR_SUCCESS) {
        s->link.state = MQTT_CONNECTING; /* so that connection_lost reports and retries */
        connection_lost(&s->link, rc == MOSQ_ERR_ERRNO ? strerror(errno) : mosquitto_strerror(rc));
    }
}

static void on_retry(evutil_socket_t fd, short what, void *arg) {
    (void)fd, (void)what;
    try_connect(arg);
}

static void sessions_check(struct source_mqtt *s);

static void on_misc(evutil_socket_t fd, short what, void *arg) {
    struct source_mqtt *s = arg;
    (void)fd, (void)what;
    link_misc(&s->link);
    for (struct session *j = s->sessions; j; j = j->next)
        link_misc(&j->link);
    sessions_check(s); /* a lease lost or confirmed since */
}

/* --- subscriptions ------------------------------------------------------------------------- */

static void sync_topic(void *arg, struct topic *t) {
    if (t->kind == TOPIC_MQTT)
        mqtt_sync(arg, t);
}

/* Whether t's journal is written from a journal session (see struct session): a journalled
 * filter, with leases (several bridges may share the Redis). Without leases
 * (journal_lease = 0) this process's own client journals it, as a bridge alone would. */
static bool journal_session_mode(const struct source_mqtt *s, const struct topic *t) {
    const struct bridge *b = s->b;
    return t->journal_key != NULL && b->journal != NULL && b->lease != NULL &&
           lease_fenced(b->lease);
}

static void mqtt_sync(struct source_mqtt *s, struct topic *t) {
    bool wanted = hub_topic_wanted(s->b->hub, t, clock_now_ms(s->b->base));
    t->journal_session = journal_session_mode(s, t);
    if (t->journal_session || s->sessions != NULL)
        event_active(s->sessions_ev, EV_TIMEOUT, 1);
    if (s->link.state != MQTT_UP) {
        /* A filter the broker keeps in our persistent session is unsubscribed once we are
         * back, or the broker would go on sending (and queueing) it for nobody. */
        if (!wanted && hub_topic_idle(t) && !t->broker_holds)
            remove_topic(s, t);
        return;
    }
    const struct config *cfg = s->b->cfg;
    int rc;
    switch (t->state) {
    case UPSTREAM_NONE: {
        if (!wanted && t->broker_holds) {
            rc = mosquitto_unsubscribe_v5(s->link.mosq, &t->mid, t->name, NULL);
            if (rc == MOSQ_ERR_SUCCESS)
                t->state = UPSTREAM_UNSUBSCRIBING;
            break;
        }
        if (!wanted) {
            if (hub_topic_idle(t))
                remove_topic(s, t);
            return;
        }
        mosquitto_property *props = NULL;
        if (cfg->mqtt_protocol == 5) {
            if (t->sub_id == 0) {
                s->next_sub_id = s->next_sub_id % MAX_SUB_ID + 1;
                t->sub_id = s->next_sub_id;
            }
            mosquitto_property_add_varint(&props, MQTT_PROP_SUBSCRIPTION_IDENTIFIER, t->sub_id);
        }
        rc = mosquitto_subscribe_v5(s->link.mosq, &t->mid, t->name, cfg->mqtt_qos, 0, props);
        mosquitto_property_free_all(&props);
        if (rc != MOSQ_ERR_SUCCESS) {
            log_error("mqtt: cannot subscribe to %s: %s", t->name, mosquitto_strerror(rc));
            return;
        }
        t->state = UPSTREAM_SUBSCRIBING;
        if (has_wildcard(t->name))
            wild_add(s, t->name);
        break;
    }
    case UPSTREAM_SUBSCRIBED:
        if (wanted)
            return;
        rc = mosquitto_unsubscribe_v5(s->link.mosq, &t->mid, t->name, NULL);
        if (rc != MOSQ_ERR_SUCCESS)
            return;
        t->state = UPSTREAM_UNSUBSCRIBING;
        break;
    case UPSTREAM_SUBSCRIBING:
    case UPSTREAM_UNSUBSCRIBING:
        return; /* the acknowledgement syncs again */
    }
    want_write(&s->link);
}

struct by_mid {
    int mid;
    enum upstream_state state;
    struct topic *found;
};

static void find_mid(void *arg, struct topic *t) {
    struct by_mid *q = arg;
    if (t->kind == TOPIC_MQTT && t->mid == q->mid && t->state == q->state)
        q->found = t;
}

static struct topic *topic_by_mid(struct source_mqtt *s, int mid, enum upstream_state state) {
    struct by_mid q = {mid, state, NULL};
    hub_foreach(s->b->hub, find_mid, &q);
    return q.found;
}

static void on_subscribe(struct mosquitto *mosq, void *arg, int mid, int count, const int *granted,
                         const mosquitto_property *props) {
    struct source_mqtt *s = arg;
    (void)mosq, (void)props;
    struct topic *t = topic_by_mid(s, mid, UPSTREAM_SUBSCRIBING);
    if (t == NULL)
        return;
    t->state = UPSTREAM_SUBSCRIBED;
    t->broker_holds = !s->b->cfg->mqtt_clean_session;
    if (count < 1 || granted[0] >= 0x80) {
        /* Refused (ACL, bad filter): stays "subscribed" so it is not retried in a loop. */
        log_error("mqtt: the broker refused the subscription to %s (reason %d)", t->name,
                  count < 1 ? -1 : granted[0]);
    } else {
        log_debug("mqtt: subscribed to %s (QoS %d)", t->name, granted[0]);
    }
    if (t->journal_session && t->lease == LEASE_UNKNOWN)
        lease_tick_now(s->b->lease); /* its session opens with the lease: no tick's wait */
    if (t->journal_key != NULL && s->b->journal != NULL && !t->journal_session) {
        /* What was published while the filter was not subscribed is lost, unless the broker
         * queued it for our persistent session (QoS 1) and is delivering it now. */
        const struct config *cfg = s->b->cfg;
        bool queued = s->session_resumed && !cfg->mqtt_clean_session && cfg->mqtt_qos > 0 &&
                      cfg->mqtt_protocol != 5; /* see the protocol row of config.c */
        if (!queued)
            journal_owe_gap(s->b->journal, t, t->journal_seen);
        t->journal_seen = true;
    }
    mqtt_sync(s, t);
}

static void on_unsubscribe(struct mosquitto *mosq, void *arg, int mid,
                           const mosquitto_property *props) {
    struct source_mqtt *s = arg;
    (void)mosq, (void)props;
    struct topic *t = topic_by_mid(s, mid, UPSTREAM_UNSUBSCRIBING);
    if (t == NULL)
        return;
    t->state = UPSTREAM_NONE;
    t->broker_holds = false;
    log_debug("mqtt: unsubscribed from %s", t->name);
    if (has_wildcard(t->name))
        wild_remove(s, t->name);
    mqtt_sync(s, t);
}

/* --- connection callbacks ------------------------------------------------------------------ */

static void on_connect(struct mosquitto *mosq, void *arg, int rc, int flags,
                       const mosquitto_property *props) {
    struct source_mqtt *s = arg;
    (void)mosq, (void)props;
    if (rc != 0) {
        log_error("mqtt: %s:%d refused the connection: %s", s->addr.host, s->addr.port,
                  s->b->cfg->mqtt_protocol == 5 ? mosquitto_reason_string(rc)
                                                : mosquitto_connack_string(rc));
        s->failing_logged = true;
        connection_lost(&s->link, "connection refused");
        return;
    }
    if (s->ever_up)
        s->reconnects++;
    if (s->failing_logged || !s->ever_up)
        log_info("mqtt: connected to %s:%d (MQTT %s, session %s)", s->addr.host, s->addr.port,
                 s->b->cfg->mqtt_protocol == 5 ? "5" : "3.1.1", flags & 1 ? "resumed" : "new");
    s->ever_up = true;
    s->failing_logged = false;
    s->session_resumed = flags & 1;
    s->link.state = MQTT_UP;
    backoff_reset(&s->backoff);
    hub_foreach(s->b->hub, sync_topic, s);
}

/* A DISCONNECT callback of either client: lost unless it is the one we asked for. */
static void link_disconnected(struct link *l, int rc) {
    /* rc 0 is also what an MQTT 5 broker's own DISCONNECT (reason 0) looks like. */
    if (rc != 0 || !l->disconnecting)
        l->lost(l, "disconnected by the broker or the network");
}

static void on_disconnect(struct mosquitto *mosq, void *arg, int rc,
                          const mosquitto_property *props) {
    (void)mosq, (void)props;
    link_disconnected(&((struct source_mqtt *)arg)->link, rc);
}

/* --- messages ------------------------------------------------------------------------------ */

static bool id_listed(const uint32_t *ids, size_t n, unsigned id) {
    for (size_t i = 0; i < n; i++) {
        if (ids[i] == id)
            return true;
    }
    return false;
}

static unsigned long long fnv1a(const void *data, size_t n) {
    const unsigned char *p = data;
    unsigned long long h = 14695981039346656037ULL;
    for (size_t i = 0; i < n; i++)
        h = (h ^ p[i]) * 1099511628211ULL;
    return h;
}

/* Whether this MQTT 5 copy is another copy of the message before it (see `last`). */
static bool another_copy(struct source_mqtt *s, const struct mosquitto_message *m,
                         const uint32_t *ids, size_t nids) {
    unsigned long long hash = fnv1a(m->payload, (size_t)m->payloadlen);
    bool same = nids > 0 && s->last.topic != NULL && strcmp(s->last.topic, m->topic) == 0 &&
                s->last.payload_len == (size_t)m->payloadlen && s->last.payload_hash == hash;
    for (size_t i = 0; same && i < nids; i++)
        same = !id_listed(s->last.ids, s->last.nids, ids[i]);
    if (!same) {
        free(s->last.topic);
        s->last.topic = xstrdup(m->topic);
        s->last.payload_len = (size_t)m->payloadlen;
        s->last.payload_hash = hash;
        s->last.nids = 0;
    }
    for (size_t i = 0; i < nids && s->last.nids < 16; i++)
        s->last.ids[s->last.nids++] = ids[i];
    return same;
}

/* Whether a QoS 1 message is a redelivery of one received lately (same packet identifier,
 * topic and payload; the broker numbers new messages onwards, so a new message cannot match
 * within the window). Remembers it otherwise. */
static bool redelivered(struct redelivery *r, const struct mosquitto_message *m) {
    if (m->qos == 0 || m->retain)
        return false;
    unsigned long long hash =
        fnv1a(m->topic, strlen(m->topic)) ^ fnv1a(m->payload, (size_t)m->payloadlen) * 31;
    for (size_t i = 0; i < MQTT_REDELIVERY_WINDOW; i++) {
        if (r->seen[i].mid == m->mid && r->seen[i].hash == hash)
            return true;
    }
    r->seen[r->next].mid = m->mid;
    r->seen[r->next].hash = hash;
    r->next = (r->next + 1) % MQTT_REDELIVERY_WINDOW;
    return false;
}

/* A message as delivery takes it: topic, payload and (MQTT 5) its user properties, which
 * stay valid until message_in_clear. */
struct message_in {
    struct translate_in in;
    char *names[MAX_USER_PROPS], *values[MAX_USER_PROPS];
    const char *pairs[2 * MAX_USER_PROPS];
    size_t lens[2 * MAX_USER_PROPS], nprops;
};

static void message_in_init(struct message_in *mi, const struct mosquitto_message *m,
                            const mosquitto_property *props) {
    mi->nprops = 0;
    const mosquitto_property *p = props;
    for (bool skip = false; mi->nprops < MAX_USER_PROPS; skip = true) {
        size_t k = mi->nprops;
        p = mosquitto_property_read_string_pair(p, MQTT_PROP_USER_PROPERTY, &mi->names[k],
                                                &mi->values[k], skip);
        if (p == NULL)
            break;
        mi->pairs[2 * k] = mi->names[k];
        mi->lens[2 * k] = strlen(mi->names[k]);
        mi->pairs[2 * k + 1] = mi->values[k];
        mi->lens[2 * k + 1] = strlen(mi->values[k]);
        mi->nprops++;
    }
    mi->in = (struct translate_in){.channel = m->topic,
                                   .channel_len = strlen(m->topic),
                                   .payload = m->payloadlen > 0 ? m->payload : "",
                                   .payload_len = (size_t)m->payloadlen,
                                   .props = mi->pairs,
                                   .prop_lens = mi->lens,
                                   .nprops = mi->nprops};
}

static void message_in_clear(struct message_in *mi) {
    for (size_t i = 0; i < mi->nprops; i++) {
        free(mi->names[i]);
        free(mi->values[i]);
    }
}

/* A message of filter t heard by the process's own client. A filter journalled through a
 * journal session takes only its retained values from here (the broker sends those on
 * SUBSCRIBE, to every bridge); its messages are the session's to journal. */
static void deliver_filter(struct bridge *b, struct topic *t, const struct translate_in *in,
                           bool retain) {
    if (t->journal_session && lease_fenced(b->lease) && !retain) {
        hub_retain_refresh(t, in->channel, in->channel_len, in->payload, in->payload_len);
        return;
    }
    delivery_mqtt(b, t, in, retain);
}

static void on_message(struct mosquitto *mosq, void *arg, const struct mosquitto_message *m,
                       const mosquitto_property *props) {
    struct source_mqtt *s = arg;
    struct bridge *b = s->b;
    (void)mosq;
    if (redelivered(&s->redelivery, m)) {
        b->metrics.mqtt_redeliveries++;
        log_debug("mqtt: %s: a redelivery (packet %d) already delivered; dropped", m->topic,
                  m->mid);
        return;
    }
    b->metrics.messages_in++;
    /* MQTT 5: which of our subscriptions this copy is for, and the user properties. */
    uint32_t ids[16];
    size_t nids = 0;
    const mosquitto_property *p = props;
    for (bool skip = false; nids < 16; skip = true) {
        uint32_t id;
        p = mosquitto_property_read_varint(p, MQTT_PROP_SUBSCRIPTION_IDENTIFIER, &id, skip);
        if (p == NULL)
            break;
        ids[nids++] = id;
    }
    if (!another_copy(s, m, ids, nids))
        delivery_next_message(b); /* one message, however many of our filters it matches */
    struct message_in mi;
    message_in_init(&mi, m, props);
    /* The exact topic, then every wildcard filter that matches it. */
    struct topic *t = hub_find(b->hub, TOPIC_MQTT, mi.in.channel, mi.in.channel_len);
    if (t != NULL && t->state != UPSTREAM_NONE && (nids == 0 || id_listed(ids, nids, t->sub_id)))
        deliver_filter(b, t, &mi.in, m->retain);
    for (size_t i = 0; i < s->nwild; i++) {
        bool match = false;
        if (mosquitto_topic_matches_sub(s->wild[i], m->topic, &match) != MOSQ_ERR_SUCCESS || !match)
            continue;
        t = hub_find(b->hub, TOPIC_MQTT, s->wild[i], strlen(s->wild[i]));
        if (t != NULL && (nids == 0 || id_listed(ids, nids, t->sub_id)))
            deliver_filter(b, t, &mi.in, m->retain);
    }
    message_in_clear(&mi);
}

/* --- journal sessions ---------------------------------------------------------------------- */

/* The client settings every client of this source shares: protocol, credentials, TLS. */
static int client_setup(struct source_mqtt *s, struct mosquitto *mosq) {
    const struct config *cfg = s->b->cfg;
    mosquitto_int_option(mosq, MOSQ_OPT_PROTOCOL_VERSION,
                         cfg->mqtt_protocol == 5 ? MQTT_PROTOCOL_V5 : MQTT_PROTOCOL_V311);
    const char *user = cfg->mqtt_username ? cfg->mqtt_username : s->addr.username;
    const char *pass = cfg->mqtt_password ? cfg->mqtt_password : s->addr.password;
    if (user[0] != '\0')
        mosquitto_username_pw_set(mosq, user, pass[0] ? pass : NULL);
    if (s->addr.tls || cfg->mqtt_ca_file != NULL) {
        int rc =
            mosquitto_tls_set(mosq, cfg->mqtt_ca_file, cfg->mqtt_ca_file ? NULL : "/etc/ssl/certs",
                              cfg->mqtt_cert_file, cfg->mqtt_key_file, NULL);
        if (rc != MOSQ_ERR_SUCCESS) {
            log_error("mqtt: TLS settings refused (ca_file, cert_file, key_file): %s",
                      rc == MOSQ_ERR_ERRNO ? strerror(errno) : mosquitto_strerror(rc));
            return -1;
        }
    }
    return 0;
}

static void session_lost(struct link *l, const char *why) {
    struct session *j = (struct session *)l;
    if (l->state == MQTT_DOWN)
        return;
    log_info("mqtt: the journal session of %s lost its connection (%s); back once this bridge "
             "still holds the lease",
             j->t->name, why);
    link_drop(l);
    unsigned long long now = clock_now_ms(l->s->b->base);
    j->lost_ms = now;
    j->retry_at_ms = now + backoff_next(&j->backoff, (unsigned)random());
}

static void on_session_connect(struct mosquitto *mosq, void *arg, int rc, int flags,
                               const mosquitto_property *props) {
    struct session *j = arg;
    struct source_mqtt *s = j->link.s;
    const struct config *cfg = s->b->cfg;
    (void)props;
    if (rc != 0) {
        log_error("mqtt: %s:%d refused the journal session of %s: %s", s->addr.host, s->addr.port,
                  j->t->name,
                  cfg->mqtt_protocol == 5 ? mosquitto_reason_string(rc)
                                          : mosquitto_connack_string(rc));
        session_lost(&j->link, "connection refused");
        return;
    }
    j->link.state = MQTT_UP;
    backoff_reset(&j->backoff);
    /* Whether the broker queued what was published while no writer was connected: a session
     * it kept, QoS 1, and (see the protocol row of config.c) MQTT 3.1.1. */
    bool kept =
        (flags & 1) && !cfg->mqtt_clean_session && cfg->mqtt_qos > 0 && cfg->mqtt_protocol != 5;
    log_info("mqtt: journal session of %s open (%s)", j->t->name,
             kept ? "kept by the broker: what was published meanwhile comes now" : "new");
    journal_session_open(s->b->journal, j->t, kept);
    /* Subscribed again even when kept: a SUBSCRIBE of a subscription the session has changes
     * nothing in it (its retained messages are ignored below). */
    int mid;
    rc = mosquitto_subscribe_v5(mosq, &mid, j->t->name, cfg->mqtt_qos, 0, NULL);
    if (rc != MOSQ_ERR_SUCCESS)
        log_error("mqtt: the journal session cannot subscribe to %s: %s", j->t->name,
                  mosquitto_strerror(rc));
}

static void on_session_disconnect(struct mosquitto *mosq, void *arg, int rc,
                                  const mosquitto_property *props) {
    (void)mosq, (void)props;
    link_disconnected(&((struct session *)arg)->link, rc);
}

static void on_session_subscribe(struct mosquitto *mosq, void *arg, int mid, int count,
                                 const int *granted, const mosquitto_property *props) {
    struct session *j = arg;
    (void)mosq, (void)mid, (void)props;
    if (count < 1 || granted[0] >= 0x80)
        log_error("mqtt: the broker refused the journal session's subscription to %s (reason %d)",
                  j->t->name, count < 1 ? -1 : granted[0]);
    else
        log_debug("mqtt: journal session subscribed to %s (QoS %d)", j->t->name, granted[0]);
}

static void on_session_message(struct mosquitto *mosq, void *arg, const struct mosquitto_message *m,
                               const mosquitto_property *props) {
    struct session *j = arg;
    struct bridge *b = j->link.s->b;
    (void)mosq;
    /* Retained values are the process's own client's (every bridge keeps them); a queued
     * message of a kept session comes without the flag. */
    if (m->retain)
        return;
    if (redelivered(&j->redelivery, m)) {
        b->metrics.mqtt_redeliveries++;
        return;
    }
    delivery_next_message(b);
    struct message_in mi;
    message_in_init(&mi, m, props);
    delivery_mqtt(b, j->t, &mi.in, false); /* the journal, this process being its writer */
    message_in_clear(&mi);
}

/* The session's id: the same on every bridge of one journal, so that the broker's session
 * goes from one writer to the next. From the journal's key alone, which holds journal_prefix
 * (what sets two deployments on one broker apart); not from client_id, which each bridge
 * sets to an id of its own. */
static void session_client_id(const struct topic *t, char *out, size_t cap) {
    snprintf(out, cap, "sse-bridge-journal-%016llx", fnv1a(t->journal_key, strlen(t->journal_key)));
}

static struct session *session_new(struct source_mqtt *s, struct topic *t) {
    const struct config *cfg = s->b->cfg;
    char id[64];
    session_client_id(t, id, sizeof(id));
    struct session *j = xcalloc(1, sizeof(*j));
    j->link = (struct link){.s = s, .fd = -1, .lost = session_lost};
    j->t = t;
    j->link.mosq = mosquitto_new(id, cfg->mqtt_clean_session, j);
    if (j->link.mosq == NULL || client_setup(s, j->link.mosq) != 0) {
        if (j->link.mosq == NULL)
            log_error("mqtt: cannot create a client: %s", strerror(errno));
        mosquitto_destroy(j->link.mosq);
        free(j);
        return NULL;
    }
    mosquitto_connect_v5_callback_set(j->link.mosq, on_session_connect);
    mosquitto_disconnect_v5_callback_set(j->link.mosq, on_session_disconnect);
    mosquitto_subscribe_v5_callback_set(j->link.mosq, on_session_subscribe);
    mosquitto_message_v5_callback_set(j->link.mosq, on_session_message);
    backoff_init(&j->backoff, cfg->backoff_min_ms, cfg->backoff_max_ms);
    t->pending++;
    j->next = s->sessions;
    s->sessions = j;
    log_debug("mqtt: journal session of %s as %s", t->name, id);
    return j;
}

/* Closed: the broker keeps the session (and queues for it) for the next writer. Returns the
 * topic, which the caller syncs once it is done with the list (it may go then). */
static struct topic *session_free(struct session *j) {
    struct topic *t = j->t;
    if (j->link.state != MQTT_DOWN)
        log_info("mqtt: journal session of %s closed (this bridge no longer writes it)", t->name);
    link_drop(&j->link);
    mosquitto_destroy(j->link.mosq);
    t->pending--;
    free(j);
    return t;
}

static bool has_session(const struct source_mqtt *s, const struct topic *t) {
    for (const struct session *j = s->sessions; j; j = j->next) {
        if (j->t == t)
            return true;
    }
    return false;
}

static void open_held(void *arg, struct topic *t) {
    struct source_mqtt *s = arg;
    if (t->kind != TOPIC_MQTT)
        return;
    t->journal_session = journal_session_mode(s, t); /* leases can go (a Redis before 7.0) */
    if (t->journal_session && t->lease == LEASE_HELD && !has_session(s, t))
        session_new(s, t);
}

/* Each held journal has its session, connected; none other has one. A session goes with the
 * lease (while it is not known to be another bridge's: a write finds out); it connects again
 * once Redis confirmed the lease after the loss and its backoff is over. */
static void sessions_check(struct source_mqtt *s) {
    struct bridge *b = s->b;
    unsigned long long now = clock_now_ms(b->base);
    hub_foreach(b->hub, open_held, s);
    for (struct session **p = &s->sessions; *p;) {
        struct session *j = *p;
        if (!j->t->journal_session || j->t->lease == LEASE_OTHER) {
            *p = j->next;
            hub_sync(b->hub, session_free(j));
            continue;
        }
        if (j->link.state == MQTT_DOWN && now >= j->retry_at_ms &&
            (!j->connected_once || (j->t->lease == LEASE_HELD && j->t->renewed_ms > j->lost_ms))) {
            int rc = link_connect(&j->link, j->connected_once);
            if (rc == MOSQ_ERR_SUCCESS) {
                j->connected_once = true;
            } else {
                j->link.state = MQTT_CONNECTING;
                session_lost(&j->link,
                             rc == MOSQ_ERR_ERRNO ? strerror(errno) : mosquitto_strerror(rc));
            }
        }
        p = &j->next;
    }
}

static void on_sessions(evutil_socket_t fd, short what, void *arg) {
    (void)fd, (void)what;
    sessions_check(arg);
}

/* --- lifetime ------------------------------------------------------------------------------ */

static const struct source_ops ops;

struct source *source_mqtt_new(struct bridge *b) {
    const struct config *cfg = b->cfg;
    struct source_mqtt *s = xcalloc(1, sizeof(*s));
    s->b = b;
    s->link = (struct link){.s = s, .fd = -1, .lost = connection_lost};
    const char *err = mqtt_url_parse(cfg->mqtt_url, &s->addr);
    if (err != NULL) {
        log_error("mqtt URL %s: %s", cfg->mqtt_url, err);
        goto fail;
    }
    mosquitto_lib_init();
    char id[300];
    if (cfg->mqtt_client_id != NULL) {
        snprintf(id, sizeof(id), "%s", cfg->mqtt_client_id);
    } else {
        char host[256] = "localhost";
        gethostname(host, sizeof(host) - 1);
        /* The port bound, not the one asked for: two bridges on ":0" must not share an id
         * (the broker would cut one off for the other, over and over). */
        snprintf(id, sizeof(id), "sse-bridge-%s-%d", host, b->listen_port);
    }
    /* Workers on one port each need a session of their own, the same one after a restart. */
    if (cfg->worker > 0)
        snprintf(id + strlen(id), sizeof(id) - strlen(id), "-w%d", cfg->worker);
    s->link.mosq = mosquitto_new(id, cfg->mqtt_clean_session, s);
    if (s->link.mosq == NULL) {
        log_error("mqtt: cannot create a client: %s", strerror(errno));
        goto fail;
    }
    if (client_setup(s, s->link.mosq) != 0)
        goto fail;
    mosquitto_connect_v5_callback_set(s->link.mosq, on_connect);
    mosquitto_disconnect_v5_callback_set(s->link.mosq, on_disconnect);
    mosquitto_subscribe_v5_callback_set(s->link.mosq, on_subscribe);
    mosquitto_unsubscribe_v5_callback_set(s->link.mosq, on_unsubscribe);
    mosquitto_message_v5_callback_set(s->link.mosq, on_message);
    backoff_init(&s->backoff, cfg->backoff_min_ms, cfg->backoff_max_ms);
    s->retry_ev = evtimer_new(b->base, on_retry, s);
    s->misc_ev = event_new(b->base, -1, EV_PERSIST, on_misc, s);
    s->sessions_ev = event_new(b->base, -1, 0, on_sessions, s);
    s->base.ops = &ops;
    return &s->base;
fail:
    mqtt_free(s);
    return NULL;
}

static void mqtt_start(struct source_mqtt *s) {
    struct timeval tv = {MQTT_MISC_INTERVAL_MS / 1000, (MQTT_MISC_INTERVAL_MS % 1000) * 1000};
    event_add(s->misc_ev, &tv);
    try_connect(s);
}

static void mqtt_free(struct source_mqtt *s) {
    if (s == NULL)
        return;
    while (s->sessions) {
        struct session *j = s->sessions;
        s->sessions = j->next;
        session_free(j); /* the hub goes too: no sync */
    }
    unwatch(&s->link);
    if (s->link.mosq != NULL) {
        /* Ours, and final: on_disconnect must not take it for a lost connection and schedule
         * a retry (on an event about to be freed). */
        s->link.disconnecting = true;
        s->link.state = MQTT_DOWN;
        mosquitto_disconnect(s->link.mosq);
        mosquitto_destroy(s->link.mosq);
        mosquitto_lib_cleanup();
    }
    if (s->retry_ev)
        event_free(s->retry_ev);
    if (s->misc_ev)
        event_free(s->misc_ev);
    if (s->sessions_ev)
        event_free(s->sessions_ev);
    for (size_t i = 0; i < s->nwild; i++)
        free(s->wild[i]);
    free(s->wild);
    free(s->last.topic);
    free(s);
}

static bool mqtt_up(const struct source_mqtt *s) {
    return s != NULL && s->link.state == MQTT_UP;
}

static unsigned long long mqtt_reconnects(const struct source_mqtt *s) {
    return s ? s->reconnects : 0;
}

static void ops_start(struct source *src) {
    mqtt_start((struct source_mqtt *)src);
}

static void ops_sync(struct source *src, struct topic *t) {
    mqtt_sync((struct source_mqtt *)src, t);
}

static bool ops_up(const struct source *src) {
    return mqtt_up((const struct source_mqtt *)src);
}

static unsigned long long ops_reconnects(const struct source *src) {
    return mqtt_reconnects((const struct source_mqtt *)src);
}

static void ops_free(struct source *src) {
    mqtt_free((struct source_mqtt *)src);
}

static const struct source_ops ops = {
    .name = "mqtt",
    .upstream = "mqtt",
    .kinds = SOURCE_KIND(TOPIC_MQTT),
    .start = ops_start,
    .sync = ops_sync,
    .up = ops_up,
    .reconnects = ops_reconnects,
    .free = ops_free,
};
