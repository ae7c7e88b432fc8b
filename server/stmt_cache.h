/* stmt_cache.h - prepared statements kept by their SQL text, so that a
 * statement run on every request is compiled once per connection, not
 * once per call. Used by the registry (registry_internal.h), on the
 * thread that owns its connection. */
#ifndef MCMCD_STMT_CACHE_H
#define MCMCD_STMT_CACHE_H

#include <sqlite3.h>

typedef struct stmt_cache stmt_cache;

/* A cache for db (which outlives it); NULL on ENOMEM. */
stmt_cache *stmt_cache_new(sqlite3 *db);
/* Finalizes every statement it holds. */
void stmt_cache_free(stmt_cache *c);
/* The statement for sql, reset with no bindings, in *out: SQLITE_OK or
 * sqlite3_prepare's error. A statement already handed out and not yet
 * given back is not handed out twice: a second one is prepared and
 * finalized when it comes back. */
int stmt_cache_take(stmt_cache *c, const char *sql, sqlite3_stmt **out);
/* Gives st back: reset and its bindings cleared (so it holds no read
 * transaction and points at none of the caller's memory). NULL is a
 * no-op. */
void stmt_cache_give_back(stmt_cache *c, sqlite3_stmt *st);

#endif
