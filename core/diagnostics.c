/* diagnostics.c - owns the convergence diagnostics of diagnostics.h: chain
 * splitting, rank normalization, split R-hat, Geyer's ESS (autocovariances
 * by a radix-2 FFT written here), tail ESS, MCSE and type-7 quantiles.
 *
 * All scratch comes from the caller's work buffer; see ws_init for its
 * layout. The algorithms follow section 4 of the reference notes
 * (Vehtari et al. 2021; Stan; posterior).
 */
#include <math.h>
#include <stdint.h>
#include <string.h>

#include "diagnostics.h"
#include "errors.h"
#include "rng.h"

/* The caller's work buffer, carved up. S0 = chains * n, S = m * half. */
typedef struct diag_ws {
    size_t chains, n;
    size_t m, half;  /* split: m = 2 * chains chains of half draws */
    size_t fft_len;  /* L: a power of two >= 2 * half */
    double *all;     /* S0: every draw, chain-major; sorted on demand */
    double *split;   /* S: the split chains, chain-major */
    double *pairs;   /* 2 S0: (value, index) pairs, sorted */
    double *scratch; /* 2 S0: the radix sort's other buffer */
    double *tmp;     /* S: transformed split draws */
    double *fft;     /* 2L: interleaved complex */
    double *power;   /* L: summed power spectrum, then rho */
    double *twiddle; /* L: exp(-2 pi i k / L) for k < L/2, interleaved */
    int twiddle_ready;
    int all_sorted;
    int has_nan;  /* some draw is NaN */
    int finite;   /* every draw is finite */
    int constant; /* every draw is the same value */
} diag_ws;

/* ---------------------------------------------------------------- sizes */

/* Shape of the split problem and doubles of scratch; 0 on overflow. */
static int ws_sizes(size_t chains, size_t n, size_t *total, size_t *fft_len) {
    /* The total is below 14 s0 doubles (112 s0 bytes), so refusing
     * s0 > SIZE_MAX / 128 keeps every product below from wrapping. */
    if (n != 0 && chains > SIZE_MAX / 128 / n) return 0;
    size_t s0 = chains * n, s = 2 * chains * (n / 2), len = 2;
    while (len < 2 * (n / 2))
        len *= 2; /* 2 * (n / 2) <= n: no overflow */
    size_t parts[] = {s0, s, 2 * s0, 2 * s0, s, 2 * len, len, len}, sum = 0;
    for (size_t i = 0; i < sizeof parts / sizeof parts[0]; i++) {
        if (parts[i] > SIZE_MAX / sizeof(double) - sum) return 0;
        sum += parts[i];
    }
    *total = sum;
    *fft_len = len;
    return 1;
}

size_t diag_work_size(size_t chains, size_t n) {
    size_t total, len;
    return ws_sizes(chains, n, &total, &len) ? total : 0;
}

/* ------------------------------------------------------------ utilities */

/* Type-7 quantile of n sorted values spaced stride doubles apart. */
static double quantile7(const double *sorted, size_t n, size_t stride, double p) {
    if (n == 0 || !(p >= 0.0 && p <= 1.0)) return NAN;
    double h = (double)(n - 1) * p, fl = floor(h);
    size_t lo = (size_t)fl, hi = lo + (h > fl && lo + 1 < n);
    double a = sorted[lo * stride], b = sorted[hi * stride], f = h - fl;
    /* R's form: equal neighbours (infinities too) give the value itself. */
    return a == b ? a : (1.0 - f) * a + f * b;
}

double diag_quantile7(const double *sorted, size_t n, double p) {
    return sorted ? quantile7(sorted, n, 1, p) : NAN;
}

/* Order-preserving map of a non-NaN double to 64 unsigned bits. */
static uint64_t sort_key(double v) {
    uint64_t u;
    v += 0.0; /* -0.0 becomes +0.0: equal values, equal keys */
    memcpy(&u, &v, sizeof u);
    return u >> 63 ? ~u : u | UINT64_C(1) << 63;
}

/* Stable LSD radix sort of count (value, index) pairs by value, 11 bits a
 * pass, through scratch (2 count doubles); passes where every key has the
 * same digit are skipped. No allocation, unlike qsort. */
static void radix_sort_pairs(double *pairs, size_t count, double *scratch) {
    double *src = pairs, *dst = scratch;
    for (unsigned shift = 0; shift < 64; shift += 11) {
        size_t start[2048] = {0};
        for (size_t i = 0; i < count; i++)
            start[(sort_key(src[2 * i]) >> shift) & 2047]++;
        if (start[(sort_key(src[0]) >> shift) & 2047] == count) continue;
        for (size_t d = 0, sum = 0; d < 2048; d++) {
            size_t c = start[d];
            start[d] = sum, sum += c;
        }
        for (size_t i = 0; i < count; i++) {
            size_t at = start[(sort_key(src[2 * i]) >> shift) & 2047]++;
            dst[2 * at] = src[2 * i], dst[2 * at + 1] = src[2 * i + 1];
        }
        double *t = src;
        src = dst, dst = t;
    }
    if (src != pairs) memcpy(pairs, src, 2 * count * sizeof *pairs);
}

/* pairs[2k] = the k-th smallest of v[0..s), pairs[2k + 1] = its index. */
static void sort_pairs(const double *v, size_t s, double *pairs, double *scratch) {
    for (size_t i = 0; i < s; i++)
        pairs[2 * i] = v[i], pairs[2 * i + 1] = (double)i;
    if (s > 0) radix_sort_pairs(pairs, s, scratch);
}

/* z[i] = Phi^-1((r_i - 3/8) / (s + 1/4)) from sorted pairs; a run of ties
 * at sorted places a..b-1 shares the average rank (a + 1 + b) / 2. */
static void z_from_pairs(const double *pairs, size_t s, double *z) {
    double denom = (double)s + 0.25;
    for (size_t a = 0, b; a < s; a = b) {
        b = a + 1;
        while (b < s && pairs[2 * b] == pairs[2 * a])
            b++;
        double rank = 0.5 * ((double)a + 1.0 + (double)b);
        double v = normal_quantile((rank - 0.375) / denom);
        for (size_t k = a; k < b; k++)
            z[(size_t)pairs[2 * k + 1]] = v;
    }
}

void diag_rank_normalize(const double *x, size_t s, double *z, double *work) {
    sort_pairs(x, s, work, work + 2 * s);
    z_from_pairs(work, s, z);
}

/* ------------------------------------------------------------------ FFT */

static void fft_twiddles(diag_ws *w) {
    if (w->twiddle_ready) return;
    size_t len = w->fft_len;
    for (size_t k = 0; k < len / 2; k++) {
        double a = 2.0 * M_PI * (double)k / (double)len;
        w->twiddle[2 * k] = cos(a);
        w->twiddle[2 * k + 1] = -sin(a);
    }
    w->twiddle_ready = 1;
}

/* Both transforms below compute the forward DFT, sum_j z_j exp(-2 pi i jk/L),
 * in place on L complex values (re, im interleaved), L a power of two.
 * Neither permutes: fft_dif reads natural order and writes bit-reversed
 * order; fft_dit reads bit-reversed order and writes natural order. The
 * autocovariance only needs |Z_k|^2 summed over chains, which is as good
 * in bit-reversed order, so no bit-reversal pass is ever run. */
static void fft_dif(double *z, size_t len, const double *tw) {
    for (size_t span = len; span >= 2; span /= 2) {
        size_t h = span / 2, step = len / span;
        for (size_t i = 0; i < len; i += span) {
            for (size_t k = 0; k < h; k++) {
                double wr = tw[2 * k * step], wi = tw[2 * k * step + 1];
                double *a = z + 2 * (i + k), *b = z + 2 * (i + k + h);
                double dr = a[0] - b[0], di = a[1] - b[1];
                a[0] += b[0], a[1] += b[1];
                b[0] = wr * dr - wi * di, b[1] = wr * di + wi * dr;
            }
        }
    }
}

static void fft_dit(double *z, size_t len, const double *tw) {
    for (size_t span = 2; span <= len; span *= 2) {
        size_t h = span / 2, step = len / span;
        for (size_t i = 0; i < len; i += span) {
            for (size_t k = 0; k < h; k++) {
                double wr = tw[2 * k * step], wi = tw[2 * k * step + 1];
                double *a = z + 2 * (i + k), *b = z + 2 * (i + k + h);
                double tr = wr * b[0] - wi * b[1], ti = wr * b[1] + wi * b[0];
                b[0] = a[0] - tr, b[1] = a[1] - ti;
                a[0] += tr, a[1] += ti;
            }
        }
    }
}

/* ------------------------------------------------------ R-hat and ESS */

typedef struct moments {
    double within;  /* W: mean of the unbiased chain variances */
    double between; /* var_{M-1} of the chain means (0 for one chain) */
} moments;

static double mean_of(const double *v, size_t k) {
    double s = 0.0;
    for (size_t i = 0; i < k; i++)
        s += v[i];
    return s / (double)k;
}

/* m chains of len >= 2 draws, chain-major. */
static moments chain_moments(const double *y, size_t m, size_t len) {
    double w = 0.0, mm = 0.0, ss = 0.0; /* Welford over the chain means */
    for (size_t c = 0; c < m; c++) {
        const double *v = y + c * len;
        double mu = mean_of(v, len), sq = 0.0;
        for (size_t i = 0; i < len; i++)
            sq += (v[i] - mu) * (v[i] - mu);
        w += sq / (double)(len - 1);
        double d = mu - mm;
        mm += d / (double)(c + 1);
        ss += d * (mu - mm);
    }
    return (moments){w / (double)m, m > 1 ? ss / (double)(m - 1) : 0.0};
}

/* R-hat core: sqrt((B/W + N - 1)/N) with B = N var(means). */
static double rhat_core(const double *y, size_t m, size_t len) {
    if (m < 2 || len < 2) return NAN;
    moments mo = chain_moments(y, m, len);
    double nn = (double)len, b = nn * mo.between;
    return sqrt((b / mo.within + nn - 1.0) / nn);
}

/* w->power[k] = sum over chains of |FFT(y_c - mean_c)|^2, two chains a
 * transform (one in the real part, one in the imaginary part: the cross
 * terms are odd in k and drop out of the real part of the inverse). */
static void power_spectrum(diag_ws *w, const double *y, size_t m, size_t len) {
    size_t big = w->fft_len;
    memset(w->power, 0, big * sizeof *w->power);
    for (size_t c = 0; c < m; c += 2) {
        memset(w->fft, 0, 2 * big * sizeof *w->fft);
        for (size_t part = 0; part < 2 && c + part < m; part++) {
            const double *v = y + (c + part) * len;
            double mu = mean_of(v, len);
            for (size_t i = 0; i < len; i++)
                w->fft[2 * i + part] = v[i] - mu;
        }
        fft_dif(w->fft, big, w->twiddle); /* bit-reversed spectrum */
        for (size_t k = 0; k < big; k++) {
            double re = w->fft[2 * k], im = w->fft[2 * k + 1];
            w->power[k] += re * re + im * im;
        }
    }
}

/* Leaves in w->fft[2t] the chain-averaged biased autocovariance
 * (1/N) sum_n (y_n - mean)(y_{n+t} - mean), for t < len. */
static void mean_autocov(diag_ws *w, const double *y, size_t m, size_t len) {
    size_t big = w->fft_len;
    fft_twiddles(w);
    power_spectrum(w, y, m, len);
    /* The spectrum is real, so the real part of its forward transform is
     * L times its inverse transform; power[] is in bit-reversed order,
     * which is what fft_dit reads. */
    for (size_t k = 0; k < big; k++)
        w->fft[2 * k] = w->power[k], w->fft[2 * k + 1] = 0.0;
    fft_dit(w->fft, big, w->twiddle);
    double scale = 1.0 / ((double)big * (double)len * (double)m);
    for (size_t t = 0; t < len; t++)
        w->fft[2 * t] *= scale;
}

/* Geyer's initial positive sequence made monotone; rho_hat[t] for t < len,
 * rho a zeroed scratch of len. Returns the integrated time tau. */
static double geyer_tau(const double *rho_hat, double *rho, size_t len) {
    double even = 1.0, odd = rho_hat[1];
    size_t t = 1;
    rho[0] = 1.0, rho[1] = odd;
    while (t + 4 < len && even + odd > 0.0) { /* NaN stops it too */
        even = rho_hat[t + 1], odd = rho_hat[t + 2];
        if (even + odd >= 0.0) rho[t + 1] = even, rho[t + 2] = odd;
        if (rho[t + 1] + rho[t + 2] > rho[t - 1] + rho[t]) /* monotone */
            rho[t + 1] = rho[t + 2] = 0.5 * (rho[t - 1] + rho[t]);
        t += 2;
    }
    size_t max_t = t;
    if (even > 0.0) rho[max_t + 1] = even; /* the improved (antithetic) term */
    double sum = 0.0;
    for (size_t i = 0; i < max_t; i++)
        sum += rho[i];
    return -1.0 + 2.0 * sum + rho[max_t + 1];
}

/* ESS of m chains of len draws; NaN if len < 4 or all draws are equal.
 * This is Stan's ess.hpp (monotone pass inside the loop, the last pair
 * counted as Stan counts it). posterior 1.4's .ess gives the same value
 * except when every pair sum stays positive up to lag len - 4 (chains that
 * have not mixed), where it drops the last pair: 27.47 against 27.41 on
 * four chains of 1000 draws with one chain shifted by 1 sd. */
static double ess_core(diag_ws *w, const double *y, size_t m, size_t len) {
    if (len < 4 || m == 0) return NAN;
    moments mo = chain_moments(y, m, len);
    double nn = (double)len, var_plus = mo.within * (nn - 1.0) / nn + mo.between;
    if (!(var_plus > 0.0) || !isfinite(var_plus)) return NAN;
    mean_autocov(w, y, m, len);
    double *rho_hat = w->power, *rho = w->power + len; /* L >= 2 len */
    for (size_t t = 0; t < len; t++) {
        rho_hat[t] = 1.0 - (mo.within - w->fft[2 * t]) / var_plus;
        rho[t] = 0.0;
    }
    rho_hat[0] = 1.0;
    double total = (double)m * nn, tau = geyer_tau(rho_hat, rho, len);
    tau = fmax(tau, 1.0 / log10(total)); /* caps ESS at S log10 S */
    return total / tau;
}

/* ------------------------------------------------------- the workspace */

static int ws_init(diag_ws *w, const double *x, size_t chains, size_t n, size_t sc, size_t sd,
                   double *work) {
    size_t total, len;
    if (!x || !work || chains == 0 || n == 0 || !ws_sizes(chains, n, &total, &len)) return 0;
    memset(w, 0, sizeof *w);
    w->chains = chains, w->n = n, w->m = 2 * chains, w->half = n / 2, w->fft_len = len;
    size_t s0 = chains * n, s = w->m * w->half;
    w->all = work, w->split = w->all + s0, w->pairs = w->split + s;
    w->scratch = w->pairs + 2 * s0, w->tmp = w->scratch + 2 * s0;
    w->fft = w->tmp + s, w->power = w->fft + 2 * len, w->twiddle = w->power + len;
    w->finite = 1;
    for (size_t c = 0; c < chains; c++) {
        for (size_t i = 0; i < n; i++) {
            double v = x[c * sc + i * sd];
            w->all[c * n + i] = v;
            w->has_nan |= isnan(v) != 0;
            w->finite &= isfinite(v) != 0;
        }
        memcpy(w->split + 2 * c * w->half, w->all + c * n, w->half * sizeof(double));
        memcpy(w->split + (2 * c + 1) * w->half, w->all + c * n + (n - w->half),
               w->half * sizeof(double));
    }
    w->constant = 1;
    for (size_t i = 1; i < s0 && w->constant; i++)
        w->constant = w->all[i] == w->all[0];
    return 1;
}

/* R-hat is defined: finite, not constant, at least 2 draws a split chain. */
static int ws_usable(const diag_ws *w) {
    return w->finite && !w->constant && w->half >= 2;
}

/* Sorts w->all; when n is even the sorted split pairs already hold the
 * same multiset, so a copy does. */
static void sort_all(diag_ws *w, int pairs_hold_split) {
    if (w->all_sorted) return;
    size_t s0 = w->chains * w->n;
    if (!pairs_hold_split || w->n % 2 != 0) sort_pairs(w->all, s0, w->pairs, w->scratch);
    for (size_t i = 0; i < s0; i++)
        w->all[i] = w->pairs[2 * i];
    w->all_sorted = 1;
}

/* w->pairs = the split draws sorted; w->tmp = their z. */
static void z_split(diag_ws *w) {
    size_t s = w->m * w->half;
    sort_pairs(w->split, s, w->pairs, w->scratch);
    z_from_pairs(w->pairs, s, w->tmp);
}

/* w->tmp = z(|split - median of all draws|); overwrites w->pairs. */
static void z_folded(diag_ws *w) {
    size_t s = w->m * w->half;
    sort_all(w, 0);
    double med = quantile7(w->all, w->chains * w->n, 1, 0.5);
    for (size_t i = 0; i < s; i++)
        w->tmp[i] = fabs(w->split[i] - med);
    sort_pairs(w->tmp, s, w->pairs, w->scratch);
    z_from_pairs(w->pairs, s, w->tmp);
}

/* min ESS of 1[x <= q05] and 1[x >= q95], q of the pooled split draws;
 * needs w->pairs sorted from the split draws (z_split). A constant
 * indicator gives NaN and is ignored (fmin). */
static double ess_tail_ws(diag_ws *w) {
    size_t s = w->m * w->half;
    double q05 = quantile7(w->pairs, s, 2, 0.05), q95 = quantile7(w->pairs, s, 2, 0.95);
    for (size_t i = 0; i < s; i++)
        w->tmp[i] = w->split[i] <= q05;
    double lo = ess_core(w, w->tmp, w->m, w->half);
    for (size_t i = 0; i < s; i++)
        w->tmp[i] = w->split[i] >= q95;
    double hi = ess_core(w, w->tmp, w->m, w->half);
    return fmin(lo, hi);
}

/* ---------------------------------------------------------- public API */

static void moments_all(const diag_ws *w, double *mean, double *sd) {
    size_t s0 = w->chains * w->n;
    double mu = mean_of(w->all, s0), sq = 0.0;
    for (size_t i = 0; i < s0; i++)
        sq += (w->all[i] - mu) * (w->all[i] - mu);
    *mean = mu;
    *sd = s0 > 1 ? sqrt(sq / (double)(s0 - 1)) : NAN;
}

int diag_summarize(const double *x, size_t chains, size_t n, size_t stride_chain,
                   size_t stride_draw, double *work, diag_summary *out) {
    diag_ws w;
    if (!out || !ws_init(&w, x, chains, n, stride_chain, stride_draw, work)) return MCMC_EINVAL;
    diag_summary r;
    r.q05 = r.q50 = r.q95 = r.mcse_mean = r.ess_bulk = r.ess_tail = NAN;
    r.rhat = r.rhat_bulk = r.rhat_tail = NAN;
    size_t m = w.m, half = w.half, s0 = chains * n;
    int usable = ws_usable(&w);
    moments_all(&w, &r.mean, &r.sd);
    if (usable) {
        z_split(&w);
        r.rhat_bulk = rhat_core(w.tmp, m, half);
        r.ess_bulk = ess_core(&w, w.tmp, m, half);
        r.ess_tail = ess_tail_ws(&w);
        r.mcse_mean = r.sd / sqrt(ess_core(&w, w.split, m, half));
    }
    if (!w.has_nan) {
        sort_all(&w, usable);
        r.q05 = quantile7(w.all, s0, 1, 0.05);
        r.q50 = quantile7(w.all, s0, 1, 0.5);
        r.q95 = quantile7(w.all, s0, 1, 0.95);
    }
    if (usable) {
        z_folded(&w);
        r.rhat_tail = rhat_core(w.tmp, m, half);
        r.rhat = fmax(r.rhat_bulk, r.rhat_tail); /* a NaN side is ignored */
    }
    *out = r;
    return MCMC_OK;
}

/* The single diagnostics: gather, and say whether any R-hat is defined. */
static int prepare(diag_ws *w, const double *x, size_t chains, size_t n, size_t sc, size_t sd,
                   double *work) {
    return ws_init(w, x, chains, n, sc, sd, work) && ws_usable(w);
}

double diag_rhat_bulk(const double *x, size_t chains, size_t n, size_t stride_chain,
                      size_t stride_draw, double *work) {
    diag_ws w;
    if (!prepare(&w, x, chains, n, stride_chain, stride_draw, work)) return NAN;
    z_split(&w);
    return rhat_core(w.tmp, w.m, w.half);
}

double diag_rhat_tail(const double *x, size_t chains, size_t n, size_t stride_chain,
                      size_t stride_draw, double *work) {
    diag_ws w;
    if (!prepare(&w, x, chains, n, stride_chain, stride_draw, work)) return NAN;
    z_folded(&w);
    return rhat_core(w.tmp, w.m, w.half);
}

double diag_rhat(const double *x, size_t chains, size_t n, size_t stride_chain, size_t stride_draw,
                 double *work) {
    diag_ws w;
    if (!prepare(&w, x, chains, n, stride_chain, stride_draw, work)) return NAN;
    z_split(&w);
    double bulk = rhat_core(w.tmp, w.m, w.half);
    z_folded(&w);
    return fmax(bulk, rhat_core(w.tmp, w.m, w.half)); /* a NaN side is ignored */
}

double diag_ess_bulk(const double *x, size_t chains, size_t n, size_t stride_chain,
                     size_t stride_draw, double *work) {
    diag_ws w;
    if (!prepare(&w, x, chains, n, stride_chain, stride_draw, work)) return NAN;
    z_split(&w);
    return ess_core(&w, w.tmp, w.m, w.half);
}

double diag_ess_tail(const double *x, size_t chains, size_t n, size_t stride_chain,
                     size_t stride_draw, double *work) {
    diag_ws w;
    if (!prepare(&w, x, chains, n, stride_chain, stride_draw, work)) return NAN;
    z_split(&w); /* for the sorted pairs */
    return ess_tail_ws(&w);
}

double diag_ess_basic(const double *x, size_t chains, size_t n, size_t stride_chain,
                      size_t stride_draw, double *work) {
    diag_ws w;
    if (!prepare(&w, x, chains, n, stride_chain, stride_draw, work)) return NAN;
    return ess_core(&w, w.split, w.m, w.half);
}

double diag_ebfmi(const double *x, size_t n, size_t stride) {
    if (!x || n < 2) return NAN;
    double mean = 0;
    for (size_t i = 0; i < n; i++)
        mean += x[i * stride];
    mean /= (double)n;
    double num = 0, den = 0;
    for (size_t i = 0; i < n; i++) {
        double e = x[i * stride], dev = e - mean;
        den += dev * dev;
        if (i) {
            double step = e - x[(i - 1) * stride];
            num += step * step;
        }
    }
    return isfinite(num) && isfinite(den) && den > 0 ? num / den : NAN;
}
