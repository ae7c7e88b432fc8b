/* sg_gradient.c - the SG samplers' shared state, gradient estimators and
 * step-size schedules (sg_gradient.h). */
#include <math.h>
#include <string.h>

#include "chain.h"
#include "sg_gradient.h"
#include "simd.h"

const char *const sg_schedule_names[] = {"constant", "polynomial", "cyclical", NULL};

#define SG_HEAD ((sizeof(sg_state) + 63) / 64 * 64)

size_t sg_scratch_size(size_t d, unsigned k) {
    return SG_HEAD + (size_t)(3 + k) * d * sizeof(double);
}

sg_state *sg_state_get(sampler_state *s, sg_estimator estimator, unsigned k) {
    sg_state *g = s->priv;
    if (g->started) return g;
    const double *p = s->params;
    double *v = (double *)((char *)s->priv + SG_HEAD);
    g->estimator = estimator;
    g->schedule = (sg_schedule)p[SG_P_SCHEDULE];
    g->a = p[SG_P_STEP], g->b = p[SG_P_B], g->gamma = p[SG_P_GAMMA];
    g->cycle = (uint64_t)p[SG_P_CYCLE];
    g->update_rate = (uint64_t)sampler_param(s->def, p, "update_rate", 1);
    g->centre_grad = v, g->centre_own = v + s->d, g->tmp = v + 2 * s->d;
    for (unsigned i = 0; i < k; i++)
        g->vec[i] = v + (3 + i) * s->d;
    g->centre = estimator == SG_SVRG ? g->centre_own : s->centre;
    g->started = 1;
    return g;
}

double sg_schedule_at(const sg_state *g, uint64_t t) {
    switch (g->schedule) {
    case SG_POLYNOMIAL:
        return g->a * pow(g->b + (double)t, -g->gamma);
    case SG_CYCLICAL: {
        const double pi = 3.14159265358979323846;
        return 0.5 * g->a * (cos(pi * (double)(t % g->cycle) / (double)g->cycle) + 1);
    }
    default:
        return g->a;
    }
}

double sg_step_size(const sg_state *g) {
    return sg_schedule_at(g, g->t);
}

/* The full gradient at theta, kept as the new centre's (SVRG) or first
 * computed at the given centre (control variates). */
static void sg_refresh_centre(sg_state *g, sampler_state *s, const double *theta) {
    if (g->estimator == SG_SVRG) memcpy(g->centre_own, theta, s->d * sizeof(double));
    model_logp_grad(s->m, s->w, g->centre, g->centre_grad, 0);
    s->grad_evals++;
    g->centre_ready = 1;
}

void sg_gradient(sg_state *g, sampler_state *s, rng_key ks, uint32_t k, const double *theta,
                 double *out) {
    size_t d = s->d;
    if (!s->batch) {
        model_logp_grad(s->m, s->w, theta, out, 0);
        s->grad_evals++;
        return;
    }
    if (g->estimator == SG_SVRG && k == 0 && g->t % g->update_rate == 0) {
        sg_refresh_centre(g, s, theta);
        memcpy(out, g->centre_grad, d * sizeof(double)); /* g_B(theta) - g_B(c) = 0 */
        return;
    }
    if (g->estimator == SG_CV && !g->centre_ready) sg_refresh_centre(g, s, theta);
    uint64_t first = CHAIN_COUNTER(CHAIN_STREAM_INDEX, (uint64_t)k * s->batch);
    rng_index_fill(ks, first, (uint32_t)s->n, s->idx, s->batch);
    model_logp_grad_batch(s->m, s->w, theta, s->idx, s->batch, out, 0);
    s->grad_evals++;
    if (g->estimator == SG_MINIBATCH) return;
    model_logp_grad_batch(s->m, s->w, g->centre, s->idx, s->batch, g->tmp, 0);
    s->grad_evals++;
    for (size_t j = 0; j < d; j++)
        out[j] = g->centre_grad[j] + (out[j] - g->tmp[j]);
}

void sg_init(sampler_state *s) {
    s->lp = NAN;
}

void sg_noise(rng_key ks, uint64_t offset, double *out, size_t n) {
    simd_ops_get()->normal_fill(ks, CHAIN_COUNTER(CHAIN_STREAM_NOISE, offset), out, n);
}
