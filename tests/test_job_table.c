/* test_job_table.c - the jobs' hash table (server/job_table.c): get, put,
 * remove against a plain array model over many random operations (so
 * probe runs wrap around and backward-shift deletion is exercised at
 * every load), duplicates, growth, and keys that are not job ids. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "job_table.h"

#define KEYS 5000

static char keys[KEYS][32];
static int values[KEYS];

static void make_keys(void) {
    for (int i = 0; i < KEYS; i++)
        snprintf(keys[i], sizeof keys[i], "%024x", (unsigned)(i * 2654435761u));
}

static void test_empty(void **state) {
    (void)state;
    job_table *t = job_table_new();
    assert_non_null(t);
    assert_int_equal(job_table_count(t), 0);
    assert_null(job_table_get(t, "nothing"));
    assert_null(job_table_remove(t, "nothing"));
    job_table_free(t);
    job_table_free(NULL);
}

static void test_put_get_and_duplicate(void **state) {
    (void)state;
    job_table *t = job_table_new();
    int a = 1, b = 2;
    assert_int_equal(job_table_put(t, "job-a", &a), 0);
    assert_int_equal(job_table_put(t, "job-b", &b), 0);
    assert_int_equal(job_table_put(t, "job-a", &b), -2); /* kept as it was */
    assert_ptr_equal(job_table_get(t, "job-a"), &a);
    assert_ptr_equal(job_table_get(t, "job-b"), &b);
    assert_null(job_table_get(t, "job-c"));
    assert_int_equal(job_table_put(t, "job-c", NULL), -1);
    assert_int_equal(job_table_count(t), 2);
    assert_ptr_equal(job_table_remove(t, "job-a"), &a);
    assert_null(job_table_get(t, "job-a"));
    assert_ptr_equal(job_table_get(t, "job-b"), &b);
    assert_int_equal(job_table_count(t), 1);
    job_table_free(t);
}

/* Every key in, all found, and the table grew past its first size. */
static void test_growth(void **state) {
    (void)state;
    job_table *t = job_table_new();
    for (int i = 0; i < KEYS; i++)
        assert_int_equal(job_table_put(t, keys[i], &values[i]), 0);
    assert_int_equal(job_table_count(t), KEYS);
    for (int i = 0; i < KEYS; i++)
        assert_ptr_equal(job_table_get(t, keys[i]), &values[i]);
    job_table_free(t);
}

/* Random puts and removes, checked against a model after every step: a
 * removal that broke a probe run would lose a later key of the run. */
static void test_random_against_model(void **state) {
    (void)state;
    job_table *t = job_table_new();
    char in[KEYS] = {0};
    size_t count = 0;
    srand(12345);
    for (int step = 0; step < 200000; step++) {
        int k = rand() % 300; /* a small key space: long runs of put and remove */
        if (rand() % 2) {
            int rc = job_table_put(t, keys[k], &values[k]);
            assert_int_equal(rc, in[k] ? -2 : 0);
            count += !in[k];
            in[k] = 1;
        } else {
            void *v = job_table_remove(t, keys[k]);
            assert_ptr_equal(v, in[k] ? &values[k] : NULL);
            count -= in[k];
            in[k] = 0;
        }
        assert_int_equal(job_table_count(t), count);
        if (step % 97 == 0)
            for (int i = 0; i < 300; i++)
                assert_ptr_equal(job_table_get(t, keys[i]), in[i] ? &values[i] : NULL);
    }
    job_table_free(t);
}

/* Remove everything in another order than it went in: empty again, and
 * usable again. */
static void test_remove_all(void **state) {
    (void)state;
    job_table *t = job_table_new();
    for (int i = 0; i < KEYS; i++)
        assert_int_equal(job_table_put(t, keys[i], &values[i]), 0);
    for (int i = KEYS - 1; i >= 0; i -= 2)
        assert_ptr_equal(job_table_remove(t, keys[i]), &values[i]);
    for (int i = 0; i < KEYS; i++)
        assert_ptr_equal(job_table_get(t, keys[i]), (KEYS - 1 - i) % 2 ? &values[i] : NULL);
    for (int i = KEYS - 2; i >= 0; i -= 2)
        assert_ptr_equal(job_table_remove(t, keys[i]), &values[i]);
    assert_int_equal(job_table_count(t), 0);
    for (int i = 0; i < KEYS; i++)
        assert_null(job_table_get(t, keys[i]));
    assert_int_equal(job_table_put(t, keys[7], &values[7]), 0);
    assert_ptr_equal(job_table_get(t, keys[7]), &values[7]);
    job_table_free(t);
}

/* Short, long and near-identical keys are told apart. */
static void test_odd_keys(void **state) {
    (void)state;
    job_table *t = job_table_new();
    static const char *odd[] = {"",
                                "a",
                                "ab",
                                "ba",
                                "a.b-c_d",
                                "0123456789abcdef0123456789abcdef"
                                "0123456789abcdef0123456789abcdef"};
    int v[6];
    for (int i = 0; i < 6; i++)
        assert_int_equal(job_table_put(t, odd[i], &v[i]), 0);
    for (int i = 0; i < 6; i++)
        assert_ptr_equal(job_table_get(t, odd[i]), &v[i]);
    assert_null(job_table_get(t, "abc"));
    job_table_free(t);
}

int main(void) {
    make_keys();
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_empty),      cmocka_unit_test(test_put_get_and_duplicate),
        cmocka_unit_test(test_growth),     cmocka_unit_test(test_random_against_model),
        cmocka_unit_test(test_remove_all), cmocka_unit_test(test_odd_keys),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
