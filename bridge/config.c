#include "config.h"

#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <ini.h>

#include "defaults.h"
#include "log.h"
#include "route.h"
#include "xmalloc.h"

static void list_add(char ***list, size_t *n, const char *value) {
    *list = xrealloc(*list, (*n + 1) * sizeof(**list));
    (*list)[(*n)++] = xstrdup(value);
}

static void list_free(char **list, size_t n) {
    for (size_t i = 0; i < n; i++)
        free(list[i]);
    free(list);
}

static void set_str(char **field, const char *value) {
    free(*field);
    *field = xstrdup(value);
}

static struct route_cfg *route_add(struct config *cfg, const char *name, const char *file,
                                   int line) {
    cfg->routes = xrealloc(cfg->routes, (cfg->nroutes + 1) * sizeof(*cfg->routes));
    struct route_cfg *r = &cfg->routes[cfg->nroutes++];
    memset(r, 0, sizeof(*r));
    r->name = xstrdup(name);
    r->file = xstrdup(file);
    r->line = line;
    r->rules.data.src = FIELD_PAYLOAD;
    r->retained = true;
    r->binary = BINARY_BASE64;
    r->auth = AUTH_DEFAULT;
    return r;
}

static void route_clear(struct route_cfg *r) {
    free(r->name);
    free(r->path);
    free(r->query);
    free(r->file);
    list_free(r->channels, r->nchannels);
    list_free(r->patterns, r->npatterns);
    list_free(r->streams, r->nstreams);
    list_free(r->topics, r->ntopics);
    list_free(r->mqtt_topics, r->nmqtt_topics);
    field_rule_clear(&r->rules.event);
    field_rule_clear(&r->rules.id);
    field_rule_clear(&r->rules.data);
}

static void routes_clear(struct config *cfg) {
    for (size_t i = 0; i < cfg->nroutes; i++)
        route_clear(&cfg->routes[i]);
    free(cfg->routes);
    cfg->routes = NULL;
    cfg->nroutes = 0;
}

/* The zero-config routes: one channel per path, and several on one connection by query. */
static void default_routes(struct config *cfg) {
    struct route_cfg *r = route_add(cfg, "channel", "(built-in)", 0);
    r->path = xstrdup("/events/{channel}");
    list_add(&r->channels, &r->nchannels, "{channel}");
    r = route_add(cfg, "topics", "(built-in)", 0);
    r->path = xstrdup("/events");
    list_add(&r->topics, &r->ntopics, "{channel}");
    r->rules.event.src = FIELD_CHANNEL;
    cfg->default_routes = true;
}

long long config_parse_duration_ms(const char *s) {
    static const struct {
        const char *unit;
        long long ms;
    } units[] = {{"ms", 1}, {"s", 1000}, {"m", 60000}, {"h", 3600000}};
    char *end;
    if (!isdigit((unsigned char)*s))
        return -1;
    errno = 0;
    long long n = strtoll(s, &end, 10);
    if (errno != 0 || n > 1000000000LL)
        return -1;
    if (*end == '\0')
        return n == 0 ? 0 : -1; /* a bare number is ambiguous: 15 what? */
    for (size_t i = 0; i < sizeof(units) / sizeof(units[0]); i++) {
        if (strcmp(end, units[i].unit) == 0)
            return n * units[i].ms;
    }
    return -1;
}

long long config_parse_size(const char *s) {
    static const struct {
        const char *unit;
        long long bytes;
    } units[] = {{"", 1},
                 {"k", 1024},
                 {"K", 1024},
                 {"KB", 1024},
                 {"KiB", 1024},
                 {"M", 1024 * 1024},
                 {"MB", 1024 * 1024},
                 {"MiB", 1024 * 1024},
                 {"G", 1024LL * 1024 * 1024},
                 {"GiB", 1024LL * 1024 * 1024}};
    char *end;
    if (!isdigit((unsigned char)*s))
        return -1;
    errno = 0;
    long long n = strtoll(s, &end, 10);
    if (errno != 0 || n > (1LL << 40))
        return -1;
    for (size_t i = 0; i < sizeof(units) / sizeof(units[0]); i++) {
        if (strcmp(end, units[i].unit) == 0)
            return n > LLONG_MAX / units[i].bytes ? -1 : n * units[i].bytes;
    }
    return -1;
}

static const char *parse_bool(const char *value, bool *out) {
    if (!strcmp(value, "true") || !strcmp(value, "yes") || !strcmp(value, "on") ||
        !strcmp(value, "1"))
        *out = true;
    else if (!strcmp(value, "false") || !strcmp(value, "no") || !strcmp(value, "off") ||
             !strcmp(value, "0"))
        *out = false;
    else
        return "expected true or false";
    return NULL;
}

static const char *parse_count(const char *value, long long min, long long max, size_t *out) {
    char *end;
    errno = 0;
    long long n = strtoll(value, &end, 10);
    if (!isdigit((unsigned char)*value) || *end != '\0' || errno != 0 || n < min || n > max)
        return "expected a whole number within its bounds";
    *out = (size_t)n;
    return NULL;
}

/* --- Custom settings: the ones no type describes ------------------------------------------- */

/* "host:port", "[v6]:port", ":port" or "port". */
static const char *parse_listen(struct config *cfg, const char *value) {
    const char *colon = strrchr(value, ':');
    const char *port_s = colon ? colon + 1 : value;
    char host[256];
    size_t host_len = colon ? (size_t)(colon - value) : 0;
    bool bracketed = host_len >= 2 && value[0] == '[' && value[host_len - 1] == ']';
    if (bracketed) {
        value++;
        host_len -= 2;
    }
    if (host_len >= sizeof(host))
        return "host name too long";
    memcpy(host, value, host_len);
    host[host_len] = '\0';
    char *end;
    long port = strtol(port_s, &end, 10);
    if (*port_s == '\0' || *end != '\0' || port < 0 || port > 65535)
        return "expected host:port with a port from 0 to 65535";
    if (!bracketed && memchr(host, ':', host_len) != NULL)
        return "an IPv6 address goes in brackets: [::1]:8080";
    set_str(&cfg->listen_host, host_len ? host : "0.0.0.0");
    cfg->listen_port = (int)port;
    return NULL;
}

static const char *parse_workers(struct config *cfg, const char *value) {
    if (strcmp(value, "auto") == 0) {
        cfg->workers = 0;
        return NULL;
    }
    char *end;
    errno = 0;
    unsigned long n = strtoul(value, &end, 10);
    if (errno || end == value || *end || value[0] == '-' || n < 1 || n > WORKERS_MAX)
        return "expected a number of processes from 1 to 64, or auto";
    cfg->workers = n;
    return NULL;
}

static void clear_nothing(struct config *cfg) {
    (void)cfg;
}

static void clear_listen(struct config *cfg) {
    free(cfg->listen_host);
}

static bool origin_valid(const char *tok) {
    return strcmp(tok, "*") == 0 || strncmp(tok, "http://", 7) == 0 ||
           strncmp(tok, "https://", 8) == 0;
}

/* Adds to the list. All or nothing: a value with one bad origin adds none. */
static const char *add_origins(struct config *cfg, const char *value) {
    for (int pass = 0; pass < 2; pass++) {
        char *copy = xstrdup(value), *save = NULL;
        for (char *tok = strtok_r(copy, " ,", &save); tok; tok = strtok_r(NULL, " ,", &save)) {
            if (pass == 0 && !origin_valid(tok)) {
                free(copy);
                return "an origin is *, or scheme://host[:port] with http or https";
            }
            if (pass == 1)
                list_add(&cfg->cors_origins, &cfg->ncors_origins, tok);
        }
        free(copy);
    }
    return NULL;
}

static void clear_origins(struct config *cfg) {
    list_free(cfg->cors_origins, cfg->ncors_origins);
}

/* --- What a string setting accepts --------------------------------------------------------- */

static const char *check_nonempty(const char *value) {
    return value[0] == '\0' ? "empty" : NULL;
}

static const char *check_redis_url(const char *value) {
    return strncmp(value, "redis://", 8) != 0 && strncmp(value, "sentinel://", 11) != 0
               ? "expected redis://[:password@]host[:port][/db] or sentinel://host:port,.../master"
               : NULL;
}

static const char *check_mqtt_url(const char *value) {
    if (strncmp(value, "mqtt://", 7) != 0 && strncmp(value, "mqtts://", 8) != 0)
        return "expected mqtt://[user[:password]@]host[:port] or mqtts://...";
    return NULL;
}

/* MQTT encodes a client id with a 16-bit length. */
static const char *check_client_id(const char *value) {
    if (strlen(value) > 65535)
        return "a client id is at most 65535 bytes";
    return check_nonempty(value);
}

/* An SSE `event:` field is one line; an empty close event turns the close event off. */
static const char *check_one_line(const char *value) {
    return strpbrk(value, "\r\n") != NULL ? "an event name is one line" : NULL;
}

static const char *check_event_name(const char *value) {
    if (value[0] == '\0' || strpbrk(value, "\r\n") != NULL)
        return "an event name is one non-empty line";
    return NULL;
}

static const char *check_log_level(const char *value) {
    enum log_level level;
    return log_level_parse(value, &level) != 0 ? "expected debug, info, warn or error" : NULL;
}

/* --- The table ------------------------------------------------------------------------------ */

/* The sections that hold global settings, in the order of the reference. A setting's config_set
 * key is its section's prefix + its name; an unknown key in a section with list_keys gets an
 * error that lists the section's keys. */
static const struct section {
    const char *name, *key_prefix;
    bool list_keys;
} sections[] = {{"bridge", "", false}, {"mqtt", "mqtt_", true}, {"auth", "auth_", true}};

#define DURATION_MAX_MS 86400000LL /* 24h: no duration setting takes more */
#define KIB 1024LL
#define MIB (1024LL * 1024)
#define GIB (1024LL * 1024 * 1024)

/* The field's offset; fails to compile when the field is not of type ctype. */
#define FIELD(field, ctype)                                                                        \
    (offsetof(struct config, field) + 0 * sizeof(_Generic(((struct config *)0)->field, ctype : 1)))
#define ROW(sec, key, kind, field, ctype)                                                          \
    .section = sec, .name = key, .type = kind, .offset = FIELD(field, ctype)
#define STRING(sec, key, field, dflt, chk)                                                         \
    ROW(sec, key, CONFIG_STRING, field, char *), .def = dflt, .check = chk
#define BOOL(sec, key, field, dflt) ROW(sec, key, CONFIG_BOOL, field, bool), .def = dflt
/* A duration stored in ms / per: seconds for per = 1000. */
#define DURATION_PER(sec, key, field, dflt, lo, hi, per)                                           \
    ROW(sec, key, CONFIG_DURATION, field, unsigned), .def = dflt, .min = lo, .max = hi, .unit = per
#define DURATION(sec, key, field, dflt, lo, hi) DURATION_PER(sec, key, field, dflt, lo, hi, 1)
#define SIZE(sec, key, field, dflt, lo, hi)                                                        \
    ROW(sec, key, CONFIG_SIZE, field, size_t), .def = dflt, .min = lo, .max = hi
#define COUNT(sec, key, field, dflt, lo, hi)                                                       \
    ROW(sec, key, CONFIG_COUNT, field, size_t), .def = dflt, .min = lo, .max = hi
#define ENUM(sec, key, field, dflt, names, error)                                                  \
    ROW(sec, key, CONFIG_ENUM, field, int), .def = dflt, .choices = names, .err = error
#define CUSTOM(sec, key, field, ctype, dflt, parse_fn, clear_fn)                                   \
    ROW(sec, key, CONFIG_CUSTOM, field, ctype), .def = dflt, .parse = parse_fn, .clear = clear_fn

static const struct config_choice qos_choices[] = {{"0", 0}, {"1", 1}, {NULL, 0}};
static const struct config_choice auth_choices[] = {
    {"none", AUTH_NONE}, {"jwt", AUTH_JWT}, {"backend", AUTH_BACKEND}, {NULL, 0}};
static const struct config_choice jwt_algorithms[] = {
    {"HS256", 0}, {"HS384", 1}, {"HS512", 2}, {"RS256", 3}, {"RS384", 4},
    {"RS512", 5}, {"ES256", 6}, {"ES384", 7}, {"ES512", 8}, {NULL, 0}};
static const struct config_choice protocol_choices[] = {
    {"5", 5}, {"5.0", 5}, {"3.1.1", 311}, {"311", 311}, {NULL, 0}};

// clang-format off
static const struct config_setting settings[] = {
    /* [bridge] */
    {CUSTOM("bridge", "listen", listen_host, char *, "0.0.0.0:8080", parse_listen, clear_listen),
     .env = "LISTEN", .flag = "listen", .short_flag = 'l', .metavar = "ADDR",
     .doc = "listen address: `host:port`, `[v6]:port`, `:port`"},
    {STRING("bridge", "redis", redis_url, "redis://127.0.0.1:6379", check_redis_url),
     .env = "REDIS_URL", .flag = "redis", .short_flag = 'r', .metavar = "URL",
     .doc = "the Redis server: `redis://[[user]:password@]host[:port][/db]`, or its sentinels: "
            "`sentinel://host:port,host:port/master` (more in README: Running several bridges)"},
    {DURATION("bridge", "retry", retry_ms, "3s", 0, DURATION_MAX_MS),
     .doc = "`retry:` sent first on every stream; `0` sends none"},
    {DURATION("bridge", "heartbeat", heartbeat_ms, "15s", 100, DURATION_MAX_MS),
     .flags = CONFIG_ZERO_OFF, .range_err = "heartbeat must be 0 (off) or at least 100ms",
     .doc = "comment line interval (proxies cut idle streams, often after about 60 s); `0` off"},
    {STRING("bridge", "close_event", close_event, "close", check_one_line),
     .doc = "event name that ends a stream; empty disables"},
    {COUNT("bridge", "max_clients", max_clients, "10000", 1, 1000000),
     .doc = "open streams; `503` past it"},
    {COUNT("bridge", "listen_backlog", listen_backlog, "4096", 1, 65535),
     .doc = "accept queue for connections not yet accepted (the kernel caps it at "
            "`net.core.somaxconn`); a reconnect storm of thousands of browsers fits"},
    {BOOL("bridge", "reuse_port", reuse_port, "false"),
     .doc = "several processes share the port (`SO_REUSEPORT`), the kernel spreads connections "
            "over them: one process per core, or past one process's file limit. Each process "
            "subscribes for its own clients; `/metrics` and `/healthz` answer for the process "
            "that takes the request. Journals are written once among them (`journal_lease`); "
            "`workers` starts such processes itself"},
    {COUNT("bridge", "max_topics", max_topics, "32", 1, 1024),
     .doc = "channels/patterns one connection may ask for"},
    {SIZE("bridge", "client_buffer", client_buffer, "1MiB", 4 * KIB, GIB),
     .doc = "unsent bytes per client; a client past it is cut off (it reconnects). At least "
            "twice `max_message_size`"},
    {DURATION("bridge", "client_write_timeout", client_write_timeout_ms, "30s", 0,
              DURATION_MAX_MS),
     .doc = "a client that accepts no byte this long is cut off; `0` off"},
    {DURATION("bridge", "request_timeout", request_timeout_ms, "10s", 0, DURATION_MAX_MS),
     .doc = "a connection must send its whole request within this of its accept (slowloris, "
            "sockets that never speak), and may sit idle no longer between keep-alive requests; "
            "`0` off"},
    {COUNT("bridge", "max_pending_connections", max_pending_connections, "1024", 1, 1000000),
     .doc = "connections that have not sent a whole request yet; one past it is closed at once "
            "(streams count against `max_clients` instead)"},
    {SIZE("bridge", "client_socket_buffer", client_socket_buffer, "256KiB", 0, 64 * MIB),
     .doc = "the kernel's send buffer of each connection (`SO_SNDBUF`): with `client_buffer`, "
            "what one stuck client may hold; `0` leaves it to the kernel's autotuning (megabytes "
            "per socket)"},
    {SIZE("bridge", "max_header_size", max_header_size, "8KiB", 1 * KIB, 1 * MIB),
     .doc = "request line + headers (evhttp answers 4xx past it)"},
    {SIZE("bridge", "max_uri_size", max_uri_size, "2KiB", 256, 64 * KIB),
     .doc = "`414` past it"},
    {SIZE("bridge", "max_body_size", max_body_size, "0", 0, 1 * MIB),
     .doc = "request body (SSE requests carry none); `413` past it"},
    {SIZE("bridge", "max_message_size", max_message_size, "512KiB", 64, 64 * MIB),
     .doc = "a bound on every event from every source, measured on its encoded frame (a payload "
            "of line breaks grows 7x): larger pub/sub payloads are dropped before the journal, "
            "and an event over it once encoded is dropped on plain routes and sent as a "
            "`too-large` gap with its id on journalled and stream routes; counted "
            "(`messages_dropped_total`) and logged. At most half of `client_buffer`"},
    {SIZE("bridge", "max_publish_size", max_publish_size, "64KiB", 1, 16 * MIB),
     .doc = "POST body of a publish route; `413` past it"},
    {STRING("bridge", "static_dir", static_dir, NULL, check_nonempty),
     .flags = CONFIG_FILE_RELATIVE,
     .doc = "serve static files from this directory (relative to the config file); files up to "
            "4 MiB"}, /* STATIC_MAX_FILE_SIZE */
    {DURATION("bridge", "linger", linger_ms, "2s", 0, DURATION_MAX_MS),
     .doc = "an unused channel stays subscribed this long (reconnect churn)"},
    {DURATION("bridge", "redis_probe_interval", redis_probe_interval_ms, "5s", 0,
              DURATION_MAX_MS),
     .doc = "`PING` Redis on a connection of its own this often (see `redis_probe_timeout`); "
            "`0` turns the probe off"},
    {DURATION("bridge", "redis_probe_timeout", redis_probe_timeout_ms, "2s", 100,
              DURATION_MAX_MS),
     .range_err = "at least 100ms",
     .doc = "no answer to the probe within this (a stopped or unreachable Redis that keeps TCP "
            "alive) marks Redis down in `/healthz`, logs once, and reconnects every Redis "
            "connection; the recovery is logged with its duration"},
    {DURATION("bridge", "backoff_min", backoff_min_ms, "100ms", 0, DURATION_MAX_MS),
     .doc = "first Redis reconnect delay after Redis goes away; it doubles, with jitter, up to "
            "`backoff_max`. Above 0, at most `backoff_max`"},
    {DURATION("bridge", "backoff_max", backoff_max_ms, "10s", 0, DURATION_MAX_MS),
     .doc = "cap of the doubling Redis reconnect delay"},
    {DURATION("bridge", "shutdown_flush", shutdown_flush_ms, "2s", 0, DURATION_MAX_MS),
     .doc = "how long SIGTERM waits for clients to take their last bytes"},
    {CUSTOM("bridge", "cors_origins", cors_origins, char **, NULL, add_origins, clear_origins),
     .doc = "allowed origins, comma or space separated, or `*`; each `cors_origins` line adds "
            "to the list"},
    {BOOL("bridge", "cors_credentials", cors_credentials, "false"),
     .doc = "allow credentialed cross-origin requests"},
    {STRING("bridge", "log_level", log_level, "info", check_log_level),
     .env = "LOG_LEVEL", .flag = "log-level", .metavar = "LVL",
     .doc = "`debug`, `info`, `warn` or `error`"},
    {COUNT("bridge", "journal", journal, "1000", 0, 100000000),
     .env = "JOURNAL", .flag = "journal", .metavar = "N",
     .doc = "journal length (entries per channel) of the built-in routes; `0`: no journal"},
    {STRING("bridge", "journal_prefix", journal_prefix, "sse:journal:", NULL),
     .doc = "a channel's journal is the stream `prefix + channel` (`prefix + \"p:\" + pattern` "
            "for patterns, `prefix + \"m:\" + filter` for MQTT)"},
    {DURATION("bridge", "journal_linger", journal_linger_ms, "60s", 0, DURATION_MAX_MS),
     .doc = "a journalled channel stays subscribed this long after its last client, so that a "
            "reconnecting browser misses nothing"},
    {DURATION("bridge", "journal_lease", journal_lease_ms, "3s", 100, 3600000),
     .flags = CONFIG_ZERO_OFF, .range_err = "journal_lease must be 0 (off) or at least 100ms",
     .env = "JOURNAL_LEASE", .flag = "journal-lease", .metavar = "DUR",
     .doc = "bridges sharing a Redis journal each pub/sub channel and MQTT filter once: the "
            "writer holds a lease in Redis that lives this long after its last renewal, so "
            "another bridge takes over within it when the writer dies (README: Running several "
            "bridges); `0`: no lease, this bridge writes its journals alone (one bridge only)"},
    {CUSTOM("bridge", "workers", workers, size_t, "1", parse_workers, clear_nothing),
     .env = "WORKERS", .flag = "workers", .metavar = "N",
     .doc = "processes serving one port (`SO_REUSEPORT`), each with its own connections and "
            "subscriptions; one that dies is restarted, SIGTERM drains them all. `auto`: one per "
            "core"},
    {COUNT("bridge", "replay_batch", replay_batch, "500", 1, 10000),
     .doc = "entries per `XRANGE` page (and per `XREAD` of stream routes)"},
    {COUNT("bridge", "replay_inflight", replay_inflight, "32", 1, 10000),
     .doc = "replay reads outstanding at once, all clients together"},
    {DURATION("bridge", "lag_max", lag_max_ms, "5s", 100, 3600000),
     .flags = CONFIG_ZERO_OFF, .range_err = "lag_max must be 0 (off) or at least 100ms",
     .doc = "how far behind a journal or stream the bridge may read (the age of the entries it "
            "delivers, while more are waiting): past it, it skips to the present and sends a "
            "`lagging` gap event; warned at half of it; `0`: never skips, warns at 5 s"},
    {STRING("bridge", "gap_event", gap_event, "gap", check_event_name),
     .doc = "event name that tells a client its history has a hole"},

    /* [mqtt], used when a route has an mqtt_topic. In the order that the error for an unknown
     * key lists them. */
    {STRING("mqtt", "url", mqtt_url, "mqtt://127.0.0.1:1883", check_mqtt_url),
     .env = "MQTT_URL", .flag = "mqtt", .short_flag = 'm', .metavar = "URL",
     .doc = "the broker of routes with `mqtt_topic`: `mqtt://[user[:password]@]host[:port]`, "
            "`mqtts://` for TLS (port 8883)"},
    /* NULL: source_mqtt derives the id from the host name and the listen port. */
    {STRING("mqtt", "client_id", mqtt_client_id, NULL, check_client_id),
     .def_doc = "`sse-bridge-<hostname>-<listen port>`", .env = "MQTT_CLIENT_ID",
     .doc = "stable across restarts, so the persistent session is found again (the port is the "
            "one bound: with `listen = :0` it changes each start); at most 65535 bytes"},
    {STRING("mqtt", "username", mqtt_username, NULL, check_nonempty),
     .def_doc = "from the URL", .env = "MQTT_USERNAME",
     .doc = "user name for the broker, instead of the URL's"},
    {STRING("mqtt", "password", mqtt_password, NULL, check_nonempty),
     .def_doc = "from the URL", .env = "MQTT_PASSWORD",
     .doc = "password for the broker, instead of the URL's"},
    {DURATION_PER("mqtt", "keepalive", mqtt_keepalive_s, "30s", 5000, 65535000LL, 1000),
     .err = "expected a duration from 5s to 65535s",
     .doc = "PINGREQ interval the broker expects"},
    {ENUM("mqtt", "qos", mqtt_qos, "1", qos_choices, "expected 0 or 1"),
     .doc = "subscription QoS; with `1` the broker queues messages while the bridge is away"},
    {BOOL("mqtt", "clean_session", mqtt_clean_session, "false"),
     .doc = "`false`: the broker keeps the session and queues QoS 1 messages while the bridge "
            "is away"},
    /* 3.1.1 by default because it keeps a persistent session across disconnects: libmosquitto
     * 2.0 sends no Session Expiry Interval on a non-blocking connect, so an MQTT 5 session
     * ends with each disconnect (and journals record a gap). MQTT 5 adds user properties and
     * exact handling of overlapping filters (subscription identifiers). */
    {ENUM("mqtt", "protocol", mqtt_protocol, "3.1.1", protocol_choices, "expected 5 or 3.1.1"),
     .doc = "`3.1.1` or `5` (see MQTT above)"},
    {STRING("mqtt", "ca_file", mqtt_ca_file, NULL, check_nonempty),
     .doc = "TLS: CA bundle (default `/etc/ssl/certs` with `mqtts://`)"},
    {STRING("mqtt", "cert_file", mqtt_cert_file, NULL, check_nonempty),
     .doc = "TLS: client certificate"},
    {STRING("mqtt", "key_file", mqtt_key_file, NULL, check_nonempty),
     .doc = "TLS: client key"},
    {COUNT("mqtt", "retained_max", mqtt_retained_max, "100", 0, 100000),
     .doc = "retained messages kept per filter for clients that join later"},
    /* [auth] */
    {ENUM("auth", "default", auth_default, "none", auth_choices, "expected none, jwt or backend"),
     .doc = "`none`, `jwt` or `backend`: the auth of routes that do not say (the built-in "
            "ones too)"},
    {ENUM("auth", "jwt_algorithm", jwt_algorithm_id, "HS256", jwt_algorithms,
          "expected HS256, HS384, HS512, RS256, RS384, RS512, ES256, ES384 or ES512"),
     .doc = "the one algorithm tokens are signed with (a token naming another, `none` "
            "included, is refused)"},
    {STRING("auth", "jwt_secret_file", jwt_secret_file, NULL, check_nonempty),
     .flags = CONFIG_FILE_RELATIVE,
     .doc = "HS*: a file holding the secret (at least as many bytes as the hash: 32 for "
            "HS256; a final newline is dropped; relative to the config file); the "
            "environment's `JWT_SECRET` overrides it"},
    {STRING("auth", "jwt_key_file", jwt_key_file, NULL, check_nonempty),
     .flags = CONFIG_FILE_RELATIVE,
     .doc = "RS*/ES*: a PEM public key, a JWK or a JWKS file (keys chosen by `kid`; relative "
            "to the config file)"},
    {STRING("auth", "jwt_issuer", jwt_issuer, NULL, check_nonempty),
     .doc = "when set, `iss` must equal it"},
    {STRING("auth", "jwt_audience", jwt_audience, NULL, check_nonempty),
     .doc = "when set, `aud` must equal it or list it"},
    {STRING("auth", "jwt_cookie", jwt_cookie, NULL, check_nonempty),
     .doc = "a cookie to read the token from (after `Authorization: Bearer`)"},
    {BOOL("auth", "jwt_query", jwt_query, "false"),
     .doc = "also read `?access_token=` (for cross-site pages; never logged)"},
    {DURATION("auth", "jwt_leeway", jwt_leeway_ms, "30s", 0, 3600000),
     .doc = "clock skew allowed for `exp`, `nbf` and `iat`"},
    {STRING("auth", "backend_url", backend_url, NULL, check_nonempty),
     .doc = "`auth = backend`: the URL the bridge asks (GET, any 2xx allows)"},
    {DURATION("auth", "backend_timeout", backend_timeout_ms, "1s", 10, 60000),
     .doc = "no answer within it is `503` (fail closed)"},
    {STRING("auth", "backend_forward", backend_forward, "Cookie, Authorization", NULL),
     .doc = "request headers passed to the backend"},
    {DURATION("auth", "backend_cache", backend_cache_ms, "5s", 0, 3600000),
     .doc = "how long a decision is reused for the same forwarded headers and channels; `0` "
            "never"},
};
// clang-format on

#define NSETTINGS (sizeof(settings) / sizeof(settings[0]))

const struct config_setting *config_settings(size_t *n) {
    *n = NSETTINGS;
    return settings;
}

static const struct section *section_find(const char *name) {
    for (size_t i = 0; i < sizeof(sections) / sizeof(sections[0]); i++) {
        if (strcmp(sections[i].name, name) == 0)
            return &sections[i];
    }
    return NULL;
}

const struct config_setting *config_setting_lookup(const char *section, const char *name) {
    for (size_t i = 0; i < NSETTINGS; i++) {
        if (strcmp(settings[i].section, section) == 0 && strcmp(settings[i].name, name) == 0)
            return &settings[i];
    }
    return NULL;
}

/* config_set's keys: "listen", "mqtt_url". */
static const struct config_setting *setting_by_key(const char *key) {
    for (size_t i = 0; i < sizeof(sections) / sizeof(sections[0]); i++) {
        size_t n = strlen(sections[i].key_prefix);
        const struct config_setting *s;
        if (strncmp(key, sections[i].key_prefix, n) == 0 &&
            (s = config_setting_lookup(sections[i].name, key + n)) != NULL)
            return s;
    }
    return NULL;
}

static bool in_bounds(const struct config_setting *s, long long v) {
    return (v >= s->min && v <= s->max) || (v == 0 && (s->flags & CONFIG_ZERO_OFF));
}

const char *config_setting_set(struct config *cfg, const struct config_setting *s,
                               const char *value) {
    void *field = (char *)cfg + s->offset;
    const char *err;
    long long n;
    switch (s->type) {
    case CONFIG_STRING:
        if (s->check != NULL && (err = s->check(value)) != NULL)
            return err;
        set_str(field, value);
        return NULL;
    case CONFIG_BOOL:
        return parse_bool(value, field);
    case CONFIG_DURATION:
        err = s->err ? s->err : "expected a duration such as 500ms, 15s or 2m (0 to 24h)";
        n = config_parse_duration_ms(value);
        if (n < 0 || n > DURATION_MAX_MS)
            return err;
        if (!in_bounds(s, n))
            return s->range_err ? s->range_err : err;
        *(unsigned *)field = (unsigned)(n / s->unit);
        return NULL;
    case CONFIG_SIZE:
        n = config_parse_size(value);
        if (n < 0 || !in_bounds(s, n))
            return "expected a size such as 4096, 64KiB or 1MiB, within its bounds";
        *(size_t *)field = (size_t)n;
        return NULL;
    case CONFIG_COUNT:
        return parse_count(value, s->min, s->max, field);
    case CONFIG_ENUM:
        for (const struct config_choice *c = s->choices; c->name != NULL; c++) {
            if (strcmp(c->name, value) == 0) {
                *(int *)field = c->value;
                return NULL;
            }
        }
        return s->err;
    case CONFIG_CUSTOM:
        return s->parse(cfg, value);
    }
    return "unknown setting type";
}

const char *config_set(struct config *cfg, const char *key, const char *value) {
    const struct config_setting *s = setting_by_key(key);
    return s != NULL ? config_setting_set(cfg, s, value) : "unknown setting";
}

struct config *config_new(void) {
    struct config *cfg = xcalloc(1, sizeof(*cfg));
    for (size_t i = 0; i < NSETTINGS; i++) {
        if (settings[i].def == NULL)
            continue;
        const char *err = config_setting_set(cfg, &settings[i], settings[i].def);
        (void)err; /* the defaults are valid: the config unit test checks every row's */
    }
    default_routes(cfg);
    return cfg;
}

void config_free(struct config *cfg) {
    if (cfg == NULL)
        return;
    for (size_t i = 0; i < NSETTINGS; i++) {
        if (settings[i].type == CONFIG_STRING)
            free(*(char **)((char *)cfg + settings[i].offset));
        else if (settings[i].type == CONFIG_CUSTOM)
            settings[i].clear(cfg);
    }
    free(cfg->jwt_secret);
    routes_clear(cfg);
    free(cfg);
}

/* --- The reference and --help, from the rows ----------------------------------------------- */

/* A growing string; xrealloc's policy on memory. */
struct text {
    char *s;
    size_t len, cap;
};

static void text_add(struct text *t, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void text_add(struct text *t, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (t->len + (size_t)n + 1 > t->cap) {
        t->cap = (t->len + (size_t)n + 1) * 2;
        t->s = xrealloc(t->s, t->cap);
    }
    va_start(ap, fmt);
    vsnprintf(t->s + t->len, t->cap - t->len, fmt, ap);
    va_end(ap);
    t->len += (size_t)n;
}

/* 86400000 -> "24h", 1500 -> "1500ms": the largest unit that divides it. */
static void format_duration(char *out, size_t cap, long long ms) {
    static const struct {
        const char *unit;
        long long ms;
    } units[] = {{"h", 3600000}, {"m", 60000}, {"s", 1000}};
    for (size_t i = 0; ms != 0 && i < sizeof(units) / sizeof(units[0]); i++) {
        if (ms % units[i].ms == 0) {
            snprintf(out, cap, "%lld%s", ms / units[i].ms, units[i].unit);
            return;
        }
    }
    snprintf(out, cap, ms == 0 ? "0" : "%lldms", ms);
}

static void format_size(char *out, size_t cap, long long n) {
    static const struct {
        const char *unit;
        long long bytes;
    } units[] = {{"GiB", GIB}, {"MiB", MIB}, {"KiB", KIB}};
    for (size_t i = 0; n != 0 && i < sizeof(units) / sizeof(units[0]); i++) {
        if (n % units[i].bytes == 0) {
            snprintf(out, cap, "%lld%s", n / units[i].bytes, units[i].unit);
            return;
        }
    }
    snprintf(out, cap, "%lld", n);
}

/* The values a row accepts, for the reference's range column. */
static void add_range(struct text *t, const struct config_setting *s) {
    char lo[32], hi[32];
    switch (s->type) {
    case CONFIG_DURATION:
    case CONFIG_SIZE:
        (s->type == CONFIG_SIZE ? format_size : format_duration)(lo, sizeof(lo), s->min);
        (s->type == CONFIG_SIZE ? format_size : format_duration)(hi, sizeof(hi), s->max);
        text_add(t, "%s%s–%s", (s->flags & CONFIG_ZERO_OFF) ? "0, or " : "", lo, hi);
        break;
    case CONFIG_COUNT:
        text_add(t, "%lld–%lld", s->min, s->max);
        break;
    case CONFIG_BOOL:
        text_add(t, "`true`, `false`");
        break;
    case CONFIG_ENUM:
        for (const struct config_choice *c = s->choices; c->name != NULL; c++)
            text_add(t, "%s`%s`", c == s->choices ? "" : ", ", c->name);
        break;
    case CONFIG_STRING:
    case CONFIG_CUSTOM:
        break;
    }
}

char *config_reference(void) {
    struct text t = {0};
    for (size_t i = 0; i < sizeof(sections) / sizeof(sections[0]); i++) {
        text_add(&t, "%s| `[%s]` key | default | range | meaning |\n|---|---|---|---|\n",
                 i ? "\n" : "", sections[i].name);
        for (size_t j = 0; j < NSETTINGS; j++) {
            const struct config_setting *s = &settings[j];
            if (strcmp(s->section, sections[i].name) != 0)
                continue;
            text_add(&t, "| `%s` | ", s->name);
            if (s->def != NULL)
                text_add(&t, "`%s`", s->def);
            else
                text_add(&t, "%s", s->def_doc ? s->def_doc : "(none)");
            struct text range = {0};
            add_range(&range, s);
            text_add(&t, " |%s%s | %s", range.s ? " " : "", range.s ? range.s : "", s->doc);
            free(range.s);
            if (s->env)
                text_add(&t, "; env `%s`", s->env);
            if (s->flag)
                text_add(&t, "%s flag `--%s`", s->env ? "," : ";", s->flag);
            text_add(&t, " |\n");
        }
    }
    return t.s;
}

#define HELP_INDENT 24 /* where --help's descriptions start */
#define HELP_WIDTH 79

/* One --help entry being written: words go on the line until HELP_WIDTH, then on a new line
 * indented to HELP_INDENT. */
struct help {
    struct text *t;
    size_t col;
    bool line_start; /* nothing after the indent yet */
};

/* Markdown's backticks are left out. */
static void help_words(struct help *h, const char *words) {
    for (const char *p = words + strspn(words, " "); *p != '\0'; p += strspn(p, " ")) {
        size_t n = strcspn(p, " "), shown = 0;
        for (size_t i = 0; i < n; i++)
            shown += p[i] != '`';
        if (!h->line_start && h->col + 1 + shown > HELP_WIDTH) {
            text_add(h->t, "\n%*s", HELP_INDENT, "");
            h->col = HELP_INDENT;
        } else if (!h->line_start) {
            text_add(h->t, " ");
            h->col++;
        }
        for (size_t i = 0; i < n; i++) {
            if (p[i] != '`')
                text_add(h->t, "%c", p[i]);
        }
        h->col += shown;
        h->line_start = false;
        p += n;
    }
}

char *config_flags_help(void) {
    struct text t = {0};
    text_add(&t, "%s", ""); /* not NULL, even without a flag */
    for (size_t i = 0; i < NSETTINGS; i++) {
        const struct config_setting *s = &settings[i];
        if (s->flag == NULL)
            continue;
        char left[64], tail[128];
        if (s->short_flag)
            snprintf(left, sizeof(left), "  -%c, --%s %s", s->short_flag, s->flag, s->metavar);
        else
            snprintf(left, sizeof(left), "      --%s %s", s->flag, s->metavar);
        /* Past the indent, the description starts on the next line. */
        if (strlen(left) < HELP_INDENT)
            text_add(&t, "%-*s", HELP_INDENT, left);
        else
            text_add(&t, "%s\n%*s", left, HELP_INDENT, "");
        struct help h = {&t, HELP_INDENT, true};
        help_words(&h, s->doc);
        snprintf(tail, sizeof(tail), "(%s%s%s%s%s)", s->def ? "default " : "", s->def ? s->def : "",
                 s->def && s->env ? "; " : "", s->env ? "env " : "", s->env ? s->env : "");
        if (s->def || s->env)
            help_words(&h, tail);
        text_add(&t, "\n");
    }
    return t.s;
}

static const char *route_set(struct route_cfg *r, const char *key, const char *value) {
    const char *err = NULL;
    if (!strcmp(key, "path")) {
        if (r->path != NULL)
            return "a route has one path";
        if (value[0] != '/')
            return "a path starts with /";
        const char *q = strchr(value, '?');
        char *path = xstrdup(value);
        path[q ? (size_t)(q - value) : strlen(value)] = '\0';
        if (strpbrk(path, "#% ") != NULL || (q != NULL && strpbrk(q + 1, "?#% ") != NULL))
            err = "a path template holds no '#', '%' or space (and one '?' before its query)";
        else if ((err = route_template_check(path)) == NULL &&
                 (err = route_path_check(path)) == NULL && q != NULL &&
                 (err = route_template_check(q + 1)) == NULL)
            err = route_query_check(q + 1, path);
        if (err != NULL) {
            free(path);
            return err;
        }
        r->path = path;
        r->query = q ? xstrdup(q + 1) : NULL;
        return NULL;
    }
    if (!strcmp(key, "channel") || !strcmp(key, "pattern") || !strcmp(key, "topic") ||
        !strcmp(key, "stream")) {
        if ((err = route_template_check(value)) != NULL)
            return err;
        if (value[0] == '\0')
            return "empty";
        if (key[0] == 'c')
            list_add(&r->channels, &r->nchannels, value);
        else if (key[0] == 'p')
            list_add(&r->patterns, &r->npatterns, value);
        else if (key[0] == 's')
            list_add(&r->streams, &r->nstreams, value);
        else
            list_add(&r->topics, &r->ntopics, value);
        return NULL;
    }
    if (!strcmp(key, "mqtt_topic")) {
        if (value[0] == '\0')
            return "empty";
        if ((err = route_template_check(value)) != NULL ||
            (err = route_mqtt_filter_check(value)) != NULL)
            return err;
        list_add(&r->mqtt_topics, &r->nmqtt_topics, value);
        return NULL;
    }
    if (!strcmp(key, "topic_source")) {
        if (strcmp(value, "mqtt") != 0 && strcmp(value, "redis") != 0)
            return "expected redis or mqtt";
        r->topics_mqtt = value[0] == 'm';
        r->topics_source_set = true;
        return NULL;
    }
    if (!strcmp(key, "publish"))
        return parse_bool(value, &r->publish);
    if (!strcmp(key, "retained"))
        return parse_bool(value, &r->retained);
    if (!strcmp(key, "auth")) {
        if (!strcmp(value, "none"))
            r->auth = AUTH_NONE;
        else if (!strcmp(value, "jwt"))
            r->auth = AUTH_JWT;
        else if (!strcmp(value, "backend"))
            r->auth = AUTH_BACKEND;
        else
            return "expected none, jwt or backend";
        return NULL;
    }
    if (!strcmp(key, "binary")) {
        if (!strcmp(value, "base64"))
            r->binary = BINARY_BASE64;
        else if (!strcmp(value, "reject"))
            r->binary = BINARY_REJECT;
        else
            return "expected base64 or reject (SSE carries text only)";
        return NULL;
    }
    if (!strcmp(key, "journal"))
        return parse_count(value, 0, 100000000, &r->journal);
    if (!strcmp(key, "journal_age")) {
        long long ms = config_parse_duration_ms(value);
        if (ms < 0)
            return "expected a duration such as 10m, 1h or 24h";
        r->journal_age_ms = (unsigned long long)ms;
        return NULL;
    }
    if (!strcmp(key, "static"))
        return parse_bool(value, &r->pinned);
    struct field_rule *rule = !strcmp(key, "event")  ? &r->rules.event
                              : !strcmp(key, "id")   ? &r->rules.id
                              : !strcmp(key, "data") ? &r->rules.data
                                                     : NULL;
    if (rule == NULL)
        return "unknown route setting (path, channel, pattern, stream, mqtt_topic, topic, "
               "topic_source, journal, journal_age, static, publish, retained, binary, event, id, "
               "data)";
    struct field_rule parsed;
    if (field_rule_parse(key, value, &parsed, &err) != 0)
        return err;
    field_rule_clear(rule);
    *rule = parsed;
    if (rule == &r->rules.event)
        r->event_set = true;
    return NULL;
}

/* inih reads through this so that every handler call knows its line: the library's line
 * numbers reach handlers only when it is built with INI_HANDLER_LINENO, and Debian's is not.
 * It also numbers sections, so that two [route a] sections in a row are told apart, and
 * reports lines that are too long or hold a NUL byte (fgets could not tell those apart). */
struct load {
    struct config *cfg;
    const char *file;
    FILE *fp;
    int line;    /* of the line inih was handed last */
    int section; /* how many [section] lines so far */
    void (*errors)(const char *line);
    int nerrors;
    struct route_cfg *route;  /* current [route NAME] section */
    int route_section;        /* and the section number it was started in */
    struct route_cfg scratch; /* where a duplicate route's keys go */
    bool saw_route;
};

static void report(struct load *ld, int line, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void report(struct load *ld, int line, const char *fmt, ...) {
    char msg[512], full[768];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    snprintf(full, sizeof(full), "%s:%d: %s", ld->file, line, msg);
    ld->errors(full);
    ld->nerrors++;
}

static char *read_line(char *str, int num, void *stream) {
    struct load *ld = stream;
    int c, n = 0;
    bool nul = false, too_long = false;
    while ((c = getc(ld->fp)) != EOF) {
        if (c == '\0')
            nul = true;
        else if (n < num - 2)
            str[n++] = (char)c;
        else if (c != '\n')
            too_long = true;
        if (c == '\n')
            break;
    }
    if (c == EOF && n == 0 && !nul && !too_long)
        return NULL;
    ld->line++;
    if (str[0] == '[' ||
        (n > 0 && strspn(str, " \t") < (size_t)n && str[strspn(str, " \t")] == '['))
        ld->section++;
    if (nul || too_long) {
        report(ld, ld->line, nul ? "a line holds a NUL byte" : "a line is longer than %d bytes",
               num - 2);
        n = 0; /* parse the rest of the file */
    }
    str[n] = '\0';
    return str;
}

/* "unknown setting", or for a section with list_keys "unknown [mqtt] setting (url, ...)". */
static void unknown_key(struct load *ld, int line, const struct section *sec, const char *key,
                        const char *value) {
    char keys[512];
    size_t len = 0;
    keys[0] = '\0';
    for (size_t i = 0; sec->list_keys && i < NSETTINGS; i++) {
        if (strcmp(settings[i].section, sec->name) == 0 && len < sizeof(keys))
            len += (size_t)snprintf(keys + len, sizeof(keys) - len, "%s%s", len ? ", " : "",
                                    settings[i].name);
    }
    if (sec->list_keys)
        report(ld, line, "[%s] %s = %s: unknown [%s] setting (%s)", sec->name, key, value,
               sec->name, keys);
    else
        report(ld, line, "[%s] %s = %s: unknown setting", sec->name, key, value);
}

static int on_entry(void *user, const char *section, const char *key, const char *value) {
    struct load *ld = user;
    int line = ld->line;
    const struct section *sec;
    if (!strncmp(section, "route ", 6)) {
        const char *name = section + 6;
        if (ld->route == NULL || ld->route_section != ld->section) {
            for (size_t i = 0; i < ld->cfg->nroutes; i++) {
                if (!ld->cfg->default_routes && strcmp(ld->cfg->routes[i].name, name) == 0) {
                    /* Its keys are still checked, then dropped: one error, not a cascade. */
                    report(ld, line, "route '%s' is defined twice", name);
                    route_clear(&ld->scratch);
                    memset(&ld->scratch, 0, sizeof(ld->scratch));
                    ld->scratch.name = xstrdup(name);
                    ld->route = &ld->scratch;
                    ld->route_section = ld->section;
                    goto set;
                }
            }
            if (!ld->saw_route) { /* the first [route] replaces the built-in ones */
                routes_clear(ld->cfg);
                ld->cfg->default_routes = false;
                ld->saw_route = true;
            }
            ld->route = route_add(ld->cfg, name, ld->file, line);
            ld->route_section = ld->section;
        }
    set:;
        const char *err = route_set(ld->route, key, value);
        if (err)
            report(ld, line, "[route %s] %s = %s: %s", name, key, value, err);
    } else if ((sec = section_find(section)) != NULL) {
        /* A section without a key prefix takes config_set's keys, as [bridge] always has:
         * `mqtt_url` there is [mqtt] url. */
        const struct config_setting *s =
            sec->key_prefix[0] == '\0' ? setting_by_key(key) : config_setting_lookup(section, key);
        char joined[4096];
        const char *slash = strrchr(ld->file, '/');
        if (s == NULL) {
            unknown_key(ld, line, sec, key, value);
            return 1;
        }
        if ((s->flags & CONFIG_FILE_RELATIVE) && value[0] != '/' && value[0] != '\0' &&
            slash != NULL) {
            /* Relative to the config file, wherever the daemon was started from. */
            snprintf(joined, sizeof(joined), "%.*s/%s", (int)(slash - ld->file), ld->file, value);
            value = joined;
        }
        const char *err = config_setting_set(ld->cfg, s, value);
        if (err)
            report(ld, line, "[%s] %s = %s: %s", section, key, value, err);
    } else {
        char expected[256];
        size_t len = 0;
        for (size_t i = 0; i < sizeof(sections) / sizeof(sections[0]); i++)
            len += (size_t)snprintf(expected + len, sizeof(expected) - len, "[%s], ",
                                    sections[i].name);
        expected[len - 2] = '\0'; /* "[bridge], [mqtt]" */
        report(ld, line, "unknown section [%s] (expected %s or [route NAME])", section, expected);
    }
    return 1;
}

int config_load_file(struct config *cfg, const char *path, void (*errors)(const char *line)) {
    struct load ld = {.cfg = cfg, .file = path, .errors = errors};
    ld.fp = fopen(path, "r");
    if (ld.fp == NULL) {
        report(&ld, 0, "cannot open: %s", strerror(errno));
        return ld.nerrors;
    }
    /* inih's settings are process-wide; these are the only ones sse-bridge uses. */
    ini_max_line = CONFIG_MAX_LINE;
    ini_allow_multiline = false;
    int rc = ini_parse_stream(read_line, &ld, on_entry, &ld);
    if (rc > 0)
        report(&ld, rc, "expected [section] or key = value");
    fclose(ld.fp);
    route_clear(&ld.scratch);
    return ld.nerrors;
}

int config_apply_env(struct config *cfg, const char *(*getenv_fn)(const char *),
                     void (*errors)(const char *line)) {
    int nerrors = 0;
    for (size_t i = 0; i < NSETTINGS; i++) {
        const char *value = settings[i].env ? getenv_fn(settings[i].env) : NULL;
        const char *err = value && *value ? config_setting_set(cfg, &settings[i], value) : NULL;
        if (err) {
            char line[512];
            snprintf(line, sizeof(line), "environment %s=%s: %s", settings[i].env, value, err);
            errors(line);
            nerrors++;
        }
    }
    return nerrors;
}

static const char *reserved_paths[] = {"/healthz", "/metrics"};

/* Whether every placeholder of tmpl is a parameter of the route's path or query. */
static bool params_in_route(const char *tmpl, const struct route_cfg *r) {
    char full[CONFIG_MAX_LINE * 2 + 2];
    snprintf(full, sizeof(full), "%s?%s", r->path, r->query ? r->query : "");
    return route_template_params_in(tmpl, full);
}

static int validate_route(const struct config *cfg, size_t index, void (*errors)(const char *)) {
    const struct route_cfg *r = &cfg->routes[index];
    char line[768];
    int n = 0;
#define ROUTE_ERROR(...)                                                                           \
    do {                                                                                           \
        int off = snprintf(line, sizeof(line), "%s:%d: [route %s] ", r->file, r->line, r->name);   \
        snprintf(line + off, sizeof(line) - (size_t)off, __VA_ARGS__);                             \
        errors(line);                                                                              \
        n++;                                                                                       \
    } while (0)
    if (r->path == NULL) {
        ROUTE_ERROR("has no path");
        return n;
    }
    if (r->nchannels + r->npatterns + r->nstreams + r->nmqtt_topics + r->ntopics == 0)
        ROUTE_ERROR("needs at least one channel, pattern, stream, mqtt_topic or topic");
    bool mixed = r->nstreams > 0 && r->nchannels + r->npatterns + r->nmqtt_topics > 0;
    if (mixed && !r->journal && !r->journal_age_ms)
        ROUTE_ERROR("a route that reads streams and channels or MQTT topics needs journal = N (or "
                    "journal_age) for the channels and topics, so that every topic of a "
                    "connection resumes from an id");
    /* Processes sharing a port (reuse_port) each hold their own subscriptions, which is right
     * for delivery, but a journal of pub/sub or MQTT messages needs one writer (README,
     * "Several bridge processes") and an MQTT session one owner. Streams are fine: the
     * backend writes them. */
    if ((cfg->reuse_port || cfg->workers != 1) && cfg->journal_lease_ms == 0 &&
        (r->journal > 0 || r->journal_age_ms > 0) && !route_is_stream_only(r))
        ROUTE_ERROR("journals pub/sub or MQTT messages with journal_lease = 0, which several "
                    "processes on one port cannot do (each would write the journal); set a "
                    "journal_lease, or journal = 0");
    if (route_is_journalled(r) && translate_needs_props(&r->rules))
        ROUTE_ERROR("property:NAME cannot be used with a journal: the journal keeps the topic "
                    "and payload, not MQTT user properties, so a replay could not translate "
                    "the same way; remove the property rule (or the journal)");
    for (size_t i = 0; i < r->nmqtt_topics; i++) {
        if (!params_in_route(r->mqtt_topics[i], r))
            ROUTE_ERROR("mqtt_topic %s uses a parameter that the path does not have",
                        r->mqtt_topics[i]);
    }
    if (r->topics_mqtt && r->nchannels + r->npatterns + r->nstreams > 0)
        ROUTE_ERROR("topic_source = mqtt: the route's ?topic= values would be MQTT topics, but it "
                    "also reads Redis; use separate routes");
    for (size_t i = 0; r->topics_mqtt && i < r->ntopics; i++) {
        const char *err = route_mqtt_filter_check(r->topics[i]);
        if (err != NULL || strpbrk(r->topics[i], "+#") != NULL)
            ROUTE_ERROR("topic %s: a client names exact MQTT topics (no + or #)", r->topics[i]);
    }
    if (r->nstreams > 0 && !mixed && (r->journal || r->journal_age_ms))
        ROUTE_ERROR("a stream route needs no journal: the stream is its own history");
    if (r->journal && r->journal_age_ms)
        ROUTE_ERROR("journal (a length) and journal_age (an age) cannot be combined: pick one");
    if (route_is_journalled(r) && r->rules.id.src != FIELD_NONE)
        ROUTE_ERROR("id = ... cannot be used with a journal or stream: replay resumes from the "
                    "stream entry ids the bridge sends as SSE ids, so they cannot come from the "
                    "message; remove the id rule (or the journal)");
    for (size_t i = 0; i < r->nstreams; i++) {
        if (!params_in_route(r->streams[i], r))
            ROUTE_ERROR("stream %s uses a parameter that the path does not have", r->streams[i]);
    }
    for (size_t i = 0; i < r->nchannels; i++) {
        if (!params_in_route(r->channels[i], r))
            ROUTE_ERROR("channel %s uses a parameter that the path does not have", r->channels[i]);
    }
    for (size_t i = 0; i < r->npatterns; i++) {
        if (!params_in_route(r->patterns[i], r))
            ROUTE_ERROR("pattern %s uses a parameter that the path does not have", r->patterns[i]);
    }
    if (r->publish && (r->nchannels == 0 || r->npatterns + r->nstreams + r->nmqtt_topics > 0))
        ROUTE_ERROR("publish = true needs channels and nothing else (POST publishes the body to "
                    "them)");
    if (r->pinned && (route_template_has_params(r->path) || r->query != NULL))
        ROUTE_ERROR("static = true needs a path without parameters (the channels are fixed)");
    if (r->pinned && r->ntopics > 0)
        ROUTE_ERROR("static = true cannot be combined with topic (clients choose topics)");
    for (size_t i = 0; i < sizeof(reserved_paths) / sizeof(reserved_paths[0]); i++) {
        if (strcmp(r->path, reserved_paths[i]) == 0)
            ROUTE_ERROR("path %s is reserved for the bridge itself", r->path);
    }
    for (size_t j = 0; j < index; j++) {
        if (cfg->routes[j].path != NULL && strcmp(cfg->routes[j].path, r->path) == 0)
            ROUTE_ERROR("path %s is already used by route %s", r->path, cfg->routes[j].name);
    }
#undef ROUTE_ERROR
    return n;
}

bool route_is_stream(const struct route_cfg *r) {
    return r->nstreams > 0;
}

bool route_is_stream_only(const struct route_cfg *r) {
    return r->nstreams > 0 && r->nchannels + r->npatterns + r->nmqtt_topics == 0;
}

bool route_is_mqtt(const struct route_cfg *r) {
    return r->nmqtt_topics > 0 || r->topics_mqtt;
}

bool config_uses_mqtt(const struct config *cfg) {
    for (size_t i = 0; i < cfg->nroutes; i++) {
        if (route_is_mqtt(&cfg->routes[i]))
            return true;
    }
    return false;
}

bool route_is_journalled(const struct route_cfg *r) {
    return r->nstreams > 0 || r->journal > 0 || r->journal_age_ms > 0;
}

enum auth_mode config_route_auth(const struct config *cfg, const struct route_cfg *r) {
    return r->auth == AUTH_DEFAULT ? (enum auth_mode)cfg->auth_default : (enum auth_mode)r->auth;
}

size_t config_open_routes(const struct config *cfg) {
    size_t open = 0;
    for (size_t i = 0; i < cfg->nroutes; i++)
        open += config_route_auth(cfg, &cfg->routes[i]) == AUTH_NONE;
    return open;
}

bool config_listen_is_loopback(const struct config *cfg) {
    const char *h = cfg->listen_host;
    return h != NULL &&
           (strncmp(h, "127.", 4) == 0 || strcmp(h, "::1") == 0 || strcmp(h, "localhost") == 0);
}

const char *config_jwt_algorithm(const struct config *cfg) {
    for (const struct config_choice *c = jwt_algorithms; c->name != NULL; c++) {
        if (c->value == cfg->jwt_algorithm_id)
            return c->name;
    }
    return "HS256";
}

/* Derived defaults: route settings that follow from other settings, so they can only be
 * filled in once the file, the environment and the flags are all applied. Not validation;
 * config_validate runs it first because every caller wants both, and it is idempotent (a
 * second config_validate changes nothing). */
static void derive_route_defaults(struct config *cfg) {
    /* The built-in routes journal by default (`journal`, --journal; 0 turns it off). */
    for (size_t i = 0; cfg->default_routes && i < cfg->nroutes; i++)
        cfg->routes[i].journal = cfg->journal;
    for (size_t i = 0; i < cfg->nroutes; i++) {
        struct route_cfg *r = &cfg->routes[i];
        /* ?topic= names MQTT topics on a route that reads only MQTT. */
        if (!r->topics_source_set)
            r->topics_mqtt = r->nmqtt_topics > 0 && r->nchannels + r->npatterns == 0;
        /* Stream entries usually carry their event name in a field called "event". */
        if (route_is_stream_only(r) && !r->event_set && r->rules.event.src == FIELD_NONE) {
            r->rules.event.src = FIELD_ENTRY;
            r->rules.event.arg = xstrdup("event");
        }
    }
}

/* Each setting's own bounds were checked when it was parsed (its row's min and max); what is
 * left is what involves more than one setting. */
int config_validate(struct config *cfg, void (*errors)(const char *line)) {
    int n = 0;
    derive_route_defaults(cfg);
    if (cfg->nroutes > DEFAULT_ROUTE_LIMIT) {
        char line[128];
        snprintf(line, sizeof(line), "too many routes: %zu (at most %d)", cfg->nroutes,
                 DEFAULT_ROUTE_LIMIT);
        errors(line);
        n++;
    }
    for (size_t i = 0; i < cfg->nroutes; i++)
        n += validate_route(cfg, i, errors);
    if (cfg->client_buffer < 2 * cfg->max_message_size) {
        /* A message larger than half a client buffer would cut every client that replays
         * it, and the client would come back to the same message forever. */
        errors("client_buffer must be at least twice max_message_size");
        n++;
    }
    if (cfg->backoff_min_ms == 0 || cfg->backoff_min_ms > cfg->backoff_max_ms) {
        errors("backoff_min must be above 0 and at most backoff_max");
        n++;
    }
    bool jwt = false, backend = false;
    for (size_t i = 0; i < cfg->nroutes; i++) {
        jwt |= config_route_auth(cfg, &cfg->routes[i]) == AUTH_JWT;
        backend |= config_route_auth(cfg, &cfg->routes[i]) == AUTH_BACKEND;
    }
    bool hmac = config_jwt_algorithm(cfg)[0] == 'H';
    if (jwt && hmac && cfg->jwt_secret_file == NULL && cfg->jwt_secret == NULL) {
        errors("[auth] jwt routes with an HS* algorithm need jwt_secret_file (or JWT_SECRET)");
        n++;
    }
    if (jwt && !hmac && cfg->jwt_key_file == NULL) {
        errors("[auth] jwt routes with an RS*/ES* algorithm need jwt_key_file");
        n++;
    }
    if (backend && cfg->backend_url == NULL) {
        errors("[auth] backend routes need backend_url");
        n++;
    }
    return n;
}
