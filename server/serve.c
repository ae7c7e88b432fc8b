/* serve.c - `mcmcd serve`: start-up, the loop, shutdown. The threading
 * model is described at the top of main.c. */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "app.h"
#include "config.h"
#include "quota.h"
#include "serve.h"
#include "sweep.h"

double app_now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

int64_t app_now_ms(void) {
    return (int64_t)(app_now() * 1000.0);
}

int serve_make_dirs(const char *path) {
    char buf[4200];
    snprintf(buf, sizeof buf, "%s", path);
    for (char *p = buf + 1; *p; p++)
        if (*p == '/') {
            *p = 0;
            if (mkdir(buf, 0755) != 0 && errno != EEXIST) return -1;
            *p = '/';
        }
    return mkdir(buf, 0755) != 0 && errno != EEXIST ? -1 : 0;
}

static void on_reports(uv_async_t *h) {
    jobs_drain_reports(h->data);
}

static void on_heartbeat(uv_timer_t *t) {
    app *a = t->data;
    double now = app_now(), dt = now - a->last_rate_time;
    if (dt > 0) {
        a->draws_per_s = (double)(a->draws_total - a->last_draws_total) / dt;
        a->grad_evals_per_s = (double)(a->grad_evals_total - a->last_grad_evals_total) / dt;
    }
    a->last_rate_time = now;
    a->last_draws_total = a->draws_total;
    a->last_grad_evals_total = a->grad_evals_total;
    streams_heartbeat(a);
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
    if (a->pending_work > 0) return;
    uv_timer_stop(t);
    jobs_drain_reports(a);
    http_server_stop(a->http);
    uv_walk(a->loop, close_handle, NULL);
}

static uv_timer_t drain_timer;

static void on_signal(uv_signal_t *s, int sig) {
    app *a = s->data;
    if (a->shutting_down) return;
    fprintf(stderr, "mcmcd: %s: stopping\n", sig == SIGINT ? "SIGINT" : "SIGTERM");
    jobs_shutdown(a);
    uv_signal_stop(&a->sigint);
    uv_signal_stop(&a->sigterm);
    uv_timer_init(a->loop, &drain_timer);
    drain_timer.data = a;
    uv_timer_start(&drain_timer, on_drain_check, 0, 20);
}

static int app_open(app *a, char *err, size_t errlen) {
    snprintf(a->datasets_dir, sizeof a->datasets_dir, "%s/datasets", a->cfg.data_dir);
    snprintf(a->jobs_dir, sizeof a->jobs_dir, "%s/jobs", a->cfg.data_dir);
    if (serve_make_dirs(a->cfg.data_dir) != 0 || serve_make_dirs(a->datasets_dir) != 0 ||
        serve_make_dirs(a->jobs_dir) != 0) {
        snprintf(err, errlen, "cannot create %.900s: %s", a->cfg.data_dir, strerror(errno));
        return -1;
    }
    if (registry_open(a->cfg.data_dir, &a->reg, err, errlen) != REGISTRY_OK) return -1;
    if (auth_first_start(a->reg, &a->cfg, app_now_ms(), err, errlen) != 0) return -1;
    pthread_mutex_init(&a->reports_lock, NULL);
    uv_async_init(a->loop, &a->reports_async, on_reports);
    a->reports_async.data = a;
    uv_timer_init(a->loop, &a->heartbeat);
    a->heartbeat.data = a;
    uint64_t hb = (uint64_t)(a->cfg.heartbeat_seconds * 1000);
    uv_timer_start(&a->heartbeat, on_heartbeat, hb, hb);
    quota_timer_start(a);
    uv_signal_init(a->loop, &a->sigint);
    uv_signal_init(a->loop, &a->sigterm);
    a->sigint.data = a->sigterm.data = a;
    uv_signal_start(&a->sigint, on_signal, SIGINT);
    uv_signal_start(&a->sigterm, on_signal, SIGTERM);
    a->started_at = a->last_rate_time = app_now();
    if (jobs_restore(a, err, errlen) != 0) return -1;
    sweep_timer_start(a);
    return 0;
}

static int app_listen(app *a, char *err, size_t errlen) {
    http_options opt = {.bind = a->cfg.bind,
                        .port = a->cfg.port,
                        .max_body = a->cfg.max_body_bytes,
                        .max_connections = a->cfg.max_streams + 64};
    if (http_server_start(a->loop, &opt, api_handle, a, &a->http, err, errlen) != 0) return -1;
    char desc[4096];
    serve_config_describe(&a->cfg, desc, sizeof desc);
    fprintf(stderr, "mcmcd: %s\n", desc);
    const char *host = strchr(a->cfg.bind, ':') ? "[%s]" : "%s";
    char hostbuf[80];
    snprintf(hostbuf, sizeof hostbuf, host, a->cfg.bind);
    printf("mcmcd listening on http://%s:%u\n", hostbuf, http_server_port(a->http));
    fflush(stdout);
    return 0;
}

int serve_main(int argc, char **argv) {
    static app a; /* the loop outlives every callback that points here */
    char err[1024];
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
    a.loop = uv_default_loop();
    if (app_open(&a, err, sizeof err) != 0 || app_listen(&a, err, sizeof err) != 0) {
        fprintf(stderr, "mcmcd serve: %s\n", err);
        return 1;
    }
    uv_run(a.loop, UV_RUN_DEFAULT);
    uv_loop_close(a.loop);
    jobs_free_all(&a);
    app_users_free(&a);
    registry_close(a.reg);
    pthread_mutex_destroy(&a.reports_lock);
    fprintf(stderr, "mcmcd: stopped\n");
    return 0;
}
