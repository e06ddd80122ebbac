#include "msg.h"

#include <stdlib.h>
#include <string.h>

#include "xmalloc.h"

struct msg *msg_new(size_t cap) {
    struct msg *m = xmalloc(sizeof(*m) + cap);
    m->refs = 1;
    m->len = 0;
    return m;
}

struct msg *msg_copy(const char *bytes, size_t len) {
    struct msg *m = msg_new(len);
    memcpy(m->data, bytes, len);
    m->len = len;
    return m;
}

struct msg *msg_ref(struct msg *m) {
    m->refs++;
    return m;
}

void msg_unref(struct msg *m) {
    if (m != NULL && --m->refs == 0)
        free(m);
}
