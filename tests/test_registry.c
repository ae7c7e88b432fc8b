/* test_registry.c - the SQLite registry of datasets and jobs: datasets put,
 * get, list and delete (refused while a queued or running job uses one),
 * jobs insert, get, progress and delete, every state transition, keyset
 * pages with and without a state filter, malformed page tokens, restart
 * (clean and after a crash in a child process) with the requeue of
 * interrupted jobs in FIFO order, WAL mode and counts by state. Each test
 * gets a fresh directory and removes it. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <pthread.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "registry.h"
#include "users.h"

/* --- helpers --------------------------------------------------------- */

typedef struct fixture {
    char dir[64];
    registry *reg;
} fixture;

static void unlink_if_there(const char *dir, const char *name) {
    char path[128];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    if (unlink(path) != 0 && errno != ENOENT) print_error("unlink %s: %s\n", path, strerror(errno));
}

/* rmdir fails, and the test with it, if anything else was left behind. */
static void remove_dir(const char *dir) {
    unlink_if_there(dir, "registry.db");
    unlink_if_there(dir, "registry.db-wal");
    unlink_if_there(dir, "registry.db-shm");
    unlink_if_there(dir, "registry.reserve");
    unlink_if_there(dir, "registry.authgen");
    int rc = rmdir(dir);
    if (rc != 0) print_error("rmdir %s: %s\n", dir, strerror(errno));
    assert_int_equal(rc, 0);
}

static registry *open_ok(const char *dir) {
    char err[256] = "unset";
    registry *reg = NULL;
    int rc = registry_open(dir, &reg, err, sizeof err);
    if (rc != REGISTRY_OK) print_error("registry_open: %s\n", err);
    assert_int_equal(rc, REGISTRY_OK);
    assert_non_null(reg);
    assert_string_equal(err, "");
    return reg;
}

static int setup(void **state) {
    fixture *f = calloc(1, sizeof *f);
    if (!f) return -1;
    strcpy(f->dir, "/tmp/test_registry_XXXXXX");
    if (!mkdtemp(f->dir)) return -1;
    f->reg = open_ok(f->dir);
    *state = f;
    return 0;
}

static int teardown(void **state) {
    fixture *f = *state;
    registry_close(f->reg);
    remove_dir(f->dir);
    free(f);
    return 0;
}

static void reopen(fixture *f) {
    registry_close(f->reg);
    f->reg = open_ok(f->dir);
}

static void put_dataset(registry *reg, const char *id, int64_t created) {
    registry_dataset ds = {
        .id = (char *)id, .name = "d", .n = 100, .d = 5, .bytes = 4800, .created_ms = created};
    assert_int_equal(registry_dataset_put(reg, &ds), REGISTRY_OK);
    assert_int_equal(registry_dataset_ref_put(reg, 1, id, "", created), REGISTRY_OK);
}

/* A dataset row no user references (as jobs alone may keep one). */
static void put_bare_dataset(registry *reg, const char *id, int64_t created) {
    registry_dataset ds = {
        .id = (char *)id, .name = "d", .n = 100, .d = 5, .bytes = 4800, .created_ms = created};
    assert_int_equal(registry_dataset_put(reg, &ds), REGISTRY_OK);
}

static void insert_job(registry *reg, const char *id, const char *dataset, int64_t created) {
    registry_job job = {.id = (char *)id,
                        .spec = "{\"chains\":4}",
                        .dataset_id = (char *)dataset,
                        .created_ms = created,
                        .chains = 4,
                        .num_samples = 1000,
                        .d = 5};
    int rc = registry_job_insert(reg, &job);
    if (rc != REGISTRY_OK) print_error("insert %s: %s\n", id, registry_last_error(reg));
    assert_int_equal(rc, REGISTRY_OK);
}

static void set_state(registry *reg, const char *id, registry_job_state to, int64_t now) {
    int rc = registry_job_set_state(reg, id, to, NULL, now);
    if (rc != REGISTRY_OK) print_error("%s -> %d: %s\n", id, to, registry_last_error(reg));
    assert_int_equal(rc, REGISTRY_OK);
}

/* Drives a queued job to state along valid transitions. */
static void drive_to(registry *reg, const char *id, registry_job_state state) {
    if (state == REGISTRY_JOB_QUEUED) return;
    if (state == REGISTRY_JOB_CANCELLED) return set_state(reg, id, state, 2000);
    set_state(reg, id, REGISTRY_JOB_RUNNING, 1000);
    if (state != REGISTRY_JOB_RUNNING) set_state(reg, id, state, 2000);
}

static registry_job_state state_of(registry *reg, const char *id) {
    registry_job job;
    assert_int_equal(registry_job_get(reg, id, &job), REGISTRY_OK);
    registry_job_state state = job.state;
    registry_job_clear(&job);
    return state;
}

typedef struct id_list {
    int n;
    char ids[64][REGISTRY_ID_MAX + 1];
} id_list;

static void id_list_add(id_list *l, const char *id) {
    assert_true(l->n < 64);
    snprintf(l->ids[l->n++], sizeof l->ids[0], "%s", id);
}

static int collect_dataset_id(void *ctx, const registry_dataset *ds) {
    id_list_add(ctx, ds->id);
    return 0;
}

static int collect_job_id(void *ctx, const registry_job *job) {
    id_list_add(ctx, job->id);
    return 0;
}

static int collect_id(void *ctx, const char *id) {
    id_list_add(ctx, id);
    return 0;
}

static void assert_ids(const id_list *l, const char *const *want, int n) {
    assert_int_equal(l->n, n);
    for (int i = 0; i < n; i++)
        assert_string_equal(l->ids[i], want[i]);
}

static void assert_same_string(const char *a, const char *b) {
    if (!a || !b)
        assert_ptr_equal(a, b);
    else
        assert_string_equal(a, b);
}

static void assert_same_job(const registry_job *a, const registry_job *b) {
    assert_string_equal(a->id, b->id);
    assert_string_equal(a->spec, b->spec);
    assert_same_string(a->dataset_id, b->dataset_id);
    assert_int_equal(a->state, b->state);
    assert_int_equal(a->created_ms, b->created_ms);
    assert_int_equal(a->started_ms, b->started_ms);
    assert_int_equal(a->finished_ms, b->finished_ms);
    assert_same_string(a->error, b->error);
    assert_int_equal(a->chains, b->chains);
    assert_int_equal(a->num_samples, b->num_samples);
    assert_int_equal(a->d, b->d);
    assert_same_string(a->progress, b->progress);
    assert_int_equal(a->seq, b->seq);
}

/* A second, independent connection: what another process would see. */
static void query_text(const char *dir, const char *sql, char *out, size_t outlen) {
    char path[128];
    sqlite3 *db;
    sqlite3_stmt *st;
    snprintf(path, sizeof path, "%s/registry.db", dir);
    assert_int_equal(sqlite3_open_v2(path, &db, SQLITE_OPEN_READWRITE, NULL), SQLITE_OK);
    assert_int_equal(sqlite3_prepare_v2(db, sql, -1, &st, NULL), SQLITE_OK);
    assert_int_equal(sqlite3_step(st), SQLITE_ROW);
    snprintf(out, outlen, "%s", (const char *)sqlite3_column_text(st, 0));
    sqlite3_finalize(st);
    sqlite3_close(db);
}

static void exec_sql(const char *dir, const char *sql) {
    char path[128];
    sqlite3 *db;
    snprintf(path, sizeof path, "%s/registry.db", dir);
    assert_int_equal(sqlite3_open_v2(path, &db, SQLITE_OPEN_READWRITE, NULL), SQLITE_OK);
    assert_int_equal(sqlite3_exec(db, sql, NULL, NULL, NULL), SQLITE_OK);
    sqlite3_close(db);
}

/* --- open ------------------------------------------------------------- */

static void test_open_wal_and_schema(void **state) {
    fixture *f = *state;
    char text[32];
    query_text(f->dir, "PRAGMA journal_mode", text, sizeof text);
    assert_string_equal(text, "wal");
    query_text(f->dir, "PRAGMA user_version", text, sizeof text);
    assert_string_equal(text, "3");
    /* Opening again (the schema is there) changes nothing. */
    reopen(f);
    query_text(f->dir, "PRAGMA user_version", text, sizeof text);
    assert_string_equal(text, "3");
}

static void test_open_failures(void **state) {
    fixture *f = *state;
    char err[256] = "", missing[128];
    registry *reg = (registry *)(uintptr_t)1;
    snprintf(missing, sizeof missing, "%s/no/such/dir", f->dir);
    assert_int_equal(registry_open(missing, &reg, err, sizeof err), REGISTRY_EIO);
    assert_null(reg);
    assert_non_null(strstr(err, "registry.db"));

    /* A schema from a newer mcmcd is refused, not downgraded. */
    registry_close(f->reg);
    f->reg = NULL;
    exec_sql(f->dir, "PRAGMA user_version = 99");
    reg = (registry *)(uintptr_t)1;
    assert_int_equal(registry_open(f->dir, &reg, err, sizeof err), REGISTRY_SCHEMA_TOO_NEW);
    assert_null(reg);
    assert_non_null(strstr(err, "99"));
}

static void test_names_and_strings(void **state) {
    (void)state;
    registry_job_state s;
    for (int i = 0; i < REGISTRY_JOB_STATES; i++) {
        const char *name = registry_job_state_name((registry_job_state)i);
        assert_int_equal(registry_job_state_parse(name, &s), REGISTRY_OK);
        assert_int_equal(s, i);
    }
    assert_int_equal(registry_job_state_parse("done", &s), REGISTRY_EINVAL);
    assert_int_equal(registry_job_state_parse(NULL, &s), REGISTRY_EINVAL);
    assert_false(registry_job_state_is_final(REGISTRY_JOB_RUNNING));
    assert_true(registry_job_state_is_final(REGISTRY_JOB_CANCELLED));
    for (int code = REGISTRY_SCHEMA_TOO_NEW; code <= 0; code++)
        assert_non_null(registry_status_str(code));
    assert_string_equal(registry_status_str(REGISTRY_IN_USE), "in use by a queued or running job");
}

/* --- datasets ----------------------------------------------------------- */

static void test_dataset_put_get_list_delete(void **state) {
    registry *reg = ((fixture *)*state)->reg;
    registry_dataset in = {
        .id = "ab12", .name = NULL, .n = 1000, .d = 5, .bytes = 48000, .created_ms = 1700000000123};
    assert_int_equal(registry_dataset_put(reg, &in), REGISTRY_OK);
    assert_int_equal(registry_dataset_ref_put(reg, 1, "ab12", NULL, in.created_ms), REGISTRY_OK);
    put_dataset(reg, "ff00", 10);
    put_dataset(reg, "ee00", 10);

    registry_dataset out;
    assert_int_equal(registry_dataset_get(reg, "ab12", &out), REGISTRY_OK);
    assert_string_equal(out.id, "ab12");
    assert_string_equal(out.name, "");
    assert_int_equal(out.n, 1000);
    assert_int_equal(out.d, 5);
    assert_int_equal(out.bytes, 48000);
    assert_int_equal(out.created_ms, 1700000000123);
    registry_dataset_clear(&out);
    assert_null(out.id);

    id_list l = {0};
    assert_int_equal(registry_dataset_list(reg, 0, collect_dataset_id, &l), REGISTRY_OK);
    assert_ids(&l, (const char *const[]){"ee00", "ff00", "ab12"}, 3);

    /* a referenced dataset stays until its last reference goes */
    assert_int_equal(registry_dataset_delete(reg, "ff00"), REGISTRY_IN_USE);
    assert_int_equal(registry_dataset_ref_delete(reg, 1, "ff00"), REGISTRY_OK);
    assert_int_equal(registry_dataset_delete(reg, "ff00"), REGISTRY_OK);
    assert_int_equal(registry_dataset_delete(reg, "ff00"), REGISTRY_NOT_FOUND);
    assert_int_equal(registry_dataset_get(reg, "ff00", &out), REGISTRY_NOT_FOUND);
    assert_null(out.id);
    assert_non_null(strstr(registry_last_error(reg), "ff00"));
    l.n = 0;
    assert_int_equal(registry_dataset_list(reg, 0, collect_dataset_id, &l), REGISTRY_OK);
    assert_ids(&l, (const char *const[]){"ee00", "ab12"}, 2);
}

static int collect_gone(void *ctx, const char *id) {
    id_list *l = ctx;
    snprintf(l->ids[l->n++], sizeof l->ids[0], "%s", id);
    return 0;
}

/* Two users share one stored dataset, each with a name of their own; it
 * goes when neither references it and no active job uses it. */
static void test_dataset_references(void **state) {
    registry *reg = ((fixture *)*state)->reg;
    int64_t bob;
    assert_int_equal(users_add(reg, "bob", 0, 5, &bob), REGISTRY_OK);
    put_dataset(reg, "ab12", 10); /* admin's, unnamed */
    assert_int_equal(registry_dataset_ref_put(reg, bob, "ab12", "iris", 20), REGISTRY_OK);
    assert_int_equal(registry_dataset_ref_put(reg, bob, "ab12", "", 30), REGISTRY_EXISTS);
    assert_int_equal(registry_dataset_ref_put(reg, bob, "nope", "x", 30), REGISTRY_NOT_FOUND);
    registry_dataset out;
    assert_int_equal(registry_dataset_ref_get(reg, bob, "iris", &out), REGISTRY_OK);
    assert_string_equal(out.id, "ab12");
    assert_string_equal(out.name, "iris"); /* an empty name kept the old one */
    assert_int_equal(out.owner, bob);
    registry_dataset_clear(&out);
    assert_int_equal(registry_dataset_ref_get(reg, 1, "iris", &out), REGISTRY_NOT_FOUND);
    int64_t bytes;
    assert_int_equal(registry_user_dataset_bytes(reg, bob, &bytes), REGISTRY_OK);
    assert_int_equal(bytes, 4800);
    /* a name moves to the newest upload that takes it */
    put_dataset(reg, "cd34", 40);
    assert_int_equal(registry_dataset_ref_put(reg, bob, "cd34", "iris", 50), REGISTRY_OK);
    assert_int_equal(registry_dataset_ref_get(reg, bob, "iris", &out), REGISTRY_OK);
    assert_string_equal(out.id, "cd34");
    registry_dataset_clear(&out);
    id_list l = {0};
    assert_int_equal(registry_dataset_list(reg, bob, collect_dataset_id, &l), REGISTRY_OK);
    assert_ids(&l, (const char *const[]){"ab12", "cd34"}, 2);

    insert_job(reg, "j1", "ab12", 60); /* queued: it needs ab12 */
    assert_int_equal(registry_dataset_ref_delete(reg, 0, "ab12"), REGISTRY_OK);
    id_list gone = {0};
    assert_int_equal(registry_dataset_collect(reg, collect_gone, &gone), REGISTRY_OK);
    assert_int_equal(gone.n, 0);
    assert_int_equal(registry_job_set_state(reg, "j1", REGISTRY_JOB_CANCELLED, NULL, 70),
                     REGISTRY_OK);
    assert_int_equal(registry_dataset_collect(reg, collect_gone, &gone), REGISTRY_OK);
    assert_ids(&gone, (const char *const[]){"ab12"}, 1);
    assert_int_equal(registry_dataset_get(reg, "ab12", &out), REGISTRY_NOT_FOUND);
}

static void test_dataset_duplicate_and_invalid(void **state) {
    registry *reg = ((fixture *)*state)->reg;
    put_dataset(reg, "ab12", 10);
    registry_dataset dup = {
        .id = "ab12", .name = "other", .n = 1, .d = 1, .bytes = 1, .created_ms = 99};
    assert_int_equal(registry_dataset_put(reg, &dup), REGISTRY_EXISTS);
    registry_dataset out;
    assert_int_equal(registry_dataset_get(reg, "ab12", &out), REGISTRY_OK);
    assert_string_equal(out.name, "d"); /* the first one stays */
    assert_int_equal(out.n, 100);
    assert_int_equal(out.created_ms, 10);
    registry_dataset_clear(&out);

    char too_long[REGISTRY_ID_MAX + 2];
    memset(too_long, 'a', sizeof too_long - 1);
    too_long[sizeof too_long - 1] = '\0';
    const char *bad_ids[] = {"", "a/b", "a b", "x:y", "é", too_long};
    for (size_t i = 0; i < sizeof bad_ids / sizeof bad_ids[0]; i++) {
        dup.id = (char *)bad_ids[i];
        assert_int_equal(registry_dataset_put(reg, &dup), REGISTRY_EINVAL);
    }
    too_long[REGISTRY_ID_MAX] = '\0'; /* exactly the maximum is fine */
    dup.id = too_long;
    assert_int_equal(registry_dataset_put(reg, &dup), REGISTRY_OK);
    dup.id = NULL;
    assert_int_equal(registry_dataset_put(reg, &dup), REGISTRY_EINVAL);
    dup.id = "neg";
    dup.n = -1;
    assert_int_equal(registry_dataset_put(reg, &dup), REGISTRY_EINVAL);
}

/* Delete is refused while a queued or running job uses the dataset, and
 * allowed once every such job finished; the finished jobs stay. */
static void test_dataset_delete_while_in_use(void **state) {
    registry *reg = ((fixture *)*state)->reg;
    const registry_job_state finals[] = {REGISTRY_JOB_SUCCEEDED, REGISTRY_JOB_FAILED,
                                         REGISTRY_JOB_CANCELLED};
    for (int i = 0; i < 3; i++) {
        char ds[16], job[16];
        snprintf(ds, sizeof ds, "ds%d", i);
        snprintf(job, sizeof job, "job%d", i);
        put_bare_dataset(reg, ds, 1);
        insert_job(reg, job, ds, 2);
        assert_int_equal(registry_dataset_delete(reg, ds), REGISTRY_IN_USE);
        if (finals[i] != REGISTRY_JOB_CANCELLED) {
            set_state(reg, job, REGISTRY_JOB_RUNNING, 3);
            assert_int_equal(registry_dataset_delete(reg, ds), REGISTRY_IN_USE);
        }
        set_state(reg, job, finals[i], 4);
        assert_int_equal(registry_dataset_delete(reg, ds), REGISTRY_OK);

        registry_job out;
        assert_int_equal(registry_job_get(reg, job, &out), REGISTRY_OK);
        assert_null(out.dataset_id);
        assert_string_equal(out.spec, "{\"chains\":4}");
        assert_int_equal(out.state, finals[i]);
        registry_job_clear(&out);
    }
    /* Two users: one finished, one still queued. */
    put_bare_dataset(reg, "shared", 1);
    insert_job(reg, "a", "shared", 2);
    insert_job(reg, "b", "shared", 3);
    drive_to(reg, "a", REGISTRY_JOB_SUCCEEDED);
    assert_int_equal(registry_dataset_delete(reg, "shared"), REGISTRY_IN_USE);
    set_state(reg, "b", REGISTRY_JOB_CANCELLED, 5);
    assert_int_equal(registry_dataset_delete(reg, "shared"), REGISTRY_OK);
}

/* --- jobs ------------------------------------------------------------------ */

static void test_job_insert_get_update_delete(void **state) {
    registry *reg = ((fixture *)*state)->reg;
    put_dataset(reg, "ab12", 1);
    registry_job in = {.id = "j-1",
                       .spec = "{\"model\":{\"type\":\"logistic_regression\"}}",
                       .dataset_id = "ab12",
                       .state = REGISTRY_JOB_SUCCEEDED, /* not read */
                       .created_ms = 1700000000001,
                       .started_ms = 5,
                       .error = "not read",
                       .chains = 4,
                       .num_samples = 20000,
                       .d = 5,
                       .progress = "x",
                       .seq = 9};
    assert_int_equal(registry_job_insert(reg, &in), REGISTRY_OK);
    registry_job out;
    assert_int_equal(registry_job_get(reg, "j-1", &out), REGISTRY_OK);
    assert_string_equal(out.id, "j-1");
    assert_string_equal(out.spec, in.spec);
    assert_string_equal(out.dataset_id, "ab12");
    assert_int_equal(out.state, REGISTRY_JOB_QUEUED);
    assert_int_equal(out.created_ms, 1700000000001);
    assert_int_equal(out.started_ms, 0);
    assert_int_equal(out.finished_ms, 0);
    assert_null(out.error);
    assert_int_equal(out.chains, 4);
    assert_int_equal(out.num_samples, 20000);
    assert_int_equal(out.d, 5);
    assert_null(out.progress);
    assert_int_equal(out.seq, 0);
    registry_job_clear(&out);

    assert_int_equal(registry_job_insert(reg, &in), REGISTRY_EXISTS);
    in.id = "j-2";
    in.dataset_id = "nope";
    assert_int_equal(registry_job_insert(reg, &in), REGISTRY_NOT_FOUND);
    in.dataset_id = NULL; /* synthetic data */
    assert_int_equal(registry_job_insert(reg, &in), REGISTRY_OK);
    in.id = "j-3";
    in.spec = NULL;
    assert_int_equal(registry_job_insert(reg, &in), REGISTRY_EINVAL);
    in.id = "bad id";
    in.spec = "{}";
    assert_int_equal(registry_job_insert(reg, &in), REGISTRY_EINVAL);

    const char *progress = "[{\"iter\":1000,\"accepted\":512,\"draws\":1000}]";
    assert_int_equal(registry_job_set_progress(reg, "j-1", progress, 17), REGISTRY_OK);
    assert_int_equal(registry_job_set_progress(reg, "nope", progress, 1), REGISTRY_NOT_FOUND);
    assert_int_equal(registry_job_get(reg, "j-1", &out), REGISTRY_OK);
    assert_string_equal(out.progress, progress);
    assert_int_equal(out.seq, 17);
    registry_job_clear(&out);

    /* a running job's progress from the sync thread: never older than the
     * recorded one, and never once the job has ended */
    const char *newer = "[{\"iter\":2000,\"accepted\":900,\"draws\":2000}]";
    assert_int_equal(registry_job_set_running_progress(reg, "j-1", "[]", 16), REGISTRY_NOT_FOUND);
    assert_int_equal(registry_job_set_running_progress(reg, "j-1", newer, 17), REGISTRY_OK);
    assert_int_equal(registry_job_delete(reg, "j-1"), REGISTRY_IN_USE);
    set_state(reg, "j-1", REGISTRY_JOB_RUNNING, 10);
    assert_int_equal(registry_job_set_running_progress(reg, "j-1", newer, 18), REGISTRY_OK);
    assert_int_equal(registry_job_delete(reg, "j-1"), REGISTRY_IN_USE);
    set_state(reg, "j-1", REGISTRY_JOB_SUCCEEDED, 20);
    assert_int_equal(registry_job_set_running_progress(reg, "j-1", "[]", 30), REGISTRY_NOT_FOUND);
    assert_int_equal(registry_job_get(reg, "j-1", &out), REGISTRY_OK);
    assert_string_equal(out.progress, newer);
    assert_int_equal(out.seq, 18);
    registry_job_clear(&out);
    assert_int_equal(registry_job_delete(reg, "j-1"), REGISTRY_OK);
    assert_int_equal(registry_job_get(reg, "j-1", &out), REGISTRY_NOT_FOUND);
    assert_null(out.id);
    assert_int_equal(registry_job_delete(reg, "j-1"), REGISTRY_NOT_FOUND);
    assert_int_equal(registry_job_get(reg, NULL, &out), REGISTRY_EINVAL);
    assert_int_equal(registry_job_delete(reg, NULL), REGISTRY_EINVAL);
    assert_int_equal(registry_job_set_progress(reg, NULL, "[]", 1), REGISTRY_EINVAL);
    /* A deleted id may be used again. */
    in.id = "j-1";
    in.dataset_id = "ab12";
    assert_int_equal(registry_job_insert(reg, &in), REGISTRY_OK);
}

/* Every (from, to) pair of the five states. */
/* registry_write_together: fn's writes are committed together, or, when
 * fn fails after some of them, none is left and fn's status comes back. */
typedef struct two_jobs {
    const char *first, *second; /* second NULL: fail after the first */
} two_jobs;

static int insert_two(registry *reg, void *ctx) {
    const two_jobs *t = ctx;
    insert_job(reg, t->first, NULL, 1);
    if (!t->second) return REGISTRY_EIO;
    insert_job(reg, t->second, NULL, 2);
    return REGISTRY_OK;
}

static void test_write_together(void **state) {
    fixture *f = *state;
    two_jobs both = {"j-a", "j-b"}, half = {"j-c", NULL};
    assert_int_equal(registry_write_together(f->reg, insert_two, &both), REGISTRY_OK);
    assert_int_equal(registry_write_together(f->reg, insert_two, &half), REGISTRY_EIO);
    reopen(f); /* what is on disk */
    registry_job out;
    assert_int_equal(state_of(f->reg, "j-a"), REGISTRY_JOB_QUEUED);
    assert_int_equal(state_of(f->reg, "j-b"), REGISTRY_JOB_QUEUED);
    assert_int_equal(registry_job_get(f->reg, "j-c", &out), REGISTRY_NOT_FOUND);
    /* the failed one left no transaction open: a write of its own commits */
    insert_job(f->reg, "j-d", NULL, 3);
    reopen(f);
    assert_int_equal(state_of(f->reg, "j-d"), REGISTRY_JOB_QUEUED);
}

/* A second connection (registry_open_another) holds the write lock for a
 * while on another thread, as the sync thread's batches do. */
typedef struct lock_holder {
    registry *other;
    int status;
} lock_holder;

static void *hold_then_commit(void *arg) {
    lock_holder *h = arg;
    usleep(50 * 1000);
    h->status = registry_batch_commit(h->other);
    return NULL;
}

/* A write that finds the other connection's lock waits for it in naps of
 * our busy handler (not SQLite's sleeps) and then succeeds; batch writes
 * commit together. */
static void test_second_connection_and_busy_wait(void **state) {
    fixture *f = *state;
    char err[256];
    lock_holder h = {NULL, -1};
    assert_int_equal(registry_open_another(f->dir, &h.other, err, sizeof err), REGISTRY_OK);
    two_jobs both = {"j-o1", "j-o2"};
    assert_int_equal(registry_batch_begin(h.other), REGISTRY_OK);
    assert_int_equal(registry_batch_write(h.other, insert_two, &both), REGISTRY_OK);
    assert_true(registry_batch_open(h.other));
    uint64_t naps = registry_busy_waits(f->reg);
    pthread_t t;
    assert_int_equal(pthread_create(&t, NULL, hold_then_commit, &h), 0);
    insert_job(f->reg, "j-mine", NULL, 1); /* waits for the commit */
    pthread_join(t, NULL);
    assert_int_equal(h.status, REGISTRY_OK);
    assert_true(registry_busy_waits(f->reg) > naps);
    assert_int_equal(state_of(f->reg, "j-o1"), REGISTRY_JOB_QUEUED);
    assert_int_equal(state_of(f->reg, "j-o2"), REGISTRY_JOB_QUEUED);
    assert_int_equal(state_of(f->reg, "j-mine"), REGISTRY_JOB_QUEUED);
    registry_close(h.other);
}

static void test_job_state_transitions(void **state) {
    registry *reg = ((fixture *)*state)->reg;
    static const int valid[REGISTRY_JOB_STATES][REGISTRY_JOB_STATES] = {
        /* to: queued running succeeded failed cancelled */
        [REGISTRY_JOB_QUEUED] = {0, 1, 0, 0, 1},
        [REGISTRY_JOB_RUNNING] = {0, 0, 1, 1, 1},
    };
    for (int from = 0; from < REGISTRY_JOB_STATES; from++) {
        for (int to = 0; to < REGISTRY_JOB_STATES; to++) {
            char id[32];
            snprintf(id, sizeof id, "t-%d-%d", from, to);
            insert_job(reg, id, NULL, 1);
            drive_to(reg, id, (registry_job_state)from);
            registry_job before, after;
            assert_int_equal(registry_job_get(reg, id, &before), REGISTRY_OK);
            int rc = registry_job_set_state(reg, id, (registry_job_state)to, "why", 5000);
            assert_int_equal(rc, valid[from][to] ? REGISTRY_OK : REGISTRY_BAD_TRANSITION);
            assert_int_equal(registry_job_get(reg, id, &after), REGISTRY_OK);
            if (!valid[from][to]) {
                assert_same_job(&before, &after);
                assert_non_null(strstr(registry_last_error(reg), id));
            } else {
                assert_int_equal(after.state, to);
                assert_string_equal(after.error, "why");
                assert_int_equal(after.started_ms,
                                 to == REGISTRY_JOB_RUNNING ? 5000 : before.started_ms);
                assert_int_equal(after.finished_ms,
                                 registry_job_state_is_final((registry_job_state)to) ? 5000 : 0);
            }
            registry_job_clear(&before);
            registry_job_clear(&after);
        }
    }
    assert_int_equal(registry_job_set_state(reg, "nope", REGISTRY_JOB_RUNNING, NULL, 1),
                     REGISTRY_NOT_FOUND);
    assert_int_equal(registry_job_set_state(reg, "t-0-0", (registry_job_state)42, NULL, 1),
                     REGISTRY_EINVAL);
    assert_int_equal(registry_job_set_state(reg, "t-0-0", (registry_job_state)-1, NULL, 1),
                     REGISTRY_EINVAL);
}

/* --- pages ------------------------------------------------------------------ */

typedef struct expected_job {
    int64_t created;
    char id[8];
} expected_job;

static int by_created_then_id(const void *pa, const void *pb) {
    const expected_job *a = pa, *b = pb;
    if (a->created != b->created) return a->created < b->created ? -1 : 1;
    return strcmp(a->id, b->id);
}

/* 25 jobs, created in groups of three with the same millisecond and ids
 * out of order. Every fourth (in insertion order) is running. Fills want
 * with all jobs in list order. */
static void insert_25_jobs(registry *reg, expected_job want[25]) {
    for (int i = 0; i < 25; i++) {
        snprintf(want[i].id, sizeof want[i].id, "j%02d", (i * 7) % 25);
        want[i].created = 1000 + i / 3;
        insert_job(reg, want[i].id, NULL, want[i].created);
        if (i % 4 == 0) set_state(reg, want[i].id, REGISTRY_JOB_RUNNING, 2000);
    }
    qsort(want, 25, sizeof want[0], by_created_then_id);
}

/* Pages through everything and checks sizes, tokens and the exact order. */
static void page_through(registry *reg, const registry_job_state *filter, int page_size,
                         const char *const *want, int n_want) {
    id_list all = {0};
    char token[REGISTRY_TOKEN_SIZE] = "";
    int pages = 0;
    do {
        id_list page = {0};
        char next[REGISTRY_TOKEN_SIZE];
        registry_job_filter f = {.state = filter};
        int rc = registry_job_list(reg, &f, page_size, token, collect_job_id, &page, next);
        assert_int_equal(rc, REGISTRY_OK);
        int left = n_want - all.n;
        assert_int_equal(page.n, left < page_size ? left : page_size);
        for (int i = 0; i < page.n; i++)
            id_list_add(&all, page.ids[i]);
        /* The last page says so, with no empty page after it. */
        assert_int_equal(next[0] == '\0', all.n == n_want);
        strcpy(token, next);
        pages++;
    } while (token[0]);
    assert_int_equal(pages, n_want == 0 ? 1 : (n_want + page_size - 1) / page_size);
    assert_ids(&all, want, n_want);
}

static void test_job_list_pages(void **state) {
    registry *reg = ((fixture *)*state)->reg;
    expected_job jobs[25];
    insert_25_jobs(reg, jobs);
    const char *all[25], *running[25], *queued[25];
    int n_running = 0, n_queued = 0;
    for (int i = 0; i < 25; i++) {
        all[i] = jobs[i].id;
        if (state_of(reg, jobs[i].id) == REGISTRY_JOB_RUNNING)
            running[n_running++] = jobs[i].id;
        else
            queued[n_queued++] = jobs[i].id;
    }
    assert_int_equal(n_running, 7);
    assert_int_equal(n_queued, 18);

    page_through(reg, NULL, 10, all, 25); /* 10 + 10 + 5 */
    page_through(reg, NULL, 25, all, 25);
    page_through(reg, NULL, 1, all, 25);
    page_through(reg, NULL, REGISTRY_PAGE_SIZE_MAX, all, 25);
    registry_job_state filter = REGISTRY_JOB_RUNNING;
    page_through(reg, &filter, 3, running, 7); /* 3 + 3 + 1 */
    filter = REGISTRY_JOB_QUEUED;
    page_through(reg, &filter, 9, queued, 18); /* 9 + 9, the last one exact */
    filter = REGISTRY_JOB_FAILED;
    page_through(reg, &filter, 10, NULL, 0);
}

/* The token holds a position, not a row: deleting the last row seen, or
 * adding rows before it, neither repeats nor skips anything after it. */
static void test_job_list_token_is_a_position(void **state) {
    registry *reg = ((fixture *)*state)->reg;
    expected_job jobs[25];
    insert_25_jobs(reg, jobs);
    id_list page = {0};
    char next[REGISTRY_TOKEN_SIZE];
    assert_int_equal(registry_job_list(reg, NULL, 10, NULL, collect_job_id, &page, next),
                     REGISTRY_OK);
    assert_string_equal(page.ids[9], jobs[9].id);
    set_state(reg, jobs[9].id, REGISTRY_JOB_CANCELLED, 3000); /* queued or running */
    assert_int_equal(registry_job_delete(reg, jobs[9].id), REGISTRY_OK);
    insert_job(reg, "early", NULL, 1);
    page.n = 0;
    assert_int_equal(registry_job_list(reg, NULL, 10, next, collect_job_id, &page, next),
                     REGISTRY_OK);
    assert_int_equal(page.n, 10);
    for (int i = 0; i < 10; i++)
        assert_string_equal(page.ids[i], jobs[10 + i].id);
}

/* base64url without padding, as the registry writes tokens. */
static void encode_raw(const unsigned char *raw, size_t len, char *out) {
    static const char abc[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    unsigned acc = 0;
    int bits = 0;
    for (size_t i = 0; i < len; i++) {
        acc = (acc << 8 | raw[i]) & 0xffff;
        for (bits += 8; bits >= 6; bits -= 6)
            *out++ = abc[(acc >> (bits - 6)) & 63];
    }
    if (bits) *out++ = abc[(acc << (6 - bits)) & 63];
    *out = '\0';
}

static void make_token(unsigned char version, int64_t created, const char *id, char *out) {
    unsigned char raw[256] = {version};
    for (int i = 0; i < 8; i++)
        raw[1 + i] = (unsigned char)((uint64_t)created >> (56 - 8 * i));
    memcpy(raw + 9, id, strlen(id));
    encode_raw(raw, 9 + strlen(id), out);
}

static void test_job_list_bad_tokens(void **state) {
    registry *reg = ((fixture *)*state)->reg;
    expected_job jobs[25];
    insert_25_jobs(reg, jobs);
    char next[REGISTRY_TOKEN_SIZE], good[REGISTRY_TOKEN_SIZE];
    id_list page = {0};
    assert_int_equal(registry_job_list(reg, NULL, 10, NULL, collect_job_id, &page, good),
                     REGISTRY_OK);

    /* A token made by hand the same way is accepted: the format is stable. */
    char made[512];
    make_token(1, jobs[9].created, jobs[9].id, made);
    assert_string_equal(made, good);

    char long_id[REGISTRY_ID_MAX + 2], too_long[300], padded[REGISTRY_TOKEN_SIZE + 2],
        bad_version[512], bad_id[512], empty_id[512], big_id[512], trailing[REGISTRY_TOKEN_SIZE];
    memset(long_id, 'a', sizeof long_id - 1);
    long_id[sizeof long_id - 1] = '\0';
    memset(too_long, 'A', sizeof too_long - 1);
    too_long[sizeof too_long - 1] = '\0';
    snprintf(padded, sizeof padded, "%s=", good);
    make_token(2, 1000, "j00", bad_version);
    make_token(1, 1000, "j/0", bad_id);
    make_token(1, 1000, "", empty_id);
    make_token(1, 1000, long_id, big_id);
    /* A 2-byte id makes 11 bytes: 15 characters with 2 spare bits, which
     * must be zero. Set the lowest one. */
    static const char abc[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    make_token(1, 1000, "ab", trailing);
    char *last = trailing + strlen(trailing) - 1;
    *last = abc[(strchr(abc, *last) - abc) | 1];

    const char *bad[] = {"!!!!", "A",      "AAAA", "a b",    padded, too_long,          bad_version,
                         bad_id, empty_id, big_id, trailing, "AQ",   "~~~~~~~~~~~~~~~~"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        strcpy(next, "stale");
        int rc = registry_job_list(reg, NULL, 10, bad[i], collect_job_id, &page, next);
        if (rc != REGISTRY_BAD_TOKEN) print_error("token %zu '%s' accepted\n", i, bad[i]);
        assert_int_equal(rc, REGISTRY_BAD_TOKEN);
        assert_string_equal(next, "");
    }
    assert_int_equal(registry_job_list(reg, NULL, 0, NULL, collect_job_id, &page, next),
                     REGISTRY_EINVAL);
    assert_int_equal(
        registry_job_list(reg, NULL, REGISTRY_PAGE_SIZE_MAX + 1, NULL, collect_job_id, &page, next),
        REGISTRY_EINVAL);
    registry_job_state nonsense = (registry_job_state)7;
    registry_job_filter f = {.state = &nonsense};
    assert_int_equal(registry_job_list(reg, &f, 10, NULL, collect_job_id, &page, next),
                     REGISTRY_EINVAL);
}

/* A callback's nonzero return stops the walk and comes back. */
static int stop_after_one(void *ctx, const registry_job *job) {
    (void)job;
    return ++*(int *)ctx == 1 ? 7 : 0;
}

static int stop_dataset_after_one(void *ctx, const registry_dataset *ds) {
    (void)ds;
    return ++*(int *)ctx == 1 ? 8 : 0;
}

static void test_callback_stops_walk(void **state) {
    registry *reg = ((fixture *)*state)->reg;
    put_dataset(reg, "a", 1);
    put_dataset(reg, "b", 2);
    insert_job(reg, "x", NULL, 1);
    insert_job(reg, "y", NULL, 2);
    insert_job(reg, "z", NULL, 3);
    int calls = 0;
    char next[REGISTRY_TOKEN_SIZE];
    assert_int_equal(registry_job_list(reg, NULL, 2, NULL, stop_after_one, &calls, next), 7);
    assert_int_equal(calls, 1);
    assert_string_equal(next, "");
    calls = 0;
    assert_int_equal(registry_dataset_list(reg, 0, stop_dataset_after_one, &calls), 8);
    assert_int_equal(calls, 1);
}

/* --- restart ------------------------------------------------------------------ */

static void test_restart_keeps_everything(void **state) {
    fixture *f = *state;
    registry_dataset ds = {.id = "c0ffee",
                           .name = "wells",
                           .n = 3020,
                           .d = 2,
                           .bytes = 72480,
                           .created_ms = 1700000000000};
    assert_int_equal(registry_dataset_put(f->reg, &ds), REGISTRY_OK);
    const char *ids[] = {"q", "r", "s", "f", "c"};
    for (int i = 0; i < 5; i++)
        insert_job(f->reg, ids[i], i % 2 ? "c0ffee" : NULL, 100 + i);
    drive_to(f->reg, "r", REGISTRY_JOB_RUNNING);
    drive_to(f->reg, "s", REGISTRY_JOB_SUCCEEDED);
    set_state(f->reg, "f", REGISTRY_JOB_RUNNING, 1500);
    assert_int_equal(registry_job_set_state(f->reg, "f", REGISTRY_JOB_FAILED, "diverged", 1600),
                     REGISTRY_OK);
    drive_to(f->reg, "c", REGISTRY_JOB_CANCELLED);
    assert_int_equal(registry_job_set_progress(f->reg, "r", "[{\"iter\":5}]", 42), REGISTRY_OK);

    /* Committed on return: a second connection sees it before any close. */
    char text[32];
    query_text(f->dir, "SELECT count(*) FROM jobs", text, sizeof text);
    assert_string_equal(text, "5");

    registry_job before[5], after[5];
    for (int i = 0; i < 5; i++)
        assert_int_equal(registry_job_get(f->reg, ids[i], &before[i]), REGISTRY_OK);
    reopen(f);
    query_text(f->dir, "PRAGMA journal_mode", text, sizeof text);
    assert_string_equal(text, "wal");
    for (int i = 0; i < 5; i++) {
        assert_int_equal(registry_job_get(f->reg, ids[i], &after[i]), REGISTRY_OK);
        assert_same_job(&before[i], &after[i]);
        registry_job_clear(&before[i]);
        registry_job_clear(&after[i]);
    }
    registry_dataset out;
    assert_int_equal(registry_dataset_get(f->reg, "c0ffee", &out), REGISTRY_OK);
    assert_string_equal(out.name, "wells");
    assert_int_equal(out.n, 3020);
    assert_int_equal(out.d, 2);
    assert_int_equal(out.bytes, 72480);
    assert_int_equal(out.created_ms, 1700000000000);
    registry_dataset_clear(&out);
}

/* What the daemon does at startup: take each requeued id in FIFO order and
 * mark it running again, calling into the registry from the callback. */
typedef struct restart_ctx {
    registry *reg;
    id_list seen;
} restart_ctx;

static int start_again(void *ctx, const char *id) {
    restart_ctx *r = ctx;
    id_list_add(&r->seen, id);
    return registry_job_set_state(r->reg, id, REGISTRY_JOB_RUNNING, NULL, 9000);
}

/* The child plays a daemon that dies without closing anything. */
static void crash_with_running_jobs(const char *dir) {
    char err[256];
    registry *reg;
    if (registry_open(dir, &reg, err, sizeof err) != REGISTRY_OK) _exit(2);
    struct {
        const char *id;
        int64_t created;
        registry_job_state state;
    } jobs[] = {{"a", 30, REGISTRY_JOB_QUEUED},  {"b", 10, REGISTRY_JOB_RUNNING},
                {"c", 20, REGISTRY_JOB_RUNNING}, {"d", 5, REGISTRY_JOB_SUCCEEDED},
                {"e", 40, REGISTRY_JOB_QUEUED},  {"c2", 20, REGISTRY_JOB_QUEUED}};
    for (size_t i = 0; i < sizeof jobs / sizeof jobs[0]; i++) {
        registry_job job = {.id = (char *)jobs[i].id,
                            .spec = "{}",
                            .created_ms = jobs[i].created,
                            .chains = 2,
                            .num_samples = 10,
                            .d = 3};
        if (registry_job_insert(reg, &job) != REGISTRY_OK) _exit(3);
        if (jobs[i].state != REGISTRY_JOB_QUEUED &&
            registry_job_set_state(reg, jobs[i].id, REGISTRY_JOB_RUNNING, NULL, 500) != 0)
            _exit(4);
        if (jobs[i].state == REGISTRY_JOB_SUCCEEDED &&
            registry_job_set_state(reg, jobs[i].id, jobs[i].state, NULL, 600) != 0)
            _exit(5);
    }
    if (registry_job_set_progress(reg, "b", "[{\"iter\":7}]", 12) != REGISTRY_OK) _exit(6);
    _exit(0); /* no registry_close: the WAL is left as a crash leaves it */
}

/* The recovery of a start after a crash, with no cancel asked and a crash
 * limit never reached: every running job goes back to queued. Returns how
 * many did. */
static int requeue_interrupted(registry *reg) {
    registry_recovery_args args = {
        .crash_limit = 1000, .crash_error = "crash_loop: x", .now_ms = 1, .seq_gap = 0};
    registry_recovery rec;
    assert_int_equal(registry_jobs_recover(reg, &args, &rec), REGISTRY_OK);
    assert_int_equal(rec.cancelled + rec.crash_looped, 0);
    return rec.requeued;
}

static void test_restart_after_crash_requeues_fifo(void **state) {
    fixture *f = *state;
    registry_close(f->reg);
    f->reg = NULL;
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) crash_with_running_jobs(f->dir);
    int status;
    assert_int_equal(waitpid(pid, &status, 0), pid);
    assert_true(WIFEXITED(status));
    assert_int_equal(WEXITSTATUS(status), 0);

    f->reg = open_ok(f->dir);
    assert_int_equal(state_of(f->reg, "b"), REGISTRY_JOB_RUNNING);
    assert_int_equal(requeue_interrupted(f->reg), 2);
    assert_int_equal(requeue_interrupted(f->reg), 0);
    registry_job b;
    assert_int_equal(registry_job_get(f->reg, "b", &b), REGISTRY_OK);
    assert_int_equal(b.state, REGISTRY_JOB_QUEUED);
    assert_int_equal(b.started_ms, 0);
    assert_null(b.progress);
    assert_int_equal(b.seq, 12); /* event numbers go on from here */
    registry_job_clear(&b);
    assert_int_equal(state_of(f->reg, "d"), REGISTRY_JOB_SUCCEEDED);

    restart_ctx r = {.reg = f->reg};
    assert_int_equal(registry_job_next_queued(f->reg, start_again, &r), REGISTRY_OK);
    assert_ids(&r.seen, (const char *const[]){"b", "c", "c2", "a", "e"}, 5);
    uint64_t counts[REGISTRY_JOB_STATES];
    assert_int_equal(registry_job_counts(f->reg, counts), REGISTRY_OK);
    assert_int_equal(counts[REGISTRY_JOB_RUNNING], 5);
    assert_int_equal(counts[REGISTRY_JOB_SUCCEEDED], 1);
    id_list none = {0};
    assert_int_equal(registry_job_next_queued(f->reg, collect_id, &none), REGISTRY_OK);
    assert_int_equal(none.n, 0);
}

/* --- counts --------------------------------------------------------------- */

static void test_job_counts(void **state) {
    registry *reg = ((fixture *)*state)->reg;
    uint64_t counts[REGISTRY_JOB_STATES] = {9, 9, 9, 9, 9};
    assert_int_equal(registry_job_counts(reg, counts), REGISTRY_OK);
    for (int i = 0; i < REGISTRY_JOB_STATES; i++)
        assert_int_equal(counts[i], 0);

    const int want[REGISTRY_JOB_STATES] = {4, 3, 2, 1, 5};
    int k = 0;
    for (int s = 0; s < REGISTRY_JOB_STATES; s++) {
        for (int i = 0; i < want[s]; i++) {
            char id[16];
            snprintf(id, sizeof id, "k%d", k++);
            insert_job(reg, id, NULL, k);
            drive_to(reg, id, (registry_job_state)s);
        }
    }
    assert_int_equal(registry_job_counts(reg, counts), REGISTRY_OK);
    for (int s = 0; s < REGISTRY_JOB_STATES; s++)
        assert_int_equal(counts[s], want[s]);
}

/* --- recovery after a crash: durable cancels, crash loops ---------------- */

static registry_job job_row(registry *reg, const char *id) {
    registry_job job;
    assert_int_equal(registry_job_get(reg, id, &job), REGISTRY_OK);
    return job;
}

/* A crash: every running job goes back to queued, then starts again. */
static void crash_and_restart(registry *reg, const char *id) {
    assert_true(requeue_interrupted(reg) >= 1);
    set_state(reg, id, REGISTRY_JOB_RUNNING, 1500);
}

static void test_recover_cancels_and_crash_loops(void **state) {
    fixture *f = *state;
    insert_job(f->reg, "queued", NULL, 10);
    insert_job(f->reg, "again", NULL, 20);
    insert_job(f->reg, "cancel", NULL, 30);
    insert_job(f->reg, "loop", NULL, 40);
    insert_job(f->reg, "done", NULL, 50);
    drive_to(f->reg, "done", REGISTRY_JOB_SUCCEEDED);
    drive_to(f->reg, "loop", REGISTRY_JOB_RUNNING);
    crash_and_restart(f->reg, "loop");
    crash_and_restart(f->reg, "loop");
    drive_to(f->reg, "again", REGISTRY_JOB_RUNNING);
    drive_to(f->reg, "cancel", REGISTRY_JOB_RUNNING);
    registry_job row = job_row(f->reg, "loop");
    assert_int_equal(row.starts, 3);
    assert_int_equal(row.cancel_requested, 0);
    registry_job_clear(&row);

    /* a cancel is recorded while the job is active, refused once it ended */
    assert_int_equal(registry_job_request_cancel(f->reg, "cancel"), REGISTRY_OK);
    assert_int_equal(registry_job_request_cancel(f->reg, "done"), REGISTRY_BAD_TRANSITION);
    assert_int_equal(registry_job_request_cancel(f->reg, "nosuch"), REGISTRY_NOT_FOUND);
    assert_int_equal(registry_job_set_progress(f->reg, "cancel", "[{\"draws\":7}]", 40),
                     REGISTRY_OK);
    assert_int_equal(registry_job_set_progress(f->reg, "loop", "[{\"draws\":3}]", 50), REGISTRY_OK);

    registry_recovery_args args = {
        .crash_limit = 3, .crash_error = "crash_loop: x", .now_ms = 7777, .seq_gap = 1000};
    registry_recovery rec;
    assert_int_equal(registry_jobs_recover(f->reg, &args, &rec), REGISTRY_OK);
    assert_int_equal(rec.cancelled, 1);
    assert_int_equal(rec.crash_looped, 1);
    assert_int_equal(rec.requeued, 1);

    row = job_row(f->reg, "cancel"); /* ends as asked, its progress kept */
    assert_int_equal(row.state, REGISTRY_JOB_CANCELLED);
    assert_int_equal(row.finished_ms, 7777);
    assert_int_equal(row.seq, 1040);
    assert_string_equal(row.progress, "[{\"draws\":7}]");
    assert_null(row.error);
    registry_job_clear(&row);
    row = job_row(f->reg, "loop");
    assert_int_equal(row.state, REGISTRY_JOB_FAILED);
    assert_string_equal(row.error, "crash_loop: x");
    assert_string_equal(row.progress, "[{\"draws\":3}]");
    assert_int_equal(row.seq, 1050);
    registry_job_clear(&row);
    row = job_row(f->reg, "again"); /* one start: runs again, its count kept */
    assert_int_equal(row.state, REGISTRY_JOB_QUEUED);
    assert_int_equal(row.starts, 1);
    registry_job_clear(&row);
    assert_int_equal(state_of(f->reg, "queued"), REGISTRY_JOB_QUEUED);
    assert_int_equal(state_of(f->reg, "done"), REGISTRY_JOB_SUCCEEDED);

    /* nothing left running: a second pass changes nothing */
    assert_int_equal(registry_jobs_recover(f->reg, &args, &rec), REGISTRY_OK);
    assert_int_equal(rec.cancelled + rec.crash_looped + rec.requeued, 0);
    args.crash_limit = 0;
    assert_int_equal(registry_jobs_recover(f->reg, &args, &rec), REGISTRY_EINVAL);
}

/* A clean stop is no crash: the running jobs' starts go back to 0. */
static void test_clean_stop_resets_starts(void **state) {
    fixture *f = *state;
    insert_job(f->reg, "a", NULL, 10);
    drive_to(f->reg, "a", REGISTRY_JOB_RUNNING);
    crash_and_restart(f->reg, "a");
    assert_int_equal(registry_jobs_stopped_cleanly(f->reg), REGISTRY_OK);
    registry_job row = job_row(f->reg, "a");
    assert_int_equal(row.starts, 0);
    registry_job_clear(&row);
    registry_recovery_args args = {.crash_limit = 1, .crash_error = "crash_loop: x", .now_ms = 1};
    registry_recovery rec;
    assert_int_equal(registry_jobs_recover(f->reg, &args, &rec), REGISTRY_OK);
    assert_int_equal(rec.requeued, 1);
    assert_int_equal(rec.crash_looped, 0);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_open_wal_and_schema, setup, teardown),
        cmocka_unit_test_setup_teardown(test_open_failures, setup, teardown),
        cmocka_unit_test_setup_teardown(test_second_connection_and_busy_wait, setup, teardown),
        cmocka_unit_test(test_names_and_strings),
        cmocka_unit_test_setup_teardown(test_dataset_put_get_list_delete, setup, teardown),
        cmocka_unit_test_setup_teardown(test_dataset_duplicate_and_invalid, setup, teardown),
        cmocka_unit_test_setup_teardown(test_dataset_references, setup, teardown),
        cmocka_unit_test_setup_teardown(test_dataset_delete_while_in_use, setup, teardown),
        cmocka_unit_test_setup_teardown(test_job_insert_get_update_delete, setup, teardown),
        cmocka_unit_test_setup_teardown(test_write_together, setup, teardown),
        cmocka_unit_test_setup_teardown(test_job_state_transitions, setup, teardown),
        cmocka_unit_test_setup_teardown(test_job_list_pages, setup, teardown),
        cmocka_unit_test_setup_teardown(test_job_list_token_is_a_position, setup, teardown),
        cmocka_unit_test_setup_teardown(test_job_list_bad_tokens, setup, teardown),
        cmocka_unit_test_setup_teardown(test_callback_stops_walk, setup, teardown),
        cmocka_unit_test_setup_teardown(test_restart_keeps_everything, setup, teardown),
        cmocka_unit_test_setup_teardown(test_restart_after_crash_requeues_fifo, setup, teardown),
        cmocka_unit_test_setup_teardown(test_job_counts, setup, teardown),
        cmocka_unit_test_setup_teardown(test_recover_cancels_and_crash_loops, setup, teardown),
        cmocka_unit_test_setup_teardown(test_clean_stop_resets_starts, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
