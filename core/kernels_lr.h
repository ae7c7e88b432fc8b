/* kernels_lr.h - the regressions' fused kernels, a template included by
 * kernels.c once per element type: define KT (double or float), KSFX, and
 * the link functions KEXP_NEG (e^x for x <= 0, and for x up to KETA_MAX),
 * KSIGMOID_T, KSOFTPLUS_T and KFABS of that type, and KETA_MAX (where the
 * Poisson mean turns linear, simd.h); optionally KGATHER_PANEL and
 * KGATHER_PANEL_MAX_D (gather_panels_body below), and KPANEL_PAIRS
 * (glm_panels_turn). Everything per row runs in KT
 * (float32 models: 16 lanes with AVX-512); sums over rows and the gradient
 * accumulate in double.
 *
 * The link (simd.h's simd_glm) is a constant argument of always-inline
 * bodies: each public kernel switches on it once per call, into a copy of
 * the body built for that link, so rows see no branch on it. A new link
 * is one more case in KFN(glm_t), glm_s and glm_l and in the switches
 * below. */

#define KCAT2(a, b) a##_##b
#define KCAT(a, b) KCAT2(a, b)
#define KFN(name) KCAT(name, KSFX)

/* A row's link in three pieces, so that callers compute the log-likelihood
 * only when asked: t, the one exp the link needs; s = dl/deta; and l, the
 * row's log-likelihood (simd.h). */
static inline __attribute__((always_inline)) KT KFN(glm_t)(const int link, KT e) {
    if (link == SIMD_LINK_LOGISTIC) return KEXP_NEG(-KFABS(e));
    if (link == SIMD_LINK_POISSON) return KEXP_NEG(e < KETA_MAX ? e : KETA_MAX); /* the slope */
    return 0;
}

static inline __attribute__((always_inline)) KT KFN(glm_s)(const int link, KT e, KT y, KT prec,
                                                           KT t) {
    if (link == SIMD_LINK_LOGISTIC) return y - KSIGMOID_T(e, t);
    if (link == SIMD_LINK_POISSON) return y - t;
    return prec * (y - e);
}

static inline __attribute__((always_inline)) KT KFN(glm_l)(const int link, KT e, KT y, KT prec,
                                                           KT t) {
    if (link == SIMD_LINK_LOGISTIC) return y * e - KSOFTPLUS_T(e, t);
    if (link == SIMD_LINK_POISSON) /* past KETA_MAX the mean is linear: e^M (1 + eta - M) */
        return y * e - t * ((KT)1 + (e < KETA_MAX ? (KT)0 : e - KETA_MAX));
    KT r = y - e;
    return (KT)-0.5 * prec * r * r;
}

/* s[r] = dl/deta for rows r < lanes (a panel or block, or two panels). */
static inline __attribute__((always_inline)) void
KFN(glm_s_lanes)(const int link, KT prec, const KT *eta, const KT *y, KT *s, size_t lanes) {
#pragma omp simd
    for (size_t r = 0; r < lanes; r++) {
        KT e = eta[r];
        s[r] = KFN(glm_s)(link, e, y[r], prec, KFN(glm_t)(link, e));
    }
}

/* s[r] for the SIMD_PANEL rows of a panel or block, and, when want_logp,
 * the log-likelihood of row r added into lane r of llv (rows past m add
 * nothing): callers reduce the lanes when they choose, not once per panel. */
static inline __attribute__((always_inline)) void KFN(glm_link_lanes)(const int link, KT prec,
                                                                      const KT *eta, const KT *y,
                                                                      KT *s, KT *llv, size_t m,
                                                                      int want_logp) {
    if (want_logp) {
#pragma omp simd aligned(llv : 64)
        for (size_t r = 0; r < SIMD_PANEL; r++) {
            KT e = eta[r], yr = y[r];
            KT t = KFN(glm_t)(link, e);
            s[r] = KFN(glm_s)(link, e, yr, prec, t);
            KT l = KFN(glm_l)(link, e, yr, prec, t);
            llv[r] += r < m ? l : (KT)0;
        }
    } else
        KFN(glm_s_lanes)(link, prec, eta, y, s, SIMD_PANEL);
}

/* The panels' link with the log-likelihood. For the logistic link a
 * row's log-likelihood is y eta - max(eta, 0) - log(1 + t); llv sums the
 * first two terms, and pv multiplies (1 + t) into lane r's product, in one
 * FMA where the path has them, so that the panel body takes one log per
 * lane every KPROD_PANELS panels (glm_panels_body) rather than a log1p per
 * row: the float32 kernel with the log-likelihood ran at 0.82 ns a row
 * with log1p (bench/README.md, "One log per lane"). Other links: as
 * glm_link_lanes. */
static inline __attribute__((always_inline)) void
KFN(glm_link_lanes_prod)(const int link, KT prec, const KT *eta, const KT *y, KT *s, KT *llv,
                         KT *pv, size_t m) {
    if (link != SIMD_LINK_LOGISTIC) {
        KFN(glm_link_lanes)(link, prec, eta, y, s, llv, m, 1);
        return;
    }
#pragma omp simd aligned(llv, pv : 64)
    for (size_t r = 0; r < SIMD_PANEL; r++) {
        KT e = eta[r], yr = y[r];
        KT t = KFN(glm_t)(link, e);
        s[r] = KFN(glm_s)(link, e, yr, prec, t);
        llv[r] += r < m ? yr * e - (e > (KT)0 ? e : (KT)0) : (KT)0;
        pv[r] = r < m ? pv[r] + pv[r] * t : pv[r];
    }
}

/* Panels whose factors (each at most 2) one product may hold: 2^120 of
 * float32's 2^128, 2^1000 of float64's 2^1024. The body takes the logs
 * before a flush of PANELS_PER_FLUSH panels could pass it. (A row whose t
 * is below the product's last bit, 2^-24 or 2^-53 of it, adds nothing:
 * at most that much of its log-likelihood, as when the old sum of l took
 * it.) */
#define KPROD_PANELS (sizeof(KT) == sizeof(float) ? 120 : 1000)

/* ll minus the log of each lane's product, the lanes then set to 1. */
static inline __attribute__((always_inline)) double KFN(glm_take_logs)(double ll, KT *pv) {
    enum { P = SIMD_PANEL };
    _Alignas(64) double lg[P];
#pragma omp simd aligned(lg, pv : 64)
    for (size_t r = 0; r < P; r++)
        lg[r] = vm_log((double)pv[r]);
    for (size_t r = 0; r < P; r++) {
        ll -= lg[r];
        pv[r] = (KT)1;
    }
    return ll;
}

/* Panels are summed in KT, half a panel's rows per lane, over up to
 * PANELS_PER_FLUSH panels, then added into acc in double: one vector FMA
 * pair per column and panel, and no conversion in the inner loop. The
 * intercept's sum of s (padded rows masked out) goes into lanes sv. */
#ifndef PANELS_PER_FLUSH
#define PANELS_PER_FLUSH 8
#endif
_Static_assert(PANELS_PER_FLUSH <= KPROD_PANELS, "a flush fits in the products");
/* What every panel of a pass reads (theta, offset, prec) and adds into:
 * the KT sums of up to PANELS_PER_FLUSH panels (part: the gradient's, half
 * a panel's rows per lane; llv: the log-likelihood's; sv: the
 * intercept's). */
typedef struct KFN(panel_sums) {
    const KT *theta;
    KT offset, prec;
    KT *part, *llv, *sv, *pv; /* pv: glm_link_lanes_prod's products */
} KFN(panel_sums);

/* np (1 or 2, a constant; 1 when want_logp) consecutive panels at X, with
 * their y, into *ps: eta, the link and the sums, added in the order one
 * panel at a time adds them, so the same bits. Two panels side by side
 * let the core overlap their chains of latency: the float32 kernel in
 * 512-bit vectors takes 0.44 ns a row for 0.51-0.53 (bench/README.md, "Two
 * panels at once"). Float64 pairs and pairs with the log-likelihood were
 * slower (their vectors no longer fit the registers), and float32 pairs
 * in 256-bit vectors no faster (avx512_256) or slower (AVX2). m: the
 * valid rows of the last of them. */
static inline __attribute__((always_inline)) void
KFN(glm_panels_turn)(const int link, const int icpt, const size_t np, const KT *X, const KT *y,
                     size_t m, size_t d, const KFN(panel_sums) * ps, int want_logp) {
    enum { P = SIMD_PANEL, H = SIMD_PANEL / 2 };
    _Alignas(64) KT eta[2 * P], sk[2 * P];
    for (size_t r = 0; r < np * P; r++)
        eta[r] = icpt ? ps->offset : (KT)0; /* exactly the zeros without one */
    for (size_t j = 0; j < d; j++) {
        const KT th = ps->theta[j];
        for (size_t q = 0; q < np; q++) {
            const KT *col = X + q * P * d + j * P;
            KT *e = eta + q * P;
#pragma omp simd aligned(e : 64)
            for (size_t r = 0; r < P; r++)
                e[r] += col[r] * th;
        }
    }
    if (want_logp && np != 1) /* llv has one panel's lanes: callers never ask */
        __builtin_unreachable();
    if (want_logp)
        KFN(glm_link_lanes_prod)(link, ps->prec, eta, y, sk, ps->llv, ps->pv, m);
    else
        KFN(glm_s_lanes)(link, ps->prec, eta, y, sk, np * P);
    for (size_t q = 0; icpt && q < np; q++) {
        size_t mq = q == np - 1 ? m : P; /* only the last may be short */
        const KT *s = sk + q * P;
        KT *sv = ps->sv;
#pragma omp simd aligned(sv, s : 64)
        for (size_t r = 0; r < P; r++)
            sv[r] += r < mq ? s[r] : (KT)0;
    }
    /* Padded rows have x = 0, so they add nothing to the gradient. */
    for (size_t j = 0; j < d; j++) {
        KT *t = ps->part + j * H;
        for (size_t q = 0; q < np; q++) {
            const KT *col = X + q * P * d + j * P, *s = sk + q * P;
#pragma omp simd aligned(t, s : 64)
            for (size_t v = 0; v < H; v++)
                t[v] += s[v] * col[v] + s[v + H] * col[v + H];
        }
    }
}

/* Whether this build takes panels two at a time when it can (above): where
 * the includer defines KPANEL_PAIRS. */
#ifdef KPANEL_PAIRS
enum { KFN(panel_pairs) = 1 };
#else
enum { KFN(panel_pairs) = 0 };
#endif

static inline __attribute__((always_inline)) double
KFN(glm_panels_body)(const int link, const int icpt, const simd_glm *g, const KT *Xp, const KT *yp,
                     size_t n, size_t d, const KT *theta, double *acc, int want_logp) {
    enum { P = SIMD_PANEL, V = SIMD_ACC, H = SIMD_PANEL / 2 };
    size_t np = (n + P - 1) / P;
    double ll = 0.0;
    _Alignas(64) KT part[SIMD_PANEL_MAX_D * H], llv[P], sv[P], pv[P];
    const KFN(panel_sums) ps = {theta, (KT)g->offset, (KT)g->prec, part, llv, sv, pv};
    for (size_t r = 0; r < P; r++)
        pv[r] = (KT)1;
    size_t in_pv = 0; /* panels whose factors pv holds */
    for (size_t p0 = 0; p0 < np; p0 += PANELS_PER_FLUSH) {
        size_t p1 = np - p0 < PANELS_PER_FLUSH ? np : p0 + PANELS_PER_FLUSH, p = p0;
        for (size_t k = 0; k < d * H; k++)
            part[k] = 0;
        for (size_t r = 0; r < P; r++)
            llv[r] = sv[r] = 0;
        for (; KFN(panel_pairs) && !want_logp && p + 1 < p1; p += 2) {
            size_t m = n - (p + 1) * P < P ? n - (p + 1) * P : P;
            KFN(glm_panels_turn)(link, icpt, 2, Xp + p * P * d, yp + p * P, m, d, &ps, 0);
        }
        for (; p < p1; p++) {
            size_t m = n - p * P < P ? n - p * P : P;
            KFN(glm_panels_turn)(link, icpt, 1, Xp + p * P * d, yp + p * P, m, d, &ps, want_logp);
        }
        for (size_t j = 0; j < d; j++) {
            const KT *t = part + j * H;
            double *a = acc + j * V;
#pragma omp simd
            for (size_t v = 0; v < V; v++)
                a[v] += (double)t[v] + (double)t[v + V];
        }
        for (size_t r = 0; icpt && r < P; r++)
            acc[d * V + r % V] += (double)sv[r];
        for (size_t r = 0; want_logp && r < P; r++)
            ll += (double)llv[r];
        in_pv += p1 - p0;
        if (want_logp && link == SIMD_LINK_LOGISTIC &&
            (p1 == np || in_pv + PANELS_PER_FLUSH > KPROD_PANELS)) {
            ll = KFN(glm_take_logs)(ll, pv);
            in_pv = 0;
        }
    }
    return ll;
}

/* Small d (the post's d = 5 among them) gets a copy of the body with d a
 * constant, so that the loops over columns unroll and eta stays in
 * registers. */
#define KSMALL_D(CASE) CASE(1) CASE(2) CASE(3) CASE(4) CASE(5) CASE(6) CASE(7) CASE(8)
static inline __attribute__((always_inline)) double
KFN(glm_panels_link)(const int link, const int icpt, const simd_glm *g, const KT *Xp, const KT *yp,
                     size_t n, size_t d, const KT *theta, double *acc, int want_logp) {
#define KPANELS_D(k)                                                                               \
    case k:                                                                                        \
        return KFN(glm_panels_body)(link, icpt, g, Xp, yp, n, k, theta, acc, want_logp);
    switch (d) {
        KSMALL_D(KPANELS_D)
    default:
        return KFN(glm_panels_body)(link, icpt, g, Xp, yp, n, d, theta, acc, want_logp);
    }
#undef KPANELS_D
}

/* One copy per link, with and without the intercept, and with and without
 * the log-likelihood, each its own function: GCC optimises a few bodies
 * per function better than many (the log-likelihood's copy ran 35% slower
 * beside the pairs of the other in one function). */
#define KPANELS_VARIANT(name, L, I)                                                                \
    static __attribute__((noinline, aligned(64))) double KFN(name##_ll)(                           \
        const simd_glm *g, const KT *Xp, const KT *yp, size_t n, size_t d, const KT *theta,        \
        double *acc) {                                                                             \
        return KFN(glm_panels_link)(L, I, g, Xp, yp, n, d, theta, acc, 1);                         \
    }                                                                                              \
    static __attribute__((noinline, aligned(64))) double KFN(name)(                                \
        const simd_glm *g, const KT *Xp, const KT *yp, size_t n, size_t d, const KT *theta,        \
        double *acc, int want_logp) {                                                              \
        if (want_logp) return KFN(name##_ll)(g, Xp, yp, n, d, theta, acc);                         \
        return KFN(glm_panels_link)(L, I, g, Xp, yp, n, d, theta, acc, 0);                         \
    }
KPANELS_VARIANT(panels_logistic, SIMD_LINK_LOGISTIC, 0)
KPANELS_VARIANT(panels_logistic_icpt, SIMD_LINK_LOGISTIC, 1)
KPANELS_VARIANT(panels_poisson, SIMD_LINK_POISSON, 0)
KPANELS_VARIANT(panels_poisson_icpt, SIMD_LINK_POISSON, 1)
KPANELS_VARIANT(panels_linear, SIMD_LINK_LINEAR, 0)
KPANELS_VARIANT(panels_linear_icpt, SIMD_LINK_LINEAR, 1)
#undef KPANELS_VARIANT

static double KFN(glm_panels)(const simd_glm *g, const KT *Xp, const KT *yp, size_t n, size_t d,
                              const KT *theta, double *acc, int want_logp) {
    int i = g->intercept != 0;
    switch (g->link) {
    case SIMD_LINK_POISSON:
        return (i ? KFN(panels_poisson_icpt) : KFN(panels_poisson))(g, Xp, yp, n, d, theta, acc,
                                                                    want_logp);
    case SIMD_LINK_LINEAR:
        return (i ? KFN(panels_linear_icpt) : KFN(panels_linear))(g, Xp, yp, n, d, theta, acc,
                                                                  want_logp);
    default:
        return (i ? KFN(panels_logistic_icpt) : KFN(panels_logistic))(g, Xp, yp, n, d, theta, acc,
                                                                      want_logp);
    }
}

static double KFN(lr_panels)(const KT *Xp, const KT *yp, size_t n, size_t d, const KT *theta,
                             double *acc, int want_logp) {
    static const simd_glm logistic = {.link = SIMD_LINK_LOGISTIC};
    return KFN(glm_panels)(&logistic, Xp, yp, n, d, theta, acc, want_logp);
}

/* Minibatch rows idx[0..n) of row-major X (nx rows of d <= SIMD_PANEL_MAX_D)
 * into panels at dst, their y into ydst, the last panel's padding
 * zeroed, with d a constant for small d. Rows of an X beyond L2 are all
 * prefetched first, so that their misses overlap. Where the includer
 * defines KGATHER_PANEL (a panel from rows of at most KGATHER_PANEL_MAX_D
 * columns, kernels_transpose.h), panels of such rows are made by it. */
static inline __attribute__((always_inline)) void
KFN(gather_panels_body)(KT *dst, KT *ydst, const KT *X, const KT *ysrc, const uint32_t *idx,
                        size_t n, size_t d, size_t nx) {
    enum { P = SIMD_PANEL };
    if (nx * d * sizeof(KT) > ((size_t)512 << 10))
        for (size_t r = 0; r < n; r++)
            __builtin_prefetch(X + (size_t)idx[r] * d, 0, 2);
    for (size_t b = 0; b < n; b += P) {
        size_t m = n - b < P ? n - b : P;
        const uint32_t *ix = idx + b;
        KT *out = dst + b * d;
#ifdef KGATHER_PANEL
        if (d <= KGATHER_PANEL_MAX_D) {
            KGATHER_PANEL(out, ydst + b, X, ysrc, ix, m, d);
            continue;
        }
#endif
        for (size_t r = 0; r < m; r++) { /* row by row: gathers are slower here */
            const KT *row = X + (size_t)ix[r] * d;
            for (size_t j = 0; j < d; j++)
                out[j * P + r] = row[j];
            ydst[b + r] = ysrc[ix[r]];
        }
        for (size_t r = m; r < P; r++) {
            for (size_t j = 0; j < d; j++)
                out[j * P + r] = 0;
            ydst[b + r] = 0;
        }
    }
}

static void KFN(gather_panels)(KT *dst, KT *ydst, const KT *X, const KT *ysrc, const uint32_t *idx,
                               size_t n, size_t d, size_t nx) {
#define KGATHER_D(k)                                                                               \
    case k:                                                                                        \
        KFN(gather_panels_body)(dst, ydst, X, ysrc, idx, n, k, nx);                                \
        return;
    switch (d) {
        KSMALL_D(KGATHER_D)
    default:
        KFN(gather_panels_body)(dst, ydst, X, ysrc, idx, n, d, nx);
    }
#undef KGATHER_D
}

/* eta[r] = x_i . theta for rows r of a block, four rows at a time so that
 * four independent sums hide the FMA latency and theta is read once. */
static inline void KFN(lr_rows_eta)(const KT *X, const size_t *rows, size_t m, size_t d,
                                    const KT *theta, KT *eta) {
    size_t r = 0;
    for (; r + 4 <= m; r += 4) {
        const KT *x0 = X + rows[r];
        const KT *x1 = X + rows[r + 1];
        const KT *x2 = X + rows[r + 2];
        const KT *x3 = X + rows[r + 3];
        KT a0 = 0, a1 = 0, a2 = 0, a3 = 0;
#pragma omp simd reduction(+ : a0, a1, a2, a3)
        for (size_t j = 0; j < d; j++) {
            KT t = theta[j];
            a0 += x0[j] * t, a1 += x1[j] * t, a2 += x2[j] * t, a3 += x3[j] * t;
        }
        eta[r] = a0, eta[r + 1] = a1, eta[r + 2] = a2, eta[r + 3] = a3;
    }
    for (; r < m; r++) {
        const KT *x = X + rows[r];
        KT a = 0;
#pragma omp simd reduction(+ : a)
        for (size_t j = 0; j < d; j++)
            a += x[j] * theta[j];
        eta[r] = a;
    }
}

/* grad += sum_r s[r] x_r over the block's m rows: column chunks of
 * ROWS_CHUNK are summed in KT in a buffer that stays in L1, four rows per
 * pass over it, then added into grad in double. So float32 models run the
 * inner loop in 16 float lanes, without a conversion per element. */
#ifndef ROWS_CHUNK
#define ROWS_CHUNK 512
#endif
static inline void KFN(lr_rows_grad)(const KT *X, const size_t *rows, size_t m, size_t d,
                                     const KT *s, double *grad) {
    _Alignas(64) KT t[ROWS_CHUNK];
    for (size_t j0 = 0; j0 < d; j0 += ROWS_CHUNK) {
        size_t w = d - j0 < ROWS_CHUNK ? d - j0 : ROWS_CHUNK, r = 0;
        for (size_t j = 0; j < w; j++)
            t[j] = 0;
        for (; r + 4 <= m; r += 4) {
            const KT *x0 = X + rows[r] + j0, *x1 = X + rows[r + 1] + j0;
            const KT *x2 = X + rows[r + 2] + j0, *x3 = X + rows[r + 3] + j0;
            KT s0 = s[r], s1 = s[r + 1], s2 = s[r + 2], s3 = s[r + 3];
#pragma omp simd aligned(t : 64)
            for (size_t j = 0; j < w; j++)
                t[j] += (s0 * x0[j] + s1 * x1[j]) + (s2 * x2[j] + s3 * x3[j]);
        }
        for (; r < m; r++) {
            const KT *x = X + rows[r] + j0;
            KT sr = s[r];
#pragma omp simd aligned(t : 64)
            for (size_t j = 0; j < w; j++)
                t[j] += sr * x[j];
        }
        double *g = grad + j0;
#pragma omp simd
        for (size_t j = 0; j < w; j++)
            g[j] += (double)t[j];
    }
}

/* The fused row pass, for d <= ROWS_FUSED_MAX_D: four rows at a time,
 * their dot products, link and gradient update back to back, so that each
 * row comes from memory once and is read again from L1. The gradient sums
 * in KT in t (the intercept's in ts) and is added into grad in double
 * every SIMD_PANEL rows. Past the last row, rows repeat the first of the
 * group with s = 0. */
#ifndef ROWS_FUSED_MAX_D
#define ROWS_FUSED_MAX_D 4096
#endif
/* The end of a panel of rows: its partial gradient t (and ts, the
 * intercept's) added into grad in double, and both zeroed. */
static inline __attribute__((always_inline)) void KFN(rows_flush)(int icpt, KT *t, KT *ts, size_t d,
                                                                  double *grad) {
#pragma omp simd aligned(t : 64)
    for (size_t j = 0; j < d; j++) {
        grad[j] += (double)t[j];
        t[j] = 0;
    }
    if (icpt) grad[d] += (double)*ts;
    *ts = 0;
}

static inline __attribute__((always_inline)) double
KFN(glm_rows_fused)(const int link, const int icpt, const simd_glm *g, const KT *X, size_t ld,
                    const KT *y, const uint32_t *idx, size_t n, size_t d, const KT *theta,
                    double *grad, int want_logp) {
    _Alignas(64) KT t[ROWS_FUSED_MAX_D];
    const KT offset = (KT)g->offset, prec = (KT)g->prec;
    KT ts = 0;
    double ll = 0.0;
    for (size_t j = 0; j < d; j++)
        t[j] = 0;
    for (size_t b = 0; b < n; b += 4) {
        size_t m = n - b < 4 ? n - b : 4, row[4];
        for (size_t r = 0; r < 4; r++)
            row[r] = idx ? idx[b + (r < m ? r : 0)] : b + (r < m ? r : 0);
        const KT *x0 = X + row[0] * ld, *x1 = X + row[1] * ld;
        const KT *x2 = X + row[2] * ld, *x3 = X + row[3] * ld;
        KT a0 = 0, a1 = 0, a2 = 0, a3 = 0;
#pragma omp simd reduction(+ : a0, a1, a2, a3)
        for (size_t j = 0; j < d; j++) {
            KT th = theta[j];
            a0 += x0[j] * th, a1 += x1[j] * th, a2 += x2[j] * th, a3 += x3[j] * th;
        }
        KT e[4] = {a0, a1, a2, a3}, s[4];
        for (size_t r = 0; icpt && r < 4; r++)
            e[r] += offset;
        for (size_t r = 0; r < 4; r++) {
            KT yr = y[row[r]], tr = KFN(glm_t)(link, e[r]);
            s[r] = r < m ? KFN(glm_s)(link, e[r], yr, prec, tr) : 0;
            if (want_logp && r < m) ll += (double)KFN(glm_l)(link, e[r], yr, prec, tr);
        }
        KT s0 = s[0], s1 = s[1], s2 = s[2], s3 = s[3];
        if (icpt) ts += (s0 + s1) + (s2 + s3);
#pragma omp simd aligned(t : 64)
        for (size_t j = 0; j < d; j++)
            t[j] += (s0 * x0[j] + s1 * x1[j]) + (s2 * x2[j] + s3 * x3[j]);
        if ((b + 4) % SIMD_PANEL == 0 || b + 4 >= n) KFN(rows_flush)(icpt, t, &ts, d, grad);
    }
    return ll;
}

/* The same pass eight rows a group, taken for the logistic link while the
 * eight rows fit in L1 with t (ROWS_EIGHT_MAX_BYTES): eight independent
 * FMA chains in the dot products, where four wait on FMA latency; one
 * pass over t per eight rows; and the link of the eight rows (sigmoid, and
 * softplus for the log density) in the lanes of one vector, where row by
 * row it took as long as the loops (perf, d = 500). The arithmetic is that
 * of two groups of four: each row's dot product is its own sum, and t
 * takes rows 0-3, then rows 4-7, rounded in between, so the draws are the
 * same bits. (Four rows with the vector link measured 9-12% slower at
 * d = 2000 in double, and stay as above.) */
#ifndef ROWS_EIGHT_MAX_BYTES
#define ROWS_EIGHT_MAX_BYTES (32u << 10)
#endif
static inline __attribute__((always_inline)) void KFN(rows8_dot)(const KT *const *x, size_t d,
                                                                 const KT *theta, KT *e) {
    const KT *x0 = x[0], *x1 = x[1], *x2 = x[2], *x3 = x[3];
    const KT *x4 = x[4], *x5 = x[5], *x6 = x[6], *x7 = x[7];
    KT a0 = 0, a1 = 0, a2 = 0, a3 = 0, a4 = 0, a5 = 0, a6 = 0, a7 = 0;
#pragma omp simd reduction(+ : a0, a1, a2, a3, a4, a5, a6, a7)
    for (size_t j = 0; j < d; j++) {
        KT th = theta[j];
        a0 += x0[j] * th, a1 += x1[j] * th, a2 += x2[j] * th, a3 += x3[j] * th;
        a4 += x4[j] * th, a5 += x5[j] * th, a6 += x6[j] * th, a7 += x7[j] * th;
    }
    e[0] = a0, e[1] = a1, e[2] = a2, e[3] = a3, e[4] = a4, e[5] = a5, e[6] = a6, e[7] = a7;
}

/* t += sum_r s[r] x_r over the eight rows, four rows per rounding step. */
static inline __attribute__((always_inline)) void KFN(rows8_update)(const KT *const *x, size_t d,
                                                                    const KT *s, KT *t) {
    const KT *x0 = x[0], *x1 = x[1], *x2 = x[2], *x3 = x[3];
    const KT *x4 = x[4], *x5 = x[5], *x6 = x[6], *x7 = x[7];
    KT s0 = s[0], s1 = s[1], s2 = s[2], s3 = s[3], s4 = s[4], s5 = s[5], s6 = s[6], s7 = s[7];
#pragma omp simd aligned(t : 64)
    for (size_t j = 0; j < d; j++) {
        KT u = t[j] + ((s0 * x0[j] + s1 * x1[j]) + (s2 * x2[j] + s3 * x3[j]));
        t[j] = u + ((s4 * x4[j] + s5 * x5[j]) + (s6 * x6[j] + s7 * x7[j]));
    }
}

static inline __attribute__((always_inline)) double
KFN(logistic_rows_fused8)(const int icpt, const simd_glm *g, const KT *X, size_t ld, const KT *y,
                          const uint32_t *idx, size_t n, size_t d, const KT *theta, double *grad,
                          int want_logp) {
    const int link = SIMD_LINK_LOGISTIC;
    _Alignas(64) KT t[ROWS_EIGHT_MAX_BYTES / 8 / sizeof(KT)];
    const KT offset = (KT)g->offset, prec = (KT)g->prec;
    KT ts = 0;
    double ll = 0.0;
    for (size_t j = 0; j < d; j++)
        t[j] = 0;
    for (size_t b = 0; b < n; b += 8) {
        size_t m = n - b < 8 ? n - b : 8;
        const KT *x[8];
        _Alignas(64) KT e[8], yg[8], tg[8], s[8], l[8];
        for (size_t r = 0; r < 8; r++) {
            size_t i = idx ? idx[b + (r < m ? r : 0)] : b + (r < m ? r : 0);
            x[r] = X + i * ld;
            yg[r] = y[i];
        }
        KFN(rows8_dot)(x, d, theta, e);
#pragma omp simd aligned(e, yg, tg, s : 64)
        for (size_t r = 0; r < 8; r++) {
            KT er = icpt ? e[r] + offset : e[r];
            tg[r] = KFN(glm_t)(link, er);
            s[r] = r < m ? KFN(glm_s)(link, er, yg[r], prec, tg[r]) : (KT)0;
            e[r] = er;
        }
        if (want_logp) {
#pragma omp simd aligned(e, yg, tg, l : 64)
            for (size_t r = 0; r < 8; r++)
                l[r] = KFN(glm_l)(link, e[r], yg[r], prec, tg[r]);
            for (size_t r = 0; r < m; r++)
                ll += (double)l[r];
        }
        if (icpt) {
            ts += (s[0] + s[1]) + (s[2] + s[3]);
            ts += (s[4] + s[5]) + (s[6] + s[7]);
        }
        KFN(rows8_update)(x, d, s, t);
        if ((b + 8) % SIMD_PANEL == 0 || b + 8 >= n) KFN(rows_flush)(icpt, t, &ts, d, grad);
    }
    return ll;
}

/* Past ROWS_FUSED_MAX_D: blocks of SIMD_PANEL rows, their dot products
 * first, then the link, then the gradient in column chunks. */
static inline __attribute__((always_inline)) double
KFN(glm_rows_blocks)(const int link, const int icpt, const simd_glm *g, const KT *X, size_t ld,
                     const KT *y, const uint32_t *idx, size_t n, size_t d, const KT *theta,
                     double *grad, int want_logp) {
    enum { P = SIMD_PANEL };
    const KT offset = (KT)g->offset, prec = (KT)g->prec;
    double ll = 0.0;
    for (size_t b = 0; b < n; b += P) {
        size_t m = n - b < P ? n - b : P;
        _Alignas(64) KT eta[P] = {0}, yb[P] = {0}, s[P], llv[P] = {0};
        size_t rows[P]; /* where the data rows of this block start in X */
        for (size_t r = 0; r < m; r++) {
            size_t i = idx ? idx[b + r] : b + r;
            rows[r] = i * ld;
            yb[r] = y[i];
        }
        KFN(lr_rows_eta)(X, rows, m, d, theta, eta);
        for (size_t r = 0; icpt && r < m; r++)
            eta[r] += offset;
        KFN(glm_link_lanes)(link, prec, eta, yb, s, llv, m, want_logp);
        for (size_t r = 0; want_logp && r < m; r++)
            ll += (double)llv[r];
        for (size_t r = 0; icpt && r < m; r++)
            grad[d] += (double)s[r];
        KFN(lr_rows_grad)(X, rows, m, d, s, grad);
    }
    return ll;
}

/* The eight-row pass exists for the logistic link alone (see above). */
static __attribute__((noinline, aligned(64))) double
KFN(rows_eight)(const simd_glm *g, const KT *X, size_t ld, const KT *y, const uint32_t *idx,
                size_t n, size_t d, const KT *theta, double *grad, int want_logp) {
    return KFN(logistic_rows_fused8)(0, g, X, ld, y, idx, n, d, theta, grad, want_logp);
}
static __attribute__((noinline, aligned(64))) double
KFN(rows_eight_icpt)(const simd_glm *g, const KT *X, size_t ld, const KT *y, const uint32_t *idx,
                     size_t n, size_t d, const KT *theta, double *grad, int want_logp) {
    return KFN(logistic_rows_fused8)(1, g, X, ld, y, idx, n, d, theta, grad, want_logp);
}

/* One copy per link, with and without the intercept, as for panels; the
 * fused and the block pass are functions of their own, as GCC optimises
 * the fused loop best alone. */
#define KROWS_VARIANT(name, L, I)                                                                  \
    static __attribute__((noinline, aligned(64))) double KFN(KCAT(name, fused))(                   \
        const simd_glm *g, const KT *X, size_t ld, const KT *y, const uint32_t *idx, size_t n,     \
        size_t d, const KT *theta, double *grad, int want_logp) {                                  \
        return KFN(glm_rows_fused)(L, I, g, X, ld, y, idx, n, d, theta, grad, want_logp);          \
    }                                                                                              \
    static __attribute__((noinline, aligned(64))) double KFN(KCAT(name, blocks))(                  \
        const simd_glm *g, const KT *X, size_t ld, const KT *y, const uint32_t *idx, size_t n,     \
        size_t d, const KT *theta, double *grad, int want_logp) {                                  \
        return KFN(glm_rows_blocks)(L, I, g, X, ld, y, idx, n, d, theta, grad, want_logp);         \
    }                                                                                              \
    static double KFN(name)(const simd_glm *g, const KT *X, size_t ld, const KT *y,                \
                            const uint32_t *idx, size_t n, size_t d, const KT *theta,              \
                            double *grad, int want_logp) {                                         \
        if (L == SIMD_LINK_LOGISTIC && 8 * d * sizeof(KT) <= ROWS_EIGHT_MAX_BYTES)                 \
            return (I ? KFN(rows_eight_icpt) : KFN(rows_eight))(g, X, ld, y, idx, n, d, theta,     \
                                                                grad, want_logp);                  \
        return (d <= ROWS_FUSED_MAX_D ? KFN(KCAT(name, fused)) : KFN(KCAT(name, blocks)))(         \
            g, X, ld, y, idx, n, d, theta, grad, want_logp);                                       \
    }
KROWS_VARIANT(rows_logistic, SIMD_LINK_LOGISTIC, 0)
KROWS_VARIANT(rows_logistic_icpt, SIMD_LINK_LOGISTIC, 1)
KROWS_VARIANT(rows_poisson, SIMD_LINK_POISSON, 0)
KROWS_VARIANT(rows_poisson_icpt, SIMD_LINK_POISSON, 1)
KROWS_VARIANT(rows_linear, SIMD_LINK_LINEAR, 0)
KROWS_VARIANT(rows_linear_icpt, SIMD_LINK_LINEAR, 1)
#undef KROWS_VARIANT

static double KFN(glm_rows)(const simd_glm *g, const KT *X, size_t ld, const KT *y,
                            const uint32_t *idx, size_t n, size_t d, const KT *theta, double *grad,
                            int want_logp) {
    int i = g->intercept != 0;
    switch (g->link) {
    case SIMD_LINK_POISSON:
        return (i ? KFN(rows_poisson_icpt) : KFN(rows_poisson))(g, X, ld, y, idx, n, d, theta, grad,
                                                                want_logp);
    case SIMD_LINK_LINEAR:
        return (i ? KFN(rows_linear_icpt) : KFN(rows_linear))(g, X, ld, y, idx, n, d, theta, grad,
                                                              want_logp);
    default:
        return (i ? KFN(rows_logistic_icpt) : KFN(rows_logistic))(g, X, ld, y, idx, n, d, theta,
                                                                  grad, want_logp);
    }
}

static double KFN(lr_rows)(const KT *X, size_t ld, const KT *y, const uint32_t *idx, size_t n,
                           size_t d, const KT *theta, double *grad, int want_logp) {
    static const simd_glm logistic = {.link = SIMD_LINK_LOGISTIC};
    return KFN(glm_rows)(&logistic, X, ld, y, idx, n, d, theta, grad, want_logp);
}

#undef KSMALL_D
#undef KPROD_PANELS
#undef KFN
#undef KCAT
#undef KCAT2
