/* calibrate.h - the choice of kernel path by measurement, made once per
 * machine and cached.
 *
 * The paths this CPU runs (simd.h's table) are timed on a short pass that
 * stands for the post's workloads (the panel kernel at d = 5, the row
 * kernel at d = 500, both dtypes, an SGLD minibatch, the noise): a few
 * milliseconds. The fastest is kept if it beats the table's default by
 * CALIBRATE_MARGIN, else the default; the choice is written to a file in a
 * cache directory, keyed by the machine (CPU model, family and stepping,
 * the ISA features the paths ask for, and SIMD_KERNEL_VERSION, a hash of
 * what the kernels are built from). Every later start with the same key
 * reads the file and measures nothing, so a job gives the same bits on the
 * same machine however often it is run. MCMCD_SIMD, when it names a path
 * the CPU runs, wins over the cache and is not recorded.
 *
 * Where no cache can be written the default path is used, unmeasured: a
 * choice that could differ from start to start would break reruns.
 */
#ifndef MCMCD_CALIBRATE_H
#define MCMCD_CALIBRATE_H

#include <stddef.h>

#include "simd.h"

/* A candidate must be this much faster than the default to be chosen, so
 * that timing noise alone never moves a machine off the default. */
#define CALIBRATE_MARGIN 0.05

typedef enum calibrate_source {
    CALIBRATE_FORCED = 0, /* MCMCD_SIMD */
    CALIBRATE_CACHED,     /* read from the cache file, nothing measured */
    CALIBRATE_MEASURED,   /* measured now and written to the cache file */
    CALIBRATE_DEFAULT     /* no cache file could be had: the table's default */
} calibrate_source;

typedef struct calibrate_result {
    const simd_ops *ops; /* the path chosen (simd_ops_use has been given it) */
    calibrate_source source;
    char file[4200];               /* the cache file, "" when none was used */
    size_t measured;               /* candidates in name/rel (0 when forced or default) */
    char name[SIMD_PATHS_MAX][16]; /* each candidate's path */
    double rel[SIMD_PATHS_MAX];    /* its time, relative to the default path's */
    char note[512];                /* why a file was ignored or not written; "" if neither */
} calibrate_result;

/* Chooses the process's path and makes it simd_ops_get's (simd_ops_use):
 * MCMCD_SIMD; else the choice cached in dir for this machine; else a
 * measurement, recorded there (dir is created if missing). Call once at
 * start, before any chain runs. Never fails: r says what happened. */
void calibrate_choose(const char *dir, calibrate_result *r);

/* Times every path this CPU runs; fills r->name, r->rel, r->measured.
 * Returns the index in r of the fastest, or -1 when memory is short. */
int calibrate_measure(calibrate_result *r);

/* This machine's key: "cpu ...; isa ...; kernels ...". */
void calibrate_machine_key(char *buf, size_t cap);

/* The cache file's path in dir for this machine's key. */
void calibrate_cache_file(const char *dir, char *buf, size_t cap);

/* The per-user cache directory: $XDG_CACHE_HOME/mcmcd, else
 * $HOME/.cache/mcmcd; -1 when neither variable is set. */
int calibrate_user_dir(char *buf, size_t cap);

/* r as one line for a log: "avx512 kernels (measured: ...; recorded in ...)". */
void calibrate_describe(const calibrate_result *r, char *buf, size_t cap);

#endif
