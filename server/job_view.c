/* job_view.c - what the modules outside jobs.c read of a job (app.h,
 * "job_view.c"): its identity, state, times, labels, the shape of its
 * draws and each chain's counters, by function rather than by reaching
 * into struct job. Only jobs.c (and its job_adapt.c, job_names.c and
 * job_log.c) writes a job. */
#include "app.h"

app *job_app(const job *j) {
    return j->app;
}

const char *job_id(const job *j) {
    return j->id;
}

int64_t job_owner(const job *j) {
    return j->owner;
}

app_user *job_user(const job *j) {
    return j->user;
}

registry_job_state job_state(const job *j) {
    return j->state;
}

int job_is_deleted(const job *j) {
    return j->deleted;
}

int job_time_limited(const job *j) {
    return j->time_limit_s != 0;
}

int64_t job_created_ms(const job *j) {
    return j->created_ms;
}

int64_t job_started_ms(const job *j) {
    return j->started_ms;
}

int64_t job_finished_ms(const job *j) {
    return j->finished_ms;
}

const char *job_error(const job *j) {
    return j->error;
}

const char *job_dataset(const job *j) {
    return j->dataset_id[0] ? j->dataset_id : NULL;
}

const job_spec *job_spec_of(const job *j) {
    return &j->spec;
}

const char *job_spec_text(const job *j) {
    return j->spec_json;
}

job_shape job_shape_of(const job *j) {
    return (job_shape){.chains = j->chains,
                       .rows = j->samples,
                       .warmup_rows = j->warmup_rows,
                       .d = j->d,
                       .stats = j->stats};
}

const chain_counts *job_counts(const job *j, uint32_t c) {
    return &j->counts[c];
}

const job_events *job_event_log(job *j) {
    if (!j->events) j->events = job_log_load(j); /* an ended job read back */
    return j->events;
}

const chain_adaptation *job_chain_adaptation(job *j, uint32_t c) {
    job_adaptation_load(j);
    return &j->adapt[c];
}

void jobs_each_live(app *a, int (*fn)(job *j, void *ctx), void *ctx) {
    jobs_prune_live(a);
    for (job *j = a->live.head, *next; j; j = next) {
        next = j->res_next; /* fn may end j; it stays in the list until the next prune */
        if (fn(j, ctx)) return;
    }
}
