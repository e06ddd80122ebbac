/* Redis stream entry ids ("1700000000000-3"): parsing, ordering, formatting, and the
 * composite ids of multi-topic connections ("1700000000000-3,1700000000123-0", one position
 * per topic, in the order the request named them). Pure. */
#ifndef STREAMID_H
#define STREAMID_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct stream_id {
    uint64_t ms, seq;
};

#define STREAM_ID_MAX_LEN 41 /* "18446744073709551615-18446744073709551615" */

/* Parses "ms-seq" or "ms" (seq 0). Returns 0, or -1 if s[0..n) is anything else. */
int stream_id_parse(const char *s, size_t n, struct stream_id *out);
int stream_id_cmp(struct stream_id a, struct stream_id b);
bool stream_id_is_zero(struct stream_id id);
/* Writes "ms-seq" and a NUL into out (STREAM_ID_MAX_LEN + 1 bytes); returns the length. */
size_t stream_id_format(struct stream_id id, char *out);

/* Parses a Last-Event-ID that must hold exactly `n` positions separated by ','. Returns 0, or
 * -1 when it is malformed or holds another number of positions. */
int stream_id_parse_list(const char *s, struct stream_id *out, size_t n);

#endif
