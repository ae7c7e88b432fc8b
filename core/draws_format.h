/* draws_format.h - the text of draws, rendered into caller buffers: CSV,
 * CmdStan CSV, JSON and NDJSON pieces, one number or one row at a time,
 * with no FILE and no allocation. The offline runner (draws_file.c) and the
 * daemon (the draw reader) both render through here, so they write the
 * same bytes.
 *
 * Numbers: the shortest of %.15g, %.16g and %.17g that reads back exactly.
 * JSON and NDJSON write non-finite values as null; CSV writes NaN, inf and
 * -inf; CmdStan CSV writes nan, inf and -inf, as CmdStan does.
 *
 * A layout says what a row carries besides its d parameters: the sampler's
 * per-iteration statistics (a STAT_BIT mask, columns in STAT order with
 * CmdStan's names, before the parameters), whether rows say if they are
 * warmup draws, and the parameters' names (theta.1..theta.d by default).
 *
 * Every piece function takes a buffer of `cap` bytes and returns the bytes
 * written (a NUL follows them, not counted). A buffer of
 * draws_layout_max(layout) bytes (draws_render_max(d) for the plain
 * layout) is enough for any piece; a smaller cap makes a piece function
 * write nothing and return 0.
 */
#ifndef MCMCD_DRAWS_FORMAT_H
#define MCMCD_DRAWS_FORMAT_H

#include <stddef.h>
#include <stdint.h>

/* Bytes enough for one number and its NUL. */
#define DRAWS_NUMBER_MAX 32

typedef struct draws_layout {
    size_t d;
    const char *const *names; /* d parameter names; NULL: theta.1..theta.d */
    unsigned stats;           /* STAT_BIT mask of the statistic columns; 0: none */
    int warmup;               /* CSV rows get a warmup column (0/1), NDJSON a field */
} draws_layout;

/* One row: where it is in the job, and its values. */
typedef struct draws_row {
    uint32_t chain;
    uint64_t draw;       /* the job's own index among the chain's kept draws */
    int warmup;          /* a warmup draw (saved with save_warmup) */
    const double *stats; /* the layout's statistics, in STAT order */
    const double *theta; /* d values */
} draws_row;

/* Bytes enough for any one piece below (with its NUL). SIZE_MAX when no
 * buffer could be that big. */
size_t draws_layout_max(const draws_layout *l);
/* The same for the plain layout of d parameters. */
size_t draws_render_max(size_t d);

/* One number into buf (at least DRAWS_NUMBER_MAX bytes); returns its length. */
size_t draws_render_json_number(char *buf, double v);
size_t draws_render_csv_number(char *buf, double v);
size_t draws_render_cmdstan_number(char *buf, double v);

/* CSV: the header "chain,draw[,warmup][,lp__,...],theta.1,...,theta.d\n",
 * and one row "chain,draw[,0|1][,stats...],v1,...,vd\n". */
size_t draws_render_csv_header_of(char *buf, size_t cap, const draws_layout *l);
size_t draws_render_csv_row_of(char *buf, size_t cap, const draws_layout *l, const draws_row *row);
/* The plain layout: no statistics, no warmup column, theta names. */
size_t draws_render_csv_header(char *buf, size_t cap, size_t d);
size_t draws_render_csv_row(char *buf, size_t cap, uint32_t chain, uint64_t draw, const double *row,
                            size_t d);

/* CmdStan CSV: the header "lp__,accept_stat__,...,theta.1,...\n" (the
 * layout's statistics, then the parameters; no chain or draw column) and
 * one row of values. The comment blocks around them are cmdstan_text.h's. */
size_t draws_render_cmdstan_header(char *buf, size_t cap, const draws_layout *l);
size_t draws_render_cmdstan_row(char *buf, size_t cap, const draws_layout *l, const draws_row *row);

/* JSON: {"shape":[chains,rows,d][,"warmup_draws":w],"draws":[ ... ]
 * [,"stat_names":[...],"stats":[ ... ]]}\n, chain by chain: the draws,
 * then, when the layout has statistics, the statistics in the same shape
 * with nstats columns. warmup_draws (written when the layout has warmup
 * set) is how many leading rows of each chain are warmup draws. A row says
 * where it stands with these flags: the first row of a chain opens it
 * ("[[", or ",[[" after an earlier chain), the last closes it. A chain with
 * no rows is rendered whole by draws_render_json_empty_chain. */
enum draws_json_place {
    DRAWS_JSON_FIRST_CHAIN = 1, /* the row's chain is the first in the array */
    DRAWS_JSON_FIRST_ROW = 2,   /* the first row of its chain */
    DRAWS_JSON_LAST_ROW = 4,    /* the last row of its chain */
};
size_t draws_render_json_open_of(char *buf, size_t cap, const draws_layout *l, uint32_t chains,
                                 uint64_t rows, uint64_t warmup_rows);
size_t draws_render_json_open(char *buf, size_t cap, uint32_t chains, uint64_t samples, size_t d);
/* A row of n values (d for draws, the statistics' count for stats). */
size_t draws_render_json_row(char *buf, size_t cap, const double *row, size_t n, unsigned place);
size_t draws_render_json_empty_chain(char *buf, size_t cap, int first_chain);
/* Between the draws and the statistics: ],"stat_names":[...],"stats":[ */
size_t draws_render_json_stats_open(char *buf, size_t cap, const draws_layout *l);
size_t draws_render_json_close(char *buf, size_t cap);

/* NDJSON: one line {"chain":c,"draw":i[,"warmup":true|false][,"lp__":v,...],
 * "theta":[v1,...,vd]}\n. */
size_t draws_render_ndjson_row_of(char *buf, size_t cap, const draws_layout *l,
                                  const draws_row *row);
size_t draws_render_ndjson_row(char *buf, size_t cap, uint32_t chain, uint64_t draw,
                               const double *row, size_t d);

#endif
