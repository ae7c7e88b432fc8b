/* sweep.h - the daemon's housekeeping, run on the loop every sweep_seconds
 * (serve.c starts the timer): finished jobs past their owner's
 * job_retention are deleted as DELETE /v1/jobs/{id} does (files, row; open
 * streams end), idempotency keys older than 24 h go, datasets that no
 * reference and no queued or running job needs are removed, and the users
 * are read again from the registry (so `mcmcd user set` and `user rm` made
 * while the daemon runs take effect without a request). */
#ifndef MCMCD_SWEEP_H
#define MCMCD_SWEEP_H

#include <stdint.h>

typedef struct app app;
typedef struct job job;

/* What one sweep deleted. */
typedef struct sweep_counts {
    unsigned jobs, keys, datasets;
} sweep_counts;

/* One sweep at now_ms; logs one line to stderr when it deleted anything. */
sweep_counts sweep_run(app *a, int64_t now_ms);

/* When the sweep deletes the job (unix ms): finished plus its owner's
 * job_retention; 0 while it is queued or running, or when its owner's
 * jobs are kept for ever. */
int64_t job_expires_ms(job *j);

#endif
