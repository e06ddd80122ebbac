/* libFuzzer driver for webroot.c, which turns a request path into the name of a static file.
 * Byte 0 sets the output capacity (0 to 255); the rest, up to its first NUL, is the decoded path.
 *
 * Whatever is returned must keep the invariant of webroot.h: a NUL-terminated name of the
 * returned length, within the capacity and STATIC_MAX_PATH (+ the index name), made of
 * '/'-joined segments of [A-Za-z0-9_.-] that are not empty and do not start with '.'; and the
 * name is the path itself (without its leading '/'), with "index.html" after a trailing '/'. */
#include "webroot.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "defaults.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char ALLOWED[] = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_.-";

static void check_name(const char *name, size_t len) {
    if (len == 0)
        abort();
    for (const char *seg = name;;) {
        size_t n = strcspn(seg, "/");
        if (n == 0 || seg[0] == '.' || strspn(seg, ALLOWED) != n)
            abort();
        if (seg[n] == '\0')
            break;
        seg += n + 1;
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size < 1)
        return 0;
    size_t cap = data[0];
    char *path = malloc(size);
    char *out = malloc(cap + 1);
    if (path == NULL || out == NULL)
        abort();
    memcpy(path, data + 1, size - 1);
    path[size - 1] = '\0';
    memset(out, 0x55, cap + 1);

    int len = webroot_resolve(path, out, cap);
    if (len >= 0) {
        static const char index[] = "index.html";
        size_t plen = strlen(path);
        if ((size_t)len >= cap || out[len] != '\0' || strlen(out) != (size_t)len)
            abort();
        if ((size_t)len > STATIC_MAX_PATH + sizeof(index))
            abort();
        if (out[cap] != 0x55) /* nothing written past the capacity */
            abort();
        check_name(out, (size_t)len);
        if (path[plen - 1] == '/') {
            size_t dir = plen - 1; /* the path's segments, without the leading '/' */
            if ((size_t)len != dir + sizeof(index) - 1 || memcmp(out, path + 1, dir) != 0 ||
                strcmp(out + dir, index) != 0)
                abort();
        } else if ((size_t)len != plen - 1 || strcmp(out, path + 1) != 0) {
            abort();
        }
        if (webroot_content_type(out) == NULL)
            abort();
    }
    free(path);
    free(out);
    return 0;
}
