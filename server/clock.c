/* clock.c - the daemon's clocks (CLOCK_REALTIME, CLOCK_MONOTONIC), in one
 * place. */
#include "clock.h"

#include <time.h>

double app_now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

int64_t app_now_ms(void) {
    return (int64_t)(app_now() * 1000.0);
}

double app_monotonic(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}
