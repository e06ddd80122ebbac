/* Authorization by JSON Web Token: who may subscribe to and publish on what. Pure: the key is
 * handed over as bytes (main/bridge read the file), and signatures are checked by libjose
 * (RFC 7515/7518, constant-time HMAC compares, JWKS); nothing here does I/O.
 *
 * libjose checks signatures and nothing else: this module closes the gaps. The algorithm is
 * pinned (a token whose header names another one, "none" included, is refused before any
 * key is tried, which also stops the HS256-with-an-RSA-public-key confusion); "crit"
 * extensions are refused; exp is required, nbf and iat are checked when present, iss and aud
 * when configured, all with a leeway. The grant is the claim
 *   "sse": {"subscribe": [selectors], "publish": [selectors]}
 * where a selector is a name as the bridge resolves it (channel, stream key, MQTT topic,
 * pattern) or such a name ending in '*', which matches any rest. */
#ifndef AUTH_H
#define AUTH_H

#include <stdbool.h>
#include <stddef.h>

struct auth_cfg {
    const char *algorithm; /* HS256/384/512, RS256/384/512, ES256/384/512 */
    const char *issuer;    /* NULL: not checked */
    const char *audience;  /* NULL: not checked */
    long long leeway_s;
    size_t max_token; /* longer tokens are refused unread */
};

/* Makes a verifier. `key`: for HS* the secret (a final newline is dropped: files written with
 * echo), for RS and ES algorithms a PEM public key, one JWK or a JWKS ({"keys": [...]}, chosen by
 * kid). NULL and *err set when the algorithm or the key is unusable. */
struct auth *auth_new(const struct auth_cfg *cfg, const char *key, size_t key_len,
                      const char **err);
void auth_free(struct auth *a);

/* What a valid token grants. */
struct auth_grant {
    long long exp; /* seconds since the epoch */
    char **subscribe, **publish;
    size_t nsubscribe, npublish;
};

/* Verifies a compact JWS at time `now` (seconds since the epoch). NULL and *out filled, or a
 * short reason for the log (never the token itself); out is then empty. */
const char *auth_verify(const struct auth *a, const char *token, size_t len, long long now,
                        struct auth_grant *out);
/* Whether the grant covers name (a selector equal to it, or a prefix of it ending in '*'). */
bool auth_grant_allows(const struct auth_grant *g, bool publish, const char *name);
void auth_grant_clear(struct auth_grant *g);

#endif
