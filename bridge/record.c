#include "record.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <hiredis/hiredis.h>
#include <jansson.h>

#include "text.h"
#include "xmalloc.h"

size_t record_message_fields(const char *channel, size_t channel_len, const char *payload,
                             size_t payload_len, const char **argv, size_t *lens) {
    argv[0] = "c";
    lens[0] = 1;
    argv[1] = channel;
    lens[1] = channel_len;
    argv[2] = "p";
    lens[2] = 1;
    argv[3] = payload;
    lens[3] = payload_len;
    return 4;
}

size_t record_gap_fields(const char *reason, size_t reason_len, const char **argv, size_t *lens) {
    argv[0] = "gap";
    lens[0] = 3;
    argv[1] = reason;
    lens[1] = reason_len;
    return 2;
}

char *record_lease_key(const char *journal_key) {
    size_t n = strlen(journal_key);
    char *key = xmalloc(n + sizeof(":lease"));
    memcpy(key, journal_key, n);
    memcpy(key + n, ":lease", sizeof(":lease"));
    return key;
}

size_t record_trim_spec(const struct topic *t, char *buf, size_t cap) {
    int n = 0;
    if (t->journal_maxlen)
        n = snprintf(buf, cap, "MAXLEN %zu", t->journal_maxlen);
    else if (t->journal_max_age_ms)
        n = snprintf(buf, cap, "AGE %llu", t->journal_max_age_ms);
    else if (cap > 0)
        buf[0] = '\0';
    return n < 0 ? 0 : (size_t)n;
}

struct entry record_gap_entry(const struct topic *t, const char *reason) {
    struct entry e = {0};
    e.gap = true;
    e.in.channel = t->name;
    e.in.channel_len = t->name_len;
    e.in.payload = reason;
    e.in.payload_len = strlen(reason);
    return e;
}

bool record_is_start_marker(const struct entry *e) {
    static const char started[] = RECORD_GAP_STARTED;
    return e->gap && e->in.payload_len == sizeof(started) - 1 &&
           memcmp(e->in.payload, started, sizeof(started) - 1) == 0;
}

int record_parse_entry(const redisReply *item, struct entry *e, const char **fields, size_t *lens,
                       size_t max_pairs) {
    memset(e, 0, sizeof(*e));
    if (item->type != REDIS_REPLY_ARRAY || item->elements != 2 ||
        item->element[0]->type != REDIS_REPLY_STRING || item->element[1]->type != REDIS_REPLY_ARRAY)
        return -1;
    if (stream_id_parse(item->element[0]->str, item->element[0]->len, &e->id) != 0)
        return -1;
    e->has_id = true;
    const redisReply *kv = item->element[1];
    size_t pairs = kv->elements / 2;
    for (size_t i = 0; i < pairs * 2; i++) {
        if (kv->element[i]->type != REDIS_REPLY_STRING)
            return -1;
    }
    if (pairs > max_pairs) {
        /* More fields than the caller's arrays: every one counts (a "data" field may come
         * last), so the entry gets arrays of its own, freed by record_entry_clear. */
        e->owned_fields = xmalloc(pairs * 2 * (sizeof(*fields) + sizeof(*lens)));
        fields = e->owned_fields;
        lens = (size_t *)(fields + pairs * 2);
    }
    for (size_t i = 0; i < pairs * 2; i++) {
        fields[i] = kv->element[i]->str;
        lens[i] = kv->element[i]->len;
    }
    e->in.fields = fields;
    e->in.field_lens = lens;
    e->in.nfields = pairs;
    return 0;
}

static const char *field_value(const struct entry *e, const char *name, size_t *len) {
    for (size_t i = 0; i < e->in.nfields; i++) {
        if (e->in.field_lens[2 * i] == strlen(name) &&
            memcmp(e->in.fields[2 * i], name, e->in.field_lens[2 * i]) == 0) {
            *len = e->in.field_lens[2 * i + 1];
            return e->in.fields[2 * i + 1];
        }
    }
    return NULL;
}

/* s as JSON text: itself when it is UTF-8 (and, for a name, holds no NUL), else its base64
 * (marking e). *len is the length of what is returned, which the caller frees. */
static char *text_or_base64(const char *s, size_t *len, bool name, struct entry *e) {
    size_t n = *len;
    if (text_utf8_valid(s, n) && !(name && memchr(s, '\0', n) != NULL)) {
        char *copy = xmalloc(n + 1); /* a value may hold NUL: copied whole */
        if (n > 0)                   /* fields are hiredis reply strings: never NULL */
            memcpy(copy, s, n);      // NOLINT(clang-analyzer-core.NonNullParamChecker)
        copy[n] = '\0';
        return copy;
    }
    e->binary_fields = true;
    char *b64 = xmalloc(text_base64_len(n) + 1);
    *len = text_base64_encode(s, n, b64);
    b64[*len] = '\0';
    return b64;
}

void record_entry_from_fields(const struct topic *t, struct entry *e) {
    size_t len;
    const char *v;
    if (t->kind != TOPIC_STREAM) {
        if ((v = field_value(e, "gap", &len)) != NULL) {
            e->gap = true;
            e->in.payload = v;
            e->in.payload_len = len;
        } else {
            e->in.payload = field_value(e, "p", &e->in.payload_len);
        }
        e->in.channel = field_value(e, "c", &e->in.channel_len);
        if (e->in.channel == NULL) {
            e->in.channel = t->name;
            e->in.channel_len = t->name_len;
        }
        if (e->in.payload == NULL) {
            e->in.payload = "";
            e->in.payload_len = 0;
        }
        return;
    }
    e->in.channel = t->name;
    e->in.channel_len = t->name_len;
    if ((v = field_value(e, "data", &len)) != NULL) {
        e->in.payload = v;
        e->in.payload_len = len;
        return;
    }
    /* No "data" field: the whole entry, as a JSON object, is the payload. JSON holds text:
     * a name or value that is not UTF-8 goes in as its base64, and the entry is marked so
     * that routes with binary = reject drop it. */
    json_t *obj = json_object();
    for (size_t i = 0; i < e->in.nfields; i++) {
        size_t name_len = e->in.field_lens[2 * i], value_len = e->in.field_lens[2 * i + 1];
        char *name = text_or_base64(e->in.fields[2 * i], &name_len, true, e);
        char *value = text_or_base64(e->in.fields[2 * i + 1], &value_len, false, e);
        json_object_set_new(obj, name, json_stringn(value, value_len));
        free(name);
        free(value);
    }
    e->owned = json_dumps(obj, JSON_COMPACT);
    json_decref(obj);
    e->in.payload = e->owned ? e->owned : "";
    e->in.payload_len = e->owned ? strlen(e->owned) : 0;
}

void record_entry_clear(struct entry *e) {
    free(e->owned);
    free(e->owned_fields);
    e->owned = NULL;
    e->owned_fields = NULL;
}

bool record_last_id(const redisReply *reply, struct stream_id *id) {
    *id = (struct stream_id){0, 0};
    if (reply == NULL || reply->type != REDIS_REPLY_ARRAY)
        return false;
    if (reply->elements == 1 && reply->element[0]->type == REDIS_REPLY_ARRAY &&
        reply->element[0]->elements == 2 &&
        reply->element[0]->element[0]->type == REDIS_REPLY_STRING)
        stream_id_parse(reply->element[0]->element[0]->str, reply->element[0]->element[0]->len, id);
    return true;
}

/* A field of an XINFO STREAM reply (a flat list of names and values) holding an id. */
static bool info_id(const redisReply *reply, const char *name, struct stream_id *out) {
    for (size_t i = 0; i + 1 < reply->elements; i += 2) {
        const redisReply *k = reply->element[i], *v = reply->element[i + 1];
        if (k->type == REDIS_REPLY_STRING && strcmp(k->str, name) == 0)
            return v->type == REDIS_REPLY_STRING && stream_id_parse(v->str, v->len, out) == 0;
    }
    return false;
}

static long long info_int(const redisReply *reply, const char *name) {
    for (size_t i = 0; i + 1 < reply->elements; i += 2) {
        const redisReply *k = reply->element[i], *v = reply->element[i + 1];
        if (k->type == REDIS_REPLY_STRING && strcmp(k->str, name) == 0)
            return v->type == REDIS_REPLY_INTEGER ? v->integer : -1;
    }
    return -1;
}

/* Whether entries after `from` were trimmed or deleted. Redis 7 counts what was ever added:
 * when that is more than what is left, the oldest entries went, and a client whose position
 * is older than the first one left may have missed some. (When it had seen exactly up to the
 * last trimmed entry, this says "truncated" needlessly: the safe side.) */
static bool truncated_after(const redisReply *info, struct stream_id from) {
    struct stream_id deleted = {0, 0}, first = {0, 0};
    if (info_id(info, "max-deleted-entry-id", &deleted) && stream_id_cmp(from, deleted) < 0)
        return true;
    long long added = info_int(info, "entries-added"), length = info_int(info, "length");
    if (!info_id(info, "recorded-first-entry-id", &first))
        return false;
    return added > length && stream_id_cmp(from, first) < 0;
}

enum record_position record_position(const redisReply *info, struct stream_id from,
                                     struct stream_id *last) {
    *last = (struct stream_id){0, 0};
    info_id(info, "last-generated-id", last);
    if (stream_id_cmp(from, *last) > 0)
        return RECORD_POSITION_FUTURE;
    return truncated_after(info, from) ? RECORD_POSITION_TRUNCATED : RECORD_POSITION_OK;
}
