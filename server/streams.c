/* streams.c - GET /v1/jobs/{id}/events and /draws. Each stream is a cursor
 * over state the loop owns (the job's event log, its draws and statistics
 * files) and a watcher of its job: when the job has news the stream is
 * woken, and when it has nothing to send it waits suspended, costing no
 * thread. Heartbeats come from a timer (streams_start) that marks every
 * live stream (event streams and following draw streams) due and wakes it;
 * a stream sends its heartbeat line when it has nothing else to send. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "accept.h"
#include "api_util.h"
#include "app.h"
#include "clock.h"
#include "draw_reader.h"
#include "draws_request.h"
#include "errors.h"

/* --- heartbeats ---------------------------------------------------------- */

typedef struct stream_beat stream_beat;
/* Writes a heartbeat line into buf (NUL-terminated); its length, 0 if none. */
typedef size_t (*beat_format_fn)(const stream_beat *b, char *buf, size_t cap);

/* The head of both stream kinds: the job watcher (first: the watcher is the
 * stream), and its place in app->live_streams, the streams the heartbeat
 * timer marks due. A heartbeat goes out whole, whatever the buffer sizes
 * the HTTP layer asks with. */
struct stream_beat {
    job_watcher w;
    app *app;
    job *job;
    beat_format_fn format;
    int due, live; /* a tick came since the last heartbeat; in the list */
    char line[160];
    size_t len, off; /* the heartbeat line being sent */
    stream_beat *next, *prev;
};

static void beat_link(stream_beat *b, app *a, job *j, beat_format_fn format) {
    b->app = a;
    b->job = j;
    b->format = format;
    b->live = 1;
    b->next = a->live_streams;
    if (b->next) b->next->prev = b;
    a->live_streams = b;
}

static void beat_unlink(stream_beat *b) {
    if (!b->live) return;
    if (b->prev)
        b->prev->next = b->next;
    else
        b->app->live_streams = b->next;
    if (b->next) b->next->prev = b->prev;
    b->live = 0;
}

/* Copies out the rest of the heartbeat line being sent; with none pending
 * and start set, begins a new one when one is due. Bytes copied, 0: none. */
static size_t beat_read(stream_beat *b, char *out, size_t max, int start) {
    if (b->off == b->len && start && b->due) {
        b->due = 0;
        b->off = 0;
        b->len = b->format(b, b->line, sizeof b->line);
        if (b->len >= sizeof b->line) b->len = 0; /* cannot happen: the lines are short */
    }
    size_t n = b->len - b->off < max ? b->len - b->off : max;
    memcpy(out, b->line + b->off, n);
    b->off += n;
    if (b->off == b->len) b->off = b->len = 0;
    return n;
}

static void on_heartbeat(uv_timer_t *t) {
    app *a = t->data;
    for (stream_beat *b = a->live_streams; b; b = b->next) {
        b->due = 1;
        http_stream_wake(b->w.stream);
    }
}

void streams_start(app *a) {
    uv_timer_init(a->loop, &a->heartbeat);
    a->heartbeat.data = a;
    uint64_t ms = (uint64_t)(a->cfg.heartbeat_seconds * 1000);
    uv_timer_start(&a->heartbeat, on_heartbeat, ms, ms);
}

void streams_stop(app *a) {
    uv_handle_t *h = (uv_handle_t *)&a->heartbeat;
    if (!uv_is_closing(h)) uv_close(h, NULL);
}

/* --- events -------------------------------------------------------------- */

typedef struct event_stream {
    stream_beat b; /* first */
    event_framing framing;
    uint64_t after;
    event_buf buf;
    size_t off;
    int preamble_due;
    size_t batch; /* events formatted at once: 8, doubling to 64 (a client
                     that reads the first bytes and goes costs little) */
} event_stream;

static size_t event_stream_beat(const stream_beat *b, char *buf, size_t cap) {
    const event_stream *s = (const event_stream *)b;
    return job_events_format_heartbeat(s->framing, app_now(), buf, cap);
}

static ssize_t event_stream_flush(event_stream *s, char *out, size_t max) {
    size_t n = s->buf.len - s->off < max ? s->buf.len - s->off : max;
    memcpy(out, s->buf.data + s->off, n);
    s->off += n;
    return (ssize_t)n;
}

static ssize_t event_stream_read(void *ctx, char *out, size_t max) {
    event_stream *s = ctx;
    size_t n = beat_read(&s->b, out, max, 0);
    if (n > 0) return (ssize_t)n;
    if (s->off < s->buf.len) return event_stream_flush(s, out, max);
    s->buf.len = s->off = 0;
    job *j = s->b.job;
    if (job_is_deleted(j)) return HTTP_STREAM_END;
    if (s->preamble_due) {
        char pre[64];
        n = job_events_format_sse_preamble(JOB_EVENTS_SSE_RETRY_MS, pre, sizeof pre);
        s->preamble_due = 0;
        if (n < sizeof pre) memcpy(out, pre, n < max ? n : max);
        return (ssize_t)(n < max ? n : max);
    }
    const job_events *log = job_event_log(j);
    if (!log) return HTTP_STREAM_ERROR; /* out of memory reading it back */
    s->batch = s->batch ? (s->batch < 64 ? 2 * s->batch : 64) : 8;
    if (job_events_format_after(log, s->after, s->framing, s->batch, &s->buf, &s->after) > 0)
        return event_stream_flush(s, out, max);
    if (job_events_watcher_finished(log, s->after)) return HTTP_STREAM_END;
    n = beat_read(&s->b, out, max, 1);
    return n > 0 ? (ssize_t)n : HTTP_STREAM_WAIT;
}

static void event_stream_changed(job_watcher *w) {
    http_stream_wake(w->stream);
}

static void event_stream_free(void *ctx) {
    event_stream *s = ctx;
    if (s->b.live) {
        job_unwatch(s->b.job, &s->b.w);
        beat_unlink(&s->b);
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
    s->b.job = j;
    s->after = after;
    s->framing = event_framing_from_accept(http_request_header(req, "Accept"));
    s->preamble_due = s->framing == EVENT_FRAMING_SSE;
    s->b.w.on_change = event_stream_changed;
    s->b.w.stream =
        http_respond_stream(req, 200, event_framing_content_type(s->framing), UINT64_MAX,
                            HTTP_STREAM_BLOCK_SMALL, event_stream_read, event_stream_free, s);
    if (!s->b.w.stream) return; /* freed by http_respond_stream */
    job_watch(j, &s->b.w);
    beat_link(&s->b, a, j, event_stream_beat);
}

/* --- draws --------------------------------------------------------------- */

typedef struct draw_stream {
    stream_beat b; /* first; in the heartbeat list while following */
    draw_reader *reader;
    int fd, stats_fd, linked;
    char *prologue, *adaptation, *epilogue; /* CmdStan's comment blocks */
    const char **names;                     /* the parameters' names (one block), or NULL */
    int prescanning; /* the pool reads its divergences: the loop leaves the reader alone */
} draw_stream;

static void draw_stream_update(draw_stream *s) {
    job *j = s->b.job;
    uint32_t chains = job_shape_of(j).chains;
    uint64_t *avail = calloc(chains, sizeof *avail);
    if (!avail) return;
    for (uint32_t c = 0; c < chains; c++)
        avail[c] = job_counts(j, c)->draws;
    draw_reader_set_available(s->reader, avail, job_is_final(j));
    free(avail);
}

/* {"heartbeat":"2026-11-28T20:14:05.123Z","state":"queued"}: no draws now. */
static size_t draw_stream_beat(const stream_beat *b, char *buf, size_t cap) {
    json_t *t = json_time_ms(app_now_ms());
    const char *time = json_string_value(t);
    int n = time ? snprintf(buf, cap, "{\"heartbeat\":\"%s\",\"state\":\"%s\"}\n", time,
                            job_state_name(b->job))
                 : 0;
    json_decref(t);
    return n > 0 ? (size_t)n : 0;
}

static ssize_t draw_stream_read(void *ctx, char *out, size_t max) {
    draw_stream *s = ctx;
    if (job_is_deleted(s->b.job)) return HTTP_STREAM_ERROR;
    size_t beat = beat_read(&s->b, out, max, 0);
    if (beat > 0) return (ssize_t)beat;
    ssize_t n = draw_reader_read(s->reader, out, max);
    if (n > 0) return n;
    if (n == DRAW_READER_WAIT) { /* between rows: a heartbeat fits here */
        beat = beat_read(&s->b, out, max, 1);
        return beat > 0 ? (ssize_t)beat : HTTP_STREAM_WAIT;
    }
    return n == DRAW_READER_END ? HTTP_STREAM_END : HTTP_STREAM_ERROR;
}

static void draw_stream_changed(job_watcher *w) {
    draw_stream *s = (draw_stream *)w;
    if (s->prescanning) return; /* it takes the counts when it is done */
    draw_stream_update(s);
    http_stream_wake(w->stream);
}

static void draw_stream_free(void *ctx) {
    draw_stream *s = ctx;
    if (s->linked) job_unwatch(s->b.job, &s->b.w);
    beat_unlink(&s->b);
    draw_reader_free(s->reader);
    if (s->fd >= 0) close(s->fd);
    if (s->stats_fd >= 0) close(s->stats_fd);
    free(s->prologue);
    free(s->adaptation);
    free(s->epilogue);
    free(s->names);
    free(s);
}

/* The request's query parameters, for draws_request_parse. */
static const char *request_query(void *req, const char *name) {
    return http_request_query(req, name);
}

static int draws_request_check(http_request *req, const job *j, draws_request *q) {
    char err[DRAW_SELECTION_ERROR_MAX];
    job_shape sh = job_shape_of(j);
    draws_job_shape shape = {sh.chains, sh.rows, sh.warmup_rows, sh.stats, sh.d};
    const char *msg = draws_request_parse(q, request_query, req, http_request_header(req, "Accept"),
                                          &shape, err, sizeof err);
    if (!msg) return 0;
    json_t *d = q->field ? json_pack("[{s:s, s:s}]", "path", q->field, "message", msg) : NULL;
    http_respond_error(req, 400, "invalid_query", msg, d);
    return -1;
}

/* CmdStan's comment blocks for the selected chain: the adaptation once
 * its warmup ended, the timing once the job ended. */
static int cmdstan_texts(draw_stream *s, job *j, const draws_request *q) {
    uint32_t c = q->sel.chain == DRAW_ALL_CHAINS ? 0 : q->sel.chain;
    chain_config cfg = job_spec_of(j)->chain;
    cfg.save_warmup = cfg.save_warmup && q->include_warmup; /* what the file holds */
    s->prologue = cmdstan_prologue(&cfg, job_model_name(j), c);
    const chain_adaptation *adapt = job_chain_adaptation(j, c);
    if (adapt->known) s->adaptation = cmdstan_adaptation(adapt);
    const chain_counts *k = job_counts(j, c);
    if (job_is_final(j))
        s->epilogue = cmdstan_timing(k->warmup_elapsed, k->elapsed - k->warmup_elapsed);
    return s->prologue && (!adapt->known || s->adaptation) && (!job_is_final(j) || s->epilogue)
               ? 0
               : -1;
}

/* 0, or -1 with errno saying why (0 when only memory ran out). */
static int draw_stream_open(draw_stream *s, job *j, draws_request *q) {
    char path[4500];
    int e = job_files_ensure(j); /* a queued job's, made sparse: a follower reads them as it runs */
    if (e) {
        errno = e;
        return -1;
    }
    job_draws_path(j, path, sizeof path);
    s->fd = open(path, O_RDONLY | O_CLOEXEC);
    if (s->fd < 0) return -1; /* errno says why */
    job_stats_path(j, path, sizeof path);
    s->stats_fd = open(path, O_RDONLY | O_CLOEXEC); /* a job from before statistics: none */
    errno = 0;
    if (q->out.fmt == DRAW_CMDSTAN && cmdstan_texts(s, j, q) != 0) return -1;
    q->out.prologue = s->prologue;
    q->out.adaptation = s->adaptation;
    q->out.epilogue = s->epilogue;
    s->names = job_param_names_copy(j);
    job_shape sh = job_shape_of(j);
    draw_body body = {.draws_fd = s->fd,
                      .stats_fd = s->stats_fd,
                      .names = s->names,
                      .chains = sh.chains,
                      .rows = sh.rows,
                      .warmup_rows = sh.warmup_rows,
                      .d = sh.d,
                      .stats = s->stats_fd >= 0 ? sh.stats : 0};
    return draw_reader_open_body(&s->reader, &body, &q->sel, &q->out) == MCMC_OK ? 0 : -1;
}

/* The answer, once the reader is ready; the job is watched already. */
static void draw_stream_start(app *a, draw_stream *s, http_request *req, int follow,
                              draw_format fmt) {
    job *j = s->b.job;
    draw_stream_update(s);
    uint64_t size = follow ? UINT64_MAX : draw_reader_content_length(s->reader);
    s->b.w.stream =
        http_respond_stream(req, 200, draw_format_content_type(fmt), size, HTTP_STREAM_BLOCK_LARGE,
                            draw_stream_read, draw_stream_free, s);
    if (!s->b.w.stream) return; /* freed (draw_stream_free): unwatched */
    if (follow) beat_link(&s->b, a, j, draw_stream_beat);
}

/* A divergent selection reads the divergent__ column of every row written
 * so far, a whole statistics file for a long finished job: on the thread
 * pool, before the answer starts. */
typedef struct prescan_task {
    app_work work;
    app *a;
    draw_stream *s;
    http_request *req;
    int follow;
    draw_format fmt;
    uint64_t avail[]; /* per chain of the job */
} prescan_task;

static void prescan_work(uv_work_t *w) {
    prescan_task *t = w->data;
    draw_reader_prescan(t->s->reader, t->avail);
}

static void prescan_after(uv_work_t *w, int status) {
    prescan_task *t = w->data;
    draw_stream *s = t->s;
    s->prescanning = 0;
    if (status != 0 || t->a->shutting_down) {
        draw_stream_free(s);
        http_respond_error(t->req, 503, "shutting_down", "the server is stopping", NULL);
    } else {
        draw_stream_start(t->a, s, t->req, t->follow, t->fmt);
    }
    free(t);
}

/* 0 when the scan went to the pool (the request waits for it). */
static int prescan_queue(app *a, draw_stream *s, http_request *req, int follow, draw_format fmt) {
    uint32_t chains = job_shape_of(s->b.job).chains;
    prescan_task *t = calloc(1, sizeof *t + chains * sizeof(uint64_t));
    if (!t) return -1;
    *t = (prescan_task){.a = a, .s = s, .req = req, .follow = follow, .fmt = fmt};
    for (uint32_t c = 0; c < chains; c++)
        t->avail[c] = job_counts(s->b.job, c)->draws;
    s->prescanning = 1;
    if (app_queue_work(a, &t->work, t, prescan_work, prescan_after) != 0) {
        s->prescanning = 0;
        free(t);
        return -1;
    }
    return 0;
}

void streams_draws(app *a, job *j, http_request *req) {
    draws_request q;
    if (draws_request_check(req, j, &q) != 0) return;
    draw_stream *s = calloc(1, sizeof *s);
    if (s) s->fd = s->stats_fd = -1;
    errno = 0;
    int opened = s && draw_stream_open(s, j, &q) == 0;
    draws_request_release(&q); /* the reader keeps its own copy */
    if (!opened) {
        /* the cause, as draw_reader or open(2) left it: EISDIR, ENOENT...
         * (the HTTP layer logs a 500's message with its path) */
        char msg[200];
        snprintf(msg, sizeof msg, "cannot read the draws: %s",
                 strerror(s && errno ? errno : ENOMEM));
        if (s) draw_stream_free(s);
        http_respond_error(req, 500, "internal", msg, NULL);
        return;
    }
    s->b.job = j;
    s->b.w.on_change = draw_stream_changed;
    job_watch(j, &s->b.w); /* also keeps a deleted job's memory until we end */
    s->linked = 1;
    if (draw_reader_scans(s->reader) && prescan_queue(a, s, req, q.out.follow, q.out.fmt) == 0)
        return; /* answered by prescan_after */
    draw_stream_start(a, s, req, q.out.follow, q.out.fmt);
}
