/* histogram.c - observations counted in buckets (histogram.h). */
#include "histogram.h"

void histogram_observe(histogram *h, const double *bounds, size_t nb, double v) {
    size_t i = 0;
    while (i < nb && v > bounds[i])
        i++;
    h->n[i]++;
    h->count++;
    h->sum += v;
}
