/* libFuzzer driver for route matching: the checks that stand between a client's path or
 * ?topic= value and a Redis SUBSCRIBE. Byte 0 picks the function, the rest is "template\nsubject".
 * Templates are only those config accepts (route_template_check passes; a path template also
 * starts with '/' and holds no '?', '#', '%' or space), since no other reaches the matcher.
 *
 *   route_match: on ROUTE_MATCH every value passes route_name_valid, every name is one of the
 *   template's placeholders, and expanding the template with the values gives the path back
 *   (templates naming a placeholder twice are skipped: they cannot round-trip).
 *   route_topic_allowed: an allowed topic passes route_name_valid, and when the template has
 *   no free placeholder it is exactly the template expanded.
 *   route_mqtt_topic_allowed (byte 0 & 2): an allowed topic holds no + or #, each of its
 *   '/'-separated levels passes route_name_valid, and with every placeholder bound it is the
 *   template expanded; a template that route_mqtt_filter_check accepts holds + and # only as
 *   whole levels, # last.
 *
 * Any violation aborts; run with -timeout to catch inputs that make matching slow. */
#include "route.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define MAX_TEMPLATE 256
#define MAX_SUBJECT 1024

/* Whether some placeholder name appears twice in tmpl. */
static bool repeats_a_name(const char *tmpl) {
    for (const char *a = strchr(tmpl, '{'); a; a = strchr(a + 1, '{')) {
        size_t n = strcspn(a, "}") + 1;
        for (const char *b = strchr(a + 1, '{'); b; b = strchr(b + 1, '{')) {
            if (strncmp(a, b, n) == 0)
                return true;
        }
    }
    return false;
}

static void check_match(const char *tmpl, const char *path) {
    /* Only path templates that config accepts (route_path_check: placeholders are whole
     * segments, no name twice) ever reach route_match. */
    if (tmpl[0] != '/' || strpbrk(tmpl, "?#% ") != NULL || route_path_check(tmpl) != NULL)
        return;
    struct route_params p;
    if (route_match(tmpl, path, &p) != ROUTE_MATCH)
        return;
    if (p.n > ROUTE_MAX_PARAMS)
        abort();
    for (size_t i = 0; i < p.n; i++) {
        char placeholder[40];
        if (!route_name_valid(p.p[i].value, strlen(p.p[i].value)))
            abort();
        snprintf(placeholder, sizeof(placeholder), "{%s}", p.p[i].name);
        if (!route_template_params_in(placeholder, tmpl))
            abort();
    }
    if (repeats_a_name(tmpl))
        return;
    char back[MAX_SUBJECT + 1];
    if (route_expand(tmpl, &p, back, sizeof(back)) < 0 || strcmp(back, path) != 0)
        abort();
}

static void check_topic(const char *tmpl, const char *topic) {
    struct route_params p = {0};
    /* Bound values as a path match would leave them. */
    static const char *const names[] = {"a", "b", "customer"};
    static const char *const values[] = {"x", "y.z", "42"};
    for (size_t i = 0; i < 3; i++) {
        strcpy(p.p[i].name, names[i]);
        strcpy(p.p[i].value, values[i]);
    }
    p.n = 3;
    if (!route_topic_allowed(tmpl, &p, topic))
        return;
    if (!route_name_valid(topic, strlen(topic)))
        abort();
    char want[MAX_TEMPLATE * 8];
    if (route_expand(tmpl, &p, want, sizeof(want)) >= 0 && strcmp(want, topic) != 0)
        abort(); /* every placeholder was bound, yet the topic is not the expansion */
}

static void check_mqtt(const char *tmpl, const char *topic) {
    if (route_mqtt_filter_check(tmpl) == NULL) {
        for (const char *level = tmpl;;) {
            size_t len = strcspn(level, "/");
            bool wild = memchr(level, '+', len) || memchr(level, '#', len);
            if ((wild && len != 1) || (level[0] == '#' && level[len] != '\0'))
                abort();
            if (level[len] == '\0')
                break;
            level += len + 1;
        }
    }
    struct route_params p = {0};
    strcpy(p.p[0].name, "room");
    strcpy(p.p[0].value, "hall");
    p.n = 1;
    if (!route_mqtt_topic_allowed(tmpl, &p, topic))
        return;
    if (strpbrk(topic, "+#") != NULL)
        abort();
    for (const char *level = topic;;) {
        size_t len = strcspn(level, "/");
        if (!route_name_valid(level, len))
            abort();
        if (level[len] == '\0')
            break;
        level += len + 1;
    }
    char want[MAX_TEMPLATE * 8];
    if (route_expand(tmpl, &p, want, sizeof(want)) >= 0 && strcmp(want, topic) != 0)
        abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size < 2)
        return 0;
    const char *in = (const char *)data + 1;
    size_t rest = size - 1;
    const char *nl = memchr(in, '\n', rest);
    if (nl == NULL)
        return 0;
    size_t tl = (size_t)(nl - in), sl = rest - tl - 1;
    if (tl > MAX_TEMPLATE || sl > MAX_SUBJECT)
        return 0;
    char tmpl[MAX_TEMPLATE + 1], subject[MAX_SUBJECT + 1];
    memcpy(tmpl, in, tl);
    tmpl[tl] = '\0';
    memcpy(subject, nl + 1, sl);
    subject[sl] = '\0';
    if (route_template_check(tmpl) != NULL)
        return 0;
    if (data[0] & 2)
        check_mqtt(tmpl, subject);
    else if (data[0] & 1)
        check_topic(tmpl, subject);
    else
        check_match(tmpl, subject);
    return 0;
}
