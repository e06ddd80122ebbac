/* A message as a route's SSE frame: the one pipeline every event takes, live or replayed, from
 * pub/sub, a stream, MQTT or the journal. Text policy (UTF-8 as is, else base64 or rejected),
 * one JSON parse per message shared by all of its routes, translation, encoding; gap events
 * for journal markers. Pure: no I/O, no bridge; the caller counts what frame_src reports.
 *
 * Ownership: a frame_src borrows the message's bytes (`in`) and owns the caches it fills (the
 * base64 text, the JSON parse) until frame_src_clear, so every buffer a frame is encoded from
 * lives until the frame is complete. Frames are new references, the caller's. */
#ifndef FRAME_H
#define FRAME_H

#include <stdbool.h>

#include <jansson.h>

#include "config.h"
#include "msg.h"
#include "translate.h"

/* One message as all its routes see it. */
struct frame_src {
    struct translate_in in; /* borrowed: channel, payload, fields, properties */
    bool gap;               /* a journal gap marker: in.payload is the reason */
    bool binary_input;      /* the payload stands for bytes that were not UTF-8 (rejected by
                               routes with binary = reject; the caller sets it) */
    /* Filled on first need, once per message; frame_src_clear frees them. */
    int utf8; /* -1: not checked yet */
    char *b64;
    size_t b64_len;
    json_t *json;
    bool parsed;
    /* What the message turned out to be, for the caller's counters (set at most once). */
    bool binary;    /* not UTF-8 */
    bool non_json;  /* a route needed JSON and it was not a JSON object */
    bool too_large; /* its frame for some route was over max_frame */
};

/* What the frames need from the bridge's configuration. */
struct frame_opts {
    const char *close_event; /* "" disables */
    const char *gap_event;
    size_t max_frame; /* an event larger than this once encoded is never sent (0: no bound) */
};

enum frame_shape {
    FRAME_WHOLE, /* a complete event */
    FRAME_BODY,  /* without its final blank line: the caller ends it (an id line, or "\n") */
};

void frame_src_init(struct frame_src *src, const struct translate_in *in, bool gap);
void frame_src_clear(struct frame_src *src);

/* Route r's frame for src. On a journalled route the route's own id rule is left out (clients
 * get journal positions instead). Returns NULL when r rejects the payload (binary = reject and
 * it is not UTF-8) or when the encoded event is over max_frame on a route without journal:
 * the caller skips this route for this message and must handle NULL. On a journalled route an
 * event over max_frame becomes the gap event "too-large" instead (sent with the entry's id, so
 * that a client's position moves past it and a replay is never stuck on it). Encodings can
 * grow a payload (every line break starts a "data: " line), so the bound is on the frame.
 * *closing: the event is the close event (never for a gap). */
struct msg *frame_build(struct frame_src *src, const struct route_cfg *r,
                        const struct frame_opts *opts, enum frame_shape shape, bool *closing);

/* Whether an encoded body or frame is the close event ("event: <close_event>\n" first). */
bool frame_is_close(const struct msg *m, const char *close_event);

#endif
