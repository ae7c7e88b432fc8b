/* cmd_data.c - `mcmc data put|ls|rm`: datasets on the server. One line
 * per dataset: id, rows x covariates, size, creation time, name. */
#include <errno.h>
#include <getopt.h>
#include <libgen.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

static void print_dataset(const mcmc_dataset *ds) {
    char shape[48], size[32];
    snprintf(shape, sizeof shape, "%llux%llu", (unsigned long long)ds->n,
             (unsigned long long)ds->d);
    printf("%-32s  %-13s  %10s  %-24s  %s\n", ds->id, shape,
           cli_fmt_bytes(size, sizeof size, ds->bytes), ds->created, ds->name);
}

static void print_dataset_json(const mcmc_dataset *ds) {
    jw w;
    jw_init(&w, stdout);
    jw_dataset(&w, ds);
}

/* The file's own name, for a dataset named after it. */
static void base_name(const char *path, char *buf, size_t cap) {
    char *copy = strdup(path);
    snprintf(buf, cap, "%s", copy ? basename(copy) : path);
    free(copy);
}

int cmd_data_put(cli *c, int argc, char **argv) {
    static const struct option longs[] = {
        {"name", required_argument, 0, OPT_NAME}, {"json", no_argument, 0, OPT_JSON}, {0, 0, 0, 0}};
    const char *name = NULL;
    int json = 0, opt;
    while ((opt = cli_getopt(c, argc, argv, "", longs)) >= 0) {
        if (opt == OPT_NAME) name = optarg;
        if (opt == OPT_JSON) json = 1;
    }
    if (opt == CLI_OPT_STOP) return c->rc;
    if (cli_operands(c, argc, argv, 1, "FILE.csv")) return CLI_USAGE;
    const char *path = argv[optind];
    FILE *f = fopen(path, "rb");
    if (!f) {
        cli_error("cannot read %s: %s", path, strerror(errno));
        return CLI_USAGE;
    }
    fclose(f);
    char own[256];
    if (!name) base_name(path, own, sizeof own), name = own;
    mcmc_client *client = cli_client(c);
    if (!client) return CLI_USAGE;
    mcmc_dataset ds;
    mcmc_error err;
    mcmc_client_status st = mcmc_upload_dataset_csv(client, name, path, &ds, &err);
    if (st != MCMC_CLIENT_OK) return cli_fail(c, path, st, &err);
    if (json)
        print_dataset_json(&ds);
    else
        print_dataset(&ds);
    return CLI_OK;
}

static void print_datasets_json(const mcmc_dataset_list *list) {
    jw w;
    jw_init(&w, stdout);
    jw_begin_object(&w);
    jw_key(&w, "datasets");
    jw_begin_array(&w);
    for (size_t i = 0; i < list->count; i++)
        jw_dataset(&w, &list->datasets[i]);
    jw_end(&w);
    jw_end(&w);
}

int cmd_data_ls(cli *c, int argc, char **argv) {
    int json = 0;
    if (cli_json_option(c, argc, argv, &json) == CLI_OPT_STOP) return c->rc;
    if (cli_operands(c, argc, argv, 0, "")) return CLI_USAGE;
    mcmc_client *client = cli_client(c);
    if (!client) return CLI_USAGE;
    mcmc_dataset_list list;
    mcmc_error err;
    mcmc_client_status st = mcmc_list_datasets(client, &list, &err);
    if (st != MCMC_CLIENT_OK) return cli_fail(c, "data ls", st, &err);
    if (json)
        print_datasets_json(&list);
    else
        for (size_t i = 0; i < list.count; i++)
            print_dataset(&list.datasets[i]);
    mcmc_dataset_list_free(&list);
    return CLI_OK;
}

int cmd_data_rm(cli *c, int argc, char **argv) {
    int opt;
    while ((opt = cli_getopt(c, argc, argv, "", NULL)) >= 0) {
    }
    if (opt == CLI_OPT_STOP) return c->rc;
    if (cli_operands(c, argc, argv, 1, "ID")) return CLI_USAGE;
    mcmc_client *client = cli_client(c);
    if (!client) return CLI_USAGE;
    mcmc_error err;
    mcmc_client_status st = mcmc_delete_dataset(client, argv[optind], &err);
    if (st != MCMC_CLIENT_OK) return cli_fail(c, argv[optind], st, &err);
    printf("deleted dataset %s\n", argv[optind]);
    return CLI_OK;
}
