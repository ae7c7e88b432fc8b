/* draw_reader.c - a job's draws body encoded on demand as .npy, CSV, JSON or
 * NDJSON: selections, snapshots and follow streams.
 *
 * One loop drives every format: a reader renders one piece at a time (the
 * opening, one row, the closing) into its pending buffer and hands that out
 * across as many reads as the caller's buffer sizes need. Rows come from a
 * chunk cache over the body, refilled by pread with the span of selected
 * rows one chunk holds. A snapshot is a follow stream whose per-chain
 * limits are fixed and whose visits are unbounded, so both share the row
 * picker.
 */
#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "draw_reader.h"
#include "draws_file.h"
#include "draws_format.h"
#include "errors.h"

#define CHUNK_BYTES (64 * 1024)
#define NPY_HEADER_MAX 512

enum stage { STAGE_OPEN, STAGE_ROWS, STAGE_CLOSE, STAGE_END };
enum step { STEP_PIECE, STEP_WAIT, STEP_END, STEP_ERROR };

struct draw_reader {
    int fd; /* borrowed */
    uint32_t chains;
    uint64_t samples;
    size_t d, row_bytes;
    draw_selection sel;
    draw_format fmt;
    int follow;
    uint32_t first_chain, nchains; /* the selected chains, consecutive */

    /* What may be sent, in selected rows per selected chain. */
    int known, finished;
    uint64_t rows;   /* snapshot: rows per chain */
    uint64_t *limit; /* per selected chain: rows that may be sent */
    uint64_t *sent;  /* per selected chain: rows sent */

    /* Where the output stands. */
    enum stage stage;
    uint32_t visit;        /* the selected chain being visited */
    uint64_t visit_left;   /* rows the visit may still send */
    uint64_t visit_budget; /* rows one visit may send */
    int failed;

    char *chunk; /* cache of body bytes [chunk_off, chunk_off + chunk_len) */
    size_t chunk_cap, chunk_len;
    uint64_t chunk_off;
    double *row;

    char *pending; /* a rendered piece: bytes [pending_pos, pending_len) are unsent */
    size_t pending_cap, pending_len, pending_pos;
};

const char *draw_format_content_type(draw_format fmt) {
    switch (fmt) {
    case DRAW_NPY:
        return "application/x-npy";
    case DRAW_CSV:
        return "text/csv";
    case DRAW_JSON:
        return "application/json";
    case DRAW_NDJSON:
        return "application/x-ndjson";
    }
    return NULL;
}

/* ---- selections ---- */

static int fail(char *err, size_t errlen, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static int fail(char *err, size_t errlen, const char *fmt, ...) {
    if (err && errlen) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(err, errlen, fmt, ap);
        va_end(ap);
    }
    return MCMC_EINVAL;
}

/* Decimal digits only, no sign or spaces, and no wrap past UINT64_MAX. */
static int parse_count(const char *s, uint64_t *out) {
    uint64_t v = 0;
    if (!*s) return 0;
    for (; *s; s++) {
        if (*s < '0' || *s > '9') return 0;
        unsigned digit = (unsigned)(*s - '0');
        if (v > (UINT64_MAX - digit) / 10) return 0;
        v = v * 10 + digit;
    }
    *out = v;
    return 1;
}

int draw_selection_check(const draw_selection *sel, uint32_t chains, uint64_t samples, char *err,
                         size_t errlen) {
    if (sel->chain != DRAW_ALL_CHAINS && sel->chain >= chains)
        return fail(err, errlen, "chain must be < %u", chains);
    if (sel->start > samples)
        return fail(err, errlen, "start must be <= %llu", (unsigned long long)samples);
    if (sel->stop > samples)
        return fail(err, errlen, "stop must be <= %llu", (unsigned long long)samples);
    if (sel->start > sel->stop) return fail(err, errlen, "start must be <= stop");
    if (sel->thin < 1) return fail(err, errlen, "thin must be >= 1");
    return MCMC_OK;
}

int draw_selection_resolve(draw_selection *out, const draw_query *q, uint32_t chains,
                           uint64_t samples, char *err, size_t errlen) {
    draw_selection sel = {.chain = DRAW_ALL_CHAINS, .start = 0, .stop = samples, .thin = 1};
    uint64_t chain = 0;
    if (q->chain && !parse_count(q->chain, &chain))
        return fail(err, errlen, "chain must be an integer >= 0");
    if (q->chain && chain >= chains) return fail(err, errlen, "chain must be < %u", chains);
    if (q->chain) sel.chain = (uint32_t)chain;
    if (q->start && !parse_count(q->start, &sel.start))
        return fail(err, errlen, "start must be an integer >= 0");
    if (q->stop && !parse_count(q->stop, &sel.stop))
        return fail(err, errlen, "stop must be an integer >= 0");
    if (q->thin && !parse_count(q->thin, &sel.thin))
        return fail(err, errlen, "thin must be an integer >= 1");
    int rc = draw_selection_check(&sel, chains, samples, err, errlen);
    if (rc == MCMC_OK) *out = sel;
    return rc;
}

/* The selected draws below draw `below`. */
static uint64_t selected_below(const draw_selection *sel, uint64_t below) {
    uint64_t end = below < sel->stop ? below : sel->stop;
    return end <= sel->start ? 0 : (end - sel->start - 1) / sel->thin + 1;
}

/* ---- opening and closing ---- */

/* chains x samples x d float64 must be addressable with an off_t. */
static int shape_fits(uint32_t chains, uint64_t samples, size_t d) {
    if (chains == 0 || samples == 0 || d == 0) return 0;
    uint64_t limit = (uint64_t)INT64_MAX / sizeof(double);
    return samples <= limit / chains && d <= limit / (chains * samples);
}

/* Rows of one chain that one chunk read spans: at least one. */
static uint64_t rows_per_chunk(const draw_reader *r) {
    return 1 + (r->chunk_cap - r->row_bytes) / r->row_bytes / r->sel.thin;
}

static int allocate_buffers(draw_reader *r) {
    r->chunk_cap = r->row_bytes > CHUNK_BYTES ? r->row_bytes : CHUNK_BYTES;
    r->pending_cap = draws_render_max(r->d);
    if (r->pending_cap < NPY_HEADER_MAX) r->pending_cap = NPY_HEADER_MAX;
    r->limit = calloc(r->nchains, sizeof *r->limit);
    r->sent = calloc(r->nchains, sizeof *r->sent);
    r->chunk = malloc(r->chunk_cap);
    r->row = malloc(r->row_bytes);
    r->pending = malloc(r->pending_cap);
    return r->limit && r->sent && r->chunk && r->row && r->pending ? MCMC_OK : MCMC_ENOMEM;
}

int draw_reader_open(draw_reader **out, int fd, uint32_t chains, uint64_t samples, size_t d,
                     const draw_selection *sel, draw_format fmt, int follow) {
    if (!out) return MCMC_EINVAL;
    *out = NULL;
    draw_selection all = {.chain = DRAW_ALL_CHAINS, .start = 0, .stop = samples, .thin = 1};
    if (!sel) sel = &all;
    if (fd < 0 || !shape_fits(chains, samples, d) || !draw_format_content_type(fmt) ||
        (follow && fmt != DRAW_NDJSON) || draw_selection_check(sel, chains, samples, NULL, 0))
        return MCMC_EINVAL;
    draw_reader *r = calloc(1, sizeof *r);
    if (!r) return MCMC_ENOMEM;
    *r = (draw_reader){.fd = fd, .chains = chains, .samples = samples, .d = d, .sel = *sel};
    r->row_bytes = d * sizeof(double);
    r->fmt = fmt;
    r->follow = !!follow;
    r->first_chain = sel->chain == DRAW_ALL_CHAINS ? 0 : sel->chain;
    r->nchains = sel->chain == DRAW_ALL_CHAINS ? chains : 1;
    if (allocate_buffers(r) != MCMC_OK) {
        draw_reader_free(r);
        return MCMC_ENOMEM;
    }
    r->visit_budget = follow ? rows_per_chunk(r) : UINT64_MAX;
    r->visit_left = r->visit_budget;
    *out = r;
    return MCMC_OK;
}

void draw_reader_free(draw_reader *r) {
    if (!r) return;
    free(r->limit);
    free(r->sent);
    free(r->chunk);
    free(r->row);
    free(r->pending);
    free(r);
}

/* ---- what is available ---- */

/* A snapshot's rows: the fewest any selected chain has. */
static void fix_snapshot(draw_reader *r) {
    uint64_t rows = UINT64_MAX;
    for (uint32_t k = 0; k < r->nchains; k++)
        if (r->limit[k] < rows) rows = r->limit[k];
    for (uint32_t k = 0; k < r->nchains; k++)
        r->limit[k] = rows;
    r->rows = rows;
}

void draw_reader_set_available(draw_reader *r, const uint64_t *avail_per_chain, int job_finished) {
    if (!r || !avail_per_chain || (r->known && !r->follow)) return;
    for (uint32_t k = 0; k < r->nchains; k++) {
        uint64_t avail = avail_per_chain[r->first_chain + k];
        uint64_t rows = selected_below(&r->sel, avail < r->samples ? avail : r->samples);
        if (rows > r->limit[k]) r->limit[k] = rows;
    }
    if (job_finished) r->finished = 1;
    if (!r->follow) fix_snapshot(r);
    r->known = 1;
}

uint64_t draw_reader_content_length(const draw_reader *r) {
    if (r->fmt != DRAW_NPY || !r->known) return UINT64_MAX;
    char header[NPY_HEADER_MAX];
    uint64_t shape[3] = {r->nchains, r->rows, r->d};
    return npy_header(header, sizeof header, shape, 3) + r->nchains * r->rows * r->row_bytes;
}

/* ---- rows from the body ---- */

static uint64_t body_offset(const draw_reader *r, uint32_t chain, uint64_t draw) {
    return ((uint64_t)chain * r->samples + draw) * r->row_bytes;
}

/* Reads, from the row at off on, as many of the `left` selected rows of
 * its chain as one chunk holds. */
static int fill_chunk(draw_reader *r, uint64_t off, uint64_t left) {
    uint64_t rows = rows_per_chunk(r);
    if (rows > left) rows = left;
    size_t len = (size_t)(((rows - 1) * r->sel.thin + 1) * r->row_bytes);
    r->chunk_len = 0;
    for (size_t got = 0; got < len;) {
        ssize_t n = pread(r->fd, r->chunk + got, len - got, (off_t)(off + got));
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) return MCMC_EIO; /* a row said to be there is not */
        got += (size_t)n;
    }
    r->chunk_off = off;
    r->chunk_len = len;
    return MCMC_OK;
}

/* The bytes of the next row of selected chain k, read through the cache. */
static const char *load_row(draw_reader *r, uint32_t k) {
    uint64_t draw = r->sel.start + r->sent[k] * r->sel.thin;
    uint64_t off = body_offset(r, r->first_chain + k, draw);
    int cached = off >= r->chunk_off && off - r->chunk_off + r->row_bytes <= r->chunk_len;
    if (!cached && fill_chunk(r, off, r->limit[k] - r->sent[k]) != MCMC_OK) return NULL;
    return r->chunk + (off - r->chunk_off);
}

/* The selected chain whose row goes next, visiting chains in turn. With
 * none, the visit stays where it was: waiting changes nothing, however
 * often the caller asks. */
static enum step pick_chain(draw_reader *r, uint32_t *k) {
    uint32_t at = r->visit;
    uint64_t left = r->visit_left;
    for (uint32_t tries = 0; tries <= r->nchains; tries++) {
        if (left > 0 && r->sent[at] < r->limit[at]) {
            r->visit = at;
            r->visit_left = left - 1;
            *k = at;
            return STEP_PIECE;
        }
        at = at + 1 < r->nchains ? at + 1 : 0;
        left = r->visit_budget;
    }
    return r->follow && !r->finished ? STEP_WAIT : STEP_END;
}

/* ---- rendering ---- */

static size_t render_opening(draw_reader *r) {
    char *buf = r->pending;
    size_t cap = r->pending_cap;
    uint64_t shape[3] = {r->nchains, r->rows, r->d};
    switch (r->fmt) {
    case DRAW_NPY:
        return npy_header(buf, cap, shape, 3);
    case DRAW_CSV:
        return draws_render_csv_header(buf, cap, r->d);
    case DRAW_JSON:
        return draws_render_json_open(buf, cap, r->nchains, r->rows, r->d);
    case DRAW_NDJSON:
        return 0;
    }
    return 0;
}

static size_t render_row(draw_reader *r, uint32_t k, const char *bytes) {
    if (r->fmt == DRAW_NPY) { /* the body is little-endian, as '<f8' is */
        memcpy(r->pending, bytes, r->row_bytes);
        return r->row_bytes;
    }
    memcpy(r->row, bytes, r->row_bytes);
    uint32_t chain = r->first_chain + k;
    uint64_t draw = r->sel.start + r->sent[k] * r->sel.thin;
    char *buf = r->pending;
    size_t cap = r->pending_cap;
    if (r->fmt == DRAW_CSV) return draws_render_csv_row(buf, cap, chain, draw, r->row, r->d);
    if (r->fmt == DRAW_NDJSON) return draws_render_ndjson_row(buf, cap, chain, draw, r->row, r->d);
    unsigned place = (k == 0 ? DRAWS_JSON_FIRST_CHAIN : 0) |
                     (r->sent[k] == 0 ? DRAWS_JSON_FIRST_ROW : 0) |
                     (r->sent[k] + 1 == r->rows ? DRAWS_JSON_LAST_ROW : 0);
    return draws_render_json_row(buf, cap, r->row, r->d, place);
}

/* JSON with no rows: one [] per chain, the visit walking the chains. */
static enum step render_empty_chain(draw_reader *r) {
    if (r->visit >= r->nchains) return STEP_END;
    r->pending_len = draws_render_json_empty_chain(r->pending, r->pending_cap, r->visit == 0);
    r->visit++;
    return STEP_PIECE;
}

static enum step render_next_row(draw_reader *r) {
    if (r->fmt == DRAW_JSON && r->rows == 0) return render_empty_chain(r);
    uint32_t k;
    enum step step = pick_chain(r, &k);
    if (step != STEP_PIECE) return step;
    const char *bytes = load_row(r, k);
    if (!bytes) return STEP_ERROR;
    r->pending_len = render_row(r, k, bytes);
    r->sent[k]++;
    return STEP_PIECE;
}

/* Renders the next piece into pending; a piece may be empty. */
static enum step render_next(draw_reader *r) {
    r->pending_pos = r->pending_len = 0;
    if (r->failed) return STEP_ERROR;
    if (!r->known) return STEP_WAIT;
    enum step step = STEP_PIECE;
    switch (r->stage) {
    case STAGE_OPEN:
        r->pending_len = render_opening(r);
        r->stage = STAGE_ROWS;
        break;
    case STAGE_ROWS:
        step = render_next_row(r);
        if (step == STEP_END) r->stage = STAGE_CLOSE, step = STEP_PIECE;
        break;
    case STAGE_CLOSE:
        if (r->fmt == DRAW_JSON)
            r->pending_len = draws_render_json_close(r->pending, r->pending_cap);
        r->stage = STAGE_END;
        break;
    case STAGE_END:
        step = STEP_END;
        break;
    }
    if (step == STEP_ERROR) r->failed = 1;
    return step;
}

ssize_t draw_reader_read(draw_reader *r, char *buf, size_t max) {
    if (!r || !buf || max == 0) return DRAW_READER_ERROR;
    if (max > SSIZE_MAX) max = SSIZE_MAX;
    size_t done = 0;
    while (done < max) {
        size_t unsent = r->pending_len - r->pending_pos;
        if (unsent > 0) {
            size_t n = unsent < max - done ? unsent : max - done;
            memcpy(buf + done, r->pending + r->pending_pos, n);
            r->pending_pos += n;
            done += n;
            continue;
        }
        enum step step = render_next(r);
        if (step == STEP_PIECE) continue;
        if (done > 0) break; /* hand these out; the step comes again next call */
        return step == STEP_WAIT  ? DRAW_READER_WAIT
               : step == STEP_END ? DRAW_READER_END
                                  : DRAW_READER_ERROR;
    }
    return (ssize_t)done;
}
