/* cmdstan_text.c - CmdStan CSV's comment blocks (prologue, adaptation,
 * timing), written with open_memstream: these are small, once-per-file
 * texts. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cmdstan_text.h"
#include "draws_format.h"
#include "errors.h"

int chain_adaptation_from_block(chain_adaptation *out, const chain_block *b) {
    const metric *m = b->adapted_metric;
    *out = (chain_adaptation){.known = 1, .step_size = b->adapted_step_size, .d = b->d};
    out->kind = m ? m->kind : METRIC_UNIT;
    size_t n = chain_adaptation_values(out);
    if (n == 0) return MCMC_OK;
    out->inv = malloc(n * sizeof *out->inv);
    if (!out->inv) {
        out->known = 0;
        return MCMC_ENOMEM;
    }
    memcpy(out->inv, m->inv, n * sizeof *out->inv);
    return MCMC_OK;
}

size_t chain_adaptation_values(const chain_adaptation *a) {
    if (a->kind == METRIC_DIAG) return a->d;
    if (a->kind == METRIC_DENSE) return a->d * a->d;
    return 0;
}

void chain_adaptation_clear(chain_adaptation *a) {
    free(a->inv);
    *a = (chain_adaptation){0};
}

/* The stream's text, or NULL when it could not be written. */
static char *finish_text(FILE *f, char **text) {
    int bad = ferror(f);
    if (fclose(f) != 0 || bad) {
        free(*text);
        return NULL;
    }
    return *text;
}

static void put_number(FILE *f, double v) {
    char buf[DRAWS_NUMBER_MAX];
    fwrite(buf, 1, draws_render_cmdstan_number(buf, v), f);
}

static const char *cmdstan_metric_name(metric_kind kind) {
    return kind == METRIC_DENSE ? "dense_e" : kind == METRIC_DIAG ? "diag_e" : "unit_e";
}

/* "#       name = value": a value from the sampler's parameters, if it has it. */
static void put_param_line(FILE *f, const chain_config *cfg, const char *indent,
                           const char *cmdstan_name, const char *name) {
    double v = sampler_param(cfg->sampler, cfg->params, name, NAN);
    if (isnan(v)) return;
    fprintf(f, "#%s%s = ", indent, cmdstan_name);
    put_number(f, v);
    fputc('\n', f);
}

/* CmdStan's algorithm subtree: hmc/nuts, hmc/static, or our sampler's name. */
static void put_algorithm(FILE *f, const chain_config *cfg) {
    const char *name = cfg->sampler->name;
    int nuts = !strcmp(name, "nuts"), hmc = !strcmp(name, "hmc");
    fprintf(f, "#     algorithm = %s\n", nuts || hmc ? "hmc" : name);
    if (!nuts && !hmc) return;
    fprintf(f, "#       hmc\n#         engine = %s\n", nuts ? "nuts" : "static");
    if (nuts) {
        fprintf(f, "#           nuts\n");
        put_param_line(f, cfg, "             ", "max_depth", "max_tree_depth");
    } else {
        fprintf(f, "#           static\n");
        put_param_line(f, cfg, "             ", "int_time", "path_length");
    }
    fprintf(f, "#         metric = %s\n", cmdstan_metric_name(chain_metric_kind(cfg)));
    put_param_line(f, cfg, "         ", "stepsize", "step_size");
    put_param_line(f, cfg, "         ", "stepsize_jitter", "jitter");
}

/* Every scalar parameter of the sampler as <sampler>.<name>, so that no
 * key repeats one of CmdStan's (readers that keep the last value of a key
 * would take ours). */
static void put_sampler_params(FILE *f, const chain_config *cfg) {
    const sampler_def *s = cfg->sampler;
    fprintf(f, "#     sampler = %s\n", s->name);
    for (size_t i = 0; i < s->num_params; i++) {
        const param_def *p = &s->params[i];
        double v = cfg->params[i];
        if (p->kind == P_VECTOR || p->kind == P_MATRIX || isnan(v)) continue;
        fprintf(f, "#       %s.%s = ", s->name, p->name);
        if (p->kind == P_CHOICE && p->choices)
            fputs(p->choices[(size_t)v], f);
        else
            put_number(f, v);
        fputc('\n', f);
    }
}

char *cmdstan_prologue(const chain_config *cfg, const char *model_name, uint32_t chain) {
    char *text = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&text, &len);
    if (!f) return NULL;
    int adapts = (cfg->sampler->flags & SAMPLER_ADAPTS) && cfg->num_warmup > 0;
    fprintf(f,
            "# written by mcmcd in CmdStan's CSV layout\n"
            "# model = %s\n"
            "# method = sample (Default)\n"
            "#   sample\n"
            "#     num_samples = %llu\n"
            "#     num_warmup = %llu\n"
            "#     save_warmup = %d\n"
            "#     thin = %llu\n"
            "#     adapt\n"
            "#       engaged = %d\n",
            model_name, (unsigned long long)(cfg->num_samples * cfg->thin),
            (unsigned long long)cfg->num_warmup, cfg->save_warmup ? 1 : 0,
            (unsigned long long)cfg->thin, adapts);
    put_param_line(f, cfg, "       ", "delta", "adapt_delta");
    if (adapts)
        fprintf(f, "#       gamma = 0.05\n#       kappa = 0.75\n#       t0 = 10\n"
                   "#       init_buffer = 75\n#       term_buffer = 50\n#       window = 25\n");
    put_algorithm(f, cfg);
    put_sampler_params(f, cfg);
    fprintf(f, "# id = %u\n# random\n#   seed = %llu\n", chain + 1,
            (unsigned long long)(((uint64_t)cfg->key.hi << 32) | cfg->key.lo));
    return finish_text(f, &text);
}

/* "# v1, v2, ..., vn\n" */
static void put_metric_row(FILE *f, const double *v, size_t n) {
    fputs("# ", f);
    for (size_t j = 0; j < n; j++) {
        if (j) fputs(", ", f);
        put_number(f, v[j]);
    }
    fputc('\n', f);
}

char *cmdstan_adaptation(const chain_adaptation *a) {
    char *text = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&text, &len);
    if (!f) return NULL;
    fputs("# Adaptation terminated\n# Step size = ", f);
    put_number(f, a->step_size);
    fputc('\n', f);
    if (a->kind == METRIC_DIAG && a->inv) {
        fputs("# Diagonal elements of inverse mass matrix:\n", f);
        put_metric_row(f, a->inv, a->d);
    } else if (a->kind == METRIC_DENSE && a->inv) {
        fputs("# Elements of inverse mass matrix:\n", f);
        for (size_t i = 0; i < a->d; i++)
            put_metric_row(f, a->inv + i * a->d, a->d);
    } else {
        fputs("# No free parameters for unit metric\n", f);
    }
    return finish_text(f, &text);
}

char *cmdstan_timing(double warmup_seconds, double sampling_seconds) {
    char *text = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&text, &len);
    if (!f) return NULL;
    fprintf(f,
            "# \n"
            "#  Elapsed Time: %.6f seconds (Warm-up)\n"
            "#                %.6f seconds (Sampling)\n"
            "#                %.6f seconds (Total)\n"
            "# \n",
            warmup_seconds, sampling_seconds, warmup_seconds + sampling_seconds);
    return finish_text(f, &text);
}
