/* hamiltonian.c - the leapfrog integrator and the Hamiltonian that static
 * HMC and NUTS share (see hamiltonian.h).
 */
#include <math.h>
#include <string.h>

#include "chain.h"
#include "hamiltonian.h"

ham_point ham_point_at(double *mem, size_t d) {
    return (ham_point){.theta = mem, .p = mem + d, .grad = mem + 2 * d, .v = mem + 3 * d};
}

void ham_point_copy(ham_point *dst, const ham_point *src, size_t d) {
    size_t bytes = d * sizeof(double);
    memcpy(dst->theta, src->theta, bytes);
    memcpy(dst->p, src->p, bytes);
    memcpy(dst->grad, src->grad, bytes);
    memcpy(dst->v, src->v, bytes);
    dst->lp = src->lp;
}

void ham_leapfrog(sampler_state *s, ham_point *z, double eps) {
    size_t d = s->d;
    double half = 0.5 * eps;
    for (size_t j = 0; j < d; j++)
        z->p[j] += half * z->grad[j];
    metric_velocity(s->metric, z->p, z->v);
    for (size_t j = 0; j < d; j++)
        z->theta[j] += eps * z->v[j];
    z->lp = model_logp_grad(s->m, s->w, z->theta, z->grad, 1);
    s->grad_evals++;
    for (size_t j = 0; j < d; j++)
        z->p[j] += half * z->grad[j];
    metric_velocity(s->metric, z->p, z->v);
}

double ham_energy(const sampler_state *s, const ham_point *z) {
    double h = -z->lp + metric_kinetic(s->metric, z->p, z->v);
    return isnan(h) ? INFINITY : h;
}

void ham_draw_momentum(const sampler_state *s, rng_key ks, ham_point *z, double *normals) {
    sampler_step_normals(s, ks, normals);
    metric_momentum(s->metric, normals, z->p);
    metric_velocity(s->metric, z->p, z->v);
}

double ham_step_size(const sampler_state *s, rng_key ks, double jitter) {
    if (!(jitter > 0)) return s->step_size;
    double u = rng_uniform_f64(ks, CHAIN_COUNTER(CHAIN_STREAM_JITTER, 0));
    return s->step_size * (1 + jitter * (2 * u - 1));
}

double ham_probe(sampler_state *s, rng_key ks, ham_point *z, double *normals) {
    size_t bytes = s->d * sizeof(double);
    memcpy(z->theta, s->theta, bytes);
    memcpy(z->grad, s->grad, bytes);
    z->lp = s->lp;
    ham_draw_momentum(s, ks, z, normals);
    double h0 = ham_energy(s, z);
    ham_leapfrog(s, z, s->step_size);
    return ham_accept_prob(h0, ham_energy(s, z));
}

double ham_accept_prob(double h0, double h) {
    return sampler_accept_probability(h0 - h);
}

double ham_sampler_probe(sampler_state *s, rng_key ks) {
    double *mem = s->priv;
    ham_point z = ham_point_at(mem, s->d);
    return ham_probe(s, ks, &z, mem + 4 * s->d);
}

int ham_no_uturn(const double *va, const double *vb, const double *r1, const double *r2, size_t d) {
    double a = 0, b = 0;
    for (size_t j = 0; j < d; j++) {
        double rho = r1[j] + r2[j];
        a += va[j] * rho, b += vb[j] * rho;
    }
    return a > 0 && b > 0;
}

int ham_join_no_uturn(ham_end old_far, ham_end old_near, const double *rho_old, ham_end new_beg,
                      ham_end new_end, const double *rho_new, size_t d) {
    return ham_no_uturn(old_far.v, new_end.v, rho_old, rho_new, d) &&
           ham_no_uturn(old_far.v, new_beg.v, rho_old, new_beg.p, d) &&
           ham_no_uturn(old_near.v, new_end.v, rho_new, old_near.p, d);
}
