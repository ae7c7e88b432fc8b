/* run.c - `mcmcd run`: parses a job spec, builds its dataset and model,
 * runs the chains on a pool of threads and writes draws (and, when asked,
 * the sampler's statistics, or CmdStan CSV files) as they arrive, with a
 * live progress line on stderr. */
#include <getopt.h>
#include <math.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "calibrate.h"
#include "chain.h"
#include "clock.h"
#include "cmdstan_text.h"
#include "draws_file.h"
#include "dataset_store.h"
#include "errors.h"
#include "executor.h"
#include "job_spec.h"
#include "simd.h"
#include "run.h"
#include "job_kinds.h"

typedef struct run_opts {
    const char *spec_path, *out_path, *data_path, *report_path;
    /* --chain N --shared DIR [--post URL]: one chain, as a Slurm task of the
     * slurm executor runs it (executor_task.c) */
    const char *shared_dir, *post_url;
    long chain; /* -1: every chain */
    unsigned threads;
    int quiet;
    int cmdstan; /* --format cmdstan: one CmdStan CSV per chain */
    int stats;   /* --stats: the sampler's statistics beside the draws */
} run_opts;

/* Per-chain running moments for the closing summary (Welford). */
typedef struct chain_moments {
    uint64_t n;
    double *mean, *m2;
} chain_moments;

/* What --report writes for a chain: the values of its last block, and the
 * CPU time of the thread that ran it (tally_block). */
typedef struct chain_tally {
    double warmup_seconds, seconds, step_size;
    double cpu_start, warmup_cpu, cpu;
    int started, warmup_done;
    uint64_t grad_evals, divergent, warmup_divergent;
} chain_tally;

/* What one chain reported beyond its draws. */
typedef struct chain_outcome {
    uint64_t rows;         /* kept draws handed over */
    uint64_t nonfinite_at; /* the kept draw where it went non-finite, or UINT64_MAX */
    uint64_t divergent;
    double elapsed, warmup_elapsed;
    chain_adaptation adapt; /* once its warmup ended */
} chain_outcome;

typedef struct run_progress {
    pthread_mutex_t lock; /* guards what follows; taken once per block */
    const job_spec *spec;
    draws_file *out;
    int write_failed;
    int stats;            /* the file keeps the statistics */
    uint64_t warmup_rows; /* kept warmup draws per chain, first */
    uint64_t *iter;       /* per chain */
    double *accept_sum;   /* per chain: accept_stat__ over post-warmup kept draws */
    uint64_t *accept_n;
    double *step_size;       /* per chain: the step size of its last block */
    int *in_warmup;          /* per chain */
    uint64_t *divergent;     /* per chain: post-warmup divergent draws */
    int accept_col, div_col; /* accept_stat__'s and divergent__'s columns, or -1 */
    chain_moments *moments;  /* per chain, post-warmup finite draws */
    chain_outcome *outcome;  /* per chain */
    chain_tally *tally;      /* per chain, for --report */
    double t0, last_print;
    int tty, quiet;
} run_progress;

static atomic_int run_cancel;

static void on_signal(int sig) {
    (void)sig;
    atomic_store(&run_cancel, 1);
}

static void usage(FILE *out) {
    fputs("usage: mcmcd run --spec JOB.json --out DRAWS.{npy,csv,json} [options]\n"
          "\n"
          "Runs a job spec offline and writes draws of shape chains x samples x d\n"
          "(a spec of kind tune or mode: its result, JSON, to --out x.json).\n"
          "\n"
          "  -s, --spec FILE     the job spec (JSON; see proto/openapi.yaml)\n"
          "  -o, --out FILE      where to write draws; the extension picks the format\n"
          "  -f, --format cmdstan  CmdStan CSV instead, one file per chain: --out x.csv\n"
          "                      writes x_1.csv, x_2.csv, ... (statistics included)\n"
          "  -S, --stats         the sampler's statistics too (lp__, accept_stat__, ...):\n"
          "                      CSV columns, JSON \"stats\", or X.stats.npy beside X.npy\n"
          "  -d, --data FILE     CSV dataset (covariates, then y in 0/1), for a spec\n"
          "                      that names a dataset id or no data\n"
          "  -t, --threads N     worker threads (default: the machine's cores);\n"
          "                      the draws do not depend on N\n"
          "  -r, --report FILE   write timings as JSON: {\"chains\": [{\"warmup_seconds\",\n"
          "                      \"sampling_seconds\" (wall), \"warmup_cpu_seconds\",\n"
          "                      \"sampling_cpu_seconds\" (the chain's thread; the warmup's\n"
          "                      exact when progress_every divides num_warmup),\n"
          "                      \"grad_evals\", \"step_size\" (the adapted one),\n"
          "                      \"divergent\" (all), \"warmup_divergent\"}, ...],\n"
          "                      \"total_seconds\", \"simd\" (the kernel path)}\n"
          "  -q, --quiet         no progress line\n"
          "      --chain N --shared DIR [--post URL]\n"
          "                      run chain N alone into DIR, posting its blocks to URL\n"
          "                      (what the slurm executor's tasks run); a spec naming a\n"
          "                      dataset reads DIR/ID.ds\n"
          "  -h, --help          this text\n",
          out);
}

static int parse_opts(int argc, char **argv, run_opts *o) {
    static const struct option longs[] = {{"spec", required_argument, 0, 's'},
                                          {"out", required_argument, 0, 'o'},
                                          {"data", required_argument, 0, 'd'},
                                          {"threads", required_argument, 0, 't'},
                                          {"quiet", no_argument, 0, 'q'},
                                          {"format", required_argument, 0, 'f'},
                                          {"stats", no_argument, 0, 'S'},
                                          {"report", required_argument, 0, 'r'},
                                          {"help", no_argument, 0, 'h'},
                                          {"chain", required_argument, 0, 'C'},
                                          {"shared", required_argument, 0, 'D'},
                                          {"post", required_argument, 0, 'P'},
                                          {0, 0, 0, 0}};
    int ch;
    char *end;
    while ((ch = getopt_long(argc, argv, "s:o:d:t:r:qf:Sh", longs, NULL)) != -1) {
        switch (ch) {
        case 'f':
            if (strcmp(optarg, "cmdstan") != 0) {
                fprintf(stderr, "mcmcd run: --format takes cmdstan\n");
                return 2;
            }
            o->cmdstan = 1;
            break;
        case 'S':
            o->stats = 1;
            break;
        case 'C':
            o->chain = strtol(optarg, &end, 10);
            if (*end || !*optarg || o->chain < 0 || o->chain > 65535) {
                fprintf(stderr, "mcmcd run: --chain must be 0..65535\n");
                return 2;
            }
            break;
        case 'D':
            o->shared_dir = optarg;
            break;
        case 'P':
            o->post_url = optarg;
            break;
        case 's':
            o->spec_path = optarg;
            break;
        case 'o':
            o->out_path = optarg;
            break;
        case 'd':
            o->data_path = optarg;
            break;
        case 'r':
            o->report_path = optarg;
            break;
        case 'q':
            o->quiet = 1;
            break;
        case 'h':
            usage(stdout);
            exit(0);
        case 't':
            o->threads = (unsigned)strtoul(optarg, &end, 10);
            if (*end || o->threads == 0 || o->threads > 1024) {
                fprintf(stderr, "mcmcd run: --threads must be 1..1024\n");
                return 2;
            }
            break;
        default:
            usage(stderr);
            return 2;
        }
    }
    if (o->chain >= 0 || o->shared_dir) {
        if (!o->spec_path || o->chain < 0 || !o->shared_dir || o->out_path) {
            fprintf(stderr, "mcmcd run: --chain takes --spec and --shared, and no --out\n");
            return 2;
        }
        return 0;
    }
    if (o->post_url) {
        fprintf(stderr, "mcmcd run: --post goes with --chain and --shared\n");
        return 2;
    }
    if (!o->spec_path || !o->out_path) {
        fprintf(stderr, "mcmcd run: --spec and --out are required\n");
        usage(stderr);
        return 2;
    }
    if (!o->cmdstan && draws_format_from_path(o->out_path) < 0) {
        fprintf(stderr, "mcmcd run: --out must end in .npy, .csv or .json\n");
        return 2;
    }
    return 0;
}

static char *read_file(const char *path, size_t *len) {
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    char *buf = NULL;
    size_t cap = 0, n = 0, got;
    do {
        if (cap - n < 4096) {
            char *b = realloc(buf, cap = cap * 2 + 4096);
            if (!b) break;
            buf = b;
        }
        got = fread(buf + n, 1, cap - n, f);
        n += got;
    } while (got > 0);
    fclose(f);
    *len = n;
    return buf;
}

static void print_spec_errors(const spec_errors *errs) {
    for (size_t i = 0; i < errs->count; i++)
        fprintf(stderr, "mcmcd run: spec error at %s: %s\n",
                errs->items[i].path[0] ? errs->items[i].path : "(root)", errs->items[i].message);
    if (errs->dropped) fprintf(stderr, "mcmcd run: ... and %zu more errors\n", errs->dropped);
}

static int load_spec(const char *path, job_spec *spec) {
    size_t len = 0;
    char *text = read_file(path, &len);
    if (!text) {
        fprintf(stderr, "mcmcd run: cannot read %s\n", path);
        return 2;
    }
    spec_errors errs;
    int rc = job_spec_parse_text(text, len, spec, &errs);
    free(text);
    if (rc != 0) print_spec_errors(&errs);
    return rc != 0 ? 2 : 0;
}

/* The dataset the spec asks for: synthetic, or the --data file. */
static int load_data(const job_spec *spec, const run_opts *o, dataset **ds) {
    char err[256];
    *ds = NULL;
    if (spec->model->y == Y_NONE) return 0;
    if (spec->data == SPEC_DATA_SYNTHETIC) {
        if (o->data_path) {
            fprintf(stderr, "mcmcd run: the spec asks for synthetic data; drop --data\n");
            return 2;
        }
        int rc = dataset_synthesize(&spec->synthetic, ds);
        if (rc != MCMC_OK) fprintf(stderr, "mcmcd run: synthetic data: %s\n", mcmc_status_str(rc));
        return rc != MCMC_OK ? 1 : 0;
    }
    if (!o->data_path && o->shared_dir && spec->data == SPEC_DATA_DATASET) {
        if (dataset_store_load(o->shared_dir, spec->dataset_id, ds, err, sizeof err) == MCMC_OK)
            return 0;
        fprintf(stderr, "mcmcd run: dataset %s in %s: %s\n", spec->dataset_id, o->shared_dir, err);
        return 2;
    }
    if (!o->data_path) {
        fprintf(stderr, "mcmcd run: the spec names %s; give the rows with --data FILE.csv\n",
                spec->data == SPEC_DATA_DATASET ? "a dataset id" : "no data");
        return 2;
    }
    if (dataset_load_csv(o->data_path, ds, err, sizeof err) != MCMC_OK) {
        fprintf(stderr, "mcmcd run: %s: %s\n", o->data_path, err);
        return 2;
    }
    return 0;
}

static void moments_add(chain_moments *m, const double *draws, uint32_t count, size_t d) {
    for (uint32_t r = 0; r < count; r++) {
        m->n++;
        for (size_t j = 0; j < d; j++) {
            double x = draws[r * d + j], delta = x - m->mean[j];
            m->mean[j] += delta / (double)m->n;
            m->m2[j] += delta * (x - m->mean[j]);
        }
    }
}

static void format_eta(char *buf, size_t n, double seconds) {
    if (!isfinite(seconds) || seconds < 0) {
        snprintf(buf, n, "--:--");
        return;
    }
    long s = lround(seconds);
    snprintf(buf, n, "%ld:%02ld:%02ld", s / 3600, s / 60 % 60, s % 60);
}

/* The pooled mean accept statistic of the post-warmup draws so far (NaN
 * when the sampler reports none, or none are in yet). */
static double progress_accept(const run_progress *p) {
    double sum = 0, n = 0;
    if (p->accept_col < 0) return NAN;
    for (uint32_t c = 0; c < p->spec->chain.chains; c++)
        sum += p->accept_sum[c], n += (double)p->accept_n[c];
    return n > 0 ? sum / n : NAN;
}

/* One line: overall percentage, iterations per second, the phase, the step
 * size and divergences (samplers that have them), the accept statistic,
 * the ETA. */
static void progress_print(run_progress *p, int final) {
    const chain_config *cfg = &p->spec->chain;
    uint64_t done = 0, div = 0, total = chain_total_iterations(cfg) * cfg->chains;
    int warmup = 0;
    double eps = 0;
    for (uint32_t c = 0; c < cfg->chains; c++) {
        done += p->iter[c], div += p->outcome[c].divergent, warmup |= p->in_warmup[c];
        /* divergences so far, warmup's included, as the events report them */
        eps += p->step_size[c] / cfg->chains;
    }
    double el = app_monotonic() - p->t0, rate = el > 0 ? (double)done / el : 0,
           acc = progress_accept(p);
    char eta[32], extra[96] = "";
    format_eta(eta, sizeof eta, rate > 0 ? (double)(total - done) / rate : NAN);
    int n = snprintf(extra, sizeof extra, "  %s  step %.3g", warmup ? "warmup" : "sampling", eps);
    if (cfg->sampler->stats & STAT_BIT(STAT_DIVERGENT))
        n += snprintf(extra + n, sizeof extra - (size_t)n, "  divergent %llu",
                      (unsigned long long)div);
    if (!isnan(acc)) snprintf(extra + n, sizeof extra - (size_t)n, "  accept %.3f", acc);
    fprintf(stderr, "%s[%3.0f%%] %llu/%llu it  %.3g it/s%s  elapsed %.1fs  ETA %s%s",
            p->tty ? "\r" : "", 100.0 * (double)done / (double)total, (unsigned long long)done,
            (unsigned long long)total, rate, extra, el, eta, p->tty && !final ? "" : "\n");
}

/* accept_stat__ and divergent__ of the block's post-warmup rows. */
static void stats_add_block(run_progress *p, const chain_block *b) {
    for (uint32_t r = 0; r < b->count; r++) {
        uint64_t row = b->first_draw + r;
        const double *st = b->stats + (size_t)r * b->nstats;
        if (row < p->warmup_rows || row >= b->nonfinite_at) continue;
        if (p->accept_col >= 0) p->accept_sum[b->chain] += st[p->accept_col];
        p->accept_n[b->chain]++;
        if (p->div_col >= 0) p->divergent[b->chain] += st[p->div_col] == 1;
    }
}

/* The column of stat s in a block's statistics, or -1. */
static int stat_column(unsigned mask, unsigned s) {
    return mask & STAT_BIT(s) ? (int)chain_stat_count(mask & (STAT_BIT(s) - 1)) : -1;
}

/* The block's post-warmup rows before the chain went non-finite go into
 * the closing summary. */
static void moments_add_block(run_progress *p, const chain_block *b) {
    uint64_t from = b->first_draw, to = b->first_draw + b->count;
    if (from < p->warmup_rows) from = p->warmup_rows;
    if (b->nonfinite_at < to) to = b->nonfinite_at;
    if (from < to)
        moments_add(&p->moments[b->chain], b->draws + (from - b->first_draw) * b->d,
                    (uint32_t)(to - from), b->d);
}

/* Under the lock: the chain's outcome so far. */
static void outcome_update(chain_outcome *o, const chain_block *b) {
    o->rows = b->first_draw + b->count;
    if (b->nonfinite_at < o->nonfinite_at) o->nonfinite_at = b->nonfinite_at;
    o->divergent = b->divergent;
    o->elapsed = b->elapsed;
    o->warmup_elapsed = b->warmup_elapsed;
    if (b->adapted && !o->adapt.known) chain_adaptation_from_block(&o->adapt, b);
}

static int write_block(run_progress *p, const chain_block *b) {
    if (!b->count) return MCMC_OK;
    int rc = draws_file_write(p->out, b->chain, b->first_draw, b->count, b->draws);
    if (rc == MCMC_OK && p->stats && b->nstats)
        rc = draws_file_write_stats(p->out, b->chain, b->first_draw, b->count, b->stats);
    return rc;
}

static double thread_cpu_now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

/* The CPU time of this worker thread when its last chain ended (or, on the
 * thread that calls chains_run, when it did). */
static _Thread_local double thread_cpu_at_chain_end;

/* Keeps b's numbers for --report. Blocks arrive on the thread that runs the
 * chain, and a thread runs its chains one after the other, start to end, so
 * a chain's CPU time starts where the thread's previous chain ended. The
 * warmup's CPU time and divergences are read at the first block past it:
 * exact when progress_every divides num_warmup (blocks end every
 * progress_every iterations). */
static void tally_block(chain_tally *t, const chain_block *b, uint64_t num_warmup) {
    double cpu = thread_cpu_now();
    if (!t->started) t->started = 1, t->cpu_start = thread_cpu_at_chain_end;
    if (!t->warmup_done && b->iter >= num_warmup) {
        t->warmup_done = 1;
        t->warmup_cpu = cpu - t->cpu_start;
        t->warmup_divergent = b->divergent;
    }
    t->cpu = cpu - t->cpu_start;
    if (b->finished) thread_cpu_at_chain_end = cpu;
    t->warmup_seconds = b->warmup_elapsed;
    t->seconds = b->elapsed;
    t->step_size = b->adapted ? b->adapted_step_size : b->step_size;
    t->grad_evals = b->grad_evals;
    t->divergent = b->divergent;
}

static int on_block(void *ctx, const chain_block *b) {
    run_progress *p = ctx;
    int rc = write_block(p, b);
    pthread_mutex_lock(&p->lock);
    moments_add_block(p, b);
    outcome_update(&p->outcome[b->chain], b);
    stats_add_block(p, b);
    p->iter[b->chain] = b->iter;
    p->step_size[b->chain] = b->step_size;
    p->in_warmup[b->chain] = b->warmup;
    tally_block(&p->tally[b->chain], b, p->spec->chain.num_warmup);
    if (rc != MCMC_OK) p->write_failed = 1;
    double now = app_monotonic();
    if (!p->quiet && (now - p->last_print > (p->tty ? 0.1 : 1.0))) {
        p->last_print = now;
        progress_print(p, 0);
    }
    pthread_mutex_unlock(&p->lock);
    return rc != MCMC_OK;
}

/* Each chain's post-warmup mean of an accept statistic, step size and
 * divergences, as the sampler reports them. */
static void print_chains(const run_progress *p) {
    const chain_config *cfg = &p->spec->chain;
    if (p->accept_col >= 0) {
        fprintf(stderr, "accept_stat__ by chain (after warmup):");
        for (uint32_t c = 0; c < cfg->chains; c++)
            fprintf(stderr, " %.3f",
                    p->accept_n[c] ? p->accept_sum[c] / (double)p->accept_n[c] : NAN);
        fputc('\n', stderr);
    }
    fprintf(stderr, "step size by chain:");
    for (uint32_t c = 0; c < cfg->chains; c++)
        fprintf(stderr, " %.4g", p->step_size[c]);
    fputc('\n', stderr);
    if (!(cfg->sampler->stats & STAT_BIT(STAT_DIVERGENT))) return;
    fprintf(stderr, "divergences by chain (after warmup):");
    for (uint32_t c = 0; c < cfg->chains; c++)
        fprintf(stderr, " %llu", (unsigned long long)p->divergent[c]);
    fputc('\n', stderr);
}

/* Pooled mean and sd per parameter, and each chain's sampler figures. */
static void print_summary(const run_progress *p, const dataset *ds, const char *const *names,
                          size_t d, double seconds) {
    const chain_config *cfg = &p->spec->chain;
    uint64_t total = 0;
    for (uint32_t c = 0; c < cfg->chains; c++)
        total += p->iter[c];
    fprintf(stderr,
            "done: %u chains x %llu draws x %zu parameters in %.3f s (%.3g it/s, %s kernels)\n",
            cfg->chains, (unsigned long long)cfg->num_samples, d, seconds, (double)total / seconds,
            simd_ops_get()->name);
    print_chains(p);
    fprintf(stderr, "%-10s %12s %12s%s\n", "param", "mean", "sd",
            ds && ds->theta_true && ds->d == d ? "   theta_true" : "");
    for (size_t j = 0; j < d && j < 10; j++) {
        double n = 0, mean = 0, m2 = 0;
        for (uint32_t c = 0; c < cfg->chains; c++)
            n += (double)p->moments[c].n;
        for (uint32_t c = 0; c < cfg->chains; c++)
            mean += (double)p->moments[c].n * p->moments[c].mean[j] / n;
        for (uint32_t c = 0; c < cfg->chains; c++) {
            double dm = p->moments[c].mean[j] - mean;
            m2 += p->moments[c].m2[j] + (double)p->moments[c].n * dm * dm;
        }
        char name[32];
        snprintf(name, sizeof name, "theta.%zu", j + 1);
        fprintf(stderr, "%-10s %12.5g %12.5g", names ? names[j] : name, mean,
                n > 1 ? sqrt(m2 / (n - 1)) : NAN);
        if (ds && ds->theta_true && ds->d == d) fprintf(stderr, " %12.5g", ds->theta_true[j]);
        fputc('\n', stderr);
    }
    if (d > 10) fprintf(stderr, "(%zu more parameters in the output file)\n", d - 10);
}

static int progress_init(run_progress *p, const job_spec *spec, size_t d, int quiet) {
    uint32_t C = spec->chain.chains;
    memset(p, 0, sizeof *p);
    pthread_mutex_init(&p->lock, NULL);
    p->spec = spec;
    p->quiet = quiet;
    p->tty = isatty(STDERR_FILENO);
    p->warmup_rows = chain_kept_warmup(&spec->chain);
    p->iter = calloc(C, sizeof *p->iter);
    p->accept_sum = calloc(C, sizeof *p->accept_sum);
    p->accept_n = calloc(C, sizeof *p->accept_n);
    p->step_size = calloc(C, sizeof *p->step_size);
    p->in_warmup = calloc(C, sizeof *p->in_warmup);
    p->moments = calloc(C, sizeof *p->moments);
    p->outcome = calloc(C, sizeof *p->outcome);
    p->divergent = calloc(C, sizeof *p->divergent);
    p->tally = calloc(C, sizeof *p->tally);
    p->accept_col = stat_column(spec->chain.sampler->stats, STAT_ACCEPT);
    p->div_col = stat_column(spec->chain.sampler->stats, STAT_DIVERGENT);
    if (!p->iter || !p->accept_sum || !p->accept_n || !p->step_size || !p->in_warmup ||
        !p->divergent || !p->moments || !p->outcome || !p->tally)
        return -1;
    for (uint32_t c = 0; c < C; c++)
        p->outcome[c].nonfinite_at = UINT64_MAX;
    for (uint32_t c = 0; c < C; c++) {
        p->moments[c].mean = calloc(d, sizeof(double));
        p->moments[c].m2 = calloc(d, sizeof(double));
        if (!p->moments[c].mean || !p->moments[c].m2) return -1;
    }
    return 0;
}

static void progress_free(run_progress *p) {
    for (uint32_t c = 0; p->moments && c < p->spec->chain.chains; c++) {
        free(p->moments[c].mean);
        free(p->moments[c].m2);
    }
    free(p->moments);
    for (uint32_t c = 0; p->outcome && c < p->spec->chain.chains; c++)
        chain_adaptation_clear(&p->outcome[c].adapt);
    free(p->outcome);
    free(p->iter);
    free(p->accept_sum);
    free(p->accept_n);
    free(p->step_size);
    free(p->in_warmup);
    free(p->divergent);
    free(p->tally);
    pthread_mutex_destroy(&p->lock);
}

static const char *model_name(const job_spec *spec) {
    return spec->model->name;
}

/* The output file(s): draws, and the statistics when asked for or CmdStan. */
static int open_output(run_progress *p, const job_spec *spec, const char *const *names, size_t d,
                       const run_opts *o) {
    const chain_config *cfg = &spec->chain;
    p->stats = (o->stats || o->cmdstan) && chain_config_stats(cfg) != 0;
    draws_file_shape shape = {.chains = cfg->chains,
                              .rows = chain_kept_draws(cfg),
                              .warmup_rows = chain_kept_warmup(cfg),
                              .d = d,
                              .stats = p->stats ? chain_config_stats(cfg) : 0,
                              .names = names};
    draws_format fmt =
        o->cmdstan ? DRAWS_CMDSTAN : (draws_format)draws_format_from_path(o->out_path);
    return draws_file_open(o->out_path, fmt, &shape, &p->out);
}

/* CmdStan's comment blocks of every chain, once the chains have run. */
static int set_cmdstan_texts(run_progress *p) {
    const chain_config *cfg = &p->spec->chain;
    int rc = MCMC_OK;
    for (uint32_t c = 0; rc == MCMC_OK && c < cfg->chains; c++) {
        const chain_outcome *out = &p->outcome[c];
        char *pro = cmdstan_prologue(cfg, model_name(p->spec), c);
        char *adapt = out->adapt.known ? cmdstan_adaptation(&out->adapt) : NULL;
        char *timing = cmdstan_timing(out->warmup_elapsed, out->elapsed - out->warmup_elapsed);
        rc = pro && timing && (adapt || !out->adapt.known)
                 ? draws_file_set_cmdstan_text(p->out, c, pro, adapt, timing)
                 : MCMC_ENOMEM;
        free(pro), free(adapt), free(timing);
    }
    return rc;
}

/* Completes the output with every chain's rows (fewer for a chain that
 * went non-finite: the draws it never made are left out, NaN in .npy). */
static int finish_output(run_progress *p, const run_opts *o) {
    uint32_t C = p->spec->chain.chains;
    uint64_t *rows = calloc(C, sizeof *rows);
    int rc = rows ? MCMC_OK : MCMC_ENOMEM;
    for (uint32_t c = 0; rows && c < C; c++)
        rows[c] = p->outcome[c].rows;
    if (rc == MCMC_OK && o->cmdstan) rc = set_cmdstan_texts(p);
    if (rc == MCMC_OK)
        rc = draws_file_finish_rows(p->out, rows);
    else
        draws_file_abort(p->out);
    free(rows);
    return rc;
}

/* "chain 2 went non-finite at draw 1234" for each chain that did. */
static void print_nonfinite(const run_progress *p) {
    for (uint32_t c = 0; c < p->spec->chain.chains; c++) {
        uint64_t at = p->outcome[c].nonfinite_at;
        if (at != UINT64_MAX)
            fprintf(stderr, "mcmcd run: chain %u went non-finite at draw %llu\n", c,
                    (unsigned long long)at);
    }
}

static void print_written(const run_opts *o, uint32_t chains) {
    if (!o->cmdstan) {
        fprintf(stderr, "wrote %s\n", o->out_path);
        return;
    }
    char path[4096];
    for (uint32_t c = 0; c < chains; c++) {
        draws_cmdstan_chain_path(o->out_path, c, path, sizeof path);
        fprintf(stderr, "wrote %s\n", path);
    }
}

/* --report: each chain's timings from its last block (wall and thread CPU
 * seconds), and the wall time of the whole run. Returns 0, or -1 when the
 * file cannot be written. */
static int write_report(const char *path, const run_progress *p, double seconds) {
    FILE *f = fopen(path, "w");
    if (!f) return -1;
    fputs("{\"chains\": [", f);
    for (uint32_t c = 0; c < p->spec->chain.chains; c++) {
        const chain_tally *t = &p->tally[c];
        char step[32] = "null";
        if (isfinite(t->step_size)) snprintf(step, sizeof step, "%.17g", t->step_size);
        fprintf(f,
                "%s\n  {\"chain\": %u, \"warmup_seconds\": %.9f, \"sampling_seconds\": %.9f, "
                "\"warmup_cpu_seconds\": %.9f, \"sampling_cpu_seconds\": %.9f, "
                "\"grad_evals\": %llu, \"step_size\": %s, \"divergent\": %llu, "
                "\"warmup_divergent\": %llu}",
                c ? "," : "", c, t->warmup_seconds, t->seconds - t->warmup_seconds, t->warmup_cpu,
                t->cpu - t->warmup_cpu, (unsigned long long)t->grad_evals, step,
                (unsigned long long)t->divergent, (unsigned long long)t->warmup_divergent);
    }
    fprintf(f, "\n], \"total_seconds\": %.9f, \"simd\": \"%s\"}\n", seconds, simd_ops_get()->name);
    return fclose(f) == 0 ? 0 : -1;
}

/* Runs the chains into the output file; returns the exit status. */
static int run_chains(const job_spec *spec, const model *m, const dataset *ds, const run_opts *o) {
    size_t d = model_dim(m);
    const char **names = model_param_names(m); /* NULL: theta.1..d */
    run_progress p;
    int status = 1;
    if (progress_init(&p, spec, d, o->quiet) != 0) {
        fprintf(stderr, "mcmcd run: out of memory\n");
        goto done;
    }
    int rc = open_output(&p, spec, names, d, o);
    if (rc != MCMC_OK) {
        fprintf(stderr, "mcmcd run: cannot create %s\n", o->out_path);
        goto done;
    }
    signal(SIGINT, on_signal);
    signal(SIGTERM, on_signal);
    p.t0 = p.last_print = app_monotonic();
    thread_cpu_at_chain_end = thread_cpu_now(); /* this thread runs chains too */
    rc = chains_run(m, &spec->chain, o->threads, on_block, &p, &run_cancel);
    double seconds = app_monotonic() - p.t0;
    if (!o->quiet) progress_print(&p, 1);
    int keep = (rc == MCMC_OK || rc == MCMC_ENONFINITE) && !p.write_failed;
    int frc = keep ? finish_output(&p, o) : MCMC_OK;
    if (!keep) draws_file_abort(p.out);
    if (keep && frc == MCMC_OK) {
        print_summary(&p, ds, names, d, seconds);
        print_written(o, spec->chain.chains);
    }
    if (rc == MCMC_ENONFINITE) print_nonfinite(&p);
    if (keep && frc == MCMC_OK && rc == MCMC_OK) {
        status = 0;
        if (o->report_path && write_report(o->report_path, &p, seconds) != 0) {
            fprintf(stderr, "mcmcd run: cannot write %s\n", o->report_path);
            status = 1;
        }
    } else if (rc != MCMC_ENONFINITE || frc != MCMC_OK) {
        fprintf(stderr, "mcmcd run: %s\n",
                p.write_failed || frc != MCMC_OK ? "writing draws failed" : mcmc_status_str(rc));
        status = rc == MCMC_ECANCELLED && !p.write_failed ? 130 : 1;
    }
done:
    progress_free(&p);
    free(names);
    return status;
}

/* A kind that keeps no draws (tune, mode): its result, JSON, to --out. */
static int run_kind(const job_spec *spec, const model *m, const run_opts *o) {
    size_t len = strlen(o->out_path);
    if (len < 5 || strcmp(o->out_path + len - 5, ".json") != 0) {
        fprintf(stderr, "mcmcd run: a %s job's result is JSON: --out must end in .json\n",
                job_kind_name(spec->kind));
        return 2;
    }
    int rc;
    json_t *result = job_kind_result(spec, m, NULL, &rc);
    if (!result) {
        fprintf(stderr, "mcmcd run: %s\n", mcmc_status_str(rc));
        return 1;
    }
    int bad = json_dump_file(result, o->out_path, JSON_INDENT(1)) != 0;
    if (bad) fprintf(stderr, "mcmcd run: cannot write %s\n", o->out_path);
    json_decref(result);
    return bad ? 1 : 0;
}

/* The kernel path: measured once per machine and cached in the user's
 * cache directory (calibrate.h), before anything draws a number. Said on
 * stderr unless quiet; a cache that could not be used is said always. */
static void choose_kernels(int quiet) {
    char dir[4096], line[6000];
    calibrate_result r;
    calibrate_choose(calibrate_user_dir(dir, sizeof dir) == 0 ? dir : NULL, &r);
    calibrate_describe(&r, line, sizeof line);
    if (!quiet || r.note[0]) fprintf(stderr, "mcmcd run: %s\n", line);
}

int run_main(int argc, char **argv) {
    run_opts o = {.chain = -1};
    int status = parse_opts(argc, argv, &o);
    if (status) return status;
    choose_kernels(o.quiet);
    job_spec spec;
    if ((status = load_spec(o.spec_path, &spec))) return status;
    dataset *ds = NULL;
    model *m = NULL;
    if ((status = load_data(&spec, &o, &ds))) goto out;
    spec_errors errs = {0};
    size_t n = ds ? ds->n : 0, d = ds ? ds->d : 0;
    if (job_spec_check_shape(&spec, n, d, &errs) != 0) {
        print_spec_errors(&errs);
        status = 2;
        goto out;
    }
    char why[160];
    if (!(m = job_spec_build_model(&spec, ds, why, sizeof why))) {
        fprintf(stderr, "mcmcd run: cannot build the model: %s\n", why);
        status = 1;
        goto out;
    }
    if (o.chain >= 0)
        status = executor_task_run(&spec, m, (uint32_t)o.chain, o.shared_dir, o.post_url, o.quiet);
    else
        status =
            spec.kind == JOB_KIND_SAMPLE ? run_chains(&spec, m, ds, &o) : run_kind(&spec, m, &o);
out:
    model_free(m);
    dataset_free(ds);
    job_spec_free(&spec);
    return status;
}
