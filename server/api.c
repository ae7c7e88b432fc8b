/* api.c - the routes of the v1 API and the job handlers. Runs on the loop
 * thread; slow work (dataset parsing, summaries) goes to the thread pool
 * from api_datasets.c and summary.c. */
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api_util.h"
#include "app.h"
#include "tables.h"
#include "dataset_store.h"
#include "simd.h"

#ifndef MCMCD_VERSION
#define MCMCD_VERSION "0.1.0"
#endif

void api_summary(app *a, job *j, http_request *req); /* summary.c */

/* --- the job resource ---------------------------------------------------- */

static json_t *job_links(const job *j) {
    char base[64];
    snprintf(base, sizeof base, "/v1/jobs/%s", j->id);
    json_t *l = json_object();
    const char *rel[] = {"events", "draws", "summary", "cancel"};
    json_object_set_new(l, "self", json_string(base));
    for (int i = 0; i < 4; i++) {
        char url[96];
        snprintf(url, sizeof url, "%s/%s", base, rel[i]);
        json_object_set_new(l, rel[i], json_string(url));
    }
    return l;
}

/* What the chain's sampler reported: warmup or sampling, the step size,
 * divergences, where it went non-finite. */
static void chain_sampler_json(json_t *o, const chain_counts *k) {
    json_object_set_new(o, "warmup", json_boolean(k->warmup));
    json_object_set_new(o, "step_size", json_number_or_null(k->step_size));
    json_object_set_new(o, "divergent", json_integer((json_int_t)k->divergent));
    json_object_set_new(o, "warmup_elapsed", json_number_or_null(k->warmup_elapsed));
    json_object_set_new(o, "nonfinite", json_boolean(k->nonfinite));
    json_object_set_new(o, "nonfinite_at",
                        k->nonfinite && k->nonfinite_at != UINT64_MAX
                            ? json_integer((json_int_t)k->nonfinite_at)
                            : json_null());
}

static json_t *chain_json(const job *j, uint32_t c) {
    const chain_counts *k = &j->counts[c];
    job_progress p = job_chain_progress(j, c);
    if (job_is_final(j)) p.eta_s = 0; /* nothing is left to run */
    json_t *o = json_pack("{s:I, s:I, s:I, s:I, s:o, s:o, s:o, s:o}", "chain", (json_int_t)c,
                          "iter", (json_int_t)k->iter, "total", (json_int_t)p.total, "draws",
                          (json_int_t)k->draws, "accept_rate", json_number_or_null(p.accept_rate),
                          "it_per_s", json_number_or_null(p.it_per_s), "elapsed",
                          json_number_or_null(k->elapsed), "eta_s", json_number_or_null(p.eta_s));
    if (o) chain_sampler_json(o, k);
    return o;
}

/* Per chain, the adapted step size and inverse metric (null until the
 * chain's warmup ends): what a spec takes back as a warm start. */
static json_t *adaptation_json(job *j) {
    json_t *arr = json_array();
    for (uint32_t c = 0; arr && c < j->chains; c++)
        json_array_append_new(arr, job_adaptation_json(j, c));
    return arr;
}

/* The parameters' names, once the job's model was built; null before. */
static json_t *param_names_json(job *j) {
    const char *const *names = job_param_names(j);
    if (!names) return json_null();
    json_t *a = json_array();
    for (size_t k = 0; a && k < j->d; k++)
        json_array_append_new(a, json_string(names[k]));
    return a;
}

/* The status of a job: state, times, per-chain progress, overall rates;
 * with_spec: the spec and the chains' adaptation too. */
static json_t *job_json(job *j, int with_spec) {
    uint64_t total = chain_total_iterations(&j->spec.chain), iter = 0, acc = 0;
    double slowest = 0, elapsed = 0;
    json_t *chains = json_array();
    for (uint32_t c = 0; c < j->chains; c++) {
        const chain_counts *k = &j->counts[c];
        iter += k->iter, acc += k->accepted;
        if (k->elapsed > elapsed) elapsed = k->elapsed;
        double rate = k->elapsed > 0 ? (double)k->iter / k->elapsed : NAN;
        double eta = k->iter >= total ? 0 : (double)(total - k->iter) / rate;
        /* the slowest chain decides; a chain not started yet makes it unknown */
        slowest = isnan(eta) || isnan(slowest) ? NAN : (eta > slowest ? eta : slowest);
        json_array_append_new(chains, chain_json(j, c));
    }
    if (job_is_final(j)) slowest = 0;
    double accept = iter && job_reports_accept(j) ? (double)acc / (double)iter : NAN;
    json_t *o =
        json_pack("{s:s, s:s, s:o, s:o, s:o, s:o, s:o, s:{s:I, s:I}, s:o, s:o, s:o}", "id", j->id,
                  "state", job_state_name(j), "created", json_time_ms(j->created_ms), "started",
                  json_time_ms(j->started_ms), "finished", json_time_ms(j->finished_ms), "error",
                  j->error ? json_string(j->error) : json_null(), "dataset",
                  j->dataset_id[0] ? json_string(j->dataset_id) : json_null(), "progress", "iter",
                  (json_int_t)iter, "total", (json_int_t)(total * j->chains), "accept_rate",
                  json_number_or_null(accept), "elapsed", json_number_or_null(elapsed), "eta_s",
                  json_number_or_null(slowest));
    if (!o) return NULL;
    json_object_set_new(
        o, "shape",
        json_pack("[I, I, I]", (json_int_t)j->chains, (json_int_t)j->samples, (json_int_t)j->d));
    json_object_set_new(o, "warmup_draws", json_integer((json_int_t)j->warmup_rows));
    json_object_set_new(o, "parameters", param_names_json(j));
    json_object_set_new(o, "chains", chains);
    if (with_spec) json_object_set_new(o, "adaptation", adaptation_json(j));
    if (with_spec && j->spec_json) {
        /* the stored text, as is; a spec this build cannot read is still JSON */
        json_t *spec = json_loads(j->spec_json, 0, NULL);
        json_object_set_new(o, "spec", spec ? spec : json_string(j->spec_json));
    }
    json_object_set_new(o, "links", job_links(j));
    return o;
}

/* --- POST /v1/jobs ------------------------------------------------------- */

static void respond_spec_errors(http_request *req, const spec_errors *errs) {
    json_t *env = spec_errors_to_json(errs, "invalid_spec", "the job spec is not valid");
    json_t *err = json_object_get(env, "error");
    json_t *details = json_incref(json_object_get(err, "details"));
    json_decref(env);
    http_respond_error(req, 422, "invalid_spec", "the job spec is not valid", details);
}

/* The data's shape (n rows, d columns; 0 and 0 for a model without data)
 * for the shape check, from the registry or the spec. Returns 0, or -1
 * with an error added. */
static int resolve_shape(app *a, const job_spec *s, size_t *n, size_t *d, spec_errors *errs) {
    *n = 0;
    *d = 0;
    if (s->model->y == Y_NONE) {
        return 0;
    } else if (s->data == SPEC_DATA_SYNTHETIC) {
        *n = s->synthetic.n;
        *d = s->synthetic.d;
    } else if (s->data == SPEC_DATA_DATASET) {
        registry_dataset ds;
        if (registry_dataset_get(a->reg, s->dataset_id, &ds) != REGISTRY_OK) {
            spec_errors_add(errs, "data.dataset", "no dataset with id '%s'", s->dataset_id);
            return -1;
        }
        *n = (size_t)ds.n;
        *d = (size_t)ds.d;
        registry_dataset_clear(&ds);
    }
    return 0;
}

static void check_limits(const app *a, const job_spec *s, size_t d, spec_errors *errs) {
    const chain_config *c = &s->chain;
    if (c->chains > a->cfg.max_chains_per_job)
        spec_errors_add(errs, "chains", "must be <= %u on this server", a->cfg.max_chains_per_job);
    double values = (double)c->chains * (double)chain_kept_draws(c) * (double)d;
    if (values > (double)a->cfg.max_draw_values_per_job)
        spec_errors_add(errs, "num_samples",
                        "chains x num_samples x d = %.0f values; this server keeps at most %llu "
                        "per job",
                        values, (unsigned long long)a->cfg.max_draw_values_per_job);
}

static int parse_body_json(http_request *req, json_t **root) {
    size_t len;
    const char *body = http_request_body(req, &len);
    json_error_t e;
    *root = json_loadb(body, len, JSON_REJECT_DUPLICATES, &e);
    if (*root) return 0;
    char msg[320];
    snprintf(msg, sizeof msg, "malformed JSON at line %d, column %d (byte offset %d): %s", e.line,
             e.column, e.position, e.text);
    json_t *d = json_pack("[{s:s, s:s, s:i}]", "path", "", "message", e.text, "offset", e.position);
    http_respond_error(req, 400, "invalid_json", msg, d);
    return -1;
}

static void jobs_post(app *a, http_request *req) {
    if (strcmp(http_request_content_type(req), "application/json") != 0) {
        respond_unsupported_type(req, "application/json");
        return;
    }
    json_t *root;
    if (parse_body_json(req, &root) != 0) return;
    job_spec spec;
    spec_errors errs = {0};
    int bad = job_spec_parse(root, &spec, &errs);
    json_decref(root);
    if (bad) {
        respond_spec_errors(req, &errs);
        return;
    }
    size_t n, d = 0;
    if (resolve_shape(a, &spec, &n, &d, &errs) == 0) {
        job_spec_check_shape(&spec, n, d, &errs);
        d = job_spec_model_dim(&spec, d); /* from here on: the parameters */
        check_limits(a, &spec, d, &errs);
    }
    if (errs.count) {
        job_spec_free(&spec);
        respond_spec_errors(req, &errs);
        return;
    }
    if (jobs_active(a) >= a->cfg.max_queued_jobs) {
        job_spec_free(&spec);
        http_request_add_header(req, "Retry-After", "10");
        http_respond_error(req, 429, "too_many_jobs", "the queue is full; retry later", NULL);
        return;
    }
    job *j;
    const char *ds = spec.data == SPEC_DATA_DATASET ? spec.dataset_id : NULL;
    char ds_copy[SPEC_DATASET_ID_MAX] = "";
    if (ds) snprintf(ds_copy, sizeof ds_copy, "%s", ds);
    int rc = jobs_submit(a, &spec, ds ? ds_copy : NULL, d, &j);
    if (rc != REGISTRY_OK) {
        job_spec_free(&spec);
        http_respond_error(req, 500, "internal", registry_status_str(rc), NULL);
        return;
    }
    char loc[64];
    snprintf(loc, sizeof loc, "/v1/jobs/%s", j->id);
    http_request_add_header(req, "Location", loc);
    http_respond_json(req, 201, job_json(j, 0));
}

/* --- listing, status, cancel, delete ------------------------------------- */

typedef struct list_ctx {
    app *a;
    json_t *arr;
    const registry_job_state *state; /* the filter, or NULL */
} list_ctx;

static int list_one(void *ctx, const registry_job *row) {
    list_ctx *l = ctx;
    job *j = jobs_find(l->a, row->id);
    /* an ended job whose stored spec this build cannot read is shown as
     * failed, though the registry keeps the state it ended in */
    if (j && (!l->state || j->state == *l->state)) json_array_append_new(l->arr, job_json(j, 0));
    return 0;
}

static void jobs_list(app *a, http_request *req) {
    uint64_t page_size = 50;
    if (query_u64(req, "page_size", REGISTRY_PAGE_SIZE_MAX, &page_size) != 0) return;
    if (page_size == 0) page_size = 50;
    const char *state_name = http_request_query(req, "state");
    registry_job_state st;
    if (state_name && registry_job_state_parse(state_name, &st) != 0) {
        http_respond_error(req, 400, "invalid_query",
                           "state must be one of queued, running, succeeded, failed, cancelled",
                           NULL);
        return;
    }
    const char *token = http_request_query(req, "page_token");
    char next[REGISTRY_TOKEN_SIZE] = "";
    list_ctx l = {a, json_array(), state_name ? &st : NULL};
    int rc = registry_job_list(a->reg, state_name ? &st : NULL, (int)page_size, token, list_one, &l,
                               next);
    if (rc == REGISTRY_BAD_TOKEN) {
        json_decref(l.arr);
        http_respond_error(req, 400, "invalid_query", "page_token is not one this server made",
                           NULL);
        return;
    }
    if (rc != REGISTRY_OK) {
        json_decref(l.arr);
        http_respond_error(req, 500, "internal", registry_last_error(a->reg), NULL);
        return;
    }
    http_respond_json(req, 200, json_pack("{s:o, s:s}", "jobs", l.arr, "next_page_token", next));
}

static void job_cancel(app *a, job *j, http_request *req) {
    if (jobs_cancel(a, j) != 0) {
        char msg[96];
        snprintf(msg, sizeof msg, "the job has already %s", job_state_name(j));
        http_respond_error(req, 409, "conflict", msg, NULL);
        return;
    }
    http_respond_json(req, 202, job_json(j, 0));
}

static void job_delete(app *a, job *j, http_request *req) {
    int rc = jobs_delete(a, j);
    if (rc == REGISTRY_IN_USE)
        http_respond_error(req, 409, "conflict",
                           "the job is still queued or running; cancel it first", NULL);
    else if (rc != 0)
        http_respond_error(req, 500, "internal", registry_status_str(rc), NULL);
    else
        http_respond_empty(req, 204);
}

/* /v1/jobs/{id}[/action] */
static void route_job(app *a, http_request *req, const char *id, const char *action) {
    const char *m = http_request_method(req);
    job *j = jobs_find(a, id);
    if (!j) {
        respond_not_found(req, "job", id);
        return;
    }
    if (!action) {
        if (!strcmp(m, "GET"))
            http_respond_json(req, 200, job_json(j, 1));
        else if (!strcmp(m, "DELETE"))
            job_delete(a, j, req);
        else
            respond_method_not_allowed(req, "GET, DELETE");
        return;
    }
    int post = !strcmp(action, "cancel");
    if (post ? strcmp(m, "POST") : strcmp(m, "GET")) {
        respond_method_not_allowed(req, post ? "POST" : "GET");
        return;
    }
    if (post)
        job_cancel(a, j, req);
    else if (!strcmp(action, "events"))
        streams_events(a, j, req);
    else if (!strcmp(action, "draws"))
        streams_draws(a, j, req);
    else
        api_summary(a, j, req);
}

/* --- info, health, metrics ----------------------------------------------- */

static void info(app *a, http_request *req) {
    const serve_config *c = &a->cfg;
    http_respond_json(
        req, 200,
        json_pack("{s:s, s:s, s:o, s:o, s:[s, s], s:[s, s, s, s], s:s, s:I, "
                  "s:{s:I, s:I, s:I, s:I, s:I}}",
                  "name", "mcmcd", "version", MCMCD_VERSION, "models", model_table_to_json(),
                  "samplers", sampler_table_to_json(), "dtypes", "float64", "float32",
                  "draw_formats", "json", "csv", "npy", "ndjson", "simd", simd_ops_get()->name,
                  "workers", (json_int_t)c->workers, "limits", "max_body_bytes",
                  (json_int_t)c->max_body_bytes, "max_queued_jobs", (json_int_t)c->max_queued_jobs,
                  "max_chains_per_job", (json_int_t)c->max_chains_per_job,
                  "max_draw_values_per_job", (json_int_t)c->max_draw_values_per_job,
                  "max_iterations", (json_int_t)CHAIN_MAX_ITERATIONS));
}

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

static void metrics(app *a, http_request *req) {
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

/* --- the router ---------------------------------------------------------- */

/* Splits "/v1/jobs/abc/events" into at most 4 segments in buf. */
static int split_path(const char *path, char *buf, size_t cap, char **seg, int max) {
    snprintf(buf, cap, "%s", path);
    int n = 0;
    for (char *p = strtok(buf, "/"); p; p = strtok(NULL, "/")) {
        if (n == max) return -1;
        seg[n++] = p;
    }
    return n;
}

static int is_job_action(const char *s) {
    return !strcmp(s, "cancel") || !strcmp(s, "events") || !strcmp(s, "draws") ||
           !strcmp(s, "summary");
}

/* Routes without an id: answers and returns 1, or 0 when none matched. */
static int route_fixed(app *a, http_request *req, int n, char **seg) {
    const char *m = http_request_method(req);
    int get = !strcmp(m, "GET") || !strcmp(m, "HEAD"); /* MHD sends no body for HEAD */
    if (n == 1 && !strcmp(seg[0], "healthz") && get)
        http_respond_json(req, 200, json_pack("{s:s}", "status", "ok"));
    else if (n == 1 && !strcmp(seg[0], "metrics") && get)
        metrics(a, req);
    else if (n == 2 && !strcmp(seg[1], "info") && get)
        info(a, req);
    else if (n == 2 && !strcmp(seg[1], "jobs") && get)
        jobs_list(a, req);
    else if (n == 2 && !strcmp(seg[1], "jobs") && !strcmp(m, "POST"))
        jobs_post(a, req);
    else if ((n == 1 && (!strcmp(seg[0], "healthz") || !strcmp(seg[0], "metrics"))) ||
             (n == 2 && !strcmp(seg[1], "info")))
        respond_method_not_allowed(req, "GET");
    else if (n == 2 && !strcmp(seg[1], "jobs"))
        respond_method_not_allowed(req, "GET, POST");
    else
        return 0;
    return 1;
}

void api_handle(void *ctx, http_request *req) {
    app *a = ctx;
    const char *path = http_request_path(req);
    char buf[512], *seg[4];
    int n = split_path(path, buf, sizeof buf, seg, 4);
    a->requests_total++;
    if (a->shutting_down) {
        http_respond_error(req, 503, "shutting_down", "the server is stopping", NULL);
        return;
    }
    int v1 = n >= 2 && !strcmp(seg[0], "v1");
    if ((n == 1 || (v1 && n == 2)) && route_fixed(a, req, n, seg)) return;
    if (v1 && !strcmp(seg[1], "datasets") && n <= 3) {
        api_datasets(a, req, n == 3 ? seg[2] : NULL);
        return;
    }
    if (v1 && !strcmp(seg[1], "jobs") && (n == 3 || (n == 4 && is_job_action(seg[3])))) {
        route_job(a, req, seg[2], n == 4 ? seg[3] : NULL);
        return;
    }
    char msg[300];
    snprintf(msg, sizeof msg, "no route for %.200s; see GET /v1/info", path);
    http_respond_error(req, 404, "not_found", msg, NULL);
}
