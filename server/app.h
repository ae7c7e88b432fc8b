/* app.h - the daemon's state, owned by the event-loop thread, and the
 * functions its modules share: jobs.c (the life of a job), api.c (routes
 * and answers), streams.c (event and draw streams), serve.c (start-up and
 * shutdown). Worker threads touch only what jobs.c hands them. */
#ifndef MCMCD_APP_H
#define MCMCD_APP_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <uv.h>

#include "chain.h"
#include "config.h"
#include "http.h"
#include "job_events.h"
#include "job_spec.h"
#include "registry.h"

#define JOB_ID_LEN 24 /* hex characters */

typedef struct app app;
typedef struct job job;

/* A watcher of a job: an event stream or a following draw stream. */
typedef struct job_watcher {
    http_stream *stream;
    void (*on_change)(struct job_watcher *w); /* the job has news */
    struct job_watcher *next, *prev;
} job_watcher;

/* Counters of one chain, updated on the loop from worker reports. */
typedef struct chain_counts {
    uint64_t iter, accepted, draws, grad_evals;
    double elapsed;
    uint64_t divergent; /* divergent iterations so far */
    double step_size;   /* of the latest iteration (once iter > 0) */
    int warmup;         /* warmup iterations remain (chain_block's warmup) */
} chain_counts;

struct job {
    app *app;
    char id[JOB_ID_LEN + 1];
    job_spec spec;
    char *spec_json; /* canonical */
    char dataset_id[SPEC_DATASET_ID_MAX];
    registry_job_state state;
    int64_t created_ms, started_ms, finished_ms;
    char *error;
    /* restored from a spec this build cannot read: shown as failed with the
     * parse errors in error; the registry said stored_state */
    int spec_unreadable;
    registry_job_state stored_state;
    uint32_t chains;
    uint64_t samples;
    size_t d;
    chain_counts *counts; /* per chain */
    job_events *events;
    job_watcher *watchers;
    /* while running */
    dataset *ds;
    model *model;
    int draws_fd;
    atomic_int cancel; /* read by the chains between blocks */
    int cancel_requested, interrupted, deleted, preparing;
    char prep_error[256];
    uint32_t chains_started, chains_done;
    int chain_rc;
    int64_t last_persist_ms;
    uint64_t persisted_seq; /* the seq the registry holds */
    job *queue_next;        /* in app->queue while queued */
};

/* A report from a worker thread, queued for the loop. */
typedef struct chain_report {
    job *job;
    uint32_t chain;
    chain_counts counts;
    struct chain_report *next;
} chain_report;

struct app {
    uv_loop_t *loop;
    serve_config cfg;
    registry *reg;
    http_server *http;
    char datasets_dir[4200], jobs_dir[4200];
    job **jobs; /* every job known, by creation */
    size_t njobs, cap_jobs;
    job *queue_head, *queue_tail; /* FIFO of queued jobs */
    size_t queued;
    unsigned busy_workers; /* chains running */
    unsigned pending_work; /* thread-pool items in flight, chains included */
    uv_async_t reports_async;
    pthread_mutex_t reports_lock;
    chain_report *reports_head, *reports_tail;
    uv_timer_t heartbeat;
    struct event_stream *event_streams; /* streams.c: for heartbeats */
    uv_signal_t sigint, sigterm;
    int shutting_down;
    double started_at;
    /* metrics */
    uint64_t draws_total, grad_evals_total, requests_total;
    double draws_per_s, grad_evals_per_s; /* over the last heartbeat period */
    uint64_t last_draws_total, last_grad_evals_total;
    double last_rate_time;
};

double app_now(void); /* unix seconds */
int64_t app_now_ms(void);

/* jobs.c */
int jobs_restore(app *a, char *err, size_t errlen);
job *jobs_find(app *a, const char *id);
/* Records a parsed, shape-checked spec as a new queued job (durable on
 * return). Returns 0 or a registry status; *out is the job. */
int jobs_submit(app *a, job_spec *spec, const char *dataset_id, size_t d, job **out);
int jobs_cancel(app *a, job *j);
size_t jobs_active(const app *a);
int jobs_delete(app *a, job *j);
void jobs_shutdown(app *a); /* cancels running chains for a restart */
void jobs_drain_reports(app *a);
void jobs_free_all(app *a);
const char *job_state_name(const job *j);
int job_is_final(const job *j);
/* Whether the job's sampler has an accept step (ula and sgld have none:
 * their accept rate is null everywhere). */
int job_reports_accept(const job *j);
/* Chain c's progress as events and the status show it. */
job_progress job_chain_progress(const job *j, uint32_t c);
void job_watch(job *j, job_watcher *w);
void job_unwatch(job *j, job_watcher *w);
void job_notify(job *j);
void job_draws_path(const job *j, char *buf, size_t cap); /* the raw float64 body */

/* api.c */
void api_handle(void *app, http_request *req);

/* streams.c */
void streams_events(app *a, job *j, http_request *req);
void streams_draws(app *a, job *j, http_request *req);
void streams_heartbeat(app *a);

#endif
