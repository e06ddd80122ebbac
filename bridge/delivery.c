#include "delivery.h"

#include <stdlib.h>
#include <string.h>

#include "client.h"
#include "journal.h"
#include "log.h"
#include "sse.h"
#include "xmalloc.h"

void delivery_count_frames(struct bridge *b, const struct frame_src *src) {
    b->metrics.messages_binary += src->binary;
    b->metrics.messages_non_json += src->non_json;
    if (src->too_large) {
        b->metrics.messages_dropped++;
        log_warn("deliver: an event on %.*s is over %zu bytes once encoded; sent as a too-large "
                 "gap on journalled routes, dropped on the others",
                 (int)src->in.channel_len, src->in.channel, b->names.max_frame);
    }
}

void delivery_entry(struct bridge *b, struct topic *t, const struct entry *e) {
    if (t->nsubs == 0)
        return;
    struct frame_src src;
    frame_src_init(&src, &e->in, e->gap);
    src.binary_input = e->binary_fields;
    struct msg *id_frame = NULL; /* "id: X\n\n", shared by single-topic clients */
    if (e->has_id) {
        char id[STREAM_ID_MAX_LEN + 1];
        size_t n = stream_id_format(e->id, id);
        id_frame = sse_id_frame(id, n);
    }
    for (struct feed *f = t->feeds; f; f = f->next) {
        if (f->subs == NULL)
            continue;
        const struct route *r = f->key;
        /* A plain route sharing a journalled channel: no ids, no gap events. */
        bool journalled = route_is_journalled(r->cfg);
        if (!journalled && e->gap)
            continue;
        struct entry plain = *e;
        plain.has_id = false;
        const struct entry *fe = journalled ? e : &plain;
        bool closing;
        struct msg *body = frame_build(&src, r->cfg, &b->names, FRAME_BODY, &closing);
        if (body == NULL)
            continue; /* a binary payload this route rejects */
        for (struct hub_sub *s = f->subs, *next; s; s = next) {
            next = s->next; /* a client cut off below leaves the list */
            struct client *c = s->client;
            if (client_send_entry(c, s, body, fe, id_frame) == 0 && closing && !s->syncing)
                client_finish(c);
        }
        msg_unref(body);
    }
    msg_unref(id_frame);
    delivery_count_frames(b, &src);
    frame_src_clear(&src);
}

/* Translates and encodes a live message once per feed (route) of t and queues the frame to
 * every subscriber of that feed. `retained_only`: only routes that want retained messages. */
static void fan_out(struct bridge *b, struct topic *t, const struct translate_in *msg,
                    bool retained_only) {
    struct frame_src src;
    frame_src_init(&src, msg, false);
    for (struct feed *f = t->feeds; f; f = f->next) {
        const struct route *r = f->key;
        if (f->subs == NULL || (retained_only && !r->cfg->retained))
            continue;
        bool closing;
        struct msg *frame = frame_build(&src, r->cfg, &b->names, FRAME_WHOLE, &closing);
        if (frame == NULL)
            continue; /* a binary payload this route rejects */
        for (struct hub_sub *s = f->subs, *next; s; s = next) {
            next = s->next; /* a client cut off below leaves the list */
            struct client *c = s->client;
            /* Once per message, however many of its filters match it. */
            if (client_send_once(c, frame, b->message_seq) == 1 && closing)
                client_finish(c);
        }
        msg_unref(frame);
    }
    delivery_count_frames(b, &src);
    frame_src_clear(&src);
}

/* Counts and logs a message over max_message_size; true when it must be dropped. */
static bool too_large(struct bridge *b, const struct topic *t, size_t len) {
    if (len <= b->cfg->max_message_size)
        return false;
    b->metrics.messages_dropped++;
    log_warn("deliver: dropped a %zu-byte message on %s (max_message_size %zu)", len, t->name,
             b->cfg->max_message_size);
    return true;
}

/* One message for topic t: journalled (then delivered with its entry id), or fanned out. */
static void deliver_topic(struct bridge *b, struct topic *t, const struct translate_in *in) {
    if (too_large(b, t, in->payload_len))
        return;
    /* Journalled topics are written even with no client (during their linger), so that a
     * browser coming back finds what it missed. */
    if (t->journal_key != NULL && b->journal != NULL) {
        journal_append(b->journal, t, in->channel, in->channel_len, in->payload, in->payload_len);
        return;
    }
    if (t->nsubs == 0)
        return;
    fan_out(b, t, in, false);
}

void delivery_next_message(struct bridge *b) {
    b->message_seq++;
}

void delivery_message(struct bridge *b, enum topic_kind kind, const char *subject,
                      size_t subject_len, const char *channel, size_t channel_len,
                      const char *payload, size_t payload_len) {
    b->metrics.messages_in++;
    delivery_next_message(b);
    struct topic *t = hub_find(b->hub, kind, subject, subject_len);
    if (t == NULL)
        return;
    struct translate_in in = {.channel = channel,
                              .channel_len = channel_len,
                              .payload = payload,
                              .payload_len = payload_len};
    deliver_topic(b, t, &in);
}

void delivery_mqtt(struct bridge *b, struct topic *t, const struct translate_in *in,
                   bool retained) {
    if (too_large(b, t, in->payload_len)) /* dropped, and never kept as a retained value */
        return;
    if (!retained) {
        hub_retain_refresh(t, in->channel, in->channel_len, in->payload, in->payload_len);
        deliver_topic(b, t, in);
        return;
    }
    /* Sent by the broker because the bridge (re)subscribed: kept for clients that join later;
     * the clients already here get it unless they had it (a resubscription repeats it). */
    if (hub_retain(t, in->channel, in->channel_len, in->payload, in->payload_len,
                   b->cfg->mqtt_retained_max) &&
        in->payload_len > 0 && t->nsubs > 0)
        fan_out(b, t, in, true);
}

void delivery_send_retained(struct bridge *b, struct client *c) {
    if (!c->route->cfg->retained)
        return;
    for (size_t i = 0; i < c->nsubs; i++) {
        struct topic *t = c->subs[i]->topic;
        if (t->kind != TOPIC_MQTT || t->retained == NULL)
            continue;
        /* Oldest first, as the broker would have sent them. */
        struct retained **list = xmalloc(t->nretained * sizeof(*list));
        /* The newest that fit in half a client buffer, so that retained values can never
         * cut off the client they are for. */
        size_t n = 0, bytes = 0;
        for (struct retained *r = t->retained; r && n < t->nretained; r = r->next) {
            bytes += r->payload_len + r->topic_len + 64;
            if (bytes > b->cfg->client_buffer / 2)
                break;
            list[n++] = r;
        }
        int rc = 0;
        while (rc == 0 && n-- > 0) {
            struct translate_in in = {.channel = list[n]->topic,
                                      .channel_len = list[n]->topic_len,
                                      .payload = list[n]->payload,
                                      .payload_len = list[n]->payload_len};
            struct frame_src src;
            frame_src_init(&src, &in, false);
            bool closing;
            struct msg *frame = frame_build(&src, c->route->cfg, &b->names, FRAME_WHOLE, &closing);
            delivery_count_frames(b, &src);
            frame_src_clear(&src);
            if (frame == NULL)
                continue;
            rc = client_send(c, frame);
            msg_unref(frame);
        }
        free(list);
        if (rc != 0)
            return; /* cut off: c is gone */
    }
}
