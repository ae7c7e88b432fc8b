/* client_internal.h - what the client's source files share and the
 * installed header does not show: the client handle, one HTTP exchange,
 * error filling and small JSON readers. Symbols here are hidden from the
 * shared library's ABI (-fvisibility=hidden) and carry the mcmcc_ prefix,
 * so a program linking the static library meets no common names. */
#ifndef MCMCCLIENT_INTERNAL_H
#define MCMCCLIENT_INTERNAL_H

#include <curl/curl.h>
#include <jansson.h>
#include <stdio.h>

#include "mcmcclient.h"

struct mcmc_client {
    CURL *curl;         /* reused: its connection cache keeps connections alive */
    char *base_url;     /* without a trailing slash */
    char *auth_header;  /* "Authorization: Bearer ...", or NULL */
    char *token_source; /* mcmc_client_token_source's answer, or NULL */
    char *token_note;   /* mcmc_client_token_note's answer, or NULL */
    long connect_ms, total_ms, stall_s;
};

/* A growable byte buffer, NUL-terminated whenever len > 0. */
typedef struct mcmcc_buf {
    char *data;
    size_t len, cap;
} mcmcc_buf;

int mcmcc_buf_append(mcmcc_buf *b, const void *data, size_t n);
void mcmcc_buf_free(mcmcc_buf *b);

/* Receives a success response's body a piece at a time; returns 0 to go on,
 * nonzero to stop the transfer (the caller then knows why). */
typedef int (*mcmcc_sink_fn)(void *ctx, const char *data, size_t n);

typedef struct mcmcc_request {
    const char *method;       /* "GET", "POST", "DELETE" */
    const char *path;         /* "/v1/jobs/ID?x=y", already escaped */
    const char *content_type; /* of the body; NULL without one */
    const char *body;         /* in memory ... */
    size_t body_len;
    FILE *upload; /* ... or streamed from a file of upload_len bytes */
    long long upload_len;
    const char *accept;        /* Accept header, or NULL */
    const char *last_event_id; /* Last-Event-ID header, or NULL */
    int streaming;             /* no total timeout: stall_s only */
    mcmcc_sink_fn sink;        /* NULL: the body is kept in the response */
    void *sink_ctx;
} mcmcc_request;

typedef struct mcmcc_response {
    long status;      /* 0 when nothing was read */
    mcmcc_buf body;   /* without a sink, or an error answer's body */
    int sink_stopped; /* the sink asked to stop */
} mcmcc_response;

/* Runs one exchange. MCMC_CLIENT_OK for a 2xx answer read completely;
 * MCMC_CLIENT_HTTP for an error answer (err filled from its JSON; 401,
 * 403 and 429 get their own statuses: mcmc_client_status_is_http); else
 * UNREACHABLE, PROTOCOL, NOMEM or INVALID with a message. When the sink
 * stopped the transfer, returns MCMC_CLIENT_OK with sink_stopped set.
 * Free the response with mcmcc_response_free. */
mcmc_client_status mcmcc_perform(mcmc_client *c, const mcmcc_request *rq, mcmcc_response *rs,
                                 mcmc_error *err);
void mcmcc_response_free(mcmcc_response *rs);

/* A JSON exchange: body (may be NULL) sent as application/json, the 2xx
 * answer parsed into *out (new reference; NULL for an empty 204). */
mcmc_client_status mcmcc_json_call(mcmc_client *c, const char *method, const char *path,
                                   const char *body, json_t **out, mcmc_error *err);

/* "/v1/jobs/<escaped id><suffix>" into buf; MCMC_CLIENT_INVALID when id is
 * NULL or empty or the path does not fit. */
mcmc_client_status mcmcc_job_path(mcmc_client *c, const char *id, const char *suffix, char *buf,
                                  size_t cap, mcmc_error *err);

/* Resets err (may be NULL). */
void mcmcc_error_reset(mcmc_error *err);
/* Sets err's code and message (printf-style) and returns status. */
mcmc_client_status mcmcc_fail(mcmc_error *err, mcmc_client_status status, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* Fills err from an error answer's body {"error": {...}}. */
void mcmcc_error_from_body(mcmc_error *err, long status, const char *body, size_t len);

/* JSON readers: a missing or null member reads as NaN, 0 or "". */
double mcmcc_json_number(const json_t *obj, const char *key);
uint64_t mcmcc_json_u64(const json_t *obj, const char *key);
void mcmcc_json_string(const json_t *obj, const char *key, char *buf, size_t cap);

mcmc_job_state mcmcc_job_state_parse(const char *name);
/* obj's "phase" ("warmup", "sampling", as events say it) or "warmup" (true,
 * false, as a job's chains say it); MCMC_PHASE_UNKNOWN otherwise. */
mcmc_phase mcmcc_phase_of(const json_t *obj);
/* Fills *out from a job resource; -1 when memory ran out. */
int mcmcc_job_from_json(const json_t *o, mcmc_job *out);

#endif
