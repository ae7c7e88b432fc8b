/* thread_sched.c - the daemon's threads and Linux's scheduler
 * (thread_sched.h): the service's own nice value, set once at start; the
 * loop thread's real-time class, where asked; a chain's thread at nice or
 * in the idle class while the chain runs, and back after. */
#include "thread_sched.h"

#include <errno.h>
#include <limits.h>
#include <sched.h>
#include <sys/resource.h>

int sched_service_set(int nice) {
    return setpriority(PRIO_PROCESS, 0, nice) == 0 ? 0 : errno; /* this thread's, on Linux */
}

int sched_loop_realtime(int priority) {
    struct sched_param p = {.sched_priority = priority};
    return sched_setscheduler(0, SCHED_FIFO | SCHED_RESET_ON_FORK, &p) == 0 ? 0 : errno;
}

/* 0 once the thread is in the idle class (or was already). */
static int enter_idle(sched_saved *saved) {
    int policy = sched_getscheduler(0);
    struct sched_param none = {0};
    if (policy == SCHED_IDLE) return 0;
    if (policy < 0 || sched_setscheduler(0, SCHED_IDLE, &none) != 0) return -1;
    saved->policy = policy;
    return 0;
}

static void enter_nice(int nice, sched_saved *saved) {
    errno = 0;
    int before = getpriority(PRIO_PROCESS, 0); /* this thread's, on Linux */
    if (errno || nice == 0 || before >= nice) return;
    if (setpriority(PRIO_PROCESS, 0, nice) == 0) saved->nice = before;
}

void sched_chain_enter(int idle, int nice, sched_saved *saved) {
    saved->nice = INT_MIN;
    saved->policy = -1;
    if (!idle || enter_idle(saved) != 0) enter_nice(nice, saved); /* a seccomp filter may refuse */
}

void sched_chain_leave(const sched_saved *saved) {
    struct sched_param none = {0};
    if (saved->policy >= 0) sched_setscheduler(0, saved->policy, &none);   /* may be refused */
    if (saved->nice != INT_MIN) setpriority(PRIO_PROCESS, 0, saved->nice); /* likewise */
}
