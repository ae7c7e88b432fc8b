/* test_config.c - the settings of `mcmcd serve`: defaults under each
 * XDG_STATE_HOME/HOME combination, the config file (comments, whitespace,
 * quotes, CRLF, size suffixes), every file error with its file:line prefix
 * and the config left unchanged, the command line overriding the file in
 * either order, --port 0, --help, bad options, and the usage and log texts.
 * Each test writes its config files under a fresh temporary directory. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "config.h"

/* --- helpers --------------------------------------------------------- */

typedef struct fixture {
    char dir[64];
    char path[96]; /* dir/mcmcd.conf */
} fixture;

static int setup(void **state) {
    fixture *fx = calloc(1, sizeof *fx);
    if (!fx) return -1;
    snprintf(fx->dir, sizeof fx->dir, "/tmp/test_config.XXXXXX");
    if (!mkdtemp(fx->dir)) return -1;
    snprintf(fx->path, sizeof fx->path, "%s/mcmcd.conf", fx->dir);
    *state = fx;
    return 0;
}

static int teardown(void **state) {
    fixture *fx = *state;
    if (unlink(fx->path) != 0 && errno != ENOENT) return -1;
    if (rmdir(fx->dir) != 0) return -1;
    free(fx);
    return 0;
}

static void write_file(const char *path, const char *text, size_t len) {
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    assert_int_equal(fwrite(text, 1, len, f), len);
    assert_int_equal(fclose(f), 0);
}

static void write_conf(const fixture *fx, const char *text) {
    write_file(fx->path, text, strlen(text));
}

static void defaults_at(serve_config *c) {
    setenv("HOME", "/home/tester", 1);
    unsetenv("XDG_STATE_HOME");
    serve_config_defaults(c);
}

/* Loads text; expects failure with exactly "<path>:<want>" and c unchanged. */
static void expect_file_error(const fixture *fx, const char *text, const char *want) {
    serve_config c, before;
    char err[512], full[512];
    defaults_at(&c);
    before = c;
    write_conf(fx, text);
    assert_int_equal(serve_config_load_file(&c, fx->path, err, sizeof err), SERVE_CONFIG_ERR);
    snprintf(full, sizeof full, "%s:%s", fx->path, want);
    assert_string_equal(err, full);
    assert_memory_equal(&c, &before, sizeof c);
}

/* Runs the `mcmcd serve` arguments given as a NULL-terminated list. */
static int parse(serve_config *c, char *err, size_t errlen, ...) {
    char *argv[32];
    int argc = 0;
    va_list ap;
    va_start(ap, errlen);
    argv[argc++] = "serve";
    for (char *a; (a = va_arg(ap, char *)) != NULL && argc < 31;)
        argv[argc++] = a;
    va_end(ap);
    argv[argc] = NULL;
    return serve_config_parse_args(c, argc, argv, err, errlen);
}

static void expect_arg_error(const char *want, ...) {
    serve_config c, before;
    char err[512] = "";
    char *argv[32];
    int argc = 0;
    va_list ap;
    va_start(ap, want);
    argv[argc++] = "serve";
    for (char *a; (a = va_arg(ap, char *)) != NULL && argc < 31;)
        argv[argc++] = a;
    va_end(ap);
    argv[argc] = NULL;
    defaults_at(&c);
    before = c;
    assert_int_equal(serve_config_parse_args(&c, argc, argv, err, sizeof err), SERVE_CONFIG_ERR);
    assert_string_equal(err, want);
    assert_memory_equal(&c, &before, sizeof c);
}

/* --- defaults -------------------------------------------------------- */

static void test_defaults(void **state) {
    serve_config c;
    memset(&c, 0xab, sizeof c);
    defaults_at(&c);
    assert_string_equal(c.bind, "127.0.0.1");
    assert_int_equal(c.port, 8470);
    assert_string_equal(c.data_dir, "/home/tester/.local/state/mcmcd");
    long cpus = sysconf(_SC_NPROCESSORS_ONLN);
    assert_int_equal(c.workers, cpus < 1 ? 1 : cpus > 1024 ? 1024 : cpus);
    assert_true(c.workers >= 1 && c.workers <= 1024);
    assert_int_equal(c.max_body_bytes, 256ull * 1024 * 1024);
    assert_int_equal(c.max_queued_jobs, 10000);
    assert_int_equal(c.max_chains_per_job, 1024);
    assert_int_equal(c.max_draw_values_per_job, 2147483648ull);
    assert_true(c.heartbeat_seconds == 5.0);
    assert_int_equal(c.max_streams, 1024);
    uint64_t half = (uint64_t)sysconf(_SC_PHYS_PAGES) * (uint64_t)sysconf(_SC_PAGESIZE) / 2;
    assert_true(c.memory_budget == half);
}

/* memory_budget: a size, 1M at least. */
static void test_memory_budget(void **state) {
    fixture *fx = *state;
    serve_config c;
    char err[256];
    defaults_at(&c);
    write_conf(fx, "memory_budget = 64M\n");
    assert_int_equal(serve_config_load_file(&c, fx->path, err, sizeof err), SERVE_CONFIG_OK);
    assert_true(c.memory_budget == 64ull << 20);
    write_conf(fx, "memory_budget = 1000\n");
    assert_int_equal(serve_config_load_file(&c, fx->path, err, sizeof err), SERVE_CONFIG_ERR);
    assert_non_null(strstr(err, ":1: memory_budget: must be 1M.."));
    assert_true(c.memory_budget == 64ull << 20);
}

static void test_defaults_data_dir(void **state) {
    serve_config c;
    setenv("HOME", "/home/tester", 1);
    setenv("XDG_STATE_HOME", "/var/state", 1);
    serve_config_defaults(&c);
    assert_string_equal(c.data_dir, "/var/state/mcmcd");

    /* The XDG spec: a relative path is invalid and ignored; so is empty. */
    setenv("XDG_STATE_HOME", "relative/state", 1);
    serve_config_defaults(&c);
    assert_string_equal(c.data_dir, "/home/tester/.local/state/mcmcd");
    setenv("XDG_STATE_HOME", "", 1);
    serve_config_defaults(&c);
    assert_string_equal(c.data_dir, "/home/tester/.local/state/mcmcd");

    /* XDG_STATE_HOME without HOME still counts. */
    setenv("XDG_STATE_HOME", "/xdg", 1);
    unsetenv("HOME");
    serve_config_defaults(&c);
    assert_string_equal(c.data_dir, "/xdg/mcmcd");

    unsetenv("XDG_STATE_HOME");
    serve_config_defaults(&c);
    assert_string_equal(c.data_dir, "./mcmcd-data");
    setenv("HOME", "", 1);
    serve_config_defaults(&c);
    assert_string_equal(c.data_dir, "./mcmcd-data");

    /* A HOME too long for the field falls through rather than truncating. */
    char *huge = malloc(5000);
    assert_non_null(huge);
    memset(huge, 'h', 4999);
    huge[0] = '/';
    huge[4999] = '\0';
    setenv("HOME", huge, 1);
    serve_config_defaults(&c);
    assert_string_equal(c.data_dir, "./mcmcd-data");
    free(huge);
    setenv("HOME", "/home/tester", 1);
}

/* --- the file -------------------------------------------------------- */

static void test_file_all_keys(void **state) {
    fixture *fx = *state;
    serve_config c;
    char err[256] = "";
    defaults_at(&c);
    write_conf(fx, "# mcmcd settings\n"
                   "\n"
                   "bind = 0.0.0.0\n"
                   "  port=9000  \n"
                   "\tdata_dir\t=\t/srv/mcmcd data\t\n"
                   "workers = 3   # three threads\n"
                   "max_body_bytes = 64M\n"
                   "   # indented comment\n"
                   "max_queued_jobs = 7\n"
                   "max_chains_per_job = 16\n"
                   "max_draw_values_per_job = 1000000\n"
                   "heartbeat_seconds = 0.25\n"
                   "max_streams = 4\n");
    assert_int_equal(serve_config_load_file(&c, fx->path, err, sizeof err), SERVE_CONFIG_OK);
    assert_string_equal(c.bind, "0.0.0.0");
    assert_int_equal(c.port, 9000);
    assert_string_equal(c.data_dir, "/srv/mcmcd data");
    assert_int_equal(c.workers, 3);
    assert_int_equal(c.max_body_bytes, 64ull << 20);
    assert_int_equal(c.max_queued_jobs, 7);
    assert_int_equal(c.max_chains_per_job, 16);
    assert_int_equal(c.max_draw_values_per_job, 1000000);
    assert_true(c.heartbeat_seconds == 0.25);
    assert_int_equal(c.max_streams, 4);
}

static void test_file_partial_keeps_rest(void **state) {
    fixture *fx = *state;
    serve_config c, want;
    char err[256];
    defaults_at(&c);
    want = c;
    want.port = 1;
    /* An empty file, then one with a comment and no newline at the end. */
    write_conf(fx, "");
    assert_int_equal(serve_config_load_file(&c, fx->path, err, sizeof err), SERVE_CONFIG_OK);
    write_conf(fx, "port = 1 # low");
    assert_int_equal(serve_config_load_file(&c, fx->path, err, sizeof err), SERVE_CONFIG_OK);
    assert_memory_equal(&c, &want, sizeof c);
}

static void test_file_crlf_quotes_hashes(void **state) {
    fixture *fx = *state;
    serve_config c;
    char err[256] = "";
    defaults_at(&c);
    write_conf(fx, "bind = ::1\r\n"
                   "data_dir = \"  /srv/#1 \"   # quoted keeps '#' and spaces\r\n"
                   "port = \"8471\"\r\n"
                   "heartbeat_seconds = 2#not a comment\r\n");
    /* '#' not after whitespace belongs to the value: here it makes it bad. */
    assert_int_equal(serve_config_load_file(&c, fx->path, err, sizeof err), SERVE_CONFIG_ERR);
    write_conf(fx, "bind = ::1\r\n"
                   "data_dir = \"  /srv/#1 \"   # quoted keeps '#' and spaces\r\n"
                   "port = \"8471\"\r\n"
                   "heartbeat_seconds = 2 #a comment\r\n"
                   "max_streams = 12\r\n");
    assert_int_equal(serve_config_load_file(&c, fx->path, err, sizeof err), SERVE_CONFIG_OK);
    assert_string_equal(c.bind, "::1");
    assert_string_equal(c.data_dir, "  /srv/#1 ");
    assert_int_equal(c.port, 8471);
    assert_true(c.heartbeat_seconds == 2.0);
    assert_int_equal(c.max_streams, 12);

    write_conf(fx, "data_dir = /srv/a#b=c\n");
    assert_int_equal(serve_config_load_file(&c, fx->path, err, sizeof err), SERVE_CONFIG_OK);
    assert_string_equal(c.data_dir, "/srv/a#b=c");
}

static void test_file_size_suffixes(void **state) {
    fixture *fx = *state;
    static const struct {
        const char *text;
        uint64_t want;
    } cases[] = {
        {"1024", 1024},         {"1k", 1024},         {"4K", 4096},
        {"256M", 256ull << 20}, {"3m", 3ull << 20},   {"1G", 1ull << 30},
        {"2g", 2ull << 30},     {"64G", 64ull << 30}, {"1000000", 1000000},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        serve_config c;
        char text[64], err[256] = "";
        defaults_at(&c);
        snprintf(text, sizeof text, "max_body_bytes = %s\n", cases[i].text);
        write_conf(fx, text);
        assert_int_equal(serve_config_load_file(&c, fx->path, err, sizeof err), SERVE_CONFIG_OK);
        assert_int_equal(c.max_body_bytes, cases[i].want);
    }
}

static void test_file_bad_sizes(void **state) {
    fixture *fx = *state;
    static const char *bad[] = {"1023",
                                "0",
                                "65G",
                                "1T",
                                "1.5M",
                                "12X",
                                "1MB",
                                "M",
                                "-1",
                                "+5M",
                                "99999999999999999999",
                                "20000000000000G",
                                "17179869185G",
                                "1 M"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        char text[128], want[256];
        snprintf(text, sizeof text, "\nmax_body_bytes = %s\n", bad[i]);
        snprintf(want, sizeof want,
                 "2: max_body_bytes: must be 1k..64G, a whole number with an optional k, M, G or T "
                 "(got '%s')",
                 bad[i]);
        expect_file_error(fx, text, want);
    }
}

/* --- file errors ----------------------------------------------------- */

static void test_file_errors_syntax(void **state) {
    fixture *fx = *state;
    expect_file_error(fx, "port = 1\n\n\n\n\n\nprot = 2\n", "7: unknown key 'prot'");
    expect_file_error(fx, "Port = 2\n", "1: unknown key 'Port'");
    expect_file_error(fx, "# c\nport 8470\n", "2: expected 'key = value'");
    expect_file_error(fx, "= 8470\n", "1: expected 'key = value'");
    expect_file_error(fx, "  = 8470\n", "1: expected 'key = value'");
    expect_file_error(fx, "port =\n", "1: port: missing value");
    expect_file_error(fx, "port =   # nothing\n", "1: port: missing value");
    expect_file_error(fx, "port = #\n", "1: port: missing value");
    expect_file_error(fx, "data_dir = \"/srv\n", "1: data_dir: unterminated quote");
    expect_file_error(fx, "data_dir = \"/srv\" x\n", "1: data_dir: text after the closing quote");
    expect_file_error(fx, "port = 1\nworkers = 2\nport = 3\n",
                      "3: port: set twice (first on line 1)");
    /* The error stops at the first bad line, even if a later one is good. */
    expect_file_error(fx, "workers = 0\nport = 1\n", "1: workers: must be 1..1024 (got '0')");
}

static void test_file_error_nul_byte(void **state) {
    fixture *fx = *state;
    serve_config c;
    char err[256], want[256];
    defaults_at(&c);
    write_file(fx->path, "port = 1\nport\0 = 2\n", 19);
    assert_int_equal(serve_config_load_file(&c, fx->path, err, sizeof err), SERVE_CONFIG_ERR);
    snprintf(want, sizeof want, "%s:2: NUL byte in line", fx->path);
    assert_string_equal(err, want);
}

static void test_file_errors_ranges(void **state) {
    fixture *fx = *state;
    expect_file_error(fx, "port = 0\n", "1: port: must be 1..65535 (got '0')");
    expect_file_error(fx, "port = 65536\n", "1: port: must be 1..65535 (got '65536')");
    expect_file_error(fx, "port = -1\n", "1: port: must be 1..65535 (got '-1')");
    expect_file_error(fx, "port = 0x50\n", "1: port: must be 1..65535 (got '0x50')");
    expect_file_error(fx, "port = 80 80\n", "1: port: must be 1..65535 (got '80 80')");
    expect_file_error(fx, "port = 1e3\n", "1: port: must be 1..65535 (got '1e3')");
    expect_file_error(fx, "port = \"\"\n", "1: port: must be 1..65535 (got '')");
    expect_file_error(fx, "workers = 1025\n", "1: workers: must be 1..1024 (got '1025')");
    expect_file_error(fx, "workers = 4294967297\n",
                      "1: workers: must be 1..1024 (got '4294967297')");
    expect_file_error(fx, "max_queued_jobs = 0\n",
                      "1: max_queued_jobs: must be 1..10000000 (got '0')");
    expect_file_error(fx, "max_queued_jobs = 10000001\n",
                      "1: max_queued_jobs: must be 1..10000000 (got '10000001')");
    expect_file_error(fx, "max_chains_per_job = 65537\n",
                      "1: max_chains_per_job: must be 1..65536 (got '65537')");
    expect_file_error(fx, "max_draw_values_per_job = 1099511627777\n",
                      "1: max_draw_values_per_job: must be 1..1099511627776 "
                      "(got '1099511627777')");
    expect_file_error(fx, "max_draw_values_per_job = 2G\n",
                      "1: max_draw_values_per_job: must be 1..1099511627776 (got '2G')");
    expect_file_error(fx, "max_streams = 0\n", "1: max_streams: must be 1..1048576 (got '0')");
    expect_file_error(fx, "loop_rt_priority = 100\n",
                      "1: loop_rt_priority: must be 0..99 (got '100')");
    expect_file_error(fx, "loop_rt_priority = -1\n",
                      "1: loop_rt_priority: must be 0..99 (got '-1')");
    static const char *bad_nices[] = {"-21", "20", "", "-", "1.5", "-5x", "99999999999999999999"};
    for (size_t i = 0; i < sizeof bad_nices / sizeof bad_nices[0]; i++) {
        char text[64], want[128];
        snprintf(text, sizeof text, "service_nice = \"%s\"\n", bad_nices[i]);
        snprintf(want, sizeof want, "1: service_nice: must be -20..19 (got '%s')", bad_nices[i]);
        expect_file_error(fx, text, want);
    }
    static const char *bad_heartbeats[] = {"0.05", "3600.5", "0",     "-1", "nan",
                                           "inf",  "5s",     "1e400", "",   "+2"};
    for (size_t i = 0; i < sizeof bad_heartbeats / sizeof bad_heartbeats[0]; i++) {
        char text[64], want[128];
        snprintf(text, sizeof text, "heartbeat_seconds = \"%s\"\n", bad_heartbeats[i]);
        snprintf(want, sizeof want, "1: heartbeat_seconds: must be 0.1..3600 (got '%s')",
                 bad_heartbeats[i]);
        expect_file_error(fx, text, want);
    }
}

static void test_file_range_edges(void **state) {
    fixture *fx = *state;
    serve_config c;
    char err[256] = "";
    defaults_at(&c);
    write_conf(fx, "port = 65535\nworkers = 1024\nheartbeat_seconds = 0.1\n"
                   "max_draw_values_per_job = 1099511627776\nmax_streams = 1048576\n");
    assert_int_equal(serve_config_load_file(&c, fx->path, err, sizeof err), SERVE_CONFIG_OK);
    assert_int_equal(c.port, 65535);
    assert_int_equal(c.workers, 1024);
    assert_true(c.heartbeat_seconds == 0.1);
    assert_int_equal(c.max_draw_values_per_job, 1ull << 40);
    assert_int_equal(c.max_streams, 1048576);
    write_conf(fx, "port = 1\nworkers = 1\nheartbeat_seconds = 3600\nservice_nice = -20\n");
    assert_int_equal(serve_config_load_file(&c, fx->path, err, sizeof err), SERVE_CONFIG_OK);
    assert_int_equal(c.service_nice, -20);
    write_conf(fx, "service_nice = 19\n");
    assert_int_equal(serve_config_load_file(&c, fx->path, err, sizeof err), SERVE_CONFIG_OK);
    assert_int_equal(c.service_nice, 19);
    char line[4096];
    serve_config_describe(&c, line, sizeof line);
    assert_non_null(strstr(line, " service_nice=19 "));
    write_conf(fx, "loop_rt_priority = 99\n");
    assert_int_equal(serve_config_load_file(&c, fx->path, err, sizeof err), SERVE_CONFIG_OK);
    assert_int_equal(c.loop_rt_priority, 99);
    write_conf(fx, "port = 1\nworkers = 1\nheartbeat_seconds = 3600\nservice_nice = -10\n");
    assert_int_equal(serve_config_load_file(&c, fx->path, err, sizeof err), SERVE_CONFIG_OK);
    serve_config_describe(&c, line, sizeof line);
    assert_non_null(strstr(line, " service_nice=-10 "));
    assert_int_equal(c.port, 1);
    assert_int_equal(c.workers, 1);
    assert_true(c.heartbeat_seconds == 3600.0);
}

static void test_file_errors_strings(void **state) {
    fixture *fx = *state;
    expect_file_error(fx, "bind = \"\"\n", "1: bind: must not be empty");
    expect_file_error(fx, "bind = local host\n",
                      "1: bind: must be an IP address or a host name (got 'local host')");
    expect_file_error(fx, "bind = 300.1.2.3\n",
                      "1: bind: must be an IP address or a host name (got '300.1.2.3')");
    expect_file_error(fx, "bind = -host\n",
                      "1: bind: must be an IP address or a host name (got '-host')");
    expect_file_error(fx,
                      "bind = aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\n",
                      "1: bind: longer than 63 bytes");
    expect_file_error(fx, "data_dir = \"\"\n", "1: data_dir: must not be empty");

    /* A 4096-byte data_dir does not fit; 4095 does. */
    size_t n = 4096;
    char *text = malloc(n + 32);
    assert_non_null(text);
    int len = snprintf(text, n + 32, "data_dir = /");
    memset(text + len, 'd', n - 1);
    strcpy(text + len + n - 1, "\n");
    expect_file_error(fx, text, "1: data_dir: longer than 4095 bytes");
    strcpy(text + len + n - 2, "\n");
    serve_config c;
    char err[256] = "";
    defaults_at(&c);
    write_conf(fx, text);
    assert_int_equal(serve_config_load_file(&c, fx->path, err, sizeof err), SERVE_CONFIG_OK);
    assert_int_equal(strlen(c.data_dir), 4095);
    free(text);

    /* Valid bind forms. */
    static const char *good[] = {"localhost", "0.0.0.0", "::", "fe80::1", "mcmcd-1.internal"};
    for (size_t i = 0; i < sizeof good / sizeof good[0]; i++) {
        char line[128];
        snprintf(line, sizeof line, "bind = %s\n", good[i]);
        write_conf(fx, line);
        assert_int_equal(serve_config_load_file(&c, fx->path, err, sizeof err), SERVE_CONFIG_OK);
        assert_string_equal(c.bind, good[i]);
    }
}

static void test_file_missing_and_unreadable(void **state) {
    fixture *fx = *state;
    serve_config c, before;
    char err[256], want[256];
    defaults_at(&c);
    before = c;
    assert_int_equal(serve_config_load_file(&c, fx->path, err, sizeof err), SERVE_CONFIG_ERR);
    snprintf(want, sizeof want, "%s: %s", fx->path, strerror(ENOENT));
    assert_string_equal(err, want);
    /* A directory opens but cannot be read. */
    assert_int_equal(serve_config_load_file(&c, fx->dir, err, sizeof err), SERVE_CONFIG_ERR);
    snprintf(want, sizeof want, "%s: %s", fx->dir, strerror(EISDIR));
    assert_string_equal(err, want);
    assert_memory_equal(&c, &before, sizeof c);
}

static void test_file_error_small_buffer(void **state) {
    fixture *fx = *state;
    serve_config c;
    char err[8];
    defaults_at(&c);
    write_conf(fx, "prot = 1\n");
    assert_int_equal(serve_config_load_file(&c, fx->path, err, sizeof err), SERVE_CONFIG_ERR);
    assert_int_equal(strlen(err), sizeof err - 1);
    assert_int_equal(serve_config_load_file(&c, fx->path, NULL, 0), SERVE_CONFIG_ERR);
}

/* --- the command line ------------------------------------------------ */

static void test_args_none(void **state) {
    serve_config c, before;
    char err[256];
    defaults_at(&c);
    before = c;
    assert_int_equal(parse(&c, err, sizeof err, NULL), SERVE_CONFIG_OK);
    assert_memory_equal(&c, &before, sizeof c);
}

static void test_args_all_flags(void **state) {
    serve_config c;
    char err[256] = "";
    defaults_at(&c);
    assert_int_equal(parse(&c, err, sizeof err, "--bind", "::1", "--port", "1234", "--data-dir",
                           "/d", "--workers", "2", "--max-body", "1G", NULL),
                     SERVE_CONFIG_OK);
    assert_string_equal(c.bind, "::1");
    assert_int_equal(c.port, 1234);
    assert_string_equal(c.data_dir, "/d");
    assert_int_equal(c.workers, 2);
    assert_int_equal(c.max_body_bytes, 1ull << 30);

    /* Short forms, --opt=value forms and a repeated flag (the last wins). */
    defaults_at(&c);
    assert_int_equal(parse(&c, err, sizeof err, "-b", "localhost", "-p5", "-d", "/e", "-w", "3",
                           "--max-body=2k", "--port=99", "--workers=4", NULL),
                     SERVE_CONFIG_OK);
    assert_string_equal(c.bind, "localhost");
    assert_int_equal(c.port, 99);
    assert_string_equal(c.data_dir, "/e");
    assert_int_equal(c.workers, 4);
    assert_int_equal(c.max_body_bytes, 2048);
}

static void test_args_port_zero(void **state) {
    serve_config c;
    char err[256] = "";
    defaults_at(&c);
    assert_int_equal(parse(&c, err, sizeof err, "--port", "0", NULL), SERVE_CONFIG_OK);
    assert_int_equal(c.port, 0);
    expect_arg_error("--port: must be 0..65535 (got '65536')", "--port", "65536", NULL);
    expect_arg_error("--port: must be 0..65535 (got 'http')", "--port", "http", NULL);
}

static void test_args_override_file(void **state) {
    fixture *fx = *state;
    serve_config c;
    char err[256] = "";
    write_conf(fx, "port = 9000\nworkers = 7\nbind = 0.0.0.0\nmax_streams = 5\n");

    /* --config first, flags after. */
    defaults_at(&c);
    assert_int_equal(
        parse(&c, err, sizeof err, "--config", fx->path, "--port", "0", "--workers", "2", NULL),
        SERVE_CONFIG_OK);
    assert_int_equal(c.port, 0);
    assert_int_equal(c.workers, 2);
    assert_string_equal(c.bind, "0.0.0.0");
    assert_int_equal(c.max_streams, 5);

    /* Flags first, --config after: the flags still win. */
    defaults_at(&c);
    assert_int_equal(parse(&c, err, sizeof err, "--port", "0", "-w", "2", "-c", fx->path, NULL),
                     SERVE_CONFIG_OK);
    assert_int_equal(c.port, 0);
    assert_int_equal(c.workers, 2);
    assert_string_equal(c.bind, "0.0.0.0");
    assert_int_equal(c.max_streams, 5);

    /* --config=FILE, and a file alone. */
    char opt[160];
    snprintf(opt, sizeof opt, "--config=%s", fx->path);
    defaults_at(&c);
    assert_int_equal(parse(&c, err, sizeof err, opt, NULL), SERVE_CONFIG_OK);
    assert_int_equal(c.port, 9000);
    assert_int_equal(c.workers, 7);
}

static void test_args_config_errors(void **state) {
    fixture *fx = *state;
    char want[256];
    snprintf(want, sizeof want, "%s: %s", fx->path, strerror(ENOENT));
    expect_arg_error(want, "--port", "1", "--config", fx->path, NULL);

    /* A file error wins over the flags and names the file and line. */
    write_conf(fx, "workers = 4\nport = 0\n");
    snprintf(want, sizeof want, "%s:2: port: must be 1..65535 (got '0')", fx->path);
    expect_arg_error(want, "--port", "0", "--config", fx->path, NULL);
}

static void test_args_help(void **state) {
    serve_config c, before;
    char err[256];
    defaults_at(&c);
    before = c;
    assert_int_equal(parse(&c, err, sizeof err, "--help", NULL), SERVE_CONFIG_HELP);
    assert_int_equal(parse(&c, err, sizeof err, "-h", NULL), SERVE_CONFIG_HELP);
    assert_int_equal(parse(&c, err, sizeof err, "--port", "1", "--help", "--workers", "0", NULL),
                     SERVE_CONFIG_HELP);
    assert_memory_equal(&c, &before, sizeof c);
    assert_true(SERVE_CONFIG_HELP != SERVE_CONFIG_OK && SERVE_CONFIG_HELP != SERVE_CONFIG_ERR);
}

static void test_args_errors(void **state) {
    expect_arg_error("unknown option '--prot'", "--prot", "1", NULL);
    expect_arg_error("unknown option '--verbose'", "--port", "1", "--verbose", NULL);
    expect_arg_error("unknown option '-x'", "-x", NULL);
    expect_arg_error("unknown option '-z'", "-p", "5", "-z", NULL);
    expect_arg_error("option '--port' needs a value", "--port", NULL);
    expect_arg_error("option '-w' needs a value", "-w", NULL);
    expect_arg_error("option '--help' takes no value", "--help=yes", NULL);
    expect_arg_error("unexpected argument 'extra'", "--port", "1", "extra", NULL);
    expect_arg_error("unexpected argument '--port'", "--", "--port", "1", NULL);
    expect_arg_error("--workers: must be 1..1024 (got '0')", "--workers", "0", NULL);
    expect_arg_error(
        "--max-body: must be 1k..64G, a whole number with an optional k, M, G or T (got '10')",
        "--max-body", "10", NULL);
    expect_arg_error("--bind: must be an IP address or a host name (got 'a b')", "--bind", "a b",
                     NULL);
    expect_arg_error("--data-dir: must not be empty", "--data-dir", "", NULL);
}

/* Errors from one call must not leak into the next (getopt state). */
static void test_args_repeated_calls(void **state) {
    serve_config c;
    char err[256];
    for (int i = 0; i < 3; i++) {
        defaults_at(&c);
        assert_int_equal(parse(&c, err, sizeof err, "-p", NULL), SERVE_CONFIG_ERR);
        assert_int_equal(parse(&c, err, sizeof err, "-x", "-p", "1", NULL), SERVE_CONFIG_ERR);
        assert_int_equal(parse(&c, err, sizeof err, "-wp", NULL), SERVE_CONFIG_ERR);
        assert_int_equal(parse(&c, err, sizeof err, "--port", "77", NULL), SERVE_CONFIG_OK);
        assert_int_equal(c.port, 77);
        assert_int_equal(parse(&c, err, sizeof err, "-p", "78", "-w", "5", NULL), SERVE_CONFIG_OK);
        assert_int_equal(c.port, 78);
        assert_int_equal(c.workers, 5);
    }
}

/* --- usage and describe ---------------------------------------------- */

static char *usage_text(void) {
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    assert_non_null(f);
    serve_config_usage(f);
    assert_int_equal(fclose(f), 0);
    return buf;
}

static void test_usage(void **state) {
    char *text = usage_text();
    static const char *want[] = {"usage: mcmcd serve",
                                 "--config FILE",
                                 "--bind ADDR",
                                 "--port N",
                                 "--data-dir DIR",
                                 "--workers N",
                                 "--max-body SIZE",
                                 "--help",
                                 "bind",
                                 "port",
                                 "data_dir",
                                 "workers",
                                 "max_body_bytes",
                                 "max_queued_jobs",
                                 "max_chains_per_job",
                                 "max_draw_values_per_job",
                                 "heartbeat_seconds",
                                 "max_streams",
                                 "default 127.0.0.1",
                                 "default 8470",
                                 "$XDG_STATE_HOME/mcmcd",
                                 "$HOME/.local/state/mcmcd",
                                 "default 256M",
                                 "default 10000",
                                 "default 1024",
                                 "2147483648",
                                 "default 5",
                                 "1..65535",
                                 "0.1..3600",
                                 "1..1024"};
    for (size_t i = 0; i < sizeof want / sizeof want[0]; i++) {
        if (!strstr(text, want[i])) fail_msg("usage lacks '%s':\n%s", want[i], text);
    }
    free(text);
}

/* auth takes its words only; per-user limits take their units. */
static void test_auth_and_limits(void **state) {
    fixture *fx = *state;
    serve_config c;
    char err[256];
    defaults_at(&c);
    assert_string_equal(c.auth, "token");
    assert_int_equal(c.limits.v[LIMIT_JOB_RETENTION], 30 * 86400);
    char *ok[] = {"serve", "--auth", "none", NULL};
    assert_int_equal(serve_config_parse_args(&c, 3, ok, err, sizeof err), SERVE_CONFIG_OK);
    assert_string_equal(c.auth, "none");
    char *badauth[] = {"serve", "--auth", "nobody", NULL};
    assert_int_equal(serve_config_parse_args(&c, 3, badauth, err, sizeof err), SERVE_CONFIG_ERR);
    assert_non_null(strstr(err, "--auth: must be one of token|none (got 'nobody')"));
    write_conf(fx, "user_stored_bytes = 64G\nuser_job_seconds = 2h\nuser_running_chains = 4\n");
    assert_int_equal(serve_config_load_file(&c, fx->path, err, sizeof err), SERVE_CONFIG_OK);
    assert_int_equal(c.limits.v[LIMIT_STORED_BYTES], 64ull << 30);
    assert_int_equal(c.limits.v[LIMIT_JOB_SECONDS], 7200);
    assert_int_equal(c.limits.v[LIMIT_RUNNING_CHAINS], 4);
    write_conf(fx, "user_job_seconds = 2w\n");
    assert_int_equal(serve_config_load_file(&c, fx->path, err, sizeof err), SERVE_CONFIG_ERR);
    assert_non_null(strstr(err, ":1: user_job_seconds: must be 0 (no limit) to 365d"));
}

/* hosts: names with any port, the bind address always, * for any. */
static void test_hosts(void **state) {
    fixture *fx = *state;
    serve_config c;
    char err[256];
    defaults_at(&c);
    assert_int_equal(c.idle_timeout_seconds, 30);
    static const char *const yes[] = {NULL,          "localhost", "LocalHost:8470", "127.0.0.1",
                                      "127.0.0.1:1", "[::1]",     "[::1]:8470",     "localhost."};
    for (size_t i = 0; i < sizeof yes / sizeof yes[0]; i++)
        if (!serve_config_host_allowed(&c, yes[i])) fail_msg("refused '%s'", yes[i]);
    static const char *const no[] = {"",          "evil.example", "evil.example:8470",
                                     "127.0.0.2", "localhost:x",  "localhost.evil.example",
                                     ":8470",     "[::2]:8470"};
    for (size_t i = 0; i < sizeof no / sizeof no[0]; i++)
        if (serve_config_host_allowed(&c, no[i])) fail_msg("allowed '%s'", no[i]);
    write_conf(fx, "hosts = mcmc.example.org,[fe80::1]\nbind = 10.0.0.5\n");
    assert_int_equal(serve_config_load_file(&c, fx->path, err, sizeof err), SERVE_CONFIG_OK);
    assert_true(serve_config_host_allowed(&c, "MCMC.example.org:443"));
    assert_true(serve_config_host_allowed(&c, "[fe80::1]:8470"));
    assert_true(serve_config_host_allowed(&c, "10.0.0.5:8470"));
    assert_false(serve_config_host_allowed(&c, "localhost"));
    write_conf(fx, "hosts = *\n");
    assert_int_equal(serve_config_load_file(&c, fx->path, err, sizeof err), SERVE_CONFIG_OK);
    assert_true(serve_config_host_allowed(&c, "evil.example"));
    write_conf(fx, "hosts = a b\n");
    assert_int_equal(serve_config_load_file(&c, fx->path, err, sizeof err), SERVE_CONFIG_ERR);
    assert_non_null(strstr(err, "hosts: must be host names"));
    write_conf(fx, "idle_timeout_seconds = 0\n");
    assert_int_equal(serve_config_load_file(&c, fx->path, err, sizeof err), SERVE_CONFIG_ERR);
}

static void test_describe(void **state) {
    serve_config c;
    char buf[2048];
    defaults_at(&c);
    c.workers = 8;
    c.memory_budget = 8ull << 30; /* the default depends on the machine */
    serve_config_describe(&c, buf, sizeof buf);
    assert_string_equal(
        buf, "bind=127.0.0.1 port=8470 data_dir=/home/tester/.local/state/mcmcd "
             "workers=8 max_body_bytes=256M max_queued_jobs=10000 "
             "max_chains_per_job=1024 max_draw_values_per_job=2147483648 "
             "memory_budget=8G heartbeat_seconds=5 max_streams=1024 auth=token tls_cert=\"\" "
             "tls_key=\"\" sweep_seconds=60 idle_timeout_seconds=30 "
             "hosts=localhost,127.0.0.1,[::1] job_cache=256 executor=local shared_dir=\"\" "
             "slurm_partition=\"\" slurm_account=\"\" slurm_time_limit=0 slurm_cpus_per_task=1 "
             "slurm_mem=0 slurm_max_time_limit=0 slurm_max_cpus_per_task=0 slurm_max_mem=0 "
             "slurm_partitions=\"\" slurm_callback_url=\"\" slurm_mcmcd=\"\" chain_nice=10 "
             "chain_sched=nice service_nice=0 loop_rt_priority=0 "
             "ksd_draws=1000 user_running_chains=0 "
             "user_queued_jobs=1000 user_stored_bytes=0 "
             "user_draw_values_per_job=0 user_job_seconds=0 "
             "user_job_retention=30d");
    assert_null(strchr(buf, '\n'));

    snprintf(c.data_dir, sizeof c.data_dir, "/with space");
    c.max_body_bytes = 1500;
    c.heartbeat_seconds = 0.5;
    serve_config_describe(&c, buf, sizeof buf);
    assert_non_null(strstr(buf, " data_dir=\"/with space\" "));
    assert_non_null(strstr(buf, " max_body_bytes=1500 "));
    assert_non_null(strstr(buf, " heartbeat_seconds=0.5 "));

    /* Truncates safely, always terminated. */
    char small[12];
    memset(small, 'x', sizeof small);
    serve_config_describe(&c, small, sizeof small);
    assert_string_equal(small, "bind=127.0.");
    serve_config_describe(&c, small, 0);
    assert_int_equal(small[0], 'b');
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_defaults),
        cmocka_unit_test(test_defaults_data_dir),
        cmocka_unit_test_setup_teardown(test_file_all_keys, setup, teardown),
        cmocka_unit_test_setup_teardown(test_file_partial_keeps_rest, setup, teardown),
        cmocka_unit_test_setup_teardown(test_file_crlf_quotes_hashes, setup, teardown),
        cmocka_unit_test_setup_teardown(test_file_size_suffixes, setup, teardown),
        cmocka_unit_test_setup_teardown(test_file_bad_sizes, setup, teardown),
        cmocka_unit_test_setup_teardown(test_file_errors_syntax, setup, teardown),
        cmocka_unit_test_setup_teardown(test_file_error_nul_byte, setup, teardown),
        cmocka_unit_test_setup_teardown(test_file_errors_ranges, setup, teardown),
        cmocka_unit_test_setup_teardown(test_file_range_edges, setup, teardown),
        cmocka_unit_test_setup_teardown(test_file_errors_strings, setup, teardown),
        cmocka_unit_test_setup_teardown(test_file_missing_and_unreadable, setup, teardown),
        cmocka_unit_test_setup_teardown(test_file_error_small_buffer, setup, teardown),
        cmocka_unit_test(test_args_none),
        cmocka_unit_test(test_args_all_flags),
        cmocka_unit_test(test_args_port_zero),
        cmocka_unit_test_setup_teardown(test_args_override_file, setup, teardown),
        cmocka_unit_test_setup_teardown(test_args_config_errors, setup, teardown),
        cmocka_unit_test(test_args_help),
        cmocka_unit_test(test_args_errors),
        cmocka_unit_test(test_args_repeated_calls),
        cmocka_unit_test(test_usage),
        cmocka_unit_test(test_describe),
        cmocka_unit_test_setup_teardown(test_hosts, setup, teardown),
        cmocka_unit_test_setup_teardown(test_memory_budget, setup, teardown),
        cmocka_unit_test_setup_teardown(test_auth_and_limits, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
