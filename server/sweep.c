/* sweep.c - the periodic housekeeping of sweep.h: expired jobs, old
 * idempotency keys, unneeded datasets, and the users' table. */
#include "sweep.h"

#include <stdio.h>
#include <stdlib.h>

#include "app.h"
#include "dataset_store.h"
#include "idempotency.h"

int64_t job_expires_ms(job *j) {
    if (!job_is_final(j) || j->finished_ms <= 0) return 0;
    app_user *u = app_user_get(j->app, j->owner);
    uint64_t keep_s = u ? u->limits.v[LIMIT_JOB_RETENTION] : 0;
    return keep_s ? j->finished_ms + (int64_t)keep_s * 1000 : 0;
}

/* Deletes the finished jobs whose time has come; returns how many. */
static unsigned expire_jobs(app *a, int64_t now_ms) {
    job **due = a->njobs ? malloc(a->njobs * sizeof *due) : NULL;
    size_t n = 0;
    for (size_t i = 0; due && i < a->njobs; i++) {
        int64_t at = job_expires_ms(a->jobs[i]);
        if (at > 0 && at <= now_ms) due[n++] = a->jobs[i];
    }
    unsigned deleted = 0;
    for (size_t i = 0; i < n; i++) {
        char id[JOB_ID_LEN + 1];
        snprintf(id, sizeof id, "%s", due[i]->id); /* jobs_delete may free it */
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
    log_counts(&n);
    return n;
}
