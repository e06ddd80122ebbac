/* Exponential reconnect delay with a cap and "equal jitter": half the delay is fixed, half
 * random, so that many bridges restarted together do not reconnect in lockstep. Pure: the
 * caller supplies the random value. */
#ifndef BACKOFF_H
#define BACKOFF_H

struct backoff {
    unsigned min_ms, max_ms;
    unsigned attempt; /* failures since the last success */
};

void backoff_init(struct backoff *b, unsigned min_ms, unsigned max_ms);
/* The delay before the next attempt, counting one more failure. `random` is any 32-bit value. */
unsigned backoff_next(struct backoff *b, unsigned random);
void backoff_reset(struct backoff *b);

#endif
