#include "backoff.h"

void backoff_init(struct backoff *b, unsigned min_ms, unsigned max_ms) {
    b->min_ms = min_ms;
    b->max_ms = max_ms < min_ms ? min_ms : max_ms;
    b->attempt = 0;
}

unsigned backoff_next(struct backoff *b, unsigned random) {
    unsigned long long delay = b->min_ms;
    for (unsigned i = 0; i < b->attempt && delay < b->max_ms; i++)
        delay *= 2;
    if (delay > b->max_ms)
        delay = b->max_ms;
    if (b->attempt < 64)
        b->attempt++;
    unsigned half = (unsigned)(delay / 2);
    return (unsigned)(delay - half) + (half ? random % (half + 1) : 0);
}

void backoff_reset(struct backoff *b) {
    b->attempt = 0;
}
