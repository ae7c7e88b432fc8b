/* registry_internal.h - for the modules that keep their own tables in the
 * registry's database (users.c, audit.c, idempotency.c): its connection
 * and its error slot. Same rules as registry.h: loop thread only. */
#ifndef MCMCD_REGISTRY_INTERNAL_H
#define MCMCD_REGISTRY_INTERNAL_H

#include <sqlite3.h>

#include "registry.h"

/* How long a statement waits for another connection's write lock, and
 * how long it naps between looks: 20 us first, doubled each time up to
 * 2 ms. */
#define REGISTRY_BUSY_TIMEOUT_MS 5000
#define REGISTRY_BUSY_NAP_US 20
#define REGISTRY_BUSY_NAP_MAX_US 2000

sqlite3 *registry_sqlite(registry *reg);
/* Saves message for registry_last_error; returns status. */
int registry_fail(registry *reg, int status, const char *message);
/* Saves sqlite's last message; returns REGISTRY_FULL, REGISTRY_BUSY or
 * REGISTRY_EIO (registry.h). */
int registry_sqlite_failed(registry *reg);
/* The prepared statement for sql, from the registry's cache of them
 * (stmt_cache.h), in *st: REGISTRY_OK, or a status with its message kept
 * for registry_last_error. Give it back after its last step. */
int registry_take(registry *reg, const char *sql, sqlite3_stmt **st);
/* Resets st and clears its bindings (NULL: nothing to do). */
void registry_give_back(registry *reg, sqlite3_stmt *st);

#endif
