/* The journal: Redis streams that keep each journalled topic's recent history, and the
 * replays that bring a reconnecting client up to date from them.
 *
 * Writing: a message on a journalled channel is appended with XADD (trimmed with MAXLEN ~ or
 * MINID ~) on the writer connection; the reply's entry id becomes the SSE id and the entry
 * is delivered then (bridge_deliver_entry), so ids and delivery order come from Redis. When
 * journalling of a topic (re)starts, a gap marker entry records that history may have a hole.
 *
 * Replaying (journal_sync): the subscriber is already registered in the hub with `syncing`
 * set, so live entries are held from that moment. The reader connection then fetches what
 * the client missed, in pages of replay_batch (XRANGE with an exclusive start), paced by the
 * client's output buffer, at most replay_inflight reads at once for all clients. When the
 * last page is in, held entries above the last replayed id are flushed and the subscriber
 * goes live; everything at or below it is dropped: no gap, no duplicate. A client without
 * Last-Event-ID syncs to the current end of the stream (no replay).
 *
 * Lifetimes: a job belongs to one hub_sub (sub->sync_job). When the client goes, its jobs
 * are cancelled (journal_cancel) and freed when their pending reply arrives. If the reader
 * connection drops mid-replay, the client is cut off; it reconnects and resumes. */
#ifndef JOURNAL_H
#define JOURNAL_H

#include <stdbool.h>
#include <stddef.h>

#include "bridge.h"
#include "hub.h"
#include "redis_conn.h"
#include "streamid.h"

struct client;

struct journal *journal_new(struct bridge *b);
void journal_start(struct journal *j);
void journal_free(struct journal *j);
bool journal_up(const struct journal *j);
/* Redis refuses journal writes now (its last answer to one was an error). */
bool journal_degraded(const struct journal *j);

/* Appends a pub/sub message to t's journal; delivered when Redis answers with its id. */
void journal_append(struct journal *j, struct topic *t, const char *channel, size_t channel_len,
                    const char *payload, size_t payload_len);
/* Journalling of t (re)starts: a gap marker is owed, written just before the next message
 * (so a channel nobody publishes to gets no key). A replay across it sends the gap event;
 * so does its live delivery, except to clients that came without a position. `resumed`: the
 * subscription was down and the clients connected now missed messages: they are told at
 * once. */
void journal_owe_gap(struct journal *j, struct topic *t, bool resumed);

/* Brings a syncing subscriber up to date. `from`: the client's position for this topic, or
 * NULL for a new client. `bad_id`: the client sent a Last-Event-ID that could not be read. */
int journal_sync(struct journal *j, struct client *c, struct hub_sub *s,
                 const struct stream_id *from, bool bad_id);
/* Parses one XRANGE/XREAD entry ([id, [f, v, ...]]) into e (fields point into the reply; at
 * most max_pairs pairs). Returns 0, or -1 when it is malformed. */
struct redisReply;
int journal_parse_entry(const struct redisReply *item, struct entry *e, const char **fields,
                        size_t *lens, size_t max_pairs);
/* Cancels a subscriber's replay (its client is going away). */
void journal_cancel(struct hub_sub *s);
/* Reads the current end of stream t (XREVRANGE COUNT 1) for the stream source; calls done
 * with the id (0-0 for an empty or missing stream), or ok = false if Redis failed. */
void journal_stream_end(struct journal *j, struct topic *t,
                        void (*done)(void *arg, struct topic *t, bool ok), void *arg);
/* Interrupts a blocking XREAD on another connection (CLIENT UNBLOCK id). */
void journal_unblock(struct journal *j, long long client_id);

#endif
