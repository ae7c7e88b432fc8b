/* jobs.c - the life of a job in the daemon: submit, queue (fair share
 * between users: see schedule()), prepare (load the dataset and build the
 * model on the thread pool), run its chains on worker slots, fold worker
 * reports into progress events, finish, cancel, stop at the wall-time
 * limit, delete, and restore after a restart. It keeps each user's usage
 * counters (app_user: running chains, active jobs, draw bytes), which
 * quota.c checks.
 *
 * Threads: everything here runs on the loop thread except chain_work and
 * the block callback it drives, which write draws and statistics straight
 * into the job's files (draws.f64, stats.f64: pwrite at their final offset)
 * and queue a small report for the loop under reports_lock, once per block
 * (with the chain's adaptation, once, when its warmup ends).
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include "api_util.h"
#include "app.h"
#include "clock.h"
#include "budget.h"
#include "dataset_store.h"
#include "durable.h"
#include "errors.h"
#include "executor.h"
#include "job_kinds.h"
#include "job_table.h"
#include "registry_internal.h"
#include "sha256.h"
#include "storage.h"
#include "utf8.h"

#define PERSIST_EVERY_MS 1000
/* After a restart a job that had not ended numbers its events from its
 * saved seq plus this gap, and a running job saves its seq at least every
 * second and every GAP/2 events, so no seq a client saw is handed out again
 * even after a crash. */
#define SEQ_RESTART_GAP 1000000
/* A job that was running when the daemon died this many times in a row
 * (no clean stop between) is not run again: it ends failed, crash_loop. */
#define CRASH_LOOP_LIMIT 3

static void schedule(app *a);

const char *job_state_name(const job *j) {
    return registry_job_state_name(j->state);
}
int job_is_final(const job *j) {
    return registry_job_state_is_final(j->state);
}

/* Only a sampler with an accept step counts accepts: for nuts, whose
 * accept_stat__ is a mean over its trajectory, the accept rate is null and
 * the summary's mean_accept_stat is the figure to read. */
int job_reports_accept(const job *j) {
    const sampler_def *s = j->spec.chain.sampler;
    return s && (s->flags & SAMPLER_ACCEPTS);
}

job_progress job_chain_progress(const job *j, uint32_t c) {
    const chain_counts *k = &j->counts[c];
    const chain_config *cfg = &j->spec.chain;
    job_progress p = job_progress_from_counts(c, k->iter, chain_total_iterations(cfg), k->accepted,
                                              k->draws, k->elapsed);
    p.warmup = k->iter ? k->warmup : cfg->num_warmup > 0; /* before the first report: what
                                                             runs first */
    p.step_size = k->iter ? k->step_size : NAN;
    p.divergent = k->divergent;
    if (!job_reports_accept(j)) p.accept_rate = NAN;
    return p;
}

/* --- watchers ------------------------------------------------------------ */

void job_watch(job *j, job_watcher *w) {
    w->prev = NULL;
    w->next = j->watchers;
    if (j->watchers) j->watchers->prev = w;
    j->watchers = w;
}

static void job_free(job *j);
static void unmade_drop(job *j);

void job_unwatch(job *j, job_watcher *w) {
    if (w->prev)
        w->prev->next = w->next;
    else if (j->watchers == w)
        j->watchers = w->next;
    if (w->next) w->next->prev = w->prev;
    w->next = w->prev = NULL;
    if (j->deleted && !j->watchers) job_free(j);
}

void job_notify(job *j) {
    for (job_watcher *w = j->watchers, *next; w; w = next) {
        next = w->next;
        w->on_change(w);
    }
}

/* --- the jobs in memory --------------------------------------------------- *
 * Every job that has not ended is live: in app->live and in the table by
 * id, for as long as it runs. An ended job moves to app->cached at the next
 * prune (jobs_prune_live: each walk of the live jobs, each lookup of it,
 * and whenever the live list has doubled since the last prune), and the
 * cache keeps the job_cache most recently used; the one evicted saves its
 * events (job_log.c) and is freed. A watched job is passed over (a stream
 * holds it) and stays until it is no longer watched. jobs_find reads an ended
 * job that is not in memory back from the registry. */

static void list_push_head(job_list *l, job *j) {
    j->res_prev = NULL;
    j->res_next = l->head;
    if (l->head)
        l->head->res_prev = j;
    else
        l->tail = j;
    l->head = j;
    l->count++;
}

static void list_push_tail(job_list *l, job *j) {
    j->res_next = NULL;
    j->res_prev = l->tail;
    if (l->tail)
        l->tail->res_next = j;
    else
        l->head = j;
    l->tail = j;
    l->count++;
}

static void list_unlink(job_list *l, job *j) {
    if (j->res_prev)
        j->res_prev->res_next = j->res_next;
    else
        l->head = j->res_next;
    if (j->res_next)
        j->res_next->res_prev = j->res_prev;
    else
        l->tail = j->res_prev;
    j->res_prev = j->res_next = NULL;
    l->count--;
}

/* Takes j out of whichever list holds it. */
static void residence_leave(app *a, job *j) {
    if (j->residence == JOB_RESIDENT_LIVE) list_unlink(&a->live, j);
    if (j->residence == JOB_RESIDENT_CACHED) list_unlink(&a->cached, j);
    j->residence = JOB_RESIDENT_NONE;
}

/* Saves the job's events if they are not on disk yet, and frees it. */
/* Frees an ended job, its log saved first: on the thread pool while the
 * daemon runs (job_log_save_later), here at a stop (save_now). */
static void job_evict(app *a, job *j, int save_now) {
    int unsaved = j->events_unsaved && j->events && job_events_is_done(j->events);
    if (unsaved && (save_now ? job_log_save(j) : job_log_save_later(a, j)) != MCMC_OK)
        fprintf(stderr, "mcmcd: job %s: cannot save its events; a restart shows only its end\n",
                j->id);
    residence_leave(a, j);
    job_table_remove(a->jobs_by_id, j->id);
    job_free(j);
}

/* Evicts from the cache's tail down to job_cache, passing over watched
 * jobs and never evicting the head: the job just used, which a caller of
 * jobs_find is about to read. */
static void cache_trim(app *a) {
    job *j = a->cached.tail;
    while (a->cached.count > a->cfg.job_cache && j && j != a->cached.head) {
        job *newer = j->res_prev;
        if (!j->watchers) job_evict(a, j, 0);
        j = newer;
    }
}

/* The ended job was just used: the cache's head. */
static void cache_touch(app *a, job *j) {
    residence_leave(a, j);
    list_push_head(&a->cached, j);
    j->residence = JOB_RESIDENT_CACHED;
}

/* Whether the job has ended, on disk too (a queued job whose spec is
 * unreadable is final in memory before jobs_restore records it so). */
static int job_may_leave_live(const job *j) {
    return job_is_final(j) && !(j->spec_unreadable && j->stored_state == REGISTRY_JOB_QUEUED);
}

void jobs_prune_live(app *a) {
    for (job *j = a->live.head, *next; j; j = next) {
        next = j->res_next;
        if (job_may_leave_live(j)) cache_touch(a, j);
    }
    a->live_after_prune = a->live.count;
    cache_trim(a);
}

static job *job_from_row(app *a, const registry_job *row);

/* The job in memory, now most recently used if it has ended; or NULL. */
static job *find_in_memory(app *a, const char *id) {
    job *j = a->jobs_by_id ? job_table_get(a->jobs_by_id, id) : NULL;
    if (!j) return NULL;
    if (j->residence == JOB_RESIDENT_CACHED || job_may_leave_live(j)) cache_touch(a, j);
    cache_trim(a);
    return j;
}

/* An ended job read back from its row, at the cache's head; NULL if the
 * row is of a job that has not ended (such a job is always in memory: one
 * that is not is being deleted) or memory runs out. */
static job *read_back(app *a, const registry_job *row) {
    job *j = registry_job_state_is_final(row->state) ? job_from_row(a, row) : NULL;
    if (!j) return NULL;
    if (job_table_put(a->jobs_by_id, j->id, j) != 0) {
        job_free(j);
        return NULL;
    }
    cache_touch(a, j);
    cache_trim(a);
    return j;
}

job *jobs_find(app *a, const char *id) {
    job *j = find_in_memory(a, id);
    registry_job row;
    if (j || !a->jobs_by_id || registry_job_get(a->reg, id, &row) != REGISTRY_OK) return j;
    j = read_back(a, &row);
    registry_job_clear(&row);
    return j;
}

job *jobs_view_row(app *a, const registry_job *row, job **made) {
    *made = NULL;
    job *j = a->jobs_by_id ? job_table_get(a->jobs_by_id, row->id) : NULL;
    if (j || !registry_job_state_is_final(row->state)) return j;
    return *made = job_from_row(a, row);
}

void jobs_view_done(job *made) {
    if (made) job_free(made);
}

/* A new or restored job that has not ended joins the live jobs. */
static int jobs_add(app *a, job *j) {
    if (!a->jobs_by_id && !(a->jobs_by_id = job_table_new())) return -1;
    if (job_table_put(a->jobs_by_id, j->id, j) != 0) return -1;
    list_push_tail(&a->live, j);
    j->residence = JOB_RESIDENT_LIVE;
    if (a->live.count >= 2 * a->live_after_prune + 64) jobs_prune_live(a);
    return 0;
}

/* The job leaves memory's lists and table (it is being deleted); the
 * caller frees it, or its last watcher does. */
static void jobs_remove(app *a, job *j) {
    residence_leave(a, j);
    job_table_remove(a->jobs_by_id, j->id);
}

static void memory_give_back(job *j);

static void job_release_run_state(job *j) {
    memory_give_back(j);
    model_free(j->model);
    dataset_free(j->ds);
    j->model = NULL;
    j->ds = NULL;
    if (j->draws_fd >= 0) close(j->draws_fd);
    if (j->stats_fd >= 0) close(j->stats_fd);
    j->draws_fd = j->stats_fd = -1;
}

static void job_free(job *j) {
    job_release_run_state(j);
    unmade_drop(j);
    job_spec_free(&j->spec);
    job_events_free(j->events);
    for (uint32_t c = 0; j->adapt && c < j->chains; c++)
        chain_adaptation_clear(&j->adapt[c]);
    free(j->adapt);
    job_names_free(j);
    free(j->counts);
    free(j->spec_json);
    free(j->error);
    free(j);
}

/* A job without its event log (job_log_load brings it when asked). */
static job *job_new_bare(app *a, const char *id, job_spec *spec) {
    job *j = calloc(1, sizeof *j);
    if (!j) return NULL;
    j->app = a;
    j->draws_fd = j->stats_fd = -1;
    snprintf(j->id, sizeof j->id, "%s", id);
    j->spec = *spec; /* takes ownership of spec's arrays */
    memset(spec, 0, sizeof *spec);
    j->chains = j->spec.chain.chains;
    int keeps = j->spec.kind == JOB_KIND_SAMPLE; /* the other kinds keep no draws */
    j->samples = keeps ? chain_kept_draws(&j->spec.chain) : 0;
    j->warmup_rows = keeps ? chain_kept_warmup(&j->spec.chain) : 0;
    j->stats = chain_config_stats(&j->spec.chain);
    j->counts = calloc(j->chains, sizeof *j->counts);
    j->adapt = calloc(j->chains, sizeof *j->adapt);
    for (uint32_t c = 0; j->counts && c < j->chains; c++)
        j->counts[c].nonfinite_at = UINT64_MAX;
    if (!j->counts || !j->adapt) {
        job_free(j);
        return NULL;
    }
    return j;
}

/* A job that will run, with an empty log numbered after base_seq. */
static job *job_new(app *a, const char *id, job_spec *spec, uint64_t base_seq) {
    job *j = job_new_bare(a, id, spec);
    if (j && !(j->events = job_events_new(id, j->chains, base_seq, 256))) {
        job_free(j);
        return NULL;
    }
    if (j) j->events_unsaved = 1;
    return j;
}

void jobs_free_all(app *a) {
    while (a->live.head) /* saves the logs of those that ended since the last prune */
        job_evict(a, a->live.head, 1);
    while (a->cached.head)
        job_evict(a, a->cached.head, 1);
    job_table_free(a->jobs_by_id);
    a->jobs_by_id = NULL;
}

/* --- files --------------------------------------------------------------- */

static void job_dir(const job *j, char *buf, size_t cap) {
    snprintf(buf, cap, "%s/%s", j->app->jobs_dir, j->id);
}

void job_draws_path(const job *j, char *buf, size_t cap) {
    snprintf(buf, cap, "%s/%s/draws.f64", j->app->jobs_dir, j->id);
}

void job_stats_path(const job *j, char *buf, size_t cap) {
    snprintf(buf, cap, "%s/%s/stats.f64", j->app->jobs_dir, j->id);
}

const char *job_model_name(const job *j) {
    return j->spec.model->name;
}

/* Opens (creating) a body of chains x samples x width float64, sized
 * (sparse) for every row; -1 on failure. */
static int open_body(const job *j, const char *path, size_t width, int flags) {
    int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC | flags, 0644);
    off_t size = (off_t)((uint64_t)j->chains * j->samples * width * sizeof(double));
    if (fd >= 0 && ftruncate(fd, size) != 0) {
        close(fd);
        fd = -1;
    }
    return fd;
}

static void job_remove_files(const job *j) {
    char dir[4400];
    job_dir(j, dir, sizeof dir);
    DIR *dh = opendir(dir);
    struct dirent *e;
    while (dh && (e = readdir(dh)))
        if (e->d_name[0] != '.') unlinkat(dirfd(dh), e->d_name, 0);
    if (dh) closedir(dh);
    rmdir(dir);
}

/* A body at its full size (sparse), made if missing, never truncated (a
 * rerun writes over its rows); with reserve, its blocks taken now
 * (storage_reserve). 0 or an errno. */
static int make_body(const job *j, const char *path, size_t width, int reserve) {
    int fd = open_body(j, path, width, 0);
    if (fd < 0) return errno;
    int e = reserve ? storage_reserve(fd, (uint64_t)j->chains * j->samples * width * sizeof(double))
                    : 0;
    close(fd);
    return e;
}

/* The job's directory and its draws and statistics files at their full
 * size, made when it starts (prepare_work, reserve set: their space taken
 * and its empty event log made too) or, sparse, when a reader asks for a
 * queued job's draws first (job_files_ensure). Until then a queued job
 * has no files: a submission writes one registry row and makes no inode,
 * and the room its draws will need is counted in a->unmade_bytes. 0 or an
 * errno, with the path that failed in path. */
static int job_files_make(const job *j, int reserve, char *path, size_t cap) {
    job_dir(j, path, cap);
    int e = mkdir(path, 0700) != 0 && errno != EEXIST ? errno : 0;
    if (!e) {
        job_draws_path(j, path, cap);
        e = make_body(j, path, j->d, reserve);
    }
    if (!e) {
        job_stats_path(j, path, cap);
        e = make_body(j, path, chain_stat_count(j->stats), reserve);
    }
    if (!e && reserve) e = job_log_create(j); /* written into at eviction, on the pool */
    return e;
}

int job_files_ensure(job *j) {
    if (j->files_made) return 0;
    char path[4500];
    job_draws_path(j, path, sizeof path);
    struct stat st;
    int e = stat(path, &st) == 0 ? 0 : job_files_make(j, 0, path, sizeof path);
    if (!e) j->files_made = 1;
    return e;
}

/* A random id: 96 bits as 24 hex characters, from the kernel's random
 * bytes fetched 21 ids at a time (one system call, not one a submission;
 * 252 bytes, under the 256 that getrandom never cuts short). The loop's
 * alone. */
static int make_job_id(char out[JOB_ID_LEN + 1]) {
    enum { ID_BYTES = JOB_ID_LEN / 2, POOL_IDS = 256 / ID_BYTES };
    static uint8_t pool[ID_BYTES * POOL_IDS];
    static size_t used = sizeof pool;
    if (used == sizeof pool) {
        if (getrandom(pool, sizeof pool, 0) != (ssize_t)sizeof pool) return -1;
        used = 0;
    }
    sha256_hex(pool + used, ID_BYTES, out); /* formats any bytes as hex */
    used += ID_BYTES;
    return 0;
}

/* The job's tags as a JSON array's text, for the registry; NULL on ENOMEM. */
static char *job_tags_text(const job *j) {
    json_t *a = json_array();
    for (size_t i = 0; a && i < j->spec.ntags; i++)
        json_array_append_new(a, json_string(j->spec.tags[i]));
    char *text = a ? json_dumps(a, JSON_COMPACT) : NULL;
    json_decref(a);
    return text;
}

/* --- the queue ----------------------------------------------------------- */

static void queue_push(app *a, job *j) {
    j->queue_next = NULL;
    j->queue_order = ++a->queue_seq;
    if (a->queue_tail)
        a->queue_tail->queue_next = j;
    else
        a->queue_head = j;
    a->queue_tail = j;
    a->queued++;
}

static void queue_remove(app *a, job *j) {
    job **p = &a->queue_head, *prev = NULL;
    while (*p && *p != j)
        prev = *p, p = &(*p)->queue_next;
    if (!*p) return;
    *p = j->queue_next;
    if (a->queue_tail == j) a->queue_tail = prev;
    j->queue_next = NULL;
    a->queued--;
}

/* --- usage: what each user's jobs hold ------------------------------------ */

uint64_t jobs_draw_bytes(const chain_config *c, size_t d) {
    uint64_t width = (uint64_t)d + chain_stat_count(chain_config_stats(c));
    return (uint64_t)c->chains * chain_kept_draws(c) * width * sizeof(double);
}

/* The same for a job as it is (a spec this build cannot read included). */
static uint64_t job_draw_bytes(const job *j) {
    uint64_t width = (uint64_t)j->d + chain_stat_count(j->stats);
    return (uint64_t)j->chains * j->samples * width * sizeof(double);
}

/* The room a queued job's files will take, counted until they are made
 * (or the job ends or goes without them). */
static void unmade_add(job *j) {
    if (j->files_unmade) return;
    j->files_unmade = 1;
    j->app->unmade_bytes += job_draw_bytes(j);
}

static void unmade_drop(job *j) {
    if (!j->files_unmade) return;
    j->files_unmade = 0;
    uint64_t b = job_draw_bytes(j);
    j->app->unmade_bytes -= b < j->app->unmade_bytes ? b : j->app->unmade_bytes;
}

/* A job joins its owner's usage: its files always, the active count while
 * it has not ended. */
static void usage_add(job *j) {
    j->user->draw_bytes += job_draw_bytes(j);
    if (!job_is_final(j)) j->user->active_jobs++;
}

#define TIME_LIMIT_PREFIX "time_limit:"
#define DISK_FULL_PREFIX "disk_full:"

/* A failed job's reason is the word before the colon that starts its
 * error, for the errors that start so. */
const char *job_reason(const job *j) {
    static const char *const reasons[] = {"time_limit", "crash_loop", "too_large", "disk_full"};
    if (j->state != REGISTRY_JOB_FAILED || !j->error) return NULL;
    for (size_t i = 0; i < sizeof reasons / sizeof reasons[0]; i++) {
        size_t len = strlen(reasons[i]);
        if (!strncmp(j->error, reasons[i], len) && j->error[len] == ':') return reasons[i];
    }
    return NULL;
}

/* --- memory: what preparing and running jobs hold, against the budget ---- */

/* The data's shape that sizes the job: the spec's synthetic data, or its
 * stored dataset's (0 x 0 for the models without data, or when the row is
 * gone: such a job fails as it prepares). */
static void job_data_shape(app *a, const job *j, uint64_t *n, uint64_t *d) {
    *n = *d = 0;
    if (j->spec.model->y == Y_NONE) return;
    if (j->spec.data == SPEC_DATA_SYNTHETIC) {
        *n = j->spec.synthetic.n;
        *d = j->spec.synthetic.d;
        return;
    }
    registry_dataset ds;
    if (j->dataset_id[0] && registry_dataset_get(a->reg, j->dataset_id, &ds) == REGISTRY_OK) {
        *n = (uint64_t)ds.n;
        *d = (uint64_t)ds.d;
    }
    registry_dataset_clear(&ds);
}

static void job_size(job *j) {
    uint64_t n, d;
    job_data_shape(j->app, j, &n, &d);
    j->mem_bytes = budget_job_bytes(&j->app->cfg, &j->spec, n, d);
}

/* Whether the job, not yet holding its memory, fits beside those that do. */
static int memory_fits(const app *a, const job *j) {
    return footprint_add(a->mem_in_use, j->mem_bytes) <= a->cfg.memory_budget;
}

static void memory_take(job *j) {
    if (j->mem_held) return;
    j->app->mem_in_use = footprint_add(j->app->mem_in_use, j->mem_bytes);
    j->mem_held = 1;
}

static void memory_give_back(job *j) {
    if (!j->mem_held) return;
    j->app->mem_in_use -= j->mem_bytes;
    j->mem_held = 0;
}

static void time_limit_message(const job *j, char *buf, size_t cap) {
    snprintf(buf, cap, TIME_LIMIT_PREFIX " the job ran past the wall-time limit of %llu s",
             (unsigned long long)j->time_limit_s);
}

/* --- progress, persisted ------------------------------------------------- */

static char *progress_json(const job *j) {
    json_t *arr = json_array();
    for (uint32_t c = 0; arr && c < j->chains; c++) {
        const chain_counts *k = &j->counts[c];
        json_t *o =
            json_pack("{s:I, s:I, s:I, s:I, s:f, s:I, s:f, s:o, s:b}", "iter", (json_int_t)k->iter,
                      "accepted", (json_int_t)k->accepted, "draws", (json_int_t)k->draws,
                      "grad_evals", (json_int_t)k->grad_evals, "elapsed", k->elapsed, "divergent",
                      (json_int_t)k->divergent, "warmup_elapsed", k->warmup_elapsed, "step_size",
                      json_number_or_null(k->step_size), "warmup", k->warmup);
        if (o && k->nonfinite)
            json_object_set_new(o, "nonfinite_at",
                                k->nonfinite_at == UINT64_MAX
                                    ? json_null()
                                    : json_integer((json_int_t)k->nonfinite_at));
        json_array_append_new(arr, o);
    }
    char *text = arr ? json_dumps(arr, JSON_COMPACT) : NULL;
    json_decref(arr);
    return text;
}

static void progress_restore(job *j, const char *text) {
    json_t *arr = text ? json_loads(text, 0, NULL) : NULL;
    for (uint32_t c = 0; c < j->chains && c < json_array_size(arr); c++) {
        json_t *o = json_array_get(arr, c);
        chain_counts *k = &j->counts[c];
        k->iter = (uint64_t)json_integer_value(json_object_get(o, "iter"));
        k->accepted = (uint64_t)json_integer_value(json_object_get(o, "accepted"));
        k->draws = (uint64_t)json_integer_value(json_object_get(o, "draws"));
        k->grad_evals = (uint64_t)json_integer_value(json_object_get(o, "grad_evals"));
        k->elapsed = json_number_value(json_object_get(o, "elapsed"));
        k->divergent = (uint64_t)json_integer_value(json_object_get(o, "divergent"));
        k->warmup_elapsed = json_number_value(json_object_get(o, "warmup_elapsed"));
        json_t *step = json_object_get(o, "step_size"), *bad = json_object_get(o, "nonfinite_at");
        k->step_size = json_is_number(step) ? json_number_value(step) : NAN;
        k->warmup = json_is_true(json_object_get(o, "warmup"));
        k->nonfinite = bad != NULL;
        k->nonfinite_at = json_is_integer(bad) ? (uint64_t)json_integer_value(bad) : UINT64_MAX;
    }
    json_decref(arr);
}

/* The outcome of a progress save up to seq: the seq the registry holds, or
 * the failure, logged once per job until a save goes through. */
static void progress_saved(job *j, int rc, const char *why, uint64_t seq) {
    if (rc == REGISTRY_OK) {
        j->progress_unsaved = 0;
        if (seq > j->persisted_seq) j->persisted_seq = seq;
        return;
    }
    if (!j->progress_unsaved)
        fprintf(stderr, "mcmcd: job %s: cannot save its progress (tried again): %s\n", j->id, why);
    j->progress_unsaved = 1;
}

/* Saves the chains' counters and the seq of the last event sent, so
 * numbering continues after a restart.
 * Advisory: when the registry refuses the write, persisted_seq stays as
 * it was and the next persist (a second later) tries again; the error is
 * returned (and logged once per job until a write goes through). */
static int persist_progress(job *j) {
    char *text = progress_json(j);
    uint64_t seq = job_events_last_seq(j->events);
    int rc =
        text ? registry_job_set_progress(j->app->reg, j->id, text, (int64_t)seq) : REGISTRY_ENOMEM;
    free(text);
    progress_saved(j, rc,
                   rc == REGISTRY_ENOMEM ? "out of memory" : registry_last_error(j->app->reg), seq);
    /* after a failure too: not at every report, as each may wait out a lock */
    j->last_persist_ms = app_now_ms();
    return rc;
}

/* A running job's periodic progress on its way into the registry, made by
 * the registry's sync thread (durable.h) so that the loop writes nothing a
 * second per running job: a write on the loop can wait milliseconds for
 * the file system (ext4's journal), or sync a new WAL header, with every
 * request behind it. One at a time per job; the job is found again by id
 * when it is done, as it may have left memory meanwhile. */
typedef struct progress_write {
    durable_write w; /* first: done gets it back as a progress_write */
    app *a;
    char id[JOB_ID_LEN + 1];
    char *text;
    uint64_t seq;
} progress_write;

static int write_progress(registry *reg, void *ctx) {
    const progress_write *p = ctx;
    return registry_job_set_running_progress(reg, p->id, p->text, (int64_t)p->seq);
}

static void on_progress_written(durable_write *w) {
    progress_write *p = (progress_write *)w;
    job *j = p->a->jobs_by_id ? job_table_get(p->a->jobs_by_id, p->id) : NULL;
    /* NOT_FOUND: it ended, or a newer progress was recorded, meanwhile;
     * once it has ended its end holds its progress */
    if (j) j->progress_queued = 0;
    if (j && w->status != REGISTRY_NOT_FOUND && (w->status == REGISTRY_OK || !job_is_final(j)))
        progress_saved(j, w->status, w->why, p->seq);
    free(p->text);
    free(p);
}

/* persist_progress for the save of a running job every second: through the
 * sync thread where there is one, else (or out of memory) on the loop. */
static void persist_progress_soon(job *j) {
    app *a = j->app;
    if (a->durable && j->progress_queued) return; /* the next report tries again */
    progress_write *p = a->durable ? calloc(1, sizeof *p) : NULL;
    char *text = p ? progress_json(j) : NULL;
    if (!text) {
        free(p);
        persist_progress(j);
        return;
    }
    *p = (progress_write){.a = a, .text = text, .seq = job_events_last_seq(j->events)};
    snprintf(p->id, sizeof p->id, "%s", j->id);
    p->w.run = write_progress;
    p->w.done = on_progress_written;
    p->w.ctx = p;
    j->progress_queued = 1;
    j->last_persist_ms = app_now_ms();
    durable_write_queue(a->durable, &p->w);
}

/* --- finishing ----------------------------------------------------------- */

static void job_set_error(job *j, const char *msg) {
    free(j->error);
    j->error = msg ? strdup(msg) : NULL;
}

static int remove_dataset_payload(void *ctx, const char *id) {
    dataset_store_remove(((app *)ctx)->datasets_dir, id);
    return 0;
}

static void retry_arm(app *a);

/* The job has reached its final state in the registry: the same in
 * memory, then the event log and the watchers. A dataset that only this
 * job still needed (its users dropped their references meanwhile) goes
 * now. */
static void job_ended(job *j, registry_job_state st, const char *error) {
    app *a = j->app;
    job_set_error(j, error);
    j->state = st;
    j->end_pending = 0;
    if (a->on_job_finished) a->on_job_finished(st, j->started_ms, j->finished_ms);
    j->user->active_jobs--;
    /* refused, the sweep collects it later: nothing is lost by waiting */
    if (j->dataset_id[0] &&
        registry_dataset_collect(a->reg, remove_dataset_payload, a) != REGISTRY_OK)
        fprintf(stderr, "mcmcd: job %s: its dataset is collected later: %s\n", j->id,
                registry_last_error(a->reg));
    uint64_t *draws = calloc(j->chains, sizeof *draws);
    for (uint32_t c = 0; draws && c < j->chains; c++)
        draws[c] = j->counts[c].draws;
    job_events_add_done(j->events, job_state_name(j), error, draws, app_now());
    free(draws);
    job_notify(j);
}

/* Records the job's end in the registry: its progress (with the seq of
 * the done event to come), then its state. REGISTRY_OK or the failure. */
static int job_record_end(job *j, registry_job_state st, const char *error) {
    char *progress = progress_json(j);
    uint64_t seq = job_events_last_seq(j->events) + 1;
    int64_t now = app_now_ms();
    int rc = progress ? registry_job_end(j->app->reg, j->id, st, error, now, progress, (int64_t)seq)
                      : registry_fail(j->app->reg, REGISTRY_ENOMEM, "out of memory");
    free(progress);
    if (rc != REGISTRY_OK) return rc;
    j->finished_ms = now;
    j->progress_unsaved = 0;
    j->persisted_seq = seq;
    j->last_persist_ms = now;
    return rc;
}

/* Moves the job to a final state: registry first (durable), then the
 * rest (job_ended). When the registry refuses the write (the disk is full
 * past its reserve, its write lock is held elsewhere), the job stays as
 * the registry has it, still running with no chain left, and the same end
 * is tried again every second (retry_pending) until it is recorded: what
 * a client sees never runs ahead of the disk. Returns the registry's
 * status. */
static int job_finish(job *j, registry_job_state st, const char *error) {
    job_release_run_state(j);
    unmade_drop(j); /* ended queued: its files are never made */
    int rc = job_record_end(j, st, error);
    if (rc == REGISTRY_OK) {
        job_ended(j, st, error);
        return rc;
    }
    if (!j->end_pending)
        fprintf(stderr, "mcmcd: job %s: cannot record that it %s (tried again every second): %s\n",
                j->id, registry_job_state_name(st), registry_last_error(j->app->reg));
    j->end_pending = 1;
    j->end_state = st;
    utf8_clip(j->end_error, sizeof j->end_error, error ? error : "");
    retry_arm(j->app);
    return rc;
}

/* "chain 2 went non-finite at draw 1234" for the first chain that did
 * (draws are the job's own indices, warmup rows included), and how many
 * more did. */
static void nonfinite_message(const job *j, char *buf, size_t cap) {
    uint32_t first = UINT32_MAX, more = 0;
    for (uint32_t c = 0; c < j->chains; c++)
        if (j->counts[c].nonfinite) {
            if (first == UINT32_MAX)
                first = c;
            else
                more++;
        }
    if (first == UINT32_MAX) {
        snprintf(buf, cap, "%s", mcmc_status_str(MCMC_ENONFINITE));
        return;
    }
    const chain_counts *k = &j->counts[first];
    int n = k->nonfinite_at == UINT64_MAX
                ? snprintf(buf, cap, "chain %u went non-finite in warmup iteration %llu", first,
                           (unsigned long long)k->iter)
                : snprintf(buf, cap, "chain %u went non-finite at draw %llu", first,
                           (unsigned long long)k->nonfinite_at);
    if (more && n > 0 && (size_t)n < cap)
        snprintf(buf + n, cap - (size_t)n, " (and %u more chain%s)", more, more > 1 ? "s" : "");
}

/* A write of the draws failed: "disk_full: ..." when the disk was full. */
static void write_failed_message(const job *j, char *buf, size_t cap) {
    if (storage_errno_is_full(j->write_errno))
        snprintf(buf, cap,
                 DISK_FULL_PREFIX " the disk was full as the job wrote its draws (%s); the "
                                  "draws written before are kept",
                 strerror(j->write_errno));
    else
        snprintf(buf, cap, "cannot write the job's draws: %s", strerror(j->write_errno));
}

/* All chains have returned: decide how the job ended. */
static void job_chains_finished(job *j) {
    if (j->interrupted) { /* shutdown: stays "running" on disk, rerun at restart */
        job_release_run_state(j);
        persist_progress(j);
        return;
    }
    char msg[160];
    if (j->cancel_requested) {
        job_finish(j, REGISTRY_JOB_CANCELLED, NULL);
    } else if (j->time_limit_s) {
        time_limit_message(j, msg, sizeof msg);
        job_finish(j, REGISTRY_JOB_FAILED, msg);
    } else if (j->chain_rc == MCMC_ENONFINITE) {
        nonfinite_message(j, msg, sizeof msg);
        job_finish(j, REGISTRY_JOB_FAILED, msg);
    } else if (j->chain_rc == MCMC_EIO && j->write_errno) {
        write_failed_message(j, msg, sizeof msg);
        job_finish(j, REGISTRY_JOB_FAILED, msg);
    } else if (j->chain_rc != MCMC_OK) {
        job_finish(j, REGISTRY_JOB_FAILED,
                   j->prep_error[0] ? j->prep_error : mcmc_status_str(j->chain_rc));
    } else {
        job_finish(j, REGISTRY_JOB_SUCCEEDED, NULL);
    }
}

/* --- reports from workers ------------------------------------------------ */

/* Keeps a chain's adaptation (taking r's) and saves them all. */
static void adaptation_apply(job *j, chain_report *r) {
    chain_adaptation_clear(&j->adapt[r->chain]);
    j->adapt[r->chain] = r->adapt;
    r->adapt = (chain_adaptation){0};
    j->adapt_loaded = 1;
    job_adaptation_save(j); /* advisory: a failure loses only the warm start */
}

static void report_apply(app *a, chain_report *r) {
    job *j = r->job;
    chain_counts *k = &j->counts[r->chain];
    a->draws_total += r->counts.draws - k->draws;
    a->grad_evals_total += r->counts.grad_evals - k->grad_evals;
    *k = r->counts;
    if (r->adapt.known) adaptation_apply(j, r);
    job_progress p = job_chain_progress(j, r->chain);
    job_events_add_progress(j->events, &p, app_now());
    if (app_now_ms() - j->last_persist_ms >= PERSIST_EVERY_MS ||
        job_events_last_seq(j->events) - j->persisted_seq >= SEQ_RESTART_GAP / 2)
        persist_progress_soon(j);
    job_notify(j);
}

void jobs_drain_reports(app *a) {
    pthread_mutex_lock(&a->reports_lock);
    chain_report *r = a->reports_head;
    a->reports_head = a->reports_tail = NULL;
    pthread_mutex_unlock(&a->reports_lock);
    while (r) {
        chain_report *next = r->next;
        report_apply(a, r);
        chain_adaptation_clear(&r->adapt);
        free(r);
        r = next;
    }
}

/* --- chains, wherever their executor runs them ---------------------------- */

int job_write_rows(const job *j, int fd, uint32_t c, uint64_t first, uint32_t count,
                   const double *rows, size_t width) {
    size_t bytes = (size_t)count * width * sizeof(double);
    off_t off = (off_t)(((uint64_t)c * j->samples + first) * width * sizeof(double));
    for (size_t done = 0; done < bytes;) {
        ssize_t w = pwrite(fd, (const char *)rows + done, bytes - done, off + (off_t)done);
        if (w < 0 && errno == EINTR) continue;
        if (w == 0) errno = ENOSPC; /* no room for one more byte */
        if (w <= 0) return -1;
        done += (size_t)w;
    }
    return 0;
}

void jobs_chain_progress(job *j, uint32_t c, const chain_counts *k, chain_adaptation *adapt) {
    chain_report r = {.job = j, .chain = c, .counts = *k};
    if (adapt) r.adapt = *adapt, *adapt = (chain_adaptation){0};
    report_apply(j->app, &r);
    chain_adaptation_clear(&r.adapt);
}

void jobs_chain_ended(job *j, uint32_t c, int rc, int write_errno, const char *why) {
    app *a = j->app;
    j->user->running_chains--;
    if (rc == MCMC_ENONFINITE) {
        /* its draws up to there are kept; the other chains run on, so the
         * job's draws do not depend on timing */
        j->counts[c].nonfinite = 1;
        if (j->chain_rc == MCMC_OK) j->chain_rc = rc;
    } else if (rc != MCMC_OK && rc != MCMC_ECANCELLED &&
               (j->chain_rc == MCMC_OK || j->chain_rc == MCMC_ENONFINITE)) {
        j->chain_rc = rc;
        j->write_errno = write_errno;
        if (why) snprintf(j->prep_error, sizeof j->prep_error, "%s", why);
        if (!why) a->exec->stop(j); /* one chain failed: stop the others */
    }
    if (++j->chains_done == j->chains) job_chains_finished(j);
    schedule(a);
}

void jobs_model_done(job *j) {
    memory_give_back(j);
    model_free(j->model);
    dataset_free(j->ds);
    j->model = NULL;
    j->ds = NULL;
}

void jobs_unqueue(job *j) {
    queue_remove(j->app, j);
}

void jobs_schedule(app *a) {
    schedule(a);
}

/* --- preparing: dataset, model, draws file, on the thread pool ------------ */

typedef struct prepare_task {
    app_work work;
    job *job;
    const char **names; /* the model's, for the loop to adopt (job_names_capture) */
} prepare_task;

static int prepare_model(job *j, const char ***names) {
    const job_spec *s = &j->spec;
    int rc = s->model->y == Y_NONE ? MCMC_OK
             : s->data == SPEC_DATA_SYNTHETIC
                 ? dataset_synthesize(&s->synthetic, &j->ds)
                 : dataset_store_load(j->app->datasets_dir, j->dataset_id, &j->ds, j->prep_error,
                                      sizeof j->prep_error);
    if (rc == DATASET_STORE_ENOENT) /* removed from under the daemon */
        snprintf(j->prep_error, sizeof j->prep_error,
                 "dataset %.64s: its file is missing from the data dir (datasets/%.64s.ds)",
                 j->dataset_id, j->dataset_id);
    if (rc != MCMC_OK) {
        if (!j->prep_error[0])
            snprintf(j->prep_error, sizeof j->prep_error, "dataset %.64s: %s", j->dataset_id,
                     mcmc_status_str(rc));
        return -1;
    }
    j->model = job_spec_build_model(s, j->ds, j->prep_error, sizeof j->prep_error);
    if (j->model) *names = job_names_capture(j, j->model); /* advisory: theta.k without */
    return j->model ? 0 : -1;
}

/* The job's files made now, their space taken: a disk too full for them
 * fails the job with reason disk_full before its chains start. */
static int prepare_files(job *j) {
    char path[4500];
    int e = job_files_make(j, 1, path, sizeof path);
    if (!e) return 0;
    if (storage_errno_is_full(e))
        snprintf(j->prep_error, sizeof j->prep_error,
                 DISK_FULL_PREFIX
                 " no room for the job's draws and statistics files (%llu bytes): %s",
                 (unsigned long long)job_draw_bytes(j), strerror(e));
    else
        snprintf(j->prep_error, sizeof j->prep_error, "cannot create %.200s: %s", path,
                 strerror(e));
    return -1;
}

static int prepare_draws_file(job *j) {
    char path[4500];
    job_draws_path(j, path, sizeof path);
    j->draws_fd = open_body(j, path, j->d, 0);
    if (j->draws_fd < 0) {
        snprintf(j->prep_error, sizeof j->prep_error, "draws file: %s", strerror(errno));
        return -1;
    }
    job_stats_path(j, path, sizeof path);
    j->stats_fd = open_body(j, path, chain_stat_count(j->stats), 0);
    if (j->stats_fd < 0) {
        snprintf(j->prep_error, sizeof j->prep_error, "statistics file: %s", strerror(errno));
        return -1;
    }
    return 0;
}

static void prepare_work(uv_work_t *req) {
    prepare_task *t = req->data;
    job *j = t->job;
    j->prep_error[0] = 0;
    if (prepare_files(j) == 0 && prepare_model(j, &t->names) == 0) prepare_draws_file(j);
    j->log_file_made = !j->prep_error[0]; /* prepare_files made it */
}

/* Whether the user may start one more chain now (running_chains). */
static int user_may_run(const app_user *u) {
    uint64_t limit = u->limits.v[LIMIT_RUNNING_CHAINS];
    return limit == 0 || u->running_chains < limit;
}

static void prepare_after(uv_work_t *req, int status) {
    prepare_task *t = req->data;
    job *j = t->job;
    app *a = j->app;
    job_names_adopt(j, t->names);
    free(t);
    a->preparing--;
    j->preparing = 0;
    unmade_drop(j); /* made now, or the job fails */
    if (!j->prep_error[0]) j->files_made = 1;
    if (status != 0 && !j->prep_error[0])
        snprintf(j->prep_error, sizeof j->prep_error, "cancelled");
    if (j->prep_error[0] || j->cancel_requested || j->time_limit_s || a->shutting_down) {
        char msg[160];
        queue_remove(a, j);
        if (a->shutting_down) {
            job_release_run_state(j);
        } else if (j->cancel_requested) {
            job_finish(j, REGISTRY_JOB_CANCELLED, NULL);
        } else if (j->time_limit_s) {
            time_limit_message(j, msg, sizeof msg);
            job_finish(j, REGISTRY_JOB_FAILED, msg);
        } else {
            job_finish(j, REGISTRY_JOB_FAILED, j->prep_error);
        }
    } else if (a->exec->has_room(a) && user_may_run(j->user)) {
        a->exec->start(j); /* the worker it was picked for */
    }
    schedule(a);
}

/* queued -> running: durable first, then announced; then prepare. When
 * the registry refuses the write, the job stays queued (as on disk), and
 * no queued job starts until the retry timer has tried again (a second
 * later): the refusal is the registry's, not the job's. */
static void job_begin(job *j) {
    app *a = j->app;
    int64_t now = app_now_ms();
    if (registry_job_set_state(a->reg, j->id, REGISTRY_JOB_RUNNING, NULL, now) != REGISTRY_OK) {
        if (!a->starts_paused)
            fprintf(stderr,
                    "mcmcd: job %s: cannot record its start (no queued job starts until it "
                    "can; tried again every second): %s\n",
                    j->id, registry_last_error(a->reg));
        a->starts_paused = 1;
        retry_arm(a);
        return;
    }
    for (uint32_t c = 0; c < j->chains; c++) /* a rerun adapts again */
        chain_adaptation_clear(&j->adapt[c]);
    job_adaptation_remove(j);
    j->adapt_loaded = 1;
    memory_take(j); /* held until its run state goes: job_release_run_state */
    j->started_ms = now;
    /* its seq was saved with its row: the next save is due in a second (a
     * short job's first report writes nothing; its end records its progress) */
    j->last_persist_ms = now;
    j->state = REGISTRY_JOB_RUNNING;
    job_events_add_state(j->events, "running", NULL, app_now());
    job_notify(j);
    prepare_task *t = calloc(1, sizeof *t);
    if (!t) {
        queue_remove(a, j);
        job_finish(j, REGISTRY_JOB_FAILED, "out of memory");
        return;
    }
    t->job = j;
    j->preparing = 1;
    a->preparing++;
    app_queue_work(a, &t->work, t, prepare_work, prepare_after);
}

/* Whether x goes before y among one user's waiting jobs: a job already
 * running (prepared, some chains started) first, then higher priority,
 * then the older. */
static int job_goes_before(const job *x, const job *y) {
    int rx = x->state == REGISTRY_JOB_RUNNING, ry = y->state == REGISTRY_JOB_RUNNING;
    if (rx != ry) return rx;
    if (x->spec.priority != y->spec.priority) return x->spec.priority > y->spec.priority;
    return x->queue_order < y->queue_order;
}

/* The job whose chain starts next, or NULL: one pass over the users and
 * one over the queue (which is in queue_order). A queued job whose memory
 * does not fit beside the running jobs' waits, and so does every queued
 * job younger than it, so that small jobs cannot starve a large one;
 * chains of jobs already running hold their memory and go on starting. */
static job *pick_next(app *a) {
    for (size_t i = 0; i < a->nusers; i++) {
        a->users[i]->sched_pick = NULL;
        a->users[i]->sched_oldest = UINT64_MAX;
    }
    int memory_blocked = 0;
    for (job *j = a->queue_head; j; j = j->queue_next) {
        app_user *u = j->user;
        if (j->preparing || !user_may_run(u)) continue;
        if (j->state == REGISTRY_JOB_QUEUED &&
            (a->starts_paused || a->recovery_pending || memory_blocked || !memory_fits(a, j))) {
            memory_blocked = 1;
            continue;
        }
        if (!u->sched_pick || job_goes_before(j, u->sched_pick)) u->sched_pick = j;
        if (j->queue_order < u->sched_oldest) u->sched_oldest = j->queue_order;
    }
    app_user *best = NULL;
    for (size_t i = 0; i < a->nusers; i++) {
        app_user *u = a->users[i];
        if (u->sched_pick &&
            (!best || u->running_chains < best->running_chains ||
             (u->running_chains == best->running_chains && u->sched_oldest < best->sched_oldest)))
            best = u;
    }
    return best ? best->sched_pick : NULL;
}

/* Fills free worker slots, one chain at a time, by fair share: a free
 * worker goes to the user with the fewest chains running now (ties: the
 * user whose waiting job is oldest); within one user's jobs, a job whose
 * chains are partly started comes first, then higher spec.priority, then
 * first in first out. Users at their running_chains limit are skipped, so
 * their jobs wait (a job with more chains than the limit runs in waves).
 * A queued job picked is prepared first; while one prepares nothing else
 * starts, and when it is ready it takes the worker it was picked for.
 * Memory comes first: a queued job starts only when its memory fits in
 * memory_budget beside the jobs preparing or running (pick_next).
 * Each decision is O(users + queued jobs). */
static void schedule(app *a) {
    while (!a->shutting_down && !a->preparing && a->exec->has_room(a)) {
        job *j = pick_next(a);
        if (!j) return;
        if (j->state == REGISTRY_JOB_QUEUED)
            job_begin(j);
        else
            a->exec->start(j);
    }
}

/* A running job that is stopping (cancel, time limit) starts no more
 * chains: those not started count as done, and with none on a worker it
 * ends now. A job still preparing ends when its preparation returns. */
static void job_stop_unstarted(job *j) {
    if (j->preparing || j->chains_started == j->chains) return;
    queue_remove(j->app, j);
    j->chains_done += j->chains - j->chains_started;
    j->chains_started = j->chains;
    if (j->chains_done == j->chains) job_chains_finished(j);
}

void jobs_stop_time_limit(app *a, job *j, uint64_t limit_s) {
    if (j->state != REGISTRY_JOB_RUNNING || j->time_limit_s || j->cancel_requested ||
        j->interrupted || j->end_pending || a->recovery_pending || a->shutting_down)
        return;
    j->time_limit_s = limit_s ? limit_s : 1;
    a->exec->stop(j); /* chains stop soon */
    job_stop_unstarted(j);
    schedule(a);
}

/* --- submit, cancel, delete ---------------------------------------------- */

int jobs_submit_begin(app *a, int64_t owner, job_spec *spec, const char *dataset_id, size_t d,
                      job **out) {
    char id[JOB_ID_LEN + 1];
    json_t *canon = job_spec_to_json(spec);
    char *text = canon ? json_dumps(canon, JSON_COMPACT | JSON_SORT_KEYS) : NULL;
    json_decref(canon);
    job *j = text && make_job_id(id) == 0 ? job_new(a, id, spec, 0) : NULL;
    if (!j || !(j->user = app_user_get(a, owner))) {
        free(text);
        if (j) job_free(j);
        return registry_fail(a->reg, REGISTRY_ENOMEM, "out of memory");
    }
    j->spec_json = text;
    j->d = d;
    j->owner = owner;
    j->state = REGISTRY_JOB_QUEUED;
    j->names_loaded = 1; /* a new job's names come with its model: no names.json to read */
    if (dataset_id) snprintf(j->dataset_id, sizeof j->dataset_id, "%s", dataset_id);
    job_size(j);
    usage_add(j); /* counted now: a second submit checks its quota against this one */
    *out = j;
    return REGISTRY_OK;
}

int jobs_submit_room(job *j, char *why, size_t cap) {
    app *a = j->app;
    uint64_t bytes = job_draw_bytes(j), free_bytes = storage_free_bytes(a->jobs_dir);
    uint64_t want = bytes + a->unmade_bytes; /* the queued jobs' files come first */
    if (want <= free_bytes && want >= bytes) return REGISTRY_OK;
    storage_full_message(a->jobs_dir, bytes, "the job's draws and statistics files", why, cap);
    if (a->unmade_bytes) {
        size_t n = strlen(why);
        snprintf(why + n, cap - n, ", of which %llu are promised to the jobs queued before it",
                 (unsigned long long)(a->unmade_bytes < free_bytes ? a->unmade_bytes : free_bytes));
    }
    return REGISTRY_FULL;
}

/* Undoes jobs_submit_begin for a job not recorded (it made no files). */
static void submit_undo(app *a, job *j, int added) {
    unmade_drop(j);
    if (added) jobs_remove(a, j);
    j->user->draw_bytes -= job_draw_bytes(j);
    j->user->active_jobs--;
    job_free(j);
}

/* A submission on its way into the registry: the job's row, then the
 * caller's writes, in one transaction; made by the registry's sync thread
 * (durable.h), or on the loop when there is none. */
typedef struct submission {
    durable_write w; /* first: done gets it back as a submission */
    app *a;
    job *j;
    registry_job row; /* its strings are the job's, which stays until done */
    char *tags;
    registry_writes_fn also;
    void *also_ctx;
    jobs_submitted_fn done;
    void *done_ctx;
} submission;

static int write_submission(registry *reg, void *ctx) {
    const submission *s = ctx;
    int rc = registry_job_insert(reg, &s->row);
    return rc == REGISTRY_OK && s->also ? s->also(reg, s->also_ctx) : rc;
}

/* Recorded, or not: the job joins the queue, or goes. */
static void submission_end(submission *s, int rc, const char *why) {
    app *a = s->a;
    job *j = s->j;
    if (rc == REGISTRY_OK) {
        job_events_add_state(j->events, "queued", NULL, app_now());
        queue_push(a, j);
        schedule(a);
    } else {
        if (why) registry_fail(a->reg, rc, why);
        submit_undo(a, j, 1);
        j = NULL;
    }
    jobs_submitted_fn done = s->done;
    void *ctx = s->done_ctx;
    free(s->tags);
    free(s);
    done(ctx, j, rc);
}

/* The sync thread's answer. A full disk is tried again on the loop, whose
 * registry_write_together releases the reserve and tries once more, as it
 * does for the loop's own writes (the sync thread's connection has none). */
static void on_submission_written(durable_write *w) {
    submission *s = (submission *)w;
    if (w->status == REGISTRY_FULL) {
        submission_end(s, registry_write_together(s->a->reg, write_submission, s), NULL);
        return;
    }
    submission_end(s, w->status, w->status == REGISTRY_OK ? NULL : w->why);
}

void jobs_submit_end(app *a, job *j, int files_rc, const char *why, registry_writes_fn also,
                     void *also_ctx, jobs_submitted_fn done, void *done_ctx) {
    if (files_rc != REGISTRY_OK) {
        submit_undo(a, j, 0);
        done(done_ctx, NULL, registry_fail(a->reg, files_rc, why));
        return;
    }
    /* created as it joins the queue: created orders the queue (first in,
     * first out), and the files of submissions in flight end in any order */
    j->created_ms = app_now_ms();
    submission *s = calloc(1, sizeof *s);
    char *tags = s ? job_tags_text(j) : NULL;
    /* the files came first: the registry row is the commit point */
    if (!tags || jobs_add(a, j) != 0) {
        free(tags);
        free(s);
        submit_undo(a, j, 0);
        done(done_ctx, NULL, registry_fail(a->reg, REGISTRY_ENOMEM, "out of memory"));
        return;
    }
    /* its files are made when it starts; promised from now on, so that the
     * room checks of the submissions in flight behind it count them */
    unmade_add(j);
    *s = (submission){.a = a,
                      .j = j,
                      .tags = tags,
                      .also = also,
                      .also_ctx = also_ctx,
                      .done = done,
                      .done_ctx = done_ctx};
    s->row = (registry_job){.id = j->id,
                            .spec = j->spec_json,
                            .dataset_id = j->dataset_id[0] ? j->dataset_id : NULL,
                            .created_ms = j->created_ms,
                            .chains = j->chains,
                            .num_samples = (int64_t)j->samples,
                            .d = (int64_t)j->d,
                            .owner = j->owner,
                            .name = j->spec.name,
                            .tags = tags};
    if (a->durable) {
        s->w.run = write_submission;
        s->w.done = on_submission_written;
        s->w.ctx = s;
        durable_write_queue(a->durable, &s->w);
        return;
    }
    submission_end(s, registry_write_together(a->reg, write_submission, s), NULL);
}

size_t jobs_active(const app *a) {
    size_t n = 0;
    for (size_t i = 0; i < a->nusers; i++)
        n += a->users[i]->active_jobs;
    return n;
}

int jobs_cancel(app *a, job *j) {
    if (job_is_final(j)) return REGISTRY_BAD_TRANSITION;
    if (j->state == REGISTRY_JOB_QUEUED) {
        /* recorded first: refused, the job stays queued and the caller
         * answers so (nothing is left to be tried again) */
        int rc = job_record_end(j, REGISTRY_JOB_CANCELLED, NULL);
        if (rc != REGISTRY_OK) return rc;
        queue_remove(a, j);
        unmade_drop(j); /* its files are never made: the room promised goes back */
        job_ended(j, REGISTRY_JOB_CANCELLED, NULL);
        return 0;
    }
    if (!j->cancel_requested) {
        /* durable before it is answered: a restart ends the job cancelled,
         * with the draws its progress counts */
        int rc = registry_job_request_cancel(a->reg, j->id);
        if (rc != REGISTRY_OK) return rc;
        persist_progress(j);
    }
    j->cancel_requested = 1;
    a->exec->stop(j); /* chains stop soon */
    job_stop_unstarted(j);
    schedule(a);
    return 0;
}

/* Returns 0, or REGISTRY_IN_USE while the job is queued or running. */
int jobs_delete(app *a, job *j) {
    if (!job_is_final(j)) return REGISTRY_IN_USE;
    int rc = registry_job_delete(a->reg, j->id);
    if (rc != REGISTRY_OK && rc != REGISTRY_NOT_FOUND) return rc;
    job_remove_files(j);
    jobs_remove(a, j);
    j->user->draw_bytes -= job_draw_bytes(j);
    j->deleted = 1;
    if (!j->watchers)
        job_free(j);
    else
        job_notify(j); /* their streams see `deleted` and end */
    return 0;
}

/* Shutdown: running chains stop at their next block and their jobs stay
 * "running" on disk, so the next start runs them again (same bits). */
void jobs_shutdown(app *a) {
    a->shutting_down = 1;
    /* a clean stop: no running job's start counts towards a crash loop */
    if (registry_jobs_stopped_cleanly(a->reg) != REGISTRY_OK)
        fprintf(stderr, "mcmcd: cannot record the clean stop: %s\n", registry_last_error(a->reg));
    for (job *j = a->live.head; j; j = j->res_next)
        if (j->state == REGISTRY_JOB_RUNNING) j->interrupted = 1;
    a->exec->shutdown(a);
}

/* --- restore after a restart --------------------------------------------- */

/* "path: message; ..." of errs into buf. */
static void spec_errors_text(const spec_errors *errs, char *buf, size_t cap) {
    size_t len = 0;
    buf[0] = '\0';
    for (size_t i = 0; i < errs->count && len + 1 < cap; i++) {
        const spec_error *e = &errs->items[i];
        int n = snprintf(buf + len, cap - len, "%s%s%s%s", i ? "; " : "", e->path,
                         e->path[0] ? ": " : "", e->message);
        len = n < 0 ? cap : len + (size_t)n;
    }
    if (errs->dropped && len + 1 < cap)
        snprintf(buf + len, cap - len, "; and %zu more", errs->dropped);
}

/* What an unreadable spec's job runs with: no parameters, no statistics, no
 * accept step, no metric; it never runs. */
static const sampler_def unreadable_sampler = {.name = "unreadable",
                                               .help = "a stored spec this build cannot read"};

/* A stored spec this build cannot read (an upgrade changed what parses):
 * the job is kept with the shape the registry recorded, shown as failed
 * with the parse errors, and logged. Returns 0 or -1 (out of memory). */
static int unreadable_spec(const registry_job *row, const spec_errors *errs, job_spec *spec,
                           char **error) {
    char reasons[1024];
    spec_errors_text(errs, reasons, sizeof reasons);
    size_t cap = sizeof reasons + 160;
    if (!(*error = malloc(cap))) return -1;
    snprintf(*error, cap, "this mcmcd cannot read the job's stored spec (the job was %s): %s",
             registry_job_state_name(row->state), reasons);
    fprintf(stderr, "mcmcd: job %s: %s; it is shown as failed\n", row->id, *error);
    memset(spec, 0, sizeof *spec);
    spec->chain.sampler = &unreadable_sampler;
    spec->chain.chains = (uint32_t)row->chains;
    spec->chain.num_samples = (uint64_t)row->num_samples;
    spec->chain.thin = 1;
    return 0;
}

/* A job as its registry row has it, without its event log. */
static job *job_from_row(app *a, const registry_job *row) {
    job_spec spec;
    spec_errors errs;
    char *unreadable = NULL;
    if (job_spec_parse_stored(row->spec, strlen(row->spec), &spec, &errs) != 0 &&
        unreadable_spec(row, &errs, &spec, &unreadable) != 0)
        return NULL;
    job *j = job_new_bare(a, row->id, &spec);
    if (!j || !(j->spec_json = strdup(row->spec)) || !(j->user = app_user_get(a, row->owner))) {
        if (j) job_free(j);
        free(unreadable);
        return NULL;
    }
    j->d = (size_t)row->d;
    j->owner = row->owner;
    j->state = row->state;
    j->created_ms = row->created_ms;
    j->started_ms = row->started_ms;
    j->finished_ms = row->finished_ms;
    j->persisted_seq = (uint64_t)row->seq;
    if (row->dataset_id)
        snprintf(j->dataset_id, sizeof j->dataset_id, "%s", row->dataset_id);
    else if (j->spec.data == SPEC_DATA_DATASET)
        snprintf(j->dataset_id, sizeof j->dataset_id, "%s", j->spec.dataset_id);
    job_set_error(j, row->error);
    progress_restore(j, row->progress);
    if (unreadable) {
        j->spec_unreadable = 1;
        j->stored_state = row->state;
        j->state = REGISTRY_JOB_FAILED;
        free(j->error);
        j->error = unreadable;
    }
    return j;
}

/* A job that had not ended comes back live, its log numbered after a gap;
 * an ended one only counts in its owner's usage (jobs_find reads it back
 * when it is asked for). */
static int restore_one(void *ctx, const registry_job *row) {
    app *a = ctx;
    job *j = job_from_row(a, row);
    if (!j) return REGISTRY_ENOMEM;
    if (registry_job_state_is_final(row->state)) {
        usage_add(j);
        job_free(j);
        return 0;
    }
    if (!(j->events =
              job_events_new(j->id, j->chains, (uint64_t)row->seq + SEQ_RESTART_GAP, 256)) ||
        jobs_add(a, j) != 0) {
        job_free(j);
        return REGISTRY_ENOMEM;
    }
    j->events_unsaved = 1;
    if (j->state == REGISTRY_JOB_QUEUED) unmade_add(j); /* its files may not be made yet */
    job_events_add_state(j->events, job_state_name(j), j->error, app_now());
    if (job_is_final(j)) { /* an unreadable spec: it failed as it came back */
        uint64_t *draws = calloc(j->chains, sizeof *draws);
        for (uint32_t c = 0; draws && c < j->chains; c++)
            draws[c] = j->counts[c].draws;
        job_events_add_done(j->events, job_state_name(j), j->error, draws, app_now());
        free(draws);
    }
    return 0;
}

/* A queued job whose spec is unreadable can never run: it fails on disk too
 * (queued, running, failed: the registry's only way there), so that the
 * registry's state filters and counts agree with what is shown. A job that
 * had ended keeps its stored state, for a build that reads its spec. */
static void fail_unreadable_queued(app *a) {
    for (job *j = a->live.head; j; j = j->res_next) {
        if (!j->spec_unreadable || j->stored_state != REGISTRY_JOB_QUEUED) continue;
        j->started_ms = j->finished_ms = app_now_ms();
        if (registry_job_set_state(a->reg, j->id, REGISTRY_JOB_RUNNING, NULL, j->started_ms) !=
                REGISTRY_OK ||
            registry_job_set_state(a->reg, j->id, REGISTRY_JOB_FAILED, j->error, j->finished_ms) !=
                REGISTRY_OK)
            fprintf(stderr, "mcmcd: job %s: cannot record it as failed: %s\n", j->id,
                    registry_last_error(a->reg));
        j->stored_state = REGISTRY_JOB_FAILED;
    }
}

static int restore_queue_one(void *ctx, const char *id) {
    app *a = ctx;
    job *j = jobs_find(a, id);
    if (j && j->state == REGISTRY_JOB_QUEUED) queue_push(a, j);
    return 0;
}

/* A queued job that needs more memory than the budget (lowered since the
 * job was accepted) could never start: it fails now, too_large. */
static void fail_too_large(app *a) {
    for (job *j = a->live.head; j; j = j->res_next) {
        if (j->state != REGISTRY_JOB_QUEUED) continue;
        job_size(j);
        if (j->mem_bytes <= a->cfg.memory_budget) continue;
        char msg[200];
        snprintf(msg, sizeof msg,
                 "too_large: the job needs %llu bytes of memory; the memory budget is %llu",
                 (unsigned long long)j->mem_bytes, (unsigned long long)a->cfg.memory_budget);
        fprintf(stderr, "mcmcd: job %s: %s\n", j->id, msg);
        j->started_ms = app_now_ms();
        if (registry_job_set_state(a->reg, j->id, REGISTRY_JOB_RUNNING, NULL, j->started_ms) !=
            REGISTRY_OK) { /* it stays queued, as on disk; the next start tries again */
            fprintf(stderr, "mcmcd: job %s: cannot record that it failed: %s\n", j->id,
                    registry_last_error(a->reg));
            j->started_ms = 0;
            continue;
        }
        queue_remove(a, j);
        j->state = REGISTRY_JOB_RUNNING;
        job_finish(j, REGISTRY_JOB_FAILED, msg); /* refused: tried again every second */
    }
}

/* The registry's recovery of the jobs an unclean stop left running. */
static int recover_in_registry(app *a, registry_recovery *rec) {
    char crash[200];
    snprintf(crash, sizeof crash,
             "crash_loop: the daemon died %d times in a row while this job was running; it is "
             "not run again",
             CRASH_LOOP_LIMIT);
    registry_recovery_args args = {.crash_limit = CRASH_LOOP_LIMIT,
                                   .crash_error = crash,
                                   .now_ms = app_now_ms(),
                                   .seq_gap = SEQ_RESTART_GAP};
    return registry_jobs_recover(a->reg, &args, rec);
}

/* The jobs an unclean stop left running: a cancel that was answered 202
 * ends them cancelled, CRASH_LOOP_LIMIT deaths in a row end them failed,
 * the rest run again. */
static int recover_interrupted(app *a, char *err, size_t errlen) {
    registry_recovery rec;
    int rc = recover_in_registry(a, &rec);
    if (rc == REGISTRY_FULL || rc == REGISTRY_BUSY) {
        /* reads are still served: the jobs left running stay so, on disk
         * and in memory, until the retry timer recovers them */
        fprintf(stderr,
                "mcmcd: warning: cannot recover the jobs left running (%s): they stay "
                "\"running\", not run, and are recovered once the registry can be written "
                "(tried every second)\n",
                registry_last_error(a->reg));
        a->recovery_pending = 1;
        return 0;
    }
    if (rc != REGISTRY_OK) {
        snprintf(err, errlen, "registry: %s", registry_last_error(a->reg));
        return -1;
    }
    if (rec.cancelled || rec.crash_looped)
        fprintf(stderr,
                "mcmcd: of the jobs left running: %d cancelled as asked before the stop, %d "
                "failed (crash_loop), %d to run again\n",
                rec.cancelled, rec.crash_looped, rec.requeued);
    return 0;
}

/* --- writes the registry refused, tried again ------------------------------ */

/* A job restored while the recovery was pending, as the registry has it
 * now that it is done: queued again, or ended (cancelled, crash_loop). */
static int apply_recovery(job *j, void *ctx) {
    (void)ctx;
    registry_job row;
    if (j->state != REGISTRY_JOB_RUNNING || j->end_pending ||
        registry_job_get(j->app->reg, j->id, &row) != REGISTRY_OK)
        return 0;
    if (row.state == REGISTRY_JOB_QUEUED) {
        j->state = REGISTRY_JOB_QUEUED;
        j->started_ms = 0;
        memset(j->counts, 0, j->chains * sizeof(chain_counts)); /* a rerun starts over */
        queue_push(j->app, j);
        job_events_add_state(j->events, "queued", NULL, app_now());
        job_notify(j);
    } else if (registry_job_state_is_final(row.state)) {
        j->finished_ms = row.finished_ms;
        job_ended(j, row.state, row.error);
    }
    registry_job_clear(&row);
    return 0;
}

/* The recovery that start-up could not write. While it is pending no
 * queued job starts (pick_next), so every job running is one it covers. */
static void recover_again(app *a) {
    registry_recovery rec;
    if (recover_in_registry(a, &rec) != REGISTRY_OK) return;
    a->recovery_pending = 0;
    fprintf(stderr,
            "mcmcd: recovered the jobs left running: %d cancelled as asked before the stop, %d "
            "failed (crash_loop), %d to run again\n",
            rec.cancelled, rec.crash_looped, rec.requeued);
    jobs_each_live(a, apply_recovery, NULL);
}

static int retry_end(job *j, void *ctx) {
    int *pending = ctx;
    if (!j->end_pending) return 0;
    const char *error = j->end_error[0] ? j->end_error : NULL;
    if (job_record_end(j, j->end_state, error) == REGISTRY_OK) {
        fprintf(stderr, "mcmcd: job %s: its end (%s) is recorded now\n", j->id,
                registry_job_state_name(j->end_state));
        job_ended(j, j->end_state, error);
    } else {
        *pending = 1;
    }
    return 0;
}

/* Every second while a write is pending: the recovery, each job's end,
 * then the starts (schedule pauses them again if the registry still
 * refuses). */
static void retry_pending(uv_timer_t *t) {
    app *a = t->data;
    if (a->shutting_down) return;
    if (a->recovery_pending) recover_again(a);
    int pending = a->recovery_pending;
    jobs_each_live(a, retry_end, &pending);
    a->starts_paused = 0;
    schedule(a);
    if (pending) retry_arm(a);
}

static void retry_arm(app *a) {
    if (!uv_is_active((uv_handle_t *)&a->retry_timer))
        uv_timer_start(&a->retry_timer, retry_pending, 1000, 0);
}

int jobs_restore(app *a, char *err, size_t errlen) {
    if (!a->jobs_by_id && !(a->jobs_by_id = job_table_new())) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    uv_timer_init(a->loop, &a->retry_timer);
    a->retry_timer.data = a;
    if (recover_interrupted(a, err, errlen) != 0) return -1;
    char token[REGISTRY_TOKEN_SIZE] = "";
    int rc;
    do {
        rc = registry_job_list(a->reg, NULL, REGISTRY_PAGE_SIZE_MAX, token, restore_one, a, token);
    } while (rc == REGISTRY_OK && token[0]);
    if (rc == REGISTRY_OK) rc = registry_job_next_queued(a->reg, restore_queue_one, a);
    if (rc == REGISTRY_OK) fail_unreadable_queued(a);
    if (rc != REGISTRY_OK) {
        snprintf(err, errlen, "registry: %s", registry_status_str(rc));
        return -1;
    }
    for (job *j = a->live.head; j; j = j->res_next) { /* progress of a rerun starts over */
        if (j->state == REGISTRY_JOB_QUEUED) memset(j->counts, 0, j->chains * sizeof(chain_counts));
        usage_add(j); /* a job whose spec is unreadable is final by now */
    }
    fail_too_large(a);
    if (a->recovery_pending) retry_arm(a);
    schedule(a);
    return 0;
}
