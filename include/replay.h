/* Replays: the seam between a client's history and its live stream, on journalled routes.
 *
 * replay_start is called once the client has joined its topics: each subscription is
 * `syncing`, so live entries are held from that moment (client.c). For each topic a job asks
 * the journal where the client's Last-Event-ID stands (or, for a new client, where the journal
 * ends), then reads what it missed in pages of replay_batch entries, at most replay_inflight
 * reads at once for all clients. A page goes to the client while its output stays under half
 * of client_buffer; past that the job waits until the client has drained to a quarter (the
 * client calls back: pages are pulled by the reader, as h2o's generators proceed, never
 * pushed by a timer). When the last page is in, the client flushes what it held above the last
 * replayed id and goes live: no gap, no duplicate. A position the journal cannot serve is told
 * with a gap event: invalid-id (unreadable), unknown-id (newer than the journal), truncated
 * (entries after it are gone).
 *
 * Lifetimes: a job belongs to one subscription (sub->sync_job). A client that goes cancels its
 * jobs (client_hooks.cancel_sync); a job with a read in flight is freed when the reply comes. If
 * the journal's reader fails mid-replay the client is cut off; it reconnects and resumes. */
#ifndef REPLAY_H
#define REPLAY_H

#include "context.h"
#include "journal.h"

struct client;

struct replay *replay_new(struct bridge *b, struct journal *j);
void replay_free(struct replay *rp);
/* Brings every topic of client c up to date from `last_event_id` (NULL: a new client), then
 * live. No-op on a route without journal or when rp is NULL. Returns -1 if the client was cut
 * off meanwhile. */
int replay_start(struct replay *rp, struct client *c, const char *last_event_id);
/* What client.c calls back (bridge.c puts it in the context's client_hooks). */
struct client_hooks replay_client_hooks(struct replay *rp);
/* The journal's reader is ready: queued reads go. */
void replay_pump(struct replay *rp);

#endif
