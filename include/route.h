/* Route matching and templates. A template is text with {name} placeholders: a path template
 * ("/events/orders/{customer}") matches a request path segment by segment; a channel template
 * ("orders.{customer}") is filled from the matched parameters; a topic template ("orders.{id}")
 * says which ?topic= values a multi-topic route accepts.
 *
 * Safety invariant: every parameter value and every topic a client names is checked with
 * route_name_valid, so it holds only [A-Za-z0-9_.:-], never "..", and is at most
 * PARAM_MAX_LEN bytes: no glob character (* ? [ ] \ ^) reaches a PSUBSCRIBE, no MQTT wildcard
 * (+ #) or level separator reaches a topic filter. A client cannot widen its subscription. */
#ifndef ROUTE_H
#define ROUTE_H

#include <stdbool.h>
#include <stddef.h>

#include "defaults.h"

#define ROUTE_MAX_PARAMS 8

struct route_params {
    size_t n;
    struct {
        char name[32];
        char value[PARAM_MAX_LEN + 1];
    } p[ROUTE_MAX_PARAMS];
};

bool route_name_valid(const char *s, size_t n);

/* Checks a template's syntax: balanced braces, names of [A-Za-z0-9_] up to 31 bytes, at most
 * ROUTE_MAX_PARAMS of them. Returns NULL, or a static explanation. */
const char *route_template_check(const char *tmpl);
/* Checks a path template beyond route_template_check: each placeholder is a whole segment
 * and no name appears twice. Returns NULL, or a static explanation. */
const char *route_path_check(const char *path);
/* Whether every {name} of tmpl is one of path_tmpl's parameters. */
bool route_template_params_in(const char *tmpl, const char *path_tmpl);
bool route_template_has_params(const char *tmpl);

enum route_match_result { ROUTE_NO_MATCH = 0, ROUTE_MATCH = 1, ROUTE_BAD_PARAM = -1 };

/* Matches a decoded request path (no query) against a path template. ROUTE_BAD_PARAM: the
 * shape matched but a parameter value is not a valid name (the caller answers 400). */
enum route_match_result route_match(const char *tmpl, const char *path, struct route_params *out);

/* Checks the query part of a path template ("appId={appId}&page={page}", after the '?'):
 * key={name} pairs, each value a whole placeholder, no name used twice or also in the path,
 * no key the bridge reads itself (topic, access_token, lastEventId...). NULL, or why not. */
const char *route_query_check(const char *query, const char *path);
/* Adds the parameters a checked query template names to out, reading each key's decoded value
 * with get(arg, key). ROUTE_MATCH; ROUTE_NO_MATCH with the first key that is absent or empty in
 * missing (cap bytes); ROUTE_BAD_PARAM when a value is not a valid name. */
enum route_match_result route_match_query(const char *query,
                                          const char *(*get)(void *arg, const char *key), void *arg,
                                          struct route_params *out, char *missing, size_t cap);

/* Fills tmpl's placeholders from params into out (cap bytes with the NUL). Returns the length,
 * or -1 when a parameter is unknown or the result does not fit. */
int route_expand(const char *tmpl, const struct route_params *params, char *out, size_t cap);

/* Whether a topic a client asked for fits a topic template: placeholders that name a matched
 * path parameter must equal it, the others stand for any valid name. */
bool route_topic_allowed(const char *tmpl, const struct route_params *params, const char *topic);

/* The same for an MQTT topic a client names: levels split at '/', each a valid name (no
 * wildcard can appear), and a placeholder stands for exactly one level. */
bool route_mqtt_topic_allowed(const char *tmpl, const struct route_params *params,
                              const char *topic);

/* Checks an mqtt_topic template's filter syntax: + and # only as whole levels, # last.
 * Returns NULL, or a static explanation. */
const char *route_mqtt_filter_check(const char *tmpl);

#endif
