#include "auth.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>
#include <jose/b64.h>
#include <jose/jws.h>
#include <jose/openssl.h>
#include <openssl/bio.h>
#include <openssl/evp.h>
#include <openssl/pem.h>

#include "xmalloc.h"

struct auth {
    struct auth_cfg cfg;
    char *algorithm, *issuer, *audience;
    json_t *keys; /* an array of JWKs, each with "alg" set to the pinned algorithm */
};

static const char *const ALGORITHMS[] = {"HS256", "HS384", "HS512", "RS256", "RS384",
                                         "RS512", "ES256", "ES384", "ES512"};

static bool known_algorithm(const char *alg) {
    for (size_t i = 0; i < sizeof(ALGORITHMS) / sizeof(ALGORITHMS[0]); i++) {
        if (strcmp(alg, ALGORITHMS[i]) == 0)
            return true;
    }
    return false;
}

/* The kty a key for alg must have. */
static const char *key_type(const char *alg) {
    return alg[0] == 'H' ? "oct" : alg[0] == 'R' ? "RSA" : "EC";
}

static bool contains(const char *s, size_t n, const char *what) {
    size_t w = strlen(what);
    for (size_t i = 0; i + w <= n; i++) {
        if (memcmp(s + i, what, w) == 0)
            return true;
    }
    return false;
}

static json_t *pem_key(const char *key, size_t len) {
    BIO *bio = BIO_new_mem_buf(key, (int)len);
    EVP_PKEY *pkey = bio ? PEM_read_bio_PUBKEY(bio, NULL, NULL, NULL) : NULL;
    json_t *jwk = pkey ? jose_openssl_jwk_from_EVP_PKEY(NULL, pkey) : NULL;
    EVP_PKEY_free(pkey);
    BIO_free(bio);
    return jwk;
}

/* The keys as an array of public JWKs of the algorithm's type. */
static json_t *load_keys(const char *alg, const char *key, size_t len, const char **err) {
    json_t *keys = json_array();
    if (alg[0] == 'H') {
        if (len > 0 && key[len - 1] == '\n')
            len--;
        if (len > 0 && key[len - 1] == '\r')
            len--;
        json_array_append_new(keys,
                              json_pack("{s:s,s:o}", "kty", "oct", "k", jose_b64_enc(key, len)));
        return keys;
    }
    if (contains(key, len, "-----BEGIN")) {
        json_t *jwk = pem_key(key, len);
        if (jwk == NULL) {
            *err = "not a PEM public key that OpenSSL reads";
            json_decref(keys);
            return NULL;
        }
        json_array_append_new(keys, jwk);
        return keys;
    }
    json_t *doc = json_loadb(key, len, 0, NULL);
    json_t *list = json_is_object(doc) ? json_object_get(doc, "keys") : NULL;
    if (json_is_array(list)) {
        json_array_extend(keys, list);
    } else if (json_is_object(doc) && json_object_get(doc, "kty") != NULL) {
        json_array_append(keys, doc);
    } else {
        *err = "neither a PEM public key, a JWK nor a JWKS";
        json_decref(doc);
        json_decref(keys);
        return NULL;
    }
    json_decref(doc);
    return keys;
}

struct auth *auth_new(const struct auth_cfg *cfg, const char *key, size_t key_len,
                      const char **err) {
    if (cfg->algorithm == NULL || !known_algorithm(cfg->algorithm)) {
        *err = "unknown algorithm (HS256/384/512, RS256/384/512, ES256/384/512)";
        return NULL;
    }
    json_t *all = load_keys(cfg->algorithm, key, key_len, err);
    if (all == NULL)
        return NULL;
    /* Only keys of the pinned algorithm's type, each pinned to it: a JWKS may hold others. */
    json_t *keys = json_array();
    size_t i;
    json_t *k;
    json_array_foreach(all, i, k) {
        const char *kty = json_string_value(json_object_get(k, "kty"));
        const char *kalg = json_string_value(json_object_get(k, "alg"));
        if (kty == NULL || strcmp(kty, key_type(cfg->algorithm)) != 0 ||
            (kalg != NULL && strcmp(kalg, cfg->algorithm) != 0))
            continue;
        json_t *copy = json_deep_copy(k);
        json_object_set_new(copy, "alg", json_string(cfg->algorithm));
        json_array_append_new(keys, copy);
    }
    json_decref(all);
    if (json_array_size(keys) == 0) {
        json_decref(keys);
        *err = "no key of the algorithm's type";
        return NULL;
    }
    struct auth *a = xcalloc(1, sizeof(*a));
    a->cfg = *cfg;
    a->algorithm = xstrdup(cfg->algorithm);
    a->issuer = cfg->issuer ? xstrdup(cfg->issuer) : NULL;
    a->audience = cfg->audience ? xstrdup(cfg->audience) : NULL;
    a->cfg.algorithm = a->algorithm;
    a->cfg.issuer = a->issuer;
    a->cfg.audience = a->audience;
    a->keys = keys;
    return a;
}

void auth_free(struct auth *a) {
    if (a == NULL)
        return;
    json_decref(a->keys);
    free(a->algorithm);
    free(a->issuer);
    free(a->audience);
    free(a);
}

void auth_grant_clear(struct auth_grant *g) {
    for (size_t i = 0; i < g->nsubscribe; i++)
        free(g->subscribe[i]);
    for (size_t i = 0; i < g->npublish; i++)
        free(g->publish[i]);
    free(g->subscribe);
    free(g->publish);
    memset(g, 0, sizeof(*g));
}

/* A JSON object from a base64url part; NULL when it is not one. */
static json_t *b64_object(const char *s, size_t n) {
    json_t *str = json_stringn(s, n);
    json_t *obj = str ? jose_b64_dec_load(str) : NULL;
    json_decref(str);
    if (obj != NULL && !json_is_object(obj)) {
        json_decref(obj);
        return NULL;
    }
    return obj;
}

/* A NumericDate claim: absent (true, *v untouched), a number (true), or anything else. */
static bool numeric_date(const json_t *claims, const char *name, long long *v, bool *present) {
    const json_t *j = json_object_get(claims, name);
    *present = j != NULL;
    if (j == NULL)
        return true;
    if (!json_is_number(j))
        return false;
    double d = json_number_value(j);
    if (d != d || d < -9.2e18 || d > 9.2e18)
        return false;
    *v = (long long)d;
    return true;
}

static bool audience_ok(const json_t *aud, const char *want) {
    if (json_is_string(aud))
        return strcmp(json_string_value(aud), want) == 0;
    size_t i;
    const json_t *v;
    json_array_foreach(aud, i, v) {
        if (json_is_string(v) && strcmp(json_string_value(v), want) == 0)
            return true;
    }
    return false;
}

/* The selectors of one grant list; false when the list is not an array of strings. */
static bool selectors(const json_t *list, char ***out, size_t *n) {
    if (list == NULL)
        return true;
    if (!json_is_array(list))
        return false;
    *out = xcalloc(json_array_size(list) + 1, sizeof(**out));
    size_t i;
    const json_t *v;
    json_array_foreach(list, i, v) {
        if (!json_is_string(v))
            return false;
        (*out)[(*n)++] = xstrdup(json_string_value(v));
    }
    return true;
}

/* The key for a token: the one named by its kid, or the only one. */
static const json_t *pick_key(const struct auth *a, const json_t *header) {
    const char *kid = json_string_value(json_object_get(header, "kid"));
    size_t i;
    const json_t *k;
    if (kid == NULL)
        return json_array_size(a->keys) == 1 ? json_array_get(a->keys, 0) : NULL;
    json_array_foreach(a->keys, i, k) {
        const char *id = json_string_value(json_object_get(k, "kid"));
        if (id != NULL && strcmp(id, kid) == 0)
            return k;
    }
    /* A single key without a kid takes tokens with any kid (a PEM file or a secret). */
    k = json_array_size(a->keys) == 1 ? json_array_get(a->keys, 0) : NULL;
    return k != NULL && json_object_get(k, "kid") == NULL ? k : NULL;
}

static const char *check_claims(const struct auth *a, const json_t *claims, long long now,
                                struct auth_grant *out) {
    long long exp = 0, nbf = 0, iat = 0;
    bool has_exp, has_nbf, has_iat;
    if (!numeric_date(claims, "exp", &exp, &has_exp) || !has_exp)
        return "no exp claim";
    if (!numeric_date(claims, "nbf", &nbf, &has_nbf) ||
        !numeric_date(claims, "iat", &iat, &has_iat))
        return "nbf or iat not a number";
    if (now > exp + a->cfg.leeway_s)
        return "expired";
    if (has_nbf && now + a->cfg.leeway_s < nbf)
        return "not valid yet (nbf)";
    if (has_iat && now + a->cfg.leeway_s < iat)
        return "issued in the future (iat)";
    if (a->issuer != NULL) {
        const char *iss = json_string_value(json_object_get(claims, "iss"));
        if (iss == NULL || strcmp(iss, a->issuer) != 0)
            return "wrong issuer";
    }
    if (a->audience != NULL && !audience_ok(json_object_get(claims, "aud"), a->audience))
        return "wrong audience";
    const json_t *sse = json_object_get(claims, "sse");
    if (sse != NULL && !json_is_object(sse))
        return "sse claim not an object";
    out->exp = exp;
    if (!selectors(json_object_get(sse, "subscribe"), &out->subscribe, &out->nsubscribe) ||
        !selectors(json_object_get(sse, "publish"), &out->publish, &out->npublish))
        return "sse grant not a list of strings";
    return NULL;
}

const char *auth_verify(const struct auth *a, const char *token, size_t len, long long now,
                        struct auth_grant *out) {
    memset(out, 0, sizeof(*out));
    if (len > a->cfg.max_token)
        return "token too long";
    const char *d1 = memchr(token, '.', len);
    const char *d2 = d1 ? memchr(d1 + 1, '.', len - (size_t)(d1 + 1 - token)) : NULL;
    /* header.claims.signature; an empty signature (alg none) is read, then refused below. */
    if (d1 == NULL || d2 == NULL || memchr(d2 + 1, '.', len - (size_t)(d2 + 1 - token)) != NULL ||
        d1 == token)
        return "not a compact JWS";
    size_t hlen = (size_t)(d1 - token), plen = (size_t)(d2 - d1 - 1);
    size_t slen = len - (size_t)(d2 + 1 - token);
    json_t *header = b64_object(token, hlen);
    if (header == NULL) {
        return "unreadable header";
    }
    const char *alg = json_string_value(json_object_get(header, "alg"));
    const char *why = NULL;
    if (alg == NULL || strcmp(alg, a->algorithm) != 0)
        why = "algorithm not the one configured";
    else if (json_object_get(header, "crit") != NULL)
        why = "crit header not supported";
    const json_t *key = why ? NULL : pick_key(a, header);
    if (why == NULL && key == NULL)
        why = "no key for its kid";
    json_t *jws = NULL, *claims = NULL;
    if (why == NULL) {
        jws = json_pack("{s:s%,s:s%,s:s%}", "protected", token, hlen, "payload", d1 + 1, plen,
                        "signature", d2 + 1, slen);
        if (jws == NULL || !jose_jws_ver(NULL, jws, NULL, key, false))
            why = "bad signature";
    }
    if (why == NULL && (claims = b64_object(d1 + 1, plen)) == NULL)
        why = "claims not a JSON object";
    if (why == NULL)
        why = check_claims(a, claims, now, out);
    if (why != NULL)
        auth_grant_clear(out);
    json_decref(claims);
    json_decref(jws);
    json_decref(header);
    return why;
}

bool auth_grant_allows(const struct auth_grant *g, bool publish, const char *name) {
    char *const *list = publish ? g->publish : g->subscribe;
    size_t n = publish ? g->npublish : g->nsubscribe;
    size_t len = strlen(name);
    for (size_t i = 0; i < n; i++) {
        size_t sl = strlen(list[i]);
        if (sl > 0 && list[i][sl - 1] == '*') {
            if (len >= sl - 1 && memcmp(name, list[i], sl - 1) == 0)
                return true;
        } else if (sl == len && memcmp(name, list[i], len) == 0) {
            return true;
        }
    }
    return false;
}
