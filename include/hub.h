/* The hub: which clients want which upstream topic. A topic is a Redis channel or pattern
 * or an MQTT filter, keyed by kind and name; its subscribers are grouped in feeds, one
 * per translation (route), so a message is translated and encoded once per feed and the
 * frame shared by every client of that feed.
 *
 * Pure bookkeeping: no I/O, no clock (times are passed in). The upstream source reads a
 * topic's `state` and `hub_topic_wanted` to decide when to (un)subscribe, and frees topics
 * with hub_remove once nothing wants them and the upstream has let go.
 *
 * Ownership: the hub owns topics, feeds and subs. A sub stays valid until hub_leave. Feeds
 * are only freed by hub_remove or hub_prune, never by hub_leave, so a delivery loop that
 * saves `next` before each call may see subs removed under it (a client cut off mid-loop)
 * without touching freed memory. */
#ifndef HUB_H
#define HUB_H

#include <stdbool.h>
#include <stddef.h>

#include "msg.h"
#include "streamid.h"

/* Channels and patterns come from Redis pub/sub, MQTT topic filters from the broker (all may
 * be journalled into a stream); streams are read with XREAD. */
enum topic_kind { TOPIC_CHANNEL, TOPIC_PATTERN, TOPIC_STREAM, TOPIC_MQTT };

/* An MQTT retained message kept for clients that join later: the broker sends retained
 * messages once, when the bridge subscribes, not when each browser arrives. */
struct retained {
    char *topic;
    size_t topic_len;
    char *payload;
    size_t payload_len;
    struct retained *next;
};

enum upstream_state {
    UPSTREAM_NONE,          /* not subscribed upstream */
    UPSTREAM_SUBSCRIBING,   /* SUBSCRIBE sent, reply pending */
    UPSTREAM_SUBSCRIBED,    /* messages flow */
    UPSTREAM_UNSUBSCRIBING, /* UNSUBSCRIBE sent, reply pending */
};

/* A live event held for a subscriber that is still replaying (see `syncing`). */
struct held {
    struct msg *body; /* the event without id line and final blank line; one reference */
    struct stream_id id;
    bool start_marker; /* a journal-started gap: dropped for clients that came fresh */
    struct held *next;
};

struct hub_sub {
    struct hub_sub *prev, *next;
    struct feed *feed;
    struct topic *topic;
    void *client;
    /* Journalled topics only. While `syncing`, the client is catching up from the journal and
     * live events are held, in order; afterwards any event at or below `last_id` is dropped,
     * so the seam between replay and live has no gap and no duplicate. */
    bool syncing;
    struct stream_id last_id;
    struct held *held, *held_tail;
    size_t held_bytes;
    bool fresh;                /* came without a position: "journal-started" is no news to it */
    bool synced;               /* its own sync is done; live when all of the client's are */
    struct stream_id sync_pos; /* where that sync left it */
    void *sync_job; /* its replay job while syncing (replay.c; cancelled when the sub goes) */
};

struct feed {
    const void *key; /* the route whose translation this feed uses */
    struct hub_sub *subs;
    struct feed *next;
};

struct topic {
    char *name;
    size_t name_len;
    enum topic_kind kind;
    enum upstream_state state;
    size_t nsubs;
    bool pinned;                      /* static route: wanted with no clients */
    unsigned long long idle_since_ms; /* when nsubs last fell to 0 */
    unsigned linger_ms;               /* how long it stays wanted after that */
    struct feed *feeds;
    struct topic *hash_next;
    /* Journal: the stream that keeps this topic's history (a stream topic is its own). */
    char *journal_key;                     /* NULL: not journalled */
    size_t journal_maxlen;                 /* XADD MAXLEN ~ (0: none) */
    unsigned long long journal_max_age_ms; /* XADD MINID ~ now - age (0: none) */
    struct stream_id last_id; /* newest entry written (journal) or read (stream cursor) */
    bool cursor_known;        /* last_id is the current end of the stream */
    bool journal_seen;        /* journalled before by this process (a resubscription) */
    const char *gap_owed;     /* a gap marker the journal owes (static reason), written before the
                                 next message: no key for a channel nobody publishes to */
    bool write_failing;       /* Redis refuses its journal writes: live clients were told */
    unsigned pending;         /* Redis requests about it in flight: not freed meanwhile */
    /* lease.c's: who writes its journal. While held, the lease keeps the topic (one pending). */
    enum lease_state { LEASE_UNKNOWN, LEASE_HELD, LEASE_OTHER } lease;
    unsigned long long other_since_ms; /* when another bridge was first seen writing it */
    unsigned long long other_seen_ms;  /* when another bridge was last seen holding it */
    unsigned long long missed_ms;      /* when this bridge last dropped a message of it (or its
                                          subscription was down) while another wrote it */
    unsigned long long renewed_ms;     /* when Redis last confirmed this bridge holds it */
    bool taken_after_other;            /* held since a takeover from another bridge */
    /* source_stream.c's: reading the journal of a journalled channel, pattern or MQTT filter
     * (XREAD), as every bridge does, writer included (a stream topic uses `state`). */
    enum upstream_state follow;
    /* source_stream.c's: when the journal's end could not be read at the topic's start (Redis
     * away), the wall clock then: reading starts there, so its clients miss nothing. */
    unsigned long long follow_from_ms;
    /* MQTT filters only. */
    unsigned sub_id;           /* MQTT 5 subscription identifier (0: none yet) */
    int mid;                   /* message id of the (UN)SUBSCRIBE in flight */
    bool broker_holds;         /* subscribed in a persistent session: the broker keeps it across
                                  disconnects until we UNSUBSCRIBE */
    bool journal_session;      /* journalled through the session that moves with its lease
                                  (source_mqtt.c), not through the process's own client */
    struct retained *retained; /* newest first */
    size_t nretained;
};

/* `linger_ms` is the default linger of new topics (journalled ones get their own). */
struct hub *hub_new(unsigned linger_ms);
void hub_free(struct hub *hub);

struct topic *hub_find(struct hub *hub, enum topic_kind kind, const char *name, size_t len);
/* Adds client to the topic (created when new) in the feed for `feed_key`. */
struct hub_sub *hub_join(struct hub *hub, enum topic_kind kind, const char *name,
                         const void *feed_key, void *client);
void hub_leave(struct hub *hub, struct hub_sub *sub, unsigned long long now_ms);
/* Appends a held event (takes the caller's reference to body). */
void hub_sub_hold(struct hub_sub *sub, struct msg *body, struct stream_id id, bool start_marker);
/* Detaches the held events (oldest first) and returns them; hub_held_free frees one and
 * returns the next. */
struct held *hub_sub_take_held(struct hub_sub *sub);
struct held *hub_held_free(struct held *h);
/* Frees the held events. */
void hub_sub_drop_held(struct hub_sub *sub);
/* A topic that stays wanted without clients (static routes). */
struct topic *hub_pin(struct hub *hub, enum topic_kind kind, const char *name);

/* Subscribers, pinned, or left less than the linger period ago. */
bool hub_topic_wanted(const struct hub *hub, const struct topic *t, unsigned long long now_ms);
/* Makes t journalled into key (a copy is kept) with the given retention. */
void hub_topic_journal(struct topic *t, const char *key, size_t maxlen,
                       unsigned long long max_age_ms, unsigned linger_ms);
/* Nothing upstream holds t: not subscribed, its journal not read, no request in flight. */
bool hub_topic_idle(const struct topic *t);
/* Frees a topic nothing wants any more; the upstream must have let go (UPSTREAM_NONE). */
void hub_remove(struct hub *hub, struct topic *t);
/* Frees the topic's feeds that have no subscriber left. */
void hub_prune(struct topic *t);

/* Stores a retained message for t (an empty payload deletes that topic's). Keeps at most
 * `max`, dropping the oldest. Returns false when the same payload was already stored (a
 * repeat, as after a resubscription), true when something changed. */
bool hub_retain(struct topic *t, const char *topic, size_t topic_len, const char *payload,
                size_t payload_len, size_t max);
/* Refreshes the stored retained message of one topic name, if there is one (a live message
 * on a topic that has a retained value is, in practice, its new retained value). */
void hub_retain_refresh(struct topic *t, const char *topic, size_t topic_len, const char *payload,
                        size_t payload_len);

/* Who follows the hub upstream: hub_sync(t) asks it to (un)subscribe topic t as its state
 * and hub_topic_wanted say (after a join, a leave past its linger, a pin). */
void hub_set_sync(struct hub *hub, void (*fn)(void *arg, struct topic *t), void *arg);
void hub_sync(struct hub *hub, struct topic *t);

/* Calls fn for every topic; fn may hub_remove the topic it is given. */
void hub_foreach(struct hub *hub, void (*fn)(void *arg, struct topic *t), void *arg);
size_t hub_topic_count(const struct hub *hub);

#endif
