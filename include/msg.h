/* An encoded SSE frame shared by every client that receives it. Encoded once per message (and
 * route translation), then referenced from each client's output buffer: the last reference
 * dropped frees it. Immutable once built; single-threaded, so the count is a plain integer. */
#ifndef MSG_H
#define MSG_H

#include <stddef.h>

struct msg {
    unsigned refs;
    size_t len;
    char data[];
};

/* A frame with room for `cap` bytes, len 0 and one reference (the caller's). */
struct msg *msg_new(size_t cap);
/* A frame holding a copy of len bytes, with one reference. */
struct msg *msg_copy(const char *bytes, size_t len);
struct msg *msg_ref(struct msg *m);
void msg_unref(struct msg *m);

#endif
