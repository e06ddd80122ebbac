/* webroot: which request paths name a file of the static directory (one row per path: the
 * name, or NULL for a 404), and the content type by extension. */
#include "webroot.h"

#include "check.h"

// clang-format off
static const struct { const char *path, *want; } rows[] = {
    {"/", "index.html"},
    {"/index.html", "index.html"},
    {"/demo.js", "demo.js"},
    {"/assets/", "assets/index.html"},
    {"/assets/app.min.css", "assets/app.min.css"},
    {"/a-b_c.1/x", "a-b_c.1/x"},
    {"", NULL},
    {"index.html", NULL},
    {"/..", NULL},
    {"/../etc/passwd", NULL},
    {"/assets/../../etc/passwd", NULL},
    {"/./index.html", NULL},
    {"/.env", NULL},
    {"/.git/config", NULL},
    {"/assets/.hidden", NULL},
    {"//etc/passwd", NULL},
    {"/assets//x", NULL},
    {"/a\\\\b", NULL},
    {"/a b", NULL},
    {"/a%2e%2e", NULL},
    {"/caf\xc3\xa9", NULL},
    {"/a:b", NULL},
    {"/x?y", NULL},
};
// clang-format on

static void test_lengths(void) {
    char out[300], path[300];
    /* 255 bytes of name is the most; the output buffer bounds it too. */
    path[0] = '/';
    memset(path + 1, 'a', 255);
    path[256] = '\0';
    CHECK_INT(webroot_resolve(path, out, sizeof(out)), 255);
    path[256] = 'a';
    path[257] = '\0';
    CHECK_INT(webroot_resolve(path, out, sizeof(out)), -1);
    CHECK_INT(webroot_resolve("/index.html", out, 11), -1);
    CHECK_INT(webroot_resolve("/index.html", out, 12), 10);
    CHECK_INT(webroot_resolve("/", out, 10), -1);
    CHECK_INT(webroot_resolve("/", out, 11), 10);
}

int main(void) {
    for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
        char out[300];
        int n = webroot_resolve(rows[i].path, out, sizeof(out));
        if (rows[i].want == NULL) {
            CHECK_INT(n, -1);
        } else {
            CHECK_INT(n, (int)strlen(rows[i].want));
            if (n >= 0)
                CHECK_MEM(out, (size_t)n, rows[i].want);
        }
        if ((n >= 0) != (rows[i].want != NULL))
            fprintf(stderr, "  in webroot_resolve(\"%s\")\n", rows[i].path);
    }
    test_lengths();
    CHECK_STR(webroot_content_type("index.html"), "text/html; charset=utf-8");
    CHECK_STR(webroot_content_type("a/demo.js"), "text/javascript; charset=utf-8");
    CHECK_STR(webroot_content_type("shot.png"), "image/png");
    CHECK_STR(webroot_content_type("README"), "application/octet-stream");
    CHECK_STR(webroot_content_type("x.html.bak"), "application/octet-stream");
    return check_report("webroot");
}
