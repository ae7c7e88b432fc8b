/* describe.c - `mcmcd samplers [NAME]`: the sampler table printed as
 * Markdown, read from core's table alone. */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "describe.h"
#include "sampler.h"

static void print_value(const param_def *pd, double v) {
    if (pd->kind == P_BOOL)
        fputs(v != 0 ? "true" : "false", stdout);
    else if (pd->kind == P_CHOICE)
        printf("\"%s\"", pd->choices[(int)v]);
    else
        printf("%g", v);
}

static void print_range(const param_def *pd) {
    if (pd->kind == P_CHOICE) {
        for (const char *const *c = pd->choices; *c; c++)
            printf("%s%s", c == pd->choices ? "" : ", ", *c);
        return;
    }
    if (pd->kind == P_BOOL) return;
    if (pd->kind == P_VECTOR) {
        fputs("d numbers", stdout);
        return;
    }
    printf("%s %g", pd->flags & P_MIN_OPEN ? ">" : ">=", pd->min);
    if (pd->max < 1e300 && pd->max < 4294967295.0) printf(", <= %g", pd->max);
}

static void print_stats(unsigned mask) {
    int first = 1;
    for (unsigned s = 0; s < STAT_COUNT; s++)
        if (mask & STAT_BIT(s)) {
            printf("%s`%s`", first ? "" : ", ", chain_stat_name(s));
            first = 0;
        }
    if (first) fputs("none", stdout);
}

static void print_sampler(const sampler_def *d) {
    printf("### %s\n\n%s.\n\nStatistics per draw: ", d->name, d->help);
    print_stats(d->stats);
    if (d->flags & SAMPLER_ADAPTS)
        printf(". Adapts during warmup (target accept statistic %g).", d->default_delta);
    else
        fputs(". Fixed step size: no adaptation.", stdout);
    printf("\n\n| parameter | type | default | range | meaning |\n|---|---|---|---|---|\n");
    for (size_t i = 0; i < d->num_params; i++) {
        const param_def *pd = &d->params[i];
        printf("| `%s` | %s | ", pd->name, param_kind_name(pd->kind));
        if (pd->flags & P_REQUIRED)
            fputs("required", stdout);
        else if (pd->flags & P_OPTIONAL)
            fputs("unset", stdout);
        else
            print_value(pd, pd->def);
        fputs(" | ", stdout);
        print_range(pd);
        printf(" | %s |\n", pd->help);
    }
    if (d->flags & SAMPLER_USES_METRIC)
        printf("| `inv_metric` | array | unit | d numbers (diag) or d x d (dense) | a warm "
               "start: the inverse metric a finished job reported |\n");
    putchar('\n');
}

int describe_samplers_main(int argc, char **argv) {
    const char *only = argc > 1 ? argv[1] : NULL;
    if (only && (!strcmp(only, "--help") || !strcmp(only, "-h"))) {
        puts("usage: mcmcd samplers [NAME]\n\nPrints every sampler of the table (or one) with its "
             "parameters, as Markdown.");
        return 0;
    }
    if (only && !sampler_find(only)) {
        fprintf(stderr, "mcmcd samplers: no sampler named '%s'\n", only);
        return 2;
    }
    for (const sampler_def *const *d = sampler_table; *d; d++)
        if (!only || !strcmp(only, (*d)->name)) print_sampler(*d);
    return 0;
}
