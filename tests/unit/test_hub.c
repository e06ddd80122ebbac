/* hub: scripted scenarios, one step per row, each step followed by the state it must leave
 * (subscriber count, feeds, wanted-ness at a given time, topic count). Then the properties a
 * table cannot show well: list integrity under removal, foreach with removal, and growth to
 * 1000 topics of each kind. */
#include "hub.h"

#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "msg.h"
#include "xmalloc.h"

#define MAX_STEPS 24
#define MAX_CLIENTS 8
#define LINGER 2000

enum op {
    END,
    JOIN,   /* client joins topic in feed `feed` */
    LEAVE,  /* client's sub leaves at `now` */
    PIN,    /* hub_pin(topic) */
    PRUNE,  /* hub_prune(topic) */
    REMOVE, /* hub_remove(topic) */
    CHECK_ONLY,
};

/* Feed keys are addresses of routes in the bridge; any distinct pointers do. */
static const int feed_keys[3];

struct step {
    enum op op;
    enum topic_kind kind;
    const char *topic;
    int feed;   /* index into feed_keys */
    int client; /* 1..MAX_CLIENTS-1 */
    unsigned long long now;
    /* State of `topic` afterwards; -1: the topic must not exist. */
    int nsubs;
    int feeds;
    int wanted; /* hub_topic_wanted at `now` */
    size_t topics;
};

struct scenario {
    const char *name;
    unsigned linger;
    struct step steps[MAX_STEPS];
};

#define C TOPIC_CHANNEL
#define P TOPIC_PATTERN
#define S TOPIC_STREAM

// clang-format off
static const struct scenario scenarios[] = {
    {"join and leave", LINGER, {
        {JOIN, C, "a", 0, 1, 0, 1, 1, 1, 1},
        {JOIN, C, "a", 0, 2, 0, 2, 1, 1, 1},
        {JOIN, C, "a", 1, 3, 0, 3, 2, 1, 1},
        {JOIN, C, "b", 0, 4, 0, 1, 1, 1, 2},
        {LEAVE, C, "a", 0, 1, 100, 2, 2, 1, 2},
        {LEAVE, C, "a", 0, 3, 100, 1, 2, 1, 2}, /* an empty feed stays until pruned */
        {PRUNE, C, "a", 0, 0, 100, 1, 1, 1, 2},
        {LEAVE, C, "a", 0, 2, 100, 0, 1, 1, 2},
        {PRUNE, C, "a", 0, 0, 100, 0, 0, 1, 2},
        {REMOVE, C, "a", 0, 0, 5000, -1, 0, 0, 1},
        {CHECK_ONLY, C, "b", 0, 0, 5000, 1, 1, 1, 1},
    }},
    {"linger", LINGER, {
        {JOIN, C, "a", 0, 1, 0, 1, 1, 1, 1},
        {LEAVE, C, "a", 0, 1, 1000, 0, 1, 1, 1},
        {CHECK_ONLY, C, "a", 0, 0, 2999, 0, 1, 1, 1},
        {CHECK_ONLY, C, "a", 0, 0, 3000, 0, 1, 0, 1},
        {JOIN, C, "a", 0, 2, 0, 1, 1, 1, 1},
        {CHECK_ONLY, C, "a", 0, 0, 100000, 1, 1, 1, 1},
        {LEAVE, C, "a", 0, 2, 100000, 0, 1, 1, 1}, /* the idle clock starts again */
        {CHECK_ONLY, C, "a", 0, 0, 101999, 0, 1, 1, 1},
        {CHECK_ONLY, C, "a", 0, 0, 102000, 0, 1, 0, 1},
    }},
    {"no linger", 0, {
        {JOIN, C, "a", 0, 1, 0, 1, 1, 1, 1},
        {LEAVE, C, "a", 0, 1, 1000, 0, 1, 0, 1},
    }},
    {"leaving one of two keeps it wanted", LINGER, {
        {JOIN, C, "a", 0, 1, 0, 1, 1, 1, 1},
        {JOIN, C, "a", 0, 2, 0, 2, 1, 1, 1},
        {LEAVE, C, "a", 0, 1, 1000, 1, 1, 1, 1},
        {CHECK_ONLY, C, "a", 0, 0, 1000000, 1, 1, 1, 1},
    }},
    {"pin", LINGER, {
        {PIN, C, "s", 0, 0, 0, 0, 0, 1, 1},
        {CHECK_ONLY, C, "s", 0, 0, 1000000, 0, 0, 1, 1},
        {JOIN, C, "s", 0, 1, 0, 1, 1, 1, 1},
        {LEAVE, C, "s", 0, 1, 10, 0, 1, 1, 1},
        {CHECK_ONLY, C, "s", 0, 0, 1000000, 0, 1, 1, 1},
        {PIN, C, "s", 0, 0, 1000000, 0, 1, 1, 1}, /* pinning twice: still one topic */
        {PIN, P, "s", 0, 0, 0, 0, 0, 1, 2},
    }},
    {"pin a topic with clients", LINGER, {
        {JOIN, C, "a", 0, 1, 0, 1, 1, 1, 1},
        {PIN, C, "a", 0, 0, 0, 1, 1, 1, 1},
        {LEAVE, C, "a", 0, 1, 10, 0, 1, 1, 1},
        {CHECK_ONLY, C, "a", 0, 0, 1000000, 0, 1, 1, 1},
    }},
    {"kinds are separate", LINGER, {
        {JOIN, C, "x.*", 0, 1, 0, 1, 1, 1, 1},
        {JOIN, P, "x.*", 0, 2, 0, 1, 1, 1, 2},
        {LEAVE, C, "x.*", 0, 1, 0, 0, 1, 1, 2},
        {CHECK_ONLY, P, "x.*", 0, 0, 0, 1, 1, 1, 2},
        {REMOVE, C, "x.*", 0, 0, 0, -1, 0, 0, 1},
        {CHECK_ONLY, P, "x.*", 0, 0, 0, 1, 1, 1, 1},
    }},
    {"remove with clients and feeds", LINGER, {
        {JOIN, C, "a", 0, 1, 0, 1, 1, 1, 1},
        {JOIN, C, "a", 1, 2, 0, 2, 2, 1, 1},
        {JOIN, C, "a", 2, 3, 0, 3, 3, 1, 1},
        {REMOVE, C, "a", 0, 0, 0, -1, 0, 0, 0}, /* everything freed (ASan reports a leak) */
        {JOIN, C, "a", 0, 4, 0, 1, 1, 1, 1},
    }},
};
// clang-format on

static int count_feeds(const struct topic *t) {
    int n = 0;
    for (const struct feed *f = t->feeds; f; f = f->next)
        n++;
    return n;
}

/* Every sub of every feed points back at its feed and topic, prev links mirror next links, and
 * the subs add up to nsubs. */
static int topic_consistent(const struct topic *t) {
    size_t subs = 0;
    for (const struct feed *f = t->feeds; f; f = f->next) {
        const struct hub_sub *prev = NULL;
        for (const struct hub_sub *s = f->subs; s; prev = s, s = s->next) {
            if (s->feed != f || s->topic != t || s->prev != prev)
                return 0;
            subs++;
        }
    }
    return subs == t->nsubs;
}

static void run_scenario(const struct scenario *sc) {
    struct hub *hub = hub_new(sc->linger);
    struct hub_sub *subs[MAX_CLIENTS] = {0};
    int clients[MAX_CLIENTS]; /* the client pointers handed in */

    for (int i = 0; i < MAX_STEPS && sc->steps[i].op != END; i++) {
        const struct step *st = &sc->steps[i];
        size_t len = strlen(st->topic);
        struct topic *t = hub_find(hub, st->kind, st->topic, len);
        int before = check_failures;
        switch (st->op) {
        case JOIN:
            subs[st->client] =
                hub_join(hub, st->kind, st->topic, &feed_keys[st->feed], &clients[st->client]);
            t = hub_find(hub, st->kind, st->topic, len);
            CHECK(subs[st->client]->topic == t);
            CHECK(subs[st->client]->client == &clients[st->client]);
            CHECK(subs[st->client]->feed->key == &feed_keys[st->feed]);
            break;
        case LEAVE:
            hub_leave(hub, subs[st->client], st->now);
            subs[st->client] = NULL;
            break;
        case PIN:
            t = hub_pin(hub, st->kind, st->topic);
            CHECK(t == hub_find(hub, st->kind, st->topic, len));
            CHECK(t->pinned);
            break;
        case PRUNE:
            hub_prune(t);
            break;
        case REMOVE:
            hub_remove(hub, t);
            break;
        case CHECK_ONLY:
        case END:
            break;
        }
        t = hub_find(hub, st->kind, st->topic, len);
        if (st->nsubs < 0) {
            CHECK(t == NULL);
        } else {
            CHECK(t != NULL);
            if (t != NULL) {
                CHECK_INT(t->nsubs, st->nsubs);
                CHECK_INT(count_feeds(t), st->feeds);
                CHECK_INT(hub_topic_wanted(hub, t, st->now), st->wanted);
                CHECK_MEM(t->name, t->name_len, st->topic);
                CHECK_INT(t->kind, st->kind);
                CHECK(topic_consistent(t));
            }
        }
        CHECK_INT(hub_topic_count(hub), st->topics);
        if (check_failures != before)
            fprintf(stderr, "  in scenario \"%s\", step %d\n", sc->name, i + 1);
    }
    hub_free(hub); /* frees what the scenario left, subs included */
}

/* hub_find compares the given length, kind and bytes; a prefix or a longer name is another
 * topic. */
struct find_row {
    enum topic_kind kind;
    const char *name;
    size_t len;
    int found;
};

// clang-format off
static const struct find_row find_rows[] = {
    {C, "orders", 6, 1},
    {P, "orders", 6, 0},
    {C, "order", 5, 0},
    {C, "ordersx", 7, 0},
    {C, "ordersx", 6, 1},
    {C, "Orders", 6, 0},
    {C, "", 0, 0},
    {P, "o*", 2, 1},
    {S, "orders", 6, 0},
};
// clang-format on

static void test_find(void) {
    struct hub *hub = hub_new(LINGER);
    int client;
    hub_join(hub, C, "orders", &feed_keys[0], &client);
    hub_join(hub, P, "o*", &feed_keys[0], &client);
    for (size_t i = 0; i < sizeof(find_rows) / sizeof(find_rows[0]); i++) {
        const struct find_row *r = &find_rows[i];
        struct topic *t = hub_find(hub, r->kind, r->name, r->len);
        CHECK_INT(t != NULL, r->found);
        if ((t != NULL) != r->found)
            fprintf(stderr, "  in hub_find(%d, \"%.*s\")\n", r->kind, (int)r->len, r->name);
    }
    hub_free(hub);
}

/* Unlinking the head, a middle and the tail of a feed's list keeps both directions right. */
static void test_leave_positions(void) {
    static const int orders[][4] = {{0, 1, 2, 3}, {3, 2, 1, 0}, {1, 3, 0, 2}, {2, 0, 3, 1}};
    for (size_t o = 0; o < sizeof(orders) / sizeof(orders[0]); o++) {
        struct hub *hub = hub_new(LINGER);
        struct hub_sub *subs[4];
        int clients[4];
        for (int i = 0; i < 4; i++)
            subs[i] = hub_join(hub, C, "a", &feed_keys[0], &clients[i]);
        struct topic *t = hub_find(hub, C, "a", 1);
        for (int k = 0; k < 4; k++) {
            hub_leave(hub, subs[orders[o][k]], 10);
            CHECK_INT(t->nsubs, 3 - k);
            CHECK(topic_consistent(t));
        }
        CHECK(t->feeds != NULL && t->feeds->subs == NULL);
        hub_free(hub);
    }
}

/* The delivery loop of the bridge: save next, then the client may be cut (hub_leave) during
 * the send. Every sub is visited once and none touched after being freed. */
static void test_leave_during_delivery(void) {
    struct hub *hub = hub_new(LINGER);
    int clients[5], visited = 0;
    for (int i = 0; i < 5; i++)
        hub_join(hub, C, "a", &feed_keys[0], &clients[i]);
    struct topic *t = hub_find(hub, C, "a", 1);
    for (struct hub_sub *s = t->feeds->subs, *next; s; s = next) {
        next = s->next;
        visited++;
        if (s->client == &clients[1] || s->client == &clients[3] || s->client == &clients[4])
            hub_leave(hub, s, 0);
    }
    CHECK_INT(visited, 5);
    CHECK_INT(t->nsubs, 2);
    CHECK(topic_consistent(t));
    hub_free(hub);
}

/* foreach may remove the topic it is given: remove every other one. */
struct sweep {
    struct hub *hub;
    int visits;
    int removed;
    char seen[100];
};

static void sweep_one(void *arg, struct topic *t) {
    struct sweep *s = arg;
    int n = atoi(t->name + 1);
    s->visits++;
    if (n >= 0 && n < 100)
        s->seen[n]++;
    if (n % 2 == 0) {
        hub_remove(s->hub, t);
        s->removed++;
    }
}

static void test_foreach_remove(void) {
    struct hub *hub = hub_new(LINGER);
    struct sweep s = {hub, 0, 0, {0}};
    char name[16];
    for (int i = 0; i < 100; i++) {
        snprintf(name, sizeof(name), "t%d", i);
        hub_pin(hub, C, name);
    }
    hub_foreach(hub, sweep_one, &s);
    CHECK_INT(s.visits, 100);
    CHECK_INT(s.removed, 50);
    int once = 1;
    for (int i = 0; i < 100; i++)
        once &= s.seen[i] == 1;
    CHECK(once);
    CHECK_INT(hub_topic_count(hub), 50);
    for (int i = 0; i < 100; i++) {
        snprintf(name, sizeof(name), "t%d", i);
        CHECK_INT(hub_find(hub, C, name, strlen(name)) != NULL, i % 2);
    }
    hub_free(hub);
}

static void count_topic(void *arg, struct topic *t) {
    (void)t;
    (*(int *)arg)++;
}

/* Past the 64 initial buckets: 1000 channels and 1000 patterns of the same names, each found
 * again by name, kind and pointer after every resize; then all removed. */
static void test_growth(void) {
    enum { N = 1000 };
    struct hub *hub = hub_new(LINGER);
    struct hub_sub **subs = xcalloc(2 * N, sizeof(*subs));
    int client, visits = 0, found = 0, right = 0;
    char name[16];
    for (int i = 0; i < 2 * N; i++) {
        snprintf(name, sizeof(name), "topic.%d", i % N);
        subs[i] = hub_join(hub, i < N ? C : P, name, &feed_keys[0], &client);
    }
    CHECK_INT(hub_topic_count(hub), 2 * N);
    for (int i = 0; i < 2 * N; i++) {
        snprintf(name, sizeof(name), "topic.%d", i % N);
        struct topic *t = hub_find(hub, i < N ? C : P, name, strlen(name));
        found += t != NULL;
        right += t == subs[i]->topic && t->nsubs == 1;
    }
    CHECK_INT(found, 2 * N);
    CHECK_INT(right, 2 * N);
    hub_foreach(hub, count_topic, &visits);
    CHECK_INT(visits, 2 * N);
    for (int i = 0; i < 2 * N; i++) {
        struct topic *t = subs[i]->topic;
        hub_leave(hub, subs[i], 0);
        hub_remove(hub, t);
    }
    CHECK_INT(hub_topic_count(hub), 0);
    visits = 0;
    hub_foreach(hub, count_topic, &visits);
    CHECK_INT(visits, 0);
    free(subs);
    hub_free(hub);
    hub_free(NULL);
}

/* Held events: kept in order with their byte count, and every reference given back whichever
 * way the sub goes (drop, leave, topic removed, hub freed). The test keeps its own reference
 * to each body to watch the count. */
static struct msg *body(const char *text) {
    struct msg *m = msg_new(strlen(text));
    memcpy(m->data, text, strlen(text));
    m->len = strlen(text);
    return msg_ref(m); /* one for the hub, one for the test */
}

static void test_held(void) {
    enum { BY_DROP, BY_LEAVE, BY_REMOVE, BY_FREE };
    for (int how = BY_DROP; how <= BY_FREE; how++) {
        struct hub *hub = hub_new(LINGER);
        int client;
        struct hub_sub *s = hub_join(hub, C, "a", &feed_keys[0], &client);
        struct msg *m[3] = {body("data: 1\n"), body("data: 22\n"), body("data: 333\n")};
        CHECK(s->held == NULL && s->held_tail == NULL && s->held_bytes == 0);
        for (int i = 0; i < 3; i++)
            hub_sub_hold(s, m[i], (struct stream_id){1000, (uint64_t)i}, i == 0);
        CHECK_INT(s->held_bytes, 8 + 9 + 10);
        int k = 0, in_order = 1;
        for (const struct held *h = s->held; h; h = h->next, k++)
            in_order &= k < 3 && h->body == m[k] && h->id.ms == 1000 && h->id.seq == (uint64_t)k;
        CHECK_INT(k, 3);
        CHECK(in_order);
        CHECK(s->held_tail != NULL && s->held_tail->body == m[2]);
        for (int i = 0; i < 3; i++)
            CHECK_INT(m[i]->refs, 2);
        switch (how) {
        case BY_DROP:
            hub_sub_drop_held(s);
            CHECK(s->held == NULL && s->held_tail == NULL && s->held_bytes == 0);
            hub_sub_hold(s, msg_ref(m[0]), (struct stream_id){2000, 0}, false); /* usable again */
            CHECK(s->held != NULL && s->held == s->held_tail);
            CHECK_INT(s->held_bytes, 8);
            hub_sub_drop_held(s);
            break;
        case BY_LEAVE:
            hub_leave(hub, s, 0);
            break;
        case BY_REMOVE:
            hub_remove(hub, hub_find(hub, C, "a", 1));
            break;
        case BY_FREE:
            break;
        }
        hub_free(hub);
        for (int i = 0; i < 3; i++) {
            CHECK_INT(m[i]->refs, 1);
            msg_unref(m[i]);
        }
    }
}

/* Journalling: the key is copied once, the longer retention and linger win, and the topic's
 * own linger decides how long it stays wanted. */
static void test_journal(void) {
    struct hub *hub = hub_new(LINGER);
    int client;
    char key[32] = "sse:journal:a";
    struct hub_sub *s = hub_join(hub, C, "a", &feed_keys[0], &client);
    struct topic *t = s->topic, *other;
    CHECK(t->journal_key == NULL);
    CHECK_INT(t->linger_ms, LINGER);

    hub_topic_journal(t, key, 100, 0, 60000);
    memset(key, 'x', sizeof(key) - 1); /* the hub kept a copy */
    CHECK_STR(t->journal_key, "sse:journal:a");
    CHECK_INT(t->journal_maxlen, 100);
    CHECK_INT(t->journal_max_age_ms, 0);
    CHECK_INT(t->linger_ms, 60000);

    hub_topic_journal(t, "sse:journal:other", 50, 5000, 1000);
    CHECK_STR(t->journal_key, "sse:journal:a");
    CHECK_INT(t->journal_maxlen, 100);
    CHECK_INT(t->journal_max_age_ms, 5000);
    CHECK_INT(t->linger_ms, 60000);

    hub_leave(hub, s, 1000);
    CHECK(hub_topic_wanted(hub, t, 60999));
    CHECK(!hub_topic_wanted(hub, t, 61000));

    other = hub_pin(hub, S, "events");
    CHECK_INT(other->linger_ms, LINGER); /* others keep the hub's default */
    CHECK(other->journal_key == NULL);
    hub_free(hub); /* frees the journal key (ASan reports a leak otherwise) */
}

/* Retained MQTT messages: one row per step on one topic, what hub_retain returns, and the
 * store afterwards (newest first, "topic=payload" joined with ','). */
struct retain_step {
    const char *topic, *payload;
    bool live; /* hub_retain_refresh (a live message) instead of hub_retain */
    bool want_changed;
    const char *want_store;
};

// clang-format off
static const struct retain_step retain_steps[] = {
    {"s/a", "1", false, true, "s/a=1"},
    {"s/a", "1", false, false, "s/a=1"},           /* a repeat (resubscription) */
    {"s/b", "2", false, true, "s/b=2,s/a=1"},
    {"s/a", "3", false, true, "s/a=3,s/b=2"},      /* replaced, moved to the front */
    {"s/a", "4", true, false, "s/a=4,s/b=2"},      /* a live message refreshes in place */
    {"s/c", "5", true, false, "s/a=4,s/b=2"},      /* no retained value there: nothing */
    {"s/c", "6", false, true, "s/c=6,s/a=4,s/b=2"},
    {"s/d", "7", false, true, "s/d=7,s/c=6,s/a=4"}, /* max 3: the oldest goes */
    {"s/a", "", false, true, "s/d=7,s/c=6"},       /* empty payload deletes */
    {"s/a", "", false, false, "s/d=7,s/c=6"},      /* deleting nothing changes nothing */
    {"s/c", "", true, false, "s/d=7,s/c=6"},       /* an empty live message is not a value */
};
// clang-format on

static void test_retained(void) {
    struct hub *hub = hub_new(LINGER);
    struct topic *t = hub_pin(hub, TOPIC_MQTT, "s/#");
    for (size_t i = 0; i < sizeof(retain_steps) / sizeof(retain_steps[0]); i++) {
        const struct retain_step *r = &retain_steps[i];
        int before = check_failures;
        if (r->live) {
            hub_retain_refresh(t, r->topic, strlen(r->topic), r->payload, strlen(r->payload));
        } else {
            bool changed =
                hub_retain(t, r->topic, strlen(r->topic), r->payload, strlen(r->payload), 3);
            CHECK(changed == r->want_changed);
        }
        char store[256] = "";
        size_t n = 0, len = 0;
        for (struct retained *k = t->retained; k; k = k->next, n++)
            len += (size_t)snprintf(store + len, sizeof(store) - len, "%s%.*s=%.*s", n ? "," : "",
                                    (int)k->topic_len, k->topic, (int)k->payload_len, k->payload);
        CHECK_MEM(store, strlen(store), r->want_store);
        CHECK_INT(t->nretained, n);
        if (check_failures != before)
            fprintf(stderr, "  in retained step %zu\n", i);
    }
    hub_free(hub); /* frees what is stored (ASan reports a leak otherwise) */
}

int main(void) {
    for (size_t i = 0; i < sizeof(scenarios) / sizeof(scenarios[0]); i++)
        run_scenario(&scenarios[i]);
    test_find();
    test_leave_positions();
    test_leave_during_delivery();
    test_foreach_remove();
    test_growth();
    test_held();
    test_journal();
    test_retained();
    return check_report("hub");
}
