/* An independent base64 decoder (RFC 4648, padded input), for checking text.c's encoder in
 * the unit test and the fuzz driver alike. Header-only. */
#ifndef BASE64_ORACLE_H
#define BASE64_ORACLE_H

#include <stddef.h>

/* The 6-bit value of a base64 character, or -1 outside the alphabet. */
static inline int b64_value(char c) {
    if (c >= 'A' && c <= 'Z')
        return c - 'A';
    if (c >= 'a' && c <= 'z')
        return c - 'a' + 26;
    if (c >= '0' && c <= '9')
        return c - '0' + 52;
    return c == '+' ? 62 : c == '/' ? 63 : -1;
}

/* Decodes s[0..n) (n a multiple of 4) into out; returns the byte count, or (size_t)-1 when a
 * character is outside the alphabet or '=' appears anywhere but the last two places. */
static inline size_t b64_decode(const char *s, size_t n, unsigned char *out) {
    size_t o = 0;
    for (size_t i = 0; i + 4 <= n; i += 4) {
        int v[4];
        for (int k = 0; k < 4; k++) {
            int pad = s[i + k] == '=';
            v[k] = pad ? 0 : b64_value(s[i + k]);
            if (v[k] < 0 || (pad && (i + 4 != n || k < 2 || (k == 2 && s[i + 3] != '='))))
                return (size_t)-1;
        }
        unsigned w =
            (unsigned)v[0] << 18 | (unsigned)v[1] << 12 | (unsigned)v[2] << 6 | (unsigned)v[3];
        out[o++] = (unsigned char)(w >> 16);
        if (s[i + 2] != '=')
            out[o++] = (unsigned char)(w >> 8);
        if (s[i + 3] != '=')
            out[o++] = (unsigned char)w;
    }
    return o;
}

#endif
