/* app.h - the daemon's state, owned by the event-loop thread, and the
 * functions its modules share: jobs.c (the life of a job), api.c (routes
 * and answers), streams.c (event and draw streams), serve.c (start-up and
 * shutdown). Worker threads touch only what jobs.c hands them. */
#ifndef MCMCD_APP_H
#define MCMCD_APP_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <uv.h>

#include "auth.h"
#include "chain.h"
#include "cmdstan_text.h"
#include "config.h"
#include "http.h"
#include "job_events.h"
#include "job_spec.h"
#include "registry.h"
#include "wakeup.h"

#define JOB_ID_LEN 24 /* hex characters */

typedef struct app app;
typedef struct job job;
typedef struct app_user app_user;
struct job_table;

/* A list of jobs through their res_prev/res_next links (jobs.c). */
typedef struct job_list {
    job *head, *tail;
    size_t count;
} job_list;

/* Where a job in memory is kept (jobs.c): every job that may not have
 * ended is live; an ended one is cached until evicted, or pinned out of
 * both lists when deleted while still watched. */
typedef enum job_residence {
    JOB_RESIDENT_NONE,
    JOB_RESIDENT_LIVE,
    JOB_RESIDENT_CACHED
} job_residence;

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
    uint64_t divergent;    /* divergent iterations so far, warmup included */
    double warmup_elapsed; /* seconds of warmup (so far, while in it) */
    double step_size;      /* of the last iteration reported */
    int warmup;            /* the last iteration reported was a warmup one */
    int nonfinite;         /* the chain went non-finite and stopped */
    uint64_t nonfinite_at; /* the kept draw where (UINT64_MAX: an unsaved warmup one) */
} chain_counts;

struct job {
    app *app;
    char id[JOB_ID_LEN + 1];
    int64_t owner;  /* the user's id */
    app_user *user; /* its entry in the loop's table (lives as long as the app) */
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
    uint64_t samples;     /* rows per chain in the files: chain_kept_draws */
    uint64_t warmup_rows; /* of those, the saved warmup's, first */
    unsigned stats;       /* STAT_BIT mask of the statistics in stats.f64 */
    size_t d;
    chain_counts *counts; /* per chain */
    /* per chain, once its warmup ended; adapt.json in the job dir holds
     * them (loaded on demand after a restart: job_adaptation_load) */
    chain_adaptation *adapt;
    int adapt_loaded;
    /* d names, from the model when it was prepared (names.json after a
     * restart: job_param_names); NULL until then */
    const char **param_names;
    int names_loaded;
    /* NULL for an ended job read back from the registry until its events
     * are asked for (job_event_log: job_log_load) */
    job_events *events;
    int events_unsaved; /* it holds events that events.ndjson does not */
    int log_file_made;  /* this process made its empty events.ndjson (job_log_create) */
    int files_made;     /* its dir, draws and statistics files exist (job_files_ensure) */
    int files_unmade;   /* queued, its files' room counted in app->unmade_bytes */
    job_watcher *watchers;
    job_residence residence;
    job *res_prev, *res_next; /* in app->live or app->cached */
    /* while running */
    dataset *ds;
    model *model;
    int draws_fd, stats_fd;
    atomic_int cancel; /* read by the chains between blocks */
    int cancel_requested, interrupted, deleted, preparing;
    char prep_error[256];
    uint32_t chains_started, chains_done;
    int chain_rc;
    int write_errno;      /* of the first draws or statistics write that failed (on_block) */
    int progress_unsaved; /* the registry refused its last progress write */
    int progress_queued;  /* a progress write is with the sync thread (jobs.c) */
    /* its end could not be recorded (the registry refused the write): it
     * stays running, as on disk, and jobs.c tries again every second */
    int end_pending;
    registry_job_state end_state;
    char end_error[320];   /* "" for none */
    uint64_t time_limit_s; /* nonzero: stopped by its owner's job_seconds of that many s */
    int64_t last_persist_ms;
    uint64_t persisted_seq; /* the seq the registry holds */
    job *queue_next;        /* in app->queue while it has chains to start */
    uint64_t queue_order;   /* when it joined the queue: smaller is older */
    uint64_t mem_bytes;     /* memory it holds while running (budget.h) */
    int mem_held;           /* counted in app->mem_in_use now */
    void *exec_job;         /* its executor's state while its chains run (slurm) */
};

/* A report from a worker thread, queued for the loop. */
typedef struct chain_report {
    job *job;
    uint32_t chain;
    chain_counts counts;
    chain_adaptation adapt; /* known: the chain's warmup just ended (moved to the job) */
    struct chain_report *next;
} chain_report;

struct app {
    uv_loop_t *loop;
    serve_config cfg;
    const struct executor_ops *exec; /* where chains run (executor.h) */
    void *exec_state;                /* the executor's own */
    registry *reg;
    struct durable *durable; /* serve.c starts it: the registry's syncs (NULL: on the loop) */
    http_server *http;
    char datasets_dir[4200], jobs_dir[4200];
    /* Jobs in memory (jobs.c): every job that has not ended, and at most
     * job_cache ended ones, most recently used first; the registry holds
     * the rest, read back on demand by jobs_find. */
    struct job_table *jobs_by_id; /* all of them, by id */
    job_list live;                /* by creation; an ended job leaves at the next prune */
    job_list cached;
    size_t live_after_prune; /* live.count after the last prune */
    /* jobs with chains still to start, in the order they came; schedule()
     * in jobs.c picks from it by fair share */
    job *queue_head, *queue_tail;
    size_t queued;
    uint64_t queue_seq;    /* the last queue_order handed out */
    unsigned preparing;    /* jobs preparing on the thread pool (at most one) */
    unsigned busy_workers; /* chains running */
    unsigned pending_work; /* app_work.c: thread-pool items in flight, chains included */
    uint64_t mem_in_use;   /* mem_bytes of the jobs preparing or running */
    uint64_t unmade_bytes; /* the draws files of queued jobs, not made yet (jobs.c) */
    wakeup reports_wakeup; /* chains' threads: reports queued (wakeup.h) */
    pthread_mutex_t reports_lock;
    chain_report *reports_head, *reports_tail;
    uv_timer_t heartbeat;             /* streams.c: marks live streams due */
    uv_timer_t rates_timer;           /* metrics.c: draws and gradients per second */
    uv_timer_t quota_timer;           /* quota.c: the wall-time check */
    uv_timer_t sweep;                 /* sweep.c, every sweep_seconds */
    struct idem_flight *idem_flights; /* idempotency.c: keys being answered */
    struct stream_beat *live_streams; /* streams.c: event and following draw streams */
    uv_signal_t sigint, sigterm;
    uv_timer_t drain_timer; /* serve.c: at shutdown, waits for the thread pool */
    /* jobs.c: state writes the registry refused (disk full, write lock held
     * elsewhere) are tried again by this timer, every second while any is
     * pending; meanwhile no queued job starts */
    uv_timer_t retry_timer;
    int starts_paused, recovery_pending;
    int shutting_down;
    double started_at;
    /* called by jobs.c as each job reaches its final state; serve.c sets it
     * to metrics_job_finished (so jobs.c does not depend on metrics.c) */
    void (*on_job_finished)(registry_job_state st, int64_t started_ms, int64_t finished_ms);
    /* metrics */
    uint64_t draws_total, grad_evals_total;
    double draws_per_s, grad_evals_per_s; /* over the last heartbeat period */
    uint64_t last_draws_total, last_grad_evals_total;
    double last_rate_time;
    app_user **users; /* app_users.c */
    size_t nusers, cap_users;
    uint64_t users_generation;     /* one more each time a user's name changes */
    struct list_items *list_items; /* ended jobs' list items (api_jobs.c) */
    token_cache *tokens_kept;      /* tokens verified lately (users.h); NULL: none */
    struct job_table *log_saves;   /* event logs being written (job_log.c) */
};

/* app_work.c: a thread-pool item, counted from app_queue_work until its
 * after-callback has run. */
typedef struct app_work {
    uv_work_t req; /* what work and after get; req.data is the caller's data */
    app *app;
    uv_after_work_cb after;
} app_work;
/* uv_queue_work, counted: 0, or libuv's error (then after never runs). */
int app_queue_work(app *a, app_work *w, void *data, uv_work_cb work, uv_after_work_cb after);
/* Items queued whose after-callback has not run yet. */
unsigned app_work_pending(const app *a);

/* jobs.c */
/* Brings back the jobs that have not ended and counts every job's files
 * in its owner's usage; ended jobs stay in the registry until asked for. */
int jobs_restore(app *a, char *err, size_t errlen);
/* The job by id: from memory, else (an ended job) read back from the
 * registry into the cache of ended jobs; NULL when there is none. An ended
 * job's pointer stays valid until the caller's next jobs_find, jobs_submit_end
 * or jobs_each_live (each may evict it) or its return to the loop, and for
 * as long as a watcher is attached (job_watch): a watched job is never
 * evicted. A job that has not ended stays until it is deleted. */
job *jobs_find(app *a, const char *id);
/* For a listing of rows the caller has just read: the job in memory, left where it is in the cache,
 * or an ended job made from its row for the caller alone (*made, to be freed with jobs_view_done
 * once read), so that paging through history neither reads every job into the cache nor evicts the
 * ones in use. NULL when the row is of a job not in memory that has not ended (being deleted), or
 * on ENOMEM. */
job *jobs_view_row(app *a, const registry_job *row, job **made);
void jobs_view_done(job *made);
/* A parsed, shape-checked spec becomes a queued job in three steps, on
 * the loop thread:
 * - jobs_submit_begin makes the job from spec (which it takes) and counts
 *   it in its owner's usage at once, so that quotas see it; 0, or a
 *   registry status with registry_last_error's message;
 * - jobs_submit_room checks that the disk has room for its files beside
 *   those promised to the jobs queued before it: 0, or REGISTRY_FULL with
 *   why. A queued job has no files yet: they are made, their space taken,
 *   when it starts (a disk full by then fails it with reason disk_full);
 * - jobs_submit_end records the job, with also's writes (the audit row;
 *   NULL for none) in the same transaction, and queues it. The registry's
 *   sync thread makes the writes and syncs them (durable.h), so also runs
 *   on that thread, on its connection, and must touch nothing but those
 *   and also_ctx, which stays alive until done. done is called once, on
 *   the loop: with the queued job and REGISTRY_OK once the row is on
 *   disk; or, on any failure (files_rc's and also's included), with NULL
 *   and the status, its message kept for registry_last_error, the first
 *   step undone and the job freed. It may be called before this returns. */
typedef void (*jobs_submitted_fn)(void *ctx, job *j, int status);
int jobs_submit_begin(app *a, int64_t owner, job_spec *spec, const char *dataset_id, size_t d,
                      job **out);
int jobs_submit_room(job *j, char *why, size_t cap);
void jobs_submit_end(app *a, job *j, int files_rc, const char *why, registry_writes_fn also,
                     void *also_ctx, jobs_submitted_fn done, void *done_ctx);
/* Makes a queued job's files (sparse) if they are not there yet, for a
 * reader that opens them before the job starts; 0 or an errno. */
int job_files_ensure(job *j);
/* Cancels a queued job now, or a running one at its chains' next block,
 * once the request is in the registry (so that a crash cannot undo it).
 * Returns 0, REGISTRY_BAD_TRANSITION when the job has already ended, or
 * another registry status when the request could not be recorded. */
int jobs_cancel(app *a, job *j);
/* Jobs queued or running: what max_queued_jobs bounds (the owners' counts). */
size_t jobs_active(const app *a);
int jobs_delete(app *a, job *j);
/* Stops a running job that passed its owner's wall-time limit of limit_s
 * seconds: its chains stop at their next block, unstarted ones never
 * start, and it ends failed, its draws kept, with an error that starts
 * "time_limit:". Does nothing to a job that is not running or is already
 * stopping. */
void jobs_stop_time_limit(app *a, job *j, uint64_t limit_s);
/* The bytes of a job's draws and statistics files at their full size:
 * chains x kept rows x (d + statistics) x 8, what stored_bytes counts. */
uint64_t jobs_draw_bytes(const chain_config *c, size_t d);
/* Why the job ended where its state alone does not say: "time_limit", or
 * NULL. Read from the stored error, so it holds after a restart. */
const char *job_reason(const job *j);
void jobs_shutdown(app *a); /* cancels running chains for a restart */
void jobs_drain_reports(app *a);
/* At shutdown: saves the logs of ended jobs in memory, frees every job. */
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
/* job_files.c: a file of the job's dir by name ("adapt.json"), and a JSON
 * document written there whole (a temporary file, then a rename): 0 or
 * MCMC_EIO. */
void job_file_path(const job *j, const char *name, char *buf, size_t cap);
int job_file_save_json(const job *j, const char *name, const json_t *root);
void job_draws_path(const job *j, char *buf, size_t cap); /* the raw float64 body */
void job_stats_path(const job *j, char *buf, size_t cap); /* the statistics' body */
const char *job_model_name(const job *j);

/* job_view.c: a job as the other modules read it. */
app *job_app(const job *j);
const char *job_id(const job *j);
int64_t job_owner(const job *j);
app_user *job_user(const job *j); /* the owner's entry */
registry_job_state job_state(const job *j);
int job_is_deleted(const job *j);
int job_time_limited(const job *j); /* stopping, or stopped, by its wall-time limit */
int64_t job_created_ms(const job *j);
int64_t job_started_ms(const job *j);  /* 0: not yet */
int64_t job_finished_ms(const job *j); /* 0: not yet */
const char *job_error(const job *j);   /* NULL when none */
const char *job_dataset(const job *j); /* its stored dataset's id; NULL when none */
const job_spec *job_spec_of(const job *j);
const char *job_spec_text(const job *j); /* the canonical spec JSON */
/* The shape of its draws and statistics files. */
typedef struct job_shape {
    uint32_t chains;
    uint64_t rows;        /* per chain: chain_kept_draws */
    uint64_t warmup_rows; /* of those, the saved warmup's, first */
    size_t d;
    unsigned stats; /* STAT_BIT mask of the statistics in stats.f64 */
} job_shape;
job_shape job_shape_of(const job *j);
const chain_counts *job_counts(const job *j, uint32_t c); /* chain c's */
/* The job's event log, read back (job_log_load) on first use for an ended
 * job out of the registry; NULL only when memory runs out. */
const job_events *job_event_log(job *j);
/* Chain c's adaptation (known once its warmup ended), loaded on demand. */
const chain_adaptation *job_chain_adaptation(job *j, uint32_t c);
/* Calls fn on every job that has not ended (queued, preparing, running),
 * by creation, until it returns nonzero. Ended jobs are in the registry:
 * registry_job_counts, registry_jobs_ended_before. */
void jobs_each_live(app *a, int (*fn)(job *j, void *ctx), void *ctx);
/* jobs.c: moves the jobs that have ended since the last prune from the
 * live list to the cache, evicting from the cache what passes job_cache. */
void jobs_prune_live(app *a);

/* job_log.c: an ended job's event log on disk (events.ndjson). */
/* Makes the job's empty log file (any thread, with the job's files): 0
 * or an errno. */
int job_log_create(const job *j);
/* Saves it whole now: 0 or an MCMC_E* code (MCMC_EINVAL: the log is not
 * done). At a stop. */
int job_log_save(const job *j);
/* The same, written on the thread pool into the file job_log_create made
 * (a job without log_file_made is saved now); job_log_load reads the text
 * from memory until it is written. */
int job_log_save_later(app *a, const job *j);
/* At a stop, once the pool has run every save's after-callback. */
void job_log_saves_free(app *a);
/* The saved log, else one made from the job's registry fields: its state
 * and done events after its stored seq, at its finish time. NULL: ENOMEM. */
job_events *job_log_load(const job *j);

/* job_adapt.c: each chain's adapted step size and inverse metric, kept in
 * adapt.json in the job dir. */
int job_adaptation_save(const job *j);
void job_adaptation_load(job *j); /* once, after a restart; no file: none known */
void job_adaptation_remove(const job *j);
/* {"step_size": x, "metric": "diag", "inv_metric": [...]} or null. */
json_t *job_adaptation_json(job *j, uint32_t chain);

/* job_names.c: the parameters' names, kept in names.json in the job dir. */
/* From the model, on the pool thread that prepared it: the d names in
 * one block, also written to names.json (advisory); NULL when the model's
 * dimension is not the job's or on ENOMEM. It reads only j's dimension and
 * dir: the loop may be reading j meanwhile, so the names reach the job on
 * the loop, through job_names_adopt (which takes the block; NULL is
 * fine). */
const char **job_names_capture(const job *j, const model *m);
void job_names_adopt(job *j, const char **names);
/* The d names, or NULL when the job was never prepared (theta.1..d then). */
const char *const *job_param_names(job *j);
/* The same in one block the caller frees (for readers that may outlive
 * the job); NULL when there are none or on ENOMEM. */
const char **job_param_names_copy(job *j);
void job_names_free(job *j);

/* app_users.c: what the loop knows of each user: name, role and limits
 * (from the registry: refreshed by each request the user makes and by the
 * sweep), and the usage that jobs.c keeps. */
struct app_user {
    int64_t id;
    char name[USER_NAME_MAX + 1]; /* "#ID" once the user is removed */
    int admin, removed;
    user_limits limits;
    uint32_t running_chains; /* chains of the user's jobs on workers now */
    uint32_t active_jobs;    /* queued or running */
    uint64_t draw_bytes;     /* the draws and statistics files of the user's jobs */
    uint64_t dataset_bytes;  /* their dataset references, as last read from the registry */
    /* schedule()'s scratch: the user's next job and their oldest waiting one */
    job *sched_pick;
    uint64_t sched_oldest;
};

/* The user's entry, made (and read from the registry) on first use; NULL
 * only on ENOMEM. */
app_user *app_user_get(app *a, int64_t id);
/* Takes name, role and limits from a request's principal. */
void app_user_update(app *a, const principal *p);
/* Reads every user again from the registry (the sweep). */
void app_users_reload(app *a);
void app_users_free(app *a);
/* The user's stored bytes: their dataset references and their jobs' files.
 * When the registry cannot say (logged), the datasets' bytes last read. */
uint64_t app_user_stored_bytes(app *a, app_user *u);

/* api.c */
void api_handle(void *app, http_request *req);
/* The route table, one "METHOD PATTERN ACCESS" line per route (ACCESS:
 * public, user, admin or metrics): `mcmcd routes`, test_openapi.sh. */
void api_print_routes(FILE *out);

/* streams.c */
void streams_events(app *a, job *j, http_request *req);
void streams_draws(app *a, job *j, http_request *req);
/* The heartbeat timer: every heartbeat_seconds each live stream is marked
 * due and woken. */
void streams_start(app *a);
void streams_stop(app *a);

#endif
