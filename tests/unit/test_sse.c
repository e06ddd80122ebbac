/* sse: one row per frame. Every row is encoded three ways (sse_frame_size, sse_encode into a
 * guarded buffer, sse_frame) which must agree byte for byte, and then read back with sse_parse,
 * which must dispatch exactly the one event the fields describe. A generated round trip then
 * checks the same property on many random fields: bytes with CR, LF, NUL, UTF-8 and invalid
 * UTF-8, as an upstream payload may hold. */
#include "sse.h"

#include <limits.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "../sse_oracle.h"
#include "bytes.h"
#include "check.h"
#include "xmalloc.h"

#define MIB (1024 * 1024)
#define GUARD 16 /* canary bytes after each encoded frame */

struct row {
    const char *name;
    struct bytes event, id, data;
    struct bytes want; /* the whole frame */
};

// clang-format off
static const struct row rows[] = {
    {"plain data", NONE, NONE, B("hello"), B("data: hello\n\n")},
    {"empty data", NONE, NONE, NONE, B("data: \n\n")},
    {"empty data, not NULL", NONE, NONE, B(""), B("data: \n\n")},
    {"lf", NONE, NONE, B("a\nb"), B("data: a\ndata: b\n\n")},
    {"cr", NONE, NONE, B("a\rb"), B("data: a\ndata: b\n\n")},
    {"crlf", NONE, NONE, B("a\r\nb"), B("data: a\ndata: b\n\n")},
    {"mixed breaks", NONE, NONE, B("a\r\nb\nc\rd"), B("data: a\ndata: b\ndata: c\ndata: d\n\n")},
    {"leading lf", NONE, NONE, B("\na"), B("data: \ndata: a\n\n")},
    {"leading crlf", NONE, NONE, B("\r\na"), B("data: \ndata: a\n\n")},
    {"trailing lf", NONE, NONE, B("a\n"), B("data: a\ndata: \n\n")},
    {"trailing cr", NONE, NONE, B("a\r"), B("data: a\ndata: \n\n")},
    {"only lf", NONE, NONE, B("\n"), B("data: \ndata: \n\n")},
    {"only crlf", NONE, NONE, B("\r\n"), B("data: \ndata: \n\n")},
    {"cr cr is two breaks", NONE, NONE, B("\r\r"), B("data: \ndata: \ndata: \n\n")},
    {"lf cr is two breaks", NONE, NONE, B("\n\r"), B("data: \ndata: \ndata: \n\n")},
    {"crlf crlf", NONE, NONE, B("\r\n\r\n"), B("data: \ndata: \ndata: \n\n")},
    {"cr crlf", NONE, NONE, B("a\r\r\nb"), B("data: a\ndata: \ndata: b\n\n")},
    {"blank line inside", NONE, NONE, B("a\n\nb"), B("data: a\ndata: \ndata: b\n\n")},
    {"injection stays in data", NONE, NONE, B("x\n\nevent: admin\ndata: pwn"),
     B("data: x\ndata: \ndata: event: admin\ndata: data: pwn\n\n")},
    {"injection with cr", NONE, NONE, B("x\r\rid: 9\rretry: 1"),
     B("data: x\ndata: \ndata: id: 9\ndata: retry: 1\n\n")},
    {"comment-like data", NONE, NONE, B(": not a comment"), B("data: : not a comment\n\n")},
    {"leading space kept", NONE, NONE, B(" x"), B("data:  x\n\n")},
    {"nul in data kept", NONE, NONE, B("a\0b"), B("data: a\0b\n\n")},
    {"utf-8 passthrough", NONE, NONE, B("\xC3\xA9t\xC3\xA9 \xE2\x82\xAC \xF0\x9F\x98\x80"),
     B("data: \xC3\xA9t\xC3\xA9 \xE2\x82\xAC \xF0\x9F\x98\x80\n\n")},
    {"invalid utf-8 passed as is", NONE, NONE, B("\xFF\xFE\xC3"), B("data: \xFF\xFE\xC3\n\n")},
    {"bom in data", NONE, NONE, B("\xEF\xBB\xBFx"), B("data: \xEF\xBB\xBFx\n\n")},
    {"event", B("update"), NONE, B("1"), B("event: update\ndata: 1\n\n")},
    {"event crlf stripped", B("up\r\ndate"), NONE, B("1"), B("event: update\ndata: 1\n\n")},
    {"event nul stripped", B("a\0b"), NONE, B("1"), B("event: ab\ndata: 1\n\n")},
    {"event forging a field", B("x\ndata: forged\n"), NONE, B("1"),
     B("event: xdata: forged\ndata: 1\n\n")},
    {"empty event omitted", B(""), NONE, B("1"), B("data: 1\n\n")},
    {"event of breaks omitted", B("\r\n\0\n"), NONE, B("1"), B("data: 1\n\n")},
    {"event leading space", B(" e"), NONE, B("1"), B("event:  e\ndata: 1\n\n")},
    {"event utf-8", B("\xC3\xA9v"), NONE, B("1"), B("event: \xC3\xA9v\ndata: 1\n\n")},
    {"id", NONE, B("42"), B("1"), B("id: 42\ndata: 1\n\n")},
    {"id breaks stripped", NONE, B("4\n2\r"), B("1"), B("id: 42\ndata: 1\n\n")},
    {"id forging a field", NONE, B("1\nevent: admin"), B("1"), B("id: 1event: admin\ndata: 1\n\n")},
    {"id with nul omitted", NONE, B("4\0" "2"), B("1"), B("data: 1\n\n")},
    {"id of nul and cr omitted", NONE, B("\r\0"), B("1"), B("data: 1\n\n")},
    {"empty id sent (resets)", NONE, B(""), B("1"), B("id: \ndata: 1\n\n")},
    {"id of breaks sent empty", NONE, B("\r\n"), B("1"), B("id: \ndata: 1\n\n")},
    {"all fields", B("e"), B("7"), B("a\nb"), B("event: e\nid: 7\ndata: a\ndata: b\n\n")},
    {"all fields hostile", B("\ne\r"), B("\r7\n"), B("\r\n"),
     B("event: e\nid: 7\ndata: \ndata: \n\n")},
};
// clang-format on

/* --- Reading a frame back ----------------------------------------------------------------- */

/* Parses frame (in two feeds, cut at `split`) as a fresh client would and compares with the
 * model in sse_oracle.h. Returns the number of failed checks, so callers can name the input. */
static int check_read_back(const struct sse_fields *f, const char *frame, size_t len,
                           size_t split) {
    int before = check_failures;
    struct got g = {0};
    struct expect e;
    struct parse_result r = parse_split(frame, len, split, 4 * MIB, record, &g);
    CHECK_INT(r.rc, 0);
    CHECK_INT(g.n, 1);
    CHECK_INT(r.comments, 0);
    CHECK_INT(r.retry, -1);
    expect_for(&e, f);
    if (g.n >= 1) {
        check_bytes("type", g.type.p, g.type.len, (struct bytes){e.type.p, e.type.len});
        check_bytes("last id", g.id.p, g.id.len, (struct bytes){e.id.p, e.id.len});
        check_bytes("data", g.data.p, g.data.len, (struct bytes){e.data.p, e.data.len});
    }
    expect_free(&e);
    got_free(&g);
    return check_failures - before;
}

/* Encodes f every way; returns the frame (owned by the caller) and its length. */
static char *encode_checked(const struct sse_fields *f, size_t *len) {
    size_t size = sse_frame_size(f);
    char *buf = xmalloc(size + GUARD);
    memset(buf, 0xA5, size + GUARD);
    *len = sse_encode(buf, f);
    CHECK_INT(*len, size);
    int guard_ok = 1;
    for (size_t i = size; i < size + GUARD; i++)
        guard_ok &= (unsigned char)buf[i] == 0xA5;
    CHECK(guard_ok);

    struct msg *m = sse_frame(f);
    CHECK_INT(m->refs, 1);
    CHECK_INT(m->len, size);
    CHECK(m->len == *len && memcmp(m->data, buf, *len) == 0);
    msg_unref(m);
    return buf;
}

static void check_row(const struct row *r) {
    int before = check_failures;
    struct sse_fields f = {r->event.s, r->event.n, r->id.s, r->id.n, r->data.s, r->data.n};
    size_t len;
    char *frame = encode_checked(&f, &len);
    check_bytes("frame", frame, len, r->want);
    check_read_back(&f, frame, len, len);
    check_read_back(&f, frame, len, len / 2);
    if (check_failures != before)
        fprintf(stderr, "  in row \"%s\"\n", r->name);
    free(frame);
}

/* --- Generated round trip ----------------------------------------------------------------- */

static uint64_t rng_state = 0x9E3779B97F4A7C15ULL;

/* splitmix64: deterministic, so a failure names an iteration that reproduces. */
static uint64_t rng(void) {
    uint64_t z = (rng_state += 0x9E3779B97F4A7C15ULL);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
    return z ^ (z >> 31);
}

/* Up to max bytes weighted towards what breaks encoders: line breaks, NUL, field-like text,
 * whole UTF-8 sequences (BOM included), and stray bytes that are not UTF-8. */
static size_t gen_bytes(char *out, size_t max) {
    // clang-format off
    static const struct bytes pieces[] = {
        B("\r"), B("\n"), B("\r\n"), B("\0"), B(":"), B(" "), B("data: "), B("event:"), B("id: "),
        B("\n\n"), B("x"), B("\xC3\xA9"), B("\xE2\x82\xAC"), B("\xF0\x9F\x98\x80"),
        B("\xEF\xBB\xBF"), B("\xED\xA0\x80"), B("\xE2\x82"), B("\xF4\x90\x80\x80"), B("\xC0\xAF"),
    };
    // clang-format on

    size_t len = max ? (size_t)(rng() % (max + 1)) : 0, n = 0;
    while (n < len) {
        uint64_t r = rng();
        if (r % 3 == 0) {
            out[n++] = (char)(r >> 8); /* any byte at all */
            continue;
        }
        size_t k = (size_t)(r >> 16) % (sizeof(pieces) / sizeof(pieces[0]));
        if (n + pieces[k].n > len)
            break;
        memcpy(out + n, pieces[k].s, pieces[k].n);
        n += pieces[k].n;
    }
    return n;
}

static void test_round_trip(void) {
    enum { ITERATIONS = 20000, MAX_NAME = 24, MAX_DATA = 200 };
    char event[MAX_NAME], id[MAX_NAME], data[MAX_DATA];
    int failed_rows = 0;
    for (int i = 0; i < ITERATIONS && failed_rows < 5; i++) {
        uint64_t shape = rng();
        struct sse_fields f = {0};
        f.event_len = gen_bytes(event, MAX_NAME);
        f.event = shape & 1 ? NULL : event;
        f.id_len = gen_bytes(id, MAX_NAME);
        f.id = shape & 2 ? NULL : id;
        f.data_len = gen_bytes(data, MAX_DATA);
        f.data = data;
        if (f.event == NULL)
            f.event_len = 0;
        if (f.id == NULL)
            f.id_len = 0;
        size_t len;
        char *frame = encode_checked(&f, &len);
        if (check_read_back(&f, frame, len, (size_t)(shape >> 8) % (len + 1)) != 0) {
            fprintf(stderr, "  in generated iteration %d\n", i);
            failed_rows++;
        }
        free(frame);
    }
}

/* 1 MiB of data with a break every 1000 bytes, every kind of break in turn. */
static void test_huge(void) {
    static const char *const breaks[] = {"\n", "\r", "\r\n"};
    size_t n = MIB, lines = 0;
    char *data = xmalloc(n);
    for (size_t i = 0; i < n; i++)
        data[i] = (char)('a' + i % 26);
    for (size_t i = 999; i + 1 < n; i += 1000) {
        const char *b = breaks[lines++ % 3];
        memcpy(data + i, b, strlen(b));
        if (b[1] != '\0')
            i++;
    }
    struct sse_fields f = {"big", 3, "1", 1, data, n};
    size_t len;
    char *frame = encode_checked(&f, &len);
    CHECK_INT(len, strlen("event: big\nid: 1\n") + (lines + 1) * strlen("data: \n") + 1 +
                       (n - lines - lines / 3)); /* each "\r\n" takes two bytes */
    check_read_back(&f, frame, len, len / 3);
    free(frame);
    free(data);
}

struct retry_row {
    unsigned ms;
    const char *want;
};

static const struct retry_row retry_rows[] = {
    {0, "retry: 0\n\n"},
    {3000, "retry: 3000\n\n"},
    {UINT_MAX, "retry: 4294967295\n\n"},
};

struct comment_row {
    const char *text;
    const char *want;
};

static const struct comment_row comment_rows[] = {
    {"", ": \n\n"},
    {"hb", ": hb\n\n"},
    {"a\r\nb\rc\nd", ": abcd\n\n"},
    {"\n\ndata: forged", ": data: forged\n\n"},
};

/* Retry and comment frames dispatch nothing: the client only takes the retry or counts the
 * comment. */
static void test_retry_and_comment(void) {
    for (size_t i = 0; i < sizeof(retry_rows) / sizeof(retry_rows[0]); i++) {
        struct msg *m = sse_retry_frame(retry_rows[i].ms);
        struct got g = {0};
        struct sse_parser *p = sse_parser_new(MIB, record, &g);
        CHECK_MEM(m->data, m->len, retry_rows[i].want);
        CHECK_INT(m->refs, 1);
        CHECK_INT(sse_parser_feed(p, m->data, m->len), 0);
        CHECK_INT(g.n, 0);
        CHECK_INT(sse_parser_retry(p), (long)retry_rows[i].ms);
        sse_parser_free(p);
        msg_unref(m);
    }
    for (size_t i = 0; i < sizeof(comment_rows) / sizeof(comment_rows[0]); i++) {
        struct msg *m = sse_comment_frame(comment_rows[i].text);
        struct got g = {0};
        struct sse_parser *p = sse_parser_new(MIB, record, &g);
        CHECK_MEM(m->data, m->len, comment_rows[i].want);
        CHECK_INT(sse_parser_feed(p, m->data, m->len), 0);
        CHECK_INT(g.n, 0);
        CHECK_INT(sse_parser_comments(p), 1);
        sse_parser_free(p);
        msg_unref(m);
    }
}

struct id_row {
    struct bytes id;
    const char *want;    /* the frame */
    const char *last_id; /* what a client then sends back as Last-Event-ID */
};

static const struct id_row id_rows[] = {
    {B("1700000000000-0"), "id: 1700000000000-0\n\n", "1700000000000-0"},
    {B(""), "id: \n\n", ""},
    {B("a\r\nb\rc\nd"), "id: abcd\n\n", "abcd"},
    {B("\ndata: x"), "id: data: x\n\n", "data: x"},
};

/* An id frame alone dispatches nothing, but the next event carries its id. */
static void test_id_frame(void) {
    for (size_t i = 0; i < sizeof(id_rows) / sizeof(id_rows[0]); i++) {
        const struct id_row *r = &id_rows[i];
        struct msg *m = sse_id_frame(r->id.s, r->id.n);
        struct got g = {0};
        struct sse_parser *p = sse_parser_new(MIB, record, &g);
        int before = check_failures;
        CHECK_MEM(m->data, m->len, r->want);
        CHECK_INT(m->refs, 1);
        CHECK_INT(sse_parser_feed(p, m->data, m->len), 0);
        CHECK_INT(g.n, 0);
        CHECK_INT(sse_parser_feed(p, "data: x\n\n", 9), 0);
        CHECK_INT(g.n, 1);
        if (g.n == 1)
            CHECK_MEM(g.id.p, g.id.len, r->last_id);
        if (check_failures != before)
            fprintf(stderr, "  in id frame row %zu\n", i);
        got_free(&g);
        sse_parser_free(p);
        msg_unref(m);
    }
}

/* A frame is shared: the last reference frees it (ASan reports a leak or a double free). */
static void test_frame_refs(void) {
    struct sse_fields f = {NULL, 0, NULL, 0, "x", 1};
    struct msg *m = sse_frame(&f);
    CHECK(msg_ref(m) == m);
    CHECK_INT(m->refs, 2);
    msg_unref(m);
    CHECK_INT(m->refs, 1);
    CHECK_MEM(m->data, m->len, "data: x\n\n");
    msg_unref(m);
    msg_unref(NULL);
    /* A copy owns its bytes (framing bytes from the stack outlive it this way). */
    char stack[] = "4\r\n";
    m = msg_copy(stack, 3);
    stack[0] = '9';
    CHECK_INT(m->refs, 1);
    CHECK_MEM(m->data, m->len, "4\r\n");
    msg_unref(m);
}

int main(void) {
    for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++)
        check_row(&rows[i]);
    test_round_trip();
    test_huge();
    test_retry_and_comment();
    test_id_frame();
    test_frame_refs();
    return check_report("sse");
}
