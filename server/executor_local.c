/* executor_local.c - the local executor: each chain of a job runs on one
 * worker of the daemon's thread pool (at most `workers` at once), writes
 * its draws and statistics straight into the job's files (pwrite at their
 * final offset) and queues a small report for the loop under reports_lock,
 * once per block (with the chain's adaptation, once, when its warmup
 * ends). Also the table of executors. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "errors.h"
#include "executor.h"
#include "job_kinds.h"
#include "thread_sched.h"

static const executor_ops *const executor_table[] = {&executor_local, &executor_slurm};

const executor_ops *executor_find(const char *name) {
    for (size_t i = 0; i < sizeof executor_table / sizeof executor_table[0]; i++)
        if (!strcmp(executor_table[i]->name, name)) return executor_table[i];
    return NULL;
}

typedef struct chain_task {
    app_work work;
    job *job;
    uint32_t chain;
    int rc;
    int adapt_reported; /* the chain's adaptation went to the loop */
    int write_errno;    /* a write of the files failed so */
    int nonfinite;      /* a block said where the chain went non-finite */
    uint64_t nonfinite_at;
} chain_task;

/* Worker thread: the block's draws and statistics go to their place in
 * the files, and a report goes to the loop. Returns nonzero (stop) if a
 * write failed. */
static int on_block(void *ctx, const chain_block *b) {
    chain_task *t = ctx;
    job *j = t->job;
    if (job_write_rows(j, j->draws_fd, b->chain, b->first_draw, b->count, b->draws, b->d) != 0 ||
        (b->nstats && j->stats_fd >= 0 &&
         job_write_rows(j, j->stats_fd, b->chain, b->first_draw, b->count, b->stats, b->nstats) !=
             0)) {
        t->write_errno = errno ? errno : EIO; /* the block is not reported: not kept */
        return 1;
    }
    if (b->nonfinite_at != UINT64_MAX && !t->nonfinite) {
        t->nonfinite = 1;
        t->nonfinite_at = b->nonfinite_at;
    }
    chain_report *r = malloc(sizeof *r);
    if (!r) return 0; /* progress is advisory; the draws are on disk */
    *r = (chain_report){.job = j,
                        .chain = b->chain,
                        .counts = executor_block_counts(b, t->nonfinite, t->nonfinite_at)};
    if (b->adapted && !t->adapt_reported && chain_adaptation_from_block(&r->adapt, b) == MCMC_OK)
        t->adapt_reported = 1;
    app *a = j->app;
    pthread_mutex_lock(&a->reports_lock);
    if (a->reports_tail)
        a->reports_tail->next = r;
    else
        a->reports_head = r;
    a->reports_tail = r;
    pthread_mutex_unlock(&a->reports_lock);
    wakeup_send(&a->reports_wakeup);
    return 0;
}

/* The pool thread runs its chain with a lower claim on the CPU than the
 * loop's (thread_sched.h: chain_nice, or the idle class with chain_sched =
 * idle). */
static void chain_sched_enter(const app *a, sched_saved *saved) {
    sched_chain_enter(!strcmp(a->cfg.chain_sched, "idle"), (int)a->cfg.chain_nice, saved);
}

/* A kind that keeps no draws runs whole on chain 0's worker (job_kinds.h). */
static int kind_work(job *j, uint32_t chain) {
    char path[4600];
    job_file_path(j, JOB_RESULT_FILE, path, sizeof path);
    return chain == 0 ? job_kind_run(&j->spec, j->model, &j->cancel, path) : MCMC_OK;
}

static void chain_work(uv_work_t *req) {
    chain_task *t = req->data;
    job *j = t->job;
    sched_saved saved;
    chain_sched_enter(j->app, &saved);
    if (j->spec.kind != JOB_KIND_SAMPLE) {
        t->rc = kind_work(j, t->chain);
        sched_chain_leave(&saved);
        return;
    }
    t->rc = chain_run(j->model, &j->spec.chain, t->chain, on_block, t, &j->cancel);
    sched_chain_leave(&saved);
    if (t->write_errno) t->rc = MCMC_EIO; /* its block was not written: on_block stopped it */
    /* the chain's rows on disk before the loop hears that it ended, so the
     * job's end, recorded after its last chain's, follows its draws; here
     * and not on the loop, which a sync of large files would stall */
    if (fdatasync(j->draws_fd) != 0 || (j->stats_fd >= 0 && fdatasync(j->stats_fd) != 0)) {
        if (t->rc == MCMC_OK) t->rc = MCMC_EIO;
        if (!t->write_errno) t->write_errno = errno ? errno : EIO;
    }
}

static void chain_after(uv_work_t *req, int status) {
    chain_task *t = req->data;
    job *j = t->job;
    app *a = j->app;
    a->busy_workers--;
    jobs_drain_reports(a); /* this chain's last reports come before its end */
    int rc = status != 0 && t->rc == MCMC_OK ? MCMC_ECANCELLED : t->rc;
    uint32_t c = t->chain;
    int write_errno = t->write_errno;
    free(t);
    jobs_chain_ended(j, c, rc, write_errno, NULL);
}

/* Starts the job's next chain on a worker; a job whose chains have all
 * started leaves the queue. */
static void local_start(job *j) {
    app *a = j->app;
    uint32_t c = j->chains_started++;
    if (j->chains_started == j->chains) jobs_unqueue(j);
    j->user->running_chains++;
    chain_task *t = calloc(1, sizeof *t);
    if (!t) { /* counts as ended, failed */
        jobs_chain_ended(j, c, MCMC_ENOMEM, 0, NULL);
        return;
    }
    t->job = j;
    t->chain = c;
    a->busy_workers++;
    app_queue_work(a, &t->work, t, chain_work, chain_after);
}

static int local_open(app *a, char *err, size_t errlen) {
    (void)a, (void)err, (void)errlen;
    return 0;
}

static int local_has_room(const app *a) {
    return a->busy_workers < a->cfg.workers;
}

static void local_stop(job *j) {
    atomic_store(&j->cancel, 1); /* chains stop at their next block */
}

static void local_shutdown(app *a) {
    for (job *j = a->live.head; j; j = j->res_next)
        if (j->state == REGISTRY_JOB_RUNNING) atomic_store(&j->cancel, 1);
}

static void local_close(app *a) {
    (void)a;
}

const executor_ops executor_local = {.name = "local",
                                     .open = local_open,
                                     .has_room = local_has_room,
                                     .start = local_start,
                                     .stop = local_stop,
                                     .shutdown = local_shutdown,
                                     .close = local_close};
