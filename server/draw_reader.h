/* draw_reader.h - the body of GET /v1/jobs/{id}/draws: an incremental
 * encoder of a job's draws (and, when asked, the sampler's per-iteration
 * statistics) as .npy, CSV, JSON, NDJSON or CmdStan CSV, driven by the HTTP
 * layer's content-reader callback a buffer at a time.
 *
 * The source is a job's raw draws body: float64 (little-endian) at byte
 * offset ((c * samples + i) * d + j) * 8 for chain c, draw i, parameter j,
 * and beside it its statistics body, the same with nstats columns (STAT
 * order), of which the owner says, per chain, how many leading draws are
 * written (draw_reader_set_available). The reader pread()s them in 64 KiB
 * chunks and keeps at most one rendered row pending, so memory does not
 * grow with the job, and any buffer size, even 1 byte, gives the same
 * bytes.
 *
 * Saved warmup draws are the first warmup_rows draws of each chain. When a
 * job has them, CSV rows carry a warmup column (0/1), NDJSON rows a
 * "warmup" field and JSON a "warmup_draws" count (the leading rows of each
 * chain in the array that are warmup).
 *
 * Statistics (with_stats): CSV gets CmdStan's columns (lp__, ...) after
 * chain and draw, NDJSON rows get them as fields before "theta", JSON gets
 * "stat_names" and a "stats" array shaped like "draws" after it. CmdStan
 * CSV (one chain) always has them: the owner's prologue, the header, the
 * rows with the owner's adaptation block before the first post-warmup row
 * (or at the end when none follows), then the owner's epilogue.
 *
 * A selection picks one chain or all, and draws start, start + thin, ...
 * below stop. In the output the chain and draw of a row (CSV columns,
 * NDJSON fields) are the job's own indices, not positions in the selection.
 *
 * The output may narrow it (draw_output): to the divergent draws, every
 * draw of [start, stop) whose divergent__ statistic is 1 (thin ignored),
 * and to some parameters (params), whose names and values are then the
 * only ones written (the .npy's last dimension and JSON's shape count
 * them). A divergent reader keeps the draw numbers of the divergences it
 * has found, 8 bytes each; with more than one selected chain the chains
 * differ in rows, so only CSV and NDJSON serve it, and a snapshot gives
 * each chain's divergences below m (see below), not one count.
 *
 * Snapshot (follow = 0, any format). The first set_available call fixes
 * the rows: with m the fewest draws available in any selected chain, each
 * selected chain gives its selected draws below m, so the array is
 * rectangular, of shape [selected chains, rows, d] (a single chain stays
 * 3-D: [1, rows, d]). For a job that succeeded m = samples and that is the
 * whole selection; for the whole selection the NPY, CSV and JSON bytes are
 * then those core/draws_file.c writes for the same draws. Rows come chain
 * by chain, each chain in draw order. Later set_available calls change
 * nothing. JSON writes a chain with no rows as [].
 *
 * Follow (follow = 1, NDJSON only). Rows go out as they become available.
 * Order: the reader visits the selected chains in turn, from the first,
 * wrapping around; at each visit it sends that chain's available unsent
 * rows in draw order, but at most as many as one 64 KiB read holds (at
 * least one), then moves to the next chain. With nothing to send it
 * answers DRAW_READER_WAIT until the job finishes; once set_available has
 * said the job finished and every row then available is sent, it answers
 * DRAW_READER_END. A chain of a failed or cancelled job thus ends at its
 * own last draw.
 *
 * Not thread-safe: the owner serialises every call on one reader.
 */
#ifndef MCMCD_DRAW_READER_H
#define MCMCD_DRAW_READER_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

typedef enum draw_format {
    DRAW_NPY = 0,
    DRAW_CSV,
    DRAW_JSON,
    DRAW_NDJSON,
    DRAW_CMDSTAN
} draw_format;

/* "application/x-npy", "text/csv", "application/json",
 * "application/x-ndjson", "text/csv" (CmdStan); NULL for an unknown
 * format. */
const char *draw_format_content_type(draw_format fmt);

#define DRAW_ALL_CHAINS UINT32_MAX

typedef struct draw_selection {
    uint32_t chain; /* one chain, or DRAW_ALL_CHAINS */
    uint64_t start; /* the first draw */
    uint64_t stop;  /* one past the last draw */
    uint64_t thin;  /* every thin-th draw from start, >= 1 */
} draw_selection;

/* The query parameters as the request gives them: NULL when absent. */
typedef struct draw_query {
    const char *chain, *start, *stop, *thin;
} draw_query;

/* Bytes enough for any selection error message and its NUL. */
#define DRAW_SELECTION_ERROR_MAX 96

/* Fills *out from a query, with the defaults chain = all, start = 0,
 * stop = samples, thin = 1, and checks it as draw_selection_check does.
 * MCMC_OK, or MCMC_EINVAL with a message naming the parameter in err
 * (errlen bytes; err may be NULL):
 *   "<param> must be an integer >= 0"   (thin: ">= 1"): not decimal digits
 *   "chain must be < <chains>"
 *   "start must be <= <samples>", "stop must be <= <samples>"
 *   "start must be <= stop"
 *   "thin must be >= 1" */
int draw_selection_resolve(draw_selection *out, const draw_query *q, uint32_t chains,
                           uint64_t samples, char *err, size_t errlen);
int draw_selection_check(const draw_selection *sel, uint32_t chains, uint64_t samples, char *err,
                         size_t errlen);

/* draw_reader_read's answers besides a byte count; the values of
 * libmicrohttpd's, so a content-reader callback may return them as is (and
 * suspend the connection on WAIT until the next set_available). */
#define DRAW_READER_WAIT ((ssize_t)0)
#define DRAW_READER_END ((ssize_t)-1)
#define DRAW_READER_ERROR ((ssize_t)-2)

typedef struct draw_reader draw_reader;

/* What a reader reads. Everything is borrowed until draw_reader_free. */
typedef struct draw_body {
    int draws_fd; /* chains x rows x d float64 */
    int stats_fd; /* chains x rows x nstats float64; -1: none */
    uint32_t chains;
    uint64_t rows;        /* kept draws per chain (the job's samples) */
    uint64_t warmup_rows; /* of those, the saved warmup's, first */
    size_t d;
    unsigned stats;           /* STAT_BIT mask of stats_fd's columns */
    const char *const *names; /* d parameter names; NULL: theta.1..theta.d */
} draw_body;

/* What it writes. */
typedef struct draw_output {
    draw_format fmt;
    int follow;     /* NDJSON only */
    int with_stats; /* CSV, JSON, NDJSON: the statistics too (needs stats_fd) */
    /* DRAW_CMDSTAN: comment blocks (cmdstan_text.h); NULL leaves one out */
    const char *prologue, *adaptation, *epilogue;
    /* Only the draws of the selection whose divergent__ statistic is 1
     * (its thin is then ignored); needs the body's statistics to have it. */
    int divergent;
    /* The parameter columns sent, strictly increasing indices below d
     * (borrowed; the reader keeps a copy); NULL: all d. */
    const uint32_t *params;
    size_t nparams;
} draw_output;

/* A reader of body for the selection sel (NULL: everything). DRAW_CMDSTAN
 * needs one chain (sel->chain, or a job of one chain). MCMC_OK, MCMC_EINVAL
 * (bad shape, selection or output), MCMC_EIO (a file it reads is not a
 * regular file: errno says why, EISDIR for a directory) or MCMC_ENOMEM;
 * *out is NULL on failure. */
int draw_reader_open_body(draw_reader **out, const draw_body *body, const draw_selection *sel,
                          const draw_output *o);
/* The plain case: fd's draws, no statistics, no warmup rows. Follow needs
 * DRAW_NDJSON. */
int draw_reader_open(draw_reader **out, int fd, uint32_t chains, uint64_t samples, size_t d,
                     const draw_selection *sel, draw_format fmt, int follow);

/* Draws 0 .. avail_per_chain[c] - 1 of every chain c (all `chains` of the
 * job, selected or not) are in the body; job_finished: no more will come.
 * Counts never go back: a smaller one than before is ignored. */
void draw_reader_set_available(draw_reader *r, const uint64_t *avail_per_chain, int job_finished);

/* Whether the reader selects divergent rows, which it finds by reading the
 * statistics' divergent__ column: a whole file for a long finished job. */
int draw_reader_scans(const draw_reader *r);
/* Reads that column up to avail_per_chain ahead of set_available, which
 * then reads only what lies beyond: for the thread pool, before the reader
 * is handed to the loop (it touches nothing but the reader and its files).
 * A failure is kept and answered by draw_reader_read. */
void draw_reader_prescan(draw_reader *r, const uint64_t *avail_per_chain);

/* Writes up to max bytes of output to buf and returns how many (> 0), or
 * DRAW_READER_WAIT (nothing to send yet: call again after set_available),
 * DRAW_READER_END (all sent) or DRAW_READER_ERROR (the body could not be
 * read, or max is 0; after a read error every call answers it). A reader
 * knows nothing before its first set_available and answers WAIT. */
ssize_t draw_reader_read(draw_reader *r, char *buf, size_t max);

/* The total bytes a snapshot .npy will have, once set_available has fixed
 * its rows; UINT64_MAX for other formats or before that. */
uint64_t draw_reader_content_length(const draw_reader *r);

void draw_reader_free(draw_reader *r);

#endif
