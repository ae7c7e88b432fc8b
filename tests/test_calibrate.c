/* test_calibrate.c - the run-time choice of kernel path (calibrate.h): the
 * measurement times every path this CPU runs in a few milliseconds and
 * picks one of them; the choice is written once and read back without a
 * new measurement; a corrupt or foreign cache file is ignored and
 * rewritten; MCMCD_SIMD wins over the cache; without a cache directory the
 * table's default runs. Each test has its own temporary directory. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "calibrate.h"
#include "simd.h"

typedef struct tmp_dir {
    char dir[256], file[4300];
} tmp_dir;

static int setup(void **state) {
    tmp_dir *t = calloc(1, sizeof *t);
    snprintf(t->dir, sizeof t->dir, "/tmp/test_calibrate.XXXXXX");
    if (!t || !mkdtemp(t->dir)) return -1;
    calibrate_cache_file(t->dir, t->file, sizeof t->file);
    unsetenv("MCMCD_SIMD");
    *state = t;
    return 0;
}

static int teardown(void **state) {
    tmp_dir *t = *state;
    char lock[4400];
    snprintf(lock, sizeof lock, "%s.lock", t->file);
    unlink(t->file);
    unlink(lock);
    rmdir(t->dir);
    free(t);
    unsetenv("MCMCD_SIMD");
    return 0;
}

static double cpu_seconds(void) {
    struct timespec ts;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static size_t runnable_paths(void) {
    size_t n = 0;
    for (size_t i = 0; i < simd_path_count(); i++)
        n += (size_t)simd_path_runs(i);
    return n;
}

static void write_file(const char *path, const char *text) {
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs(text, f);
    assert_int_equal(fclose(f), 0);
}

static int file_has(const char *path, const char *needle) {
    char buf[4096] = "";
    FILE *f = fopen(path, "r");
    if (!f) return 0;
    buf[fread(buf, 1, sizeof buf - 1, f)] = 0;
    fclose(f);
    return strstr(buf, needle) != NULL;
}

/* Every runnable path timed, the default first at 1 exactly, the fastest
 * one of them; the whole measurement well under the tens of milliseconds
 * it may cost (thread CPU time, which a loaded machine barely moves). */
static void test_measure_times_every_path(void **state) {
    (void)state;
    calibrate_result r;
    memset(&r, 0, sizeof r);
    double t0 = cpu_seconds();
    int fastest = calibrate_measure(&r);
    double spent = cpu_seconds() - t0;
    printf("# measurement: %.1f ms of CPU;", 1e3 * spent);
    for (size_t c = 0; c < r.measured; c++)
        printf(" %s %.3f", r.name[c], r.rel[c]);
    printf("\n");
    assert_true(spent < 0.1);
    assert_int_equal(r.measured, runnable_paths());
    assert_true(fastest >= 0 && (size_t)fastest < r.measured);
    assert_string_equal(r.name[0], simd_ops_default()->name);
    assert_true(r.rel[0] == 1.0);
    for (size_t c = 0; c < r.measured; c++) {
        assert_non_null(simd_ops_named(r.name[c]));
        assert_true(isfinite(r.rel[c]) && r.rel[c] > 0);
        assert_true(r.rel[fastest] <= r.rel[c]);
        for (size_t k = 0; k < c; k++)
            assert_string_not_equal(r.name[k], r.name[c]);
    }
}

/* The first start measures and writes; the second reads the same choice
 * and measures nothing: the file is the same inode with the same mtime
 * (a rewrite renames a new file over it), and the times come from it. */
static void test_cache_written_then_reused(void **state) {
    tmp_dir *t = *state;
    calibrate_result first, again;
    calibrate_choose(t->dir, &first);
    assert_int_equal(first.source, CALIBRATE_MEASURED);
    assert_string_equal(first.file, t->file);
    assert_ptr_equal(simd_ops_get(), first.ops);
    assert_non_null(simd_ops_named(first.ops->name));
    char key[600], line[700];
    calibrate_machine_key(key, sizeof key);
    snprintf(line, sizeof line, "machine %s\npath %s\n", key, first.ops->name);
    assert_true(file_has(t->file, line));
    struct stat s1, s2;
    assert_int_equal(stat(t->file, &s1), 0);
    calibrate_choose(t->dir, &again);
    assert_int_equal(again.source, CALIBRATE_CACHED);
    assert_ptr_equal(again.ops, first.ops);
    assert_ptr_equal(simd_ops_get(), first.ops);
    assert_int_equal(stat(t->file, &s2), 0);
    assert_true(s1.st_ino == s2.st_ino);
    assert_true(s1.st_mtim.tv_sec == s2.st_mtim.tv_sec && s1.st_mtim.tv_nsec == s2.st_mtim.tv_nsec);
    assert_int_equal(again.measured, first.measured);
    for (size_t c = 0; c < first.measured; c++) {
        assert_string_equal(again.name[c], first.name[c]);
        assert_true(fabs(again.rel[c] - first.rel[c]) <= 5e-5); /* written with 4 decimals */
    }
    /* a choice other than the default beat it by the margin */
    if (first.ops != simd_ops_default())
        for (size_t c = 0; c < first.measured; c++)
            if (!strcmp(first.name[c], first.ops->name))
                assert_true(first.rel[c] < 1.0 - CALIBRATE_MARGIN);
}

static void assert_rewritten(const tmp_dir *t, const char *why) {
    calibrate_result r;
    calibrate_choose(t->dir, &r);
    assert_int_equal(r.source, CALIBRATE_MEASURED);
    assert_non_null(strstr(r.note, why));
    char key[600];
    calibrate_machine_key(key, sizeof key);
    assert_true(file_has(t->file, key));
    calibrate_choose(t->dir, &r);
    assert_int_equal(r.source, CALIBRATE_CACHED);
}

static void test_corrupt_cache_rewritten(void **state) {
    tmp_dir *t = *state;
    write_file(t->file, "\x7f\x01garbage\npath\nmachine\n");
    assert_rewritten(t, "another machine or build");
}

/* A file for another CPU (as a shared home on a cluster could hold) that
 * names a path: not trusted. */
static void test_foreign_cache_rewritten(void **state) {
    tmp_dir *t = *state;
    write_file(t->file, "machine cpu Other CPU (family 6 model 143 stepping 8); isa avx2 fma; "
                        "kernels 0000000000000000\npath generic\n");
    assert_rewritten(t, "another machine or build");
}

/* This machine's key but a path it cannot run (or this build lacks). */
static void test_unknown_path_rewritten(void **state) {
    tmp_dir *t = *state;
    char key[600], text[800];
    calibrate_machine_key(key, sizeof key);
    snprintf(text, sizeof text, "machine %s\npath sve2\n", key);
    write_file(t->file, text);
    assert_rewritten(t, "no path this CPU runs");
}

/* MCMCD_SIMD wins over a cached choice and leaves the file alone; one that
 * names no path is said and the cache decides. */
static void test_env_overrides_cache(void **state) {
    tmp_dir *t = *state;
    calibrate_result r;
    calibrate_choose(t->dir, &r);
    const simd_ops *cached = r.ops;
    struct stat s1, s2;
    assert_int_equal(stat(t->file, &s1), 0);
    for (size_t i = 0; i < simd_path_count(); i++) {
        if (!simd_path_runs(i)) continue;
        setenv("MCMCD_SIMD", simd_path_name(i), 1);
        calibrate_choose(t->dir, &r);
        assert_int_equal(r.source, CALIBRATE_FORCED);
        assert_string_equal(r.ops->name, simd_path_name(i));
        assert_ptr_equal(simd_ops_get(), r.ops);
    }
    assert_int_equal(stat(t->file, &s2), 0);
    assert_true(s1.st_ino == s2.st_ino && s1.st_mtim.tv_nsec == s2.st_mtim.tv_nsec);
    setenv("MCMCD_SIMD", "no_such_path", 1);
    calibrate_choose(t->dir, &r);
    assert_int_equal(r.source, CALIBRATE_CACHED);
    assert_ptr_equal(r.ops, cached);
    assert_non_null(strstr(r.note, "MCMCD_SIMD=no_such_path"));
    char line[6000];
    calibrate_describe(&r, line, sizeof line);
    printf("# %s\n", line);
    assert_non_null(strstr(line, "cached in"));
}

/* No cache directory: the default, unmeasured, so that a start that cannot
 * record a choice never makes one that the next start could contradict. */
static void test_no_cache_dir_runs_default(void **state) {
    (void)state;
    calibrate_result r;
    calibrate_choose("/proc/self/no/such/dir", &r);
    assert_int_equal(r.source, CALIBRATE_DEFAULT);
    assert_ptr_equal(r.ops, simd_ops_default());
    assert_ptr_equal(simd_ops_get(), simd_ops_default());
    assert_int_equal(r.measured, 0);
    assert_string_equal(r.file, "");
    assert_non_null(strstr(r.note, "no cache directory"));
    calibrate_choose(NULL, &r);
    assert_int_equal(r.source, CALIBRATE_DEFAULT);
}

/* The key names the CPU, its features and the kernels' build; the cache
 * file's name follows the key, the directory is the caller's. */
static void test_machine_key(void **state) {
    tmp_dir *t = *state;
    char key[600], a[4300];
    calibrate_machine_key(key, sizeof key);
    printf("# key: %s\n", key);
    assert_non_null(strstr(key, "cpu "));
    assert_non_null(strstr(key, "; isa "));
    const char *k = strstr(key, "; kernels ");
    assert_non_null(k);
    assert_int_equal(strlen(k + 10), 16);
    calibrate_cache_file("/elsewhere", a, sizeof a);
    assert_string_equal(strrchr(a, '/'), strrchr(t->file, '/'));
    assert_int_equal(strncmp(t->file, t->dir, strlen(t->dir)), 0);
}

static void test_user_dir(void **state) {
    (void)state;
    char buf[4096];
    const char *xdg = getenv("XDG_CACHE_HOME"), *home = getenv("HOME");
    char *saved_xdg = xdg ? strdup(xdg) : NULL, *saved_home = home ? strdup(home) : NULL;
    setenv("XDG_CACHE_HOME", "/x/cache", 1);
    assert_int_equal(calibrate_user_dir(buf, sizeof buf), 0);
    assert_string_equal(buf, "/x/cache/mcmcd");
    unsetenv("XDG_CACHE_HOME");
    setenv("HOME", "/home/u", 1);
    assert_int_equal(calibrate_user_dir(buf, sizeof buf), 0);
    assert_string_equal(buf, "/home/u/.cache/mcmcd");
    unsetenv("HOME");
    assert_int_equal(calibrate_user_dir(buf, sizeof buf), -1);
    if (saved_xdg) setenv("XDG_CACHE_HOME", saved_xdg, 1);
    if (saved_home) setenv("HOME", saved_home, 1);
    free(saved_xdg);
    free(saved_home);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_measure_times_every_path),
        cmocka_unit_test_setup_teardown(test_cache_written_then_reused, setup, teardown),
        cmocka_unit_test_setup_teardown(test_corrupt_cache_rewritten, setup, teardown),
        cmocka_unit_test_setup_teardown(test_foreign_cache_rewritten, setup, teardown),
        cmocka_unit_test_setup_teardown(test_unknown_path_rewritten, setup, teardown),
        cmocka_unit_test_setup_teardown(test_env_overrides_cache, setup, teardown),
        cmocka_unit_test(test_no_cache_dir_runs_default),
        cmocka_unit_test_setup_teardown(test_machine_key, setup, teardown),
        cmocka_unit_test(test_user_dir),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
