/* draw_reader.c - a job's draws and statistics bodies encoded on demand as
 * .npy, CSV, JSON, NDJSON or CmdStan CSV: selections, snapshots and follow
 * streams.
 *
 * One loop drives every format: a reader renders one piece at a time (a
 * comment block, the opening, one row, the closing) into its pending
 * buffer, or points at the owner's text, and hands that out across as many
 * reads as the caller's buffer sizes need. Rows come from a chunk cache
 * over each body, refilled by pread with the span of selected rows one
 * chunk holds. A snapshot is a follow stream whose per-chain limits are
 * fixed and whose visits are unbounded, so both share the row picker. JSON
 * with statistics walks the selection twice: the draws, then the
 * statistics. A divergent selection scans the statistics' divergent__
 * column as rows become available and keeps the draw numbers it finds, so
 * the row picker counts rows the same way; a column selection copies the
 * chosen values out of each full row before it is rendered.
 */
#include <errno.h>
#include <sys/stat.h>
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
#include "sampler.h"

#define CHUNK_BYTES (64 * 1024)
#define NPY_HEADER_MAX 512

enum stage {
    STAGE_PROLOGUE, /* CmdStan: the owner's prologue */
    STAGE_OPEN,     /* the .npy header, CSV header, JSON opening */
    STAGE_ROWS,
    STAGE_MIDDLE, /* JSON with statistics: between the draws and the statistics */
    STAGE_ADAPT,  /* CmdStan: the adaptation block, if no row came after the warmup */
    STAGE_CLOSE,
    STAGE_END
};
enum step { STEP_PIECE, STEP_WAIT, STEP_END, STEP_ERROR };

/* A cache of one body's bytes [off, off + len). */
typedef struct chunk {
    int fd;
    size_t row_bytes;
    char *data;
    size_t cap, len;
    uint64_t off;
} chunk;

struct draw_reader {
    draw_body body;
    draw_selection sel;
    draw_output out;
    draws_layout layout;
    uint32_t first_chain, nchains; /* the selected chains, consecutive */

    /* What may be sent, in selected rows per selected chain. */
    int known, finished;
    uint64_t rows;   /* snapshot: rows per chain */
    uint64_t *limit; /* per selected chain: rows that may be sent */
    uint64_t *sent;  /* per selected chain: rows sent in this pass */

    /* Where the output stands. */
    enum stage stage;
    int pass;              /* JSON: 0 the draws, 1 the statistics */
    int adaptation_sent;   /* CmdStan */
    uint32_t visit;        /* the selected chain being visited */
    uint64_t visit_left;   /* rows the visit may still send */
    uint64_t visit_budget; /* rows one visit may send */
    int failed;

    chunk draws, stats;
    double *theta, *stat_row;

    /* A column selection: its indices, names and values (else NULL). */
    uint32_t *cols;
    const char **col_names;
    char *col_name_text;
    double *col_theta;

    /* A divergent selection: per selected chain, the divergent draws found
     * (div_len of them) and the draw below which it has looked. */
    chunk scan; /* over the statistics body */
    size_t div_column;
    uint64_t **div, *div_len, *div_cap, *scanned;

    char *pending; /* rendered pieces go here */
    size_t pending_cap;
    const char *piece; /* the piece being handed out: pending or the owner's text */
    size_t piece_len, piece_pos;
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
    case DRAW_CMDSTAN:
        return "text/csv";
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

/* chains x rows x width float64 must be addressable with an off_t. */
static int shape_fits(uint32_t chains, uint64_t rows, size_t width) {
    if (chains == 0 || rows == 0 || width == 0) return 0;
    uint64_t limit = (uint64_t)INT64_MAX / sizeof(double);
    return rows <= limit / chains && width <= limit / (chains * rows);
}

/* Rows of one chain that one chunk read spans: at least one. */
static uint64_t rows_per_chunk(const chunk *c, uint64_t thin) {
    return 1 + (c->cap - c->row_bytes) / c->row_bytes / thin;
}

static int chunk_init(chunk *c, int fd, size_t row_bytes) {
    c->fd = fd;
    c->row_bytes = row_bytes;
    c->cap = row_bytes > CHUNK_BYTES ? row_bytes : CHUNK_BYTES;
    c->data = malloc(c->cap);
    return c->data ? MCMC_OK : MCMC_ENOMEM;
}

static unsigned stats_out(const draw_reader *r) {
    return r->out.with_stats || r->out.fmt == DRAW_CMDSTAN ? chain_stat_count(r->body.stats) : 0;
}

static int allocate_buffers(draw_reader *r) {
    unsigned nstats = stats_out(r);
    r->pending_cap = draws_layout_max(&r->layout);
    if (r->pending_cap == SIZE_MAX) return MCMC_ENOMEM;
    if (r->pending_cap < NPY_HEADER_MAX) r->pending_cap = NPY_HEADER_MAX;
    r->limit = calloc(r->nchains, sizeof *r->limit);
    r->sent = calloc(r->nchains, sizeof *r->sent);
    r->theta = malloc(r->body.d * sizeof(double));
    r->stat_row = malloc((nstats ? nstats : 1) * sizeof(double));
    r->pending = malloc(r->pending_cap);
    int rc = r->limit && r->sent && r->theta && r->stat_row && r->pending ? MCMC_OK : MCMC_ENOMEM;
    if (rc == MCMC_OK) rc = chunk_init(&r->draws, r->body.draws_fd, r->body.d * sizeof(double));
    if (rc == MCMC_OK && nstats)
        rc = chunk_init(&r->stats, r->body.stats_fd, nstats * sizeof(double));
    return rc;
}

static int output_fits(const draw_body *b, const draw_selection *sel, const draw_output *o) {
    if (!draw_format_content_type(o->fmt) || (o->follow && o->fmt != DRAW_NDJSON)) return 0;
    int wants_stats = o->fmt == DRAW_CMDSTAN || (o->with_stats && o->fmt != DRAW_NPY);
    if (o->with_stats && o->fmt == DRAW_NPY) return 0;
    if (wants_stats && (b->stats_fd < 0 || chain_stat_count(b->stats) == 0 ||
                        !shape_fits(b->chains, b->rows, chain_stat_count(b->stats))))
        return 0;
    return o->fmt != DRAW_CMDSTAN || sel->chain != DRAW_ALL_CHAINS || b->chains == 1;
}

/* A column selection within d, strictly increasing; a divergent one over
 * statistics that have divergent__, and of one chain where the format
 * needs rectangular rows. */
static int selection_fits(const draw_body *b, const draw_selection *sel, const draw_output *o) {
    if (o->params && o->nparams == 0) return 0;
    for (size_t i = 0; o->params && i < o->nparams; i++)
        if (o->params[i] >= b->d || (i > 0 && o->params[i] <= o->params[i - 1])) return 0;
    if (!o->divergent) return 1;
    if (b->stats_fd < 0 || !(b->stats & STAT_BIT(STAT_DIVERGENT)) ||
        !shape_fits(b->chains, b->rows, chain_stat_count(b->stats)))
        return 0;
    int one_chain = sel->chain != DRAW_ALL_CHAINS || b->chains == 1;
    return one_chain || (o->fmt != DRAW_NPY && o->fmt != DRAW_JSON);
}

/* The column selection's copy, names and row; the divergent selection's
 * lists and scan. */
static int allocate_selection(draw_reader *r) {
    const draw_output *o = &r->out;
    if (o->params) {
        size_t n = o->nparams;
        r->cols = malloc(n * sizeof *r->cols);
        r->col_names = malloc(n * sizeof *r->col_names);
        r->col_theta = malloc(n * sizeof *r->col_theta);
        r->col_name_text = r->body.names ? NULL : malloc(n * 24);
        if (!r->cols || !r->col_names || !r->col_theta || (!r->body.names && !r->col_name_text))
            return MCMC_ENOMEM;
        memcpy(r->cols, o->params, n * sizeof *r->cols);
        r->out.params = r->cols;
        for (size_t i = 0; i < n; i++) {
            char *name = r->col_name_text ? r->col_name_text + i * 24 : NULL;
            if (name) snprintf(name, 24, "theta.%u", (unsigned)r->cols[i] + 1);
            r->col_names[i] = name ? name : r->body.names[r->cols[i]];
        }
    }
    if (!o->divergent) return MCMC_OK;
    r->div = calloc(r->nchains, sizeof *r->div);
    r->div_len = calloc(r->nchains, sizeof *r->div_len);
    r->div_cap = calloc(r->nchains, sizeof *r->div_cap);
    r->scanned = calloc(r->nchains, sizeof *r->scanned);
    if (!r->div || !r->div_len || !r->div_cap || !r->scanned) return MCMC_ENOMEM;
    r->div_column = chain_stat_count(r->body.stats & (STAT_BIT(STAT_DIVERGENT) - 1));
    return chunk_init(&r->scan, r->body.stats_fd, chain_stat_count(r->body.stats) * sizeof(double));
}

/* Whether fd is a regular file: a directory put in a body's place would
 * otherwise read as no rows, after the answer's first line. errno says why
 * not. (A file cut short is read up to its end, then the read fails.) */
static int body_file_usable(int fd) {
    struct stat st;
    if (fstat(fd, &st) != 0) return 0;
    if (S_ISREG(st.st_mode)) return 1;
    errno = S_ISDIR(st.st_mode) ? EISDIR : EINVAL;
    return 0;
}

int draw_reader_open_body(draw_reader **out, const draw_body *body, const draw_selection *sel,
                          const draw_output *o) {
    if (!out) return MCMC_EINVAL;
    *out = NULL;
    draw_selection all = {.chain = DRAW_ALL_CHAINS, .start = 0, .stop = body->rows, .thin = 1};
    if (!sel) sel = &all;
    if (body->draws_fd < 0 || !shape_fits(body->chains, body->rows, body->d) ||
        body->warmup_rows > body->rows ||
        draw_selection_check(sel, body->chains, body->rows, NULL, 0) ||
        !output_fits(body, sel, o) || !selection_fits(body, sel, o))
        return MCMC_EINVAL;
    draw_reader *r = calloc(1, sizeof *r);
    if (!r) return MCMC_ENOMEM;
    *r = (draw_reader){.body = *body, .sel = *sel, .out = *o};
    r->out.follow = !!o->follow;
    r->out.divergent = !!o->divergent;
    if (r->out.divergent) r->sel.thin = 1;
    if (!o->params) r->out.nparams = 0;
    r->layout = (draws_layout){.d = o->params ? o->nparams : body->d,
                               .names = body->names,
                               .stats = stats_out(r) ? body->stats : 0,
                               .warmup = o->fmt != DRAW_CMDSTAN && body->warmup_rows > 0};
    r->first_chain = sel->chain == DRAW_ALL_CHAINS ? 0 : sel->chain;
    r->nchains = sel->chain == DRAW_ALL_CHAINS ? body->chains : 1;
    r->draws.fd = r->stats.fd = r->scan.fd = -1;
    int rc = allocate_selection(r);
    if (r->col_names) r->layout.names = r->col_names; /* the buffers are sized for these */
    if (rc != MCMC_OK || allocate_buffers(r) != MCMC_OK) {
        draw_reader_free(r);
        return MCMC_ENOMEM;
    }
    unsigned nstats = stats_out(r);
    if (!body_file_usable(body->draws_fd) ||
        ((nstats || r->out.divergent) && !body_file_usable(body->stats_fd))) {
        int e = errno;
        draw_reader_free(r);
        errno = e;
        return MCMC_EIO;
    }
    r->visit_budget = o->follow ? rows_per_chunk(&r->draws, sel->thin) : UINT64_MAX;
    r->visit_left = r->visit_budget;
    r->stage = o->fmt == DRAW_CMDSTAN ? STAGE_PROLOGUE : STAGE_OPEN;
    *out = r;
    return MCMC_OK;
}

int draw_reader_open(draw_reader **out, int fd, uint32_t chains, uint64_t samples, size_t d,
                     const draw_selection *sel, draw_format fmt, int follow) {
    draw_body body = {.draws_fd = fd, .stats_fd = -1, .chains = chains, .rows = samples, .d = d};
    draw_output o = {.fmt = fmt, .follow = follow};
    return draw_reader_open_body(out, &body, sel, &o);
}

void draw_reader_free(draw_reader *r) {
    if (!r) return;
    free(r->limit);
    free(r->sent);
    free(r->draws.data);
    free(r->stats.data);
    free(r->theta);
    free(r->stat_row);
    free(r->pending);
    free(r->cols);
    free(r->col_names);
    free(r->col_name_text);
    free(r->col_theta);
    free(r->scan.data);
    for (uint32_t k = 0; r->div && k < r->nchains; k++)
        free(r->div[k]);
    free(r->div);
    free(r->div_len);
    free(r->div_cap);
    free(r->scanned);
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

static int fill_chunk(chunk *c, uint64_t thin, uint64_t off, uint64_t left);

/* Appends draw i to selected chain k's divergences. */
static int add_divergence(draw_reader *r, uint32_t k, uint64_t i) {
    if (r->div_len[k] == r->div_cap[k]) {
        uint64_t cap = r->div_cap[k] ? 2 * r->div_cap[k] : 16;
        uint64_t *grown = realloc(r->div[k], cap * sizeof *grown);
        if (!grown) return MCMC_ENOMEM;
        r->div[k] = grown;
        r->div_cap[k] = cap;
    }
    r->div[k][r->div_len[k]++] = i;
    return MCMC_OK;
}

/* Looks at selected chain k's divergent__ from where it stopped up to
 * draw `below`, within [start, stop). */
static int scan_divergences(draw_reader *r, uint32_t k, uint64_t below) {
    chunk *c = &r->scan;
    uint64_t from = r->scanned[k] > r->sel.start ? r->scanned[k] : r->sel.start;
    uint64_t end = below < r->sel.stop ? below : r->sel.stop;
    for (uint64_t i = from; i < end; i++) {
        uint64_t off = ((uint64_t)(r->first_chain + k) * r->body.rows + i) * c->row_bytes;
        int cached = c->len && off >= c->off && off - c->off + c->row_bytes <= c->len;
        if (!cached && fill_chunk(c, 1, off, end - i) != MCMC_OK) return MCMC_EIO;
        double v;
        memcpy(&v, c->data + (off - c->off) + r->div_column * sizeof(double), sizeof v);
        if (v == 1.0 && add_divergence(r, k, i) != MCMC_OK) return MCMC_ENOMEM;
    }
    if (end > r->scanned[k]) r->scanned[k] = end;
    return MCMC_OK;
}

/* Scans each selected chain's divergences below its count (a snapshot:
 * below the fewest any selected chain has); 0, or -1 on a read error. */
static int scan_available(draw_reader *r, const uint64_t *avail_per_chain) {
    uint64_t fewest = UINT64_MAX;
    for (uint32_t k = 0; k < r->nchains; k++) {
        uint64_t avail = avail_per_chain[r->first_chain + k];
        if (avail < fewest) fewest = avail;
    }
    for (uint32_t k = 0; k < r->nchains; k++) {
        uint64_t below = r->out.follow ? avail_per_chain[r->first_chain + k] : fewest;
        if (below > r->body.rows) below = r->body.rows;
        if (scan_divergences(r, k, below) != MCMC_OK) return -1;
    }
    return 0;
}

/* A divergent selection's rows: the divergences found below the counts. */
static void set_divergent_limits(draw_reader *r, const uint64_t *avail_per_chain) {
    if (!r->failed && scan_available(r, avail_per_chain) != 0) r->failed = 1;
    for (uint32_t k = 0; k < r->nchains; k++)
        r->limit[k] = r->div_len[k];
    r->rows = r->limit[0];
}

int draw_reader_scans(const draw_reader *r) {
    return r && r->out.divergent;
}

void draw_reader_prescan(draw_reader *r, const uint64_t *avail_per_chain) {
    if (draw_reader_scans(r) && avail_per_chain && !r->failed &&
        scan_available(r, avail_per_chain) != 0)
        r->failed = 1;
}

void draw_reader_set_available(draw_reader *r, const uint64_t *avail_per_chain, int job_finished) {
    if (!r || !avail_per_chain || (r->known && !r->out.follow)) return;
    if (r->out.divergent) set_divergent_limits(r, avail_per_chain);
    for (uint32_t k = 0; k < r->nchains && !r->out.divergent; k++) {
        uint64_t avail = avail_per_chain[r->first_chain + k];
        uint64_t rows = selected_below(&r->sel, avail < r->body.rows ? avail : r->body.rows);
        if (rows > r->limit[k]) r->limit[k] = rows;
    }
    if (job_finished) r->finished = 1;
    if (!r->out.follow && !r->out.divergent) fix_snapshot(r);
    r->known = 1;
}

uint64_t draw_reader_content_length(const draw_reader *r) {
    if (r->out.fmt != DRAW_NPY || !r->known) return UINT64_MAX;
    char header[NPY_HEADER_MAX];
    uint64_t shape[3] = {r->nchains, r->rows, r->layout.d};
    return npy_header(header, sizeof header, shape, 3) +
           r->nchains * r->rows * r->layout.d * sizeof(double);
}

/* ---- rows from the bodies ---- */

/* Reads, from the row at off on, as many of the `left` selected rows of
 * its chain as one chunk holds. */
static int fill_chunk(chunk *c, uint64_t thin, uint64_t off, uint64_t left) {
    uint64_t rows = rows_per_chunk(c, thin);
    if (rows > left) rows = left;
    size_t len = (size_t)(((rows - 1) * thin + 1) * c->row_bytes);
    c->len = 0;
    for (size_t got = 0; got < len;) {
        ssize_t n = pread(c->fd, c->data + got, len - got, (off_t)(off + got));
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) return MCMC_EIO; /* a row said to be there is not */
        got += (size_t)n;
    }
    c->off = off;
    c->len = len;
    return MCMC_OK;
}

/* The draw that goes next from selected chain k. */
static uint64_t next_draw(const draw_reader *r, uint32_t k) {
    if (r->out.divergent) return r->div[k][r->sent[k]];
    return r->sel.start + r->sent[k] * r->sel.thin;
}

/* Copies the next row of selected chain k from c's body into dst. */
static int load_row(draw_reader *r, chunk *c, uint32_t k, double *dst) {
    uint64_t row = (uint64_t)(r->first_chain + k) * r->body.rows + next_draw(r, k);
    uint64_t off = row * c->row_bytes;
    int cached = c->len && off >= c->off && off - c->off + c->row_bytes <= c->len;
    if (!cached && fill_chunk(c, r->sel.thin, off, r->limit[k] - r->sent[k]) != MCMC_OK)
        return MCMC_EIO;
    memcpy(dst, c->data + (off - c->off), c->row_bytes);
    return MCMC_OK;
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
    return r->out.follow && !r->finished ? STEP_WAIT : STEP_END;
}

/* ---- rendering ---- */

static void set_piece(draw_reader *r, const char *text, size_t len) {
    r->piece = text;
    r->piece_len = len;
    r->piece_pos = 0;
}

static void set_text(draw_reader *r, const char *text) {
    set_piece(r, text ? text : "", text ? strlen(text) : 0);
}

static void set_rendered(draw_reader *r, size_t len) {
    set_piece(r, r->pending, len);
}

/* JSON's "warmup_draws": the selected rows below warmup_rows, of those sent. */
static uint64_t warmup_rows_out(const draw_reader *r) {
    uint64_t w = 0;
    if (!r->out.divergent)
        w = selected_below(&r->sel, r->body.warmup_rows);
    else /* one chain: its divergences in draw order */
        while (w < r->div_len[0] && r->div[0][w] < r->body.warmup_rows)
            w++;
    return w < r->rows ? w : r->rows;
}

static size_t render_opening(draw_reader *r) {
    char *buf = r->pending;
    size_t cap = r->pending_cap;
    uint64_t shape[3] = {r->nchains, r->rows, r->layout.d};
    switch (r->out.fmt) {
    case DRAW_NPY:
        return npy_header(buf, cap, shape, 3);
    case DRAW_CSV:
        return draws_render_csv_header_of(buf, cap, &r->layout);
    case DRAW_JSON:
        return draws_render_json_open_of(buf, cap, &r->layout, r->nchains, r->rows,
                                         warmup_rows_out(r));
    case DRAW_CMDSTAN:
        return draws_render_cmdstan_header(buf, cap, &r->layout);
    case DRAW_NDJSON:
        return 0;
    }
    return 0;
}

/* Loads what the row of selected chain k needs and renders it. */
static int render_row(draw_reader *r, uint32_t k, size_t *len) {
    int json_stats = r->out.fmt == DRAW_JSON && r->pass == 1;
    if (!json_stats && load_row(r, &r->draws, k, r->theta) != MCMC_OK) return MCMC_EIO;
    const double *theta = r->theta;
    if (r->cols && !json_stats) {
        for (size_t i = 0; i < r->out.nparams; i++)
            r->col_theta[i] = r->theta[r->cols[i]];
        theta = r->col_theta;
    }
    if ((json_stats || (r->layout.stats && r->out.fmt != DRAW_JSON)) &&
        load_row(r, &r->stats, k, r->stat_row) != MCMC_OK)
        return MCMC_EIO;
    char *buf = r->pending;
    size_t cap = r->pending_cap;
    draws_row row = {
        .chain = r->first_chain + k, .draw = next_draw(r, k), .stats = r->stat_row, .theta = theta};
    row.warmup = row.draw < r->body.warmup_rows;
    switch (r->out.fmt) {
    case DRAW_NPY: /* the body is little-endian, as '<f8' is */
        *len = r->layout.d * sizeof(double);
        memcpy(buf, theta, *len);
        break;
    case DRAW_CSV:
        *len = draws_render_csv_row_of(buf, cap, &r->layout, &row);
        break;
    case DRAW_NDJSON:
        *len = draws_render_ndjson_row_of(buf, cap, &r->layout, &row);
        break;
    case DRAW_CMDSTAN:
        *len = draws_render_cmdstan_row(buf, cap, &r->layout, &row);
        break;
    case DRAW_JSON: {
        unsigned place = (k == 0 ? DRAWS_JSON_FIRST_CHAIN : 0) |
                         (r->sent[k] == 0 ? DRAWS_JSON_FIRST_ROW : 0) |
                         (r->sent[k] + 1 == r->rows ? DRAWS_JSON_LAST_ROW : 0);
        *len = json_stats
                   ? draws_render_json_row(buf, cap, r->stat_row, r->stats.row_bytes / 8, place)
                   : draws_render_json_row(buf, cap, theta, r->layout.d, place);
        break;
    }
    }
    return MCMC_OK;
}

/* JSON with no rows: one [] per chain, the visit walking the chains. */
static enum step render_empty_chain(draw_reader *r) {
    if (r->visit >= r->nchains) return STEP_END;
    set_rendered(r, draws_render_json_empty_chain(r->pending, r->pending_cap, r->visit == 0));
    r->visit++;
    return STEP_PIECE;
}

/* CmdStan: the adaptation block goes before the first post-warmup row. */
static int adaptation_due(const draw_reader *r) {
    return r->out.fmt == DRAW_CMDSTAN && !r->adaptation_sent && r->sent[0] < r->limit[0] &&
           next_draw(r, 0) >= r->body.warmup_rows;
}

static enum step render_next_row(draw_reader *r) {
    if (r->out.fmt == DRAW_JSON && r->rows == 0) return render_empty_chain(r);
    if (adaptation_due(r)) {
        r->adaptation_sent = 1;
        set_text(r, r->out.adaptation);
        return STEP_PIECE;
    }
    uint32_t k;
    enum step step = pick_chain(r, &k);
    if (step != STEP_PIECE) return step;
    size_t len = 0;
    if (render_row(r, k, &len) != MCMC_OK) return STEP_ERROR;
    set_rendered(r, len);
    r->sent[k]++;
    return STEP_PIECE;
}

/* The statistics' pass of JSON: the same selection again. */
static void start_stats_pass(draw_reader *r) {
    r->pass = 1;
    memset(r->sent, 0, r->nchains * sizeof *r->sent);
    r->visit = 0;
    r->visit_left = r->visit_budget;
    set_rendered(r, draws_render_json_stats_open(r->pending, r->pending_cap, &r->layout));
}

static enum stage after_rows(const draw_reader *r) {
    if (r->out.fmt == DRAW_JSON && r->layout.stats && r->pass == 0) return STAGE_MIDDLE;
    return r->out.fmt == DRAW_CMDSTAN ? STAGE_ADAPT : STAGE_CLOSE;
}

static void render_close(draw_reader *r) {
    if (r->out.fmt == DRAW_JSON)
        set_rendered(r, draws_render_json_close(r->pending, r->pending_cap));
    else if (r->out.fmt == DRAW_CMDSTAN)
        set_text(r, r->out.epilogue);
}

/* Renders the next piece; a piece may be empty. */
static enum step render_next(draw_reader *r) {
    set_piece(r, r->pending, 0);
    if (r->failed) return STEP_ERROR;
    if (!r->known) return STEP_WAIT;
    enum step step = STEP_PIECE;
    switch (r->stage) {
    case STAGE_PROLOGUE:
        set_text(r, r->out.prologue);
        r->stage = STAGE_OPEN;
        break;
    case STAGE_OPEN:
        set_rendered(r, render_opening(r));
        r->stage = STAGE_ROWS;
        break;
    case STAGE_ROWS:
        step = render_next_row(r);
        if (step == STEP_END) r->stage = after_rows(r), step = STEP_PIECE;
        break;
    case STAGE_MIDDLE:
        start_stats_pass(r);
        r->stage = STAGE_ROWS;
        break;
    case STAGE_ADAPT: /* no post-warmup row came: the block still belongs before the end */
        if (!r->adaptation_sent) set_text(r, r->out.adaptation);
        r->adaptation_sent = 1;
        r->stage = STAGE_CLOSE;
        break;
    case STAGE_CLOSE:
        render_close(r);
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
        size_t unsent = r->piece_len - r->piece_pos;
        if (unsent > 0) {
            size_t n = unsent < max - done ? unsent : max - done;
            memcpy(buf + done, r->piece + r->piece_pos, n);
            r->piece_pos += n;
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
