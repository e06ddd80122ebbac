/* workers = N: N processes of the bridge on one port (SO_REUSEPORT), the kernel spreading
 * connections over them. This process becomes their supervisor: it forks them, restarts one
 * that dies (a second later if it died within a second of its start), and on SIGTERM or SIGINT
 * passes the signal on and waits for all of them to drain. Each worker is a whole bridge with
 * its own connections, subscriptions and clients; journals are written once among them as
 * among separate bridges (lease.h). With a listen port of 0 the supervisor binds one first and
 * keeps it, so that every worker, restarted ones too, serves the same port.
 *
 * The workers share one page of figures (metrics.h, struct metrics_slot): each keeps its own
 * slot current, and /metrics on any of them shows them all, labelled. */
#ifndef WORKERS_H
#define WORKERS_H

#include <stddef.h>

#include "config.h"
#include "metrics.h"

/* How many: cfg->workers, or the number of cores for `auto` (at most WORKERS_MAX). */
size_t workers_count(const struct config *cfg);

/* Runs one bridge in this process: its exit status. board: the workers' shared slots (NULL and
 * 0 when it is the only process); cfg->worker says which is its own. */
typedef int workers_run_fn(struct config *cfg, struct metrics_slot *board, size_t n, void *arg);

/* With one worker, run() here; otherwise the supervisor. Returns the exit status. */
int workers_run(struct config *cfg, workers_run_fn *run, void *arg);

#endif
