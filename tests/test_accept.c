/* test_accept.c - content negotiation (server/accept.c): q-values, case,
 * parameters, quoted strings and malformed lists, for the types the event
 * and draw streams offer. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>

#include "accept.h"

static void test_q(void **state) {
    (void)state;
    static const struct {
        const char *accept, *offered;
        int want;
    } cases[] = {
        {NULL, "text/csv", 0},
        {"", "text/csv", 0},
        {"*/*", "text/csv", 0}, /* wildcards are not a choice */
        {"text/csv", "text/csv", 1000},
        {"TEXT/CSV", "text/csv", 1000},
        {"text/csv;q=0.5", "text/csv", 500},
        {"text/csv; q=0.25 , text/csv;q=0.75", "text/csv", 750},
        {"text/csv;q=0", "text/csv", 0},
        {"text/csv;q=1.000", "text/csv", 1000},
        {"text/csv;q=junk", "text/csv", 1000}, /* listed: malformed q reads as 1 */
        {"text/csvx", "text/csv", 0},
        {"text/plain;x=\"a, text/csv\"", "text/csv", 0},
        {"text/csv;profile=cmdstan", "text/csv", 1000},
        {"text/csv", "text/csv;profile=cmdstan", 0},
        {"text/csv;profile=cmdstan;q=0.4", "text/csv;profile=cmdstan", 400},
        {"text/csv;charset=utf-8;PROFILE=cmdstan", "text/csv;profile=cmdstan", 1000},
        {"text/csv;profile=other", "text/csv;profile=cmdstan", 0},
        {",,;;,text/csv;;q", "text/csv", 1000},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        int q = accept_q(cases[i].accept, cases[i].offered);
        if (q != cases[i].want)
            print_error("Accept: %s, offered %s: %d\n",
                        cases[i].accept ? cases[i].accept : "(none)", cases[i].offered, q);
        assert_int_equal(q, cases[i].want);
    }
}

static void test_choose(void **state) {
    (void)state;
    static const char *const draws[] = {"application/x-npy", "text/csv;profile=cmdstan", "text/csv",
                                        "application/x-ndjson", "application/json"};
    static const struct {
        const char *accept;
        int want;
    } cases[] = {
        {NULL, -1},
        {"*/*", -1},
        {"application/json", 4},
        {"application/x-npy", 0},
        {"text/csv", 2},
        {"text/csv;profile=cmdstan", 1},
        {"text/csv, text/csv;profile=cmdstan", 1},       /* a tie: the more specific */
        {"application/json, text/csv", 2},               /* a tie: the earlier offered */
        {"application/json, text/csv;q=0.5", 4},         /* q decides */
        {"text/csv;q=0, application/x-ndjson;q=0.1", 3}, /* q=0: not acceptable */
        {"text/csv;q=0", -1},
        {"application/x-ndjson;q=0.9, application/x-npy;q=0.8", 3},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        int got = accept_choose(cases[i].accept, draws, 5);
        if (got != cases[i].want)
            print_error("Accept: %s: %d\n", cases[i].accept ? cases[i].accept : "(none)", got);
        assert_int_equal(got, cases[i].want);
    }
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_q),
        cmocka_unit_test(test_choose),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
