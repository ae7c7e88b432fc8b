/* mcmcclient.h - libmcmcclient, the C client of mcmcd (the sampling
 * service): datasets, jobs, live progress, draws and summaries over the
 * daemon's HTTP API (libcurl). The only header the library installs.
 *
 * A complete program (error checks trimmed to one; link with
 * `pkg-config --cflags --libs mcmcclient` or find_package(mcmcclient)):
 *
 *     #include <stdio.h>
 *     #include <stdlib.h>
 *     #include <mcmcclient.h>
 *
 *     static int on_event(void *ctx, const mcmc_event *ev) {
 *         (void)ctx;
 *         if (ev->type == MCMC_EVENT_PROGRESS)
 *             printf("chain %u: %llu/%llu\n", ev->chain, (unsigned long long)ev->iter,
 *                    (unsigned long long)ev->total);
 *         return 0; // nonzero stops the watch: MCMC_CLIENT_CANCELLED
 *     }
 *
 *     int main(void) {
 *         double X[] = {1, 2, 3, 4, 5, -6};   // 3 rows, 2 columns, row-major
 *         uint8_t y[] = {0, 1, 1};
 *         mcmc_client *c;
 *         mcmc_error err;
 *         mcmc_dataset ds;
 *         mcmc_job job;
 *         mcmc_job_state final;
 *         mcmc_summary sum;
 *         // NULL: the token of MCMC_TOKEN, `mcmc login`, or the local daemon
 *         if (mcmc_client_new("http://127.0.0.1:8470", NULL, &c) != MCMC_CLIENT_OK) return 1;
 *         if (mcmc_upload_dataset(c, "tiny", X, y, 3, 2, &ds, &err) != MCMC_CLIENT_OK) {
 *             fprintf(stderr, "upload: %d %s: %s\n", err.status, err.code, err.message);
 *             return 1;
 *         }
 *         mcmc_spec spec;
 *         mcmc_spec_init(&spec);
 *         spec.dataset_id = ds.id;
 *         spec.sampler = "mala";                          // any name GET /v1/info lists
 *         spec.sampler_params_json = "{\"adapt_delta\": 0.6}"; // any of its parameters
 *         spec.num_warmup = 1000;                         // adapts the step size and metric
 *         spec.chains = 4;
 *         mcmc_submit_job(c, &spec, &job, &err);
 *         mcmc_watch_job(c, job.id, NULL, on_event, NULL, &final, &err);
 *         mcmc_get_summary(c, job.id, &sum, &err);
 *         for (size_t j = 0; j < sum.nparams; j++)
 *             printf("%s %.4f +- %.4f\n", sum.params[j].name, sum.params[j].mean,
 *                    sum.params[j].sd);
 *         mcmc_summary_free(&sum);
 *         mcmc_job_free(&job);
 *         mcmc_client_free(c);
 *         return 0;
 *     }
 *
 * Conventions.
 *  - Every call returns an mcmc_client_status and, unless err is NULL,
 *    fills *err (reset first on every call): the server's JSON error when
 *    the server answered one (MCMC_CLIENT_HTTP, MCMC_CLIENT_UNAUTHORIZED,
 *    MCMC_CLIENT_FORBIDDEN, MCMC_CLIENT_RATE_LIMITED: see
 *    mcmc_client_status_is_http), a message of ours otherwise. Nothing is
 *    printed.
 *  - Tokens: mcmc_client_new below says where a client's bearer token
 *    comes from when the caller gives none (MCMC_TOKEN, the token store
 *    `mcmc login` writes, the local daemon's admin token file).
 *  - Structs a call fills are the caller's; what they point to is the
 *    library's until the matching *_free, which frees the contents, not
 *    the struct. On failure a struct is left empty (freeing it is safe).
 *  - Numbers the server sends as null (non-finite, or not known yet) are
 *    NaN here.
 *  - A client is one connection cache (connections are kept alive and
 *    reused): use it from one thread at a time; make one per thread.
 *  - The library calls curl_global_init once, the first time a client is
 *    made, and never calls curl_global_cleanup.
 */
#ifndef MCMCCLIENT_H
#define MCMCCLIENT_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#if defined(__GNUC__)
#define MCMC_CLIENT_API __attribute__((visibility("default")))
#else
#define MCMC_CLIENT_API
#endif

/* 1.0.0: samplers and models by name, their parameters as JSON (soname 1).
 * 1.1.0: bearer tokens found when not given; 401, 403 and 429 as their own
 * statuses; mcmc_whoami; the token store (still soname 1: only additions). */
#define MCMC_CLIENT_VERSION "1.1.0"

/* --- status and errors --------------------------------------------------- */

typedef enum mcmc_client_status {
    MCMC_CLIENT_OK = 0,
    MCMC_CLIENT_UNREACHABLE = -1, /* connection refused, timed out, dropped */
    MCMC_CLIENT_HTTP = -2,        /* the server answered an error (err->status) */
    MCMC_CLIENT_PROTOCOL = -3,    /* a response we cannot read */
    MCMC_CLIENT_NOMEM = -4,
    MCMC_CLIENT_CANCELLED = -5,    /* a callback asked to stop */
    MCMC_CLIENT_INVALID = -6,      /* bad arguments (or a buffer too small) */
    MCMC_CLIENT_UNAUTHORIZED = -7, /* HTTP 401: no token, or one the server refuses
                                      (err->code "unauthorized" or "invalid_token") */
    MCMC_CLIENT_FORBIDDEN = -8,    /* HTTP 403: the token's user or scope may not do it */
    MCMC_CLIENT_RATE_LIMITED = -9  /* HTTP 429: over a limit of the user's, such as
                                      queued jobs (err->code "quota_exceeded"); try later */
} mcmc_client_status;

/* "ok", "unreachable", "http", "protocol", "nomem", "cancelled", "invalid",
 * "unauthorized", "forbidden", "rate_limited". */
MCMC_CLIENT_API const char *mcmc_client_status_name(mcmc_client_status status);
/* 1 when status means the server answered an error, so err holds its HTTP
 * status, code and message: MCMC_CLIENT_HTTP and the statuses of the
 * answers told apart (UNAUTHORIZED, FORBIDDEN, RATE_LIMITED; later
 * versions may add more). 0 otherwise. */
MCMC_CLIENT_API int mcmc_client_status_is_http(mcmc_client_status status);

#define MCMC_ERROR_DETAILS_MAX 32

typedef struct mcmc_error_detail {
    char path[128];    /* a JSON path such as "sampler.step_size"; "" for the whole body */
    char message[256]; /* "must be > 0" */
} mcmc_error_detail;

typedef struct mcmc_error {
    int status;        /* the HTTP status; 0 when no response was read */
    char code[64];     /* the server's code ("invalid_spec", "not_found"); ours otherwise */
    char message[512]; /* the server's message, or what went wrong here */
    size_t ndetails;   /* entries in details (the first MCMC_ERROR_DETAILS_MAX) */
    mcmc_error_detail details[MCMC_ERROR_DETAILS_MAX];
} mcmc_error;

/* --- the client ---------------------------------------------------------- */

typedef struct mcmc_client mcmc_client;

/* A client of the daemon at base_url ("http://127.0.0.1:8470", with or
 * without a trailing slash). Its token is sent as "Authorization: Bearer
 * <token>" with every request:
 *  - bearer_token, when not NULL and not "", is copied and used;
 *  - "" means no token: nothing is sent, nothing is searched;
 *  - NULL: the first of these that holds one, read once, here:
 *    1. the environment variable MCMC_TOKEN, when not empty;
 *    2. the token store that `mcmc login` writes (mcmc_token_store_path):
 *       $XDG_CONFIG_HOME/mcmc/tokens (when XDG_CONFIG_HOME is absolute),
 *       else $HOME/.config/mcmc/tokens; lines "BASE_URL TOKEN" ('#'
 *       comments and blank lines skipped), the first whose URL is base_url
 *       (both compared without trailing slashes, otherwise exactly);
 *    3. only when base_url's host is loopback (127.0.0.0/8, localhost,
 *       [::1]): the admin token the local daemon writes on its first start,
 *       <data_dir>/admin.token with the daemon's default data_dir,
 *       $XDG_STATE_HOME/mcmcd (absolute only), else $HOME/.local/state/mcmcd.
 *    A token file or store whose mode gives group or others any access is
 *    not read but skipped, the way ssh refuses such a private key, so a
 *    token others could read gets noticed (the request then goes without
 *    it, and mcmc_client_token_note says why). No token found: none sent.
 * A token is printable ASCII without spaces. Defaults: connect timeout
 * 5 s, total timeout 60 s, stream stall limit 15 s. MCMC_CLIENT_INVALID
 * without a base_url or with a bearer_token that is not a token,
 * MCMC_CLIENT_NOMEM. */
MCMC_CLIENT_API mcmc_client_status mcmc_client_new(const char *base_url, const char *bearer_token,
                                                   mcmc_client **out);
MCMC_CLIENT_API void mcmc_client_free(mcmc_client *client);

/* Where the client's token came from: "argument" (mcmc_client_new's),
 * "MCMC_TOKEN", or the path of the file it was read from; NULL when the
 * client sends none. Valid until mcmc_client_free. */
MCMC_CLIENT_API const char *mcmc_client_token_source(const mcmc_client *client);
/* Why the search of mcmc_client_new passed over a token it saw ("skipped
 * PATH: group or others may read it ..."), or NULL. For a program to show
 * next to a 401. */
MCMC_CLIENT_API const char *mcmc_client_token_note(const mcmc_client *client);

/* connect_ms: to open a connection; total_ms: a whole request and its
 * answer (0: no limit); stall_s: every call fails when no byte moved for
 * stall_s seconds (0: no limit). The streaming calls, mcmc_watch_job and
 * mcmc_fetch_draws, have no total limit, only the stall limit: the server
 * sends a heartbeat every ~5 s on an idle event stream. */
MCMC_CLIENT_API mcmc_client_status mcmc_client_set_timeouts(mcmc_client *client, long connect_ms,
                                                            long total_ms, long stall_s);

/* --- who am I; the token store ------------------------------------------- */

/* One named number of a user: a limit or a usage. */
typedef struct mcmc_user_value {
    char name[64]; /* "queued_jobs", "stored_bytes", ... */
    uint64_t value;
} mcmc_user_value;

/* The user a token acts for, as GET /v1/users/me has it. Limits and usage
 * come as the server names them (its README lists them), in its order:
 * limits such as "running_chains", "queued_jobs", "stored_bytes" (bytes),
 * "draw_values_per_job", "job_seconds" and "job_retention" (seconds), each
 * 0 for no limit; usage "running_chains", "queued_jobs", "stored_bytes". */
typedef struct mcmc_user {
    char name[128];
    int admin; /* 1 for an administrator */
    size_t nlimits;
    mcmc_user_value *limits; /* owned */
    size_t nusage;
    mcmc_user_value *usage; /* owned */
} mcmc_user;

/* GET /v1/users/me. MCMC_CLIENT_UNAUTHORIZED without a token the server
 * takes; MCMC_CLIENT_FORBIDDEN for a token of the metrics scope. */
MCMC_CLIENT_API mcmc_client_status mcmc_whoami(mcmc_client *client, mcmc_user *out,
                                               mcmc_error *err);
MCMC_CLIENT_API void mcmc_user_free(mcmc_user *user);
/* The value named name in values[0..n), or 0 when none is. */
MCMC_CLIENT_API uint64_t mcmc_user_value_get(const mcmc_user_value *values, size_t n,
                                             const char *name);

/* The token store's path (see mcmc_client_new) into buf. MCMC_CLIENT_INVALID
 * when neither XDG_CONFIG_HOME nor HOME is set, or it does not fit. */
MCMC_CLIENT_API mcmc_client_status mcmc_token_store_path(char *buf, size_t cap);
/* Stores token as base_url's in the token store, what `mcmc login` does:
 * the line of that URL replaced (or added), the other lines kept, the
 * file written whole to a temporary file of mode 0600 then renamed over
 * the store, in a directory made (or set) mode 0700. MCMC_CLIENT_INVALID
 * for a bad URL or token, or when the store cannot be written (why in
 * err->message); MCMC_CLIENT_NOMEM. Nothing is sent to the server. */
MCMC_CLIENT_API mcmc_client_status mcmc_token_store_save(const char *base_url, const char *token,
                                                         mcmc_error *err);

/* --- datasets ------------------------------------------------------------ */

typedef struct mcmc_dataset {
    char id[64]; /* content hash: the same rows always get the same id */
    char name[256];
    uint64_t n, d; /* rows, covariates */
    uint64_t bytes;
    char created[40]; /* RFC 3339 UTC */
} mcmc_dataset;

/* Uploads n rows of d covariates: X row-major (n * d finite doubles), y
 * n labels 0 or 1. name may be NULL. *out gets the stored dataset (the
 * same rows uploaded again answer the first upload's dataset). */
MCMC_CLIENT_API mcmc_client_status mcmc_upload_dataset(mcmc_client *client, const char *name,
                                                       const double *X, const uint8_t *y, size_t n,
                                                       size_t d, mcmc_dataset *out,
                                                       mcmc_error *err);
/* The same with int labels. */
MCMC_CLIENT_API mcmc_client_status mcmc_upload_dataset_int_labels(mcmc_client *client,
                                                                  const char *name, const double *X,
                                                                  const int *y, size_t n, size_t d,
                                                                  mcmc_dataset *out,
                                                                  mcmc_error *err);
/* Streams a CSV file (covariates, then y in the last column, an optional
 * header line) as text/csv; the server parses it. */
MCMC_CLIENT_API mcmc_client_status mcmc_upload_dataset_csv(mcmc_client *client, const char *name,
                                                           const char *csv_path, mcmc_dataset *out,
                                                           mcmc_error *err);

typedef struct mcmc_dataset_list {
    size_t count;
    mcmc_dataset *datasets; /* owned; mcmc_dataset_list_free */
} mcmc_dataset_list;

MCMC_CLIENT_API mcmc_client_status mcmc_list_datasets(mcmc_client *client, mcmc_dataset_list *out,
                                                      mcmc_error *err);
MCMC_CLIENT_API void mcmc_dataset_list_free(mcmc_dataset_list *list);
MCMC_CLIENT_API mcmc_client_status mcmc_get_dataset(mcmc_client *client, const char *id,
                                                    mcmc_dataset *out, mcmc_error *err);
/* HTTP 409 while a queued or running job uses it. */
MCMC_CLIENT_API mcmc_client_status mcmc_delete_dataset(mcmc_client *client, const char *id,
                                                       mcmc_error *err);

/* --- job specs ----------------------------------------------------------- */

typedef enum mcmc_init { MCMC_INIT_ZEROS, MCMC_INIT_PRIOR, MCMC_INIT_TRUE } mcmc_init;
typedef enum mcmc_dtype { MCMC_DTYPE_FLOAT64, MCMC_DTYPE_FLOAT32 } mcmc_dtype;

/* A job spec (the README's "job spec") from fields. Samplers and models
 * are named by string and take their parameters as a JSON object, so a
 * server with a new sampler, model or parameter needs no new client:
 * mcmc_get_info_json lists them (GET /v1/info), and so does `mcmc
 * samplers`. mcmc_spec_init leaves every choice to the server's default;
 * strings are borrowed. The JSON is built as: the fields below, then each
 * member of sampler_params_json into "sampler" and of model_params_json
 * into "model" (overriding the convenience fields), then each member of
 * extra_json at the top level, replacing what is there (for fields this
 * struct lacks: "init" vectors, ...). A warm start's "inv_metric" is a
 * sampler parameter. */
typedef struct mcmc_spec {
    const char *model;             /* a model's name (NULL: "logistic_regression") */
    const char *model_params_json; /* NULL, or a JSON object of its parameters */
    double prior_variance;         /* convenience: the model's "prior_variance"
                                      (NaN: not sent, the model's default) */
    const char *dataset_id;        /* the data: an uploaded dataset, or ... */
    struct {
        uint64_t n, d, seed; /* ... synthetic data when dataset_id is NULL and n > 0 */
    } synthetic;
    const char *sampler;             /* a sampler's name: "mala", "nuts", ... ("mala") */
    const char *sampler_params_json; /* NULL, or a JSON object of its parameters:
                                        "{\"adapt_delta\": 0.9, \"metric\": \"dense\"}" */
    double step_size;                /* convenience: "step_size" (NaN: not sent) */
    uint64_t batch_size;             /* convenience: sgld's "batch_size" (0: not sent) */
    uint64_t num_samples;            /* draws kept per chain (1000) */
    uint64_t num_warmup;             /* iterations first, adapting the samplers that
                                        adapt, discarded (0) */
    int save_warmup;                 /* keep the warmup's draws too (0) */
    uint64_t thin;                   /* (1) */
    uint32_t chains;                 /* (1) */
    uint64_t key;                    /* PRNG seed (0) */
    mcmc_init init;                  /* (zeros); MCMC_INIT_TRUE needs synthetic data */
    mcmc_dtype dtype;                /* (float64) */
    uint64_t progress_every;         /* iterations per progress event (1000) */
    uint32_t row_threads;            /* threads each chain splits its data rows over (1);
                                        the draws do not depend on it */
    const char *extra_json;          /* NULL, or a JSON object of more top-level fields */
} mcmc_spec;

MCMC_CLIENT_API void mcmc_spec_init(mcmc_spec *spec);
/* The spec as JSON text in *json_out (free() it). MCMC_CLIENT_INVALID when
 * a *_json field is not a JSON object, an enum is out of range or
 * prior_variance or step_size is infinite. */
MCMC_CLIENT_API mcmc_client_status mcmc_spec_to_json(const mcmc_spec *spec, char **json_out);

/* GET /v1/info as JSON text in *json_out (free() it): the server's version
 * and limits, and its tables: "samplers" (each with "name", "help",
 * "adapts", "uses_metric", "minibatch", "stats" and "params": name, type,
 * default, bounds, enum, help) and "models". */
MCMC_CLIENT_API mcmc_client_status mcmc_get_info_json(mcmc_client *client, char **json_out,
                                                      mcmc_error *err);

/* --- jobs ---------------------------------------------------------------- */

typedef enum mcmc_job_state {
    MCMC_JOB_UNKNOWN = 0, /* as a list filter: any state */
    MCMC_JOB_QUEUED,
    MCMC_JOB_RUNNING,
    MCMC_JOB_SUCCEEDED,
    MCMC_JOB_FAILED,
    MCMC_JOB_CANCELLED
} mcmc_job_state;

/* "queued", ...; "unknown". */
MCMC_CLIENT_API const char *mcmc_job_state_name(mcmc_job_state state);

/* What a chain's latest iteration was (MCMC_PHASE_UNKNOWN: the server did
 * not say). */
typedef enum mcmc_phase { MCMC_PHASE_UNKNOWN, MCMC_PHASE_WARMUP, MCMC_PHASE_SAMPLING } mcmc_phase;

/* "warmup", "sampling"; "unknown". */
MCMC_CLIENT_API const char *mcmc_phase_name(mcmc_phase phase);

typedef struct mcmc_chain_progress {
    uint32_t chain;
    uint64_t iter, total; /* iterations done and planned, warmup included */
    uint64_t draws;       /* draws kept so far */
    mcmc_phase phase;
    double step_size;   /* of the latest iteration (NaN before the first) */
    uint64_t divergent; /* divergent iterations so far */
    double accept_rate; /* NaN for samplers without an accept step (ula, sgld) */
    double it_per_s, elapsed, eta_s;
} mcmc_chain_progress;

typedef struct mcmc_job {
    char id[64];
    mcmc_job_state state;
    char *error;                                 /* failed: why; owned, NULL otherwise */
    char dataset[64];                            /* "" for synthetic data */
    char created[40], started[40], finished[40]; /* RFC 3339, "" when not reached */
    uint64_t iter, total;                        /* over all chains */
    double accept_rate, elapsed, eta_s;          /* overall (accept_rate: see
                                                    mcmc_chain_progress) */
    uint64_t chains, samples, d;                 /* the draws' shape */
    size_t nchains;
    mcmc_chain_progress *progress; /* nchains entries, owned */
    char *spec_json;               /* the spec with defaults (mcmc_get_job only); owned */
    char **param_names; /* d names ("intercept", "theta.age", ...) once the server has built
                           the model, else NULL; owned */
} mcmc_job;

MCMC_CLIENT_API void mcmc_job_free(mcmc_job *job);

/* Submits a spec; *out (may be NULL) gets the new job (state queued or
 * already running). An invalid spec is MCMC_CLIENT_HTTP with status 422,
 * code "invalid_spec" and every problem in err->details. */
MCMC_CLIENT_API mcmc_client_status mcmc_submit_job(mcmc_client *client, const mcmc_spec *spec,
                                                   mcmc_job *out, mcmc_error *err);
MCMC_CLIENT_API mcmc_client_status mcmc_submit_job_json(mcmc_client *client, const char *spec_json,
                                                        mcmc_job *out, mcmc_error *err);
MCMC_CLIENT_API mcmc_client_status mcmc_get_job(mcmc_client *client, const char *id, mcmc_job *out,
                                                mcmc_error *err);
/* Stops the job within one progress block; its draws so far are kept.
 * HTTP 409 when it already ended. *out may be NULL. */
MCMC_CLIENT_API mcmc_client_status mcmc_cancel_job(mcmc_client *client, const char *id,
                                                   mcmc_job *out, mcmc_error *err);
/* Deletes an ended job and its draws (HTTP 409 while queued or running). */
MCMC_CLIENT_API mcmc_client_status mcmc_delete_job(mcmc_client *client, const char *id,
                                                   mcmc_error *err);

typedef struct mcmc_job_list {
    size_t count;
    mcmc_job *jobs;            /* owned (without spec_json); mcmc_job_list_free */
    char next_page_token[128]; /* "" on the last page */
} mcmc_job_list;

/* One page of jobs, oldest first. state MCMC_JOB_UNKNOWN lists all;
 * page_size 0 is the server's default (50, at most 1000); page_token is
 * NULL or "" for the first page, else a next_page_token. */
MCMC_CLIENT_API mcmc_client_status mcmc_list_jobs(mcmc_client *client, mcmc_job_state state,
                                                  size_t page_size, const char *page_token,
                                                  mcmc_job_list *out, mcmc_error *err);
MCMC_CLIENT_API void mcmc_job_list_free(mcmc_job_list *list);

/* --- watching a job ------------------------------------------------------ */

typedef enum mcmc_event_type {
    MCMC_EVENT_STATE,
    MCMC_EVENT_PROGRESS,
    MCMC_EVENT_DONE,
    MCMC_EVENT_HEARTBEAT
} mcmc_event_type;

/* One event of a job's stream. Pointers are valid during the callback. */
typedef struct mcmc_event {
    uint64_t seq; /* 1, 2, ...; 0 for a heartbeat */
    mcmc_event_type type;
    double time;          /* unix seconds (a heartbeat: this machine's clock) */
    mcmc_job_state state; /* state, done */
    const char *error;    /* state, done: why the job failed; NULL otherwise */
    uint32_t chain;       /* progress: chain, iter, total, draws, phase, ... */
    uint64_t iter, total, draws;
    mcmc_phase phase;
    double step_size;   /* the block's last iteration's (adapting during warmup) */
    uint64_t divergent; /* divergent iterations of the chain so far */
    double accept_rate; /* NaN for samplers without an accept step (ula, sgld) */
    double it_per_s, eta_s, elapsed;
    size_t nchains; /* done: draws kept per chain */
    const uint64_t *draws_per_chain;
} mcmc_event;

/* Return 0 to go on, nonzero to stop the watch (MCMC_CLIENT_CANCELLED). */
typedef int (*mcmc_event_fn)(void *ctx, const mcmc_event *event);

typedef struct mcmc_watch_options {
    uint64_t after;          /* deliver events with seq > after (0: from the start) */
    int heartbeats;          /* deliver heartbeats too (0: filtered out) */
    unsigned max_retries;    /* reconnections in a row without a new event (5) */
    unsigned retry_delay_ms; /* the first wait, doubling each retry, at most 5 s (100) */
} mcmc_watch_options;

/* {0, 0, 5, 100}: what NULL options mean. */
MCMC_CLIENT_API mcmc_watch_options mcmc_watch_options_default(void);

/* Follows the job's Server-Sent Events and calls fn once per event, in seq
 * order, until the done event (delivered too) ends it with the job's final
 * state in *final_state (may be NULL). A new watch gets every state event,
 * the latest progress of each chain and the recent progress, then live
 * events. When the connection drops or stalls (no byte for stall_s:
 * heartbeats keep a healthy stream busy) before the done event, the watch
 * reconnects with "Last-Event-ID: <last seq delivered>", so no event is
 * delivered twice and none is lost; it waits retry_delay_ms, then twice
 * that, ... (at most 5 s) and gives up with MCMC_CLIENT_UNREACHABLE after
 * max_retries reconnections in a row that delivered nothing. A first
 * connection that fails is not retried. An error answer (a deleted job:
 * 404) ends it with MCMC_CLIENT_HTTP (or the status of a 401, 403, 429). */
MCMC_CLIENT_API mcmc_client_status mcmc_watch_job(mcmc_client *client, const char *id,
                                                  const mcmc_watch_options *options,
                                                  mcmc_event_fn fn, void *ctx,
                                                  mcmc_job_state *final_state, mcmc_error *err);

/* --- draws and summaries ------------------------------------------------- */

#define MCMC_ALL_CHAINS UINT32_MAX
#define MCMC_DRAWS_END UINT64_MAX

/* Draws start, start + thin, ... below stop, of one chain or all. */
typedef struct mcmc_draw_query {
    uint32_t chain; /* MCMC_ALL_CHAINS, or one chain */
    uint64_t start; /* (0) */
    uint64_t stop;  /* MCMC_DRAWS_END: num_samples */
    uint64_t thin;  /* 0 or 1: every draw */
} mcmc_draw_query;

#define MCMC_DRAW_QUERY_ALL ((mcmc_draw_query){MCMC_ALL_CHAINS, 0, MCMC_DRAWS_END, 1})

/* The shape of what a fetch returns: values[(c * rows + i) * d + j] is
 * parameter j of the i-th selected draw of the c-th selected chain. */
typedef struct mcmc_draws_shape {
    uint64_t chains, rows, d;
} mcmc_draws_shape;

/* Fetches draws as .npy (float64, C order; header checked) into values.
 * query NULL means everything. The draws so far of a running job come
 * rectangular (rows = the fewest any selected chain has). *shape (not
 * NULL) is set whenever the server answered, so:
 *  - values NULL and capacity 0: only the size is fetched (MCMC_CLIENT_OK);
 *  - capacity (in doubles) below chains * rows * d: MCMC_CLIENT_INVALID,
 *    *shape says how much is needed (a running job's may grow still). */
MCMC_CLIENT_API mcmc_client_status mcmc_fetch_draws(mcmc_client *client, const char *id,
                                                    const mcmc_draw_query *query, double *values,
                                                    size_t capacity, mcmc_draws_shape *shape,
                                                    mcmc_error *err);

typedef struct mcmc_param_summary {
    char name[32]; /* "theta.1", ... */
    double mean, sd, q05, q50, q95, mcse_mean, ess_bulk, ess_tail, rhat;
} mcmc_param_summary;

typedef struct mcmc_chain_summary {
    uint32_t chain;
    double accept_rate;
    uint64_t draws;
} mcmc_chain_summary;

typedef struct mcmc_summary {
    char job[64];
    mcmc_job_state state;
    uint64_t draws_per_chain; /* the draws summarized, per chain */
    size_t nparams;
    mcmc_param_summary *params; /* owned */
    size_t nchains;
    mcmc_chain_summary *chains; /* owned */
} mcmc_summary;

MCMC_CLIENT_API mcmc_client_status mcmc_get_summary(mcmc_client *client, const char *id,
                                                    mcmc_summary *out, mcmc_error *err);
MCMC_CLIENT_API void mcmc_summary_free(mcmc_summary *summary);

#ifdef __cplusplus
}
#endif

#endif
