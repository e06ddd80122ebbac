#include "clock.h"

#include <time.h>

unsigned long long clock_now_ms(struct event_base *base) {
    struct timeval tv;
    event_base_gettimeofday_cached(base, &tv);
    return (unsigned long long)tv.tv_sec * 1000 + (unsigned long long)tv.tv_usec / 1000;
}

unsigned long long clock_wall_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (unsigned long long)ts.tv_sec * 1000 + (unsigned long long)ts.tv_nsec / 1000000;
}
