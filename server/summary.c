/* summary.c - GET /v1/jobs/{id}/summary: per parameter mean, sd, 5/50/95%
 * quantiles, MCSE of the mean, bulk and tail ESS and rank-normalized split
 * R-hat (core/diagnostics.c), per chain the accept rate. Computed on the
 * thread pool from the draws file, a block of parameters at a time, so
 * memory stays bounded whatever d is. */
#include <fcntl.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "api_util.h"
#include "app.h"
#include "diagnostics.h"

#define PASS_BYTES (256u << 20) /* draws held per pass over the file */

typedef struct summary_task {
    uv_work_t req;
    app *app;
    http_request *http;
    char path[4500], job_id[JOB_ID_LEN + 1];
    uint32_t chains;
    uint64_t samples, rows; /* rows: draws per chain summarized */
    size_t d;
    diag_summary *out; /* d */
    int failed;
} summary_task;

/* Reads parameters [p0, p0 + np) of every chain into buf[p][c][i]. */
static int read_block(summary_task *t, int fd, size_t p0, size_t np, double *buf, double *row) {
    for (uint32_t c = 0; c < t->chains; c++)
        for (uint64_t i = 0; i < t->rows; i++) {
            off_t off = (off_t)(((uint64_t)c * t->samples + i) * t->d * sizeof(double));
            size_t n = t->d * sizeof(double);
            if (pread(fd, row, n, off) != (ssize_t)n) return -1;
            for (size_t p = 0; p < np; p++)
                buf[(p * t->chains + c) * t->rows + i] = row[p0 + p];
        }
    return 0;
}

static void summary_work(uv_work_t *req) {
    summary_task *t = req->data;
    int fd = open(t->path, O_RDONLY | O_CLOEXEC);
    size_t per_param = t->chains * t->rows * sizeof(double) + 1;
    size_t np_max = PASS_BYTES / per_param;
    if (np_max < 16) np_max = 16;
    if (np_max > t->d) np_max = t->d;
    double *buf = malloc(np_max * t->chains * t->rows * sizeof(double) + 1);
    double *row = malloc(t->d * sizeof(double));
    double *work = malloc(diag_work_size(t->chains, t->rows) * sizeof(double) + 1);
    t->failed = fd < 0 || !buf || !row || !work;
    for (size_t p0 = 0; !t->failed && p0 < t->d; p0 += np_max) {
        size_t np = t->d - p0 < np_max ? t->d - p0 : np_max;
        t->failed = read_block(t, fd, p0, np, buf, row) != 0;
        for (size_t p = 0; !t->failed && p < np; p++) {
            const double *x = buf + p * t->chains * t->rows;
            if (t->rows == 0 ||
                diag_summarize(x, t->chains, t->rows, t->rows, 1, work, &t->out[p0 + p]) != 0) {
                diag_summary nan = {NAN, NAN, NAN, NAN, NAN, NAN, NAN, NAN, NAN, NAN, NAN};
                t->out[p0 + p] = nan;
            }
        }
    }
    if (fd >= 0) close(fd);
    free(buf), free(row), free(work);
}

static json_t *parameter_json(size_t j, const diag_summary *s) {
    char name[32];
    snprintf(name, sizeof name, "theta.%zu", j + 1);
    return json_pack("{s:s, s:o, s:o, s:o, s:o, s:o, s:o, s:o, s:o, s:o}", "name", name, "mean",
                     json_number_or_null(s->mean), "sd", json_number_or_null(s->sd), "q05",
                     json_number_or_null(s->q05), "q50", json_number_or_null(s->q50), "q95",
                     json_number_or_null(s->q95), "mcse_mean", json_number_or_null(s->mcse_mean),
                     "ess_bulk", json_number_or_null(s->ess_bulk), "ess_tail",
                     json_number_or_null(s->ess_tail), "rhat", json_number_or_null(s->rhat));
}

static void summary_after(uv_work_t *req, int status) {
    summary_task *t = req->data;
    t->app->pending_work--;
    job *j = jobs_find(t->app, t->job_id);
    if (!j) {
        respond_not_found(t->http, "job", t->job_id);
    } else if (status != 0 || t->failed) {
        http_respond_error(t->http, 500, "internal", "cannot read the draws", NULL);
    } else {
        json_t *params = json_array(), *chains = json_array();
        for (size_t p = 0; p < t->d; p++)
            json_array_append_new(params, parameter_json(p, &t->out[p]));
        for (uint32_t c = 0; c < j->chains; c++) {
            const chain_counts *k = &j->counts[c];
            json_array_append_new(
                chains, json_pack("{s:I, s:o, s:I}", "chain", (json_int_t)c, "accept_rate",
                                  json_number_or_null(k->iter && job_reports_accept(j)
                                                          ? (double)k->accepted / (double)k->iter
                                                          : NAN),
                                  "draws", (json_int_t)k->draws));
        }
        http_respond_json(t->http, 200,
                          json_pack("{s:s, s:s, s:I, s:o, s:o}", "job", j->id, "state",
                                    job_state_name(j), "draws_per_chain", (json_int_t)t->rows,
                                    "parameters", params, "chains", chains));
    }
    free(t->out);
    free(t);
}

void api_summary(app *a, job *j, http_request *req) {
    summary_task *t = calloc(1, sizeof *t);
    if (t) t->out = calloc(j->d ? j->d : 1, sizeof *t->out);
    if (!t || !t->out) {
        if (t) free(t);
        http_respond_error(req, 500, "internal", "out of memory", NULL);
        return;
    }
    t->app = a;
    t->http = req;
    snprintf(t->job_id, sizeof t->job_id, "%s", j->id);
    job_draws_path(j, t->path, sizeof t->path);
    t->chains = j->chains;
    t->samples = j->samples;
    t->d = j->d;
    t->rows = j->samples;
    for (uint32_t c = 0; c < j->chains; c++)
        if (j->counts[c].draws < t->rows) t->rows = j->counts[c].draws; /* rectangular */
    t->req.data = t;
    a->pending_work++;
    uv_queue_work(a->loop, &t->req, summary_work, summary_after);
    http_request_defer(req);
}
