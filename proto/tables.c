/* tables.c - the sampler table (core/sampler.h) and the model table
 * (core/model.h) rendered as JSON for /v1/info and everything that reads
 * it. */
#include <math.h>

#include "tables.h"

#include "../core/model.h"
#include "../core/sampler.h"

json_t *param_value_to_json(const param_def *pd, double v) {
    switch (pd->kind) {
    case P_BOOL:
        return json_boolean(v != 0);
    case P_CHOICE:
        return json_string(pd->choices[(int)v]);
    case P_INT:
        return json_integer((json_int_t)v);
    default:
        return json_real(v);
    }
}

static json_t *param_to_json(const param_def *pd) {
    json_t *o = json_pack("{s:s, s:s, s:s}", "name", pd->name, "type", param_kind_name(pd->kind),
                          "help", pd->help);
    if (!o) return NULL;
    if (pd->flags & P_REQUIRED)
        json_object_set_new(o, "required", json_true());
    else if (!(pd->flags & P_OPTIONAL) && pd->kind != P_VECTOR && pd->kind != P_MATRIX)
        json_object_set_new(o, "default", param_value_to_json(pd, pd->def));
    if (pd->kind == P_REAL || pd->kind == P_INT) {
        json_object_set_new(o, pd->flags & P_MIN_OPEN ? "exclusiveMinimum" : "minimum",
                            param_value_to_json(pd, pd->min));
        if (pd->max < 1e300) json_object_set_new(o, "maximum", param_value_to_json(pd, pd->max));
    }
    if (pd->kind == P_CHOICE) {
        json_t *e = json_array();
        for (const char *const *c = pd->choices; *c; c++)
            json_array_append_new(e, json_string(*c));
        json_object_set_new(o, "enum", e);
    }
    return o;
}

json_t *params_to_json(const param_def *defs, size_t n) {
    json_t *a = json_array();
    for (size_t i = 0; a && i < n; i++)
        json_array_append_new(a, param_to_json(&defs[i]));
    return a;
}

static json_t *stats_to_json(unsigned mask) {
    json_t *a = json_array();
    for (unsigned s = 0; a && s < STAT_COUNT; s++)
        if (mask & STAT_BIT(s)) json_array_append_new(a, json_string(chain_stat_name(s)));
    return a;
}

json_t *sampler_table_to_json(void) {
    json_t *a = json_array();
    for (const sampler_def *const *d = sampler_table; a && *d; d++) {
        const sampler_def *s = *d;
        json_array_append_new(
            a, json_pack("{s:s, s:s, s:b, s:b, s:b, s:o, s:o}", "name", s->name, "help", s->help,
                         "adapts", (s->flags & SAMPLER_ADAPTS) != 0, "uses_metric",
                         (s->flags & SAMPLER_USES_METRIC) != 0, "minibatch",
                         (s->flags & SAMPLER_MINIBATCH) != 0, "stats", stats_to_json(s->stats),
                         "params", params_to_json(s->params, s->num_params)));
    }
    return a;
}

json_t *model_table_to_json(void) {
    json_t *a = json_array();
    for (const model_def *const *d = model_table; a && *d; d++) {
        const model_def *m = *d;
        json_array_append_new(a, json_pack("{s:s, s:s, s:s, s:o}", "name", m->name, "help", m->help,
                                           "y", y_kind_name(m->y), "params",
                                           params_to_json(m->params, m->num_params)));
    }
    return a;
}
