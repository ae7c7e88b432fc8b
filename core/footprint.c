/* footprint.c - the memory a dataset, a model, a chain and a job hold,
 * from their shapes (footprint.h). The constants below mirror those of the
 * files that allocate; tests/test_footprint.c measures the real thing. */
#include "footprint.h"

#include "simd.h"

#define F64 ((uint64_t)sizeof(double))
/* model_data.c: accumulators per pass */
#define MAX_SEGMENTS 8
/* chain.c: the cap on one block's draw and statistics buffers */
#define CHAIN_BUFFER_BYTES (4u << 20)
/* Structs, the model's and the work's headers, a chain's counters: a
 * generous constant rather than a list. */
#define FIXED_PER_CHAIN 4096
#define FIXED_PER_JOB (64u << 10)
/* Past this dimension every figure is "too large" (and sampler scratch
 * functions, which count in size_t, are not asked). */
#define DIM_MAX (UINT64_C(1) << 40)

uint64_t footprint_add(uint64_t a, uint64_t b) {
    uint64_t r;
    return __builtin_add_overflow(a, b, &r) ? UINT64_MAX : r;
}

uint64_t footprint_mul(uint64_t a, uint64_t b) {
    uint64_t r;
    return __builtin_mul_overflow(a, b, &r) ? UINT64_MAX : r;
}

static uint64_t mul3(uint64_t a, uint64_t b, uint64_t c) {
    return footprint_mul(footprint_mul(a, b), c);
}

static uint64_t elem_size(model_dtype t) {
    return t == DTYPE_F32 ? sizeof(float) : sizeof(double);
}

static uint64_t round_up(uint64_t n, uint64_t unit) {
    uint64_t r = footprint_add(n, unit - 1);
    return r == UINT64_MAX ? r : r / unit * unit;
}

uint64_t footprint_dataset(uint64_t n, uint64_t d) {
    uint64_t x = mul3(n, d, F64), y = footprint_mul(n, F64), theta = footprint_mul(d, F64);
    return footprint_add(footprint_add(x, y), footprint_add(theta, FIXED_PER_CHAIN));
}

/* The regressions (model_data_build): y, the row-major copy, the panels
 * or the row groups. */
static uint64_t regression_bytes(model_dtype dtype, uint64_t n, uint64_t d) {
    uint64_t es = elem_size(dtype), padded = round_up(n, SIMD_PANEL);
    uint64_t ld = simd_rows_ld(d, es);
    uint64_t y = footprint_mul(padded, es);
    uint64_t rows = dtype == DTYPE_F64 && ld == d ? 0 : mul3(n, ld, es);
    uint64_t panels = d <= SIMD_PANEL_MAX_D ? mul3(padded, d, es) : 0;
    uint64_t groups = simd_groups_bytes(n, d, es);
    return footprint_add(footprint_add(y, rows), footprint_add(panels, groups));
}

/* The models without data keep their own copies of their arrays (the
 * Gaussian: the mean, the precision and the Cholesky factor of cov). */
static uint64_t target_bytes(const model_def *def, const model_args *args) {
    uint64_t total = 0;
    for (size_t i = 0; args && i < def->num_params && i < MODEL_MAX_PARAMS; i++) {
        uint64_t len = args->lens[i];
        if (def->params[i].kind == P_VECTOR)
            total = footprint_add(total, mul3(2, len, F64));
        else if (def->params[i].kind == P_MATRIX)
            total = footprint_add(total, footprint_add(mul3(2 * len, len, F64), len * F64));
    }
    return total;
}

uint64_t footprint_model(const model_def *def, const model_args *args, model_dtype dtype,
                         uint64_t n, uint64_t d) {
    uint64_t own = def->y == Y_NONE ? target_bytes(def, args) : regression_bytes(dtype, n, d);
    return footprint_add(own, FIXED_PER_CHAIN);
}

/* model_data_work_init (regressions) or the Gaussian's difference vector. */
static uint64_t work_bytes(const model_def *def, model_dtype dtype, uint64_t dim, uint64_t batch,
                           uint64_t d) {
    if (def->y == Y_NONE) return footprint_mul(dim, F64);
    uint64_t es = elem_size(dtype), cols = d + 1;
    int panels = d <= SIMD_PANEL_MAX_D;
    uint64_t stride = round_up(footprint_add(footprint_mul(cols, panels ? SIMD_ACC : 1), 1), 8);
    uint64_t total = mul3(MAX_SEGMENTS, stride, F64);
    uint64_t ld = simd_rows_ld(d, es); /* theta_ld's length */
    total = footprint_add(total, footprint_add(ld * es, footprint_mul(cols, F64)));
    if (panels && batch) {
        uint64_t nb = round_up(batch, SIMD_PANEL);
        total = footprint_add(total, footprint_add(mul3(nb, d, es), footprint_mul(nb, es)));
    }
    return total;
}

/* One block's kept rows (chain_state_init's buf_rows). */
static uint64_t buffer_rows(const chain_config *cfg, uint64_t dim, unsigned nstats) {
    uint64_t thin = cfg->thin ? cfg->thin : 1;
    uint64_t per_block = ((uint64_t)cfg->progress_every + thin - 1) / thin + 1;
    uint64_t cap = CHAIN_BUFFER_BYTES / footprint_mul(footprint_add(dim, nstats), F64);
    return per_block < cap ? per_block : (cap ? cap : 1);
}

/* metric_create, and adapt_create when the chain adapts. */
static uint64_t metric_bytes(const chain_config *cfg, uint64_t dim) {
    int dense = chain_metric_kind(cfg) == METRIC_DENSE;
    uint64_t sq = footprint_mul(dim, dim);
    uint64_t held =
        dense ? footprint_mul(footprint_add(footprint_mul(3, sq), dim), F64) : mul3(2, dim, F64);
    const sampler_def *s = cfg->sampler;
    if (!(s->flags & SAMPLER_ADAPTS) || cfg->num_warmup == 0) return held;
    uint64_t adapter = dense ? footprint_mul(footprint_add(footprint_mul(2, sq), 5 * dim), F64)
                             : mul3(7, dim, F64);
    return footprint_add(held, adapter);
}

uint64_t footprint_chain(const chain_config *cfg, const model_def *def, model_dtype dtype,
                         uint64_t dim, uint64_t n, uint64_t d) {
    if (dim > DIM_MAX || d > DIM_MAX) return UINT64_MAX;
    const sampler_def *s = cfg->sampler;
    unsigned nstats = chain_stat_count(s->stats);
    uint64_t batch = 0;
    if (s->flags & SAMPLER_MINIBATCH) {
        double b = sampler_param(s, cfg->params, "batch_size", 0);
        batch = b >= 1 && b < (double)n ? (uint64_t)b : 0;
    }
    uint64_t rows = buffer_rows(cfg, dim, nstats);
    uint64_t total = work_bytes(def, dtype, dim, batch, d);
    total = footprint_add(total, mul3(6, dim, F64));
    total = footprint_add(total, footprint_mul(batch, sizeof(uint32_t)));
    total = footprint_add(total, mul3(rows, dim, F64));
    total = footprint_add(total, mul3(rows, nstats ? nstats : 1, F64));
    total = footprint_add(total, metric_bytes(cfg, dim));
    if (s->scratch_size)
        total = footprint_add(total, round_up(s->scratch_size(dim, cfg->params), 64));
    return footprint_add(total, FIXED_PER_CHAIN);
}

void footprint_of_job(const model_def *def, const model_args *args, model_dtype dtype,
                      const chain_config *cfg, uint64_t n, uint64_t d, unsigned workers,
                      footprint_job *out) {
    int data = def->y != Y_NONE;
    uint64_t dim = def->dim(args, (size_t)d);
    if (data && d > DIM_MAX) dim = UINT64_MAX;
    *out = (footprint_job){0};
    out->data = data ? footprint_dataset(n, d) : 0;
    out->model = footprint_model(def, args, dtype, data ? n : 0, data ? d : 0);
    out->chain = footprint_chain(cfg, def, dtype, dim, data ? n : 0, data ? d : 0);
    out->at_once = cfg->chains < workers ? cfg->chains : workers;
    int dense = chain_metric_kind(cfg) == METRIC_DENSE;
    out->kept = footprint_mul(dense ? footprint_mul(dim, dim) : dim, F64);
    uint64_t names = mul3(dim, 8 + 32, 1); /* a pointer and a short name each */
    uint64_t total = footprint_add(out->data, out->model);
    total = footprint_add(total, footprint_mul(out->at_once, out->chain));
    total = footprint_add(total, footprint_mul(cfg->chains, out->kept));
    total = footprint_add(total, footprint_add(names, FIXED_PER_JOB));
    out->total = total;
}
