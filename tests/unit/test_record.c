/* record: the journal's entry format both ways, on hiredis reply structs built by hand (the
 * shapes Redis 7 sends). What XADD writes is read back as the same message or gap; malformed
 * entries are refused; entries with more fields than the caller's arrays keep every field; a
 * stream entry without "data" becomes a JSON object with non-UTF-8 names and values in base64;
 * XREVRANGE and XINFO STREAM replies give the end of a stream and where a position stands. */
#include "record.h"

#include <stdlib.h>
#include <string.h>

#include <hiredis/hiredis.h>

#include "check.h"

/* ---- building replies ---- */

static redisReply *str(const char *s, size_t n) {
    redisReply *r = calloc(1, sizeof(*r));
    r->type = REDIS_REPLY_STRING;
    r->str = malloc(n + 1);
    memcpy(r->str, s, n);
    r->str[n] = '\0';
    r->len = n;
    return r;
}

static redisReply *cstr(const char *s) {
    return str(s, strlen(s));
}

static redisReply *integer(long long v) {
    redisReply *r = calloc(1, sizeof(*r));
    r->type = REDIS_REPLY_INTEGER;
    r->integer = v;
    return r;
}

static redisReply *array(size_t n, redisReply **items) {
    redisReply *r = calloc(1, sizeof(*r));
    r->type = REDIS_REPLY_ARRAY;
    r->elements = n;
    r->element = calloc(n ? n : 1, sizeof(*r->element));
    for (size_t i = 0; i < n; i++)
        r->element[i] = items[i];
    return r;
}

static void reply_free(redisReply *r) {
    if (r == NULL)
        return;
    for (size_t i = 0; r->type == REDIS_REPLY_ARRAY && i < r->elements; i++)
        reply_free(r->element[i]);
    free(r->element);
    free(r->str);
    free(r);
}

/* [id, [f1, v1, ...]] from argv-style strings (NUL-terminated). */
static redisReply *entry_reply(const char *id, size_t n, const char **kv) {
    redisReply **fields = malloc((n ? n : 1) * sizeof(*fields));
    for (size_t i = 0; i < n; i++)
        fields[i] = cstr(kv[i]);
    redisReply *items[2] = {cstr(id), array(n, fields)};
    free(fields);
    return array(2, items);
}

static struct topic topic(enum topic_kind kind, const char *name) {
    struct topic t = {0};
    t.kind = kind;
    t.name = (char *)name;
    t.name_len = strlen(name);
    return t;
}

/* ---- the format both ways ---- */

static redisReply *written(const char **argv, const size_t *lens, size_t n) {
    redisReply **fields = malloc(n * sizeof(*fields));
    for (size_t i = 0; i < n; i++)
        fields[i] = str(argv[i], lens[i]);
    redisReply *items[2] = {cstr("1700000000000-3"), array(n, fields)};
    free(fields);
    return array(2, items);
}

static void test_round_trip(void) {
    struct topic t = topic(TOPIC_PATTERN, "orders.*");
    const char *argv[4];
    size_t lens[4];
    size_t n = record_message_fields("orders.42", 9, "{\"a\":1}\0x", 9, argv, lens);
    CHECK_INT(n, 4);
    redisReply *r = written(argv, lens, n);
    const char *f[8];
    size_t l[8];
    struct entry e;
    CHECK_INT(record_parse_entry(r, &e, f, l, 4), 0);
    record_entry_from_fields(&t, &e);
    CHECK(e.has_id && e.id.ms == 1700000000000ULL && e.id.seq == 3);
    CHECK(!e.gap);
    CHECK_MEM(e.in.channel, e.in.channel_len, "orders.42");
    CHECK_INT(e.in.payload_len, 9); /* a NUL inside the payload is kept */
    CHECK(memcmp(e.in.payload, "{\"a\":1}\0x", 9) == 0);
    CHECK(!record_is_start_marker(&e));
    record_entry_clear(&e);
    reply_free(r);

    n = record_gap_fields(RECORD_GAP_STARTED, strlen(RECORD_GAP_STARTED), argv, lens);
    CHECK_INT(n, 2);
    r = written(argv, lens, n);
    CHECK_INT(record_parse_entry(r, &e, f, l, 4), 0);
    record_entry_from_fields(&t, &e);
    CHECK(e.gap);
    CHECK_MEM(e.in.payload, e.in.payload_len, RECORD_GAP_STARTED);
    CHECK_MEM(e.in.channel, e.in.channel_len,
              "orders.*"); /* a marker has no channel: the topic's */
    CHECK(record_is_start_marker(&e));
    record_entry_clear(&e);
    reply_free(r);

    struct entry g = record_gap_entry(&t, RECORD_GAP_RESUMED);
    CHECK(g.gap && !g.has_id);
    CHECK_MEM(g.in.payload, g.in.payload_len, RECORD_GAP_RESUMED);
    CHECK(!record_is_start_marker(&g));
}

static void test_malformed(void) {
    const char *f[8];
    size_t l[8];
    struct entry e;
    const char *kv[] = {"c", "x", "p", "y"};
    redisReply *bad_id = entry_reply("17-x", 4, kv);
    CHECK_INT(record_parse_entry(bad_id, &e, f, l, 4), -1);
    reply_free(bad_id);
    redisReply *not_array = cstr("1-1");
    CHECK_INT(record_parse_entry(not_array, &e, f, l, 4), -1);
    reply_free(not_array);
    redisReply *one[1] = {cstr("1-1")};
    redisReply *short_entry = array(1, one);
    CHECK_INT(record_parse_entry(short_entry, &e, f, l, 4), -1);
    reply_free(short_entry);
    redisReply *fields[2] = {cstr("p"), integer(5)};
    redisReply *items[2] = {cstr("1-1"), array(2, fields)};
    redisReply *int_value = array(2, items);
    CHECK_INT(record_parse_entry(int_value, &e, f, l, 4), -1);
    reply_free(int_value);
    /* An odd field count: the last name without a value is ignored, not read past. */
    const char *odd[] = {"data", "v", "orphan"};
    redisReply *r = entry_reply("2-0", 3, odd);
    CHECK_INT(record_parse_entry(r, &e, f, l, 4), 0);
    CHECK_INT(e.in.nfields, 1);
    record_entry_clear(&e);
    reply_free(r);
}

static void test_many_fields(void) {
    /* 20 pairs, "data" last: read through arrays of the entry's own. */
    const char *kv[40];
    char names[19][8];
    for (int i = 0; i < 19; i++) {
        snprintf(names[i], sizeof(names[i]), "f%d", i);
        kv[2 * i] = names[i];
        kv[2 * i + 1] = "v";
    }
    kv[38] = "data";
    kv[39] = "the payload";
    redisReply *r = entry_reply("5-1", 40, kv);
    struct topic t = topic(TOPIC_STREAM, "s:p");
    const char *f[4];
    size_t l[4];
    struct entry e;
    CHECK_INT(record_parse_entry(r, &e, f, l, 2), 0);
    CHECK(e.owned_fields != NULL);
    CHECK_INT(e.in.nfields, 20);
    record_entry_from_fields(&t, &e);
    CHECK_MEM(e.in.payload, e.in.payload_len, "the payload");
    CHECK_MEM(e.in.channel, e.in.channel_len, "s:p");
    record_entry_clear(&e);
    CHECK(e.owned_fields == NULL);
    reply_free(r);
}

static void test_stream_object(void) {
    struct topic t = topic(TOPIC_STREAM, "sensors");
    const char *f[8];
    size_t l[8];
    struct entry e;
    const char *text[] = {"temp", "21", "room", "hall"};
    redisReply *r = entry_reply("9-0", 4, text);
    CHECK_INT(record_parse_entry(r, &e, f, l, 4), 0);
    record_entry_from_fields(&t, &e);
    CHECK_MEM(e.in.payload, e.in.payload_len, "{\"temp\":\"21\",\"room\":\"hall\"}");
    CHECK(!e.binary_fields);
    record_entry_clear(&e);
    reply_free(r);

    const char *bin[] = {"k\xff", "v", "ok", "caf\xe9"};
    r = entry_reply("9-1", 4, bin);
    CHECK_INT(record_parse_entry(r, &e, f, l, 4), 0);
    record_entry_from_fields(&t, &e);
    /* "k\xff" -> base64 "a/8=", "caf\xe9" -> "Y2Fm6Q==" */
    CHECK_MEM(e.in.payload, e.in.payload_len, "{\"a/8=\":\"v\",\"ok\":\"Y2Fm6Q==\"}");
    CHECK(e.binary_fields);
    record_entry_clear(&e);
    reply_free(r);

    /* A journal entry without "p": an empty payload, never NULL. */
    struct topic ch = topic(TOPIC_CHANNEL, "news");
    const char *only_c[] = {"c", "news"};
    r = entry_reply("9-2", 2, only_c);
    CHECK_INT(record_parse_entry(r, &e, f, l, 4), 0);
    record_entry_from_fields(&ch, &e);
    CHECK(e.in.payload != NULL && e.in.payload_len == 0);
    record_entry_clear(&e);
    reply_free(r);
}

static void test_last_id(void) {
    struct stream_id id;
    redisReply *empty = array(0, NULL);
    CHECK(record_last_id(empty, &id) && stream_id_is_zero(id));
    reply_free(empty);
    const char *kv[] = {"data", "x"};
    redisReply *items[1] = {entry_reply("1700000000123-7", 2, kv)};
    redisReply *one = array(1, items);
    CHECK(record_last_id(one, &id) && id.ms == 1700000000123ULL && id.seq == 7);
    reply_free(one);
    redisReply *err = cstr("ERR");
    err->type = REDIS_REPLY_ERROR;
    CHECK(!record_last_id(err, &id));
    CHECK(!record_last_id(NULL, &id));
    reply_free(err);
}

/* XINFO STREAM as Redis 7 sends it (a flat list of names and values). */
static redisReply *info(const char *last, long long length, long long added, const char *first,
                        const char *deleted) {
    redisReply *items[10] = {cstr("length"),
                             integer(length),
                             cstr("last-generated-id"),
                             cstr(last),
                             cstr("max-deleted-entry-id"),
                             cstr(deleted),
                             cstr("entries-added"),
                             integer(added),
                             cstr("recorded-first-entry-id"),
                             cstr(first)};
    return array(10, items);
}

static void test_position(void) {
    struct stream_id last;
    struct {
        const char *name;
        struct stream_id from;
        long long length, added;
        const char *first, *deleted;
        enum record_position want;
    } rows[] = {
        {"inside, nothing trimmed", {50, 0}, 100, 100, "1-0", "0-0", RECORD_POSITION_OK},
        {"at the end", {100, 0}, 100, 100, "1-0", "0-0", RECORD_POSITION_OK},
        {"newer than the journal", {101, 0}, 100, 100, "1-0", "0-0", RECORD_POSITION_FUTURE},
        {"before the first left, some trimmed",
         {5, 0},
         90,
         100,
         "11-0",
         "0-0",
         RECORD_POSITION_TRUNCATED},
        {"after the first left, some trimmed", {20, 0}, 90, 100, "11-0", "0-0", RECORD_POSITION_OK},
        {"before an XDEL", {30, 0}, 99, 100, "1-0", "40-0", RECORD_POSITION_TRUNCATED},
        {"after an XDEL", {45, 0}, 99, 100, "1-0", "40-0", RECORD_POSITION_OK},
        {"zero, nothing trimmed", {0, 0}, 100, 100, "1-0", "0-0", RECORD_POSITION_OK},
    };
    for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
        redisReply *r =
            info("100-0", rows[i].length, rows[i].added, rows[i].first, rows[i].deleted);
        enum record_position got = record_position(r, rows[i].from, &last);
        if (got != rows[i].want)
            fprintf(stderr, "row: %s\n", rows[i].name);
        CHECK_INT(got, rows[i].want);
        CHECK(last.ms == 100 && last.seq == 0);
        reply_free(r);
    }
}

int main(void) {
    test_round_trip();
    test_malformed();
    test_many_fields();
    test_stream_object();
    test_last_id();
    test_position();
    printf("record: %d checks, %d failed\n", check_count, check_failures);
    return check_failures != 0;
}
