/* watch.c - following a job's events: a Server-Sent Events parser (id,
 * event, data fields; comments are heartbeats), event JSON to mcmc_event,
 * and reconnection with Last-Event-ID so each event is delivered once. */
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "client_internal.h"

#define RETRY_DELAY_MAX_MS 5000

typedef struct sse_event {
    mcmcc_buf data; /* the data lines, each followed by '\n' */
    char id[32], type[32];
} sse_event;

typedef struct watch {
    mcmc_client *client;
    mcmc_event_fn fn;
    void *ctx;
    int heartbeats;
    uint64_t last_seq;
    mcmc_job_state final_state;
    mcmcc_buf line; /* the line being read */
    sse_event ev;
    int started;              /* the sink saw this connection's first byte */
    int done, cancelled, bad; /* why the sink stopped; bad: PROTOCOL */
    int nomem;
    int ever_connected;
    unsigned delivered; /* events delivered on this connection */
    char why[256];      /* for bad */
} watch;

mcmc_watch_options mcmc_watch_options_default(void) {
    return (mcmc_watch_options){
        .after = 0, .heartbeats = 0, .max_retries = 5, .retry_delay_ms = 100};
}

/* --- events -------------------------------------------------------------- */

static double now_unix(void) {
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static mcmc_event_type event_type_of(const char *name, int *known) {
    static const char *const names[] = {"state", "progress", "done", "heartbeat"};
    *known = 1;
    for (int t = 0; t < 4; t++)
        if (!strcmp(name, names[t])) return (mcmc_event_type)t;
    *known = 0;
    return MCMC_EVENT_STATE;
}

static void progress_from_json(const json_t *o, mcmc_event *e) {
    e->chain = (uint32_t)mcmcc_json_u64(o, "chain");
    e->iter = mcmcc_json_u64(o, "iter");
    e->total = mcmcc_json_u64(o, "total");
    e->draws = mcmcc_json_u64(o, "draws");
    e->phase = mcmcc_phase_of(o);
    e->step_size = mcmcc_json_number(o, "step_size");
    e->divergent = mcmcc_json_u64(o, "divergent");
    e->accept_rate = mcmcc_json_number(o, "accept_rate");
    e->it_per_s = mcmcc_json_number(o, "it_per_s");
    e->eta_s = mcmcc_json_number(o, "eta_s");
    e->elapsed = mcmcc_json_number(o, "elapsed");
}

/* Calls back with event e, built from o; draws_per_chain of a done event
 * live in a buffer freed after the call. Returns the callback's answer,
 * or -1 when memory ran out. */
static int deliver(watch *w, const json_t *o, mcmc_event *e) {
    char state[32];
    mcmcc_json_string(o, "state", state, sizeof state);
    e->state = mcmcc_job_state_parse(state);
    const json_t *err = json_object_get(o, "error");
    e->error = json_is_string(err) ? json_string_value(err) : NULL;
    if (e->type == MCMC_EVENT_PROGRESS) progress_from_json(o, e);
    uint64_t *draws = NULL;
    const json_t *dpc = json_object_get(o, "draws_per_chain");
    if (e->type == MCMC_EVENT_DONE && json_array_size(dpc) > 0) {
        if (!(draws = calloc(json_array_size(dpc), sizeof *draws))) return -1;
        for (size_t i = 0; i < json_array_size(dpc); i++) {
            const json_t *v = json_array_get(dpc, i);
            draws[i] = json_is_integer(v) && json_integer_value(v) > 0
                           ? (uint64_t)json_integer_value(v)
                           : 0;
        }
        e->nchains = json_array_size(dpc);
        e->draws_per_chain = draws;
    }
    int stop = w->fn(w->ctx, e);
    free(draws);
    return stop ? 1 : 0;
}

/* One SSE event, complete: parse, skip what was already delivered, call
 * back. Returns nonzero to stop reading (done, cancelled, bad). */
static int dispatch(watch *w) {
    sse_event *s = &w->ev;
    if (s->data.len == 0) return 0;
    json_error_t je;
    json_t *o = json_loadb(s->data.data, s->data.len, 0, &je);
    if (!json_is_object(o)) {
        json_decref(o);
        snprintf(w->why, sizeof w->why, "an event's data is not a JSON object: %s", je.text);
        return w->bad = 1;
    }
    char type[32];
    if (s->type[0])
        snprintf(type, sizeof type, "%s", s->type);
    else
        mcmcc_json_string(o, "type", type, sizeof type);
    uint64_t seq = s->id[0] ? strtoull(s->id, NULL, 10) : mcmcc_json_u64(o, "seq");
    int known, rc = 0;
    mcmc_event e = {.seq = seq, .type = event_type_of(type, &known)};
    e.time = mcmcc_json_number(o, "time");
    if (known && seq > w->last_seq) {
        rc = deliver(w, o, &e);
        w->last_seq = seq;
        w->delivered++;
        if (e.type == MCMC_EVENT_DONE) w->done = 1, w->final_state = e.state;
    } else if (seq > w->last_seq) {
        w->last_seq = seq; /* a type from a newer server: skipped */
    }
    json_decref(o);
    if (rc < 0) w->nomem = 1;
    if (rc > 0) w->cancelled = 1;
    return rc != 0 || w->done;
}

static int heartbeat(watch *w) {
    if (!w->heartbeats) return 0;
    mcmc_event e = {.seq = 0, .type = MCMC_EVENT_HEARTBEAT, .time = now_unix()};
    if (w->fn(w->ctx, &e) == 0) return 0;
    return w->cancelled = 1;
}

/* --- the SSE parser ------------------------------------------------------ */

static void event_reset(sse_event *s) {
    s->data.len = 0;
    s->id[0] = s->type[0] = '\0';
}

/* One line, without its end. "field: value", ": comment", or "" (the end
 * of an event). Returns nonzero to stop reading. */
static int sse_line(watch *w, char *line, size_t len) {
    if (len == 0) {
        int stop = dispatch(w);
        event_reset(&w->ev);
        return stop;
    }
    if (line[0] == ':') return heartbeat(w);
    char *colon = memchr(line, ':', len);
    char *value = colon ? colon + 1 : line + len;
    if (colon) *colon = '\0';
    if (*value == ' ') value++;
    if (!strcmp(line, "data")) {
        if (mcmcc_buf_append(&w->ev.data, value, strlen(value)) != 0 ||
            mcmcc_buf_append(&w->ev.data, "\n", 1) != 0)
            return w->nomem = 1;
    } else if (!strcmp(line, "id")) {
        snprintf(w->ev.id, sizeof w->ev.id, "%s", value);
    } else if (!strcmp(line, "event")) {
        snprintf(w->ev.type, sizeof w->ev.type, "%s", value);
    } /* "retry" and unknown fields: ignored (our own backoff decides) */
    return 0;
}

static int content_type_is_sse(mcmc_client *c) {
    char *ct = NULL;
    curl_easy_getinfo(c->curl, CURLINFO_CONTENT_TYPE, &ct);
    return ct && !strncmp(ct, "text/event-stream", 17);
}

static int watch_sink(void *ctx, const char *data, size_t n) {
    watch *w = ctx;
    if (!w->started) {
        w->started = w->ever_connected = 1;
        if (!content_type_is_sse(w->client)) {
            snprintf(w->why, sizeof w->why, "the event stream is not text/event-stream");
            return w->bad = 1;
        }
    }
    while (n > 0) {
        const char *nl = memchr(data, '\n', n);
        size_t take = nl ? (size_t)(nl - data) : n;
        if (mcmcc_buf_append(&w->line, data, take) != 0) return w->nomem = 1;
        data += take + (nl != NULL);
        n -= take + (nl != NULL);
        if (!nl) break;
        size_t len = w->line.len;
        if (len && w->line.data[len - 1] == '\r') len--;
        if (w->line.data) w->line.data[len] = '\0';
        int stop = sse_line(w, w->line.data ? w->line.data : "", len);
        w->line.len = 0;
        if (stop) return 1;
    }
    return 0;
}

/* --- connections --------------------------------------------------------- */

/* One connection: reads events until the stream ends or the sink stops. */
static mcmc_client_status watch_once(watch *w, const char *path, mcmc_error *err) {
    char last_id[24];
    snprintf(last_id, sizeof last_id, "%llu", (unsigned long long)w->last_seq);
    mcmcc_request rq = {.method = "GET",
                        .path = path,
                        .accept = "text/event-stream",
                        .last_event_id = w->last_seq ? last_id : NULL,
                        .streaming = 1,
                        .sink = watch_sink,
                        .sink_ctx = w};
    w->started = 0;
    w->delivered = 0;
    w->line.len = 0;
    event_reset(&w->ev); /* a partial event of a dropped connection is read again */
    mcmcc_response rs;
    mcmc_client_status st = mcmcc_perform(w->client, &rq, &rs, err);
    mcmcc_response_free(&rs);
    return st;
}

static void sleep_ms(unsigned ms) {
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
    while (nanosleep(&ts, &ts) != 0) {
    }
}

/* Why the sink stopped, as the watch's result. */
static mcmc_client_status stopped(const watch *w, mcmc_error *err) {
    mcmcc_error_reset(err);
    if (w->nomem) return mcmcc_fail(err, MCMC_CLIENT_NOMEM, "out of memory");
    if (w->bad) return mcmcc_fail(err, MCMC_CLIENT_PROTOCOL, "%s", w->why);
    if (w->cancelled) return mcmcc_fail(err, MCMC_CLIENT_CANCELLED, "the callback stopped");
    return MCMC_CLIENT_OK;
}

static int stop_reason(const watch *w) {
    return w->nomem || w->bad || w->cancelled || w->done;
}

static mcmc_client_status watch_loop(watch *w, const char *path, const mcmc_watch_options *o,
                                     mcmc_error *err) {
    unsigned failures = 0;
    for (;;) {
        mcmcc_error_reset(err);
        mcmc_client_status st = watch_once(w, path, err);
        if (stop_reason(w)) return stopped(w, err);
        if (mcmc_client_status_is_http(st) || st == MCMC_CLIENT_NOMEM || st == MCMC_CLIENT_INVALID)
            return st;
        if (!w->ever_connected) return st; /* the first connection failed */
        if (w->delivered) failures = 0;
        if (++failures > o->max_retries) {
            if (st == MCMC_CLIENT_OK) mcmcc_error_reset(err);
            return mcmcc_fail(err, MCMC_CLIENT_UNREACHABLE,
                              "the event stream ended %u times in a row before the done event "
                              "(last seq %llu)",
                              failures, (unsigned long long)w->last_seq);
        }
        unsigned delay = o->retry_delay_ms;
        for (unsigned k = 1; k < failures && delay < RETRY_DELAY_MAX_MS; k++)
            delay *= 2;
        sleep_ms(delay < RETRY_DELAY_MAX_MS ? delay : RETRY_DELAY_MAX_MS);
    }
}

mcmc_client_status mcmc_watch_job(mcmc_client *c, const char *id, const mcmc_watch_options *options,
                                  mcmc_event_fn fn, void *ctx, mcmc_job_state *final_state,
                                  mcmc_error *err) {
    mcmcc_error_reset(err);
    if (final_state) *final_state = MCMC_JOB_UNKNOWN;
    if (!c || !fn) return mcmcc_fail(err, MCMC_CLIENT_INVALID, "no client or no callback");
    mcmc_watch_options o = options ? *options : mcmc_watch_options_default();
    char path[512];
    mcmc_client_status st = mcmcc_job_path(c, id, "/events", path, sizeof path, err);
    if (st != MCMC_CLIENT_OK) return st;
    watch w = {.client = c, .fn = fn, .ctx = ctx, .heartbeats = o.heartbeats, .last_seq = o.after};
    st = watch_loop(&w, path, &o, err);
    mcmcc_buf_free(&w.line);
    mcmcc_buf_free(&w.ev.data);
    if (st == MCMC_CLIENT_OK && final_state) *final_state = w.final_state;
    return st;
}
