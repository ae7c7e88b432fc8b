/* serve.c - `mcmcd serve`: start-up, the loop, shutdown; it sizes the
 * thread pool and runs the loop.
 *
 * Threads. One libuv loop thread owns everything that outlives a request:
 * the SQLite registry, the job table and queue, every job's event log, and
 * every HTTP connection. libmicrohttpd runs inside that loop in external
 * epoll mode (http.c), so request handlers and streaming callbacks run on
 * the loop thread too. libuv's thread pool runs the chains, one work item
 * per chain with at most `workers` at a time, plus short jobs (dataset
 * parsing, summaries), each queued through app_queue_work (app_work.c),
 * which counts it. A chain writes its draws into the job's draws file
 * itself (pwrite at their final offset) and queues a small report that
 * reaches the loop through a uv_async handle; the loop turns reports into
 * progress events and wakes the streams watching that job (jobs.c,
 * streams.c). A watcher with nothing to send is a suspended connection: it
 * costs no thread.
 *
 * Shutdown (SIGINT, SIGTERM): answer 503 to new requests, ask running
 * chains to stop at their next block (their jobs stay "running" on disk and
 * run again, bit for bit, at the next start), wait for the thread pool, end
 * the streams, close the registry, exit 0.
 */
#include <errno.h>
#include <dirent.h>
#ifdef __GLIBC__
#include <malloc.h>
#endif
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include "api_util.h"
#include "app.h"
#include "calibrate.h"
#include "list_items.h"
#include "clock.h"
#include "config.h"
#include "durable.h"
#include "executor.h"
#include "metrics.h"
#include "quota.h"
#include "serve.h"
#include "sweep.h"
#include "thread_sched.h"

int serve_make_dirs(const char *path) {
    char buf[4200];
    snprintf(buf, sizeof buf, "%s", path);
    for (char *p = buf + 1; *p; p++)
        if (*p == '/') {
            *p = 0;
            if (mkdir(buf, 0700) != 0 && errno != EEXIST) return -1;
            *p = '/';
        }
    return mkdir(buf, 0700) != 0 && errno != EEXIST ? -1 : 0;
}

/* --- files: modes and leftovers ----------------------------------------------- */

/* Whether name is a temporary file of a write cut short: a dataset's
 * ".ID.tmp.XXXXXX" (dataset_store.c) in datasets/, or a job file's
 * "NAME.tmp" (jobs.c) in its job dir. */
static int is_leftover(const char *name, int in_job_dir) {
    size_t n = strlen(name);
    if (in_job_dir) return n > 4 && !strcmp(name + n - 4, ".tmp");
    return name[0] == '.' && strstr(name, ".tmp.") != NULL;
}

/* Removes dir's leftovers; with job_dirs, those of each directory in it.
 * Returns how many went. */
static unsigned sweep_dir(const char *dir, int job_dirs, int in_job_dir) {
    DIR *d = opendir(dir);
    if (!d) return 0;
    unsigned removed = 0;
    char path[4600];
    for (struct dirent *e; (e = readdir(d));) {
        if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, "..")) continue;
        snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
        if (job_dirs && e->d_type == DT_DIR)
            removed += sweep_dir(path, 0, 1);
        else if (is_leftover(e->d_name, in_job_dir) && unlink(path) == 0)
            removed++;
    }
    closedir(d);
    return removed;
}

/* Temporary files a crash left behind, swept before anything runs. */
static void sweep_leftovers(const app *a) {
    unsigned n = sweep_dir(a->datasets_dir, 0, 0) + sweep_dir(a->jobs_dir, 1, 0);
    if (n)
        fprintf(stderr,
                "mcmcd: removed %u temporary file%s left by an interrupted write "
                "(datasets/.ID.tmp.*, jobs/ID/*.tmp)\n",
                n, n == 1 ? "" : "s");
}

/* The data dir 0700 and the registry's files 0600, also when an older
 * version made them readable to others; new files follow umask 077. */
static void tighten_modes(const app *a) {
    static const char *const files[] = {"registry.db", "registry.db-wal", "registry.db-shm"};
    char path[4300];
    chmod(a->cfg.data_dir, 0700);
    for (size_t i = 0; i < sizeof files / sizeof files[0]; i++) {
        snprintf(path, sizeof path, "%s/%s", a->cfg.data_dir, files[i]);
        chmod(path, 0600);
    }
}

/* Room for every connection the server may hold (http.h), as far as the
 * hard limit allows. */
static void raise_fd_limit(const serve_config *c) {
    struct rlimit rl;
    rlim_t want = (rlim_t)c->max_streams + HTTP_MAX_OTHER_CONNECTIONS + 1024;
    if (getrlimit(RLIMIT_NOFILE, &rl) != 0 || rl.rlim_cur >= want) return;
    rl.rlim_cur = rl.rlim_max == RLIM_INFINITY || rl.rlim_max > want ? want : rl.rlim_max;
    setrlimit(RLIMIT_NOFILE, &rl);
}

static void on_reports(void *ctx) {
    jobs_drain_reports(ctx);
}

static void on_sweep(uv_timer_t *t) {
    app *a = t->data;
    if (!a->shutting_down) sweep_run(a, app_now_ms());
}

/* The sweep, every sweep_seconds, once the jobs are restored. */
static void sweep_timer_start(app *a) {
    uv_timer_init(a->loop, &a->sweep);
    a->sweep.data = a;
    uint64_t ms = (uint64_t)(a->cfg.sweep_seconds * 1000);
    uv_timer_start(&a->sweep, on_sweep, ms, ms);
}

static void close_handle(uv_handle_t *h, void *arg) {
    (void)arg;
    if (!uv_is_closing(h)) uv_close(h, NULL);
}

/* Waits for the thread pool to empty, then stops HTTP and the loop. */
static void on_drain_check(uv_timer_t *t) {
    app *a = t->data;
    if (app_work_pending(a) > 0) return;
    uv_timer_stop(t);
    jobs_drain_reports(a);
    durable_stop(a->durable); /* sends the answers still waiting for a sync */
    a->durable = NULL;
    http_server_hold_writes(a->http, NULL, NULL);
    streams_stop(a);
    http_server_stop(a->http);
    uv_walk(a->loop, close_handle, NULL);
}

static void on_signal(uv_signal_t *s, int sig) {
    app *a = s->data;
    if (a->shutting_down) return;
    fprintf(stderr, "mcmcd: %s: stopping\n", sig == SIGINT ? "SIGINT" : "SIGTERM");
    jobs_shutdown(a);
    uv_signal_stop(&a->sigint);
    uv_signal_stop(&a->sigterm);
    uv_timer_init(a->loop, &a->drain_timer);
    a->drain_timer.data = a;
    uv_timer_start(&a->drain_timer, on_drain_check, 0, 20);
}

/* durable.h: answers to writes wait for the sync thread. */
static uint64_t hold_write(void *ctx) {
    return durable_ticket(ctx);
}

static void on_synced(void *ctx, uint64_t done, int failed) {
    app *a = ctx;
    static int logged;
    if (failed && !logged++)
        fprintf(stderr,
                "mcmcd: error: syncing the registry failed: %s; answers to writes are 500 from "
                "now on (restart the daemon once the disk is fixed)\n",
                strerror(failed));
    if (a->http) http_server_release(a->http, done, failed);
}

/* The registry's syncs leave the loop, once start-up's writes are done
 * (those were synced as they were made). MCMCD_SYNC_ON_LOOP=1 keeps them
 * on the loop: a reference for bench/submit_watchers. */
static int app_durable_start(app *a, char *err, size_t errlen) {
    const char *on_loop = getenv("MCMCD_SYNC_ON_LOOP");
    if (on_loop && !strcmp(on_loop, "1")) return 0;
    return durable_start(a->loop, a->reg, a->cfg.data_dir, on_synced, a, &a->durable, err, errlen);
}

/* A directory the daemon can list, read and write, or -1 with err naming
 * the path and why (a data dir that is a file, or that this user may not
 * use, stops the start with that message, not with SQLite's). */
static int dir_usable(const char *path, char *err, size_t errlen) {
    struct stat st;
    if (stat(path, &st) != 0 || !S_ISDIR(st.st_mode) || access(path, R_OK | W_OK | X_OK) != 0) {
        int e = errno;
        if (e == 0 || (stat(path, &st) == 0 && !S_ISDIR(st.st_mode))) e = ENOTDIR;
        snprintf(err, errlen, "cannot use the data dir %.900s: %s", path, strerror(e));
        return -1;
    }
    return 0;
}

static int app_dirs(app *a, char *err, size_t errlen) {
    snprintf(a->datasets_dir, sizeof a->datasets_dir, "%s/datasets", a->cfg.data_dir);
    snprintf(a->jobs_dir, sizeof a->jobs_dir, "%s/jobs", a->cfg.data_dir);
    const char *dirs[] = {a->cfg.data_dir, a->datasets_dir, a->jobs_dir};
    for (size_t i = 0; i < sizeof dirs / sizeof dirs[0]; i++) {
        errno = 0;
        if (serve_make_dirs(dirs[i]) != 0 && errno != ENOTDIR) {
            snprintf(err, errlen, "cannot create the data dir %.900s: %s", dirs[i],
                     strerror(errno));
            return -1;
        }
        if (dir_usable(dirs[i], err, errlen) != 0) return -1;
    }
    return 0;
}

/* The kernel path, measured once per machine and cached in the data dir
 * (calibrate.h), before a restored job can run a chain. It is exported as
 * MCMCD_SIMD too: sbatch passes the daemon's environment to its tasks, so
 * a Slurm task (`mcmcd run --chain`) runs the daemon's path, and a chain
 * gives the same bits on either executor, wherever the node has it. */
static void choose_kernels(const app *a) {
    char line[6000];
    calibrate_result r;
    calibrate_choose(a->cfg.data_dir, &r);
    calibrate_describe(&r, line, sizeof line);
    fprintf(stderr, "mcmcd: %s\n", line);
    setenv("MCMCD_SIMD", r.ops->name, 1);
}

static int app_open(app *a, char *err, size_t errlen) {
    if (app_dirs(a, err, errlen) != 0) return -1;
    choose_kernels(a);
    sweep_leftovers(a);
    if (registry_open(a->cfg.data_dir, &a->reg, err, errlen) != REGISTRY_OK) return -1;
    tighten_modes(a);
    if (auth_first_start(a->reg, &a->cfg, app_now_ms(), err, errlen) != 0) return -1;
    a->tokens_kept = token_cache_new(); /* NULL: every request reads the registry */
    pthread_mutex_init(&a->reports_lock, NULL);
    int rc = wakeup_start(a->loop, &a->reports_wakeup, on_reports, a);
    if (rc != 0) {
        snprintf(err, errlen, "cannot make the chains' wakeup: %s", uv_strerror(rc));
        return -1;
    }
    streams_start(a);
    metrics_start(a);
    quota_timer_start(a);
    uv_signal_init(a->loop, &a->sigint);
    uv_signal_init(a->loop, &a->sigterm);
    a->sigint.data = a->sigterm.data = a;
    uv_signal_start(&a->sigint, on_signal, SIGINT);
    uv_signal_start(&a->sigterm, on_signal, SIGTERM);
    a->started_at = app_now();
    a->on_job_finished = metrics_job_finished;
    if (!(a->exec = executor_find(a->cfg.executor)) || a->exec->open(a, err, errlen) != 0)
        return -1;
    if (jobs_restore(a, err, errlen) != 0) return -1;
    sweep_timer_start(a);
    return app_durable_start(a, err, errlen);
}

/* What app_listen needs, made before app_open, so that a bad TLS setup or a
 * port in use stops the start before anything is created or restored: a
 * second daemon on the same data dir would requeue the first's running
 * jobs. */
typedef struct listen_setup {
    int fd;                   /* from http_listen, -1 once handed over */
    char *cert_pem, *key_pem; /* file contents; NULL for plain HTTP */
} listen_setup;

static void listen_setup_free(listen_setup *ls) {
    if (ls->fd >= 0) close(ls->fd);
    ls->fd = -1;
    if (ls->key_pem) explicit_bzero(ls->key_pem, strlen(ls->key_pem));
    free(ls->cert_pem);
    free(ls->key_pem);
    ls->cert_pem = ls->key_pem = NULL;
}

/* The text of a PEM file that holds marker; NULL with err naming the file. */
static char *read_pem(const char *what, const char *path, const char *marker, char *err,
                      size_t errlen) {
    enum { PEM_MAX = 1 << 20 };
    FILE *f = fopen(path, "r");
    if (!f) {
        snprintf(err, errlen, "cannot read the TLS %s %.300s: %s", what, path, strerror(errno));
        return NULL;
    }
    char *text = malloc(PEM_MAX + 1);
    size_t n = text ? fread(text, 1, PEM_MAX + 1, f) : 0;
    int bad = ferror(f), e = errno;
    fclose(f);
    if (!text || bad || n > PEM_MAX) {
        snprintf(err, errlen, "cannot read the TLS %s %.300s: %s", what, path,
                 !text ? "out of memory"
                 : bad ? strerror(e)
                       : "larger than 1 MiB");
        free(text);
        return NULL;
    }
    text[n] = 0;
    if (!strstr(text, marker)) {
        snprintf(err, errlen, "the TLS %s %.300s is not a PEM %s (no '%s' line)", what, path, what,
                 marker);
        free(text);
        return NULL;
    }
    return text;
}

/* tls_cert and tls_key: both or neither; readable PEM files whose key
 * matches the certificate. */
static int tls_prepare(const serve_config *c, listen_setup *ls, char *err, size_t errlen) {
    if (!c->tls_cert[0] && !c->tls_key[0]) return 0;
    if (!c->tls_cert[0] || !c->tls_key[0]) {
        snprintf(err, errlen,
                 "%s is set but %s is not: HTTPS needs both --tls-cert FILE and "
                 "--tls-key FILE (tls_cert and tls_key in the config)",
                 c->tls_cert[0] ? "tls_cert" : "tls_key", c->tls_cert[0] ? "tls_key" : "tls_cert");
        return -1;
    }
    if (!http_tls_supported()) {
        snprintf(err, errlen,
                 "this libmicrohttpd was built without TLS: install one built with "
                 "GnuTLS, or serve plain HTTP behind a TLS proxy (deploy/)");
        return -1;
    }
    if (!(ls->cert_pem =
              read_pem("certificate", c->tls_cert, "-----BEGIN CERTIFICATE-----", err, errlen)) ||
        !(ls->key_pem = read_pem("key", c->tls_key, "PRIVATE KEY-----", err, errlen)))
        return -1;
    char why[300];
    if (http_tls_check(ls->cert_pem, ls->key_pem, why, sizeof why) != 0) {
        snprintf(err, errlen, "the TLS certificate %.300s and key %.300s do not go together: %s",
                 c->tls_cert, c->tls_key, why);
        return -1;
    }
    return 0;
}

static int listen_prepare(const serve_config *c, listen_setup *ls, char *err, size_t errlen) {
    if (tls_prepare(c, ls, err, errlen) != 0) return -1;
    return http_listen(c->bind, c->port, &ls->fd, err, errlen);
}

static int app_listen(app *a, listen_setup *ls, char *err, size_t errlen) {
    http_options opt = {.listen_fd = ls->fd,
                        .max_body = a->cfg.max_body_bytes,
                        .body_limit = api_body_limit,
                        .max_streams = a->cfg.max_streams,
                        .idle_timeout = a->cfg.idle_timeout_seconds,
                        .tls_cert_pem = ls->cert_pem,
                        .tls_key_pem = ls->key_pem};
    int tls = ls->cert_pem != NULL;
    ls->fd = -1; /* the server's now */
    int rc = http_server_start(a->loop, &opt, api_handle, a, &a->http, err, errlen);
    listen_setup_free(ls);
    if (rc != 0) return -1;
    char desc[4096];
    serve_config_describe(&a->cfg, desc, sizeof desc);
    fprintf(stderr, "mcmcd: %s\n", desc);
    const char *host = strchr(a->cfg.bind, ':') ? "[%s]" : "%s";
    char hostbuf[80];
    snprintf(hostbuf, sizeof hostbuf, host, a->cfg.bind);
    printf("mcmcd listening on %s://%s:%u\n", tls ? "https" : "http", hostbuf,
           http_server_port(a->http));
    fflush(stdout);
    return 0;
}

/* service_nice, before any other thread starts: the loop, the registry's
 * threads and the pool inherit it, and a worker takes it back after each
 * chain (thread_sched.h). A refusal leaves the start's value: the daemon
 * works the same, only its answers queue behind busier processes. */
static void set_service_nice(const serve_config *c) {
    if (c->service_nice == 0) return;
    int e = sched_service_set(c->service_nice);
    if (e)
        fprintf(stderr,
                "mcmcd: service_nice %d refused (%s): the daemon keeps the nice value it "
                "started with; below 0 needs root, CAP_SYS_NICE or LimitNICE\n",
                (int)c->service_nice, strerror(e));
}

static void no_work(uv_work_t *w) {
    (void)w;
}

static void no_work_after(uv_work_t *w, int status) {
    (void)w, (void)status;
}

/* loop_rt_priority, once the threads the loop relies on exist: libuv
 * starts its pool at the first work queued, every thread of it before
 * that call returns, so a no-op is queued first and the pool keeps
 * service_nice. The threads and processes the loop starts later (row
 * helpers come from the pool) begin outside the real-time class. A
 * refusal changes nothing but the log. */
static void set_loop_realtime(app *a) {
    static app_work start_pool;
    if (a->cfg.loop_rt_priority == 0) return;
    app_queue_work(a, &start_pool, NULL, no_work, no_work_after);
    int e = sched_loop_realtime((int)a->cfg.loop_rt_priority);
    if (e)
        fprintf(stderr,
                "mcmcd: loop_rt_priority %u refused (%s): the loop runs outside the real-time "
                "class; it needs root, CAP_SYS_NICE or LimitRTPRIO (and no RestrictRealtime=)\n",
                (unsigned)a->cfg.loop_rt_priority, strerror(e));
}

/* The heap keeps up to 4 MiB free at its top instead of glibc's moving
 * threshold (~2x the largest chunk it ever mapped): answers of tens of KB
 * (lists, metrics) then reuse pages instead of growing the heap again and
 * faulting each page in (9% of the loop in the submission benchmark).
 * Chunks of 1 MiB and more are mapped and go back to the system when
 * freed (large bodies, draws buffers). */
static void heap_settings(void) {
#ifdef __GLIBC__
    mallopt(M_MMAP_THRESHOLD, 1 << 20);
    mallopt(M_TRIM_THRESHOLD, 4 << 20);
#endif
}

int serve_main(int argc, char **argv) {
    static app a; /* the loop outlives every callback that points here */
    char err[1024];
    heap_settings();
    serve_config_defaults(&a.cfg);
    int rc = serve_config_parse_args(&a.cfg, argc, argv, err, sizeof err);
    if (rc == SERVE_CONFIG_HELP) {
        serve_config_usage(stdout);
        return 0;
    }
    if (rc != SERVE_CONFIG_OK || auth_check_config(&a.cfg, err, sizeof err) != 0) {
        fprintf(stderr, "mcmcd serve: %s\n", err);
        return 2;
    }
    char pool[16];
    snprintf(pool, sizeof pool, "%u", a.cfg.workers + 4);
    setenv("UV_THREADPOOL_SIZE", pool, 1); /* before the pool starts */
    signal(SIGPIPE, SIG_IGN);
    umask(077); /* registry, datasets, draws: the daemon's user's alone */
    raise_fd_limit(&a.cfg);
    set_service_nice(&a.cfg);
    a.loop = uv_default_loop();
    listen_setup ls = {.fd = -1};
    if (listen_prepare(&a.cfg, &ls, err, sizeof err) != 0 || app_open(&a, err, sizeof err) != 0 ||
        app_listen(&a, &ls, err, sizeof err) != 0) {
        listen_setup_free(&ls);
        fprintf(stderr, "mcmcd serve: %s\n", err);
        return 1;
    }
    http_server_on_done(a.http, metrics_http_done);
    if (a.durable) http_server_hold_writes(a.http, hold_write, a.durable);
    set_loop_realtime(&a);
    uv_run(a.loop, UV_RUN_DEFAULT);
    uv_loop_close(a.loop);
    if (a.exec) a.exec->close(&a);
    jobs_free_all(&a);
    job_log_saves_free(&a);
    list_items_free(a.list_items);
    token_cache_free(a.tokens_kept);
    app_users_free(&a);
    registry_close(a.reg);
    wakeup_release(&a.reports_wakeup);
    pthread_mutex_destroy(&a.reports_lock);
    fprintf(stderr, "mcmcd: stopped\n");
    return 0;
}
