/* job_adapt.c - each chain's adapted step size and inverse metric: kept
 * in the job (chain_adaptation per chain) and in adapt.json in the job
 * dir, so that they survive a restart, and written as the JSON that a spec
 * takes back as a warm start (sampler.step_size, sampler.inv_metric).
 *
 * adapt.json: {"chains": [null | {"step_size": x, "metric": "diag",
 * "inv_metric": [...]}, ...]}; a dense metric is an array of d rows.
 * Written to a temporary file and renamed, on the loop thread.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "api_util.h"
#include "app.h"
#include "errors.h"

#define ADAPT_FILE "adapt.json"

static const char *const metric_names[] = {"unit", "diag", "dense"};

static json_t *values_json(const double *v, size_t n) {
    json_t *arr = json_array();
    for (size_t i = 0; arr && i < n; i++)
        json_array_append_new(arr, json_number_or_null(v[i]));
    return arr;
}

static json_t *adaptation_json(const chain_adaptation *a) {
    if (!a->known) return json_null();
    json_t *o = json_pack("{s:o, s:s}", "step_size", json_number_or_null(a->step_size), "metric",
                          metric_names[a->kind]);
    if (!o) return NULL;
    if (a->kind == METRIC_DIAG) {
        json_object_set_new(o, "inv_metric", values_json(a->inv, a->d));
    } else if (a->kind == METRIC_DENSE) {
        json_t *rows = json_array();
        for (size_t i = 0; rows && i < a->d; i++)
            json_array_append_new(rows, values_json(a->inv + i * a->d, a->d));
        json_object_set_new(o, "inv_metric", rows);
    }
    return o;
}

int job_adaptation_save(const job *j) {
    json_t *chains = json_array();
    for (uint32_t c = 0; chains && c < j->chains; c++)
        json_array_append_new(chains, adaptation_json(&j->adapt[c]));
    json_t *root = json_pack("{s:o}", "chains", chains);
    int rc = job_file_save_json(j, ADAPT_FILE, root);
    json_decref(root);
    return rc;
}

void job_adaptation_remove(const job *j) {
    char path[4600];
    job_file_path(j, ADAPT_FILE, path, sizeof path);
    unlink(path);
}

/* Appends the numbers of arr to v[*k..n); 0 when one is not a number. */
static int append_numbers(const json_t *arr, double *v, size_t *k, size_t n) {
    size_t i;
    const json_t *x;
    json_array_foreach(arr, i, x) {
        if (*k >= n || !json_is_number(x)) return 0;
        v[(*k)++] = json_number_value(x);
    }
    return 1;
}

/* n numbers from arr (rows of numbers for a dense metric) in a new array;
 * NULL when arr does not hold exactly that. */
static double *read_values(const json_t *arr, size_t n, int dense) {
    double *v = malloc(n * sizeof *v);
    size_t k = 0, i;
    const json_t *row;
    int ok = v && json_is_array(arr);
    if (ok && !dense) ok = append_numbers(arr, v, &k, n);
    json_array_foreach(arr, i, row) {
        if (ok && dense) ok = json_is_array(row) && append_numbers(row, v, &k, n);
    }
    if (ok && k == n) return v;
    free(v);
    return NULL;
}

static void adaptation_read(const json_t *o, size_t d, chain_adaptation *a) {
    const char *name = json_string_value(json_object_get(o, "metric"));
    int kind = -1;
    for (int k = 0; name && k < 3; k++)
        if (!strcmp(name, metric_names[k])) kind = k;
    if (kind < 0 || !json_is_number(json_object_get(o, "step_size"))) return;
    *a = (chain_adaptation){.step_size = json_number_value(json_object_get(o, "step_size")),
                            .kind = (metric_kind)kind,
                            .d = d};
    size_t n = chain_adaptation_values(a);
    if (n > 0 && !(a->inv = read_values(json_object_get(o, "inv_metric"), n, kind == METRIC_DENSE)))
        return;
    a->known = 1;
}

void job_adaptation_load(job *j) {
    if (j->adapt_loaded) return;
    j->adapt_loaded = 1;
    char path[4600];
    job_file_path(j, ADAPT_FILE, path, sizeof path);
    json_t *root = json_load_file(path, 0, NULL);
    json_t *chains = json_object_get(root, "chains");
    for (uint32_t c = 0; c < j->chains && c < json_array_size(chains); c++) {
        json_t *o = json_array_get(chains, c);
        if (json_is_object(o)) adaptation_read(o, j->d, &j->adapt[c]);
    }
    json_decref(root);
}

json_t *job_adaptation_json(job *j, uint32_t chain) {
    job_adaptation_load(j);
    return adaptation_json(&j->adapt[chain]);
}
