#include "streamid.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

static int parse_u64(const char *s, size_t n, uint64_t *out) {
    uint64_t v = 0;
    if (n == 0 || n > 20)
        return -1;
    for (size_t i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9')
            return -1;
        uint64_t d = (uint64_t)(s[i] - '0');
        if (v > (UINT64_MAX - d) / 10)
            return -1;
        v = v * 10 + d;
    }
    *out = v;
    return 0;
}

int stream_id_parse(const char *s, size_t n, struct stream_id *out) {
    const char *dash = memchr(s, '-', n);
    struct stream_id id = {0, 0};
    if (dash == NULL)
        return parse_u64(s, n, &id.ms) == 0 ? (*out = id, 0) : -1;
    if (parse_u64(s, (size_t)(dash - s), &id.ms) != 0 ||
        parse_u64(dash + 1, n - (size_t)(dash - s) - 1, &id.seq) != 0)
        return -1;
    *out = id;
    return 0;
}

int stream_id_cmp(struct stream_id a, struct stream_id b) {
    if (a.ms != b.ms)
        return a.ms < b.ms ? -1 : 1;
    if (a.seq != b.seq)
        return a.seq < b.seq ? -1 : 1;
    return 0;
}

bool stream_id_is_zero(struct stream_id id) {
    return id.ms == 0 && id.seq == 0;
}

size_t stream_id_format(struct stream_id id, char *out) {
    return (size_t)snprintf(out, STREAM_ID_MAX_LEN + 1, "%" PRIu64 "-%" PRIu64, id.ms, id.seq);
}

int stream_id_parse_list(const char *s, struct stream_id *out, size_t n) {
    for (size_t i = 0; i < n; i++) {
        size_t len = strcspn(s, ",");
        if (stream_id_parse(s, len, &out[i]) != 0)
            return -1;
        s += len;
        if (i + 1 < n) {
            if (*s != ',')
                return -1;
            s++;
        }
    }
    return *s == '\0' ? 0 : -1;
}
