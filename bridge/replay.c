#include "replay.h"

#include <stdlib.h>
#include <string.h>

#include "client.h"
#include "delivery.h"
#include "frame.h"
#include "log.h"
#include "record.h"
#include "sse.h"
#include "xmalloc.h"

#define PAGE_FIELDS 16 /* field pairs of an entry read without an allocation */
/* Jobs that share one page read: a reconnect storm brings many clients back from the same
 * event, and they need the same XRANGE, parse and frames. Bounded so that one reply's
 * callback stays short (at most this many clients times replay_batch entries). */
#define PAGE_SHARERS 16

struct replay_job {
    struct replay *rp;
    struct client *client; /* NULL once cancelled */
    struct hub_sub *sub;   /* NULL once cancelled */
    struct topic *topic;   /* kept alive by topic->pending while the job exists */
    struct stream_id from; /* exclusive start of the next page */
    bool have_from, started;
    bool from_zero;          /* the client had seen nothing: a journal-started marker is no news */
    bool reading;            /* a read is in flight */
    bool deferred;           /* waiting for its client to drain */
    struct replay_job *next; /* in the queue, or among a page read's sharers */
};

/* An XRANGE page in flight and the jobs that wait for it: one topic, one position. */
struct page_read {
    struct replay *rp;
    struct topic *t;
    struct stream_id from;
    struct replay_job *jobs; /* linked by next, in the order they joined */
    struct replay_job *jobs_tail;
    size_t njobs;
    struct page_read *next; /* in replay.reads */
};

struct replay {
    struct bridge *b;
    struct journal *j;
    size_t inflight;
    struct replay_job *queue, *queue_tail; /* waiting for a read slot */
    struct page_read *reads;               /* pages in flight (at most replay_inflight) */
};

static void job_free(struct replay_job *job) {
    job->topic->pending--;
    free(job);
}

static void enqueue(struct replay *rp, struct replay_job *job) {
    job->next = NULL;
    if (rp->queue_tail)
        rp->queue_tail->next = job;
    else
        rp->queue = job;
    rp->queue_tail = job;
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

/* Sends one replayed entry (its frame built for the client's route). -1: the client is gone
 * or finished. */
static int send_entry(struct replay_job *job, const struct entry *e) {
    struct bridge *b = job->rp->b;
    struct client *c = job->client;
    struct frame_src src;
    frame_src_init(&src, &e->in, e->gap);
    src.binary_input = e->binary_fields;
    bool closing;
    struct msg *body = frame_build(&src, c->route->cfg, &b->names, FRAME_BODY, &closing);
    delivery_count_frames(b, &src);
    frame_src_clear(&src);
    if (body == NULL)
        return 0; /* a binary payload this route rejects: skipped, the replay goes on */
    int rc = client_replay_entry(c, job->sub, body, e, closing, NULL);
    msg_unref(body);
    return rc;
}

/* A gap event for this client only: its history for the topic is incomplete. */
static int send_gap(struct replay_job *job, const char *reason) {
    struct entry e = record_gap_entry(job->topic, reason);
    return send_entry(job, &e);
}

/* The client's position cannot be served: tell it, and go on from `pos` with what is
 * written from now on. */
static void start_over(struct replay_job *job, const char *reason, struct stream_id pos) {
    if (send_gap(job, reason) != 0) {
        job_free(job); /* cut off: the job was cancelled with the client */
        return;
    }
    job->sub->last_id = pos;
    job->sub->fresh = true; /* told already: history starts over */
    finish(job, pos);
}

static void on_position(void *arg, enum journal_read status, struct stream_id last,
                        const char *why) {
    struct replay_job *job = arg;
    struct replay *rp = job->rp;
    rp->inflight--;
    job->reading = false;
    if (job->client == NULL) {
        job_free(job); /* cancelled while the read was in flight */
        replay_pump(rp);
        return;
    }
    if (status == JOURNAL_READ_FAILED) {
        fail(job, why);
    } else if (!job->have_from) {
        /* A new client: the journal's end is its position, or where its topic's live reading
         * starts, if that is older (read first on this connection: bridge.c, reader_ready). */
        struct topic *t = job->topic;
        bool older = t->cursor_known && stream_id_cmp(t->last_id, last) < 0;
        finish(job, older ? t->last_id : last);
    } else if (status == JOURNAL_READ_MISSING) {
        /* No such stream: its history is gone (trimmed away, or Redis lost its data),
         * unless the client had seen nothing of it. */
        if (job->from_zero) {
            job->sub->last_id = (struct stream_id){0, 0};
            job->sub->fresh = true;
            finish(job, (struct stream_id){0, 0});
        } else {
            start_over(job, "truncated", (struct stream_id){0, 0});
        }
    } else if (status == JOURNAL_READ_FUTURE) {
        /* An id from the future: the journal was lost and started again, or the id belongs
         * to another deployment. Go on from the journal's end. */
        start_over(job, "unknown-id", last);
    } else if (status == JOURNAL_READ_TRUNCATED && send_gap(job, "truncated") != 0) {
        job_free(job); /* cut off */
    } else {
        job->started = true; /* entries after the client's id were trimmed: replay the rest */
        enqueue(rp, job);
    }
    replay_pump(rp);
}

/* A job's page was read: what it does next. `all`: it was sent every entry of the page. */
static void page_done(struct replay_job *job, size_t n, bool all) {
    struct replay *rp = job->rp;
    if (job->client == NULL) { /* cancelled, cut off or finished while replaying */
        job_free(job);
    } else if (all && n < rp->b->cfg->replay_batch) {
        finish(job, job->from);
    } else if (client_pending(job->client) > rp->b->cfg->client_buffer / 2) {
        job->deferred = true; /* the next page when the client has read */
        client_on_drain(job->client);
    } else {
        enqueue(rp, job);
    }
}

/* One entry's frame per route, built for the first sharer of that route that needs it. */
struct built {
    const struct route_cfg *cfg;
    struct msg *body; /* NULL: this route rejects the entry (a binary payload) */
    bool closing;
};

static void on_page(void *arg, const struct journal_page *page, const char *why) {
    struct page_read *pr = arg;
    struct replay *rp = pr->rp;
    struct bridge *b = rp->b;
    size_t half = b->cfg->client_buffer / 2;
    for (struct page_read **pp = &rp->reads; *pp; pp = &(*pp)->next) {
        if (*pp == pr) {
            *pp = pr->next;
            break;
        }
    }
    rp->inflight--;
    struct replay_job *jobs[PAGE_SHARERS];
    bool active[PAGE_SHARERS];
    size_t nj = 0;
    for (struct replay_job *job = pr->jobs, *next; job; job = next) {
        next = job->next;
        job->reading = false;
        if (job->client == NULL)
            job_free(job); /* cancelled while the read was in flight */
        else if (page == NULL)
            fail(job, why);
        else
            jobs[nj++] = job;
    }
    free(pr);
    size_t n = page != NULL ? journal_page_count(page) : 0, i = 0;
    for (size_t k = 0; k < nj; k++)
        active[k] = true;
    const char *fields[2 * PAGE_FIELDS];
    size_t lens[2 * PAGE_FIELDS];
    struct built built[PAGE_SHARERS];
    size_t left = nj;
    for (; i < n && left > 0; i++) {
        struct entry e;
        if (journal_page_entry(page, i, &e, fields, lens, PAGE_FIELDS) != 0)
            continue;
        struct frame_src src;
        frame_src_init(&src, &e.in, e.gap);
        src.binary_input = e.binary_fields;
        struct msg *id_frame = NULL; /* "id: X\n\n", shared by single-topic clients */
        size_t nbuilt = 0;
        for (size_t k = 0; k < nj; k++) {
            struct replay_job *job = jobs[k];
            if (!active[k])
                continue;
            /* A page can hold more than a client buffer: stop when half full and continue
             * from the last entry sent once it has drained (cutting the client would make it
             * come back to the same page forever). */
            if (job->client == NULL || client_pending(job->client) > half) {
                active[k] = false;
                left--;
                continue;
            }
            job->from = e.id;
            if (job->from_zero && record_is_start_marker(&e))
                continue;
            const struct route_cfg *cfg = job->client->route->cfg;
            size_t r = 0;
            while (r < nbuilt && built[r].cfg != cfg)
                r++;
            if (r == nbuilt) {
                built[r].cfg = cfg;
                built[r].body = frame_build(&src, cfg, &b->names, FRAME_BODY, &built[r].closing);
                nbuilt++;
            }
            if (built[r].body == NULL)
                continue; /* a binary payload this route rejects: skipped, the replay goes on */
            if (id_frame == NULL && e.has_id) {
                char id[STREAM_ID_MAX_LEN + 1];
                size_t len = stream_id_format(e.id, id);
                id_frame = sse_id_frame(id, len);
            }
            client_replay_entry(job->client, job->sub, built[r].body, &e, built[r].closing,
                                id_frame);
        }
        for (size_t r = 0; r < nbuilt; r++)
            msg_unref(built[r].body);
        msg_unref(id_frame);
        delivery_count_frames(b, &src);
        frame_src_clear(&src);
        record_entry_clear(&e);
    }
    for (size_t k = 0; k < nj; k++)
        page_done(jobs[k], n, active[k] && i == n);
    replay_pump(rp);
}

/* The client has drained: its waiting jobs read their next page. */
static void on_drained(struct client *c, void *arg) {
    struct replay *rp = arg;
    for (size_t i = 0; i < c->nsubs; i++) {
        struct replay_job *job = c->subs[i]->sync_job;
        if (job != NULL && job->deferred) {
            job->deferred = false;
            enqueue(rp, job);
        }
    }
    replay_pump(rp);
}

/* A read in flight of the page that job needs next, with room for one more sharer. */
static struct page_read *shared_read(const struct replay *rp, const struct replay_job *job) {
    if (!job->started)
        return NULL;
    for (struct page_read *pr = rp->reads; pr; pr = pr->next) {
        if (pr->t == job->topic && stream_id_cmp(pr->from, job->from) == 0 &&
            pr->njobs < PAGE_SHARERS)
            return pr;
    }
    return NULL;
}

/* A job's next page: it joins a read of the same page in flight (PAGE_SHARERS at most), or
 * sends one. 1: it joined (no read slot taken); 0: sent; -1: the reader is away. */
static int read_page(struct replay *rp, struct replay_job *job) {
    struct page_read *pr = shared_read(rp, job);
    if (pr != NULL) {
        job->next = NULL;
        pr->jobs_tail->next = job;
        pr->jobs_tail = job;
        pr->njobs++;
        return 1;
    }
    pr = xcalloc(1, sizeof(*pr));
    *pr = (struct page_read){rp, job->topic, job->from, job, job, 1, NULL};
    job->next = NULL;
    if (journal_read_page(rp->j, job->topic, job->from, rp->b->cfg->replay_batch, on_page, pr) !=
        0) {
        free(pr);
        return -1;
    }
    pr->next = rp->reads;
    rp->reads = pr;
    return 0;
}

/* Sends the next read of a job: where its position stands, or a page of entries. */
static int send_read(struct replay *rp, struct replay_job *job) {
    int rc;
    if (!job->started)
        rc = journal_read_position(rp->j, job->topic, job->have_from ? &job->from : NULL,
                                   on_position, job);
    else
        rc = read_page(rp, job);
    if (rc >= 0) {
        if (rc == 0)
            rp->inflight++;
        job->reading = true;
    }
    return rc < 0 ? -1 : 0;
}

void replay_pump(struct replay *rp) {
    /* Every read slot taken, a job may still join a read in flight. */
    while (rp->queue != NULL &&
           (rp->inflight < rp->b->cfg->replay_inflight || shared_read(rp, rp->queue) != NULL)) {
        struct replay_job *job = rp->queue;
        rp->queue = job->next;
        if (rp->queue == NULL)
            rp->queue_tail = NULL;
        if (job->client == NULL) {
            job_free(job);
        } else if (send_read(rp, job) != 0) {
            job->next = rp->queue; /* the reader is away: retried when it is ready */
            rp->queue = job;
            if (rp->queue_tail == NULL)
                rp->queue_tail = job;
            break;
        }
    }
}

/* The client of s is going away: its job is freed now, or when its pending read answers. */
static void cancel(void *arg) {
    struct replay_job *job = arg;
    job->sub->sync_job = NULL;
    job->client = NULL;
    job->sub = NULL;
    if (job->deferred)
        job_free(job); /* in no queue, no read in flight */
}

/* Brings one syncing subscriber up to date. `from`: the client's position for this topic, or
 * NULL for a new client. `bad_id`: the client sent a Last-Event-ID that could not be read. */
static int sync_topic(struct replay *rp, struct client *c, struct hub_sub *s,
                      const struct stream_id *from, bool bad_id) {
    struct topic *t = s->topic;
    if (t->journal_key == NULL) /* cannot happen: the stream step sets the journal up */
        return client_sync_done(c, s, (struct stream_id){0, 0});
    struct replay_job *job = xcalloc(1, sizeof(*job));
    job->rp = rp;
    job->client = c;
    job->sub = s;
    job->topic = t;
    t->pending++;
    s->sync_job = job;
    if (bad_id && send_gap(job, "invalid-id") != 0) {
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
    enqueue(rp, job);
    replay_pump(rp);
    return 0;
}

int replay_start(struct replay *rp, struct client *c, const char *last_event_id) {
    if (rp == NULL || !route_is_journalled(c->route->cfg))
        return 0;
    size_t n = c->nsubs;
    struct stream_id *ids = xcalloc(n, sizeof(*ids));
    struct hub_sub **subs = xmalloc(n * sizeof(*subs));
    memcpy(subs, c->subs, n * sizeof(*subs)); /* c may go while this runs */
    bool bad = last_event_id != NULL && stream_id_parse_list(last_event_id, ids, n) != 0;
    int rc = 0;
    for (size_t i = 0; i < n && rc == 0; i++)
        rc = sync_topic(rp, c, subs[i], last_event_id && !bad ? &ids[i] : NULL, bad);
    free(subs);
    free(ids);
    return rc;
}

struct client_hooks replay_client_hooks(struct replay *rp) {
    return (struct client_hooks){on_drained, cancel, rp};
}

struct replay *replay_new(struct bridge *b, struct journal *j) {
    struct replay *rp = xcalloc(1, sizeof(*rp));
    rp->b = b;
    rp->j = j;
    return rp;
}

void replay_free(struct replay *rp) {
    if (rp == NULL)
        return;
    for (struct replay_job *job = rp->queue, *next; job; job = next) {
        next = job->next;
        job_free(job);
    }
    free(rp);
}
