/* budget.c - the memory budget's checks at submit and upload, and their
 * answer (budget.h). */
#include "budget.h"

#include <stdio.h>
#include <string.h>

/* "41.3 GiB" and the like, for messages. */
static void human_bytes(uint64_t v, char *buf, size_t cap) {
    static const char *const unit[] = {"bytes", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB"};
    double x = (double)v;
    int u = 0;
    while (x >= 1024 && u < 6)
        x /= 1024, u++;
    if (u == 0)
        snprintf(buf, cap, "%llu bytes", (unsigned long long)v);
    else
        snprintf(buf, cap, "%.1f %s", x, unit[u]);
}

static void job_footprint(const serve_config *cfg, const job_spec *s, uint64_t n, uint64_t d,
                          footprint_job *fp) {
    footprint_of_job(s->model, &s->model_args, s->dtype, &s->chain, n, d, cfg->workers, fp);
}

uint64_t budget_job_bytes(const serve_config *cfg, const job_spec *s, uint64_t n, uint64_t d) {
    footprint_job fp;
    job_footprint(cfg, s, n, d, &fp);
    return fp.total;
}

/* The field that makes the job large: its data (or the model without
 * data), else its chains. */
static const char *job_path(const job_spec *s, const footprint_job *fp) {
    uint64_t chains = footprint_mul(fp->at_once, fp->chain);
    if (footprint_add(fp->data, fp->model) < chains) return "chains";
    if (s->model->y == Y_NONE) return "model";
    return s->data == SPEC_DATA_SYNTHETIC ? "data.synthetic.n" : "data.dataset";
}

int budget_check_job(const serve_config *cfg, const job_spec *s, uint64_t n, uint64_t d,
                     budget_over *over) {
    footprint_job fp;
    job_footprint(cfg, s, n, d, &fp);
    if (fp.total <= cfg->memory_budget) return 0;
    char total[32], data[32], copies[32], chain[32], limit[32];
    human_bytes(fp.total, total, sizeof total);
    human_bytes(fp.data, data, sizeof data);
    human_bytes(fp.model, copies, sizeof copies);
    human_bytes(fp.chain, chain, sizeof chain);
    human_bytes(cfg->memory_budget, limit, sizeof limit);
    *over = (budget_over){.needs = fp.total, .limit = cfg->memory_budget};
    snprintf(over->path, sizeof over->path, "%s", job_path(s, &fp));
    snprintf(over->message, sizeof over->message,
             "the job needs %llu bytes (%s) of memory: the data %s, the model's copies %s, %u "
             "chain%s at once of %s each; the memory budget is %llu bytes (%s)",
             (unsigned long long)fp.total, total, data, copies, fp.at_once,
             fp.at_once == 1 ? "" : "s", chain, (unsigned long long)cfg->memory_budget, limit);
    return 1;
}

int budget_check_dataset(const serve_config *cfg, uint64_t n, uint64_t d, const char *path,
                         budget_over *over) {
    uint64_t needs = footprint_dataset(n, d);
    if (needs <= cfg->memory_budget) return 0;
    char size[32], limit[32];
    human_bytes(needs, size, sizeof size);
    human_bytes(cfg->memory_budget, limit, sizeof limit);
    *over = (budget_over){.needs = needs, .limit = cfg->memory_budget};
    snprintf(over->path, sizeof over->path, "%s", path);
    snprintf(over->message, sizeof over->message,
             "the dataset (%llu rows of %llu columns) needs %llu bytes (%s) of memory; the "
             "memory budget is %llu bytes (%s)",
             (unsigned long long)n, (unsigned long long)d, (unsigned long long)needs, size,
             (unsigned long long)cfg->memory_budget, limit);
    return 1;
}

static json_int_t json_bytes(uint64_t v) {
    return v > INT64_MAX ? INT64_MAX : (json_int_t)v;
}

void budget_respond(http_request *req, const budget_over *over) {
    json_t *details =
        json_pack("[{s:s, s:s, s:I, s:I}]", "path", over->path, "message", over->message, "needs",
                  json_bytes(over->needs), "limit", json_bytes(over->limit));
    http_respond_error(req, 413, "too_large", over->message, details);
}
