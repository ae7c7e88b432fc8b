/* clock.h - the daemon's clocks: unix time for the registry, events and
 * timestamps, and a monotonic clock for durations (clock.c). */
#ifndef MCMCD_CLOCK_H
#define MCMCD_CLOCK_H

#include <stdint.h>

double app_now(void); /* unix seconds */
int64_t app_now_ms(void);
double app_monotonic(void); /* seconds from an arbitrary start, never set back */

#endif
