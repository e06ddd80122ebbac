/* libFuzzer driver for the frame builder (frame.c), live and replayed alike, with random route
 * rules, binary policy, journal and payloads. Whatever the input:
 *   - a frame is well-formed UTF-8 from first byte to last (no raw binary ever reaches a
 *     stream), a fresh client reads exactly one event from it, and its data is the payload's
 *     text (itself, or its base64 when it is not UTF-8) whenever the data rule is `payload`;
 *   - NULL comes only from a route with binary = reject for a message with non-UTF-8 text;
 *   - FRAME_BODY is FRAME_WHOLE less the final blank line.
 * Any difference aborts; ASan and UBSan watch every buffer the builder uses.
 *
 * Input layout: byte 0 flags (bit 0: reject, bit 1: journalled, bit 2: gap marker), then five
 * NUL-separated parts: event rule, id rule, data rule, channel, payload (the rest, NULs and
 * all). A rule that does not parse falls back to the default ("none" / "payload"). */
#include "frame.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "../sse_oracle.h"
#include "text.h"
#include "xmalloc.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* The next NUL-terminated part of [*p, end), as a new string; *p moves past it. */
static char *part(const char **p, const char *end) {
    const char *nul = memchr(*p, '\0', (size_t)(end - *p));
    size_t n = nul ? (size_t)(nul - *p) : (size_t)(end - *p);
    char *s = xstrndup(*p, n);
    *p += nul ? n + 1 : n;
    return s;
}

static void rule(const char *field, const char *spec, const char *fallback, struct field_rule *r) {
    const char *err;
    if (field_rule_parse(field, spec, r, &err) != 0 && field_rule_parse(field, fallback, r, &err))
        abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size < 1)
        return 0;
    const char *p = (const char *)data + 1, *end = (const char *)data + size;
    char *event = part(&p, end), *id = part(&p, end), *dspec = part(&p, end);
    const char *channel = p;
    const char *nul = memchr(p, '\0', (size_t)(end - p));
    size_t channel_len = nul ? (size_t)(nul - p) : (size_t)(end - p);
    const char *payload = nul ? nul + 1 : end;
    size_t payload_len = (size_t)(end - payload);

    struct route_cfg r;
    memset(&r, 0, sizeof(r));
    r.binary = data[0] & 1 ? BINARY_REJECT : BINARY_BASE64;
    r.journal = data[0] & 2 ? 10 : 0;
    rule("event", event, "none", &r.rules.event);
    rule("id", id, "none", &r.rules.id);
    rule("data", dspec, "payload", &r.rules.data);
    bool gap = data[0] & 4;
    /* A stream entry's fields and MQTT properties from the same bytes, so field: and
     * property: rules find something. */
    const char *pairs[2] = {event, payload};
    size_t lens[2] = {strlen(event), payload_len};
    struct translate_in in = {.channel = channel,
                              .channel_len = channel_len,
                              .payload = payload,
                              .payload_len = payload_len,
                              .fields = pairs,
                              .field_lens = lens,
                              .nfields = 1,
                              .props = pairs,
                              .prop_lens = lens,
                              .nprops = 1};
    /* Bit 3: a bound on the frame, of up to 255 bytes from the payload's first byte. */
    const struct frame_opts names = {"close", "gap",
                                     data[0] & 8 && payload_len ? (uint8_t)payload[0] : 0};

    struct frame_src src;
    frame_src_init(&src, &in, gap);
    bool closing;
    struct msg *whole = frame_build(&src, &r, &names, FRAME_WHOLE, &closing);
    struct msg *body = frame_build(&src, &r, &names, FRAME_BODY, &closing);
    if ((whole == NULL) != (body == NULL))
        abort();
    if (whole == NULL) {
        if (gap || !((r.binary == BINARY_REJECT && src.binary) ||
                     (src.too_large && !route_is_journalled(&r))))
            abort();
    } else {
        if (body->len + 1 != whole->len || memcmp(body->data, whole->data, body->len) != 0)
            abort();
        if (!text_utf8_valid(whole->data, whole->len))
            abort();
        struct got g = {0};
        if (parse_split(whole->data, whole->len, whole->len / 2, 3 * whole->len + 1, record, &g)
                    .rc != 0 ||
            g.n != 1)
            abort();
        if (!gap && names.max_frame > 0 && whole->len > names.max_frame && !src.too_large)
            abort(); /* over the bound, and not the gap that stands for it (gaps: unbounded) */
        if (!gap && !src.too_large && r.rules.data.src == FIELD_PAYLOAD) {
            /* What the client must read as data: the payload's text, breaks normalised. */
            char *b64 = NULL;
            struct sse_fields f = {NULL, 0, NULL, 0, payload, payload_len};
            if (!text_utf8_valid(payload, payload_len)) {
                b64 = xmalloc(text_base64_len(payload_len) + 1);
                f.data_len = text_base64_encode(payload, payload_len, b64);
                f.data = b64;
            }
            struct expect e;
            expect_for(&e, &f);
            if (g.data.len != e.data.len || memcmp(g.data.p, e.data.p, e.data.len) != 0)
                abort();
            expect_free(&e);
            free(b64);
        }
        got_free(&g);
        msg_unref(whole);
        msg_unref(body);
    }
    frame_src_clear(&src);
    field_rule_clear(&r.rules.event);
    field_rule_clear(&r.rules.id);
    field_rule_clear(&r.rules.data);
    free(event);
    free(id);
    free(dspec);
    return 0;
}
