/* config: defaults, INI files (the configs directory, relative to tests/unit where ctest runs
 * this), single settings, the environment, and the duration and size parsers. One row per case.
 * Every error line is compared whole, "file:line: message", since that line is all an operator
 * sees. Rows that load a file or parse a size run in a child process each: a row that crashes
 * the loader is reported as that row's failure instead of ending the test. */
#include "config.h"

#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "check.h"
#include "defaults.h"
#include "forked.h"

#define MAX_LINES 8

#define ERR_LISTEN "expected host:port with a port from 0 to 65535"
#define ERR_DURATION "expected a duration such as 500ms, 15s or 2m (0 to 24h)"
#define ERR_SIZE "expected a size such as 4096, 64KiB or 1MiB, within its bounds"
#define ERR_COUNT "expected a whole number within its bounds"
#define ERR_HEARTBEAT "heartbeat must be 0 (off) or at least 100ms"
#define ERR_BOOL "expected true or false"
#define ERR_ORIGIN "an origin is *, or scheme://host[:port] with http or https"
#define ERR_LEVEL "expected debug, info, warn or error"
#define ERR_REDIS "expected redis://[:password@]host[:port][/db] or sentinel://host:port,.../master"
#define ERR_MQTT_LEVEL "+ and # stand for whole topic levels (sensors/+/temp, alerts/#)"
#define ERR_SECTION "(expected [bridge], [mqtt], [auth] or [route NAME])"
#define ERR_PLACEHOLDER "a placeholder must be {name} with letters, digits or '_' (31 at most)"

/* The error callbacks take no argument, so the lines they print are collected here. */
static struct {
    char *line[MAX_LINES];
    int n;
} errs;

static void collect(const char *line) {
    if (errs.n < MAX_LINES)
        errs.line[errs.n] = strdup(line);
    errs.n++;
}

static void errs_clear(void) {
    for (int i = 0; i < errs.n && i < MAX_LINES; i++)
        free(errs.line[i]);
    memset(&errs, 0, sizeof(errs));
}

/* Compares the collected lines with want (ends at the first NULL), then clears them. A want
 * ending in '*' is a prefix: for errors whose wording is not written yet, only where they
 * point is. */
static void check_lines(const char *what, const char *const *want) {
    int n = 0;
    while (n < MAX_LINES && want[n] != NULL)
        n++;
    CHECK_INT(errs.n, n);
    for (int i = 0; i < errs.n && i < MAX_LINES; i++) {
        size_t wl = i < n ? strlen(want[i]) : 0;
        if (i < n && wl > 0 && want[i][wl - 1] == '*') {
            check_count++;
            if (strncmp(errs.line[i], want[i], wl - 1) != 0) {
                check_failures++;
                fprintf(stderr, "%s error \"%s\", want it to start \"%.*s\"\n", what, errs.line[i],
                        (int)(wl - 1), want[i]);
            }
        } else if (i < n) {
            CHECK_STR(errs.line[i], want[i]);
        } else {
            check_count++;
            check_failures++;
            fprintf(stderr, "unexpected %s error: %s\n", what, errs.line[i]);
        }
    }
    errs_clear();
}

/* The row of a config_set key: [bridge] names, mqtt_NAME for [mqtt]. */
static const struct config_setting *row_of(const char *key) {
    return strncmp(key, "mqtt_", 5) == 0   ? config_setting_lookup("mqtt", key + 5)
           : strncmp(key, "auth_", 5) == 0 ? config_setting_lookup("auth", key + 5)
                                           : config_setting_lookup("bridge", key);
}

/* A setting as text, read through its row, so rows can say what a setting became: numbers in
 * decimal (durations in the field's unit), "true"/"false", strings as they are ("(none)" when
 * unset), "host port" for listen, origins joined by spaces. */
static void describe(const struct config *c, const char *key, char *out, size_t cap) {
    const struct config_setting *s = row_of(key);
    const char *p = s ? (const char *)c + s->offset : NULL;
    if (s == NULL) {
        snprintf(out, cap, "(no such key)");
    } else if (s->type == CONFIG_STRING) {
        const char *v = *(char *const *)p;
        snprintf(out, cap, "%s", v ? v : "(none)");
    } else if (s->type == CONFIG_BOOL) {
        snprintf(out, cap, "%s", *(const bool *)p ? "true" : "false");
    } else if (s->type == CONFIG_DURATION) {
        snprintf(out, cap, "%u", *(const unsigned *)p);
    } else if (s->type == CONFIG_SIZE || s->type == CONFIG_COUNT) {
        snprintf(out, cap, "%zu", *(const size_t *)p);
    } else if (s->type == CONFIG_ENUM) {
        snprintf(out, cap, "%d", *(const int *)p);
    } else if (!strcmp(key, "listen")) {
        snprintf(out, cap, "%s %d", c->listen_host ? c->listen_host : "(none)", c->listen_port);
    } else if (!strcmp(key, "workers")) {
        snprintf(out, cap, "%zu", c->workers); /* 0: auto */
    } else if (!strcmp(key, "cors_origins")) {
        size_t len = 0;
        out[0] = '\0';
        for (size_t i = 0; i < c->ncors_origins; i++)
            len += (size_t)snprintf(out + len, cap - len, "%s%s", i ? " " : "", c->cors_origins[i]);
    } else {
        snprintf(out, cap, "(custom setting %s: teach describe)", key);
    }
}

/* --- config_new ----------------------------------------------------------------------------- */

static void check_rule(const struct field_rule *r, enum field_src src, const char *arg,
                       int segment) {
    CHECK_INT(r->src, src);
    CHECK_STR(r->arg, arg);
    CHECK_INT(r->segment, segment);
}

static void test_defaults(void) {
    struct config *c = config_new();
    struct {
        const char *key, *want;
    } rows[] = {
        {"listen", "0.0.0.0 8080"},
        {"redis", "redis://127.0.0.1:6379"},
        {"close_event", "close"},
        {"log_level", "info"},
        {"cors_origins", ""},
        {"cors_credentials", "false"},
        {"reuse_port", "false"},
        {"journal_prefix", "sse:journal:"},
        {"gap_event", "gap"},
        {"static_dir", "(none)"},
        {"mqtt_url", "mqtt://127.0.0.1:1883"},
        {"mqtt_client_id", "(none)"},
        {"mqtt_username", "(none)"},
        {"mqtt_password", "(none)"},
        {"mqtt_ca_file", "(none)"},
        {"mqtt_cert_file", "(none)"},
        {"mqtt_key_file", "(none)"},
        {"mqtt_clean_session", "false"},
    };
    struct {
        const char *key;
        unsigned long long want;
    } nums[] = {
        {"retry", 3000},
        {"heartbeat", 15000},
        {"max_clients", 10000},
        {"listen_backlog", 4096},
        {"max_topics", 32},
        {"client_buffer", 1024 * 1024},
        {"client_write_timeout", 30000},
        {"request_timeout", 10000},
        {"redis_probe_interval", 5000},
        {"redis_probe_timeout", 2000},
        {"max_pending_connections", 1024},
        {"client_socket_buffer", 256 * 1024},
        {"max_header_size", 8 * 1024},
        {"max_uri_size", 2048},
        {"max_body_size", 0},
        {"max_message_size", 512 * 1024},
        {"max_publish_size", 64 * 1024},
        {"shutdown_flush", 2000},
        {"linger", 2000},
        {"backoff_min", 100},
        {"backoff_max", 10000},
        {"journal", 1000},
        {"journal_linger", 60000},
        {"replay_batch", 500},
        {"replay_inflight", 32},
        {"mqtt_keepalive", 30},
        {"mqtt_qos", 1},
        {"mqtt_protocol", 311},
        {"mqtt_retained_max", 100},
    };
    char got[256], want[64];
    for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
        describe(c, rows[i].key, got, sizeof(got));
        CHECK_MEM(got, strlen(got), rows[i].want);
    }
    for (size_t i = 0; i < sizeof(nums) / sizeof(nums[0]); i++) {
        describe(c, nums[i].key, got, sizeof(got));
        snprintf(want, sizeof(want), "%llu", nums[i].want);
        CHECK_MEM(got, strlen(got), want);
        if (strcmp(got, want) != 0)
            fprintf(stderr, "  default of %s\n", nums[i].key);
    }

    const char *err;

    /* The two built-in routes. */
    CHECK(c->default_routes);
    CHECK_INT(c->nroutes, 2);
    if (c->nroutes == 2) {
        const struct route_cfg *r = &c->routes[0];
        CHECK_STR(r->name, "channel");
        CHECK_STR(r->path, "/events/{channel}");
        CHECK_INT(r->nchannels, 1);
        if (r->nchannels == 1)
            CHECK_STR(r->channels[0], "{channel}");
        CHECK_INT(r->npatterns, 0);
        CHECK_INT(r->ntopics, 0);
        CHECK(!r->pinned);
        check_rule(&r->rules.event, FIELD_NONE, NULL, 0);
        check_rule(&r->rules.id, FIELD_NONE, NULL, 0);
        check_rule(&r->rules.data, FIELD_PAYLOAD, NULL, 0);
        CHECK_STR(r->file, "(built-in)");

        r = &c->routes[1];
        CHECK_STR(r->name, "topics");
        CHECK_STR(r->path, "/events");
        CHECK_INT(r->nchannels, 0);
        CHECK_INT(r->npatterns, 0);
        CHECK_INT(r->ntopics, 1);
        if (r->ntopics == 1)
            CHECK_STR(r->topics[0], "{channel}");
        CHECK(!r->pinned);
        check_rule(&r->rules.event, FIELD_CHANNEL, NULL, 0);
        check_rule(&r->rules.id, FIELD_NONE, NULL, 0);
        check_rule(&r->rules.data, FIELD_PAYLOAD, NULL, 0);
    }
    CHECK_INT(config_validate(c, collect), 0);
    check_lines("validate", (const char *const[]){NULL});
    /* Validation gives the built-in routes the bridge-wide journal length. */
    for (size_t i = 0; i < c->nroutes; i++) {
        CHECK_INT(c->routes[i].journal, 1000);
        CHECK(route_is_journalled(&c->routes[i]));
        CHECK(!route_is_stream(&c->routes[i]));
    }
    config_free(c);

    /* journal = 0 turns that off. */
    c = config_new();
    err = config_set(c, "journal", "0");
    CHECK_STR(err, NULL);
    CHECK_INT(config_validate(c, collect), 0);
    check_lines("validate", (const char *const[]){NULL});
    for (size_t i = 0; i < c->nroutes; i++) {
        CHECK_INT(c->routes[i].journal, 0);
        CHECK(!route_is_journalled(&c->routes[i]));
    }
    config_free(c);
    config_free(NULL);
}

/* --- config_load_file --------------------------------------------------------------------- */

struct file_row {
    const char *path;
    const char *load[MAX_LINES];     /* what config_load_file prints, in order */
    const char *validate[MAX_LINES]; /* then what config_validate prints */
    void (*more)(const struct config *c);
};

static void check_setting(const struct config *c, const char *key, const char *want) {
    char got[256];
    describe(c, key, got, sizeof(got));
    CHECK_MEM(got, strlen(got), want);
}

static void check_good(const struct config *c) {
    static const struct {
        const char *key, *want;
    } rows[] = {
        {"listen", "127.0.0.1 9000"},
        {"redis", "redis://:secret@10.0.0.2:6380/2"},
        {"retry", "1500"},
        {"heartbeat", "20000"},
        {"close_event", "bye"},
        {"max_clients", "500"},
        {"max_topics", "8"},
        {"client_buffer", "262144"},
        {"client_write_timeout", "60000"},
        {"max_header_size", "16384"},
        {"max_uri_size", "4096"},
        {"max_body_size", "0"},
        {"max_message_size", "65536"},
        {"shutdown_flush", "5000"},
        {"linger", "0"},
        {"backoff_min", "250"},
        {"backoff_max", "60000"},
        {"cors_origins", "https://a.example http://b.example:8080"},
        {"cors_credentials", "true"},
        {"log_level", "debug"},
    };
    for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++)
        check_setting(c, rows[i].key, rows[i].want);

    CHECK(!c->default_routes);
    CHECK_INT(c->nroutes, 3);
    if (c->nroutes != 3)
        return;
    const struct route_cfg *r = &c->routes[0];
    CHECK_STR(r->name, "orders");
    CHECK_STR(r->path, "/orders/{customer}");
    CHECK_STR(r->file, "configs/good.ini");
    CHECK_INT(r->line, 25); /* its first setting */
    CHECK_INT(r->nchannels, 1);
    CHECK_INT(r->npatterns, 1);
    if (r->nchannels == 1 && r->npatterns == 1) {
        CHECK_STR(r->channels[0], "orders.{customer}");
        CHECK_STR(r->patterns[0], "orders.{customer}.*");
    }
    CHECK(!r->pinned);
    check_rule(&r->rules.event, FIELD_JSON, "type", 0);
    check_rule(&r->rules.id, FIELD_JSON, "meta.id", 0);
    check_rule(&r->rules.data, FIELD_JSON, "body", 0);

    r = &c->routes[1];
    CHECK_STR(r->name, "feed");
    CHECK_STR(r->path, "/feed");
    CHECK_INT(r->nchannels, 2);
    if (r->nchannels == 2) {
        CHECK_STR(r->channels[0], "news");
        CHECK_STR(r->channels[1], "alerts");
    }
    CHECK(r->pinned);
    check_rule(&r->rules.event, FIELD_FIXED, "update", 0);
    check_rule(&r->rules.data, FIELD_PAYLOAD, NULL, 0);

    r = &c->routes[2];
    CHECK_STR(r->name, "multi");
    CHECK_INT(r->ntopics, 1);
    if (r->ntopics == 1)
        CHECK_STR(r->topics[0], "t.{x}");
    check_rule(&r->rules.event, FIELD_CHANNEL, NULL, 2);
}

static void check_defaults_kept(const struct config *c) {
    CHECK(c->default_routes);
    CHECK_INT(c->nroutes, 2);
    check_setting(c, "listen", "0.0.0.0 8080");
}

static void check_bridge_only(const struct config *c) {
    CHECK(c->default_routes);
    CHECK_INT(c->nroutes, 2);
    check_setting(c, "listen", "0.0.0.0 9");
}

/* A bad line is skipped: the settings around it still apply, the bad one keeps its default. */
static void check_unknown_section(const struct config *c) {
    check_setting(c, "retry", "1000");
    check_setting(c, "listen", "0.0.0.0 8080");
}

static void check_no_section(const struct config *c) {
    check_setting(c, "retry", "2000");
    check_setting(c, "listen", "0.0.0.0 8080");
}

static void check_bad_duration(const struct config *c) {
    check_setting(c, "heartbeat", "15000");
    check_setting(c, "retry", "3000");
    check_setting(c, "shutdown_flush", "1000");
}

static void check_bad_size(const struct config *c) {
    check_setting(c, "client_buffer", "1048576");
    check_setting(c, "max_header_size", "2048");
}

static void check_bad_rule(const struct config *c) {
    CHECK_INT(c->nroutes, 1);
    if (c->nroutes == 1) {
        check_rule(&c->routes[0].rules.event, FIELD_NONE, NULL, 0);
        check_rule(&c->routes[0].rules.id, FIELD_NONE, NULL, 0);
        check_rule(&c->routes[0].rules.data, FIELD_PAYLOAD, NULL, 0);
    }
}

static void check_long_line(const struct config *c) {
    check_setting(c, "close_event", "close");
    check_setting(c, "retry", "1000");
    check_setting(c, "log_level", "warn");
}

/* The line after the one holding NUL is read, not skipped as the rest of a long line. */
static void check_nul_byte(const struct config *c) {
    check_setting(c, "log_level", "warn");
    check_setting(c, "linger", "5000");
}

static void check_at_limit(const struct config *c) {
    CHECK_INT(strlen(c->close_event), CONFIG_MAX_LINE - 2 - strlen("close_event = "));
    check_setting(c, "retry", "1000");
}

/* The duplicate's keys are checked and dropped: the first definition stands. */
static void check_dup_route(const struct config *c) {
    CHECK_INT(c->nroutes, 2);
    CHECK_STR(c->routes[0].path, "/a");
}

static const struct route_cfg *route_named(const struct config *c, const char *name) {
    for (size_t i = 0; i < c->nroutes; i++) {
        if (strcmp(c->routes[i].name, name) == 0)
            return &c->routes[i];
    }
    return NULL;
}

/* After validation: stream routes read their event name from the entry's "event" field unless
 * the route names one; journal settings land on their route. */
static void check_streams(const struct config *c) {
    const struct route_cfg *ok = route_named(c, "ok"), *sp = route_named(c, "sp");
    const struct route_cfg *both = route_named(c, "both"), *bad = route_named(c, "bad");
    CHECK(ok && sp && both && bad);
    if (!(ok && sp && both && bad))
        return;
    CHECK(route_is_stream(ok));
    CHECK(route_is_journalled(ok));
    CHECK_INT(ok->nstreams, 1);
    if (ok->nstreams == 1)
        CHECK_STR(ok->streams[0], "ok.{id}");
    check_rule(&ok->rules.event, FIELD_ENTRY, "event", 0);
    check_rule(&ok->rules.data, FIELD_ENTRY, "body", 0);
    check_rule(&sp->rules.event, FIELD_FIXED, "e", 0);
    CHECK(!route_is_stream(both));
    CHECK(route_is_journalled(both));
    CHECK_INT(both->journal, 100);
    CHECK_INT(both->journal_age_ms, 3600000);
    CHECK(!route_is_journalled(bad));
}

static void check_mqtt(const struct config *c) {
    CHECK_STR(c->mqtt_url, "mqtts://bridge:pw@broker.example:8884");
    CHECK_STR(c->mqtt_client_id, "bridge-1");
    CHECK_INT(c->mqtt_keepalive_s, 20);
    CHECK_INT(c->mqtt_qos, 0);
    CHECK(c->mqtt_clean_session);
    CHECK_INT(c->mqtt_protocol, 311);
    CHECK_INT(c->mqtt_retained_max, 5);
    CHECK(config_uses_mqtt(c));
    const struct route_cfg *rooms = route_named(c, "rooms"), *pick = route_named(c, "pick");
    CHECK(rooms && pick);
    if (!(rooms && pick))
        return;
    CHECK(route_is_mqtt(rooms) && route_is_mqtt(pick));
    CHECK_INT(rooms->nmqtt_topics, 2);
    if (rooms->nmqtt_topics == 2) {
        CHECK_STR(rooms->mqtt_topics[0], "sensors/{room}/temperature");
        CHECK_STR(rooms->mqtt_topics[1], "alerts/#");
    }
    check_rule(&rooms->rules.event, FIELD_TOPIC, NULL, 2);
    CHECK(!rooms->retained);
    CHECK_INT(rooms->binary, BINARY_REJECT);
    CHECK(pick->topics_mqtt);
    CHECK(pick->retained);
    CHECK_INT(pick->binary, BINARY_BASE64);
    check_rule(&pick->rules.event, FIELD_PROPERTY, "kind", 0);
}

static void check_web(const struct config *c) {
    CHECK_STR(c->static_dir, "configs/www"); /* relative to the config file */
    CHECK_INT(c->max_publish_size, 1024);
    const struct route_cfg *ctl = route_named(c, "ctl");
    CHECK(ctl != NULL && ctl->publish);
}

static void check_syntax(const struct config *c) {
    check_setting(c, "retry", "2000");
    check_setting(c, "listen", "0.0.0.0 8080");
}

// clang-format off
static const struct file_row file_rows[] = {
    {"configs/good.ini", {NULL}, {NULL}, check_good},
    {"configs/empty.ini", {NULL}, {NULL}, check_defaults_kept},
    {"configs/bridge_only.ini", {NULL}, {NULL}, check_bridge_only},
    {"configs/does_not_exist.ini",
     {"configs/does_not_exist.ini:0: cannot open: No such file or directory"}, {NULL},
     check_defaults_kept},
    {"configs/unknown_section.ini",
     {"configs/unknown_section.ini:4: unknown section [brigde] " ERR_SECTION}, {NULL},
     check_unknown_section},
    {"configs/no_section.ini", {"configs/no_section.ini:1: unknown section [] " ERR_SECTION},
     {NULL}, check_no_section},
    {"configs/unknown_key.ini",
     {"configs/unknown_key.ini:3: [bridge] retyr = 1s: unknown setting",
      "configs/unknown_key.ini:8: [route r] chanel = x: unknown route setting (path, channel, "
      "pattern, stream, mqtt_topic, topic, topic_source, journal, journal_age, static, publish, "
      "retained, "
      "binary, event, id, data)"}, {NULL}, NULL},
    {"configs/bad_duration.ini",
     {"configs/bad_duration.ini:2: [bridge] heartbeat = 15: " ERR_DURATION,
      "configs/bad_duration.ini:3: [bridge] retry = 1.5s: " ERR_DURATION,
      "configs/bad_duration.ini:4: [bridge] linger = 25h: " ERR_DURATION,
      "configs/bad_duration.ini:5: [bridge] heartbeat = 50ms: " ERR_HEARTBEAT}, {NULL},
     check_bad_duration},
    {"configs/bad_size.ini",
     {"configs/bad_size.ini:2: [bridge] client_buffer = 1 MiB: " ERR_SIZE,
      "configs/bad_size.ini:3: [bridge] client_buffer = 100: " ERR_SIZE,
      "configs/bad_size.ini:4: [bridge] max_message_size = 2GiB: " ERR_SIZE,
      "configs/bad_size.ini:5: [bridge] max_uri_size = 4kb: " ERR_SIZE,
      "configs/bad_size.ini:6: [bridge] max_clients = 10k: " ERR_COUNT}, {NULL},
     check_bad_size},
    {"configs/bad_path.ini",
     {"configs/bad_path.ini:3: [route c] path = /c2: a route has one path",
      "configs/bad_path.ini:7: [route b] path = /b?x=1: a query template is key={name} pairs "
      "joined by &, e.g. ?appId={appId}",
      "configs/bad_path.ini:11: [route a] path = events/{x}: a path starts with /"},
     {"configs/bad_path.ini:7: [route b] has no path",
      "configs/bad_path.ini:11: [route a] has no path"}, NULL},
    {"configs/bad_template.ini",
     {"configs/bad_template.ini:2: [route t] path = /t/{a-b}: " ERR_PLACEHOLDER,
      "configs/bad_template.ini:4: [route t] channel = t.{a}{b}: two placeholders need a "
      "separator between them",
      "configs/bad_template.ini:5: [route t] channel = t.}: '}' without '{'",
      "configs/bad_template.ini:6: [route t] topic = {}: " ERR_PLACEHOLDER,
      "configs/bad_template.ini:7: [route t] pattern = : empty"},
     {"configs/bad_template.ini:2: [route t] needs at least one channel, pattern, stream, "
      "mqtt_topic or topic"},
     NULL},
    {"configs/bad_rule.ini",
     {"configs/bad_rule.ini:4: [route r] event = jsn:type: expected none, fixed:NAME, json:KEY, "
      "field:NAME, channel, channel:N, topic, topic:N or property:NAME",
      "configs/bad_rule.ini:5: [route r] id = json:: json: needs a key, or a dotted path such as "
      "json:meta.type",
      "configs/bad_rule.ini:6: [route r] data = fixed:x: expected payload, json:KEY, "
      "field:NAME or property:NAME",
      "configs/bad_rule.ini:7: [route r] event = channel:0: channel:N needs a segment number "
      "from 1 to 64"}, {NULL}, check_bad_rule},
    /* The error names the long line, not the last line of the file. */
    {"configs/long_line.ini", {"configs/long_line.ini:2: a line is longer than 1022 bytes"},
     {NULL}, check_long_line},
    {"configs/at_limit.ini", {NULL}, {NULL}, check_at_limit},
    /* "retry = 1s\0x": a NUL byte is not a long line; the error names line 2. */
    {"configs/nul_byte.ini", {"configs/nul_byte.ini:2: *"}, {NULL}, check_nul_byte},
    {"configs/dup_route.ini", {"configs/dup_route.ini:10: route 'a' is defined twice"}, {NULL},
     check_dup_route},
    /* A second [route a] right after the first is still a second definition. */
    {"configs/dup_route_adjacent.ini",
     {"configs/dup_route_adjacent.ini:6: route 'a' is defined twice"}, {NULL}, NULL},
    /* A placeholder is a whole path segment: route_match compares anything else literally, so
     * this route would only match the literal path "/a/{x}.json", then fail to expand its
     * channel. Config should refuse it (the wording is the fixer's choice). */
    {"configs/partial_placeholder.ini",
     {"configs/partial_placeholder.ini:2: [route p] path = /a/{x}.json: *"},
     {"configs/partial_placeholder.ini:2: [route p] has no path"}, NULL},
    /* Two parameters of one name: "/x/y" would set a twice and the channel use the first. */
    {"configs/repeated_placeholder.ini",
     {"configs/repeated_placeholder.ini:2: [route r] path = /{a}/{a}: *"},
     {"configs/repeated_placeholder.ini:2: [route r] has no path"}, NULL},
    {"configs/missing_path.ini", {NULL}, {"configs/missing_path.ini:2: [route nopath] has no path"},
     NULL},
    /* A route without a path, followed by one with a path. */
    {"configs/missing_path_first.ini", {NULL},
     {"configs/missing_path_first.ini:2: [route nopath] has no path"}, NULL},
    {"configs/channel_param.ini", {NULL},
     {"configs/channel_param.ini:2: [route orders] channel orders.{id} uses a parameter that "
      "the path does not have",
      "configs/channel_param.ini:2: [route orders] pattern orders.{customer}.{kind}.* uses a "
      "parameter that the path does not have"}, NULL},
    {"configs/static_params.ini",
     {"configs/static_params.ini:14: [route u] static = maybe: " ERR_BOOL},
     {"configs/static_params.ini:2: [route s] static = true needs a path without parameters "
      "(the channels are fixed)",
      "configs/static_params.ini:7: [route t] static = true cannot be combined with topic "
      "(clients choose topics)"}, NULL},
    {"configs/reserved_dup_path.ini", {NULL},
     {"configs/reserved_dup_path.ini:2: [route health] path /healthz is reserved for the "
      "bridge itself",
      "configs/reserved_dup_path.ini:10: [route two] path /same is already used by route one",
      "configs/reserved_dup_path.ini:14: [route metrics] path /metrics is reserved for the "
      "bridge itself"}, NULL},
    {"configs/syntax.ini", {"configs/syntax.ini:2: expected [section] or key = value"}, {NULL},
     check_syntax},
    {"configs/streams.ini",
     {"configs/streams.ini:31: [route bad] journal = lots: " ERR_COUNT,
      "configs/streams.ini:32: [route bad] journal_age = 10: expected a duration such as 10m, 1h "
      "or 24h"},
     {"configs/streams.ini:2: [route mixed] a route that reads streams and channels or MQTT "
      "topics needs journal = N (or journal_age) for the channels and topics, so that every "
      "topic of a connection resumes from an id",
      "configs/streams.ini:7: [route both] journal (a length) and journal_age (an age) cannot be "
      "combined: pick one",
      "configs/streams.ini:7: [route both] id = ... cannot be used with a journal or stream: "
      "replay resumes from the stream entry ids the bridge sends as SSE ids, so they cannot come "
      "from the message; remove the id rule (or the journal)",
      "configs/streams.ini:14: [route sj] a stream route needs no journal: the stream is its own "
      "history",
      "configs/streams.ini:19: [route sp] stream t.{x} uses a parameter that the path does not "
      "have"},
     check_streams},
    {"configs/mqtt.ini",
     {"configs/mqtt.ini:9: [mqtt] qos = 2: expected 0 or 1",
      "configs/mqtt.ini:10: [mqtt] protocol = 4: expected 5 or 3.1.1",
      "configs/mqtt.ini:11: [mqtt] colour = blue: unknown [mqtt] setting (url, client_id, "
      "username, password, keepalive, qos, clean_session, protocol, ca_file, cert_file, key_file, "
      "retained_max)",
      "configs/mqtt.ini:29: [route wild] mqtt_topic = sensors/+x/temp: " ERR_MQTT_LEVEL,
      "configs/mqtt.ini:30: [route wild] mqtt_topic = a/#/b: # is the last level of a topic "
      "filter",
      "configs/mqtt.ini:31: [route wild] mqtt_topic = a/b#: " ERR_MQTT_LEVEL,
      "configs/mqtt.ini:32: [route wild] binary = hex: expected base64 or reject (SSE carries "
      "text only)"},
     {"configs/mqtt.ini:28: [route wild] needs at least one channel, pattern, stream, mqtt_topic "
      "or topic",
      "configs/mqtt.ini:35: [route journal_props] property:NAME cannot be used with a journal: "
      "the journal keeps the topic and payload, not MQTT user properties, so a replay could not "
      "translate the same way; remove the property rule (or the journal)",
      "configs/mqtt.ini:41: [route mixed_topics] topic_source = mqtt: the route's ?topic= values "
      "would be MQTT topics, but it also reads Redis; use separate routes",
      "configs/mqtt.ini:47: [route wild_topic] topic a/+: a client names exact MQTT topics (no + "
      "or #)"},
     check_mqtt},
    {"configs/reuse_port.ini", {NULL}, {NULL}, NULL},
    {"configs/reuse_port_nolease.ini", {NULL},
     {"configs/reuse_port_nolease.ini:11: [route journalled] journals pub/sub or MQTT messages "
      "with journal_lease = 0, which several processes on one port cannot do (each would write "
      "the journal); set a journal_lease, or journal = 0"},
     NULL},
    {"configs/web.ini", {NULL},
     {"configs/web.ini:11: [route badpub] publish = true needs channels and nothing else (POST "
      "publishes the body to them)"},
     check_web},
};
// clang-format on

static int count_lines(const char *const *lines) {
    int n = 0;
    while (n < MAX_LINES && lines[n] != NULL)
        n++;
    return n;
}

static void file_one(const void *arg) {
    const struct file_row *r = arg;
    int before = check_failures;
    struct config *c = config_new();
    CHECK_INT(config_load_file(c, r->path, collect), count_lines(r->load));
    check_lines("load", r->load);
    CHECK_INT(config_validate(c, collect), count_lines(r->validate));
    check_lines("validate", r->validate);
    if (r->more)
        r->more(c);
    if (check_failures != before)
        fprintf(stderr, "  in %s\n", r->path);
    config_free(c);
}

static void test_files(void) {
    for (size_t i = 0; i < sizeof(file_rows) / sizeof(file_rows[0]); i++)
        forked_run(file_rows[i].path, file_one, &file_rows[i], 10);
}

/* More routes than DEFAULT_ROUTE_LIMIT, written to a temporary file. */
static void test_route_limit(void) {
    char path[] = "/tmp/sse-bridge-config-XXXXXX";
    int fd = mkstemp(path);
    CHECK(fd >= 0);
    if (fd < 0)
        return;
    FILE *f = fdopen(fd, "w");
    for (int i = 0; i <= DEFAULT_ROUTE_LIMIT; i++)
        fprintf(f, "[route r%d]\npath = /r%d\nchannel = c%d\n", i, i, i);
    fclose(f);
    struct config *c = config_new();
    CHECK_INT(config_load_file(c, path, collect), 0);
    check_lines("load", (const char *const[]){NULL});
    CHECK_INT(c->nroutes, DEFAULT_ROUTE_LIMIT + 1);
    CHECK_INT(config_validate(c, collect), 1);
    check_lines("validate", (const char *const[]){"too many routes: 65 (at most 64)", NULL});
    config_free(c);
    unlink(path);
}

/* Validating twice (a reload, a second pass after flags) reports the same and leaks nothing
 * (ASan's leak check at exit catches the latter). */
static void test_validate_twice(void) {
    struct config *c = config_new();
    CHECK_INT(config_load_file(c, "configs/streams.ini", collect), 2);
    errs_clear();
    int first = config_validate(c, collect);
    errs_clear();
    CHECK_INT(config_validate(c, collect), first);
    errs_clear();
    const struct route_cfg *ok = route_named(c, "ok");
    if (ok != NULL)
        check_rule(&ok->rules.event, FIELD_ENTRY, "event", 0);
    config_free(c);
}

/* --- config_set --------------------------------------------------------------------------- */

struct set_row {
    const char *key, *value;
    const char *err;  /* NULL: accepted */
    const char *want; /* the setting afterwards (describe); NULL: unchanged */
};

#define H64 "hhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhh"
#define LONG_HOST H64 H64 H64 H64 /* 256 bytes: one past what the host buffer holds */

// clang-format off
static const struct set_row set_rows[] = {
    {"listen", "8080", NULL, "0.0.0.0 8080"},
    {"listen", ":8080", NULL, "0.0.0.0 8080"},
    {"listen", ":0", NULL, "0.0.0.0 0"},
    {"listen", "127.0.0.1:9", NULL, "127.0.0.1 9"},
    {"listen", "localhost:65535", NULL, "localhost 65535"},
    {"listen", "[::1]:80", NULL, "::1 80"},
    {"listen", "[::]:8080", NULL, ":: 8080"},
    {"listen", "", ERR_LISTEN, NULL},
    {"listen", "host:", ERR_LISTEN, NULL},
    {"listen", "host:65536", ERR_LISTEN, NULL},
    {"listen", "host:-1", ERR_LISTEN, NULL},
    {"listen", "host:80x", ERR_LISTEN, NULL},
    {"listen", "host", ERR_LISTEN, NULL},
    {"listen", "[::1]", ERR_LISTEN, NULL},
    {"listen", "::1", "an IPv6 address goes in brackets: [::1]:8080", NULL},
    {"listen", LONG_HOST ":80", "host name too long", NULL},
    {"redis", "redis://h:1/2", NULL, "redis://h:1/2"},
    {"redis", "http://h", ERR_REDIS, NULL},
    {"redis", "", ERR_REDIS, NULL},
    {"retry", "0", NULL, "0"},
    {"retry", "1500ms", NULL, "1500"},
    {"retry", "24h", NULL, "86400000"},
    {"retry", "25h", ERR_DURATION, NULL},
    {"retry", "15", ERR_DURATION, NULL},
    {"heartbeat", "0", NULL, "0"},
    {"heartbeat", "100ms", NULL, "100"},
    {"heartbeat", "99ms", ERR_HEARTBEAT, NULL},
    {"heartbeat", "1m", NULL, "60000"},
    {"close_event", "", NULL, ""},
    {"close_event", "done", NULL, "done"},
    {"close_event", "a\nb", "an event name is one line", NULL},
    {"max_clients", "1", NULL, "1"},
    {"max_clients", "1000000", NULL, "1000000"},
    {"max_clients", "0", ERR_COUNT, NULL},
    {"max_clients", "1000001", ERR_COUNT, NULL},
    {"max_clients", " 5", ERR_COUNT, NULL},
    {"max_clients", "5 ", ERR_COUNT, NULL},
    {"max_clients", "-5", ERR_COUNT, NULL},
    {"max_clients", "99999999999999999999", ERR_COUNT, NULL},
    {"max_topics", "1024", NULL, "1024"},
    {"max_topics", "1025", ERR_COUNT, NULL},
    {"client_buffer", "4KiB", NULL, "4096"},
    {"client_buffer", "4095", ERR_SIZE, NULL},
    {"client_buffer", "1GiB", NULL, "1073741824"},
    {"client_buffer", "2G", ERR_SIZE, NULL},
    {"max_header_size", "1024", NULL, "1024"},
    {"max_header_size", "1023", ERR_SIZE, NULL},
    {"max_uri_size", "64KiB", NULL, "65536"},
    {"max_uri_size", "65537", ERR_SIZE, NULL},
    {"max_body_size", "0", NULL, "0"},
    {"max_body_size", "1MiB", NULL, "1048576"},
    {"max_body_size", "1048577", ERR_SIZE, NULL},
    {"max_message_size", "64", NULL, "64"},
    {"max_message_size", "63", ERR_SIZE, NULL},
    {"client_write_timeout", "30s", NULL, "30000"},
    {"request_timeout", "10s", NULL, "10000"},
    {"redis_probe_interval", "0", NULL, "0"},
    {"redis_probe_interval", "5s", NULL, "5000"},
    {"redis_probe_timeout", "2s", NULL, "2000"},
    {"redis_probe_timeout", "50ms", "at least 100ms", NULL},
    {"request_timeout", "0", NULL, "0"},
    {"request_timeout", "10", ERR_DURATION, NULL},
    {"max_pending_connections", "1", NULL, "1"},
    {"max_pending_connections", "0", ERR_COUNT, NULL},
    {"client_socket_buffer", "256KiB", NULL, "262144"},
    {"client_socket_buffer", "0", NULL, "0"},
    {"client_socket_buffer", "65MiB", ERR_SIZE, NULL},
    {"shutdown_flush", "0", NULL, "0"},
    {"linger", "2m", NULL, "120000"},
    {"backoff_min", "1s", NULL, "1000"},
    {"backoff_max", "1h", NULL, "3600000"},
    {"backoff_max", "1x", ERR_DURATION, NULL},
    {"cors_credentials", "yes", NULL, "true"},
    {"cors_credentials", "on", NULL, "true"},
    {"cors_credentials", "1", NULL, "true"},
    {"cors_credentials", "false", NULL, "false"},
    {"cors_credentials", "maybe", ERR_BOOL, NULL},
    {"cors_credentials", "TRUE", ERR_BOOL, NULL},
    {"reuse_port", "true", NULL, "true"},
    {"reuse_port", "2", ERR_BOOL, NULL},
    {"listen_backlog", "65535", NULL, "65535"},
    {"listen_backlog", "0", ERR_COUNT, NULL},
    {"listen_backlog", "65536", ERR_COUNT, NULL},
    {"cors_origins", "*", NULL, "*"},
    {"cors_origins", "https://a.example, http://b:8080", NULL, "https://a.example http://b:8080"},
    {"cors_origins", "ftp://x", ERR_ORIGIN, NULL},
    /* A refused value changes nothing, even when its first origin was fine. */
    {"cors_origins", "https://a.example ftp://x", ERR_ORIGIN, NULL},
    {"journal", "0", NULL, "0"},
    {"journal", "100000000", NULL, "100000000"},
    {"journal", "100000001", ERR_COUNT, NULL},
    {"journal", "-1", ERR_COUNT, NULL},
    {"journal_prefix", "j:", NULL, "j:"},
    {"journal_linger", "5m", NULL, "300000"},
    {"journal_linger", "5", ERR_DURATION, NULL},
    {"replay_batch", "1", NULL, "1"},
    {"replay_batch", "0", ERR_COUNT, NULL},
    {"replay_batch", "10001", ERR_COUNT, NULL},
    {"replay_inflight", "10000", NULL, "10000"},
    {"replay_inflight", "0", ERR_COUNT, NULL},
    {"gap_event", "hole", NULL, "hole"},
    {"gap_event", "", "an event name is one non-empty line", NULL},
    {"gap_event", "a\rb", "an event name is one non-empty line", NULL},
    {"log_level", "debug", NULL, "debug"},
    {"log_level", "error", NULL, "error"},
    {"log_level", "trace", ERR_LEVEL, NULL},
    {"log_level", "INFO", ERR_LEVEL, NULL},
    {"nonsense", "1", "unknown setting", NULL},
    {"Listen", ":1", "unknown setting", NULL},
};
// clang-format on

static void test_set(void) {
    for (size_t i = 0; i < sizeof(set_rows) / sizeof(set_rows[0]); i++) {
        const struct set_row *r = &set_rows[i];
        struct config *c = config_new();
        char before[512], after[512];
        int fails = check_failures;
        describe(c, r->key, before, sizeof(before));
        const char *err = config_set(c, r->key, r->value); /* CHECK_STR evaluates twice */
        CHECK_STR(err, r->err);
        describe(c, r->key, after, sizeof(after));
        CHECK_MEM(after, strlen(after), r->want ? r->want : before);
        if (check_failures != fails)
            fprintf(stderr, "  in config_set(%s, \"%.40s\")\n", r->key, r->value);
        config_free(c);
    }
}

/* --- config_apply_env ----------------------------------------------------------------------- */

struct env_row {
    const char *listen, *redis_url, *log_level, *journal; /* NULL: unset */
    const char *errors[MAX_LINES];
    const char *want_listen, *want_redis, *want_level, *want_journal;
};

static const struct env_row *env_current;

static const char *fake_getenv(const char *name) {
    if (!strcmp(name, "LISTEN"))
        return env_current->listen;
    if (!strcmp(name, "REDIS_URL"))
        return env_current->redis_url;
    if (!strcmp(name, "LOG_LEVEL"))
        return env_current->log_level;
    if (!strcmp(name, "JOURNAL"))
        return env_current->journal;
    if (!strncmp(name, "MQTT_", 5) || !strcmp(name, "JOURNAL_LEASE") || !strcmp(name, "WORKERS"))
        return NULL;  /* test_env_mqtt; the table's walk (test_table_env) */
    return "garbage"; /* nothing else is consulted, or this shows up as an error */
}

// clang-format off
static const struct env_row env_rows[] = {
    {NULL, NULL, NULL, NULL, {NULL}, "0.0.0.0 8080", "redis://127.0.0.1:6379", "info", "1000"},
    {"127.0.0.1:9000", "redis://r:6380", "debug", "5", {NULL}, "127.0.0.1 9000",
     "redis://r:6380", "debug", "5"},
    /* Empty: unset. */
    {"", "", "", "", {NULL}, "0.0.0.0 8080", "redis://127.0.0.1:6379", "info", "1000"},
    {":81", NULL, NULL, "0", {NULL}, "0.0.0.0 81", "redis://127.0.0.1:6379", "info", "0"},
    {"bad", "http://x", "loud", "many",
     {"environment LISTEN=bad: " ERR_LISTEN, "environment REDIS_URL=http://x: " ERR_REDIS,
      "environment LOG_LEVEL=loud: " ERR_LEVEL, "environment JOURNAL=many: " ERR_COUNT},
     "0.0.0.0 8080", "redis://127.0.0.1:6379", "info", "1000"},
    {"[::1]:70000", NULL, "warn", NULL, {"environment LISTEN=[::1]:70000: " ERR_LISTEN},
     "0.0.0.0 8080", "redis://127.0.0.1:6379", "warn", "1000"},
};
// clang-format on

static void test_env(void) {
    for (size_t i = 0; i < sizeof(env_rows) / sizeof(env_rows[0]); i++) {
        const struct env_row *r = &env_rows[i];
        struct config *c = config_new();
        int before = check_failures;
        env_current = r;
        CHECK_INT(config_apply_env(c, fake_getenv, collect), count_lines(r->errors));
        check_lines("environment", r->errors);
        check_setting(c, "listen", r->want_listen);
        check_setting(c, "redis", r->want_redis);
        check_setting(c, "log_level", r->want_level);
        check_setting(c, "journal", r->want_journal);
        if (check_failures != before)
            fprintf(stderr, "  in environment row %zu\n", i);
        config_free(c);
    }
}

/* MQTT settings from the environment: the URL is checked, credentials and id are taken. */
static const char *mqtt_env_url;

static const char *fake_getenv_mqtt(const char *name) {
    if (!strcmp(name, "MQTT_URL"))
        return mqtt_env_url;
    if (!strcmp(name, "MQTT_USERNAME"))
        return "bridge";
    if (!strcmp(name, "MQTT_PASSWORD"))
        return "s3cret";
    if (!strcmp(name, "MQTT_CLIENT_ID"))
        return "sse-bridge-7";
    return NULL;
}

static void test_env_mqtt(void) {
    struct config *c = config_new();
    mqtt_env_url = "mqtts://broker.example:8884";
    CHECK_INT(config_apply_env(c, fake_getenv_mqtt, collect), 0);
    CHECK_STR(c->mqtt_url, "mqtts://broker.example:8884");
    CHECK_STR(c->mqtt_username, "bridge");
    CHECK_STR(c->mqtt_password, "s3cret");
    CHECK_STR(c->mqtt_client_id, "sse-bridge-7");
    mqtt_env_url = "tcp://broker:1883";
    CHECK_INT(config_apply_env(c, fake_getenv_mqtt, collect), 1);
    check_lines("environment",
                (const char *const[]){"environment MQTT_URL=tcp://broker:1883: expected "
                                      "mqtt://[user[:password]@]host[:port] or mqtts://...",
                                      NULL});
    CHECK_STR(c->mqtt_url, "mqtts://broker.example:8884");
    config_free(c);
}

/* --- config_validate on settings ---------------------------------------------------------- */

struct validate_row {
    const char *key1, *value1, *key2, *value2;
    int errors;
};

static const struct validate_row validate_rows[] = {
    {"backoff_min", "10s", "backoff_max", "10s", 0},
    {"backoff_min", "11s", "backoff_max", "10s", 1},
    {"backoff_min", "0", "backoff_max", "10s", 1},
    {"backoff_min", "1ms", "backoff_max", "1ms", 0},
};

static void test_validate_settings(void) {
    for (size_t i = 0; i < sizeof(validate_rows) / sizeof(validate_rows[0]); i++) {
        const struct validate_row *r = &validate_rows[i];
        struct config *c = config_new();
        const char *err1 = config_set(c, r->key1, r->value1);
        const char *err2 = config_set(c, r->key2, r->value2);
        CHECK_STR(err1, NULL);
        CHECK_STR(err2, NULL);
        CHECK_INT(config_validate(c, collect), r->errors);
        check_lines("validate",
                    r->errors ? (const char *const[]){"backoff_min must be above 0 and at most "
                                                      "backoff_max",
                                                      NULL}
                              : (const char *const[]){NULL});
        config_free(c);
    }
}

/* --- the settings table ------------------------------------------------------------------- */

static void key_of(const struct config_setting *s, char *out, size_t cap) {
    if (strcmp(s->section, "bridge") == 0)
        snprintf(out, cap, "%s", s->name);
    else
        snprintf(out, cap, "%s_%s", s->section, s->name);
}

/* Each row is whole, and no two rows share a key, an environment variable or a flag. */
static void test_table_rows(void) {
    size_t n;
    const struct config_setting *rows = config_settings(&n);
    CHECK(n > 0);
    for (size_t i = 0; i < n; i++) {
        const struct config_setting *s = &rows[i];
        char key[64];
        int before = check_failures;
        key_of(s, key, sizeof(key));
        CHECK(strcmp(s->section, "bridge") == 0 || strcmp(s->section, "mqtt") == 0 ||
              strcmp(s->section, "auth") == 0);
        CHECK(s->name[0] != '\0');
        CHECK(config_setting_lookup(s->section, s->name) == s); /* the first of its name */
        CHECK(row_of(key) == s);                                /* config_set reaches it */
        /* One line of a Markdown table: no '|' to end the cell, no line break. */
        CHECK(s->doc != NULL && s->doc[0] != '\0' && strpbrk(s->doc, "|\r\n") == NULL);
        CHECK(s->def_doc == NULL || strpbrk(s->def_doc, "|\r\n") == NULL);
        CHECK(s->flag == NULL || (s->metavar != NULL && strlen(s->flag) > 1));
        CHECK(s->short_flag == 0 || s->flag != NULL);
        switch (s->type) {
        case CONFIG_DURATION:
            CHECK(s->unit == 1 || s->unit == 1000);
            CHECK(s->min >= 0 && s->min <= s->max && s->max <= 86400000LL);
            break;
        case CONFIG_SIZE:
        case CONFIG_COUNT:
            CHECK(s->min >= 0 && s->min <= s->max);
            break;
        case CONFIG_ENUM:
            CHECK(s->choices != NULL && s->choices[0].name != NULL && s->err != NULL);
            break;
        case CONFIG_CUSTOM:
            CHECK(s->parse != NULL && s->clear != NULL);
            break;
        case CONFIG_STRING:
        case CONFIG_BOOL:
            break;
        }
        /* Only strings and custom settings may be unset; numbers and switches have a default. */
        CHECK(s->def != NULL || s->type == CONFIG_STRING || s->type == CONFIG_CUSTOM);
        for (size_t j = 0; j < i; j++) {
            const struct config_setting *t = &rows[j];
            CHECK(strcmp(s->section, t->section) != 0 || strcmp(s->name, t->name) != 0);
            CHECK(s->env == NULL || t->env == NULL || strcmp(s->env, t->env) != 0);
            CHECK(s->flag == NULL || t->flag == NULL || strcmp(s->flag, t->flag) != 0);
            CHECK(s->short_flag == 0 || s->short_flag != t->short_flag);
        }
        if (check_failures != before)
            fprintf(stderr, "  in row [%s] %s\n", s->section, s->name);
    }
}

/* Every default parses, lies within its row's bounds, and is what config_new holds. */
static void test_table_defaults(void) {
    size_t n;
    const struct config_setting *rows = config_settings(&n);
    struct config *c = config_new();
    for (size_t i = 0; i < n; i++) {
        const struct config_setting *s = &rows[i];
        char key[64], got[256], want[256];
        int before = check_failures;
        key_of(s, key, sizeof(key));
        describe(c, key, got, sizeof(got));
        if (s->def == NULL) {
            CHECK_MEM(got, strlen(got), s->type == CONFIG_CUSTOM ? "" : "(none)");
            continue;
        }
        struct config *z = calloc(1, sizeof(*z)); /* all unset: only the default is applied */
        const char *err = config_setting_set(z, s, s->def);
        CHECK_STR(err, NULL);
        describe(z, key, want, sizeof(want));
        CHECK_MEM(got, strlen(got), want);
        const char *p = (const char *)z + s->offset;
        long long v = 0;
        if (s->type == CONFIG_DURATION)
            v = (long long)*(const unsigned *)p * s->unit;
        else if (s->type == CONFIG_SIZE || s->type == CONFIG_COUNT)
            v = (long long)*(const size_t *)p;
        if (s->type == CONFIG_DURATION || s->type == CONFIG_SIZE || s->type == CONFIG_COUNT)
            CHECK((v >= s->min && v <= s->max) || (v == 0 && (s->flags & CONFIG_ZERO_OFF)));
        if (s->type == CONFIG_ENUM) {
            bool listed = false;
            for (const struct config_choice *ch = s->choices; ch->name != NULL; ch++)
                listed = listed || ch->value == *(const int *)p;
            CHECK(listed);
        }
        config_free(z);
        if (check_failures != before)
            fprintf(stderr, "  default of [%s] %s = %s\n", s->section, s->name, s->def);
    }
    config_free(c);
}

/* A value for each environment variable, different from its default. A new row with an
 * environment variable needs one here. */
static const struct {
    const char *env, *value;
} env_samples[] = {
    {"LISTEN", "127.0.0.1:9"},      {"REDIS_URL", "redis://r:1/2"},
    {"LOG_LEVEL", "debug"},         {"JOURNAL", "7"},
    {"MQTT_URL", "mqtts://b:8883"}, {"MQTT_CLIENT_ID", "id-7"},
    {"MQTT_USERNAME", "someone"},   {"MQTT_PASSWORD", "s3cret"},
    {"JOURNAL_LEASE", "5s"},        {"WORKERS", "3"},
};

static const char *env_only_name, *env_only_value;
static int env_asked;

static const char *getenv_only(const char *name) {
    env_asked++;
    return strcmp(name, env_only_name) == 0 ? env_only_value : NULL;
}

/* config_apply_env reads every row's variable, and sets that row as config_set would. */
static void test_table_env(void) {
    size_t n, nenv = 0;
    const struct config_setting *rows = config_settings(&n);
    for (size_t i = 0; i < n; i++) {
        const struct config_setting *s = &rows[i];
        if (s->env == NULL)
            continue;
        nenv++;
        const char *sample = NULL;
        for (size_t j = 0; j < sizeof(env_samples) / sizeof(env_samples[0]); j++) {
            if (strcmp(env_samples[j].env, s->env) == 0)
                sample = env_samples[j].value;
        }
        CHECK(sample != NULL);
        if (sample == NULL) {
            fprintf(stderr, "  env_samples has no value for %s\n", s->env);
            continue;
        }
        char key[64], got[256], want[256], def[256];
        key_of(s, key, sizeof(key));
        struct config *c = config_new(), *w = config_new();
        env_only_name = s->env;
        env_only_value = sample;
        env_asked = 0;
        CHECK_INT(config_apply_env(c, getenv_only, collect), 0);
        check_lines("environment", (const char *const[]){NULL});
        describe(w, key, def, sizeof(def));
        const char *err = config_setting_set(w, s, sample);
        CHECK_STR(err, NULL);
        describe(c, key, got, sizeof(got));
        describe(w, key, want, sizeof(want));
        CHECK_MEM(got, strlen(got), want);
        CHECK(strcmp(got, def) != 0);
        if (strcmp(got, want) != 0 || strcmp(got, def) == 0)
            fprintf(stderr, "  %s=%s gave [%s] %s = %s\n", s->env, sample, s->section, s->name,
                    got);
        config_free(c);
        config_free(w);
    }
    CHECK_INT(env_asked, nenv); /* every variable once, nothing else */
    CHECK_INT(nenv, sizeof(env_samples) / sizeof(env_samples[0]));
}

/* The reference has a line per row, the --help text one entry per flag, 79 columns at most. */
static void test_table_text(void) {
    size_t n, lines = 0;
    const struct config_setting *rows = config_settings(&n);
    char *ref = config_reference(), *help = config_flags_help();
    for (const char *p = ref; (p = strstr(p, "\n| `")) != NULL; p++)
        lines++;
    CHECK_INT(lines + (strncmp(ref, "| `", 3) == 0), n + 3); /* + the three header rows */
    for (size_t i = 0; i < n; i++) {
        char cell[96];
        snprintf(cell, sizeof(cell), "\n| `%s` | ", rows[i].name);
        CHECK(strstr(ref, cell) != NULL);
        if (rows[i].flag == NULL)
            continue;
        snprintf(cell, sizeof(cell), "--%s %s ", rows[i].flag, rows[i].metavar);
        bool same_line = strstr(help, cell) != NULL;
        cell[strlen(cell) - 1] = '\n'; /* a long flag: its description starts below */
        CHECK(same_line || strstr(help, cell) != NULL);
        snprintf(cell, sizeof(cell), "flag `--%s` |\n", rows[i].flag);
        CHECK(strstr(ref, cell) != NULL);
    }
    CHECK(strchr(help, '`') == NULL);
    for (const char *line = help; *line != '\0';) {
        size_t len = strcspn(line, "\n");
        CHECK(len <= 79);
        line += len + (line[len] == '\n');
    }
    free(ref);
    free(help);
}

/* --- parsers ------------------------------------------------------------------------------ */

struct parse_row {
    const char *s;
    long long want;
};

// clang-format off
static const struct parse_row duration_rows[] = {
    {"0", 0},
    {"00", 0},
    {"0s", 0},
    {"0ms", 0},
    {"1500ms", 1500},
    {"15s", 15000},
    {"2m", 120000},
    {"1h", 3600000},
    {"1000000000ms", 1000000000},
    {"1000000000h", 3600000000000000LL},
    {"15", -1}, /* 15 what? */
    {"1", -1},
    {"", -1},
    {"s", -1},
    {"ms", -1},
    {"1.5s", -1},
    {"-1s", -1},
    {"+1s", -1},
    {" 1s", -1},
    {"1 s", -1},
    {"1s ", -1},
    {"1S", -1},
    {"1sec", -1},
    {"1d", -1},
    {"1us", -1},
    {"1000000001ms", -1},
    {"99999999999999999999s", -1},
    {"0x10s", -1},
};

static const struct parse_row size_rows[] = {
    {"0", 0},
    {"4096", 4096},
    {"1k", 1024},
    {"1K", 1024},
    {"1KB", 1024},
    {"64KiB", 65536},
    {"1M", 1048576},
    {"1MB", 1048576},
    {"1MiB", 1048576},
    {"1G", 1073741824},
    {"1GiB", 1073741824},
    {"1099511627776", 1099511627776LL},
    {"1024G", 1099511627776LL},
    {"1099511627777", -1},
    {"", -1},
    {"k", -1},
    {"1kb", -1},
    {"1kib", -1},
    {"1mb", -1},
    {"1 KiB", -1},
    {"1KiB ", -1},
    {"-1", -1},
    {"+1", -1},
    {"1.5M", -1},
    {"1T", -1},
    {"99999999999999999999", -1},
    /* Within the 2^40 count, but the product overflows a long long. */
    {"8589934592G", -1},
    {"17179869184G", -1},
    {"1099511627776GiB", -1},
};
// clang-format on

static void size_one(const void *arg) {
    const struct parse_row *r = arg;
    long long got = config_parse_size(r->s);
    CHECK_INT(got, r->want);
    if (got != r->want)
        fprintf(stderr, "  in config_parse_size(\"%s\")\n", r->s);
}

static void test_parsers(void) {
    for (size_t i = 0; i < sizeof(duration_rows) / sizeof(duration_rows[0]); i++) {
        const struct parse_row *r = &duration_rows[i];
        long long got = config_parse_duration_ms(r->s);
        CHECK_INT(got, r->want);
        if (got != r->want)
            fprintf(stderr, "  in config_parse_duration_ms(\"%s\")\n", r->s);
    }
    for (size_t i = 0; i < sizeof(size_rows) / sizeof(size_rows[0]); i++)
        forked_run(size_rows[i].s, size_one, &size_rows[i], 10);
}

/* Which configurations the start-up warning about open routes concerns. */
static void test_open_routes(void) {
    /* The two built-in routes; route_auth is the first one's own auth (NULL: the default). */
    struct {
        const char *listen, *auth_default, *route_auth;
        size_t open;
        bool loopback;
    } rows[] = {
        {"127.0.0.1:8080", "none", NULL, 2, true}, {"0.0.0.0:8080", "none", NULL, 2, false},
        {":8080", "none", NULL, 2, false},         {"[::1]:8080", "none", NULL, 2, true},
        {"localhost:8080", "none", NULL, 2, true}, {"10.0.0.5:8080", "none", "jwt", 1, false},
        {"10.0.0.5:8080", "jwt", NULL, 0, false},  {"10.0.0.5:8080", "jwt", "none", 1, false},
    };
    for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
        struct config *c = config_new();
        CHECK_STR(config_set(c, "listen", rows[i].listen), NULL);
        CHECK_STR(config_set(c, "auth_default", rows[i].auth_default), NULL);
        CHECK_INT(c->nroutes, 2);
        c->routes[0].auth = rows[i].route_auth == NULL               ? AUTH_DEFAULT
                            : strcmp(rows[i].route_auth, "jwt") == 0 ? AUTH_JWT
                                                                     : AUTH_NONE;
        CHECK_INT(config_open_routes(c), rows[i].open);
        CHECK(config_listen_is_loopback(c) == rows[i].loopback);
        config_free(c);
    }
}

int main(void) {
    test_open_routes();
    test_defaults();
    test_files();
    test_route_limit();
    test_validate_twice();
    test_set();
    test_env();
    test_env_mqtt();
    test_validate_settings();
    test_table_rows();
    test_table_defaults();
    test_table_env();
    test_table_text();
    test_parsers();
    return check_report("config");
}
