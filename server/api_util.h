/* api_util.h - small helpers shared by the route handlers. */
#ifndef MCMCD_API_UTIL_H
#define MCMCD_API_UTIL_H

#include <jansson.h>
#include <stdint.h>

#include "http.h"

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

/* api_datasets.c */
typedef struct app app;
void api_datasets(app *a, http_request *req, const char *id);

#endif
