/* libFuzzer driver for the SSE encoder, checked through the parser: whatever bytes the fields
 * hold, the frame is exactly sse_frame_size bytes and a fresh client reads exactly one event
 * back, whose data is the input with CRLF and CR turned into LF, whose type is the event name
 * less CR, LF and NUL (or "message" when nothing is left), and whose last id is the id less CR
 * and LF (or "" when there is no id or it holds NUL). Invalid UTF-8 reaches the client as
 * U+FFFD (the parser decodes like a browser), so the expectations are decoded the same way,
 * by a decoder written here from the Encoding Standard. Any difference aborts.
 *
 * Input layout: byte 0 flags (bit 0: no event, bit 1: no id, the rest: where to cut the frame
 * in two feeds), byte 1 event length, byte 2 id length, then event, id and data bytes. */
#include "sse.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "sse_parse.h"
#include "xmalloc.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

struct str {
    char *p;
    size_t len, cap;
};

static void put(struct str *s, const char *b, size_t n) {
    if (s->len + n + 1 > s->cap) {
        s->cap = s->cap ? s->cap : 64;
        while (s->cap < s->len + n + 1)
            s->cap *= 2;
        s->p = xrealloc(s->p, s->cap);
    }
    if (n > 0)
        memcpy(s->p + s->len, b, n);
    s->len += n;
    s->p[s->len] = '\0';
}

/* UTF-8 decode with replacement: a lead byte and the continuation bytes valid so far become
 * one U+FFFD; the byte that broke the sequence is decoded again. */
static void utf8_replace(struct str *out, const char *in, size_t n) {
    const unsigned char *s = (const unsigned char *)in;
    size_t i = 0;
    put(out, "", 0);
    while (i < n) {
        unsigned char c = s[i], lo = 0x80, hi = 0xBF;
        size_t need;
        if (c < 0x80) {
            put(out, in + i++, 1);
            continue;
        } else if (c >= 0xC2 && c <= 0xDF) {
            need = 1;
        } else if (c >= 0xE0 && c <= 0xEF) {
            need = 2;
            lo = c == 0xE0 ? 0xA0 : 0x80;
            hi = c == 0xED ? 0x9F : 0xBF;
        } else if (c >= 0xF0 && c <= 0xF4) {
            need = 3;
            lo = c == 0xF0 ? 0x90 : 0x80;
            hi = c == 0xF4 ? 0x8F : 0xBF;
        } else {
            put(out, "\xEF\xBF\xBD", 3);
            i++;
            continue;
        }
        size_t k = 1;
        while (k <= need && i + k < n && s[i + k] >= lo && s[i + k] <= hi) {
            lo = 0x80;
            hi = 0xBF;
            k++;
        }
        if (k == need + 1)
            put(out, in + i, k);
        else
            put(out, "\xEF\xBF\xBD", 3);
        i += k;
    }
}

static void strip(struct str *out, const char *s, size_t n, int drop_nul) {
    put(out, "", 0);
    for (size_t i = 0; i < n; i++) {
        if (!(s[i] == '\r' || s[i] == '\n' || (drop_nul && s[i] == '\0')))
            put(out, s + i, 1);
    }
}

static void normalise_breaks(struct str *out, const char *s, size_t n) {
    put(out, "", 0);
    for (size_t i = 0; i < n; i++) {
        if (s[i] == '\r') {
            put(out, "\n", 1);
            if (i + 1 < n && s[i + 1] == '\n')
                i++;
        } else {
            put(out, s + i, 1);
        }
    }
}

struct got {
    int n;
    struct str type, id, data;
};

static void record(void *arg, const struct sse_event *ev) {
    struct got *g = arg;
    if (g->n++ > 0)
        return;
    put(&g->type, ev->type, ev->type_len);
    put(&g->id, ev->last_id, ev->last_id_len);
    put(&g->data, ev->data, ev->data_len);
}

static void must_equal(const struct str *got, const struct str *want) {
    if (got->len != want->len || memcmp(got->p, want->p, want->len) != 0)
        abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size < 3)
        return 0;
    const char *in = (const char *)data + 3;
    size_t rest = size - 3;
    size_t event_len = data[1] % (rest + 1);
    size_t id_len = data[2] % (rest - event_len + 1);
    struct sse_fields f = {
        .event = data[0] & 1 ? NULL : in,
        .event_len = data[0] & 1 ? 0 : event_len,
        .id = data[0] & 2 ? NULL : in + event_len,
        .id_len = data[0] & 2 ? 0 : id_len,
        .data = in + event_len + id_len,
        .data_len = rest - event_len - id_len,
    };

    size_t frame_size = sse_frame_size(&f);
    char *frame = xmalloc(frame_size); /* exactly: ASan catches a longer write */
    if (sse_encode(frame, &f) != frame_size)
        abort();

    struct got g = {0};
    /* Each invalid byte decodes to a 3-byte U+FFFD: room for the frame three times over. */
    struct sse_parser *p = sse_parser_new(3 * frame_size + 1, record, &g);
    size_t split = (size_t)(data[0] >> 2) * frame_size / 64;
    if (sse_parser_feed(p, frame, split) != 0 ||
        sse_parser_feed(p, frame + split, frame_size - split) != 0 || g.n != 1)
        abort();
    sse_parser_free(p);
    free(frame);

    struct str tmp = {0}, type = {0}, id = {0}, body = {0};
    strip(&tmp, f.event ? f.event : "", f.event_len, 1);
    if (tmp.len == 0)
        put(&type, "message", 7);
    else
        utf8_replace(&type, tmp.p, tmp.len);
    tmp.len = 0;
    if (f.id == NULL || memchr(f.id, '\0', f.id_len) != NULL) {
        put(&id, "", 0);
    } else {
        strip(&tmp, f.id, f.id_len, 0);
        utf8_replace(&id, tmp.p, tmp.len);
    }
    tmp.len = 0;
    normalise_breaks(&tmp, f.data, f.data_len);
    utf8_replace(&body, tmp.p, tmp.len);

    must_equal(&g.type, &type);
    must_equal(&g.id, &id);
    must_equal(&g.data, &body);

    free(tmp.p);
    free(type.p);
    free(id.p);
    free(body.p);
    free(g.type.p);
    free(g.id.p);
    free(g.data.p);
    return 0;
}
