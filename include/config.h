/* Configuration: defaults, then the INI file, then environment variables, then command-line
 * flags, each overriding the one before. Every global setting is one row of a table (bridge/
 * config.c, struct config_setting): its key and section, type, field, default, bounds,
 * environment variable, flag and description. The file parser, config_set, config_apply_env,
 * main's flags and --help, and the README reference (config_reference) all read the rows, so
 * a setting is defined in exactly one place. config_load_file parses the file with inih; each
 * error names file:line and what is wrong. Pure: reads the file it is given and the
 * environment block it is passed, nothing else. */
#ifndef CONFIG_H
#define CONFIG_H

#include <stdbool.h>
#include <stddef.h>

#include "translate.h"

/* SSE carries UTF-8 text only: what a route does with a payload that is not. */
enum binary_policy { BINARY_BASE64, BINARY_REJECT };
/* Who may open a route's streams or publish on it (see auth.h). */
enum auth_mode { AUTH_DEFAULT = -1, AUTH_NONE, AUTH_JWT, AUTH_BACKEND };

struct route_cfg {
    char *name;
    char *path;      /* path template, e.g. /events/orders/{customer} */
    char *query;     /* its query part (appId={appId}&page={page}), or NULL */
    char **channels; /* channel templates (SUBSCRIBE) */
    size_t nchannels;
    char **patterns; /* pattern templates (PSUBSCRIBE) */
    size_t npatterns;
    char **streams; /* stream key templates (XREAD) */
    size_t nstreams;
    char **mqtt_topics; /* MQTT topic filter templates (levels may be + or #) */
    size_t nmqtt_topics;
    char **topics; /* templates of the ?topic= values a client may ask for: channels, stream
                      keys on a stream route, MQTT topics on a route with only mqtt_topic */
    size_t ntopics;
    bool topics_mqtt;       /* ?topic= values are MQTT topics (topic_source = mqtt) */
    bool topics_source_set; /* topic_source given; else MQTT when the route reads only MQTT */
    size_t journal;         /* entries kept per channel (0: no journal) */
    unsigned long long journal_age_ms; /* or: entries younger than this */
    bool event_set;                    /* `event` given (stream routes default field:event) */
    bool pinned;                       /* `static = true`: subscribed at start, never dropped */
    bool publish;                      /* POST publishes the body to the route's channels */
    bool retained; /* MQTT: a new client gets the retained messages first (default on) */
    enum binary_policy binary; /* payloads that are not UTF-8: base64 (default) or reject */
    int auth;                  /* enum auth_mode; AUTH_DEFAULT: [auth] default */
    struct translate_rules rules;
    char *file; /* where the route was defined, for messages */
    int line;
};

struct config {
    char *listen_host;
    int listen_port;
    char *redis_url;
    unsigned retry_ms;
    unsigned heartbeat_ms;
    char *close_event; /* "" disables */
    size_t max_clients;
    size_t listen_backlog;
    bool reuse_port; /* SO_REUSEPORT: several processes share the port */
    size_t max_topics;
    size_t client_buffer;
    unsigned client_write_timeout_ms;
    unsigned redis_probe_interval_ms; /* PING Redis this often (0: off) */
    unsigned redis_probe_timeout_ms;  /* ... and call it down after this long without answer */
    unsigned request_timeout_ms;      /* a connection's whole request must come within this */
    size_t max_pending_connections;   /* connections that have not sent a whole request */
    size_t client_socket_buffer;      /* SO_SNDBUF of each connection (0: kernel autotuning) */
    size_t max_header_size;
    size_t max_uri_size;
    size_t max_body_size;
    size_t max_message_size;
    size_t max_publish_size;
    char *static_dir; /* NULL: no static files; relative to the config file's directory */
    unsigned shutdown_flush_ms;
    unsigned linger_ms;
    unsigned backoff_min_ms;
    unsigned backoff_max_ms;
    char **cors_origins; /* "*" allows any origin */
    size_t ncors_origins;
    bool cors_credentials;
    char *log_level;
    size_t journal;       /* journal length of the built-in routes */
    char *journal_prefix; /* key of a channel's journal: prefix + channel name */
    unsigned journal_linger_ms;
    unsigned journal_lease_ms; /* the journal writer's lease among bridges (0: none, write alone) */
    size_t workers;            /* processes on one port (0: one per core) */
    int worker;                /* main.c's: this process's number among them (0: the only one) */
    size_t replay_batch;
    size_t replay_inflight;
    unsigned lag_max_ms; /* a follower this far behind skips to the present (0: never) */
    char *gap_event;
    /* MQTT ([mqtt] section; used when a route has an mqtt_topic). */
    char *mqtt_url;       /* mqtt://[user[:password]@]host[:port], mqtts:// for TLS */
    char *mqtt_client_id; /* NULL: sse-bridge-<hostname>-<listen port>, stable across restarts */
    char *mqtt_username, *mqtt_password; /* override the URL's */
    unsigned mqtt_keepalive_s;
    int mqtt_qos;
    bool mqtt_clean_session;
    int mqtt_protocol; /* 5 or 311 */
    char *mqtt_ca_file, *mqtt_cert_file, *mqtt_key_file;
    size_t mqtt_retained_max;
    /* Authorization ([auth] section). */
    int auth_default; /* enum auth_mode, for routes that do not say */
    int jwt_algorithm_id;
    char *jwt_secret_file, *jwt_key_file, *jwt_issuer, *jwt_audience, *jwt_cookie;
    char *jwt_secret; /* the environment's JWT_SECRET (main.c): overrides jwt_secret_file */
    bool jwt_query;
    unsigned jwt_leeway_ms;
    char *backend_url;
    unsigned backend_timeout_ms;
    char *backend_forward; /* header names, comma or space separated */
    unsigned backend_cache_ms;
    struct route_cfg *routes;
    size_t nroutes;
    bool default_routes; /* no [route] in the config: the two built-in routes */
};

/* Defaults, with the built-in routes (GET /events/{channel}, GET /events?topic=...). */
struct config *config_new(void);
void config_free(struct config *cfg);

/* Reads an INI file into cfg. Returns the number of errors; each was printed to `errors` as
 * "file:line: message". On errors cfg is still safe to free. */
int config_load_file(struct config *cfg, const char *path, void (*errors)(const char *line));

/* Applies one setting by its config key (the [bridge] section's names, and mqtt_NAME for the
 * [mqtt] section's), as the environment and flags do. Returns NULL, or a static explanation of what
 * is wrong with the value. */
const char *config_set(struct config *cfg, const char *key, const char *value);

/* --- The settings table --------------------------------------------------------------------- */

enum config_type {
    CONFIG_STRING,   /* char *, owned by the config; `check` may refuse a value */
    CONFIG_BOOL,     /* bool: true/yes/on/1 or false/no/off/0 */
    CONFIG_DURATION, /* unsigned: milliseconds divided by `unit` (1: ms, 1000: seconds) */
    CONFIG_SIZE,     /* size_t bytes: 4096, 64KiB, 1MiB ... */
    CONFIG_COUNT,    /* size_t: a whole number */
    CONFIG_ENUM,     /* int: the value of one of `choices` */
    CONFIG_CUSTOM,   /* `parse` stores it, `clear` frees it (listen, cors_origins) */
};

/* Row flags. CONFIG_ZERO_OFF: 0 is accepted below min (the setting turned off).
 * CONFIG_FILE_RELATIVE: in a file, a relative path is relative to the file's directory. */
#define CONFIG_ZERO_OFF 1u
#define CONFIG_FILE_RELATIVE 2u

struct config_choice {
    const char *name;
    int value;
};

/* One global setting. Rows are static and read-only; the text they point to is too. */
struct config_setting {
    const char *section; /* "bridge" or "mqtt" */
    const char *name;    /* the key as written in its section */
    enum config_type type;
    size_t offset;         /* of its field in struct config */
    const char *def;       /* default, as a user writes it (parsed by config_new); NULL: none */
    const char *def_doc;   /* what the reference says when there is no def (NULL: "(none)") */
    long long min, max;    /* DURATION (in ms), SIZE and COUNT: accepted values */
    unsigned flags;        /* CONFIG_ZERO_OFF, CONFIG_FILE_RELATIVE */
    unsigned unit;         /* DURATION: the field holds ms / unit */
    const char *env;       /* environment variable, or NULL */
    const char *flag;      /* long option (without "--"), or NULL */
    char short_flag;       /* its one-letter form, or 0 */
    const char *metavar;   /* the flag's argument in --help */
    const char *err;       /* message for a refused value; NULL: the type's */
    const char *range_err; /* ... for a well-formed value outside min..max; NULL: err */
    const char *(*check)(const char *value);                     /* STRING; NULL: any */
    const struct config_choice *choices;                         /* ENUM, ends with {NULL} */
    const char *(*parse)(struct config *cfg, const char *value); /* CUSTOM */
    void (*clear)(struct config *cfg);                           /* CUSTOM */
    const char *doc; /* meaning, one line of Markdown (README's reference, --help) */
};

/* All rows, in the order of the reference; *n is set to their number. */
const struct config_setting *config_settings(size_t *n);
/* The row of [section] name, or NULL. */
const struct config_setting *config_setting_lookup(const char *section, const char *name);
/* Parses value by the row's type and bounds into cfg; returns NULL or a static explanation. */
const char *config_setting_set(struct config *cfg, const struct config_setting *s,
                               const char *value);

/* README's configuration reference: one Markdown table per section. The caller frees it. */
char *config_reference(void);
/* The --help lines of the settings that have a flag, wrapped to 80 columns. The caller frees
 * it. */
char *config_flags_help(void);

/* Whether clients of this route get journal/stream ids and replay. */
bool route_is_journalled(const struct route_cfg *r);
/* The route's auth mode, with [auth] default applied. */
enum auth_mode config_route_auth(const struct config *cfg, const struct route_cfg *r);
/* Routes without auth, and whether `listen` is a loopback address (127.0.0.0/8, ::1,
 * localhost): the bridge warns at start when open routes listen on anything else. */
size_t config_open_routes(const struct config *cfg);
bool config_listen_is_loopback(const struct config *cfg);
/* The name of a jwt_algorithm_id ("HS256", ...). */
const char *config_jwt_algorithm(const struct config *cfg);
bool route_is_stream(const struct route_cfg *r);      /* reads at least one stream */
bool route_is_stream_only(const struct route_cfg *r); /* reads streams and nothing else */
bool route_is_mqtt(const struct route_cfg *r);
/* Whether any route reads MQTT (the bridge connects to a broker only then). */
bool config_uses_mqtt(const struct config *cfg);

/* Environment overrides: every row with an `env` variable, in table order; an unset or empty
 * variable changes nothing. Errors read "environment VAR=value: reason". `getenv_fn` is
 * getenv in the daemon. */
int config_apply_env(struct config *cfg, const char *(*getenv_fn)(const char *),
                     void (*errors)(const char *line));

/* After everything is applied: first fills in the route settings that follow from others (the
 * built-in routes' journal length, ?topic= sources, stream routes' event field), then
 * cross-checks settings and routes. Returns the number of errors printed. */
int config_validate(struct config *cfg, void (*errors)(const char *line));

/* "1500ms", "15s", "2m", "1h" or "0"; returns -1 when malformed. */
long long config_parse_duration_ms(const char *s);
/* "4096", "64KiB", "1MiB" (also k/K/KB, M/MB, G); returns -1 when malformed. */
long long config_parse_size(const char *s);

#endif
