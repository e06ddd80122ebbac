/* text: UTF-8 validity, one row per byte sequence (the classic edge cases: overlong forms,
 * surrogates, the last code point, truncation), then base64 against RFC 4648's vectors and a
 * decode-back of every length up to 64 over all byte values. */
#include "text.h"

#include <stdlib.h>

#include "../base64_oracle.h"
#include "check.h"

struct utf8_row {
    const char *name;
    const char *bytes;
    size_t len;
    bool valid;
};

#define ROW(name, lit, valid)                                                                      \
    { name, lit, sizeof(lit) - 1, valid }

// clang-format off
static const struct utf8_row utf8_rows[] = {
    ROW("empty", "", true),
    ROW("ascii", "hello, world", true),
    ROW("NUL is a character", "a\0b", true),
    ROW("two bytes", "\xc3\xa9t\xc3\xa9", true),
    ROW("three bytes", "\xe2\x82\xac", true),
    ROW("four bytes", "\xf0\x9f\x98\x80", true),
    ROW("last code point", "\xf4\x8f\xbf\xbf", true),
    ROW("first three-byte", "\xe0\xa0\x80", true),
    ROW("last before surrogates", "\xed\x9f\xbf", true),
    ROW("first after surrogates", "\xee\x80\x80", true),
    ROW("lone continuation", "\x80", false),
    ROW("overlong two bytes C0", "\xc0\xaf", false),
    ROW("overlong two bytes C1", "\xc1\xbf", false),
    ROW("overlong three bytes", "\xe0\x80\xaf", false),
    ROW("overlong four bytes", "\xf0\x80\x80\xaf", false),
    ROW("surrogate", "\xed\xa0\x80", false),
    ROW("above U+10FFFF", "\xf4\x90\x80\x80", false),
    ROW("F5 lead", "\xf5\x80\x80\x80", false),
    ROW("FF byte", "a\xff", false),
    ROW("truncated two", "\xc3", false),
    ROW("truncated three", "\xe2\x82", false),
    ROW("truncated four", "\xf0\x9f\x98", false),
    ROW("bad second continuation", "\xe2\x82\x41", false),
    ROW("bad third continuation", "\xf0\x9f\x98\x41", false),
    ROW("latin-1", "caf\xe9", false),
    ROW("binary header", "\x89PNG\r\n\x1a\n", false),
};

static const struct { const char *in, *out; } b64_rows[] = {
    {"", ""}, {"f", "Zg=="}, {"fo", "Zm8="}, {"foo", "Zm9v"}, {"foob", "Zm9vYg=="},
    {"fooba", "Zm9vYmE="}, {"foobar", "Zm9vYmFy"},
};
// clang-format on

static void test_base64_roundtrip(void) {
    char in[64], out[128];
    unsigned char back[64];
    for (size_t n = 0; n <= sizeof(in); n++) {
        for (int start = 0; start < 256; start += 37) {
            for (size_t i = 0; i < n; i++)
                in[i] = (char)((size_t)start + i * 7);
            size_t len = text_base64_encode(in, n, out);
            CHECK_INT(len, text_base64_len(n));
            CHECK_INT(b64_decode(out, len, back), n);
            CHECK(memcmp(back, in, n) == 0);
            for (size_t i = 0; i < len; i++)
                CHECK(out[i] == '=' || b64_value(out[i]) >= 0);
        }
    }
}

int main(void) {
    for (size_t i = 0; i < sizeof(utf8_rows) / sizeof(utf8_rows[0]); i++) {
        const struct utf8_row *r = &utf8_rows[i];
        if (text_utf8_valid(r->bytes, r->len) != r->valid)
            fprintf(stderr, "utf8 row '%s'\n", r->name);
        CHECK(text_utf8_valid(r->bytes, r->len) == r->valid);
    }
    for (size_t i = 0; i < sizeof(b64_rows) / sizeof(b64_rows[0]); i++) {
        char out[16];
        size_t n = text_base64_encode(b64_rows[i].in, strlen(b64_rows[i].in), out);
        CHECK_MEM(out, n, b64_rows[i].out);
    }
    test_base64_roundtrip();
    return check_report("text");
}
