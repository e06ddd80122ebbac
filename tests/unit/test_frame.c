/* frame: one row per (route rules, binary policy, journal, message) and the exact frame that
 * comes out, or NULL for a rejection. The same builder serves live delivery and replay, so
 * every row is also what a replayed entry becomes (FRAME_BODY is the same frame less its last
 * blank line, checked for every row). Rows with non-UTF-8 payloads, channel names, stream
 * fields and MQTT properties pin the binary policy wherever text comes from. */
#include "frame.h"

#include <stdlib.h>
#include <string.h>

#include "bytes.h"
#include "check.h"

#define BIN                                                                                        \
    "\xff\xfe"                                                                                     \
    "binary-payload"
#define BIN_B64 "//5iaW5hcnktcGF5bG9hZA=="

struct row {
    const char *event, *id, *data; /* rule specs */
    enum binary_policy binary;
    bool journalled;
    bool gap;
    struct bytes channel, payload;
    struct bytes field_name, field_value; /* one stream entry field, when field_name.s */
    struct bytes prop_name, prop_value;   /* one MQTT user property, when prop_name.s */
    struct bytes want;                    /* NONE: rejected */
    bool binary_seen, non_json_seen, closing;
};

#define NOF NONE, NONE
// clang-format off
static const struct row rows[] = {
    /* Text payloads go through as they are. */
    {"none", "none", "payload", BINARY_BASE64, false, false, B("c"), B("hello"), NOF, NOF,
     B("data: hello\n\n"), false, false, false},
    {"none", "none", "payload", BINARY_REJECT, false, false, B("c"), B("hello"), NOF, NOF,
     B("data: hello\n\n"), false, false, false},
    /* Binary payloads: base64 of exactly the bytes, or rejected; journal or not. */
    {"none", "none", "payload", BINARY_BASE64, false, false, B("c"), B(BIN), NOF, NOF,
     B("data: " BIN_B64 "\n\n"), true, false, false},
    {"none", "none", "payload", BINARY_BASE64, true, false, B("c"), B(BIN), NOF, NOF,
     B("data: " BIN_B64 "\n\n"), true, false, false},
    {"none", "none", "payload", BINARY_REJECT, false, false, B("c"), B(BIN), NOF, NOF,
     NONE, true, false, false},
    {"none", "none", "payload", BINARY_REJECT, true, false, B("c"), B(BIN), NOF, NOF,
     NONE, true, false, false},
    /* NUL is valid UTF-8; a lone continuation byte, a surrogate and an overlong form are not. */
    {"none", "none", "payload", BINARY_REJECT, false, false, B("c"), B("a\0b"), NOF, NOF,
     B("data: a\0b\n\n"), false, false, false},
    {"none", "none", "payload", BINARY_BASE64, false, false, B("c"), B("\x80"), NOF, NOF,
     B("data: gA==\n\n"), true, false, false},
    {"none", "none", "payload", BINARY_BASE64, false, false, B("c"), B("\xed\xa0\x80"), NOF, NOF,
     B("data: 7aCA\n\n"), true, false, false},
    {"none", "none", "payload", BINARY_REJECT, false, false, B("c"), B("\xc0\xaf"), NOF, NOF,
     NONE, true, false, false},
    /* JSON rules read the text; base64 is never parsed as JSON (nor counted as non-JSON). */
    {"json:type", "json:seq", "json:data", BINARY_BASE64, false, false, B("c"),
     B("{\"type\":\"t\",\"seq\":7,\"data\":{\"a\":1}}"), NOF, NOF,
     B("event: t\nid: 7\ndata: {\"a\":1}\n\n"), false, false, false},
    {"json:type", "none", "json:data", BINARY_BASE64, false, false, B("c"), B(BIN), NOF, NOF,
     B("data: " BIN_B64 "\n\n"), true, false, false},
    {"json:type", "none", "json:data", BINARY_BASE64, false, false, B("c"), B("not json"), NOF,
     NOF, B("data: not json\n\n"), false, true, false},
    /* A journalled route leaves its own id rule out: ids are journal positions. */
    {"none", "json:seq", "payload", BINARY_BASE64, true, false, B("c"), B("{\"seq\":7}"), NOF,
     NOF, B("data: {\"seq\":7}\n\n"), false, false, false},
    /* The close event is recognised from the translated name. */
    {"json:type", "none", "payload", BINARY_BASE64, false, false, B("c"),
     B("{\"type\":\"close\"}"), NOF, NOF, B("event: close\ndata: {\"type\":\"close\"}\n\n"),
     false, false, true},
    {"fixed:close", "none", "payload", BINARY_REJECT, false, false, B("c"), B(BIN), NOF, NOF,
     NONE, true, false, false},
    /* Gap markers become the gap event, whatever the route's rules and policy. */
    {"fixed:x", "none", "payload", BINARY_REJECT, true, true, B("orders"),
     B("journal-started"), NOF, NOF,
     B("event: gap\ndata: {\"topic\":\"orders\",\"reason\":\"journal-started\"}\n\n"), false,
     false, false},
    /* Channel names that are not UTF-8 (a pattern route's channel) as event or id. */
    {"channel:2", "none", "payload", BINARY_BASE64, false, false, B("a.\xff"), B("x"), NOF, NOF,
     B("event: /w==\ndata: x\n\n"), true, false, false},
    {"channel:2", "none", "payload", BINARY_REJECT, false, false, B("a.\xff"), B("x"), NOF, NOF,
     NONE, true, false, false},
    {"none", "channel", "payload", BINARY_BASE64, false, false, B("\xfe"), B("x"), NOF, NOF,
     B("id: /g==\ndata: x\n\n"), true, false, false},
    {"channel:2", "none", "payload", BINARY_REJECT, false, false, B("a.b"), B("x"), NOF, NOF,
     B("event: b\ndata: x\n\n"), false, false, false},
    /* Stream entry fields. */
    {"field:kind", "none", "field:body", BINARY_BASE64, false, false, B("s"), B("p"),
     B("kind"), B("\xff"), NOF, B("event: /w==\ndata: p\n\n"), true, false, false},
    {"field:kind", "none", "payload", BINARY_REJECT, false, false, B("s"), B("p"), B("kind"),
     B("\xff"), NOF, NONE, true, false, false},
    {"none", "none", "field:kind", BINARY_BASE64, false, false, B("s"), B("p"), B("kind"),
     B("\xfe\xff"), NOF, B("data: /v8=\n\n"), true, false, false},
    {"field:kind", "none", "field:kind", BINARY_REJECT, false, false, B("s"), B("p"),
     B("kind"), B("ok"), NOF, B("event: ok\ndata: ok\n\n"), false, false, false},
    /* MQTT 5 user properties. */
    {"property:k", "none", "payload", BINARY_BASE64, false, false, B("t/1"), B("p"), NOF,
     B("k"), B("\x80"), B("event: gA==\ndata: p\n\n"), true, false, false},
    {"property:k", "none", "payload", BINARY_REJECT, false, false, B("t/1"), B("p"), NOF,
     B("k"), B("\x80"), NONE, true, false, false},
    /* A payload can never forge fields, base64 or not. */
    {"none", "none", "payload", BINARY_BASE64, false, false, B("c"),
     B("x\n\nevent: admin\nid: 1"), NOF, NOF,
     B("data: x\ndata: \ndata: event: admin\ndata: id: 1\n\n"), false, false, false},
};
// clang-format on

static void rule(const char *field, const char *spec, struct field_rule *out) {
    const char *err = NULL;
    if (field_rule_parse(field, spec, out, &err) != 0) {
        fprintf(stderr, "bad rule %s = %s: %s\n", field, spec, err);
        abort();
    }
}

static void run_row(size_t i, const struct row *w) {
    struct route_cfg r;
    memset(&r, 0, sizeof(r));
    r.binary = w->binary;
    r.journal = w->journalled ? 100 : 0;
    rule("event", w->event, &r.rules.event);
    rule("id", w->id, &r.rules.id);
    rule("data", w->data, &r.rules.data);

    const char *fields[2] = {w->field_name.s, w->field_value.s};
    size_t field_lens[2] = {w->field_name.n, w->field_value.n};
    const char *props[2] = {w->prop_name.s, w->prop_value.s};
    size_t prop_lens[2] = {w->prop_name.n, w->prop_value.n};
    struct translate_in in = {.channel = w->channel.s,
                              .channel_len = w->channel.n,
                              .payload = w->payload.s,
                              .payload_len = w->payload.n};
    if (w->field_name.s) {
        in.fields = fields, in.field_lens = field_lens, in.nfields = 1;
    }
    if (w->prop_name.s) {
        in.props = props, in.prop_lens = prop_lens, in.nprops = 1;
    }
    const struct frame_opts names = {"close", "gap", 0};
    char what[64];

    for (int shape = FRAME_WHOLE; shape <= FRAME_BODY; shape++) {
        struct frame_src src;
        frame_src_init(&src, &in, w->gap);
        bool closing = !w->closing;
        struct msg *m = frame_build(&src, &r, &names, (enum frame_shape)shape, &closing);
        snprintf(what, sizeof(what), "row %zu %s", i, shape == FRAME_WHOLE ? "whole" : "body");
        struct bytes want = w->want;
        if (shape == FRAME_BODY && want.s)
            want.n--;
        check_bytes(what, m ? m->data : NULL, m ? m->len : 0, want);
        CHECK_INT(src.binary, w->binary_seen);
        CHECK_INT(src.non_json, w->non_json_seen);
        CHECK_INT(closing, w->closing);
        if (m && w->closing)
            CHECK(frame_is_close(m, "close"));
        /* A second route of the same message reuses the caches and gets the same frame. */
        bool again;
        struct msg *m2 = frame_build(&src, &r, &names, (enum frame_shape)shape, &again);
        check_bytes(what, m2 ? m2->data : NULL, m2 ? m2->len : 0, want);
        frame_src_clear(&src);
        if (m)
            msg_unref(m);
        if (m2)
            msg_unref(m2);
    }
    field_rule_clear(&r.rules.event);
    field_rule_clear(&r.rules.id);
    field_rule_clear(&r.rules.data);
}

/* frame_is_close looks at the first line only, and only at the whole name. */
static void close_detection(void) {
    struct msg *a = msg_copy("event: close\ndata: x\n\n", 22);
    struct msg *b = msg_copy("event: closed\ndata: x\n\n", 23);
    struct msg *c = msg_copy("data: event: close\n\n", 20);
    CHECK(frame_is_close(a, "close"));
    CHECK(!frame_is_close(b, "close"));
    CHECK(!frame_is_close(c, "close"));
    CHECK(!frame_is_close(a, ""));
    msg_unref(a);
    msg_unref(b);
    msg_unref(c);
}

/* max_frame bounds the encoded event, not the payload: 8 line breaks are 8 bytes of payload
 * and 57 of frame. Over it, a plain route drops the event, a journalled one sends the gap. */
static void too_large(void) {
    static const struct {
        const char *payload;
        bool journalled;
        const char *want; /* NULL: dropped */
    } big[] = {
        {"short", false, "data: short\n\n"},
        {"short", true, "data: short\n\n"},
        {"\n\n\n\n\n\n\n\n", false, NULL},
        {"\n\n\n\n\n\n\n\n", true,
         "event: gap\ndata: {\"topic\":\"c\",\"reason\":\"too-large\"}\n\n"},
        {"0123456789012345678901234567890123456789x", false, NULL},
        {"012345678901234567890123456789012345678", false,
         "data: 012345678901234567890123456789012345678\n\n"},
    };
    const struct frame_opts opts = {"close", "gap", 48};
    for (size_t i = 0; i < sizeof(big) / sizeof(big[0]); i++) {
        struct route_cfg r;
        memset(&r, 0, sizeof(r));
        r.journal = big[i].journalled ? 10 : 0;
        rule("event", "none", &r.rules.event);
        rule("id", "none", &r.rules.id);
        rule("data", "payload", &r.rules.data);
        struct translate_in in = {.channel = "c",
                                  .channel_len = 1,
                                  .payload = big[i].payload,
                                  .payload_len = strlen(big[i].payload)};
        struct frame_src src;
        frame_src_init(&src, &in, false);
        bool closing;
        struct msg *m = frame_build(&src, &r, &opts, FRAME_WHOLE, &closing);
        check_bytes("too_large", m ? m->data : NULL, m ? m->len : 0,
                    (struct bytes){big[i].want, big[i].want ? strlen(big[i].want) : 0});
        CHECK_INT(src.too_large, big[i].want == NULL || big[i].want[0] == 'e');
        if (m)
            msg_unref(m);
        frame_src_clear(&src);
        field_rule_clear(&r.rules.event);
        field_rule_clear(&r.rules.id);
        field_rule_clear(&r.rules.data);
    }
}

int main(void) {
    too_large();
    for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++)
        run_row(i, &rows[i]);
    close_detection();
    return check_report("frame");
}
