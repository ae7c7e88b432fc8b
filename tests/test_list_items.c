/* test_list_items.c - the kept list items of ended jobs: found by id in
 * their users' generation only, replaced in place, the least recently used
 * dropped past the capacity. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "list_items.h"

static void test_get_put_generation(void **state) {
    (void)state;
    list_items *l = list_items_new(4);
    assert_non_null(l);
    assert_null(list_items_get(l, "a", 0));
    list_items_put(l, "a", 0, strdup("{\"id\":\"a\"}"));
    assert_string_equal(list_items_get(l, "a", 0), "{\"id\":\"a\"}");
    assert_null(list_items_get(l, "a", 1)); /* a user's name changed since */
    list_items_put(l, "a", 1, strdup("{\"id\":\"a\",\"v\":2}"));
    assert_string_equal(list_items_get(l, "a", 1), "{\"id\":\"a\",\"v\":2}");
    assert_int_equal(list_items_count(l), 1);
    list_items_free(l);
}

static void test_least_recently_used_goes(void **state) {
    (void)state;
    list_items *l = list_items_new(3);
    char id[8];
    for (int i = 0; i < 3; i++) {
        snprintf(id, sizeof id, "j%d", i);
        list_items_put(l, id, 0, strdup(id));
    }
    assert_non_null(list_items_get(l, "j0", 0)); /* j0 used: j1 is now the oldest */
    list_items_put(l, "j3", 0, strdup("j3"));
    assert_int_equal(list_items_count(l), 3);
    assert_null(list_items_get(l, "j1", 0));
    assert_string_equal(list_items_get(l, "j0", 0), "j0");
    assert_string_equal(list_items_get(l, "j2", 0), "j2");
    assert_string_equal(list_items_get(l, "j3", 0), "j3");
    /* many more than it holds: it stays at its capacity (ASan: no leak) */
    for (int i = 0; i < 1000; i++) {
        snprintf(id, sizeof id, "k%d", i);
        list_items_put(l, id, 0, strdup(id));
    }
    assert_int_equal(list_items_count(l), 3);
    assert_string_equal(list_items_get(l, "k999", 0), "k999");
    list_items_free(l);
}

static void test_nothing_kept_at_capacity_zero(void **state) {
    (void)state;
    list_items *l = list_items_new(0);
    list_items_put(l, "a", 0, strdup("x"));
    assert_null(list_items_get(l, "a", 0));
    assert_int_equal(list_items_count(l), 0);
    list_items_free(l);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_get_put_generation),
        cmocka_unit_test(test_least_recently_used_goes),
        cmocka_unit_test(test_nothing_kept_at_capacity_zero),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
