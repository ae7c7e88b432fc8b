/* test_users.c - users and API tokens in the registry (server/users.c) and
 * the principal a request's Authorization header becomes (server/auth.c):
 * names, roles, limits over the config's defaults, tokens made, verified,
 * revoked, scoped; malformed and near-miss tokens refused; the first
 * start's admin token file. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "auth.h"
#include "registry_internal.h"
#include "users.h"

typedef struct fixture {
    char dir[64];
    registry *reg;
    serve_config cfg;
} fixture;

static int setup(void **state) {
    fixture *f = calloc(1, sizeof *f);
    char err[256];
    if (!f) return -1;
    strcpy(f->dir, "/tmp/test_users_XXXXXX");
    if (!mkdtemp(f->dir) || registry_open(f->dir, &f->reg, err, sizeof err) != REGISTRY_OK)
        return -1;
    serve_config_defaults(&f->cfg);
    snprintf(f->cfg.data_dir, sizeof f->cfg.data_dir, "%s", f->dir);
    *state = f;
    return 0;
}

static int teardown(void **state) {
    fixture *f = *state;
    char cmd[128];
    registry_close(f->reg);
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", f->dir);
    int rc = system(cmd);
    free(f);
    return rc == 0 ? 0 : -1;
}

static void test_users_add_get_list(void **state) {
    fixture *f = *state;
    int64_t id;
    user_record u;
    assert_int_equal(users_get_by_id(f->reg, USER_ADMIN_ID, &u), REGISTRY_OK);
    assert_string_equal(u.name, "admin");
    assert_true(u.admin);
    assert_int_equal(users_add(f->reg, "alice", 0, 1000, &id), REGISTRY_OK);
    assert_true(id > USER_ADMIN_ID);
    assert_int_equal(users_add(f->reg, "alice", 1, 1000, NULL), REGISTRY_EXISTS);
    const char *bad[] = {"", "-x", "a b", "a/b", ".hidden", "x\n"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        assert_int_equal(users_add(f->reg, bad[i], 0, 1, NULL), REGISTRY_EINVAL);
    assert_int_equal(users_get(f->reg, "alice", &u), REGISTRY_OK);
    assert_int_equal(u.id, id);
    assert_false(u.admin);
    assert_int_equal(users_set_admin(f->reg, "alice", 1), REGISTRY_OK);
    assert_int_equal(users_get(f->reg, "alice", &u), REGISTRY_OK);
    assert_true(u.admin);
    assert_int_equal(users_set_admin(f->reg, "nobody", 1), REGISTRY_NOT_FOUND);
    assert_int_equal(users_remove(f->reg, "alice"), REGISTRY_OK);
    assert_int_equal(users_get(f->reg, "alice", &u), REGISTRY_NOT_FOUND);
    assert_int_equal(users_remove(f->reg, "alice"), REGISTRY_NOT_FOUND);
}

/* A user's own limits win over the defaults; "default" drops one. */
static void test_limits(void **state) {
    fixture *f = *state;
    user_record u;
    user_limits eff;
    assert_int_equal(users_add(f->reg, "bob", 0, 1, NULL), REGISTRY_OK);
    assert_int_equal(users_set_limit(f->reg, "bob", LIMIT_RUNNING_CHAINS, 0, 3), REGISTRY_OK);
    assert_int_equal(users_set_limit(f->reg, "bob", LIMIT_STORED_BYTES, 0, 1ull << 30),
                     REGISTRY_OK);
    assert_int_equal(users_get(f->reg, "bob", &u), REGISTRY_OK);
    user_effective_limits(&u, &f->cfg.limits, &eff);
    assert_int_equal(eff.v[LIMIT_RUNNING_CHAINS], 3);
    assert_int_equal(eff.v[LIMIT_STORED_BYTES], 1ull << 30);
    assert_int_equal(eff.v[LIMIT_QUEUED_JOBS], f->cfg.limits.v[LIMIT_QUEUED_JOBS]);
    assert_int_equal(users_set_limit(f->reg, "bob", LIMIT_RUNNING_CHAINS, 1, 0), REGISTRY_OK);
    assert_int_equal(users_get(f->reg, "bob", &u), REGISTRY_OK);
    user_effective_limits(&u, &f->cfg.limits, &eff);
    assert_int_equal(eff.v[LIMIT_RUNNING_CHAINS], f->cfg.limits.v[LIMIT_RUNNING_CHAINS]);
    assert_int_equal(eff.v[LIMIT_STORED_BYTES], 1ull << 30);
    assert_int_equal(users_set_limit(f->reg, "nobody", LIMIT_STORED_BYTES, 0, 1),
                     REGISTRY_NOT_FOUND);
}

static void flip_char(char *s, size_t at) {
    s[at] = s[at] == 'a' ? 'b' : 'a';
}

/* A token verifies as its user and scope; one changed character, a
 * revoked one, another's id with this secret all fail alike. */
static void test_tokens(void **state) {
    fixture *f = *state;
    char text[TOKEN_TEXT_LEN + 1], id[TOKEN_ID_LEN + 1], other[TOKEN_TEXT_LEN + 1],
        oid[TOKEN_ID_LEN + 1];
    user_record u;
    token_scope scope;
    assert_int_equal(users_add(f->reg, "carol", 0, 1, NULL), REGISTRY_OK);
    assert_int_equal(tokens_new(f->reg, "carol", TOKEN_SCOPE_ALL, "laptop", 5, text, id),
                     REGISTRY_OK);
    assert_int_equal(strlen(text), TOKEN_TEXT_LEN);
    assert_memory_equal(text, "mcmcd_", 6);
    assert_memory_equal(text + 6, id, TOKEN_ID_LEN);
    assert_int_equal(tokens_verify(f->reg, text, 10, &u, &scope), REGISTRY_OK);
    assert_string_equal(u.name, "carol");
    assert_int_equal(scope, TOKEN_SCOPE_ALL);
    assert_int_equal(tokens_new(f->reg, "carol", TOKEN_SCOPE_METRICS, NULL, 6, other, oid),
                     REGISTRY_OK);
    assert_int_equal(tokens_verify(f->reg, other, 10, &u, &scope), REGISTRY_OK);
    assert_int_equal(scope, TOKEN_SCOPE_METRICS);
    assert_int_equal(tokens_new(f->reg, "nobody", TOKEN_SCOPE_ALL, NULL, 6, other, oid),
                     REGISTRY_NOT_FOUND);

    char bad[TOKEN_TEXT_LEN + 2];
    for (size_t at = 6; at < TOKEN_TEXT_LEN; at += 9) { /* id and secret characters */
        if (at == 6 + TOKEN_ID_LEN) continue;           /* the '_' between them */
        strcpy(bad, text);
        flip_char(bad, at);
        assert_int_equal(tokens_verify(f->reg, bad, 10, &u, &scope), REGISTRY_NOT_FOUND);
    }
    snprintf(bad, sizeof bad, "%.*s", TOKEN_TEXT_LEN - 1, text); /* one short */
    assert_int_equal(tokens_verify(f->reg, bad, 10, &u, &scope), REGISTRY_NOT_FOUND);
    assert_int_equal(tokens_verify(f->reg, id, 10, &u, &scope), REGISTRY_NOT_FOUND); /* id alone */
    assert_int_equal(tokens_verify(f->reg, "", 10, &u, &scope), REGISTRY_NOT_FOUND);

    assert_int_equal(tokens_revoke(f->reg, id), REGISTRY_OK);
    assert_int_equal(tokens_verify(f->reg, text, 10, &u, &scope), REGISTRY_NOT_FOUND);
    assert_int_equal(tokens_revoke(f->reg, id), REGISTRY_NOT_FOUND);
    assert_int_equal(tokens_revoke(f->reg, other), REGISTRY_OK); /* by the whole text too */
    int64_t n;
    assert_int_equal(tokens_count(f->reg, &n), REGISTRY_OK);
    assert_int_equal(n, 0);
}

/* Removing a user drops its tokens. */
static void test_remove_drops_tokens(void **state) {
    fixture *f = *state;
    char text[TOKEN_TEXT_LEN + 1], id[TOKEN_ID_LEN + 1];
    user_record u;
    token_scope scope;
    assert_int_equal(users_add(f->reg, "dan", 0, 1, NULL), REGISTRY_OK);
    assert_int_equal(tokens_new(f->reg, "dan", TOKEN_SCOPE_ALL, NULL, 5, text, id), REGISTRY_OK);
    assert_int_equal(users_remove(f->reg, "dan"), REGISTRY_OK);
    assert_int_equal(tokens_verify(f->reg, text, 10, &u, &scope), REGISTRY_NOT_FOUND);
}

/* Tokens kept between requests (token_cache): a kept token answers with
 * no registry read, and a change made through another connection to the
 * same data dir, as `mcmcd token revoke` or `mcmcd user set` makes from
 * another process, is seen at the very next check: a revoked token, a
 * removed user and new limits alike. */
static void test_tokens_kept(void **state) {
    fixture *f = *state;
    char text[TOKEN_TEXT_LEN + 1], id[TOKEN_ID_LEN + 1], err[256];
    user_record u;
    token_scope scope;
    registry *other; /* the command line's connection */
    assert_int_equal(registry_open(f->dir, &other, err, sizeof err), REGISTRY_OK);
    token_cache *kept = token_cache_new();
    assert_non_null(kept);
    assert_int_equal(users_add(f->reg, "gus", 0, 1, NULL), REGISTRY_OK);
    assert_int_equal(tokens_new(f->reg, "gus", TOKEN_SCOPE_ALL, NULL, 5, text, id), REGISTRY_OK);
    assert_int_equal(tokens_verify_kept(f->reg, kept, text, 10, &u, &scope), REGISTRY_OK);
    assert_string_equal(u.name, "gus");

    /* kept: the row deleted behind the users module's back (no change
     * counted) still verifies from the cache, and not without it */
    assert_int_equal(sqlite3_exec(registry_sqlite(other), "DELETE FROM tokens", NULL, NULL, NULL),
                     SQLITE_OK);
    assert_int_equal(tokens_verify_kept(f->reg, kept, text, 11, &u, &scope), REGISTRY_OK);
    assert_int_equal(tokens_verify(f->reg, text, 11, &u, &scope), REGISTRY_NOT_FOUND);
    /* a wrong secret under a kept id is refused */
    char bad[TOKEN_TEXT_LEN + 1];
    strcpy(bad, text);
    flip_char(bad, TOKEN_TEXT_LEN - 1);
    assert_int_equal(tokens_verify_kept(f->reg, kept, bad, 11, &u, &scope), REGISTRY_NOT_FOUND);

    /* a counted change through the other connection drops the kept entry */
    assert_int_equal(tokens_new(other, "gus", TOKEN_SCOPE_ALL, NULL, 5, text, id), REGISTRY_OK);
    assert_int_equal(tokens_verify_kept(f->reg, kept, text, 12, &u, &scope), REGISTRY_OK);
    assert_int_equal(users_set_limit(other, "gus", LIMIT_QUEUED_JOBS, 0, 3), REGISTRY_OK);
    assert_int_equal(tokens_verify_kept(f->reg, kept, text, 13, &u, &scope), REGISTRY_OK);
    assert_true(u.limit_set >> LIMIT_QUEUED_JOBS & 1u);
    assert_int_equal(u.limit[LIMIT_QUEUED_JOBS], 3);
    assert_int_equal(tokens_revoke(other, id), REGISTRY_OK);
    assert_int_equal(tokens_verify_kept(f->reg, kept, text, 14, &u, &scope), REGISTRY_NOT_FOUND);
    assert_int_equal(tokens_new(other, "gus", TOKEN_SCOPE_ALL, NULL, 5, text, id), REGISTRY_OK);
    assert_int_equal(tokens_verify_kept(f->reg, kept, text, 15, &u, &scope), REGISTRY_OK);
    assert_int_equal(users_remove(other, "gus"), REGISTRY_OK);
    assert_int_equal(tokens_verify_kept(f->reg, kept, text, 16, &u, &scope), REGISTRY_NOT_FOUND);
    token_cache_free(kept);
    registry_close(other);
}

/* The Authorization header: Bearer only, one token, nothing after it. */
static void test_auth_identify(void **state) {
    fixture *f = *state;
    char text[TOKEN_TEXT_LEN + 1], id[TOKEN_ID_LEN + 1], h[256];
    principal p;
    assert_int_equal(users_add(f->reg, "erin", 0, 1, NULL), REGISTRY_OK);
    assert_int_equal(users_set_limit(f->reg, "erin", LIMIT_QUEUED_JOBS, 0, 7), REGISTRY_OK);
    assert_int_equal(tokens_new(f->reg, "erin", TOKEN_SCOPE_ALL, NULL, 5, text, id), REGISTRY_OK);
    assert_int_equal(auth_identify(f->reg, NULL, &f->cfg, NULL, 9, &p), AUTH_MISSING);
    assert_int_equal(auth_identify(f->reg, NULL, &f->cfg, "Basic abc", 9, &p), AUTH_MISSING);
    assert_int_equal(auth_identify(f->reg, NULL, &f->cfg, "Bearer", 9, &p), AUTH_MISSING);
    snprintf(h, sizeof h, "bearer  %s", text);
    assert_int_equal(auth_identify(f->reg, NULL, &f->cfg, h, 9, &p), AUTH_OK);
    assert_string_equal(p.name, "erin");
    assert_false(p.admin);
    assert_int_equal(p.limits.v[LIMIT_QUEUED_JOBS], 7);
    snprintf(h, sizeof h, "Bearer %s extra", text);
    assert_int_equal(auth_identify(f->reg, NULL, &f->cfg, h, 9, &p), AUTH_INVALID);
    assert_int_equal(auth_identify(f->reg, NULL, &f->cfg, "Bearer mcmcd_nope", 9, &p),
                     AUTH_INVALID);
    /* auth = none: everyone is the admin */
    snprintf(f->cfg.auth, sizeof f->cfg.auth, "none");
    assert_int_equal(auth_identify(f->reg, NULL, &f->cfg, NULL, 9, &p), AUTH_OK);
    assert_true(p.admin);
    assert_int_equal(p.user_id, USER_ADMIN_ID);
}

static void test_auth_none_needs_loopback(void **state) {
    fixture *f = *state;
    char err[256];
    snprintf(f->cfg.auth, sizeof f->cfg.auth, "none");
    const char *ok[] = {"127.0.0.1", "127.1.2.3", "::1", "localhost"};
    const char *no[] = {"0.0.0.0", "192.168.1.5", "::", "example.org"};
    for (int i = 0; i < 4; i++) {
        snprintf(f->cfg.bind, sizeof f->cfg.bind, "%s", ok[i]);
        assert_int_equal(auth_check_config(&f->cfg, err, sizeof err), 0);
        snprintf(f->cfg.bind, sizeof f->cfg.bind, "%s", no[i]);
        assert_int_equal(auth_check_config(&f->cfg, err, sizeof err), -1);
        assert_non_null(strstr(err, "loopback"));
    }
}

/* The first start writes one admin token, 0600; a second start does not. */
static void test_first_start(void **state) {
    fixture *f = *state;
    char err[256], path[128], text[128] = "";
    struct stat st;
    assert_int_equal(auth_first_start(f->reg, &f->cfg, 1, err, sizeof err), 0);
    snprintf(path, sizeof path, "%s/admin.token", f->dir);
    assert_int_equal(stat(path, &st), 0);
    assert_int_equal(st.st_mode & 0777, 0600);
    FILE *fp = fopen(path, "r");
    assert_non_null(fp);
    assert_non_null(fgets(text, sizeof text, fp));
    fclose(fp);
    text[strcspn(text, "\n")] = 0;
    user_record u;
    token_scope scope;
    assert_int_equal(tokens_verify(f->reg, text, 2, &u, &scope), REGISTRY_OK);
    assert_true(u.admin);
    assert_int_equal(unlink(path), 0);
    assert_int_equal(auth_first_start(f->reg, &f->cfg, 3, err, sizeof err), 0);
    assert_int_equal(stat(path, &st), -1); /* a token exists: nothing written */
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_users_add_get_list, setup, teardown),
        cmocka_unit_test_setup_teardown(test_limits, setup, teardown),
        cmocka_unit_test_setup_teardown(test_tokens, setup, teardown),
        cmocka_unit_test_setup_teardown(test_remove_drops_tokens, setup, teardown),
        cmocka_unit_test_setup_teardown(test_tokens_kept, setup, teardown),
        cmocka_unit_test_setup_teardown(test_auth_identify, setup, teardown),
        cmocka_unit_test_setup_teardown(test_auth_none_needs_loopback, setup, teardown),
        cmocka_unit_test_setup_teardown(test_first_start, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
