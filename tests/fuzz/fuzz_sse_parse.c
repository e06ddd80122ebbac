/* libFuzzer driver for sse_parse. The input is fed in two pieces split at data[0] % size, as
 * one buffer, and one byte per feed (which never takes the parser's whole-line fast path):
 * all three must produce the same events, counters and result (chunk boundaries never change
 * what a client sees). Every string handed out must be valid UTF-8
 * with its NUL terminator in place, and the type never empty. A small bound (1 KiB) keeps the
 * over-limit path in reach of short inputs. */
#include "sse_parse.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "../sse_oracle.h"
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
    struct parse_result r;
};

static struct parse_result parse_bytes(const char *buf, size_t len, struct trace *t) {
    struct parse_result r = {0};
    struct sse_parser *p = sse_parser_new(FUZZ_MAX_EVENT, on_event, t);
    for (size_t i = 0; i < len && r.rc == 0; i++)
        r.rc = sse_parser_feed(p, buf + i, 1);
    r.comments = sse_parser_comments(p);
    r.retry = sse_parser_retry(p);
    sse_parser_free(p);
    return r;
}

static int same(const struct outcome *a, const struct outcome *b) {
    return a->r.rc == b->r.rc && a->r.comments == b->r.comments && a->r.retry == b->r.retry &&
           a->trace.len == b->trace.len &&
           (a->trace.len == 0 || memcmp(a->trace.p, b->trace.p, a->trace.len) == 0);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size == 0)
        return 0;
    const char *buf = (const char *)data;
    size_t split = data[0] % size;
    struct outcome two = {0}, one = {0}, bytes = {0};

    two.r = parse_split(buf, size, split, FUZZ_MAX_EVENT, on_event, &two.trace);
    one.r = parse_split(buf, size, size, FUZZ_MAX_EVENT, on_event, &one.trace);
    bytes.r = parse_bytes(buf, size, &bytes.trace);
    if (!same(&two, &one) || !same(&bytes, &one))
        abort();
    free(two.trace.p);
    free(one.trace.p);
    free(bytes.trace.p);
    return 0;
}
