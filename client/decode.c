/* decode.c - reading the daemon's JSON into the client's structs: small
 * readers that turn null and missing members into NaN, 0 or "", job
 * states, and the job resource. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "client_internal.h"

double mcmcc_json_number(const json_t *obj, const char *key) {
    const json_t *v = json_object_get(obj, key);
    return json_is_number(v) ? json_number_value(v) : NAN;
}

uint64_t mcmcc_json_u64(const json_t *obj, const char *key) {
    const json_t *v = json_object_get(obj, key);
    if (json_is_integer(v)) return json_integer_value(v) > 0 ? (uint64_t)json_integer_value(v) : 0;
    double x = json_is_real(v) ? json_real_value(v) : 0;
    return x > 0 && x < 18446744073709551616.0 ? (uint64_t)x : 0;
}

void mcmcc_json_string(const json_t *obj, const char *key, char *buf, size_t cap) {
    const json_t *v = json_object_get(obj, key);
    snprintf(buf, cap, "%s", json_is_string(v) ? json_string_value(v) : "");
}

static const char *const state_names[] = {"unknown",   "queued", "running",
                                          "succeeded", "failed", "cancelled"};

const char *mcmc_job_state_name(mcmc_job_state state) {
    return state >= MCMC_JOB_QUEUED && state <= MCMC_JOB_CANCELLED ? state_names[state]
                                                                   : state_names[0];
}

mcmc_job_state mcmcc_job_state_parse(const char *name) {
    for (int s = MCMC_JOB_QUEUED; name && s <= MCMC_JOB_CANCELLED; s++)
        if (!strcmp(name, state_names[s])) return (mcmc_job_state)s;
    return MCMC_JOB_UNKNOWN;
}

static const char *const phase_names[] = {"unknown", "warmup", "sampling"};

const char *mcmc_phase_name(mcmc_phase phase) {
    return phase == MCMC_PHASE_WARMUP || phase == MCMC_PHASE_SAMPLING ? phase_names[phase]
                                                                      : phase_names[0];
}

mcmc_phase mcmcc_phase_of(const json_t *obj) {
    const char *name = json_string_value(json_object_get(obj, "phase"));
    for (int p = MCMC_PHASE_WARMUP; name && p <= MCMC_PHASE_SAMPLING; p++)
        if (!strcmp(name, phase_names[p])) return (mcmc_phase)p;
    const json_t *warmup = json_object_get(obj, "warmup"); /* a job's chain status says it so */
    if (json_is_boolean(warmup))
        return json_is_true(warmup) ? MCMC_PHASE_WARMUP : MCMC_PHASE_SAMPLING;
    return MCMC_PHASE_UNKNOWN;
}

static void chain_from_json(const json_t *o, mcmc_chain_progress *p) {
    p->chain = (uint32_t)mcmcc_json_u64(o, "chain");
    p->iter = mcmcc_json_u64(o, "iter");
    p->total = mcmcc_json_u64(o, "total");
    p->draws = mcmcc_json_u64(o, "draws");
    p->phase = mcmcc_phase_of(o);
    p->step_size = mcmcc_json_number(o, "step_size");
    p->divergent = mcmcc_json_u64(o, "divergent");
    p->accept_rate = mcmcc_json_number(o, "accept_rate");
    p->it_per_s = mcmcc_json_number(o, "it_per_s");
    p->elapsed = mcmcc_json_number(o, "elapsed");
    p->eta_s = mcmcc_json_number(o, "eta_s");
}

static void shape_from_json(const json_t *shape, mcmc_job *out) {
    uint64_t v[3] = {0, 0, 0};
    for (size_t i = 0; i < 3 && i < json_array_size(shape); i++) {
        const json_t *x = json_array_get(shape, i);
        v[i] =
            json_is_integer(x) && json_integer_value(x) > 0 ? (uint64_t)json_integer_value(x) : 0;
    }
    out->chains = v[0];
    out->samples = v[1];
    out->d = v[2];
}

/* The owned parts: per-chain progress, error, spec. */
/* "parameters": d names, or null. */
static int names_from_json(const json_t *a, mcmc_job *out) {
    if (!json_is_array(a) || json_array_size(a) != out->d) return 0;
    if (!(out->param_names = calloc(out->d ? out->d : 1, sizeof *out->param_names))) return -1;
    for (size_t k = 0; k < out->d; k++) {
        const char *s = json_string_value(json_array_get(a, k));
        if (!(out->param_names[k] = strdup(s ? s : "?"))) return -1;
    }
    return 0;
}

static int job_owned_from_json(const json_t *o, mcmc_job *out) {
    const json_t *chains = json_object_get(o, "chains");
    size_t n = json_array_size(chains);
    if (n && !(out->progress = calloc(n, sizeof *out->progress))) return -1;
    out->nchains = n;
    for (size_t i = 0; i < n; i++)
        chain_from_json(json_array_get(chains, i), &out->progress[i]);
    const json_t *err = json_object_get(o, "error");
    if (json_is_string(err) && !(out->error = strdup(json_string_value(err)))) return -1;
    const json_t *spec = json_object_get(o, "spec");
    if (json_is_object(spec) && !(out->spec_json = json_dumps(spec, JSON_COMPACT))) return -1;
    return names_from_json(json_object_get(o, "parameters"), out);
}

int mcmcc_job_from_json(const json_t *o, mcmc_job *out) {
    memset(out, 0, sizeof *out);
    mcmcc_json_string(o, "id", out->id, sizeof out->id);
    char state[32];
    mcmcc_json_string(o, "state", state, sizeof state);
    out->state = mcmcc_job_state_parse(state);
    mcmcc_json_string(o, "dataset", out->dataset, sizeof out->dataset);
    mcmcc_json_string(o, "created", out->created, sizeof out->created);
    mcmcc_json_string(o, "started", out->started, sizeof out->started);
    mcmcc_json_string(o, "finished", out->finished, sizeof out->finished);
    const json_t *p = json_object_get(o, "progress");
    out->iter = mcmcc_json_u64(p, "iter");
    out->total = mcmcc_json_u64(p, "total");
    out->accept_rate = mcmcc_json_number(o, "accept_rate");
    out->elapsed = mcmcc_json_number(o, "elapsed");
    out->eta_s = mcmcc_json_number(o, "eta_s");
    shape_from_json(json_object_get(o, "shape"), out);
    if (job_owned_from_json(o, out) == 0) return 0;
    mcmc_job_free(out);
    return -1;
}

void mcmc_job_free(mcmc_job *job) {
    if (!job) return;
    free(job->progress);
    free(job->error);
    free(job->spec_json);
    for (size_t k = 0; job->param_names && k < job->d; k++)
        free(job->param_names[k]);
    free(job->param_names);
    job->param_names = NULL;
    job->progress = NULL;
    job->error = job->spec_json = NULL;
    job->nchains = 0;
}
