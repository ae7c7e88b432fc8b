/* cli.h - what the mcmc tool's source files share: exit codes, the state
 * of one invocation, option parsing with the options every subcommand
 * takes, error reporting, a small JSON writer, human-readable numbers, and
 * the entry points of the subcommands (one file per group). */
#ifndef MCMC_CLI_H
#define MCMC_CLI_H

#include <getopt.h>
#include <jansson.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>

#include "mcmcclient.h"

/* --- exit codes ---------------------------------------------------------- */

#define CLI_OK 0            /* done: the command (and the job) succeeded */
#define CLI_FAILED 1        /* the job failed or was cancelled; a server error */
#define CLI_USAGE 2         /* bad command line, unreadable input file */
#define CLI_UNREACHABLE 3   /* no answer from the server */
#define CLI_INTERRUPTED 130 /* Ctrl-C */

#define CLI_DEFAULT_SERVER "http://127.0.0.1:8470"

/* --- one invocation ------------------------------------------------------ */

typedef struct cli_command cli_command;

typedef struct cli {
    const char *server;      /* --server, else $MCMC_SERVER, else the default */
    const char *token;       /* --token, else NULL: the library's search */
    mcmc_client *client;     /* made on first use by cli_client */
    const cli_command *cmd;  /* the subcommand running */
    int rc;                  /* what cli_getopt's CLI_OPT_STOP means to return */
    int opts_begun;          /* cli_getopt has reset getopt for this command */
    struct option longs[24]; /* the command's long options and the common ones */
} cli;

typedef int (*cli_fn)(cli *c, int argc, char **argv);

struct cli_command {
    const char *name;  /* "submit", "data put" */
    cli_fn fn;         /* NULL for a group ("data"): its subcommands follow it */
    const char *usage; /* the whole --help text (submit and run: then the samplers) */
};

/* The command named by argv[0] (and argv[1] for a group), NULL if none;
 * *used says how many words named it. */
const cli_command *cli_find_command(int argc, char **argv, int *used);
/* cmd's help (NULL: the tool's), with the samplers when cmd has them. */
void cli_print_help(cli *c, FILE *out, const cli_command *cmd);

/* --- options ------------------------------------------------------------- */

/* Long-only option codes. Every subcommand takes --server, --token and
 * --help. */
enum {
    OPT_SERVER = 256,
    OPT_TOKEN,
    OPT_JSON,
    OPT_WATCH,
    OPT_STATE,
    OPT_NAME,
    OPT_CHAIN,
    OPT_START,
    OPT_STOP,
    OPT_THIN,
    OPT_DATA,
    OPT_PROGRESS,
    OPT_SET
};

#define CLI_OPT_STOP (-2) /* cli_getopt: return c->rc now */

/* Sets c->rc and returns -1: how parsing helpers say "return c->rc now". */
int cli_stop(cli *c, int rc);

/* getopt_long over a subcommand's argv (argv[0] is its name) with its own
 * options (longs: NULL, or ended by a zeroed entry) and the common ones,
 * options anywhere among the operands. Handles --server, --token and
 * -h/--help (the
 * help goes to stdout, then CLI_OPT_STOP with rc 0) and reports unknown
 * options and missing values (CLI_OPT_STOP with rc CLI_USAGE). Returns
 * the next option of the subcommand's own, or -1 at the end; operands
 * are then argv[optind ...]. */
int cli_getopt(cli *c, int argc, char **argv, const char *shorts, const struct option *longs);

/* The options of a command whose only option is --json: sets *json when
 * given. 0 to go on; CLI_OPT_STOP when the caller returns c->rc (--help,
 * a usage error). */
int cli_json_option(cli *c, int argc, char **argv, int *json);

/* "mcmc: <cmd>: <message>" and a hint on stderr; returns CLI_USAGE. */
int cli_usage_error(cli *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Checks that exactly n operands remain (what names them, for the error). */
int cli_operands(cli *c, int argc, char **argv, int n, const char *what);
/* A decimal unsigned integer, digits only; -1 (and a usage error) if not. */
int cli_parse_u64(cli *c, const char *option, const char *text, uint64_t *out);

/* --- the server and its errors ------------------------------------------- */

/* The client for c->server with c->token (NULL: the library finds one),
 * made once; NULL after an error message. */
mcmc_client *cli_client(cli *c);
/* Reports a failed call ("mcmc: <what>: ..." and the server's details,
 * one line per field path; a 401 as "mcmc: 401 unauthorized: <message>"
 * with a hint) and returns its exit code: CLI_UNREACHABLE when the server
 * could not be reached, else CLI_FAILED. */
int cli_fail(cli *c, const char *what, mcmc_client_status st, const mcmc_error *err);
/* The line cli_fail prints for a 401, the server's message in it. */
void cli_unauthorized(cli *c, const mcmc_error *err);
/* "mcmc: " and a message on stderr; returns CLI_FAILED. */
int cli_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* A whole file (or stdin for "-") as a NUL-terminated string (free it);
 * NULL after an error message. */
char *cli_read_file(const char *path);

/* --- text ---------------------------------------------------------------- */

/* Human-readable numbers into buf (at least 16 bytes), returning buf:
 * "1.23M", "45.6k", "812"; "1:02:03", "2:03", "-:--" for an unknown time;
 * "41.0 KiB". */
const char *cli_fmt_count(char *buf, size_t cap, double v);
const char *cli_fmt_duration(char *buf, size_t cap, double seconds);
const char *cli_fmt_bytes(char *buf, size_t cap, uint64_t bytes);
/* A number with printf format fmt, or "-" when not finite. */
const char *cli_fmt_num(char *buf, size_t cap, const char *fmt, double v);

/* --- JSON out (jsonw.c) -------------------------------------------------- */

/* A streaming JSON writer: commas and nesting are tracked, numbers are
 * written with the fewest digits that read back exactly, non-finite ones
 * as null. Compact, one document per line. */
typedef struct jw {
    FILE *out;
    int depth;
    unsigned char first[32]; /* per level: nothing written in it yet */
    char close[32];          /* per level: '}' or ']' */
    int after_key;
} jw;

void jw_init(jw *w, FILE *out);
void jw_begin_object(jw *w);
void jw_begin_array(jw *w);
void jw_end(jw *w); /* closes the innermost object or array; a newline at depth 0 */
void jw_key(jw *w, const char *key);
void jw_string(jw *w, const char *s);         /* NULL as "" */
void jw_string_or_null(jw *w, const char *s); /* NULL or "" as null */
void jw_number(jw *w, double v);
void jw_u64(jw *w, uint64_t v);
void jw_null(jw *w);
void jw_raw(jw *w, const char *json); /* a complete JSON value, as is */

void jw_dataset(jw *w, const mcmc_dataset *ds);
void jw_job(jw *w, const mcmc_job *job);
void jw_summary(jw *w, const mcmc_summary *s);
void jw_event(jw *w, const char *job_id, const mcmc_event *ev);
/* {"name", "admin", "limits": {...}, "usage": {...}} as GET /v1/users/me. */
void jw_user(jw *w, const mcmc_user *u);

/* --- progress (progress.c) ----------------------------------------------- */

typedef enum progress_mode {
    PROGRESS_AUTO, /* bars when stderr is a terminal (and TERM is not dumb), else lines */
    PROGRESS_BARS,
    PROGRESS_LINES,
    PROGRESS_NONE
} progress_mode;

typedef struct progress progress;

/* --progress NAME ("auto", "bars", "lines", "none") into *mode; -1 after
 * a usage error (c->rc set). */
int cli_progress_option(cli *c, const char *name, progress_mode *mode);
/* A display of job_id's chains on out (stderr); nchains is a first guess
 * (chains seen in events are added). NULL when memory ran out. */
progress *progress_new(FILE *out, progress_mode mode, const char *job_id, size_t nchains);
void progress_event(progress *p, const mcmc_event *ev);
/* The last redraw and the final state line. */
void progress_finish(progress *p, mcmc_job_state final, const char *error);
void progress_free(progress *p);

/* --- watching (watch.c) -------------------------------------------------- */

typedef struct watch_opts {
    progress_mode mode;
    int json;          /* events as NDJSON on stdout instead of a display */
    int interruptible; /* stop after SIGINT (CLI_INTERRUPTED): see cli_watch */
} watch_opts;

/* Follows job id until it ends, showing its progress; returns CLI_OK when
 * it succeeded, CLI_FAILED when it failed or was cancelled, or the exit
 * code of an error. With interruptible set (and cli_catch_sigint called),
 * a SIGINT stops the watch at the next event or heartbeat (within ~5 s)
 * with CLI_INTERRUPTED. */
int cli_watch(cli *c, const char *id, size_t nchains, const watch_opts *o);

/* After cli_catch_sigint, a first SIGINT only sets a flag that
 * cli_interrupted reads, for the command to clean up; a second one ends
 * the program at once. cli_restore_sigint puts the old action back. */
void cli_catch_sigint(struct sigaction *old);
void cli_restore_sigint(const struct sigaction *old);
int cli_interrupted(void);

/* --- draws (draws.c) ----------------------------------------------------- */

/* Writes job id's draws selected by q to path, in the format its
 * extension names; the file appears whole or not at all. Returns an exit
 * code. */
int cli_write_draws(cli *c, const char *id, const mcmc_draw_query *q, const char *path);
/* 0 when path ends in .npy, .csv or .json, else a usage error. */
int cli_check_draws_path(cli *c, const char *path);

/* --- the spec from a file and options (spec_edit.c) ---------------------- */

#define SPEC_EDITS_MAX 64

/* -s/--sampler NAME[,KEY=VALUE...], -p/--param KEY=VALUE, --set PATH=VALUE,
 * in the order given. */
typedef struct spec_edits {
    const char *sampler;
    const char *params[SPEC_EDITS_MAX];
    size_t nparams;
    const char *sets[SPEC_EDITS_MAX];
    size_t nsets;
} spec_edits;

#define SPEC_EDIT_SHORTS "s:p:"
#define SPEC_EDIT_LONGS                                                                            \
    {"sampler", required_argument, 0, 's'}, {"param", required_argument, 0, 'p'}, {                \
        "set", required_argument, 0, OPT_SET                                                       \
    }
#define SPEC_EDIT_HELP                                                                             \
    "  -s, --sampler NAME[,KEY=VALUE...]\n"                                                        \
    "                   the sampler, and some of its parameters (a type other than\n"              \
    "                   the file's starts from that sampler's defaults)\n"                         \
    "  -p, --param KEY=VALUE\n"                                                                    \
    "                   one sampler parameter (repeat it; for values with commas)\n"               \
    "  --set PATH=VALUE any field of the spec, PATH dotted: num_warmup=1000,\n"                    \
    "                   model.prior_variance=5, data.dataset=ID\n"                                 \
    "                   A VALUE that reads as JSON (0.9, true, [1,2], \"7\") is that;\n"           \
    "                   any other is a string (dense, an id)\n"

/* Records opt (one of the above) into e: 1 when it was one, 0 when opt is
 * another option, -1 after a usage error (c->rc set). */
int cli_spec_edit_option(cli *c, int opt, const char *arg, spec_edits *e);
int cli_spec_edits_any(const spec_edits *e);
/* The spec to send: path's text (NULL: "{}"), edited by e, as JSON text
 * (free it); NULL with *rc an exit code after a message. Without edits the
 * file's text is returned unread, for the server to judge. */
char *cli_load_spec(cli *c, const char *path, const spec_edits *e, int *rc);

/* --- samplers and models (samplers.c) ------------------------------------ */

/* GET /v1/info from the server (*from_server 1) or, when it does not
 * answer within a few seconds, this build's tables in the same shape (0).
 * A new reference. */
json_t *cli_tables(cli *c, int *from_server);
/* Each sampler and model of info (or only the one named), with its
 * parameters as NAME=DEFAULT (type, bounds) help. Returns how many. */
size_t cli_print_tables(FILE *out, const json_t *info, const char *only);
/* The tables after a command's help: what `--sampler` and `--param` take. */
void cli_print_sampler_help(cli *c, FILE *out);

/* --- subcommands --------------------------------------------------------- */

int cmd_data_put(cli *c, int argc, char **argv);
int cmd_data_ls(cli *c, int argc, char **argv);
int cmd_data_rm(cli *c, int argc, char **argv);
int cmd_submit(cli *c, int argc, char **argv);
int cmd_watch(cli *c, int argc, char **argv);
int cmd_status(cli *c, int argc, char **argv);
int cmd_ls(cli *c, int argc, char **argv);
int cmd_cancel(cli *c, int argc, char **argv);
int cmd_delete(cli *c, int argc, char **argv);
int cmd_summary(cli *c, int argc, char **argv);
int cmd_draws(cli *c, int argc, char **argv);
int cmd_run(cli *c, int argc, char **argv);
int cmd_samplers(cli *c, int argc, char **argv);
int cmd_whoami(cli *c, int argc, char **argv);
int cmd_login(cli *c, int argc, char **argv);

#endif
