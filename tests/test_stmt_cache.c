/* test_stmt_cache.c - the registry's cache of prepared statements: a
 * statement comes back compiled once, given back clean (reset, no
 * bindings), never handed out twice at once, and bounded in number. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>

#include <cmocka.h>

#include "stmt_cache.h"

typedef struct fixture {
    sqlite3 *db;
    stmt_cache *cache;
} fixture;

static int setup(void **state) {
    static fixture f;
    assert_int_equal(sqlite3_open(":memory:", &f.db), SQLITE_OK);
    assert_int_equal(sqlite3_exec(f.db,
                                  "CREATE TABLE t (x INTEGER); INSERT INTO t VALUES (1), (2);",
                                  NULL, NULL, NULL),
                     SQLITE_OK);
    assert_non_null(f.cache = stmt_cache_new(f.db));
    *state = &f;
    return 0;
}

static int teardown(void **state) {
    fixture *f = *state;
    stmt_cache_free(f->cache);
    assert_int_equal(sqlite3_close(f->db), SQLITE_OK); /* every statement finalized */
    return 0;
}

static void test_same_text_same_statement(void **state) {
    fixture *f = *state;
    sqlite3_stmt *a, *b;
    assert_int_equal(stmt_cache_take(f->cache, "SELECT x FROM t WHERE x = ?1", &a), SQLITE_OK);
    sqlite3_bind_int(a, 1, 2);
    assert_int_equal(sqlite3_step(a), SQLITE_ROW); /* left mid-query */
    stmt_cache_give_back(f->cache, a);
    assert_false(sqlite3_stmt_busy(a)); /* reset: it holds no read transaction */
    assert_int_equal(stmt_cache_take(f->cache, "SELECT x FROM t WHERE x = ?1", &b), SQLITE_OK);
    assert_ptr_equal(a, b);
    /* bindings cleared: ?1 is NULL, which matches no row */
    assert_int_equal(sqlite3_step(b), SQLITE_DONE);
    stmt_cache_give_back(f->cache, b);
}

static void test_nested_use_gets_its_own(void **state) {
    fixture *f = *state;
    sqlite3_stmt *outer, *inner, *again;
    const char *sql = "SELECT count(*) FROM t";
    assert_int_equal(stmt_cache_take(f->cache, sql, &outer), SQLITE_OK);
    assert_int_equal(sqlite3_step(outer), SQLITE_ROW);
    assert_int_equal(stmt_cache_take(f->cache, sql, &inner), SQLITE_OK);
    assert_ptr_not_equal(outer, inner);
    assert_int_equal(sqlite3_step(inner), SQLITE_ROW);
    assert_int_equal(sqlite3_column_int(inner, 0), 2);
    stmt_cache_give_back(f->cache, inner);             /* not kept: finalized */
    assert_int_equal(sqlite3_column_int(outer, 0), 2); /* the outer one is untouched */
    stmt_cache_give_back(f->cache, outer);
    assert_int_equal(stmt_cache_take(f->cache, sql, &again), SQLITE_OK);
    assert_ptr_equal(again, outer);
    stmt_cache_give_back(f->cache, again);
}

static void test_bounded_and_bad_sql(void **state) {
    fixture *f = *state;
    char sql[64];
    sqlite3_stmt *st, *first;
    assert_int_equal(stmt_cache_take(f->cache, "SELECT 0", &first), SQLITE_OK);
    stmt_cache_give_back(f->cache, first);
    /* 200 distinct texts: the cache keeps a bounded number, finalizing the
     * least recently taken; teardown's sqlite3_close proves none leaked */
    for (int i = 1; i <= 200; i++) {
        snprintf(sql, sizeof sql, "SELECT %d", i);
        assert_int_equal(stmt_cache_take(f->cache, sql, &st), SQLITE_OK);
        assert_int_equal(sqlite3_step(st), SQLITE_ROW);
        assert_int_equal(sqlite3_column_int(st, 0), i);
        stmt_cache_give_back(f->cache, st);
    }
    assert_int_equal(sqlite3_exec(f->db, "SELECT 1", NULL, NULL, NULL), SQLITE_OK);
    assert_int_equal(stmt_cache_take(f->cache, "SELEC nothing", &st), SQLITE_ERROR);
    stmt_cache_give_back(f->cache, NULL);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_same_text_same_statement),
        cmocka_unit_test(test_nested_use_gets_its_own),
        cmocka_unit_test(test_bounded_and_bad_sql),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
