/* draws_file.h - writes draws of shape chains x samples x d to a file as
 * they arrive, in bounded memory, as NumPy .npy (float64, C order), CSV or
 * JSON.
 *
 * Blocks are written with pwrite at their final place in a float64 body, so
 * chains may hand blocks over from several threads at once without a lock,
 * and the file does not depend on their order. CSV and JSON are made from
 * that body at draws_file_finish, streaming.
 */
#ifndef MCMCD_DRAWS_FILE_H
#define MCMCD_DRAWS_FILE_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

typedef enum draws_format { DRAWS_NPY = 0, DRAWS_CSV, DRAWS_JSON } draws_format;

typedef struct draws_file draws_file;

/* The format named by a path's extension (.npy, .csv, .json); -1 if none. */
int draws_format_from_path(const char *path);

int draws_file_create(const char *path, draws_format fmt, uint32_t chains, uint64_t samples,
                      size_t d, draws_file **out);
/* Thread-safe for distinct (chain, rows). */
int draws_file_write(draws_file *f, uint32_t chain, uint64_t first, uint64_t count,
                     const double *draws);
/* Completes the file (CSV/JSON conversion) and frees f. */
int draws_file_finish(draws_file *f);
/* Removes the file and frees f. */
void draws_file_abort(draws_file *f);

/* Writers shared with the daemon: the .npy header for a float64 array of the
 * given shape (padded to a multiple of 64 bytes), and one value as JSON
 * (non-finite values as null). */
size_t npy_header(char *buf, size_t cap, const uint64_t *shape, int ndim);
void json_write_number(FILE *out, double v);

#endif
