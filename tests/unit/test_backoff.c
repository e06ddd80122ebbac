/* backoff: one row per (min, max) pair with the delays expected at the two ends of the jitter
 * (random 0 gives the fixed half, random == half gives the full delay), attempt after attempt.
 * Then the jitter bound on many random values, reset, and the attempt counter's saturation. */
#include "backoff.h"

#include <limits.h>
#include <stdint.h>

#include "check.h"

#define MAX_STEPS 12

struct row {
    const char *name;
    unsigned min, max;
    unsigned long long delay[MAX_STEPS]; /* full delay of attempt 1, 2, ...; ends at 0 */
};

// clang-format off
static const struct row rows[] = {
    {"defaults", 100, 10000,
     {100, 200, 400, 800, 1600, 3200, 6400, 10000, 10000, 10000}},
    {"min is max", 1000, 1000, {1000, 1000, 1000}},
    {"max below min becomes min", 500, 100, {500, 500, 500}},
    {"cap not a power of two of min", 300, 1000, {300, 600, 1000, 1000}},
    {"cap one above a step", 100, 401, {100, 200, 400, 401, 401}},
    {"one millisecond", 1, 5, {1, 2, 4, 5, 5}},
    {"odd delays", 3, 100, {3, 6, 12, 24, 48, 96, 100}},
    {"near UINT_MAX", 3000000000u, UINT_MAX, {3000000000u, UINT_MAX, UINT_MAX}},
    {"large cap", 1000, 86400000, {1000, 2000, 4000, 8000, 16000, 32000, 64000, 128000, 256000,
                                   512000, 1024000}},
};
// clang-format on

/* With delay d, the fixed part is d - d/2 and the random part is random % (d/2 + 1). */
static unsigned low(unsigned long long d) {
    return (unsigned)(d - d / 2);
}

static void check_row(const struct row *r) {
    struct backoff lo, hi;
    int before = check_failures;
    backoff_init(&lo, r->min, r->max);
    backoff_init(&hi, r->min, r->max);
    for (int i = 0; i < MAX_STEPS && r->delay[i] != 0; i++) {
        unsigned long long d = r->delay[i];
        CHECK_INT(backoff_next(&lo, 0), low(d));
        CHECK_INT(backoff_next(&hi, (unsigned)(d / 2)), d);
        if (check_failures != before) {
            fprintf(stderr, "  in row \"%s\", attempt %d\n", r->name, i + 1);
            return;
        }
    }
}

static uint32_t rng_state = 12345;

static uint32_t rng(void) { /* xorshift32 */
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 17;
    rng_state ^= rng_state << 5;
    return rng_state;
}

/* Every delay lies in [ceil(d/2), d] for the d of its attempt, and both ends are reached. */
static void test_jitter_bounds(void) {
    for (size_t r = 0; r < sizeof(rows) / sizeof(rows[0]); r++) {
        int out_of_bounds = 0;
        for (int run = 0; run < 200; run++) {
            struct backoff b;
            backoff_init(&b, rows[r].min, rows[r].max);
            for (int i = 0; i < MAX_STEPS && rows[r].delay[i] != 0; i++) {
                unsigned long long d = rows[r].delay[i];
                unsigned got = backoff_next(&b, rng());
                out_of_bounds += got < low(d) || got > d;
            }
        }
        CHECK_INT(out_of_bounds, 0);
        if (out_of_bounds)
            fprintf(stderr, "  in row \"%s\"\n", rows[r].name);
    }
    /* random values past the range wrap into it; UINT_MAX included. */
    struct backoff b;
    backoff_init(&b, 1000, 1000);
    CHECK_INT(backoff_next(&b, UINT_MAX), 500 + UINT_MAX % 501);
    CHECK_INT(backoff_next(&b, 501), 500);
    CHECK_INT(backoff_next(&b, 500), 1000);
}

static void test_reset(void) {
    struct backoff b;
    backoff_init(&b, 100, 10000);
    for (int i = 0; i < 5; i++)
        backoff_next(&b, 0);
    CHECK_INT(b.attempt, 5);
    CHECK_INT(backoff_next(&b, 1600), 3200);
    backoff_reset(&b);
    CHECK_INT(b.attempt, 0);
    CHECK_INT(backoff_next(&b, 50), 100);
    CHECK_INT(backoff_next(&b, 100), 200);
}

/* Thousands of failures in a row: the counter stops growing and the delay stays at the cap. */
static void test_many_attempts(void) {
    struct backoff b;
    backoff_init(&b, 100, 10000);
    unsigned got = 0;
    for (int i = 0; i < 5000; i++)
        got = backoff_next(&b, 5000);
    CHECK_INT(got, 10000);
    CHECK_INT(backoff_next(&b, 0), 5000);
    CHECK(b.attempt <= 64);

    backoff_init(&b, 1, UINT_MAX);
    for (int i = 0; i < 100; i++)
        got = backoff_next(&b, UINT_MAX / 2);
    CHECK_INT(got, UINT_MAX);
}

int main(void) {
    for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++)
        check_row(&rows[i]);
    test_jitter_bounds();
    test_reset();
    test_many_attempts();
    return check_report("backoff");
}
