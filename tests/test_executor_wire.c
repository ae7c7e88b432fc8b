/* test_executor_wire.c - a block's record between a Slurm task and the
 * daemon (server/executor_wire.c): counters, adaptation and rows come back
 * bit for bit (NaN, -0.0, infinities, denormals included), for every
 * length of rows modulo 3 (base64's padding), and malformed records are
 * refused with the field named. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "executor_wire.h"

static void test_counts_round_trip(void **state) {
    (void)state;
    chain_counts k = {.iter = 12345,
                      .accepted = 999,
                      .draws = 77,
                      .grad_evals = 1ull << 40,
                      .elapsed = 0.1 + 0.2,
                      .divergent = 3,
                      .warmup_elapsed = 1e-300,
                      .step_size = 0.0123456789012345678,
                      .warmup = 1,
                      .nonfinite = 1,
                      .nonfinite_at = 76};
    double inv[3] = {1.5, -0.0, 5e-324};
    chain_adaptation ad = {.known = 1, .step_size = 0.25, .kind = METRIC_DIAG, .d = 3, .inv = inv};
    json_t *rec = wire_counts_json(2, &k, &ad);
    char *text = json_dumps(rec, JSON_COMPACT);
    json_t *back = json_loads(text, 0, NULL);
    chain_counts k2;
    chain_adaptation ad2;
    char why[200] = "";
    assert_int_equal(wire_counts_parse(back, 3, &k2, &ad2, why, sizeof why), 0);
    assert_memory_equal(&k, &k2, offsetof(chain_counts, nonfinite_at) + sizeof k.nonfinite_at);
    assert_true(ad2.known);
    assert_int_equal(ad2.kind, METRIC_DIAG);
    assert_memory_equal(ad2.inv, inv, sizeof inv);
    chain_adaptation_clear(&ad2);
    k.nonfinite = 0, k.nonfinite_at = UINT64_MAX;
    json_decref(rec);
    json_decref(back);
    free(text);
    rec = wire_counts_json(0, &k, NULL);
    assert_int_equal(wire_counts_parse(rec, 3, &k2, &ad2, why, sizeof why), 0);
    assert_true(k2.nonfinite_at == UINT64_MAX && !ad2.known);
    json_decref(rec);
}

static void test_rows_round_trip(void **state) {
    (void)state;
    double rows[3 * 5], stats[3 * 2];
    uint64_t seed = 88172645463325252ull;
    for (size_t i = 0; i < 15; i++) { /* any bits at all */
        seed ^= seed << 13, seed ^= seed >> 7, seed ^= seed << 17;
        memcpy(&rows[i], &seed, 8);
    }
    rows[0] = NAN, rows[1] = -INFINITY, rows[2] = -0.0;
    for (size_t i = 0; i < 6; i++)
        stats[i] = (double)i / 7;
    for (uint32_t count = 0; count <= 3; count++) { /* 0, 40, 80, 120 bytes: every padding */
        chain_block b = {.chain = 1,
                         .first_draw = 10,
                         .count = count,
                         .d = 5,
                         .draws = rows,
                         .stats = stats,
                         .nstats = 2};
        json_t *rec = json_object();
        assert_int_equal(wire_add_rows(rec, &b), 0);
        uint64_t first;
        uint32_t n;
        double *r, *s;
        char why[200] = "";
        assert_int_equal(wire_rows_parse(rec, 5, 2, &first, &n, &r, &s, why, sizeof why), 0);
        assert_int_equal(first, 10);
        assert_int_equal(n, count);
        if (count) assert_memory_equal(r, rows, count * 5 * sizeof(double));
        if (count) assert_memory_equal(s, stats, count * 2 * sizeof(double));
        free(r), free(s);
        /* the same rows read as another width do not fit */
        assert_int_equal(
            count ? wire_rows_parse(rec, 4, 2, &first, &n, &r, &s, why, sizeof why) : -1, -1);
        json_decref(rec);
    }
}

static void test_malformed(void **state) {
    (void)state;
    static const char *const bad[] = {
        "{\"iter\": -1, \"accepted\": 0, \"draws\": 0, \"grad_evals\": 0, \"divergent\": 0}",
        "{\"iter\": 1, \"accepted\": 0, \"draws\": \"x\", \"grad_evals\": 0, \"divergent\": 0}",
        "{\"iter\": 1, \"accepted\": 0, \"draws\": 0, \"grad_evals\": 0, \"divergent\": 0, "
        "\"adapt\": {\"kind\": 1, \"inv\": \"AAAA\"}}",
        "{\"iter\": 1, \"accepted\": 0, \"draws\": 0, \"grad_evals\": 0, \"divergent\": 0, "
        "\"adapt\": {\"kind\": 7, \"inv\": \"\"}}",
    };
    static const char *const paths[] = {"iter", "draws", "adapt.inv", "adapt"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        json_t *rec = json_loads(bad[i], 0, NULL);
        chain_counts k;
        chain_adaptation ad;
        char why[200] = "";
        assert_non_null(rec);
        assert_int_equal(wire_counts_parse(rec, 2, &k, &ad, why, sizeof why), -1);
        assert_true(strncmp(why, paths[i], strlen(paths[i])) == 0);
        json_decref(rec);
    }
    json_t *rec = json_pack("{s:i, s:i, s:s, s:s}", "first_draw", 0, "count", 1, "rows",
                            "AAAAAAAAAA!=", "stats", "");
    uint64_t first;
    uint32_t n;
    double *r, *s;
    char why[200] = "";
    assert_int_equal(wire_rows_parse(rec, 1, 0, &first, &n, &r, &s, why, sizeof why), -1);
    assert_true(strncmp(why, "rows:", 5) == 0);
    assert_null(r);
    json_decref(rec);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_counts_round_trip),
        cmocka_unit_test(test_rows_round_trip),
        cmocka_unit_test(test_malformed),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
