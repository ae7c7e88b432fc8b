/* run.c - `mcmc run`: submit a spec (after uploading --data's rows and
 * pointing the spec at them), show its progress, and write its draws when
 * it succeeds: `mcmcd run`, with the chains on the daemon. Ctrl-C cancels
 * the job. */
#include <errno.h>
#include <getopt.h>
#include <jansson.h>
#include <libgen.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

typedef struct run_args {
    const char *spec_path, *out, *data; /* spec_path NULL: the edits alone */
    spec_edits edits;
    progress_mode mode;
} run_args;

static int run_parse(cli *c, int argc, char **argv, run_args *a) {
    static const struct option longs[] = {{"out", required_argument, 0, 'o'},
                                          {"data", required_argument, 0, OPT_DATA},
                                          {"progress", required_argument, 0, OPT_PROGRESS},
                                          {"quiet", no_argument, 0, 'q'},
                                          SPEC_EDIT_LONGS,
                                          {0, 0, 0, 0}};
    int opt;
    while ((opt = cli_getopt(c, argc, argv, "o:q" SPEC_EDIT_SHORTS, longs)) >= 0) {
        if (opt == 'o') a->out = optarg;
        if (opt == OPT_DATA) a->data = optarg;
        if (opt == 'q') a->mode = PROGRESS_NONE;
        if (opt == OPT_PROGRESS && cli_progress_option(c, optarg, &a->mode) != 0) return -1;
        if (cli_spec_edit_option(c, opt, optarg, &a->edits) < 0) return -1;
    }
    if (opt == CLI_OPT_STOP) return -1;
    if (argc - optind == 0 && !cli_spec_edits_any(&a->edits))
        return cli_stop(c, cli_usage_error(c, "SPEC.json (or --sampler, --param, --set) missing"));
    if (argc - optind > 1) return cli_stop(c, cli_operands(c, argc, argv, 1, "SPEC.json"));
    a->spec_path = optind < argc ? argv[optind] : NULL;
    if (!a->out) return cli_stop(c, cli_usage_error(c, "-o FILE.{npy,csv,json} missing"));
    if (cli_check_draws_path(c, a->out) != 0) return cli_stop(c, CLI_USAGE);
    return 0;
}

/* --- --data -------------------------------------------------------------- */

/* Uploads the CSV and returns the spec with its data pointed at it (free
 * it), or NULL with *rc set. A spec that is not a JSON object is returned
 * as is, for the server to explain. */
static char *spec_with_data(cli *c, const char *spec, const char *csv, int *rc) {
    json_t *root = json_loads(spec, 0, NULL);
    if (!json_is_object(root)) {
        json_decref(root);
        return strdup(spec);
    }
    const json_t *data = json_object_get(root, "data");
    const char *model = json_string_value(json_object_get(json_object_get(root, "model"), "type"));
    int gaussian = model && !strcmp(model, "gaussian");
    if (gaussian || json_object_get(data, "synthetic")) {
        json_decref(root);
        *rc = cli_usage_error(c, "the spec asks for %s; drop --data",
                              gaussian ? "the gaussian model (no data)" : "synthetic data");
        return NULL;
    }
    char *copy = strdup(csv);
    mcmc_dataset ds;
    mcmc_error err;
    mcmc_client_status st =
        mcmc_upload_dataset_csv(c->client, copy ? basename(copy) : csv, csv, &ds, &err);
    free(copy);
    char *out = NULL;
    if (st != MCMC_CLIENT_OK)
        *rc = cli_fail(c, csv, st, &err);
    else if (json_object_set_new(root, "data", json_pack("{s:s}", "dataset", ds.id)) != 0 ||
             !(out = json_dumps(root, JSON_COMPACT)))
        *rc = cli_error("out of memory");
    json_decref(root);
    return out;
}

/* The spec to submit: the file's text and the edits, with --data applied. */
static char *load_spec(cli *c, const run_args *a, int *rc) {
    char *spec = cli_load_spec(c, a->spec_path, &a->edits, rc);
    if (!spec || !a->data) return spec;
    FILE *f = fopen(a->data, "rb");
    if (!f) {
        cli_error("cannot read %s: %s", a->data, strerror(errno));
        *rc = CLI_USAGE;
        free(spec);
        return NULL;
    }
    fclose(f);
    char *with = spec_with_data(c, spec, a->data, rc);
    free(spec);
    return with;
}

/* --- the run ------------------------------------------------------------- */

static int cancel_interrupted(cli *c, const char *id) {
    mcmc_error err;
    mcmc_client_status st = mcmc_cancel_job(c->client, id, NULL, &err);
    if (st == MCMC_CLIENT_OK)
        fprintf(stderr, "mcmc: interrupted; job %s cancelled\n", id);
    else
        cli_fail(c, "cancel", st, &err);
    return CLI_INTERRUPTED;
}

/* Submits the spec and follows the job until it ends. A SIGINT caught
 * from before the submission on cancels the job. */
static int submit_and_watch(cli *c, const run_args *a, const char *spec, mcmc_job *job) {
    mcmc_error err;
    mcmc_client_status st = mcmc_submit_job_json(c->client, spec, job, &err);
    if (st != MCMC_CLIENT_OK) return cli_fail(c, "submit", st, &err);
    printf("%s\n", job->id);
    fflush(stdout);
    watch_opts o = {.mode = a->mode, .interruptible = 1};
    int rc = cli_interrupted() ? CLI_INTERRUPTED : cli_watch(c, job->id, job->chains, &o);
    if (rc == CLI_INTERRUPTED) return cancel_interrupted(c, job->id);
    return rc;
}

static int fetch_draws(cli *c, const run_args *a, const mcmc_job *job) {
    mcmc_draw_query all = MCMC_DRAW_QUERY_ALL;
    int rc = cli_write_draws(c, job->id, &all, a->out);
    if (rc == CLI_OK && a->mode != PROGRESS_NONE)
        fprintf(stderr, "wrote %s: %llu chains x %llu draws x %llu parameters\n", a->out,
                (unsigned long long)job->chains, (unsigned long long)job->samples,
                (unsigned long long)job->d);
    return rc;
}

int cmd_run(cli *c, int argc, char **argv) {
    run_args a = {.mode = PROGRESS_AUTO};
    if (run_parse(c, argc, argv, &a) != 0) return c->rc;
    if (!cli_client(c)) return CLI_USAGE;
    int rc;
    char *spec = load_spec(c, &a, &rc);
    if (!spec) return rc;
    mcmc_job job;
    struct sigaction old;
    cli_catch_sigint(&old);
    rc = submit_and_watch(c, &a, spec, &job);
    cli_restore_sigint(&old);
    free(spec);
    if (rc == CLI_OK) rc = fetch_draws(c, &a, &job);
    mcmc_job_free(&job);
    return rc;
}
