/* sweep.c - the periodic housekeeping of sweep.h: expired jobs, old
 * idempotency keys, unneeded datasets, the users' table, and the
 * registry's reserve of disk space. */
#include "sweep.h"

#include <stdio.h>
#include <stdlib.h>

#include "app.h"
#include "dataset_store.h"
#include "idempotency.h"

int64_t job_expires_ms(job *j) {
    int64_t finished = job_finished_ms(j);
    if (!job_is_final(j) || finished <= 0) return 0;
    app_user *u = app_user_get(job_app(j), job_owner(j));
    uint64_t keep_s = u ? u->limits.v[LIMIT_JOB_RETENTION] : 0;
    return keep_s ? finished + (int64_t)keep_s * 1000 : 0;
}

typedef struct due_jobs {
    job **due;
    size_t n;
    int64_t now_ms;
} due_jobs;

static int collect_due(job *j, void *ctx) {
    due_jobs *d = ctx;
    int64_t at = job_expires_ms(j);
    if (at > 0 && at <= d->now_ms) d->due[d->n++] = j;
    return 0;
}

/* Deletes the finished jobs whose time has come; returns how many. */
static unsigned expire_jobs(app *a, int64_t now_ms) {
    size_t njobs = jobs_count(a);
    due_jobs d = {njobs ? malloc(njobs * sizeof *d.due) : NULL, 0, now_ms};
    if (d.due) jobs_each(a, collect_due, &d);
    job **due = d.due;
    size_t n = d.n;
    unsigned deleted = 0;
    for (size_t i = 0; i < n; i++) {
        char id[JOB_ID_LEN + 1];
        snprintf(id, sizeof id, "%s", job_id(due[i])); /* jobs_delete may free it */
        int rc = jobs_delete(a, due[i]);
        if (rc == 0)
            deleted++;
        else
            fprintf(stderr, "mcmcd: sweep: job %s: cannot delete it: %s\n", id,
                    registry_status_str(rc));
    }
    free(due);
    return deleted;
}

typedef struct collect_ctx {
    app *a;
    unsigned removed;
} collect_ctx;

static int remove_payload(void *ctx, const char *id) {
    collect_ctx *k = ctx;
    dataset_store_remove(k->a->datasets_dir, id);
    k->removed++;
    return 0;
}

static void log_counts(const sweep_counts *n) {
    if (!n->jobs && !n->keys && !n->datasets) return;
    fprintf(stderr, "mcmcd: sweep: deleted %u expired job%s, %u idempotency key%s, %u dataset%s\n",
            n->jobs, n->jobs == 1 ? "" : "s", n->keys, n->keys == 1 ? "" : "s", n->datasets,
            n->datasets == 1 ? "" : "s");
}

sweep_counts sweep_run(app *a, int64_t now_ms) {
    sweep_counts n = {0};
    app_users_reload(a); /* retention and removals made by `mcmcd user` */
    n.jobs = expire_jobs(a, now_ms);
    int keys = idempotency_sweep(a->reg, now_ms);
    if (keys < 0)
        fprintf(stderr, "mcmcd: sweep: idempotency keys: %s\n", registry_last_error(a->reg));
    n.keys = keys > 0 ? (unsigned)keys : 0;
    collect_ctx k = {a, 0};
    if (registry_dataset_collect(a->reg, remove_payload, &k) != REGISTRY_OK)
        fprintf(stderr, "mcmcd: sweep: datasets: %s\n", registry_last_error(a->reg));
    n.datasets = k.removed;
    /* the registry's reserve, released on a full disk, comes back once
     * there is room again */
    registry_keep_reserve(a->reg);
    log_counts(&n);
    return n;
}
