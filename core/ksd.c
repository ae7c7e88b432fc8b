/* ksd.c - the IMQ kernel Stein discrepancy (see ksd.h): thinning, the
 * scores of the draws, and the pair sum.
 *
 * With r = x - y, u = 1 + |r|^2 and beta = -1/2, the Stein kernel is
 *   k0 = s(x).s(y) u^-1/2 - (s(y) - s(x)).r u^-3/2 + d u^-3/2 - 3 |r|^2 u^-5/2
 * (grad_x k = 2 beta r u^(beta-1) = -grad_y k, and tr(grad_x grad_y k) =
 * -2 beta d u^(beta-1) - 4 beta (beta-1) |r|^2 u^(beta-2)); on the diagonal
 * it is |s(x)|^2 + d. The pair sum is symmetric: each row i adds its
 * diagonal and twice its pairs j > i; rows go to the team's members in turn
 * and the row sums are added in row order at the end.
 */
#include "ksd.h"

#include <math.h>
#include <stdlib.h>

#include "row_team.h"

size_t ksd_subset_per_chain(size_t chains, size_t rows, size_t max_draws) {
    if (chains == 0 || rows == 0) return 0;
    size_t m = max_draws / chains;
    if (m < 1) m = 1;
    return m < rows ? m : rows;
}

size_t ksd_subset_row(size_t rows, size_t per_chain, size_t k) {
    return (size_t)(((2 * (unsigned long long)k + 1) * rows) / (2 * (unsigned long long)per_chain));
}

/* k0(x_i, x_j) for i != j. */
static double stein_pair(const double *xi, const double *si, const double *xj, const double *sj,
                         size_t d) {
    double r2 = 0, ss = 0, t = 0;
    for (size_t a = 0; a < d; a++) {
        double r = xi[a] - xj[a];
        r2 += r * r;
        ss += si[a] * sj[a];
        t += (sj[a] - si[a]) * r;
    }
    double u = 1 + r2, inv = 1 / u, root = sqrt(inv);
    double u32 = root * inv, u52 = u32 * inv;
    return ss * root - t * u32 + (double)d * u32 - 3 * r2 * u52;
}

typedef struct pair_job {
    const double *x, *s;
    size_t n, d;
    double *row_sum; /* n */
} pair_job;

static void pair_rows(void *arg, unsigned member, unsigned members) {
    pair_job *p = arg;
    size_t d = p->d;
    for (size_t i = member; i < p->n; i += members) {
        const double *xi = p->x + i * d, *si = p->s + i * d;
        double diag = (double)d, off = 0;
        for (size_t a = 0; a < d; a++)
            diag += si[a] * si[a];
        for (size_t j = i + 1; j < p->n; j++)
            off += stein_pair(xi, si, p->x + j * d, p->s + j * d, d);
        p->row_sum[i] = diag + 2 * off;
    }
}

static int all_finite(const double *v, size_t n) {
    for (size_t i = 0; i < n; i++)
        if (!isfinite(v[i])) return 0;
    return 1;
}

/* A team of `threads` members (at least 1), or NULL. */
static row_team *team_for(unsigned threads) {
    return row_team_create(threads > 1 ? threads : 1);
}

double ksd_imq(const double *x, const double *s, size_t n, size_t d, unsigned threads) {
    if (n == 0 || !all_finite(x, n * d) || !all_finite(s, n * d)) return NAN;
    pair_job p = {.x = x, .s = s, .n = n, .d = d, .row_sum = malloc(n * sizeof(double))};
    row_team *team = p.row_sum ? team_for(threads) : NULL;
    double ksd = NAN;
    if (team) {
        row_team_run(team, pair_rows, &p);
        double sum = 0;
        for (size_t i = 0; i < n; i++)
            sum += p.row_sum[i];
        ksd = sqrt(sum > 0 ? sum : 0) / (double)n;
    }
    row_team_free(team);
    free(p.row_sum);
    return ksd;
}

typedef struct score_job {
    const model *m;
    model_work **work; /* one per member */
    const double *x;
    double *s;
    size_t n, d;
} score_job;

static void score_rows(void *arg, unsigned member, unsigned members) {
    score_job *q = arg;
    for (size_t i = member; i < q->n; i += members)
        model_logp_grad(q->m, q->work[member], q->x + i * q->d, q->s + i * q->d, 0);
}

int ksd_scores(const model *m, const double *x, size_t n, double *s, unsigned threads) {
    unsigned k = threads > 1 ? threads : 1;
    if ((size_t)k > n && n > 0) k = (unsigned)n;
    score_job q = {.m = m, .x = x, .s = s, .n = n, .d = model_dim(m)};
    q.work = calloc(k, sizeof *q.work);
    int bad = !q.work;
    for (unsigned i = 0; !bad && i < k; i++)
        bad = !(q.work[i] = model_work_create(m, 0));
    row_team *team = bad ? NULL : team_for(k);
    if (team) row_team_run(team, score_rows, &q);
    bad = bad || !team;
    row_team_free(team);
    for (unsigned i = 0; q.work && i < k; i++)
        model_work_free(q.work[i]);
    free(q.work);
    return bad ? -1 : 0;
}

int ksd_of_draws(const model *m, const double *x, size_t n, unsigned threads, double *out) {
    size_t d = model_dim(m);
    double *s = malloc(n * d * sizeof(double) + 1);
    if (!s || ksd_scores(m, x, n, s, threads) != 0) {
        free(s);
        return -1;
    }
    *out = ksd_imq(x, s, n, d, threads);
    free(s);
    return 0;
}
