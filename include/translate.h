/* Field translation: which parts of an upstream message become the SSE event name, id and
 * data. A route holds one rule per field, parsed from config strings such as "json:type",
 * "channel:2", "fixed:update" or "payload". Pure: the caller parses the JSON (once per
 * message, whatever the number of clients) and passes it in. */
#ifndef TRANSLATE_H
#define TRANSLATE_H

#include <stdbool.h>
#include <stddef.h>

#include <jansson.h>

#include "sse.h"

enum field_src {
    FIELD_NONE,     /* field left out */
    FIELD_PAYLOAD,  /* the whole payload (data only) */
    FIELD_FIXED,    /* a constant from config: "fixed:NAME" */
    FIELD_JSON,     /* a member of a JSON object payload: "json:KEY" or "json:a.b" */
    FIELD_CHANNEL,  /* the channel name: "channel", or its Nth segment: "channel:N" (1-based,
                       segments split at '.', ':' and '/') */
    FIELD_ENTRY,    /* a field of a Redis stream entry: "field:NAME" */
    FIELD_TOPIC,    /* an MQTT topic: "topic", or its Nth level: "topic:N" (split at '/' only) */
    FIELD_PROPERTY, /* an MQTT 5 user property: "property:NAME" (the first one of that name) */
};

struct field_rule {
    enum field_src src;
    char *arg;   /* FIXED value or JSON key path; owned by the rule */
    int segment; /* FIELD_CHANNEL, FIELD_TOPIC: 0 for the whole name */
};

struct translate_rules {
    struct field_rule event, id, data;
};

/* Parses a config value into a rule. `field` ("event", "id" or "data") limits what is
 * allowed: data cannot be fixed or absent, only data can be "payload". Returns 0, or -1 with
 * *err set to a static explanation. */
int field_rule_parse(const char *field, const char *spec, struct field_rule *out, const char **err);
void field_rule_clear(struct field_rule *r);
bool translate_needs_json(const struct translate_rules *r);
/* Whether any rule reads MQTT user properties (which a journal does not keep). */
bool translate_needs_props(const struct translate_rules *r);

struct translate_in {
    const char *channel;
    size_t channel_len;
    const char *payload;
    size_t payload_len;
    json_t *json; /* the payload parsed as a JSON object, or NULL (not JSON, not needed) */
    /* A stream entry's fields, name/value pairs (NULL for pub/sub messages). */
    const char *const *fields;
    const size_t *field_lens;
    size_t nfields; /* pairs */
    /* MQTT 5 user properties, name/value pairs (NULL elsewhere). */
    const char *const *props;
    const size_t *prop_lens;
    size_t nprops; /* pairs */
};

/* Result of one translation: fields pointing into the input, the rules, or `owned` strings
 * (JSON values serialized for the occasion). translate_out_clear frees those. */
struct translate_out {
    struct sse_fields f;
    char *owned[3];
};

void translate(const struct translate_rules *r, const struct translate_in *in,
               struct translate_out *out);

/* The shortest text that reads back as d, as JavaScript's Number#toString (and so
 * JSON.stringify) writes it: 22.2, 0.1, 1e+300, 1e-7, 100. `out` holds at least 32 bytes;
 * returns the length written (NUL-terminated). d is finite (JSON has no NaN or infinity). */
size_t translate_real_text(double d, char *out);
void translate_out_clear(struct translate_out *out);

#endif
