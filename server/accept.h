/* accept.h - content negotiation: which of the media types a route can
 * send an Accept header prefers, q-values included (accept.c). Event
 * streams (SSE or NDJSON) and draws (npy, CSV, CmdStan CSV, NDJSON, JSON)
 * both choose through it. */
#ifndef MCMCD_ACCEPT_H
#define MCMCD_ACCEPT_H

#include <stddef.h>

/* The q-value, in thousandths (0..1000), that the Accept header gives the
 * media type offered: "type/sub", or "type/sub;name=value" to count only
 * elements that carry that parameter. Type and parameter compare
 * case-insensitively; the highest q of the elements that name it wins; 0
 * when none does (wildcards are not matched) or accept is NULL. */
int accept_q(const char *accept, const char *offered);

/* Of n media types offered, most preferred first, the index of the one the
 * Accept header gives the highest nonzero q (the earlier on a tie); -1 when
 * it names none of them. */
int accept_choose(const char *accept, const char *const *offered, size_t n);

#endif
