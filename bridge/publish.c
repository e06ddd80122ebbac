#include "publish.h"

#include <stdlib.h>

#include <hiredis/async.h>
#include <hiredis/hiredis.h>

#include "log.h"
#include "xmalloc.h"

struct publish {
    struct bridge *b;
    struct redis_conn *conn;
};

static void on_ready(void *arg) {
    (void)arg;
}

static void on_lost(void *arg) {
    (void)arg;
}

static void on_reply(redisAsyncContext *ac, void *r, void *privdata) {
    struct publish *p = privdata;
    redisReply *reply = r;
    (void)ac;
    if (reply == NULL || reply->type == REDIS_REPLY_ERROR) {
        p->b->metrics.publish_failed++;
        log_warn("publish: PUBLISH failed: %s", reply ? reply->str : "connection lost");
    }
}

struct publish *publish_new(struct bridge *b) {
    struct publish *p = xcalloc(1, sizeof(*p));
    p->b = b;
    p->conn = redis_conn_new(b->redis_pool, "publish",
                             (struct redis_conn_handlers){on_ready, on_lost}, p);
    return p;
}

void publish_start(struct publish *p) {
    redis_conn_start(p->conn);
}

void publish_free(struct publish *p) {
    if (p == NULL)
        return;
    redis_conn_free(p->conn);
    free(p);
}

bool publish_up(const struct publish *p) {
    return p != NULL && redis_conn_up(p->conn);
}

int publish_send(struct publish *p, const char *channel, const char *payload, size_t len) {
    redisAsyncContext *ac = redis_conn_ctx(p->conn);
    if (ac == NULL)
        return -1;
    return redisAsyncCommand(ac, on_reply, p, "PUBLISH %s %b", channel, payload, len) == REDIS_OK
               ? 0
               : -1;
}
