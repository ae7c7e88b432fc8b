/* jobs.c - /v1/jobs from the client: the spec builder and its JSON,
 * submit, status, cancel, delete, list, and the summary. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "client_internal.h"

/* --- the spec builder ---------------------------------------------------- */

void mcmc_spec_init(mcmc_spec *s) {
    if (!s) return;
    *s = (mcmc_spec){.prior_variance = NAN,
                     .sampler = "mala",
                     .step_size = NAN,
                     .num_samples = 1000,
                     .thin = 1,
                     .chains = 1,
                     .init = MCMC_INIT_ZEROS,
                     .dtype = MCMC_DTYPE_FLOAT64,
                     .progress_every = 1000,
                     .row_threads = 1};
}

static int put(json_t *o, const char *key, json_t *v) {
    return json_object_set_new(o, key, v);
}

static json_t *uint_json(uint64_t v) {
    if (v <= (uint64_t)INT64_MAX) return json_integer((json_int_t)v);
    char text[24]; /* the spec takes a decimal string past 2^63 */
    snprintf(text, sizeof text, "%llu", (unsigned long long)v);
    return json_string(text);
}

/* A *_json field: NULL is an empty object; anything but an object is an
 * error (NULL). */
static json_t *object_of(const char *text) {
    if (!text) return json_object();
    json_t *o = json_loads(text, 0, NULL);
    if (json_is_object(o)) return o;
    json_decref(o);
    return NULL;
}

/* o's members, then params' over them; 0 or -1. Steals params. */
static int merge(json_t *o, json_t *params) {
    int bad = !o || !params || json_object_update(o, params) != 0;
    json_decref(params);
    return bad ? -1 : 0;
}

static json_t *data_json(const mcmc_spec *s) {
    if (s->dataset_id) return json_pack("{s:s}", "dataset", s->dataset_id);
    return json_pack("{s:{s:o, s:o, s:o}}", "synthetic", "n", uint_json(s->synthetic.n), "d",
                     uint_json(s->synthetic.d), "seed", uint_json(s->synthetic.seed));
}

static json_t *model_json(const mcmc_spec *s) {
    json_t *o = json_pack("{s:s}", "type", s->model ? s->model : "logistic_regression");
    int bad = !o;
    if (!bad && !isnan(s->prior_variance))
        bad = put(o, "prior_variance", json_real(s->prior_variance)) != 0;
    if (!bad && merge(o, object_of(s->model_params_json)) == 0) return o;
    json_decref(o);
    return NULL;
}

static json_t *sampler_json(const mcmc_spec *s) {
    json_t *o = json_pack("{s:s}", "type", s->sampler ? s->sampler : "mala");
    int bad = !o;
    if (!bad && !isnan(s->step_size)) bad = put(o, "step_size", json_real(s->step_size)) != 0;
    if (!bad && s->batch_size > 0) bad = put(o, "batch_size", uint_json(s->batch_size)) != 0;
    if (!bad && merge(o, object_of(s->sampler_params_json)) == 0) return o;
    json_decref(o);
    return NULL;
}

static json_t *spec_json(const mcmc_spec *s) {
    static const char *const inits[] = {"zeros", "prior", "true"};
    static const char *const dtypes[] = {"float64", "float32"};
    json_t *o =
        json_pack("{s:o*, s:o*, s:o, s:o, s:o, s:b, s:s, s:s}", "model", model_json(s), "sampler",
                  sampler_json(s), "num_samples", uint_json(s->num_samples), "num_warmup",
                  uint_json(s->num_warmup), "thin", uint_json(s->thin), "save_warmup",
                  s->save_warmup != 0, "init", inits[s->init], "dtype", dtypes[s->dtype]);
    int bad = !o || !json_object_get(o, "model") || !json_object_get(o, "sampler");
    if (!bad && (s->dataset_id || s->synthetic.n > 0)) bad = put(o, "data", data_json(s)) != 0;
    bad = bad || put(o, "chains", json_integer(s->chains)) != 0;
    bad = bad || put(o, "key", uint_json(s->key)) != 0;
    bad = bad || put(o, "progress_every", uint_json(s->progress_every)) != 0;
    bad = bad || put(o, "row_threads", json_integer(s->row_threads)) != 0;
    bad = bad || merge(o, object_of(s->extra_json)) != 0;
    if (!bad) return o;
    json_decref(o);
    return NULL;
}

/* What mcmc_spec_to_json refuses before building anything. */
static int spec_is_invalid(const mcmc_spec *s) {
    const char *texts[] = {s->model_params_json, s->sampler_params_json, s->extra_json};
    for (int i = 0; i < 3; i++) {
        json_t *o = object_of(texts[i]);
        json_decref(o);
        if (!o) return 1;
    }
    return (unsigned)s->init > MCMC_INIT_TRUE || (unsigned)s->dtype > MCMC_DTYPE_FLOAT32 ||
           isinf(s->step_size) || isinf(s->prior_variance);
}

mcmc_client_status mcmc_spec_to_json(const mcmc_spec *spec, char **json_out) {
    if (!json_out) return MCMC_CLIENT_INVALID;
    *json_out = NULL;
    if (!spec || spec_is_invalid(spec)) return MCMC_CLIENT_INVALID;
    json_t *o = spec_json(spec);
    *json_out = o ? json_dumps(o, JSON_COMPACT) : NULL;
    json_decref(o);
    return *json_out ? MCMC_CLIENT_OK : MCMC_CLIENT_NOMEM;
}

/* --- the server's tables ------------------------------------------------- */

mcmc_client_status mcmc_get_info_json(mcmc_client *c, char **json_out, mcmc_error *err) {
    mcmcc_error_reset(err);
    if (json_out) *json_out = NULL;
    if (!c || !json_out) return mcmcc_fail(err, MCMC_CLIENT_INVALID, "no client or no output");
    json_t *root;
    mcmc_client_status st = mcmcc_json_call(c, "GET", "/v1/info", NULL, &root, err);
    if (st == MCMC_CLIENT_OK && !json_is_object(root))
        st = mcmcc_fail(err, MCMC_CLIENT_PROTOCOL, "the answer is not an object");
    if (st == MCMC_CLIENT_OK && !(*json_out = json_dumps(root, JSON_COMPACT)))
        st = mcmcc_fail(err, MCMC_CLIENT_NOMEM, "out of memory");
    json_decref(root);
    return st;
}

/* --- one job ------------------------------------------------------------- */

/* Reads an answer that is one job into out (may be NULL). */
static mcmc_client_status job_answer(mcmc_client_status st, json_t *root, mcmc_job *out,
                                     mcmc_error *err) {
    if (st == MCMC_CLIENT_OK && !json_is_object(root))
        st = mcmcc_fail(err, MCMC_CLIENT_PROTOCOL, "the answer is not a job");
    if (st == MCMC_CLIENT_OK && out && mcmcc_job_from_json(root, out) != 0)
        st = mcmcc_fail(err, MCMC_CLIENT_NOMEM, "out of memory");
    json_decref(root);
    return st;
}

mcmc_client_status mcmc_submit_job_json(mcmc_client *c, const char *spec_json, mcmc_job *out,
                                        mcmc_error *err) {
    mcmcc_error_reset(err);
    if (out) memset(out, 0, sizeof *out);
    if (!c || !spec_json) return mcmcc_fail(err, MCMC_CLIENT_INVALID, "no client or no spec");
    json_t *root;
    mcmc_client_status st = mcmcc_json_call(c, "POST", "/v1/jobs", spec_json, &root, err);
    return job_answer(st, root, out, err);
}

mcmc_client_status mcmc_submit_job(mcmc_client *c, const mcmc_spec *spec, mcmc_job *out,
                                   mcmc_error *err) {
    char *text;
    mcmc_client_status st = mcmc_spec_to_json(spec, &text);
    if (st != MCMC_CLIENT_OK) {
        mcmcc_error_reset(err);
        if (out) memset(out, 0, sizeof *out);
        return mcmcc_fail(err, st, st == MCMC_CLIENT_NOMEM ? "out of memory" : "bad spec");
    }
    st = mcmc_submit_job_json(c, text, out, err);
    free(text);
    return st;
}

/* GET/POST/DELETE on /v1/jobs/{id}[suffix], the answer a job (or none). */
static mcmc_client_status job_call(mcmc_client *c, const char *method, const char *id,
                                   const char *suffix, mcmc_job *out, mcmc_error *err) {
    mcmcc_error_reset(err);
    if (out) memset(out, 0, sizeof *out);
    if (!c) return mcmcc_fail(err, MCMC_CLIENT_INVALID, "no client");
    char path[512];
    mcmc_client_status st = mcmcc_job_path(c, id, suffix, path, sizeof path, err);
    if (st != MCMC_CLIENT_OK) return st;
    json_t *root;
    st = mcmcc_json_call(c, method, path, !strcmp(method, "POST") ? "" : NULL, &root, err);
    if (!out) {
        json_decref(root);
        return st;
    }
    return job_answer(st, root, out, err);
}

mcmc_client_status mcmc_get_job(mcmc_client *c, const char *id, mcmc_job *out, mcmc_error *err) {
    if (!out) {
        mcmcc_error_reset(err);
        return mcmcc_fail(err, MCMC_CLIENT_INVALID, "no job to fill");
    }
    return job_call(c, "GET", id, NULL, out, err);
}

mcmc_client_status mcmc_cancel_job(mcmc_client *c, const char *id, mcmc_job *out, mcmc_error *err) {
    return job_call(c, "POST", id, "/cancel", out, err);
}

mcmc_client_status mcmc_delete_job(mcmc_client *c, const char *id, mcmc_error *err) {
    return job_call(c, "DELETE", id, NULL, NULL, err);
}

/* --- the list ------------------------------------------------------------ */

static mcmc_client_status list_path(mcmc_client *c, mcmc_job_state state, size_t page_size,
                                    const char *token, char *buf, size_t cap, mcmc_error *err) {
    char *escaped = token && *token ? curl_easy_escape(c->curl, token, 0) : NULL;
    if (token && *token && !escaped) return mcmcc_fail(err, MCMC_CLIENT_NOMEM, "out of memory");
    int n = snprintf(buf, cap, "/v1/jobs?page_size=%zu%s%s%s%s", page_size,
                     state != MCMC_JOB_UNKNOWN ? "&state=" : "",
                     state != MCMC_JOB_UNKNOWN ? mcmc_job_state_name(state) : "",
                     escaped ? "&page_token=" : "", escaped ? escaped : "");
    curl_free(escaped);
    if (n < 0 || (size_t)n >= cap) return mcmcc_fail(err, MCMC_CLIENT_INVALID, "token too long");
    return MCMC_CLIENT_OK;
}

static mcmc_client_status jobs_from_json(const json_t *root, mcmc_job_list *out, mcmc_error *err) {
    const json_t *arr = json_object_get(root, "jobs");
    if (!json_is_array(arr))
        return mcmcc_fail(err, MCMC_CLIENT_PROTOCOL, "the answer has no jobs array");
    mcmcc_json_string(root, "next_page_token", out->next_page_token, sizeof out->next_page_token);
    size_t n = json_array_size(arr);
    if (n && !(out->jobs = calloc(n, sizeof *out->jobs)))
        return mcmcc_fail(err, MCMC_CLIENT_NOMEM, "out of memory");
    for (size_t i = 0; i < n; i++) {
        if (mcmcc_job_from_json(json_array_get(arr, i), &out->jobs[i]) != 0)
            return mcmcc_fail(err, MCMC_CLIENT_NOMEM, "out of memory");
        out->count++;
    }
    return MCMC_CLIENT_OK;
}

mcmc_client_status mcmc_list_jobs(mcmc_client *c, mcmc_job_state state, size_t page_size,
                                  const char *page_token, mcmc_job_list *out, mcmc_error *err) {
    mcmcc_error_reset(err);
    if (!c || !out || (unsigned)state > MCMC_JOB_CANCELLED)
        return mcmcc_fail(err, MCMC_CLIENT_INVALID, "no client, no list or a bad state");
    *out = (mcmc_job_list){0};
    char path[512];
    mcmc_client_status st = list_path(c, state, page_size, page_token, path, sizeof path, err);
    if (st != MCMC_CLIENT_OK) return st;
    json_t *root;
    st = mcmcc_json_call(c, "GET", path, NULL, &root, err);
    if (st == MCMC_CLIENT_OK) st = jobs_from_json(root, out, err);
    json_decref(root);
    if (st != MCMC_CLIENT_OK) mcmc_job_list_free(out);
    return st;
}

void mcmc_job_list_free(mcmc_job_list *list) {
    if (!list) return;
    for (size_t i = 0; i < list->count; i++)
        mcmc_job_free(&list->jobs[i]);
    free(list->jobs);
    *list = (mcmc_job_list){0};
}

/* --- the summary --------------------------------------------------------- */

static void param_from_json(const json_t *o, mcmc_param_summary *p) {
    mcmcc_json_string(o, "name", p->name, sizeof p->name);
    p->mean = mcmcc_json_number(o, "mean");
    p->sd = mcmcc_json_number(o, "sd");
    p->q05 = mcmcc_json_number(o, "q05");
    p->q50 = mcmcc_json_number(o, "q50");
    p->q95 = mcmcc_json_number(o, "q95");
    p->mcse_mean = mcmcc_json_number(o, "mcse_mean");
    p->ess_bulk = mcmcc_json_number(o, "ess_bulk");
    p->ess_tail = mcmcc_json_number(o, "ess_tail");
    p->rhat = mcmcc_json_number(o, "rhat");
}

static mcmc_client_status summary_from_json(const json_t *root, mcmc_summary *out,
                                            mcmc_error *err) {
    const json_t *params = json_object_get(root, "parameters");
    const json_t *chains = json_object_get(root, "chains");
    if (!json_is_array(params) || !json_is_array(chains))
        return mcmcc_fail(err, MCMC_CLIENT_PROTOCOL, "the answer is not a summary");
    mcmcc_json_string(root, "job", out->job, sizeof out->job);
    char state[32];
    mcmcc_json_string(root, "state", state, sizeof state);
    out->state = mcmcc_job_state_parse(state);
    out->draws_per_chain = mcmcc_json_u64(root, "draws_per_chain");
    size_t np = json_array_size(params), nc = json_array_size(chains);
    out->params = calloc(np ? np : 1, sizeof *out->params);
    out->chains = calloc(nc ? nc : 1, sizeof *out->chains);
    if (!out->params || !out->chains) return mcmcc_fail(err, MCMC_CLIENT_NOMEM, "out of memory");
    for (out->nparams = 0; out->nparams < np; out->nparams++)
        param_from_json(json_array_get(params, out->nparams), &out->params[out->nparams]);
    for (out->nchains = 0; out->nchains < nc; out->nchains++) {
        const json_t *o = json_array_get(chains, out->nchains);
        mcmc_chain_summary *s = &out->chains[out->nchains];
        s->chain = (uint32_t)mcmcc_json_u64(o, "chain");
        s->accept_rate = mcmcc_json_number(o, "accept_rate");
        s->draws = mcmcc_json_u64(o, "draws");
    }
    return MCMC_CLIENT_OK;
}

mcmc_client_status mcmc_get_summary(mcmc_client *c, const char *id, mcmc_summary *out,
                                    mcmc_error *err) {
    mcmcc_error_reset(err);
    if (!c || !out) return mcmcc_fail(err, MCMC_CLIENT_INVALID, "no client or no summary");
    *out = (mcmc_summary){0};
    char path[512];
    mcmc_client_status st = mcmcc_job_path(c, id, "/summary", path, sizeof path, err);
    if (st != MCMC_CLIENT_OK) return st;
    json_t *root;
    st = mcmcc_json_call(c, "GET", path, NULL, &root, err);
    if (st == MCMC_CLIENT_OK) st = summary_from_json(root, out, err);
    json_decref(root);
    if (st != MCMC_CLIENT_OK) mcmc_summary_free(out);
    return st;
}

void mcmc_summary_free(mcmc_summary *summary) {
    if (!summary) return;
    free(summary->params);
    free(summary->chains);
    *summary = (mcmc_summary){0};
}
