/* streams.c - GET /v1/jobs/{id}/events and /draws. Each stream is a cursor
 * over state the loop owns (the job's event log, its draws file) and a
 * watcher of its job: when the job has news the stream is woken, and when
 * it has nothing to send it waits suspended, costing no thread. Heartbeats
 * come from a timer that marks every event stream due and wakes it. */
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "api_util.h"
#include "app.h"
#include "draw_reader.h"
#include "errors.h"

/* --- events -------------------------------------------------------------- */

typedef struct event_stream {
    job_watcher w; /* first: the watcher is the stream */
    app *app;
    job *job;
    event_framing framing;
    uint64_t after;
    event_buf buf;
    size_t off;
    int preamble_due, heartbeat_due;
    int linked; /* in app->event_streams */
    struct event_stream *next, *prev;
} event_stream;

static ssize_t event_stream_flush(event_stream *s, char *out, size_t max) {
    size_t n = s->buf.len - s->off < max ? s->buf.len - s->off : max;
    memcpy(out, s->buf.data + s->off, n);
    s->off += n;
    return (ssize_t)n;
}

static ssize_t event_stream_read(void *ctx, char *out, size_t max) {
    event_stream *s = ctx;
    if (s->off < s->buf.len) return event_stream_flush(s, out, max);
    s->buf.len = s->off = 0;
    if (s->job->deleted) return HTTP_STREAM_END;
    if (s->preamble_due) {
        char pre[64];
        size_t n = job_events_format_sse_preamble(JOB_EVENTS_SSE_RETRY_MS, pre, sizeof pre);
        s->preamble_due = 0;
        if (n < sizeof pre) memcpy(out, pre, n < max ? n : max);
        return (ssize_t)(n < max ? n : max);
    }
    if (job_events_format_after(s->job->events, s->after, s->framing, 64, &s->buf, &s->after) > 0)
        return event_stream_flush(s, out, max);
    if (job_events_watcher_finished(s->job->events, s->after)) return HTTP_STREAM_END;
    if (s->heartbeat_due) {
        char hb[128];
        size_t n = job_events_format_heartbeat(s->framing, app_now(), hb, sizeof hb);
        s->heartbeat_due = 0;
        if (n > 0 && n < sizeof hb && n <= max) {
            memcpy(out, hb, n);
            return (ssize_t)n;
        }
    }
    return HTTP_STREAM_WAIT;
}

static void event_stream_changed(job_watcher *w) {
    http_stream_wake(w->stream);
}

static void event_stream_free(void *ctx) {
    event_stream *s = ctx;
    if (s->linked) {
        job_unwatch(s->job, &s->w);
        if (s->prev)
            s->prev->next = s->next;
        else
            s->app->event_streams = s->next;
        if (s->next) s->next->prev = s->prev;
    }
    event_buf_free(&s->buf);
    free(s);
}

void streams_events(app *a, job *j, http_request *req) {
    uint64_t after = 0;
    if (job_events_parse_resume(http_request_query(req, "after"),
                                http_request_header(req, "Last-Event-ID"), &after) != 0) {
        http_respond_error(req, 400, "invalid_query",
                           "after and Last-Event-ID must be event sequence numbers", NULL);
        return;
    }
    event_stream *s = calloc(1, sizeof *s);
    if (!s) {
        http_respond_error(req, 500, "internal", "out of memory", NULL);
        return;
    }
    s->app = a;
    s->job = j;
    s->after = after;
    s->framing = event_framing_from_accept(http_request_header(req, "Accept"));
    s->preamble_due = s->framing == EVENT_FRAMING_SSE;
    s->w.on_change = event_stream_changed;
    s->w.stream = http_respond_stream(req, 200, event_framing_content_type(s->framing), UINT64_MAX,
                                      event_stream_read, event_stream_free, s);
    if (!s->w.stream) return; /* freed by http_respond_stream */
    job_watch(j, &s->w);
    s->linked = 1;
    s->next = a->event_streams;
    if (s->next) s->next->prev = s;
    a->event_streams = s;
}

void streams_heartbeat(app *a) {
    for (event_stream *s = a->event_streams; s; s = s->next) {
        s->heartbeat_due = 1;
        http_stream_wake(s->w.stream);
    }
}

/* --- draws --------------------------------------------------------------- */

typedef struct draw_stream {
    job_watcher w;
    job *job;
    draw_reader *reader;
    int fd, linked;
} draw_stream;

static void draw_stream_update(draw_stream *s) {
    job *j = s->job;
    uint64_t *avail = calloc(j->chains, sizeof *avail);
    if (!avail) return;
    for (uint32_t c = 0; c < j->chains; c++)
        avail[c] = j->counts[c].draws;
    draw_reader_set_available(s->reader, avail, job_is_final(j));
    free(avail);
}

static ssize_t draw_stream_read(void *ctx, char *out, size_t max) {
    draw_stream *s = ctx;
    if (s->job->deleted) return HTTP_STREAM_ERROR;
    ssize_t n = draw_reader_read(s->reader, out, max);
    if (n > 0) return n;
    return n == DRAW_READER_WAIT ? HTTP_STREAM_WAIT
                                 : (n == DRAW_READER_END ? HTTP_STREAM_END : HTTP_STREAM_ERROR);
}

static void draw_stream_changed(job_watcher *w) {
    draw_stream *s = (draw_stream *)w;
    draw_stream_update(s);
    http_stream_wake(w->stream);
}

static void draw_stream_free(void *ctx) {
    draw_stream *s = ctx;
    if (s->linked) job_unwatch(s->job, &s->w);
    draw_reader_free(s->reader);
    if (s->fd >= 0) close(s->fd);
    free(s);
}

/* ?format= wins; then Accept; JSON by default. -1 for an unknown name. */
static int draws_format_of(http_request *req) {
    static const char *const names[] = {"npy", "csv", "json", "ndjson"};
    const char *f = http_request_query(req, "format");
    if (f) {
        for (int i = 0; i < 4; i++)
            if (!strcmp(f, names[i])) return i;
        return -1;
    }
    const char *accept = http_request_header(req, "Accept");
    if (accept && strstr(accept, "application/x-npy")) return DRAW_NPY;
    if (accept && strstr(accept, "text/csv")) return DRAW_CSV;
    if (accept && strstr(accept, "application/x-ndjson")) return DRAW_NDJSON;
    return DRAW_JSON;
}

static int draws_request_check(http_request *req, const job *j, draw_selection *sel, int *fmt,
                               int *follow) {
    char err[DRAW_SELECTION_ERROR_MAX];
    draw_query q = {http_request_query(req, "chain"), http_request_query(req, "start"),
                    http_request_query(req, "stop"), http_request_query(req, "thin")};
    const char *fl = http_request_query(req, "follow");
    *follow = fl && (!strcmp(fl, "1") || !strcmp(fl, "true"));
    *fmt = draws_format_of(req);
    if (*follow && !http_request_query(req, "format")) *fmt = DRAW_NDJSON;
    const char *msg = NULL;
    if (*fmt < 0)
        msg = "format must be one of npy, csv, json, ndjson";
    else if (*follow && *fmt != DRAW_NDJSON)
        msg = "follow=1 streams NDJSON: use format=ndjson";
    else if (draw_selection_resolve(sel, &q, j->chains, j->samples, err, sizeof err) != MCMC_OK)
        msg = err;
    if (msg) http_respond_error(req, 400, "invalid_query", msg, NULL);
    return msg ? -1 : 0;
}

void streams_draws(app *a, job *j, http_request *req) {
    draw_selection sel;
    int fmt, follow;
    if (draws_request_check(req, j, &sel, &fmt, &follow) != 0) return;
    draw_stream *s = calloc(1, sizeof *s);
    char path[4500];
    job_draws_path(j, path, sizeof path);
    if (s) s->fd = open(path, O_RDONLY | O_CLOEXEC);
    if (!s || s->fd < 0 ||
        draw_reader_open(&s->reader, s->fd, j->chains, j->samples, j->d, &sel, fmt, follow) !=
            MCMC_OK) {
        if (s && s->fd >= 0) close(s->fd);
        free(s);
        http_respond_error(req, 500, "internal", "cannot read the draws", NULL);
        return;
    }
    s->job = j;
    s->w.on_change = draw_stream_changed;
    draw_stream_update(s);
    uint64_t size = follow ? UINT64_MAX : draw_reader_content_length(s->reader);
    s->w.stream = http_respond_stream(req, 200, draw_format_content_type(fmt), size,
                                      draw_stream_read, draw_stream_free, s);
    if (!s->w.stream) return;
    job_watch(j, &s->w); /* also keeps a deleted job's memory until we end */
    s->linked = 1;
    (void)a;
}
