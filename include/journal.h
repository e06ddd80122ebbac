/* The journal: Redis streams that keep each journalled topic's recent history (the record
 * format is record.h's), written on one connection and read on another.
 *
 * Writing: a message on a journalled topic is appended on the writer connection, by the bridge
 * that holds the journal's lease only (lease.h), with the fenced FCALL sse_append (or a plain
 * XADD without lease), trimmed with MAXLEN ~ or MINID ~. It reaches clients, this bridge's
 * included, through the stream source's XREAD of the journal: ids and delivery order come from
 * Redis, the same on every bridge. When journalling of a topic (re)starts, a gap marker entry
 * records that history may have a hole. A write Redis refuses marks the journal degraded
 * (logged at both ends of the episode), is delivered to this bridge's live clients without an
 * id, and they are told once, with a journal-write-failed gap event.
 *
 * Reading (the reader connection): where a client's position stands in a journal, pages of
 * entries after it (replay.c drives these), and the services of the stream source (the end of
 * a stream, unblocking its XREAD). Reads report through the callbacks they are given; nothing
 * here knows clients. A read of a topic keeps it alive (topic->pending) until it is answered;
 * freeing the journal answers every pending read with a failure. */
#ifndef JOURNAL_H
#define JOURNAL_H

#include <stdbool.h>
#include <stddef.h>

#include "config.h"
#include "context.h"
#include "hub.h"
#include "lease.h"
#include "record.h"
#include "redis_conn.h"
#include "streamid.h"

struct journal_events {
    /* An event of topic t for this bridge's live clients that is not in the journal: a
     * message Redis refused to write (no id), or the journal-write-failed gap event. */
    void (*entry)(void *arg, struct topic *t, const struct entry *e);
    /* The reader connection is ready (again): reads refused meanwhile may be sent. */
    void (*reader_ready)(void *arg);
    void *arg;
};

struct journal *journal_new(struct bridge *b, const struct journal_events *ev);
void journal_start(struct journal *j);
void journal_free(struct journal *j);
bool journal_up(const struct journal *j);
/* Redis refuses journal writes now (its last answer to one was an error). */
bool journal_degraded(const struct journal *j);

/* Makes a topic journalled as route r says (no-op for routes without journal; a stream topic
 * is its own journal). j may be NULL (no journalled route). */
void journal_topic_setup(struct journal *j, const struct config *cfg, struct topic *t,
                         const struct route_cfg *r);
/* Appends a pub/sub message to t's journal when this bridge holds its lease (else nothing). */
void journal_append(struct journal *j, struct topic *t, const char *channel, size_t channel_len,
                    const char *payload, size_t payload_len);
/* Journalling of t (re)starts: a gap marker is owed, written just before the next message
 * (so a channel nobody publishes to gets no key). A replay across it sends the gap event;
 * so does its live delivery, except to clients that came without a position. `resumed`:
 * messages were lost (a resubscription, a writer taking over): written at once if this bridge
 * writes t's journal, so that every reader learns of it now. */
void journal_owe_gap(struct journal *j, struct topic *t, bool resumed);
/* This bridge writes t's journal from now on: after another writer that left messages out, a
 * journal-resumed marker goes in at once; after one that left nothing out, nothing (the journal
 * is one history); when it cannot tell, the marker is owed (written before the next plain
 * PUBLISH, if any); a new journal owes its journal-started marker. While another bridge writes
 * t, this one's gaps are only noted (lease_missed), not owed. */
void journal_lease_taken(struct journal *j, struct topic *t, enum lease_taken how);
/* For an MQTT filter journalled through the persistent session that moves with its lease
 * (t->journal_session), journal_lease_taken leaves the gap to this: the writer's session is
 * open, and the broker `kept` it (what was published while no writer was connected comes
 * now: nothing is lost), or did not (the first session: journal-started; after another writer
 * or an earlier session of this process: journal-resumed, at once). */
void journal_session_open(struct journal *j, struct topic *t, bool kept);

/* ---- reads ---- */

enum journal_read {
    JOURNAL_READ_FAILED,    /* connection lost or an error (why says which) */
    JOURNAL_READ_MISSING,   /* no such stream: its history is gone, or never was */
    JOURNAL_READ_OK,        /* everything after the position is there */
    JOURNAL_READ_TRUNCATED, /* entries after the position were trimmed or deleted */
    JOURNAL_READ_FUTURE,    /* the position is newer than the journal: another journal's id */
};
typedef void journal_position_cb(void *arg, enum journal_read status, struct stream_id last,
                                 const char *why);
/* from == NULL: the journal's end (XREVRANGE COUNT 1; 0-0 when empty or missing), reported
 * as OK. Otherwise what XINFO STREAM says of `from`, with the journal's last id. Returns -1
 * (done is not called) when the reader cannot send now: retry at reader_ready. */
int journal_read_position(struct journal *j, struct topic *t, const struct stream_id *from,
                          journal_position_cb *done, void *arg);

/* A page of entries: valid during its callback only. */
struct journal_page;
typedef void journal_page_cb(void *arg, const struct journal_page *page, const char *why);
/* Up to `count` entries after `after` (exclusive); done gets page NULL and why on failure.
 * Returns -1 as journal_read_position does. */
int journal_read_page(struct journal *j, struct topic *t, struct stream_id after, size_t count,
                      journal_page_cb *done, void *arg);
size_t journal_page_count(const struct journal_page *p);
/* Entry i, parsed and read as its topic's kind says (record_entry_from_fields); -1 when it is
 * malformed. The caller clears e (record_entry_clear). */
int journal_page_entry(const struct journal_page *p, size_t i, struct entry *e, const char **fields,
                       size_t *lens, size_t max_pairs);
bool journal_reader_ready(const struct journal *j);

/* Reads the current end of stream t (XREVRANGE COUNT 1) for the stream source; calls done
 * with the id (0-0 for an empty or missing stream), or ok = false if Redis failed. */
void journal_stream_end(struct journal *j, struct topic *t,
                        void (*done)(void *arg, struct topic *t, bool ok), void *arg);
/* Interrupts a blocking XREAD on another connection (CLIENT UNBLOCK id). */
void journal_unblock(struct journal *j, long long client_id);

#endif
