/* libFuzzer driver for streamid.c, which reads the Last-Event-ID a client sends. Byte 0 is the
 * number of positions the route expects (1 to 8); the rest, up to its first NUL, is the header.
 *
 * An independent oracle (strtoull on each ','-separated token, which must be 1 to 20 digits,
 * optionally '-' and 1 to 20 more, with no overflow) must agree with stream_id_parse_list on
 * every input, accept or refuse, and on the values; an accepted list formats back to ids that
 * parse to the same values, and stream_id_cmp orders them as the (ms, seq) pairs do. */
#include "streamid.h"

#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define MAX_POSITIONS 8

static int digits(const char *s, size_t n, uint64_t *out) {
    if (n == 0 || n > 20 || strspn(s, "0123456789") < n)
        return -1;
    char buf[21];
    memcpy(buf, s, n);
    buf[n] = '\0';
    errno = 0;
    unsigned long long v = strtoull(buf, NULL, 10);
    if (errno == ERANGE)
        return -1;
    *out = (uint64_t)v;
    return 0;
}

/* 0 and the ids when s is exactly n well-formed positions, else -1. */
static int oracle(const char *s, struct stream_id *out, size_t n) {
    size_t count = 0;
    for (const char *tok = s;; count++) {
        size_t len = strcspn(tok, ",");
        if (count == n)
            return -1;
        const char *dash = memchr(tok, '-', len);
        size_t ms_len = dash != NULL ? (size_t)(dash - tok) : len;
        out[count].seq = 0;
        if (digits(tok, ms_len, &out[count].ms) != 0 ||
            (dash != NULL && digits(dash + 1, len - ms_len - 1, &out[count].seq) != 0))
            return -1;
        if (tok[len] == '\0')
            return count + 1 == n ? 0 : -1;
        tok += len + 1;
    }
}

static int pair_cmp(struct stream_id a, struct stream_id b) {
    if (a.ms != b.ms)
        return a.ms < b.ms ? -1 : 1;
    return a.seq < b.seq ? -1 : a.seq > b.seq ? 1 : 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size < 1)
        return 0;
    size_t n = (size_t)(data[0] % MAX_POSITIONS) + 1;
    char *s = malloc(size);
    if (s == NULL)
        abort();
    memcpy(s, data + 1, size - 1);
    s[size - 1] = '\0';

    struct stream_id got[MAX_POSITIONS], want[MAX_POSITIONS];
    int rc = stream_id_parse_list(s, got, n);
    if (rc != oracle(s, want, n))
        abort();
    for (size_t i = 0; rc == 0 && i < n; i++) {
        if (got[i].ms != want[i].ms || got[i].seq != want[i].seq)
            abort();
        char text[STREAM_ID_MAX_LEN + 1];
        size_t len = stream_id_format(got[i], text);
        struct stream_id back;
        if (len > STREAM_ID_MAX_LEN || strlen(text) != len ||
            stream_id_parse(text, len, &back) != 0 || stream_id_cmp(back, got[i]) != 0)
            abort();
        if (stream_id_cmp(got[i], got[0]) != pair_cmp(got[i], got[0]) ||
            stream_id_cmp(got[0], got[i]) != -pair_cmp(got[i], got[0]))
            abort();
        if (stream_id_is_zero(got[i]) != (got[i].ms == 0 && got[i].seq == 0))
            abort();
    }
    free(s);
    return 0;
}
