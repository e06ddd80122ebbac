/* The Redis streams source: stream routes read the streams that backends XADD to, with one
 * XREAD BLOCK over every wanted stream on a connection of its own. Each stream topic keeps its
 * cursor (the last entry id read), so when the connection drops and comes back, reading
 * resumes where it stopped and no entry added meanwhile is lost. A new stream starts at its
 * current end (XREVRANGE COUNT 1 on the journal's reader connection); when the set of
 * streams changes, the blocked XREAD is interrupted with CLIENT UNBLOCK and sent again. */
#ifndef SOURCE_STREAM_H
#define SOURCE_STREAM_H

#include <stdbool.h>

#include "context.h"
#include "source.h"
#include "redis_conn.h"

struct source *source_stream_new(struct bridge *b);

#endif
