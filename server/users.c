/* users.c - users and API tokens in the registry's database (users.h).
 * Statements come from the registry's cache (registry_take): verifying a
 * token runs on every request, and the tokens verified lately are kept
 * (token_cache) while no process changes users or tokens: every write
 * here adds one to registry_auth_changes once it is committed, so no
 * write here may run inside a transaction of the caller's. */
#include "users.h"

#include <ctype.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

#include "registry_internal.h"
#include "sha256.h"

#define TOKEN_PREFIX "mcmcd_"
#define TOKEN_SECRET_LEN 64              /* hex: 256 bits */
#define LAST_USED_EVERY_MS (3600 * 1000) /* last_used is written at most hourly */

/* --- statements ------------------------------------------------------------ */

static int prepare(registry *reg, const char *sql, sqlite3_stmt **st) {
    return registry_take(reg, sql, st);
}

/* Steps a write and gives it back; rows changed in *changed when not NULL. */
static int step_write(registry *reg, sqlite3_stmt *st, int *changed) {
    int rc = sqlite3_step(st);
    int status = rc == SQLITE_DONE ? REGISTRY_OK
                 : (rc & 0xff) == SQLITE_CONSTRAINT
                     ? registry_fail(reg, REGISTRY_EXISTS, "already exists")
                     : registry_sqlite_failed(reg);
    if (changed) *changed = sqlite3_changes(registry_sqlite(reg));
    registry_give_back(reg, st);
    return status;
}

/* step_write for a change to a user or a token: committed (autocommit),
 * it drops every process's kept tokens (registry_auth_changed). */
static int finish_write(registry *reg, sqlite3_stmt *st, int *changed) {
    int status = step_write(reg, st, changed);
    if (status == REGISTRY_OK) registry_auth_changed(reg);
    return status;
}

static void copy_text(char *dst, size_t cap, sqlite3_stmt *st, int col) {
    const char *t = (const char *)sqlite3_column_text(st, col);
    snprintf(dst, cap, "%s", t ? t : "");
}

/* --- users ------------------------------------------------------------------ */

int user_name_is_valid(const char *name) {
    size_t n = name ? strlen(name) : 0;
    if (n == 0 || n > USER_NAME_MAX || !isalnum((unsigned char)name[0])) return 0;
    return strspn(name, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789._-") == n;
}

void user_effective_limits(const user_record *u, const user_limits *defaults, user_limits *out) {
    for (int i = 0; i < LIMIT_COUNT; i++)
        out->v[i] = u && (u->limit_set >> i & 1u) ? u->limit[i] : defaults->v[i];
}

static void limits_from_json(user_record *u, const char *text) {
    json_t *o = json_loads(text ? text : "{}", 0, NULL);
    const char *key;
    json_t *v;
    json_object_foreach(o, key, v) {
        limit_id id = limit_by_name(key);
        if (id == LIMIT_COUNT || !json_is_integer(v) || json_integer_value(v) < 0) continue;
        u->limit[id] = (uint64_t)json_integer_value(v);
        u->limit_set |= 1u << id;
    }
    json_decref(o);
}

#define USER_COLUMNS "id, name, admin, created, limits"

static void user_from_row(sqlite3_stmt *st, user_record *u) {
    memset(u, 0, sizeof *u);
    u->id = sqlite3_column_int64(st, 0);
    copy_text(u->name, sizeof u->name, st, 1);
    u->admin = sqlite3_column_int(st, 2);
    u->created_ms = sqlite3_column_int64(st, 3);
    limits_from_json(u, (const char *)sqlite3_column_text(st, 4));
}

/* One user row from a bound query. */
static int read_user(registry *reg, sqlite3_stmt *st, user_record *out, const char *what) {
    int rc = sqlite3_step(st), status = REGISTRY_OK;
    if (rc == SQLITE_ROW)
        user_from_row(st, out);
    else if (rc == SQLITE_DONE)
        status = registry_fail(reg, REGISTRY_NOT_FOUND, what);
    else
        status = registry_sqlite_failed(reg);
    registry_give_back(reg, st);
    return status;
}

int users_add(registry *reg, const char *name, int admin, int64_t now_ms, int64_t *id) {
    if (!user_name_is_valid(name))
        return registry_fail(reg, REGISTRY_EINVAL,
                             "a user name is 1-64 letters, digits, '.', '_' or '-', starting "
                             "with a letter or digit");
    sqlite3_stmt *st;
    int status = prepare(reg, "INSERT INTO users (name, admin, created) VALUES (?1, ?2, ?3)", &st);
    if (status) return status;
    sqlite3_bind_text(st, 1, name, -1, SQLITE_TRANSIENT);
    sqlite3_bind_int(st, 2, admin ? 1 : 0);
    sqlite3_bind_int64(st, 3, now_ms);
    status = finish_write(reg, st, NULL);
    if (status == REGISTRY_EXISTS) return registry_fail(reg, status, "that user exists");
    if (status == REGISTRY_OK && id) *id = sqlite3_last_insert_rowid(registry_sqlite(reg));
    return status;
}

int users_get(registry *reg, const char *name, user_record *out) {
    sqlite3_stmt *st;
    int status = prepare(reg, "SELECT " USER_COLUMNS " FROM users WHERE name = ?1", &st);
    if (status) return status;
    sqlite3_bind_text(st, 1, name ? name : "", -1, SQLITE_TRANSIENT);
    return read_user(reg, st, out, "no such user");
}

int users_get_by_id(registry *reg, int64_t id, user_record *out) {
    sqlite3_stmt *st;
    int status = prepare(reg, "SELECT " USER_COLUMNS " FROM users WHERE id = ?1", &st);
    if (status) return status;
    sqlite3_bind_int64(st, 1, id);
    return read_user(reg, st, out, "no such user");
}

/* Runs a one-parameter-name write; NOT_FOUND when it changed nothing. */
static int write_by_name(registry *reg, const char *sql, const char *name, int ival,
                         const char *text) {
    sqlite3_stmt *st;
    int changed = 0, status = prepare(reg, sql, &st);
    if (status) return status;
    sqlite3_bind_text(st, 1, name ? name : "", -1, SQLITE_TRANSIENT);
    sqlite3_bind_int(st, 2, ival);
    if (text) sqlite3_bind_text(st, 3, text, -1, SQLITE_TRANSIENT);
    status = finish_write(reg, st, &changed);
    if (status == REGISTRY_OK && !changed)
        status = registry_fail(reg, REGISTRY_NOT_FOUND, "no such user");
    return status;
}

int users_remove(registry *reg, const char *name) {
    return write_by_name(reg, "DELETE FROM users WHERE name = ?1 AND ?2 = ?2", name, 0, NULL);
}

int users_set_admin(registry *reg, const char *name, int admin) {
    return write_by_name(reg, "UPDATE users SET admin = ?2 WHERE name = ?1", name, admin ? 1 : 0,
                         NULL);
}

int users_set_limit(registry *reg, const char *name, limit_id id, int clear, uint64_t value) {
    user_record u;
    int status = users_get(reg, name, &u);
    if (status) return status;
    json_t *o = json_object();
    for (int i = 0; i < LIMIT_COUNT; i++)
        if ((u.limit_set >> i & 1u) && i != (int)id)
            json_object_set_new(o, limit_get((limit_id)i)->name,
                                json_integer((json_int_t)u.limit[i]));
    if (!clear) json_object_set_new(o, limit_get(id)->name, json_integer((json_int_t)value));
    char *text = json_dumps(o, JSON_COMPACT | JSON_SORT_KEYS);
    json_decref(o);
    if (!text) return registry_fail(reg, REGISTRY_ENOMEM, "out of memory");
    status = write_by_name(reg, "UPDATE users SET limits = ?3 WHERE name = ?1 AND ?2 = ?2", name, 0,
                           text);
    free(text);
    return status;
}

/* Copies every row of st (bound) out with read_row into a new array of
 * size-byte rows, then finalizes st: callbacks may then use the registry. */
static int collect_rows(registry *reg, sqlite3_stmt *st, size_t size,
                        void (*read_row)(sqlite3_stmt *, void *), char **out, size_t *n) {
    size_t cap = 0;
    char *rows = NULL;
    int rc;
    *n = 0;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        if (*n == cap) {
            char *r = realloc(rows, (cap = cap ? 2 * cap : 16) * size);
            if (!r) break;
            rows = r;
        }
        read_row(st, rows + (*n)++ * size);
    }
    int status = rc == SQLITE_DONE  ? REGISTRY_OK
                 : rc == SQLITE_ROW ? registry_fail(reg, REGISTRY_ENOMEM, "out of memory")
                                    : registry_sqlite_failed(reg);
    registry_give_back(reg, st);
    *out = rows;
    return status;
}

static void read_user_row(sqlite3_stmt *st, void *row) {
    user_from_row(st, row);
}

int users_list(registry *reg, user_fn fn, void *ctx) {
    sqlite3_stmt *st;
    char *rows = NULL;
    size_t n = 0;
    int status = prepare(reg, "SELECT " USER_COLUMNS " FROM users ORDER BY id", &st);
    if (status == REGISTRY_OK)
        status = collect_rows(reg, st, sizeof(user_record), read_user_row, &rows, &n);
    for (size_t i = 0; status == REGISTRY_OK && i < n; i++)
        status = fn(ctx, (user_record *)rows + i);
    free(rows);
    return status;
}

/* --- tokens ------------------------------------------------------------------ */

static const char *const scope_names[] = {"all", "metrics"};

const char *token_scope_name(token_scope s) {
    return (unsigned)s < 2 ? scope_names[s] : "unknown";
}

int token_scope_parse(const char *name, token_scope *out) {
    for (int i = 0; i < 2; i++)
        if (name && !strcmp(name, scope_names[i])) {
            *out = (token_scope)i;
            return 0;
        }
    return REGISTRY_EINVAL;
}

static int random_hex(char *hex, size_t nbytes) {
    uint8_t raw[32];
    if (nbytes > sizeof raw || getrandom(raw, nbytes, 0) != (ssize_t)nbytes) return -1;
    sha256_hex(raw, nbytes, hex); /* formats any bytes as hex */
    return 0;
}

int tokens_new(registry *reg, const char *user, token_scope scope, const char *label,
               int64_t now_ms, char text[TOKEN_TEXT_LEN + 1], char id[TOKEN_ID_LEN + 1]) {
    user_record u;
    int status = users_get(reg, user, &u);
    if (status) return status;
    char secret[TOKEN_SECRET_LEN + 1];
    if (random_hex(id, TOKEN_ID_LEN / 2) || random_hex(secret, TOKEN_SECRET_LEN / 2))
        return registry_fail(reg, REGISTRY_EIO, "no random bytes from the kernel");
    uint8_t hash[SHA256_DIGEST_LEN];
    sha256(secret, TOKEN_SECRET_LEN, hash);
    sqlite3_stmt *st;
    status = prepare(reg,
                     "INSERT INTO tokens (id, user_id, hash, scope, label, created)"
                     " VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
                     &st);
    if (status) return status;
    sqlite3_bind_text(st, 1, id, -1, SQLITE_TRANSIENT);
    sqlite3_bind_int64(st, 2, u.id);
    sqlite3_bind_blob(st, 3, hash, sizeof hash, SQLITE_TRANSIENT);
    sqlite3_bind_text(st, 4, token_scope_name(scope), -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 5, label ? label : "", -1, SQLITE_TRANSIENT);
    sqlite3_bind_int64(st, 6, now_ms);
    status = finish_write(reg, st, NULL);
    if (status == REGISTRY_OK) snprintf(text, TOKEN_TEXT_LEN + 1, TOKEN_PREFIX "%s_%s", id, secret);
    memset(secret, 0, sizeof secret);
    return status;
}

/* Splits "mcmcd_<id>_<secret>" (or a bare id when allow_id); 0 or -1. */
static int token_split(const char *text, char id[TOKEN_ID_LEN + 1], const char **secret) {
    static const char hex[] = "0123456789abcdef";
    size_t n = text ? strlen(text) : 0, p = sizeof TOKEN_PREFIX - 1;
    *secret = NULL;
    if (n == TOKEN_ID_LEN && strspn(text, hex) == n) {
        memcpy(id, text, n + 1);
        return 0;
    }
    if (n != TOKEN_TEXT_LEN || strncmp(text, TOKEN_PREFIX, p) || text[p + TOKEN_ID_LEN] != '_')
        return -1;
    memcpy(id, text + p, TOKEN_ID_LEN);
    id[TOKEN_ID_LEN] = 0;
    *secret = text + p + TOKEN_ID_LEN + 1;
    return strspn(id, hex) == TOKEN_ID_LEN && strspn(*secret, hex) == TOKEN_SECRET_LEN ? 0 : -1;
}

int tokens_revoke(registry *reg, const char *id_or_text) {
    char id[TOKEN_ID_LEN + 1];
    const char *secret;
    if (token_split(id_or_text, id, &secret) != 0)
        return registry_fail(reg, REGISTRY_NOT_FOUND, "not a token id or token");
    sqlite3_stmt *st;
    int changed = 0, status = prepare(reg, "DELETE FROM tokens WHERE id = ?1", &st);
    if (status) return status;
    sqlite3_bind_text(st, 1, id, -1, SQLITE_TRANSIENT);
    status = finish_write(reg, st, &changed);
    if (status == REGISTRY_OK && !changed)
        status = registry_fail(reg, REGISTRY_NOT_FOUND, "no such token");
    return status;
}

#define TOKEN_COLUMNS "t.id, t.user_id, u.name, t.scope, t.label, t.created, t.last_used"

static void token_from_row(sqlite3_stmt *st, token_record *t) {
    memset(t, 0, sizeof *t);
    copy_text(t->id, sizeof t->id, st, 0);
    t->user_id = sqlite3_column_int64(st, 1);
    copy_text(t->user, sizeof t->user, st, 2);
    token_scope_parse((const char *)sqlite3_column_text(st, 3), &t->scope);
    copy_text(t->label, sizeof t->label, st, 4);
    t->created_ms = sqlite3_column_int64(st, 5);
    t->last_used_ms = sqlite3_column_int64(st, 6);
}

static void read_token_row(sqlite3_stmt *st, void *row) {
    token_from_row(st, row);
}

int tokens_list(registry *reg, const char *user, token_fn fn, void *ctx) {
    sqlite3_stmt *st;
    char *rows = NULL;
    size_t n = 0;
    int status = prepare(reg,
                         "SELECT " TOKEN_COLUMNS " FROM tokens t JOIN users u ON u.id = t.user_id"
                         " WHERE ?1 IS NULL OR u.name = ?1 ORDER BY u.id, t.created, t.id",
                         &st);
    if (status) return status;
    if (user) sqlite3_bind_text(st, 1, user, -1, SQLITE_TRANSIENT);
    status = collect_rows(reg, st, sizeof(token_record), read_token_row, &rows, &n);
    for (size_t i = 0; status == REGISTRY_OK && i < n; i++)
        status = fn(ctx, (token_record *)rows + i);
    free(rows);
    return status;
}

int tokens_count(registry *reg, int64_t *count) {
    sqlite3_stmt *st;
    int status = prepare(reg, "SELECT count(*) FROM tokens", &st);
    if (status) return status;
    int rc = sqlite3_step(st);
    *count = rc == SQLITE_ROW ? sqlite3_column_int64(st, 0) : 0;
    status = rc == SQLITE_ROW ? REGISTRY_OK : registry_sqlite_failed(reg);
    registry_give_back(reg, st);
    return status;
}

/* Equal in time that does not depend on where they differ. */
static int equal_constant_time(const uint8_t *a, const uint8_t *b, size_t n) {
    volatile uint8_t diff = 0;
    for (size_t i = 0; i < n; i++)
        diff |= a[i] ^ b[i];
    return diff == 0;
}

/* Best effort and never waiting (0, or -1 when skipped): last_used is
 * advisory, and this write runs on the loop in front of the request's own
 * work. While another process holds the registry's write lock it is
 * skipped at once (busy timeout 0 for this one statement, not the
 * registry's 5 s) and tried again by the token's next request. */
static int touch_token(registry *reg, const char *id, int64_t now_ms) {
    sqlite3_stmt *st;
    if (prepare(reg, "UPDATE tokens SET last_used = ?2 WHERE id = ?1", &st)) return -1;
    sqlite3_bind_text(st, 1, id, -1, SQLITE_TRANSIENT);
    sqlite3_bind_int64(st, 2, now_ms);
    sqlite3_busy_timeout(registry_sqlite(reg), 0);
    int status = step_write(reg, st, NULL); /* not a change a kept token depends on */
    sqlite3_busy_timeout(registry_sqlite(reg), REGISTRY_BUSY_TIMEOUT_MS);
    return status == REGISTRY_OK ? 0 : -1;
}

/* --- the tokens verified lately ------------------------------------------ */

#define TOKEN_CACHE_SLOTS 256 /* direct-mapped by id: a lab has tens of tokens */

typedef struct kept_token {
    char id[TOKEN_ID_LEN + 1]; /* "": an empty slot */
    uint8_t hash[SHA256_DIGEST_LEN];
    uint64_t changes; /* registry_auth_changes when it was read */
    user_record user;
    token_scope scope;
    int64_t last_used_ms;
} kept_token;

struct token_cache {
    kept_token slot[TOKEN_CACHE_SLOTS];
};

token_cache *token_cache_new(void) {
    return calloc(1, sizeof(token_cache));
}

void token_cache_free(token_cache *c) {
    free(c);
}

static kept_token *token_slot(token_cache *c, const char *id) {
    uint32_t h = 2166136261u; /* FNV-1a */
    for (const char *p = id; *p; p++)
        h = (h ^ (uint8_t)*p) * 16777619u;
    return &c->slot[h % TOKEN_CACHE_SLOTS];
}

/* 1 with the kept token's user, scope and last use when id is kept with
 * this hash and nothing changed since (changes), else 0. */
static int token_cache_find(token_cache *c, const char *id, const uint8_t *hash, uint64_t changes,
                            user_record *user, token_scope *scope, int64_t *last_used) {
    const kept_token *k = token_slot(c, id);
    if (changes == REGISTRY_AUTH_UNKNOWN || k->changes != changes || strcmp(k->id, id) ||
        !equal_constant_time(k->hash, hash, SHA256_DIGEST_LEN))
        return 0;
    *user = k->user;
    *scope = k->scope;
    *last_used = k->last_used_ms;
    return 1;
}

static void token_cache_put(token_cache *c, const char *id, const uint8_t *hash, uint64_t changes,
                            const user_record *user, token_scope scope, int64_t last_used) {
    if (changes == REGISTRY_AUTH_UNKNOWN) return;
    kept_token *k = token_slot(c, id);
    snprintf(k->id, sizeof k->id, "%s", id);
    memcpy(k->hash, hash, SHA256_DIGEST_LEN);
    k->changes = changes;
    k->user = *user;
    k->scope = scope;
    k->last_used_ms = last_used;
}

/* A token id's row, if its hash is hash: 1 with user, scope and last_used,
 * 0 when not, -1 (a status in *status) when the registry failed. */
static int verify_in_registry(registry *reg, const char *id, const uint8_t *hash, user_record *user,
                              token_scope *scope, int64_t *last_used, int *status) {
    sqlite3_stmt *st;
    *status = prepare(reg,
                      "SELECT t.hash, t.scope, t.last_used, u.id, u.name, u.admin, u.created,"
                      " u.limits FROM tokens t JOIN users u ON u.id = t.user_id WHERE t.id = ?1",
                      &st);
    if (*status) return -1;
    sqlite3_bind_text(st, 1, id, -1, SQLITE_TRANSIENT);
    int rc = sqlite3_step(st), found = 0;
    if (rc == SQLITE_ROW && sqlite3_column_bytes(st, 0) == SHA256_DIGEST_LEN &&
        equal_constant_time(sqlite3_column_blob(st, 0), hash, SHA256_DIGEST_LEN)) {
        found = 1;
        token_scope_parse((const char *)sqlite3_column_text(st, 1), scope);
        *last_used = sqlite3_column_int64(st, 2);
        memset(user, 0, sizeof *user);
        user->id = sqlite3_column_int64(st, 3);
        copy_text(user->name, sizeof user->name, st, 4);
        user->admin = sqlite3_column_int(st, 5);
        user->created_ms = sqlite3_column_int64(st, 6);
        limits_from_json(user, (const char *)sqlite3_column_text(st, 7));
    }
    *status = rc == SQLITE_ROW || rc == SQLITE_DONE ? REGISTRY_OK : registry_sqlite_failed(reg);
    registry_give_back(reg, st);
    return *status ? -1 : found;
}

int tokens_verify_kept(registry *reg, token_cache *kept, const char *text, int64_t now_ms,
                       user_record *user, token_scope *scope) {
    char id[TOKEN_ID_LEN + 1];
    const char *secret;
    if (token_split(text, id, &secret) != 0 || !secret)
        return registry_fail(reg, REGISTRY_NOT_FOUND, "malformed token");
    uint8_t hash[SHA256_DIGEST_LEN];
    sha256(secret, TOKEN_SECRET_LEN, hash);
    /* read before the registry: a change after it makes the entry stale */
    uint64_t changes = registry_auth_changes(reg);
    int64_t last_used = 0;
    if (kept && token_cache_find(kept, id, hash, changes, user, scope, &last_used) &&
        now_ms - last_used < LAST_USED_EVERY_MS)
        return REGISTRY_OK;
    int status, found = verify_in_registry(reg, id, hash, user, scope, &last_used, &status);
    if (found < 0) return status;
    if (!found) return registry_fail(reg, REGISTRY_NOT_FOUND, "unknown or revoked token");
    /* skipped (the lock was held): the kept entry keeps the old time, so
     * the token's next request comes back here and tries again */
    if (now_ms - last_used >= LAST_USED_EVERY_MS && touch_token(reg, id, now_ms) == 0)
        last_used = now_ms;
    if (kept) token_cache_put(kept, id, hash, changes, user, *scope, last_used);
    return REGISTRY_OK;
}

int tokens_verify(registry *reg, const char *text, int64_t now_ms, user_record *user,
                  token_scope *scope) {
    return tokens_verify_kept(reg, NULL, text, now_ms, user, scope);
}
