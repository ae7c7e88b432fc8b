/* clock.h - the daemon's wall clock: unix time for the registry, events
 * and timestamps (clock.c). */
#ifndef MCMCD_CLOCK_H
#define MCMCD_CLOCK_H

#include <stdint.h>

double app_now(void); /* unix seconds */
int64_t app_now_ms(void);

#endif
