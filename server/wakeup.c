/* wakeup.c - the loop's wakeup from other threads: an eventfd, written by
 * senders and drained by the loop (wakeup.h says why not uv_async_t). */
#include "wakeup.h"

#include <errno.h>
#include <stdint.h>
#include <sys/eventfd.h>
#include <unistd.h>

static void on_readable(uv_poll_t *p, int status, int events) {
    (void)status, (void)events;
    wakeup *w = p->data;
    uint64_t count;
    /* drained before fn runs: a send from here on wakes the loop again */
    while (read(w->fd, &count, sizeof count) < 0 && errno == EINTR) {
    }
    w->fn(w->ctx);
}

int wakeup_start(uv_loop_t *loop, wakeup *w, wakeup_fn fn, void *ctx) {
    w->fn = fn;
    w->ctx = ctx;
    w->fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    if (w->fd < 0) return -errno;
    int rc = uv_poll_init(loop, &w->poll, w->fd);
    if (rc == 0) {
        w->poll.data = w;
        rc = uv_poll_start(&w->poll, UV_READABLE, on_readable);
        if (rc != 0) uv_close((uv_handle_t *)&w->poll, NULL);
    }
    if (rc != 0) {
        close(w->fd);
        w->fd = -1;
    }
    return rc;
}

void wakeup_send(wakeup *w) {
    uint64_t one = 1;
    /* EAGAIN only at a count of 2^64 - 2: the loop is awake anyway */
    while (write(w->fd, &one, sizeof one) < 0 && errno == EINTR) {
    }
}

void wakeup_release(wakeup *w) {
    if (w->fd >= 0) close(w->fd);
    w->fd = -1;
}
