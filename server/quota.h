/* quota.h - the per-user limits (user_limits.h) where requests meet them:
 * the checks of POST /v1/jobs and POST /v1/datasets, the one answer over a
 * limit, and the wall-time check of running jobs. running_chains is not
 * checked here: schedule() in jobs.c holds a user's jobs in the queue. */
#ifndef MCMCD_QUOTA_H
#define MCMCD_QUOTA_H

#include <stddef.h>
#include <stdint.h>

#include "app.h"

/* A limit a request would pass. */
typedef struct quota_over {
    limit_id limit;
    uint64_t value, usage, requested;
} quota_over;

/* Whether a new job of the user (spec s, d parameters) passes one of their
 * limits, in this order: draw_values_per_job, stored_bytes (the job's
 * draws at their full size), queued_jobs. 0 when it fits, else 1 with
 * *over filled. */
int quota_check_job(app *a, int64_t user, const job_spec *s, size_t d, quota_over *over);
/* Whether the user's reference to the stored dataset id (bytes long) would
 * pass stored_bytes: a dataset they reference already costs nothing. 0 or
 * 1 with *over filled. */
int quota_check_upload(app *a, int64_t user, const char *id, uint64_t bytes, quota_over *over);
/* The answer: 413 (draw_values_per_job), 507 (stored_bytes) or 429 with
 * Retry-After (queued_jobs), {"error": {"code": "quota_exceeded",
 * "message", "limit": {"name", "value", "usage", "requested"}}}. */
void quota_respond(http_request *req, const quota_over *over);

/* About once a second, a running job past its owner's job_seconds is
 * stopped (jobs_stop_time_limit). Started with the loop; the handle
 * closes with the others at shutdown. */
void quota_timer_start(app *a);

#endif
