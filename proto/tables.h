/* tables.h - core's sampler and model tables as JSON, the one description
 * that /v1/info serves and that clients, `mcmc`'s help and the OpenAPI test
 * read: each sampler's name, help, parameters (name, type, default, bounds,
 * choices, help), the statistics it reports and whether it adapts; each
 * model's name, help, the y it takes and its parameters. */
#ifndef MCMCD_TABLES_H
#define MCMCD_TABLES_H

#include <jansson.h>

#include "../core/param.h"

/* [{"name", "help", "adapts", "uses_metric", "minibatch", "stats": [..],
 *   "params": [..]}, ...] (new reference; NULL on ENOMEM). */
json_t *sampler_table_to_json(void);
/* [{"name", "help", "y": "binary"|"counts"|"real"|"none", "params": [..]},
 *  ...]: core's model table (new reference; NULL on ENOMEM). */
json_t *model_table_to_json(void);
/* A parameter's value as JSON: a boolean, a choice's name, an integer or
 * a number. */
json_t *param_value_to_json(const param_def *pd, double v);
/* One parameter list: [{"name", "type", "default", "minimum" or
 * "exclusiveMinimum", "maximum", "enum", "required", "help"}, ...]. */
json_t *params_to_json(const param_def *defs, size_t n);

#endif
