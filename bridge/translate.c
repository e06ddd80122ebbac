#include "translate.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "xmalloc.h"

static int starts_with(const char *s, const char *prefix) {
    return strncmp(s, prefix, strlen(prefix)) == 0;
}

int field_rule_parse(const char *field, const char *spec, struct field_rule *out,
                     const char **err) {
    int is_data = strcmp(field, "data") == 0;
    memset(out, 0, sizeof(*out));
    if (strcmp(spec, "none") == 0 && !is_data) {
        out->src = FIELD_NONE;
    } else if (strcmp(spec, "payload") == 0 && is_data) {
        out->src = FIELD_PAYLOAD;
    } else if (starts_with(spec, "fixed:") && !is_data) {
        if (spec[6] == '\0' || strpbrk(spec + 6, "\r\n") != NULL) {
            *err = "fixed: needs a value on one line";
            return -1;
        }
        out->src = FIELD_FIXED;
        out->arg = xstrdup(spec + 6);
    } else if (starts_with(spec, "json:")) {
        const char *key = spec + 5;
        if (*key == '\0' || key[0] == '.' || key[strlen(key) - 1] == '.' ||
            strstr(key, "..") != NULL) {
            *err = "json: needs a key, or a dotted path such as json:meta.type";
            return -1;
        }
        out->src = FIELD_JSON;
        out->arg = xstrdup(key);
    } else if (starts_with(spec, "field:")) {
        if (spec[6] == '\0') {
            *err = "field: needs a stream entry field name";
            return -1;
        }
        out->src = FIELD_ENTRY;
        out->arg = xstrdup(spec + 6);
    } else if (starts_with(spec, "property:")) {
        if (spec[9] == '\0') {
            *err = "property: needs an MQTT 5 user property name";
            return -1;
        }
        out->src = FIELD_PROPERTY;
        out->arg = xstrdup(spec + 9);
    } else if (strcmp(spec, "topic") == 0) {
        out->src = FIELD_TOPIC;
    } else if (starts_with(spec, "topic:")) {
        char *end;
        long n = strtol(spec + 6, &end, 10);
        if (spec[6] < '0' || spec[6] > '9' || *end != '\0' || n < 1 || n > 64) {
            *err = "topic:N needs a level number from 1 to 64";
            return -1;
        }
        out->src = FIELD_TOPIC;
        out->segment = (int)n;
    } else if (strcmp(spec, "channel") == 0) {
        out->src = FIELD_CHANNEL;
    } else if (starts_with(spec, "channel:")) {
        char *end;
        long n = strtol(spec + 8, &end, 10);
        if (*end != '\0' || n < 1 || n > 64) {
            *err = "channel:N needs a segment number from 1 to 64";
            return -1;
        }
        out->src = FIELD_CHANNEL;
        out->segment = (int)n;
    } else {
        *err = is_data ? "expected payload, json:KEY, field:NAME or property:NAME"
                       : "expected none, fixed:NAME, json:KEY, field:NAME, channel, channel:N, "
                         "topic, topic:N or property:NAME";
        return -1;
    }
    return 0;
}

void field_rule_clear(struct field_rule *r) {
    free(r->arg);
    memset(r, 0, sizeof(*r));
}

bool translate_needs_json(const struct translate_rules *r) {
    return r->event.src == FIELD_JSON || r->id.src == FIELD_JSON || r->data.src == FIELD_JSON;
}

bool translate_needs_props(const struct translate_rules *r) {
    return r->event.src == FIELD_PROPERTY || r->id.src == FIELD_PROPERTY ||
           r->data.src == FIELD_PROPERTY;
}

static json_t *json_lookup(json_t *obj, const char *path) {
    char key[256];
    while (obj != NULL && json_is_object(obj)) {
        const char *dot = strchr(path, '.');
        size_t n = dot ? (size_t)(dot - path) : strlen(path);
        if (n >= sizeof(key))
            return NULL;
        memcpy(key, path, n);
        key[n] = '\0';
        obj = json_object_get(obj, key);
        if (dot == NULL)
            return obj;
        path = dot + 1;
    }
    return NULL;
}

static int is_separator(char c) {
    return c == '.' || c == ':' || c == '/';
}

/* The 1-based nth segment of the name, or 0 when it has fewer. Channels split at '.', ':'
 * and '/'; MQTT topics (`levels_only`) at '/' alone, as MQTT defines its levels. */
static int name_segment(const char *s, size_t n, int nth, bool levels_only, const char **seg,
                        size_t *seg_len) {
    size_t start = 0;
    int index = 1;
    for (size_t i = 0; i <= n; i++) {
        if (i < n && (levels_only ? s[i] != '/' : !is_separator(s[i])))
            continue;
        if (index == nth) {
            *seg = s + start;
            *seg_len = i - start;
            return 1;
        }
        index++;
        start = i + 1;
    }
    return 0;
}

/* The value of the first name/value pair called `name` (stream entry fields, MQTT user
 * properties); returns 1 when there is one. */
static int pair_lookup(const char *const *pairs, const size_t *lens, size_t n, const char *name,
                       const char **out, size_t *out_len) {
    size_t name_len = strlen(name);
    for (size_t i = 0; i < n; i++) {
        if (lens[2 * i] == name_len && memcmp(pairs[2 * i], name, name_len) == 0) {
            *out = pairs[2 * i + 1];
            *out_len = lens[2 * i + 1];
            return 1;
        }
    }
    return 0;
}

/* Significant digits of the shortest "%.*e" text that reads back as d (1 to 17). */
static int shortest_digits(double d, char *buf, size_t size) {
    int p = 1;
    for (; p < 17; p++) {
        snprintf(buf, size, "%.*e", p - 1, d);
        if (strtod(buf, NULL) == d)
            return p;
    }
    snprintf(buf, size, "%.*e", 16, d);
    return 17;
}

size_t translate_real_text(double d, char *out) {
    char buf[40];
    if (d == 0) { /* and -0, which JavaScript prints as 0 */
        memcpy(out, "0", 2);
        return 1;
    }
    shortest_digits(d, buf, sizeof(buf));
    /* buf is [-]D[.DDD]e(+|-)XX: the digits, then the decimal exponent. */
    const char *s = buf;
    char *o = out;
    if (*s == '-')
        *o++ = *s++;
    char digits[24] = {'0'}; /* 17 at most; room up to the 21 places the layout compares with */
    int k = 0;
    for (; *s != 'e'; s++) {
        if (*s != '.')
            digits[k++] = *s;
    }
    while (k > 1 && digits[k - 1] == '0')
        k--;
    int n = atoi(s + 1) + 1; /* d = 0.DIGITS x 10^n */
    /* ECMA-262 Number::toString: plain digits up to 21 integer places, "0.000ddd" down to
     * 1e-6, else one digit, the rest after a point, and a signed exponent. */
    if (k <= n && n <= 21) {
        memcpy(o, digits, (size_t)k);
        o += k;
        memset(o, '0', (size_t)(n - k));
        o += n - k;
    } else if (0 < n && n <= 21) {
        memcpy(o, digits, (size_t)n);
        o += n;
        *o++ = '.';
        memcpy(o, digits + n, (size_t)(k - n));
        o += k - n;
    } else if (-6 < n && n <= 0) {
        *o++ = '0';
        *o++ = '.';
        memset(o, '0', (size_t)-n);
        o += -n;
        memcpy(o, digits, (size_t)k);
        o += k;
    } else {
        *o++ = digits[0];
        if (k > 1) {
            *o++ = '.';
            memcpy(o, digits + 1, (size_t)(k - 1));
            o += k - 1;
        }
        o += sprintf(o, "e%c%d", n - 1 >= 0 ? '+' : '-', n - 1 >= 0 ? n - 1 : 1 - n);
    }
    *o = '\0';
    return (size_t)(o - out);
}

/* The precision that prints every real inside v so that it reads back the same: the most
 * any of them needs, and at least its integer digits (so 100.0 stays 100.0, not 1e2). */
static int reals_precision(json_t *v) {
    int p = 0;
    if (json_is_real(v)) {
        char buf[40];
        double d = json_real_value(v);
        p = shortest_digits(d, buf, sizeof(buf));
        int exp10 = atoi(strchr(buf, 'e') + 1) + 1;
        if (exp10 > p)
            p = exp10 > 17 ? 17 : exp10;
    } else if (json_is_array(v)) {
        for (size_t i = 0; i < json_array_size(v); i++) {
            int q = reals_precision(json_array_get(v, i));
            p = q > p ? q : p;
        }
    } else if (json_is_object(v)) {
        const char *key;
        json_t *member;
        json_object_foreach(v, key, member) {
            int q = reals_precision(member);
            p = q > p ? q : p;
        }
    }
    return p;
}

/* A JSON value other than a string as text: a number as the shortest text that reads back as
 * the same number, laid out as JSON.stringify does (jansson's default prints 17 digits, so
 * 22.2 would become 22.199999999999999); integers keep every digit (64-bit, as jansson reads
 * them); objects and arrays compact, their reals at the precision that keeps each value. */
static char *json_text(json_t *v) {
    if (json_is_real(v)) {
        char *text = xmalloc(32);
        translate_real_text(json_real_value(v), text);
        return text;
    }
    int p = reals_precision(v);
    return json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY | (p > 0 ? JSON_REAL_PRECISION(p) : 0));
}

/* Applies one rule; returns 1 when it produced a value. JSON strings are taken as they are,
 * other JSON values in their compact serialized form (an object as data stays JSON). */
static int apply(const struct field_rule *r, const struct translate_in *in, const char **out,
                 size_t *out_len, char **owned) {
    switch (r->src) {
    case FIELD_NONE:
        return 0;
    case FIELD_PAYLOAD:
        *out = in->payload;
        *out_len = in->payload_len;
        return 1;
    case FIELD_FIXED:
        *out = r->arg;
        *out_len = strlen(r->arg);
        return 1;
    case FIELD_ENTRY:
        return pair_lookup(in->fields, in->field_lens, in->nfields, r->arg, out, out_len);
    case FIELD_CHANNEL:
        if (r->segment == 0) {
            *out = in->channel;
            *out_len = in->channel_len;
            return 1;
        }
        return name_segment(in->channel, in->channel_len, r->segment, false, out, out_len);
    case FIELD_TOPIC:
        if (r->segment == 0) {
            *out = in->channel;
            *out_len = in->channel_len;
            return 1;
        }
        return name_segment(in->channel, in->channel_len, r->segment, true, out, out_len);
    case FIELD_PROPERTY:
        return pair_lookup(in->props, in->prop_lens, in->nprops, r->arg, out, out_len);
    case FIELD_JSON: {
        json_t *v = json_lookup(in->json, r->arg);
        if (v == NULL || json_is_null(v))
            return 0;
        if (json_is_string(v)) {
            *out = json_string_value(v);
            *out_len = json_string_length(v);
            return 1;
        }
        *owned = json_text(v);
        if (*owned == NULL)
            return 0;
        *out = *owned;
        *out_len = strlen(*owned);
        return 1;
    }
    }
    return 0;
}

void translate(const struct translate_rules *r, const struct translate_in *in,
               struct translate_out *out) {
    memset(out, 0, sizeof(*out));
    struct sse_fields *f = &out->f;
    if (!apply(&r->event, in, &f->event, &f->event_len, &out->owned[0]))
        f->event = NULL;
    if (!apply(&r->id, in, &f->id, &f->id_len, &out->owned[1]))
        f->id = NULL;
    /* A data rule that finds nothing (not JSON, no such key) falls back to the payload, so a
     * message is never turned into an empty event. */
    if (!apply(&r->data, in, &f->data, &f->data_len, &out->owned[2])) {
        f->data = in->payload;
        f->data_len = in->payload_len;
    }
}

void translate_out_clear(struct translate_out *out) {
    for (size_t i = 0; i < 3; i++)
        free(out->owned[i]);
    memset(out, 0, sizeof(*out));
}
