/* metrics.h - what GET /metrics (metrics.c) counts as it happens: each
 * answer's route, method, status and latency (an http_done_fn that
 * serve.c registers), and each job's run time as it ends (serve.c points
 * app->on_job_finished here for jobs.c). The counts live in metrics.c for
 * the process: one daemon per process. */
#ifndef MCMCD_METRICS_H
#define MCMCD_METRICS_H

#include "app.h"

/* The route label is the request's (http_request_set_label: api.c sets the
 * route's pattern), "unmatched" where none was set. */
void metrics_http_done(void *ctx, http_request *req, unsigned status, double seconds);
/* Starts the timer that measures draws and gradient evaluations per second
 * over each heartbeat period (heartbeat_seconds). */
void metrics_start(app *a);
/* A job reached its final state st; one that never started (started_ms 0)
 * is not timed. app->on_job_finished. */
void metrics_job_finished(registry_job_state st, int64_t started_ms, int64_t finished_ms);

#endif
