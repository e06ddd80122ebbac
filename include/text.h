/* Text checks and encodings for payloads on their way into SSE, which carries UTF-8 text only:
 * a payload that is not valid UTF-8 (binary, Latin-1, a truncated sequence) is either sent
 * base64-encoded or rejected, per route, never sent raw. Pure. */
#ifndef TEXT_H
#define TEXT_H

#include <stdbool.h>
#include <stddef.h>

/* Whether s[0..n) is well-formed UTF-8 (RFC 3629: no overlong forms, no surrogates, nothing
 * above U+10FFFF). NUL bytes are valid UTF-8 and allowed. */
bool text_utf8_valid(const char *s, size_t n);

/* Bytes base64 (RFC 4648, with padding) needs for n input bytes, without a NUL. */
size_t text_base64_len(size_t n);
/* Writes base64 of s[0..n) to out (text_base64_len(n) bytes, no NUL); returns that length. */
size_t text_base64_encode(const char *s, size_t n, char *out);

#endif
