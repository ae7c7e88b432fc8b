/* job_kinds.h - running the job kinds that keep no draws ("tune" and
 * "mode", proto/job_spec.h) and keeping their result.
 *
 * Such a job runs whole on the worker of its chain 0 (its other chains'
 * workers return at once); its result is a JSON document in the job's dir
 * (result.json) that GET /v1/jobs/{id} shows as "result" and GET
 * /v1/jobs/{id}/result returns alone.
 */
#ifndef MCMCD_JOB_KINDS_H
#define MCMCD_JOB_KINDS_H

#include <jansson.h>
#include <stdatomic.h>

#include "job_spec.h"

#define JOB_RESULT_FILE "result.json"

/* Runs spec's kind on m from a worker thread, checking *cancel between
 * chains, and writes the result to result_path. Returns MCMC_OK,
 * MCMC_ECANCELLED, MCMC_ENOMEM or MCMC_EIO. */
int job_kind_run(const job_spec *spec, const model *m, atomic_int *cancel, const char *result_path);

/* The result of spec's kind on m (new reference), or NULL with *rc
 * MCMC_ECANCELLED, MCMC_ENOMEM or MCMC_EINVAL (kind "sample"). */
json_t *job_kind_result(const job_spec *spec, const model *m, atomic_int *cancel, int *rc);

/* The result of a tuning job: every setting's KSD, the best one, and the
 * table (new reference; NULL on ENOMEM or when cancelled). For callers
 * that run a grid themselves (tests, benchmarks). */
json_t *job_kind_tune(const job_spec *spec, const model *m, atomic_int *cancel);

#endif
