/* main.c - the mcmc command-line tool: the table of subcommands with their
 * help texts, the options that may come before a subcommand (--server,
 * --token, --help, --version), and dispatch. Each subcommand lives in the
 * file of its group: cmd_data.c, cmd_jobs.c, cmd_user.c, watch.c, draws.c,
 * run.c. */
#include <stdlib.h>
#include <string.h>

#include "cli.h"

#define SERVER_HELP                                                                                \
    "  --server URL     the daemon (default: $MCMC_SERVER, else " CLI_DEFAULT_SERVER ")\n"         \
    "  --token TOKEN    the bearer token (default: $MCMC_TOKEN, else the one `mcmc\n"              \
    "                   login` stored for the server, else, for a server on this\n"                \
    "                   machine, its admin token file; see 'mcmc help login')\n"                   \
    "  -h, --help       this text\n"

#define PROGRESS_HELP                                                                              \
    "  --progress MODE  auto (default), bars, lines or none. auto draws one bar per\n"             \
    "                   chain, redrawn in place, when stderr is a terminal (and TERM\n"            \
    "                   is not dumb); otherwise it prints plain lines, at most about\n"            \
    "                   one a second per chain, that a log file can hold\n"                        \
    "  -q, --quiet      the same as --progress none\n"

static const char main_usage[] =
    "usage: mcmc [--server URL] [--token TOKEN] COMMAND [ARGS...]\n"
    "\n"
    "The command-line client of mcmcd, the sampling service.\n"
    "\n"
    "Datasets:\n"
    "  data put FILE.csv [--name NAME]  upload a CSV dataset (covariates, then y)\n"
    "  data ls                          list the datasets, one line each\n"
    "  data rm ID                       delete a dataset\n"
    "Jobs:\n"
    "  submit SPEC.json [--watch]       submit a job spec; prints the job's id\n"
    "  submit -s NAME,KEY=V --set ...   ... or a spec from options: any sampler and\n"
    "                                   parameter (-p KEY=V), any field (--set)\n"
    "  watch JOB                        follow a job's progress until it ends\n"
    "  status JOB                       a job's state and per-chain progress\n"
    "  ls [--state S]                   list the jobs\n"
    "  cancel JOB                       stop a job; its draws so far are kept\n"
    "  delete JOB                       delete an ended job and its draws\n"
    "  draws JOB -o FILE                fetch draws as .npy, .csv or .json\n"
    "  summary JOB                      posterior summary and convergence diagnostics\n"
    "  run SPEC.json -o FILE            submit, watch and fetch the draws in one\n"
    "Account:\n"
    "  whoami                           who the token acts for: role, limits, usage\n"
    "  login                            check a token (read from stdin) and store it\n"
    "                                   for the server\n"
    "Samplers and models:\n"
    "  samplers [NAME]                  what a spec may name, with every parameter,\n"
    "                                   its default and bounds (the server's GET /v1/info)\n"
    "  help [COMMAND]                   this text, or a command's\n"
    "\n"
    "Options every command takes:\n" SERVER_HELP
    "  --json           (data ls, ls, status, summary, ...) the data as JSON, for scripts\n"
    "\n"
    "Progress (submit --watch, watch, run) goes to stderr, so stdout holds only\n"
    "what a script reads (a job id, JSON).\n"
    "\n"
    "Tokens: every request but help carries a bearer token, the first of --token,\n"
    "$MCMC_TOKEN, the token `mcmc login` stored for the server, and (for a server\n"
    "on this machine) the local daemon's admin.token. A server that refuses it\n"
    "prints 'mcmc: 401 unauthorized: ...' and a hint. Token files that group or\n"
    "others may read are skipped (chmod 600 them).\n"
    "\n"
    "Exit status: 0 done (the command, and for submit --watch, watch and run the\n"
    "job, succeeded); 1 the job failed or was cancelled, or the server answered an\n"
    "error (its message, and the field path of each problem, on stderr; 401\n"
    "unauthorized, 403 forbidden, 429 over a limit among them); 2 a usage\n"
    "error or an unreadable input file; 3 the server could not be reached;\n"
    "130 interrupted.\n";

static const char data_usage[] = "usage: mcmc data put FILE.csv [--name NAME] [--json]\n"
                                 "       mcmc data ls [--json]\n"
                                 "       mcmc data rm ID\n"
                                 "\n"
                                 "Datasets on the server; `mcmc data COMMAND --help` for one.\n";

static const cli_command commands[] = {
    {"data", NULL, data_usage},
    {"data put", cmd_data_put,
     "usage: mcmc data put FILE.csv [--name NAME] [--json]\n"
     "\n"
     "Uploads a CSV file: one row per observation, the covariates then y (0 or 1)\n"
     "in the last column, an optional header line. Prints the stored dataset as\n"
     "`mcmc data ls` does (the same rows always get the same id).\n"
     "\n"
     "  --name NAME      the dataset's name (default: the file's name)\n"
     "  --json           print the dataset as JSON\n" SERVER_HELP},
    {"data ls", cmd_data_ls,
     "usage: mcmc data ls [--json]\n"
     "\n"
     "Lists the datasets, oldest first, one line each:\n"
     "ID  ROWSxCOLUMNS  SIZE  CREATED  NAME.\n"
     "\n"
     "  --json           print {\"datasets\": [...]}\n" SERVER_HELP},
    {"data rm", cmd_data_rm,
     "usage: mcmc data rm ID\n"
     "\n"
     "Deletes a dataset (refused while a queued or running job uses it).\n"
     "\n" SERVER_HELP},
    {"submit", cmd_submit,
     "usage: mcmc submit [SPEC.json] [-s NAME[,KEY=VALUE...]] [-p KEY=VALUE]...\n"
     "                   [--set PATH=VALUE]... [--watch] [--json] [--progress MODE]\n"
     "\n"
     "Submits a job spec (a file, or - for stdin), edited by the options when\n"
     "given, and prints the new job's id on stdout. An invalid spec prints every\n"
     "problem with its field path. For example:\n"
     "\n"
     "  mcmc submit spec.json -s mala,adapt_delta=0.65 -p metric=dense --watch\n"
     "  mcmc submit -s rwm --set data.dataset=ID --set num_warmup=1000\n"
     "\n" SPEC_EDIT_HELP
     "  --watch          then follow its progress until it ends (as `mcmc watch`);\n"
     "                   exit 1 when it failed or was cancelled\n"
     "  --json           print the job as JSON instead of its id\n" PROGRESS_HELP SERVER_HELP},
    {"watch", cmd_watch,
     "usage: mcmc watch JOB [--json] [--progress MODE]\n"
     "\n"
     "Follows a job's progress on stderr until it ends, then prints its final\n"
     "state. Exit 0 when it succeeded, 1 when it failed or was cancelled. Ctrl-C\n"
     "stops watching; the job goes on.\n"
     "\n"
     "Each chain's bar shows its iterations, warmup or sampling, the step size\n"
     "of the moment (adapting in warmup), its divergences so far, speed, accept\n"
     "rate (\"-\" for samplers without an accept step) and ETA.\n"
     "\n"
     "  --json           print each event as a JSON line on stdout instead\n" PROGRESS_HELP
         SERVER_HELP},
    {"status", cmd_status,
     "usage: mcmc status JOB [--json]\n"
     "\n"
     "A job's state, times, overall progress and a table of its chains\n"
     "(iterations, phase, step size, divergences, draws, accept rate, speed, ETA).\n"
     "\n"
     "  --json           print the job (with its spec) as JSON\n" SERVER_HELP},
    {"ls", cmd_ls,
     "usage: mcmc ls [--state STATE] [--json]\n"
     "\n"
     "Lists the jobs, oldest first, as a table.\n"
     "\n"
     "  --state STATE    only queued, running, succeeded, failed or cancelled jobs\n"
     "  --json           print {\"jobs\": [...]}\n" SERVER_HELP},
    {"cancel", cmd_cancel,
     "usage: mcmc cancel JOB [--json]\n"
     "\n"
     "Cancels a job: a queued one at once, a running one at its next progress\n"
     "block. Its draws so far are kept.\n"
     "\n"
     "  --json           print the job as JSON\n" SERVER_HELP},
    {"delete", cmd_delete,
     "usage: mcmc delete JOB\n"
     "\n"
     "Deletes an ended job and its draws (cancel a running one first).\n"
     "\n" SERVER_HELP},
    {"draws", cmd_draws,
     "usage: mcmc draws JOB -o FILE.{npy,csv,json} [--chain C] [--start A]\n"
     "                  [--stop B] [--thin T]\n"
     "\n"
     "Writes a job's draws (of a running job: those so far, the same count for\n"
     "every chain) to FILE, in the format its extension names: .npy (float64,\n"
     "shape chains x samples x d), .csv (chain,draw,theta.1,...) or .json\n"
     "({\"shape\": [C, S, d], \"draws\": [[[...]]]}). The bytes are those\n"
     "`mcmcd run` writes for the same spec. FILE appears whole or not at all.\n"
     "\n"
     "  -o, --out FILE   where to write\n"
     "  --chain C        one chain (default: all)\n"
     "  --start A        the first draw (0)\n"
     "  --stop B         one past the last draw (default: all)\n"
     "  --thin T         every T-th draw from A (1)\n" SERVER_HELP},
    {"summary", cmd_summary,
     "usage: mcmc summary JOB [--json]\n"
     "\n"
     "Per parameter: mean, sd, 5/50/95% quantiles, MCSE of the mean, bulk and\n"
     "tail ESS, R-hat; per chain: accept rate and draws.\n"
     "\n"
     "  --json           print the summary as JSON\n" SERVER_HELP},
    {"run", cmd_run,
     "usage: mcmc run [SPEC.json] -o FILE.{npy,csv,json} [--data FILE.csv]\n"
     "                [-s NAME[,KEY=VALUE...]] [-p KEY=VALUE]... [--set PATH=VALUE]...\n"
     "                [--progress MODE]\n"
     "\n"
     "Submits a job spec (edited by the options, as `mcmc submit` does), shows\n"
     "its progress on stderr and, when it succeeds, writes its draws to FILE as\n"
     "`mcmc draws` does. Exit 1 (and no file) when the job failed or was\n"
     "cancelled. Ctrl-C cancels the job and exits 130.\n"
     "\n"
     "  -o, --out FILE   where to write the draws; the extension picks the format\n"
     "  --data FILE.csv  upload these rows first and use them when the spec names\n"
     "                   no data or a dataset id\n" SPEC_EDIT_HELP PROGRESS_HELP SERVER_HELP},
    {"samplers", cmd_samplers,
     "usage: mcmc samplers [NAME] [--json]\n"
     "\n"
     "The samplers and models a job spec may name, each with its parameters as\n"
     "NAME=DEFAULT (type and bounds, or the choices) and one line of help, and\n"
     "the statistics each sampler records per draw. They come from the server's\n"
     "GET /v1/info; when it does not answer, from the tables this mcmc was built\n"
     "with (said on stderr).\n"
     "\n"
     "  NAME             only this sampler or model\n"
     "  --json           print {\"samplers\": [...], \"models\": [...]} (or the one\n"
     "                   entry) as /v1/info has them\n" SERVER_HELP},
    {"whoami", cmd_whoami,
     "usage: mcmc whoami [--json]\n"
     "\n"
     "Who the token acts for on the server (GET /v1/users/me): the user's name,\n"
     "role (admin or user), where the token came from, and a table of the user's\n"
     "limits (\"none\" for no limit) next to the usage so far.\n"
     "\n"
     "  --json           print the user as the server has it: {\"name\", \"admin\",\n"
     "                   \"limits\": {...}, \"usage\": {...}}\n" SERVER_HELP},
    {"login", cmd_login,
     "usage: mcmc login [--server URL]\n"
     "\n"
     "Reads a token from stdin (asked for without echo on a terminal; from a pipe,\n"
     "the first line), checks it with the server (GET /v1/users/me), and stores it\n"
     "for that server's URL in the token store, so later commands need neither\n"
     "--token nor MCMC_TOKEN:\n"
     "\n"
     "  $XDG_CONFIG_HOME/mcmc/tokens, else ~/.config/mcmc/tokens\n"
     "\n"
     "one line \"URL TOKEN\" per server, replaced on a new login; the file is mode\n"
     "0600 in a directory of mode 0700, written whole through a temporary file.\n"
     "A token the server refuses is not stored (exit 1). With --token, that\n"
     "token is checked and stored instead of one from stdin. An administrator\n"
     "makes tokens with `mcmcd token new NAME`.\n"
     "\n" SERVER_HELP},
};

#define NCOMMANDS (sizeof commands / sizeof commands[0])

const cli_command *cli_find_command(int argc, char **argv, int *used) {
    const cli_command *group = NULL;
    *used = 0;
    for (size_t i = 0; argc > 0 && i < NCOMMANDS; i++) {
        const char *name = commands[i].name, *space = strchr(name, ' ');
        if (!space && !strcmp(name, argv[0])) {
            group = &commands[i];
            if (group->fn) break;
        } else if (space && argc > 1 && !strncmp(name, argv[0], (size_t)(space - name)) &&
                   argv[0][space - name] == '\0' && !strcmp(space + 1, argv[1])) {
            *used = 2;
            return &commands[i];
        }
    }
    if (group) *used = 1;
    return group;
}

void cli_print_help(cli *c, FILE *out, const cli_command *cmd) {
    fputs(cmd ? cmd->usage : main_usage, out);
    if (cmd && (cmd->fn == cmd_submit || cmd->fn == cmd_run)) {
        fflush(out); /* the usage first, even when the server is slow to answer */
        cli_print_sampler_help(c, out);
    }
}

/* `mcmc help [COMMAND...]` */
static int help_command(cli *c, int argc, char **argv) {
    if (argc == 0 || !strcmp(argv[0], "--help") || !strcmp(argv[0], "-h")) {
        cli_print_help(c, stdout, NULL);
        return CLI_OK;
    }
    int used;
    const cli_command *cmd = cli_find_command(argc, argv, &used);
    if (!cmd || used != argc) {
        fprintf(stderr, "mcmc: help: no command '%s'; see 'mcmc --help'\n", argv[0]);
        return CLI_USAGE;
    }
    cli_print_help(c, stdout, cmd);
    return CLI_OK;
}

/* A group named alone ("mcmc data"), or with an unknown subcommand. */
static int group_command(cli *c, const cli_command *group, int argc, char **argv) {
    if (argc > 1 && (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h"))) {
        cli_print_help(c, stdout, group);
        return CLI_OK;
    }
    if (argc > 1)
        fprintf(stderr, "mcmc: %s: no command '%s'\n", group->name, argv[1]);
    else
        fprintf(stderr, "mcmc: %s: which command?\n", group->name);
    cli_print_help(c, stderr, group);
    return CLI_USAGE;
}

/* Options before the command; returns the index of the command's word,
 * or -1 when main must return c->rc. */
static int global_options(cli *c, int argc, char **argv) {
    int i = 1;
    for (; i < argc && argv[i][0] == '-'; i++) {
        const char *a = argv[i];
        if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
            cli_print_help(c, stdout, NULL);
            return cli_stop(c, CLI_OK);
        } else if (!strcmp(a, "--version")) {
            printf("mcmc %s\n", MCMC_CLIENT_VERSION);
            return cli_stop(c, CLI_OK);
        } else if (!strcmp(a, "--server") && i + 1 < argc) {
            c->server = argv[++i];
        } else if (!strncmp(a, "--server=", 9)) {
            c->server = a + 9;
        } else if (!strcmp(a, "--token") && i + 1 < argc) {
            c->token = argv[++i];
        } else if (!strncmp(a, "--token=", 8)) {
            c->token = a + 8;
        } else {
            fprintf(stderr, "mcmc: %s '%s'; see 'mcmc --help'\n",
                    !strcmp(a, "--server")  ? "a URL must follow"
                    : !strcmp(a, "--token") ? "a token must follow"
                                            : "unknown option",
                    a);
            return cli_stop(c, CLI_USAGE);
        }
    }
    if (i == argc) {
        fputs("mcmc: which command?\n", stderr);
        cli_print_help(c, stderr, NULL);
        return cli_stop(c, CLI_USAGE);
    }
    return i;
}

static int dispatch(cli *c, int argc, char **argv) {
    if (!strcmp(argv[0], "help")) return help_command(c, argc - 1, argv + 1);
    int used;
    const cli_command *cmd = cli_find_command(argc, argv, &used);
    if (!cmd) {
        fprintf(stderr, "mcmc: no command '%s'; see 'mcmc --help'\n", argv[0]);
        return CLI_USAGE;
    }
    if (!cmd->fn) return group_command(c, cmd, argc, argv);
    c->cmd = cmd;
    return cmd->fn(c, argc - used + 1, argv + used - 1);
}

int main(int argc, char **argv) {
    const char *env = getenv("MCMC_SERVER");
    cli c = {.server = env && *env ? env : CLI_DEFAULT_SERVER};
    int first = global_options(&c, argc, argv);
    if (first < 0) return c.rc;
    int rc = dispatch(&c, argc - first, argv + first);
    mcmc_client_free(c.client);
    return rc;
}
