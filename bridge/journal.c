#include "journal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/event.h>
#include <hiredis/hiredis.h>

#include "bridge.h"
#include "client.h"
#include "log.h"
#include "xmalloc.h"

struct replay_job {
    struct journal *j;
    struct client *client; /* NULL once cancelled */
    struct hub_sub *sub;   /* NULL once cancelled */
    struct topic *topic;   /* kept alive by topic->pending while the job exists */
    struct stream_id from; /* exclusive start of the next page */
    bool have_from, bad_id, started;
    bool from_zero;          /* the client had seen nothing: a journal-started marker is no news */
    struct replay_job *next; /* in the wait queue or the deferred list */
};

struct journal {
    struct bridge *b;
    struct redis_conn *writer, *reader;
    size_t inflight;
    struct replay_job *queue, *queue_tail; /* waiting for a read slot */
    struct replay_job *deferred;           /* waiting for their client's output to drain */
    struct event *pace_ev;
    bool degraded; /* Redis refuses journal writes (OOM, read-only replica, ...) */
    unsigned long long failed_writes; /* in the current episode */
};

/* A pub/sub message or gap marker on its way into the journal: what to deliver once Redis
 * has given it an id. One per message, whatever the number of clients. */
struct pending_write {
    struct journal *j;
    struct topic *t;
    bool gap, deliver, gap_started;
    size_t channel_len, payload_len;
    char data[]; /* channel, then payload (or the gap reason) */
};

static void pump(struct journal *j);

/* A gap event for topic t, not (yet) in the journal: it has no id. */
static struct entry gap_entry(const struct topic *t, const char *reason) {
    struct entry e = {0};
    e.gap = true;
    e.in.channel = t->name;
    e.in.channel_len = t->name_len;
    e.in.payload = reason;
    e.in.payload_len = strlen(reason);
    return e;
}

bool journal_up(const struct journal *j) {
    return redis_conn_up(j->writer) && redis_conn_up(j->reader);
}

static const char GAP_STARTED[] = "journal-started", GAP_RESUMED[] = "journal-resumed";

static void writer_ready(void *arg) {
    (void)arg;
}

static void owe_resumed(void *arg, struct topic *t) {
    (void)arg;
    if (t->journal_key != NULL && t->kind != TOPIC_STREAM && t->gap_owed == NULL)
        t->gap_owed = GAP_RESUMED;
}

static void writer_lost(void *arg) {
    /* Pending and new writes are delivered without an id (live clients miss nothing), but the
     * journal misses them: it owes a gap marker. */
    struct journal *j = arg;
    hub_foreach(j->b->hub, owe_resumed, j);
}

static void reader_ready(void *arg) {
    pump(arg);
}

static void reader_lost(void *arg) {
    (void)arg; /* in-flight jobs get NULL replies: their clients are cut off and resume */
}

/* Trimming arguments of XADD: MAXLEN ~ n, or MINID ~ (now - age). */
static int trim_args(const struct journal *j, const struct topic *t, const char **argv,
                     size_t *lens, char *num) {
    int n = 0;
    if (t->journal_maxlen) {
        snprintf(num, 24, "%zu", t->journal_maxlen);
        argv[n] = "MAXLEN";
    } else if (t->journal_max_age_ms) {
        /* Redis's clock, as the newest id shows it, when known: the trim point is compared
         * with ids Redis made, not with the bridge's clock. */
        unsigned long long now = t->cursor_known ? t->last_id.ms : bridge_wall_ms(j->b);
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

static const char GAP_WRITE_FAILED[] = "journal-write-failed";

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
        struct entry e = gap_entry(t, GAP_WRITE_FAILED);
        bridge_deliver_entry(j->b, t, &e);
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

static void on_write_reply(redisAsyncContext *ac, void *r, void *privdata) {
    struct pending_write *pw = privdata;
    redisReply *reply = r;
    struct journal *j = pw->j;
    (void)ac;
    pw->t->pending--;
    struct entry e = {0};
    e.gap = pw->gap;
    e.in.channel = pw->data;
    e.in.channel_len = pw->channel_len;
    e.in.payload = pw->data + pw->channel_len;
    e.in.payload_len = pw->payload_len;
    if (reply != NULL && reply->type == REDIS_REPLY_STRING &&
        stream_id_parse(reply->str, reply->len, &e.id) == 0) {
        e.has_id = true;
        if (stream_id_cmp(e.id, pw->t->last_id) > 0)
            pw->t->last_id = e.id;
        pw->t->cursor_known = true;
        write_succeeded(j, pw->t);
    } else {
        /* Delivered all the same, without an id: the client misses nothing live, but this
         * event cannot be replayed, and the journal owes a gap marker. */
        if (pw->t->gap_owed == NULL)
            pw->t->gap_owed = GAP_RESUMED;
        if (reply != NULL) /* refused (a lost connection is the connection's to report) */
            write_refused(j, pw->t, reply->type == REDIS_REPLY_ERROR ? reply->str : "bad reply",
                          pw->deliver && !pw->gap);
    }
    if (e.gap && !e.has_id && pw->t->gap_owed == NULL)
        pw->t->gap_owed = pw->gap_started ? GAP_STARTED : GAP_RESUMED;
    if (pw->deliver && (!e.gap || e.has_id))
        bridge_deliver_entry(j->b, pw->t, &e);
    free(pw);
}

static void write_entry(struct journal *j, struct topic *t, bool gap, bool deliver,
                        const char *channel, size_t channel_len, const char *payload,
                        size_t payload_len) {
    struct pending_write *pw = xmalloc(sizeof(*pw) + channel_len + payload_len);
    pw->j = j;
    pw->t = t;
    pw->gap = gap;
    pw->deliver = deliver;
    pw->gap_started = gap && payload_len == sizeof(GAP_STARTED) - 1 &&
                      memcmp(payload, GAP_STARTED, payload_len) == 0;
    pw->channel_len = channel_len;
    pw->payload_len = payload_len;
    memcpy(pw->data, channel, channel_len);
    memcpy(pw->data + channel_len, payload, payload_len);
    t->pending++;
    redisAsyncContext *ac = redis_conn_ctx(j->writer);
    if (ac == NULL) {
        on_write_reply(NULL, NULL, pw);
        return;
    }
    const char *argv[12];
    size_t lens[12];
    char num[24];
    int n = 0;
    argv[n] = "XADD";
    lens[n++] = 4;
    argv[n] = t->journal_key;
    lens[n++] = strlen(t->journal_key);
    n += trim_args(j, t, argv + n, lens + n, num);
    argv[n] = "*";
    lens[n++] = 1;
    if (gap) {
        argv[n] = "gap";
        lens[n++] = 3;
        argv[n] = pw->data + channel_len;
        lens[n++] = payload_len;
    } else {
        argv[n] = "c";
        lens[n++] = 1;
        argv[n] = pw->data;
        lens[n++] = channel_len;
        argv[n] = "p";
        lens[n++] = 1;
        argv[n] = pw->data + channel_len;
        lens[n++] = payload_len;
    }
    redisAsyncCommandArgv(ac, on_write_reply, pw, n, argv, lens);
}

void journal_append(struct journal *j, struct topic *t, const char *channel, size_t channel_len,
                    const char *payload, size_t payload_len) {
    if (t->gap_owed != NULL && redis_conn_ready(j->writer)) {
        /* A start marker is news to returning clients only (fresh ones drop it); a resumed
         * one was told live already. */
        const char *reason = t->gap_owed;
        t->gap_owed = NULL;
        write_entry(j, t, true, reason == GAP_STARTED, t->name, t->name_len, reason,
                    strlen(reason));
    }
    write_entry(j, t, false, true, channel, channel_len, payload, payload_len);
}

void journal_owe_gap(struct journal *j, struct topic *t, bool resumed) {
    if (t->gap_owed == NULL || resumed)
        t->gap_owed = resumed ? GAP_RESUMED : GAP_STARTED;
    if (resumed) {
        struct entry e = gap_entry(t, GAP_RESUMED);
        bridge_deliver_entry(j->b, t, &e);
    }
}

/* ---- replays ---- */

static void job_free(struct replay_job *job) {
    job->topic->pending--;
    free(job);
}

static void enqueue(struct journal *j, struct replay_job *job) {
    job->next = NULL;
    if (j->queue_tail)
        j->queue_tail->next = job;
    else
        j->queue = job;
    j->queue_tail = job;
}

/* The subscriber is up to date at `pos`: flush what was held above it and go live. */
static int finish(struct replay_job *job, struct stream_id pos) {
    struct hub_sub *s = job->sub;
    struct client *c = job->client;
    s->sync_job = NULL;
    job_free(job);
    return client_sync_done(c, s, pos);
}

static void fail(struct replay_job *job, const char *why) {
    struct client *c = job->client;
    log_warn("replay of %s failed (%s); cutting the client off, it will resume",
             job->topic->journal_key, why);
    job->sub->sync_job = NULL;
    job_free(job);
    client_cut(c);
}

/* A gap event for this client only: its history for the topic is incomplete. */
static int client_gap(struct journal *j, struct replay_job *job, const char *reason) {
    struct entry e = gap_entry(job->topic, reason);
    (void)j;
    return client_replay_entry(job->client, job->sub, &e);
}

/* The id of an XREVRANGE COUNT 1 reply ([[id, [...]]]), or 0-0 for an empty stream. */
static struct stream_id last_entry(const redisReply *reply) {
    struct stream_id end = {0, 0};
    if (reply->type == REDIS_REPLY_ARRAY && reply->elements == 1 &&
        reply->element[0]->type == REDIS_REPLY_ARRAY && reply->element[0]->elements == 2) {
        const redisReply *id = reply->element[0]->element[0];
        if (id->type == REDIS_REPLY_STRING)
            stream_id_parse(id->str, id->len, &end);
    }
    return end;
}

/* A field of an XINFO STREAM reply (a flat list of names and values) holding an id. */
static bool info_id(const redisReply *reply, const char *name, struct stream_id *out) {
    for (size_t i = 0; i + 1 < reply->elements; i += 2) {
        const redisReply *k = reply->element[i], *v = reply->element[i + 1];
        if (k->type == REDIS_REPLY_STRING && strcmp(k->str, name) == 0)
            return v->type == REDIS_REPLY_STRING && stream_id_parse(v->str, v->len, out) == 0;
    }
    return false;
}

static long long info_int(const redisReply *reply, const char *name) {
    for (size_t i = 0; i + 1 < reply->elements; i += 2) {
        const redisReply *k = reply->element[i], *v = reply->element[i + 1];
        if (k->type == REDIS_REPLY_STRING && strcmp(k->str, name) == 0)
            return v->type == REDIS_REPLY_INTEGER ? v->integer : -1;
    }
    return -1;
}

/* Whether entries after `from` were trimmed or deleted. Redis 7 counts what was ever added:
 * when that is more than what is left, the oldest entries went, and a client whose position
 * is older than the first one left may have missed some. (When it had seen exactly up to the
 * last trimmed entry, this says "truncated" needlessly: the safe side.) */
static bool truncated_after(const redisReply *info, struct stream_id from) {
    struct stream_id deleted = {0, 0}, first = {0, 0};
    if (info_id(info, "max-deleted-entry-id", &deleted) && stream_id_cmp(from, deleted) < 0)
        return true;
    long long added = info_int(info, "entries-added"), length = info_int(info, "length");
    if (!info_id(info, "recorded-first-entry-id", &first))
        return false;
    return added > length && stream_id_cmp(from, first) < 0;
}

/* First step of a job. A new client: the stream's end is its position. A returning client:
 * XINFO STREAM tells whether its id is known and whether entries after it were trimmed. */
static void on_first_reply(redisAsyncContext *ac, void *r, void *privdata) {
    struct replay_job *job = privdata;
    redisReply *reply = r;
    struct journal *j = job->j;
    (void)ac;
    j->inflight--;
    if (job->client == NULL) {
        job_free(job);
    } else if (!job->have_from) {
        if (reply == NULL || reply->type == REDIS_REPLY_ERROR)
            fail(job, reply ? reply->str : "connection lost");
        else
            finish(job, last_entry(reply));
    } else if (reply == NULL) {
        fail(job, "connection lost");
    } else if (reply->type == REDIS_REPLY_ERROR || reply->type != REDIS_REPLY_ARRAY) {
        /* No such stream: its history is gone (trimmed away, or Redis lost its data),
         * unless the client had seen nothing of it. */
        if (stream_id_is_zero(job->from) || client_gap(j, job, "truncated") == 0) {
            job->sub->last_id = (struct stream_id){0, 0}; /* everything written from now on */
            job->sub->fresh = true;                       /* told already: history starts over */
            finish(job, (struct stream_id){0, 0});
        } else {
            job_free(job);
        }
    } else {
        struct stream_id last = {0, 0};
        info_id(reply, "last-generated-id", &last);
        if (stream_id_cmp(job->from, last) > 0) {
            /* An id from the future: the journal was lost and started again, or the id
             * belongs to another deployment. Go on from the journal's end. */
            if (client_gap(j, job, "unknown-id") == 0) {
                job->sub->last_id = last;
                job->sub->fresh = true;
                finish(job, last);
            } else {
                job_free(job);
            }
        } else if (truncated_after(reply, job->from) && client_gap(j, job, "truncated") != 0) {
            job_free(job); /* entries after the client's id were trimmed: replay the rest */
        } else {
            job->started = true;
            enqueue(j, job);
        }
    }
    pump(j);
}

/* Entries of an XRANGE/XREAD reply element: [id, [f1, v1, f2, v2, ...]]. */
int journal_parse_entry(const redisReply *item, struct entry *e, const char **fields, size_t *lens,
                        size_t max_pairs) {
    memset(e, 0, sizeof(*e));
    if (item->type != REDIS_REPLY_ARRAY || item->elements != 2 ||
        item->element[0]->type != REDIS_REPLY_STRING || item->element[1]->type != REDIS_REPLY_ARRAY)
        return -1;
    if (stream_id_parse(item->element[0]->str, item->element[0]->len, &e->id) != 0)
        return -1;
    e->has_id = true;
    const redisReply *kv = item->element[1];
    size_t pairs = kv->elements / 2;
    for (size_t i = 0; i < pairs * 2; i++) {
        if (kv->element[i]->type != REDIS_REPLY_STRING)
            return -1;
    }
    if (pairs > max_pairs) {
        /* More fields than the caller's arrays: every one counts (a "data" field may come
         * last), so the entry gets arrays of its own, freed by bridge_entry_clear. */
        e->owned_fields = xmalloc(pairs * 2 * (sizeof(*fields) + sizeof(*lens)));
        fields = e->owned_fields;
        lens = (size_t *)(fields + pairs * 2);
    }
    for (size_t i = 0; i < pairs * 2; i++) {
        fields[i] = kv->element[i]->str;
        lens[i] = kv->element[i]->len;
    }
    e->in.fields = fields;
    e->in.field_lens = lens;
    e->in.nfields = pairs;
    return 0;
}

static void on_page_reply(redisAsyncContext *ac, void *r, void *privdata) {
    struct replay_job *job = privdata;
    redisReply *reply = r;
    struct journal *j = job->j;
    (void)ac;
    j->inflight--;
    if (job->client == NULL) {
        job_free(job);
        pump(j);
        return;
    }
    if (reply == NULL || reply->type != REDIS_REPLY_ARRAY) {
        fail(job, reply && reply->type == REDIS_REPLY_ERROR ? reply->str : "connection lost");
        pump(j);
        return;
    }
    const char *fields[2 * 16];
    size_t lens[2 * 16];
    size_t i = 0;
    for (; i < reply->elements && job->client != NULL; i++) {
        /* A page can hold more than a client buffer: stop when half full and continue from
         * the last entry sent once it has drained (cutting the client would make it come
         * back to the same page forever). */
        if (client_pending(job->client) > j->b->cfg->client_buffer / 2)
            break;
        struct entry e;
        if (journal_parse_entry(reply->element[i], &e, fields, lens, 16) != 0)
            continue;
        bridge_entry_from_fields(job->topic, &e);
        job->from = e.id;
        if (e.gap && job->from_zero && e.in.payload_len == 15 &&
            memcmp(e.in.payload, "journal-started", 15) == 0)
            continue;
        client_replay_entry(job->client, job->sub, &e);
        bridge_entry_clear(&e);
    }
    if (job->client == NULL) { /* cut off while replaying (output over its limit) */
        job_free(job);
    } else if (i == reply->elements && reply->elements < j->b->cfg->replay_batch) {
        finish(job, job->from);
    } else if (client_pending(job->client) > j->b->cfg->client_buffer / 2) {
        job->next = j->deferred; /* let the client read before the next page */
        j->deferred = job;
        if (!event_pending(j->pace_ev, EV_TIMEOUT, NULL)) {
            /* Paced only while a replay waits: an idle bridge has no timer here. */
            struct timeval tv = {0, 10000};
            event_add(j->pace_ev, &tv);
        }
    } else {
        enqueue(j, job);
    }
    pump(j);
}

/* Sends the next read of a job: the stream's end (new client, or the first step of a
 * replay, which checks the id is not from the future) or a page of entries. */
static int send_read(struct journal *j, struct replay_job *job, redisAsyncContext *ac) {
    int rc;
    if (!job->started) {
        if (job->have_from)
            rc = redisAsyncCommand(ac, on_first_reply, job, "XINFO STREAM %s",
                                   job->topic->journal_key);
        else
            rc = redisAsyncCommand(ac, on_first_reply, job, "XREVRANGE %s + - COUNT 1",
                                   job->topic->journal_key);
        j->inflight += rc == REDIS_OK;
        return rc;
    }
    /* "(id": exclusive start (Redis 6.2+). hiredis formats only %s/%b safely: no %zu. */
    char start[STREAM_ID_MAX_LEN + 2] = "(", count[24];
    stream_id_format(job->from, start + 1);
    snprintf(count, sizeof(count), "%zu", j->b->cfg->replay_batch);
    rc = redisAsyncCommand(ac, on_page_reply, job, "XRANGE %s %s + COUNT %s",
                           job->topic->journal_key, start, count);
    j->inflight += rc == REDIS_OK;
    return rc;
}

static void pump(struct journal *j) {
    redisAsyncContext *ac = redis_conn_ctx(j->reader);
    while (j->queue != NULL && (ac != NULL || j->queue->client == NULL) &&
           j->inflight < j->b->cfg->replay_inflight) {
        struct replay_job *job = j->queue;
        j->queue = job->next;
        if (j->queue == NULL)
            j->queue_tail = NULL;
        if (job->client == NULL) {
            job_free(job);
        } else if (send_read(j, job, ac) != REDIS_OK) {
            job->next = j->queue; /* refused (connection going away): retried when ready */
            j->queue = job;
            if (j->queue_tail == NULL)
                j->queue_tail = job;
            break;
        }
    }
}

/* Jobs whose client had too much unsent output: resume those that drained. */
static void on_pace(evutil_socket_t fd, short what, void *arg) {
    struct journal *j = arg;
    (void)fd, (void)what;
    struct replay_job **pp = &j->deferred;
    while (*pp) {
        struct replay_job *job = *pp;
        if (job->client == NULL || client_pending(job->client) <= j->b->cfg->client_buffer / 4) {
            *pp = job->next;
            if (job->client == NULL)
                job_free(job);
            else
                enqueue(j, job);
        } else {
            pp = &job->next;
        }
    }
    if (j->deferred == NULL)
        event_del(j->pace_ev);
    pump(j);
}

int journal_sync(struct journal *j, struct client *c, struct hub_sub *s,
                 const struct stream_id *from, bool bad_id) {
    struct topic *t = s->topic;
    if (t->journal_key == NULL) /* cannot happen: client_subscribe sets the journal up */
        return client_sync_done(c, s, (struct stream_id){0, 0});
    struct replay_job *job = xcalloc(1, sizeof(*job));
    job->j = j;
    job->client = c;
    job->sub = s;
    job->topic = t;
    t->pending++;
    s->sync_job = job;
    if (bad_id && client_gap(j, job, "invalid-id") != 0) {
        job_free(job); /* cut off: cancelled with the client, and never queued */
        return -1;
    }
    s->fresh = from == NULL || bad_id || stream_id_is_zero(*from);
    if (from != NULL && !bad_id) {
        job->have_from = true;
        job->from = *from;
        job->from_zero = stream_id_is_zero(*from);
        s->last_id = *from;
    } else if (t->cursor_known) {
        /* A new client of a topic whose end we know: everything after it arrives live. */
        return finish(job, t->last_id);
    }
    enqueue(j, job);
    pump(j);
    return 0;
}

void journal_cancel(struct hub_sub *s) {
    struct replay_job *job = s->sync_job;
    if (job == NULL)
        return;
    job->client = NULL;
    job->sub = NULL;
    s->sync_job = NULL;
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
    bool ok = reply != NULL && reply->type == REDIS_REPLY_ARRAY;
    if (ok) {
        struct stream_id end = {0, 0};
        if (reply->elements == 1 && reply->element[0]->type == REDIS_REPLY_ARRAY &&
            reply->element[0]->elements == 2 &&
            reply->element[0]->element[0]->type == REDIS_REPLY_STRING)
            stream_id_parse(reply->element[0]->element[0]->str, reply->element[0]->element[0]->len,
                            &end);
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

struct journal *journal_new(struct bridge *b) {
    struct journal *j = xcalloc(1, sizeof(*j));
    j->b = b;
    j->writer = redis_conn_new(b->redis_pool, "journal",
                               (struct redis_conn_handlers){writer_ready, writer_lost}, j);
    j->reader = redis_conn_new(b->redis_pool, "replay",
                               (struct redis_conn_handlers){reader_ready, reader_lost}, j);
    j->pace_ev = event_new(b->base, -1, EV_PERSIST, on_pace, j);
    return j;
}

void journal_start(struct journal *j) {
    redis_conn_start(j->writer);
    redis_conn_start(j->reader);
}

static void free_list(struct replay_job *job) {
    while (job) {
        struct replay_job *next = job->next;
        job_free(job);
        job = next;
    }
}

void journal_free(struct journal *j) {
    if (j == NULL)
        return;
    /* Freeing the connections answers every pending read and write with NULL. */
    redis_conn_free(j->writer);
    redis_conn_free(j->reader);
    free_list(j->queue);
    free_list(j->deferred);
    event_free(j->pace_ev);
    free(j);
}
