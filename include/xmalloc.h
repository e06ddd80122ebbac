/* The one out-of-memory policy: allocation failure is fatal. A bridge that cannot allocate a
 * few hundred bytes cannot serve anyone usefully, and every caller checking NULL would be
 * cleanup code that is never exercised. Bounds elsewhere keep allocations small. */
#ifndef XMALLOC_H
#define XMALLOC_H

#include <stddef.h>

void *xmalloc(size_t n);
void *xcalloc(size_t count, size_t size);
void *xrealloc(void *p, size_t n);
char *xstrdup(const char *s);
char *xstrndup(const char *s, size_t n);

#endif
