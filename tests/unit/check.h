/* Minimal assertion helpers shared by the unit tests: each failed check prints file:line and
 * what differed, the test keeps going, and main() returns the failure count (ctest reads the
 * exit status). Header-only so every test is one self-contained executable. */
#ifndef CHECK_H
#define CHECK_H

#include <stdio.h>
#include <string.h>

static int check_failures;
static int check_count;

#define CHECK(cond)                                                                                \
    do {                                                                                           \
        check_count++;                                                                             \
        if (!(cond)) {                                                                             \
            check_failures++;                                                                      \
            fprintf(stderr, "%s:%d: check failed: %s\n", __FILE__, __LINE__, #cond);               \
        }                                                                                          \
    } while (0)

#define CHECK_INT(got, want)                                                                       \
    do {                                                                                           \
        long long g_ = (long long)(got), w_ = (long long)(want);                                   \
        check_count++;                                                                             \
        if (g_ != w_) {                                                                            \
            check_failures++;                                                                      \
            fprintf(stderr, "%s:%d: %s = %lld, want %lld\n", __FILE__, __LINE__, #got, g_, w_);    \
        }                                                                                          \
    } while (0)

/* Compares a (pointer, length) pair with a NUL-terminated expectation; prints both escaped. */
#define CHECK_MEM(got, got_len, want) check_mem_(__FILE__, __LINE__, #got, got, got_len, want)
#define CHECK_STR(got, want)                                                                       \
    check_mem_(__FILE__, __LINE__, #got, got, (got) ? strlen(got) : 0, want)

static void check_print_escaped_(const char *s, size_t n) {
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c == '\n')
            fputs("\\n", stderr);
        else if (c == '\r')
            fputs("\\r", stderr);
        else if (c < 0x20 || c == 0x7f)
            fprintf(stderr, "\\x%02x", c);
        else
            fputc(c, stderr);
    }
}

static inline void check_mem_(const char *file, int line, const char *expr, const char *got,
                              size_t got_len, const char *want) {
    check_count++;
    if (want == NULL && got == NULL)
        return;
    if (want != NULL && got != NULL && strlen(want) == got_len && memcmp(got, want, got_len) == 0)
        return;
    check_failures++;
    fprintf(stderr, "%s:%d: %s = \"", file, line, expr);
    if (got)
        check_print_escaped_(got, got_len);
    else
        fputs("(null)", stderr);
    fputs("\", want \"", stderr);
    if (want)
        check_print_escaped_(want, strlen(want));
    else
        fputs("(null)", stderr);
    fputs("\"\n", stderr);
}

static inline int check_report(const char *name) {
    fprintf(stderr, "%s: %d checks, %d failed\n", name, check_count, check_failures);
    return check_failures ? 1 : 0;
}

#endif
