/* sse_parse: one row per case. Every row is run three ways -- in its own chunks, as one
 * buffer, and one byte per feed -- and all three must give the same events, counters and
 * result, which is what "chunks may be cut anywhere" means. */
#include "sse_parse.h"

#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "xmalloc.h"

#define MAX_CHUNKS 6
#define MAX_EVENTS 4
#define NO_RETRY (-1)
#define MIB (1024 * 1024)

/* A chunk with its length, so inputs may hold NUL. */
struct chunk {
    const char *s;
    size_t n;
};
#define C(lit)                                                                                     \
    { lit, sizeof(lit) - 1 }

struct want {
    const char *type;
    const char *id;
    const char *data;
};

struct row {
    const char *name;
    struct chunk in[MAX_CHUNKS];
    struct want ev[MAX_EVENTS]; /* ends at the first NULL type */
    size_t comments;
    long retry;
    int rc;     /* what the last feed returns */
    size_t max; /* max_event_bytes */
};

#define X20 "xxxxxxxxxxxxxxxxxxxx"

// clang-format off
static const struct row rows[] = {
    {"lf", {C("data: hello\n\n")}, {{"message", "", "hello"}}, 0, NO_RETRY, 0, MIB},
    {"crlf", {C("data: a\r\ndata: b\r\n\r\n")}, {{"message", "", "a\nb"}}, 0, NO_RETRY, 0, MIB},
    {"cr", {C("data: a\rdata: b\r\r")}, {{"message", "", "a\nb"}}, 0, NO_RETRY, 0, MIB},
    {"mixed line ends", {C("data: a\r\ndata: b\ndata: c\r\r\n")}, {{"message", "", "a\nb\nc"}},
     0, NO_RETRY, 0, MIB},
    {"crlf split across chunks", {C("data: a\r"), C("\ndata: b\r\n\r\n")},
     {{"message", "", "a\nb"}}, 0, NO_RETRY, 0, MIB},
    {"cr then cr across chunks", {C("data: a\r"), C("\r")}, {{"message", "", "a"}},
     0, NO_RETRY, 0, MIB},
    {"crlf split before dispatch", {C("data: x\r\n\r"), C("\ndata: y\n\n")},
     {{"message", "", "x"}, {"message", "", "y"}}, 0, NO_RETRY, 0, MIB},
    {"field split across chunks", {C("da"), C("ta: he"), C("llo\n"), C("\n")},
     {{"message", "", "hello"}}, 0, NO_RETRY, 0, MIB},
    {"multi-line data", {C("data: a\ndata:\ndata: c\n\n")}, {{"message", "", "a\n\nc"}},
     0, NO_RETRY, 0, MIB},
    {"empty data line", {C("data:\n\n")}, {{"message", "", ""}}, 0, NO_RETRY, 0, MIB},
    {"field without colon", {C("data\n\n")}, {{"message", "", ""}}, 0, NO_RETRY, 0, MIB},
    {"one leading space dropped", {C("data:  x\n\n")}, {{"message", "", " x"}},
     0, NO_RETRY, 0, MIB},
    {"no space after colon", {C("data:x\n\n")}, {{"message", "", "x"}}, 0, NO_RETRY, 0, MIB},
    {"trailing space kept", {C("data: x \n\n")}, {{"message", "", "x "}}, 0, NO_RETRY, 0, MIB},
    {"colon in value", {C("data: a:b\n\n")}, {{"message", "", "a:b"}}, 0, NO_RETRY, 0, MIB},
    {"event type", {C("event: add\ndata: 1\n\n")}, {{"add", "", "1"}}, 0, NO_RETRY, 0, MIB},
    {"event type reset", {C("event: add\ndata: 1\n\ndata: 2\n\n")},
     {{"add", "", "1"}, {"message", "", "2"}}, 0, NO_RETRY, 0, MIB},
    {"empty event type", {C("event:\ndata: 1\n\n")}, {{"message", "", "1"}}, 0, NO_RETRY, 0, MIB},
    {"no data not dispatched", {C("event: a\n\ndata: x\n\n")}, {{"message", "", "x"}},
     0, NO_RETRY, 0, MIB},
    {"only blank lines", {C("\n\r\n\r\n\n")}, {{0}}, 0, NO_RETRY, 0, MIB},
    {"one event, many blank lines", {C("data: x\n\n\n\n")}, {{"message", "", "x"}},
     0, NO_RETRY, 0, MIB},
    {"id without data updates", {C("id: 7\n\ndata: x\n\n")}, {{"message", "7", "x"}},
     0, NO_RETRY, 0, MIB},
    {"id persists", {C("id: 1\ndata: a\n\ndata: b\n\n")},
     {{"message", "1", "a"}, {"message", "1", "b"}}, 0, NO_RETRY, 0, MIB},
    {"empty id resets", {C("id: 1\ndata: a\n\nid\ndata: b\n\n")},
     {{"message", "1", "a"}, {"message", "", "b"}}, 0, NO_RETRY, 0, MIB},
    {"id with NUL ignored", {C("id: 1\ndata: a\n\nid: 2\0x\ndata: b\n\n")},
     {{"message", "1", "a"}, {"message", "1", "b"}}, 0, NO_RETRY, 0, MIB},
    {"id after data in event", {C("data: a\nid: 5\n\n")}, {{"message", "5", "a"}},
     0, NO_RETRY, 0, MIB},
    {"comments", {C(": hi\n:\n: x\r\ndata: a\n\n")}, {{"message", "", "a"}}, 3, NO_RETRY, 0, MIB},
    {"comment inside event", {C("data: a\n: c\ndata: b\n\n")}, {{"message", "", "a\nb"}},
     1, NO_RETRY, 0, MIB},
    {"comment split across chunks", {C(": he"), C("artbeat\r"), C("\n")}, {{0}},
     1, NO_RETRY, 0, MIB},
    {"unterminated comment", {C(": hi")}, {{0}}, 0, NO_RETRY, 0, MIB},
    {"retry", {C("retry: 1000\n\n")}, {{0}}, 0, 1000, 0, MIB},
    {"retry zero", {C("retry: 0\n")}, {{0}}, 0, 0, 0, MIB},
    {"retry not digits", {C("retry: 10a\n")}, {{0}}, 0, NO_RETRY, 0, MIB},
    {"retry keeps last valid", {C("retry: 1000\nretry: x\nretry: -5\n")}, {{0}},
     0, 1000, 0, MIB},
    {"retry two spaces", {C("retry:  5\n")}, {{0}}, 0, NO_RETRY, 0, MIB},
    {"retry empty", {C("retry\nretry:\n")}, {{0}}, 0, NO_RETRY, 0, MIB},
    {"retry overflow", {C("retry: 99999999999999999999999\n")}, {{0}}, 0, NO_RETRY, 0, MIB},
    {"bom", {C("\xEF\xBB\xBF" "data: a\n\n")}, {{"message", "", "a"}}, 0, NO_RETRY, 0, MIB},
    {"bom split", {C("\xEF"), C("\xBB"), C("\xBF" "data: a\n\n")}, {{"message", "", "a"}},
     0, NO_RETRY, 0, MIB},
    {"only one bom stripped", {C("\xEF\xBB\xBF\xEF\xBB\xBF" "data: a\n\ndata: b\n\n")},
     {{"message", "", "b"}}, 0, NO_RETRY, 0, MIB},
    {"bom inside data kept", {C("data: \xEF\xBB\xBF\n\n")}, {{"message", "", "\xEF\xBB\xBF"}},
     0, NO_RETRY, 0, MIB},
    {"unknown fields ignored", {C("foo: bar\ndata: a\nDATA: b\nevent : x\n\n")},
     {{"message", "", "a"}}, 0, NO_RETRY, 0, MIB},
    {"unterminated event", {C("data: a\n")}, {{0}}, 0, NO_RETRY, 0, MIB},
    {"unterminated line", {C("data: a")}, {{0}}, 0, NO_RETRY, 0, MIB},
    {"utf-8 kept", {C("event: \xC3\xA9t\xC3\xA9\ndata: \xE2\x82\xAC \xF0\x9F\x98\x80\n\n")},
     {{"\xC3\xA9t\xC3\xA9", "", "\xE2\x82\xAC \xF0\x9F\x98\x80"}}, 0, NO_RETRY, 0, MIB},
    {"utf-8 split", {C("data: \xE2"), C("\x82"), C("\xAC\n\n")}, {{"message", "", "\xE2\x82\xAC"}},
     0, NO_RETRY, 0, MIB},
    {"invalid byte replaced", {C("data: a\xFF" "b\n\n")}, {{"message", "", "a\xEF\xBF\xBD" "b"}},
     0, NO_RETRY, 0, MIB},
    {"truncated sequence replaced", {C("data: \xE2\x82\n\n")}, {{"message", "", "\xEF\xBF\xBD"}},
     0, NO_RETRY, 0, MIB},
    {"surrogate replaced", {C("data: \xED\xA0\x80\n\n")},
     {{"message", "", "\xEF\xBF\xBD\xEF\xBF\xBD\xEF\xBF\xBD"}}, 0, NO_RETRY, 0, MIB},
    {"over limit line", {C("data: " X20)}, {{0}}, 0, NO_RETRY, -1, 16},
    {"over limit after event", {C("data: ok\n\ndata: " X20 "\n\n")}, {{"message", "", "ok"}},
     0, NO_RETRY, -1, 16},
    {"over limit data", {C("data: 12345\ndata: 12345\ndata: 12345\n\n")}, {{0}},
     0, NO_RETRY, -1, 16},
    {"at limit", {C("data: 1234567890\n\n")}, {{"message", "", "1234567890"}}, 0, NO_RETRY, 0, 16},
    {"long comment not bounded", {C(": " X20 X20 "\ndata: a\n\n")}, {{"message", "", "a"}},
     1, NO_RETRY, 0, 16},
    {"empty input", {C("")}, {{0}}, 0, NO_RETRY, 0, MIB},
};
// clang-format on

struct got {
    size_t n;
    struct sse_event ev[MAX_EVENTS + 1]; /* strings are copies, owned here */
};

static char *copy(const char *s, size_t n) {
    return xstrndup(s, n);
}

static void record(void *arg, const struct sse_event *ev) {
    struct got *g = arg;
    if (g->n > MAX_EVENTS) {
        g->n++; /* counted, not kept */
        return;
    }
    struct sse_event *e = &g->ev[g->n++];
    e->type = copy(ev->type, ev->type_len);
    e->type_len = ev->type_len;
    e->data = copy(ev->data, ev->data_len);
    e->data_len = ev->data_len;
    e->last_id = copy(ev->last_id, ev->last_id_len);
    e->last_id_len = ev->last_id_len;
}

static void got_free(struct got *g) {
    for (size_t i = 0; i < g->n && i <= MAX_EVENTS; i++) {
        free((char *)g->ev[i].type);
        free((char *)g->ev[i].data);
        free((char *)g->ev[i].last_id);
    }
    memset(g, 0, sizeof(*g));
}

enum mode { AS_CHUNKS, AS_ONE, BYTE_BY_BYTE };
static const char *const mode_names[] = {"chunks", "one buffer", "byte by byte"};

/* Feeds the row's input the given way; returns the first non-zero feed result, or 0. */
static int run(const struct row *r, enum mode mode, struct got *g, struct sse_parser **out) {
    struct sse_parser *p = sse_parser_new(r->max, record, g);
    char *all = NULL;
    size_t all_len = 0;
    int rc = 0;

    for (size_t c = 0; c < MAX_CHUNKS && r->in[c].s != NULL; c++) {
        all = xrealloc(all, all_len + r->in[c].n);
        memcpy(all + all_len, r->in[c].s, r->in[c].n);
        all_len += r->in[c].n;
    }
    switch (mode) {
    case AS_CHUNKS:
        for (size_t c = 0; c < MAX_CHUNKS && r->in[c].s != NULL && rc == 0; c++)
            rc = sse_parser_feed(p, r->in[c].s, r->in[c].n);
        break;
    case AS_ONE:
        rc = sse_parser_feed(p, all, all_len);
        break;
    case BYTE_BY_BYTE:
        for (size_t i = 0; i < all_len && rc == 0; i++)
            rc = sse_parser_feed(p, all + i, 1);
        break;
    }
    free(all);
    *out = p;
    return rc;
}

static void check_row(const struct row *r) {
    for (enum mode m = AS_CHUNKS; m <= BYTE_BY_BYTE; m++) {
        struct got g = {0};
        struct sse_parser *p;
        int fails = check_failures;
        int rc = run(r, m, &g, &p);

        size_t want_n = 0;
        while (want_n < MAX_EVENTS && r->ev[want_n].type != NULL)
            want_n++;
        CHECK_INT(rc, r->rc);
        CHECK_INT(g.n, want_n);
        for (size_t i = 0; i < want_n && i < g.n; i++) {
            CHECK_MEM(g.ev[i].type, g.ev[i].type_len, r->ev[i].type);
            CHECK_MEM(g.ev[i].last_id, g.ev[i].last_id_len, r->ev[i].id);
            CHECK_MEM(g.ev[i].data, g.ev[i].data_len, r->ev[i].data);
        }
        CHECK_INT(sse_parser_comments(p), r->comments);
        CHECK_INT(sse_parser_retry(p), r->retry);
        if (check_failures != fails)
            fprintf(stderr, "  in row \"%s\", fed %s\n", r->name, mode_names[m]);
        sse_parser_free(p);
        got_free(&g);
    }
}

/* After a failure the stream is unusable: every later feed fails too. */
static void test_failure_sticks(void) {
    struct got g = {0};
    struct sse_parser *p = sse_parser_new(8, record, &g);
    CHECK_INT(sse_parser_feed(p, "data: 123456789", 15), -1);
    CHECK_INT(sse_parser_feed(p, "\n\ndata: a\n\n", 11), -1);
    CHECK_INT(g.n, 0);
    sse_parser_free(p);
    got_free(&g);
}

/* The strings handed to the callback are NUL-terminated at their length. */
static void check_terminated(void *arg, const struct sse_event *ev) {
    int *seen = arg;
    (*seen)++;
    CHECK(ev->type[ev->type_len] == '\0');
    CHECK(ev->data[ev->data_len] == '\0');
    CHECK(ev->last_id[ev->last_id_len] == '\0');
}

static void test_terminated(void) {
    int seen = 0;
    struct sse_parser *p = sse_parser_new(MIB, check_terminated, &seen);
    static const char in[] = "id: 1\nevent: e\ndata: a\ndata: b\n\ndata: c\n\n";
    CHECK_INT(sse_parser_feed(p, in, sizeof(in) - 1), 0);
    CHECK_INT(seen, 2);
    sse_parser_free(p);
}

/* Freeing the parser from its own callback stops the feed safely (ASan checks the rest). */
struct self_free {
    struct sse_parser *p;
    int seen;
};

static void free_self(void *arg, const struct sse_event *ev) {
    struct self_free *s = arg;
    (void)ev;
    s->seen++;
    sse_parser_free(s->p);
}

static void test_free_in_callback(void) {
    struct self_free s = {0};
    s.p = sse_parser_new(MIB, free_self, &s);
    static const char in[] = "data: a\n\ndata: b\n\n";
    CHECK_INT(sse_parser_feed(s.p, in, sizeof(in) - 1), 0);
    CHECK_INT(s.seen, 1);
}

/* A callback feeding its own parser is refused rather than corrupting the state. */
struct nested {
    struct sse_parser *p;
    int rc;
};

static void feed_nested(void *arg, const struct sse_event *ev) {
    struct nested *n = arg;
    (void)ev;
    n->rc = sse_parser_feed(n->p, "data: x\n\n", 9);
}

static void test_nested_feed(void) {
    struct nested n = {0};
    n.p = sse_parser_new(MIB, feed_nested, &n);
    CHECK_INT(sse_parser_feed(n.p, "data: a\n\n", 9), 0);
    CHECK_INT(n.rc, -1);
    sse_parser_free(n.p);
}

static void test_null_callback(void) {
    struct sse_parser *p = sse_parser_new(MIB, NULL, NULL);
    CHECK_INT(sse_parser_feed(p, ": c\nretry: 5\ndata: a\n\n", 22), 0);
    CHECK_INT(sse_parser_comments(p), 1);
    CHECK_INT(sse_parser_retry(p), 5);
    sse_parser_free(p);
    sse_parser_free(NULL);
}

/* A large event lets its buffers grow, and the parser still works after they shrink back. */
static void test_large_event(void) {
    struct got g = {0};
    struct sse_parser *p = sse_parser_new(MIB, record, &g);
    size_t n = 200 * 1024;
    char *line = xmalloc(n);
    memset(line, 'y', n);
    memcpy(line, "data: ", 6);
    CHECK_INT(sse_parser_feed(p, line, n), 0);
    CHECK_INT(sse_parser_feed(p, "\n\ndata: small\n\n", 15), 0);
    CHECK_INT(g.n, 2);
    if (g.n == 2) {
        CHECK_INT(g.ev[0].data_len, n - 6);
        CHECK_MEM(g.ev[1].data, g.ev[1].data_len, "small");
    }
    free(line);
    sse_parser_free(p);
    got_free(&g);
}

int main(void) {
    for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++)
        check_row(&rows[i]);
    test_failure_sticks();
    test_terminated();
    test_free_in_callback();
    test_nested_feed();
    test_null_callback();
    test_large_event();
    return check_report("sse_parse");
}
