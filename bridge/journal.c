#include "journal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/event.h>
#include <hiredis/hiredis.h>

#include "clock.h"
#include "lease.h"
#include "log.h"
#include "record.h"
#include "xmalloc.h"

struct journal {
    struct bridge *b;
    struct journal_events ev;
    struct redis_conn *writer, *reader;
    bool degraded; /* Redis refuses journal writes (OOM, read-only replica, ...) */
    unsigned long long failed_writes; /* in the current episode */
};

/* A pub/sub message or gap marker on its way into the journal: kept until Redis answers, to
 * be delivered here should Redis refuse it. One per message, whatever the number of clients. */
struct pending_write {
    struct journal *j;
    struct topic *t;
    bool gap, gap_started;
    size_t channel_len, payload_len;
    char data[]; /* channel, then payload (or the gap reason) */
};

bool journal_up(const struct journal *j) {
    return redis_conn_up(j->writer) && redis_conn_up(j->reader);
}

/* Owed reasons are compared by address: these arrays, never another copy of the text. */
static const char GAP_STARTED[] = RECORD_GAP_STARTED, GAP_RESUMED[] = RECORD_GAP_RESUMED;

static void writer_ready(void *arg) {
    struct journal *j = arg;
    lease_load(j->b->lease, redis_conn_ctx(j->writer)); /* before any write on this connection */
}

static void owe_resumed(void *arg, struct topic *t) {
    (void)arg;
    if (t->journal_key != NULL && t->kind != TOPIC_STREAM && t->gap_owed == NULL)
        t->gap_owed = GAP_RESUMED;
}

static void writer_lost(void *arg) {
    /* Pending and new writes are lost to the journal (and so to every reader): it owes a gap
     * marker. */
    struct journal *j = arg;
    hub_foreach(j->b->hub, owe_resumed, j);
}

static void reader_ready(void *arg) {
    struct journal *j = arg;
    j->ev.reader_ready(j->ev.arg);
}

static void reader_lost(void *arg) {
    (void)arg; /* in-flight jobs get NULL replies: their clients are cut off and resume */
}

/* Trimming arguments of XADD: MAXLEN ~ n, or MINID ~ (now - age). */
static int trim_args(const struct topic *t, const char **argv, size_t *lens, char *num) {
    int n = 0;
    if (t->journal_maxlen) {
        snprintf(num, 24, "%zu", t->journal_maxlen);
        argv[n] = "MAXLEN";
    } else if (t->journal_max_age_ms) {
        /* Redis's clock, as the newest id shows it, when known: the trim point is compared
         * with ids Redis made, not with the bridge's clock. */
        unsigned long long now = t->cursor_known ? t->last_id.ms : clock_wall_ms();
        unsigned long long min = now > t->journal_max_age_ms ? now - t->journal_max_age_ms : 0;
        snprintf(num, 24, "%llu", min);
        argv[n] = "MINID";
    } else {
        return 0;
    }
    lens[n++] = strlen(argv[0]);
    argv[n] = "~";
    lens[n++] = 1;
    argv[n] = num;
    lens[n++] = strlen(num);
    return n;
}

static const char GAP_WRITE_FAILED[] = RECORD_GAP_WRITE_FAILED;

/* Redis answered a journal write with an error: the journal is degraded until a write
 * succeeds (logged at both ends of the episode), and the topic's live clients are told once
 * that what follows cannot be replayed (`tell`: a message is about to be delivered). */
static void write_refused(struct journal *j, struct topic *t, const char *why, bool tell) {
    j->b->metrics.journal_write_errors++;
    j->failed_writes++;
    if (!j->degraded) {
        log_warn("journal: Redis refuses writes (%s, on %s); live events go out without ids "
                 "until it takes them again",
                 why, t->journal_key);
        j->degraded = true;
    }
    if (!t->write_failing && tell) {
        t->write_failing = true;
        struct entry e = record_gap_entry(t, GAP_WRITE_FAILED);
        j->ev.entry(j->ev.arg, t, &e);
    }
}

static void write_succeeded(struct journal *j, struct topic *t) {
    t->write_failing = false;
    if (j->degraded) {
        log_info("journal: writes succeed again, after %llu refused", j->failed_writes);
        j->degraded = false;
        j->failed_writes = 0;
    }
}

bool journal_degraded(const struct journal *j) {
    return j->degraded;
}

/* NOTHOLDER: sse_append refused the write, the lease is another bridge's (functions.lua). */
static bool not_holder(const redisReply *reply) {
    return reply->type == REDIS_REPLY_ERROR && strncmp(reply->str, "NOTHOLDER", 9) == 0;
}

/* A message that is not in the journal, to this bridge's live clients (no id). */
static void deliver_unjournalled(struct journal *j, const struct pending_write *pw) {
    struct entry e = {0};
    e.in.channel = pw->data;
    e.in.channel_len = pw->channel_len;
    e.in.payload = pw->data + pw->channel_len;
    e.in.payload_len = pw->payload_len;
    j->ev.entry(j->ev.arg, pw->t, &e);
}

static void on_write_reply(redisAsyncContext *ac, void *r, void *privdata) {
    struct pending_write *pw = privdata;
    redisReply *reply = r;
    struct journal *j = pw->j;
    struct topic *t = pw->t;
    (void)ac;
    t->pending--;
    struct stream_id id;
    if (reply != NULL && reply->type == REDIS_REPLY_STRING &&
        stream_id_parse(reply->str, reply->len, &id) == 0) {
        /* Delivered by every bridge's XREAD of the journal, this one's included. */
        lease_wrote(j->b->lease, t);
        write_succeeded(j, t);
    } else if (reply != NULL && not_holder(reply)) {
        /* The new writer wrote it, or its marker says it is lost. */
        lease_lost(j->b->lease, t);
        if (!pw->gap)
            lease_missed(j->b->lease, t);
    } else {
        /* Not in the journal (or not known to be: a connection lost with the write in
         * flight): the journal owes a gap marker. A refusal (a lost connection is the
         * connection's to report) is delivered here without an id, so that this bridge's live
         * clients miss nothing; it cannot be replayed. */
        if (t->gap_owed == NULL)
            t->gap_owed = pw->gap && pw->gap_started ? GAP_STARTED : GAP_RESUMED;
        if (reply != NULL) {
            write_refused(j, t, reply->type == REDIS_REPLY_ERROR ? reply->str : "bad reply",
                          !pw->gap);
            if (!pw->gap)
                deliver_unjournalled(j, pw);
        }
    }
    free(pw);
}

static void write_entry(struct journal *j, struct topic *t, bool gap, const char *channel,
                        size_t channel_len, const char *payload, size_t payload_len) {
    struct pending_write *pw = xmalloc(sizeof(*pw) + channel_len + payload_len);
    pw->j = j;
    pw->t = t;
    pw->gap = gap;
    pw->gap_started = gap && payload_len == sizeof(GAP_STARTED) - 1 &&
                      memcmp(payload, GAP_STARTED, payload_len) == 0;
    pw->channel_len = channel_len;
    pw->payload_len = payload_len;
    memcpy(pw->data, channel, channel_len);
    memcpy(pw->data + channel_len, payload, payload_len);
    t->pending++;
    redisAsyncContext *ac = redis_conn_ctx(j->writer);
    if (ac == NULL) {
        /* Never sent: delivered here without an id, so that this bridge's live clients miss
         * nothing; the journal owes a gap marker. */
        if (!gap)
            deliver_unjournalled(j, pw);
        on_write_reply(NULL, NULL, pw);
        return;
    }
    const char *argv[16];
    size_t lens[16];
    char num[24], spec[RECORD_TRIM_SPEC_MAX];
    char *lease_key = NULL;
    int n = 0;
    if (lease_fenced(j->b->lease)) {
        /* FCALL sse_append 2 <journal> <lease> <token> <trim> <take> <fields...>: fenced. */
        lease_key = record_lease_key(t->journal_key);
        const char *head[] = {"FCALL",   "sse_append",
                              "2",       t->journal_key,
                              lease_key, lease_token(j->b->lease),
                              spec,      lease_may_take(j->b->lease, t) ? "1" : "0"};
        record_trim_spec(t, spec, sizeof(spec));
        for (size_t i = 0; i < sizeof(head) / sizeof(head[0]); i++) {
            argv[n] = head[i];
            lens[n++] = strlen(head[i]);
        }
    } else {
        argv[n] = "XADD";
        lens[n++] = 4;
        argv[n] = t->journal_key;
        lens[n++] = strlen(t->journal_key);
        n += trim_args(t, argv + n, lens + n, num);
        argv[n] = "*";
        lens[n++] = 1;
    }
    if (gap)
        n += (int)record_gap_fields(pw->data + channel_len, payload_len, argv + n, lens + n);
    else
        n += (int)record_message_fields(pw->data, channel_len, pw->data + channel_len, payload_len,
                                        argv + n, lens + n);
    redisAsyncCommandArgv(ac, on_write_reply, pw, n, argv, lens);
    free(lease_key);
}

/* Writes the gap marker t owes, if any, when the writer can. */
static void write_owed_gap(struct journal *j, struct topic *t) {
    if (t->gap_owed == NULL || !redis_conn_ready(j->writer))
        return;
    const char *reason = t->gap_owed;
    t->gap_owed = NULL;
    write_entry(j, t, true, t->name, t->name_len, reason, strlen(reason));
}

void journal_append(struct journal *j, struct topic *t, const char *channel, size_t channel_len,
                    const char *payload, size_t payload_len) {
    if (!lease_holds(j->b->lease, t)) {
        lease_missed(j->b->lease, t); /* another bridge writes this journal; all read it */
        return;
    }
    write_owed_gap(j, t);
    write_entry(j, t, false, channel, channel_len, payload, payload_len);
}

void journal_owe_gap(struct journal *j, struct topic *t, bool resumed) {
    if (!lease_holds(j->b->lease, t)) {
        /* Another bridge writes it: this one's gap matters only if it takes over soon. */
        lease_missed(j->b->lease, t);
        return;
    }
    if (t->gap_owed == NULL || resumed)
        t->gap_owed = resumed ? GAP_RESUMED : GAP_STARTED;
    /* Messages were lost: the marker goes in now, so that every bridge's live clients learn
     * of it at once (through the journal, with its id), not with the next message. */
    if (resumed && lease_holds(j->b->lease, t))
        write_owed_gap(j, t);
}

void journal_lease_taken(struct journal *j, struct topic *t, enum lease_taken how) {
    if (t->journal_session) {
        /* Its messages wait for the writer in the broker's session: whether some were lost
         * is known when the session opens (journal_session_open). */
        t->gap_owed = NULL;
        return;
    }
    if (how == LEASE_TAKEN_CONTINUED)
        t->gap_owed = NULL; /* the journal goes on as the other writer left it */
    else if (how == LEASE_TAKEN_UNHEARD)
        t->gap_owed = GAP_RESUMED; /* before the next plain PUBLISH, if one comes */
    else
        journal_owe_gap(j, t, how == LEASE_TAKEN_RESUMED);
}

void journal_session_open(struct journal *j, struct topic *t, bool kept) {
    if (kept) {
        t->gap_owed = NULL; /* the broker kept what was published meanwhile: it comes now */
    } else {
        /* A new session: the first (a start marker), or one the broker did not keep. */
        journal_owe_gap(j, t, t->journal_seen || t->taken_after_other);
    }
    t->journal_seen = true;
}

void journal_topic_setup(struct journal *j, const struct config *cfg, struct topic *t,
                         const struct route_cfg *r) {
    if (t->kind == TOPIC_STREAM) {
        hub_topic_journal(t, t->name, 0, 0, 0);
        return;
    }
    if (!route_is_journalled(r))
        return;
    bool was_journalled = t->journal_key != NULL;
    size_t n = strlen(cfg->journal_prefix) + t->name_len + 3;
    char *key = xmalloc(n);
    /* Channels, patterns and MQTT filters live in separate key spaces: "p:" marks a
     * pattern's journal, "m:" an MQTT filter's. */
    snprintf(key, n, "%s%s%s", cfg->journal_prefix,
             t->kind == TOPIC_PATTERN ? "p:"
             : t->kind == TOPIC_MQTT  ? "m:"
                                      : "",
             t->name);
    hub_topic_journal(t, key, r->journal, r->journal_age_ms, cfg->journal_linger_ms);
    free(key);
    /* Already subscribed for a plain route: journalling starts now, not at a SUBSCRIBE
     * reply, so the start marker is owed here. */
    if (!was_journalled && t->state == UPSTREAM_SUBSCRIBED && j != NULL) {
        journal_owe_gap(j, t, false);
        t->journal_seen = true;
    }
}

/* ---- reads, for replays and the stream source ---- */

struct read {
    struct topic *t; /* kept alive by t->pending while the read is in flight */
    bool have_from;
    struct stream_id from;
    journal_position_cb *position;
    journal_page_cb *page;
    void *arg;
};

static const char *failure(const redisReply *reply) {
    if (reply == NULL)
        return "connection lost";
    return reply->type == REDIS_REPLY_ERROR ? reply->str : "unexpected reply";
}

static void on_position(redisAsyncContext *ac, void *r, void *privdata) {
    struct read *rd = privdata;
    redisReply *reply = r;
    (void)ac;
    rd->t->pending--;
    struct stream_id last = {0, 0};
    if (!rd->have_from) {
        if (reply == NULL || reply->type == REDIS_REPLY_ERROR)
            rd->position(rd->arg, JOURNAL_READ_FAILED, last, failure(reply));
        else
            rd->position(rd->arg, JOURNAL_READ_OK, (record_last_id(reply, &last), last), NULL);
    } else if (reply == NULL) {
        rd->position(rd->arg, JOURNAL_READ_FAILED, last, failure(reply));
    } else if (reply->type != REDIS_REPLY_ARRAY) {
        /* No such stream (XINFO says ERR no such key). */
        rd->position(rd->arg, JOURNAL_READ_MISSING, last, NULL);
    } else {
        enum record_position p = record_position(reply, rd->from, &last);
        rd->position(rd->arg,
                     p == RECORD_POSITION_FUTURE      ? JOURNAL_READ_FUTURE
                     : p == RECORD_POSITION_TRUNCATED ? JOURNAL_READ_TRUNCATED
                                                      : JOURNAL_READ_OK,
                     last, NULL);
    }
    free(rd);
}

static int send_read(struct journal *j, struct read *rd, redisCallbackFn *fn, const char *fmt,
                     const char *a, const char *b, const char *c) {
    redisAsyncContext *ac = redis_conn_ctx(j->reader);
    if (ac == NULL || redisAsyncCommand(ac, fn, rd, fmt, a, b, c) != REDIS_OK) {
        free(rd);
        return -1;
    }
    rd->t->pending++;
    return 0;
}

int journal_read_position(struct journal *j, struct topic *t, const struct stream_id *from,
                          journal_position_cb *done, void *arg) {
    struct read *rd = xcalloc(1, sizeof(*rd));
    *rd = (struct read){.t = t, .have_from = from != NULL, .position = done, .arg = arg};
    if (from == NULL)
        return send_read(j, rd, on_position, "XREVRANGE %s + - COUNT 1", t->journal_key, NULL,
                         NULL);
    rd->from = *from;
    return send_read(j, rd, on_position, "XINFO STREAM %s", t->journal_key, NULL, NULL);
}

struct journal_page {
    const redisReply *reply;
    const struct topic *t;
};

size_t journal_page_count(const struct journal_page *p) {
    return p->reply->elements;
}

int journal_page_entry(const struct journal_page *p, size_t i, struct entry *e, const char **fields,
                       size_t *lens, size_t max_pairs) {
    if (record_parse_entry(p->reply->element[i], e, fields, lens, max_pairs) != 0)
        return -1;
    record_entry_from_fields(p->t, e);
    return 0;
}

static void on_page(redisAsyncContext *ac, void *r, void *privdata) {
    struct read *rd = privdata;
    redisReply *reply = r;
    (void)ac;
    rd->t->pending--;
    if (reply == NULL || reply->type != REDIS_REPLY_ARRAY) {
        rd->page(rd->arg, NULL, failure(reply));
    } else {
        struct journal_page page = {reply, rd->t};
        rd->page(rd->arg, &page, NULL);
    }
    free(rd);
}

int journal_read_page(struct journal *j, struct topic *t, struct stream_id after, size_t count,
                      journal_page_cb *done, void *arg) {
    struct read *rd = xcalloc(1, sizeof(*rd));
    *rd = (struct read){.t = t, .page = done, .arg = arg};
    /* "(id": exclusive start (Redis 6.2+). hiredis formats only %s/%b safely: no %zu. */
    char start[STREAM_ID_MAX_LEN + 2] = "(", num[24];
    stream_id_format(after, start + 1);
    snprintf(num, sizeof(num), "%zu", count);
    return send_read(j, rd, on_page, "XRANGE %s %s + COUNT %s", t->journal_key, start, num);
}

bool journal_reader_ready(const struct journal *j) {
    return redis_conn_ctx(j->reader) != NULL;
}

struct end_request {
    struct journal *j;
    struct topic *t;
    void (*done)(void *arg, struct topic *t, bool ok);
    void *arg;
};

static void on_stream_end(redisAsyncContext *ac, void *r, void *privdata) {
    struct end_request *req = privdata;
    redisReply *reply = r;
    (void)ac;
    req->t->pending--;
    struct stream_id end;
    bool ok = record_last_id(reply, &end);
    if (ok) {
        req->t->last_id = end;
        req->t->cursor_known = true;
    }
    req->done(req->arg, req->t, ok);
    free(req);
}

void journal_stream_end(struct journal *j, struct topic *t,
                        void (*done)(void *arg, struct topic *t, bool ok), void *arg) {
    redisAsyncContext *ac = redis_conn_ctx(j->reader);
    if (ac == NULL) {
        done(arg, t, false);
        return;
    }
    struct end_request *req = xmalloc(sizeof(*req));
    *req = (struct end_request){j, t, done, arg};
    t->pending++;
    if (redisAsyncCommand(ac, on_stream_end, req, "XREVRANGE %s + - COUNT 1", t->journal_key) !=
        REDIS_OK) {
        t->pending--;
        free(req);
        done(arg, t, false);
    }
}

static void ignore_reply(redisAsyncContext *ac, void *r, void *privdata) {
    (void)ac, (void)r, (void)privdata;
}

void journal_unblock(struct journal *j, long long client_id) {
    redisAsyncContext *ac = redis_conn_ctx(j->reader);
    if (ac != NULL)
        redisAsyncCommand(ac, ignore_reply, NULL, "CLIENT UNBLOCK %lld", client_id);
}

struct journal *journal_new(struct bridge *b, const struct journal_events *ev) {
    struct journal *j = xcalloc(1, sizeof(*j));
    j->b = b;
    j->ev = *ev;
    j->writer = redis_conn_new(b->redis_pool, "journal",
                               (struct redis_conn_handlers){writer_ready, writer_lost}, j);
    j->reader = redis_conn_new(b->redis_pool, "replay",
                               (struct redis_conn_handlers){reader_ready, reader_lost}, j);
    return j;
}

void journal_start(struct journal *j) {
    redis_conn_start(j->writer);
    redis_conn_start(j->reader);
}

void journal_free(struct journal *j) {
    if (j == NULL)
        return;
    /* Freeing the connections answers every pending read and write with NULL. */
    redis_conn_free(j->writer);
    redis_conn_free(j->reader);
    free(j);
}
