/* idempotency.c - Idempotency-Key (idempotency.h): the kept answers in the
 * registry's idempotency table, and the keys in flight, a short list on
 * the loop (app->idem_flights) of requests answered from the thread pool.
 * Statements are prepared per call: at most a few per request. */
#include "idempotency.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "app.h"
#include "clock.h"
#include "registry_internal.h"

/* A key being answered: retries get 409 until it is kept or dropped. */
struct idem_flight {
    int64_t user;
    char route[32];
    char key[IDEM_KEY_MAX + 1];
    struct idem_flight *next;
};

/* A kept answer. */
typedef struct idem_row {
    char hash[SHA256_HEX_LEN + 1];
    unsigned status;
    char *location, *response;
    int64_t created_ms;
} idem_row;

/* --- the request --------------------------------------------------------- */

static int key_is_valid(const char *key) {
    size_t n = strlen(key);
    if (n < 1 || n > IDEM_KEY_MAX) return 0;
    for (size_t i = 0; i < n; i++)
        if (key[i] < 0x20 || key[i] > 0x7e) return 0;
    return 1;
}

/* Each part ends with a NUL, so no two requests hash the same parts. */
static void hash_part(sha256_ctx *h, const char *s) {
    sha256_update(h, s, strlen(s) + 1);
}

/* Everything but the body, into t->partial. */
static void request_hash_head(http_request *req, const char *const *query, idem_ticket *t) {
    sha256_ctx *h = &t->partial;
    sha256_init(h);
    hash_part(h, http_request_method(req));
    hash_part(h, http_request_path(req));
    for (size_t i = 0; query && query[i]; i++) {
        const char *v = http_request_query(req, query[i]);
        hash_part(h, query[i]);
        hash_part(h, v ? "=" : "");
        hash_part(h, v ? v : "");
    }
    hash_part(h, http_request_content_type(req));
}

void idempotency_hash_body(idem_ticket *t, const char *body, size_t len) {
    if (!t->key[0]) return;
    sha256_update(&t->partial, body, len);
    uint8_t digest[SHA256_DIGEST_LEN];
    sha256_final(&t->partial, digest);
    sha256_hex(digest, SHA256_DIGEST_LEN, t->hash);
}

/* --- keys in flight ------------------------------------------------------ */

static int flight_is(const struct idem_flight *f, const idem_ticket *t) {
    return f->user == t->user && !strcmp(f->route, t->route) && !strcmp(f->key, t->key);
}

static int flight_find(const app *a, const idem_ticket *t) {
    for (const struct idem_flight *f = a->idem_flights; f; f = f->next)
        if (flight_is(f, t)) return 1;
    return 0;
}

static int flight_add(app *a, idem_ticket *t) {
    struct idem_flight *f = calloc(1, sizeof *f);
    if (!f) return -1;
    f->user = t->user;
    snprintf(f->route, sizeof f->route, "%s", t->route);
    snprintf(f->key, sizeof f->key, "%s", t->key);
    f->next = a->idem_flights;
    a->idem_flights = f;
    t->held = 1;
    return 0;
}

void idempotency_release(app *a, idem_ticket *t) {
    if (!t->held) return;
    for (struct idem_flight **p = &a->idem_flights; *p; p = &(*p)->next)
        if (flight_is(*p, t)) {
            struct idem_flight *f = *p;
            *p = f->next;
            free(f);
            break;
        }
    t->held = 0;
}

/* --- the table ----------------------------------------------------------- */

static char *column_dup(sqlite3_stmt *st, int col) {
    const char *s = (const char *)sqlite3_column_text(st, col);
    return s ? strdup(s) : NULL;
}

/* REGISTRY_OK with the kept answer, REGISTRY_NOT_FOUND, or an error. */
static int row_get(registry *reg, const idem_ticket *t, idem_row *row) {
    sqlite3_stmt *st;
    memset(row, 0, sizeof *row);
    int taken =
        registry_take(reg,
                      "SELECT body_hash, status, location, response, created FROM idempotency"
                      " WHERE user_id = ?1 AND route = ?2 AND key = ?3",
                      &st);
    if (taken != REGISTRY_OK) return taken;
    sqlite3_bind_int64(st, 1, t->user);
    sqlite3_bind_text(st, 2, t->route, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 3, t->key, -1, SQLITE_STATIC);
    int rc = sqlite3_step(st), status = REGISTRY_NOT_FOUND;
    if (rc == SQLITE_ROW) {
        const char *hash = (const char *)sqlite3_column_text(st, 0);
        snprintf(row->hash, sizeof row->hash, "%s", hash ? hash : "");
        row->status = (unsigned)sqlite3_column_int(st, 1);
        row->location = column_dup(st, 2);
        row->response = column_dup(st, 3);
        row->created_ms = sqlite3_column_int64(st, 4);
        status = row->response ? REGISTRY_OK : REGISTRY_ENOMEM;
    } else if (rc != SQLITE_DONE) {
        status = registry_sqlite_failed(reg);
    }
    registry_give_back(reg, st);
    return status;
}

static void row_clear(idem_row *row) {
    free(row->location);
    free(row->response);
}

static int row_put(registry *reg, const idem_ticket *t, unsigned status, const char *location,
                   const char *response, int64_t now_ms) {
    sqlite3_stmt *st;
    int taken =
        registry_take(reg,
                      "INSERT OR REPLACE INTO idempotency (user_id, route, key, body_hash,"
                      " status, location, response, created) VALUES (?1, ?2, ?3, ?4, ?5, ?6,"
                      " ?7, ?8)",
                      &st);
    if (taken != REGISTRY_OK) return taken;
    sqlite3_bind_int64(st, 1, t->user);
    sqlite3_bind_text(st, 2, t->route, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 3, t->key, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 4, t->hash, -1, SQLITE_STATIC);
    sqlite3_bind_int(st, 5, (int)status);
    if (location)
        sqlite3_bind_text(st, 6, location, -1, SQLITE_STATIC);
    else
        sqlite3_bind_null(st, 6);
    sqlite3_bind_text(st, 7, response, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 8, now_ms);
    int rc = sqlite3_step(st) == SQLITE_DONE ? REGISTRY_OK : registry_sqlite_failed(reg);
    registry_give_back(reg, st);
    return rc;
}

/* Deletes the rows made before cutoff_ms (of one key when t is set). */
static int rows_delete_before(registry *reg, const idem_ticket *t, int64_t cutoff_ms) {
    sqlite3_stmt *st;
    int taken = registry_take(reg,
                              t ? "DELETE FROM idempotency WHERE created < ?1 AND user_id = ?2"
                                  " AND route = ?3 AND key = ?4"
                                : "DELETE FROM idempotency WHERE created < ?1",
                              &st);
    if (taken != REGISTRY_OK) return taken;
    sqlite3_bind_int64(st, 1, cutoff_ms);
    if (t) {
        sqlite3_bind_int64(st, 2, t->user);
        sqlite3_bind_text(st, 3, t->route, -1, SQLITE_STATIC);
        sqlite3_bind_text(st, 4, t->key, -1, SQLITE_STATIC);
    }
    int rc = sqlite3_step(st) == SQLITE_DONE ? sqlite3_changes(registry_sqlite(reg))
                                             : registry_sqlite_failed(reg);
    registry_give_back(reg, st);
    return rc;
}

int idempotency_sweep(registry *reg, int64_t now_ms) {
    return rows_delete_before(reg, NULL, now_ms - IDEM_TTL_MS);
}

/* --- answering ----------------------------------------------------------- */

static void replay(http_request *req, const idem_row *row) {
    if (row->location) http_request_add_header(req, "Location", row->location);
    http_request_add_header(req, IDEM_REPLAYED_HEADER, "true");
    http_respond(req, row->status, "application/json", row->response, strlen(row->response));
}

static void respond_bad_key(http_request *req) {
    json_t *d = json_pack("[{s:s, s:s}]", "path", IDEM_HEADER, "message",
                          "must be 1 to 128 printable ASCII characters");
    http_respond_error(req, 400, "invalid_header",
                       "the Idempotency-Key header must be 1 to 128 printable ASCII characters", d);
}

/* What a key already known says: -1 after answering, 0 to go on. */
static int answer_known(api_call *c, idem_ticket *t) {
    http_request *req = c->req;
    if (flight_find(c->app, t)) {
        http_respond_error(req, 409, "idempotency_key_in_flight",
                           "a request with this Idempotency-Key is still being answered", NULL);
        return -1;
    }
    registry *reg = c->app->reg;
    idem_row row;
    int rc = row_get(reg, t, &row);
    if (rc == REGISTRY_OK && row.created_ms < app_now_ms() - IDEM_TTL_MS) {
        rc = rows_delete_before(reg, t, app_now_ms() - IDEM_TTL_MS); /* expired: a new key */
        rc = rc < 0 ? rc : REGISTRY_NOT_FOUND;
    }
    if (rc == REGISTRY_OK && strcmp(row.hash, t->hash) != 0)
        http_respond_error(req, 422, "idempotency_key_reused",
                           "this Idempotency-Key came with a different request", NULL);
    else if (rc == REGISTRY_OK)
        replay(req, &row);
    else if (rc != REGISTRY_NOT_FOUND)
        http_respond_error(req, 500, "internal", registry_last_error(reg), NULL);
    row_clear(&row);
    return rc == REGISTRY_NOT_FOUND ? 0 : -1;
}

int idempotency_read(api_call *c, const char *const *query, idem_ticket *t) {
    memset(t, 0, sizeof *t);
    const char *key = http_request_header(c->req, IDEM_HEADER);
    if (!key) return 0;
    if (!key_is_valid(key)) {
        respond_bad_key(c->req);
        return -1;
    }
    t->user = c->who->user_id;
    snprintf(t->route, sizeof t->route, "%s %s", http_request_method(c->req), c->route);
    snprintf(t->key, sizeof t->key, "%s", key);
    request_hash_head(c->req, query, t);
    return 0;
}

int idempotency_begin(api_call *c, const char *const *query, idem_mode mode, idem_ticket *t) {
    if (idempotency_read(c, query, t) != 0) return -1;
    size_t len;
    const char *body = http_request_body(c->req, &len);
    idempotency_hash_body(t, body, len);
    return idempotency_check(c, mode, t);
}

int idempotency_check(api_call *c, idem_mode mode, idem_ticket *t) {
    if (!t->key[0]) return 0;
    if (answer_known(c, t) != 0) return -1;
    if (mode == IDEM_HOLD && flight_add(c->app, t) != 0) {
        http_respond_error(c->req, 500, "internal", "out of memory", NULL);
        return -1;
    }
    return 0;
}

/* The body as http_respond_json sends it: compact, one line. */
static char *dump_line(json_t *body) {
    char *text = body ? json_dumps(body, JSON_COMPACT) : NULL;
    size_t n = text ? strlen(text) : 0;
    char *line = text ? realloc(text, n + 2) : NULL;
    if (!line) {
        free(text);
        return NULL;
    }
    line[n] = '\n';
    line[n + 1] = 0;
    return line;
}

void idempotency_respond(app *a, idem_ticket *t, http_request *req, unsigned status,
                         const char *location, json_t *body) {
    idempotency_release(a, t);
    if (location) http_request_add_header(req, "Location", location);
    char *text = t->key[0] && status / 100 == 2 ? dump_line(body) : NULL;
    if (!text) {
        http_respond_json(req, status, body);
        return;
    }
    json_decref(body);
    /* not kept (a registry error): the retry runs again, as without a key */
    row_put(a->reg, t, status, location, text, app_now_ms());
    http_respond(req, status, "application/json", text, strlen(text));
    free(text);
}
