/* auth: tokens signed here with libjose (keys it generates), checked by auth_verify. One row
 * per token: the header and claims it carries, how it is mangled, and the reason it must be
 * refused with (NULL: accepted). Then the key forms (secret with a newline, PEM, JWK, JWKS by
 * kid) and the selectors of a grant. */
#include "auth.h"

#include <stdlib.h>
#include <string.h>

#include <jansson.h>
#include <jose/b64.h>
#include <jose/jwk.h>
#include <jose/jws.h>
#include <jose/openssl.h>
#include <openssl/bio.h>
#include <openssl/pem.h>

#include "check.h"

#define NOW 1800000000LL
#define SECRET "0123456789abcdef0123456789abcdef"

/* A compact JWS of `claims` (JSON text) with `header` (JSON text), signed with jwk; the
 * caller frees it. */
static char *sign(const char *header, const char *claims, const json_t *jwk) {
    json_t *jws = json_pack("{s:o}", "payload", jose_b64_enc(claims, strlen(claims)));
    json_t *sig = json_pack("{s:o}", "protected", json_loads(header, 0, NULL));
    if (!jose_jws_sig(NULL, jws, sig, jwk)) {
        fprintf(stderr, "libjose could not sign %s\n", header);
        exit(1);
    }
    const char *p = json_string_value(json_object_get(jws, "protected"));
    const char *pl = json_string_value(json_object_get(jws, "payload"));
    const char *s = json_string_value(json_object_get(jws, "signature"));
    size_t n = strlen(p) + strlen(pl) + strlen(s) + 3;
    char *out = malloc(n);
    snprintf(out, n, "%s.%s.%s", p, pl, s);
    json_decref(jws);
    json_decref(sig);
    return out;
}

/* "header.claims." with no signature, as an alg none token is. */
static char *unsigned_token(const char *header, const char *claims) {
    json_t *h = jose_b64_enc(header, strlen(header)), *c = jose_b64_enc(claims, strlen(claims));
    size_t n = json_string_length(h) + json_string_length(c) + 3;
    char *out = malloc(n);
    snprintf(out, n, "%s.%s.", json_string_value(h), json_string_value(c));
    json_decref(h);
    json_decref(c);
    return out;
}

static json_t *gen(const char *alg) {
    json_t *jwk = json_pack("{s:s}", "alg", alg);
    if (!jose_jwk_gen(NULL, jwk))
        exit(1);
    return jwk;
}

static json_t *public_of(const json_t *jwk) {
    json_t *pub = json_deep_copy(jwk);
    jose_jwk_pub(NULL, pub);
    return pub;
}

static struct auth *verifier(const char *alg, const char *key, size_t len, const char *iss,
                             const char *aud) {
    struct auth_cfg cfg = {alg, iss, aud, 30, 8192};
    const char *err = NULL;
    struct auth *a = auth_new(&cfg, key, len, &err);
    if (a == NULL)
        fprintf(stderr, "auth_new(%s): %s\n", alg, err);
    return a;
}

static void test_tokens(void) {
    json_t *hs =
        json_pack("{s:s,s:o,s:s}", "kty", "oct", "k", jose_b64_enc(SECRET, 32), "alg", "HS256");
    json_t *other =
        json_pack("{s:s,s:o,s:s}", "kty", "oct", "k", jose_b64_enc(SECRET "x", 33), "alg", "HS256");
    struct auth *a = verifier("HS256", SECRET "\n", 33, "https://auth.example", "sse-bridge");
    CHECK(a != NULL);
    const char *ok_claims = "{\"exp\":1800000100,\"iss\":\"https://auth.example\","
                            "\"aud\":\"sse-bridge\",\"sse\":{\"subscribe\":[\"orders.42\"]}}";
    struct {
        const char *name, *header, *claims;
        const json_t *key;
        const char *mangle; /* "flip", "truncate", "none-sig" or NULL */
        const char *why;    /* NULL: accepted */
    } rows[] = {
        {"valid", "{\"alg\":\"HS256\"}", ok_claims, hs, NULL, NULL},
        {"aud in an array", "{\"alg\":\"HS256\"}",
         "{\"exp\":1800000100,\"iss\":\"https://auth.example\",\"aud\":[\"x\",\"sse-bridge\"]}", hs,
         NULL, NULL},
        {"expired", "{\"alg\":\"HS256\"}",
         "{\"exp\":1799999960,\"iss\":\"https://auth.example\",\"aud\":\"sse-bridge\"}", hs, NULL,
         "expired"},
        {"expired within the leeway", "{\"alg\":\"HS256\"}",
         "{\"exp\":1799999980,\"iss\":\"https://auth.example\",\"aud\":\"sse-bridge\"}", hs, NULL,
         NULL},
        {"no exp", "{\"alg\":\"HS256\"}",
         "{\"iss\":\"https://auth.example\",\"aud\":\"sse-bridge\"}", hs, NULL, "no exp claim"},
        {"exp a string", "{\"alg\":\"HS256\"}",
         "{\"exp\":\"1800000100\",\"iss\":\"https://auth.example\",\"aud\":\"sse-bridge\"}", hs,
         NULL, "no exp claim"},
        {"nbf in the future", "{\"alg\":\"HS256\"}",
         "{\"exp\":1800000100,\"nbf\":1800000060,\"iss\":\"https://auth.example\",\"aud\":"
         "\"sse-bridge\"}",
         hs, NULL, "not valid yet (nbf)"},
        {"iat in the future", "{\"alg\":\"HS256\"}",
         "{\"exp\":1800000100,\"iat\":1800000060,\"iss\":\"https://auth.example\",\"aud\":"
         "\"sse-bridge\"}",
         hs, NULL, "issued in the future (iat)"},
        {"wrong issuer", "{\"alg\":\"HS256\"}",
         "{\"exp\":1800000100,\"iss\":\"https://evil\",\"aud\":\"sse-bridge\"}", hs, NULL,
         "wrong issuer"},
        {"wrong audience", "{\"alg\":\"HS256\"}",
         "{\"exp\":1800000100,\"iss\":\"https://auth.example\",\"aud\":\"other\"}", hs, NULL,
         "wrong audience"},
        {"another secret", "{\"alg\":\"HS256\"}", ok_claims, other, NULL, "bad signature"},
        {"a flipped signature byte", "{\"alg\":\"HS256\"}", ok_claims, hs, "flip", "bad signature"},
        {"truncated", "{\"alg\":\"HS256\"}", ok_claims, hs, "truncate", "not a compact JWS"},
        {"alg none", "{\"alg\":\"none\"}", ok_claims, hs, "none-sig",
         "algorithm not the one configured"},
        {"HS512 when HS256 is pinned", "{\"alg\":\"HS512\"}", ok_claims, NULL, NULL,
         "algorithm not the one configured"},
        {"crit", "{\"alg\":\"HS256\",\"crit\":[\"exp\"]}", ok_claims, hs, NULL,
         "crit header not supported"},
        {"grant not a list", "{\"alg\":\"HS256\"}",
         "{\"exp\":1800000100,\"iss\":\"https://auth.example\",\"aud\":\"sse-bridge\",\"sse\":{"
         "\"subscribe\":\"orders.42\"}}",
         hs, NULL, "sse grant not a list of strings"},
    };
    for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
        char *tok;
        if (rows[i].mangle && strcmp(rows[i].mangle, "none-sig") == 0) {
            tok = unsigned_token(rows[i].header, rows[i].claims); /* libjose signs no "none" */
        } else if (rows[i].key != NULL) {
            tok = sign(rows[i].header, rows[i].claims, rows[i].key);
        } else { /* signed with an HS512 key of the same secret */
            json_t *k = json_pack("{s:s,s:o,s:s}", "kty", "oct", "k",
                                  jose_b64_enc(SECRET SECRET, 64), "alg", "HS512");
            tok = sign(rows[i].header, rows[i].claims, k);
            json_decref(k);
        }
        size_t len = strlen(tok);
        if (rows[i].mangle && strcmp(rows[i].mangle, "flip") == 0)
            tok[len - 2] = tok[len - 2] == 'A' ? 'B' : 'A';
        if (rows[i].mangle && strcmp(rows[i].mangle, "truncate") == 0)
            len = (size_t)(strrchr(tok, '.') - tok);
        struct auth_grant g;
        const char *why = auth_verify(a, tok, len, NOW, &g);
        if ((why == NULL) != (rows[i].why == NULL) ||
            (why != NULL && strcmp(why, rows[i].why) != 0))
            fprintf(stderr, "row %s: got %s, want %s\n", rows[i].name, why ? why : "accepted",
                    rows[i].why ? rows[i].why : "accepted");
        CHECK((why == NULL) == (rows[i].why == NULL));
        CHECK(why == NULL || rows[i].why == NULL || strcmp(why, rows[i].why) == 0);
        if (why == NULL)
            CHECK(g.exp >= NOW - 30 && g.exp <= 1800000100);
        auth_grant_clear(&g);
        free(tok);
    }
    /* A token longer than max_token is refused unread. */
    char *big = malloc(9000);
    memset(big, 'a', 9000);
    struct auth_grant g;
    CHECK_STR(auth_verify(a, big, 9000, NOW, &g), "token too long");
    free(big);
    auth_free(a);
    json_decref(hs);
    json_decref(other);
}

/* An HS256 token whose secret is the RSA public key's PEM: refused by an RS256 verifier (the
 * algorithm confusion of libjwt#200). */
static void test_key_forms(void) {
    json_t *rsa = gen("RS256");
    json_t *pub = public_of(rsa);
    EVP_PKEY *pkey = jose_openssl_jwk_to_EVP_PKEY(NULL, pub);
    BIO *bio = BIO_new(BIO_s_mem());
    PEM_write_bio_PUBKEY(bio, pkey);
    char *pem;
    long pem_len = BIO_get_mem_data(bio, &pem);
    struct auth *a = verifier("RS256", pem, (size_t)pem_len, NULL, NULL);
    CHECK(a != NULL);
    const char *claims = "{\"exp\":1800000100,\"sse\":{\"subscribe\":[\"a\"]}}";
    char *tok = sign("{\"alg\":\"RS256\"}", claims, rsa);
    struct auth_grant g;
    CHECK(auth_verify(a, tok, strlen(tok), NOW, &g) == NULL);
    auth_grant_clear(&g);
    free(tok);
    json_t *confused = json_pack("{s:s,s:o,s:s}", "kty", "oct", "k",
                                 jose_b64_enc(pem, (size_t)pem_len), "alg", "HS256");
    tok = sign("{\"alg\":\"HS256\"}", claims, confused);
    CHECK_STR(auth_verify(a, tok, strlen(tok), NOW, &g), "algorithm not the one configured");
    free(tok);
    json_decref(confused);
    auth_free(a);
    BIO_free(bio);
    EVP_PKEY_free(pkey);

    /* A JWKS with two EC keys, chosen by kid. */
    json_t *k1 = gen("ES256"), *k2 = gen("ES256");
    json_object_set_new(k1, "kid", json_string("one"));
    json_object_set_new(k2, "kid", json_string("two"));
    json_t *set = json_pack("{s:[o,o]}", "keys", public_of(k1), public_of(k2));
    char *text = json_dumps(set, 0);
    a = verifier("ES256", text, strlen(text), NULL, NULL);
    CHECK(a != NULL);
    tok = sign("{\"alg\":\"ES256\",\"kid\":\"two\"}", claims, k2);
    CHECK(auth_verify(a, tok, strlen(tok), NOW, &g) == NULL);
    auth_grant_clear(&g);
    free(tok);
    tok = sign("{\"alg\":\"ES256\",\"kid\":\"one\"}", claims, k2); /* kid one, signed by two */
    CHECK_STR(auth_verify(a, tok, strlen(tok), NOW, &g), "bad signature");
    free(tok);
    tok = sign("{\"alg\":\"ES256\",\"kid\":\"three\"}", claims, k2);
    CHECK_STR(auth_verify(a, tok, strlen(tok), NOW, &g), "no key for its kid");
    free(tok);
    auth_free(a);
    free(text);
    json_decref(set);
    json_decref(k1);
    json_decref(k2);
    json_decref(rsa);
    json_decref(pub);

    const char *err = NULL;
    struct auth_cfg cfg = {"RS256", NULL, NULL, 30, 8192};
    CHECK(auth_new(&cfg, "not a key", 9, &err) == NULL && err != NULL);
    cfg.algorithm = "none";
    CHECK(auth_new(&cfg, SECRET, 32, &err) == NULL && err != NULL);
    cfg.algorithm = "ES256"; /* an HMAC secret is no EC key */
    CHECK(auth_new(&cfg, "{\"kty\":\"oct\",\"k\":\"AAAA\"}", 24, &err) == NULL);
}

static void test_selectors(void) {
    char *sub[] = {"orders.42", "sensors/kitchen/*", "orders.*"};
    char *pub[] = {"*"};
    struct auth_grant g = {0, sub, pub, 3, 1};
    struct {
        bool publish;
        const char *name;
        bool want;
    } rows[] = {
        {false, "orders.42", true},
        {false, "orders.43", true}, /* orders.* */
        {false, "orders.*", true},  /* a pattern covered by the same selector */
        {false, "orders", false},
        {false, "sensors/kitchen/temp", true},
        {false, "sensors/kitchen/", true},
        {false, "sensors/kitchen", false},
        {false, "sensors/hall/temp", false},
        {true, "anything", true},
        {true, "", true},
    };
    for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++)
        CHECK(auth_grant_allows(&g, rows[i].publish, rows[i].name) == rows[i].want);
    struct auth_grant none = {0};
    CHECK(!auth_grant_allows(&none, false, "orders.42"));
    CHECK(!auth_grant_allows(&none, true, "orders.42"));
}

int main(void) {
    test_tokens();
    test_key_forms();
    test_selectors();
    printf("auth: %d checks, %d failed\n", check_count, check_failures);
    return check_failures != 0;
}
