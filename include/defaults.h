/* Fixed limits of sse-bridge, in one place: the bounds that no setting changes. Sizes are bytes,
 * times milliseconds unless named. The defaults and bounds of the settings themselves are rows
 * of the settings table in bridge/config.c (config.h: struct config_setting), which the README's
 * configuration reference is generated from; they are not repeated here. */
#ifndef DEFAULTS_H
#define DEFAULTS_H

#define DEFAULT_ROUTE_LIMIT 64       /* routes in one config */
#define DEFAULT_STREAM_BLOCK_MS 5000 /* XREAD BLOCK timeout of stream routes */

/* MQTT source (libmosquitto). The protocol default (3.1.1, not 5) is explained at the
 * `protocol` row of the settings table. */
#define MQTT_MISC_INTERVAL_MS 1000 /* how often mosquitto_loop_misc runs (keepalive pings) */
#define MQTT_READ_BATCH 1024       /* MQTT packets read in one loop turn at most */
#define MQTT_REDELIVERY_WINDOW 256 /* QoS 1 messages remembered to drop a broker's resends */

/* Static files (`static_dir`, the demo page). */
#define STATIC_MAX_PATH 255                    /* longest file name served, relative */
#define STATIC_MAX_FILE_SIZE (4 * 1024 * 1024) /* larger files are not served (404) */

/* Path parameters and topics a client may name: length and the charset that keeps them from
 * widening a subscription (no glob or MQTT wildcard characters, no "..", no separators). */
#define PARAM_MAX_LEN 128
#define CONFIG_MAX_LINE 1024 /* longest config line */

/* Authorization. */
#define AUTH_KEY_FILE_MAX (1024 * 1024) /* jwt_secret_file / jwt_key_file (a JWKS may be long) */
#define WORKERS_MAX 64                  /* workers = N: at most this many processes */
#define BACKEND_INFLIGHT_MAX 256        /* backend checks waiting at once; more are 503 */
#define BACKEND_CACHE_MAX 4096          /* decisions kept for backend_cache */
#define BACKEND_BODY_MAX 4096           /* a 2xx body longer than this is not read */
#define BACKEND_FORWARD_MAX 16          /* headers named by backend_forward */

#endif
