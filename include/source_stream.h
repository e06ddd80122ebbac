/* The Redis streams source: stream routes read the streams that backends XADD to, with one
 * XREAD BLOCK over every wanted stream on a connection of its own. Each stream topic keeps its
 * cursor (the last entry id read), so when the connection drops and comes back, reading
 * resumes where it stopped and no entry added meanwhile is lost. A new stream starts at its
 * current end (XREVRANGE COUNT 1 on the journal's reader connection); when the set of
 * streams changes, the blocked XREAD is interrupted with CLIENT UNBLOCK and sent again. */
#ifndef SOURCE_STREAM_H
#define SOURCE_STREAM_H

#include <stdbool.h>

#include "bridge.h"
#include "redis_conn.h"

struct source_stream *source_stream_new(struct bridge *b);
void source_stream_start(struct source_stream *s);
void source_stream_free(struct source_stream *s);
bool source_stream_up(const struct source_stream *s);
/* Brings reading in line with the hub for one stream topic (may hub_remove it). */
void source_stream_sync(struct source_stream *s, struct topic *t);

#endif
