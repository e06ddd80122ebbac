/* Leases: which bridge writes the journal of a pub/sub channel or MQTT filter when several
 * bridges share one Redis. The writer of a journal is the holder of its lease, a Redis key
 * (the journal's key + ":lease") set with NX and a time to live; the holder renews it, the
 * others try to take it, all with one FCALL per tick for every journal this process follows
 * (the function library is functions.lua, loaded here at every connect). A journal write is an
 * FCALL too (sse_append), refused by Redis unless the lease is the writer's: fencing, so that
 * a writer paused past its lease and resumed writes nothing.
 *
 * The first write of a journal nobody holds takes its lease, so that no message waits for a tick.
 * The tick is a quarter of journal_lease, and a lease is set to live three quarters of it: a
 * holder that dies loses its lease within journal_lease, and another bridge with clients on
 * the journal takes it at its next tick. A lease is held only while the topic is wanted
 * (clients, a pin, or the linger): then it is released, so another bridge takes it at once.
 *
 * journal_lease = 0, or a Redis without functions (before 7.0): this process writes every
 * journal it follows with a plain XADD, as one bridge alone would (logged at start). */
#ifndef LEASE_H
#define LEASE_H

#include <stdbool.h>

#include "context.h"
#include "hub.h"

enum lease_taken {
    LEASE_TAKEN_NEW,       /* no writer before this one that this process saw */
    LEASE_TAKEN_CONTINUED, /* after another writer, and this process heard nothing that the
                              other may have left out: the journal goes on without a gap */
    LEASE_TAKEN_UNHEARD,   /* after another writer, and this process has not listened long
                              enough to tell: a plain PUBLISH from now on says there may be a
                              gap before it (none comes if the backend uses sse_publish) */
    LEASE_TAKEN_RESUMED,   /* after another writer, and this process dropped messages of the
                              handover: the journal misses some */
};

struct lease_events {
    /* This process now writes t's journal (see enum lease_taken). */
    void (*acquired)(void *arg, struct topic *t, enum lease_taken how);
    void *arg;
};

struct lease *lease_new(struct bridge *b, const struct lease_events *ev);
void lease_start(struct lease *l);
/* A topic came or went: the tick runs while some journal needs a lease, and sleeps otherwise. */
void lease_kick(struct lease *l);
/* A tick now rather than at the next one: a journal that nobody writes yet and that has no
 * first write to take its lease with (an MQTT filter's journal session opens with it). */
void lease_tick_now(struct lease *l);
/* Releases the leases held (on a connection of its own, bounded by a second), then frees. */
void lease_free(struct lease *l);

/* Whether this process may write t's journal now: it holds the lease, or does not know yet
 * who does (then the write takes a free lease, lease_may_take; Redis refuses it otherwise). */
bool lease_holds(const struct lease *l, const struct topic *t);
bool lease_may_take(const struct lease *l, const struct topic *t);
/* Redis took a write of t's journal: the lease is ours (if it was not known to be). */
void lease_wrote(struct lease *l, struct topic *t);
/* Journal writes go through sse_append with this token (false: plain XADD, no lease). */
bool lease_fenced(const struct lease *l);
const char *lease_token(const struct lease *l);
/* Loads the function library on ac (a connection that is about to FCALL sse_append). */
struct redisAsyncContext;
void lease_load(struct lease *l, struct redisAsyncContext *ac);
/* Redis refused a write of t's journal as not the holder's: another bridge has it now. */
void lease_lost(struct lease *l, struct topic *t);
/* This process dropped a message of t's journal (another bridge writes it), or could not hear
 * t for a while: if it takes the lease soon after, the journal may miss messages. */
void lease_missed(struct lease *l, struct topic *t);

#endif
