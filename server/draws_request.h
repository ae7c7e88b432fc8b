/* draws_request.h - what GET /v1/jobs/{id}/draws asks for: its query
 * (format, chain, start, stop, thin, follow, stats, include_warmup,
 * divergent, params) and its Accept header, read and checked against the
 * job's shape. A pure function
 * of its strings, so the fuzz harness and the unit tests call it as the
 * daemon does.
 */
#ifndef MCMCD_DRAWS_REQUEST_H
#define MCMCD_DRAWS_REQUEST_H

#include <stddef.h>
#include <stdint.h>

#include "draw_reader.h"

/* A query parameter's value by name; NULL when absent. */
typedef const char *(*draws_query_get_fn)(void *ctx, const char *name);

/* What the checks need of the job. */
typedef struct draws_job_shape {
    uint32_t chains;
    uint64_t samples;     /* rows per chain in the files */
    uint64_t warmup_rows; /* of those, the saved warmup's, first */
    unsigned stats;       /* STAT_BIT mask of the statistics the job has */
    size_t d;             /* parameters per draw */
} draws_job_shape;

/* What a draws request asks for, checked. */
typedef struct draws_request {
    draw_selection sel;
    draw_output out; /* fmt, follow, with_stats, divergent, params; no comment blocks */
    int include_warmup;
    uint32_t *params;  /* owned: out.params, or NULL (release with draws_request_release) */
    const char *field; /* on a 400: the query parameter at fault (static), or NULL */
} draws_request;

/* ?format= (its value, or NULL) wins; then Accept (NULL: none); JSON by
 * default. A draw_format, or -1 for an unknown format name. */
int draws_format_from(const char *format, const char *accept);

/* Reads the request; NULL when it is valid (*q filled in), else the
 * message for a 400: a static string, or err (errlen bytes, at least
 * DRAW_SELECTION_ERROR_MAX; never NULL). follow=1 without format= picks
 * NDJSON; include_warmup=0 moves the start past the saved warmup rows,
 * keeping the thinning grid. divergent=1 keeps only divergent draws
 * (thin is then 1; npy and json need one chain); params=LIST keeps the
 * columns of LIST: comma-separated indices and ranges a-b (inclusive),
 * strictly increasing, each < d. Whatever the answer, q->field says which
 * parameter was at fault (or NULL), and draws_request_release frees what a
 * valid q holds. */
const char *draws_request_parse(draws_request *q, draws_query_get_fn get, void *ctx,
                                const char *accept, const draws_job_shape *job, char *err,
                                size_t errlen);
void draws_request_release(draws_request *q);

#endif
