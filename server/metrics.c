/* metrics.c - GET /metrics: the daemon's counters, gauges and histograms
 * in the Prometheus text format (version 0.0.4), and the counting behind
 * the per-request and per-job ones (metrics.h).
 *
 * Every label value comes from a bounded set: route patterns (never a raw
 * path), a fixed list of methods, status codes, job states, user names.
 * The request series are a small table searched in order: about twenty
 * routes times a handful of methods and codes. */
#include "metrics.h"

#include <jansson.h>
#include <microhttpd.h>
#include <sqlite3.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api_util.h"
#include "clock.h"
#include "durable.h"
#include "histogram.h"
#include "simd.h"

#ifndef MCMCD_VERSION
#define MCMCD_VERSION "0.1.0"
#endif

#define SERIES_MAX 4096 /* request series kept; later new ones are dropped */

/* Upper bounds of the buckets, in seconds; +Inf follows. */
static const double http_bounds[] = {0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1,
                                     0.25,  0.5,    1,     2.5,  5,     10};
static const double job_bounds[] = {1, 5, 10, 30, 60, 300, 900, 1800, 3600, 7200, 21600, 86400};
#define NB(b) (sizeof(b) / sizeof(b)[0])

typedef struct request_series {
    const char *route, *method;
    unsigned code;
    uint64_t n;
} request_series;

typedef struct route_latency {
    const char *route;
    histogram h;
} route_latency;

static struct {
    request_series *req;
    size_t nreq, cap_req;
    route_latency *lat;
    size_t nlat, cap_lat;
    histogram jobs[REGISTRY_JOB_STATES]; /* by final state */
} counted;

/* --- counting ---------------------------------------------------------------- */

/* Room for one more of n items of size bytes in *arr; 0 or -1. */
static int grow(void **arr, size_t *cap, size_t n, size_t size) {
    if (n < *cap) return 0;
    if (n >= SERIES_MAX) return -1;
    size_t c = *cap ? 2 * *cap : 32;
    void *p = realloc(*arr, c * size);
    if (!p) return -1;
    *arr = p;
    *cap = c;
    return 0;
}

/* The method as a label: one of a fixed list, else "other". */
static const char *method_label(const char *m) {
    static const char *const known[] = {"GET", "HEAD", "POST", "PUT", "DELETE", "PATCH", "OPTIONS"};
    for (size_t i = 0; i < NB(known); i++)
        if (m && !strcmp(m, known[i])) return known[i];
    return "other";
}

static void count_request(const char *route, const char *method, unsigned code) {
    for (size_t i = 0; i < counted.nreq; i++) {
        request_series *s = &counted.req[i];
        if (s->code == code && s->method == method && !strcmp(s->route, route)) {
            s->n++;
            return;
        }
    }
    if (grow((void **)&counted.req, &counted.cap_req, counted.nreq, sizeof *counted.req) != 0)
        return;
    counted.req[counted.nreq++] = (request_series){route, method, code, 1};
}

static void time_request(const char *route, double seconds) {
    size_t i = 0;
    while (i < counted.nlat && strcmp(counted.lat[i].route, route) != 0)
        i++;
    if (i == counted.nlat) {
        if (grow((void **)&counted.lat, &counted.cap_lat, counted.nlat, sizeof *counted.lat))
            return;
        counted.lat[counted.nlat++] = (route_latency){.route = route};
    }
    histogram_observe(&counted.lat[i].h, http_bounds, NB(http_bounds), seconds);
}

void metrics_http_done(void *ctx, http_request *req, unsigned status, double seconds) {
    (void)ctx;
    const char *route = http_request_label(req);
    if (!route) route = "unmatched";
    count_request(route, method_label(http_request_method(req)), status);
    time_request(route, seconds);
}

void metrics_job_finished(registry_job_state st, int64_t started_ms, int64_t finished_ms) {
    if (started_ms <= 0 || finished_ms < started_ms) return;
    histogram_observe(&counted.jobs[st], job_bounds, NB(job_bounds),
                      (double)(finished_ms - started_ms) / 1000.0);
}

/* --- the text ------------------------------------------------------------------ */

typedef struct metrics_buf {
    char *text;
    size_t len, cap;
} metrics_buf;

static void metrics_printf(metrics_buf *m, const char *fmt, ...) {
    va_list ap;
    for (;;) {
        va_start(ap, fmt);
        int n = vsnprintf(m->text + m->len, m->cap - m->len, fmt, ap);
        va_end(ap);
        if (n < 0) return;
        if (m->len + (size_t)n < m->cap) {
            m->len += (size_t)n;
            return;
        }
        char *t = realloc(m->text, m->cap = m->cap * 2 + (size_t)n + 256);
        if (!t) return;
        m->text = t;
    }
}

/* value, escaped as the format asks of label values (\\, \", \n). */
static void metrics_escaped(metrics_buf *m, const char *value) {
    for (const char *p = value; *p; p++) {
        size_t plain = strcspn(p, "\\\"\n");
        if (plain) metrics_printf(m, "%.*s", (int)plain, p);
        p += plain;
        if (!*p) break;
        metrics_printf(m, "%s", *p == '\\' ? "\\\\" : *p == '"' ? "\\\"" : "\\n");
    }
}

/* name{key="value"}, or name{key="value",extra} with extra a label pair
 * already escaped; with no key, name or name{extra}. */
static void metrics_series(metrics_buf *m, const char *name, const char *key, const char *value,
                           const char *extra) {
    if (!key && !extra) {
        metrics_printf(m, "%s", name);
        return;
    }
    if (!key) { /* no label of its own */
        metrics_printf(m, "%s{%s}", name, extra);
        return;
    }
    metrics_printf(m, "%s{%s=\"", name, key);
    metrics_escaped(m, value);
    metrics_printf(m, "\"%s%s}", extra ? "," : "", extra ? extra : "");
}

static void metrics_family(metrics_buf *m, const char *name, const char *type, const char *help) {
    metrics_printf(m, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

/* One histogram's series: _bucket (cumulative, le last), _sum, _count. */
static void histogram_print(metrics_buf *m, const char *name, const char *key, const char *value,
                            const histogram *h, const double *bounds, size_t nb) {
    char series[128], le[48];
    uint64_t cum = 0;
    snprintf(series, sizeof series, "%s_bucket", name);
    for (size_t i = 0; i <= nb; i++) {
        cum += h->n[i];
        if (i < nb)
            snprintf(le, sizeof le, "le=\"%g\"", bounds[i]);
        else
            snprintf(le, sizeof le, "le=\"+Inf\"");
        metrics_series(m, series, key, value, le);
        metrics_printf(m, " %llu\n", (unsigned long long)cum);
    }
    snprintf(series, sizeof series, "%s_sum", name);
    metrics_series(m, series, key, value, NULL);
    metrics_printf(m, " %.9g\n", h->sum);
    snprintf(series, sizeof series, "%s_count", name);
    metrics_series(m, series, key, value, NULL);
    metrics_printf(m, " %llu\n", (unsigned long long)h->count);
}

static int count_live_state(job *j, void *ctx) {
    ((uint64_t *)ctx)[job_state(j)]++;
    return 0;
}

/* Ended jobs as the registry counts them (they are not all in memory);
 * queued and running ones from the live jobs, as they are now. */
static void count_jobs(app *a, uint64_t counts[REGISTRY_JOB_STATES]) {
    if (registry_job_counts(a->reg, counts) != REGISTRY_OK)
        memset(counts, 0, REGISTRY_JOB_STATES * sizeof counts[0]);
    uint64_t live[REGISTRY_JOB_STATES] = {0};
    jobs_each_live(a, count_live_state, live);
    counts[REGISTRY_JOB_QUEUED] = live[REGISTRY_JOB_QUEUED];
    counts[REGISTRY_JOB_RUNNING] = live[REGISTRY_JOB_RUNNING];
}

static void print_jobs(metrics_buf *m, app *a) {
    uint64_t counts[REGISTRY_JOB_STATES];
    count_jobs(a, counts);
    metrics_family(m, "mcmcd_jobs", "gauge", "Jobs known to the daemon, by state.");
    for (int s = 0; s < REGISTRY_JOB_STATES; s++)
        metrics_printf(m, "mcmcd_jobs{state=\"%s\"} %llu\n", registry_job_state_name(s),
                       (unsigned long long)counts[s]);
    metrics_printf(m,
                   "# HELP mcmcd_queue_length Jobs waiting for a worker.\n"
                   "# TYPE mcmcd_queue_length gauge\nmcmcd_queue_length %zu\n",
                   a->queued);
    metrics_family(m, "mcmcd_job_duration_seconds", "histogram",
                   "Run time of the jobs that ended since the daemon started (started to "
                   "finished), by final state.");
    for (int s = 0; s < REGISTRY_JOB_STATES; s++)
        if (s != REGISTRY_JOB_QUEUED && s != REGISTRY_JOB_RUNNING)
            histogram_print(m, "mcmcd_job_duration_seconds", "state", registry_job_state_name(s),
                            &counted.jobs[s], job_bounds, NB(job_bounds));
}

static void on_rates(uv_timer_t *t) {
    app *a = t->data;
    double now = app_now(), dt = now - a->last_rate_time;
    if (dt > 0) {
        a->draws_per_s = (double)(a->draws_total - a->last_draws_total) / dt;
        a->grad_evals_per_s = (double)(a->grad_evals_total - a->last_grad_evals_total) / dt;
    }
    a->last_rate_time = now;
    a->last_draws_total = a->draws_total;
    a->last_grad_evals_total = a->grad_evals_total;
}

void metrics_start(app *a) {
    a->last_rate_time = app_now();
    uv_timer_init(a->loop, &a->rates_timer);
    a->rates_timer.data = a;
    uint64_t ms = (uint64_t)(a->cfg.heartbeat_seconds * 1000);
    uv_timer_start(&a->rates_timer, on_rates, ms, ms);
}

static void print_work(metrics_buf *m, app *a) {
    metrics_printf(
        m,
        "# HELP mcmcd_busy_workers Chains running now.\n# TYPE mcmcd_busy_workers gauge\n"
        "mcmcd_busy_workers %u\n# HELP mcmcd_workers Worker slots.\n"
        "# TYPE mcmcd_workers gauge\nmcmcd_workers %u\n",
        a->busy_workers, a->cfg.workers);
    metrics_printf(m,
                   "# HELP mcmcd_open_streams Event and draw streams open now.\n"
                   "# TYPE mcmcd_open_streams gauge\nmcmcd_open_streams %u\n",
                   http_server_open_streams(a->http));
    metrics_printf(
        m,
        "# HELP mcmcd_draws_total Draws kept, all jobs.\n# TYPE mcmcd_draws_total counter\n"
        "mcmcd_draws_total %llu\n",
        (unsigned long long)a->draws_total);
    metrics_printf(m,
                   "# HELP mcmcd_gradient_evaluations_total Gradient evaluations, all jobs.\n"
                   "# TYPE mcmcd_gradient_evaluations_total counter\n"
                   "mcmcd_gradient_evaluations_total %llu\n",
                   (unsigned long long)a->grad_evals_total);
    metrics_printf(
        m,
        "# HELP mcmcd_draws_per_second Draws per second over the last heartbeat period.\n"
        "# TYPE mcmcd_draws_per_second gauge\nmcmcd_draws_per_second %.6g\n"
        "# HELP mcmcd_gradient_evaluations_per_second Gradient evaluations per second "
        "over the last heartbeat period.\n"
        "# TYPE mcmcd_gradient_evaluations_per_second gauge\n"
        "mcmcd_gradient_evaluations_per_second %.6g\n",
        a->draws_per_s, a->grad_evals_per_s);
}

/* The registry's durability (durable.h): syncs of its WAL, the answers
 * that asked for one (one sync covers every ask made before it began, so
 * asks / syncs is the batching), and checkpoints. Not shown when the
 * registry syncs on the loop (MCMCD_SYNC_ON_LOOP). */
static void print_registry(metrics_buf *m, app *a) {
    if (!a->durable) return;
    durable_counts n = durable_counts_of(a->durable);
    metrics_printf(m,
                   "# HELP mcmcd_registry_syncs_total fdatasyncs of the registry's WAL by "
                   "its sync thread.\n# TYPE mcmcd_registry_syncs_total counter\n"
                   "mcmcd_registry_syncs_total %llu\n"
                   "# HELP mcmcd_registry_sync_asks_total Answers to writes that waited for "
                   "a sync; one sync serves every ask made before it began.\n"
                   "# TYPE mcmcd_registry_sync_asks_total counter\n"
                   "mcmcd_registry_sync_asks_total %llu\n"
                   "# HELP mcmcd_registry_checkpoints_total Checkpoints of the registry's WAL "
                   "into its database.\n# TYPE mcmcd_registry_checkpoints_total counter\n"
                   "mcmcd_registry_checkpoints_total %llu\n"
                   "# HELP mcmcd_registry_wal_restarts_total Times the registry's WAL started "
                   "over from its beginning after a checkpoint.\n"
                   "# TYPE mcmcd_registry_wal_restarts_total counter\n"
                   "mcmcd_registry_wal_restarts_total %llu\n"
                   "# HELP mcmcd_registry_batched_writes_total Writes (a submission's rows) "
                   "made by the sync thread.\n# TYPE mcmcd_registry_batched_writes_total counter\n"
                   "mcmcd_registry_batched_writes_total %llu\n"
                   "# HELP mcmcd_registry_write_batches_total Transactions those writes were "
                   "made in, each followed by one sync.\n"
                   "# TYPE mcmcd_registry_write_batches_total counter\n"
                   "mcmcd_registry_write_batches_total %llu\n"
                   "# HELP mcmcd_registry_busy_waits_total Naps (20 us, doubling to 2 ms) a "
                   "connection took waiting for another's write lock.\n"
                   "# TYPE mcmcd_registry_busy_waits_total counter\n"
                   "mcmcd_registry_busy_waits_total{connection=\"loop\"} %llu\n"
                   "mcmcd_registry_busy_waits_total{connection=\"sync\"} %llu\n",
                   (unsigned long long)n.syncs, (unsigned long long)n.asks,
                   (unsigned long long)n.checkpoints, (unsigned long long)n.wal_restarts,
                   (unsigned long long)n.writes, (unsigned long long)n.batches,
                   (unsigned long long)registry_busy_waits(a->reg),
                   (unsigned long long)n.writer_busy_waits);
    metrics_family(m, "mcmcd_registry_sync_seconds", "histogram",
                   "How long each fdatasync of the registry's WAL took: the disk's floor "
                   "under a durable answer.");
    histogram_print(m, "mcmcd_registry_sync_seconds", NULL, NULL, &n.sync_time, durable_sync_bounds,
                    DURABLE_SYNC_BOUNDS);
}

/* Whether the user gets series: every user of the registry, and a removed
 * one while its jobs still run or wait. */
static int user_shown(const app_user *u) {
    return !u->removed || u->running_chains || u->active_jobs;
}

static void print_users(metrics_buf *m, app *a) {
    static const char *const names[] = {"mcmcd_user_running_chains", "mcmcd_user_queued_jobs",
                                        "mcmcd_user_stored_bytes"};
    static const char *const helps[] = {
        "Chains of the user's jobs on workers now.",
        "The user's jobs queued or running (what the queued_jobs limit counts).",
        "Bytes the user stores: dataset references and the draws of the user's jobs."};
    app_users_reload(a); /* users added since by `mcmcd user add` */
    for (int k = 0; k < 3; k++) {
        metrics_family(m, names[k], "gauge", helps[k]);
        for (size_t i = 0; i < a->nusers; i++) {
            app_user *u = a->users[i];
            if (!user_shown(u)) continue;
            uint64_t v = k == 0   ? u->running_chains
                         : k == 1 ? u->active_jobs
                                  : app_user_stored_bytes(a, u);
            metrics_series(m, names[k], "user", u->name, NULL);
            metrics_printf(m, " %llu\n", (unsigned long long)v);
        }
    }
}

static const char *compiler_name(void) {
#if defined(__clang__)
    return "clang " __clang_version__;
#elif defined(__GNUC__)
    return "gcc " __VERSION__;
#else
    return "unknown";
#endif
}

static void print_build_info(metrics_buf *m) {
    metrics_family(m, "mcmcd_build_info", "gauge",
                   "Always 1; the labels say what runs: version, SIMD path, compiler, libraries.");
    const char *keys[] = {"version", "simd",    "compiler", "libmicrohttpd",
                          "sqlite",  "jansson", "libuv"};
    const char *values[] = {MCMCD_VERSION,      simd_ops_get()->name, compiler_name(),
                            MHD_get_version(),  sqlite3_libversion(), JANSSON_VERSION,
                            uv_version_string()};
    metrics_printf(m, "mcmcd_build_info{");
    for (size_t i = 0; i < NB(keys); i++) {
        metrics_printf(m, "%s%s=\"", i ? "," : "", keys[i]);
        metrics_escaped(m, values[i]);
        metrics_printf(m, "\"");
    }
    metrics_printf(m, "} 1\n");
}

static void print_requests(metrics_buf *m) {
    metrics_family(m, "mcmcd_http_requests_total", "counter",
                   "Requests answered, by route pattern (\"unmatched\": no route), method and "
                   "status code.");
    for (size_t i = 0; i < counted.nreq; i++) {
        const request_series *s = &counted.req[i];
        char extra[64];
        snprintf(extra, sizeof extra, "method=\"%s\",code=\"%u\"", s->method, s->code);
        metrics_series(m, "mcmcd_http_requests_total", "route", s->route, extra);
        metrics_printf(m, " %llu\n", (unsigned long long)s->n);
    }
    metrics_family(m, "mcmcd_http_request_duration_seconds", "histogram",
                   "From a request's arrival to its answer being queued (a stream: its "
                   "first bytes), by route pattern.");
    for (size_t i = 0; i < counted.nlat; i++)
        histogram_print(m, "mcmcd_http_request_duration_seconds", "route", counted.lat[i].route,
                        &counted.lat[i].h, http_bounds, NB(http_bounds));
}

void api_metrics(api_call *c) {
    metrics_buf m = {malloc(16384), 0, 16384};
    if (!m.text) {
        http_respond_error(c->req, 500, "internal", "out of memory", NULL);
        return;
    }
    print_jobs(&m, c->app);
    print_work(&m, c->app);
    print_users(&m, c->app);
    print_registry(&m, c->app);
    print_requests(&m);
    print_build_info(&m);
    http_respond(c->req, 200, "text/plain; version=0.0.4", m.text, m.len);
    free(m.text);
}
