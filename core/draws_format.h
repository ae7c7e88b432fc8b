/* draws_format.h - the text of draws, rendered into caller buffers: CSV,
 * JSON and NDJSON pieces, one number or one row at a time, with no FILE and
 * no allocation. The offline runner (draws_file.c) and the daemon (the
 * draw reader) both render through here, so they write the same bytes.
 *
 * Numbers: the shortest of %.15g, %.16g and %.17g that reads back exactly.
 * JSON and NDJSON write non-finite values as null; CSV writes NaN, inf and
 * -inf.
 *
 * Every piece function takes a buffer of `cap` bytes and returns the bytes
 * written (a NUL follows them, not counted). A buffer of
 * draws_render_max(d) bytes is enough for any piece of a d-parameter
 * array; a smaller cap makes a piece function write nothing and return 0.
 */
#ifndef MCMCD_DRAWS_FORMAT_H
#define MCMCD_DRAWS_FORMAT_H

#include <stddef.h>
#include <stdint.h>

/* Bytes enough for one number and its NUL. */
#define DRAWS_NUMBER_MAX 32

/* Bytes enough for any one piece below (with its NUL) for d parameters. */
size_t draws_render_max(size_t d);

/* One number into buf (at least DRAWS_NUMBER_MAX bytes); returns its length. */
size_t draws_render_json_number(char *buf, double v);
size_t draws_render_csv_number(char *buf, double v);

/* CSV: the header "chain,draw,theta.1,...,theta.d\n", and one row
 * "chain,draw,v1,...,vd\n". */
size_t draws_render_csv_header(char *buf, size_t cap, size_t d);
size_t draws_render_csv_row(char *buf, size_t cap, uint32_t chain, uint64_t draw, const double *row,
                            size_t d);

/* JSON: {"shape":[chains,samples,d],"draws":[ ... ]}\n, chain by chain.
 * A row says where it stands with these flags: the first row of a chain
 * opens it ("[[", or ",[[" after an earlier chain), the last closes it. A
 * chain with no rows is rendered whole by draws_render_json_empty_chain. */
enum draws_json_place {
    DRAWS_JSON_FIRST_CHAIN = 1, /* the row's chain is the first in the array */
    DRAWS_JSON_FIRST_ROW = 2,   /* the first row of its chain */
    DRAWS_JSON_LAST_ROW = 4,    /* the last row of its chain */
};
size_t draws_render_json_open(char *buf, size_t cap, uint32_t chains, uint64_t samples, size_t d);
size_t draws_render_json_row(char *buf, size_t cap, const double *row, size_t d, unsigned place);
size_t draws_render_json_empty_chain(char *buf, size_t cap, int first_chain);
size_t draws_render_json_close(char *buf, size_t cap);

/* NDJSON: one line {"chain":c,"draw":i,"theta":[v1,...,vd]}\n. */
size_t draws_render_ndjson_row(char *buf, size_t cap, uint32_t chain, uint64_t draw,
                               const double *row, size_t d);

#endif
