/* The SSE encoder: message fields in, one text/event-stream frame out (HTML Living Standard,
 * "Server-sent events", event stream format). Pure: no I/O, no allocation but the frame.
 *
 * Invariant: whatever bytes the fields hold, the frame dispatches exactly one event whose
 * type, id and data the client reads back unchanged, and never a field the payload forged:
 *   - data is split at CR, LF and CRLF into separate "data:" lines, so a payload of
 *     "x\n\nevent: admin" stays inside data;
 *   - CR, LF and NUL are removed from the event name (an empty name is left out, so the
 *     client sees "message");
 *   - CR and LF are removed from the id; an id holding NUL is not sent at all, since clients
 *     must ignore it (the spec) and a half-applied id would break Last-Event-ID. */
#ifndef SSE_H
#define SSE_H

#include <stddef.h>

#include "msg.h"

struct sse_fields {
    const char *event; /* NULL or empty: no event line */
    size_t event_len;
    const char *id; /* NULL: no id line */
    size_t id_len;
    const char *data; /* may be NULL when data_len is 0 */
    size_t data_len;
};

/* Exact size of the frame sse_encode writes for f. */
size_t sse_frame_size(const struct sse_fields *f);
/* Writes the frame into out (at least sse_frame_size(f) bytes); returns its length. */
size_t sse_encode(char *out, const struct sse_fields *f);
/* Both of the above into a new shared frame (one reference, the caller's). */
struct msg *sse_frame(const struct sse_fields *f);

/* "id: X\n\n" (CR/LF removed): after an event body it ends the event with that id; alone, it
 * sets the client's last event id without dispatching anything (the spec dispatches only
 * events with data), which is how a new stream tells the browser its position. */
struct msg *sse_id_frame(const char *id, size_t len);

/* "retry: ms\n\n" and ": text\n\n" frames, for the stream start and heartbeats. */
struct msg *sse_retry_frame(unsigned ms);
struct msg *sse_comment_frame(const char *text);

#endif
