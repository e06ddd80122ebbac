/* The bridge's lifecycle: builds the context (context.h), starts and stops its parts in order,
 * and runs the loop-wide timers and signals. It knows each part by its constructor only; the
 * sources it holds through their ops table (source.h).
 *
 * Start order: HTTP listener, the Redis pool, the sources (Redis pub/sub, streams, MQTT), the
 * journal and its replays, publishing, static routes pinned; then the pool's probe, the
 * journal (before the sources: messages a broker had queued for us are journalled), the
 * sources, publishing; timers, signals. Stop (SIGTERM/SIGINT): stop accepting, send the close event
 * to every client, wait for their buffers to drain (at most shutdown_flush), then free in reverse
 * order and leave the loop. */
#ifndef BRIDGE_H
#define BRIDGE_H

#include <event2/event.h>

#include "config.h"
#include "context.h"

struct bridge *bridge_new(struct event_base *base, struct config *cfg);
/* One of `workers` processes: its figures go to its slot of the shared board (workers.h) and
 * /metrics shows every slot. Before bridge_start; board NULL: the only process. */
void bridge_share_metrics(struct bridge *b, struct metrics_slot *board, size_t n);
/* Listens, connects upstream, arms timers and signals. Returns 0, or -1 after logging why. */
int bridge_start(struct bridge *b);
void bridge_free(struct bridge *b);

#endif
