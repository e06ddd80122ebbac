/* The SSE decoder: the client side of sse.h. Bytes of a text/event-stream body in, in chunks
 * cut anywhere, events out through a callback, exactly as a browser's EventSource would see
 * them (HTML Living Standard, "Interpreting an event stream"). Pure: no I/O, no globals.
 *
 * What it follows, in spec order:
 *   - the body is UTF-8 decoded: one leading BOM is dropped, and each invalid or truncated
 *     sequence becomes U+FFFD, so every string handed out is valid UTF-8 (it may hold NUL);
 *   - lines end in CRLF, LF or CR; a CR ending one chunk and an LF opening the next are one
 *     line end;
 *   - a line starting with ':' is a comment (counted, otherwise ignored);
 *   - "field: value" with one leading space of the value dropped, or "field" alone with an
 *     empty value; only event, data, id and retry mean anything, names are case-sensitive;
 *   - an id containing NUL is ignored; retry is taken only if it is all ASCII digits;
 *   - an empty line dispatches: the last event id is kept for later events, an event whose
 *     data buffer is empty is not dispatched, the data loses its final LF, the type falls
 *     back to "message", and type and data start over;
 *   - an unfinished event when the body ends is simply never dispatched (no finish call).
 *
 * Bounds: max_event_bytes caps both the line being read and the data one event collects (each
 * data line counts with the LF that joins it). Past either, sse_parser_feed returns -1 and
 * keeps returning -1: the stream is unusable and the caller should drop it. Comment lines are
 * skipped as they arrive, never buffered, so they are not bounded.
 *
 * Ownership: the parser copies what it keeps; the caller's buffer is only read during feed.
 * The strings of a struct sse_event are the parser's and valid only during the callback;
 * each is NUL-terminated after its length for convenience, but may hold NUL itself. */
#ifndef SSE_PARSE_H
#define SSE_PARSE_H

#include <stddef.h>

struct sse_event {
    const char *type; /* never empty: "message" unless an event field named one */
    size_t type_len;
    const char *data; /* data lines joined with LF */
    size_t data_len;
    const char *last_id; /* the last event id buffer at dispatch; "" if none was set */
    size_t last_id_len;
};

typedef void (*sse_event_cb)(void *arg, const struct sse_event *ev);

struct sse_parser;

/* cb may be NULL (comments and retry are still tracked). Never returns NULL (xmalloc). */
struct sse_parser *sse_parser_new(size_t max_event_bytes, sse_event_cb cb, void *arg);

/* Parses len bytes, calling cb for each event they complete. Returns 0, or -1 once a bound
 * was passed (events completed before that point were still dispatched). cb may call
 * sse_parser_free(p): feed then stops at once and returns 0 without touching p again. cb
 * must not feed the same parser (that nested feed returns -1). */
int sse_parser_feed(struct sse_parser *p, const char *buf, size_t len);

/* NULL is allowed. Safe inside cb (the free is deferred to the end of feed). */
void sse_parser_free(struct sse_parser *p);

/* Complete comment lines seen so far. */
size_t sse_parser_comments(const struct sse_parser *p);
/* The last valid retry value in milliseconds, or -1 when none was seen (an overflowing value
 * is ignored like any other invalid one). */
long sse_parser_retry(const struct sse_parser *p);

#endif
