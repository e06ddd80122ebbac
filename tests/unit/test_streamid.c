/* streamid: one row per input for stream_id_parse (given with its length, so inputs that are
 * cut short or hold a NUL can be written), pairs for stream_id_cmp, ids that must survive
 * stream_id_format and a parse back, and composite Last-Event-IDs for stream_id_parse_list
 * with the number of positions the connection expects. */
#include "streamid.h"

#include <stdint.h>
#include <string.h>

#include "check.h"

#define U64_MAX_S "18446744073709551615"
#define U64_OVER_S "18446744073709551616"
#define ERR (-1)

/* An input with its length, so rows may hold NUL or stop short of the literal's end. */
struct in {
    const char *s;
    size_t n;
};
#define IN(lit)                                                                                    \
    { lit, sizeof(lit) - 1 }

struct parse_row {
    const char *name;
    struct in in;
    int rc;
    uint64_t ms, seq; /* when rc is 0 */
};

// clang-format off
static const struct parse_row parse_rows[] = {
    {"ms and seq", IN("1-2"), 0, 1, 2},
    {"ms only: seq 0", IN("5"), 0, 5, 0},
    {"zero", IN("0-0"), 0, 0, 0},
    {"zero ms only", IN("0"), 0, 0, 0},
    {"typical", IN("1700000000000-3"), 0, 1700000000000ull, 3},
    {"max both", IN(U64_MAX_S "-" U64_MAX_S), 0, UINT64_MAX, UINT64_MAX},
    {"max ms only", IN(U64_MAX_S), 0, UINT64_MAX, 0},
    {"max ms, seq 0", IN(U64_MAX_S "-0"), 0, UINT64_MAX, 0},
    {"ms 0, max seq", IN("0-" U64_MAX_S), 0, 0, UINT64_MAX},
    {"ms over by one", IN(U64_OVER_S "-0"), ERR, 0, 0},
    {"seq over by one", IN("0-" U64_OVER_S), ERR, 0, 0},
    {"ms only over by one", IN(U64_OVER_S), ERR, 0, 0},
    {"ms far over (20 nines)", IN("99999999999999999999"), ERR, 0, 0},
    {"ms 21 digits", IN("100000000000000000000"), ERR, 0, 0},
    {"leading zeros", IN("007-0009"), 0, 7, 9},
    {"leading zeros, 20 digits", IN("00000000000000000001-1"), 0, 1, 1},
    /* Redis would read these as 1; the codec caps a part at 20 characters. */
    {"leading zeros, 21 digits", IN("000000000000000000001-1"), ERR, 0, 0},
    {"empty", IN(""), ERR, 0, 0},
    {"dash only", IN("-"), ERR, 0, 0},
    {"empty seq", IN("1-"), ERR, 0, 0},
    {"empty ms", IN("-1"), ERR, 0, 0},
    {"two dashes", IN("1-2-3"), ERR, 0, 0},
    {"plus (XRANGE end)", IN("+"), ERR, 0, 0},
    {"dollar (XREAD end)", IN("$"), ERR, 0, 0},
    {"plus sign on ms", IN("+1-2"), ERR, 0, 0},
    {"minus sign on ms", IN("-1-2"), ERR, 0, 0},
    {"plus sign on seq", IN("1-+2"), ERR, 0, 0},
    {"minus sign on seq", IN("1--2"), ERR, 0, 0},
    {"leading space", IN(" 1-2"), ERR, 0, 0},
    {"trailing space", IN("1-2 "), ERR, 0, 0},
    {"space before dash", IN("1 -2"), ERR, 0, 0},
    {"space after dash", IN("1- 2"), ERR, 0, 0},
    {"tab", IN("1-2\t"), ERR, 0, 0},
    {"trailing newline", IN("1-2\n"), ERR, 0, 0},
    {"hex", IN("0x10-1"), ERR, 0, 0},
    {"letters", IN("a-b"), ERR, 0, 0},
    {"decimal point", IN("1.5-0"), ERR, 0, 0},
    {"comma (a composite id)", IN("1-2,3-4"), ERR, 0, 0},
    {"embedded NUL", {"1\0-2", 4}, ERR, 0, 0},
    /* Only s[0..n) is read: the rest of the literal is not part of the input. */
    {"length stops before seq", {"12-34", 2}, 0, 12, 0},
    {"length stops inside seq", {"12-34", 4}, 0, 12, 3},
    {"length stops after dash", {"12-34", 3}, ERR, 0, 0},
    {"length 0 of a valid id", {"1-2", 0}, ERR, 0, 0},
};
// clang-format on

static void test_parse(void) {
    for (size_t i = 0; i < sizeof(parse_rows) / sizeof(parse_rows[0]); i++) {
        const struct parse_row *r = &parse_rows[i];
        struct stream_id id = {0xdead, 0xbeef};
        int before = check_failures;
        CHECK_INT(stream_id_parse(r->in.s, r->in.n, &id), r->rc);
        if (r->rc == 0) {
            CHECK(id.ms == r->ms);
            CHECK(id.seq == r->seq);
        } else {
            /* A failed parse leaves the output alone. */
            CHECK(id.ms == 0xdead && id.seq == 0xbeef);
        }
        if (check_failures != before)
            fprintf(stderr, "  in parse row \"%s\"\n", r->name);
    }
}

struct cmp_row {
    struct stream_id a, b;
    int want; /* -1, 0 or 1 */
};

// clang-format off
static const struct cmp_row cmp_rows[] = {
    {{0, 0}, {0, 0}, 0},
    {{1, 2}, {1, 2}, 0},
    {{UINT64_MAX, UINT64_MAX}, {UINT64_MAX, UINT64_MAX}, 0},
    {{1, 1}, {1, 2}, -1},                  /* same ms: seq decides */
    {{1, 3}, {1, 2}, 1},
    {{1, UINT64_MAX}, {2, 0}, -1},         /* ms decides over any seq */
    {{2, 0}, {1, UINT64_MAX}, 1},
    {{0, 0}, {0, 1}, -1},
    {{0, 1}, {0, 0}, 1},
    {{0, 0}, {UINT64_MAX, UINT64_MAX}, -1},
    {{UINT64_MAX, 0}, {UINT64_MAX - 1, UINT64_MAX}, 1},
    {{UINT64_MAX, UINT64_MAX - 1}, {UINT64_MAX, UINT64_MAX}, -1},
    /* values past INT64_MAX still compare as unsigned */
    {{(uint64_t)INT64_MAX + 1, 0}, {(uint64_t)INT64_MAX, 0}, 1},
    {{5, (uint64_t)INT64_MAX + 1}, {5, 1}, 1},
};
// clang-format on

static int sign(int v) {
    return (v > 0) - (v < 0);
}

static void test_cmp(void) {
    for (size_t i = 0; i < sizeof(cmp_rows) / sizeof(cmp_rows[0]); i++) {
        const struct cmp_row *r = &cmp_rows[i];
        int before = check_failures;
        CHECK_INT(sign(stream_id_cmp(r->a, r->b)), r->want);
        CHECK_INT(sign(stream_id_cmp(r->b, r->a)), -r->want); /* antisymmetric */
        if (check_failures != before)
            fprintf(stderr, "  in cmp row %zu\n", i);
    }
    CHECK(stream_id_is_zero((struct stream_id){0, 0}));
    CHECK(!stream_id_is_zero((struct stream_id){0, 1}));
    CHECK(!stream_id_is_zero((struct stream_id){1, 0}));
}

struct format_row {
    struct stream_id id;
    const char *want;
};

// clang-format off
static const struct format_row format_rows[] = {
    {{0, 0}, "0-0"},
    {{1, 2}, "1-2"},
    {{5, 0}, "5-0"}, /* seq always written */
    {{1700000000000ull, 3}, "1700000000000-3"},
    {{UINT64_MAX, 0}, U64_MAX_S "-0"},
    {{0, UINT64_MAX}, "0-" U64_MAX_S},
    {{UINT64_MAX, UINT64_MAX}, U64_MAX_S "-" U64_MAX_S},
};
// clang-format on

static void test_format(void) {
    CHECK_INT(strlen(U64_MAX_S "-" U64_MAX_S), STREAM_ID_MAX_LEN);
    for (size_t i = 0; i < sizeof(format_rows) / sizeof(format_rows[0]); i++) {
        const struct format_row *r = &format_rows[i];
        /* Guard bytes after the documented STREAM_ID_MAX_LEN + 1 must stay untouched. */
        char buf[STREAM_ID_MAX_LEN + 1 + 4];
        memset(buf, 'Z', sizeof(buf));
        int before = check_failures;
        size_t n = stream_id_format(r->id, buf);
        CHECK_MEM(buf, n, r->want);
        CHECK_INT(buf[n], '\0');
        CHECK(memcmp(buf + STREAM_ID_MAX_LEN + 1, "ZZZZ", 4) == 0);

        struct stream_id back = {0xdead, 0xbeef};
        CHECK_INT(stream_id_parse(buf, n, &back), 0);
        CHECK_INT(stream_id_cmp(back, r->id), 0);
        if (check_failures != before)
            fprintf(stderr, "  in format row %zu\n", i);
    }
}

#define MAX_IDS 3

struct list_row {
    const char *name;
    const char *in;
    size_t n; /* positions the connection has */
    int rc;
    struct stream_id want[MAX_IDS]; /* when rc is 0 */
};

// clang-format off
static const struct list_row list_rows[] = {
    {"one", "1-2", 1, 0, {{1, 2}}},
    {"one, ms only", "7", 1, 0, {{7, 0}}},
    {"one, max", U64_MAX_S "-" U64_MAX_S, 1, 0, {{UINT64_MAX, UINT64_MAX}}},
    {"two", "1-2,3-4", 2, 0, {{1, 2}, {3, 4}}},
    {"two, zero and ms only", "0-0,9", 2, 0, {{0, 0}, {9, 0}}},
    {"two, max", U64_MAX_S "-" U64_MAX_S "," U64_MAX_S "-" U64_MAX_S, 2, 0,
     {{UINT64_MAX, UINT64_MAX}, {UINT64_MAX, UINT64_MAX}}},
    {"three", "1-1,2-2,3-3", 3, 0, {{1, 1}, {2, 2}, {3, 3}}},
    {"three, out of order kept", "9-0,1-0,5-5", 3, 0, {{9, 0}, {1, 0}, {5, 5}}},

    {"empty, one", "", 1, ERR, {{0}}},
    {"empty, two", "", 2, ERR, {{0}}},
    {"comma only, one", ",", 1, ERR, {{0}}},
    {"comma only, two", ",", 2, ERR, {{0}}},
    {"two commas, three", ",,", 3, ERR, {{0}}},
    {"two given, one wanted", "1-2,3-4", 1, ERR, {{0}}},
    {"one given, two wanted", "1-2", 2, ERR, {{0}}},
    {"three given, two wanted", "1-1,2-2,3-3", 2, ERR, {{0}}},
    {"two given, three wanted", "1-1,2-2", 3, ERR, {{0}}},
    {"trailing comma, one", "1-2,", 1, ERR, {{0}}},
    {"trailing comma, two", "1-2,3-4,", 2, ERR, {{0}}},
    {"leading comma, two", ",1-2", 2, ERR, {{0}}},
    {"empty first part", ",3-4", 2, ERR, {{0}}},
    {"empty middle part", "1-1,,3-3", 3, ERR, {{0}}},
    {"empty last part", "1-1,2-2,", 3, ERR, {{0}}},
    {"malformed first", "x,3-4", 2, ERR, {{0}}},
    {"malformed second", "1-2,3-", 2, ERR, {{0}}},
    {"malformed last of three", "1-1,2-2,3-3-3", 3, ERR, {{0}}},
    {"overflow in second", "1-2," U64_OVER_S, 2, ERR, {{0}}},
    {"space after comma", "1-2, 3-4", 2, ERR, {{0}}},
    {"space before comma", "1-2 ,3-4", 2, ERR, {{0}}},
    {"trailing space", "1-2,3-4 ", 2, ERR, {{0}}},
    {"other separator", "1-2;3-4", 2, ERR, {{0}}},
    {"plus as a part", "1-2,+", 2, ERR, {{0}}},
};
// clang-format on

static void test_parse_list(void) {
    for (size_t i = 0; i < sizeof(list_rows) / sizeof(list_rows[0]); i++) {
        const struct list_row *r = &list_rows[i];
        struct stream_id out[MAX_IDS];
        int before = check_failures;
        CHECK_INT(stream_id_parse_list(r->in, out, r->n), r->rc);
        if (r->rc == 0) {
            for (size_t k = 0; k < r->n; k++)
                CHECK_INT(stream_id_cmp(out[k], r->want[k]), 0);
        }
        if (check_failures != before)
            fprintf(stderr, "  in list row \"%s\" (n = %zu)\n", r->name, r->n);
    }
}

/* A composite id built from formatted parts reads back as the same positions. */
static void test_list_round_trip(void) {
    const struct stream_id ids[MAX_IDS] = {
        {UINT64_MAX, UINT64_MAX}, {0, 0}, {1700000000000ull, 42}};
    char buf[MAX_IDS * (STREAM_ID_MAX_LEN + 1)];
    size_t len = 0;
    for (size_t k = 0; k < MAX_IDS; k++) {
        if (k > 0)
            buf[len++] = ',';
        len += stream_id_format(ids[k], buf + len);
    }
    struct stream_id out[MAX_IDS];
    CHECK_INT(stream_id_parse_list(buf, out, MAX_IDS), 0);
    for (size_t k = 0; k < MAX_IDS; k++)
        CHECK_INT(stream_id_cmp(out[k], ids[k]), 0);
}

int main(void) {
    test_parse();
    test_cmp();
    test_format();
    test_parse_list();
    test_list_round_trip();
    return check_report("streamid");
}
