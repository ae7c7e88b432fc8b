/* test_client_token.c - where libmcmcclient finds a bearer token when the
 * caller gives none, with HOME and the XDG directories pointed at a fresh
 * temporary directory per test: MCMC_TOKEN wins; the token store matched
 * by URL (trailing slashes ignored); the local daemon's admin token for a
 * loopback server only; files that group or others may read skipped, with
 * a note; the store written by mcmc_token_store_save (modes 0700/0600,
 * one line per URL, replaced in place); and the new statuses' names. Links
 * the static library, whose internal functions (token.h) stay linkable. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "mcmcclient.h"
#include "token.h"

static char dir[64];

/* --- files --------------------------------------------------------------- */

static void path_of(char *buf, size_t cap, const char *rel) {
    snprintf(buf, cap, "%s/%s", dir, rel);
}

/* Writes text to dir/rel with the given mode, making its directories. */
static void put_file(const char *rel, const char *text, mode_t mode) {
    char path[512];
    path_of(path, sizeof path, rel);
    for (char *p = path + strlen(dir) + 1; *p; p++) {
        if (*p != '/') continue;
        *p = '\0';
        mkdir(path, 0700);
        *p = '/';
    }
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs(text, f);
    fclose(f);
    assert_int_equal(chmod(path, mode), 0);
}

static char *slurp(const char *path) {
    FILE *f = fopen(path, "r");
    if (!f) return NULL;
    static char buf[4096];
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    buf[n] = '\0';
    fclose(f);
    return buf;
}

static mode_t mode_of(const char *path) {
    struct stat st;
    assert_int_equal(stat(path, &st), 0);
    return st.st_mode & 07777;
}

/* A fresh HOME; no XDG directories, no MCMC_TOKEN. */
static int setup(void **state) {
    (void)state;
    snprintf(dir, sizeof dir, "/tmp/mcmc-token-test-XXXXXX");
    if (!mkdtemp(dir)) return -1;
    setenv("HOME", dir, 1);
    unsetenv("XDG_CONFIG_HOME");
    unsetenv("XDG_STATE_HOME");
    unsetenv("MCMC_TOKEN");
    return 0;
}

static int teardown(void **state) {
    (void)state;
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    return system(cmd) == 0 ? 0 : -1;
}

static const char *found_token(const char *url, mcmcc_token_found *f) {
    mcmcc_token_find(url, f);
    return f->token;
}

/* --- pure functions ------------------------------------------------------ */

static void test_token_text_and_urls(void **state) {
    (void)state;
    assert_true(mcmcc_token_is_valid("mcmcd_0123abcd_ffff"));
    assert_false(mcmcc_token_is_valid(""));
    assert_false(mcmcc_token_is_valid(NULL));
    assert_false(mcmcc_token_is_valid("two words"));
    assert_false(mcmcc_token_is_valid("a\r\nX-Injected: 1"));
    char big[MCMCC_TOKEN_MAX + 2];
    memset(big, 'a', sizeof big - 1);
    big[sizeof big - 1] = '\0';
    assert_false(mcmcc_token_is_valid(big));
    big[MCMCC_TOKEN_MAX] = '\0';
    assert_true(mcmcc_token_is_valid(big));

    assert_int_equal(mcmcc_url_len("http://h:1///"), strlen("http://h:1"));
    assert_int_equal(mcmcc_url_len("http://h:1"), strlen("http://h:1"));

    const char *loopback[] = {"http://127.0.0.1:8470", "http://127.3.2.1/",
                              "https://localhost:1/x", "http://LOCALHOST",
                              "http://[::1]:8470/",    "http://user:pw@127.0.0.1:9",
                              "127.0.0.1:8470"};
    for (size_t i = 0; i < sizeof loopback / sizeof *loopback; i++)
        assert_true(mcmcc_url_is_loopback(loopback[i]));
    const char *remote[] = {"http://128.0.0.1:8470",
                            "http://example.org:8470",
                            "http://127.0.0.1.example.org",
                            "http://localhost.example.org",
                            "http://[::2]:8470",
                            "http://127.0.0.1@example.org/",
                            "http://x/?h=127.0.0.1",
                            ""};
    for (size_t i = 0; i < sizeof remote / sizeof *remote; i++)
        assert_false(mcmcc_url_is_loopback(remote[i]));
}

static void test_store_text(void **state) {
    (void)state;
    const char *store = "# mcmc login\n"
                        "\n"
                        "http://a:1 tokA\n"
                        "  http://b:2/   tokB  \r\n"
                        "http://a:1 later\n"
                        "http://c:3\n" /* no token: skipped */
                        "http://d:4 bad\x01token\n";
    char t[64];
    assert_int_equal(mcmcc_token_store_lookup(store, "http://a:1", t, sizeof t), 0);
    assert_string_equal(t, "tokA"); /* the first match */
    assert_int_equal(mcmcc_token_store_lookup(store, "http://a:1/", t, sizeof t), 0);
    assert_string_equal(t, "tokA");
    assert_int_equal(mcmcc_token_store_lookup(store, "http://b:2", t, sizeof t), 0);
    assert_string_equal(t, "tokB");
    assert_int_equal(mcmcc_token_store_lookup(store, "http://a:10", t, sizeof t), -1);
    assert_int_equal(mcmcc_token_store_lookup(store, "http://a:", t, sizeof t), -1);
    assert_int_equal(mcmcc_token_store_lookup(store, "http://c:3", t, sizeof t), -1);
    assert_int_equal(mcmcc_token_store_lookup(store, "http://d:4", t, sizeof t), -1);
    assert_int_equal(mcmcc_token_store_lookup(store, "# mcmc", t, sizeof t), -1);

    assert_int_equal(mcmcc_token_file_parse("mcmcd_x_y\n", t, sizeof t), 0);
    assert_string_equal(t, "mcmcd_x_y");
    assert_int_equal(mcmcc_token_file_parse("  tok  \r\n\n", t, sizeof t), 0);
    assert_string_equal(t, "tok");
    assert_int_equal(mcmcc_token_file_parse("two words\n", t, sizeof t), -1);
    assert_int_equal(mcmcc_token_file_parse("\n", t, sizeof t), -1);

    mcmcc_buf out;
    const char *old = "# keep\nhttp://a:1/ old\nhttp://b:2 tokB\nhttp://a:1 dup\n";
    assert_int_equal(mcmcc_token_store_edit(old, "http://a:1//", "new", &out), 0);
    assert_string_equal(out.data, "# keep\nhttp://a:1 new\nhttp://b:2 tokB\n");
    mcmcc_buf_free(&out);
    assert_int_equal(mcmcc_token_store_edit("http://b:2 tokB", "http://c:3", "tokC", &out), 0);
    assert_string_equal(out.data, "http://b:2 tokB\nhttp://c:3 tokC\n");
    mcmcc_buf_free(&out);
    assert_int_equal(mcmcc_token_store_edit(NULL, "http://c:3", "tokC", &out), 0);
    assert_string_equal(out.data, "http://c:3 tokC\n");
    mcmcc_buf_free(&out);
}

static void test_paths(void **state) {
    (void)state;
    char p[512], want[512];
    assert_int_equal(mcmcc_token_store_path(p, sizeof p), 0);
    path_of(want, sizeof want, ".config/mcmc/tokens");
    assert_string_equal(p, want);
    assert_int_equal(mcmcc_admin_token_path(p, sizeof p), 0);
    path_of(want, sizeof want, ".local/state/mcmcd/admin.token");
    assert_string_equal(p, want);
    setenv("XDG_CONFIG_HOME", "relative/config", 1); /* not absolute: ignored */
    setenv("XDG_STATE_HOME", "/xdg/state", 1);
    assert_int_equal(mcmcc_token_store_path(p, sizeof p), 0);
    path_of(want, sizeof want, ".config/mcmc/tokens");
    assert_string_equal(p, want);
    assert_int_equal(mcmcc_admin_token_path(p, sizeof p), 0);
    assert_string_equal(p, "/xdg/state/mcmcd/admin.token");
    setenv("XDG_CONFIG_HOME", "/xdg/config", 1);
    assert_int_equal(mcmc_token_store_path(p, sizeof p), MCMC_CLIENT_OK);
    assert_string_equal(p, "/xdg/config/mcmc/tokens");
    unsetenv("XDG_CONFIG_HOME");
    unsetenv("XDG_STATE_HOME");
    unsetenv("HOME");
    assert_int_equal(mcmcc_token_store_path(p, sizeof p), -1);
    assert_int_equal(mcmc_token_store_path(p, sizeof p), MCMC_CLIENT_INVALID);
    assert_int_equal(mcmcc_admin_token_path(p, sizeof p), -1);
    mcmcc_token_found f;
    assert_string_equal(found_token("http://127.0.0.1:1", &f), ""); /* no HOME: nothing */
    setenv("HOME", dir, 1);
}

/* --- the search ---------------------------------------------------------- */

static void test_env_wins(void **state) {
    (void)state;
    put_file(".config/mcmc/tokens", "http://127.0.0.1:8470 fromstore\n", 0600);
    put_file(".local/state/mcmcd/admin.token", "fromadmin\n", 0600);
    setenv("MCMC_TOKEN", "fromenv", 1);
    mcmcc_token_found f;
    assert_string_equal(found_token("http://127.0.0.1:8470", &f), "fromenv");
    assert_string_equal(f.source, "MCMC_TOKEN");
    setenv("MCMC_TOKEN", "", 1); /* empty: as if unset */
    assert_string_equal(found_token("http://127.0.0.1:8470", &f), "fromstore");
    setenv("MCMC_TOKEN", "bad token", 1); /* not a token: passed over, said so */
    assert_string_equal(found_token("http://127.0.0.1:8470", &f), "fromstore");
    assert_non_null(strstr(f.note, "MCMC_TOKEN"));
}

static void test_store_by_url(void **state) {
    (void)state;
    put_file(".config/mcmc/tokens",
             "https://lab.example.org:8470 tokLab\nhttp://127.0.0.1:9000/ tok9000\n", 0600);
    mcmcc_token_found f;
    char want[512];
    path_of(want, sizeof want, ".config/mcmc/tokens");
    assert_string_equal(found_token("https://lab.example.org:8470", &f), "tokLab");
    assert_string_equal(f.source, want);
    assert_string_equal(f.note, "");
    /* trailing slashes, on either side, do not matter */
    assert_string_equal(found_token("https://lab.example.org:8470/", &f), "tokLab");
    assert_string_equal(found_token("http://127.0.0.1:9000", &f), "tok9000");
    assert_string_equal(found_token("http://127.0.0.1:9000//", &f), "tok9000");
    /* another server: none (and no admin file for a remote one) */
    assert_string_equal(found_token("https://other.example.org:8470", &f), "");
    assert_string_equal(f.source, "");
    assert_string_equal(found_token("http://lab.example.org:8470", &f), "");
    /* XDG_CONFIG_HOME, when absolute, moves the store */
    char xdg[512];
    path_of(xdg, sizeof xdg, "xdg");
    setenv("XDG_CONFIG_HOME", xdg, 1);
    assert_string_equal(found_token("https://lab.example.org:8470", &f), "");
    put_file("xdg/mcmc/tokens", "https://lab.example.org:8470 tokXdg\n", 0600);
    assert_string_equal(found_token("https://lab.example.org:8470", &f), "tokXdg");
}

static void test_exposed_files_skipped(void **state) {
    (void)state;
    char store[512], admin[512];
    path_of(store, sizeof store, ".config/mcmc/tokens");
    path_of(admin, sizeof admin, ".local/state/mcmcd/admin.token");
    put_file(".config/mcmc/tokens", "http://127.0.0.1:8470 fromstore\n", 0644);
    mcmcc_token_found f;
    assert_string_equal(found_token("http://127.0.0.1:8470", &f), "");
    assert_non_null(strstr(f.note, store));
    assert_non_null(strstr(f.note, "chmod 600"));
    /* the next in line is still read: the admin file, when private */
    put_file(".local/state/mcmcd/admin.token", "fromadmin\n", 0600);
    assert_string_equal(found_token("http://127.0.0.1:8470", &f), "fromadmin");
    assert_non_null(strstr(f.note, store));
    chmod(admin, 0640);
    assert_string_equal(found_token("http://127.0.0.1:8470", &f), "");
    chmod(store, 0604);
    assert_string_equal(found_token("http://127.0.0.1:8470", &f), "");
    chmod(store, 0600);
    assert_string_equal(found_token("http://127.0.0.1:8470", &f), "fromstore");
    assert_string_equal(f.note, "");
    /* through the public API: the client sends none and says why */
    chmod(store, 0644);
    mcmc_client *c;
    assert_int_equal(mcmc_client_new("http://127.0.0.1:8470", NULL, &c), MCMC_CLIENT_OK);
    assert_null(mcmc_client_token_source(c));
    assert_non_null(mcmc_client_token_note(c));
    assert_non_null(strstr(mcmc_client_token_note(c), store));
    mcmc_client_free(c);
}

static void test_admin_file_loopback_only(void **state) {
    (void)state;
    put_file(".local/state/mcmcd/admin.token", "mcmcd_0011_adminsecret\n", 0600);
    char want[512];
    path_of(want, sizeof want, ".local/state/mcmcd/admin.token");
    const char *local[] = {"http://127.0.0.1:8470", "http://localhost:8470/", "http://[::1]:8470",
                           "http://127.9.9.9:1"};
    mcmcc_token_found f;
    for (size_t i = 0; i < sizeof local / sizeof *local; i++) {
        assert_string_equal(found_token(local[i], &f), "mcmcd_0011_adminsecret");
        assert_string_equal(f.source, want);
    }
    const char *remote[] = {"http://10.0.0.1:8470", "https://lab.example.org",
                            "http://127.0.0.1.example.org:8470"};
    for (size_t i = 0; i < sizeof remote / sizeof *remote; i++)
        assert_string_equal(found_token(remote[i], &f), "");
    /* the store's line for the URL comes first */
    put_file(".config/mcmc/tokens", "http://127.0.0.1:8470 fromstore\n", 0600);
    assert_string_equal(found_token("http://127.0.0.1:8470", &f), "fromstore");
    assert_string_equal(found_token("http://localhost:8470", &f), "mcmcd_0011_adminsecret");
    /* XDG_STATE_HOME (absolute) moves the daemon's data dir; relative: ignored */
    char xdg[512];
    path_of(xdg, sizeof xdg, "state");
    setenv("XDG_STATE_HOME", xdg, 1);
    assert_string_equal(found_token("http://localhost:8470", &f), "");
    put_file("state/mcmcd/admin.token", "fromxdgstate\n", 0600);
    assert_string_equal(found_token("http://localhost:8470", &f), "fromxdgstate");
    setenv("XDG_STATE_HOME", "state", 1);
    assert_string_equal(found_token("http://localhost:8470", &f), "mcmcd_0011_adminsecret");
}

/* --- the store, written -------------------------------------------------- */

static void test_store_save(void **state) {
    (void)state;
    char store[512], sdir[512];
    path_of(store, sizeof store, ".config/mcmc/tokens");
    path_of(sdir, sizeof sdir, ".config/mcmc");
    mcmc_error err;
    assert_int_equal(mcmc_token_store_save("http://127.0.0.1:8470/", "tok1", &err), MCMC_CLIENT_OK);
    assert_int_equal(mode_of(store), 0600);
    assert_int_equal(mode_of(sdir), 0700);
    assert_string_equal(slurp(store), "http://127.0.0.1:8470 tok1\n");
    assert_int_equal(mcmc_token_store_save("https://lab:1", "tokLab", &err), MCMC_CLIENT_OK);
    /* a new login for the first URL replaces its line, in place */
    assert_int_equal(mcmc_token_store_save("http://127.0.0.1:8470", "tok2", &err), MCMC_CLIENT_OK);
    assert_string_equal(slurp(store), "http://127.0.0.1:8470 tok2\nhttps://lab:1 tokLab\n");
    mcmcc_token_found f;
    assert_string_equal(found_token("http://127.0.0.1:8470", &f), "tok2");
    assert_string_equal(found_token("https://lab:1/", &f), "tokLab");
    /* a store and directory others could read are made private again */
    chmod(store, 0644);
    chmod(sdir, 0755);
    assert_int_equal(mcmc_token_store_save("https://lab:1", "tokLab2", &err), MCMC_CLIENT_OK);
    assert_int_equal(mode_of(store), 0600);
    assert_int_equal(mode_of(sdir), 0700);
    /* no temporary file left behind */
    char cmd[600];
    snprintf(cmd, sizeof cmd, "[ $(ls -A '%s' | wc -l) -eq 1 ]", sdir);
    assert_int_equal(system(cmd), 0);
    /* bad arguments: nothing written */
    assert_int_equal(mcmc_token_store_save("https://lab:1", "two words", &err),
                     MCMC_CLIENT_INVALID);
    assert_string_equal(err.code, "invalid");
    assert_int_equal(mcmc_token_store_save("", "tok", &err), MCMC_CLIENT_INVALID);
    assert_int_equal(mcmc_token_store_save("http://x y", "tok", &err), MCMC_CLIENT_INVALID);
    assert_string_equal(slurp(store), "http://127.0.0.1:8470 tok2\nhttps://lab:1 tokLab2\n");
    /* a store that cannot be written says why */
    char blocker[512];
    path_of(blocker, sizeof blocker, "blocked");
    put_file("blocked", "", 0600); /* a file where the directory would go */
    setenv("XDG_CONFIG_HOME", blocker, 1);
    assert_int_equal(mcmc_token_store_save("https://lab:1", "tok", &err), MCMC_CLIENT_INVALID);
    assert_non_null(strstr(err.message, blocker));
}

/* --- the client ---------------------------------------------------------- */

static void test_client_tokens_and_statuses(void **state) {
    (void)state;
    mcmc_client *c;
    setenv("MCMC_TOKEN", "fromenv", 1);
    assert_int_equal(mcmc_client_new("http://127.0.0.1:1", NULL, &c), MCMC_CLIENT_OK);
    assert_string_equal(mcmc_client_token_source(c), "MCMC_TOKEN");
    assert_null(mcmc_client_token_note(c));
    mcmc_client_free(c);
    assert_int_equal(mcmc_client_new("http://127.0.0.1:1", "given", &c), MCMC_CLIENT_OK);
    assert_string_equal(mcmc_client_token_source(c), "argument");
    mcmc_client_free(c);
    assert_int_equal(mcmc_client_new("http://127.0.0.1:1", "", &c), MCMC_CLIENT_OK);
    assert_null(mcmc_client_token_source(c)); /* "": none, no search */
    mcmc_client_free(c);
    c = (mcmc_client *)1;
    assert_int_equal(mcmc_client_new("http://127.0.0.1:1", "a\r\nX-Evil: 1", &c),
                     MCMC_CLIENT_INVALID);
    assert_null(c);
    assert_null(mcmc_client_token_source(NULL));

    assert_string_equal(mcmc_client_status_name(MCMC_CLIENT_UNAUTHORIZED), "unauthorized");
    assert_string_equal(mcmc_client_status_name(MCMC_CLIENT_FORBIDDEN), "forbidden");
    assert_string_equal(mcmc_client_status_name(MCMC_CLIENT_RATE_LIMITED), "rate_limited");
    const mcmc_client_status answered[] = {MCMC_CLIENT_HTTP, MCMC_CLIENT_UNAUTHORIZED,
                                           MCMC_CLIENT_FORBIDDEN, MCMC_CLIENT_RATE_LIMITED};
    for (size_t i = 0; i < 4; i++)
        assert_true(mcmc_client_status_is_http(answered[i]));
    const mcmc_client_status not_answered[] = {MCMC_CLIENT_OK, MCMC_CLIENT_UNREACHABLE,
                                               MCMC_CLIENT_PROTOCOL, MCMC_CLIENT_INVALID};
    for (size_t i = 0; i < 4; i++)
        assert_false(mcmc_client_status_is_http(not_answered[i]));
    /* the old values stay where they were: the ABI of 1.0 */
    assert_int_equal(MCMC_CLIENT_HTTP, -2);
    assert_int_equal(MCMC_CLIENT_INVALID, -6);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_token_text_and_urls, setup, teardown),
        cmocka_unit_test_setup_teardown(test_store_text, setup, teardown),
        cmocka_unit_test_setup_teardown(test_paths, setup, teardown),
        cmocka_unit_test_setup_teardown(test_env_wins, setup, teardown),
        cmocka_unit_test_setup_teardown(test_store_by_url, setup, teardown),
        cmocka_unit_test_setup_teardown(test_exposed_files_skipped, setup, teardown),
        cmocka_unit_test_setup_teardown(test_admin_file_loopback_only, setup, teardown),
        cmocka_unit_test_setup_teardown(test_store_save, setup, teardown),
        cmocka_unit_test_setup_teardown(test_client_tokens_and_statuses, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
