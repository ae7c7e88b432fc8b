/* cli.c - what every subcommand of mcmc uses: option parsing with the
 * common options, usage errors, the client, error reports with the
 * server's field paths, reading input files, and human-readable numbers. */
#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

/* --- options ------------------------------------------------------------- */

int cli_usage_error(cli *c, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "mcmc: %s: ", c->cmd ? c->cmd->name : "usage");
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fprintf(stderr, "\nTry 'mcmc %s --help'.\n", c->cmd ? c->cmd->name : "");
    return CLI_USAGE;
}

int cli_stop(cli *c, int rc) {
    c->rc = rc;
    return -1;
}

static int stop(cli *c, int rc) {
    c->rc = rc;
    return CLI_OPT_STOP;
}

/* The command's long options, then --server, --token and --help, into
 * c->longs. */
static void merge_longs(cli *c, const struct option *longs) {
    size_t n = 0, max = sizeof c->longs / sizeof c->longs[0] - 4;
    for (; longs && longs[n].name && n < max; n++)
        c->longs[n] = longs[n];
    c->longs[n++] = (struct option){"server", required_argument, 0, OPT_SERVER};
    c->longs[n++] = (struct option){"token", required_argument, 0, OPT_TOKEN};
    c->longs[n++] = (struct option){"help", no_argument, 0, 'h'};
    c->longs[n] = (struct option){0, 0, 0, 0};
}

int cli_getopt(cli *c, int argc, char **argv, const char *shorts, const struct option *longs) {
    char spec[64];
    snprintf(spec, sizeof spec, ":h%s", shorts);
    if (!c->opts_begun) {
        c->opts_begun = 1;
        merge_longs(c, longs);
        optind = 0; /* glibc: start over, for a new argv */
        opterr = 0;
    }
    for (;;) {
        int opt = getopt_long(argc, argv, spec, c->longs, NULL);
        switch (opt) {
        case OPT_SERVER:
            c->server = optarg;
            continue;
        case OPT_TOKEN:
            c->token = optarg;
            continue;
        case 'h':
            cli_print_help(c, stdout, c->cmd);
            return stop(c, CLI_OK);
        case ':':
            return stop(c, cli_usage_error(c, "option '%s' needs a value", argv[optind - 1]));
        case '?':
            if (optopt && optopt < 256)
                return stop(c, cli_usage_error(c, "unknown option '-%c'", optopt));
            return stop(c, cli_usage_error(c, "unknown option '%s'", argv[optind - 1]));
        default:
            return opt;
        }
    }
}

int cli_json_option(cli *c, int argc, char **argv, int *json) {
    static const struct option longs[] = {{"json", no_argument, 0, OPT_JSON}, {0, 0, 0, 0}};
    int opt;
    while ((opt = cli_getopt(c, argc, argv, "", longs)) >= 0)
        if (opt == OPT_JSON) *json = 1;
    return opt == CLI_OPT_STOP ? CLI_OPT_STOP : 0;
}

int cli_operands(cli *c, int argc, char **argv, int n, const char *what) {
    int have = argc - optind;
    if (have == n) return 0;
    if (have < n) return cli_usage_error(c, "%s missing", what);
    return cli_usage_error(c, "unexpected argument '%s'", argv[optind + n]);
}

int cli_parse_u64(cli *c, const char *option, const char *text, uint64_t *out) {
    char *end;
    errno = 0;
    unsigned long long v = strtoull(text, &end, 10);
    if (!*text || *text < '0' || *text > '9' || *end || errno == ERANGE) {
        cli_usage_error(c, "%s must be an integer >= 0, not '%s'", option, text);
        return -1;
    }
    *out = v;
    return 0;
}

/* --- the server ---------------------------------------------------------- */

mcmc_client *cli_client(cli *c) {
    if (c->client) return c->client;
    if (strncmp(c->server, "http://", 7) != 0 && strncmp(c->server, "https://", 8) != 0) {
        cli_usage_error(c, "the server '%s' is not an http:// or https:// URL", c->server);
        return NULL;
    }
    mcmc_client_status st = mcmc_client_new(c->server, c->token, &c->client);
    if (st == MCMC_CLIENT_INVALID) {
        cli_usage_error(c, "--token: not a token (spaces or control characters)");
        return NULL;
    }
    if (st != MCMC_CLIENT_OK) {
        cli_error("out of memory");
        return NULL;
    }
    /* No limit on a whole request (a big upload, a summary of a long job):
     * a server that sends nothing for 30 s is given up instead. */
    mcmc_client_set_timeouts(c->client, 5000, 0, 30);
    return c->client;
}

int cli_error(const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    fputs("mcmc: ", stderr);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
    return CLI_FAILED;
}

static void print_details(const mcmc_error *err) {
    for (size_t i = 0; i < err->ndetails; i++) {
        const mcmc_error_detail *d = &err->details[i];
        if (d->path[0])
            fprintf(stderr, "mcmc:   at %s: %s\n", d->path, d->message);
        else if (!strstr(err->message, d->message))
            fprintf(stderr, "mcmc:   %s\n", d->message);
    }
}

void cli_unauthorized(cli *c, const mcmc_error *err) {
    fprintf(stderr, "mcmc: 401 unauthorized: %s (set MCMC_TOKEN, or run 'mcmc login')\n",
            err && err->message[0] ? err->message : "no token");
    const char *note = mcmc_client_token_note(c->client);
    if (note) fprintf(stderr, "mcmc: %s\n", note);
}

int cli_fail(cli *c, const char *what, mcmc_client_status st, const mcmc_error *err) {
    const char *msg = err && err->message[0] ? err->message : mcmc_client_status_name(st);
    if (st == MCMC_CLIENT_UNREACHABLE) {
        fprintf(stderr, "mcmc: %s: cannot reach the server: %s\n", what, msg);
        return CLI_UNREACHABLE;
    }
    if (st == MCMC_CLIENT_UNAUTHORIZED) {
        cli_unauthorized(c, err);
        return CLI_FAILED;
    }
    if (mcmc_client_status_is_http(st) && err) {
        fprintf(stderr, "mcmc: %s: %s (HTTP %d %s)\n", what, msg, err->status, err->code);
        print_details(err);
        return CLI_FAILED;
    }
    fprintf(stderr, "mcmc: %s: %s\n", what, msg);
    return CLI_FAILED;
}

/* --- files --------------------------------------------------------------- */

static char *read_stream(FILE *f) {
    size_t len = 0, cap = 4096;
    char *buf = malloc(cap);
    while (buf) {
        len += fread(buf + len, 1, cap - len - 1, f);
        if (ferror(f) || feof(f)) break;
        char *more = realloc(buf, cap * 2);
        if (!more) free(buf);
        buf = more;
        cap *= 2;
    }
    if (buf && ferror(f)) {
        free(buf);
        return NULL;
    }
    if (buf) buf[len] = '\0';
    return buf;
}

char *cli_read_file(const char *path) {
    int use_stdin = !strcmp(path, "-");
    FILE *f = use_stdin ? stdin : fopen(path, "rb");
    if (!f) {
        fprintf(stderr, "mcmc: cannot read %s: %s\n", path, strerror(errno));
        return NULL;
    }
    char *text = read_stream(f);
    if (!text) fprintf(stderr, "mcmc: cannot read %s: %s\n", path, strerror(errno));
    if (!use_stdin) fclose(f);
    return text;
}

/* --- text ---------------------------------------------------------------- */

const char *cli_fmt_count(char *buf, size_t cap, double v) {
    if (!isfinite(v))
        snprintf(buf, cap, "-");
    else if (v >= 1e9)
        snprintf(buf, cap, "%.2fG", v / 1e9);
    else if (v >= 1e6)
        snprintf(buf, cap, "%.2fM", v / 1e6);
    else if (v >= 1e4)
        snprintf(buf, cap, "%.1fk", v / 1e3);
    else
        snprintf(buf, cap, "%.0f", v);
    return buf;
}

const char *cli_fmt_duration(char *buf, size_t cap, double s) {
    if (!isfinite(s) || s < 0 || s > 1e8) {
        snprintf(buf, cap, "-:--");
        return buf;
    }
    unsigned long t = (unsigned long)(s + 0.5);
    if (t >= 3600)
        snprintf(buf, cap, "%lu:%02lu:%02lu", t / 3600, t / 60 % 60, t % 60);
    else
        snprintf(buf, cap, "%lu:%02lu", t / 60, t % 60);
    return buf;
}

const char *cli_fmt_bytes(char *buf, size_t cap, uint64_t bytes) {
    static const char *const units[] = {"B", "KiB", "MiB", "GiB", "TiB"};
    double v = (double)bytes;
    int u = 0;
    while (v >= 1024 && u < 4)
        v /= 1024, u++;
    if (u == 0)
        snprintf(buf, cap, "%llu B", (unsigned long long)bytes);
    else
        snprintf(buf, cap, "%.1f %s", v, units[u]);
    return buf;
}

const char *cli_fmt_num(char *buf, size_t cap, const char *fmt, double v) {
    if (!isfinite(v)) {
        snprintf(buf, cap, "-");
        return buf;
    }
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wformat-nonliteral"
    snprintf(buf, cap, fmt, v);
#pragma GCC diagnostic pop
    return buf;
}
