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

#define EXPIRE_BATCH 1000 /* per user and sweep; the rest go at the next */

typedef struct expiring {
    app *a;
    int64_t now_ms;
    unsigned deleted;
} expiring;

static int expire_one(void *ctx, const char *id) {
    expiring *e = ctx;
    job *j = jobs_find(e->a, id);
    int64_t at = j ? job_expires_ms(j) : 0;
    if (at <= 0 || at > e->now_ms) return 0;
    int rc = jobs_delete(e->a, j);
    if (rc == 0)
        e->deleted++;
    else
        fprintf(stderr, "mcmcd: sweep: job %s: cannot delete it: %s\n", id,
                registry_status_str(rc));
    return 0;
}

/* Deletes the finished jobs whose time has come, each owner's from the
 * registry (ended jobs are not all in memory); returns how many. */
static unsigned expire_jobs(app *a, int64_t now_ms) {
    expiring e = {a, now_ms, 0};
    for (size_t i = 0; i < a->nusers; i++) {
        const app_user *u = a->users[i];
        uint64_t keep_s = u->limits.v[LIMIT_JOB_RETENTION];
        if (keep_s && registry_jobs_ended_before(a->reg, u->id, now_ms - (int64_t)keep_s * 1000,
                                                 EXPIRE_BATCH, expire_one, &e) != REGISTRY_OK)
            fprintf(stderr, "mcmcd: sweep: jobs: %s\n", registry_last_error(a->reg));
    }
    return e.deleted;
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
