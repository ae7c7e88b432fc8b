/* app_work.c - the thread pool's work items: app_queue_work queues one and
 * counts it until its after-callback has run, so that shutdown (serve.c)
 * can wait for the pool to empty. The only code that touches
 * app->pending_work. */
#include <stddef.h>

#include "app.h"

static void work_after(uv_work_t *req, int status) {
    app_work *w = (app_work *)((char *)req - offsetof(app_work, req));
    w->app->pending_work--;
    w->after(req, status);
}

int app_queue_work(app *a, app_work *w, void *data, uv_work_cb work, uv_after_work_cb after) {
    w->req.data = data;
    w->app = a;
    w->after = after;
    a->pending_work++;
    int rc = uv_queue_work(a->loop, &w->req, work, work_after);
    if (rc != 0) a->pending_work--;
    return rc;
}

unsigned app_work_pending(const app *a) {
    return a->pending_work;
}
