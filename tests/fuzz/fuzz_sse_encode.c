/* libFuzzer driver for the SSE encoder, checked through the parser: whatever bytes the fields
 * hold, the frame is exactly sse_frame_size bytes and a fresh client reads exactly one event
 * back, whose data is the input with CRLF and CR turned into LF, whose type is the event name
 * less CR, LF and NUL (or "message" when nothing is left), and whose last id is the id less CR
 * and LF (or "" when there is no id or it holds NUL). Invalid UTF-8 reaches the client as
 * U+FFFD (the parser decodes like a browser), so the expectations are decoded the same way,
 * by the decoder in sse_oracle.h, written from the Encoding Standard. Any difference aborts.
 *
 * Input layout: byte 0 flags (bit 0: no event, bit 1: no id, the rest: where to cut the frame
 * in two feeds), byte 1 event length, byte 2 id length, then event, id and data bytes. */
#include "sse.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "../sse_oracle.h"
#include "xmalloc.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

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
    size_t split = (size_t)(data[0] >> 2) * frame_size / 64;
    if (parse_split(frame, frame_size, split, 3 * frame_size + 1, record, &g).rc != 0 || g.n != 1)
        abort();
    free(frame);

    struct expect e;
    expect_for(&e, &f);
    must_equal(&g.type, &e.type);
    must_equal(&g.id, &e.id);
    must_equal(&g.data, &e.data);

    expect_free(&e);
    got_free(&g);
    return 0;
}
