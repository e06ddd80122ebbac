#include "sse.h"

#include <stdio.h>
#include <string.h>

static int is_break(char c) {
    return c == '\r' || c == '\n';
}

/* Bytes of `s` that survive in a single-line field (event or id). */
static size_t kept_len(const char *s, size_t n, int drop_nul) {
    size_t kept = 0;
    for (size_t i = 0; i < n; i++)
        kept += !(is_break(s[i]) || (drop_nul && s[i] == '\0'));
    return kept;
}

static int id_sendable(const struct sse_fields *f) {
    return f->id != NULL && memchr(f->id, '\0', f->id_len) == NULL;
}

/* Bytes the data lines take: "data: " per line, the payload less its line breaks. */
static size_t data_size(const char *s, size_t n) {
    size_t size = sizeof("data: ") - 1 + 1;
    for (size_t i = 0; i < n; i++) {
        if (!is_break(s[i])) {
            size++;
            continue;
        }
        if (s[i] == '\r' && i + 1 < n && s[i + 1] == '\n')
            i++;
        size += sizeof("\ndata: ") - 1;
    }
    return size;
}

size_t sse_frame_size(const struct sse_fields *f) {
    size_t size = 1; /* the blank line that dispatches the event */
    size_t event = f->event ? kept_len(f->event, f->event_len, 1) : 0;
    if (event > 0)
        size += sizeof("event: ") - 1 + event + 1;
    if (id_sendable(f))
        size += sizeof("id: ") - 1 + kept_len(f->id, f->id_len, 0) + 1;
    return size + data_size(f->data, f->data_len);
}

static char *put(char *p, const char *s, size_t n) {
    memcpy(p, s, n);
    return p + n;
}

static char *put_stripped(char *p, const char *s, size_t n, int drop_nul) {
    for (size_t i = 0; i < n; i++) {
        if (!(is_break(s[i]) || (drop_nul && s[i] == '\0')))
            *p++ = s[i];
    }
    return p;
}

size_t sse_encode(char *out, const struct sse_fields *f) {
    char *p = out;
    if (f->event && kept_len(f->event, f->event_len, 1) > 0) {
        p = put(p, "event: ", 7);
        p = put_stripped(p, f->event, f->event_len, 1);
        *p++ = '\n';
    }
    if (id_sendable(f)) {
        p = put(p, "id: ", 4);
        p = put_stripped(p, f->id, f->id_len, 0);
        *p++ = '\n';
    }
    p = put(p, "data: ", 6);
    for (size_t i = 0; i < f->data_len; i++) {
        char c = f->data[i];
        if (!is_break(c)) {
            *p++ = c;
            continue;
        }
        if (c == '\r' && i + 1 < f->data_len && f->data[i + 1] == '\n')
            i++;
        p = put(p, "\ndata: ", 7);
    }
    *p++ = '\n';
    *p++ = '\n';
    return (size_t)(p - out);
}

struct msg *sse_frame(const struct sse_fields *f) {
    struct msg *m = msg_new(sse_frame_size(f));
    m->len = sse_encode(m->data, f);
    return m;
}

struct msg *sse_retry_frame(unsigned ms) {
    struct msg *m = msg_new(32);
    m->len = (size_t)snprintf(m->data, 32, "retry: %u\n\n", ms);
    return m;
}

struct msg *sse_comment_frame(const char *text) {
    size_t n = strlen(text);
    struct msg *m = msg_new(n + 4);
    char *p = put(m->data, ": ", 2);
    p = put_stripped(p, text, n, 1);
    *p++ = '\n';
    *p++ = '\n';
    m->len = (size_t)(p - m->data);
    return m;
}

struct msg *sse_id_frame(const char *id, size_t len) {
    struct msg *m = msg_new(len + 6);
    char *p = put(m->data, "id: ", 4);
    p = put_stripped(p, id, len, 0);
    *p++ = '\n';
    *p++ = '\n';
    m->len = (size_t)(p - m->data);
    return m;
}
