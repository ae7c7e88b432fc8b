/* shared_counter.h - a 64-bit counter in a small file, mapped shared, that
 * every process on one data dir reads and bumps without a system call:
 * how a running daemon learns that another process (the `mcmcd token` and
 * `mcmcd user` commands) changed something it keeps a copy of. */
#ifndef MCMCD_SHARED_COUNTER_H
#define MCMCD_SHARED_COUNTER_H

#include <stdint.h>

typedef struct shared_counter shared_counter;

/* The counter in the file at path, made (mode 0600, its page allocated, so
 * that a full disk cannot fault a write to it) if it is not there. NULL
 * when the file cannot be made, allocated or mapped: the caller then goes
 * without (and keeps no copies). */
shared_counter *shared_counter_open(const char *path);
void shared_counter_close(shared_counter *c);

/* Its value now; one more after each bump, by any process. */
uint64_t shared_counter_read(const shared_counter *c);
void shared_counter_bump(shared_counter *c);

#endif
