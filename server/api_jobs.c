/* api_jobs.c - the job routes: submit, list, status, cancel, delete, and
 * the hand-off to streams.c (events, draws) and summary.c. A job of
 * another user answers 404 unless the caller is an admin. */
#include <malloc.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api_util.h"
#include "app.h"
#include "executor.h"
#include "list_items.h"
#include "audit.h"
#include "budget.h"
#include "idempotency.h"
#include "job_kinds.h"
#include "quota.h"
#include "storage.h"
#include "sweep.h"

void api_summary(app *a, job *j, http_request *req); /* summary.c */

/* The job named by the route's {id}, or NULL after answering 404. */
static job *call_job(api_call *c) {
    job *j = jobs_find(c->app, c->id);
    if (j && api_may_see(c, job_owner(j))) return j;
    respond_not_found(c->req, "job", c->id);
    return NULL;
}

/* --- the job resource ---------------------------------------------------- */

static json_t *job_links(const job *j) {
    char base[64];
    snprintf(base, sizeof base, "/v1/jobs/%s", job_id(j));
    json_t *l = json_object();
    const char *rel[] = {"events", "draws", "summary", "cancel"};
    json_object_set_new(l, "self", json_string(base));
    for (int i = 0; i < 4; i++) {
        char url[96];
        snprintf(url, sizeof url, "%s/%s", base, rel[i]);
        json_object_set_new(l, rel[i], json_string(url));
    }
    if (job_spec_of(j)->kind != JOB_KIND_SAMPLE) {
        char url[96];
        snprintf(url, sizeof url, "%s/result", base);
        json_object_set_new(l, "result", json_string(url));
    }
    return l;
}

/* A kind that keeps no draws: its result once it succeeded (a few KB, read
 * on the loop), else NULL. */
static json_t *job_result_json(const job *j) {
    if (job_spec_of(j)->kind == JOB_KIND_SAMPLE || job_state(j) != REGISTRY_JOB_SUCCEEDED)
        return NULL;
    char path[4600];
    job_file_path(j, JOB_RESULT_FILE, path, sizeof path);
    return json_load_file(path, 0, NULL);
}

/* What the chain's sampler reported: warmup or sampling (p's: a chain not
 * started yet is in warmup when it has warmup to run), the step size,
 * divergences, where it went non-finite. */
static void chain_sampler_json(json_t *o, const chain_counts *k, const job_progress *p) {
    json_object_set_new(o, "warmup", json_boolean(p->warmup));
    json_object_set_new(o, "step_size", json_number_or_null(k->step_size));
    json_object_set_new(o, "divergent", json_integer((json_int_t)k->divergent));
    json_object_set_new(o, "warmup_elapsed", json_number_or_null(k->warmup_elapsed));
    json_object_set_new(o, "nonfinite", json_boolean(k->nonfinite));
    json_object_set_new(o, "nonfinite_at",
                        k->nonfinite && k->nonfinite_at != UINT64_MAX
                            ? json_integer((json_int_t)k->nonfinite_at)
                            : json_null());
}

static json_t *chain_json(const job *j, uint32_t c) {
    const chain_counts *k = job_counts(j, c);
    job_progress p = job_chain_progress(j, c);
    if (job_is_final(j)) p.eta_s = 0; /* nothing is left to run */
    json_t *o = json_pack("{s:I, s:I, s:I, s:I, s:o, s:o, s:o, s:o}", "chain", (json_int_t)c,
                          "iter", (json_int_t)k->iter, "total", (json_int_t)p.total, "draws",
                          (json_int_t)k->draws, "accept_rate", json_number_or_null(p.accept_rate),
                          "it_per_s", json_number_or_null(p.it_per_s), "elapsed",
                          json_number_or_null(k->elapsed), "eta_s", json_number_or_null(p.eta_s));
    if (o) chain_sampler_json(o, k, &p);
    return o;
}

/* Per chain, the adapted step size and inverse metric (null until the
 * chain's warmup ends): what a spec takes back as a warm start. */
static json_t *adaptation_json(job *j) {
    json_t *arr = json_array();
    for (uint32_t c = 0; arr && c < job_shape_of(j).chains; c++)
        json_array_append_new(arr, job_adaptation_json(j, c));
    return arr;
}

/* The parameters' names, once the job's model was built; null before. */
static json_t *param_names_json(job *j) {
    const char *const *names = job_param_names(j);
    if (!names) return json_null();
    json_t *a = json_array();
    for (size_t k = 0, d = job_shape_of(j).d; a && k < d; k++)
        json_array_append_new(a, json_string(names[k]));
    return a;
}

/* The job's owner and labels: name, tags, priority. */
static void job_labels_json(job *j, json_t *o) {
    app_user *u = app_user_get(job_app(j), job_owner(j));
    const job_spec *s = job_spec_of(j);
    json_object_set_new(o, "owner", u ? json_string(u->name) : json_null());
    json_object_set_new(o, "name", s->name[0] ? json_string(s->name) : json_null());
    json_t *tags = json_array();
    for (size_t i = 0; tags && i < s->ntags; i++)
        json_array_append_new(tags, json_string(s->tags[i]));
    json_object_set_new(o, "tags", tags);
    json_object_set_new(o, "priority", json_integer(s->priority));
}

/* The status of a job: state, times, per-chain progress, overall rates;
 * with_spec: the spec and the chains' adaptation too. */
static json_t *job_json(job *j, int with_spec) {
    job_shape sh = job_shape_of(j);
    uint64_t total = chain_total_iterations(&job_spec_of(j)->chain), iter = 0, acc = 0;
    double slowest = 0, elapsed = 0;
    json_t *chains = json_array();
    for (uint32_t c = 0; c < sh.chains; c++) {
        const chain_counts *k = job_counts(j, c);
        iter += k->iter, acc += k->accepted;
        if (k->elapsed > elapsed) elapsed = k->elapsed;
        double rate = k->elapsed > 0 ? (double)k->iter / k->elapsed : NAN;
        double eta = k->iter >= total ? 0 : (double)(total - k->iter) / rate;
        /* the slowest chain decides; a chain not started yet makes it unknown */
        slowest = isnan(eta) || isnan(slowest) ? NAN : (eta > slowest ? eta : slowest);
        json_array_append_new(chains, chain_json(j, c));
    }
    if (job_is_final(j)) slowest = 0;
    double accept = iter && job_reports_accept(j) ? (double)acc / (double)iter : NAN;
    const char *error = job_error(j), *ds_id = job_dataset(j);
    json_t *o = json_pack(
        "{s:s, s:s, s:o, s:o, s:o, s:o, s:o, s:{s:I, s:I}, s:o, s:o, s:o}", "id", job_id(j),
        "state", job_state_name(j), "created", json_time_ms(job_created_ms(j)), "started",
        json_time_ms(job_started_ms(j)), "finished", json_time_ms(job_finished_ms(j)), "error",
        error ? json_string(error) : json_null(), "dataset",
        ds_id ? json_string(ds_id) : json_null(), "progress", "iter", (json_int_t)iter, "total",
        (json_int_t)(total * sh.chains), "accept_rate", json_number_or_null(accept), "elapsed",
        json_number_or_null(elapsed), "eta_s", json_number_or_null(slowest));
    if (!o) return NULL;
    json_object_set_new(o, "expires", json_time_ms(job_expires_ms(j)));
    const char *reason = job_reason(j);
    json_object_set_new(o, "reason", reason ? json_string(reason) : json_null());
    json_object_set_new(
        o, "shape",
        json_pack("[I, I, I]", (json_int_t)sh.chains, (json_int_t)sh.rows, (json_int_t)sh.d));
    json_object_set_new(o, "warmup_draws", json_integer((json_int_t)sh.warmup_rows));
    job_labels_json(j, o);
    json_object_set_new(o, "kind", json_string(job_kind_name(job_spec_of(j)->kind)));
    if (with_spec && job_spec_of(j)->kind != JOB_KIND_SAMPLE) {
        json_t *result = job_result_json(j);
        json_object_set_new(o, "result", result ? result : json_null());
    }
    json_object_set_new(o, "parameters", param_names_json(j));
    json_object_set_new(o, "chains", chains);
    if (with_spec) json_object_set_new(o, "adaptation", adaptation_json(j));
    const char *spec_text = job_spec_text(j);
    if (with_spec && spec_text) {
        /* the stored text, as is; a spec this build cannot read is still JSON */
        json_t *spec = json_loads(spec_text, 0, NULL);
        json_object_set_new(o, "spec", spec ? spec : json_string(spec_text));
    }
    json_object_set_new(o, "links", job_links(j));
    return o;
}

/* --- POST /v1/jobs ------------------------------------------------------- */

static void respond_spec_errors(http_request *req, const spec_errors *errs) {
    json_t *env = spec_errors_to_json(errs, "invalid_spec", "the job spec is not valid");
    json_t *err = json_object_get(env, "error");
    json_t *details = json_incref(json_object_get(err, "details"));
    json_decref(env);
    http_respond_error(req, 422, "invalid_spec", "the job spec is not valid", details);
}

/* The data's shape (n rows, d columns; 0 and 0 for a model without data)
 * for the shape check, from the caller's dataset or the spec; a dataset
 * named by the caller's name for it becomes its id. Returns 0, or -1 with
 * an error added. */
static int resolve_shape(api_call *c, job_spec *s, size_t *n, size_t *d, spec_errors *errs) {
    *n = 0;
    *d = 0;
    if (s->model->y == Y_NONE) {
        return 0;
    } else if (s->data == SPEC_DATA_SYNTHETIC) {
        *n = s->synthetic.n;
        *d = s->synthetic.d;
    } else if (s->data == SPEC_DATA_DATASET) {
        int64_t rows, cols;
        char id[SPEC_DATASET_ID_MAX];
        if (api_dataset_resolve(c, s->dataset_id, id, sizeof id, &rows, &cols) != 0) {
            spec_errors_add(errs, "data.dataset", "no dataset with id or name '%s'", s->dataset_id);
            return -1;
        }
        snprintf(s->dataset_id, sizeof s->dataset_id, "%s", id);
        *n = (size_t)rows;
        *d = (size_t)cols;
    }
    return 0;
}

static void check_limits(const app *a, const job_spec *s, size_t d, spec_errors *errs) {
    const chain_config *c = &s->chain;
    executor_slurm_check_spec(a, s, errs);
    if (c->chains > a->cfg.max_chains_per_job)
        spec_errors_add(errs, "chains", "must be <= %u on this server", a->cfg.max_chains_per_job);
    double values = (double)c->chains * (double)chain_kept_draws(c) * (double)d;
    if (values > (double)a->cfg.max_draw_values_per_job)
        spec_errors_add(errs, "num_samples",
                        "chains x num_samples x d = %.0f values; this server keeps at most %llu "
                        "per job",
                        values, (unsigned long long)a->cfg.max_draw_values_per_job);
}

/* A job spec's body: JOB_SPEC_BODY_MAX at most, refused with 413 before
 * it is read when its Content-Length says so. Parsed, JSON takes up to
 * ~30 times its text (a bare "0," becomes a ~60-byte value), so a body
 * whose commas say it may hold more than JOB_SPEC_VALUES_MAX values is
 * refused with 413 before it is parsed: one submission's parse holds at
 * most ~120 MB, the arrays of a Gaussian with d = 1400 still fit. */
#define JOB_SPEC_BODY_MAX (16u << 20)
#define JOB_SPEC_VALUES_MAX 2000000

/* A body up to this size is parsed on the loop thread, in tens of
 * microseconds: less than the two thread hand-offs a parse on the pool
 * costs (the pool thread woken, then the loop), each of which waits for a
 * core on a busy machine. Larger ones go to the pool. */
#define JOB_SPEC_INLINE_PARSE_MAX (8u << 10)

uint64_t api_body_limit(void *ctx, const char *method, const char *path) {
    (void)ctx;
    return !strcmp(method, "POST") && !strcmp(path, "/v1/jobs") ? JOB_SPEC_BODY_MAX : UINT64_MAX;
}

/* A submission while the thread pool parses its body. */
typedef struct submit_task {
    app_work work;
    api_call call; /* who and route point into the task */
    principal who;
    idem_ticket idem;
    const char *body; /* the request's */
    size_t len;
    json_error_t json_error;
    size_t values; /* at most this many, by its commas */
    int json_ok, bad;
    job_spec spec; /* parsed when json_ok and !bad */
    spec_errors errs;
} submit_task;

/* On the thread pool (on the loop for a small body): the JSON and the
 * spec, which for a large body take long (and the memory of the parsed
 * tree, freed here). */
static void submit_parse(uv_work_t *w) {
    submit_task *t = w->data;
    t->values = 1;
    for (const char *p = t->body, *end = p + t->len; (p = memchr(p, ',', (size_t)(end - p))); p++)
        t->values++;
    idempotency_hash_body(&t->idem, t->body, t->len);
    if (t->values > JOB_SPEC_VALUES_MAX) return;
    json_t *root = json_loadb(t->body, t->len, JSON_REJECT_DUPLICATES, &t->json_error);
    t->json_ok = root != NULL;
    if (root) t->bad = job_spec_parse(root, &t->spec, &t->errs);
    json_decref(root);
#ifdef __GLIBC__
    if (t->len > (1u << 20)) malloc_trim(0); /* the tree's pages back to the OS */
#endif
}

/* A submission waiting for its job's row: what its answer needs, and its
 * audit row, written in the job's own transaction on the registry's sync
 * thread (jobs_submit_end), so copied out of the request first. */
typedef struct submit_reply {
    app *app;
    http_request *req;
    idem_ticket idem;
    audit_origin origin;
    char job_id[JOB_ID_LEN + 1];
} submit_reply;

static int audit_submission(registry *reg, void *ctx) {
    const submit_reply *r = ctx;
    return audit_record_from(reg, &r->origin, "job.submit", r->job_id, 201, NULL);
}

static submit_reply *submit_reply_new(const submit_task *t, const job *j) {
    submit_reply *r = calloc(1, sizeof *r);
    if (!r) return NULL;
    const api_call *c = &t->call;
    *r = (submit_reply){.app = c->app, .req = c->req, .idem = t->idem};
    audit_origin_of_call(c, &r->origin);
    snprintf(r->job_id, sizeof r->job_id, "%s", job_id(j));
    return r;
}

/* The job's row is on disk (j), or the submission failed (NULL); answers. */
static void on_submitted(void *ctx, job *j, int rc) {
    submit_reply *r = ctx;
    app *a = r->app;
    if (j) {
        char loc[64];
        snprintf(loc, sizeof loc, "/v1/jobs/%s", job_id(j));
        idempotency_respond(a, &r->idem, r->req, 201, loc, job_json(j, 0));
    } else {
        storage_respond(r->req, rc, registry_last_error(a->reg));
        idempotency_release(a, &r->idem);
    }
    free(r);
}

/* No memory for the reply: the job is undone (jobs_submit_end calls this
 * before it returns). */
static void on_submit_failed(void *ctx, job *j, int rc) {
    (void)j;
    submit_task *t = ctx;
    storage_respond(t->call.req, rc, registry_last_error(t->call.app->reg));
    idempotency_release(t->call.app, &t->idem);
}

/* The job made, checked for room and recorded; answered once recorded. */
static void submit_begin(submit_task *t, size_t d) {
    api_call *c = &t->call;
    app *a = c->app;
    const char *ds = t->spec.data == SPEC_DATA_DATASET ? t->spec.dataset_id : NULL;
    char ds_copy[SPEC_DATASET_ID_MAX] = "", why[400] = "";
    if (ds) snprintf(ds_copy, sizeof ds_copy, "%s", ds);
    job *j;
    int rc = jobs_submit_begin(a, c->who->user_id, &t->spec, ds ? ds_copy : NULL, d, &j);
    job_spec_free(&t->spec); /* empty once a job took it */
    if (rc != REGISTRY_OK) {
        storage_respond(c->req, rc, registry_last_error(a->reg));
        idempotency_release(a, &t->idem);
        return;
    }
    submit_reply *r = submit_reply_new(t, j);
    if (!r) {
        jobs_submit_end(a, j, REGISTRY_ENOMEM, "out of memory", NULL, NULL, on_submit_failed, t);
        return;
    }
    int room = jobs_submit_room(j, why, sizeof why);
    jobs_submit_end(a, j, room, why, audit_submission, r, on_submitted, r);
}

/* The checks that need the loop's state, then the job; answers. */
static void submit_job(submit_task *t) {
    api_call *c = &t->call;
    job_spec *spec = &t->spec;
    spec_errors *errs = &t->errs;
    app *a = c->app;
    http_request *req = c->req;
    size_t n, d = 0, data_d = 0;
    if (resolve_shape(c, spec, &n, &d, errs) == 0) {
        data_d = d;
        job_spec_check_shape(spec, n, d, errs);
        d = job_spec_model_dim(spec, d); /* from here on: the parameters */
        check_limits(a, spec, d, errs);
    }
    budget_over too_large;
    quota_over over;
    if (errs->count) {
        respond_spec_errors(req, errs);
    } else if (budget_check_job(&a->cfg, spec, n, data_d, &too_large)) {
        budget_respond(req, &too_large);
    } else if (jobs_active(a) >= a->cfg.max_queued_jobs) {
        http_request_add_header(req, "Retry-After", "10");
        http_respond_error(req, 429, "too_many_jobs", "the queue is full; retry later", NULL);
    } else if (quota_check_job(a, c->who->user_id, spec, d, &over)) {
        quota_respond(req, &over);
    } else {
        submit_begin(t, d);
        return;
    }
    job_spec_free(spec);
    idempotency_release(a, &t->idem);
}

static void submit_after(uv_work_t *w, int status) {
    submit_task *t = w->data;
    app *a = t->call.app;
    http_request *req = t->call.req;
    if (status == 0 && !a->shutting_down && idempotency_check(&t->call, IDEM_HOLD, &t->idem) != 0) {
        if (t->json_ok && !t->bad) job_spec_free(&t->spec); /* answered: a retry */
    } else if (status != 0 || a->shutting_down) {
        if (status == 0 && t->json_ok && !t->bad) job_spec_free(&t->spec);
        idempotency_release(a, &t->idem);
        http_respond_error(req, 503, "shutting_down", "the server is stopping", NULL);
    } else if (t->values > JOB_SPEC_VALUES_MAX) {
        idempotency_release(a, &t->idem);
        char msg[160];
        snprintf(msg, sizeof msg, "a job spec holds at most %d values; this one may hold %zu",
                 JOB_SPEC_VALUES_MAX, t->values);
        http_respond_error(req, 413, "body_too_large", msg, NULL);
    } else if (!t->json_ok) {
        idempotency_release(a, &t->idem);
        api_respond_json_error(req, &t->json_error);
    } else if (t->bad) {
        idempotency_release(a, &t->idem);
        respond_spec_errors(req, &t->errs);
    } else {
        submit_job(t);
    }
    free(t);
}

void api_jobs_post(api_call *c) {
    http_request *req = c->req;
    if (strcmp(http_request_content_type(req), "application/json") != 0) {
        respond_unsupported_type(req, "application/json");
        return;
    }
    submit_task *t = calloc(1, sizeof *t);
    if (!t) {
        http_respond_error(req, 500, "internal", "out of memory", NULL);
        return;
    }
    t->who = *c->who;
    t->call = *c;
    t->call.who = &t->who;
    t->call.id = NULL;
    if (idempotency_read(&t->call, NULL, &t->idem) != 0) {
        free(t);
        return;
    }
    t->body = http_request_body(req, &t->len);
    if (t->len <= JOB_SPEC_INLINE_PARSE_MAX) {
        t->work.req.data = t;
        submit_parse(&t->work.req);
        submit_after(&t->work.req, 0);
        return;
    }
    if (app_queue_work(c->app, &t->work, t, submit_parse, submit_after) != 0) {
        idempotency_release(c->app, &t->idem);
        free(t);
        http_respond_error(req, 500, "internal", "cannot queue the spec's parse", NULL);
        return;
    }
    http_request_defer(req);
}

/* --- listing, status, cancel, delete ------------------------------------- */

/* Ended jobs' list items kept as text (list_items.h): ~1 KB each. */
#define LIST_ITEMS_KEPT 2048

/* A page of the list, written as JSON text: items kept as text go in as
 * they are. */
typedef struct list_ctx {
    app *a;
    char *text;
    size_t len, cap;
    size_t items;
    int failed;                      /* out of memory */
    const registry_job_state *state; /* the filter, or NULL */
} list_ctx;

static void list_append(list_ctx *l, const char *s, size_t n) {
    if (l->failed) return;
    if (l->len + n + 1 > l->cap) {
        size_t cap = l->cap ? l->cap : 4096;
        while (cap < l->len + n + 1)
            cap *= 2;
        char *grown = realloc(l->text, cap);
        if (!grown) {
            l->failed = 1;
            return;
        }
        l->text = grown;
        l->cap = cap;
    }
    memcpy(l->text + l->len, s, n);
    l->len += n;
    l->text[l->len] = '\0';
}

static void list_add_item(list_ctx *l, const char *item) {
    if (l->items++) list_append(l, ",", 1);
    list_append(l, item, strlen(item));
}

/* A job in a list: its status, and what it samples with what, so a list
 * tells jobs apart without their specs (null: a spec this build cannot
 * read). */
static char *list_item_text(job *j) {
    json_t *o = job_json(j, 0);
    const job_spec *spec = job_spec_of(j);
    const sampler_def *s = spec->chain.sampler;
    if (o) {
        json_object_set_new(o, "sampler", s ? json_string(s->name) : json_null());
        json_object_set_new(o, "model", spec->model ? json_string(spec->model->name) : json_null());
    }
    char *text = o ? json_dumps(o, JSON_COMPACT) : NULL;
    json_decref(o);
    return text;
}

/* Whether a job in this state keeps its list item as text, and under
 * which key: an ended job's item never changes, nor does a queued one's
 * until it starts (it is kept apart, under "ID:q", so that the started
 * job's rows miss it). */
static int list_item_key(const registry_job *row, char key[32]) {
    if (registry_job_state_is_final(row->state)) return snprintf(key, 32, "%s", row->id) < 32;
    if (row->state == REGISTRY_JOB_QUEUED) return snprintf(key, 32, "%s:q", row->id) < 32;
    return 0;
}

/* The item of an ended or queued job from the kept ones, else made (from
 * memory, or from its row alone: jobs_view_row) and kept; a running job's
 * is made every time. */
static void list_one_item(list_ctx *l, const registry_job *row) {
    app *a = l->a;
    char key[32];
    int keyed = list_item_key(row, key);
    const char *kept =
        keyed && a->list_items ? list_items_get(a->list_items, key, a->users_generation) : NULL;
    if (kept) {
        if (!l->state || row->state == *l->state) list_add_item(l, kept);
        return;
    }
    job *made, *j = jobs_view_row(a, row, &made);
    /* an ended job whose stored spec this build cannot read is shown as
     * failed, though the registry keeps the state it ended in */
    char *text = j && (!l->state || job_state(j) == *l->state) ? list_item_text(j) : NULL;
    int keep = keyed && j && job_state(j) == row->state;
    jobs_view_done(made);
    if (!text) return;
    list_add_item(l, text);
    if (keep && !a->list_items) a->list_items = list_items_new(LIST_ITEMS_KEPT);
    if (keep && a->list_items)
        list_items_put(a->list_items, key, a->users_generation, text);
    else
        free(text);
}

static int list_one(void *ctx, const registry_job *row) {
    list_one_item(ctx, row);
    return 0;
}

/* ?tag=a&tag=b (or ?tag=a,b): the jobs that have every one; split into
 * tags[] in buf. -1 when there are too many. */
static int query_tags(http_request *req, char *buf, size_t cap, const char **tags, size_t *n) {
    const char *given[REGISTRY_FILTER_TAGS_MAX + 1];
    size_t ngiven = http_request_query_all(req, "tag", given, REGISTRY_FILTER_TAGS_MAX + 1),
           used = 0;
    *n = 0;
    for (size_t i = 0; i < ngiven && i <= REGISTRY_FILTER_TAGS_MAX; i++) {
        int len = snprintf(buf + used, cap - used, "%s", given[i]);
        if (len < 0 || (size_t)len >= cap - used) return -1;
        char *save = NULL;
        for (char *t = strtok_r(buf + used, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
            if (*n == REGISTRY_FILTER_TAGS_MAX) return -1;
            tags[(*n)++] = t;
        }
        used += (size_t)len + 1;
    }
    return ngiven > REGISTRY_FILTER_TAGS_MAX ? -1 : 0;
}

/* The owner filter: the caller, or for admins ?owner=NAME (none: all). */
static int owner_filter(api_call *c, int64_t *owner) {
    const char *name = http_request_query(c->req, "owner");
    *owner = c->who->admin ? 0 : c->who->user_id;
    if (!name) return 0;
    user_record u;
    if (users_get(c->app->reg, name, &u) == REGISTRY_OK && (c->who->admin || u.id == *owner)) {
        *owner = u.id;
        return 0;
    }
    *owner = -1; /* no such user, or not one the caller may list: no jobs */
    return 0;
}

void api_jobs_list(api_call *c) {
    app *a = c->app;
    http_request *req = c->req;
    uint64_t page_size = 50;
    if (query_u64(req, "page_size", REGISTRY_PAGE_SIZE_MAX, &page_size) != 0) return;
    if (page_size == 0) page_size = 50;
    const char *state_name = http_request_query(req, "state");
    registry_job_state st;
    if (state_name && registry_job_state_parse(state_name, &st) != 0) {
        http_respond_error(req, 400, "invalid_query",
                           "state must be one of queued, running, succeeded, failed, cancelled",
                           NULL);
        return;
    }
    char tagbuf[SPEC_TAGS_MAX * (SPEC_TAG_MAX + 1) + 1];
    const char *tags[REGISTRY_FILTER_TAGS_MAX];
    registry_job_filter f = {
        .state = state_name ? &st : NULL, .name = http_request_query(req, "name"), .tags = tags};
    if (query_tags(req, tagbuf, sizeof tagbuf, tags, &f.ntags) != 0) {
        http_respond_error(req, 400, "invalid_query",
                           "tag: at most 16 tags of at most 64 characters", NULL);
        return;
    }
    owner_filter(c, &f.owner);
    const char *token = http_request_query(req, "page_token");
    char next[REGISTRY_TOKEN_SIZE] = "";
    /* about 1.2 KB an item: one allocation for a whole page, not a
     * realloc (a copy of all so far) at every doubling */
    list_ctx l = {.a = a, .state = f.state, .cap = (size_t)page_size * 1536 + 256};
    if (!(l.text = malloc(l.cap))) l.cap = 0;
    list_append(&l, "{\"jobs\":[", 9);
    int rc = registry_job_list(a->reg, &f, (int)page_size, token, list_one, &l, next);
    if (rc == REGISTRY_BAD_TOKEN) {
        free(l.text);
        http_respond_error(req, 400, "invalid_query", "page_token is not one this server made",
                           NULL);
        return;
    }
    if (rc != REGISTRY_OK || l.failed) {
        free(l.text);
        http_respond_error(req, 500, "internal",
                           l.failed ? "out of memory" : registry_last_error(a->reg), NULL);
        return;
    }
    /* the token is base64url-like text: nothing in it needs escaping */
    char tail[REGISTRY_TOKEN_SIZE + 40];
    int n = snprintf(tail, sizeof tail, "],\"next_page_token\":\"%s\"}\n", next);
    list_append(&l, tail, (size_t)n);
    if (l.failed) {
        free(l.text);
        http_respond_error(req, 500, "internal", "out of memory", NULL);
        return;
    }
    http_respond_taken(req, 200, "application/json", l.text, l.len);
}

void api_job_cancel(api_call *c) {
    job *j = call_job(c);
    if (!j) return;
    int rc = jobs_cancel(c->app, j);
    int status = rc == 0 ? 202 : rc == REGISTRY_BAD_TRANSITION ? 409 : 503;
    audit_call(c, "job.cancel", job_id(j), status, NULL);
    if (status == 409) {
        char msg[96];
        snprintf(msg, sizeof msg, "the job has already %s", job_state_name(j));
        http_respond_error(c->req, 409, "conflict", msg, NULL);
        return;
    }
    if (status == 503) { /* not recorded: answering 202 could be undone by a crash */
        char msg[320];
        snprintf(msg, sizeof msg, "the cancel could not be recorded (%s); retry",
                 registry_last_error(c->app->reg));
        http_request_add_header(c->req, "Retry-After", "1");
        http_respond_error(c->req, 503, "unavailable", msg, NULL);
        return;
    }
    http_respond_json(c->req, 202, job_json(j, 0));
}

void api_job_delete(api_call *c) {
    job *j = call_job(c);
    if (!j) return;
    int rc = jobs_delete(c->app, j);
    audit_call(c, "job.delete", c->id, rc == REGISTRY_IN_USE ? 409 : rc ? 500 : 204, NULL);
    if (rc == REGISTRY_IN_USE)
        http_respond_error(c->req, 409, "conflict",
                           "the job is still queued or running; cancel it first", NULL);
    else if (rc != 0)
        storage_respond(c->req, rc, registry_last_error(c->app->reg));
    else
        http_respond_empty(c->req, 204);
}

void api_job_get(api_call *c) {
    job *j = call_job(c);
    if (j) http_respond_json(c->req, 200, job_json(j, 1));
}

void api_job_events(api_call *c) {
    job *j = call_job(c);
    if (j) streams_events(c->app, j, c->req);
}

void api_job_draws(api_call *c) {
    job *j = call_job(c);
    if (j) streams_draws(c->app, j, c->req);
}

void api_job_result(api_call *c) {
    job *j = call_job(c);
    if (!j) return;
    if (job_spec_of(j)->kind == JOB_KIND_SAMPLE) {
        http_respond_error(c->req, 409, "no_result",
                           "a job of kind \"sample\" has no result: read its draws and summary",
                           NULL);
        return;
    }
    if (job_state(j) != REGISTRY_JOB_SUCCEEDED) {
        char msg[96];
        snprintf(msg, sizeof msg, "the job is %s; its result comes when it succeeds",
                 job_state_name(j));
        http_respond_error(c->req, 409, "not_ready", msg, NULL);
        return;
    }
    json_t *result = job_result_json(j);
    if (result)
        http_respond_json(c->req, 200, result);
    else
        http_respond_error(c->req, 500, "internal", "cannot read the job's result", NULL);
}

void api_job_summary(api_call *c) {
    job *j = call_job(c);
    if (j) api_summary(c->app, j, c->req);
}
