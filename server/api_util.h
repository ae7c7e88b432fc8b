/* api_util.h - what the route handlers share: the call a route handler
 * gets (request, caller, the route's {id}), the handlers of each module,
 * and small answering helpers. */
#ifndef MCMCD_API_UTIL_H
#define MCMCD_API_UTIL_H

#include <jansson.h>
#include <stdint.h>

#include "auth.h"
#include "http.h"

typedef struct app app;

/* One request on its way through a route handler. */
typedef struct api_call {
    app *app;
    http_request *req;
    const principal *who; /* the caller; for public routes, nobody (id 0) */
    const char *id;       /* the route's {id} segment, or NULL */
    const char *route;    /* the route's pattern, e.g. "/v1/jobs/{id}" */
} api_call;

/* Whether the caller may see an object owned by user owner: its owner
 * or an admin. */
int api_may_see(const api_call *c, int64_t owner);

/* A JSON number, or null when v is NaN or infinite. */
json_t *json_number_or_null(double v);
/* "2026-11-28T20:14:05.123Z", or null for 0. */
json_t *json_time_ms(int64_t ms);
/* Parses a decimal query parameter; returns 0 (absent: *out untouched) or
 * -1 after answering 400 with the parameter's name. */
int query_u64(http_request *req, const char *name, uint64_t max, uint64_t *out);
void respond_not_found(http_request *req, const char *what, const char *id);
void respond_method_not_allowed(http_request *req, const char *allow);
void respond_unsupported_type(http_request *req, const char *expected);
/* Answers 400 invalid_json for a body jansson could not parse (the
 * parse runs where the route likes: a large body on the thread pool). */
void api_respond_json_error(http_request *req, const json_error_t *error);

/* api_jobs.c */
/* A route's body limit (http.h's http_body_limit_fn): a job spec's is
 * smaller than max_body_bytes. */
uint64_t api_body_limit(void *ctx, const char *method, const char *path);

/* api_jobs.c */
void api_jobs_post(api_call *c);
void api_jobs_list(api_call *c);
void api_job_get(api_call *c);
void api_job_delete(api_call *c);
void api_job_cancel(api_call *c);
void api_job_events(api_call *c);
void api_job_draws(api_call *c);
void api_job_summary(api_call *c);
void api_job_result(api_call *c); /* a tuning or mode job's result */

/* api_datasets.c */
void api_datasets_post(api_call *c);
void api_datasets_list(api_call *c);
void api_dataset_get(api_call *c);
void api_dataset_delete(api_call *c);
/* The dataset a spec names, by id or by the caller's name for it: 0 with
 * its id in id_out, or -1 (not one the caller may use). */
int api_dataset_resolve(api_call *c, const char *id_or_name, char *id_out, size_t cap, int64_t *n,
                        int64_t *d);

/* metrics.c */
void api_metrics(api_call *c);

#endif
