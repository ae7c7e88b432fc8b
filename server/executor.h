/* executor.h - where a job's chains run. jobs.c decides which job runs next
 * (fair share, quotas, memory) and prepares it; an executor then starts its
 * chains, hands their blocks (progress and draws) back to jobs.c, stops
 * them on a cancel, and after a restart finds chains that went on running
 * without the daemon. Two back ends:
 *
 *   local  (executor_local.c)  the daemon's own thread pool, one worker a chain
 *   slurm  (executor_slurm.c)  one Slurm job array a job, one task a chain,
 *                              each running `mcmcd run --chain` on a node
 *
 * A back end is one file and one line in executor_table (executor_local.c).
 * Everything an executor does runs on the loop thread, except what it hands
 * to the thread pool itself. What it reports goes through the jobs_chain_*
 * calls below, so the rest of the daemon cannot tell the back ends apart. */
#ifndef MCMCD_EXECUTOR_H
#define MCMCD_EXECUTOR_H

#include "api_util.h"
#include "app.h"

typedef struct executor_ops {
    const char *name;
    /* Sets up what the back end needs (timers, checks of the config);
     * 0, or -1 with why in err. */
    int (*open)(app *a, char *err, size_t errlen);
    /* Whether it can take one more chain now (local: a free worker; slurm:
     * always, as Slurm queues what does not fit). */
    int (*has_room)(const app *a);
    /* Starts the next chains of a prepared job (local: one; slurm: all, as
     * one array, or re-attaches to the array a previous run of the daemon
     * left queued or running). Counts them in j->user->running_chains and
     * j->chains_started, and takes the job off the queue once all started. */
    void (*start)(job *j);
    /* A cancel or a time limit: chains stop soon (their ends still come
     * through jobs_chain_ended). */
    void (*stop)(job *j);
    /* The daemon is stopping: local chains stop at their next block (the
     * job runs again after the restart); Slurm tasks go on running. */
    void (*shutdown)(app *a);
    void (*close)(app *a); /* frees what open made, after the loop ended */
} executor_ops;

/* The back end named so, or NULL. */
const executor_ops *executor_find(const char *name);
/* "local|slurm", for the config key's choices. */
#define EXECUTOR_NAMES "local|slurm"

extern const executor_ops executor_local;
extern const executor_ops executor_slurm;

/* A chain's counters as of block b, the chain having gone non-finite at
 * kept draw nonfinite_at when nonfinite: what a local worker reports to the
 * loop and what a Slurm task posts. */
static inline chain_counts executor_block_counts(const chain_block *b, int nonfinite,
                                                 uint64_t nonfinite_at) {
    return (chain_counts){.iter = b->iter,
                          .accepted = b->accepted,
                          .draws = b->first_draw + b->count,
                          .grad_evals = b->grad_evals,
                          .elapsed = b->elapsed,
                          .divergent = b->divergent,
                          .warmup_elapsed = b->warmup_elapsed,
                          .step_size = b->step_size,
                          .warmup = b->warmup,
                          .nonfinite = nonfinite,
                          .nonfinite_at = nonfinite ? nonfinite_at : UINT64_MAX};
}

/* --- what executors call in jobs.c (loop thread) -------------------------- */

/* Chain c has reached k (the last block it reported); adapt, when known,
 * is taken (the chain's warmup has ended). Adds a progress event. */
void jobs_chain_progress(job *j, uint32_t c, const chain_counts *k, chain_adaptation *adapt);
/* Chain c has ended with rc (an MCMC_* code); write_errno is the errno of a
 * failed write of its draws, why (NULL: none) the reason it failed when
 * the code alone does not say (Slurm's). The job ends after its last. */
void jobs_chain_ended(job *j, uint32_t c, int rc, int write_errno, const char *why);
/* The job's chains run elsewhere: its model and dataset go, and the
 * memory they held leaves the memory budget. */
void jobs_model_done(job *j);
/* Takes the job off the queue (all its chains have started). */
void jobs_unqueue(job *j);
/* Fills free room with the next chains (fair share). */
void jobs_schedule(app *a);
/* Writes count rows of `width` values of chain c from row first at their
 * place in the body open at fd (the job's draws or statistics file); 0, or
 * -1 with errno. Any thread. */
int job_write_rows(const job *j, int fd, uint32_t c, uint64_t first, uint32_t count,
                   const double *rows, size_t width);

/* executor_slurm.c: POST /v1/jobs/{id}/blocks, a task's block (api.c's
 * table routes it; the caller is the task, with the job's secret). */
void executor_slurm_post_block(api_call *c);

/* executor_slurm.c: what a spec's "slurm" object asks, against the
 * admin's limits (slurm_max_*, slurm_partitions); nothing under another
 * executor, where it changes nothing. */
void executor_slurm_check_spec(const app *a, const job_spec *s, spec_errors *errs);

/* executor_task.c: `mcmcd run --chain N --shared DIR`, one chain of a job
 * as a Slurm task runs it: its rows and progress into DIR, its blocks
 * posted to --post URL. Returns the exit status. */
int executor_task_run(const job_spec *spec, const model *m, uint32_t chain, const char *shared_dir,
                      const char *post_url, int quiet);

#endif
