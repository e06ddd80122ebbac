/* route: one table per function, one row per case. route_match and the slow topic rows run
 * each in a child process: a row that crashes or hangs the matcher is reported as that row's
 * failure instead of hiding every row after it. */
#include "route.h"

#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "forked.h"

#define X8 "xxxxxxxx"
#define X32 X8 X8 X8 X8
#define X128 X32 X32 X32 X32                  /* PARAM_MAX_LEN */
#define N31 "abcdefghijklmnopqrstuvwxyz01234" /* longest placeholder name */

/* Builds params from "name=value,name=value" (NULL or "" for none). */
static void params_from(struct route_params *p, const char *spec) {
    memset(p, 0, sizeof(*p));
    while (spec && *spec) {
        size_t item = strcspn(spec, ","), eq = strcspn(spec, "=");
        memcpy(p->p[p->n].name, spec, eq);
        memcpy(p->p[p->n].value, spec + eq + 1, item - eq - 1);
        p->n++;
        spec += item + (spec[item] == ',');
    }
}

/* The inverse, for comparing with a row. */
static void params_format(const struct route_params *p, char *out, size_t cap) {
    size_t len = 0;
    out[0] = '\0';
    for (size_t i = 0; i < p->n && i < ROUTE_MAX_PARAMS; i++)
        len += (size_t)snprintf(out + len, cap - len, "%s%s=%s", i ? "," : "", p->p[i].name,
                                p->p[i].value);
}

/* --- route_name_valid --------------------------------------------------------------------- */

struct name_row {
    const char *s;
    size_t n; /* 0: strlen(s) */
    bool valid;
};

// clang-format off
static const struct name_row name_rows[] = {
    {"orders", 0, true},
    {"a-b_c.d:e", 0, true},
    {"A9z", 0, true},
    {"x", 0, true},
    {".", 0, true},
    {"a.", 0, true},
    {".a", 0, true},
    {"a.b.c", 0, true},
    {"::", 0, true},
    {X128, 0, true},
    {"", 0, false},
    {X128 "x", 0, false},
    {"..", 0, false},
    {"a..b", 0, false},
    {"...", 0, false},
    {"a..", 0, false},
    {"a*b", 0, false},
    {"a?b", 0, false},
    {"[x]", 0, false},
    {"a\\b", 0, false},
    {"a^b", 0, false},
    {"a+b", 0, false},
    {"a#b", 0, false},
    {"a/b", 0, false},
    {"a b", 0, false},
    {"a%2Fb", 0, false},
    {"a,b", 0, false},
    {"{a}", 0, false},
    {"\xC3\xA9", 0, false},
    {"a\tb", 0, false},
    {"a\0b", 3, false},
    {"ab\0", 3, false},
    {"ab\0", 2, true}, /* only the first n bytes count */
};
// clang-format on

static void test_name_valid(void) {
    for (size_t i = 0; i < sizeof(name_rows) / sizeof(name_rows[0]); i++) {
        const struct name_row *r = &name_rows[i];
        size_t n = r->n ? r->n : strlen(r->s);
        bool got = route_name_valid(r->s, n);
        CHECK(got == r->valid);
        if (got != r->valid)
            fprintf(stderr, "  in name row %zu \"%.20s\" (%zu bytes)\n", i, r->s, n);
    }
}

/* --- route_template_check ------------------------------------------------------------------ */

#define ERR_PLACEHOLDER "a placeholder must be {name} with letters, digits or '_' (31 at most)"
#define ERR_ADJACENT "two placeholders need a separator between them"
#define ERR_CLOSE "'}' without '{'"
#define ERR_MANY "too many placeholders"

struct template_row {
    const char *tmpl;
    const char *err; /* NULL: valid */
};

// clang-format off
static const struct template_row template_rows[] = {
    {"/events/{channel}", NULL},
    {"", NULL},
    {"plain", NULL},
    {"orders.{customer}", NULL},
    {"{a}.{b}", NULL},
    {"{a}x{b}", NULL},
    {"{A_1}", NULL},
    {"{" N31 "}", NULL},
    {"{a}.{b}.{c}.{d}.{e}.{f}.{g}.{h}", NULL},
    {"{" N31 "x}", ERR_PLACEHOLDER},
    {"{}", ERR_PLACEHOLDER},
    {"{a", ERR_PLACEHOLDER},
    {"x{", ERR_PLACEHOLDER},
    {"{a-b}", ERR_PLACEHOLDER},
    {"{a.b}", ERR_PLACEHOLDER},
    {"{a b}", ERR_PLACEHOLDER},
    {"{{a}}", ERR_PLACEHOLDER},
    {"{a{b}}", ERR_PLACEHOLDER},
    {"{*}", ERR_PLACEHOLDER},
    {"a}", ERR_CLOSE},
    {"}", ERR_CLOSE},
    {"{a}}", ERR_CLOSE},
    {"{a}{b}", ERR_ADJACENT},
    {"x.{a}{b}.y", ERR_ADJACENT},
    {"{a}.{b}.{c}.{d}.{e}.{f}.{g}.{h}.{i}", ERR_MANY},
};
// clang-format on

static void test_template_check(void) {
    for (size_t i = 0; i < sizeof(template_rows) / sizeof(template_rows[0]); i++) {
        const struct template_row *r = &template_rows[i];
        int before = check_failures;
        const char *err = route_template_check(r->tmpl);
        CHECK_STR(err, r->err);
        if (check_failures != before)
            fprintf(stderr, "  in template \"%s\"\n", r->tmpl);
    }
}

/* --- route_match -------------------------------------------------------------------------- */

struct match_row {
    const char *tmpl, *path;
    enum route_match_result want;
    const char *params; /* "name=value,..." on ROUTE_MATCH */
};

// clang-format off
static const struct match_row match_rows[] = {
    {"/events/{channel}", "/events/orders", ROUTE_MATCH, "channel=orders"},
    {"/events/{channel}", "/events/a.b:c-d_e", ROUTE_MATCH, "channel=a.b:c-d_e"},
    {"/events/{channel}", "/events/.", ROUTE_MATCH, "channel=."},
    {"/events/{channel}", "/events/" X128, ROUTE_MATCH, "channel=" X128},
    {"/events/{channel}", "/events/", ROUTE_NO_MATCH, NULL},
    {"/events/{channel}", "/events", ROUTE_NO_MATCH, NULL},
    {"/events/{channel}", "/events/orders/", ROUTE_NO_MATCH, NULL},
    {"/events/{channel}", "/events//orders", ROUTE_NO_MATCH, NULL},
    {"/events/{channel}", "/events/a/b", ROUTE_NO_MATCH, NULL},
    {"/events/{channel}", "/Events/orders", ROUTE_NO_MATCH, NULL},
    {"/events/{channel}", "/eventsx/orders", ROUTE_NO_MATCH, NULL},
    {"/events/{channel}", "events/orders", ROUTE_NO_MATCH, NULL},
    {"/events/{channel}", "", ROUTE_NO_MATCH, NULL},
    {"/events/{channel}", "/events/a*b", ROUTE_BAD_PARAM, NULL},
    {"/events/{channel}", "/events/a?b", ROUTE_BAD_PARAM, NULL},
    {"/events/{channel}", "/events/[x]", ROUTE_BAD_PARAM, NULL},
    {"/events/{channel}", "/events/..", ROUTE_BAD_PARAM, NULL},
    {"/events/{channel}", "/events/a..b", ROUTE_BAD_PARAM, NULL},
    {"/events/{channel}", "/events/a+b", ROUTE_BAD_PARAM, NULL},
    {"/events/{channel}", "/events/a#b", ROUTE_BAD_PARAM, NULL},
    {"/events/{channel}", "/events/a%2Fb", ROUTE_BAD_PARAM, NULL},
    {"/events/{channel}", "/events/a b", ROUTE_BAD_PARAM, NULL},
    {"/events/{channel}", "/events/" X128 "x", ROUTE_BAD_PARAM, NULL},
    {"/events", "/events", ROUTE_MATCH, ""},
    {"/events", "/events/", ROUTE_NO_MATCH, NULL},
    {"/events", "/event", ROUTE_NO_MATCH, NULL},
    {"/events", "/eventsx", ROUTE_NO_MATCH, NULL},
    {"/events", "/", ROUTE_NO_MATCH, NULL},
    {"/a/{x}/b/{y}", "/a/1/b/2", ROUTE_MATCH, "x=1,y=2"},
    {"/a/{x}/b/{y}", "/a/1/c/2", ROUTE_NO_MATCH, NULL},
    {"/a/{x}/b/{y}", "/a/*/b/2", ROUTE_BAD_PARAM, NULL},
    {"/a/{x}/b/{y}", "/a/1/b/..", ROUTE_BAD_PARAM, NULL},
    {"/a/{x}/b/{y}", "/a/*/c/2", ROUTE_NO_MATCH, NULL}, /* a bad value never beats no match */
    {"/a/{x}/b/{y}", "/a/*/b", ROUTE_NO_MATCH, NULL},
    {"/{a}/{b}/{c}/{d}/{e}/{f}/{g}/{h}", "/1/2/3/4/5/6/7/8", ROUTE_MATCH,
     "a=1,b=2,c=3,d=4,e=5,f=6,g=7,h=8"},
    {"/a/{x}.json", "/a/1.json", ROUTE_NO_MATCH, NULL}, /* a placeholder is a whole segment */
    /* A template with an empty segment (config accepts "/", "/events/", "/a//b") must match
     * only a path with the same empty segment, never treat it as a placeholder. */
    {"/", "/", ROUTE_MATCH, ""},
    {"/", "/x", ROUTE_NO_MATCH, NULL},
    {"/events/", "/events/", ROUTE_MATCH, ""},
    {"/events/", "/events/x", ROUTE_NO_MATCH, NULL},
    {"/a//b", "/a//b", ROUTE_MATCH, ""},
    {"/a//b", "/a/x/b", ROUTE_NO_MATCH, NULL},
};
// clang-format on

static void match_one(const void *arg) {
    const struct match_row *r = arg;
    struct route_params p;
    char got[1024];
    int before = check_failures;
    memset(&p, 0x5A, sizeof(p));
    enum route_match_result res = route_match(r->tmpl, r->path, &p);
    CHECK_INT(res, r->want);
    if (res == ROUTE_MATCH && r->want == ROUTE_MATCH) {
        params_format(&p, got, sizeof(got));
        CHECK_MEM(got, strlen(got), r->params);
        for (size_t i = 0; i < p.n && i < ROUTE_MAX_PARAMS; i++)
            CHECK(route_name_valid(p.p[i].value, strlen(p.p[i].value)));
    }
    if (check_failures != before)
        fprintf(stderr, "  in route_match(\"%s\", \"%s\")\n", r->tmpl, r->path);
}

static void test_match(void) {
    for (size_t i = 0; i < sizeof(match_rows) / sizeof(match_rows[0]); i++)
        forked_run(match_rows[i].path, match_one, &match_rows[i], 10);
}

/* --- route_expand ------------------------------------------------------------------------- */

struct expand_row {
    const char *tmpl;
    const char *params; /* NULL: no params struct at all */
    size_t cap;
    int want;
    const char *out; /* on success */
};

// clang-format off
static const struct expand_row expand_rows[] = {
    {"{channel}", "channel=orders", 64, 6, "orders"},
    {"orders.{customer}", "customer=42", 64, 9, "orders.42"},
    {"{a}.{b}", "a=x,b=y", 64, 3, "x.y"},
    {"{b}.{a}.{b}", "a=x,b=y", 64, 5, "y.x.y"},
    {"plain", "", 64, 5, "plain"},
    {"plain", NULL, 64, 5, "plain"},
    {"", "", 64, 0, ""},
    {"{a", "a=x", 64, 2, "{a"},
    {"{missing}", "a=x", 64, -1, NULL},
    {"{a}", "", 64, -1, NULL},
    {"{a}", NULL, 64, -1, NULL},
    {"{ab}", "a=x", 64, -1, NULL},
    {"{a}", "ab=x", 64, -1, NULL},
    {"orders.{a}", "a=xyz", 11, 10, "orders.xyz"},
    {"orders.{a}", "a=xyz", 10, -1, NULL},
    {"orders.{a}", "a=xyz", 7, -1, NULL},
    {"ab", "", 3, 2, "ab"},
    {"ab", "", 2, -1, NULL},
    {"", "", 1, 0, ""},
    {"", "", 0, -1, NULL}, /* not even room for the NUL */
};
// clang-format on

static void test_expand(void) {
    for (size_t i = 0; i < sizeof(expand_rows) / sizeof(expand_rows[0]); i++) {
        const struct expand_row *r = &expand_rows[i];
        struct route_params p;
        char out[80];
        int before = check_failures;
        params_from(&p, r->params);
        memset(out, '#', sizeof(out));
        int n = route_expand(r->tmpl, r->params ? &p : NULL, out, r->cap);
        CHECK_INT(n, r->want);
        if (n >= 0 && r->want >= 0)
            CHECK_MEM(out, strlen(out), r->out);
        CHECK(out[r->cap] == '#'); /* nothing written past cap */
        if (check_failures != before)
            fprintf(stderr, "  in route_expand(\"%s\", cap %zu)\n", r->tmpl, r->cap);
    }
}

/* --- route_topic_allowed ------------------------------------------------------------------ */

struct topic_row {
    const char *tmpl;
    const char *params;
    const char *topic;
    bool want;
};

// clang-format off
static const struct topic_row topic_rows[] = {
    {"{channel}", NULL, "orders", true},
    {"{channel}", NULL, "orders.eu:1", true},
    {"{channel}", NULL, X128, true},
    {"{channel}", NULL, X128 "x", false},
    {"{channel}", NULL, "", false},
    {"{channel}", NULL, "a..b", false},
    {"{channel}", NULL, "a*b", false},
    {"{channel}", NULL, "a?b", false},
    {"{channel}", NULL, "[ab]", false},
    {"{channel}", NULL, "a+b", false},
    {"{channel}", NULL, "a#b", false},
    {"{channel}", NULL, "a/b", false},
    {"{channel}", NULL, "a b", false},
    {"{channel}", NULL, "*", false},
    {"orders.{customer}", "customer=42", "orders.42", true},
    {"orders.{customer}", "customer=42", "orders.43", false},
    {"orders.{customer}", "customer=42", "orders.4", false},
    {"orders.{customer}", "customer=42", "orders.420", false},
    {"orders.{customer}", "customer=42", "orders.42.x", false},
    {"orders.{customer}", "customer=42", "orders.*", false},
    {"orders.{id}", NULL, "orders.7", true},
    {"orders.{id}", NULL, "orders.7.8", true}, /* a free placeholder is any valid name */
    {"orders.{id}", NULL, "orders.", false},
    {"orders.{id}", NULL, "order.7", false},
    {"orders.{id}", NULL, "orders", false},
    {"orders.{id}", NULL, "xorders.7", false},
    {"orders.{id}", NULL, "orders.?", false},
    {"{a}.{b}", NULL, "x.y", true},
    {"{a}.{b}", NULL, "x.y.z", true},
    {"{a}.{b}", NULL, "x", false},
    {"{a}.{b}", NULL, "x.", false},
    {"{a}.{b}", NULL, ".y", false},
    {"{a}.{b}", "a=x", "x.y", true},
    {"{a}.{b}", "a=x", "z.y", false},
    {"{a}.{b}", "a=x", "x.y.z", true},
    {"{a}.{b}", "a=x,b=y", "x.y", true},
    {"{a}.{b}", "a=x,b=y", "x.z", false},
    {"{a}.{b}", "b=y", "x.y.z", false},
    {"t.{a}:{b}.x", NULL, "t.1:2.x", true},
    {"t.{a}:{b}.x", NULL, "t.1:2.y", false},
    {"{a}-{b}-{c}", NULL, "1-2-3", true},
    {"{a}-{b}-{c}", NULL, "1-2", false},
    {"fixed", NULL, "fixed", true},
    {"fixed", NULL, "fixedx", false},
    {"fixed", NULL, "fixe", false},
};
// clang-format on

static void topic_one(const void *arg) {
    const struct topic_row *r = arg;
    struct route_params p;
    params_from(&p, r->params);
    bool got = route_topic_allowed(r->tmpl, r->params ? &p : NULL, r->topic);
    CHECK(got == r->want);
    if (got != r->want)
        fprintf(stderr, "  in route_topic_allowed(\"%s\", %s, \"%.40s\")\n", r->tmpl,
                r->params ? r->params : "NULL", r->topic);
}

/* A client names the topic, so matching must stay fast whatever it sends. The backtracking
 * matcher tries every split of the topic between free placeholders: with the eight a template
 * may hold and a 128-byte topic that almost fits, that is about C(127, 8) paths. */
#define A16 "aaaaaaaaaaaaaaaa"
#define DOTS16 "a.a.a.a.a.a.a.a."
static const struct topic_row slow_topic_rows[] = {
    {"{a}a{b}a{c}a{d}a{e}a{f}a{g}a{h}x", NULL, A16 A16 A16 A16 A16 A16 A16 A16, false},
    {"{a}.{b}.{c}.{d}.{e}.{f}.{g}.{h}x", NULL,
     DOTS16 DOTS16 DOTS16 DOTS16 DOTS16 DOTS16 DOTS16 "a.a.a.a.a.a.a.a", false},
};

static void test_topic_allowed(void) {
    for (size_t i = 0; i < sizeof(topic_rows) / sizeof(topic_rows[0]); i++)
        topic_one(&topic_rows[i]);
    for (size_t i = 0; i < sizeof(slow_topic_rows) / sizeof(slow_topic_rows[0]); i++)
        forked_run(slow_topic_rows[i].tmpl, topic_one, &slow_topic_rows[i], 2);
}

/* --- route_template_params_in, route_template_has_params ---------------------------------- */

struct params_in_row {
    const char *tmpl, *path;
    bool want;
};

static const struct params_in_row params_in_rows[] = {
    {"{channel}", "/events/{channel}", true},
    {"orders.{c}", "/o/{c}", true},
    {"{a}.{b}", "/{a}/{b}", true},
    {"{b}.{a}", "/x/{a}/y/{b}", true},
    {"plain", "/x", true},
    {"plain", "/x/{a}", true},
    {"orders.{d}", "/o/{c}", false},
    {"{a}.{b}", "/{a}", false},
    {"{ch}", "/events/{channel}", false},
    {"{channel}", "/events/{ch}", false},
    {"{channel}", "/events/channel", false},
    {"{a}", "", false},
};

struct has_params_row {
    const char *tmpl;
    bool want;
};

static const struct has_params_row has_params_rows[] = {
    {"", false},
    {"/events", false},
    {"/events/{channel}", true},
    {"{a}", true},
};

static void test_params_in(void) {
    for (size_t i = 0; i < sizeof(params_in_rows) / sizeof(params_in_rows[0]); i++) {
        const struct params_in_row *r = &params_in_rows[i];
        bool got = route_template_params_in(r->tmpl, r->path);
        CHECK(got == r->want);
        if (got != r->want)
            fprintf(stderr, "  in route_template_params_in(\"%s\", \"%s\")\n", r->tmpl, r->path);
    }
    for (size_t i = 0; i < sizeof(has_params_rows) / sizeof(has_params_rows[0]); i++) {
        const struct has_params_row *r = &has_params_rows[i];
        bool got = route_template_has_params(r->tmpl);
        CHECK(got == r->want);
        if (got != r->want)
            fprintf(stderr, "  in route_template_has_params(\"%s\")\n", r->tmpl);
    }
}

/* --- MQTT: topics a client names, and filter templates ------------------------------------ */

// clang-format off
static const struct topic_row mqtt_topic_rows[] = {
    {"sensors/{room}/temperature", NULL, "sensors/kitchen/temperature", true},
    {"sensors/{room}/temperature", NULL, "sensors/kitchen.1/temperature", true},
    {"sensors/{room}/temperature", NULL, "sensors/a/b/temperature", false}, /* one level */
    {"sensors/{room}/temperature", NULL, "sensors/+/temperature", false},
    {"sensors/{room}/temperature", NULL, "sensors/#", false},
    {"sensors/{room}/temperature", NULL, "sensors//temperature", false},
    {"sensors/{room}/temperature", NULL, "sensors/../temperature", false},
    {"sensors/{room}/temperature", NULL, "sensors/kitchen/temperature/", false},
    {"sensors/{room}/temperature", "room=hall", "sensors/hall/temperature", true},
    {"sensors/{room}/temperature", "room=hall", "sensors/attic/temperature", false},
    {"{a}/{b}", NULL, "x/y", true},
    {"{a}/{b}", NULL, "x/y/z", false},
    {"{a}/{b}", NULL, "x", false},
    {"{a}", NULL, "/x", false},
    {"{a}", NULL, "x/", false},
    {"{a}", NULL, "$SYS", false},
    {"doors/{door}", NULL, "doors/front", true},
    {"doors/{door}", NULL, "doors/front/back", false},
    {"{a}", NULL, X128, true},
    {"{a}", NULL, X128 "x", false},
};

static const struct {
    const char *tmpl, *err; /* err NULL: accepted */
} filter_rows[] = {
    {"sensors/{room}/temperature", NULL},
    {"sensors/+/temperature", NULL},
    {"alerts/#", NULL},
    {"#", NULL},
    {"+", NULL},
    {"+/+/#", NULL},
    {"a//b", NULL},
    {"/a", NULL},
    {"room-{room}/t", NULL},
    {"sensors/+x/t", "+ and # stand for whole topic levels (sensors/+/temp, alerts/#)"},
    {"sensors/x+/t", "+ and # stand for whole topic levels (sensors/+/temp, alerts/#)"},
    {"a/b#", "+ and # stand for whole topic levels (sensors/+/temp, alerts/#)"},
    {"a/##", "+ and # stand for whole topic levels (sensors/+/temp, alerts/#)"},
    {"a/#/b", "# is the last level of a topic filter"},
    {"#/", "# is the last level of a topic filter"},
};
// clang-format on

static void test_mqtt(void) {
    for (size_t i = 0; i < sizeof(mqtt_topic_rows) / sizeof(mqtt_topic_rows[0]); i++) {
        const struct topic_row *r = &mqtt_topic_rows[i];
        struct route_params p;
        params_from(&p, r->params);
        bool got = route_mqtt_topic_allowed(r->tmpl, r->params ? &p : NULL, r->topic);
        CHECK(got == r->want);
        if (got != r->want)
            fprintf(stderr, "  in route_mqtt_topic_allowed(\"%s\", %s, \"%.40s\")\n", r->tmpl,
                    r->params ? r->params : "NULL", r->topic);
    }
    for (size_t i = 0; i < sizeof(filter_rows) / sizeof(filter_rows[0]); i++) {
        const char *err = route_mqtt_filter_check(filter_rows[i].tmpl);
        CHECK_STR(err, filter_rows[i].err);
        if ((err == NULL) != (filter_rows[i].err == NULL))
            fprintf(stderr, "  in route_mqtt_filter_check(\"%s\")\n", filter_rows[i].tmpl);
    }
}

/* Query templates: route_query_check on the part after '?', route_match_query on a request's
 * decoded query parameters (given here as "key=value&..." pairs). */
static const char *pairs_get(void *arg, const char *key) {
    static char value[256];
    const char *q = arg;
    size_t klen = strlen(key);
    for (const char *p = q; *p;) {
        size_t len = strcspn(p, "&");
        if (len > klen && strncmp(p, key, klen) == 0 && p[klen] == '=') {
            snprintf(value, sizeof(value), "%.*s", (int)(len - klen - 1), p + klen + 1);
            return value;
        }
        p += len + (p[len] == '&');
    }
    return NULL;
}

static void test_query(void) {
    struct {
        const char *query, *path;
        bool ok;
    } checks[] = {
        {"appId={appId}", "/event", true},
        {"appId={appId}&page={page}", "/event/{kind}", true},
        {"appId={kind}", "/event/{kind}", false}, /* also a path parameter */
        {"a={x}&b={x}", "/e", false},             /* twice */
        {"appId=1", "/e", false},                 /* not a placeholder */
        {"appId={appId}x", "/e", false},          /* not a whole value */
        {"={x}", "/e", false},                    /* no key */
        {"topic={t}", "/e", false},               /* the bridge's own */
        {"access_token={t}", "/e", false},
        {"lastEventId={t}", "/e", false},
        {"a b={x}", "/e", false},
        {"a={x}&", "/e", false},
        {"a={a}&b={b}&c={c}&d={d}&e={e}&f={f}&g={g}&h={h}", "/e", true},
        {"a={a}&b={b}&c={c}&d={d}&e={e}&f={f}&g={g}&h={h}", "/e/{i}", false}, /* 9 in all */
    };
    for (size_t i = 0; i < sizeof(checks) / sizeof(checks[0]); i++) {
        const char *err = route_query_check(checks[i].query, checks[i].path);
        if ((err == NULL) != checks[i].ok)
            fprintf(stderr, "query %s on %s: %s\n", checks[i].query, checks[i].path,
                    err ? err : "accepted");
        CHECK((err == NULL) == checks[i].ok);
    }
    struct {
        const char *query, *request;
        enum route_match_result want;
        const char *missing, *value; /* the first parameter added, when it matches */
    } matches[] = {
        {"appId={appId}", "appId=10003&page=1", ROUTE_MATCH, NULL, "10003"},
        {"appId={appId}&page={page}", "page=1", ROUTE_NO_MATCH, "appId", NULL},
        {"appId={appId}", "appId=", ROUTE_NO_MATCH, "appId", NULL},
        {"appId={appId}", "appid=1", ROUTE_NO_MATCH, "appId", NULL}, /* keys are exact */
        {"appId={appId}", "appId=a*b", ROUTE_BAD_PARAM, NULL, NULL},
        {"appId={appId}", "appId=..", ROUTE_BAD_PARAM, NULL, NULL},
    };
    for (size_t i = 0; i < sizeof(matches) / sizeof(matches[0]); i++) {
        struct route_params p = {0};
        char missing[32] = "";
        enum route_match_result m = route_match_query(
            matches[i].query, pairs_get, (void *)matches[i].request, &p, missing, sizeof(missing));
        CHECK_INT(m, matches[i].want);
        if (matches[i].missing)
            CHECK_MEM(missing, strlen(missing), matches[i].missing);
        if (matches[i].value) {
            CHECK_INT(p.n, 1);
            CHECK_MEM(p.p[0].value, strlen(p.p[0].value), matches[i].value);
            CHECK_MEM(p.p[0].name, strlen(p.p[0].name), "appId");
        }
    }
}

int main(void) {
    test_query();
    test_name_valid();
    test_template_check();
    test_match();
    test_expand();
    test_topic_allowed();
    test_params_in();
    test_mqtt();
    return check_report("route");
}
