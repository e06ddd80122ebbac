/* translate: field_rule_parse takes or refuses each config string per field, and translate
 * turns (rules, channel, payload) into the event, id and data one frame carries. One row per
 * case; payloads are parsed the way the source does it (a JSON object, or NULL). */
#include "translate.h"

#include <stdlib.h>
#include <string.h>

#include "bytes.h"
#include "check.h"

#define ERR_EVENT                                                                                  \
    "expected none, fixed:NAME, json:KEY, field:NAME, channel, channel:N, topic, topic:N or "      \
    "property:NAME"
#define ERR_DATA "expected payload, json:KEY, field:NAME or property:NAME"
#define ERR_FIXED "fixed: needs a value on one line"
#define ERR_JSON "json: needs a key, or a dotted path such as json:meta.type"
#define ERR_SEGMENT "channel:N needs a segment number from 1 to 64"
#define ERR_ENTRY "field: needs a stream entry field name"
#define ERR_LEVEL "topic:N needs a level number from 1 to 64"
#define ERR_PROP "property: needs an MQTT 5 user property name"

/* --- field_rule_parse --------------------------------------------------------------------- */

struct parse_row {
    const char *field, *spec;
    int rc;
    enum field_src src;
    const char *arg; /* FIXED value or JSON path; NULL when the rule has none */
    int segment;
    const char *err; /* on rc -1 */
};

// clang-format off
static const struct parse_row parse_rows[] = {
    {"event", "none", 0, FIELD_NONE, NULL, 0, NULL},
    {"event", "fixed:update", 0, FIELD_FIXED, "update", 0, NULL},
    {"event", "fixed:a b:c", 0, FIELD_FIXED, "a b:c", 0, NULL},
    {"event", "json:type", 0, FIELD_JSON, "type", 0, NULL},
    {"event", "json:meta.type", 0, FIELD_JSON, "meta.type", 0, NULL},
    {"event", "json:a.b.c", 0, FIELD_JSON, "a.b.c", 0, NULL},
    {"event", "field:event", 0, FIELD_ENTRY, "event", 0, NULL},
    {"event", "field:a.b", 0, FIELD_ENTRY, "a.b", 0, NULL},
    {"event", "field:", -1, 0, NULL, 0, ERR_ENTRY},
    {"event", "topic", 0, FIELD_TOPIC, NULL, 0, NULL},
    {"event", "topic:2", 0, FIELD_TOPIC, NULL, 2, NULL},
    {"event", "topic:64", 0, FIELD_TOPIC, NULL, 64, NULL},
    {"event", "topic:0", -1, 0, NULL, 0, ERR_LEVEL},
    {"event", "topic:65", -1, 0, NULL, 0, ERR_LEVEL},
    {"event", "topic:+1", -1, 0, NULL, 0, ERR_LEVEL},
    {"event", "topic:", -1, 0, NULL, 0, ERR_LEVEL},
    {"event", "property:kind", 0, FIELD_PROPERTY, "kind", 0, NULL},
    {"data", "property:body", 0, FIELD_PROPERTY, "body", 0, NULL},
    {"event", "property:", -1, 0, NULL, 0, ERR_PROP},
    {"event", "channel", 0, FIELD_CHANNEL, NULL, 0, NULL},
    {"event", "channel:1", 0, FIELD_CHANNEL, NULL, 1, NULL},
    {"event", "channel:64", 0, FIELD_CHANNEL, NULL, 64, NULL},
    {"event", "payload", -1, 0, NULL, 0, ERR_EVENT},
    {"event", "", -1, 0, NULL, 0, ERR_EVENT},
    {"event", "fixed", -1, 0, NULL, 0, ERR_EVENT},
    {"event", "JSON:type", -1, 0, NULL, 0, ERR_EVENT},
    {"event", "channels", -1, 0, NULL, 0, ERR_EVENT},
    {"event", "None", -1, 0, NULL, 0, ERR_EVENT},
    {"event", "fixed:", -1, 0, NULL, 0, ERR_FIXED},
    {"event", "fixed:a\nb", -1, 0, NULL, 0, ERR_FIXED},
    {"event", "fixed:a\r", -1, 0, NULL, 0, ERR_FIXED},
    {"event", "json:", -1, 0, NULL, 0, ERR_JSON},
    {"event", "json:.a", -1, 0, NULL, 0, ERR_JSON},
    {"event", "json:a.", -1, 0, NULL, 0, ERR_JSON},
    {"event", "json:a..b", -1, 0, NULL, 0, ERR_JSON},
    {"event", "json:.", -1, 0, NULL, 0, ERR_JSON},
    {"event", "channel:", -1, 0, NULL, 0, ERR_SEGMENT},
    {"event", "channel:0", -1, 0, NULL, 0, ERR_SEGMENT},
    {"event", "channel:65", -1, 0, NULL, 0, ERR_SEGMENT},
    {"event", "channel:-1", -1, 0, NULL, 0, ERR_SEGMENT},
    {"event", "channel:x", -1, 0, NULL, 0, ERR_SEGMENT},
    {"event", "channel:1x", -1, 0, NULL, 0, ERR_SEGMENT},
    {"event", "channel:99999999999999999999", -1, 0, NULL, 0, ERR_SEGMENT},
    {"id", "none", 0, FIELD_NONE, NULL, 0, NULL},
    {"id", "fixed:1", 0, FIELD_FIXED, "1", 0, NULL},
    {"id", "json:id", 0, FIELD_JSON, "id", 0, NULL},
    {"id", "channel:2", 0, FIELD_CHANNEL, NULL, 2, NULL},
    {"id", "field:id", 0, FIELD_ENTRY, "id", 0, NULL},
    {"id", "payload", -1, 0, NULL, 0, ERR_EVENT},
    {"id", "json:", -1, 0, NULL, 0, ERR_JSON},
    {"data", "payload", 0, FIELD_PAYLOAD, NULL, 0, NULL},
    {"data", "json:body", 0, FIELD_JSON, "body", 0, NULL},
    {"data", "json:a.body", 0, FIELD_JSON, "a.body", 0, NULL},
    {"data", "channel", 0, FIELD_CHANNEL, NULL, 0, NULL},
    {"data", "field:body", 0, FIELD_ENTRY, "body", 0, NULL},
    {"data", "field:", -1, 0, NULL, 0, ERR_ENTRY},
    {"data", "none", -1, 0, NULL, 0, ERR_DATA},
    {"data", "fixed:x", -1, 0, NULL, 0, ERR_DATA},
    {"data", "", -1, 0, NULL, 0, ERR_DATA},
    {"data", "Payload", -1, 0, NULL, 0, ERR_DATA},
    {"data", "json:", -1, 0, NULL, 0, ERR_JSON},
};
// clang-format on

static void test_parse(void) {
    for (size_t i = 0; i < sizeof(parse_rows) / sizeof(parse_rows[0]); i++) {
        const struct parse_row *r = &parse_rows[i];
        struct field_rule rule;
        const char *err = NULL;
        int before = check_failures;
        memset(&rule, 0x5A, sizeof(rule)); /* the parser must set every member */
        int rc = field_rule_parse(r->field, r->spec, &rule, &err);
        CHECK_INT(rc, r->rc);
        if (rc == 0 && r->rc == 0) {
            CHECK_INT(rule.src, r->src);
            CHECK_STR(rule.arg, r->arg);
            CHECK_INT(rule.segment, r->segment);
            CHECK(err == NULL);
            field_rule_clear(&rule);
            CHECK(rule.arg == NULL);
        } else if (rc != 0 && r->rc != 0) {
            CHECK_STR(err, r->err);
        }
        if (check_failures != before)
            fprintf(stderr, "  in field_rule_parse(\"%s\", \"%s\")\n", r->field, r->spec);
    }
}

/* --- translate ---------------------------------------------------------------------------- */

struct translate_row {
    const char *event, *id, *data; /* rule specs */
    const char *channel;
    size_t channel_len; /* 0: strlen(channel) */
    const char *payload;
    struct bytes want_event, want_id, want_data; /* NONE: left out */
    const char *entry; /* stream entry fields "name=value,..."; NULL for pub/sub */
};

#define PAYLOAD_DATA                                                                               \
    { NULL, (size_t)-1 } /* the payload itself */

// clang-format off
static const struct translate_row translate_rows[] = {
    /* JSON members as event and id. */
    {"json:type", "json:id", "payload", "c", 0, "{\"type\":\"add\",\"id\":\"7\"}",
     B("add"), B("7"), PAYLOAD_DATA, NULL},
    {"json:type", "json:id", "payload", "c", 0, "{\"type\":\"add\",\"id\":42}",
     B("add"), B("42"), PAYLOAD_DATA, NULL},
    {"none", "json:id", "payload", "c", 0, "{\"id\":-1.5}", NONE, B("-1.5"), PAYLOAD_DATA, NULL},
    {"json:type", "none", "payload", "c", 0, "{\"type\":{\"a\":1,\"b\":[1,2]}}",
     B("{\"a\":1,\"b\":[1,2]}"), NONE, PAYLOAD_DATA, NULL},
    {"json:type", "none", "payload", "c", 0, "{\"type\":true}", B("true"), NONE, PAYLOAD_DATA,
     NULL},
    {"json:type", "none", "payload", "c", 0, "{\"type\":[1,\"x\"]}", B("[1,\"x\"]"), NONE,
     PAYLOAD_DATA, NULL},
    {"json:type", "none", "payload", "c", 0, "{\"type\":\"\"}", B(""), NONE, PAYLOAD_DATA, NULL},
    {"json:type", "none", "payload", "c", 0, "{\"type\":\"a\\u0000b\"}", B("a\0b"), NONE,
     PAYLOAD_DATA, NULL},
    {"json:type", "none", "payload", "c", 0, "{\"type\":\"\\u00e9\"}", B("\xC3\xA9"), NONE,
     PAYLOAD_DATA, NULL},
    {"json:type", "json:id", "payload", "c", 0, "{\"type\":null,\"id\":null}", NONE, NONE,
     PAYLOAD_DATA, NULL},
    {"json:type", "json:id", "payload", "c", 0, "{\"other\":1}", NONE, NONE, PAYLOAD_DATA, NULL},
    {"json:type", "json:id", "payload", "c", 0, "{}", NONE, NONE, PAYLOAD_DATA, NULL},
    /* Dotted paths. */
    {"json:meta.type", "none", "payload", "c", 0, "{\"meta\":{\"type\":\"x\"}}", B("x"), NONE,
     PAYLOAD_DATA, NULL},
    {"json:a.b.c", "none", "payload", "c", 0, "{\"a\":{\"b\":{\"c\":3}}}", B("3"), NONE,
     PAYLOAD_DATA, NULL},
    {"json:meta.type", "none", "payload", "c", 0, "{\"meta\":\"type\"}", NONE, NONE,
     PAYLOAD_DATA, NULL},
    {"json:meta.type", "none", "payload", "c", 0, "{\"meta\":{\"kind\":\"x\"}}", NONE, NONE,
     PAYLOAD_DATA, NULL},
    {"json:meta.type", "none", "payload", "c", 0, "{\"meta\":null}", NONE, NONE, PAYLOAD_DATA,
     NULL},
    {"json:meta.type", "none", "payload", "c", 0, "{\"meta.type\":\"flat\"}", NONE, NONE,
     PAYLOAD_DATA, NULL},
    {"json:meta", "none", "payload", "c", 0, "{\"meta\":{\"type\":\"x\"}}",
     B("{\"type\":\"x\"}"), NONE, PAYLOAD_DATA, NULL},
    /* Payloads that are not JSON objects: JSON rules find nothing. */
    {"json:type", "json:id", "payload", "c", 0, "hello", NONE, NONE, B("hello"), NULL},
    {"json:type", "json:id", "payload", "c", 0, "[{\"type\":\"x\"}]", NONE, NONE,
     PAYLOAD_DATA, NULL},
    {"json:type", "json:id", "payload", "c", 0, "\"type\"", NONE, NONE, PAYLOAD_DATA, NULL},
    {"json:type", "json:id", "payload", "c", 0, "", NONE, NONE, B(""), NULL},
    /* Data from JSON, and its fall back to the payload. */
    {"none", "none", "json:body", "c", 0, "{\"body\":{\"x\":1}}", NONE, NONE, B("{\"x\":1}"), NULL},
    {"none", "none", "json:body", "c", 0, "{\"body\":\"line1\\nline2\"}", NONE, NONE,
     B("line1\nline2"), NULL},
    {"none", "none", "json:body", "c", 0, "{\"body\":7}", NONE, NONE, B("7"), NULL},
    {"none", "none", "json:body", "c", 0, "{\"body\":\"\"}", NONE, NONE, B(""), NULL},
    {"none", "none", "json:body", "c", 0, "{\"body\":null}", NONE, NONE, PAYLOAD_DATA, NULL},
    {"none", "none", "json:body", "c", 0, "{\"other\":1}", NONE, NONE, PAYLOAD_DATA, NULL},
    {"none", "none", "json:body", "c", 0, "not json", NONE, NONE, B("not json"), NULL},
    {"none", "none", "json:a.body", "c", 0, "{\"a\":[1]}", NONE, NONE, PAYLOAD_DATA, NULL},
    /* Numbers keep their value and their text: shortest round trip, as JSON.stringify. */
    {"none", "none", "json:celsius", "c", 0, "{\"celsius\":22.2}", NONE, NONE, B("22.2"), NULL},
    {"json:v", "json:v", "payload", "c", 0, "{\"v\":0.1}", B("0.1"), B("0.1"), PAYLOAD_DATA, NULL},
    {"none", "none", "json:v", "c", 0, "{\"v\":1e300}", NONE, NONE, B("1e+300"), NULL},
    {"none", "none", "json:v", "c", 0, "{\"v\":100.0}", NONE, NONE, B("100"), NULL},
    {"none", "none", "json:v", "c", 0, "{\"v\":-2.5E-7}", NONE, NONE, B("-2.5e-7"), NULL},
    {"none", "none", "json:v", "c", 0, "{\"v\":123456789012345678}", NONE, NONE,
     B("123456789012345678"), NULL},
    {"none", "none", "json:v", "c", 0, "{\"v\":-9223372036854775808}", NONE, NONE,
     B("-9223372036854775808"), NULL},
    {"none", "none", "json:v", "c", 0, "{\"v\":{\"a\":22.2,\"b\":[0.1,4.35],\"c\":100.0}}", NONE,
     NONE, B("{\"a\":22.2,\"b\":[0.1,4.35],\"c\":100.0}"), NULL},
    {"none", "none", "json:v", "c", 0, "{\"v\":[0.30000000000000004,1]}", NONE, NONE,
     B("[0.30000000000000004,1]"), NULL},
    /* The channel, whole and by segment (split at '.', ':' and '/'). */
    {"channel", "none", "payload", "orders.eu.42", 0, "p", B("orders.eu.42"), NONE, B("p"), NULL},
    {"channel:1", "channel:3", "payload", "orders.eu.42", 0, "p", B("orders"), B("42"), B("p"),
     NULL},
    {"channel:2", "channel:4", "payload", "orders.eu.42", 0, "p", B("eu"), NONE, B("p"), NULL},
    {"channel:2", "channel:3", "payload", "a:b/c", 0, "p", B("b"), B("c"), B("p"), NULL},
    {"channel:2", "channel:3", "payload", "a..b", 0, "p", B(""), B("b"), B("p"), NULL},
    {"channel:1", "channel:2", "payload", ".a", 0, "p", B(""), B("a"), B("p"), NULL},
    {"channel:2", "channel:3", "payload", "a.", 0, "p", B(""), NONE, B("p"), NULL},
    {"channel:1", "channel:2", "payload", "plain", 0, "p", B("plain"), NONE, B("p"), NULL},
    {"channel:1", "channel:64", "payload", "", 0, "p", B(""), NONE, B("p"), NULL},
    {"channel", "channel", "channel", "x.y", 0, "p", B("x.y"), B("x.y"), B("x.y"), NULL},
    /* channel_len counts, not the NUL: "orders.eu" passed as 6 bytes is "orders". */
    {"channel", "channel:2", "payload", "orders.eu", 6, "p", B("orders"), NONE, B("p"), NULL},
    {"channel:1", "channel:2", "payload", "ab.cd", 4, "p", B("ab"), B("c"), B("p"), NULL},
    /* MQTT topics split into levels at '/' alone: '.' and ':' belong to a level. */
    {"topic", "none", "payload", "sensors/kitchen.1/temp", 0, "p", B("sensors/kitchen.1/temp"),
     NONE, B("p"), NULL},
    {"topic:2", "topic:3", "payload", "sensors/kitchen.1/temp", 0, "p", B("kitchen.1"),
     B("temp"), B("p"), NULL},
    {"topic:1", "topic:2", "payload", "/a", 0, "p", B(""), B("a"), B("p"), NULL},
    {"topic:3", "topic:4", "payload", "a//b", 0, "p", B("b"), NONE, B("p"), NULL},
    {"topic:2", "none", "payload", "a:b.c", 0, "p", NONE, NONE, B("p"), NULL},
    /* No properties (MQTT 3.1.1, Redis): the rule finds nothing. */
    {"property:kind", "none", "property:body", "t", 0, "p", NONE, NONE, B("p"), NULL},
    /* Constants. */
    {"fixed:update", "fixed:1", "payload", "c", 0, "p", B("update"), B("1"), B("p"), NULL},
    {"fixed:update", "none", "payload", "c", 0, "", B("update"), NONE, B(""), NULL},
    /* Payload bytes pass unchanged, line breaks included. */
    {"none", "none", "payload", "c", 0, "a\nb", NONE, NONE, B("a\nb"), NULL},
    /* Stream entry fields, by exact name; the first of a repeated name wins. */
    {"field:event", "none", "field:data", "s", 0, "p", B("add"), NONE, B("x"), "event=add,data=x"},
    {"field:event", "field:n", "field:data", "s", 0, "p", B(""), B("1"), B("p"), "event=,n=1"},
    {"field:e", "none", "payload", "s", 0, "p", B("1"), NONE, B("p"), "e=1,e=2"},
    {"field:ev", "none", "payload", "s", 0, "p", NONE, NONE, B("p"), "e=1,event=2"},
    {"field:event", "none", "field:data", "s", 0, "p", NONE, NONE, B("p"), ""},
    {"field:event", "none", "field:data", "c", 0, "p", NONE, NONE, B("p"), NULL},
};
// clang-format on

/* Splits "name=value,..." into the pairs a stream entry hands translate. */
struct entry {
    const char *ptr[16];
    size_t len[16];
    size_t n;
};

static void entry_from(struct entry *e, const char *spec) {
    memset(e, 0, sizeof(*e));
    while (spec && *spec && e->n < 8) {
        size_t item = strcspn(spec, ","), eq = strcspn(spec, "=");
        e->ptr[2 * e->n] = spec;
        e->len[2 * e->n] = eq;
        e->ptr[2 * e->n + 1] = spec + eq + 1;
        e->len[2 * e->n + 1] = item - eq - 1;
        e->n++;
        spec += item + (spec[item] == ',');
    }
}

static void parse_rule(const char *field, const char *spec, struct field_rule *out) {
    const char *err = NULL;
    if (field_rule_parse(field, spec, out, &err) != 0) {
        fprintf(stderr, "bad rule in table: %s = %s: %s\n", field, spec, err);
        exit(2);
    }
}

/* The event, id and data rules of a row, parsed (a spec refused is a mistake in the table). */
static void rules_parse(struct translate_rules *rules, const char *event, const char *id,
                        const char *data) {
    parse_rule("event", event, &rules->event);
    parse_rule("id", id, &rules->id);
    parse_rule("data", data, &rules->data);
}

static void rules_clear(struct translate_rules *rules) {
    field_rule_clear(&rules->event);
    field_rule_clear(&rules->id);
    field_rule_clear(&rules->data);
}

static void test_translate(void) {
    for (size_t i = 0; i < sizeof(translate_rows) / sizeof(translate_rows[0]); i++) {
        const struct translate_row *r = &translate_rows[i];
        struct translate_rules rules;
        int before = check_failures;
        rules_parse(&rules, r->event, r->id, r->data);

        /* As bridge.c does: parse once, keep only an object, only when a rule needs it. */
        size_t payload_len = strlen(r->payload);
        json_t *json = NULL;
        if (translate_needs_json(&rules)) {
            json = json_loadb(r->payload, payload_len, JSON_ALLOW_NUL, NULL);
            if (json != NULL && !json_is_object(json)) {
                json_decref(json);
                json = NULL;
            }
        }
        struct translate_in in = {
            .channel = r->channel,
            .channel_len = r->channel_len ? r->channel_len : strlen(r->channel),
            .payload = r->payload,
            .payload_len = payload_len,
            .json = json,
        };
        struct entry entry;
        entry_from(&entry, r->entry);
        if (r->entry != NULL) {
            in.fields = entry.ptr;
            in.field_lens = entry.len;
            in.nfields = entry.n;
        }
        struct translate_out out;
        memset(&out, 0x5A, sizeof(out)); /* translate must set every member */
        translate(&rules, &in, &out);

        struct bytes want_data = r->want_data;
        if (want_data.n == (size_t)-1)
            want_data = (struct bytes){r->payload, payload_len};
        check_bytes("event", out.f.event, out.f.event_len, r->want_event);
        check_bytes("id", out.f.id, out.f.id_len, r->want_id);
        check_bytes("data", out.f.data, out.f.data_len, want_data);
        if (check_failures != before)
            fprintf(stderr, "  in row %zu: event=%s id=%s data=%s, channel \"%s\", payload %s\n", i,
                    r->event, r->id, r->data, r->channel, r->payload);

        translate_out_clear(&out);
        CHECK(out.owned[0] == NULL && out.owned[1] == NULL && out.owned[2] == NULL);
        json_decref(json);
        rules_clear(&rules);
    }
}

/* --- translate_needs_json ----------------------------------------------------------------- */

struct needs_row {
    const char *event, *id, *data;
    bool want;
};

// clang-format off
static const struct needs_row needs_rows[] = {
    {"none", "none", "payload", false},
    {"channel", "fixed:x", "payload", false},
    {"field:event", "field:id", "field:data", false},
    {"json:type", "none", "payload", true},
    {"none", "json:id", "payload", true},
    {"none", "none", "json:body", true},
};
// clang-format on

static void test_needs_json(void) {
    for (size_t i = 0; i < sizeof(needs_rows) / sizeof(needs_rows[0]); i++) {
        const struct needs_row *r = &needs_rows[i];
        struct translate_rules rules;
        rules_parse(&rules, r->event, r->id, r->data);
        bool got = translate_needs_json(&rules);
        CHECK(got == r->want);
        if (got != r->want)
            fprintf(stderr, "  in needs_json row %zu\n", i);
        rules_clear(&rules);
    }
}

/* A JSON value that is not a string is serialized into out.owned; the output still points at
 * it after the payload's JSON is freed (the caller frees the JSON right after translating). */
static void test_owned_outlives_json(void) {
    struct translate_rules rules;
    rules_parse(&rules, "json:e", "json:i", "json:d");
    json_t *json = json_loads("{\"e\":1,\"i\":[2],\"d\":{\"x\":3}}", 0, NULL);
    struct translate_in in = {
        .channel = "c", .channel_len = 1, .payload = "p", .payload_len = 1, .json = json};
    struct translate_out out;
    translate(&rules, &in, &out);
    json_decref(json);
    CHECK_MEM(out.f.event, out.f.event_len, "1");
    CHECK_MEM(out.f.id, out.f.id_len, "[2]");
    CHECK_MEM(out.f.data, out.f.data_len, "{\"x\":3}");
    CHECK(out.owned[0] == out.f.event && out.owned[1] == out.f.id && out.owned[2] == out.f.data);
    translate_out_clear(&out);
    rules_clear(&rules);
}

/* MQTT 5 user properties: by exact name, the first of a repeated name wins. */
static void test_properties(void) {
    struct translate_rules rules;
    rules_parse(&rules, "property:kind", "property:n", "property:body");
    const char *props[] = {"kind", "alert", "body", "hot", "kind", "other", "n", ""};
    const size_t lens[] = {4, 5, 4, 3, 4, 5, 1, 0};
    struct translate_in in = {.channel = "t",
                              .channel_len = 1,
                              .payload = "p",
                              .payload_len = 1,
                              .props = props,
                              .prop_lens = lens,
                              .nprops = 4};
    struct translate_out out;
    translate(&rules, &in, &out);
    check_bytes("event", out.f.event, out.f.event_len, (struct bytes)B("alert"));
    check_bytes("id", out.f.id, out.f.id_len, (struct bytes)B(""));
    check_bytes("data", out.f.data, out.f.data_len, (struct bytes)B("hot"));
    translate_out_clear(&out);
    in.nprops = 1; /* only "kind": the others fall back (data to the payload) */
    translate(&rules, &in, &out);
    check_bytes("event", out.f.event, out.f.event_len, (struct bytes)B("alert"));
    CHECK(out.f.id == NULL);
    check_bytes("data", out.f.data, out.f.data_len, (struct bytes)B("p"));
    translate_out_clear(&out);
    CHECK(translate_needs_props(&rules));
    rules_clear(&rules);
    rules_parse(&rules, "topic:1", "none", "payload");
    CHECK(!translate_needs_props(&rules));
    rules_clear(&rules);
}

/* translate_real_text against what node's JSON.stringify prints for the same doubles. */
static void test_real_text(void) {
    static const struct {
        double d;
        const char *want;
    } rows[] = {
        {22.2, "22.2"},
        {0.1, "0.1"},
        {1e300, "1e+300"},
        {1e21, "1e+21"},
        {1e20, "100000000000000000000"},
        {123456789012345680000.0, "123456789012345680000"},
        {1.5e-7, "1.5e-7"},
        {0.000001, "0.000001"},
        {1e-7, "1e-7"},
        {-22.2, "-22.2"},
        {-0.0, "0"},
        {5e-324, "5e-324"},
        {1.7976931348623157e308, "1.7976931348623157e+308"},
        {0.1 + 0.2, "0.30000000000000004"},
        {100.0, "100"},
        {1.0, "1"},
        {123.456, "123.456"},
        {2.5e-5, "0.000025"},
        {-1e-7, "-1e-7"},
        {1234.5e10, "12345000000000"},
        {9007199254740993.0, "9007199254740992"},
        {4.35, "4.35"},
    };
    for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
        char out[32];
        size_t n = translate_real_text(rows[i].d, out);
        CHECK_MEM(out, n, rows[i].want);
        CHECK_INT(n, strlen(rows[i].want));
    }
}

int main(void) {
    test_parse();
    test_real_text();
    test_translate();
    test_needs_json();
    test_owned_outlives_json();
    test_properties();
    return check_report("translate");
}
