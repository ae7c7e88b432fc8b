/* wakeup.h - a wakeup of the loop thread that any thread may send, and that
 * never makes the loop wait for its sender.
 *
 * libuv's uv_async_send (1.44, Debian 12's) marks its handle busy, writes
 * the loop's eventfd, then marks it done; the loop, woken, spins with
 * sched_yield on any async handle still marked busy until its sender is
 * done. A chain thread runs at a positive nice value (chain_nice), so the
 * loop it has just woken can preempt it between the two steps, and the
 * scheduler may then keep it off a core for milliseconds: the loop, and
 * every client, waited on it (POSTs of 37-40 ms at 50 a second, each
 * with ~400 sched_yield calls on the loop thread). A wakeup here is one
 * write to an eventfd that the loop polls: there is nothing to wait for.
 *
 * wakeup_start and wakeup_release: the loop thread. wakeup_send: any thread. */
#ifndef MCMCD_WAKEUP_H
#define MCMCD_WAKEUP_H

#include <uv.h>

typedef void (*wakeup_fn)(void *ctx);

typedef struct wakeup {
    uv_poll_t poll; /* closed with the loop's other handles (uv_walk) */
    int fd;         /* an eventfd; -1 before start and after release */
    wakeup_fn fn;
    void *ctx;
} wakeup;

/* Makes the eventfd and polls it on loop: fn(ctx) runs on the loop after
 * one or more sends. 0, or a negative errno. */
int wakeup_start(uv_loop_t *loop, wakeup *w, wakeup_fn fn, void *ctx);

/* Wakes the loop; never blocks, never waits for the loop. */
void wakeup_send(wakeup *w);

/* Closes the eventfd, once the loop has closed the poll handle. */
void wakeup_release(wakeup *w);

#endif
