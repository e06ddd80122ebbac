/* sse-bridge: command line, configuration, event loop. No logic of its own. */
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
#include "defaults.h"
#include "log.h"
#include "source_mqtt.h"
#include "source_redis.h"

static void usage(FILE *out) {
    fprintf(out,
            "usage: sse-bridge [options]\n"
            "Serves Redis pub/sub channels, Redis streams and MQTT topics to browsers as\n"
            "Server-Sent Events.\n\n"
            "  -c, --config FILE     INI configuration (see README: Configuration)\n"
            "      --check-config    validate the configuration and exit\n"
            "  -l, --listen ADDR     listen address, host:port (default %s; env LISTEN)\n"
            "  -r, --redis URL       redis://[[user]:password@]host[:port][/db]\n"
            "                        (default %s; env REDIS_URL)\n"
            "  -m, --mqtt URL        mqtt://[user[:password]@]host[:port] (mqtts:// for TLS),\n"
            "                        for routes with mqtt_topic (default %s; env MQTT_URL)\n"
            "      --journal N       entries journalled per channel by the built-in routes\n"
            "                        (default %d, 0 = no journal; env JOURNAL)\n"
            "      --log-level LVL   debug, info, warn or error (env LOG_LEVEL)\n"
            "  -h, --help            this text\n"
            "  -V, --version         print the version and those of the libraries\n\n"
            "Without a config file: GET /events/{channel} streams that Redis channel, and\n"
            "GET /events?topic=a&topic=b streams several (event name = channel); both replay\n"
            "what a reconnecting client missed (Last-Event-ID) from Redis streams.\n",
            DEFAULT_LISTEN, DEFAULT_REDIS_URL, DEFAULT_MQTT_URL, DEFAULT_JOURNAL);
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

static void print_error(const char *line) {
    fprintf(stderr, "sse-bridge: %s\n", line);
}

static const char *env(const char *name) {
    return getenv(name);
}

int main(int argc, char **argv) {
    enum { OPT_CHECK = 256, OPT_LOG_LEVEL, OPT_JOURNAL };
    static const struct option options[] = {{"config", required_argument, NULL, 'c'},
                                            {"check-config", no_argument, NULL, OPT_CHECK},
                                            {"listen", required_argument, NULL, 'l'},
                                            {"redis", required_argument, NULL, 'r'},
                                            {"mqtt", required_argument, NULL, 'm'},
                                            {"log-level", required_argument, NULL, OPT_LOG_LEVEL},
                                            {"journal", required_argument, NULL, OPT_JOURNAL},
                                            {"help", no_argument, NULL, 'h'},
                                            {"version", no_argument, NULL, 'V'},
                                            {NULL, 0, NULL, 0}};
    const char *config_file = NULL, *listen = NULL, *redis = NULL, *log_level = NULL;
    const char *journal = NULL, *mqtt = NULL;
    int check_only = 0, opt;
    while ((opt = getopt_long(argc, argv, "c:l:r:m:hV", options, NULL)) != -1) {
        switch (opt) {
        case 'c':
            config_file = optarg;
            break;
        case OPT_CHECK:
            check_only = 1;
            break;
        case 'l':
            listen = optarg;
            break;
        case 'r':
            redis = optarg;
            break;
        case 'm':
            mqtt = optarg;
            break;
        case OPT_LOG_LEVEL:
            log_level = optarg;
            break;
        case OPT_JOURNAL:
            journal = optarg;
            break;
        case 'h':
            usage(stdout);
            return 0;
        case 'V':
            print_version();
            return 0;
        default:
            usage(stderr);
            return 2;
        }
    }
    if (optind < argc) {
        fprintf(stderr, "sse-bridge: unexpected argument '%s'\n", argv[optind]);
        usage(stderr);
        return 2;
    }

    struct config *cfg = config_new();
    int errors = config_file ? config_load_file(cfg, config_file, print_error) : 0;
    errors += config_apply_env(cfg, env, print_error);
    const struct {
        const char *key, *value, *flag;
    } flags[] = {{"listen", listen, "--listen"},
                 {"redis", redis, "--redis"},
                 {"mqtt_url", mqtt, "--mqtt"},
                 {"log_level", log_level, "--log-level"},
                 {"journal", journal, "--journal"}};
    for (size_t i = 0; i < sizeof(flags) / sizeof(flags[0]); i++) {
        const char *err = flags[i].value ? config_set(cfg, flags[i].key, flags[i].value) : NULL;
        if (err) {
            fprintf(stderr, "sse-bridge: %s %s: %s\n", flags[i].flag, flags[i].value, err);
            errors++;
        }
    }
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
        config_free(cfg);
        return 1;
    }
    if (check_only) {
        printf("%s: OK (%zu route(s))\n", config_file ? config_file : "(built-in defaults)",
               cfg->nroutes);
        config_free(cfg);
        return 0;
    }
    enum log_level level;
    log_level_parse(cfg->log_level, &level);
    log_set_level(level);

    struct event_base *base = event_base_new();
    struct bridge *b = bridge_new(base, cfg);
    int rc = 1;
    if (bridge_start(b) == 0) {
        log_info("sse-bridge %s started: %zu route(s), redis %s:%d", SSE_BRIDGE_VERSION,
                 cfg->nroutes, addr.host, addr.port);
        event_base_dispatch(base);
        rc = 0;
        log_info("sse-bridge stopped");
    }
    bridge_free(b);
    event_base_free(base);
    config_free(cfg);
    return rc;
}
