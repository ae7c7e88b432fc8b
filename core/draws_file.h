/* draws_file.h - writes draws of shape chains x rows x d, and the
 * sampler's per-iteration statistics beside them, to files as they arrive,
 * in bounded memory: NumPy .npy (float64, C order), CSV, JSON, or CmdStan
 * CSV (one file per chain).
 *
 * Blocks are written with pwrite at their final place in float64 bodies
 * (one for the draws, one for the statistics), so chains may hand blocks
 * over from several threads at once without a lock, and the files do not
 * depend on their order. The text formats are made from those bodies at
 * draws_file_finish, streaming, by draws_format.c: the same bytes as the
 * daemon's draws endpoint for the same draws.
 *
 * Where the statistics go (when the shape has any):
 *   - .npy: a second file beside it, <stem>.stats.npy, of shape
 *     chains x rows x nstats (columns in STAT order, CmdStan's names);
 *   - CSV: CmdStan's columns after chain and draw; JSON: "stat_names" and
 *     a "stats" array after "draws";
 *   - CmdStan: always (lp__, accept_stat__, ... then the parameters).
 * With saved warmup draws (warmup_rows > 0) CSV rows get a warmup column
 * and JSON a "warmup_draws" count; in .npy they are the first warmup_rows
 * rows of each chain. CmdStan files put the adaptation block after them.
 */
#ifndef MCMCD_DRAWS_FILE_H
#define MCMCD_DRAWS_FILE_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

typedef enum draws_format { DRAWS_NPY = 0, DRAWS_CSV, DRAWS_JSON, DRAWS_CMDSTAN } draws_format;

typedef struct draws_file draws_file;

/* What a file holds. */
typedef struct draws_file_shape {
    uint32_t chains;
    uint64_t rows;        /* kept draws per chain, the saved warmup's first */
    uint64_t warmup_rows; /* of those, the warmup's */
    size_t d;
    unsigned stats;           /* STAT_BIT mask of the statistics stored; 0: none */
    const char *const *names; /* d parameter names (copied); NULL: theta.1..d */
} draws_file_shape;

/* The format named by a path's extension (.npy, .csv, .json); -1 if none. */
int draws_format_from_path(const char *path);
/* DRAWS_CMDSTAN: the file of chain c (0-based) for the path given at
 * create: "x.csv" gives "x_1.csv", "x_2.csv", ... (CmdStan's numbering),
 * "x" gives "x_1.csv". Written into buf. */
void draws_cmdstan_chain_path(const char *path, uint32_t chain, char *buf, size_t cap);

int draws_file_open(const char *path, draws_format fmt, const draws_file_shape *shape,
                    draws_file **out);
/* The plain shape: no statistics, no warmup rows, theta names. */
int draws_file_create(const char *path, draws_format fmt, uint32_t chains, uint64_t samples,
                      size_t d, draws_file **out);
/* Thread-safe for distinct (chain, rows). */
int draws_file_write(draws_file *f, uint32_t chain, uint64_t first, uint64_t count,
                     const double *draws);
/* count x nstats values; MCMC_EINVAL when the shape has no statistics. */
int draws_file_write_stats(draws_file *f, uint32_t chain, uint64_t first, uint64_t count,
                           const double *stats);
/* DRAWS_CMDSTAN: the comment blocks of chain c's file (copied; see
 * cmdstan_text.h), before finish. NULL leaves a block out. */
int draws_file_set_cmdstan_text(draws_file *f, uint32_t chain, const char *prologue,
                                const char *adaptation, const char *epilogue);
/* Completes the files (text conversion) and frees f. Text formats write
 * the first `rows` rows of each chain, or fewer: draws_file_finish_rows
 * writes rows[c] rows of chain c (CmdStan; for CSV and JSON the fewest of
 * them, so the array stays rectangular). */
int draws_file_finish(draws_file *f);
int draws_file_finish_rows(draws_file *f, const uint64_t *rows);
/* Removes the files and frees f. */
void draws_file_abort(draws_file *f);

/* Writers shared with the daemon: the .npy header for a float64 array of the
 * given shape (padded to a multiple of 64 bytes), and one value as JSON
 * (non-finite values as null). */
size_t npy_header(char *buf, size_t cap, const uint64_t *shape, int ndim);
void json_write_number(FILE *out, double v);

#endif
