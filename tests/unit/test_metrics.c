/* metrics: the exposition text with every counter and gauge at its largest fits in
 * METRICS_TEXT_MAX (the renderer drops whole rows that do not fit, silently: the buffer /metrics
 * uses must hold them all), every row has its HELP and TYPE lines, and the gauges of absent
 * parts (no journal, no MQTT) are left out. */
#include "metrics.h"

#include <string.h>

#include "check.h"

static size_t count(const char *s, const char *what) {
    size_t n = 0;
    for (const char *p = s; (p = strstr(p, what)) != NULL; p += strlen(what))
        n++;
    return n;
}

int main(void) {
    struct metrics m;
    memset(&m, 0xff, sizeof(m)); /* every counter at ULLONG_MAX: the longest numbers */
    struct metrics_gauges g = {(size_t)-1, (size_t)-1, (size_t)-1, 1, 1, 1, 0};
    static char text[METRICS_TEXT_MAX];
    size_t n = metrics_render(&m, &g, text, sizeof(text));
    CHECK(n < sizeof(text) - 1);
    CHECK_INT(strlen(text), n);
    size_t rows = count(text, "# TYPE ");
    CHECK_INT(count(text, "# HELP "), rows);
    CHECK_INT(count(text, "\nsse_bridge_") + (strncmp(text, "sse_bridge_", 11) == 0), rows);
    /* The last row rendered is the last row there is: nothing was dropped. */
    CHECK(strstr(text, "sse_bridge_connections_refused_total 18446744073709551615\n") != NULL);
    CHECK(strstr(text, "sse_bridge_auth_backend_failed_total ") != NULL);
    CHECK(strstr(text, "sse_bridge_mqtt_up 1\n") != NULL);
    struct metrics_gauges none = {0, 0, 0, 0, -1, -1, 0};
    n = metrics_render(&m, &none, text, sizeof(text));
    CHECK_INT(count(text, "# TYPE "), rows - 2);
    CHECK(strstr(text, "mqtt_up") == NULL && strstr(text, "journal_degraded ") == NULL);
    /* workers = N: every metric once, a sample per live worker labelled with its number, the
     * answering one named, and all of it within N times the one-process bound. */
    enum { W = 64 };
    static struct metrics_slot board[W];
    static char all[W * METRICS_TEXT_MAX];
    for (int w = 0; w < W; w++) {
        board[w].m = m;
        board[w].g = g;
        board[w].g.worker = w + 1;
        board[w].alive = w != 5; /* restarting: no figures yet */
    }
    n = metrics_render_workers(board, W, 7, all, sizeof(all));
    CHECK(n < sizeof(all) - 1);
    CHECK_INT(count(all, "# TYPE "), rows + 1);
    CHECK_INT(count(all, "sse_bridge_clients_total{worker=\""), W - 1);
    CHECK(strstr(all, "sse_bridge_clients_total{worker=\"6\"}") == NULL);
    CHECK(
        strstr(all, "sse_bridge_connections_refused_total{worker=\"64\"} 18446744073709551615\n") !=
        NULL);
    CHECK(strstr(all, "\nsse_bridge_worker_answering{worker=\"7\"} 1\n") != NULL);
    CHECK(strstr(all, "\nsse_bridge_clients_total ") == NULL); /* every sample labelled */
    printf("metrics: %d checks, %d failed\n", check_count, check_failures);
    return check_failures != 0;
}
