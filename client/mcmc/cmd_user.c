/* cmd_user.c - the account commands: `mcmc whoami` (who the token acts for,
 * with the user's limits and usage) and `mcmc login` (a token read from
 * stdin, without echo on a terminal, checked with the server and kept in
 * the library's token store). */
#include <inttypes.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <termios.h>
#include <unistd.h>

#include "cli.h"

/* --- whoami -------------------------------------------------------------- */

static int ends_with(const char *s, const char *tail) {
    size_t n = strlen(s), k = strlen(tail);
    return n >= k && !strcmp(s + n - k, tail);
}

/* A limit's or usage's value as a person reads it: sizes in KiB, MiB...,
 * durations in the largest unit that divides them. */
static const char *value_text(char *buf, size_t cap, const char *name, uint64_t v) {
    static const struct {
        uint64_t seconds;
        const char *unit;
    } units[] = {{86400, "d"}, {3600, "h"}, {60, "m"}, {1, "s"}};
    if (ends_with(name, "_bytes")) return cli_fmt_bytes(buf, cap, v);
    if (ends_with(name, "_seconds") || ends_with(name, "_retention")) {
        size_t u = 0;
        while (v % units[u].seconds) /* ends at "s": every v divides by 1 */
            u++;
        snprintf(buf, cap, "%" PRIu64 "%s", v / units[u].seconds, v ? units[u].unit : "s");
        return buf;
    }
    snprintf(buf, cap, "%" PRIu64, v);
    return buf;
}

static int has_value(const mcmc_user_value *v, size_t n, const char *name) {
    for (size_t i = 0; i < n; i++)
        if (!strcmp(v[i].name, name)) return 1;
    return 0;
}

static void print_user(cli *c, const mcmc_user *u) {
    const char *source = mcmc_client_token_source(c->client);
    printf("name    %s\n", u->name);
    printf("role    %s\n", u->admin ? "admin" : "user");
    printf("server  %s\n", c->server);
    printf("token   %s\n", source ? source : "(none)");
    printf("\n%-22s %12s %12s\n", "LIMIT", "VALUE", "USED");
    char a[32], b[32];
    for (size_t i = 0; i < u->nlimits; i++) {
        const mcmc_user_value *l = &u->limits[i];
        int used = has_value(u->usage, u->nusage, l->name);
        printf("%-22s %12s %12s\n", l->name,
               l->value ? value_text(a, sizeof a, l->name, l->value) : "none",
               used ? value_text(b, sizeof b, l->name,
                                 mcmc_user_value_get(u->usage, u->nusage, l->name))
                    : "-");
    }
    for (size_t i = 0; i < u->nusage; i++) /* usage of no limit the server names */
        if (!has_value(u->limits, u->nlimits, u->usage[i].name))
            printf("%-22s %12s %12s\n", u->usage[i].name, "-",
                   value_text(b, sizeof b, u->usage[i].name, u->usage[i].value));
}

int cmd_whoami(cli *c, int argc, char **argv) {
    int json = 0;
    if (cli_json_option(c, argc, argv, &json) == CLI_OPT_STOP) return c->rc;
    if (cli_operands(c, argc, argv, 0, "")) return CLI_USAGE;
    mcmc_client *client = cli_client(c);
    if (!client) return CLI_USAGE;
    mcmc_user u;
    mcmc_error err;
    mcmc_client_status st = mcmc_whoami(client, &u, &err);
    if (st != MCMC_CLIENT_OK) return cli_fail(c, "whoami", st, &err);
    if (json) {
        jw w;
        jw_init(&w, stdout);
        jw_user(&w, &u);
    } else {
        print_user(c, &u);
    }
    mcmc_user_free(&u);
    return CLI_OK;
}

/* --- login: reading the token -------------------------------------------- */

static struct termios saved_tty;

/* A signal while echo is off: echo back on, then the default action. */
static void restore_tty_and_die(int sig) {
    tcsetattr(STDIN_FILENO, TCSANOW, &saved_tty);
    signal(sig, SIG_DFL);
    raise(sig);
}

/* One line of stdin into buf, without echo when stdin is a terminal (the
 * prompt then goes to stderr). 0, or -1 at the end of the input. */
static int read_secret_line(const char *prompt, char *buf, size_t cap) {
    int tty = isatty(STDIN_FILENO) && tcgetattr(STDIN_FILENO, &saved_tty) == 0;
    struct sigaction old_int, old_term, on_sig = {.sa_handler = restore_tty_and_die};
    if (tty) {
        struct termios quiet = saved_tty;
        quiet.c_lflag &= ~(tcflag_t)ECHO;
        quiet.c_lflag |= ECHONL;
        sigaction(SIGINT, &on_sig, &old_int);
        sigaction(SIGTERM, &on_sig, &old_term);
        tcsetattr(STDIN_FILENO, TCSAFLUSH, &quiet); /* echo off before the prompt shows */
        fputs(prompt, stderr);
        fflush(stderr);
    }
    char *line = fgets(buf, (int)cap, stdin);
    if (tty) {
        tcsetattr(STDIN_FILENO, TCSAFLUSH, &saved_tty);
        sigaction(SIGINT, &old_int, NULL);
        sigaction(SIGTERM, &old_term, NULL);
    }
    return line ? 0 : -1;
}

/* buf without the white space around it, moved to its start. */
static void trim(char *buf) {
    size_t start = strspn(buf, " \t\r\n"), n = strlen(buf + start);
    memmove(buf, buf + start, n + 1);
    while (n > 0 && strchr(" \t\r\n", buf[n - 1]))
        buf[--n] = '\0';
}

/* --- login --------------------------------------------------------------- */

/* Asks the server who token is; CLI_OK, or an exit code after a message. */
static int check_token(cli *c, mcmc_user *u) {
    mcmc_client *client = cli_client(c);
    if (!client) return CLI_USAGE;
    mcmc_error err;
    mcmc_client_status st = mcmc_whoami(client, u, &err);
    if (st == MCMC_CLIENT_UNAUTHORIZED) {
        fprintf(stderr, "mcmc: login: %s refused the token: %s (HTTP 401 %s); nothing stored\n",
                c->server, err.message, err.code);
        return CLI_FAILED;
    }
    return st == MCMC_CLIENT_OK ? CLI_OK : cli_fail(c, "login", st, &err);
}

static int store_token(cli *c, const char *token, const mcmc_user *u) {
    mcmc_error err;
    char path[4096];
    if (mcmc_token_store_save(c->server, token, &err) != MCMC_CLIENT_OK)
        return cli_error("login: the token is good, but not stored: %s", err.message);
    mcmc_token_store_path(path, sizeof path);
    printf("logged in to %s as %s (%s); the token is stored in %s\n", c->server, u->name,
           u->admin ? "admin" : "user", path);
    return CLI_OK;
}

int cmd_login(cli *c, int argc, char **argv) {
    int opt;
    while ((opt = cli_getopt(c, argc, argv, "", NULL)) >= 0) {
    }
    if (opt == CLI_OPT_STOP) return c->rc;
    if (cli_operands(c, argc, argv, 0, "")) return CLI_USAGE;
    char token[2048] = "";
    if (c->token) {
        snprintf(token, sizeof token, "%s", c->token);
    } else {
        char prompt[512];
        snprintf(prompt, sizeof prompt, "Token for %s: ", c->server);
        if (read_secret_line(prompt, token, sizeof token) != 0) token[0] = '\0';
    }
    trim(token);
    if (!token[0]) return cli_usage_error(c, "no token on stdin");
    c->token = token; /* this one, not the search's */
    mcmc_user u;
    int rc = check_token(c, &u);
    if (rc == CLI_OK) {
        rc = store_token(c, token, &u);
        mcmc_user_free(&u);
    }
    memset(token, 0, sizeof token);
    return rc;
}
