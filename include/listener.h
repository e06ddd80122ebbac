/* The listening socket and what it lets in: the accept backlog and SO_REUSEPORT, a deadline for
 * connections that have not sent a whole request (request_timeout, so slowloris connections and
 * sockets that never speak are closed), a limit of their own for such connections
 * (max_pending_connections, apart from max_clients, which counts streams), and what happens at
 * the process's file limit: the listener pauses instead of spinning on EMFILE, a spare
 * descriptor lets it accept-and-close the connection at the head of the queue (as nginx and
 * HAProxy do), one line is logged per episode with a count, and it resumes.
 *
 * evhttp still reads every request. listener_new installs evhttp's bufferevent callback to
 * learn of each accepted connection, and http.c reports each request it is handed
 * (listener_request_seen), which lifts that connection's deadline. A pending connection is
 * known by its descriptor and its socket's inode, so a number reused by a later connection is
 * never mistaken for it; one that closes before its deadline is forgotten at the deadline.
 * The deadline timer runs only while connections are pending. */
#ifndef LISTENER_H
#define LISTENER_H

#include <event2/event.h>
#include <event2/http.h>

#include "config.h"
#include "metrics.h"

struct listener;

/* Binds cfg's listen address for evhttp. metrics are the bridge's (counters are bumped there).
 * Returns NULL after logging why. */
struct listener *listener_new(struct event_base *base, struct evhttp *evhttp,
                              const struct config *cfg, struct metrics *metrics);
/* A request was read on this connection: it has a request now, no deadline any more. */
void listener_request_seen(struct listener *l, struct evhttp_request *req);
/* Connections accepted that have not sent a whole request yet (close to: one that closed is
 * counted until its deadline). */
size_t listener_pending(const struct listener *l);
/* The port bound (for listen = host:0). */
int listener_port(const struct listener *l);
/* Stops accepting; the socket is closed. Open connections go on. */
void listener_stop(struct listener *l);
void listener_free(struct listener *l);

#endif
