/* calibrate.c - times the kernel paths this CPU runs on a short
 * representative pass and caches the choice per machine (calibrate.h says
 * what the choice is and why it is cached). simd.c holds the table of
 * paths and the process's path; this file only decides which. */
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "calibrate.h"
#include "kernel_version.h"

#if defined(__x86_64__) || defined(__i386__)
#include <cpuid.h>
#endif

/* ---- the machine's key ---- */

/* The brand string, trimmed, with family, model and stepping: VMs often
 * show a bare "AMD EPYC" for several generations, whose 512-bit units
 * differ. */
static void cpu_model(char *buf, size_t cap) {
#if defined(__x86_64__) || defined(__i386__)
    unsigned r[13] = {0}, a, b, c, d;
    if ((unsigned)__get_cpuid_max(0x80000000u, NULL) >= 0x80000004u) /* int in clang */
        for (unsigned k = 0; k < 3; k++)
            __get_cpuid(0x80000002u + k, &r[4 * k], &r[4 * k + 1], &r[4 * k + 2], &r[4 * k + 3]);
    char *brand = (char *)r;
    while (*brand == ' ')
        brand++;
    for (size_t n = strlen(brand); n > 0 && brand[n - 1] == ' '; n--)
        brand[n - 1] = 0;
    a = b = c = d = 0;
    __get_cpuid(1, &a, &b, &c, &d);
    unsigned family = (a >> 8) & 0xf, model = (a >> 4) & 0xf;
    if (family == 0xf) family += (a >> 20) & 0xff;
    if (family >= 6) model |= ((a >> 16) & 0xf) << 4;
    snprintf(buf, cap, "%s (family %u model %u stepping %u)", *brand ? brand : "unknown", family,
             model, a & 0xf);
#else
    snprintf(buf, cap, "unknown");
#endif
}

/* The features the runnable paths ask for, each once, in table order. */
static void isa_features(char *buf, size_t cap) {
    size_t len = 0;
    buf[0] = 0;
    for (size_t i = 0; i < simd_path_count(); i++) {
        if (!simd_path_runs(i)) continue;
        char words[128];
        snprintf(words, sizeof words, "%s", simd_path_features(i));
        for (char *save, *w = strtok_r(words, " ", &save); w; w = strtok_r(NULL, " ", &save)) {
            char padded[40];
            snprintf(padded, sizeof padded, " %s ", w);
            char have[512];
            snprintf(have, sizeof have, " %s ", buf);
            if (strstr(have, padded)) continue;
            if (len >= cap) break;
            len += (size_t)snprintf(buf + len, cap - len, "%s%s", len ? " " : "", w);
        }
    }
    if (!buf[0]) snprintf(buf, cap, "none");
}

void calibrate_machine_key(char *buf, size_t cap) {
    char cpu[160], isa[256];
    cpu_model(cpu, sizeof cpu);
    isa_features(isa, sizeof isa);
    snprintf(buf, cap, "cpu %s; isa %s; kernels %s", cpu, isa, SIMD_KERNEL_VERSION);
}

/* One file per key, so that machines of several kinds may share a cache
 * directory (a home on NFS) without evicting each other's choice. */
void calibrate_cache_file(const char *dir, char *buf, size_t cap) {
    char key[600];
    calibrate_machine_key(key, sizeof key);
    uint64_t h = 0xcbf29ce484222325ull; /* FNV-1a */
    for (const unsigned char *p = (const unsigned char *)key; *p; p++)
        h = (h ^ *p) * 0x100000001b3ull;
    snprintf(buf, cap, "%s/kernels-%016llx.choice", dir, (unsigned long long)h);
}

int calibrate_user_dir(char *buf, size_t cap) {
    const char *xdg = getenv("XDG_CACHE_HOME"), *home = getenv("HOME");
    if (xdg && xdg[0] == '/')
        snprintf(buf, cap, "%s/mcmcd", xdg);
    else if (home && *home)
        snprintf(buf, cap, "%s/.cache/mcmcd", home);
    else
        return -1;
    return 0;
}

/* ---- the measurement ---- */

enum {
    PANEL_N = 1000, /* the post's N = 1e3, d = 5 */
    PANEL_D = 5,
    ROWS_N = 128, /* d = 500, 128 rows: 0.5 MB in float64, in L2 */
    ROWS_D = 500,
    ROWS_LD64 = 504, /* rows on 64-byte lines, as model_data.c lays them out */
    ROWS_LD32 = 512,
    BATCH = 100, /* the post's SGLD minibatch */
    NOISE = 500,
    PANELS_ROWS = (PANEL_N + SIMD_PANEL - 1) / SIMD_PANEL * SIMD_PANEL,
    BATCH_ROWS = (BATCH + SIMD_PANEL - 1) / SIMD_PANEL * SIMD_PANEL,
};

typedef struct calib_data {
    double *xp64, *yp64, *xr64, *yr64, *theta64, *acc, *grad, *noise;
    float *xp32, *yp32, *xr32, *yr32, *theta32, *xg32, *yg32, *bx32, *by32;
    uint32_t *idx;
} calib_data;

static void *alloc64(size_t bytes, int *failed) {
    void *p = NULL;
    if (posix_memalign(&p, 64, bytes) != 0) {
        *failed = 1;
        return NULL;
    }
    memset(p, 0, bytes);
    return p;
}

static void data_free(calib_data *b) {
    void *all[] = {b->xp64,    b->yp64,  b->xr64, b->yr64, b->theta64, b->acc,
                   b->grad,    b->noise, b->xp32, b->yp32, b->xr32,    b->yr32,
                   b->theta32, b->xg32,  b->yg32, b->bx32, b->by32,    b->idx};
    for (size_t i = 0; i < sizeof all / sizeof all[0]; i++)
        free(all[i]);
}

/* A fixed pseudo-random value in [-1, 1) for element k (splitmix64). */
static double unit(uint64_t k) {
    uint64_t z = k * 0x9e3779b97f4a7c15ull + 0x6a09e667f3bcc909ull;
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return (double)((z ^ (z >> 31)) >> 11) * 0x1p-52 - 1.0;
}

static int data_make(calib_data *b) {
    int f = 0;
    b->xp64 = alloc64(PANELS_ROWS * PANEL_D * sizeof(double), &f);
    b->yp64 = alloc64(PANELS_ROWS * sizeof(double), &f);
    b->xp32 = alloc64(PANELS_ROWS * PANEL_D * sizeof(float), &f);
    b->yp32 = alloc64(PANELS_ROWS * sizeof(float), &f);
    b->xr64 = alloc64(ROWS_N * ROWS_LD64 * sizeof(double), &f);
    b->yr64 = alloc64(ROWS_N * sizeof(double), &f);
    b->xr32 = alloc64(ROWS_N * ROWS_LD32 * sizeof(float), &f);
    b->yr32 = alloc64(ROWS_N * sizeof(float), &f);
    b->xg32 = alloc64(PANEL_N * PANEL_D * sizeof(float), &f);
    b->yg32 = alloc64(PANEL_N * sizeof(float), &f);
    b->bx32 = alloc64(BATCH_ROWS * PANEL_D * sizeof(float), &f);
    b->by32 = alloc64(BATCH_ROWS * sizeof(float), &f);
    b->theta64 = alloc64(ROWS_LD32 * sizeof(double), &f);
    b->theta32 = alloc64(ROWS_LD32 * sizeof(float), &f);
    b->acc = alloc64((SIMD_PANEL_MAX_D + 1) * SIMD_ACC * sizeof(double), &f);
    b->grad = alloc64((ROWS_LD32 + 1) * sizeof(double), &f);
    b->noise = alloc64(NOISE * sizeof(double), &f);
    b->idx = alloc64(BATCH_ROWS * sizeof(uint32_t), &f);
    if (f) return -1;
    for (size_t k = 0; k < (size_t)PANEL_N * PANEL_D; k++) /* panels: padding stays 0 */
        b->xp64[(k / PANEL_D) / SIMD_PANEL * SIMD_PANEL * PANEL_D + k % PANEL_D * SIMD_PANEL +
                (k / PANEL_D) % SIMD_PANEL] = unit(k);
    for (size_t k = 0; k < PANELS_ROWS * PANEL_D; k++)
        b->xp32[k] = (float)b->xp64[k];
    for (size_t k = 0; k < (size_t)PANEL_N * PANEL_D; k++)
        b->xg32[k] = (float)unit(k);
    for (size_t i = 0; i < ROWS_N; i++)
        for (size_t j = 0; j < ROWS_D; j++) {
            b->xr64[i * ROWS_LD64 + j] = unit(1000000 + i * ROWS_D + j);
            b->xr32[i * ROWS_LD32 + j] = (float)b->xr64[i * ROWS_LD64 + j];
        }
    for (size_t i = 0; i < PANEL_N; i++)
        b->yp64[i] = b->yp32[i] = b->yg32[i] = unit(2000000 + i) > 0;
    for (size_t i = 0; i < ROWS_N; i++)
        b->yr64[i] = b->yr32[i] = unit(3000000 + i) > 0;
    for (size_t j = 0; j < ROWS_D; j++) /* eta of order 1 at either d */
        b->theta32[j] = (float)(b->theta64[j] = (j < PANEL_D ? 0.8 : 0.08) * unit(4000000 + j));
    return 0;
}

typedef void (*workload_fn)(const simd_ops *ops, calib_data *b);

/* The passes the post's rows make, each as its sampler makes it. */
static void panels_f64(const simd_ops *o, calib_data *b) {
    o->lr_panels_f64(b->xp64, b->yp64, PANEL_N, PANEL_D, b->theta64, b->acc, 1);
}
static void panels_f32(const simd_ops *o, calib_data *b) {
    o->lr_panels_f32(b->xp32, b->yp32, PANEL_N, PANEL_D, b->theta32, b->acc, 0);
}
static void rows_f64(const simd_ops *o, calib_data *b) {
    o->lr_rows_f64(b->xr64, ROWS_LD64, b->yr64, NULL, ROWS_N, ROWS_D, b->theta64, b->grad, 0);
}
static void rows_f32(const simd_ops *o, calib_data *b) {
    o->lr_rows_f32(b->xr32, ROWS_LD32, b->yr32, NULL, ROWS_N, ROWS_D, b->theta32, b->grad, 1);
}
static void sgld_f32(const simd_ops *o, calib_data *b) {
    static const rng_key key = {7, 11};
    o->index_fill(key, 0, PANEL_N, b->idx, BATCH);
    o->gather_panels_f32(b->bx32, b->by32, b->xg32, b->yg32, b->idx, BATCH, PANEL_D, PANEL_N);
    o->lr_panels_f32(b->bx32, b->by32, BATCH, PANEL_D, b->theta32, b->acc, 0);
}
static void noise(const simd_ops *o, calib_data *b) {
    static const rng_key key = {3, 5};
    o->normal_fill(key, 0, b->noise, NOISE);
}

static const workload_fn workloads[] = {panels_f64, panels_f32, rows_f64,
                                        rows_f32,   sgld_f32,   noise};
#define NUM_WORKLOADS (sizeof workloads / sizeof workloads[0])
enum { ROUNDS = 7 };         /* the best of 7: the least disturbed time */
#define SAMPLE_SECONDS 40e-6 /* one timed sample: reps calls of a workload */

static double now_seconds(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static double time_calls(workload_fn w, const simd_ops *o, calib_data *b, unsigned reps) {
    double t0 = now_seconds();
    for (unsigned k = 0; k < reps; k++)
        w(o, b);
    return now_seconds() - t0;
}

/* best[c * NUM_WORKLOADS + w]: the least time of ROUNDS samples, the
 * candidates interleaved in every round so that a change of clock or load
 * falls on all of them. */
static void time_candidates(const simd_ops *const *ops, size_t nc, calib_data *b, double *best) {
    unsigned reps[NUM_WORKLOADS];
    for (size_t w = 0; w < NUM_WORKLOADS; w++) {
        for (size_t c = 0; c < nc; c++) /* warm caches and branch predictors */
            workloads[w](ops[c], b);
        double one = time_calls(workloads[w], ops[0], b, 1);
        double r = one > 0 ? SAMPLE_SECONDS / one : 64;
        reps[w] = r < 1 ? 1 : r > 4096 ? 4096 : (unsigned)r;
    }
    for (size_t k = 0; k < nc * NUM_WORKLOADS; k++)
        best[k] = INFINITY;
    for (int round = 0; round < ROUNDS; round++)
        for (size_t c = 0; c < nc; c++)
            for (size_t w = 0; w < NUM_WORKLOADS; w++) {
                double t = time_calls(workloads[w], ops[c], b, reps[w]);
                if (t < best[c * NUM_WORKLOADS + w]) best[c * NUM_WORKLOADS + w] = t;
            }
}

int calibrate_measure(calibrate_result *r) {
    const simd_ops *ops[SIMD_PATHS_MAX];
    size_t nc = 0;
    ops[nc++] = simd_ops_default(); /* candidate 0: the reference */
    for (size_t i = 0; i < simd_path_count(); i++)
        if (simd_path_runs(i) && simd_ops_named(simd_path_name(i)) != ops[0])
            ops[nc++] = simd_ops_named(simd_path_name(i));
    calib_data b = {0};
    double best[SIMD_PATHS_MAX * NUM_WORKLOADS];
    r->measured = 0;
    if (data_make(&b) != 0) {
        data_free(&b);
        return -1;
    }
    time_candidates(ops, nc, &b, best);
    data_free(&b);
    int fastest = 0;
    for (size_t c = 0; c < nc; c++) { /* geometric mean of the ratios to the reference */
        double s = 0;
        for (size_t w = 0; w < NUM_WORKLOADS; w++)
            s += log(best[c * NUM_WORKLOADS + w] / best[w]);
        r->rel[c] = exp(s / (double)NUM_WORKLOADS);
        snprintf(r->name[c], sizeof r->name[c], "%s", ops[c]->name);
        if (r->rel[c] < r->rel[fastest]) fastest = (int)c;
    }
    r->measured = nc;
    return fastest;
}

/* ---- the cache file ---- */

/* The choice recorded in file for key, or NULL with why in note. */
static const simd_ops *cache_read(const char *file, const char *key, calibrate_result *r) {
    FILE *f = fopen(file, "r");
    if (!f) {
        if (errno != ENOENT)
            snprintf(r->note, sizeof r->note, "cannot read %.400s: %s", file, strerror(errno));
        return NULL;
    }
    char line[1024], path[32] = "";
    int key_ok = 0, lines = 0;
    size_t nm = 0;
    while (fgets(line, sizeof line, f) && lines++ < 32) {
        line[strcspn(line, "\n")] = 0;
        if (!strncmp(line, "machine ", 8)) key_ok = !strcmp(line + 8, key);
        if (!strncmp(line, "path ", 5)) snprintf(path, sizeof path, "%.31s", line + 5);
        if (strncmp(line, "measured ", 9)) continue;
        for (char *save, *w = strtok_r(line + 9, " ", &save); w && nm < SIMD_PATHS_MAX;
             w = strtok_r(NULL, " ", &save))
            if (sscanf(w, "%15[a-z0-9_]=%lf", r->name[nm], &r->rel[nm]) == 2) nm++;
    }
    fclose(f);
    const simd_ops *ops = path[0] ? simd_ops_named(path) : NULL;
    if (!key_ok || !ops) {
        snprintf(r->note, sizeof r->note, "ignored %.400s: %s", file,
                 !key_ok ? "written for another machine or build" : "no path this CPU runs");
        return NULL;
    }
    r->measured = nm;
    return ops;
}

/* Writes the choice beside file and renames it over: readers see the old
 * file or the new one, never half of one. */
static int cache_write(const char *file, const char *key, const calibrate_result *r) {
    char tmp[4300];
    snprintf(tmp, sizeof tmp, "%s.tmp%ld", file, (long)getpid());
    FILE *f = fopen(tmp, "w");
    if (!f) return -1;
    fprintf(f,
            "# mcmcd: the kernel path measured on this machine, reused by every start\n"
            "# (delete this file to measure again; MCMCD_SIMD=PATH overrides it)\n"
            "machine %s\npath %s\nmeasured",
            key, r->ops->name);
    for (size_t c = 0; c < r->measured; c++)
        fprintf(f, " %s=%.4f", r->name[c], r->rel[c]);
    fputc('\n', f);
    int bad = fflush(f) != 0 || fsync(fileno(f)) != 0;
    bad |= fclose(f) != 0;
    if (bad || rename(tmp, file) != 0) {
        unlink(tmp);
        return -1;
    }
    return 0;
}

/* ---- the choice ---- */

static int make_dir(const char *dir) { /* and its parents, as mkdir -p */
    char p[4096];
    snprintf(p, sizeof p, "%s", dir);
    for (char *s = p + 1; *s; s++)
        if (*s == '/') {
            *s = 0;
            if (mkdir(p, 0700) != 0 && errno != EEXIST) return -1;
            *s = '/';
        }
    return mkdir(p, 0700) != 0 && errno != EEXIST ? -1 : 0;
}

/* Under the lock: the cached choice, or a measurement written back. */
static void choose_locked(const char *key, calibrate_result *r) {
    const simd_ops *ops = cache_read(r->file, key, r);
    if (ops) {
        r->ops = ops;
        r->source = CALIBRATE_CACHED;
        return;
    }
    int fastest = calibrate_measure(r);
    r->ops = simd_ops_default();
    if (fastest < 0) {
        snprintf(r->note, sizeof r->note, "out of memory for the measurement");
        r->source = CALIBRATE_DEFAULT;
        return;
    }
    if (r->rel[fastest] < 1.0 - CALIBRATE_MARGIN) r->ops = simd_ops_named(r->name[fastest]);
    r->source = CALIBRATE_MEASURED;
    if (cache_write(r->file, key, r) != 0) {
        snprintf(r->note, sizeof r->note, "cannot write %.400s: %s", r->file, strerror(errno));
        r->ops = simd_ops_default(); /* unrecorded, it could differ at the next start */
        r->source = CALIBRATE_DEFAULT;
    }
}

void calibrate_choose(const char *dir, calibrate_result *r) {
    memset(r, 0, sizeof *r);
    const char *want = getenv("MCMCD_SIMD");
    if (want && *want && (r->ops = simd_ops_named(want))) {
        r->source = CALIBRATE_FORCED;
        simd_ops_use(r->ops);
        return;
    }
    if (want && *want)
        snprintf(r->note, sizeof r->note, "MCMCD_SIMD=%.40s is no path this CPU runs; ", want);
    size_t noted = strlen(r->note);
    char key[600], lock[4300];
    calibrate_machine_key(key, sizeof key);
    r->ops = simd_ops_default();
    r->source = CALIBRATE_DEFAULT;
    int fd = -1;
    if (!dir || make_dir(dir) != 0) {
        snprintf(r->note + noted, sizeof r->note - noted, "no cache directory%s%s", dir ? ": " : "",
                 dir ? strerror(errno) : "");
    } else {
        calibrate_cache_file(dir, r->file, sizeof r->file);
        snprintf(lock, sizeof lock, "%s.lock", r->file);
        /* one process measures; the others wait for its file and read it */
        if ((fd = open(lock, O_RDWR | O_CREAT | O_CLOEXEC, 0600)) < 0 || flock(fd, LOCK_EX) != 0)
            snprintf(r->note + noted, sizeof r->note - noted, "cannot lock %.400s: %s", lock,
                     strerror(errno));
        else
            choose_locked(key, r);
    }
    if (fd >= 0) close(fd); /* and the lock with it */
    size_t n = strlen(r->note);
    if (n >= 2 && !strcmp(r->note + n - 2, "; ")) r->note[n - 2] = 0;
    if (r->source == CALIBRATE_DEFAULT) r->file[0] = 0;
    simd_ops_use(r->ops);
}

void calibrate_describe(const calibrate_result *r, char *buf, size_t cap) {
    static const char *const how[] = {"forced by MCMCD_SIMD", "cached in", "measured; recorded in",
                                      "the default"};
    char rel[256] = "";
    size_t len = 0;
    for (size_t c = 0; c < r->measured && len < sizeof rel; c++)
        len += (size_t)snprintf(rel + len, sizeof rel - len, "%s%s %.3f",
                                c ? ", " : "; times: ", r->name[c], r->rel[c]);
    snprintf(buf, cap, "%s kernels (%s%s%s%s%s%s)", r->ops->name, how[r->source],
             r->file[0] ? " " : "", r->file, rel, r->note[0] ? "; " : "", r->note);
}
