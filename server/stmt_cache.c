/* stmt_cache.c - prepared statements kept by their SQL text (stmt_cache.h).
 * 64 slots searched in turn, each compared by a hash of its text before
 * the text itself (a few dozen statements: a scan is cheaper than the
 * prepare it saves); when all are used, the least recently taken statement
 * that is not out is finalized.
 * Statements are prepared with SQLITE_PREPARE_PERSISTENT. */
#include "stmt_cache.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define CACHE_SLOTS 64 /* distinct statements kept; the registry's filters make fewer */

typedef struct slot {
    char *sql; /* NULL: empty */
    uint64_t hash, last_taken;
    sqlite3_stmt *st;
    int out; /* handed out and not yet given back */
} slot;

struct stmt_cache {
    sqlite3 *db;
    uint64_t clock;
    slot slots[CACHE_SLOTS];
};

static uint64_t text_hash(const char *s) {
    uint64_t h = 1469598103934665603ull; /* FNV-1a */
    for (; *s; s++)
        h = (h ^ (unsigned char)*s) * 1099511628211ull;
    return h;
}

stmt_cache *stmt_cache_new(sqlite3 *db) {
    stmt_cache *c = calloc(1, sizeof *c);
    if (c) c->db = db;
    return c;
}

static void slot_clear(slot *s) {
    sqlite3_finalize(s->st);
    free(s->sql);
    memset(s, 0, sizeof *s);
}

void stmt_cache_free(stmt_cache *c) {
    if (!c) return;
    for (int i = 0; i < CACHE_SLOTS; i++)
        slot_clear(&c->slots[i]);
    free(c);
}

static slot *find(stmt_cache *c, const char *sql, uint64_t h) {
    for (int i = 0; i < CACHE_SLOTS; i++) {
        slot *s = &c->slots[i];
        if (s->sql && s->hash == h && strcmp(s->sql, sql) == 0) return s;
    }
    return NULL;
}

/* An empty slot, else the least recently taken one not out (cleared);
 * NULL when every slot is out. */
static slot *free_slot(stmt_cache *c) {
    slot *oldest = NULL;
    for (int i = 0; i < CACHE_SLOTS; i++) {
        slot *s = &c->slots[i];
        if (!s->sql) return s;
        if (!s->out && (!oldest || s->last_taken < oldest->last_taken)) oldest = s;
    }
    if (oldest) slot_clear(oldest);
    return oldest;
}

int stmt_cache_take(stmt_cache *c, const char *sql, sqlite3_stmt **out) {
    uint64_t h = text_hash(sql);
    slot *s = find(c, sql, h);
    if (s && !s->out) {
        s->out = 1;
        s->last_taken = ++c->clock;
        *out = s->st;
        return SQLITE_OK;
    }
    if (s) /* out already: a nested use gets its own, uncached */
        return sqlite3_prepare_v2(c->db, sql, -1, out, NULL);
    int rc = sqlite3_prepare_v3(c->db, sql, -1, SQLITE_PREPARE_PERSISTENT, out, NULL);
    if (rc != SQLITE_OK) return rc;
    s = free_slot(c);
    char *copy = s ? strdup(sql) : NULL;
    if (!copy) return SQLITE_OK; /* not kept: finalized when given back */
    *s = (slot){.sql = copy, .hash = h, .last_taken = ++c->clock, .st = *out, .out = 1};
    return SQLITE_OK;
}

void stmt_cache_give_back(stmt_cache *c, sqlite3_stmt *st) {
    if (!st) return;
    for (int i = 0; i < CACHE_SLOTS; i++) {
        slot *s = &c->slots[i];
        if (s->st == st && s->out) {
            sqlite3_reset(st);
            sqlite3_clear_bindings(st);
            s->out = 0;
            return;
        }
    }
    sqlite3_finalize(st);
}
