/* api_datasets.c - /v1/datasets: upload (JSON rows, CSV, or a synthetic
 * spec), list, metadata, delete. A dataset is stored once, by content
 * hash; each user who uploads it holds a reference with their own name for
 * it, and sees only datasets they reference (admins see all). Deleting
 * drops the reference; the bytes go when no reference and no queued or
 * running job needs them. Parsing, hashing and writing the payload run on
 * the thread pool; the registry rows are written on the loop. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "api_util.h"
#include "utf8.h"
#include "app.h"
#include "audit.h"
#include "clock.h"
#include "budget.h"
#include "dataset_store.h"
#include "errors.h"
#include "idempotency.h"
#include "quota.h"
#include "storage.h"

typedef enum upload_kind { UPLOAD_JSON, UPLOAD_CSV } upload_kind;

typedef struct upload_task {
    app_work work;
    app *app;
    http_request *http;
    int64_t user; /* the uploader */
    upload_kind kind;
    const char *body;
    size_t len;
    int status; /* HTTP status of a failure, 0 on success */
    char code[32], err[512], name[256];
    char id[DATASET_ID_LEN + 1];
    uint64_t n, d, bytes;
    int too_large; /* over the memory budget: over says why */
    budget_over over;
    idem_ticket idem; /* held from the request to its answer */
} upload_task;

static json_t *dataset_json(app *a, const registry_dataset *ds) {
    app_user *u = ds->owner ? app_user_get(a, ds->owner) : NULL;
    return json_pack("{s:s, s:s, s:o, s:I, s:I, s:I, s:s, s:o}", "id", ds->id, "name", ds->name,
                     "owner", u ? json_string(u->name) : json_null(), "n", (json_int_t)ds->n, "d",
                     (json_int_t)ds->d, "bytes", (json_int_t)ds->bytes, "hash", ds->id, "created",
                     json_time_ms(ds->created_ms));
}

/* Removes the payload of a dataset whose registry row is gone. */
static int remove_payload(void *ctx, const char *id) {
    app *a = ctx;
    dataset_store_remove(a->datasets_dir, id);
    return 0;
}

/* {"synthetic": {...}, "name"?}: validated by the job-spec parser, whose
 * paths start with "data." here. */
static int upload_synthetic(upload_task *t, json_t *root, dataset **ds) {
    json_t *spec =
        json_pack("{s:{s:O}, s:{s:s, s:f}}", "data", "synthetic",
                  json_object_get(root, "synthetic"), "sampler", "type", "ula", "step_size", 1.0);
    job_spec s;
    spec_errors errs = {0};
    int bad = !spec || job_spec_parse(spec, &s, &errs) != 0;
    json_decref(spec);
    if (bad) {
        t->status = 422;
        snprintf(t->code, sizeof t->code, "invalid_dataset");
        const spec_error *e = errs.count ? &errs.items[0] : NULL;
        snprintf(t->err, sizeof t->err, "%s: %s", e ? e->path + 5 : "synthetic",
                 e ? e->message : "invalid");
        return -1;
    }
    /* sized before anything is allocated */
    if (budget_check_dataset(&t->app->cfg, s.synthetic.n, s.synthetic.d, "synthetic.n", &t->over)) {
        job_spec_free(&s);
        t->too_large = 1;
        return -1;
    }
    int rc = dataset_synthesize(&s.synthetic, ds);
    job_spec_free(&s);
    return rc == MCMC_OK ? 0 : -1;
}

static int upload_parse_json(upload_task *t, dataset **ds) {
    json_error_t e;
    json_t *root = json_loadb(t->body, t->len, JSON_REJECT_DUPLICATES, &e);
    int synth = root && json_is_object(root) && json_object_get(root, "synthetic");
    if (synth) {
        json_t *name = json_object_get(root, "name");
        if (json_is_string(name)) utf8_clip(t->name, sizeof t->name, json_string_value(name));
        int rc = upload_synthetic(t, root, ds);
        json_decref(root);
        return rc;
    }
    json_decref(root);
    int rc = dataset_from_json(t->body, t->len, ds, t->name, sizeof t->name, t->err, sizeof t->err);
    if (rc == MCMC_OK) return 0;
    t->status = rc == MCMC_EPARSE ? 400 : 422;
    snprintf(t->code, sizeof t->code, rc == MCMC_EPARSE ? "invalid_json" : "invalid_dataset");
    return -1;
}

/* Writes the parsed rows to the store: a disk without room for them is a
 * 507 that says how much was needed and is free, never a bare 500. An
 * identical file already stored is not written again, so it needs no
 * room. */
static void upload_store(upload_task *t, dataset *ds) {
    const char *dir = t->app->datasets_dir;
    uint64_t size = dataset_store_file_size(ds);
    int rc = dataset_store_save(dir, ds, t->id, &t->bytes);
    int e = errno;
    if (rc == MCMC_OK) return;
    if (rc == MCMC_EIO && storage_errno_is_full(e)) {
        t->status = 507;
        snprintf(t->code, sizeof t->code, "insufficient_storage");
        storage_full_message(dir, size, "the dataset", t->err, sizeof t->err);
        return;
    }
    t->status = 500;
    snprintf(t->code, sizeof t->code, "internal");
    snprintf(t->err, sizeof t->err, "cannot store the dataset: %s",
             rc == MCMC_EIO ? strerror(e) : mcmc_status_str(rc));
}

static void upload_work(uv_work_t *req) {
    upload_task *t = req->data;
    idempotency_hash_body(&t->idem, t->body, t->len); /* up to the body limit: not on the loop */
    dataset *ds = NULL;
    int ok = t->kind == UPLOAD_CSV
                 ? dataset_parse_csv(t->body, t->len, &ds, t->err, sizeof t->err) == MCMC_OK
                 : upload_parse_json(t, &ds) == 0;
    /* rows parsed from a body are bounded by max_body_bytes; sized here,
     * before they are stored */
    if (ok && budget_check_dataset(&t->app->cfg, ds->n, ds->d, "X", &t->over)) {
        t->too_large = 1;
        ok = 0;
    }
    if (!ok) {
        if (t->too_large) {
            t->status = 413;
        } else if (!t->status) {
            t->status = t->kind == UPLOAD_CSV ? 400 : 422;
            snprintf(t->code, sizeof t->code,
                     t->kind == UPLOAD_CSV ? "invalid_csv" : "invalid_dataset");
        }
        dataset_free(ds);
        return;
    }
    t->n = ds->n;
    t->d = ds->d;
    upload_store(t, ds);
    dataset_free(ds);
}

static void upload_after(uv_work_t *req, int status) {
    upload_task *t = req->data;
    app *a = t->app;
    /* the key, now that the body is hashed: a retry of a request already
     * answered is answered here (what this one stored is the same dataset,
     * or a payload the sweep collects) */
    api_call call = {.app = a, .req = t->http};
    if (status == 0 && idempotency_check(&call, IDEM_HOLD, &t->idem) != 0) {
        free(t);
        return;
    }
    if (status != 0 && !t->status) t->status = 503;
    if (t->too_large) {
        idempotency_release(a, &t->idem);
        budget_respond(t->http, &t->over);
        free(t);
        return;
    }
    if (t->status) {
        idempotency_release(a, &t->idem);
        http_respond_error(t->http, (unsigned)t->status, t->code[0] ? t->code : "unavailable",
                           t->err[0] ? t->err : "the upload was not processed", NULL);
        free(t);
        return;
    }
    registry_dataset row = {.id = t->id,
                            .name = t->name,
                            .n = (int64_t)t->n,
                            .d = (int64_t)t->d,
                            .bytes = (int64_t)t->bytes,
                            .created_ms = app_now_ms()};
    int rc = registry_dataset_put(a->reg, &row);
    /* a row not recorded leaves a payload nobody needs: the sweep (or the
     * next start's collect) removes it once no row names it */
    quota_over over;
    if ((rc == REGISTRY_OK || rc == REGISTRY_EXISTS) &&
        quota_check_upload(a, t->user, t->id, t->bytes, &over)) {
        /* a new row nobody needs; refused, the sweep collects it later */
        registry_dataset_collect(a->reg, remove_payload, a);
        idempotency_release(a, &t->idem);
        quota_respond(t->http, &over);
        free(t);
        return;
    }
    if (rc == REGISTRY_OK || rc == REGISTRY_EXISTS)
        rc = registry_dataset_ref_put(a->reg, t->user, t->id, t->name, row.created_ms);
    registry_dataset stored;
    if ((rc == REGISTRY_OK || rc == REGISTRY_EXISTS) &&
        registry_dataset_ref_get(a->reg, t->user, t->id, &stored) == REGISTRY_OK) {
        char loc[80];
        snprintf(loc, sizeof loc, "/v1/datasets/%s", t->id);
        /* the same rows again from the same user: 200 with the stored dataset */
        app_user *u = app_user_get(a, t->user);
        audit_request(a, t->http, u ? u->name : NULL, "dataset.upload", t->id,
                      rc == REGISTRY_OK ? 201 : 200, t->name[0] ? t->name : NULL);
        idempotency_respond(a, &t->idem, t->http, rc == REGISTRY_OK ? 201 : 200, loc,
                            dataset_json(a, &stored));
        registry_dataset_clear(&stored);
    } else {
        idempotency_release(a, &t->idem);
        storage_respond(t->http, rc == REGISTRY_OK || rc == REGISTRY_EXISTS ? REGISTRY_EIO : rc,
                        registry_last_error(a->reg));
    }
    free(t);
}

void api_datasets_post(api_call *c) {
    app *a = c->app;
    http_request *req = c->req;
    const char *ct = http_request_content_type(req);
    int csv = !strcmp(ct, "text/csv"), json = !strcmp(ct, "application/json");
    if (!csv && !json) {
        respond_unsupported_type(req, "application/json or text/csv");
        return;
    }
    upload_task *t = calloc(1, sizeof *t);
    if (!t) {
        http_respond_error(req, 500, "internal", "out of memory", NULL);
        return;
    }
    static const char *const query[] = {"name", NULL}; /* read for CSV */
    if (idempotency_read(c, query, &t->idem) != 0) {   /* the body is hashed in upload_work */
        free(t);
        return;
    }
    t->app = a;
    t->http = req;
    t->user = c->who->user_id;
    t->kind = csv ? UPLOAD_CSV : UPLOAD_JSON;
    t->body = http_request_body(req, &t->len);
    const char *name = http_request_query(req, "name");
    if (csv && name) utf8_clip(t->name, sizeof t->name, name); /* cut between characters */
    if (app_queue_work(a, &t->work, t, upload_work, upload_after) != 0) {
        free(t);
        http_respond_error(req, 500, "internal", "cannot queue the upload", NULL);
        return;
    }
    http_request_defer(req);
}

typedef struct list_ctx {
    app *a;
    json_t *arr;
} list_ctx;

static int list_dataset(void *ctx, const registry_dataset *ds) {
    list_ctx *l = ctx;
    json_array_append_new(l->arr, dataset_json(l->a, ds));
    return 0;
}

void api_datasets_list(api_call *c) {
    list_ctx l = {c->app, json_array()};
    int64_t user = c->who->admin ? 0 : c->who->user_id;
    int rc = registry_dataset_list(c->app->reg, user, list_dataset, &l);
    if (rc != REGISTRY_OK) {
        json_decref(l.arr);
        storage_respond(c->req, rc, registry_last_error(c->app->reg));
        return;
    }
    http_respond_json(c->req, 200, json_pack("{s:o}", "datasets", l.arr));
}

/* The caller's reference by id or name; an admin's falls back to anyone's
 * by id. REGISTRY_OK or REGISTRY_NOT_FOUND. */
static int find_ref(api_call *c, const char *id_or_name, registry_dataset *out) {
    int rc = registry_dataset_ref_get(c->app->reg, c->who->user_id, id_or_name, out);
    if (rc == REGISTRY_NOT_FOUND && c->who->admin)
        rc = registry_dataset_ref_get(c->app->reg, 0, id_or_name, out);
    return rc;
}

int api_dataset_resolve(api_call *c, const char *id_or_name, char *id_out, size_t cap, int64_t *n,
                        int64_t *d) {
    registry_dataset ds;
    if (find_ref(c, id_or_name, &ds) != REGISTRY_OK) return -1;
    snprintf(id_out, cap, "%s", ds.id);
    *n = ds.n;
    *d = ds.d;
    registry_dataset_clear(&ds);
    return 0;
}

/* Whether the dataset's file is still in the data dir; if not, a 500 that
 * names it, logged with the cause (something removed it under the
 * daemon: jobs on it fail as they start). */
static int payload_present(api_call *c, const char *id) {
    char path[4400], msg[4600];
    struct stat st;
    snprintf(path, sizeof path, "%s/%s.ds", c->app->datasets_dir, id);
    int e = stat(path, &st) != 0 ? errno : S_ISREG(st.st_mode) ? 0 : EISDIR;
    if (!e) return 1;
    snprintf(msg, sizeof msg, "dataset %s: its file %s is missing or unreadable (%s)", id, path,
             strerror(e));
    http_respond_error(c->req, 500, "internal", msg, NULL);
    return 0;
}

void api_dataset_get(api_call *c) {
    registry_dataset ds;
    if (find_ref(c, c->id, &ds) != REGISTRY_OK) {
        respond_not_found(c->req, "dataset", c->id);
        return;
    }
    if (payload_present(c, ds.id)) http_respond_json(c->req, 200, dataset_json(c->app, &ds));
    registry_dataset_clear(&ds);
}

/* Drops the caller's reference (an admin without one: everyone's), then
 * the bytes if nothing needs them any more. */
void api_dataset_delete(api_call *c) {
    app *a = c->app;
    registry_dataset ds;
    if (find_ref(c, c->id, &ds) != REGISTRY_OK) {
        respond_not_found(c->req, "dataset", c->id);
        return;
    }
    int64_t user = ds.owner == c->who->user_id ? ds.owner : 0;
    int rc = registry_dataset_ref_delete(a->reg, user, ds.id);
    if (rc == REGISTRY_OK) rc = registry_dataset_collect(a->reg, remove_payload, a);
    audit_call(c, "dataset.delete", ds.id, rc == REGISTRY_OK ? 204 : 500,
               ds.name && *ds.name ? ds.name : NULL);
    registry_dataset_clear(&ds);
    if (rc != REGISTRY_OK)
        storage_respond(c->req, rc, registry_last_error(a->reg));
    else
        http_respond_empty(c->req, 204);
}
