/* test_durable.c - the registry's sync thread (server/durable.c): a ticket
 * handed out after a commit is reported done only after a sync that began
 * after it; asks with no commit in between share a ticket; many asks cost
 * at most as many syncs; the loop's connection runs synchronous=NORMAL
 * without autocheckpoint while the thread owns the syncing, and FULL again
 * after durable_stop, which reports every ticket handed out; a WAL past
 * DURABLE_CHECKPOINT_FRAMES is checkpointed by the thread, and then starts
 * over, once per that many frames. Queued writes
 * are made by the thread, those queued while it is busy in one batch (one
 * transaction, one sync), each reported once, on the loop; one that fails
 * is undone alone; durable_stop makes the ones still queued. Each test
 * gets a fresh directory and its own loop. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <sqlite3.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "durable.h"
#include "registry_internal.h"

typedef struct fixture {
    char dir[64];
    uv_loop_t loop;
    registry *reg;
    durable *d;
    uint64_t done; /* the last done reported */
    int reports, failed;
} fixture;

static void on_synced(void *ctx, uint64_t done, int failed) {
    fixture *f = ctx;
    assert_true(done >= f->done); /* never goes back */
    f->done = done;
    f->reports++;
    f->failed = failed;
}

static int setup(void **state) {
    fixture *f = calloc(1, sizeof *f);
    snprintf(f->dir, sizeof f->dir, "/tmp/mcmcd-durable.XXXXXX");
    assert_non_null(mkdtemp(f->dir));
    assert_int_equal(uv_loop_init(&f->loop), 0);
    char err[256];
    assert_int_equal(registry_open(f->dir, &f->reg, err, sizeof err), REGISTRY_OK);
    assert_int_equal(durable_start(&f->loop, f->reg, f->dir, on_synced, f, &f->d, err, sizeof err),
                     0);
    sqlite3_exec(registry_sqlite(f->reg), "CREATE TABLE scratch (x BLOB)", NULL, NULL, NULL);
    *state = f;
    return 0;
}

static void remove_file(const char *dir, const char *name) {
    char path[128];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    unlink(path);
}

static int teardown(void **state) {
    fixture *f = *state;
    durable_stop(f->d);
    uv_run(&f->loop, UV_RUN_DEFAULT); /* closes its handle, frees it */
    assert_int_equal(uv_loop_close(&f->loop), 0);
    registry_close(f->reg);
    remove_file(f->dir, "registry.db");
    remove_file(f->dir, "registry.db-wal");
    remove_file(f->dir, "registry.db-shm");
    remove_file(f->dir, "registry.reserve");
    remove_file(f->dir, "registry.authgen");
    assert_int_equal(rmdir(f->dir), 0);
    free(f);
    return 0;
}

static void commit(fixture *f, size_t bytes) {
    sqlite3_stmt *st;
    sqlite3 *db = registry_sqlite(f->reg);
    assert_int_equal(
        sqlite3_prepare_v2(db, "INSERT INTO scratch VALUES (zeroblob(?1))", -1, &st, NULL),
        SQLITE_OK);
    sqlite3_bind_int64(st, 1, (sqlite3_int64)bytes);
    assert_int_equal(sqlite3_step(st), SQLITE_DONE);
    sqlite3_finalize(st);
}

/* Runs the loop until ticket is reported done (at most ~10 s). */
static void wait_done(fixture *f, uint64_t ticket) {
    for (int i = 0; i < 10000 && f->done < ticket; i++) {
        uv_run(&f->loop, UV_RUN_NOWAIT);
        if (f->done < ticket) usleep(1000);
    }
    assert_true(f->done >= ticket);
    assert_int_equal(f->failed, 0);
}

static int pragma_int(fixture *f, const char *sql) {
    sqlite3_stmt *st;
    assert_int_equal(sqlite3_prepare_v2(registry_sqlite(f->reg), sql, -1, &st, NULL), SQLITE_OK);
    assert_int_equal(sqlite3_step(st), SQLITE_ROW);
    int v = sqlite3_column_int(st, 0);
    sqlite3_finalize(st);
    return v;
}

static void a_commit_gets_a_ticket_that_a_sync_covers(void **state) {
    fixture *f = *state;
    assert_int_equal(pragma_int(f, "PRAGMA synchronous"), 1); /* NORMAL */
    commit(f, 10);
    uint64_t t = durable_ticket(f->d);
    assert_true(t >= 1);
    assert_true(f->done < t); /* not before the loop has heard from the thread */
    wait_done(f, t);
    durable_counts c = durable_counts_of(f->d);
    assert_true(c.syncs >= 1);
}

static void asks_without_a_commit_share_the_ticket(void **state) {
    fixture *f = *state;
    commit(f, 10);
    uint64_t t = durable_ticket(f->d);
    uint64_t asks = durable_counts_of(f->d).asks;
    assert_int_equal(durable_ticket(f->d), t);
    assert_int_equal(durable_ticket(f->d), t);
    assert_int_equal(durable_counts_of(f->d).asks, asks);
    wait_done(f, t);
    commit(f, 10); /* a new commit: a new ticket */
    assert_int_equal(durable_ticket(f->d), t + 1);
    wait_done(f, t + 1);
}

static void many_asks_cost_at_most_as_many_syncs(void **state) {
    fixture *f = *state;
    uint64_t t = 0;
    for (int i = 0; i < 200; i++) {
        commit(f, 100);
        t = durable_ticket(f->d);
    }
    wait_done(f, t);
    durable_counts c = durable_counts_of(f->d);
    assert_int_equal(c.asks, 200);
    assert_true(c.syncs <= c.asks);
    printf("# 200 asks, %llu syncs\n", (unsigned long long)c.syncs);
}

static void a_long_wal_is_checkpointed_by_the_thread(void **state) {
    fixture *f = *state;
    assert_int_equal(pragma_int(f, "PRAGMA wal_autocheckpoint"), 0); /* the loop never does */
    for (int i = 0; i < DURABLE_CHECKPOINT_FRAMES / 8 + 10; i++)
        commit(f, 8 * 4096); /* ~9 frames each */
    uint64_t t = durable_ticket(f->d);
    wait_done(f, t);
    for (int i = 0; i < 5000 && durable_counts_of(f->d).checkpoints == 0; i++)
        usleep(1000);
    assert_true(durable_counts_of(f->d).checkpoints >= 1);
}

/* Commits of ~9 frames, each waited for as an answer would be: the WAL
 * starts over after each checkpoint, so there is one checkpoint per
 * DURABLE_CHECKPOINT_FRAMES frames (not one per commit while the WAL stays
 * long) and the -wal file stops growing. */
static void the_wal_starts_over_after_each_checkpoint(void **state) {
    fixture *f = *state;
    enum { ROUNDS = 4, FRAME = 4096 + 24 }; /* a frame: its header and a 4 KiB page */
    for (int i = 0; i < ROUNDS * DURABLE_CHECKPOINT_FRAMES / 9; i++) {
        commit(f, 8 * 4096);
        wait_done(f, durable_ticket(f->d));
    }
    durable_counts c = durable_counts_of(f->d);
    printf("# %d commits: %llu checkpoints, %llu restarts of the WAL\n",
           ROUNDS * DURABLE_CHECKPOINT_FRAMES / 9, (unsigned long long)c.checkpoints,
           (unsigned long long)c.wal_restarts);
    assert_true(c.wal_restarts >= ROUNDS - 1);
    assert_true(c.checkpoints <= c.wal_restarts + 1);
    char path[128];
    snprintf(path, sizeof path, "%s/registry.db-wal", f->dir);
    struct stat st;
    assert_int_equal(stat(path, &st), 0);
    assert_true(st.st_size <= 2 * DURABLE_CHECKPOINT_FRAMES * FRAME);
}

static void stop_reports_every_ticket_and_gives_full_back(void **state) {
    fixture *f = *state;
    commit(f, 10);
    uint64_t t = durable_ticket(f->d);
    durable_stop(f->d); /* syncs on this thread and reports */
    f->d = NULL;
    assert_true(f->done >= t);
    assert_int_equal(pragma_int(f, "PRAGMA synchronous"), 2); /* FULL */
    assert_int_equal(pragma_int(f, "PRAGMA wal_autocheckpoint"), DURABLE_CHECKPOINT_FRAMES);
}

/* --- queued writes ------------------------------------------------------ */

typedef struct test_write {
    durable_write w; /* first: done gets it back */
    int value, fail, gate, dones;
} test_write;

/* The gate holds the sync thread inside a write, so that the writes
 * queued meanwhile make one batch. */
static atomic_int gate_entered, gate_open;

static int run_insert(registry *reg, void *ctx) {
    test_write *t = ctx;
    if (t->gate) {
        atomic_store(&gate_entered, 1);
        while (!atomic_load(&gate_open))
            usleep(100);
    }
    char sql[96];
    snprintf(sql, sizeof sql, "INSERT INTO scratch VALUES (%d)", t->value);
    if (sqlite3_exec(registry_sqlite(reg), sql, NULL, NULL, NULL) != SQLITE_OK)
        return registry_sqlite_failed(reg);
    return t->fail ? registry_fail(reg, REGISTRY_EINVAL, "refused on purpose") : REGISTRY_OK;
}

static void on_written(durable_write *w) {
    ((test_write *)w)->dones++;
}

static void queue_write(fixture *f, test_write *t, int value) {
    t->value = value;
    t->w = (durable_write){.run = run_insert, .done = on_written, .ctx = t};
    durable_write_queue(f->d, &t->w);
}

static void wait_written(fixture *f, test_write *t, int n) {
    for (int i = 0; i < 10000; i++) {
        uv_run(&f->loop, UV_RUN_NOWAIT);
        int left = 0;
        for (int k = 0; k < n; k++)
            left += t[k].dones == 0;
        if (!left) break;
        usleep(1000);
    }
    for (int k = 0; k < n; k++)
        assert_int_equal(t[k].dones, 1); /* each reported once */
}

/* Queues gate, a write that holds the sync thread until release_thread,
 * and returns once the thread is inside it. */
static void hold_thread(fixture *f, test_write *gate) {
    atomic_store(&gate_entered, 0), atomic_store(&gate_open, 0);
    gate->gate = 1;
    queue_write(f, gate, 1000);
    while (!atomic_load(&gate_entered))
        usleep(100);
}

static void release_thread(void) {
    atomic_store(&gate_open, 1);
}

static int rows_with(fixture *f, int value) {
    char sql[96];
    snprintf(sql, sizeof sql, "SELECT count(*) FROM scratch WHERE x = %d", value);
    return pragma_int(f, sql);
}

/* One write holds the thread; the 40 queued meanwhile are one batch. */
static void writes_queued_together_share_a_batch_and_a_sync(void **state) {
    fixture *f = *state;
    test_write t[41];
    memset(t, 0, sizeof t);
    hold_thread(f, &t[0]);
    for (int k = 1; k < 41; k++)
        queue_write(f, &t[k], k);
    durable_counts before = durable_counts_of(f->d);
    release_thread();
    wait_written(f, t, 41);
    durable_counts c = durable_counts_of(f->d);
    for (int k = 0; k < 41; k++) {
        assert_int_equal(t[k].w.status, REGISTRY_OK);
        assert_int_equal(rows_with(f, k ? k : 1000), 1); /* the loop's connection sees it */
    }
    assert_int_equal(c.writes, 41);
    assert_int_equal(c.batches, 2);
    assert_int_equal(c.syncs - before.syncs, 2); /* the gate's batch, then the 40's */
}

/* In one batch: the second write fails; its row goes, the others' stay. */
static void a_failed_write_is_undone_alone(void **state) {
    fixture *f = *state;
    test_write t[4];
    memset(t, 0, sizeof t);
    hold_thread(f, &t[0]);
    t[2].fail = 1;
    for (int k = 1; k < 4; k++)
        queue_write(f, &t[k], k);
    release_thread();
    wait_written(f, t, 4);
    assert_int_equal(t[1].w.status, REGISTRY_OK);
    assert_int_equal(t[2].w.status, REGISTRY_EINVAL);
    assert_string_equal(t[2].w.why, "refused on purpose");
    assert_int_equal(t[3].w.status, REGISTRY_OK);
    assert_int_equal(rows_with(f, 1), 1);
    assert_int_equal(rows_with(f, 2), 0);
    assert_int_equal(rows_with(f, 3), 1);
    assert_int_equal(durable_counts_of(f->d).batches, 2);
}

static void stop_makes_the_queued_writes(void **state) {
    fixture *f = *state;
    test_write t[3];
    memset(t, 0, sizeof t);
    for (int k = 0; k < 3; k++)
        queue_write(f, &t[k], 7);
    durable_stop(f->d); /* reports on this thread */
    f->d = NULL;
    for (int k = 0; k < 3; k++) {
        assert_int_equal(t[k].dones, 1);
        assert_int_equal(t[k].w.status, REGISTRY_OK);
    }
    assert_int_equal(rows_with(f, 7), 3);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(a_commit_gets_a_ticket_that_a_sync_covers, setup, teardown),
        cmocka_unit_test_setup_teardown(asks_without_a_commit_share_the_ticket, setup, teardown),
        cmocka_unit_test_setup_teardown(many_asks_cost_at_most_as_many_syncs, setup, teardown),
        cmocka_unit_test_setup_teardown(a_long_wal_is_checkpointed_by_the_thread, setup, teardown),
        cmocka_unit_test_setup_teardown(the_wal_starts_over_after_each_checkpoint, setup, teardown),
        cmocka_unit_test_setup_teardown(stop_reports_every_ticket_and_gives_full_back, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(writes_queued_together_share_a_batch_and_a_sync, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(a_failed_write_is_undone_alone, setup, teardown),
        cmocka_unit_test_setup_teardown(stop_makes_the_queued_writes, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
