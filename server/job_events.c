/* job_events.c - one job's event log: state and done events in a growing
 * array (a handful per job), progress events in a ring of fixed capacity
 * (allocated as it fills) plus each chain's latest, and the NDJSON and SSE
 * framing of all of them.
 *
 * A chain's latest progress event outlives the ring: when it drops out of
 * the ring it stays in `latest`, and reading merges the three sources
 * (milestones, ring, latest-but-older-than-the-ring) by seq. Events are
 * stored as numbers and formatted on demand, so a quiet watcher costs
 * nothing and a slow one only ever re-reads what is still retained. The
 * JSON of the last few events formatted is kept (the memo), so that n
 * watchers reading the same new event format it once, not n times.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "accept.h"
#include "job_events.h"

#define JSON_FLAGS (JSON_COMPACT | JSON_REAL_PRECISION(15))
#define SEQ_MAX ((uint64_t)INT64_MAX) /* seq goes out as a JSON integer */
#define RING_FIRST 8                  /* progress events a new log has room for */

static const char *const state_names[] = {"queued", "running", "succeeded", "failed", "cancelled"};
enum { STATE_COUNT = sizeof state_names / sizeof state_names[0], FIRST_TERMINAL_STATE = 2 };

/* A state or done event: kept for the life of the log. */
typedef struct milestone {
    uint64_t seq;
    double time;
    int is_done;
    int state;   /* index into state_names */
    char *error; /* owned; NULL when none */
} milestone;

typedef struct progress_event {
    uint64_t seq; /* 0: none */
    double time;
    job_progress p;
} progress_event;

/* An event of a log read back from text: where its JSON is in `saved`. */
typedef struct saved_line {
    uint64_t seq;
    size_t off, len; /* the JSON, without its newline */
    int type;        /* index into event_types */
} saved_line;

/* An event's JSON text as formatted, by seq (0: empty slot). */
typedef struct memo_slot {
    uint64_t seq;
    char *json;
    size_t len;
} memo_slot;

/* By seq % MEMO_SLOTS, made at the first read: the events watchers read
 * as they come, and the first of the log that each new one reads first
 * (at most ~20 KB of text a job). */
#define MEMO_SLOTS 64

static const char *const event_types[] = {"state", "progress", "done"};
enum { TYPE_STATE, TYPE_PROGRESS, TYPE_DONE, TYPE_COUNT };

struct job_events {
    char *job_id;
    uint32_t chains;
    uint64_t last_seq;
    uint64_t done_seq; /* 0 until the done event */
    int state;         /* latest state; -1 before any */

    milestone *milestones; /* in seq order */
    size_t milestone_count, milestone_cap;

    progress_event *ring; /* the last ring_cap progress events */
    size_t ring_cap, ring_start, ring_len;
    size_t ring_alloc; /* grows to ring_cap as events come (start is 0 until then) */

    progress_event *latest;    /* per chain */
    uint64_t *draws_per_chain; /* the done event's; NULL until then */

    /* read back from its saved text (job_events_from_ndjson): the events
     * as they were framed, one line each; nothing above is used then */
    char *saved;
    saved_line *lines;
    size_t line_count;

    memo_slot *memo; /* MEMO_SLOTS, or NULL until an event is read */
};

/* ---- progress records ---- */

job_progress job_progress_from_counts(uint32_t chain, uint64_t iter, uint64_t total,
                                      uint64_t accepted, uint64_t draws, double elapsed) {
    job_progress p = {.chain = chain, .iter = iter, .total = total, .draws = draws};
    p.elapsed = elapsed;
    p.step_size = NAN;
    p.accept_rate = iter > 0 ? (double)accepted / (double)iter : NAN;
    p.it_per_s = elapsed > 0 ? (double)iter / elapsed : NAN;
    if (iter >= total)
        p.eta_s = 0;
    else if (isfinite(p.it_per_s) && p.it_per_s > 0)
        p.eta_s = (double)(total - iter) / p.it_per_s;
    else
        p.eta_s = NAN;
    return p;
}

/* ---- the log ---- */

job_events *job_events_new(const char *job_id, uint32_t chains, uint64_t base_seq,
                           size_t progress_capacity) {
    if (!job_id || !*job_id || chains == 0 || base_seq > SEQ_MAX) return NULL;
    if (progress_capacity == 0) progress_capacity = JOB_EVENTS_DEFAULT_PROGRESS_CAPACITY;
    if (progress_capacity > SIZE_MAX / sizeof(progress_event)) return NULL;
    job_events *log = calloc(1, sizeof *log);
    if (!log) return NULL;
    log->chains = chains;
    log->last_seq = base_seq;
    log->state = -1;
    log->ring_cap = progress_capacity;
    log->ring_alloc = progress_capacity < RING_FIRST ? progress_capacity : RING_FIRST;
    log->job_id = strdup(job_id);
    log->ring = malloc(log->ring_alloc * sizeof *log->ring);
    log->latest = calloc(chains, sizeof *log->latest);
    if (!log->job_id || !log->ring || !log->latest) {
        job_events_free(log);
        return NULL;
    }
    return log;
}

void job_events_free(job_events *log) {
    if (!log) return;
    for (size_t i = 0; i < log->milestone_count; i++)
        free(log->milestones[i].error);
    free(log->milestones);
    free(log->ring);
    free(log->latest);
    free(log->draws_per_chain);
    free(log->saved);
    free(log->lines);
    free(log->job_id);
    for (size_t i = 0; log->memo && i < MEMO_SLOTS; i++)
        free(log->memo[i].json);
    free(log->memo);
    free(log);
}

static int state_index(const char *name) {
    for (int i = 0; name && i < STATE_COUNT; i++)
        if (strcmp(name, state_names[i]) == 0) return i;
    return -1;
}

static int log_accepts_events(const job_events *log) {
    return log && log->done_seq == 0 && log->last_seq < SEQ_MAX;
}

/* Appends a state or done event; returns its seq, or 0. */
static uint64_t add_milestone(job_events *log, int state, const char *error, int is_done,
                              double time) {
    if (log->milestone_count == log->milestone_cap) {
        size_t cap = log->milestone_cap ? 2 * log->milestone_cap : 4;
        milestone *grown = realloc(log->milestones, cap * sizeof *grown);
        if (!grown) return 0;
        log->milestones = grown;
        log->milestone_cap = cap;
    }
    char *copy = NULL;
    if (error && !(copy = strdup(error))) return 0;
    milestone *m = &log->milestones[log->milestone_count++];
    *m = (milestone){
        .seq = ++log->last_seq, .time = time, .is_done = is_done, .state = state, .error = copy};
    log->state = state;
    return m->seq;
}

uint64_t job_events_add_state(job_events *log, const char *state, const char *error, double time) {
    int s = state_index(state);
    if (!log_accepts_events(log) || s < 0) return 0;
    return add_milestone(log, s, error, 0, time);
}

/* Room for one more progress event before the ring is full: 0 or -1. */
static int ring_reserve(job_events *log) {
    if (log->ring_len < log->ring_alloc || log->ring_alloc == log->ring_cap) return 0;
    size_t alloc = 2 * log->ring_alloc < log->ring_cap ? 2 * log->ring_alloc : log->ring_cap;
    progress_event *grown = realloc(log->ring, alloc * sizeof *grown);
    if (!grown) return -1;
    log->ring = grown;
    log->ring_alloc = alloc;
    return 0;
}

uint64_t job_events_add_progress(job_events *log, const job_progress *p, double time) {
    if (!log_accepts_events(log) || !p || p->chain >= log->chains || ring_reserve(log) != 0)
        return 0;
    progress_event e = {.seq = ++log->last_seq, .time = time, .p = *p};
    if (log->ring_len == log->ring_cap) {
        log->ring[log->ring_start] = e;
        log->ring_start = (log->ring_start + 1) % log->ring_cap;
    } else {
        log->ring[(log->ring_start + log->ring_len++) % log->ring_cap] = e;
    }
    log->latest[p->chain] = e;
    return e.seq;
}

uint64_t job_events_add_done(job_events *log, const char *state, const char *error,
                             const uint64_t *draws_per_chain, double time) {
    int s = state_index(state);
    if (!log_accepts_events(log) || s < FIRST_TERMINAL_STATE) return 0;
    uint64_t *draws = malloc(log->chains * sizeof *draws);
    if (!draws) return 0;
    for (uint32_t c = 0; c < log->chains; c++)
        draws[c] = draws_per_chain ? draws_per_chain[c] : log->latest[c].p.draws;
    uint64_t seq = add_milestone(log, s, error, 1, time);
    if (!seq) {
        free(draws);
        return 0;
    }
    log->draws_per_chain = draws;
    log->done_seq = seq;
    return seq;
}

/* ---- questions ---- */

uint64_t job_events_last_seq(const job_events *log) {
    return log->last_seq;
}

int job_events_is_done(const job_events *log) {
    return log->done_seq != 0;
}

int job_events_watcher_finished(const job_events *log, uint64_t after) {
    return log->done_seq != 0 && after >= log->done_seq;
}

const char *job_events_state(const job_events *log) {
    return log->state < 0 ? NULL : state_names[log->state];
}

const job_progress *job_events_chain_progress(const job_events *log, uint32_t chain) {
    if (chain >= log->chains || log->latest[chain].seq == 0) return NULL;
    return &log->latest[chain].p;
}

static const progress_event *ring_at(const job_events *log, size_t i) {
    return &log->ring[(log->ring_start + i) % log->ring_cap];
}

/* The seq below which progress lives only in `latest`. */
static uint64_t ring_oldest_seq(const job_events *log) {
    return log->ring_len ? ring_at(log, 0)->seq : UINT64_MAX;
}

/* A chain's latest progress that has dropped out of the ring. */
static int is_outlived(const job_events *log, uint32_t c) {
    uint64_t seq = log->latest[c].seq;
    return seq != 0 && seq < ring_oldest_seq(log);
}

size_t job_events_retained(const job_events *log) {
    size_t n = log->milestone_count + log->ring_len + log->line_count;
    for (uint32_t c = 0; c < log->chains; c++)
        n += (size_t)is_outlived(log, c);
    return n;
}

/* ---- JSON ---- */

static json_t *json_number_or_null(double v) {
    return isfinite(v) ? json_real(v) : json_null();
}

static json_t *json_count(uint64_t v) {
    return v <= (uint64_t)INT64_MAX ? json_integer((json_int_t)v) : json_real((double)v);
}

/* Sets o[key] = v, taking v; counts failures (v NULL included) in *bad. */
static void put(json_t *o, const char *key, json_t *v, int *bad) {
    if (json_object_set_new(o, key, v) != 0) *bad = 1;
}

/* {"seq", "type", "job", "time"}, the fields every stored event starts with. */
static json_t *event_object(const job_events *log, uint64_t seq, const char *type, double time,
                            int *bad) {
    json_t *o = json_object();
    if (!o) return NULL;
    put(o, "seq", json_count(seq), bad);
    put(o, "type", json_string(type), bad);
    put(o, "job", json_string(log->job_id), bad);
    put(o, "time", json_number_or_null(time), bad);
    return o;
}

static json_t *draws_array(const job_events *log, int *bad) {
    json_t *a = json_array();
    for (uint32_t c = 0; a && c < log->chains; c++)
        if (json_array_append_new(a, json_count(log->draws_per_chain[c])) != 0) *bad = 1;
    return a;
}

static json_t *milestone_to_json(const job_events *log, const milestone *m) {
    int bad = 0;
    json_t *o = event_object(log, m->seq, m->is_done ? "done" : "state", m->time, &bad);
    if (!o) return NULL;
    put(o, "state", json_string(state_names[m->state]), &bad);
    if (m->error) put(o, "error", json_string(m->error), &bad);
    if (m->is_done) put(o, "draws_per_chain", draws_array(log, &bad), &bad);
    if (bad) json_decref(o);
    return bad ? NULL : o;
}

static json_t *progress_to_json(const job_events *log, const progress_event *e) {
    int bad = 0;
    json_t *o = event_object(log, e->seq, "progress", e->time, &bad);
    if (!o) return NULL;
    put(o, "chain", json_count(e->p.chain), &bad);
    put(o, "iter", json_count(e->p.iter), &bad);
    put(o, "total", json_count(e->p.total), &bad);
    put(o, "phase", json_string(e->p.warmup ? "warmup" : "sampling"), &bad);
    put(o, "step_size", json_number_or_null(e->p.step_size), &bad);
    put(o, "divergent", json_count(e->p.divergent), &bad);
    put(o, "accept_rate", json_number_or_null(e->p.accept_rate), &bad);
    put(o, "draws", json_count(e->p.draws), &bad);
    put(o, "elapsed", json_number_or_null(e->p.elapsed), &bad);
    put(o, "it_per_s", json_number_or_null(e->p.it_per_s), &bad);
    put(o, "eta_s", json_number_or_null(e->p.eta_s), &bad);
    if (bad) json_decref(o);
    return bad ? NULL : o;
}

/* ---- buffers ---- */

void event_buf_free(event_buf *buf) {
    free(buf->data);
    *buf = (event_buf){0};
}

/* Makes room for `more` bytes past len. */
static int buf_reserve(event_buf *b, size_t more) {
    if (more <= b->cap - b->len) return 0;
    if (more > SIZE_MAX / 2 - b->len) return -1;
    size_t cap = b->cap ? b->cap : 256;
    while (cap - b->len < more)
        cap *= 2;
    char *grown = realloc(b->data, cap);
    if (!grown) return -1;
    b->data = grown;
    b->cap = cap;
    return 0;
}

static int buf_append(event_buf *b, const char *s, size_t n) {
    if (buf_reserve(b, n) != 0) return -1;
    memcpy(b->data + b->len, s, n);
    b->len += n;
    return 0;
}

/* Appends j as compact JSON, dumped in place. */
static int buf_append_json(event_buf *b, const json_t *j) {
    if (buf_reserve(b, 256) != 0) return -1;
    size_t need = json_dumpb(j, b->data + b->len, b->cap - b->len, JSON_FLAGS);
    if (need > b->cap - b->len) {
        if (buf_reserve(b, need) != 0) return -1;
        need = json_dumpb(j, b->data + b->len, b->cap - b->len, JSON_FLAGS);
    }
    if (need == 0) return -1;
    b->len += need;
    return 0;
}

/* One event, framed around its JSON text: an NDJSON line, or SSE
 * id/event/data lines and a blank line. Compact JSON escapes every
 * newline, so data is one line. */
static int buf_append_event(event_buf *b, event_framing framing, uint64_t seq, const char *type,
                            const char *json, size_t len) {
    if (framing == EVENT_FRAMING_SSE) {
        char head[96];
        int n = snprintf(head, sizeof head, "id: %llu\nevent: %s\ndata: ", (unsigned long long)seq,
                         type);
        if (buf_append(b, head, (size_t)n) != 0) return -1;
    }
    if (buf_append(b, json, len) != 0) return -1;
    return framing == EVENT_FRAMING_SSE ? buf_append(b, "\n\n", 2) : buf_append(b, "\n", 1);
}

/* ---- reading: a cursor that merges the three stores by seq ---- */

typedef struct event_cursor {
    const job_events *log;
    size_t milestone;                /* next index into milestones */
    size_t ring;                     /* next logical index into the ring */
    const progress_event **outlived; /* latest events older than the ring, by seq */
    size_t outlived_count, outlived_next;
} event_cursor;

static size_t first_milestone_after(const job_events *log, uint64_t after) {
    size_t lo = 0, hi = log->milestone_count;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (log->milestones[mid].seq <= after)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

static size_t first_ring_after(const job_events *log, uint64_t after) {
    size_t lo = 0, hi = log->ring_len;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (ring_at(log, mid)->seq <= after)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

static int by_seq(const void *a, const void *b) {
    uint64_t x = (*(const progress_event *const *)a)->seq;
    uint64_t y = (*(const progress_event *const *)b)->seq;
    return (x > y) - (x < y);
}

static int cursor_open(event_cursor *cur, const job_events *log, uint64_t after) {
    *cur = (event_cursor){.log = log,
                          .milestone = first_milestone_after(log, after),
                          .ring = first_ring_after(log, after)};
    size_t n = 0;
    for (uint32_t c = 0; c < log->chains; c++)
        n += (size_t)(is_outlived(log, c) && log->latest[c].seq > after);
    if (n == 0) return 0;
    if (!(cur->outlived = malloc(n * sizeof *cur->outlived))) return -1;
    for (uint32_t c = 0; c < log->chains; c++)
        if (is_outlived(log, c) && log->latest[c].seq > after)
            cur->outlived[cur->outlived_count++] = &log->latest[c];
    qsort(cur->outlived, n, sizeof *cur->outlived, by_seq);
    return 0;
}

static void cursor_close(event_cursor *cur) {
    free(cur->outlived);
}

/* The next event: exactly one of *m, *p is set. Returns 0 at the end. */
static int cursor_next(event_cursor *cur, const milestone **m, const progress_event **p) {
    const job_events *log = cur->log;
    uint64_t ms =
        cur->milestone < log->milestone_count ? log->milestones[cur->milestone].seq : UINT64_MAX;
    uint64_t rs = cur->ring < log->ring_len ? ring_at(log, cur->ring)->seq : UINT64_MAX;
    uint64_t os = cur->outlived_next < cur->outlived_count ? cur->outlived[cur->outlived_next]->seq
                                                           : UINT64_MAX;
    *m = NULL;
    *p = NULL;
    if (ms == UINT64_MAX && rs == UINT64_MAX && os == UINT64_MAX) return 0;
    if (ms < rs && ms < os)
        *m = &log->milestones[cur->milestone++];
    else if (os < rs)
        *p = cur->outlived[cur->outlived_next++];
    else
        *p = ring_at(log, cur->ring++);
    return 1;
}

/* The event's JSON text, from the memo or formatted into it. The memo is
 * a cache: it changes no event, so a log read through a const pointer
 * may fill it (the loop thread alone reads logs). NULL on ENOMEM. */
static const memo_slot *event_json(const job_events *log, const milestone *m,
                                   const progress_event *p) {
    uint64_t seq = m ? m->seq : p->seq;
    job_events *cache = (job_events *)log;
    if (!cache->memo && !(cache->memo = calloc(MEMO_SLOTS, sizeof *cache->memo))) return NULL;
    memo_slot *slot = &cache->memo[seq % MEMO_SLOTS];
    if (slot->seq == seq && slot->json) return slot;
    json_t *j = m ? milestone_to_json(log, m) : progress_to_json(log, p);
    event_buf text = {0};
    int rc = j ? buf_append_json(&text, j) : -1;
    json_decref(j);
    if (rc != 0) {
        free(text.data);
        return NULL;
    }
    free(slot->json);
    *slot = (memo_slot){.seq = seq, .json = text.data, .len = text.len};
    return slot;
}

static int append_one(const job_events *log, const milestone *m, const progress_event *p,
                      event_framing framing, event_buf *buf) {
    const memo_slot *e = event_json(log, m, p);
    if (!e) return -1;
    const char *type = m ? (m->is_done ? "done" : "state") : "progress";
    return buf_append_event(buf, framing, e->seq, type, e->json, e->len);
}

static ssize_t format_saved_after(const job_events *log, uint64_t after, event_framing framing,
                                  size_t max_events, event_buf *buf, uint64_t *new_after);

ssize_t job_events_format_after(const job_events *log, uint64_t after, event_framing framing,
                                size_t max_events, event_buf *buf, uint64_t *new_after) {
    if (log->saved) return format_saved_after(log, after, framing, max_events, buf, new_after);
    event_cursor cur;
    if (cursor_open(&cur, log, after) != 0) return -1;
    size_t start_len = buf->len, count = 0;
    uint64_t last = after;
    const milestone *m;
    const progress_event *p;
    while ((max_events == 0 || count < max_events) && cursor_next(&cur, &m, &p)) {
        if (append_one(log, m, p, framing, buf) != 0) {
            cursor_close(&cur);
            buf->len = start_len;
            return -1;
        }
        last = m ? m->seq : p->seq;
        count++;
    }
    cursor_close(&cur);
    *new_after = last;
    return (ssize_t)count;
}

/* ---- a log read back from its saved text ---- */

/* One event framed from its saved JSON: the same bytes buf_append_event
 * made from the stored numbers. */
static int append_saved(const job_events *log, const saved_line *l, event_framing framing,
                        event_buf *b) {
    if (framing == EVENT_FRAMING_SSE) {
        char head[96];
        int n =
            snprintf(head, sizeof head, "id: %llu\nevent: %s\ndata: ", (unsigned long long)l->seq,
                     event_types[l->type]);
        if (buf_append(b, head, (size_t)n) != 0) return -1;
    }
    if (buf_append(b, log->saved + l->off, l->len) != 0) return -1;
    return framing == EVENT_FRAMING_SSE ? buf_append(b, "\n\n", 2) : buf_append(b, "\n", 1);
}

static ssize_t format_saved_after(const job_events *log, uint64_t after, event_framing framing,
                                  size_t max_events, event_buf *buf, uint64_t *new_after) {
    size_t lo = 0, hi = log->line_count, start_len = buf->len, count = 0;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (log->lines[mid].seq <= after)
            lo = mid + 1;
        else
            hi = mid;
    }
    uint64_t last = after;
    for (size_t i = lo; i < log->line_count && (max_events == 0 || count < max_events); i++) {
        if (append_saved(log, &log->lines[i], framing, buf) != 0) {
            buf->len = start_len;
            return -1;
        }
        last = log->lines[i].seq;
        count++;
    }
    *new_after = last;
    return (ssize_t)count;
}

/* Reads one saved line's seq, type and (state and done events) state;
 * -1 when it is not an event of this log. */
static int parse_saved_line(const job_events *log, const char *text, size_t len, saved_line *l,
                            int *state) {
    json_t *o = json_loadb(text, len, JSON_REJECT_DUPLICATES, NULL);
    json_t *seq = json_object_get(o, "seq"), *job = json_object_get(o, "job");
    const char *type = json_string_value(json_object_get(o, "type"));
    int rc = -1;
    l->type = -1;
    for (int t = 0; type && t < TYPE_COUNT; t++)
        if (!strcmp(type, event_types[t])) l->type = t;
    if (json_is_integer(seq) && json_integer_value(seq) > 0 && l->type >= 0 &&
        json_is_string(job) && !strcmp(json_string_value(job), log->job_id)) {
        l->seq = (uint64_t)json_integer_value(seq);
        *state = state_index(json_string_value(json_object_get(o, "state")));
        rc = l->type == TYPE_PROGRESS || *state >= 0 ? 0 : -1;
    }
    json_decref(o);
    return rc;
}

/* Indexes the saved text: one event a line, seqs increasing, the done
 * event last and only there. */
static int index_saved(job_events *log, size_t len) {
    size_t cap = 0;
    for (size_t off = 0; off < len;) {
        const char *nl = memchr(log->saved + off, '\n', len - off);
        if (!nl || log->done_seq) return -1; /* a cut line, or events after done */
        size_t line_len = (size_t)(nl - (log->saved + off));
        if (log->line_count == cap) {
            cap = cap ? 2 * cap : 16;
            saved_line *grown = realloc(log->lines, cap * sizeof *grown);
            if (!grown) return -1;
            log->lines = grown;
        }
        saved_line *l = &log->lines[log->line_count];
        int state;
        if (parse_saved_line(log, log->saved + off, line_len, l, &state) != 0 ||
            l->seq <= log->last_seq)
            return -1;
        *l = (saved_line){.seq = l->seq, .off = off, .len = line_len, .type = l->type};
        log->line_count++;
        log->last_seq = l->seq;
        if (l->type != TYPE_PROGRESS) log->state = state;
        if (l->type == TYPE_DONE) log->done_seq = l->seq;
        off += line_len + 1;
    }
    return log->done_seq ? 0 : -1;
}

job_events *job_events_from_ndjson(const char *job_id, uint32_t chains, const char *text,
                                   size_t len) {
    job_events *log = job_events_new(job_id, chains, 0, 1);
    if (!log || !text || !(log->saved = malloc(len ? len : 1))) {
        job_events_free(log);
        return NULL;
    }
    memcpy(log->saved, text, len);
    if (index_saved(log, len) != 0) {
        job_events_free(log);
        return NULL;
    }
    return log;
}

/* ---- heartbeats, preamble ---- */

size_t job_events_format_heartbeat(event_framing framing, double time, char *buf, size_t cap) {
    if (framing == EVENT_FRAMING_SSE) return (size_t)snprintf(buf, cap, ": heartbeat\n\n");
    int bad = 0;
    json_t *o = json_object();
    if (!o) return 0;
    put(o, "type", json_string("heartbeat"), &bad);
    put(o, "time", json_number_or_null(time), &bad);
    char text[128];
    size_t n = bad ? 0 : json_dumpb(o, text, sizeof text, JSON_FLAGS);
    json_decref(o);
    if (n == 0 || n > sizeof text) return 0;
    return (size_t)snprintf(buf, cap, "%.*s\n", (int)n, text);
}

size_t job_events_format_sse_preamble(unsigned retry_ms, char *buf, size_t cap) {
    return (size_t)snprintf(buf, cap, "retry: %u\n\n", retry_ms);
}

/* ---- request headers ---- */

/* Digits only, at least one, no more than UINT64_MAX. */
static int parse_decimal(const char *s, uint64_t *out) {
    uint64_t v = 0;
    if (!*s) return -1;
    for (; *s; s++) {
        if (*s < '0' || *s > '9') return -1;
        unsigned d = (unsigned)(*s - '0');
        if (v > (UINT64_MAX - d) / 10) return -1;
        v = v * 10 + d;
    }
    *out = v;
    return 0;
}

int job_events_parse_resume(const char *after_query, const char *last_event_id, uint64_t *after) {
    uint64_t from_query = 0, from_header = 0;
    if (after_query && parse_decimal(after_query, &from_query) != 0) return -1;
    if (last_event_id && parse_decimal(last_event_id, &from_header) != 0) return -1;
    *after = last_event_id ? from_header : from_query;
    return 0;
}

event_framing event_framing_from_accept(const char *accept) {
    static const char *const offered[] = {"text/event-stream", "application/x-ndjson"};
    return accept_choose(accept, offered, 2) == 0 ? EVENT_FRAMING_SSE : EVENT_FRAMING_NDJSON;
}

const char *event_framing_content_type(event_framing framing) {
    return framing == EVENT_FRAMING_SSE ? "text/event-stream" : "application/x-ndjson";
}
