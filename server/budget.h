/* budget.h - the memory budget (memory_budget, config.h): what a job or a
 * dataset needs in memory (core's footprint.h, the one place that reckons
 * it), the refusal of one that could not fit even alone, and the 413 that
 * says so. The scheduler's part, holding back a job that does not fit
 * beside the running ones, is in jobs.c. */
#ifndef MCMCD_BUDGET_H
#define MCMCD_BUDGET_H

#include <stdint.h>

#include "config.h"
#include "footprint.h"
#include "http.h"
#include "job_spec.h"

/* Why something is too large: what needs how much, against which limit,
 * and the path of the field that makes it so. */
typedef struct budget_over {
    uint64_t needs, limit;
    char path[SPEC_PATH_MAX];
    char message[320];
} budget_over;

/* The memory a job of spec holds while it runs, on data of n rows and d
 * columns (both ignored for the models without data), when at most
 * cfg->workers of its chains run at once. */
uint64_t budget_job_bytes(const serve_config *cfg, const job_spec *s, uint64_t n, uint64_t d);

/* 1 with *over filled when the job alone needs more than the budget, else
 * 0. */
int budget_check_job(const serve_config *cfg, const job_spec *s, uint64_t n, uint64_t d,
                     budget_over *over);

/* The same for a dataset of n x d held in memory; path names the field
 * that sets its size ("synthetic.n", "X"). */
int budget_check_dataset(const serve_config *cfg, uint64_t n, uint64_t d, const char *path,
                         budget_over *over);

/* 413 {"error": {"code": "too_large", "message", "details": [{"path",
 * "message", "needs", "limit"}]}}. */
void budget_respond(http_request *req, const budget_over *over);

#endif
