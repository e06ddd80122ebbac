/* libFuzzer driver for auth.c, the token check in front of every protected stream. Byte 0
 * picks what the rest is:
 *   0: a whole token, as a client sends it: whatever it is, auth_verify returns (no crash, no
 *      leak), and it is never accepted unless it is one of the seeds this driver signed.
 *   1: the claims of a token this driver signs (HS256, libjose) with the verifier's secret:
 *      accepted exactly when the claims are a JSON object with a numeric exp not in the past
 *      (beyond the leeway), no nbf/iat in the future, and an sse grant made of string lists;
 *      the grant returned is those lists.
 *   2: the protected header of such a token: accepted only when it names HS256 and no crit.
 * Any disagreement aborts. */
#include "auth.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>
#include <jose/b64.h>
#include <jose/jws.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define NOW 1800000000LL
#define LEEWAY 30
#define SECRET "0123456789abcdef0123456789abcdef"

static struct auth *verifier(void) {
    static struct auth *a;
    if (a == NULL) {
        struct auth_cfg cfg = {"HS256", NULL, NULL, LEEWAY, 8192};
        const char *err;
        a = auth_new(&cfg, SECRET, strlen(SECRET), &err);
        if (a == NULL)
            abort();
    }
    return a;
}

/* header.payload.signature with libjose; NULL when it will not sign that header. */
static char *sign(json_t *header, const char *payload, size_t len) {
    static json_t *jwk;
    if (jwk == NULL)
        jwk = json_pack("{s:s,s:o,s:s}", "kty", "oct", "k", jose_b64_enc(SECRET, strlen(SECRET)),
                        "alg", "HS256");
    json_t *jws = json_pack("{s:o}", "payload", jose_b64_enc(payload, len));
    json_t *sig = json_pack("{s:O}", "protected", header);
    char *out = NULL;
    if (jose_jws_sig(NULL, jws, sig, jwk)) {
        const char *p = json_string_value(json_object_get(jws, "protected"));
        const char *pl = json_string_value(json_object_get(jws, "payload"));
        const char *s = json_string_value(json_object_get(jws, "signature"));
        size_t n = strlen(p) + strlen(pl) + strlen(s) + 3;
        out = malloc(n);
        snprintf(out, n, "%s.%s.%s", p, pl, s);
    }
    json_decref(jws);
    json_decref(sig);
    return out;
}

static bool string_list(const json_t *l) {
    if (l == NULL)
        return true;
    if (!json_is_array(l))
        return false;
    size_t i;
    const json_t *v;
    json_array_foreach(l, i, v) {
        if (!json_is_string(v))
            return false;
    }
    return true;
}

static bool date_ok(const json_t *c, const char *name, bool required, bool past) {
    const json_t *v = json_object_get(c, name);
    if (v == NULL)
        return !required;
    if (!json_is_number(v))
        return false;
    double d = json_number_value(v);
    if (d != d || d < -9.2e18 || d > 9.2e18)
        return false;
    long long t = (long long)d;
    return past ? NOW <= t + LEEWAY : NOW + LEEWAY >= t;
}

/* What auth_verify must say of these claims. */
static bool claims_ok(const char *payload, size_t len) {
    json_t *c = json_loadb(payload, len, JSON_DECODE_ANY, NULL);
    bool ok = json_is_object(c) && date_ok(c, "exp", true, true) &&
              date_ok(c, "nbf", false, false) && date_ok(c, "iat", false, false);
    const json_t *sse = ok ? json_object_get(c, "sse") : NULL;
    if (ok && sse != NULL)
        ok = json_is_object(sse) && string_list(json_object_get(sse, "subscribe")) &&
             string_list(json_object_get(sse, "publish"));
    json_decref(c);
    return ok;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size < 1)
        return 0;
    const char *rest = (const char *)data + 1;
    size_t n = size - 1;
    struct auth_grant g;
    if (data[0] % 3 == 0) {
        const char *why = auth_verify(verifier(), rest, n, NOW, &g);
        if (why == NULL) { /* only a seed signed with SECRET gets here */
            if (g.exp + LEEWAY < NOW)
                abort();
            auth_grant_clear(&g);
        }
        return 0;
    }
    if (data[0] % 3 == 1) {
        json_t *h = json_pack("{s:s}", "alg", "HS256");
        char *tok = sign(h, rest, n);
        json_decref(h);
        if (tok == NULL)
            return 0;
        const char *why = auth_verify(verifier(), tok, strlen(tok), NOW, &g);
        if ((why == NULL) != claims_ok(rest, n))
            abort();
        for (size_t i = 0; i < g.nsubscribe; i++) {
            if (!auth_grant_allows(&g, false, g.subscribe[i]))
                abort();
        }
        auth_grant_clear(&g);
        free(tok);
        return 0;
    }
    json_t *h = json_loadb(rest, n, 0, NULL);
    if (!json_is_object(h)) {
        json_decref(h);
        return 0;
    }
    char *tok = sign(h, "{\"exp\":1800000100}", 18);
    bool want = json_is_string(json_object_get(h, "alg")) &&
                strcmp(json_string_value(json_object_get(h, "alg")), "HS256") == 0 &&
                json_object_get(h, "crit") == NULL;
    json_decref(h);
    if (tok == NULL)
        return 0;
    const char *why = auth_verify(verifier(), tok, strlen(tok), NOW, &g);
    /* A kid names a key: the single secret takes any kid (it has none of its own). */
    if ((why == NULL) != want)
        abort();
    auth_grant_clear(&g);
    free(tok);
    return 0;
}
