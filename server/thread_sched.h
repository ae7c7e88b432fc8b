/* thread_sched.h - the daemon's threads and Linux's scheduler: the nice
 * value the daemon's own threads answer requests at (service_nice), and
 * how a worker thread yields the CPU while it runs a chain, so that the
 * loop thread and the pool's short work (a spec's parse, a summary) are
 * scheduled ahead of chains on a busy machine: nice chain_nice (the
 * default), or Linux's idle class (chain_sched = idle: the chain gets
 * only the time that nothing else on the machine wants). The thread takes
 * its old claim back after the chain where it may: going back needs
 * RLIMIT_NICE or CAP_SYS_NICE (root, or systemd's LimitNICE=); without it
 * the thread keeps the lower claim, which still leaves the loop ahead.
 *
 * Every call is for the calling thread, and a failure changes nothing: the
 * chain then runs with the thread's own claim. */
#ifndef MCMCD_THREAD_SCHED_H
#define MCMCD_THREAD_SCHED_H

/* Sets the calling thread's nice value to nice, before the daemon starts
 * any other thread: each thread it starts inherits it. Returns 0, or the
 * errno of the refusal (EACCES or EPERM: below the old value without
 * CAP_SYS_NICE or an RLIMIT_NICE that allows it). */
int sched_service_set(int nice);

/* Puts the calling thread in the real-time class SCHED_FIFO at priority
 * (1..99), with SCHED_RESET_ON_FORK: the threads and processes it starts
 * afterwards begin outside it (and at nice 0 where its nice was below).
 * Returns 0, or the errno of the refusal (EPERM: without CAP_SYS_NICE or
 * an RLIMIT_RTPRIO that allows it, or under systemd's RestrictRealtime=). */
int sched_loop_realtime(int priority);

/* What a chain's thread gave up, for sched_chain_leave. */
typedef struct sched_saved {
    int nice;   /* INT_MIN: not changed */
    int policy; /* -1: not changed */
} sched_saved;

/* idle: the idle class, or where that is refused, as without it; else
 * nice value nice (0: unchanged; never lower than the thread's own). */
void sched_chain_enter(int idle, int nice, sched_saved *saved);
void sched_chain_leave(const sched_saved *saved);

#endif
