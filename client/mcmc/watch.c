/* watch.c - following a job until it ends (`mcmc watch`, and the watching
 * half of `submit --watch` and `run`): events go to the progress display
 * or, with --json, to stdout as NDJSON; the final state decides the exit
 * code. A caught SIGINT, when asked for, stops the watch at the next event. */
#include <getopt.h>
#include <signal.h>
#include <string.h>

#include "cli.h"

typedef struct watch_ctx {
    const char *job;
    progress *prog; /* NULL with --json */
    int json;
    int interruptible;
    char error[512]; /* why the job failed, from its events */
} watch_ctx;

static volatile sig_atomic_t interrupted;

static void on_sigint(int sig) {
    (void)sig;
    interrupted = 1;
}

static int on_event(void *ctx, const mcmc_event *ev) {
    watch_ctx *w = ctx;
    if (ev->error) snprintf(w->error, sizeof w->error, "%s", ev->error);
    if (w->json && ev->type != MCMC_EVENT_HEARTBEAT) {
        jw out;
        jw_init(&out, stdout);
        jw_event(&out, w->job, ev);
        fflush(stdout);
    } else if (!w->json) {
        progress_event(w->prog, ev);
    }
    return w->interruptible && interrupted;
}

void cli_catch_sigint(struct sigaction *old) {
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_sigint;
    sa.sa_flags = SA_RESETHAND; /* the second one is the default's */
    sigemptyset(&sa.sa_mask);
    interrupted = 0;
    sigaction(SIGINT, &sa, old);
}

void cli_restore_sigint(const struct sigaction *old) {
    sigaction(SIGINT, old, NULL);
}

int cli_interrupted(void) {
    return interrupted;
}

static int watch_result(cli *c, watch_ctx *w, mcmc_client_status st, mcmc_job_state final,
                        const mcmc_error *err) {
    if (w->interruptible && interrupted) return CLI_INTERRUPTED;
    if (st != MCMC_CLIENT_OK) return cli_fail(c, "watch", st, err);
    if (!w->json) progress_finish(w->prog, final, w->error[0] ? w->error : NULL);
    return final == MCMC_JOB_SUCCEEDED ? CLI_OK : CLI_FAILED;
}

int cli_watch(cli *c, const char *id, size_t nchains, const watch_opts *o) {
    mcmc_client *client = cli_client(c);
    if (!client) return CLI_USAGE;
    watch_ctx w = {.job = id, .json = o->json, .interruptible = o->interruptible};
    if (!o->json && !(w.prog = progress_new(stderr, o->mode, id, nchains)))
        return cli_error("out of memory");
    mcmc_watch_options wo = mcmc_watch_options_default();
    wo.heartbeats = o->interruptible; /* a chance to see the flag every few seconds */
    mcmc_job_state final;
    mcmc_error err;
    mcmc_client_status st = mcmc_watch_job(client, id, &wo, on_event, &w, &final, &err);
    int rc = watch_result(c, &w, st, final, &err);
    progress_free(w.prog);
    return rc;
}

int cmd_watch(cli *c, int argc, char **argv) {
    static const struct option longs[] = {{"json", no_argument, 0, OPT_JSON},
                                          {"progress", required_argument, 0, OPT_PROGRESS},
                                          {"quiet", no_argument, 0, 'q'},
                                          {0, 0, 0, 0}};
    watch_opts o = {.mode = PROGRESS_AUTO};
    int opt;
    while ((opt = cli_getopt(c, argc, argv, "q", longs)) >= 0) {
        if (opt == OPT_JSON) o.json = 1;
        if (opt == 'q') o.mode = PROGRESS_NONE;
        if (opt == OPT_PROGRESS && cli_progress_option(c, optarg, &o.mode) != 0) return c->rc;
    }
    if (opt == CLI_OPT_STOP) return c->rc;
    if (cli_operands(c, argc, argv, 1, "JOB")) return CLI_USAGE;
    const char *id = argv[optind];
    mcmc_client *client = cli_client(c);
    if (!client) return CLI_USAGE;
    mcmc_job job; /* first the job: its chain count, and a clear 404 */
    mcmc_error err;
    mcmc_client_status st = mcmc_get_job(client, id, &job, &err);
    if (st != MCMC_CLIENT_OK) return cli_fail(c, id, st, &err);
    int rc = cli_watch(c, job.id, job.chains, &o);
    mcmc_job_free(&job);
    return rc;
}
