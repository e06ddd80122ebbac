/* The MQTT source: one libmosquitto client driven from the bridge's libevent loop, with no
 * thread of its own. The socket from mosquitto_socket() is watched for reading (and for
 * writing while libmosquitto has bytes queued); mosquitto_loop_read/write are called from those
 * callbacks and mosquitto_loop_misc from a timer (keepalive pings). After a reconnect the
 * socket is a new one and the watch follows it.
 *
 * Like the Redis source it follows the hub: SUBSCRIBE when an MQTT filter is wanted,
 * UNSUBSCRIBE after its linger, at most one of them in flight per filter. When the broker goes
 * away, clients stay connected; the source reconnects with capped, jittered backoff and
 * subscribes again. With QoS 1 and a persistent session (clean_session = false, a stable
 * client id) the broker queues what was published meanwhile and delivers it on return.
 *
 * Which filters a message belongs to: with MQTT 5 each subscription carries a subscription
 * identifier and the broker says which ones matched (overlapping filters get their own copy,
 * never a double delivery); with 3.1.1 every subscribed filter that matches the topic gets it. */
#ifndef SOURCE_MQTT_H
#define SOURCE_MQTT_H

#include <stdbool.h>

#include "context.h"
#include "source.h"

struct mqtt_addr {
    char host[256];
    int port;
    bool tls;
    char username[256]; /* empty: none */
    char password[256];
};

/* Parses mqtt://[user[:password]@]host[:port] (mqtts:// for TLS, port 8883 by default).
 * Returns NULL, or what is wrong. Pure. */
const char *mqtt_url_parse(const char *url, struct mqtt_addr *out);

/* NULL after logging why (a bad URL, TLS files libmosquitto refuses). */
struct source *source_mqtt_new(struct bridge *b);

#endif
