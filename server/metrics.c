/* metrics.c - GET /metrics: the daemon's counters and gauges in the
 * Prometheus text format. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>

#include "api_util.h"
#include "app.h"

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

void api_metrics(api_call *c) {
    app *a = c->app;
    http_request *req = c->req;
    metrics_buf m = {malloc(4096), 0, 4096};
    if (!m.text) {
        http_respond_error(req, 500, "internal", "out of memory", NULL);
        return;
    }
    uint64_t counts[REGISTRY_JOB_STATES] = {0};
    for (size_t i = 0; i < a->njobs; i++)
        counts[a->jobs[i]->state]++;
    metrics_printf(
        &m, "# HELP mcmcd_jobs Jobs known to the daemon, by state.\n# TYPE mcmcd_jobs gauge\n");
    for (int s = 0; s < REGISTRY_JOB_STATES; s++)
        metrics_printf(&m, "mcmcd_jobs{state=\"%s\"} %llu\n", registry_job_state_name(s),
                       (unsigned long long)counts[s]);
    metrics_printf(&m,
                   "# HELP mcmcd_queue_length Jobs waiting for a worker.\n"
                   "# TYPE mcmcd_queue_length gauge\nmcmcd_queue_length %zu\n",
                   a->queued);
    metrics_printf(
        &m,
        "# HELP mcmcd_busy_workers Chains running now.\n# TYPE mcmcd_busy_workers gauge\n"
        "mcmcd_busy_workers %u\n# HELP mcmcd_workers Worker slots.\n"
        "# TYPE mcmcd_workers gauge\nmcmcd_workers %u\n",
        a->busy_workers, a->cfg.workers);
    metrics_printf(&m,
                   "# HELP mcmcd_open_streams Event and draw streams open now.\n"
                   "# TYPE mcmcd_open_streams gauge\nmcmcd_open_streams %u\n",
                   http_server_open_streams(a->http));
    metrics_printf(
        &m,
        "# HELP mcmcd_draws_total Draws kept, all jobs.\n# TYPE mcmcd_draws_total counter\n"
        "mcmcd_draws_total %llu\n",
        (unsigned long long)a->draws_total);
    metrics_printf(&m,
                   "# HELP mcmcd_gradient_evaluations_total Gradient evaluations, all jobs.\n"
                   "# TYPE mcmcd_gradient_evaluations_total counter\n"
                   "mcmcd_gradient_evaluations_total %llu\n",
                   (unsigned long long)a->grad_evals_total);
    metrics_printf(
        &m,
        "# HELP mcmcd_draws_per_second Draws per second over the last heartbeat period.\n"
        "# TYPE mcmcd_draws_per_second gauge\nmcmcd_draws_per_second %.6g\n"
        "# HELP mcmcd_gradient_evaluations_per_second Gradient evaluations per second "
        "over the last heartbeat period.\n"
        "# TYPE mcmcd_gradient_evaluations_per_second gauge\n"
        "mcmcd_gradient_evaluations_per_second %.6g\n",
        a->draws_per_s, a->grad_evals_per_s);
    metrics_printf(&m,
                   "# HELP mcmcd_http_requests_total Requests answered.\n"
                   "# TYPE mcmcd_http_requests_total counter\nmcmcd_http_requests_total %llu\n",
                   (unsigned long long)a->requests_total);
    http_respond(req, 200, "text/plain; version=0.0.4", m.text, m.len);
    free(m.text);
}
