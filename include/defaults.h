/* Every default and limit of sse-bridge, in one place. The README's config reference lists
 * the same names; change both together. Sizes are bytes, times milliseconds unless named. */
#ifndef DEFAULTS_H
#define DEFAULTS_H

/* Where to listen and where Redis is, when neither config, environment nor flags say. */
#define DEFAULT_LISTEN "0.0.0.0:8080"
#define DEFAULT_REDIS_URL "redis://127.0.0.1:6379"

/* SSE stream behaviour. */
#define DEFAULT_RETRY_MS 3000       /* `retry:` sent first; 0 sends none */
#define DEFAULT_HEARTBEAT_MS 15000  /* comment line interval; proxies cut idle streams at ~60 s */
#define DEFAULT_CLOSE_EVENT "close" /* event name that ends a stream; "" disables */

/* Bounds. */
#define DEFAULT_MAX_CLIENTS 10000             /* concurrent SSE streams; 503 past it */
#define DEFAULT_LISTEN_BACKLOG 4096           /* accept queue (the kernel caps it at somaxconn) */
#define DEFAULT_MAX_TOPICS 32                 /* channels one connection may ask for */
#define DEFAULT_CLIENT_BUFFER (1024 * 1024)   /* unsent bytes per client before it is cut */
#define DEFAULT_MAX_HEADER_SIZE (8 * 1024)    /* request line + headers; evhttp answers 4xx */
#define DEFAULT_MAX_URI_SIZE 2048             /* 414 past it */
#define DEFAULT_MAX_BODY_SIZE 0               /* SSE requests carry no body; 413 past it */
#define DEFAULT_MAX_MESSAGE_SIZE (512 * 1024) /* upstream payloads past it are dropped, counted */
#define DEFAULT_SHUTDOWN_FLUSH_MS 2000        /* how long SIGTERM waits for clients to drain */
#define DEFAULT_CLIENT_WRITE_TIMEOUT_MS 30000 /* a client that accepts no byte this long is cut */
#define DEFAULT_REQUEST_TIMEOUT_MS 10000      /* a connection's whole request, from its accept */
#define DEFAULT_MAX_PENDING_CONNECTIONS 1024  /* connections without a whole request yet */
#define DEFAULT_CLIENT_SOCKET_BUFFER (256 * 1024) /* SO_SNDBUF per connection; 0: the kernel's */
#define DEFAULT_ROUTE_LIMIT 64                    /* routes in one config */

/* Upstream subscriptions. */
#define DEFAULT_LINGER_MS 2000 /* keep an unused channel subscribed this long (reconnect churn) */
#define DEFAULT_BACKOFF_MIN_MS 100           /* first reconnect delay after Redis goes away */
#define DEFAULT_BACKOFF_MAX_MS 10000         /* cap of the exponential reconnect delay */
#define DEFAULT_REDIS_PROBE_INTERVAL_MS 5000 /* PING on a connection of its own; 0: off */
#define DEFAULT_REDIS_PROBE_TIMEOUT_MS 2000  /* no answer this long: Redis is down, reconnect */

/* Journal and replay (Redis streams). */
#define DEFAULT_JOURNAL 1000                  /* entries kept per channel by the built-in routes */
#define DEFAULT_JOURNAL_PREFIX "sse:journal:" /* key of a channel's journal: prefix + channel */
#define DEFAULT_JOURNAL_LINGER_MS                                                                  \
    60000                            /* keep journalling a channel this long after its             \
                                        last client, so a reconnecting browser misses              \
                                        nothing */
#define DEFAULT_REPLAY_BATCH 500     /* entries per XRANGE page of a replay */
#define DEFAULT_REPLAY_INFLIGHT 32   /* replay reads outstanding at once, all clients */
#define DEFAULT_GAP_EVENT "gap"      /* event telling a client its history has a hole */
#define DEFAULT_STREAM_BLOCK_MS 5000 /* XREAD BLOCK timeout of stream routes */

/* MQTT source (libmosquitto), used when a route has an mqtt_topic. */
#define DEFAULT_MQTT_URL "mqtt://127.0.0.1:1883" /* mqtts:// for TLS (port 8883) */
#define DEFAULT_MQTT_KEEPALIVE_S 30              /* PINGREQ interval the broker expects */
#define DEFAULT_MQTT_QOS 1           /* subscriptions: the broker queues QoS 1 while we are away */
#define DEFAULT_MQTT_CLEAN_SESSION 0 /* persistent session, so that queueing works */
/* 311 (MQTT 3.1.1) or 5. 3.1.1 by default because it keeps a persistent session across
 * disconnects: libmosquitto 2.0 sends no Session Expiry Interval on a non-blocking connect,
 * so an MQTT 5 session ends with each disconnect (and journals record a gap). MQTT 5 adds
 * user properties and exact handling of overlapping filters (subscription identifiers). */
#define DEFAULT_MQTT_PROTOCOL 311
#define DEFAULT_MQTT_RETAINED_MAX 100 /* retained messages kept per subscription for newcomers */
#define MQTT_MISC_INTERVAL_MS 1000    /* how often mosquitto_loop_misc runs (keepalive pings) */
#define MQTT_READ_BATCH 1024          /* MQTT packets read in one loop turn at most */
#define MQTT_REDELIVERY_WINDOW 256    /* QoS 1 messages remembered to drop a broker's resends */

/* Static files (`static_dir`, the demo page) and the publish endpoint (routes with publish). */
#define STATIC_MAX_PATH 255                    /* longest file name served, relative */
#define STATIC_MAX_FILE_SIZE (4 * 1024 * 1024) /* larger files are not served (404) */
#define DEFAULT_MAX_PUBLISH_SIZE (64 * 1024)   /* POST body of a publish route; 413 past it */

/* Path parameters and topics a client may name: length and the charset that keeps them from
 * widening a subscription (no glob or MQTT wildcard characters, no "..", no separators). */
#define PARAM_MAX_LEN 128
#define CONFIG_MAX_LINE 1024 /* longest config line */

#endif
