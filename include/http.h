/* The HTTP side: evhttp on the bridge's loop, with its limits (header, URI and body sizes,
 * methods), the endpoints (/healthz, /metrics, CORS pre-flight) and the route requests that
 * become SSE streams. Every refusal is an HTTP status with a one-line text reason. */
#ifndef HTTP_H
#define HTTP_H

#include "context.h"

/* Binds cfg->listen_host:listen_port. Returns NULL after logging why. */
struct http *http_new(struct bridge *b);
/* Closes the listening socket; open streams go on. */
void http_stop_accepting(struct http *h);
/* Frees evhttp and with it every connection still open. */
void http_free(struct http *h);

/* This process's figures now (the counters and the gauges /metrics shows). */
void http_metrics_snapshot(struct http *h, struct metrics_slot *slot);

#endif
