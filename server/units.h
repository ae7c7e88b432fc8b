/* units.h - numbers as people write them in config files and on the
 * command line: plain decimal counts, sizes with k/M/G/T (powers of 1024)
 * and durations with s/m/h/d. Strict: no sign, no spaces, no hex. */
#ifndef MCMCD_UNITS_H
#define MCMCD_UNITS_H

#include <stddef.h>
#include <stdint.h>

/* Each returns 0, or -1 when text is not such a number (or overflows). */
int units_parse_count(const char *text, uint64_t *out);
int units_parse_size(const char *text, uint64_t *out);        /* "256M" */
int units_parse_seconds(const char *text, uint64_t *out);     /* "30d", "90m", "3600" */
void units_format_size(uint64_t v, char *buf, size_t cap);    /* "256M" where exact */
void units_format_seconds(uint64_t v, char *buf, size_t cap); /* "30d" where exact */

#endif
