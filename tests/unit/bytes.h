/* Byte strings for test tables: a pointer and a length, so a row may hold NUL, and a NULL
 * pointer for "absent" (an SSE field not given, a translated field left out). B("...") and
 * NONE write them in a row; check_bytes compares a result with one. Header-only, like check.h. */
#ifndef BYTES_H
#define BYTES_H

#include <stdio.h>
#include <string.h>

#include "check.h"

/* A byte string that may hold NUL; s == NULL is an absent field. */
struct bytes {
    const char *s;
    size_t n;
};
#define B(lit)                                                                                     \
    { lit, sizeof(lit) - 1 }
#define NONE                                                                                       \
    { NULL, 0 }

static inline void bytes_print_(const char *s, size_t n) {
    if (s == NULL) {
        fputs("(null)", stderr); /* as check.h prints it */
        return;
    }
    fputc('"', stderr);
    check_print_escaped_(s, n);
    fputc('"', stderr);
}

/* One check: (got, got_len) holds exactly the bytes of want, or got is NULL when want is NONE.
 * On failure prints both escaped, after `what` (which names the field). */
static inline void check_bytes(const char *what, const char *got, size_t got_len,
                               struct bytes want) {
    check_count++;
    if (want.s == NULL ? got == NULL
                       : got != NULL && got_len == want.n && memcmp(got, want.s, want.n) == 0)
        return;
    check_failures++;
    fprintf(stderr, "%s = ", what);
    bytes_print_(got, got_len);
    fputs(", want ", stderr);
    bytes_print_(want.s, want.n);
    fputc('\n', stderr);
}

#endif
