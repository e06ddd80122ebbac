/* sse-bridge: command line, configuration, event loop. No logic of its own: the settings'
 * flags and their --help lines come from the settings table (config.h). */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/event.h>
#include <hiredis/hiredis.h>
#include <jansson.h>
#include <mosquitto.h>

#include "bridge.h"
#include "config.h"
#include "log.h"
#include "workers.h"
#include "source_mqtt.h"
#include "source_redis.h"
#include "xmalloc.h"

static void usage(FILE *out) {
    char *settings = config_flags_help();
    fprintf(out,
            "usage: sse-bridge [options]\n"
            "Serves Redis pub/sub channels, Redis streams and MQTT topics to browsers as\n"
            "Server-Sent Events.\n\n"
            "  -c, --config FILE     INI configuration (see README: Configuration)\n"
            "      --check-config    validate the configuration and exit\n"
            "%s"
            "      --config-reference\n"
            "                        print the settings as README's Markdown tables and exit\n"
            "  -h, --help            this text\n"
            "  -V, --version         print the version and those of the libraries\n\n"
            "Without a config file: GET /events/{channel} streams that Redis channel, and\n"
            "GET /events?topic=a&topic=b streams several (event name = channel); both replay\n"
            "what a reconnecting client missed (Last-Event-ID) from Redis streams.\n",
            settings);
    free(settings);
}

/* The libraries as linked at run time where they can say (libevent, jansson, libmosquitto),
 * else as compiled against (hiredis 0.14 has no run-time version call). */
static void print_version(void) {
    int major, minor, revision;
    mosquitto_lib_version(&major, &minor, &revision);
    printf("sse-bridge %s\n"
           "libevent %s, hiredis %d.%d.%d, libmosquitto %d.%d.%d, jansson %s\n",
           SSE_BRIDGE_VERSION, event_get_version(), HIREDIS_MAJOR, HIREDIS_MINOR, HIREDIS_PATCH,
           major, minor, revision, jansson_version_str());
}

static void print_reference(void) {
    char *text = config_reference();
    fputs(text, stdout);
    free(text);
}

static void print_error(const char *line) {
    fprintf(stderr, "sse-bridge: %s\n", line);
}

static const char *env(const char *name) {
    return getenv(name);
}

/* getopt_long's values: a setting's flag returns its letter, or OPT_SETTING + its row. */
enum { OPT_CHECK = 256, OPT_REFERENCE, OPT_SETTING };

static const struct option main_options[] = {{"config", required_argument, NULL, 'c'},
                                             {"check-config", no_argument, NULL, OPT_CHECK},
                                             {"config-reference", no_argument, NULL, OPT_REFERENCE},
                                             {"help", no_argument, NULL, 'h'},
                                             {"version", no_argument, NULL, 'V'}};
#define NMAIN (sizeof(main_options) / sizeof(main_options[0]))

/* main's own options, then one per setting with a flag, then the terminating zero row; the
 * short options go into `shorts` (room for 2 * n + 8 bytes). The caller frees the array. */
static struct option *options_new(const struct config_setting *s, size_t n, char *shorts) {
    struct option *o = xcalloc(NMAIN + n + 1, sizeof(*o));
    size_t k = NMAIN;
    memcpy(o, main_options, sizeof(main_options));
    strcpy(shorts, "c:hV");
    for (size_t i = 0; i < n; i++) {
        if (s[i].flag == NULL)
            continue;
        int val = s[i].short_flag ? s[i].short_flag : OPT_SETTING + (int)i;
        o[k++] = (struct option){s[i].flag, required_argument, NULL, val};
        if (s[i].short_flag)
            strcat(shorts, (char[]){s[i].short_flag, ':', '\0'});
    }
    return o;
}

/* The row a getopt_long value stands for, or -1. */
static long setting_of(int opt, const struct config_setting *s, size_t n) {
    if (opt >= OPT_SETTING && (size_t)(opt - OPT_SETTING) < n)
        return opt - OPT_SETTING;
    for (size_t i = 0; i < n; i++) {
        if (s[i].flag != NULL && s[i].short_flag != 0 && s[i].short_flag == opt)
            return (long)i;
    }
    return -1;
}

/* One bridge in this process, until it stops (workers.h runs several). */
static int run_bridge(struct config *cfg, struct metrics_slot *board, size_t n, void *arg) {
    const struct redis_addr *addr = arg;
    struct event_base *base = event_base_new();
    struct bridge *b = bridge_new(base, cfg);
    bridge_share_metrics(b, board, n);
    int rc = 1;
    if (bridge_start(b) == 0) {
        log_info("sse-bridge %s started: %zu route(s), redis %s:%d", SSE_BRIDGE_VERSION,
                 cfg->nroutes, addr->host, addr->port);
        event_base_dispatch(base);
        rc = 0;
        log_info("sse-bridge stopped");
    }
    bridge_free(b);
    event_base_free(base);
    return rc;
}

int main(int argc, char **argv) {
    size_t nsettings;
    const struct config_setting *settings = config_settings(&nsettings);
    char *shorts = xmalloc(2 * nsettings + 8);
    struct option *options = options_new(settings, nsettings, shorts);
    /* Flags are kept until the file and the environment are applied: they win over both. */
    const char **flag_values = xcalloc(nsettings, sizeof(*flag_values));
    const char *config_file = NULL;
    struct config *cfg = NULL;
    int check_only = 0, opt, rc = 1;
    long row;
    while ((opt = getopt_long(argc, argv, shorts, options, NULL)) != -1) {
        switch (opt) {
        case 'c':
            config_file = optarg;
            break;
        case OPT_CHECK:
            check_only = 1;
            break;
        case OPT_REFERENCE:
            print_reference();
            rc = 0;
            goto done;
        case 'h':
            usage(stdout);
            rc = 0;
            goto done;
        case 'V':
            print_version();
            rc = 0;
            goto done;
        default:
            if ((row = setting_of(opt, settings, nsettings)) < 0) {
                usage(stderr);
                rc = 2;
                goto done;
            }
            flag_values[row] = optarg;
        }
    }
    if (optind < argc) {
        fprintf(stderr, "sse-bridge: unexpected argument '%s'\n", argv[optind]);
        usage(stderr);
        rc = 2;
        goto done;
    }

    cfg = config_new();
    int errors = config_file ? config_load_file(cfg, config_file, print_error) : 0;
    errors += config_apply_env(cfg, env, print_error);
    for (size_t i = 0; i < nsettings; i++) {
        const char *err =
            flag_values[i] ? config_setting_set(cfg, &settings[i], flag_values[i]) : NULL;
        if (err) {
            fprintf(stderr, "sse-bridge: --%s %s: %s\n", settings[i].flag, flag_values[i], err);
            errors++;
        }
    }
    /* The HMAC secret itself, never a setting of a file or a flag (README: Authorization). */
    const char *secret = getenv("JWT_SECRET");
    if (secret != NULL && *secret != '\0')
        cfg->jwt_secret = xstrdup(secret);
    errors += config_validate(cfg, print_error);
    struct redis_addr addr;
    const char *url_err = redis_url_parse(cfg->redis_url, &addr);
    if (url_err) {
        fprintf(stderr, "sse-bridge: redis URL %s: %s\n", cfg->redis_url, url_err);
        errors++;
    }
    struct mqtt_addr maddr;
    if (config_uses_mqtt(cfg) && (url_err = mqtt_url_parse(cfg->mqtt_url, &maddr)) != NULL) {
        fprintf(stderr, "sse-bridge: mqtt URL %s: %s\n", cfg->mqtt_url, url_err);
        errors++;
    }
    if (errors) {
        fprintf(stderr, "sse-bridge: %d configuration error(s); not starting\n", errors);
        goto done;
    }
    if (check_only) {
        printf("%s: OK (%zu route(s))\n", config_file ? config_file : "(built-in defaults)",
               cfg->nroutes);
        rc = 0;
        goto done;
    }
    enum log_level level;
    log_level_parse(cfg->log_level, &level);
    log_set_level(level);

    rc = workers_run(cfg, run_bridge, &addr);
done:
    config_free(cfg);
    free(flag_values);
    free(options);
    free(shorts);
    return rc;
}
