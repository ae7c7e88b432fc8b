/* test_wakeup.c - the loop's wakeup from other threads (server/wakeup.c):
 * sends from several threads reach the loop, every send after the loop
 * has drained wakes it again, a send never blocks the sender, and the
 * eventfd is closed on release. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <fcntl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <unistd.h>

#include "wakeup.h"

enum { SENDERS = 4, SENDS = 2000 };

typedef struct counts {
    atomic_int sent; /* by the senders */
    int woken;       /* fn's calls, on the loop */
    int seen;        /* `sent` as fn last read it */
    wakeup w;
    uv_timer_t guard;
} counts;

static void on_wakeup(void *ctx) {
    counts *c = ctx;
    c->woken++;
    c->seen = atomic_load(&c->sent);
    if (c->seen == SENDERS * SENDS) uv_stop(c->w.poll.loop);
}

static void *sender(void *arg) {
    counts *c = arg;
    for (int i = 0; i < SENDS; i++) {
        atomic_fetch_add(&c->sent, 1); /* before the send: fn reads it after */
        wakeup_send(&c->w);
    }
    return NULL;
}

static void on_guard(uv_timer_t *t) {
    uv_stop(t->loop); /* the test then fails on its counts */
}

static void close_all(uv_handle_t *h, void *arg) {
    (void)arg;
    if (!uv_is_closing(h)) uv_close(h, NULL);
}

/* A loop with c's wakeup started on it. */
static void start(uv_loop_t *loop, counts *c) {
    assert_int_equal(uv_loop_init(loop), 0);
    assert_int_equal(wakeup_start(loop, &c->w, on_wakeup, c), 0);
    assert_true(c->w.fd >= 0);
}

/* Every handle closed, the wakeup released, the loop closed. */
static void stop(uv_loop_t *loop, counts *c) {
    uv_walk(loop, close_all, NULL);
    uv_run(loop, UV_RUN_DEFAULT);
    wakeup_release(&c->w);
    assert_int_equal(c->w.fd, -1);
    assert_int_equal(uv_loop_close(loop), 0);
}

/* Every send from four threads is seen by the loop: the last fn call
 * reads the final count, and the loop slept between batches. */
static void test_sends_from_threads_reach_the_loop(void **state) {
    (void)state;
    uv_loop_t loop;
    counts c = {0};
    start(&loop, &c);
    uv_timer_init(&loop, &c.guard);
    uv_timer_start(&c.guard, on_guard, 10000, 0);
    pthread_t t[SENDERS];
    for (int i = 0; i < SENDERS; i++)
        assert_int_equal(pthread_create(&t[i], NULL, sender, &c), 0);
    uv_run(&loop, UV_RUN_DEFAULT);
    for (int i = 0; i < SENDERS; i++)
        pthread_join(t[i], NULL);
    assert_int_equal(c.seen, SENDERS * SENDS);
    assert_true(c.woken >= 1 && c.woken <= SENDERS * SENDS);
    int fd = c.w.fd;
    stop(&loop, &c);
    assert_int_equal(fcntl(fd, F_GETFD), -1); /* closed */
}

/* A send made after fn ran wakes the loop again; sends while the loop is
 * not running never block and are seen at its next turn, as one call. */
static void test_each_send_after_a_drain_wakes_again(void **state) {
    (void)state;
    uv_loop_t loop;
    counts c = {0};
    start(&loop, &c);
    for (int round = 1; round <= 3; round++) {
        for (int i = 0; i < 1000; i++) /* the loop is not running: no one reads */
            wakeup_send(&c.w);
        uv_run(&loop, UV_RUN_NOWAIT);
        assert_int_equal(c.woken, round);
    }
    uv_run(&loop, UV_RUN_NOWAIT); /* nothing sent: fn not called */
    assert_int_equal(c.woken, 3);
    stop(&loop, &c);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_sends_from_threads_reach_the_loop),
        cmocka_unit_test(test_each_send_after_a_drain_wakes_again),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
