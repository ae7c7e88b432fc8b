/* hamiltonian.h - what static HMC and NUTS share: a phase-space point, the
 * leapfrog integrator, the Hamiltonian, the momentum draw, the step-size
 * jitter and the probe behind Stan's step-size heuristic.
 *
 * H(theta, p) = -log p(theta) + p . Minv p / 2 with Minv = s->metric. A
 * point carries its velocity v = Minv p (NUTS's p_sharp) and its gradient
 * and log density, so that every quantity is computed once per step. Nothing
 * here allocates: the vectors of a point belong to the caller.
 */
#ifndef MCMCD_HAMILTONIAN_H
#define MCMCD_HAMILTONIAN_H

#include <stddef.h>

#include "rng.h"
#include "sampler.h"

/* The energy error past which a trajectory diverges (Stan's max_deltaH). */
#define HAM_MAX_DELTA_H 1000.0

typedef struct ham_point {
    double *theta, *p, *grad, *v; /* d each; v = Minv p, grad = grad log p(theta) */
    double lp;                    /* log p(theta) */
} ham_point;

/* Four d-vectors carved from mem (the caller's scratch), as one point. */
ham_point ham_point_at(double *mem, size_t d);
/* dst = src, all four vectors and lp. */
void ham_point_copy(ham_point *dst, const ham_point *src, size_t d);

/* One leapfrog step of size eps (negative: backwards in time): a half kick
 * of p, a drift of theta, a new gradient, a half kick, and v = Minv p.
 * Adds the gradient to s->grad_evals. */
void ham_leapfrog(sampler_state *s, ham_point *z, double eps);

/* H at z, from z->lp and z->v; +inf where it is not a number (a point
 * where the model is undefined counts as infinitely unlikely). */
double ham_energy(const sampler_state *s, const ham_point *z);

/* z->p ~ N(0, M) from the CHAIN_STREAM_NOISE elements 0..d-1 of ks, through
 * the d-vector normals (scratch), and z->v = Minv p. */
void ham_draw_momentum(const sampler_state *s, rng_key ks, ham_point *z, double *normals);

/* The step size of this iteration: s->step_size, times 1 + jitter (2u - 1)
 * with u the CHAIN_STREAM_JITTER uniform when jitter > 0. */
double ham_step_size(const sampler_state *s, rng_key ks, double jitter);

/* The probe hook's work: z = (s->theta, fresh momentum), one leapfrog step
 * of s->step_size, and min(1, exp(H0 - H)) (0 when H is not finite).
 * s->theta is left as it is; z and normals are scratch. */
double ham_probe(sampler_state *s, rng_key ks, ham_point *z, double *normals);

/* The probe hook of HMC and NUTS, whose scratch (s->priv) starts with a
 * ham_point (ham_point_at) and then d doubles of normals. */
double ham_sampler_probe(sampler_state *s, rng_key ks);

/* min(1, exp(h0 - h)), and 0 where that is not a number. */
double ham_accept_prob(double h0, double h);

/* The generalised no-U-turn criterion (Betancourt 2013) for a trajectory
 * whose two ends have sharp momenta va, vb (Minv p) and whose momenta sum
 * to rho = r1 + r2: 1 while va . rho > 0 and vb . rho > 0, i.e. both ends
 * still move along the trajectory. r1 + r2 is summed on the fly, so the
 * checks across subtrees need no temporary vector. */
int ham_no_uturn(const double *va, const double *vb, const double *r1, const double *r2, size_t d);

/* One end of a (sub)trajectory: its momentum and sharp momentum. */
typedef struct ham_end {
    const double *p, *v;
} ham_end;

/* NUTS joins an old trajectory (far end, near end, summed momentum
 * rho_old) and a new one that starts next to old's near end (beg, end,
 * rho_new). The join may grow on while the criterion holds over the whole
 * join and, as Stan checks since 2.23, across the pair: over old plus
 * new's first point and over new plus old's last point. */
int ham_join_no_uturn(ham_end old_far, ham_end old_near, const double *rho_old, ham_end new_beg,
                      ham_end new_end, const double *rho_new, size_t d);

#endif
