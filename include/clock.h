/* The loop's clocks, in milliseconds. */
#ifndef CLOCK_H
#define CLOCK_H

#include <event2/event.h>

/* Monotonic-ish time of the loop's cached clock (timeouts, lingers). */
unsigned long long clock_now_ms(struct event_base *base);
/* Milliseconds since the epoch (journal ages compare with stream ids). */
unsigned long long clock_wall_ms(void);

#endif
