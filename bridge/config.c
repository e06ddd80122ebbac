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
    return r;
}

static void route_clear(struct route_cfg *r) {
    free(r->name);
    free(r->path);
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

struct config *config_new(void) {
    struct config *cfg = xcalloc(1, sizeof(*cfg));
    const char *err = config_set(cfg, "listen", DEFAULT_LISTEN);
    (void)err; /* the defaults are valid: the config unit test checks them */
    cfg->redis_url = xstrdup(DEFAULT_REDIS_URL);
    cfg->retry_ms = DEFAULT_RETRY_MS;
    cfg->heartbeat_ms = DEFAULT_HEARTBEAT_MS;
    cfg->close_event = xstrdup(DEFAULT_CLOSE_EVENT);
    cfg->max_clients = DEFAULT_MAX_CLIENTS;
    cfg->listen_backlog = DEFAULT_LISTEN_BACKLOG;
    cfg->max_topics = DEFAULT_MAX_TOPICS;
    cfg->client_buffer = DEFAULT_CLIENT_BUFFER;
    cfg->client_write_timeout_ms = DEFAULT_CLIENT_WRITE_TIMEOUT_MS;
    cfg->request_timeout_ms = DEFAULT_REQUEST_TIMEOUT_MS;
    cfg->redis_probe_interval_ms = DEFAULT_REDIS_PROBE_INTERVAL_MS;
    cfg->redis_probe_timeout_ms = DEFAULT_REDIS_PROBE_TIMEOUT_MS;
    cfg->max_pending_connections = DEFAULT_MAX_PENDING_CONNECTIONS;
    cfg->client_socket_buffer = DEFAULT_CLIENT_SOCKET_BUFFER;
    cfg->max_header_size = DEFAULT_MAX_HEADER_SIZE;
    cfg->max_uri_size = DEFAULT_MAX_URI_SIZE;
    cfg->max_body_size = DEFAULT_MAX_BODY_SIZE;
    cfg->max_message_size = DEFAULT_MAX_MESSAGE_SIZE;
    cfg->max_publish_size = DEFAULT_MAX_PUBLISH_SIZE;
    cfg->shutdown_flush_ms = DEFAULT_SHUTDOWN_FLUSH_MS;
    cfg->linger_ms = DEFAULT_LINGER_MS;
    cfg->backoff_min_ms = DEFAULT_BACKOFF_MIN_MS;
    cfg->backoff_max_ms = DEFAULT_BACKOFF_MAX_MS;
    cfg->log_level = xstrdup("info");
    cfg->journal = DEFAULT_JOURNAL;
    cfg->journal_prefix = xstrdup(DEFAULT_JOURNAL_PREFIX);
    cfg->journal_linger_ms = DEFAULT_JOURNAL_LINGER_MS;
    cfg->replay_batch = DEFAULT_REPLAY_BATCH;
    cfg->replay_inflight = DEFAULT_REPLAY_INFLIGHT;
    cfg->gap_event = xstrdup(DEFAULT_GAP_EVENT);
    cfg->mqtt_url = xstrdup(DEFAULT_MQTT_URL);
    cfg->mqtt_keepalive_s = DEFAULT_MQTT_KEEPALIVE_S;
    cfg->mqtt_qos = DEFAULT_MQTT_QOS;
    cfg->mqtt_clean_session = DEFAULT_MQTT_CLEAN_SESSION;
    cfg->mqtt_protocol = DEFAULT_MQTT_PROTOCOL;
    cfg->mqtt_retained_max = DEFAULT_MQTT_RETAINED_MAX;
    default_routes(cfg);
    return cfg;
}

void config_free(struct config *cfg) {
    if (cfg == NULL)
        return;
    free(cfg->listen_host);
    free(cfg->redis_url);
    free(cfg->close_event);
    free(cfg->log_level);
    free(cfg->journal_prefix);
    free(cfg->gap_event);
    free(cfg->mqtt_url);
    free(cfg->static_dir);
    free(cfg->mqtt_client_id);
    free(cfg->mqtt_username);
    free(cfg->mqtt_password);
    free(cfg->mqtt_ca_file);
    free(cfg->mqtt_cert_file);
    free(cfg->mqtt_key_file);
    list_free(cfg->cors_origins, cfg->ncors_origins);
    routes_clear(cfg);
    free(cfg);
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

static const char *set_duration(unsigned *field, const char *value) {
    long long ms = config_parse_duration_ms(value);
    if (ms < 0 || ms > 86400000LL)
        return "expected a duration such as 500ms, 15s or 2m (0 to 24h)";
    *field = (unsigned)ms;
    return NULL;
}

static const char *set_size(size_t *field, const char *value, long long min, long long max) {
    long long n = config_parse_size(value);
    if (n < min || n > max)
        return "expected a size such as 4096, 64KiB or 1MiB, within its bounds";
    *field = (size_t)n;
    return NULL;
}

static const char *set_count(size_t *field, const char *value, long long min, long long max) {
    char *end;
    errno = 0;
    long long n = strtoll(value, &end, 10);
    if (!isdigit((unsigned char)*value) || *end != '\0' || errno != 0 || n < min || n > max)
        return "expected a whole number within its bounds";
    *field = (size_t)n;
    return NULL;
}

static bool origin_valid(const char *tok) {
    return strcmp(tok, "*") == 0 || strncmp(tok, "http://", 7) == 0 ||
           strncmp(tok, "https://", 8) == 0;
}

/* All or nothing: a value with one bad origin adds none. */
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

static const char *set_nonempty(char **field, const char *value) {
    if (value[0] == '\0')
        return "empty";
    set_str(field, value);
    return NULL;
}

/* The [mqtt] section's keys (mqtt_KEY through config_set, the environment and flags). */
static const char *mqtt_set(struct config *cfg, const char *key, const char *value) {
    if (!strcmp(key, "url")) {
        if (strncmp(value, "mqtt://", 7) != 0 && strncmp(value, "mqtts://", 8) != 0)
            return "expected mqtt://[user[:password]@]host[:port] or mqtts://...";
        set_str(&cfg->mqtt_url, value);
        return NULL;
    }
    if (!strcmp(key, "client_id")) {
        if (strlen(value) > 65535)
            return "a client id is at most 65535 bytes";
        return set_nonempty(&cfg->mqtt_client_id, value);
    }
    if (!strcmp(key, "username"))
        return set_nonempty(&cfg->mqtt_username, value);
    if (!strcmp(key, "password"))
        return set_nonempty(&cfg->mqtt_password, value);
    if (!strcmp(key, "ca_file"))
        return set_nonempty(&cfg->mqtt_ca_file, value);
    if (!strcmp(key, "cert_file"))
        return set_nonempty(&cfg->mqtt_cert_file, value);
    if (!strcmp(key, "key_file"))
        return set_nonempty(&cfg->mqtt_key_file, value);
    if (!strcmp(key, "keepalive")) {
        long long ms = config_parse_duration_ms(value);
        if (ms < 5000 || ms > 65535000LL)
            return "expected a duration from 5s to 65535s";
        cfg->mqtt_keepalive_s = (unsigned)(ms / 1000);
        return NULL;
    }
    if (!strcmp(key, "qos")) {
        if (strcmp(value, "0") != 0 && strcmp(value, "1") != 0)
            return "expected 0 or 1";
        cfg->mqtt_qos = value[0] - '0';
        return NULL;
    }
    if (!strcmp(key, "clean_session"))
        return parse_bool(value, &cfg->mqtt_clean_session);
    if (!strcmp(key, "protocol")) {
        if (!strcmp(value, "5") || !strcmp(value, "5.0"))
            cfg->mqtt_protocol = 5;
        else if (!strcmp(value, "3.1.1") || !strcmp(value, "311"))
            cfg->mqtt_protocol = 311;
        else
            return "expected 5 or 3.1.1";
        return NULL;
    }
    if (!strcmp(key, "retained_max"))
        return set_count(&cfg->mqtt_retained_max, value, 0, 100000);
    return "unknown [mqtt] setting (url, client_id, username, password, keepalive, qos, "
           "clean_session, protocol, ca_file, cert_file, key_file, retained_max)";
}

const char *config_set(struct config *cfg, const char *key, const char *value) {
    unsigned ms;
    const char *err;
    if (!strcmp(key, "listen"))
        return parse_listen(cfg, value);
    if (!strcmp(key, "redis")) {
        if (strncmp(value, "redis://", 8) != 0)
            return "expected redis://[:password@]host[:port][/db]";
        set_str(&cfg->redis_url, value);
        return NULL;
    }
    if (!strcmp(key, "retry"))
        return set_duration(&cfg->retry_ms, value);
    if (!strcmp(key, "heartbeat")) {
        if ((err = set_duration(&ms, value)) != NULL)
            return err;
        if (ms != 0 && ms < 100)
            return "heartbeat must be 0 (off) or at least 100ms";
        cfg->heartbeat_ms = ms;
        return NULL;
    }
    if (!strcmp(key, "close_event")) {
        if (strpbrk(value, "\r\n") != NULL)
            return "an event name is one line";
        set_str(&cfg->close_event, value);
        return NULL;
    }
    if (!strcmp(key, "max_clients"))
        return set_count(&cfg->max_clients, value, 1, 1000000);
    if (!strcmp(key, "listen_backlog"))
        return set_count(&cfg->listen_backlog, value, 1, 65535);
    if (!strcmp(key, "reuse_port"))
        return parse_bool(value, &cfg->reuse_port);
    if (!strcmp(key, "max_topics"))
        return set_count(&cfg->max_topics, value, 1, 1024);
    if (!strcmp(key, "client_buffer"))
        return set_size(&cfg->client_buffer, value, 4096, 1LL << 30);
    if (!strcmp(key, "client_write_timeout"))
        return set_duration(&cfg->client_write_timeout_ms, value);
    if (!strcmp(key, "redis_probe_interval"))
        return set_duration(&cfg->redis_probe_interval_ms, value);
    if (!strcmp(key, "redis_probe_timeout")) {
        unsigned timeout = cfg->redis_probe_timeout_ms;
        const char *bad = set_duration(&timeout, value);
        if (bad == NULL && timeout < 100)
            bad = "at least 100ms";
        if (bad == NULL)
            cfg->redis_probe_timeout_ms = timeout;
        return bad;
    }
    if (!strcmp(key, "request_timeout"))
        return set_duration(&cfg->request_timeout_ms, value);
    if (!strcmp(key, "max_pending_connections"))
        return set_count(&cfg->max_pending_connections, value, 1, 1000000);
    if (!strcmp(key, "client_socket_buffer"))
        return set_size(&cfg->client_socket_buffer, value, 0, 64 * 1024 * 1024);
    if (!strcmp(key, "max_header_size"))
        return set_size(&cfg->max_header_size, value, 1024, 1024 * 1024);
    if (!strcmp(key, "max_uri_size"))
        return set_size(&cfg->max_uri_size, value, 256, 64 * 1024);
    if (!strcmp(key, "max_body_size"))
        return set_size(&cfg->max_body_size, value, 0, 1024 * 1024);
    if (!strcmp(key, "max_publish_size"))
        return set_size(&cfg->max_publish_size, value, 1, 16 * 1024 * 1024);
    if (!strcmp(key, "static_dir"))
        return set_nonempty(&cfg->static_dir, value);
    if (!strcmp(key, "max_message_size"))
        return set_size(&cfg->max_message_size, value, 64, 64 * 1024 * 1024);
    if (!strcmp(key, "shutdown_flush"))
        return set_duration(&cfg->shutdown_flush_ms, value);
    if (!strcmp(key, "linger"))
        return set_duration(&cfg->linger_ms, value);
    if (!strcmp(key, "backoff_min"))
        return set_duration(&cfg->backoff_min_ms, value);
    if (!strcmp(key, "backoff_max"))
        return set_duration(&cfg->backoff_max_ms, value);
    if (!strcmp(key, "cors_origins"))
        return add_origins(cfg, value);
    if (!strcmp(key, "cors_credentials"))
        return parse_bool(value, &cfg->cors_credentials);
    if (!strcmp(key, "journal"))
        return set_count(&cfg->journal, value, 0, 100000000);
    if (!strcmp(key, "journal_prefix")) {
        set_str(&cfg->journal_prefix, value);
        return NULL;
    }
    if (!strcmp(key, "journal_linger"))
        return set_duration(&cfg->journal_linger_ms, value);
    if (!strcmp(key, "replay_batch"))
        return set_count(&cfg->replay_batch, value, 1, 10000);
    if (!strcmp(key, "replay_inflight"))
        return set_count(&cfg->replay_inflight, value, 1, 10000);
    if (!strcmp(key, "gap_event")) {
        if (value[0] == '\0' || strpbrk(value, "\r\n") != NULL)
            return "an event name is one non-empty line";
        set_str(&cfg->gap_event, value);
        return NULL;
    }
    if (!strncmp(key, "mqtt_", 5))
        return mqtt_set(cfg, key + 5, value);
    if (!strcmp(key, "log_level")) {
        enum log_level level;
        if (log_level_parse(value, &level) != 0)
            return "expected debug, info, warn or error";
        set_str(&cfg->log_level, value);
        return NULL;
    }
    return "unknown setting";
}

static const char *route_set(struct route_cfg *r, const char *key, const char *value) {
    const char *err = NULL;
    if (!strcmp(key, "path")) {
        if (r->path != NULL)
            return "a route has one path";
        if (value[0] != '/')
            return "a path starts with /";
        if (strpbrk(value, "?#% ") != NULL)
            return "a path template holds no '?', '#', '%' or space";
        if ((err = route_template_check(value)) != NULL || (err = route_path_check(value)) != NULL)
            return err;
        r->path = xstrdup(value);
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
        return set_count(&r->journal, value, 0, 100000000);
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

static int on_entry(void *user, const char *section, const char *key, const char *value) {
    struct load *ld = user;
    int line = ld->line;
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
    } else if (!strcmp(section, "bridge")) {
        char joined[4096];
        const char *slash = strrchr(ld->file, '/');
        if (!strcmp(key, "static_dir") && value[0] != '/' && value[0] != '\0' && slash != NULL) {
            /* Relative to the config file, wherever the daemon was started from. */
            snprintf(joined, sizeof(joined), "%.*s/%s", (int)(slash - ld->file), ld->file, value);
            value = joined;
        }
        const char *err = config_set(ld->cfg, key, value);
        if (err)
            report(ld, line, "[bridge] %s = %s: %s", key, value, err);
    } else if (!strcmp(section, "mqtt")) {
        const char *err = mqtt_set(ld->cfg, key, value);
        if (err)
            report(ld, line, "[mqtt] %s = %s: %s", key, value, err);
    } else {
        report(ld, line, "unknown section [%s] (expected [bridge], [mqtt] or [route NAME])",
               section);
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
    static const struct {
        const char *var, *key;
    } vars[] = {{"LISTEN", "listen"},
                {"REDIS_URL", "redis"},
                {"LOG_LEVEL", "log_level"},
                {"JOURNAL", "journal"},
                {"MQTT_URL", "mqtt_url"},
                {"MQTT_USERNAME", "mqtt_username"},
                {"MQTT_PASSWORD", "mqtt_password"},
                {"MQTT_CLIENT_ID", "mqtt_client_id"}};
    int nerrors = 0;
    for (size_t i = 0; i < sizeof(vars) / sizeof(vars[0]); i++) {
        const char *value = getenv_fn(vars[i].var);
        const char *err = value && *value ? config_set(cfg, vars[i].key, value) : NULL;
        if (err) {
            char line[512];
            snprintf(line, sizeof(line), "environment %s=%s: %s", vars[i].var, value, err);
            errors(line);
            nerrors++;
        }
    }
    return nerrors;
}

static const char *reserved_paths[] = {"/healthz", "/metrics"};

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
    if (cfg->reuse_port && route_is_mqtt(r))
        ROUTE_ERROR("reads MQTT, which reuse_port does not support yet (every process would "
                    "need an MQTT session of its own)");
    else if (cfg->reuse_port && (r->journal > 0 || r->journal_age_ms > 0) &&
             !route_is_stream_only(r))
        ROUTE_ERROR("journals pub/sub messages, which reuse_port cannot do (every process would "
                    "write the journal); set journal = 0, or read a stream");
    if (route_is_journalled(r) && translate_needs_props(&r->rules))
        ROUTE_ERROR("property:NAME cannot be used with a journal: the journal keeps the topic "
                    "and payload, not MQTT user properties, so a replay could not translate "
                    "the same way; remove the property rule (or the journal)");
    for (size_t i = 0; i < r->nmqtt_topics; i++) {
        if (!route_template_params_in(r->mqtt_topics[i], r->path))
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
        if (!route_template_params_in(r->streams[i], r->path))
            ROUTE_ERROR("stream %s uses a parameter that the path does not have", r->streams[i]);
    }
    for (size_t i = 0; i < r->nchannels; i++) {
        if (!route_template_params_in(r->channels[i], r->path))
            ROUTE_ERROR("channel %s uses a parameter that the path does not have", r->channels[i]);
    }
    for (size_t i = 0; i < r->npatterns; i++) {
        if (!route_template_params_in(r->patterns[i], r->path))
            ROUTE_ERROR("pattern %s uses a parameter that the path does not have", r->patterns[i]);
    }
    if (r->publish && (r->nchannels == 0 || r->npatterns + r->nstreams + r->nmqtt_topics > 0))
        ROUTE_ERROR("publish = true needs channels and nothing else (POST publishes the body to "
                    "them)");
    if (r->pinned && route_template_has_params(r->path))
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

int config_validate(struct config *cfg, void (*errors)(const char *line)) {
    int n = 0;
    /* The built-in routes journal by default (`journal`, --journal; 0 turns it off). */
    for (size_t i = 0; cfg->default_routes && i < cfg->nroutes; i++)
        cfg->routes[i].journal = cfg->journal;
    /* Stream entries usually carry their event name in a field called "event". */
    for (size_t i = 0; i < cfg->nroutes; i++) {
        struct route_cfg *r = &cfg->routes[i];
        /* ?topic= names MQTT topics on a route that reads only MQTT. */
        if (!r->topics_source_set)
            r->topics_mqtt = r->nmqtt_topics > 0 && r->nchannels + r->npatterns == 0;
        if (route_is_stream_only(r) && !r->event_set && r->rules.event.src == FIELD_NONE) {
            r->rules.event.src = FIELD_ENTRY;
            r->rules.event.arg = xstrdup("event");
        }
    }
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
    return n;
}
