#include "frame.h"

#include <stdlib.h>
#include <string.h>

#include "sse.h"
#include "text.h"
#include "xmalloc.h"

void frame_src_init(struct frame_src *src, const struct translate_in *in, bool gap) {
    memset(src, 0, sizeof(*src));
    src->in = *in;
    src->in.json = NULL;
    src->gap = gap;
    src->utf8 = -1;
}

void frame_src_clear(struct frame_src *src) {
    free(src->b64);
    json_decref(src->json);
    src->b64 = NULL;
    src->json = NULL;
}

/* The payload as SSE text: itself when UTF-8, else its base64 form (made once per message), or
 * NULL when route r rejects binary payloads. */
static const char *text_of(struct frame_src *src, const struct route_cfg *r, size_t *len) {
    if (src->utf8 < 0) {
        src->utf8 = text_utf8_valid(src->in.payload, src->in.payload_len);
        src->binary = !src->utf8 || src->binary_input;
    }
    if (src->binary_input && r->binary == BINARY_REJECT)
        return NULL;
    if (src->utf8) {
        *len = src->in.payload_len;
        return src->in.payload;
    }
    if (r->binary == BINARY_REJECT)
        return NULL;
    if (src->b64 == NULL) {
        src->b64 = xmalloc(text_base64_len(src->in.payload_len) + 1);
        src->b64_len = text_base64_encode(src->in.payload, src->in.payload_len, src->b64);
    }
    *len = src->b64_len;
    return src->b64;
}

/* The payload parsed as a JSON object, once per message, for the routes that need it. */
static json_t *json_of(struct frame_src *src) {
    if (!src->parsed) {
        src->parsed = true;
        /* \u0000 is valid JSON: allowed here, and the encoder keeps NUL out of names and ids. */
        src->json = json_loadb(src->in.payload, src->in.payload_len, JSON_ALLOW_NUL, NULL);
        if (src->json != NULL && !json_is_object(src->json)) {
            json_decref(src->json);
            src->json = NULL;
        }
        src->non_json = src->json == NULL;
    }
    return src->json;
}

static struct msg *gap_frame(const struct frame_src *src, const char *reason, size_t reason_len,
                             const struct frame_opts *names) {
    json_t *data = json_pack("{s:s%, s:s%}", "topic", src->in.channel, src->in.channel_len,
                             "reason", reason, reason_len);
    char *text = data ? json_dumps(data, JSON_COMPACT) : NULL;
    json_decref(data);
    struct sse_fields f = {names->gap_event,       strlen(names->gap_event), NULL, 0, text,
                           text ? strlen(text) : 0};
    struct msg *m = sse_frame(&f);
    free(text);
    return m;
}

/* Event names and ids from channel names, stream fields or MQTT properties, and data from a
 * field rule, get the payload's text policy too: base64 (into `owned`, freed by the caller)
 * or rejection (false). Values taken from the payload's text or its JSON are UTF-8 already. */
static bool field_as_text(struct frame_src *src, const struct route_cfg *r, const char **v,
                          size_t *len, char **owned) {
    if (*v == NULL || text_utf8_valid(*v, *len))
        return true;
    src->binary = true;
    if (r->binary == BINARY_REJECT)
        return false;
    *owned = xmalloc(text_base64_len(*len) + 1);
    *len = text_base64_encode(*v, *len, *owned);
    *v = *owned;
    return true;
}

static bool names_close(const struct sse_fields *f, const char *close_event) {
    size_t n = strlen(close_event);
    return n > 0 && f->event != NULL && f->event_len == n && memcmp(f->event, close_event, n) == 0;
}

struct msg *frame_build(struct frame_src *src, const struct route_cfg *r,
                        const struct frame_opts *names, enum frame_shape shape, bool *closing) {
    struct msg *m;
    *closing = false;
    if (src->gap) {
        m = gap_frame(src, src->in.payload, src->in.payload_len, names);
    } else {
        struct translate_in in = src->in;
        in.payload = text_of(src, r, &in.payload_len);
        if (in.payload == NULL)
            return NULL;
        /* JSON rules read the payload only when it is the text itself: base64 is not JSON. */
        in.json = src->utf8 && translate_needs_json(&r->rules) ? json_of(src) : NULL;
        struct translate_out out;
        translate(&r->rules, &in, &out);
        if (route_is_journalled(r))
            out.f.id = NULL; /* journalled ids are positions in the journal, added per client */
        char *owned[3] = {NULL, NULL, NULL};
        bool text = field_as_text(src, r, &out.f.event, &out.f.event_len, &owned[0]) &&
                    field_as_text(src, r, &out.f.id, &out.f.id_len, &owned[1]) &&
                    (out.f.data == in.payload ||
                     field_as_text(src, r, &out.f.data, &out.f.data_len, &owned[2]));
        m = text ? sse_frame(&out.f) : NULL;
        *closing = text && names_close(&out.f, names->close_event);
        translate_out_clear(&out);
        for (size_t i = 0; i < 3; i++)
            free(owned[i]);
        if (m == NULL)
            return NULL;
        if (names->max_frame > 0 && m->len > names->max_frame) {
            src->too_large = true;
            *closing = false;
            msg_unref(m);
            if (!route_is_journalled(r))
                return NULL;
            m = gap_frame(src, "too-large", 9, names);
        }
    }
    if (shape == FRAME_BODY)
        m->len--; /* the final blank line: the caller ends the event */
    return m;
}

bool frame_is_close(const struct msg *m, const char *close_event) {
    size_t n = strlen(close_event);
    return n > 0 && m->len > 8 + n && memcmp(m->data, "event: ", 7) == 0 &&
           memcmp(m->data + 7, close_event, n) == 0 && m->data[7 + n] == '\n';
}
