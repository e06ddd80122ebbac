/* libFuzzer driver for text.c, the check that decides whether a payload goes out as text or as
 * base64. text_utf8_valid must agree with jansson's own UTF-8 check (json_stringn refuses
 * exactly the ill-formed strings, NUL allowed), and base64 must decode back to the input with
 * an independent decoder, in the predicted length, using only the RFC 4648 alphabet. */
#include "text.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "../base64_oracle.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    const char *s = (const char *)data;
    json_t *j = json_stringn(s, size);
    if ((j != NULL) != text_utf8_valid(s, size))
        abort();
    json_decref(j);

    size_t len = text_base64_len(size);
    char *out = malloc(len + 1);
    unsigned char *back = malloc(size + 3);
    if (out == NULL || back == NULL)
        abort();
    if (text_base64_encode(s, size, out) != len || len % 4 != 0)
        abort();
    size_t n = b64_decode(out, len, back);
    if (n != size || memcmp(back, data, size) != 0)
        abort();
    free(out);
    free(back);
    return 0;
}
