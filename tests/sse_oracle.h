/* The model of what a client reads back from an SSE frame, shared by the encoder's unit test
 * (tests/unit/test_sse.c) and the libFuzzer drivers (tests/fuzz/fuzz_sse_*.c). It is written
 * from the specs (the HTML event-stream rules and the Encoding Standard's UTF-8 decoder), not
 * from bridge/, so that sse.c and sse_parse.c are checked against an independent reading:
 *
 *   expect_for:  the one event a fresh client must see for some sse_fields: the type is the
 *                event less CR, LF and NUL (or "message" when nothing is left), the last id is
 *                the id less CR and LF (or "" when there is no id or it holds NUL), the data has
 *                CRLF and CR turned into LF, and invalid UTF-8 becomes U+FFFD in all three.
 *   parse_split: parses bytes as a fresh client, in two feeds (record: keep the first event).
 *   utf8_valid:  whether bytes are well-formed UTF-8, for checking what the parser hands out.
 *
 * No check.h: each caller decides what a difference means (a counted CHECK, or abort() in a
 * fuzzer). Header-only; the functions are static inline so a driver may use only some. */
#ifndef SSE_ORACLE_H
#define SSE_ORACLE_H

#include <stdlib.h>
#include <string.h>

#include "sse.h"
#include "sse_parse.h"
#include "xmalloc.h"

/* A growable byte string, NUL-terminated once anything was put (even zero bytes); the owner
 * frees p. */
struct str {
    char *p;
    size_t len, cap;
};

static inline void str_put(struct str *s, const char *b, size_t n) {
    if (s->len + n + 1 > s->cap) {
        s->cap = s->cap ? s->cap : 64;
        while (s->cap < s->len + n + 1)
            s->cap *= 2;
        s->p = xrealloc(s->p, s->cap);
    }
    if (n > 0)
        memcpy(s->p + s->len, b, n);
    s->len += n;
    s->p[s->len] = '\0';
}

/* --- UTF-8, per the Encoding Standard ------------------------------------------------------ */

/* For a byte c >= 0x80: how many continuation bytes a sequence it starts needs, and the range
 * [*lo, *hi] the first of them must fall in (the rest take 0x80..0xBF); the narrow ranges rule
 * out overlongs, surrogates and values past U+10FFFF. 0 when c cannot start a sequence. */
static inline size_t utf8_lead(unsigned char c, unsigned char *lo, unsigned char *hi) {
    *lo = 0x80;
    *hi = 0xBF;
    if (c >= 0xC2 && c <= 0xDF)
        return 1;
    if (c >= 0xE0 && c <= 0xEF) {
        *lo = c == 0xE0 ? 0xA0 : 0x80;
        *hi = c == 0xED ? 0x9F : 0xBF;
        return 2;
    }
    if (c >= 0xF0 && c <= 0xF4) {
        *lo = c == 0xF0 ? 0x90 : 0x80;
        *hi = c == 0xF4 ? 0x8F : 0xBF;
        return 3;
    }
    return 0;
}

/* Well-formed UTF-8: no overlongs, surrogates or values past U+10FFFF. NUL is a valid code
 * point. */
static inline int utf8_valid(const unsigned char *s, size_t n) {
    size_t i = 0;
    while (i < n) {
        unsigned char lo, hi;
        if (s[i] < 0x80) {
            i++;
            continue;
        }
        size_t need = utf8_lead(s[i], &lo, &hi);
        if (need == 0)
            return 0;
        if (n - i - 1 < need || s[i + 1] < lo || s[i + 1] > hi)
            return 0;
        for (size_t k = 2; k <= need; k++) {
            if (s[i + k] < 0x80 || s[i + k] > 0xBF)
                return 0;
        }
        i += need + 1;
    }
    return 1;
}

/* UTF-8 decode with replacement, appended to out: a lead byte and the continuation bytes that
 * were valid so far become one U+FFFD; the byte that broke the sequence is decoded again on
 * its own. */
static inline void utf8_replace(struct str *out, const char *in, size_t n) {
    const unsigned char *s = (const unsigned char *)in;
    size_t i = 0;
    str_put(out, "", 0);
    while (i < n) {
        unsigned char lo, hi;
        if (s[i] < 0x80) {
            str_put(out, in + i++, 1);
            continue;
        }
        size_t need = utf8_lead(s[i], &lo, &hi);
        if (need == 0) {
            str_put(out, "\xEF\xBF\xBD", 3);
            i++;
            continue;
        }
        size_t k = 1;
        while (k <= need && i + k < n && s[i + k] >= lo && s[i + k] <= hi) {
            lo = 0x80;
            hi = 0xBF;
            k++;
        }
        if (k == need + 1)
            str_put(out, in + i, k);
        else
            str_put(out, "\xEF\xBF\xBD", 3);
        i += k;
    }
}

/* --- The event a client must read back ----------------------------------------------------- */

/* Bytes of s without CR, LF and (when drop_nul) NUL, appended to out. */
static inline void strip(struct str *out, const char *s, size_t n, int drop_nul) {
    str_put(out, "", 0);
    for (size_t i = 0; i < n; i++) {
        if (!(s[i] == '\r' || s[i] == '\n' || (drop_nul && s[i] == '\0')))
            str_put(out, s + i, 1);
    }
}

/* s appended to out with CRLF, CR and LF all turned into LF. */
static inline void normalise_breaks(struct str *out, const char *s, size_t n) {
    str_put(out, "", 0);
    for (size_t i = 0; i < n; i++) {
        if (s[i] == '\r') {
            str_put(out, "\n", 1);
            if (i + 1 < n && s[i + 1] == '\n')
                i++;
        } else {
            str_put(out, s + i, 1);
        }
    }
}

/* Type, last event id and data, each NUL-terminated (p is never NULL once filled). */
struct expect {
    struct str type, id, data;
};

/* Fills e with the event a fresh client reads from the frame of f; free it with
 * expect_free. */
static inline void expect_for(struct expect *e, const struct sse_fields *f) {
    struct str tmp = {0};
    memset(e, 0, sizeof(*e));
    strip(&tmp, f->event ? f->event : "", f->event ? f->event_len : 0, 1);
    if (tmp.len == 0)
        str_put(&e->type, "message", 7);
    else
        utf8_replace(&e->type, tmp.p, tmp.len);
    tmp.len = 0;
    if (f->id == NULL || memchr(f->id, '\0', f->id_len) != NULL) {
        str_put(&e->id, "", 0); /* no id line: a fresh client has no last event id */
    } else {
        strip(&tmp, f->id, f->id_len, 0);
        utf8_replace(&e->id, tmp.p, tmp.len);
    }
    tmp.len = 0;
    normalise_breaks(&tmp, f->data ? f->data : "", f->data_len);
    utf8_replace(&e->data, tmp.p, tmp.len);
    free(tmp.p);
}

static inline void expect_free(struct expect *e) {
    free(e->type.p);
    free(e->id.p);
    free(e->data.p);
}

/* --- Reading a frame back ------------------------------------------------------------------ */

/* What a parser dispatched: how many events, and a copy of the first one. */
struct got {
    int n;
    struct str type, id, data; /* the first event */
};

/* An sse_event_cb: counts events into the struct got at arg and copies the first. */
static inline void record(void *arg, const struct sse_event *ev) {
    struct got *g = arg;
    if (g->n++ > 0)
        return;
    str_put(&g->type, ev->type, ev->type_len);
    str_put(&g->id, ev->last_id, ev->last_id_len);
    str_put(&g->data, ev->data, ev->data_len);
}

static inline void got_free(struct got *g) {
    free(g->type.p);
    free(g->id.p);
    free(g->data.p);
}

/* What a parser made of an input: what the feeds returned, and its counters afterwards. */
struct parse_result {
    int rc; /* 0, or the first failing feed's result (the second feed is then not made) */
    size_t comments;
    long retry;
};

/* Parses buf[0..len) with a fresh parser bounded at max_event bytes, fed in two pieces cut at
 * split (0 <= split <= len), handing each event to cb(arg, ...). */
static inline struct parse_result parse_split(const char *buf, size_t len, size_t split,
                                              size_t max_event, sse_event_cb cb, void *arg) {
    struct parse_result r;
    struct sse_parser *p = sse_parser_new(max_event, cb, arg);
    r.rc = sse_parser_feed(p, buf, split);
    if (r.rc == 0)
        r.rc = sse_parser_feed(p, buf + split, len - split);
    r.comments = sse_parser_comments(p);
    r.retry = sse_parser_retry(p);
    sse_parser_free(p);
    return r;
}

#endif
