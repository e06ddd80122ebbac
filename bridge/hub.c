#include "hub.h"

#include <stdlib.h>
#include <string.h>

#include "xmalloc.h"

struct hub {
    struct topic **buckets;
    size_t nbuckets; /* a power of two */
    size_t ntopics;
    unsigned linger_ms;
    void (*sync)(void *arg, struct topic *t);
    void *sync_arg;
};

static size_t hash(enum topic_kind kind, const char *s, size_t n) {
    size_t h = 1469598103934665603ULL ^ (size_t)kind; /* FNV-1a */
    for (size_t i = 0; i < n; i++)
        h = (h ^ (unsigned char)s[i]) * 1099511628211ULL;
    return h;
}

struct hub *hub_new(unsigned linger_ms) {
    struct hub *hub = xcalloc(1, sizeof(*hub));
    hub->nbuckets = 64;
    hub->buckets = xcalloc(hub->nbuckets, sizeof(*hub->buckets));
    hub->linger_ms = linger_ms;
    return hub;
}

void hub_sub_hold(struct hub_sub *s, struct msg *body, struct stream_id id, bool start_marker) {
    struct held *h = xmalloc(sizeof(*h));
    h->body = body;
    h->id = id;
    h->start_marker = start_marker;
    h->next = NULL;
    if (s->held_tail)
        s->held_tail->next = h;
    else
        s->held = h;
    s->held_tail = h;
    s->held_bytes += body->len;
}

struct held *hub_sub_take_held(struct hub_sub *s) {
    struct held *h = s->held;
    s->held = s->held_tail = NULL;
    s->held_bytes = 0;
    return h;
}

struct held *hub_held_free(struct held *h) {
    struct held *next = h->next;
    msg_unref(h->body);
    free(h);
    return next;
}

void hub_sub_drop_held(struct hub_sub *s) {
    for (struct held *h = hub_sub_take_held(s); h;)
        h = hub_held_free(h);
}

void hub_set_sync(struct hub *hub, void (*fn)(void *arg, struct topic *t), void *arg) {
    hub->sync = fn;
    hub->sync_arg = arg;
}

void hub_sync(struct hub *hub, struct topic *t) {
    if (hub->sync != NULL)
        hub->sync(hub->sync_arg, t);
}

static void sub_free(struct hub_sub *s) {
    hub_sub_drop_held(s);
    free(s);
}

static void retained_free(struct retained *r) {
    while (r) {
        struct retained *next = r->next;
        free(r->topic);
        free(r->payload);
        free(r);
        r = next;
    }
}

static struct retained **retained_find(struct topic *t, const char *topic, size_t len) {
    struct retained **rp = &t->retained;
    while (*rp && !((*rp)->topic_len == len && memcmp((*rp)->topic, topic, len) == 0))
        rp = &(*rp)->next;
    return rp;
}

bool hub_retain(struct topic *t, const char *topic, size_t topic_len, const char *payload,
                size_t payload_len, size_t max) {
    struct retained **rp = retained_find(t, topic, topic_len), *r = *rp;
    if (r != NULL && r->payload_len == payload_len && memcmp(r->payload, payload, payload_len) == 0)
        return false;
    if (r != NULL) { /* unlink; stored again below at the front (newest first) */
        *rp = r->next;
        t->nretained--;
        r->next = NULL;
        retained_free(r);
    }
    if (payload_len == 0 || max == 0)
        return r != NULL || payload_len != 0;
    r = xcalloc(1, sizeof(*r));
    r->topic = xstrndup(topic, topic_len);
    r->topic_len = topic_len;
    r->payload = xmalloc(payload_len);
    memcpy(r->payload, payload, payload_len);
    r->payload_len = payload_len;
    r->next = t->retained;
    t->retained = r;
    if (++t->nretained > max) { /* drop the oldest: the last one */
        struct retained **last = &t->retained;
        while ((*last)->next)
            last = &(*last)->next;
        retained_free(*last);
        *last = NULL;
        t->nretained--;
    }
    return true;
}

void hub_retain_refresh(struct topic *t, const char *topic, size_t topic_len, const char *payload,
                        size_t payload_len) {
    struct retained *r = *retained_find(t, topic, topic_len);
    if (r == NULL || payload_len == 0)
        return;
    free(r->payload);
    r->payload = xmalloc(payload_len);
    memcpy(r->payload, payload, payload_len);
    r->payload_len = payload_len;
}

static void topic_free(struct topic *t) {
    struct feed *f = t->feeds;
    while (f) {
        struct feed *next_feed = f->next;
        for (struct hub_sub *s = f->subs, *next; s; s = next) {
            next = s->next;
            sub_free(s);
        }
        free(f);
        f = next_feed;
    }
    retained_free(t->retained);
    free(t->journal_key);
    free(t->name);
    free(t);
}

void hub_free(struct hub *hub) {
    if (hub == NULL)
        return;
    for (size_t i = 0; i < hub->nbuckets; i++) {
        for (struct topic *t = hub->buckets[i], *next; t; t = next) {
            next = t->hash_next;
            topic_free(t);
        }
    }
    free(hub->buckets);
    free(hub);
}

struct topic *hub_find(struct hub *hub, enum topic_kind kind, const char *name, size_t len) {
    struct topic *t = hub->buckets[hash(kind, name, len) & (hub->nbuckets - 1)];
    for (; t; t = t->hash_next) {
        if (t->kind == kind && t->name_len == len && memcmp(t->name, name, len) == 0)
            return t;
    }
    return NULL;
}

static void grow(struct hub *hub) {
    size_t n = hub->nbuckets * 2;
    struct topic **buckets = xcalloc(n, sizeof(*buckets));
    for (size_t i = 0; i < hub->nbuckets; i++) {
        for (struct topic *t = hub->buckets[i], *next; t; t = next) {
            next = t->hash_next;
            size_t b = hash(t->kind, t->name, t->name_len) & (n - 1);
            t->hash_next = buckets[b];
            buckets[b] = t;
        }
    }
    free(hub->buckets);
    hub->buckets = buckets;
    hub->nbuckets = n;
}

static struct topic *topic_get(struct hub *hub, enum topic_kind kind, const char *name) {
    size_t len = strlen(name);
    struct topic *t = hub_find(hub, kind, name, len);
    if (t != NULL)
        return t;
    if (hub->ntopics >= hub->nbuckets)
        grow(hub);
    t = xcalloc(1, sizeof(*t));
    t->name = xstrndup(name, len);
    t->name_len = len;
    t->kind = kind;
    t->linger_ms = hub->linger_ms;
    size_t b = hash(kind, name, len) & (hub->nbuckets - 1);
    t->hash_next = hub->buckets[b];
    hub->buckets[b] = t;
    hub->ntopics++;
    return t;
}

struct hub_sub *hub_join(struct hub *hub, enum topic_kind kind, const char *name,
                         const void *feed_key, void *client) {
    struct topic *t = topic_get(hub, kind, name);
    struct feed *f = t->feeds;
    while (f && f->key != feed_key)
        f = f->next;
    if (f == NULL) {
        f = xcalloc(1, sizeof(*f));
        f->key = feed_key;
        f->next = t->feeds;
        t->feeds = f;
    }
    struct hub_sub *s = xcalloc(1, sizeof(*s));
    s->feed = f;
    s->topic = t;
    s->client = client;
    s->next = f->subs;
    if (f->subs)
        f->subs->prev = s;
    f->subs = s;
    t->nsubs++;
    return s;
}

void hub_leave(struct hub *hub, struct hub_sub *s, unsigned long long now_ms) {
    (void)hub;
    struct topic *t = s->topic;
    if (s->prev)
        s->prev->next = s->next;
    else
        s->feed->subs = s->next;
    if (s->next)
        s->next->prev = s->prev;
    if (--t->nsubs == 0)
        t->idle_since_ms = now_ms;
    sub_free(s);
}

struct topic *hub_pin(struct hub *hub, enum topic_kind kind, const char *name) {
    struct topic *t = topic_get(hub, kind, name);
    t->pinned = true;
    return t;
}

bool hub_topic_wanted(const struct hub *hub, const struct topic *t, unsigned long long now_ms) {
    (void)hub;
    return t->nsubs > 0 || t->pinned || now_ms - t->idle_since_ms < t->linger_ms;
}

void hub_topic_journal(struct topic *t, const char *key, size_t maxlen,
                       unsigned long long max_age_ms, unsigned linger_ms) {
    if (t->journal_key == NULL)
        t->journal_key = xstrdup(key);
    /* Two routes journalling one topic: the longer retention and linger win. */
    if (maxlen > t->journal_maxlen)
        t->journal_maxlen = maxlen;
    if (max_age_ms > t->journal_max_age_ms)
        t->journal_max_age_ms = max_age_ms;
    if (linger_ms > t->linger_ms)
        t->linger_ms = linger_ms;
}

void hub_prune(struct topic *t) {
    for (struct feed **fp = &t->feeds; *fp;) {
        struct feed *f = *fp;
        if (f->subs == NULL) {
            *fp = f->next;
            free(f);
        } else {
            fp = &f->next;
        }
    }
}

bool hub_topic_idle(const struct topic *t) {
    return t->state == UPSTREAM_NONE && t->follow == UPSTREAM_NONE && t->pending == 0;
}

void hub_remove(struct hub *hub, struct topic *t) {
    struct topic **tp = &hub->buckets[hash(t->kind, t->name, t->name_len) & (hub->nbuckets - 1)];
    while (*tp && *tp != t)
        tp = &(*tp)->hash_next;
    if (*tp == NULL)
        return;
    *tp = t->hash_next;
    hub->ntopics--;
    topic_free(t);
}

void hub_foreach(struct hub *hub, void (*fn)(void *arg, struct topic *t), void *arg) {
    for (size_t i = 0; i < hub->nbuckets; i++) {
        for (struct topic *t = hub->buckets[i], *next; t; t = next) {
            next = t->hash_next;
            fn(arg, t);
        }
    }
}

size_t hub_topic_count(const struct hub *hub) {
    return hub->ntopics;
}
