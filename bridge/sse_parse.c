#include "sse_parse.h"

#include <limits.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "xmalloc.h"

/* Buffers bigger than this are released after the event that grew them, so one large event
 * does not pin max_event_bytes per connection for the rest of a long stream. */
#define KEEP_CAP (64 * 1024)

static const char replacement[] = "\xEF\xBF\xBD"; /* U+FFFD in UTF-8 */

/* A growable byte string, NUL-terminated whenever p != NULL. */
struct buf {
    char *p;
    size_t len;
    size_t cap;
};

struct sse_parser {
    size_t max;
    sse_event_cb cb;
    void *arg;

    /* UTF-8 decoder state (Encoding Standard, "UTF-8 decoder"): the lead and continuation
     * bytes of the sequence in progress and the range the next byte must fall in. */
    unsigned char seq[4];
    unsigned seq_len;
    unsigned seq_need; /* continuation bytes still expected; 0 between code points */
    unsigned char lower, upper;
    int started; /* a code point was decoded: a BOM from now on is content */

    /* Line splitter state. */
    int after_cr;   /* the last line ended in CR: an LF right after it is part of that end */
    int in_comment; /* the current line is a comment: its bytes are dropped as they come */
    struct buf line;

    /* The spec's buffers. */
    struct buf data;
    struct buf type;
    struct buf id;
    long retry;
    size_t comments;

    int failed;
    int in_feed;
    int freed; /* sse_parser_free was called from the callback: free when feed unwinds */
};

/* Makes room for `extra` more bytes plus the terminating NUL. Callers have checked extra
 * against max, so len + extra + 1 cannot overflow. */
static void buf_reserve(struct buf *b, size_t extra) {
    size_t need = b->len + extra + 1;
    if (need <= b->cap)
        return;
    size_t cap = b->cap ? b->cap : 64;
    while (cap < need)
        cap = cap > SIZE_MAX / 2 ? need : cap * 2;
    b->p = xrealloc(b->p, cap);
    b->cap = cap;
}

static void buf_append(struct buf *b, const char *s, size_t n) {
    buf_reserve(b, n);
    if (n > 0)
        memcpy(b->p + b->len, s, n);
    b->len += n;
    b->p[b->len] = '\0';
}

static void buf_set(struct buf *b, const char *s, size_t n) {
    b->len = 0;
    buf_append(b, s, n);
}

static void buf_clear(struct buf *b) {
    b->len = 0;
    if (b->cap > KEEP_CAP) {
        free(b->p);
        b->p = NULL;
        b->cap = 0;
    } else if (b->p != NULL) {
        b->p[0] = '\0';
    }
}

static void buf_free(struct buf *b) {
    free(b->p);
    b->p = NULL;
    b->len = b->cap = 0;
}

struct sse_parser *sse_parser_new(size_t max_event_bytes, sse_event_cb cb, void *arg) {
    struct sse_parser *p = xcalloc(1, sizeof(*p));
    p->max = max_event_bytes;
    p->cb = cb;
    p->arg = arg;
    p->lower = 0x80;
    p->upper = 0xBF;
    p->retry = -1;
    return p;
}

static void parser_destroy(struct sse_parser *p) {
    buf_free(&p->line);
    buf_free(&p->data);
    buf_free(&p->type);
    buf_free(&p->id);
    free(p);
}

void sse_parser_free(struct sse_parser *p) {
    if (p == NULL)
        return;
    if (p->in_feed) {
        p->freed = 1;
        return;
    }
    parser_destroy(p);
}

size_t sse_parser_comments(const struct sse_parser *p) {
    return p->comments;
}

long sse_parser_retry(const struct sse_parser *p) {
    return p->retry;
}

/* "If the data buffer is an empty string, set the data buffer and the event type buffer to
 * the empty string and return" -- the id buffer is deliberately left alone: it persists. */
static void dispatch(struct sse_parser *p) {
    if (p->data.len == 0) {
        buf_clear(&p->type);
        return;
    }
    p->data.len--; /* the LF the last data line added */
    p->data.p[p->data.len] = '\0';
    struct sse_event ev = {
        .type = p->type.len ? p->type.p : "message",
        .type_len = p->type.len ? p->type.len : sizeof("message") - 1,
        .data = p->data.p,
        .data_len = p->data.len,
        .last_id = p->id.len ? p->id.p : "",
        .last_id_len = p->id.len,
    };
    if (p->cb != NULL)
        p->cb(p->arg, &ev);
    /* Even when cb freed us, the free is deferred, so p is still ours to tidy. */
    buf_clear(&p->data);
    buf_clear(&p->type);
}

static int field_is(const char *name, size_t len, const char *want) {
    return len == strlen(want) && memcmp(name, want, len) == 0;
}

/* "If the field value consists of only ASCII digits": an empty value has no digits to
 * interpret, and browsers ignore it, so it is ignored here too. */
static void set_retry(struct sse_parser *p, const char *v, size_t n) {
    long ms = 0;
    if (n == 0)
        return;
    for (size_t i = 0; i < n; i++) {
        if (v[i] < '0' || v[i] > '9')
            return;
        int d = v[i] - '0';
        if (ms > (LONG_MAX - d) / 10)
            return;
        ms = ms * 10 + d;
    }
    p->retry = ms;
}

/* One complete, non-comment line. */
static int process_line(struct sse_parser *p, const char *line, size_t len) {
    if (len == 0) {
        dispatch(p);
        return 0;
    }
    const char *colon = memchr(line, ':', len);
    size_t name_len = colon ? (size_t)(colon - line) : len;
    const char *value = colon ? colon + 1 : line + len;
    size_t value_len = colon ? len - name_len - 1 : 0;
    if (value_len > 0 && value[0] == ' ') {
        value++;
        value_len--;
    }

    if (field_is(line, name_len, "data")) {
        /* data.len <= max always holds, so the subtraction cannot wrap. */
        if (value_len >= p->max - p->data.len)
            return -1;
        buf_append(&p->data, value, value_len);
        buf_append(&p->data, "\n", 1);
    } else if (field_is(line, name_len, "event")) {
        buf_set(&p->type, value, value_len);
    } else if (field_is(line, name_len, "id")) {
        if (memchr(value, '\0', value_len) == NULL)
            buf_set(&p->id, value, value_len);
    } else if (field_is(line, name_len, "retry")) {
        set_retry(p, value, value_len);
    }
    return 0;
}

/* Decoded text holding no CR or LF, to be added to the current line. */
static int line_text(struct sse_parser *p, const char *s, size_t n) {
    p->after_cr = 0;
    if (p->in_comment)
        return 0;
    if (p->line.len == 0 && s[0] == ':') {
        p->in_comment = 1;
        return 0;
    }
    if (n > p->max - p->line.len)
        return -1;
    buf_append(&p->line, s, n);
    return 0;
}

/* A decoded CR or LF. */
static int line_end(struct sse_parser *p, char c) {
    if (c == '\n' && p->after_cr) {
        p->after_cr = 0; /* second half of a CRLF, possibly split across feeds */
        return 0;
    }
    p->after_cr = c == '\r';
    if (p->in_comment) {
        p->in_comment = 0;
        p->comments++;
        return 0;
    }
    int rc = process_line(p, p->line.p, p->line.len);
    p->line.len = 0;
    if (p->line.cap > KEEP_CAP)
        buf_clear(&p->line);
    return rc;
}

/* One decoded multi-byte code point (or U+FFFD). */
static int emit_code_point(struct sse_parser *p, const char *s, size_t n) {
    if (!p->started) {
        p->started = 1;
        if (n == 3 && memcmp(s, "\xEF\xBB\xBF", 3) == 0)
            return 0; /* the one BOM the UTF-8 decode step strips */
    }
    return line_text(p, s, n);
}

static void seq_reset(struct sse_parser *p) {
    p->seq_len = 0;
    p->seq_need = 0;
    p->lower = 0x80;
    p->upper = 0xBF;
}

/* Feeds one byte through the UTF-8 decoder. Returns how many bytes it consumed: 0 when the
 * byte broke a sequence and must be decoded again on its own (the Encoding Standard's
 * "restore byte to ioQueue"), else 1. *rc gets the line splitter's result. */
static size_t decode_byte(struct sse_parser *p, unsigned char c, int *rc) {
    *rc = 0;
    if (p->seq_need == 0) {
        p->started |= c < 0x80;
        if (c == '\r' || c == '\n') {
            *rc = line_end(p, (char)c);
            return 1;
        }
        if (c < 0x80) {
            *rc = line_text(p, (const char *)&c, 1);
            return 1;
        }
        if (c >= 0xC2 && c <= 0xDF) {
            p->seq_need = 1;
        } else if (c >= 0xE0 && c <= 0xEF) {
            p->lower = c == 0xE0 ? 0xA0 : 0x80; /* overlong forms */
            p->upper = c == 0xED ? 0x9F : 0xBF; /* UTF-16 surrogates */
            p->seq_need = 2;
        } else if (c >= 0xF0 && c <= 0xF4) {
            p->lower = c == 0xF0 ? 0x90 : 0x80; /* overlong forms */
            p->upper = c == 0xF4 ? 0x8F : 0xBF; /* past U+10FFFF */
            p->seq_need = 3;
        } else {
            *rc = emit_code_point(p, replacement, 3);
            return 1;
        }
        p->seq[0] = c;
        p->seq_len = 1;
        return 1;
    }
    if (c < p->lower || c > p->upper) {
        seq_reset(p);
        *rc = emit_code_point(p, replacement, 3);
        return 0;
    }
    p->lower = 0x80;
    p->upper = 0xBF;
    p->seq[p->seq_len++] = c;
    if (--p->seq_need > 0)
        return 1;
    size_t n = p->seq_len;
    seq_reset(p);
    *rc = emit_code_point(p, (const char *)p->seq, n);
    return 1;
}

static int is_plain(unsigned char c) {
    return c < 0x80 && c != '\r' && c != '\n';
}

/* The end of the run of plain bytes starting at in[i]: eight at a time while a word holds no
 * byte with its high bit set, no LF and no CR (the zero-byte test of "Bit Twiddling Hacks"
 * may flag a word that holds one of them only; the byte loop then finds which). */
static size_t plain_run(const unsigned char *in, size_t i, size_t len) {
    const uint64_t ones = 0x0101010101010101u, highs = 0x8080808080808080u;
    while (len - i >= 8) {
        uint64_t w;
        memcpy(&w, in + i, 8);
        uint64_t lf = w ^ (ones * '\n'), cr = w ^ (ones * '\r');
        if ((w | ((lf - ones) & ~lf) | ((cr - ones) & ~cr)) & highs)
            break;
        i += 8;
    }
    while (i < len && is_plain(in[i]))
        i++;
    return i;
}

/* A whole line in the caller's buffer: plain text s[0..n), n > 0, then the line end c, with
 * nothing of the line read before. The same as line_text then line_end, without copying the
 * line into p->line: the common case of a stream read in large chunks. */
static int line_in_place(struct sse_parser *p, const char *s, size_t n, char c) {
    p->after_cr = c == '\r';
    if (s[0] == ':') {
        p->comments++;
        return 0;
    }
    if (n > p->max)
        return -1;
    return process_line(p, s, n);
}

int sse_parser_feed(struct sse_parser *p, const char *buf, size_t len) {
    const unsigned char *in = (const unsigned char *)buf;
    size_t i = 0;
    int rc = 0;

    if (p->failed || p->in_feed)
        return -1;
    p->in_feed = 1;
    while (i < len && rc == 0 && !p->freed) {
        /* Fast path: a run of ASCII that ends no line needs no decoding, one copy. */
        if (p->seq_need == 0 && is_plain(in[i])) {
            size_t j = plain_run(in, i + 1, len);
            p->started = 1;
            if (j < len && in[j] < 0x80 && p->line.len == 0 && !p->in_comment) {
                rc = line_in_place(p, buf + i, j - i, (char)in[j]);
                i = j + 1; /* the line end is consumed with the line */
                continue;
            }
            rc = line_text(p, buf + i, j - i);
            i = j;
            continue;
        }
        i += decode_byte(p, in[i], &rc);
    }
    p->in_feed = 0;
    if (p->freed) {
        parser_destroy(p);
        return 0;
    }
    if (rc != 0)
        p->failed = 1;
    return rc;
}
