/* Delivery: what happens to one upstream message. On a journalled topic it is written to the
 * journal and delivered when Redis gives it an id (delivery_entry, the journal's callback);
 * otherwise its frames are built once per route (frame.h) and fanned out to the route's
 * clients. The message sequence (one number per upstream message) is bumped here only. */
#ifndef DELIVERY_H
#define DELIVERY_H

#include <stdbool.h>
#include <stddef.h>

#include "context.h"
#include "frame.h"
#include "hub.h"
#include "record.h"
#include "translate.h"

/* One Redis pub/sub message: `subject` is the topic it arrived on (channel or pattern),
 * `channel` the channel it was published to. Buffers are the caller's; nothing is kept. */
void delivery_message(struct bridge *b, enum topic_kind kind, const char *subject,
                      size_t subject_len, const char *channel, size_t channel_len,
                      const char *payload, size_t payload_len);

/* One MQTT message for filter t (the source found which filters it matched). `in->channel` is
 * the topic, `in->props` its MQTT 5 user properties. `retained`: the broker sent it because
 * the bridge subscribed; it is kept for later clients, and not journalled. Call
 * delivery_next_message once per received message before its first filter. */
void delivery_mqtt(struct bridge *b, struct topic *t, const struct translate_in *in, bool retained);
void delivery_next_message(struct bridge *b);

/* A journalled event for topic t (from the journal writer or the stream reader): encoded once
 * per route and handed to each subscriber, which holds it while syncing and drops it if it
 * is not newer than what it has. */
void delivery_entry(struct bridge *b, struct topic *t, const struct entry *e);

/* Sends a new client the retained messages of its MQTT topics (routes with retained = true). */
void delivery_send_retained(struct bridge *b, struct client *c);

/* Adds what building frames for one message found (binary, not JSON, too large) to the
 * counters, and logs a too-large one. */
void delivery_count_frames(struct bridge *b, const struct frame_src *src);

#endif
