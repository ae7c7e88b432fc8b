/* cmd_jobs.c - the job subcommands that are one request each: submit
 * (and --watch), status, ls, cancel, delete and summary, as tables for
 * people or, with --json, in the server's JSON shapes. */
#include <getopt.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

/* --- shared -------------------------------------------------------------- */

static void print_job_json(const mcmc_job *job) {
    jw w;
    jw_init(&w, stdout);
    jw_job(&w, job);
}

static const char *percent(char *buf, size_t cap, uint64_t iter, uint64_t total) {
    if (total == 0)
        snprintf(buf, cap, "-");
    else
        snprintf(buf, cap, "%.1f%%", 100.0 * (double)iter / (double)total);
    return buf;
}

/* A command whose only operand is a job id, with --json when json is not
 * NULL. 0 to go on; -1 to return c->rc (after --help or a usage error). */
static int job_command_args(cli *c, int argc, char **argv, int *json) {
    static const struct option longs[] = {{"json", no_argument, 0, OPT_JSON}, {0, 0, 0, 0}};
    int opt;
    while ((opt = cli_getopt(c, argc, argv, "", json ? longs : NULL)) >= 0)
        if (opt == OPT_JSON) *json = 1;
    if (opt == CLI_OPT_STOP) return -1;
    if (cli_operands(c, argc, argv, 1, "JOB") != 0) return cli_stop(c, CLI_USAGE);
    return 0;
}

/* --- submit -------------------------------------------------------------- */

typedef struct submit_args {
    const char *spec_path; /* NULL: the spec comes from the edits alone */
    spec_edits edits;
    int watch, json;
    progress_mode mode;
} submit_args;

static int submit_parse(cli *c, int argc, char **argv, submit_args *a) {
    static const struct option longs[] = {{"watch", no_argument, 0, OPT_WATCH},
                                          {"json", no_argument, 0, OPT_JSON},
                                          {"progress", required_argument, 0, OPT_PROGRESS},
                                          {"quiet", no_argument, 0, 'q'},
                                          SPEC_EDIT_LONGS,
                                          {0, 0, 0, 0}};
    int opt;
    while ((opt = cli_getopt(c, argc, argv, "q" SPEC_EDIT_SHORTS, longs)) >= 0) {
        if (opt == OPT_WATCH) a->watch = 1;
        if (opt == OPT_JSON) a->json = 1;
        if (opt == 'q') a->mode = PROGRESS_NONE;
        if (opt == OPT_PROGRESS && cli_progress_option(c, optarg, &a->mode) != 0) return -1;
        if (cli_spec_edit_option(c, opt, optarg, &a->edits) < 0) return -1;
    }
    if (opt == CLI_OPT_STOP) return -1;
    if (argc - optind == 0 && !cli_spec_edits_any(&a->edits))
        return cli_stop(c, cli_usage_error(c, "SPEC.json (or --sampler, --param, --set) missing"));
    if (argc - optind > 1) return cli_stop(c, cli_operands(c, argc, argv, 1, "SPEC.json"));
    a->spec_path = optind < argc ? argv[optind] : NULL;
    return 0;
}

int cmd_submit(cli *c, int argc, char **argv) {
    submit_args a = {.mode = PROGRESS_AUTO};
    if (submit_parse(c, argc, argv, &a) != 0) return c->rc;
    mcmc_client *client = cli_client(c);
    if (!client) return CLI_USAGE;
    int rc;
    char *spec = cli_load_spec(c, a.spec_path, &a.edits, &rc);
    if (!spec) return rc;
    mcmc_job job;
    mcmc_error err;
    mcmc_client_status st = mcmc_submit_job_json(client, spec, &job, &err);
    free(spec);
    if (st != MCMC_CLIENT_OK) return cli_fail(c, "submit", st, &err);
    if (a.json)
        print_job_json(&job);
    else
        printf("%s\n", job.id);
    fflush(stdout);
    rc = CLI_OK;
    if (a.watch) {
        watch_opts o = {.mode = a.mode, .json = a.json};
        rc = cli_watch(c, job.id, job.chains, &o);
    }
    mcmc_job_free(&job);
    return rc;
}

/* --- status -------------------------------------------------------------- */

static void print_chain_table(const mcmc_job *job) {
    char pct[16], acc[16], rate[16], el[16], eta[16], eps[16];
    printf("\n%5s  %15s  %6s  %-8s  %9s  %8s  %10s  %6s  %8s  %8s  %8s\n", "chain", "iterations",
           "", "phase", "step_size", "divergent", "draws", "accept", "it/s", "elapsed", "eta");
    for (size_t i = 0; i < job->nchains; i++) {
        const mcmc_chain_progress *p = &job->progress[i];
        char iters[48];
        snprintf(iters, sizeof iters, "%llu/%llu", (unsigned long long)p->iter,
                 (unsigned long long)p->total);
        printf("%5u  %15s  %6s  %-8s  %9s  %8llu  %10llu  %6s  %8s  %8s  %8s\n", p->chain, iters,
               percent(pct, sizeof pct, p->iter, p->total),
               p->phase == MCMC_PHASE_UNKNOWN ? "-" : mcmc_phase_name(p->phase),
               cli_fmt_num(eps, sizeof eps, "%.4g", p->step_size), (unsigned long long)p->divergent,
               (unsigned long long)p->draws, cli_fmt_num(acc, sizeof acc, "%.3f", p->accept_rate),
               cli_fmt_count(rate, sizeof rate, p->it_per_s),
               cli_fmt_duration(el, sizeof el, p->elapsed),
               cli_fmt_duration(eta, sizeof eta, p->eta_s));
    }
}

static void print_job(const mcmc_job *job) {
    char pct[16], acc[16], el[16], eta[16];
    printf("job       %s\n", job->id);
    printf("state     %s\n", mcmc_job_state_name(job->state));
    if (job->error) printf("error     %s\n", job->error);
    printf("dataset   %s\n", job->dataset[0] ? job->dataset : "-");
    printf("created   %s\n", job->created[0] ? job->created : "-");
    printf("started   %s\n", job->started[0] ? job->started : "-");
    printf("finished  %s\n", job->finished[0] ? job->finished : "-");
    printf("progress  %llu/%llu (%s)\n", (unsigned long long)job->iter,
           (unsigned long long)job->total, percent(pct, sizeof pct, job->iter, job->total));
    printf("accept    %s\n", cli_fmt_num(acc, sizeof acc, "%.4f", job->accept_rate));
    printf("elapsed   %s\n", cli_fmt_duration(el, sizeof el, job->elapsed));
    printf("eta       %s\n", cli_fmt_duration(eta, sizeof eta, job->eta_s));
    printf("shape     %llu chains x %llu draws x %llu parameters\n",
           (unsigned long long)job->chains, (unsigned long long)job->samples,
           (unsigned long long)job->d);
    if (job->spec_json) printf("spec      %s\n", job->spec_json);
    if (job->nchains) print_chain_table(job);
}

int cmd_status(cli *c, int argc, char **argv) {
    int json = 0;
    if (job_command_args(c, argc, argv, &json) != 0) return c->rc;
    mcmc_client *client = cli_client(c);
    if (!client) return CLI_USAGE;
    mcmc_job job;
    mcmc_error err;
    mcmc_client_status st = mcmc_get_job(client, argv[optind], &job, &err);
    if (st != MCMC_CLIENT_OK) return cli_fail(c, argv[optind], st, &err);
    if (json)
        print_job_json(&job);
    else
        print_job(&job);
    mcmc_job_free(&job);
    return CLI_OK;
}

/* --- ls ------------------------------------------------------------------ */

static int parse_state(cli *c, const char *name, mcmc_job_state *out) {
    for (int s = MCMC_JOB_QUEUED; s <= MCMC_JOB_CANCELLED; s++) {
        if (!strcmp(name, mcmc_job_state_name((mcmc_job_state)s))) {
            *out = (mcmc_job_state)s;
            return 0;
        }
    }
    return cli_stop(c, cli_usage_error(c, "--state takes queued, running, succeeded, failed or "
                                          "cancelled"));
}

static void print_jobs_header(void) {
    printf("%-24s  %-9s  %15s  %6s  %6s  %6s  %s\n", "ID", "STATE", "ITERATIONS", "", "CHAINS",
           "ACCEPT", "CREATED");
}

static void print_job_row(const mcmc_job *job) {
    char iters[48], pct[16], acc[16];
    snprintf(iters, sizeof iters, "%llu/%llu", (unsigned long long)job->iter,
             (unsigned long long)job->total);
    printf("%-24s  %-9s  %15s  %6s  %6llu  %6s  %s\n", job->id, mcmc_job_state_name(job->state),
           iters, percent(pct, sizeof pct, job->iter, job->total), (unsigned long long)job->chains,
           cli_fmt_num(acc, sizeof acc, "%.3f", job->accept_rate), job->created);
}

static void print_jobs(jw *w, const mcmc_job_list *page, int json) {
    for (size_t i = 0; i < page->count; i++) {
        if (json)
            jw_job(w, &page->jobs[i]);
        else
            print_job_row(&page->jobs[i]);
    }
}

/* Every page, one after the other, each printed as it comes; nothing is
 * printed when the first page fails. */
static int list_all_jobs(cli *c, mcmc_job_state state, int json) {
    char token[128] = "";
    jw w;
    jw_init(&w, stdout);
    for (int first = 1; first || token[0]; first = 0) {
        mcmc_job_list page;
        mcmc_error err;
        mcmc_client_status st = mcmc_list_jobs(c->client, state, 1000, token, &page, &err);
        if (st != MCMC_CLIENT_OK) {
            fflush(stdout);
            return cli_fail(c, "ls", st, &err);
        }
        if (first && json) {
            jw_begin_object(&w);
            jw_key(&w, "jobs");
            jw_begin_array(&w);
        } else if (first) {
            print_jobs_header();
        }
        print_jobs(&w, &page, json);
        snprintf(token, sizeof token, "%s", page.next_page_token);
        mcmc_job_list_free(&page);
    }
    if (json) {
        jw_end(&w);
        jw_end(&w);
    }
    return CLI_OK;
}

int cmd_ls(cli *c, int argc, char **argv) {
    static const struct option longs[] = {{"state", required_argument, 0, OPT_STATE},
                                          {"json", no_argument, 0, OPT_JSON},
                                          {0, 0, 0, 0}};
    mcmc_job_state state = MCMC_JOB_UNKNOWN;
    int json = 0, opt;
    while ((opt = cli_getopt(c, argc, argv, "", longs)) >= 0) {
        if (opt == OPT_JSON) json = 1;
        if (opt == OPT_STATE && parse_state(c, optarg, &state) != 0) return c->rc;
    }
    if (opt == CLI_OPT_STOP) return c->rc;
    if (cli_operands(c, argc, argv, 0, "")) return CLI_USAGE;
    if (!cli_client(c)) return CLI_USAGE;
    return list_all_jobs(c, state, json);
}

/* --- cancel, delete ------------------------------------------------------ */

int cmd_cancel(cli *c, int argc, char **argv) {
    int json = 0;
    if (job_command_args(c, argc, argv, &json) != 0) return c->rc;
    mcmc_client *client = cli_client(c);
    if (!client) return CLI_USAGE;
    mcmc_job job;
    mcmc_error err;
    mcmc_client_status st = mcmc_cancel_job(client, argv[optind], &job, &err);
    if (st != MCMC_CLIENT_OK) return cli_fail(c, argv[optind], st, &err);
    if (json)
        print_job_json(&job);
    else if (job.state == MCMC_JOB_CANCELLED)
        printf("job %s cancelled\n", job.id);
    else
        printf("job %s %s: cancelling at its next progress block\n", job.id,
               mcmc_job_state_name(job.state));
    mcmc_job_free(&job);
    return CLI_OK;
}

int cmd_delete(cli *c, int argc, char **argv) {
    if (job_command_args(c, argc, argv, NULL) != 0) return c->rc;
    mcmc_client *client = cli_client(c);
    if (!client) return CLI_USAGE;
    mcmc_error err;
    mcmc_client_status st = mcmc_delete_job(client, argv[optind], &err);
    if (st != MCMC_CLIENT_OK) return cli_fail(c, argv[optind], st, &err);
    printf("deleted job %s\n", argv[optind]);
    return CLI_OK;
}

/* --- summary ------------------------------------------------------------- */

static void print_param(const mcmc_param_summary *p) {
    char v[10][24];
    const double x[] = {p->mean, p->sd, p->q05, p->q50, p->q95, p->mcse_mean};
    for (int i = 0; i < 6; i++)
        cli_fmt_num(v[i], sizeof v[i], "%.4g", x[i]);
    cli_fmt_num(v[6], sizeof v[6], "%.0f", p->ess_bulk);
    cli_fmt_num(v[7], sizeof v[7], "%.0f", p->ess_tail);
    cli_fmt_num(v[8], sizeof v[8], "%.3f", p->rhat);
    printf("%-10s  %10s  %10s  %10s  %10s  %10s  %10s  %8s  %8s  %6s\n", p->name, v[0], v[1], v[2],
           v[3], v[4], v[5], v[6], v[7], v[8]);
}

static void print_summary(const mcmc_summary *s) {
    printf("job %s (%s): %llu draws per chain, %zu chains\n\n", s->job,
           mcmc_job_state_name(s->state), (unsigned long long)s->draws_per_chain, s->nchains);
    printf("%-10s  %10s  %10s  %10s  %10s  %10s  %10s  %8s  %8s  %6s\n", "parameter", "mean", "sd",
           "q05", "q50", "q95", "mcse_mean", "ess_bulk", "ess_tail", "rhat");
    for (size_t i = 0; i < s->nparams; i++)
        print_param(&s->params[i]);
    printf("\n%5s  %6s  %10s\n", "chain", "accept", "draws");
    for (size_t i = 0; i < s->nchains; i++) {
        char acc[16];
        printf("%5u  %6s  %10llu\n", s->chains[i].chain,
               cli_fmt_num(acc, sizeof acc, "%.3f", s->chains[i].accept_rate),
               (unsigned long long)s->chains[i].draws);
    }
}

int cmd_summary(cli *c, int argc, char **argv) {
    int json = 0;
    if (job_command_args(c, argc, argv, &json) != 0) return c->rc;
    mcmc_client *client = cli_client(c);
    if (!client) return CLI_USAGE;
    mcmc_summary s;
    mcmc_error err;
    mcmc_client_status st = mcmc_get_summary(client, argv[optind], &s, &err);
    if (st != MCMC_CLIENT_OK) return cli_fail(c, argv[optind], st, &err);
    if (json) {
        jw w;
        jw_init(&w, stdout);
        jw_summary(&w, &s);
    } else {
        print_summary(&s);
    }
    mcmc_summary_free(&s);
    return CLI_OK;
}
