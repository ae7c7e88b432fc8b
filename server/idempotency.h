/* idempotency.h - Idempotency-Key on the routes that create things (POST
 * /v1/jobs, POST /v1/datasets). A key is scoped to (user, route, key). The
 * first request with a key runs; its successful answer (status, body,
 * Location) is kept in the registry's idempotency table with the SHA-256
 * of the request (method, path, the query parameters the route reads,
 * content type, body). A retry with the same request gets that answer
 * again with `Idempotent-Replayed: true` and does nothing else; the same
 * key with another request is 422 idempotency_key_reused; a retry while
 * the first is still being answered (held: work on the thread pool) is
 * 409 idempotency_key_in_flight. Error answers are not kept, so a fixed
 * retry with the same key runs. Keys go after IDEM_TTL_MS (the sweep).
 * Loop thread only. */
#ifndef MCMCD_IDEMPOTENCY_H
#define MCMCD_IDEMPOTENCY_H

#include <jansson.h>
#include <stdint.h>

#include "api_util.h"
#include "registry.h"
#include "sha256.h"

#define IDEM_KEY_MAX 128                 /* printable ASCII characters */
#define IDEM_TTL_MS (24LL * 3600 * 1000) /* how long a key is kept */
#define IDEM_HEADER "Idempotency-Key"
#define IDEM_REPLAYED_HEADER "Idempotent-Replayed"

/* One request's key, from idempotency_begin to its answer. */
typedef struct idem_ticket {
    int64_t user;
    char route[32];             /* "POST /v1/jobs" */
    char key[IDEM_KEY_MAX + 1]; /* "": the request has no key */
    char hash[SHA256_HEX_LEN + 1];
    sha256_ctx partial; /* the request but its body, until the body is in */
    int held;           /* in the loop's in-flight set */
} idem_ticket;

/* How the handler answers: at once, or later from the loop (the key is
 * then held in flight until idempotency_respond or idempotency_release). */
typedef enum idem_mode { IDEM_NOW, IDEM_HOLD } idem_mode;

/* Reads the request's Idempotency-Key into t. Returns 0 when the handler
 * goes on (t->key is "" without a key), or -1 after answering: 400 for a
 * malformed key, the kept answer for a retry, 422, 409, or 500 when the
 * registry fails. query: the NULL-terminated names of the query parameters
 * the route reads (NULL: none); they are part of the request. */
int idempotency_begin(api_call *c, const char *const *query, idem_mode mode, idem_ticket *t);

/* idempotency_begin in three steps, for a body too large to hash on the
 * loop: idempotency_read (loop: the key, and the request but its body;
 * same returns), idempotency_hash_body (any thread; nothing without a
 * key), idempotency_check (loop: what idempotency_begin does then, same
 * returns). A retry that arrives meanwhile runs its own steps; the one
 * that checks second gets the kept answer or 409. */
int idempotency_read(api_call *c, const char *const *query, idem_ticket *t);
void idempotency_hash_body(idem_ticket *t, const char *body, size_t len);
int idempotency_check(api_call *c, idem_mode mode, idem_ticket *t);

/* Answers req with status, Location (NULL: none) and body (stolen). A 2xx
 * answer to a request with a key is kept first, for its retries. Releases
 * a held key. */
void idempotency_respond(app *a, idem_ticket *t, http_request *req, unsigned status,
                         const char *location, json_t *body);

/* Drops a held key without keeping an answer (the request failed). */
void idempotency_release(app *a, idem_ticket *t);

/* Deletes the keys made before now_ms - IDEM_TTL_MS; returns how many, or
 * a negative registry status. */
int idempotency_sweep(registry *reg, int64_t now_ms);

#endif
