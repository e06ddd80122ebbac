#include "webroot.h"

#include <string.h>

#include "defaults.h"

static int segment_char(char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' ||
           c == '-' || c == '.';
}

int webroot_resolve(const char *path, char *out, size_t cap) {
    static const char index[] = "index.html";
    if (path[0] != '/')
        return -1;
    size_t len = 0;
    const char *seg = path + 1;
    for (;;) {
        size_t n = strcspn(seg, "/");
        if (n == 0 && seg[0] == '\0') { /* "/" or a trailing '/': the index */
            if (len + sizeof(index) > cap)
                return -1;
            memcpy(out + len, index, sizeof(index));
            return (int)(len + sizeof(index) - 1);
        }
        if (n == 0 || seg[0] == '.') /* "//", ".", "..", hidden files */
            return -1;
        for (size_t i = 0; i < n; i++) {
            if (!segment_char(seg[i]))
                return -1;
        }
        if (len + n + 2 > cap || len + n > STATIC_MAX_PATH)
            return -1;
        memcpy(out + len, seg, n);
        len += n;
        if (seg[n] == '\0') {
            out[len] = '\0';
            return (int)len;
        }
        out[len++] = '/';
        seg += n + 1;
    }
}

const char *webroot_content_type(const char *name) {
    static const struct {
        const char *ext, *type;
    } types[] = {
        {".html", "text/html; charset=utf-8"},
        {".js", "text/javascript; charset=utf-8"},
        {".css", "text/css; charset=utf-8"},
        {".json", "application/json"},
        {".svg", "image/svg+xml"},
        {".png", "image/png"},
        {".ico", "image/x-icon"},
        {".txt", "text/plain; charset=utf-8"},
    };
    const char *dot = strrchr(name, '.');
    for (size_t i = 0; dot != NULL && i < sizeof(types) / sizeof(types[0]); i++) {
        if (strcmp(dot, types[i].ext) == 0)
            return types[i].type;
    }
    return "application/octet-stream";
}
