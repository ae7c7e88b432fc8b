/* quota.c - the per-user limits at submit and upload, the one answer over
 * a limit, and the wall-time timer (quota.h). The usage it reads is kept
 * by jobs.c (app_user) and the registry (dataset references). */
#include "quota.h"

#include <stdio.h>
#include <string.h>

#include "clock.h"

#define QUOTA_TICK_MS 1000
#define QUEUED_RETRY_AFTER "10" /* seconds; a job's end frees a place */

/* Fills *over when used + more passes the user's limit id; 1 if so. */
static int over_limit(const app_user *u, limit_id id, uint64_t used, uint64_t more,
                      quota_over *over) {
    uint64_t v = u->limits.v[id];
    if (!limit_exceeded(v, used, more)) return 0;
    *over = (quota_over){.limit = id, .value = v, .usage = used, .requested = more};
    return 1;
}

/* The stored-bytes limit: the user's datasets are summed in the registry
 * only when the user has that limit (a read per submission otherwise). */
static int over_stored_bytes(app *a, app_user *u, uint64_t more, quota_over *over) {
    if (!u->limits.v[LIMIT_STORED_BYTES]) return 0;
    return over_limit(u, LIMIT_STORED_BYTES, app_user_stored_bytes(a, u), more, over);
}

int quota_check_job(app *a, int64_t user, const job_spec *s, size_t d, quota_over *over) {
    app_user *u = app_user_get(a, user);
    if (!u) return 0; /* out of memory: the submit fails on its own */
    const chain_config *c = &s->chain;
    uint64_t values = (uint64_t)c->chains * chain_kept_draws(c) * d;
    return over_limit(u, LIMIT_DRAW_VALUES_PER_JOB, 0, values, over) ||
           over_stored_bytes(a, u, jobs_draw_bytes(c, d), over) ||
           over_limit(u, LIMIT_QUEUED_JOBS, u->active_jobs, 1, over);
}

/* Whether the user already holds a reference to dataset id. */
static int user_references(app *a, int64_t user, const char *id) {
    registry_dataset ds;
    if (registry_dataset_ref_get(a->reg, user, id, &ds) != REGISTRY_OK) return 0;
    int same = !strcmp(ds.id, id);
    registry_dataset_clear(&ds);
    return same;
}

int quota_check_upload(app *a, int64_t user, const char *id, uint64_t bytes, quota_over *over) {
    app_user *u = app_user_get(a, user);
    if (!u || bytes == 0 || user_references(a, user, id)) return 0;
    return over_stored_bytes(a, u, bytes, over);
}

static void quota_message(const quota_over *o, char *buf, size_t cap) {
    const char *name = limit_get(o->limit)->name;
    char value[32], usage[32], more[32];
    limit_format(o->limit, o->value, value, sizeof value);
    limit_format(o->limit, o->usage, usage, sizeof usage);
    limit_format(o->limit, o->requested, more, sizeof more);
    if (o->limit == LIMIT_QUEUED_JOBS)
        snprintf(buf, cap, "%s limit of %s reached (%s in use)", name, value, usage);
    else if (o->limit == LIMIT_DRAW_VALUES_PER_JOB)
        snprintf(buf, cap, "%s limit of %s passed: the job would keep %s draw values", name, value,
                 more);
    else
        snprintf(buf, cap, "%s limit of %s passed: %s in use, %s more requested", name, value,
                 usage, more);
}

void quota_respond(http_request *req, const quota_over *o) {
    unsigned status = o->limit == LIMIT_QUEUED_JOBS    ? 429
                      : o->limit == LIMIT_STORED_BYTES ? 507
                                                       : 413;
    if (status == 429) http_request_add_header(req, "Retry-After", QUEUED_RETRY_AFTER);
    char msg[256];
    quota_message(o, msg, sizeof msg);
    json_t *body = json_pack("{s:{s:s, s:s, s:{s:s, s:I, s:I, s:I}}}", "error", "code",
                             "quota_exceeded", "message", msg, "limit", "name",
                             limit_get(o->limit)->name, "value", (json_int_t)o->value, "usage",
                             (json_int_t)o->usage, "requested", (json_int_t)o->requested);
    http_respond_json(req, status, body);
}

/* Stops every running job past its owner's job_seconds. The limit is read
 * now, so a `mcmcd user set` seen since the job started counts. */
typedef struct tick {
    app *a;
    int64_t now;
} tick;

static int check_wall_time(job *j, void *ctx) {
    const tick *t = ctx;
    app *a = t->a;
    if (a->shutting_down) return 1;
    app_user *u = job_user(j);
    if (job_state(j) != REGISTRY_JOB_RUNNING || job_time_limited(j) || !u) return 0;
    uint64_t limit = u->limits.v[LIMIT_JOB_SECONDS];
    if (limit && t->now - job_started_ms(j) >= (int64_t)(limit * 1000))
        jobs_stop_time_limit(a, j, limit);
    return 0;
}

static void on_tick(uv_timer_t *t) {
    tick k = {t->data, app_now_ms()};
    jobs_each_live(k.a, check_wall_time, &k);
}

void quota_timer_start(app *a) {
    uv_timer_init(a->loop, &a->quota_timer);
    a->quota_timer.data = a;
    uv_timer_start(&a->quota_timer, on_tick, QUOTA_TICK_MS, QUOTA_TICK_MS);
}
