/* samplers.c - the samplers and models a job spec may name, with their
 * parameters: `mcmc samplers` and the tail of `submit --help` and `run
 * --help`. They come from the server's GET /v1/info, so the list is the
 * one the server will check the spec against; when the server does not
 * answer, from the tables this build of mcmc was linked with (proto/tables.c
 * over core's tables), saying so. Nothing here names a sampler. */
#include <getopt.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "tables.h"

/* --- where the tables come from ------------------------------------------ */

/* The server's /v1/info, asked with short timeouts: help must not hang. */
static json_t *server_info(cli *c) {
    mcmc_client *client = cli_client(c);
    if (!client) return NULL;
    mcmc_client_set_timeouts(client, 1000, 5000, 5);
    char *text = NULL;
    mcmc_error err;
    json_t *info = NULL;
    if (mcmc_get_info_json(client, &text, &err) == MCMC_CLIENT_OK) info = json_loads(text, 0, NULL);
    free(text);
    mcmc_client_set_timeouts(client, 5000, 0, 30); /* cli_client's */
    if (json_is_array(json_object_get(info, "samplers"))) return info;
    json_decref(info);
    return NULL;
}

/* This build's tables, in /v1/info's shape. */
static json_t *linked_info(void) {
    json_t *info = json_object();
    json_object_set_new(info, "samplers", sampler_table_to_json());
    return info;
}

json_t *cli_tables(cli *c, int *from_server) {
    json_t *info = server_info(c);
    *from_server = info != NULL;
    return info ? info : linked_info();
}

/* --- text ---------------------------------------------------------------- */

static const char *or_empty(const char *s) {
    return s ? s : "";
}

/* A JSON scalar as a spec would write it, into buf. */
static const char *value_text(const json_t *v, char *buf, size_t cap) {
    if (json_is_string(v))
        snprintf(buf, cap, "%s", json_string_value(v));
    else if (json_is_true(v) || json_is_false(v))
        snprintf(buf, cap, "%s", json_is_true(v) ? "true" : "false");
    else if (json_is_integer(v))
        snprintf(buf, cap, "%lld", (long long)json_integer_value(v));
    else if (json_is_number(v))
        snprintf(buf, cap, "%.6g", json_number_value(v));
    else
        snprintf(buf, cap, "?");
    return buf;
}

/* "(number > 0)", "(integer >= 0, <= 4294967295)", "(unit, diag, dense)",
 * "(boolean)", with ", required" when a spec must give it. */
static void param_range(const json_t *p, char *buf, size_t cap) {
    const json_t *choices = json_object_get(p, "enum");
    const json_t *lo = json_object_get(p, "minimum"), *gt = json_object_get(p, "exclusiveMinimum");
    const json_t *hi = json_object_get(p, "maximum");
    char a[32], b[32];
    size_t n = 0;
    if (json_is_array(choices)) {
        for (size_t i = 0; i < json_array_size(choices) && n < cap; i++)
            n += (size_t)snprintf(buf + n, cap - n, "%s%s", i ? ", " : "(",
                                  json_string_value(json_array_get(choices, i)));
    } else {
        n = (size_t)snprintf(buf, cap, "(%s", json_string_value(json_object_get(p, "type")));
        if ((lo || gt) && n < cap)
            n += (size_t)snprintf(buf + n, cap - n, " %s %s",
                                  gt ? ">" : ">=", value_text(gt ? gt : lo, a, sizeof a));
        if (hi && json_number_value(hi) < 4294967295.0 && n < cap) /* not uint32's end */
            n += (size_t)snprintf(buf + n, cap - n, "%s<= %s", lo || gt ? ", " : " ",
                                  value_text(hi, b, sizeof b));
    }
    if (json_is_true(json_object_get(p, "required")) && n < cap)
        n += (size_t)snprintf(buf + n, cap - n, ", required");
    if (n < cap) snprintf(buf + n, cap - n, ")");
}

/* "    name=default   (range) help" */
static void print_param(FILE *out, const json_t *p) {
    char def[64] = "", range[256], assign[96];
    const json_t *v = json_object_get(p, "default");
    if (v) value_text(v, def, sizeof def);
    snprintf(assign, sizeof assign, "%s%s%s", json_string_value(json_object_get(p, "name")),
             v ? "=" : "", def);
    param_range(p, range, sizeof range);
    fprintf(out, "    %-24s %s %s\n", assign, range,
            or_empty(json_string_value(json_object_get(p, "help"))));
}

/* One sampler or model: a string (a server that lists names only), or an
 * entry with its help, statistics and parameters. */
static void print_entry(FILE *out, const json_t *e) {
    if (json_is_string(e)) {
        fprintf(out, "  %s\n", json_string_value(e));
        return;
    }
    fprintf(out, "  %s: %s\n", json_string_value(json_object_get(e, "name")),
            or_empty(json_string_value(json_object_get(e, "help"))));
    const json_t *stats = json_object_get(e, "stats");
    if (json_is_array(stats)) {
        fputs("    statistics per draw:", out);
        for (size_t i = 0; i < json_array_size(stats); i++)
            fprintf(out, " %s", json_string_value(json_array_get(stats, i)));
        fputs(json_array_size(stats) ? "\n" : " none\n", out);
    }
    const json_t *params = json_object_get(e, "params");
    for (size_t i = 0; i < json_array_size(params); i++)
        print_param(out, json_array_get(params, i));
    if (json_is_true(json_object_get(e, "uses_metric")))
        fprintf(out, "    %-24s %s\n", "inv_metric=[...]",
                "(array) a warm start: the inverse metric a finished job reported");
}

static const char *entry_name(const json_t *e) {
    return json_is_string(e) ? json_string_value(e) : json_string_value(json_object_get(e, "name"));
}

/* The entries of info[key] (all, or the one named only); how many. */
static size_t print_list(FILE *out, const json_t *info, const char *key, const char *title,
                         const char *only) {
    const json_t *list = json_object_get(info, key);
    size_t shown = 0;
    for (size_t i = 0; i < json_array_size(list); i++) {
        const json_t *e = json_array_get(list, i);
        if (only && strcmp(only, or_empty(entry_name(e))) != 0) continue;
        fprintf(out, shown++ ? "\n" : "%s:\n", title);
        print_entry(out, e);
    }
    return shown;
}

size_t cli_print_tables(FILE *out, const json_t *info, const char *only) {
    size_t n =
        print_list(out, info, "samplers", "Samplers (\"sampler\": {\"type\": NAME, ...})", only);
    if (n && json_array_size(json_object_get(info, "models"))) fputc('\n', out);
    return n + print_list(out, info, "models", "Models (\"model\": {\"type\": NAME, ...})", only);
}

void cli_print_sampler_help(cli *c, FILE *out) {
    int from_server;
    json_t *info = cli_tables(c, &from_server);
    if (from_server)
        fprintf(out, "\nWhat %s takes (its GET /v1/info):\n\n", c->server);
    else
        fprintf(out, "\n%s did not answer; this build's tables:\n\n", c->server);
    cli_print_tables(out, info, NULL);
    json_decref(info);
}

/* --- mcmc samplers ------------------------------------------------------- */

static const json_t *find_entry(const json_t *info, const char *name) {
    const char *keys[] = {"samplers", "models"};
    for (int k = 0; k < 2; k++) {
        const json_t *list = json_object_get(info, keys[k]);
        for (size_t i = 0; i < json_array_size(list); i++)
            if (!strcmp(or_empty(entry_name(json_array_get(list, i))), name))
                return json_array_get(list, i);
    }
    return NULL;
}

int cmd_samplers(cli *c, int argc, char **argv) {
    int json = 0;
    if (cli_json_option(c, argc, argv, &json) == CLI_OPT_STOP) return c->rc;
    if (argc - optind > 1) return cli_usage_error(c, "unexpected argument '%s'", argv[optind + 1]);
    const char *only = optind < argc ? argv[optind] : NULL;
    int from_server;
    json_t *info = cli_tables(c, &from_server);
    if (!from_server) fprintf(stderr, "mcmc: %s did not answer; this build's tables\n", c->server);
    int rc = CLI_OK;
    const json_t *one = only ? find_entry(info, only) : NULL;
    if (only && !one) {
        rc = cli_error("no sampler or model named '%s'", only);
    } else if (json) {
        json_t *all = json_pack("{s:O, s:O*}", "samplers", json_object_get(info, "samplers"),
                                "models", json_object_get(info, "models"));
        json_dumpf(one ? one : all, stdout, JSON_COMPACT);
        fputc('\n', stdout);
        json_decref(all);
    } else {
        cli_print_tables(stdout, info, only);
    }
    json_decref(info);
    return rc;
}
