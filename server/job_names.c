/* job_names.c - a job's parameter names ("intercept", "theta.age",
 * "log_sigma"), taken from its model when the job is prepared and kept in
 * names.json in the job dir, so that the draws' headers and the summary
 * name parameters after the model is freed and after a restart. A job
 * that has not been prepared has none: readers fall back to theta.1..d.
 * Names live in one block (d pointers, then the text), freed at once. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "app.h"
#include "errors.h"

#define NAMES_FILE "names.json"

/* names[0..d) copied into one block; NULL on ENOMEM. */
static const char **copy_block(const char *const *names, size_t d) {
    size_t bytes = d * sizeof(char *);
    for (size_t k = 0; k < d; k++)
        bytes += strlen(names[k]) + 1;
    const char **copy = malloc(bytes ? bytes : 1);
    if (!copy) return NULL;
    char *text = (char *)(copy + d);
    for (size_t k = 0; k < d; k++) {
        size_t len = strlen(names[k]) + 1;
        memcpy(text, names[k], len);
        copy[k] = text;
        text += len;
    }
    return copy;
}

void job_names_free(job *j) {
    free(j->param_names);
    j->param_names = NULL;
}

static int names_save(const job *j, const char *const *names) {
    json_t *arr = json_array();
    for (size_t k = 0; arr && k < j->d; k++)
        json_array_append_new(arr, json_string(names[k]));
    int rc = job_file_save_json(j, NAMES_FILE, arr);
    json_decref(arr);
    return rc;
}

const char **job_names_capture(const job *j, const model *m) {
    if (model_dim(m) != j->d) return NULL;
    const char **names = model_param_names(m);
    if (names) names_save(j, names); /* without it a restart falls back to theta.k */
    return names;
}

void job_names_adopt(job *j, const char **names) {
    if (!names) return;
    free(j->param_names);
    j->param_names = names;
    j->names_loaded = 1;
}

/* names.json into j->param_names, when it holds d strings. */
static void names_load(job *j) {
    char path[4600];
    job_file_path(j, NAMES_FILE, path, sizeof path);
    json_t *arr = json_load_file(path, 0, NULL);
    const char **tmp = json_array_size(arr) == j->d ? calloc(j->d ? j->d : 1, sizeof *tmp) : NULL;
    size_t k = 0;
    for (; tmp && k < j->d && json_is_string(json_array_get(arr, k)); k++)
        tmp[k] = json_string_value(json_array_get(arr, k));
    if (tmp && k == j->d) j->param_names = copy_block(tmp, j->d);
    free(tmp);
    json_decref(arr);
}

const char *const *job_param_names(job *j) {
    if (!j->param_names && !j->names_loaded) names_load(j);
    j->names_loaded = 1;
    return j->param_names;
}

const char **job_param_names_copy(job *j) {
    const char *const *names = job_param_names(j);
    return names ? copy_block(names, j->d) : NULL;
}
