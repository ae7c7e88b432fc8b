/* registry.c - the daemon's durable registry of datasets and jobs: the
 * SQLite schema and its migrations, the prepared statements, the job state
 * machine and opaque keyset page tokens. One connection, one owner thread.
 *
 * Every call is one autocommit statement (or a read followed by a guarded
 * write), so it is durable when it returns. Lists copy their rows out and
 * reset the query before any callback runs. */
#include "registry.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <time.h>
#include <unistd.h>

#include <sqlite3.h>

#include "clock.h"
#include "errors.h"
#include "registry_internal.h"
#include "shared_counter.h"
#include "stmt_cache.h"

_Static_assert((int)REGISTRY_ENOMEM == (int)MCMC_ENOMEM && (int)REGISTRY_EIO == (int)MCMC_EIO &&
                   (int)REGISTRY_EINVAL == (int)MCMC_EINVAL,
               "registry codes share the values of mcmc_status");

#define SCHEMA_VERSION 3
#define TOKEN_VERSION 1

/* --- schema ----------------------------------------------------------- */

/* migrations[v] takes the schema from version v to v + 1. Times are unix
 * milliseconds. A job's dataset_id is cleared when its dataset goes; the
 * code refuses that while the job is queued or running. */
static const char *const migrations[SCHEMA_VERSION] = {
    "CREATE TABLE datasets ("
    "  id      TEXT PRIMARY KEY NOT NULL,"
    "  name    TEXT NOT NULL DEFAULT '',"
    "  n       INTEGER NOT NULL CHECK (n >= 0),"
    "  d       INTEGER NOT NULL CHECK (d >= 0),"
    "  bytes   INTEGER NOT NULL CHECK (bytes >= 0),"
    "  created INTEGER NOT NULL);"
    "CREATE INDEX datasets_by_created ON datasets (created, id);"
    "CREATE TABLE jobs ("
    "  id          TEXT PRIMARY KEY NOT NULL,"
    "  spec        TEXT NOT NULL,"
    "  dataset_id  TEXT REFERENCES datasets (id) ON DELETE SET NULL,"
    "  state       TEXT NOT NULL CHECK (state IN"
    "                ('queued', 'running', 'succeeded', 'failed', 'cancelled')),"
    "  created     INTEGER NOT NULL,"
    "  started     INTEGER,"
    "  finished    INTEGER,"
    "  error       TEXT,"
    "  chains      INTEGER NOT NULL CHECK (chains >= 0),"
    "  num_samples INTEGER NOT NULL CHECK (num_samples >= 0),"
    "  d           INTEGER NOT NULL CHECK (d >= 0),"
    "  progress    TEXT,"
    "  seq         INTEGER NOT NULL DEFAULT 0);"
    "CREATE INDEX jobs_by_created ON jobs (created, id);"
    "CREATE INDEX jobs_by_state ON jobs (state, created, id);"
    "CREATE INDEX jobs_by_dataset ON jobs (dataset_id, state);",

    /* 2: users and their tokens; every job and dataset reference has an
     * owner. Whatever version 1 stored goes to user 1, "admin". Tokens are
     * stored as the SHA-256 of their secret. A user's reference to a
     * dataset carries the user's own name for it; the dataset row goes
     * when no reference and no queued or running job needs it. */
    "CREATE TABLE users ("
    "  id      INTEGER PRIMARY KEY AUTOINCREMENT,"
    "  name    TEXT NOT NULL UNIQUE,"
    "  admin   INTEGER NOT NULL DEFAULT 0 CHECK (admin IN (0, 1)),"
    "  created INTEGER NOT NULL,"
    "  limits  TEXT NOT NULL DEFAULT '{}');"
    "INSERT INTO users (id, name, admin, created) VALUES (1, 'admin', 1,"
    "  CAST((julianday('now') - 2440587.5) * 86400000 AS INTEGER));"
    "CREATE TABLE tokens ("
    "  id        TEXT PRIMARY KEY NOT NULL,"
    "  user_id   INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,"
    "  hash      BLOB NOT NULL,"
    "  scope     TEXT NOT NULL CHECK (scope IN ('all', 'metrics')),"
    "  label     TEXT NOT NULL DEFAULT '',"
    "  created   INTEGER NOT NULL,"
    "  last_used INTEGER);"
    "CREATE INDEX tokens_by_user ON tokens (user_id);"
    "CREATE TABLE dataset_refs ("
    "  user_id    INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,"
    "  dataset_id TEXT NOT NULL REFERENCES datasets (id) ON DELETE CASCADE,"
    "  name       TEXT NOT NULL DEFAULT '',"
    "  created    INTEGER NOT NULL,"
    "  PRIMARY KEY (user_id, dataset_id));"
    "CREATE INDEX dataset_refs_by_dataset ON dataset_refs (dataset_id);"
    "CREATE INDEX dataset_refs_by_name ON dataset_refs (user_id, name);"
    "INSERT INTO dataset_refs SELECT 1, id, name, created FROM datasets;"
    "ALTER TABLE jobs ADD COLUMN owner INTEGER NOT NULL DEFAULT 1;"
    "ALTER TABLE jobs ADD COLUMN name TEXT NOT NULL DEFAULT '';"
    "ALTER TABLE jobs ADD COLUMN tags TEXT NOT NULL DEFAULT '[]';"
    "CREATE INDEX jobs_by_owner ON jobs (owner, created, id);"
    "CREATE TABLE audit ("
    "  seq    INTEGER PRIMARY KEY AUTOINCREMENT,"
    "  time   INTEGER NOT NULL,"
    "  user   TEXT,"
    "  action TEXT NOT NULL,"
    "  object TEXT,"
    "  status INTEGER NOT NULL,"
    "  detail TEXT,"
    "  remote TEXT);"
    "CREATE TABLE idempotency ("
    "  user_id   INTEGER NOT NULL,"
    "  route     TEXT NOT NULL,"
    "  key       TEXT NOT NULL,"
    "  body_hash TEXT NOT NULL,"
    "  status    INTEGER NOT NULL,"
    "  location  TEXT,"
    "  response  TEXT NOT NULL,"
    "  created   INTEGER NOT NULL,"
    "  PRIMARY KEY (user_id, route, key));",

    /* 3: what a restart needs to end a job instead of running it again:
     * starts counts the job's starts since the daemon last stopped cleanly
     * (a crash loop shows as starts piling up), cancel_requested is set
     * when a cancel of a running job was accepted. */
    "ALTER TABLE jobs ADD COLUMN starts INTEGER NOT NULL DEFAULT 0;"
    "ALTER TABLE jobs ADD COLUMN cancel_requested INTEGER NOT NULL DEFAULT 0"
    "  CHECK (cancel_requested IN (0, 1));",
};

/* --- statements ------------------------------------------------------- */

#define DATASET_COLUMNS "id, name, n, d, bytes, created"
#define JOB_COLUMNS                                                                                \
    "id, spec, dataset_id, state, created, started, finished, error, chains, num_samples, d, "     \
    "progress, seq, owner, name, tags, starts, cancel_requested"
#define ACTIVE "('queued', 'running')"
/* A user's reference joined with its dataset: the columns of dataset_from_row. */
#define REF_COLUMNS "d.id, r.name, d.n, d.d, d.bytes, r.created, r.user_id"
#define REF_JOIN " FROM dataset_refs r JOIN datasets d ON d.id = r.dataset_id"

enum stmt_id {
    DATASET_PUT,
    DATASET_GET,
    DATASET_DELETE,
    DATASET_LIST,
    REF_EXISTS,
    REF_PUT,
    REF_UNNAME,
    REF_GET,
    REF_GET_ANY,
    REF_DELETE,
    DATASET_UNNEEDED,
    USER_DATASET_BYTES,
    JOB_INSERT,
    JOB_GET,
    JOB_STATE,
    JOB_SET_STATE,
    JOB_SET_PROGRESS,
    JOB_SET_RUNNING_PROGRESS,
    JOB_DELETE,
    JOB_REQUEUE,
    JOB_RECOVER_CANCELLED,
    JOB_RECOVER_CRASHED,
    JOB_REQUEST_CANCEL,
    JOB_CLEAN_STOP,
    JOB_QUEUED_IDS,
    JOB_COUNTS,
    JOB_ENDED_BEFORE,
    STMT_COUNT
};

static const char *const stmt_sql[STMT_COUNT] = {
    [DATASET_PUT] = "INSERT INTO datasets (" DATASET_COLUMNS ") VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
    [DATASET_GET] = "SELECT " DATASET_COLUMNS " FROM datasets WHERE id = ?1",
    [DATASET_DELETE] = "DELETE FROM datasets WHERE id = ?1 AND NOT EXISTS"
                       " (SELECT 1 FROM jobs WHERE dataset_id = ?1 AND state IN " ACTIVE ")"
                       " AND NOT EXISTS (SELECT 1 FROM dataset_refs WHERE dataset_id = ?1)",
    [DATASET_LIST] = "SELECT " REF_COLUMNS REF_JOIN " WHERE ?1 = 0 OR r.user_id = ?1"
                     " ORDER BY r.created, d.id, r.user_id",
    [REF_EXISTS] = "SELECT 1 FROM dataset_refs WHERE user_id = ?1 AND dataset_id = ?2",
    [REF_PUT] = "INSERT INTO dataset_refs (user_id, dataset_id, name, created)"
                " VALUES (?1, ?2, ?3, ?4) ON CONFLICT (user_id, dataset_id) DO NOTHING",
    [REF_UNNAME] = "UPDATE dataset_refs SET name = '' WHERE user_id = ?1 AND name = ?2"
                   " AND dataset_id <> ?3",
    [REF_GET] = "SELECT " REF_COLUMNS REF_JOIN " WHERE r.user_id = ?1 AND"
                " (r.dataset_id = ?2 OR r.name = ?2) ORDER BY r.dataset_id = ?2 DESC,"
                " r.created DESC LIMIT 1",
    [REF_GET_ANY] = "SELECT " REF_COLUMNS REF_JOIN " WHERE r.dataset_id = ?1"
                    " ORDER BY r.created LIMIT 1",
    [REF_DELETE] = "DELETE FROM dataset_refs WHERE dataset_id = ?2 AND (?1 = 0 OR user_id = ?1)",
    [DATASET_UNNEEDED] = "SELECT id FROM datasets d WHERE NOT EXISTS (SELECT 1 FROM dataset_refs r"
                         " WHERE r.dataset_id = d.id) AND NOT EXISTS (SELECT 1 FROM jobs j"
                         " WHERE j.dataset_id = d.id AND j.state IN " ACTIVE ")",
    [USER_DATASET_BYTES] = "SELECT coalesce(sum(d.bytes), 0)" REF_JOIN " WHERE r.user_id = ?1",
    [JOB_INSERT] = "INSERT INTO jobs (id, spec, dataset_id, state, created, chains, num_samples,"
                   " d, seq, owner, name, tags) VALUES (?1, ?2, ?3, 'queued', ?4, ?5, ?6, ?7, 0,"
                   " ?8, ?9, ?10)",
    [JOB_GET] = "SELECT " JOB_COLUMNS " FROM jobs WHERE id = ?1",
    [JOB_STATE] = "SELECT state FROM jobs WHERE id = ?1",
    [JOB_SET_STATE] = "UPDATE jobs SET state = ?2, error = ?3, started = coalesce(?4, started),"
                      " finished = coalesce(?5, finished), starts = starts + (?2 = 'running'),"
                      " progress = coalesce(?7, progress), seq = coalesce(?8, seq)"
                      " WHERE id = ?1 AND state = ?6",
    [JOB_SET_PROGRESS] = "UPDATE jobs SET progress = ?2, seq = ?3 WHERE id = ?1",
    [JOB_SET_RUNNING_PROGRESS] = "UPDATE jobs SET progress = ?2, seq = ?3 WHERE id = ?1"
                                 " AND state IN " ACTIVE " AND seq <= ?3",
    [JOB_DELETE] = "DELETE FROM jobs WHERE id = ?1 AND state NOT IN " ACTIVE,
    [JOB_REQUEUE] = "UPDATE jobs SET state = 'queued', started = NULL, progress = NULL"
                    " WHERE state = 'running'",
    [JOB_RECOVER_CANCELLED] = "UPDATE jobs SET state = 'cancelled', error = NULL, finished = ?1,"
                              " seq = seq + ?2 WHERE state = 'running' AND cancel_requested = 1",
    [JOB_RECOVER_CRASHED] = "UPDATE jobs SET state = 'failed', error = ?3, finished = ?1,"
                            " seq = seq + ?2 WHERE state = 'running' AND starts >= ?4",
    [JOB_REQUEST_CANCEL] =
        "UPDATE jobs SET cancel_requested = 1 WHERE id = ?1 AND state IN " ACTIVE,
    [JOB_CLEAN_STOP] = "UPDATE jobs SET starts = 0 WHERE state = 'running'",
    [JOB_QUEUED_IDS] = "SELECT id FROM jobs WHERE state = 'queued' ORDER BY created, id",
    [JOB_COUNTS] = "SELECT state, count(*) FROM jobs GROUP BY state",
    [JOB_ENDED_BEFORE] = "SELECT id FROM jobs WHERE owner = ?1 AND state NOT IN " ACTIVE
                         " AND finished > 0 AND finished <= ?2 ORDER BY finished, id LIMIT ?3",
};

struct registry {
    sqlite3 *db;
    sqlite3_stmt *stmt[STMT_COUNT];
    stmt_cache *cache; /* the other modules' statements (registry_take) */
    char error[256];
    int failure;                  /* the status of the last SQLite failure (sqlite_failed) */
    char *reserve_path;           /* <dir>/registry.reserve */
    int reserve_held;             /* the reserve file is there, at its full size */
    double busy_since;            /* busy_wait: when this wait for a lock began (app_monotonic) */
    uint64_t busy_waits;          /* busy_wait's naps, ever (registry_busy_waits) */
    shared_counter *auth_changes; /* <dir>/registry.authgen; NULL: none */
};

/* --- errors ----------------------------------------------------------- */

/* Saves a message for registry_last_error and returns status. */
static int fail(registry *reg, int status, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static int fail(registry *reg, int status, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(reg->error, sizeof reg->error, fmt, ap);
    va_end(ap);
    return status;
}

/* What a failed SQLite call means to the caller: the disk is full (also
 * an I/O error whose errno is ENOSPC or EDQUOT), the write lock is held
 * elsewhere, or any other storage error. */
static int sqlite_status(registry *reg) {
    int code = sqlite3_extended_errcode(reg->db), e = sqlite3_system_errno(reg->db);
    if ((code & 0xff) == SQLITE_FULL ||
        ((code & 0xff) == SQLITE_IOERR && (e == ENOSPC || e == EDQUOT)))
        return REGISTRY_FULL;
    if ((code & 0xff) == SQLITE_BUSY || (code & 0xff) == SQLITE_LOCKED) return REGISTRY_BUSY;
    return REGISTRY_EIO;
}

/* Call right after the failing sqlite call, before anything resets it. */
static int sqlite_failed(registry *reg) {
    reg->failure = sqlite_status(reg);
    const char *why =
        reg->failure == REGISTRY_BUSY ? " (another process holds the registry's write lock)" : "";
    return fail(reg, reg->failure, "sqlite: %s%s", sqlite3_errmsg(reg->db), why);
}

sqlite3 *registry_sqlite(registry *reg) {
    return reg->db;
}

int registry_fail(registry *reg, int status, const char *message) {
    return fail(reg, status, "%s", message);
}

int registry_sqlite_failed(registry *reg) {
    return sqlite_failed(reg);
}

int registry_take(registry *reg, const char *sql, sqlite3_stmt **st) {
    return stmt_cache_take(reg->cache, sql, st) == SQLITE_OK ? REGISTRY_OK : sqlite_failed(reg);
}

void registry_give_back(registry *reg, sqlite3_stmt *st) {
    stmt_cache_give_back(reg->cache, st);
}

const char *registry_last_error(const registry *reg) {
    return reg ? reg->error : "";
}

const char *registry_status_str(int status) {
    switch (status) {
    case REGISTRY_OK:
        return "ok";
    case REGISTRY_ENOMEM:
        return "out of memory";
    case REGISTRY_EIO:
        return "registry storage error";
    case REGISTRY_EINVAL:
        return "invalid argument";
    case REGISTRY_NOT_FOUND:
        return "not found";
    case REGISTRY_EXISTS:
        return "already exists";
    case REGISTRY_IN_USE:
        return "in use by a queued or running job";
    case REGISTRY_BAD_TRANSITION:
        return "invalid job state transition";
    case REGISTRY_BAD_TOKEN:
        return "malformed page token";
    case REGISTRY_SCHEMA_TOO_NEW:
        return "registry written by a newer mcmcd";
    case REGISTRY_FULL:
        return "the disk is full";
    case REGISTRY_BUSY:
        return "the registry is locked by another process";
    default:
        return "unknown registry status";
    }
}

/* --- job states ------------------------------------------------------- */

static const char *const state_names[REGISTRY_JOB_STATES] = {
    "queued", "running", "succeeded", "failed", "cancelled",
};

static int state_is_valid(registry_job_state state) {
    return (int)state >= 0 && (int)state < REGISTRY_JOB_STATES;
}

const char *registry_job_state_name(registry_job_state state) {
    return state_is_valid(state) ? state_names[state] : "unknown";
}

int registry_job_state_parse(const char *name, registry_job_state *out) {
    for (int s = 0; name && s < REGISTRY_JOB_STATES; s++) {
        if (strcmp(name, state_names[s]) == 0) {
            *out = (registry_job_state)s;
            return REGISTRY_OK;
        }
    }
    return REGISTRY_EINVAL;
}

int registry_job_state_is_final(registry_job_state state) {
    return state == REGISTRY_JOB_SUCCEEDED || state == REGISTRY_JOB_FAILED ||
           state == REGISTRY_JOB_CANCELLED;
}

static int transition_is_valid(registry_job_state from, registry_job_state to) {
    switch (from) {
    case REGISTRY_JOB_QUEUED:
        return to == REGISTRY_JOB_RUNNING || to == REGISTRY_JOB_CANCELLED;
    case REGISTRY_JOB_RUNNING:
        return registry_job_state_is_final(to);
    default:
        return 0;
    }
}

/* --- ids and page tokens ---------------------------------------------- */

static int id_char_is_valid(char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' ||
           c == '_' || c == '.';
}

static int id_is_valid(const char *id, size_t len) {
    if (len == 0 || len > REGISTRY_ID_MAX) return 0;
    for (size_t i = 0; i < len; i++)
        if (!id_char_is_valid(id[i])) return 0;
    return 1;
}

static int id_string_is_valid(const char *id) {
    return id && id_is_valid(id, strnlen(id, REGISTRY_ID_MAX + 1));
}

static const char base64url[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

static void base64url_encode(const unsigned char *raw, size_t len, char *text) {
    unsigned acc = 0;
    int bits = 0;
    for (size_t i = 0; i < len; i++) {
        acc = ((acc << 8) | raw[i]) & 0xffff;
        for (bits += 8; bits >= 6; bits -= 6)
            *text++ = base64url[(acc >> (bits - 6)) & 63];
    }
    if (bits > 0) *text++ = base64url[(acc << (6 - bits)) & 63];
    *text = '\0';
}

/* Strict: no padding, no stray characters, unused low bits zero, so every
 * byte string has exactly one spelling. 0 or -1. */
static int base64url_decode(const char *text, unsigned char *raw, size_t cap, size_t *len) {
    unsigned acc = 0;
    int bits = 0;
    size_t n = 0;
    for (; *text; text++) {
        const char *hit = strchr(base64url, *text);
        if (!hit) return -1;
        acc = ((acc << 6) | (unsigned)(hit - base64url)) & 0xffff;
        bits += 6;
        if (bits >= 8) {
            if (n == cap) return -1;
            bits -= 8;
            raw[n++] = (unsigned char)(acc >> bits);
        }
    }
    if (bits >= 6 || (acc & ((1u << bits) - 1)) != 0) return -1;
    *len = n;
    return 0;
}

/* A token is base64url of: version byte, created (8 bytes, big endian), id. */
static void encode_token(int64_t created, const char *id, char token[REGISTRY_TOKEN_SIZE]) {
    unsigned char raw[1 + 8 + REGISTRY_ID_MAX];
    size_t id_len = strlen(id);
    uint64_t bits = (uint64_t)created;
    raw[0] = TOKEN_VERSION;
    for (int i = 0; i < 8; i++)
        raw[1 + i] = (unsigned char)(bits >> (56 - 8 * i));
    memcpy(raw + 9, id, id_len);
    base64url_encode(raw, 9 + id_len, token);
}

static int decode_token(const char *token, int64_t *created, char id[REGISTRY_ID_MAX + 1]) {
    unsigned char raw[1 + 8 + REGISTRY_ID_MAX];
    size_t len;
    if (strnlen(token, REGISTRY_TOKEN_SIZE) == REGISTRY_TOKEN_SIZE) return -1;
    if (base64url_decode(token, raw, sizeof raw, &len) != 0) return -1;
    if (len < 10 || raw[0] != TOKEN_VERSION) return -1;
    if (!id_is_valid((const char *)raw + 9, len - 9)) return -1;
    uint64_t bits = 0;
    for (int i = 0; i < 8; i++)
        bits = bits << 8 | raw[1 + i];
    *created = (int64_t)bits;
    memcpy(id, raw + 9, len - 9);
    id[len - 9] = '\0';
    return 0;
}

/* --- statement helpers ------------------------------------------------ */

static void stmt_done(sqlite3_stmt *st) {
    sqlite3_reset(st);
    sqlite3_clear_bindings(st);
}

static int bind_text(sqlite3_stmt *st, int index, const char *text) {
    if (!text) return sqlite3_bind_null(st, index);
    return sqlite3_bind_text(st, index, text, -1, SQLITE_TRANSIENT);
}

static int bind_time_if(sqlite3_stmt *st, int index, int set, int64_t ms) {
    return set ? sqlite3_bind_int64(st, index, ms) : sqlite3_bind_null(st, index);
}

/* Binding failed: save the message, then reset. */
static int bind_failed(registry *reg, sqlite3_stmt *st) {
    int status = sqlite_failed(reg);
    stmt_done(st);
    return status;
}

static int release_reserve(registry *reg);

/* Steps a statement that returns no rows, then resets it. Returns the
 * sqlite code, SQLITE_DONE on success; on failure the message is saved
 * and reg->failure says what it means. With use_reserve, a statement of
 * its own (not inside a transaction) that finds the disk full is tried
 * once more after the reserve is released. */
static int step_write_reserve(registry *reg, sqlite3_stmt *st, int use_reserve) {
    int rc = sqlite3_step(st);
    if (rc != SQLITE_DONE && use_reserve && sqlite_status(reg) == REGISTRY_FULL &&
        sqlite3_get_autocommit(reg->db) && release_reserve(reg) == 0) {
        sqlite3_reset(st);
        rc = sqlite3_step(st);
    }
    if (rc != SQLITE_DONE) sqlite_failed(reg);
    stmt_done(st);
    return rc;
}

/* Every write but progress may use the reserve: progress is advisory and
 * frequent, and would use it up before a job's end needs it. */
static int step_write(registry *reg, sqlite3_stmt *st) {
    return step_write_reserve(reg, st, 1);
}

/* Rows changed by the last write: 0 tells "no such row" or a refused guard. */
static int last_write_changed_nothing(registry *reg) {
    return sqlite3_changes(reg->db) == 0;
}

/* A statement of the cache's (BEGIN, COMMIT), stepped and reset. */
static int step_cached(registry *reg, const char *sql) {
    sqlite3_stmt *st;
    int status = registry_take(reg, sql, &st);
    if (status != REGISTRY_OK) return status;
    status = sqlite3_step(st) == SQLITE_DONE ? REGISTRY_OK : sqlite_failed(reg);
    registry_give_back(reg, st);
    return status;
}

int registry_write_together(registry *reg, registry_writes_fn fn, void *ctx) {
    for (int tries = 0;; tries++) {
        int status = step_cached(reg, "BEGIN IMMEDIATE");
        if (status == REGISTRY_OK) status = fn(reg, ctx);
        if (status == REGISTRY_OK) status = step_cached(reg, "COMMIT");
        if (status == REGISTRY_OK) return REGISTRY_OK;
        /* SQLite may have rolled back already (a full disk, an I/O error) */
        if (!sqlite3_get_autocommit(reg->db)) sqlite3_exec(reg->db, "ROLLBACK", NULL, NULL, NULL);
        if (status != REGISTRY_FULL || tries > 0 || release_reserve(reg) != 0) return status;
    }
}

int registry_batch_begin(registry *reg) {
    return step_cached(reg, "BEGIN IMMEDIATE");
}

int registry_batch_write(registry *reg, registry_writes_fn fn, void *ctx) {
    int status = step_cached(reg, "SAVEPOINT one_write");
    if (status == REGISTRY_OK) status = fn(reg, ctx);
    if (status == REGISTRY_OK) return step_cached(reg, "RELEASE one_write");
    char why[sizeof reg->error];
    snprintf(why, sizeof why, "%s", reg->error); /* the undo must not overwrite it */
    if (!sqlite3_get_autocommit(reg->db)) {
        sqlite3_exec(reg->db, "ROLLBACK TO one_write", NULL, NULL, NULL);
        sqlite3_exec(reg->db, "RELEASE one_write", NULL, NULL, NULL);
    }
    return registry_fail(reg, status, why);
}

int registry_batch_open(registry *reg) {
    return !sqlite3_get_autocommit(reg->db);
}

int registry_batch_commit(registry *reg) {
    int status = step_cached(reg, "COMMIT");
    if (status != REGISTRY_OK && !sqlite3_get_autocommit(reg->db))
        sqlite3_exec(reg->db, "ROLLBACK", NULL, NULL, NULL);
    return status;
}

/* A copy of a text column, NULL for SQL NULL. 0 or REGISTRY_ENOMEM. */
static int copy_column(sqlite3_stmt *st, int col, char **out) {
    *out = NULL;
    if (sqlite3_column_type(st, col) == SQLITE_NULL) return REGISTRY_OK;
    const char *text = (const char *)sqlite3_column_text(st, col);
    if (text) *out = strdup(text);
    return *out ? REGISTRY_OK : REGISTRY_ENOMEM;
}

static const char *column_text(sqlite3_stmt *st, int col) {
    const char *text = (const char *)sqlite3_column_text(st, col);
    return text ? text : "";
}

/* A growing array of rows, each row_size bytes, zeroed when pushed. */
typedef struct row_vec {
    char *rows;
    size_t len, cap, row_size;
} row_vec;

static void *row_vec_push(row_vec *v) {
    if (v->len == v->cap) {
        size_t cap = v->cap ? 2 * v->cap : 16;
        char *rows = realloc(v->rows, cap * v->row_size);
        if (!rows) return NULL;
        v->rows = rows;
        v->cap = cap;
    }
    void *row = v->rows + v->len++ * v->row_size;
    memset(row, 0, v->row_size);
    return row;
}

static void *row_vec_at(const row_vec *v, size_t i) {
    return v->rows + i * v->row_size;
}

/* --- open and close ------------------------------------------------------ */

static int exec(registry *reg, const char *sql) {
    if (sqlite3_exec(reg->db, sql, NULL, NULL, NULL) != SQLITE_OK) return sqlite_failed(reg);
    return REGISTRY_OK;
}

/* Runs a one-row query (a pragma) and hands back its first column. */
static int query_text(registry *reg, const char *sql, char *out, size_t outlen) {
    sqlite3_stmt *st;
    if (sqlite3_prepare_v2(reg->db, sql, -1, &st, NULL) != SQLITE_OK) return sqlite_failed(reg);
    int rc = sqlite3_step(st);
    if (rc == SQLITE_ROW) snprintf(out, outlen, "%s", column_text(st, 0));
    int status = rc == SQLITE_ROW ? REGISTRY_OK : sqlite_failed(reg);
    sqlite3_finalize(st);
    return status;
}

static int open_database(registry *reg, const char *dir) {
    size_t len = strlen(dir) + sizeof "/registry.db";
    char *path = malloc(len);
    if (!path) return fail(reg, REGISTRY_ENOMEM, "out of memory");
    snprintf(path, len, "%s/registry.db", dir);
    int flags = SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX;
    int rc = sqlite3_open_v2(path, &reg->db, flags, NULL);
    int status = REGISTRY_OK;
    if (rc != SQLITE_OK)
        status = fail(reg, REGISTRY_EIO, "cannot open %s: %s", path,
                      reg->db ? sqlite3_errmsg(reg->db) : sqlite3_errstr(rc));
    free(path);
    return status;
}

/* SQLite's busy handler: another connection holds the lock. The daemon's
 * other writer, the sync thread (durable.h), holds it for a batch, a
 * fraction of a millisecond, so this naps REGISTRY_BUSY_NAP_US first and
 * doubles the nap each time up to REGISTRY_BUSY_NAP_MAX_US (SQLite's own
 * handler sleeps 1 ms at once, then 2, 5...: milliseconds lost on the
 * loop for every collision), so that a lock held long by another process
 * costs a few hundred wakeups, until REGISTRY_BUSY_TIMEOUT_MS in all. */
static int busy_wait(void *arg, int tries) {
    registry *reg = arg;
    double now = app_monotonic();
    if (tries == 0) reg->busy_since = now;
    if (now - reg->busy_since >= REGISTRY_BUSY_TIMEOUT_MS / 1000.0) return 0;
    long us = tries < 16 ? (long)REGISTRY_BUSY_NAP_US << tries : REGISTRY_BUSY_NAP_MAX_US;
    if (us > REGISTRY_BUSY_NAP_MAX_US) us = REGISTRY_BUSY_NAP_MAX_US;
    struct timespec nap = {0, us * 1000};
    nanosleep(&nap, NULL);
    reg->busy_waits++;
    return 1;
}

uint64_t registry_busy_waits(const registry *reg) {
    return reg->busy_waits;
}

uint64_t registry_auth_changes(const registry *reg) {
    return reg->auth_changes ? shared_counter_read(reg->auth_changes) : REGISTRY_AUTH_UNKNOWN;
}

void registry_auth_changed(registry *reg) {
    if (reg->auth_changes) shared_counter_bump(reg->auth_changes);
}

static int configure(registry *reg) {
    char mode[16], fk[16];
    sqlite3_extended_result_codes(reg->db, 1);
    sqlite3_busy_handler(reg->db, busy_wait, reg);
    int status = query_text(reg, "PRAGMA journal_mode = WAL", mode, sizeof mode);
    if (status == REGISTRY_OK && strcmp(mode, "wal") != 0)
        return fail(reg, REGISTRY_EIO, "journal_mode is %s, want wal", mode);
    if (status == REGISTRY_OK) status = exec(reg, "PRAGMA synchronous = FULL");
    if (status == REGISTRY_OK) status = exec(reg, "PRAGMA foreign_keys = ON");
    if (status == REGISTRY_OK) status = query_text(reg, "PRAGMA foreign_keys", fk, sizeof fk);
    if (status == REGISTRY_OK && strcmp(fk, "1") != 0)
        return fail(reg, REGISTRY_EIO, "this SQLite has no foreign keys");
    return status;
}

static int schema_version(registry *reg, int *version) {
    char text[32];
    int status = query_text(reg, "PRAGMA user_version", text, sizeof text);
    if (status == REGISTRY_OK) *version = atoi(text);
    return status;
}

/* One step, in its own transaction. The version is read again under the
 * write lock in case another process migrated meanwhile. */
static int migrate_one_step(registry *reg, int *version) {
    char sql[64];
    int status = exec(reg, "BEGIN IMMEDIATE");
    if (status != REGISTRY_OK) return status;
    status = schema_version(reg, version);
    if (status == REGISTRY_OK && *version < SCHEMA_VERSION) {
        status = exec(reg, migrations[*version]);
        snprintf(sql, sizeof sql, "PRAGMA user_version = %d", *version + 1);
        if (status == REGISTRY_OK) status = exec(reg, sql);
    }
    if (status == REGISTRY_OK) status = exec(reg, "COMMIT");
    if (status != REGISTRY_OK) {
        sqlite3_exec(reg->db, "ROLLBACK", NULL, NULL, NULL);
        return status;
    }
    return schema_version(reg, version);
}

static int migrate(registry *reg) {
    int version;
    int status = schema_version(reg, &version);
    while (status == REGISTRY_OK && version < SCHEMA_VERSION)
        status = migrate_one_step(reg, &version);
    if (status == REGISTRY_OK && version > SCHEMA_VERSION)
        return fail(reg, REGISTRY_SCHEMA_TOO_NEW, "registry.db has schema %d; this mcmcd knows %d",
                    version, SCHEMA_VERSION);
    return status;
}

static int prepare_statements(registry *reg) {
    for (int i = 0; i < STMT_COUNT; i++) {
        if (sqlite3_prepare_v3(reg->db, stmt_sql[i], -1, SQLITE_PREPARE_PERSISTENT, &reg->stmt[i],
                               NULL) != SQLITE_OK)
            return sqlite_failed(reg);
    }
    return REGISTRY_OK;
}

/* --- the reserve ---------------------------------------------------------- */

int registry_keep_reserve(registry *reg) {
    struct stat sb;
    if (reg->reserve_held) return 0;
    int fd = open(reg->reserve_path, O_WRONLY | O_CREAT | O_CLOEXEC, 0600);
    if (fd < 0) return -1;
    /* a file left by an earlier run counts once its blocks are all there */
    int held = fstat(fd, &sb) == 0 && sb.st_size == REGISTRY_RESERVE_BYTES &&
               (uint64_t)sb.st_blocks * 512 >= REGISTRY_RESERVE_BYTES;
    if (!held) held = posix_fallocate(fd, 0, REGISTRY_RESERVE_BYTES) == 0;
    close(fd);
    if (!held) unlink(reg->reserve_path); /* what it got goes back */
    reg->reserve_held = held;
    return held ? 0 : -1;
}

/* The disk is full: the reserve goes, so that the write can be tried
 * again. 0 when there was one to release. */
static int release_reserve(registry *reg) {
    if (!reg->reserve_held) return -1;
    reg->reserve_held = 0;
    if (unlink(reg->reserve_path) != 0) return -1;
    fprintf(stderr,
            "mcmcd: the disk is full: released the registry's reserve (%d bytes, %s) so that "
            "job states can still be recorded; it is made again once there is room\n",
            REGISTRY_RESERVE_BYTES, reg->reserve_path);
    return 0;
}

static int reserve_path_set(registry *reg, const char *dir) {
    size_t len = strlen(dir) + sizeof "/registry.reserve";
    if (!(reg->reserve_path = malloc(len))) return fail(reg, REGISTRY_ENOMEM, "out of memory");
    snprintf(reg->reserve_path, len, "%s/registry.reserve", dir);
    return REGISTRY_OK;
}

/* The counter of changes to users and tokens (registry_auth_changes);
 * without it (a read-only or full disk) nobody keeps copies of them. */
static void auth_changes_open(registry *reg, const char *dir) {
    char path[4200];
    if (snprintf(path, sizeof path, "%s/registry.authgen", dir) < (int)sizeof path)
        reg->auth_changes = shared_counter_open(path);
}

/* Opens, configures, migrates and prepares: one try. */
static registry *open_once(const char *dir, int *status) {
    registry *reg = calloc(1, sizeof *reg);
    if (!reg) {
        *status = REGISTRY_ENOMEM;
        return NULL;
    }
    *status = reserve_path_set(reg, dir);
    if (*status == REGISTRY_OK) auth_changes_open(reg, dir);
    if (*status == REGISTRY_OK) *status = open_database(reg, dir);
    if (*status == REGISTRY_OK) *status = configure(reg);
    if (*status == REGISTRY_OK) *status = migrate(reg);
    if (*status == REGISTRY_OK) *status = prepare_statements(reg);
    if (*status == REGISTRY_OK && !(reg->cache = stmt_cache_new(reg->db)))
        *status = fail(reg, REGISTRY_ENOMEM, "out of memory");
    return reg;
}

/* Whether dir's disk has less room than the files SQLite makes as it opens
 * a database whose WAL a clean stop removed (the -shm, 32 KiB, the -wal). */
static int disk_is_full(const char *dir) {
    struct statvfs sv;
    return statvfs(dir, &sv) == 0 && (uint64_t)sv.f_bavail * sv.f_frsize < (256u << 10);
}

int registry_open(const char *dir, registry **out, char *err, size_t errlen) {
    *out = NULL;
    if (err && errlen) err[0] = '\0';
    int status;
    registry *reg = open_once(dir, &status);
    if (reg && status != REGISTRY_OK && status != REGISTRY_SCHEMA_TOO_NEW && disk_is_full(dir) &&
        unlink(reg->reserve_path) == 0) {
        /* a start on a full disk: the reserve makes room to open */
        fprintf(stderr,
                "mcmcd: warning: the disk is full: released the registry's reserve (%s) to open "
                "it\n",
                reg->reserve_path);
        registry_close(reg);
        reg = open_once(dir, &status);
    }
    if (status != REGISTRY_OK) {
        if (err && errlen)
            snprintf(err, errlen, "%s%s", reg ? reg->error : "out of memory",
                     disk_is_full(dir) ? " (the data dir's disk is full)" : "");
        registry_close(reg);
        return status;
    }
    registry_keep_reserve(reg); /* without room now, the sweep tries again */
    *out = reg;
    return REGISTRY_OK;
}

int registry_open_another(const char *dir, registry **out, char *err, size_t errlen) {
    int status;
    registry *reg = open_once(dir, &status);
    if (status != REGISTRY_OK) {
        if (err && errlen) snprintf(err, errlen, "%s", reg ? reg->error : "out of memory");
        registry_close(reg);
        reg = NULL;
    }
    *out = reg;
    return status;
}

void registry_close(registry *reg) {
    if (!reg) return;
    for (int i = 0; i < STMT_COUNT; i++)
        sqlite3_finalize(reg->stmt[i]);
    stmt_cache_free(reg->cache);
    sqlite3_close(reg->db);
    shared_counter_close(reg->auth_changes);
    free(reg->reserve_path);
    free(reg);
}

/* --- datasets ------------------------------------------------------------ */

void registry_dataset_clear(registry_dataset *ds) {
    free(ds->id);
    free(ds->name);
    memset(ds, 0, sizeof *ds);
}

static int dataset_from_row(sqlite3_stmt *st, registry_dataset *ds) {
    memset(ds, 0, sizeof *ds);
    ds->n = sqlite3_column_int64(st, 2);
    ds->d = sqlite3_column_int64(st, 3);
    ds->bytes = sqlite3_column_int64(st, 4);
    ds->created_ms = sqlite3_column_int64(st, 5);
    ds->owner = sqlite3_column_count(st) > 6 ? sqlite3_column_int64(st, 6) : 0;
    if (copy_column(st, 0, &ds->id) || copy_column(st, 1, &ds->name)) {
        registry_dataset_clear(ds);
        return REGISTRY_ENOMEM;
    }
    return REGISTRY_OK;
}

int registry_dataset_put(registry *reg, const registry_dataset *ds) {
    if (!id_string_is_valid(ds->id)) return fail(reg, REGISTRY_EINVAL, "invalid dataset id");
    if (ds->n < 0 || ds->d < 0 || ds->bytes < 0)
        return fail(reg, REGISTRY_EINVAL, "dataset sizes must be >= 0");
    sqlite3_stmt *st = reg->stmt[DATASET_PUT];
    if (bind_text(st, 1, ds->id) || bind_text(st, 2, ds->name ? ds->name : "") ||
        sqlite3_bind_int64(st, 3, ds->n) || sqlite3_bind_int64(st, 4, ds->d) ||
        sqlite3_bind_int64(st, 5, ds->bytes) || sqlite3_bind_int64(st, 6, ds->created_ms))
        return bind_failed(reg, st);
    int rc = step_write(reg, st);
    if (rc == SQLITE_CONSTRAINT_PRIMARYKEY)
        return fail(reg, REGISTRY_EXISTS, "dataset %s exists", ds->id);
    return rc == SQLITE_DONE ? REGISTRY_OK : reg->failure;
}

int registry_dataset_get(registry *reg, const char *id, registry_dataset *out) {
    memset(out, 0, sizeof *out);
    if (!id) return fail(reg, REGISTRY_EINVAL, "no id");
    sqlite3_stmt *st = reg->stmt[DATASET_GET];
    if (bind_text(st, 1, id)) return bind_failed(reg, st);
    int rc = sqlite3_step(st);
    int status = REGISTRY_OK;
    if (rc == SQLITE_ROW)
        status = dataset_from_row(st, out);
    else if (rc == SQLITE_DONE)
        status = fail(reg, REGISTRY_NOT_FOUND, "no dataset %s", id);
    else
        status = sqlite_failed(reg);
    stmt_done(st);
    return status;
}

int registry_dataset_delete(registry *reg, const char *id) {
    if (!id) return fail(reg, REGISTRY_EINVAL, "no id");
    sqlite3_stmt *st = reg->stmt[DATASET_DELETE];
    if (bind_text(st, 1, id)) return bind_failed(reg, st);
    if (step_write(reg, st) != SQLITE_DONE) return reg->failure;
    if (!last_write_changed_nothing(reg)) return REGISTRY_OK;
    /* Nothing deleted: tell a missing dataset from one in use. */
    registry_dataset ds;
    int status = registry_dataset_get(reg, id, &ds);
    registry_dataset_clear(&ds);
    if (status != REGISTRY_OK) return status;
    return fail(reg, REGISTRY_IN_USE, "dataset %s is used by a queued or running job", id);
}

/* Runs st (bound) and copies its rows into rows. */
static int collect_datasets(registry *reg, sqlite3_stmt *st, row_vec *rows) {
    int rc, status = REGISTRY_OK;
    while (status == REGISTRY_OK && (rc = sqlite3_step(st)) == SQLITE_ROW) {
        registry_dataset *ds = row_vec_push(rows);
        status = ds ? dataset_from_row(st, ds) : REGISTRY_ENOMEM;
    }
    if (status == REGISTRY_OK && rc != SQLITE_DONE) status = sqlite_failed(reg);
    if (status == REGISTRY_ENOMEM) fail(reg, status, "out of memory");
    stmt_done(st);
    return status;
}

int registry_dataset_list(registry *reg, int64_t user, registry_dataset_fn fn, void *ctx) {
    row_vec rows = {.row_size = sizeof(registry_dataset)};
    sqlite3_stmt *st = reg->stmt[DATASET_LIST];
    if (sqlite3_bind_int64(st, 1, user)) return bind_failed(reg, st);
    int status = collect_datasets(reg, st, &rows);
    for (size_t i = 0; status == REGISTRY_OK && i < rows.len; i++)
        status = fn(ctx, row_vec_at(&rows, i));
    for (size_t i = 0; i < rows.len; i++)
        registry_dataset_clear(row_vec_at(&rows, i));
    free(rows.rows);
    return status;
}

/* --- datasets: each user's references ---------------------------------------- */

static int ref_exists(registry *reg, int64_t user, const char *id, int *exists) {
    sqlite3_stmt *st = reg->stmt[REF_EXISTS];
    if (sqlite3_bind_int64(st, 1, user) || bind_text(st, 2, id)) return bind_failed(reg, st);
    int rc = sqlite3_step(st);
    *exists = rc == SQLITE_ROW;
    int status = rc == SQLITE_ROW || rc == SQLITE_DONE ? REGISTRY_OK : sqlite_failed(reg);
    stmt_done(st);
    return status;
}

int registry_dataset_ref_put(registry *reg, int64_t user, const char *id, const char *name,
                             int64_t created_ms) {
    if (!id_string_is_valid(id)) return fail(reg, REGISTRY_EINVAL, "invalid dataset id");
    int exists = 0;
    int status = ref_exists(reg, user, id, &exists);
    if (status != REGISTRY_OK) return status;
    sqlite3_stmt *st = reg->stmt[REF_PUT];
    if (sqlite3_bind_int64(st, 1, user) || bind_text(st, 2, id) ||
        bind_text(st, 3, name ? name : "") || sqlite3_bind_int64(st, 4, created_ms))
        return bind_failed(reg, st);
    int rc = step_write(reg, st);
    if (rc == SQLITE_CONSTRAINT_FOREIGNKEY)
        return fail(reg, REGISTRY_NOT_FOUND, "no dataset %s or no user %lld", id, (long long)user);
    if (rc != SQLITE_DONE) return reg->failure;
    if (!exists && name && *name) { /* a name means the newest upload that took it */
        st = reg->stmt[REF_UNNAME];
        if (sqlite3_bind_int64(st, 1, user) || bind_text(st, 2, name) || bind_text(st, 3, id))
            return bind_failed(reg, st);
        if (step_write(reg, st) != SQLITE_DONE) return reg->failure;
    }
    return exists ? REGISTRY_EXISTS : REGISTRY_OK;
}

int registry_dataset_ref_get(registry *reg, int64_t user, const char *id_or_name,
                             registry_dataset *out) {
    memset(out, 0, sizeof *out);
    if (!id_or_name || !*id_or_name) return fail(reg, REGISTRY_EINVAL, "no id");
    sqlite3_stmt *st = reg->stmt[user ? REF_GET : REF_GET_ANY];
    if (user ? sqlite3_bind_int64(st, 1, user) || bind_text(st, 2, id_or_name)
             : bind_text(st, 1, id_or_name))
        return bind_failed(reg, st);
    int rc = sqlite3_step(st);
    int status = REGISTRY_OK;
    if (rc == SQLITE_ROW)
        status = dataset_from_row(st, out);
    else if (rc == SQLITE_DONE)
        status = fail(reg, REGISTRY_NOT_FOUND, "no dataset %s", id_or_name);
    else
        status = sqlite_failed(reg);
    stmt_done(st);
    return status;
}

int registry_dataset_ref_delete(registry *reg, int64_t user, const char *id) {
    if (!id) return fail(reg, REGISTRY_EINVAL, "no id");
    sqlite3_stmt *st = reg->stmt[REF_DELETE];
    if (sqlite3_bind_int64(st, 1, user) || bind_text(st, 2, id)) return bind_failed(reg, st);
    if (step_write(reg, st) != SQLITE_DONE) return reg->failure;
    if (last_write_changed_nothing(reg)) return fail(reg, REGISTRY_NOT_FOUND, "no dataset %s", id);
    return REGISTRY_OK;
}

int registry_dataset_collect(registry *reg, registry_id_fn fn, void *ctx) {
    sqlite3_stmt *st = reg->stmt[DATASET_UNNEEDED];
    row_vec ids = {.row_size = sizeof(char *)};
    int rc, status = REGISTRY_OK;
    while (status == REGISTRY_OK && (rc = sqlite3_step(st)) == SQLITE_ROW) {
        char **id = row_vec_push(&ids);
        status = id ? copy_column(st, 0, id) : REGISTRY_ENOMEM;
    }
    if (status == REGISTRY_OK && rc != SQLITE_DONE) status = sqlite_failed(reg);
    stmt_done(st);
    for (size_t i = 0; status == REGISTRY_OK && i < ids.len; i++) {
        const char *id = *(char **)row_vec_at(&ids, i);
        int del = registry_dataset_delete(reg, id); /* guarded again: nothing raced in */
        if (del == REGISTRY_OK)
            status = fn(ctx, id);
        else if (del != REGISTRY_IN_USE && del != REGISTRY_NOT_FOUND)
            status = del;
    }
    for (size_t i = 0; i < ids.len; i++)
        free(*(char **)row_vec_at(&ids, i));
    free(ids.rows);
    return status;
}

int registry_user_dataset_bytes(registry *reg, int64_t user, int64_t *bytes) {
    sqlite3_stmt *st = reg->stmt[USER_DATASET_BYTES];
    if (sqlite3_bind_int64(st, 1, user)) return bind_failed(reg, st);
    int rc = sqlite3_step(st);
    *bytes = rc == SQLITE_ROW ? sqlite3_column_int64(st, 0) : 0;
    int status = rc == SQLITE_ROW ? REGISTRY_OK : sqlite_failed(reg);
    stmt_done(st);
    return status;
}

/* --- jobs: rows ----------------------------------------------------------- */

void registry_job_clear(registry_job *job) {
    free(job->id);
    free(job->spec);
    free(job->dataset_id);
    free(job->error);
    free(job->progress);
    free(job->name);
    free(job->tags);
    memset(job, 0, sizeof *job);
}

/* Columns in the order of JOB_COLUMNS. */
static int job_from_row(registry *reg, sqlite3_stmt *st, registry_job *job) {
    memset(job, 0, sizeof *job);
    if (registry_job_state_parse(column_text(st, 3), &job->state) != REGISTRY_OK)
        return fail(reg, REGISTRY_EIO, "corrupt job state '%s'", column_text(st, 3));
    job->created_ms = sqlite3_column_int64(st, 4);
    job->started_ms = sqlite3_column_int64(st, 5); /* NULL reads as 0 */
    job->finished_ms = sqlite3_column_int64(st, 6);
    job->chains = sqlite3_column_int64(st, 8);
    job->num_samples = sqlite3_column_int64(st, 9);
    job->d = sqlite3_column_int64(st, 10);
    job->seq = sqlite3_column_int64(st, 12);
    job->owner = sqlite3_column_int64(st, 13);
    job->starts = sqlite3_column_int64(st, 16);
    job->cancel_requested = sqlite3_column_int(st, 17);
    if (copy_column(st, 0, &job->id) || copy_column(st, 1, &job->spec) ||
        copy_column(st, 2, &job->dataset_id) || copy_column(st, 7, &job->error) ||
        copy_column(st, 11, &job->progress) || copy_column(st, 14, &job->name) ||
        copy_column(st, 15, &job->tags)) {
        registry_job_clear(job);
        return fail(reg, REGISTRY_ENOMEM, "out of memory");
    }
    return REGISTRY_OK;
}

int registry_job_insert(registry *reg, const registry_job *job) {
    if (!id_string_is_valid(job->id)) return fail(reg, REGISTRY_EINVAL, "invalid job id");
    if (!job->spec) return fail(reg, REGISTRY_EINVAL, "job %s has no spec", job->id);
    if (job->chains < 0 || job->num_samples < 0 || job->d < 0)
        return fail(reg, REGISTRY_EINVAL, "job sizes must be >= 0");
    sqlite3_stmt *st = reg->stmt[JOB_INSERT];
    if (bind_text(st, 1, job->id) || bind_text(st, 2, job->spec) ||
        bind_text(st, 3, job->dataset_id) || sqlite3_bind_int64(st, 4, job->created_ms) ||
        sqlite3_bind_int64(st, 5, job->chains) || sqlite3_bind_int64(st, 6, job->num_samples) ||
        sqlite3_bind_int64(st, 7, job->d) || sqlite3_bind_int64(st, 8, job->owner) ||
        bind_text(st, 9, job->name ? job->name : "") ||
        bind_text(st, 10, job->tags ? job->tags : "[]"))
        return bind_failed(reg, st);
    int rc = step_write(reg, st);
    if (rc == SQLITE_CONSTRAINT_PRIMARYKEY)
        return fail(reg, REGISTRY_EXISTS, "job %s exists", job->id);
    if (rc == SQLITE_CONSTRAINT_FOREIGNKEY)
        return fail(reg, REGISTRY_NOT_FOUND, "no dataset %s", job->dataset_id);
    return rc == SQLITE_DONE ? REGISTRY_OK : reg->failure;
}

int registry_job_get(registry *reg, const char *id, registry_job *out) {
    memset(out, 0, sizeof *out);
    if (!id) return fail(reg, REGISTRY_EINVAL, "no id");
    sqlite3_stmt *st = reg->stmt[JOB_GET];
    if (bind_text(st, 1, id)) return bind_failed(reg, st);
    int rc = sqlite3_step(st);
    int status = REGISTRY_OK;
    if (rc == SQLITE_ROW)
        status = job_from_row(reg, st, out);
    else if (rc == SQLITE_DONE)
        status = fail(reg, REGISTRY_NOT_FOUND, "no job %s", id);
    else
        status = sqlite_failed(reg);
    stmt_done(st);
    return status;
}

static int read_job_state(registry *reg, const char *id, registry_job_state *state) {
    sqlite3_stmt *st = reg->stmt[JOB_STATE];
    if (bind_text(st, 1, id)) return bind_failed(reg, st);
    int rc = sqlite3_step(st);
    int status = REGISTRY_OK;
    if (rc == SQLITE_ROW && registry_job_state_parse(column_text(st, 0), state) != REGISTRY_OK)
        status = fail(reg, REGISTRY_EIO, "corrupt state of job %s", id);
    else if (rc == SQLITE_DONE)
        status = fail(reg, REGISTRY_NOT_FOUND, "no job %s", id);
    else if (rc != SQLITE_ROW)
        status = sqlite_failed(reg);
    stmt_done(st);
    return status;
}

/* --- jobs: changes ---------------------------------------------------------- */

static int bad_transition(registry *reg, const char *id, registry_job_state from,
                          registry_job_state to) {
    return fail(reg, REGISTRY_BAD_TRANSITION, "job %s cannot go from %s to %s", id,
                state_names[from], state_names[to]);
}

/* The state change, with the job's progress when progress_json is not
 * NULL: one statement, so one commit. */
static int set_state(registry *reg, const char *id, registry_job_state to, const char *error,
                     int64_t now_ms, const char *progress_json, int64_t seq) {
    registry_job_state from;
    if (!state_is_valid(to)) return fail(reg, REGISTRY_EINVAL, "invalid job state %d", (int)to);
    if (!id) return fail(reg, REGISTRY_EINVAL, "no id");
    int status = read_job_state(reg, id, &from);
    if (status != REGISTRY_OK) return status;
    if (!transition_is_valid(from, to)) return bad_transition(reg, id, from, to);
    sqlite3_stmt *st = reg->stmt[JOB_SET_STATE];
    if (bind_text(st, 1, id) || bind_text(st, 2, state_names[to]) || bind_text(st, 3, error) ||
        bind_time_if(st, 4, to == REGISTRY_JOB_RUNNING, now_ms) ||
        bind_time_if(st, 5, registry_job_state_is_final(to), now_ms) ||
        bind_text(st, 6, state_names[from]) || bind_text(st, 7, progress_json) ||
        (progress_json ? sqlite3_bind_int64(st, 8, seq) : sqlite3_bind_null(st, 8)))
        return bind_failed(reg, st);
    if (step_write(reg, st) != SQLITE_DONE) return reg->failure;
    /* The guard on the old state failed: someone else changed it. */
    if (last_write_changed_nothing(reg)) return bad_transition(reg, id, from, to);
    return REGISTRY_OK;
}

int registry_job_set_state(registry *reg, const char *id, registry_job_state to, const char *error,
                           int64_t now_ms) {
    return set_state(reg, id, to, error, now_ms, NULL, 0);
}

int registry_job_end(registry *reg, const char *id, registry_job_state to, const char *error,
                     int64_t now_ms, const char *progress_json, int64_t seq) {
    if (!registry_job_state_is_final(to))
        return fail(reg, REGISTRY_EINVAL, "%s is not a final state", state_names[to]);
    return set_state(reg, id, to, error, now_ms, progress_json, seq);
}

static int set_progress(registry *reg, enum stmt_id stmt, const char *id, const char *progress_json,
                        int64_t seq) {
    if (!id) return fail(reg, REGISTRY_EINVAL, "no id");
    sqlite3_stmt *st = reg->stmt[stmt];
    if (bind_text(st, 1, id) || bind_text(st, 2, progress_json) || sqlite3_bind_int64(st, 3, seq))
        return bind_failed(reg, st);
    if (step_write_reserve(reg, st, 0) != SQLITE_DONE) return reg->failure;
    if (last_write_changed_nothing(reg)) return fail(reg, REGISTRY_NOT_FOUND, "no job %s", id);
    return REGISTRY_OK;
}

int registry_job_set_progress(registry *reg, const char *id, const char *progress_json,
                              int64_t seq) {
    return set_progress(reg, JOB_SET_PROGRESS, id, progress_json, seq);
}

int registry_job_set_running_progress(registry *reg, const char *id, const char *progress_json,
                                      int64_t seq) {
    return set_progress(reg, JOB_SET_RUNNING_PROGRESS, id, progress_json, seq);
}

/* Runs the write stmt, bound to the job id and guarded by its state in
 * SQL. When it changed nothing, tells a missing job (REGISTRY_NOT_FOUND)
 * from one in a state the guard refused: refused, with the message
 * "job ID BEFORE STATE AFTER". */
static int guarded_job_write(registry *reg, enum stmt_id stmt, const char *id, int refused,
                             const char *before, const char *after) {
    if (!id) return fail(reg, REGISTRY_EINVAL, "no id");
    sqlite3_stmt *st = reg->stmt[stmt];
    if (bind_text(st, 1, id)) return bind_failed(reg, st);
    if (step_write(reg, st) != SQLITE_DONE) return reg->failure;
    if (!last_write_changed_nothing(reg)) return REGISTRY_OK;
    registry_job_state state;
    int status = read_job_state(reg, id, &state);
    if (status != REGISTRY_OK) return status;
    return fail(reg, refused, "job %s %s %s%s", id, before, state_names[state], after);
}

int registry_job_delete(registry *reg, const char *id) {
    return guarded_job_write(reg, JOB_DELETE, id, REGISTRY_IN_USE, "is", ": cancel it first");
}

/* One recovery step: binds what the statement takes, runs it, counts. */
static int recover_step(registry *reg, enum stmt_id id, const registry_recovery_args *r,
                        int *changed) {
    sqlite3_stmt *st = reg->stmt[id];
    int bad = 0;
    if (id != JOB_REQUEUE)
        bad = sqlite3_bind_int64(st, 1, r->now_ms) || sqlite3_bind_int64(st, 2, r->seq_gap);
    if (!bad && id == JOB_RECOVER_CRASHED)
        bad = bind_text(st, 3, r->crash_error) || sqlite3_bind_int64(st, 4, r->crash_limit);
    if (bad) return bind_failed(reg, st);
    if (step_write(reg, st) != SQLITE_DONE) return reg->failure;
    *changed = sqlite3_changes(reg->db);
    return REGISTRY_OK;
}

/* The recovery's three writes (registry_write_together makes them one
 * transaction, tried again after the reserve is released on a full disk:
 * a start on a full disk). */
typedef struct recovery_writes {
    const registry_recovery_args *args;
    registry_recovery *out;
} recovery_writes;

static int write_recovery(registry *reg, void *ctx) {
    const recovery_writes *w = ctx;
    int status = recover_step(reg, JOB_RECOVER_CANCELLED, w->args, &w->out->cancelled);
    if (status == REGISTRY_OK)
        status = recover_step(reg, JOB_RECOVER_CRASHED, w->args, &w->out->crash_looped);
    if (status == REGISTRY_OK) status = recover_step(reg, JOB_REQUEUE, w->args, &w->out->requeued);
    return status;
}

int registry_jobs_recover(registry *reg, const registry_recovery_args *args,
                          registry_recovery *out) {
    *out = (registry_recovery){0};
    if (args->crash_limit < 1 || !args->crash_error || args->seq_gap < 0)
        return fail(reg, REGISTRY_EINVAL, "bad recovery arguments");
    recovery_writes writes = {.args = args, .out = out};
    int status = registry_write_together(reg, write_recovery, &writes);
    if (status != REGISTRY_OK) *out = (registry_recovery){0};
    return status;
}

int registry_job_request_cancel(registry *reg, const char *id) {
    return guarded_job_write(reg, JOB_REQUEST_CANCEL, id, REGISTRY_BAD_TRANSITION, "has already",
                             "");
}

int registry_jobs_stopped_cleanly(registry *reg) {
    if (step_write(reg, reg->stmt[JOB_CLEAN_STOP]) != SQLITE_DONE) return reg->failure;
    return REGISTRY_OK;
}

/* --- jobs: lists ------------------------------------------------------------ */

/* The WHERE clause of a filtered list; binds ?1 created, ?2 id, ?3 limit,
 * then the filter's values from ?4 in the order written here. */
static void filter_sql(const registry_job_filter *f, char *sql, size_t cap) {
    size_t n = (size_t)snprintf(sql, cap,
                                "SELECT " JOB_COLUMNS " FROM jobs WHERE (created, id) > (?1, ?2)");
    int next = 4;
    if (f->state) n += (size_t)snprintf(sql + n, cap - n, " AND state = ?%d", next++);
    if (f->owner) n += (size_t)snprintf(sql + n, cap - n, " AND owner = ?%d", next++);
    if (f->name) n += (size_t)snprintf(sql + n, cap - n, " AND name = ?%d", next++);
    for (size_t t = 0; t < f->ntags && n < cap; t++)
        n += (size_t)snprintf(sql + n, cap - n,
                              " AND EXISTS (SELECT 1 FROM json_each(tags) WHERE value = ?%d)",
                              next++);
    if (n < cap) snprintf(sql + n, cap - n, " ORDER BY created, id LIMIT ?3");
}

static int bind_filter(sqlite3_stmt *st, const registry_job_filter *f) {
    int next = 4, rc = 0;
    if (f->state) rc |= bind_text(st, next++, state_names[*f->state]);
    if (f->owner) rc |= sqlite3_bind_int64(st, next++, f->owner);
    if (f->name) rc |= bind_text(st, next++, f->name);
    for (size_t t = 0; t < f->ntags; t++)
        rc |= bind_text(st, next++, f->tags[t]);
    return rc;
}

/* Up to limit jobs after (created, id) that pass f, into rows. */
static int collect_jobs(registry *reg, const registry_job_filter *f, int64_t created,
                        const char *id, int limit, row_vec *rows) {
    char sql[2048];
    sqlite3_stmt *st;
    filter_sql(f, sql, sizeof sql);
    int status = registry_take(reg, sql, &st), rc = SQLITE_DONE;
    if (status != REGISTRY_OK) return status;
    if (sqlite3_bind_int64(st, 1, created) || bind_text(st, 2, id) ||
        sqlite3_bind_int(st, 3, limit) || bind_filter(st, f))
        status = sqlite_failed(reg);
    while (status == REGISTRY_OK && (rc = sqlite3_step(st)) == SQLITE_ROW) {
        registry_job *job = row_vec_push(rows);
        status = job ? job_from_row(reg, st, job) : fail(reg, REGISTRY_ENOMEM, "out of memory");
    }
    if (status == REGISTRY_OK && rc != SQLITE_DONE) status = sqlite_failed(reg);
    registry_give_back(reg, st);
    return status;
}

static void clear_jobs(row_vec *rows) {
    for (size_t i = 0; i < rows->len; i++)
        registry_job_clear(row_vec_at(rows, i));
    free(rows->rows);
}

int registry_job_list(registry *reg, const registry_job_filter *filter, int page_size,
                      const char *page_token, registry_job_fn fn, void *ctx,
                      char next_token[REGISTRY_TOKEN_SIZE]) {
    static const registry_job_filter everything = {0};
    const registry_job_filter *f = filter ? filter : &everything;
    const registry_job_state *state = f->state;
    int64_t after_created = INT64_MIN;
    char after_id[REGISTRY_ID_MAX + 1] = "";
    /* Read the token before writing next_token: they may share a buffer. */
    int bad_token =
        page_token && page_token[0] && decode_token(page_token, &after_created, after_id) != 0;
    next_token[0] = '\0';
    if (page_size < 1 || page_size > REGISTRY_PAGE_SIZE_MAX)
        return fail(reg, REGISTRY_EINVAL, "page size must be 1..%d", REGISTRY_PAGE_SIZE_MAX);
    if (state && !state_is_valid(*state)) return fail(reg, REGISTRY_EINVAL, "invalid job state");
    if (bad_token) return fail(reg, REGISTRY_BAD_TOKEN, "malformed page token");
    if (f->ntags > REGISTRY_FILTER_TAGS_MAX)
        return fail(reg, REGISTRY_EINVAL, "at most %d tags", REGISTRY_FILTER_TAGS_MAX);
    /* One row more than asked tells whether another page follows. */
    row_vec rows = {.row_size = sizeof(registry_job)};
    int status = collect_jobs(reg, f, after_created, after_id, page_size + 1, &rows);
    if (status == REGISTRY_OK && rows.len > (size_t)page_size) {
        registry_job_clear(row_vec_at(&rows, --rows.len));
        const registry_job *last = row_vec_at(&rows, rows.len - 1);
        encode_token(last->created_ms, last->id, next_token);
    }
    for (size_t i = 0; status == REGISTRY_OK && i < rows.len; i++)
        status = fn(ctx, row_vec_at(&rows, i));
    if (status != REGISTRY_OK) next_token[0] = '\0';
    clear_jobs(&rows);
    return status;
}

static void free_ids(row_vec *ids) {
    for (size_t i = 0; i < ids->len; i++)
        free(*(char **)row_vec_at(ids, i));
    free(ids->rows);
}

/* Steps st to its end, then calls fn with each id of its first column. */
static int walk_ids(registry *reg, sqlite3_stmt *st, registry_id_fn fn, void *ctx) {
    row_vec ids = {.row_size = sizeof(char *)};
    int rc, status = REGISTRY_OK;
    while (status == REGISTRY_OK && (rc = sqlite3_step(st)) == SQLITE_ROW) {
        char **id = row_vec_push(&ids);
        status = id ? copy_column(st, 0, id) : REGISTRY_ENOMEM;
    }
    if (status == REGISTRY_OK && rc != SQLITE_DONE) status = sqlite_failed(reg);
    if (status == REGISTRY_ENOMEM) fail(reg, status, "out of memory");
    stmt_done(st);
    for (size_t i = 0; status == REGISTRY_OK && i < ids.len; i++)
        status = fn(ctx, *(char **)row_vec_at(&ids, i));
    free_ids(&ids);
    return status;
}

int registry_job_next_queued(registry *reg, registry_id_fn fn, void *ctx) {
    return walk_ids(reg, reg->stmt[JOB_QUEUED_IDS], fn, ctx);
}

int registry_jobs_ended_before(registry *reg, int64_t owner, int64_t finished_ms, int limit,
                               registry_id_fn fn, void *ctx) {
    sqlite3_stmt *st = reg->stmt[JOB_ENDED_BEFORE];
    if (limit <= 0) return fail(reg, REGISTRY_EINVAL, "limit must be positive");
    if (sqlite3_bind_int64(st, 1, owner) != SQLITE_OK ||
        sqlite3_bind_int64(st, 2, finished_ms) != SQLITE_OK ||
        sqlite3_bind_int(st, 3, limit) != SQLITE_OK)
        return bind_failed(reg, st);
    return walk_ids(reg, st, fn, ctx);
}

int registry_job_counts(registry *reg, uint64_t counts[REGISTRY_JOB_STATES]) {
    sqlite3_stmt *st = reg->stmt[JOB_COUNTS];
    registry_job_state state;
    int rc;
    memset(counts, 0, REGISTRY_JOB_STATES * sizeof counts[0]);
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        if (registry_job_state_parse(column_text(st, 0), &state) == REGISTRY_OK)
            counts[state] = (uint64_t)sqlite3_column_int64(st, 1);
    }
    int status = rc == SQLITE_DONE ? REGISTRY_OK : sqlite_failed(reg);
    stmt_done(st);
    return status;
}
