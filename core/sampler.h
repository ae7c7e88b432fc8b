/* sampler.h - the table of samplers, and the interface one sampler implements.
 *
 * Every sampler is one entry of sampler_table (sampler.c) and one file
 * (sampler_<name>.c) holding its step. An entry names the sampler, lists
 * its parameters (name, kind, default, bounds, one line of help), the
 * per-iteration statistics it reports (CmdStan's names) and what it needs
 * from the chain runner (a metric, warmup adaptation, minibatches). The spec
 * parser, /v1/info, the client, `mcmc`'s help, the OpenAPI test and the
 * benchmarks all read this table; nothing else lists samplers.
 *
 * Adding a sampler: write sampler_<name>.c defining its step (and, when it
 * has them, its init and probe), add one line to sampler_table in
 * sampler.c, and add the file to core/CMakeLists.txt.
 */
#ifndef MCMCD_SAMPLER_H
#define MCMCD_SAMPLER_H

#include <stddef.h>
#include <stdint.h>

#include "metric.h"
#include "model.h"
#include "param.h"
#include "rng.h"

/* Per-iteration statistics, with CmdStan's column names, in this order. */
typedef enum chain_stat {
    STAT_LP = 0,    /* lp__: log density of the current point (constants dropped) */
    STAT_ACCEPT,    /* accept_stat__: the Metropolis acceptance probability, averaged
                       over the trajectory for NUTS */
    STAT_STEPSIZE,  /* stepsize__: the step size this iteration used */
    STAT_TREEDEPTH, /* treedepth__: NUTS tree depth */
    STAT_NLEAPFROG, /* n_leapfrog__: leapfrog steps (gradients) this iteration */
    STAT_DIVERGENT, /* divergent__: 1 when the energy error passed 1000 */
    STAT_ENERGY,    /* energy__: the Hamiltonian at the kept point */
    STAT_INT_TIME,  /* int_time__: static HMC's integration time */
    STAT_COUNT
} chain_stat;

#define STAT_BIT(s) (1u << (s))

/* "lp__", "accept_stat__", ...; NULL for an index >= STAT_COUNT. */
const char *chain_stat_name(unsigned stat);
/* How many statistics a mask selects (its set bits). */
unsigned chain_stat_count(unsigned mask);

/* At most this many parameters per sampler. */
#define SAMPLER_MAX_PARAMS 24

/* What a sampler needs from the chain runner. */
enum sampler_flags {
    SAMPLER_USES_METRIC = 1, /* the step uses s->metric; "metric" and "inv_metric" apply */
    SAMPLER_ADAPTS = 2,      /* warmup adapts the step size (dual averaging) and, with
                                SAMPLER_USES_METRIC, the metric in Stan's windows */
    SAMPLER_MINIBATCH = 4,   /* the step may estimate the gradient on a minibatch */
    SAMPLER_ACCEPTS = 8,     /* the step accepts or rejects one proposal and counts the
                                accepts in s->accepted (NUTS does not: it draws from its
                                trajectory; its accept_stat__ is a mean statistic) */
    SAMPLER_CENTRE = 16,     /* control variates around s->centre: the runner sets it to the
                                spec's "centre", or finds the mode first (optimize.h) */
};

typedef struct sampler_state sampler_state;

typedef struct sampler_def {
    const char *name;
    const char *help; /* one line */
    const param_def *params;
    size_t num_params;
    unsigned stats;       /* STAT_BIT mask of what the step reports */
    unsigned flags;       /* sampler_flags */
    double default_delta; /* target accept statistic for adaptation (0: none) */
    /* Bytes of private scratch for dimension d (0: none); the runner hands
     * it over as s->priv, zeroed and 64-byte aligned. */
    size_t (*scratch_size)(size_t d, const double *params);
    /* Called once after theta is set (NULL: the runner computes lp and
     * grad at theta). */
    void (*init)(sampler_state *s);
    /* One iteration from s->theta, using only the counters of ks (see
     * chain.h); writes the statistics of its mask into stats[STAT_*]. */
    void (*step)(sampler_state *s, rng_key ks, double *stats);
    /* Stan's init_stepsize heuristic needs the accept probability of one
     * proposal of size s->step_size from s->theta (fresh randomness from ks,
     * s->theta unchanged). NULL: the heuristic is skipped. */
    double (*probe)(sampler_state *s, rng_key ks);
} sampler_def;

/* The state a step works on. The runner owns every buffer; a step updates
 * theta, grad and lp in place (swapping pointers is fine: they are d
 * doubles each, allocated alike, and buf0..buf3 are spare ones). */
struct sampler_state {
    const sampler_def *def;
    const model *m;
    model_work *w;
    size_t d, n;          /* dimension; rows of data (0: none) */
    const double *params; /* the spec's values, in the order of def->params */
    double step_size;     /* the step size of this iteration (adapted in warmup) */
    const metric *metric; /* the inverse metric (unit when the sampler uses none) */
    double *theta, *grad; /* the current point and the gradient of log p there */
    double lp;            /* log p(theta) */
    double *buf[4];       /* spare d-vectors */
    uint32_t *idx;        /* minibatch indices (SAMPLER_MINIBATCH), batch entries */
    size_t batch;         /* minibatch size; 0: full data */
    const double *centre; /* SAMPLER_CENTRE: d values, the control variates' centre */
    void *priv;           /* scratch_size bytes */
    /* Set by the runner during a step, or NULL: the d normals of key
     * step_noise_key, drawn ahead (see sampler_step_normals). */
    const double *step_noise;
    rng_key step_noise_key;
    uint64_t grad_evals; /* gradients evaluated so far; steps add theirs */
    uint64_t accepted;   /* accepted proposals so far (samplers with an accept step) */
};

/* The parameters every adaptive sampler shares, spliced into its list with
 * SAMPLER_ADAPT_PARAMS(its default adapt_delta), and those of samplers
 * with a metric (SAMPLER_METRIC_PARAMS). The runner reads them by name. */
extern const char *const sampler_metric_choices[];    /* unit, diag, dense */
extern const char *const sampler_metric_estimators[]; /* stan, grad */
#define SAMPLER_ADAPT_PARAMS(delta)                                                                \
    {"adapt_engaged",                                                                              \
     P_BOOL,                                                                                       \
     1,                                                                                            \
     0,                                                                                            \
     1,                                                                                            \
     0,                                                                                            \
     NULL,                                                                                         \
     "adapt during warmup: the step size, and the metric of samplers that have one"},              \
        {"adapt_delta",                                                                            \
         P_REAL,                                                                                   \
         delta,                                                                                    \
         0,                                                                                        \
         1,                                                                                        \
         P_MIN_OPEN,                                                                               \
         NULL,                                                                                     \
         "the accept statistic that step-size adaptation aims at"},                                \
        {"adapt_gamma", P_REAL,     0.05, 0,                                                       \
         1e300,         P_MIN_OPEN, NULL, "dual averaging: the regularisation scale"},             \
        {"adapt_kappa",                                                                            \
         P_REAL,                                                                                   \
         0.75,                                                                                     \
         0,                                                                                        \
         1,                                                                                        \
         P_MIN_OPEN,                                                                               \
         NULL,                                                                                     \
         "dual averaging: the relaxation exponent"},                                               \
        {"adapt_t0", P_REAL,     10,   0,                                                          \
         1e300,      P_MIN_OPEN, NULL, "dual averaging: the iteration offset"},                    \
        {"adapt_init_buffer",                                                                      \
         P_INT,                                                                                    \
         75,                                                                                       \
         0,                                                                                        \
         4294967295.0,                                                                             \
         0,                                                                                        \
         NULL,                                                                                     \
         "warmup iterations that adapt the step size alone, first"},                               \
        {"adapt_term_buffer",                                                                      \
         P_INT,                                                                                    \
         50,                                                                                       \
         0,                                                                                        \
         4294967295.0,                                                                             \
         0,                                                                                        \
         NULL,                                                                                     \
         "warmup iterations that adapt the step size alone, last"},                                \
    {                                                                                              \
        "adapt_window", P_INT, 25, 1, 4294967295.0, 0, NULL,                                       \
            "the first metric window; each next one doubles"                                       \
    }
#define SAMPLER_METRIC_PARAMS                                                                      \
    {"metric",                                                                                     \
     P_CHOICE,                                                                                     \
     1,                                                                                            \
     0,                                                                                            \
     2,                                                                                            \
     0,                                                                                            \
     sampler_metric_choices,                                                                       \
     "the inverse metric: unit, diag (estimated per coordinate) or dense"},                        \
    {                                                                                              \
        "metric_adapt", P_CHOICE, 0, 0, 1, 0, sampler_metric_estimators,                           \
            "how warmup estimates a diag metric: stan (variance of draws) or grad "                \
            "(nutpie: sqrt(var(draws) / var(gradients)))"                                          \
    }

/* The table, in the order /v1/info lists it; NULL-terminated. */
extern const sampler_def *const sampler_table[];

const sampler_def *sampler_find(const char *name);
/* The index of the named parameter in def->params, or -1. */
int sampler_param_index(const sampler_def *def, const char *name);
/* params[i] = each parameter's default (NAN where SP_REQUIRED). */
void sampler_defaults(const sampler_def *def, double *params);
/* The value of the named parameter in params, or fallback when def has no
 * such parameter. */
double sampler_param(const sampler_def *def, const double *params, const char *name,
                     double fallback);

/* out = the d standard normals of ks at CHAIN_COUNTER(CHAIN_STREAM_NOISE,
 * 0), every step's noise or momentum: s->step_noise when the runner drew
 * them ahead for ks (several steps at once, small d), else drawn now. */
void sampler_step_normals(const sampler_state *s, rng_key ks, double *out);

/* Helpers for Metropolis samplers. min(1, e^log_ratio), 0 for NaN. */
double sampler_accept_probability(double log_ratio);
/* Accepts the proposal in buf[2] (its gradient in buf[3], its log density
 * lp_prop) when log u < log_alpha, u from ks's first uniform; writes
 * lp__, accept_stat__ and stepsize__ into stats. */
void sampler_metropolis(sampler_state *s, rng_key ks, double log_alpha, double lp_prop,
                        double *stats);

/* The samplers, each defined in its own file. */
extern const sampler_def sampler_ula, sampler_mala, sampler_sgld, sampler_rwm, sampler_hmc,
    sampler_nuts;
/* The stochastic-gradient family (sampler_sg_*.c; sgld is one of them). */
extern const sampler_def sampler_sgld_cv, sampler_sgld_svrg, sampler_psgld, sampler_sghmc,
    sampler_sghmc_cv, sampler_sghmc_svrg, sampler_sgnht, sampler_sgnht_cv, sampler_baoab,
    sampler_badodab, sampler_badodab_cv;

#endif
