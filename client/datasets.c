/* datasets.c - /v1/datasets from the client: uploads from arrays (sent as
 * JSON rows) and from CSV files (streamed as text/csv), list, get, delete. */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "client_internal.h"

static void dataset_from_json(const json_t *o, mcmc_dataset *out) {
    memset(out, 0, sizeof *out);
    mcmcc_json_string(o, "id", out->id, sizeof out->id);
    mcmcc_json_string(o, "name", out->name, sizeof out->name);
    mcmcc_json_string(o, "created", out->created, sizeof out->created);
    out->n = mcmcc_json_u64(o, "n");
    out->d = mcmcc_json_u64(o, "d");
    out->bytes = mcmcc_json_u64(o, "bytes");
}

/* Reads an answer that is one dataset. */
static mcmc_client_status dataset_answer(mcmc_client_status st, json_t *root, mcmc_dataset *out,
                                         mcmc_error *err) {
    if (st == MCMC_CLIENT_OK && !json_is_object(root))
        st = mcmcc_fail(err, MCMC_CLIENT_PROTOCOL, "the answer is not a dataset");
    if (st == MCMC_CLIENT_OK && out) dataset_from_json(root, out);
    json_decref(root);
    return st;
}

/* --- uploads from arrays ------------------------------------------------- */

typedef struct label_source {
    const uint8_t *u8;
    const int *ints;
} label_source;

static int label_at(label_source y, size_t i) {
    return y.u8 ? (int)y.u8[i] : y.ints[i];
}

static int append_text(mcmcc_buf *b, const char *s) {
    return mcmcc_buf_append(b, s, strlen(s));
}

static int append_row(mcmcc_buf *b, const double *row, size_t d) {
    char num[40];
    int bad = append_text(b, "[");
    for (size_t j = 0; j < d && !bad; j++) {
        snprintf(num, sizeof num, "%s%.17g", j ? "," : "", row[j]);
        bad = append_text(b, num);
    }
    return bad || append_text(b, "]");
}

/* {"name": ..., "X": [[..], ..], "y": [..]}; -1 when memory ran out. */
static int rows_json(mcmcc_buf *b, const char *name, const double *X, label_source y, size_t n,
                     size_t d) {
    json_t *jname = json_string(name ? name : "");
    char *quoted = jname ? json_dumps(jname, JSON_ENCODE_ANY) : NULL;
    json_decref(jname);
    int bad = !quoted || append_text(b, "{\"name\":") || append_text(b, quoted) ||
              append_text(b, ",\"X\":[");
    free(quoted);
    for (size_t i = 0; i < n && !bad; i++)
        bad = (i && append_text(b, ",")) || append_row(b, X + i * d, d);
    bad = bad || append_text(b, "],\"y\":[");
    for (size_t i = 0; i < n && !bad; i++)
        bad = append_text(b, i ? (label_at(y, i) ? ",1" : ",0") : (label_at(y, i) ? "1" : "0"));
    return bad || append_text(b, "]}") ? -1 : 0;
}

static mcmc_client_status check_rows(const double *X, label_source y, size_t n, size_t d,
                                     mcmc_error *err) {
    if (!X || (!y.u8 && !y.ints) || n == 0 || d == 0 || n > SIZE_MAX / d / 32)
        return mcmcc_fail(err, MCMC_CLIENT_INVALID, "need n >= 1 rows of d >= 1 values, X and y");
    for (size_t k = 0; k < n * d; k++)
        if (!isfinite(X[k]))
            return mcmcc_fail(err, MCMC_CLIENT_INVALID, "X[%zu][%zu] is not finite", k / d, k % d);
    for (size_t i = 0; i < n; i++)
        if (label_at(y, i) != 0 && label_at(y, i) != 1)
            return mcmcc_fail(err, MCMC_CLIENT_INVALID, "y[%zu] must be 0 or 1", i);
    return MCMC_CLIENT_OK;
}

static mcmc_client_status upload_rows(mcmc_client *c, const char *name, const double *X,
                                      label_source y, size_t n, size_t d, mcmc_dataset *out,
                                      mcmc_error *err) {
    mcmcc_error_reset(err);
    if (out) memset(out, 0, sizeof *out);
    if (!c) return mcmcc_fail(err, MCMC_CLIENT_INVALID, "no client");
    mcmc_client_status st = check_rows(X, y, n, d, err);
    if (st != MCMC_CLIENT_OK) return st;
    mcmcc_buf body = {0};
    if (rows_json(&body, name, X, y, n, d) != 0) {
        mcmcc_buf_free(&body);
        return mcmcc_fail(err, MCMC_CLIENT_NOMEM, "out of memory");
    }
    json_t *root;
    st = mcmcc_json_call(c, "POST", "/v1/datasets", body.data, &root, err);
    mcmcc_buf_free(&body);
    return dataset_answer(st, root, out, err);
}

mcmc_client_status mcmc_upload_dataset(mcmc_client *c, const char *name, const double *X,
                                       const uint8_t *y, size_t n, size_t d, mcmc_dataset *out,
                                       mcmc_error *err) {
    return upload_rows(c, name, X, (label_source){.u8 = y}, n, d, out, err);
}

mcmc_client_status mcmc_upload_dataset_int_labels(mcmc_client *c, const char *name, const double *X,
                                                  const int *y, size_t n, size_t d,
                                                  mcmc_dataset *out, mcmc_error *err) {
    return upload_rows(c, name, X, (label_source){.ints = y}, n, d, out, err);
}

/* --- uploads from CSV files ---------------------------------------------- */

static mcmc_client_status csv_path_with_name(mcmc_client *c, const char *name, char **path,
                                             mcmc_error *err) {
    char *escaped = name ? curl_easy_escape(c->curl, name, 0) : NULL;
    size_t cap = sizeof "/v1/datasets?name=" + (escaped ? strlen(escaped) : 0);
    *path = (!name || escaped) ? malloc(cap) : NULL;
    if (*path)
        snprintf(*path, cap, "/v1/datasets%s%s", escaped ? "?name=" : "", escaped ? escaped : "");
    curl_free(escaped);
    return *path ? MCMC_CLIENT_OK : mcmcc_fail(err, MCMC_CLIENT_NOMEM, "out of memory");
}

mcmc_client_status mcmc_upload_dataset_csv(mcmc_client *c, const char *name, const char *csv_path,
                                           mcmc_dataset *out, mcmc_error *err) {
    mcmcc_error_reset(err);
    if (out) memset(out, 0, sizeof *out);
    if (!c || !csv_path) return mcmcc_fail(err, MCMC_CLIENT_INVALID, "no client or no path");
    FILE *f = fopen(csv_path, "rb");
    struct stat sb;
    if (!f || fstat(fileno(f), &sb) != 0 || !S_ISREG(sb.st_mode)) {
        if (f) fclose(f);
        return mcmcc_fail(err, MCMC_CLIENT_INVALID, "cannot read %s", csv_path);
    }
    char *path;
    mcmc_client_status st = csv_path_with_name(c, name, &path, err);
    if (st != MCMC_CLIENT_OK) {
        fclose(f);
        return st;
    }
    mcmcc_request rq = {.method = "POST",
                        .path = path,
                        .content_type = "text/csv",
                        .accept = "application/json",
                        .upload = f,
                        .upload_len = (long long)sb.st_size};
    mcmcc_response rs;
    st = mcmcc_perform(c, &rq, &rs, err);
    fclose(f);
    free(path);
    json_t *root = NULL;
    if (st == MCMC_CLIENT_OK) root = json_loadb(rs.body.data, rs.body.len, 0, NULL);
    mcmcc_response_free(&rs);
    return dataset_answer(st, root, out, err);
}

/* --- list, get, delete --------------------------------------------------- */

mcmc_client_status mcmc_list_datasets(mcmc_client *c, mcmc_dataset_list *out, mcmc_error *err) {
    mcmcc_error_reset(err);
    if (!c || !out) return mcmcc_fail(err, MCMC_CLIENT_INVALID, "no client or no list");
    *out = (mcmc_dataset_list){0};
    json_t *root;
    mcmc_client_status st = mcmcc_json_call(c, "GET", "/v1/datasets", NULL, &root, err);
    const json_t *arr = json_object_get(root, "datasets");
    if (st == MCMC_CLIENT_OK && !json_is_array(arr))
        st = mcmcc_fail(err, MCMC_CLIENT_PROTOCOL, "the answer has no datasets array");
    size_t n = json_array_size(arr);
    if (st == MCMC_CLIENT_OK && n && !(out->datasets = calloc(n, sizeof *out->datasets)))
        st = mcmcc_fail(err, MCMC_CLIENT_NOMEM, "out of memory");
    for (size_t i = 0; st == MCMC_CLIENT_OK && i < n; i++)
        dataset_from_json(json_array_get(arr, i), &out->datasets[out->count++]);
    json_decref(root);
    return st;
}

void mcmc_dataset_list_free(mcmc_dataset_list *list) {
    if (!list) return;
    free(list->datasets);
    *list = (mcmc_dataset_list){0};
}

static mcmc_client_status dataset_path(mcmc_client *c, const char *id, char *buf, size_t cap,
                                       mcmc_error *err) {
    if (!id || !*id) return mcmcc_fail(err, MCMC_CLIENT_INVALID, "no dataset id");
    char *escaped = curl_easy_escape(c->curl, id, 0);
    if (!escaped) return mcmcc_fail(err, MCMC_CLIENT_NOMEM, "out of memory");
    int n = snprintf(buf, cap, "/v1/datasets/%s", escaped);
    curl_free(escaped);
    if (n < 0 || (size_t)n >= cap)
        return mcmcc_fail(err, MCMC_CLIENT_INVALID, "dataset id too long");
    return MCMC_CLIENT_OK;
}

mcmc_client_status mcmc_get_dataset(mcmc_client *c, const char *id, mcmc_dataset *out,
                                    mcmc_error *err) {
    mcmcc_error_reset(err);
    if (out) memset(out, 0, sizeof *out);
    if (!c || !out) return mcmcc_fail(err, MCMC_CLIENT_INVALID, "no client or no dataset");
    char path[512];
    mcmc_client_status st = dataset_path(c, id, path, sizeof path, err);
    if (st != MCMC_CLIENT_OK) return st;
    json_t *root;
    st = mcmcc_json_call(c, "GET", path, NULL, &root, err);
    return dataset_answer(st, root, out, err);
}

mcmc_client_status mcmc_delete_dataset(mcmc_client *c, const char *id, mcmc_error *err) {
    mcmcc_error_reset(err);
    if (!c) return mcmcc_fail(err, MCMC_CLIENT_INVALID, "no client");
    char path[512];
    mcmc_client_status st = dataset_path(c, id, path, sizeof path, err);
    if (st != MCMC_CLIENT_OK) return st;
    json_t *root;
    st = mcmcc_json_call(c, "DELETE", path, NULL, &root, err);
    json_decref(root);
    return st;
}
