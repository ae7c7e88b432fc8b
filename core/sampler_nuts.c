/* sampler_nuts.c - the No-U-Turn Sampler as Stan runs it (base_nuts):
 * multinomial sampling over the trajectory, biased progressive sampling
 * when a new subtree joins the trajectory and uniform progressive sampling
 * inside subtrees, the generalised no-U-turn criterion (p_sharp = Minv p,
 * rho = the sum of the momenta) on every merged tree and across its two
 * halves, a maximum tree depth, and a divergence when the energy error
 * passes 1000, which stops the tree.
 *
 * Randomness (chain.h): the momentum from CHAIN_STREAM_NOISE elements
 * 0..d-1, the direction of doubling t from CHAIN_STREAM_DIRECTION element
 * t, the multinomial choices from CHAIN_STREAM_UNIFORM elements 0, 1, ...
 * in the order the tree needs them, the jitter from CHAIN_STREAM_JITTER.
 *
 * The tree is built recursively, as Stan builds it; the vectors each depth
 * of the recursion keeps live in the scratch (nuts_scratch_size), so a step
 * never allocates. Samples move between buffers by swapping pointers.
 */
#include <math.h>
#include <string.h>

#include "chain.h"
#include "hamiltonian.h"
#include "sampler.h"

#define NUTS_MAX_DEPTH 30

enum { NUTS_STEP_SIZE = 0, NUTS_MAX_TREE_DEPTH, NUTS_JITTER };

static const param_def nuts_params[] = {
    {"step_size", P_REAL, 1, 0, 1e300, P_MIN_OPEN, NULL,
     "leapfrog step size (the initial one when adapting)"},
    {"max_tree_depth", P_INT, 10, 1, NUTS_MAX_DEPTH, 0, NULL,
     "most doublings of the trajectory: at most 2^max_tree_depth - 1 leapfrog steps"},
    {"jitter", P_REAL, 0, 0, 1, 0, NULL,
     "each iteration's step size is step_size (1 + jitter U(-1, 1))"},
    SAMPLER_ADAPT_PARAMS(0.8),
    SAMPLER_METRIC_PARAMS,
};

/* A candidate sample: a point, its log density and its Hamiltonian. */
typedef struct nuts_sample {
    double *theta, *grad;
    double lp, h;
} nuts_sample;

/* What build_tree keeps at one depth >= 1 while it builds its two halves. */
typedef struct nuts_level {
    double *p_init_end, *v_init_end;   /* last leaf of the first half */
    double *p_final_beg, *v_final_beg; /* first leaf of the second half */
    double *rho_init, *rho_final;      /* summed momenta of each half */
    nuts_sample final;                 /* the second half's sample */
} nuts_level;

/* One iteration's trajectory. */
typedef struct nuts_tree {
    sampler_state *s;
    rng_key ks;
    double eps, h0;
    double sum_accept; /* sum over leaves of min(1, exp(H0 - h)) */
    double w;          /* log of the trajectory's summed weight exp(H0 - h) */
    uint64_t n_leapfrog, n_uniform;
    int depth; /* doublings kept */
    int divergent;
    ham_point fwd, bck; /* the trajectory's two ends */
    nuts_sample sample, propose;
    double *near_p, *near_v; /* the old trajectory's end that a new subtree grows from */
    double *beg_p, *beg_v;   /* the new subtree's first leaf */
    double *rho, *rho_new;   /* summed momenta: the trajectory, the new subtree */
    double *normals;
    nuts_level level[NUTS_MAX_DEPTH];
} nuts_tree;

/* d-vectors: the two ends (4 each), two samples (2 each), the seven of
 * nuts_tree, then eight per depth 1..max_tree_depth-1. */
#define NUTS_TOP_VECTORS 19
#define NUTS_LEVEL_VECTORS 8

static int nuts_depth_limit(const double *params) {
    double v = params ? params[NUTS_MAX_TREE_DEPTH] : 10;
    return v < 1 ? 1 : v > NUTS_MAX_DEPTH ? NUTS_MAX_DEPTH : (int)v;
}

static size_t nuts_scratch_size(size_t d, const double *params) {
    size_t levels = (size_t)nuts_depth_limit(params) - 1;
    return (NUTS_TOP_VECTORS + NUTS_LEVEL_VECTORS * levels) * d * sizeof(double);
}

static void nuts_tree_carve(nuts_tree *t, sampler_state *s) {
    size_t d = s->d;
    double *mem = s->priv;
    t->fwd = ham_point_at(mem, d), mem += 4 * d;
    t->bck = ham_point_at(mem, d), mem += 4 * d;
    double **top[] = {&t->sample.theta, &t->sample.grad, &t->propose.theta, &t->propose.grad,
                      &t->near_p,       &t->near_v,      &t->beg_p,         &t->beg_v,
                      &t->rho,          &t->rho_new,     &t->normals};
    for (size_t i = 0; i < sizeof top / sizeof top[0]; i++)
        *top[i] = mem, mem += d;
    int depths = nuts_depth_limit(s->params);
    for (int k = 1; k < depths; k++) {
        nuts_level *l = &t->level[k];
        double **v[] = {&l->p_init_end, &l->v_init_end, &l->p_final_beg, &l->v_final_beg,
                        &l->rho_init,   &l->rho_final,  &l->final.theta, &l->final.grad};
        for (size_t i = 0; i < NUTS_LEVEL_VECTORS; i++)
            *v[i] = mem, mem += d;
    }
}

static double log_sum_exp(double a, double b) {
    if (a == -INFINITY) return b;
    if (b == -INFINITY) return a;
    double m = a > b ? a : b;
    return m + log1p(exp(-fabs(a - b)));
}

static double nuts_uniform(nuts_tree *t) {
    return rng_uniform_f64(t->ks, CHAIN_COUNTER(CHAIN_STREAM_UNIFORM, t->n_uniform++));
}

static void swap_samples(nuts_sample *a, nuts_sample *b) {
    nuts_sample tmp = *a;
    *a = *b, *b = tmp;
}

/* One leapfrog step from z: the leaf's weight, accept statistic and
 * sample; its momentum is the subtree's first (p_beg, v_beg) and adds to
 * rho. Invalid (0) when it diverged. */
static int build_leaf(nuts_tree *t, ham_point *z, double sign, nuts_sample *prop, double *p_beg,
                      double *v_beg, double *rho, double *log_w) {
    sampler_state *s = t->s;
    size_t d = s->d, bytes = d * sizeof(double);
    ham_leapfrog(s, z, sign * t->eps);
    t->n_leapfrog++;
    double h = ham_energy(s, z);
    if (h - t->h0 > HAM_MAX_DELTA_H) t->divergent = 1;
    *log_w = log_sum_exp(*log_w, t->h0 - h);
    t->sum_accept += ham_accept_prob(t->h0, h);
    memcpy(prop->theta, z->theta, bytes);
    memcpy(prop->grad, z->grad, bytes);
    prop->lp = z->lp, prop->h = h;
    memcpy(p_beg, z->p, bytes);
    memcpy(v_beg, z->v, bytes);
    for (size_t j = 0; j < d; j++)
        rho[j] += z->p[j];
    return !t->divergent;
}

/* Integrates 2^depth leaves from z in direction sign (z ends at the last
 * leaf, so z->p, z->v are the subtree's last momentum). Writes the
 * subtree's sample into prop, its first momentum into p_beg, v_beg, adds
 * its momenta to rho and its log weight to log_w. Returns 0 when the
 * subtree diverged or turned back on itself (or a part of it did). */
static int build_tree(nuts_tree *t, int depth, ham_point *z, double sign, nuts_sample *prop,
                      double *p_beg, double *v_beg, double *rho, double *log_w) {
    if (depth == 0) return build_leaf(t, z, sign, prop, p_beg, v_beg, rho, log_w);
    size_t d = t->s->d;
    nuts_level *l = &t->level[depth];
    double w_init = -INFINITY, w_final = -INFINITY;
    memset(l->rho_init, 0, d * sizeof(double));
    memset(l->rho_final, 0, d * sizeof(double));
    if (!build_tree(t, depth - 1, z, sign, prop, p_beg, v_beg, l->rho_init, &w_init)) return 0;
    memcpy(l->p_init_end, z->p, d * sizeof(double));
    memcpy(l->v_init_end, z->v, d * sizeof(double));
    if (!build_tree(t, depth - 1, z, sign, &l->final, l->p_final_beg, l->v_final_beg, l->rho_final,
                    &w_final))
        return 0;
    /* uniform progressive sampling: the second half with W_R / (W_L + W_R) */
    double w_sub = log_sum_exp(w_init, w_final);
    *log_w = log_sum_exp(*log_w, w_sub);
    if (w_final > w_sub || nuts_uniform(t) < exp(w_final - w_sub)) swap_samples(prop, &l->final);
    for (size_t j = 0; j < d; j++)
        rho[j] += l->rho_init[j] + l->rho_final[j];
    return ham_join_no_uturn((ham_end){p_beg, v_beg}, (ham_end){l->p_init_end, l->v_init_end},
                             l->rho_init, (ham_end){l->p_final_beg, l->v_final_beg},
                             (ham_end){z->p, z->v}, l->rho_final, d);
}

/* The start of the trajectory: the current point with a fresh momentum at
 * both ends, and as the sample. */
static void nuts_tree_start(nuts_tree *t, sampler_state *s, rng_key ks) {
    size_t d = s->d, bytes = d * sizeof(double);
    nuts_tree_carve(t, s);
    t->s = s, t->ks = ks;
    t->eps = ham_step_size(s, ks, s->params[NUTS_JITTER]);
    t->sum_accept = 0, t->n_leapfrog = 0, t->n_uniform = 0, t->depth = 0, t->divergent = 0;
    memcpy(t->fwd.theta, s->theta, bytes);
    memcpy(t->fwd.grad, s->grad, bytes);
    t->fwd.lp = s->lp;
    ham_draw_momentum(s, ks, &t->fwd, t->normals);
    ham_point_copy(&t->bck, &t->fwd, d);
    t->h0 = ham_energy(s, &t->fwd);
    memcpy(t->sample.theta, s->theta, bytes);
    memcpy(t->sample.grad, s->grad, bytes);
    t->sample.lp = s->lp, t->sample.h = t->h0;
    memcpy(t->rho, t->fwd.p, bytes);
    t->w = 0; /* log(exp(H0 - H0)) */
}

/* Doubles the trajectory once, in a random direction. Returns 0 when the
 * doubling ends the iteration: the new subtree was invalid (it is then
 * dropped and t->depth stays), or the merged trajectory makes a U-turn. */
static int nuts_double(nuts_tree *t) {
    int depth = t->depth;
    size_t d = t->s->d, bytes = d * sizeof(double);
    int forward = rng_uniform_f64(t->ks, CHAIN_COUNTER(CHAIN_STREAM_DIRECTION, depth)) > 0.5;
    ham_point *z = forward ? &t->fwd : &t->bck;
    ham_end far = forward ? (ham_end){t->bck.p, t->bck.v} : (ham_end){t->fwd.p, t->fwd.v};
    memcpy(t->near_p, z->p, bytes);
    memcpy(t->near_v, z->v, bytes);
    memset(t->rho_new, 0, bytes);
    double w_sub = -INFINITY;
    if (!build_tree(t, depth, z, forward ? 1 : -1, &t->propose, t->beg_p, t->beg_v, t->rho_new,
                    &w_sub))
        return 0;
    t->depth = depth + 1;
    /* biased progressive sampling: the new subtree with min(1, W_new / W_old) */
    if (w_sub > t->w || nuts_uniform(t) < exp(w_sub - t->w)) swap_samples(&t->sample, &t->propose);
    t->w = log_sum_exp(t->w, w_sub);
    int go_on =
        ham_join_no_uturn(far, (ham_end){t->near_p, t->near_v}, t->rho,
                          (ham_end){t->beg_p, t->beg_v}, (ham_end){z->p, z->v}, t->rho_new, d);
    for (size_t j = 0; j < d; j++)
        t->rho[j] += t->rho_new[j];
    return go_on;
}

static void nuts_step(sampler_state *s, rng_key ks, double *stats) {
    nuts_tree t;
    nuts_tree_start(&t, s, ks);
    int max_depth = nuts_depth_limit(s->params);
    while (t.depth < max_depth && nuts_double(&t))
        ;
    size_t bytes = s->d * sizeof(double);
    memcpy(s->theta, t.sample.theta, bytes);
    memcpy(s->grad, t.sample.grad, bytes);
    s->lp = t.sample.lp;
    stats[STAT_LP] = s->lp;
    stats[STAT_ACCEPT] = t.sum_accept / (double)t.n_leapfrog;
    stats[STAT_STEPSIZE] = t.eps;
    stats[STAT_TREEDEPTH] = t.depth;
    stats[STAT_NLEAPFROG] = (double)t.n_leapfrog;
    stats[STAT_DIVERGENT] = t.divergent;
    stats[STAT_ENERGY] = t.sample.h;
}

const sampler_def sampler_nuts = {
    .name = "nuts",
    .help = "the No-U-Turn Sampler, as Stan's (multinomial, generalised U-turn criterion)",
    .params = nuts_params,
    .num_params = sizeof nuts_params / sizeof nuts_params[0],
    .stats = STAT_BIT(STAT_LP) | STAT_BIT(STAT_ACCEPT) | STAT_BIT(STAT_STEPSIZE) |
             STAT_BIT(STAT_TREEDEPTH) | STAT_BIT(STAT_NLEAPFROG) | STAT_BIT(STAT_DIVERGENT) |
             STAT_BIT(STAT_ENERGY),
    .flags = SAMPLER_USES_METRIC | SAMPLER_ADAPTS,
    .default_delta = 0.8,
    .scratch_size = nuts_scratch_size,
    .init = NULL,
    .step = nuts_step,
    .probe = ham_sampler_probe,
};
