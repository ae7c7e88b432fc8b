/* histogram.h - observations counted in buckets by upper bound, with their
 * count and sum: what a Prometheus histogram prints (metrics.c), kept by
 * whichever module observes (histogram.c). */
#ifndef MCMCD_HISTOGRAM_H
#define MCMCD_HISTOGRAM_H

#include <stddef.h>
#include <stdint.h>

#define HISTOGRAM_BOUNDS_MAX 16

typedef struct histogram {
    uint64_t n[HISTOGRAM_BOUNDS_MAX + 1]; /* per bucket (not cumulative); last: +Inf */
    uint64_t count;
    double sum;
} histogram;

/* Counts v in the first bucket whose upper bound (bounds, ascending, nb of
 * them, nb <= HISTOGRAM_BOUNDS_MAX) it does not exceed, else in +Inf. */
void histogram_observe(histogram *h, const double *bounds, size_t nb, double v);

#endif
