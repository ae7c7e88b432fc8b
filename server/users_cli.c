/* users_cli.c - `mcmcd user` and `mcmcd token` (users_cli.h). They open
 * the registry of the data dir that `mcmcd serve` would use (the same
 * --data-dir and --config), so a running daemon sees each change at its
 * next request. Exit status: 0, 1 for a failure, 2 for a usage error. */
#include "users_cli.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "audit.h"
#include "config.h"
#include "serve.h"
#include "users.h"

static const char user_usage[] =
    "usage: mcmcd user add NAME [--admin]\n"
    "       mcmcd user list\n"
    "       mcmcd user rm NAME\n"
    "       mcmcd user set NAME KEY=VALUE...   (KEY: admin=yes|no, or a limit below;\n"
    "                                           VALUE default drops the user's own value)\n"
    "options: --data-dir DIR, --config FILE (as for mcmcd serve)\n";

static const char token_usage[] =
    "usage: mcmcd token new USER [--scope all|metrics] [--label TEXT]\n"
    "       mcmcd token list [USER]\n"
    "       mcmcd token revoke TOKEN_ID\n"
    "options: --data-dir DIR, --config FILE (as for mcmcd serve)\n"
    "The token is printed once, on stdout; only its hash is kept.\n";

typedef struct cli {
    registry *reg;
    const char *words[8]; /* positional arguments after the command */
    int nwords;
    int admin;
    const char *scope, *label;
} cli;

static int64_t now_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void print_limits_help(FILE *out) {
    fputs("limits (0: none):\n", out);
    for (int i = 0; i < LIMIT_COUNT; i++)
        fprintf(out, "  %-20s %s\n", limit_get((limit_id)i)->name, limit_get((limit_id)i)->help);
}

/* Splits options from words and opens the registry; 0, or the exit status. */
static int cli_open(cli *c, int argc, char **argv, const char *usage) {
    serve_config cfg;
    const char *dir = NULL, *conf = NULL;
    char err[1024];
    serve_config_defaults(&cfg);
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        const char **value = !strcmp(a, "--data-dir") || !strcmp(a, "-d") ? &dir
                             : !strcmp(a, "--config") || !strcmp(a, "-c") ? &conf
                             : !strcmp(a, "--scope")                      ? &c->scope
                             : !strcmp(a, "--label")                      ? &c->label
                                                                          : NULL;
        if (value && i + 1 < argc) {
            *value = argv[++i];
        } else if (!strcmp(a, "--admin")) {
            c->admin = 1;
        } else if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
            fputs(usage, stdout);
            if (usage == user_usage) print_limits_help(stdout);
            return -1;
        } else if (value || (a[0] == '-' && a[1]) || c->nwords == 8) {
            fprintf(stderr, "mcmcd: %s: %s\n%s", a, value ? "needs a value" : "unknown option",
                    usage);
            return 2;
        } else {
            c->words[c->nwords++] = a;
        }
    }
    if (conf && serve_config_load_file(&cfg, conf, err, sizeof err) != 0) {
        fprintf(stderr, "mcmcd: %s\n", err);
        return 2;
    }
    if (dir) snprintf(cfg.data_dir, sizeof cfg.data_dir, "%s", dir);
    if (serve_make_dirs(cfg.data_dir) != 0 ||
        registry_open(cfg.data_dir, &c->reg, err, sizeof err) != REGISTRY_OK) {
        fprintf(stderr, "mcmcd: %s: %s\n", cfg.data_dir, *err ? err : "cannot create it");
        return 1;
    }
    return 0;
}

/* Records a change made from the command line (audit.h); a failure to
 * record it is said on stderr, the change stands. */
static void audit(cli *c, const char *action, const char *object, const char *detail) {
    char who[USER_NAME_MAX + 80];
    audit_cli_user(who, sizeof who);
    if (audit_record(c->reg, now_ms(), who, action, object, 0, detail, NULL) != REGISTRY_OK)
        fprintf(stderr, "mcmcd: audit log: %s\n", registry_last_error(c->reg));
}

static int failed(cli *c, const char *what) {
    fprintf(stderr, "mcmcd: %s: %s\n", what, registry_last_error(c->reg));
    return 1;
}

static int print_user(void *ctx, const user_record *u) {
    (void)ctx;
    char own[512] = "";
    size_t n = 0;
    for (int i = 0; i < LIMIT_COUNT && n < sizeof own; i++) {
        if (!(u->limit_set >> i & 1u)) continue;
        char v[32];
        limit_format((limit_id)i, u->limit[i], v, sizeof v);
        n += (size_t)snprintf(own + n, sizeof own - n, "%s%s=%s", n ? " " : "",
                              limit_get((limit_id)i)->name, v);
    }
    printf("%-20s %-6s %s\n", u->name, u->admin ? "admin" : "user", *own ? own : "-");
    return 0;
}

/* One KEY=VALUE of `user set`. */
static int user_set_one(cli *c, const char *name, const char *kv) {
    const char *eq = strchr(kv, '=');
    char key[64];
    if (!eq || eq == kv || (size_t)(eq - kv) >= sizeof key) {
        fprintf(stderr, "mcmcd: user set: expected KEY=VALUE, got '%s'\n", kv);
        return 2;
    }
    snprintf(key, sizeof key, "%.*s", (int)(eq - kv), kv);
    const char *v = eq + 1;
    if (!strcmp(key, "admin")) {
        int yes = !strcmp(v, "yes") || !strcmp(v, "true") || !strcmp(v, "1");
        int no = !strcmp(v, "no") || !strcmp(v, "false") || !strcmp(v, "0");
        if (!yes && !no) {
            fprintf(stderr, "mcmcd: user set: admin takes yes or no\n");
            return 2;
        }
        return users_set_admin(c->reg, name, yes) ? failed(c, name) : 0;
    }
    limit_id id = limit_by_name(key);
    uint64_t value = 0;
    char msg[200];
    if (id == LIMIT_COUNT) {
        fprintf(stderr, "mcmcd: user set: unknown key '%s' (see mcmcd user --help)\n", key);
        return 2;
    }
    int clear = !strcmp(v, "default");
    if (!clear && limit_parse(id, v, &value, msg, sizeof msg) != 0) {
        fprintf(stderr, "mcmcd: user set: %s: %s\n", key, msg);
        return 2;
    }
    return users_set_limit(c->reg, name, id, clear, value) ? failed(c, name) : 0;
}

static int user_command(cli *c) {
    const char *cmd = c->nwords ? c->words[0] : "";
    const char *name = c->nwords > 1 ? c->words[1] : NULL;
    if (!strcmp(cmd, "list") && c->nwords == 1)
        return users_list(c->reg, print_user, NULL) ? failed(c, "list") : 0;
    if (!strcmp(cmd, "add") && c->nwords == 2) {
        if (users_add(c->reg, name, c->admin, now_ms(), NULL)) return failed(c, name);
        audit(c, "user.add", name, c->admin ? "admin" : NULL);
        printf("added %s %s; make a token with: mcmcd token new %s\n", c->admin ? "admin" : "user",
               name, name);
        return 0;
    }
    if (!strcmp(cmd, "rm") && c->nwords == 2) {
        if (users_remove(c->reg, name)) return failed(c, name);
        audit(c, "user.remove", name, NULL);
        printf("removed %s, its tokens and dataset references; its jobs stay for admins\n", name);
        return 0;
    }
    if (!strcmp(cmd, "set") && c->nwords >= 3) {
        for (int i = 2; i < c->nwords; i++) {
            int rc = user_set_one(c, name, c->words[i]);
            if (rc) return rc;
            audit(c, "user.set", name, c->words[i]);
        }
        user_record u;
        if (users_get(c->reg, name, &u)) return failed(c, name);
        return print_user(NULL, &u);
    }
    fputs(user_usage, stderr);
    return 2;
}

static int print_token(void *ctx, const token_record *t) {
    (void)ctx;
    char when[32] = "-";
    time_t s = (time_t)(t->created_ms / 1000);
    struct tm tm;
    if (gmtime_r(&s, &tm)) strftime(when, sizeof when, "%Y-%m-%dT%H:%M:%SZ", &tm);
    printf("%s  %-16s %-8s %s  %s\n", t->id, t->user, token_scope_name(t->scope), when, t->label);
    return 0;
}

static int token_command(cli *c) {
    const char *cmd = c->nwords ? c->words[0] : "";
    const char *arg = c->nwords > 1 ? c->words[1] : NULL;
    if (!strcmp(cmd, "new") && c->nwords == 2) {
        token_scope scope = TOKEN_SCOPE_ALL;
        if (c->scope && token_scope_parse(c->scope, &scope) != 0) {
            fprintf(stderr, "mcmcd: token new: --scope takes all or metrics\n");
            return 2;
        }
        char text[TOKEN_TEXT_LEN + 1], id[TOKEN_ID_LEN + 1];
        if (tokens_new(c->reg, arg, scope, c->label, now_ms(), text, id)) return failed(c, arg);
        char detail[USER_NAME_MAX + 40];
        snprintf(detail, sizeof detail, "user %s, scope %s", arg, token_scope_name(scope));
        audit(c, "token.new", id, detail);
        printf("%s\n", text);
        fprintf(stderr, "token %s for %s (scope %s): shown once, keep it secret\n", id, arg,
                token_scope_name(scope));
        return 0;
    }
    if (!strcmp(cmd, "list") && c->nwords <= 2)
        return tokens_list(c->reg, arg, print_token, NULL) ? failed(c, "list") : 0;
    if (!strcmp(cmd, "revoke") && c->nwords == 2) {
        if (tokens_revoke(c->reg, arg)) return failed(c, "revoke");
        /* by its id, never the secret of a token given whole */
        int whole = !strncmp(arg, "mcmcd_", 6);
        char id[TOKEN_ID_LEN + 1];
        snprintf(id, sizeof id, "%s", whole ? arg + 6 : arg);
        audit(c, "token.revoke", id, NULL);
        printf("revoked\n");
        return 0;
    }
    fputs(token_usage, stderr);
    return 2;
}

static int run(int argc, char **argv, const char *usage, int (*command)(cli *)) {
    cli c = {0};
    int rc = cli_open(&c, argc, argv, usage);
    if (rc) return rc < 0 ? 0 : rc;
    rc = command(&c);
    registry_close(c.reg);
    return rc;
}

int users_cli_user_main(int argc, char **argv) {
    return run(argc, argv, user_usage, user_command);
}

int users_cli_token_main(int argc, char **argv) {
    return run(argc, argv, token_usage, token_command);
}
