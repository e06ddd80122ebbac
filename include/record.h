/* The journal's record format, both ways, and the Redis stream replies it is read from. Pure:
 * no I/O; it reads hiredis reply structs but calls nothing of hiredis.
 *
 * A journal is a Redis stream per journalled topic. Its entries are
 *   c <channel> p <payload>     a message (the channel it was published to, and its payload)
 *   gap <reason>                a gap marker: the history may have a hole here
 * Reasons: journal-started (journalling of the topic began: no news to a client that had seen
 * nothing), journal-resumed (the bridge missed messages while it was away),
 * journal-write-failed (sent live only, never written: Redis refused a write). The gap events
 * a replay sends without an entry (truncated, unknown-id, invalid-id, too-large) are in
 * frame.h and journal.h. A stream route's entries are whatever a backend XADDs: their "data"
 * field, or all fields as a JSON object, is the payload. */
#ifndef RECORD_H
#define RECORD_H

#include <stdbool.h>
#include <stddef.h>

#include "hub.h"
#include "streamid.h"
#include "translate.h"

#define RECORD_GAP_STARTED "journal-started"
#define RECORD_GAP_RESUMED "journal-resumed"
#define RECORD_GAP_WRITE_FAILED "journal-write-failed"

/* One journalled event: a stream entry (read with XREAD or XRANGE), or a pub/sub message that
 * the journal just wrote. `in` holds what translation reads. */
struct entry {
    bool has_id;
    struct stream_id id;
    bool gap; /* a gap marker: in.payload holds the reason */
    struct translate_in in;
    char *owned;        /* a payload made for the occasion; record_entry_clear frees it */
    void *owned_fields; /* the field arrays of an entry with more fields than the caller's */
    bool binary_fields; /* the payload made of its fields had non-UTF-8 ones (base64 in it) */
};

/* The field/value pairs that XADD writes for a message (4 strings) or a gap marker (2):
 * argv/lens get them; returns how many. Points into channel and payload. */
size_t record_message_fields(const char *channel, size_t channel_len, const char *payload,
                             size_t payload_len, const char **argv, size_t *lens);
size_t record_gap_fields(const char *reason, size_t reason_len, const char **argv, size_t *lens);

/* The key of the lease on journal_key (lease.h): journal_key + ":lease", allocated. */
char *record_lease_key(const char *journal_key);
/* The trim of t's journal as functions.lua reads it: "MAXLEN n", "AGE ms" or "" (none);
 * returns its length (cap >= RECORD_TRIM_SPEC_MAX). */
#define RECORD_TRIM_SPEC_MAX 32
size_t record_trim_spec(const struct topic *t, char *buf, size_t cap);

/* A gap event for topic t that is not in the journal (it has no id). */
struct entry record_gap_entry(const struct topic *t, const char *reason);
/* Whether e is the journal-started marker. */
bool record_is_start_marker(const struct entry *e);

/* Parses one XRANGE/XREAD entry ([id, [f, v, ...]]) into e (fields point into the reply; an
 * entry with more than max_pairs pairs gets arrays of its own). Returns 0, or -1 when it is
 * malformed. */
struct redisReply;
int record_parse_entry(const struct redisReply *item, struct entry *e, const char **fields,
                       size_t *lens, size_t max_pairs);
/* Fills e->in (and e->gap) from a parsed entry's fields: a journal entry's channel and
 * payload, or for a stream topic its "data" field (or all fields as a JSON object, non-UTF-8
 * names and values as base64, marking e->binary_fields). */
void record_entry_from_fields(const struct topic *t, struct entry *e);
void record_entry_clear(struct entry *e);

/* The id of an XREVRANGE COUNT 1 reply ([[id, [...]]]): true and *id (0-0 for an empty
 * stream), or false when the reply is not an array. */
bool record_last_id(const struct redisReply *reply, struct stream_id *id);

/* What XINFO STREAM says of a client's position `from` in a journal. */
enum record_position {
    RECORD_POSITION_OK,        /* everything after it is there */
    RECORD_POSITION_TRUNCATED, /* entries after it were trimmed or deleted */
    RECORD_POSITION_FUTURE,    /* newer than the journal's last id: another journal's id */
};
/* `last` gets the stream's last-generated-id. */
enum record_position record_position(const struct redisReply *info, struct stream_id from,
                                     struct stream_id *last);

#endif
