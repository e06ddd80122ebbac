#include "config.h"

#include <ctype.h>
#include <errno.h>
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
    return r;
}

static void route_clear(struct route_cfg *r) {
    free(r->name);
    free(r->path);
    free(r->file);
    list_free(r->channels, r->nchannels);
    list_free(r->patterns, r->npatterns);
    list_free(r->topics, r->ntopics);
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
    cfg->max_topics = DEFAULT_MAX_TOPICS;
    cfg->client_buffer = DEFAULT_CLIENT_BUFFER;
    cfg->client_write_timeout_ms = DEFAULT_CLIENT_WRITE_TIMEOUT_MS;
    cfg->max_header_size = DEFAULT_MAX_HEADER_SIZE;
    cfg->max_uri_size = DEFAULT_MAX_URI_SIZE;
    cfg->max_body_size = DEFAULT_MAX_BODY_SIZE;
    cfg->max_message_size = DEFAULT_MAX_MESSAGE_SIZE;
    cfg->shutdown_flush_ms = DEFAULT_SHUTDOWN_FLUSH_MS;
    cfg->linger_ms = DEFAULT_LINGER_MS;
    cfg->backoff_min_ms = DEFAULT_BACKOFF_MIN_MS;
    cfg->backoff_max_ms = DEFAULT_BACKOFF_MAX_MS;
    cfg->log_level = xstrdup("info");
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
            return n * units[i].bytes;
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
    if (host_len >= 2 && value[0] == '[' && value[host_len - 1] == ']') {
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

static const char *add_origins(struct config *cfg, const char *value) {
    char *copy = xstrdup(value), *save = NULL;
    for (char *tok = strtok_r(copy, " ,", &save); tok; tok = strtok_r(NULL, " ,", &save)) {
        if (strcmp(tok, "*") != 0 && strncmp(tok, "http://", 7) != 0 &&
            strncmp(tok, "https://", 8) != 0) {
            free(copy);
            return "an origin is *, or scheme://host[:port] with http or https";
        }
        list_add(&cfg->cors_origins, &cfg->ncors_origins, tok);
    }
    free(copy);
    return NULL;
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
    if (!strcmp(key, "max_topics"))
        return set_count(&cfg->max_topics, value, 1, 1024);
    if (!strcmp(key, "client_buffer"))
        return set_size(&cfg->client_buffer, value, 4096, 1LL << 30);
    if (!strcmp(key, "client_write_timeout"))
        return set_duration(&cfg->client_write_timeout_ms, value);
    if (!strcmp(key, "max_header_size"))
        return set_size(&cfg->max_header_size, value, 1024, 1024 * 1024);
    if (!strcmp(key, "max_uri_size"))
        return set_size(&cfg->max_uri_size, value, 256, 64 * 1024);
    if (!strcmp(key, "max_body_size"))
        return set_size(&cfg->max_body_size, value, 0, 1024 * 1024);
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
        if ((err = route_template_check(value)) != NULL)
            return err;
        r->path = xstrdup(value);
        return NULL;
    }
    if (!strcmp(key, "channel") || !strcmp(key, "pattern") || !strcmp(key, "topic")) {
        if ((err = route_template_check(value)) != NULL)
            return err;
        if (value[0] == '\0')
            return "empty";
        if (key[0] == 'c')
            list_add(&r->channels, &r->nchannels, value);
        else if (key[0] == 'p')
            list_add(&r->patterns, &r->npatterns, value);
        else
            list_add(&r->topics, &r->ntopics, value);
        return NULL;
    }
    if (!strcmp(key, "static"))
        return parse_bool(value, &r->pinned);
    struct field_rule *rule = !strcmp(key, "event")  ? &r->rules.event
                              : !strcmp(key, "id")   ? &r->rules.id
                              : !strcmp(key, "data") ? &r->rules.data
                                                     : NULL;
    if (rule == NULL)
        return "unknown route setting (path, channel, pattern, topic, static, event, id, data)";
    struct field_rule parsed;
    if (field_rule_parse(key, value, &parsed, &err) != 0)
        return err;
    field_rule_clear(rule);
    *rule = parsed;
    return NULL;
}

/* inih reads through this so that every handler call knows its line: the library's line
 * numbers reach handlers only when it is built with INI_HANDLER_LINENO, and Debian's is not. */
struct reader {
    FILE *fp;
    int line;
    bool too_long;
};

static char *read_line(char *str, int num, void *stream) {
    struct reader *rd = stream;
    if (fgets(str, num, rd->fp) == NULL)
        return NULL;
    rd->line++;
    size_t n = strlen(str);
    if (n > 0 && str[n - 1] != '\n' && !feof(rd->fp)) {
        rd->too_long = true;
        int c;
        while ((c = fgetc(rd->fp)) != EOF && c != '\n')
            ;
        str[0] = '\0'; /* parse the rest of the file; the error is reported by the handler */
    }
    return str;
}

struct load {
    struct config *cfg;
    const char *file;
    struct reader rd;
    void (*errors)(const char *line);
    int nerrors;
    int too_long_reported;
    struct route_cfg *route; /* current [route NAME] section */
    bool in_route_section, saw_route;
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

static int on_entry(void *user, const char *section, const char *key, const char *value) {
    struct load *ld = user;
    int line = ld->rd.line;
    if (!strncmp(section, "route ", 6)) {
        const char *name = section + 6;
        if (ld->route == NULL || strcmp(ld->route->name, name) != 0) {
            for (size_t i = 0; i < ld->cfg->nroutes; i++) {
                if (!ld->cfg->default_routes && strcmp(ld->cfg->routes[i].name, name) == 0)
                    report(ld, line, "route '%s' is defined twice", name);
            }
            if (!ld->saw_route) { /* the first [route] replaces the built-in ones */
                routes_clear(ld->cfg);
                ld->cfg->default_routes = false;
                ld->saw_route = true;
            }
            ld->route = route_add(ld->cfg, name, ld->file, line);
        }
        const char *err = route_set(ld->route, key, value);
        if (err)
            report(ld, line, "[route %s] %s = %s: %s", name, key, value, err);
    } else if (!strcmp(section, "bridge")) {
        const char *err = config_set(ld->cfg, key, value);
        if (err)
            report(ld, line, "[bridge] %s = %s: %s", key, value, err);
    } else {
        report(ld, line, "unknown section [%s] (expected [bridge] or [route NAME])", section);
    }
    return 1;
}

int config_load_file(struct config *cfg, const char *path, void (*errors)(const char *line)) {
    struct load ld = {.cfg = cfg, .file = path, .errors = errors};
    ld.rd.fp = fopen(path, "r");
    if (ld.rd.fp == NULL) {
        report(&ld, 0, "cannot open: %s", strerror(errno));
        return ld.nerrors;
    }
    /* inih's settings are process-wide; these are the only ones sse-bridge uses. */
    ini_max_line = CONFIG_MAX_LINE;
    ini_allow_multiline = false;
    int rc = ini_parse_stream(read_line, &ld.rd, on_entry, &ld);
    if (ld.rd.too_long)
        report(&ld, ld.rd.line, "a line is longer than %d bytes", CONFIG_MAX_LINE - 2);
    if (rc > 0)
        report(&ld, rc, "expected [section] or key = value");
    fclose(ld.rd.fp);
    return ld.nerrors;
}

int config_apply_env(struct config *cfg, const char *(*getenv_fn)(const char *),
                     void (*errors)(const char *line)) {
    static const struct {
        const char *var, *key;
    } vars[] = {{"LISTEN", "listen"}, {"REDIS_URL", "redis"}, {"LOG_LEVEL", "log_level"}};
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
    if (r->nchannels + r->npatterns + r->ntopics == 0)
        ROUTE_ERROR("needs at least one channel, pattern or topic");
    for (size_t i = 0; i < r->nchannels; i++) {
        if (!route_template_params_in(r->channels[i], r->path))
            ROUTE_ERROR("channel %s uses a parameter that the path does not have", r->channels[i]);
    }
    for (size_t i = 0; i < r->npatterns; i++) {
        if (!route_template_params_in(r->patterns[i], r->path))
            ROUTE_ERROR("pattern %s uses a parameter that the path does not have", r->patterns[i]);
    }
    if (r->pinned && route_template_has_params(r->path))
        ROUTE_ERROR("static = true needs a path without parameters (the channels are fixed)");
    if (r->pinned && r->ntopics > 0)
        ROUTE_ERROR("static = true cannot be combined with topic (clients choose topics)");
    for (size_t i = 0; i < sizeof(reserved_paths) / sizeof(reserved_paths[0]); i++) {
        if (strcmp(r->path, reserved_paths[i]) == 0)
            ROUTE_ERROR("path %s is reserved for the bridge itself", r->path);
    }
    for (size_t j = 0; j < index; j++) {
        if (strcmp(cfg->routes[j].path, r->path) == 0)
            ROUTE_ERROR("path %s is already used by route %s", r->path, cfg->routes[j].name);
    }
#undef ROUTE_ERROR
    return n;
}

int config_validate(struct config *cfg, void (*errors)(const char *line)) {
    int n = 0;
    if (cfg->nroutes > DEFAULT_ROUTE_LIMIT) {
        char line[128];
        snprintf(line, sizeof(line), "too many routes: %zu (at most %d)", cfg->nroutes,
                 DEFAULT_ROUTE_LIMIT);
        errors(line);
        n++;
    }
    for (size_t i = 0; i < cfg->nroutes; i++)
        n += validate_route(cfg, i, errors);
    if (cfg->backoff_min_ms == 0 || cfg->backoff_min_ms > cfg->backoff_max_ms) {
        errors("backoff_min must be above 0 and at most backoff_max");
        n++;
    }
    return n;
}
