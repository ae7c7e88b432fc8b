/* kernels_lr.h - logistic-regression kernels, a template included by
 * kernels.c once per element type: define KT (double or float) and KSFX.
 * The per-row transcendental part always runs in double; dot products and
 * row updates run in KT; sums over rows accumulate in double. */

#define KCAT2(a, b) a##_##b
#define KCAT(a, b) KCAT2(a, b)
#define KFN(name) KCAT(name, KSFX)

/* s[r] = y[r] - sigmoid(eta[r]) for r < P; returns sum of the log-likelihood
 * over the first m rows when want_logp. */
static inline double KFN(lr_link)(const KT *eta, const KT *y, double *s, size_t m, int want_logp) {
    double ll = 0.0;
    if (want_logp) {
#pragma omp simd reduction(+ : ll)
        for (size_t r = 0; r < SIMD_PANEL; r++) {
            double e = eta[r], yr = y[r];
            double t = vm_exp(-fabs(e));
            s[r] = yr - vm_sigmoid_t(e, t);
            double l = yr * e - vm_softplus_t(e, t);
            ll += r < m ? l : 0.0;
        }
    } else {
#pragma omp simd
        for (size_t r = 0; r < SIMD_PANEL; r++) {
            double e = eta[r];
            s[r] = (double)y[r] - vm_sigmoid_t(e, vm_exp(-fabs(e)));
        }
    }
    return ll;
}

static double KFN(lr_panels)(const KT *Xp, const KT *yp, size_t n, size_t d, const KT *theta,
                             double *acc, int want_logp) {
    enum { P = SIMD_PANEL, V = SIMD_ACC };
    size_t np = (n + P - 1) / P;
    double ll = 0.0;
    for (size_t p = 0; p < np; p++) {
        const KT *X = Xp + p * P * d;
        _Alignas(64) KT eta[P] = {0};
        _Alignas(64) double s[P];
        _Alignas(64) KT sk[P];
        for (size_t j = 0; j < d; j++) {
            const KT *col = X + j * P, th = theta[j];
#pragma omp simd aligned(eta : 64)
            for (size_t r = 0; r < P; r++)
                eta[r] += col[r] * th;
        }
        size_t m = n - p * P < P ? n - p * P : P;
        ll += KFN(lr_link)(eta, yp + p * P, s, m, want_logp);
        /* Padded rows have x = 0, so they add nothing to the gradient. */
        for (size_t r = 0; r < P; r++)
            sk[r] = (KT)s[r];
        for (size_t j = 0; j < d; j++) {
            const KT *col = X + j * P;
            KT t[V] = {0};
            for (size_t k = 0; k < P; k += V) {
#pragma omp simd
                for (size_t v = 0; v < V; v++)
                    t[v] += sk[k + v] * col[k + v];
            }
            double *a = acc + j * V;
            for (size_t v = 0; v < V; v++)
                a[v] += (double)t[v];
        }
    }
    return ll;
}

static double KFN(lr_rows)(const KT *X, const KT *y, const uint32_t *idx, size_t n, size_t d,
                           const KT *theta, double *grad, int want_logp) {
    enum { P = SIMD_PANEL };
    double ll = 0.0;
    for (size_t b = 0; b < n; b += P) {
        size_t m = n - b < P ? n - b : P;
        _Alignas(64) KT eta[P] = {0}, yb[P] = {0};
        _Alignas(64) double s[P];
        for (size_t r = 0; r < m; r++) {
            size_t i = idx ? idx[b + r] : b + r;
            const KT *row = X + i * d;
            KT acc = 0;
#pragma omp simd reduction(+ : acc)
            for (size_t j = 0; j < d; j++)
                acc += row[j] * theta[j];
            eta[r] = acc;
            yb[r] = y[i];
        }
        ll += KFN(lr_link)(eta, yb, s, m, want_logp);
        for (size_t r = 0; r < m; r++) {
            size_t i = idx ? idx[b + r] : b + r;
            const KT *row = X + i * d;
            double sr = s[r];
#pragma omp simd
            for (size_t j = 0; j < d; j++)
                grad[j] += sr * (double)row[j];
        }
    }
    return ll;
}

#undef KFN
#undef KCAT
#undef KCAT2
