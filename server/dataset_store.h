/* dataset_store.h - datasets on disk, named by a hash of their content, and
 * datasets from the JSON body of an upload.
 *
 * The id. A dataset's id is the first 32 hex characters (128 bits) of the
 * SHA-256 of its canonical encoding, all integers and floats little-endian.
 * Datasets whose y are all 0 or 1 and that have no column names use
 * version 1, so that they keep the ids they had before y became real:
 *
 *   "MCMCID01"                       8 bytes: magic and encoding version
 *   n, d                             uint64 each
 *   X                                n * d float64, row-major
 *   y                                n bytes, each 0 or 1
 *   has_theta                        1 byte, 0 or 1
 *   theta_true                       d float64, only when has_theta is 1
 *
 * Every other dataset uses version 2:
 *
 *   "MCMCID02", n, d, X              as above
 *   y                                n float64
 *   has_theta, theta_true            as above
 *   has_names                        1 byte, 0 or 1
 *   names                            only when has_names is 1: d times a
 *                                    uint64 length and that many bytes
 *
 * -0.0 is encoded as +0.0: JSON cannot tell them apart ("-0" parses as the
 * integer 0), so the same rows sent as JSON or as CSV get the same id. Every
 * other value is hashed bit for bit, so any changed value changes the id.
 *
 * The file. Dataset <id> lives in DIR/<id>.ds, little-endian throughout:
 *
 *   offset          size  field
 *   0                  8  magic "MCMCDS01"
 *   8                  4  format version, uint32 (2; version 1 files load)
 *   12                 4  flags, uint32: bit 0 = theta_true present,
 *                         bit 1 = names present; others 0
 *   16                 8  n, uint64 (>= 1)
 *   24                 8  d, uint64 (>= 1)
 *   32                32  checksum: the full SHA-256 of the canonical encoding
 *                         (the id is its first 16 bytes in hex)
 *   64              8n*d  X, float64, row-major, -0.0 stored as +0.0
 *   64+8nd            8n  y, float64 (version 1: n bytes, each 0 or 1)
 *   ...               8d  theta_true, float64, only when flag bit 0 is set
 *   ...                8  L, uint64, then L bytes: the d column names, each
 *                         ended by a NUL; only when flag bit 1 is set
 *
 * The file's length must be exactly what the header (and L) implies.
 * Loading checks the magic, version, flags, sizes, the checksum (so any
 * flipped bit and a file renamed to another id are caught), then that y,
 * X and theta_true are finite (version 1: y in {0, 1}) and the names valid
 * (dataset_set_names). Saving writes version 2; an old file of the same id
 * is replaced by it. Which y a model takes is the model's check.
 *
 * Saves write DIR/.<id>.tmp.XXXXXX (mode 0600) and rename it; a crash can
 * leave such a file behind, and the daemon may delete DIR/.*.tmp.* at start.
 *
 * Status codes are those of core/errors.h plus DATASET_STORE_ENOENT. On
 * MCMC_EIO from save or remove, errno says why. Every function is
 * reentrant; concurrent saves of one id are safe (each renames an identical
 * file into place). */
#ifndef MCMCD_DATASET_STORE_H
#define MCMCD_DATASET_STORE_H

#include <stddef.h>
#include <stdint.h>

#include "dataset.h"

#define DATASET_ID_LEN 32 /* hex characters, without the terminating NUL */

/* Load or remove of an id that has no file (HTTP 404). Not in errors.h. */
#define DATASET_STORE_ENOENT (-100)

/* True when id is exactly DATASET_ID_LEN lowercase hex characters. */
int dataset_id_valid(const char *id);

/* Writes ds's id into id_out. MCMC_EINVAL when ds is empty (n or d is 0). */
int dataset_hash(const dataset *ds, char id_out[DATASET_ID_LEN + 1]);

/* Writes ds to dir/<id>.ds (dir must exist) through a temporary file in
 * dir: written, fsynced, renamed into place, then dir fsynced. When a file
 * of the expected length already holds that id, nothing is written. Sets
 * id_out and, unless NULL, *bytes_out to the file's length. MCMC_EINVAL
 * when ds is empty or has a non-finite value. */
int dataset_store_save(const char *dir, const dataset *ds, char id_out[DATASET_ID_LEN + 1],
                       uint64_t *bytes_out);

/* The bytes dataset_store_save writes for ds (the file's length). */
uint64_t dataset_store_file_size(const dataset *ds);

/* Reads and validates dir/<id>.ds into a new dataset (the caller frees it
 * with dataset_free); *out is NULL on failure, with a message in err.
 * MCMC_EINVAL: a malformed id (the filesystem is not touched).
 * DATASET_STORE_ENOENT: no such file. MCMC_EIO: it could not be read.
 * MCMC_EPARSE: truncated or corrupt (checksum, sizes, header, values). */
int dataset_store_load(const char *dir, const char *id, dataset **out, char *err, size_t errlen);

/* Deletes dir/<id>.ds and fsyncs dir. MCMC_EINVAL for a malformed id,
 * DATASET_STORE_ENOENT when there is no such file, MCMC_EIO otherwise. */
int dataset_store_remove(const char *dir, const char *id);

/* Parses an upload body {"name": "...", "X": [[...], ...], "y": [...],
 * "names": [...]}. "name" is optional (name_out gets "" without it;
 * name_out may be NULL to ignore it); X has n >= 1 rows of d >= 1 finite
 * numbers; y has n finite numbers (false/true count as 0/1); "names",
 * optional, d strings naming X's columns. Other fields are errors. On
 * failure *out is NULL and err holds one message naming the JSON path
 * ("X[3]: expected 5 numbers, got 4", "y[7]: must be finite") or, for
 * malformed JSON, the byte offset. MCMC_EPARSE for malformed JSON,
 * MCMC_EINVAL for well-formed JSON that is not a dataset, MCMC_ENOMEM. */
int dataset_from_json(const char *text, size_t len, dataset **out, char *name_out, size_t name_cap,
                      char *err, size_t errlen);

#endif
