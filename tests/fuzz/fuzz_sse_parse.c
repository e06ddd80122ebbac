/* libFuzzer driver for sse_parse. The input is fed in two pieces split at data[0] % size, and
 * again as one buffer: both must produce the same events, counters and result (chunk
 * boundaries never change what a client sees). Every string handed out must be valid UTF-8
 * with its NUL terminator in place, and the type never empty. A small bound (1 KiB) keeps the
 * over-limit path in reach of short inputs. */
#include "sse_parse.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "xmalloc.h"

#define FUZZ_MAX_EVENT 1024

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Every event appended as (len, bytes) triples, so two runs compare with one memcmp. */
struct trace {
    char *p;
    size_t len;
};

static void trace_add(struct trace *t, const char *s, size_t n) {
    t->p = xrealloc(t->p, t->len + sizeof(n) + n);
    memcpy(t->p + t->len, &n, sizeof(n));
    memcpy(t->p + t->len + sizeof(n), s, n);
    t->len += sizeof(n) + n;
}

/* Well-formed UTF-8 per the Encoding Standard: no overlongs, surrogates or values past
 * U+10FFFF. NUL is a valid code point. */
static int utf8_valid(const unsigned char *s, size_t n) {
    size_t i = 0;
    while (i < n) {
        unsigned char c = s[i];
        size_t need;
        unsigned char lo = 0x80, hi = 0xBF;
        if (c < 0x80) {
            i++;
            continue;
        } else if (c >= 0xC2 && c <= 0xDF) {
            need = 1;
        } else if (c >= 0xE0 && c <= 0xEF) {
            need = 2;
            lo = c == 0xE0 ? 0xA0 : 0x80;
            hi = c == 0xED ? 0x9F : 0xBF;
        } else if (c >= 0xF0 && c <= 0xF4) {
            need = 3;
            lo = c == 0xF0 ? 0x90 : 0x80;
            hi = c == 0xF4 ? 0x8F : 0xBF;
        } else {
            return 0;
        }
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

static void check_string(const char *s, size_t n) {
    if (s == NULL || s[n] != '\0' || !utf8_valid((const unsigned char *)s, n))
        abort();
}

static void on_event(void *arg, const struct sse_event *ev) {
    struct trace *t = arg;
    if (ev->type_len == 0)
        abort();
    check_string(ev->type, ev->type_len);
    check_string(ev->data, ev->data_len);
    check_string(ev->last_id, ev->last_id_len);
    if (memchr(ev->last_id, '\0', ev->last_id_len) != NULL)
        abort(); /* an id holding NUL must have been ignored */
    trace_add(t, ev->type, ev->type_len);
    trace_add(t, ev->data, ev->data_len);
    trace_add(t, ev->last_id, ev->last_id_len);
}

struct outcome {
    struct trace trace;
    int rc;
    size_t comments;
    long retry;
};

static void run(const char *buf, size_t size, size_t split, struct outcome *o) {
    struct sse_parser *p = sse_parser_new(FUZZ_MAX_EVENT, on_event, &o->trace);
    o->rc = sse_parser_feed(p, buf, split);
    if (o->rc == 0)
        o->rc = sse_parser_feed(p, buf + split, size - split);
    o->comments = sse_parser_comments(p);
    o->retry = sse_parser_retry(p);
    sse_parser_free(p);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size == 0)
        return 0;
    const char *buf = (const char *)data;
    size_t split = data[0] % size;
    struct outcome two = {0}, one = {0};

    run(buf, size, split, &two);
    run(buf, size, size, &one);
    if (two.rc != one.rc || two.comments != one.comments || two.retry != one.retry ||
        two.trace.len != one.trace.len ||
        (one.trace.len > 0 && memcmp(two.trace.p, one.trace.p, one.trace.len) != 0))
        abort();
    free(two.trace.p);
    free(one.trace.p);
    return 0;
}
