/* summary.c - GET /v1/jobs/{id}/summary: per parameter mean, sd, 5/50/95%
 * quantiles, MCSE of the mean, bulk and tail ESS and rank-normalized split
 * R-hat (core/diagnostics.c); per chain the accept rate, the sampler's
 * diagnostics (divergences, E-BFMI, the share of iterations at the maximum
 * tree depth, mean step size, tree depth and accept statistic) and the
 * adapted step size and inverse metric.
 *
 * Only post-warmup draws count: saved warmup rows are skipped. A chain that
 * went non-finite counts up to its last finite draw, and the parameters are
 * summarized over the shortest finite prefix of any chain (draws_per_chain;
 * "nonfinite" lists the chains that were cut). Computed on the thread pool
 * from the draws and statistics files, a block of parameters at a time, so
 * memory stays bounded whatever d is.
 *
 * The kernel Stein discrepancy (core/ksd.h) is computed on the same pool
 * thread: at most ksd_draws (config) of the summarized draws, the same
 * number from every chain, evenly spaced, with their scores from the
 * job's model rebuilt from its spec and data (the run's model is gone once
 * the chains end). A job whose model cannot be rebuilt (its dataset was
 * deleted) reports ksd.value null. It is computed for a job that has
 * ended, and for a running one only when asked (?ksd=1): a dashboard polls
 * a running job's summary every few seconds, and at N = 1e6 the scores
 * alone are a second of four threads. ?ksd=0 leaves it out. */
#include <fcntl.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "api_util.h"
#include "app.h"
#include "dataset_store.h"
#include "diagnostics.h"
#include "ksd.h"
#include "storage.h"

#define PASS_BYTES (256u << 20) /* draws held per pass over the file */
#define STAT_ROWS 4096          /* statistics rows read at once */
#define KSD_THREADS 4           /* at most, for the scores and the pair sum */

/* One chain's sampler diagnostics over its finite post-warmup draws; NaN
 * for what its sampler does not report. */
typedef struct chain_diag {
    double divergent, ebfmi, treedepth_max_share, mean_step_size, mean_treedepth, mean_accept;
} chain_diag;

typedef struct summary_task {
    app_work work;
    app *app;
    http_request *http;
    char path[4500], stats_path[4500], job_id[JOB_ID_LEN + 1];
    uint32_t chains;
    uint64_t samples;     /* rows per chain in the files */
    uint64_t first;       /* the first post-warmup row */
    uint64_t rows;        /* post-warmup draws per chain summarized */
    uint64_t *chain_rows; /* per chain: its finite post-warmup draws */
    size_t d;
    unsigned stats;    /* STAT_BIT mask of the statistics file's columns */
    double max_depth;  /* the sampler's max_tree_depth; NaN: none */
    diag_summary *out; /* d */
    chain_diag *diag;  /* chains */
    /* the job as the rows were fixed (summary_setup), so that the answer
     * does not pair them with a state or counts that came later */
    char state[16];
    chain_counts *counts; /* chains */
    double *accept;       /* chains: the accept rate, NaN without one */
    int failed;
    /* the kernel Stein discrepancy: from the spec (its canonical text), the
     * data and at most ksd_max draws */
    char *spec_json;
    char datasets_dir[4200], dataset_id[SPEC_DATASET_ID_MAX];
    size_t ksd_max, ksd_draws;
    int want_ksd;
    double ksd;
} summary_task;

/* Reads parameters [p0, p0 + np) of every chain into buf[p][c][i]. */
static int read_block(summary_task *t, int fd, size_t p0, size_t np, double *buf, double *row) {
    for (uint32_t c = 0; c < t->chains; c++)
        for (uint64_t i = 0; i < t->rows; i++) {
            uint64_t at = (uint64_t)c * t->samples + t->first + i;
            off_t off = (off_t)(at * t->d * sizeof(double));
            size_t n = t->d * sizeof(double);
            if (pread(fd, row, n, off) != (ssize_t)n) return -1;
            for (size_t p = 0; p < np; p++)
                buf[(p * t->chains + c) * t->rows + i] = row[p0 + p];
        }
    return 0;
}

static void summarize_parameters(summary_task *t) {
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

/* The column of statistic s in a row of the statistics file, or -1. */
static int stat_column(unsigned mask, unsigned s) {
    return mask & STAT_BIT(s) ? (int)chain_stat_count(mask & (STAT_BIT(s) - 1)) : -1;
}

/* Sums of one chain's statistics. */
typedef struct stat_sums {
    double divergent, at_max, step, depth, accept;
} stat_sums;

static void add_rows(const summary_task *t, const double *rows, size_t n, stat_sums *s,
                     double *energy) {
    int div = stat_column(t->stats, STAT_DIVERGENT), step = stat_column(t->stats, STAT_STEPSIZE);
    int depth = stat_column(t->stats, STAT_TREEDEPTH), acc = stat_column(t->stats, STAT_ACCEPT);
    int en = stat_column(t->stats, STAT_ENERGY);
    size_t w = chain_stat_count(t->stats);
    for (size_t i = 0; i < n; i++) {
        const double *r = rows + i * w;
        if (div >= 0) s->divergent += r[div] != 0;
        if (step >= 0) s->step += r[step];
        if (depth >= 0) s->depth += r[depth], s->at_max += r[depth] >= t->max_depth;
        if (acc >= 0) s->accept += r[acc];
        if (en >= 0) energy[i] = r[en];
    }
}

/* NaN unless the sampler reports statistic s. */
static double mean_of(const summary_task *t, unsigned s, double sum, uint64_t n) {
    return t->stats & STAT_BIT(s) && n > 0 ? sum / (double)n : NAN;
}

static int diagnose_chain(summary_task *t, int fd, uint32_t c, double *rows, double *energy) {
    uint64_t n = t->chain_rows[c];
    size_t w = chain_stat_count(t->stats);
    stat_sums s = {0};
    for (uint64_t i = 0; i < n; i += STAT_ROWS) {
        size_t k = n - i < STAT_ROWS ? (size_t)(n - i) : STAT_ROWS;
        off_t off = (off_t)(((uint64_t)c * t->samples + t->first + i) * w * sizeof(double));
        if (pread(fd, rows, k * w * sizeof(double), off) != (ssize_t)(k * w * sizeof(double)))
            return -1;
        add_rows(t, rows, k, &s, energy + i);
    }
    chain_diag *g = &t->diag[c];
    g->divergent = t->stats & STAT_BIT(STAT_DIVERGENT) ? s.divergent : NAN;
    g->ebfmi = t->stats & STAT_BIT(STAT_ENERGY) ? diag_ebfmi(energy, n, 1) : NAN;
    g->treedepth_max_share = isnan(t->max_depth) ? NAN : mean_of(t, STAT_TREEDEPTH, s.at_max, n);
    g->mean_step_size = mean_of(t, STAT_STEPSIZE, s.step, n);
    g->mean_treedepth = mean_of(t, STAT_TREEDEPTH, s.depth, n);
    g->mean_accept = mean_of(t, STAT_ACCEPT, s.accept, n);
    return 0;
}

static void diagnose_chains(summary_task *t) {
    for (uint32_t c = 0; c < t->chains; c++)
        t->diag[c] = (chain_diag){NAN, NAN, NAN, NAN, NAN, NAN};
    if (chain_stat_count(t->stats) == 0) return;
    int fd = open(t->stats_path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) return; /* a job from before statistics were kept */
    uint64_t longest = 0;
    for (uint32_t c = 0; c < t->chains; c++)
        if (t->chain_rows[c] > longest) longest = t->chain_rows[c];
    double *rows = malloc(STAT_ROWS * chain_stat_count(t->stats) * sizeof(double));
    double *energy = malloc(longest * sizeof(double) + 1);
    int bad = !rows || !energy;
    for (uint32_t c = 0; !bad && c < t->chains; c++)
        bad = diagnose_chain(t, fd, c, rows, energy) != 0;
    if (bad) t->failed = 1;
    close(fd);
    free(rows);
    free(energy);
}

/* The KSD's subset of the summarized draws into x (ksd_draws x d). */
static int read_ksd_subset(const summary_task *t, size_t per_chain, double *x) {
    int fd = open(t->path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) return -1;
    size_t n = t->d * sizeof(double), at = 0;
    int bad = 0;
    for (uint32_t c = 0; !bad && c < t->chains; c++)
        for (size_t k = 0; !bad && k < per_chain; k++, at++) {
            uint64_t row =
                (uint64_t)c * t->samples + t->first + ksd_subset_row(t->rows, per_chain, k);
            bad = pread(fd, x + at * t->d, n, (off_t)(row * n)) != (ssize_t)n;
        }
    close(fd);
    return bad ? -1 : 0;
}

/* The job's model on its data, rebuilt; NULL when it cannot be. */
static model *rebuild_model(const summary_task *t, job_spec *spec, dataset **ds) {
    spec_errors errs;
    char err[256];
    if (!t->spec_json || job_spec_parse_text(t->spec_json, strlen(t->spec_json), spec, &errs) != 0)
        return NULL;
    int rc = spec->model->y == Y_NONE ? 0
             : spec->data == SPEC_DATA_SYNTHETIC
                 ? dataset_synthesize(&spec->synthetic, ds)
                 : dataset_store_load(t->datasets_dir, t->dataset_id, ds, err, sizeof err);
    return rc == 0 ? job_spec_build_model(spec, *ds, err, sizeof err) : NULL;
}

static void summarize_ksd(summary_task *t) {
    size_t per_chain = ksd_subset_per_chain(t->chains, t->rows, t->ksd_max);
    t->ksd_draws = per_chain * t->chains;
    t->ksd = NAN;
    if (!t->want_ksd) t->ksd_draws = 0;
    if (t->ksd_draws == 0) return;
    job_spec spec = {0};
    dataset *ds = NULL;
    model *m = rebuild_model(t, &spec, &ds);
    double *x = m && model_dim(m) == t->d ? malloc(t->ksd_draws * t->d * sizeof(double)) : NULL;
    long cpus = sysconf(_SC_NPROCESSORS_ONLN);
    unsigned threads = cpus < 1 ? 1 : cpus > KSD_THREADS ? KSD_THREADS : (unsigned)cpus;
    if (x && read_ksd_subset(t, per_chain, x) == 0 &&
        ksd_of_draws(m, x, t->ksd_draws, threads, &t->ksd) != 0)
        t->ksd = NAN;
    free(x);
    model_free(m);
    dataset_free(ds);
    job_spec_free(&spec);
}

static void summary_work(uv_work_t *req) {
    summary_task *t = req->data;
    summarize_parameters(t);
    if (!t->failed) diagnose_chains(t);
    if (!t->failed) summarize_ksd(t);
}

/* Parameter j, named from the model (or theta.<j+1> before it was built). */
static json_t *parameter_json(const char *const *names, size_t j, const diag_summary *s) {
    char fallback[32];
    snprintf(fallback, sizeof fallback, "theta.%zu", j + 1);
    const char *name = names ? names[j] : fallback;
    return json_pack("{s:s, s:o, s:o, s:o, s:o, s:o, s:o, s:o, s:o, s:o}", "name", name, "mean",
                     json_number_or_null(s->mean), "sd", json_number_or_null(s->sd), "q05",
                     json_number_or_null(s->q05), "q50", json_number_or_null(s->q50), "q95",
                     json_number_or_null(s->q95), "mcse_mean", json_number_or_null(s->mcse_mean),
                     "ess_bulk", json_number_or_null(s->ess_bulk), "ess_tail",
                     json_number_or_null(s->ess_tail), "rhat", json_number_or_null(s->rhat));
}

static json_t *chain_summary_json(job *j, const summary_task *t, uint32_t c) {
    const chain_counts *k = &t->counts[c];
    const chain_diag *g = &t->diag[c];
    double accept = t->accept[c]; /* null without an accept step */
    json_t *o =
        json_pack("{s:I, s:o, s:I, s:I, s:o, s:o, s:o, s:o, s:o, s:o, s:o}", "chain", (json_int_t)c,
                  "accept_rate", json_number_or_null(accept), "draws", (json_int_t)k->draws,
                  "draws_used", (json_int_t)t->chain_rows[c], "divergent",
                  json_number_or_null(g->divergent), "ebfmi", json_number_or_null(g->ebfmi),
                  "treedepth_max_share", json_number_or_null(g->treedepth_max_share),
                  "mean_step_size", json_number_or_null(g->mean_step_size), "mean_treedepth",
                  json_number_or_null(g->mean_treedepth), "mean_accept_stat",
                  json_number_or_null(g->mean_accept), "adaptation", job_adaptation_json(j, c));
    if (o)
        json_object_set_new(o, "nonfinite_at",
                            k->nonfinite && k->nonfinite_at != UINT64_MAX
                                ? json_integer((json_int_t)k->nonfinite_at)
                                : json_null());
    return o;
}

static void respond_summary(job *j, const summary_task *t) {
    json_t *params = json_array(), *chains = json_array(), *nonfinite = json_array();
    const char *const *names = job_param_names(j);
    for (size_t p = 0; p < t->d; p++)
        json_array_append_new(params, parameter_json(names, p, &t->out[p]));
    for (uint32_t c = 0; c < t->chains; c++) {
        json_array_append_new(chains, chain_summary_json(j, t, c));
        if (t->counts[c].nonfinite) json_array_append_new(nonfinite, json_integer(c));
    }
    json_t *ksd = json_pack("{s:o, s:I, s:I, s:s, s:b}", "value", json_number_or_null(t->ksd),
                            "draws", (json_int_t)t->ksd_draws, "max_draws", (json_int_t)t->ksd_max,
                            "kernel", "imq(c=1, beta=-0.5)", "computed", t->want_ksd);
    http_respond_json(t->http, 200,
                      json_pack("{s:s, s:s, s:I, s:I, s:o, s:o, s:o, s:o}", "job", job_id(j),
                                "state", t->state, "draws_per_chain", (json_int_t)t->rows,
                                "warmup_draws", (json_int_t)t->first, "nonfinite", nonfinite,
                                "parameters", params, "chains", chains, "ksd", ksd));
}

static void summary_free(summary_task *t) {
    free(t->out);
    free(t->diag);
    free(t->chain_rows);
    free(t->counts);
    free(t->accept);
    free(t->spec_json);
    free(t);
}

static void summary_after(uv_work_t *req, int status) {
    summary_task *t = req->data;
    job *j = jobs_find(t->app, t->job_id);
    if (!j)
        respond_not_found(t->http, "job", t->job_id);
    else if (status != 0 || t->failed)
        http_respond_error(t->http, 500, "internal", "cannot read the draws", NULL);
    else
        respond_summary(j, t);
    summary_free(t);
}

/* Post-warmup draws of chain c that are finite: up to, not including, the
 * one where it went non-finite. */
static uint64_t finite_rows(const job *j, const job_shape *sh, uint32_t c) {
    const chain_counts *k = job_counts(j, c);
    uint64_t end = k->draws < sh->rows ? k->draws : sh->rows;
    if (k->nonfinite && k->nonfinite_at < end) end = k->nonfinite_at;
    if (k->nonfinite && k->nonfinite_at == UINT64_MAX) end = 0; /* in an unsaved warmup */
    return end > sh->warmup_rows ? end - sh->warmup_rows : 0;
}

static int summary_setup(summary_task *t, job *j) {
    job_draws_path(j, t->path, sizeof t->path);
    job_stats_path(j, t->stats_path, sizeof t->stats_path);
    snprintf(t->job_id, sizeof t->job_id, "%s", job_id(j));
    job_shape sh = job_shape_of(j);
    const chain_config *cfg = &job_spec_of(j)->chain;
    t->chains = sh.chains;
    t->samples = sh.rows;
    t->first = sh.warmup_rows;
    t->d = sh.d;
    t->stats = sh.stats;
    t->max_depth = sampler_param(cfg->sampler, cfg->params, "max_tree_depth", NAN);
    t->out = calloc(sh.d ? sh.d : 1, sizeof *t->out);
    t->diag = calloc(sh.chains, sizeof *t->diag);
    t->chain_rows = calloc(sh.chains, sizeof *t->chain_rows);
    t->counts = calloc(sh.chains, sizeof *t->counts);
    t->accept = calloc(sh.chains, sizeof *t->accept);
    if (!t->out || !t->diag || !t->chain_rows || !t->counts || !t->accept) return -1;
    snprintf(t->state, sizeof t->state, "%s", job_state_name(j));
    t->spec_json = j->spec_json ? strdup(j->spec_json) : NULL;
    snprintf(t->dataset_id, sizeof t->dataset_id, "%s", j->dataset_id);
    t->rows = UINT64_MAX;
    for (uint32_t c = 0; c < sh.chains; c++) {
        t->counts[c] = *job_counts(j, c);
        t->accept[c] = job_chain_progress(j, c).accept_rate;
        t->chain_rows[c] = finite_rows(j, &sh, c);
        if (t->chain_rows[c] < t->rows) t->rows = t->chain_rows[c]; /* rectangular */
    }
    return 0;
}

void api_summary(app *a, job *j, http_request *req) {
    uint64_t want = job_is_final(j) ? 1 : 0;
    if (query_u64(req, "ksd", 1, &want) != 0) return; /* answered 400 */
    int e = job_files_ensure(j);                      /* a queued job's, made sparse */
    if (e) {
        char msg[200];
        snprintf(msg, sizeof msg, "cannot make the job's files: %s", strerror(e));
        http_respond_error(req, storage_errno_is_full(e) ? 507 : 500,
                           storage_errno_is_full(e) ? "insufficient_storage" : "internal", msg,
                           NULL);
        return;
    }
    summary_task *t = calloc(1, sizeof *t);
    if (!t || summary_setup(t, j) != 0) {
        if (t) summary_free(t);
        http_respond_error(req, 500, "internal", "out of memory", NULL);
        return;
    }
    t->app = a;
    t->http = req;
    snprintf(t->datasets_dir, sizeof t->datasets_dir, "%s", a->datasets_dir);
    t->ksd_max = a->cfg.ksd_draws;
    t->want_ksd = want != 0;
    job_adaptation_load(j); /* on the loop, before the worker runs */
    app_queue_work(a, &t->work, t, summary_work, summary_after);
    http_request_defer(req);
}
