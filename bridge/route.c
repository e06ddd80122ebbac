#include "route.h"

#include <stdio.h>
#include <string.h>

static bool name_char(char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' ||
           c == '-' || c == '.' || c == ':';
}

bool route_name_valid(const char *s, size_t n) {
    if (n == 0 || n > PARAM_MAX_LEN)
        return false;
    for (size_t i = 0; i < n; i++) {
        if (!name_char(s[i]))
            return false;
        if (s[i] == '.' && i + 1 < n && s[i + 1] == '.')
            return false;
    }
    return true;
}

static bool ident_char(char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_';
}

/* Reads "{name}" at s; returns the length of the whole placeholder, or 0 if malformed. */
static size_t placeholder(const char *s, const char **name, size_t *name_len) {
    if (*s != '{')
        return 0;
    size_t i = 1;
    while (ident_char(s[i]))
        i++;
    if (s[i] != '}' || i == 1 || i - 1 > 31)
        return 0;
    *name = s + 1;
    *name_len = i - 1;
    return i + 1;
}

const char *route_template_check(const char *tmpl) {
    size_t params = 0;
    for (const char *s = tmpl; *s;) {
        if (*s == '}')
            return "'}' without '{'";
        if (*s != '{') {
            s++;
            continue;
        }
        const char *name;
        size_t name_len, n = placeholder(s, &name, &name_len);
        if (n == 0)
            return "a placeholder must be {name} with letters, digits or '_' (31 at most)";
        if (s[n] == '{')
            return "two placeholders need a separator between them";
        if (++params > ROUTE_MAX_PARAMS)
            return "too many placeholders";
        s += n;
    }
    return NULL;
}

static const char *param_get(const struct route_params *params, const char *name, size_t n) {
    for (size_t i = 0; params && i < params->n; i++) {
        if (strlen(params->p[i].name) == n && memcmp(params->p[i].name, name, n) == 0)
            return params->p[i].value;
    }
    return NULL;
}

/* How many placeholders of tmpl are called name. */
static size_t template_count(const char *tmpl, const char *name, size_t name_len) {
    size_t count = 0;
    for (const char *s = strchr(tmpl, '{'); s; s = strchr(s + 1, '{')) {
        const char *n;
        size_t nl;
        if (placeholder(s, &n, &nl) && nl == name_len && memcmp(n, name, nl) == 0)
            count++;
    }
    return count;
}

static bool template_has(const char *tmpl, const char *name, size_t name_len) {
    return template_count(tmpl, name, name_len) > 0;
}

const char *route_path_check(const char *path) {
    for (const char *seg = path; *seg;) {
        seg++; /* past '/' */
        size_t len = strcspn(seg, "/");
        const char *brace = memchr(seg, '{', len);
        const char *name = NULL;
        size_t name_len = 0;
        if (brace != NULL && placeholder(seg, &name, &name_len) != len)
            return "a placeholder must be a whole path segment, like /events/{id}";
        if (brace != NULL && template_count(path, name, name_len) > 1)
            return "a placeholder name is used twice";
        seg += len;
    }
    return NULL;
}

bool route_template_params_in(const char *tmpl, const char *path_tmpl) {
    for (const char *s = strchr(tmpl, '{'); s; s = strchr(s + 1, '{')) {
        const char *n;
        size_t nl;
        if (placeholder(s, &n, &nl) && !template_has(path_tmpl, n, nl))
            return false;
    }
    return true;
}

bool route_template_has_params(const char *tmpl) {
    return strchr(tmpl, '{') != NULL;
}

enum route_match_result route_match(const char *tmpl, const char *path, struct route_params *out) {
    bool bad = false;
    out->n = 0;
    while (*tmpl && *path) {
        if (*tmpl != '/' || *path != '/')
            return ROUTE_NO_MATCH;
        tmpl++, path++;
        size_t tl = strcspn(tmpl, "/"), pl = strcspn(path, "/");
        const char *name;
        size_t name_len;
        size_t ph = placeholder(tmpl, &name, &name_len);
        if (ph != 0 && ph == tl) {
            if (pl == 0)
                return ROUTE_NO_MATCH;
            if (!route_name_valid(path, pl) || out->n == ROUTE_MAX_PARAMS) {
                bad = true;
            } else {
                memcpy(out->p[out->n].name, name, name_len);
                out->p[out->n].name[name_len] = '\0';
                memcpy(out->p[out->n].value, path, pl);
                out->p[out->n].value[pl] = '\0';
                out->n++;
            }
        } else if (tl != pl || memcmp(tmpl, path, tl) != 0) {
            return ROUTE_NO_MATCH;
        }
        tmpl += tl, path += pl;
    }
    if (*tmpl || *path)
        return ROUTE_NO_MATCH;
    return bad ? ROUTE_BAD_PARAM : ROUTE_MATCH;
}

int route_expand(const char *tmpl, const struct route_params *params, char *out, size_t cap) {
    size_t len = 0;
    if (cap == 0)
        return -1;
    for (const char *s = tmpl; *s;) {
        const char *name, *piece = s;
        size_t name_len, piece_len = 1, n = placeholder(s, &name, &name_len);
        if (n > 0) {
            piece = param_get(params, name, name_len);
            if (piece == NULL)
                return -1;
            piece_len = strlen(piece);
            s += n;
        } else {
            s++;
        }
        if (len + piece_len >= cap)
            return -1;
        memcpy(out + len, piece, piece_len);
        len += piece_len;
    }
    out[len] = '\0';
    return (int)len;
}

/* Matches topic against tmpl, where a free placeholder takes 1..n name bytes. Backtracking
 * alone is exponential in the number of placeholders (a client chooses the topic), so each
 * (placeholder, topic offset) pair that failed is remembered and never tried again: at most
 * ROUTE_MAX_PARAMS x (PARAM_MAX_LEN + 1) attempts. */
struct topic_match {
    const struct route_params *params;
    const char *topic;
    bool levels; /* MQTT: a placeholder stays within one level (never takes a '/') */
    bool failed[ROUTE_MAX_PARAMS + 1][PARAM_MAX_LEN + 1];
};

static bool topic_match(struct topic_match *m, const char *tmpl, size_t at, int index) {
    const char *topic = m->topic + at;
    while (*tmpl) {
        const char *name;
        size_t name_len, n = placeholder(tmpl, &name, &name_len);
        if (n == 0) {
            if (*tmpl++ != *topic++)
                return false;
            continue;
        }
        at = (size_t)(topic - m->topic);
        if (index > ROUTE_MAX_PARAMS || at > PARAM_MAX_LEN || m->failed[index][at])
            return false;
        const char *bound = param_get(m->params, name, name_len);
        bool ok = false;
        if (bound != NULL) {
            size_t bl = strlen(bound);
            ok = strncmp(topic, bound, bl) == 0 && topic_match(m, tmpl + n, at + bl, index + 1);
        } else {
            size_t most = m->levels ? strcspn(topic, "/") : strlen(topic);
            for (size_t take = most; take > 0 && !ok; take--)
                ok = topic_match(m, tmpl + n, at + take, index + 1);
        }
        if (!ok)
            m->failed[index][at] = true;
        return ok;
    }
    return *topic == '\0';
}

bool route_topic_allowed(const char *tmpl, const struct route_params *params, const char *topic) {
    if (!route_name_valid(topic, strlen(topic)))
        return false;
    struct topic_match m;
    memset(&m, 0, sizeof(m));
    m.params = params;
    m.topic = topic;
    return topic_match(&m, tmpl, 0, 0);
}

bool route_mqtt_topic_allowed(const char *tmpl, const struct route_params *params,
                              const char *topic) {
    size_t n = strlen(topic);
    if (n == 0 || n > PARAM_MAX_LEN)
        return false;
    for (const char *level = topic;;) {
        size_t len = strcspn(level, "/");
        if (!route_name_valid(level, len))
            return false;
        if (level[len] == '\0')
            break;
        level += len + 1;
    }
    struct topic_match m;
    memset(&m, 0, sizeof(m));
    m.params = params;
    m.topic = topic;
    m.levels = true;
    return topic_match(&m, tmpl, 0, 0);
}

const char *route_mqtt_filter_check(const char *tmpl) {
    for (const char *level = tmpl;;) {
        size_t len = strcspn(level, "/");
        bool wild = memchr(level, '+', len) != NULL || memchr(level, '#', len) != NULL;
        if (wild && len != 1)
            return "+ and # stand for whole topic levels (sensors/+/temp, alerts/#)";
        if (level[len] == '\0')
            return NULL;
        if (level[0] == '#')
            return "# is the last level of a topic filter";
        level += len + 1;
    }
}

/* The query parameters a client must not name in a query template: the bridge reads them. */
static const char *const reserved_query[] = {"topic", "access_token", "lastEventID", "lastEventId",
                                             "last_event_id"};

const char *route_query_check(const char *query, const char *path) {
    size_t count = 0;
    for (const char *p = path; (p = strchr(p, '{')) != NULL; p++)
        count++;
    for (const char *pair = query;;) {
        size_t len = strcspn(pair, "&");
        const char *eq = memchr(pair, '=', len);
        size_t klen = eq ? (size_t)(eq - pair) : 0;
        const char *name = NULL;
        size_t nlen = 0;
        if (eq == NULL || klen == 0 || klen > 31 ||
            placeholder(eq + 1, &name, &nlen) != len - klen - 1)
            return "a query template is key={name} pairs joined by &, e.g. ?appId={appId}";
        for (size_t i = 0; i < klen; i++) {
            if (!name_char(pair[i]))
                return "a query key is made of [A-Za-z0-9_.:-]";
        }
        for (size_t i = 0; i < sizeof(reserved_query) / sizeof(reserved_query[0]); i++) {
            if (strlen(reserved_query[i]) == klen && strncmp(pair, reserved_query[i], klen) == 0)
                return "topic, access_token and the Last-Event-ID spellings are the bridge's own "
                       "query parameters";
        }
        if (template_has(path, name, nlen) || template_count(query, name, nlen) > 1)
            return "a placeholder name is used twice";
        if (++count > ROUTE_MAX_PARAMS)
            return "too many placeholders";
        if (pair[len] == '\0')
            return NULL;
        pair += len + 1;
    }
}

enum route_match_result route_match_query(const char *query,
                                          const char *(*get)(void *arg, const char *key), void *arg,
                                          struct route_params *out, char *missing, size_t cap) {
    for (const char *pair = query; *pair;) {
        size_t len = strcspn(pair, "&");
        const char *eq = memchr(pair, '=', len);
        const char *name = NULL;
        size_t nlen = 0;
        if (eq == NULL || placeholder(eq + 1, &name, &nlen) == 0 || out->n >= ROUTE_MAX_PARAMS)
            return ROUTE_BAD_PARAM; /* cannot happen: route_query_check passed */
        char key[32];
        size_t klen = (size_t)(eq - pair) < sizeof(key) ? (size_t)(eq - pair) : sizeof(key) - 1;
        memcpy(key, pair, klen);
        key[klen] = '\0';
        const char *v = get(arg, key);
        if (v == NULL || *v == '\0') {
            snprintf(missing, cap, "%s", key);
            return ROUTE_NO_MATCH;
        }
        if (!route_name_valid(v, strlen(v)))
            return ROUTE_BAD_PARAM;
        memcpy(out->p[out->n].name, name, nlen);
        out->p[out->n].name[nlen] = '\0';
        snprintf(out->p[out->n].value, sizeof(out->p[out->n].value), "%s", v);
        out->n++;
        pair += len + (pair[len] == '&');
    }
    return ROUTE_MATCH;
}
