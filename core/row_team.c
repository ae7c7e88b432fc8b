/* row_team.c - a fork-join team of threads for one chain's row passes.
 *
 * Hand-off: the owner stores the job, then bumps the generation counter;
 * helpers watch the counter, run the job and count themselves out through
 * `pending`. A helper that has seen no new generation for SPIN_NS goes to
 * sleep on a condition variable; the owner signals it only when some helper
 * says it sleeps, so a busy chain never takes the lock. All counters are
 * sequentially consistent: a helper that registers as a sleeper either sees
 * the new generation or is seen by the owner as sleeping.
 */
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <time.h>

#include "row_team.h"

#define SPIN_NS 200000 /* 200 us: longer than a chain's step between passes */

typedef struct helper {
    pthread_t tid;
    struct row_team *team;
    unsigned member;
} helper;

struct row_team {
    unsigned members;
    helper *helpers; /* members - 1 */
    row_team_fn fn;
    void *arg;
    atomic_uint generation;
    atomic_uint pending; /* helpers still running the current job */
    atomic_uint sleepers;
    atomic_int stopping;
    pthread_mutex_t lock;
    pthread_cond_t wake;
};

static inline void cpu_relax(void) {
#if defined(__x86_64__) || defined(__i386__)
    __builtin_ia32_pause();
#endif
}

static long long monotonic_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

/* Returns once the generation differs from seen (or the team stops). */
static unsigned wait_for_work(row_team *t, unsigned seen) {
    long long deadline = 0;
    for (unsigned spins = 0;; spins++) {
        unsigned g = atomic_load(&t->generation);
        if (g != seen || atomic_load(&t->stopping)) return g;
        cpu_relax();
        if ((spins & 255) != 255) continue;
        long long now = monotonic_ns();
        if (!deadline) deadline = now + SPIN_NS;
        if (now >= deadline) break;
    }
    pthread_mutex_lock(&t->lock);
    atomic_fetch_add(&t->sleepers, 1);
    unsigned g;
    while ((g = atomic_load(&t->generation)) == seen && !atomic_load(&t->stopping))
        pthread_cond_wait(&t->wake, &t->lock);
    atomic_fetch_sub(&t->sleepers, 1);
    pthread_mutex_unlock(&t->lock);
    return g;
}

static void *helper_main(void *p) {
    const helper *h = p;
    row_team *t = h->team;
    unsigned seen = 0;
    for (;;) {
        seen = wait_for_work(t, seen);
        if (atomic_load(&t->stopping)) return NULL;
        t->fn(t->arg, h->member, t->members);
        atomic_fetch_sub(&t->pending, 1);
    }
}

static void wake_sleepers(row_team *t) {
    if (!atomic_load(&t->sleepers)) return;
    pthread_mutex_lock(&t->lock);
    pthread_cond_broadcast(&t->wake);
    pthread_mutex_unlock(&t->lock);
}

static void stop_helpers(row_team *t, unsigned started) {
    atomic_store(&t->stopping, 1);
    atomic_fetch_add(&t->generation, 1);
    pthread_mutex_lock(&t->lock);
    pthread_cond_broadcast(&t->wake);
    pthread_mutex_unlock(&t->lock);
    for (unsigned i = 0; i < started; i++)
        pthread_join(t->helpers[i].tid, NULL);
}

row_team *row_team_create(unsigned members) {
    if (members < 1) members = 1;
    row_team *t = calloc(1, sizeof *t);
    if (!t) return NULL;
    t->members = members;
    t->helpers = calloc(members, sizeof *t->helpers);
    pthread_mutex_init(&t->lock, NULL);
    pthread_cond_init(&t->wake, NULL);
    unsigned started = 0;
    while (t->helpers && started + 1 < members) {
        helper *h = &t->helpers[started];
        h->team = t, h->member = started + 1;
        if (pthread_create(&h->tid, NULL, helper_main, h) != 0) break;
        started++;
    }
    if (!t->helpers || started + 1 < members) {
        stop_helpers(t, started);
        t->members = 1; /* nothing left to stop */
        row_team_free(t);
        return NULL;
    }
    return t;
}

void row_team_free(row_team *t) {
    if (!t) return;
    if (t->members > 1) stop_helpers(t, t->members - 1);
    pthread_mutex_destroy(&t->lock);
    pthread_cond_destroy(&t->wake);
    free(t->helpers);
    free(t);
}

unsigned row_team_size(const row_team *t) {
    return t->members;
}

void row_team_run(row_team *t, row_team_fn fn, void *arg) {
    if (t->members == 1) {
        fn(arg, 0, 1);
        return;
    }
    t->fn = fn;
    t->arg = arg;
    atomic_store(&t->pending, t->members - 1);
    atomic_fetch_add(&t->generation, 1);
    wake_sleepers(t);
    fn(arg, 0, t->members);
    for (unsigned spins = 1; atomic_load(&t->pending); spins++) {
        cpu_relax();
        if (!(spins & 1023)) sched_yield(); /* a helper may be waiting for this core */
    }
}
