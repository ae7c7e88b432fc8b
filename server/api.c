/* api.c - the route table of the API and who may call each route. Every
 * request is matched against routes[]; unless a route is public its bearer
 * token must name a user (auth.c), a metrics-scope token reaches /metrics
 * only, and admin routes answer 403 to other users. Handlers get an
 * api_call with the caller; a job or dataset of another user answers 404,
 * as if it did not exist (api_may_see). Runs on the loop thread. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api_util.h"
#include "app.h"
#include "audit.h"
#include "clock.h"
#include "executor.h"
#include "simd.h"
#include "tables.h"
#include "utf8.h"
#include "web_assets.h"

#ifndef MCMCD_VERSION
#define MCMCD_VERSION "0.1.0"
#endif

/* --- public routes ---------------------------------------------------------- */

static void healthz(api_call *call) {
    http_respond_json(call->req, 200, json_pack("{s:s}", "status", "ok"));
}

static void info(api_call *call) {
    const serve_config *c = &call->app->cfg;
    http_respond_json(
        call->req, 200,
        json_pack("{s:s, s:s, s:o, s:o, s:[s, s], s:[s, s, s, s], s:s, s:I, "
                  "s:{s:I, s:I, s:I, s:I, s:I}}",
                  "name", "mcmcd", "version", MCMCD_VERSION, "models", model_table_to_json(),
                  "samplers", sampler_table_to_json(), "dtypes", "float64", "float32",
                  "draw_formats", "json", "csv", "npy", "ndjson", "simd", simd_ops_get()->name,
                  "workers", (json_int_t)c->workers, "limits", "max_body_bytes",
                  (json_int_t)c->max_body_bytes, "max_queued_jobs", (json_int_t)c->max_queued_jobs,
                  "max_chains_per_job", (json_int_t)c->max_chains_per_job,
                  "max_draw_values_per_job", (json_int_t)c->max_draw_values_per_job,
                  "max_iterations", (json_int_t)CHAIN_MAX_ITERATIONS));
}

/* --- users ---------------------------------------------------------------- */

static json_t *user_json(app *a, app_user *u) {
    json_t *limits = json_object(), *usage = json_object();
    for (int i = 0; i < LIMIT_COUNT; i++)
        json_object_set_new(limits, limit_get((limit_id)i)->name,
                            json_integer((json_int_t)u->limits.v[i]));
    json_object_set_new(usage, "running_chains", json_integer(u->running_chains));
    json_object_set_new(usage, "queued_jobs", json_integer(u->active_jobs));
    json_object_set_new(usage, "stored_bytes",
                        json_integer((json_int_t)app_user_stored_bytes(a, u)));
    return json_pack("{s:s, s:b, s:o, s:o}", "name", u->name, "admin", u->admin, "limits", limits,
                     "usage", usage);
}

static void users_me(api_call *c) {
    app_user *u = app_user_get(c->app, c->who->user_id);
    if (!u) {
        http_respond_error(c->req, 500, "internal", "out of memory", NULL);
        return;
    }
    http_respond_json(c->req, 200, user_json(c->app, u));
}

typedef struct users_list_ctx {
    app *a;
    json_t *arr;
} users_list_ctx;

static int add_user(void *ctx, const user_record *r) {
    users_list_ctx *l = ctx;
    app_user *u = app_user_get(l->a, r->id);
    if (u) json_array_append_new(l->arr, user_json(l->a, u));
    return 0;
}

static void users_get_all(api_call *c) {
    app_users_reload(c->app);
    users_list_ctx l = {c->app, json_array()};
    if (users_list(c->app->reg, add_user, &l) != REGISTRY_OK) {
        json_decref(l.arr);
        http_respond_error(c->req, 500, "internal", registry_last_error(c->app->reg), NULL);
        return;
    }
    http_respond_json(c->req, 200, json_pack("{s:o}", "users", l.arr));
}

/* --- the route table ------------------------------------------------------ */

typedef enum route_access {
    ACCESS_PUBLIC,  /* no token needed */
    ACCESS_USER,    /* any user's token of scope all */
    ACCESS_ADMIN,   /* an admin's token of scope all */
    ACCESS_METRICS, /* an admin's token, or any metrics-scope token */
    ACCESS_TASK,    /* a Slurm task: the job's secret, checked by the handler */
} route_access;

typedef struct route {
    const char *method;  /* GET routes answer HEAD too */
    const char *pattern; /* "/v1/jobs/{id}/events": {id} matches one segment */
    route_access access;
    void (*fn)(api_call *c);
} route;

static const route routes[] = {
    {"GET", "/", ACCESS_PUBLIC, api_web_index},        /* the dashboard */
    {"GET", "/ui/{id}", ACCESS_PUBLIC, api_web_asset}, /* its files */
    {"GET", "/healthz", ACCESS_PUBLIC, healthz},
    {"GET", "/v1/info", ACCESS_PUBLIC, info},
    {"GET", "/metrics", ACCESS_METRICS, api_metrics},
    {"GET", "/v1/users/me", ACCESS_USER, users_me},
    {"GET", "/v1/users", ACCESS_ADMIN, users_get_all},
    {"GET", "/v1/audit", ACCESS_ADMIN, api_audit_list},
    {"GET", "/v1/jobs", ACCESS_USER, api_jobs_list},
    {"POST", "/v1/jobs", ACCESS_USER, api_jobs_post},
    {"GET", "/v1/jobs/{id}", ACCESS_USER, api_job_get},
    {"DELETE", "/v1/jobs/{id}", ACCESS_USER, api_job_delete},
    {"POST", "/v1/jobs/{id}/cancel", ACCESS_USER, api_job_cancel},
    {"GET", "/v1/jobs/{id}/events", ACCESS_USER, api_job_events},
    {"GET", "/v1/jobs/{id}/draws", ACCESS_USER, api_job_draws},
    {"GET", "/v1/jobs/{id}/summary", ACCESS_USER, api_job_summary},
    {"POST", "/v1/jobs/{id}/blocks", ACCESS_TASK, executor_slurm_post_block},
    {"GET", "/v1/jobs/{id}/result", ACCESS_USER, api_job_result},
    {"GET", "/v1/datasets", ACCESS_USER, api_datasets_list},
    {"POST", "/v1/datasets", ACCESS_USER, api_datasets_post},
    {"GET", "/v1/datasets/{id}", ACCESS_USER, api_dataset_get},
    {"DELETE", "/v1/datasets/{id}", ACCESS_USER, api_dataset_delete},
};

#define NROUTES (sizeof routes / sizeof routes[0])
#define ID_MAX 256

void api_print_routes(FILE *out) {
    static const char *const access[] = {"public", "user", "admin", "metrics", "task"};
    for (size_t i = 0; i < NROUTES; i++)
        fprintf(out, "%s %s %s\n", routes[i].method, routes[i].pattern, access[routes[i].access]);
}

/* Whether path matches pattern; the {id} segment is copied into id. */
static int route_matches(const char *pattern, const char *path, char id[ID_MAX]) {
    while (*pattern && *path) {
        if (!strncmp(pattern, "{id}", 4)) {
            size_t n = strcspn(path, "/");
            if (n == 0 || n >= ID_MAX) return 0;
            memcpy(id, path, n);
            id[n] = 0;
            pattern += 4, path += n;
        } else if (*pattern++ != *path++) {
            return 0;
        }
    }
    return !*pattern && !*path;
}

/* The route for the request; NULL after answering 404 or 405. */
static const route *route_find(http_request *req, char id[ID_MAX]) {
    const char *path = http_request_path(req), *m = http_request_method(req);
    if (!strcmp(m, "HEAD")) m = "GET"; /* MHD sends no body for HEAD */
    char allow[64] = "";
    for (size_t i = 0; i < NROUTES; i++) {
        if (!route_matches(routes[i].pattern, path, id)) continue;
        if (!strcmp(routes[i].method, m)) return &routes[i];
        http_request_set_label(req, routes[i].pattern); /* a 405 counts by the pattern */
        size_t n = strlen(allow);
        snprintf(allow + n, sizeof allow - n, "%s%s", n ? ", " : "", routes[i].method);
    }
    if (*allow) {
        respond_method_not_allowed(req, allow);
    } else {
        char msg[300], clean[201];
        snprintf(msg, sizeof msg, "no route for %s; see GET /v1/info",
                 utf8_clip(clean, sizeof clean, path));
        http_respond_error(req, 404, "not_found", msg, NULL);
    }
    return NULL;
}

static void respond_unauthorized(http_request *req, auth_status st) {
    int missing = st == AUTH_MISSING;
    http_request_add_header(req, "WWW-Authenticate",
                            missing ? "Bearer realm=\"mcmcd\""
                                    : "Bearer realm=\"mcmcd\", error=\"invalid_token\"");
    http_respond_error(req, 401, missing ? "unauthorized" : "invalid_token",
                       missing ? "this route needs a bearer token: Authorization: Bearer TOKEN"
                               : "the bearer token is not valid (malformed, unknown or revoked)",
                       NULL);
}

/* Whether the principal may call r; answers 403 when not. */
static int access_allowed(const route *r, const principal *p, http_request *req) {
    const char *why = NULL;
    if (r->access == ACCESS_METRICS)
        why = p->admin || p->scope == TOKEN_SCOPE_METRICS
                  ? NULL
                  : "/metrics needs an admin or a metrics token";
    else if (p->scope != TOKEN_SCOPE_ALL)
        why = "this token may read /metrics only";
    else if (r->access == ACCESS_ADMIN && !p->admin)
        why = "this route is for admins";
    if (why) http_respond_error(req, 403, "forbidden", why, NULL);
    return why == NULL;
}

/* Who is asking; 0, or -1 after answering 401, 403 or 500. */
static int identify(app *a, const route *r, http_request *req, principal *who) {
    memset(who, 0, sizeof *who);
    if (r->access == ACCESS_PUBLIC || r->access == ACCESS_TASK) return 0;
    auth_status st = auth_identify(a->reg, a->tokens_kept, &a->cfg,
                                   http_request_header(req, "Authorization"), app_now_ms(), who);
    if (st == AUTH_ERROR) {
        http_respond_error(req, 500, "internal", "the registry failed", NULL);
        return -1;
    }
    if (st != AUTH_OK) {
        respond_unauthorized(req, st);
        audit_request(a, req, NULL, "auth.failed", http_request_path(req), 401,
                      st == AUTH_MISSING ? "missing token" : "invalid token");
        return -1;
    }
    if (!access_allowed(r, who, req)) {
        audit_request(a, req, who->name, "auth.forbidden", http_request_path(req), 403,
                      who->scope != TOKEN_SCOPE_ALL ? "metrics token" : "not an admin");
        return -1;
    }
    app_user_update(a, who);
    return 0;
}

/* A Host the daemon does not answer to: a page whose DNS name was made to
 * point at this machine (DNS rebinding), or a misdirected request. */
static void respond_unknown_host(http_request *req) {
    char msg[200], host[101];
    snprintf(msg, sizeof msg,
             "this server does not answer to Host '%s'; its names are set by the config key "
             "hosts",
             utf8_clip(host, sizeof host, http_request_header(req, "Host")));
    http_respond_error(req, 421, "misdirected_request", msg, NULL);
}

void api_handle(void *ctx, http_request *req) {
    app *a = ctx;
    if (a->shutting_down) {
        http_respond_error(req, 503, "shutting_down", "the server is stopping", NULL);
        return;
    }
    if (!serve_config_host_allowed(&a->cfg, http_request_header(req, "Host"))) {
        respond_unknown_host(req);
        return;
    }
    char id[ID_MAX] = "";
    const route *r = route_find(req, id);
    principal who;
    if (r) http_request_set_label(req, r->pattern); /* for the metrics */
    if (!r || identify(a, r, req, &who) != 0) return;
    api_call call = {a, req, &who, *id ? id : NULL, r->pattern};
    r->fn(&call);
}
