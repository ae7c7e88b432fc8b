/* job_events.h - one job's event log and its wire framing (NDJSON or SSE).
 *
 * The event loop owns each job's log: it appends events as workers hand
 * progress over, and every streaming connection is a cursor over the log
 * (the seq of the last event it sent). Nothing here locks: the owner
 * serialises every call on a log.
 *
 * Events, as JSON objects (compact, one per NDJSON line or SSE data line):
 *   {"seq": n, "type": "state",    "job": id, "time": t, "state": s, "error": e?}
 *   {"seq": n, "type": "progress", "job": id, "time": t, "chain": c, "iter": i,
 *    "total": T, "phase": "warmup"|"sampling", "step_size": h, "divergent": v,
 *    "accept_rate": a, "draws": k, "elapsed": s, "it_per_s": r, "eta_s": e}
 *   {"seq": n, "type": "done",     "job": id, "time": t, "state": s, "error": e?,
 *    "draws_per_chain": [k0, k1, ...]}
 *   {"type": "heartbeat", "time": t}          (not stored, no seq)
 * t is unix seconds (real). Non-finite numbers are written as null.
 *
 * Sequence numbers: the first event gets base_seq + 1, each next one the
 * next integer; 0 means "nothing yet". After a restart the owner passes
 * the last seq it handed out as base_seq, so ids never repeat, and adds
 * the job's current state first: the log only holds what was added since.
 *
 * Retention, in bounded memory: every state and done event is kept; of the
 * progress events, the last `progress_capacity` are kept, plus, for each
 * chain, its latest progress event however old. A watcher asking for the
 * events after seq N gets every retained event with seq > N, in seq order:
 * events are never reordered, state and done events are never skipped, and
 * a gap can only ever hide progress events that a newer one superseded.
 * A new watcher (N = 0) thus gets every state, the latest progress of each
 * chain, the recent progress, and the done event if the job ended.
 *
 * The done event is the last one: once it is added, the log refuses more.
 */
#ifndef MCMCD_JOB_EVENTS_H
#define MCMCD_JOB_EVENTS_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#define JOB_EVENTS_DEFAULT_PROGRESS_CAPACITY 1024
#define JOB_EVENTS_SSE_RETRY_MS 2000

typedef enum event_framing { EVENT_FRAMING_NDJSON = 0, EVENT_FRAMING_SSE } event_framing;

/* One chain's progress, as the progress event carries it. */
typedef struct job_progress {
    uint32_t chain;
    uint64_t iter;      /* iterations done, warmup included */
    uint64_t total;     /* iterations planned, warmup included */
    uint64_t draws;     /* draws kept so far for this chain */
    int warmup;         /* phase: 1 "warmup" while warmup iterations remain, 0 "sampling" */
    double step_size;   /* the step size of the latest iteration (NaN: not known) */
    uint64_t divergent; /* divergent iterations so far */
    double accept_rate; /* Metropolis accepts / iter; NaN for samplers without an
                           accept step */
    double elapsed;     /* seconds since the chain started */
    double it_per_s;    /* iter / elapsed */
    double eta_s;       /* seconds left at the current rate */
} job_progress;

/* A progress record from a chain's counters, with the rates derived:
 * accept_rate is NaN before the first iteration, it_per_s is NaN while no
 * time has elapsed, eta_s is 0 once iter reaches total and NaN while the
 * rate is unknown (all such values go out as null). The phase is
 * "sampling", step_size NaN and divergent 0: the caller sets what it knows,
 * and sets accept_rate to NaN for a sampler without an accept step. */
job_progress job_progress_from_counts(uint32_t chain, uint64_t iter, uint64_t total,
                                      uint64_t accepted, uint64_t draws, double elapsed);

typedef struct job_events job_events;

/* A new, empty log for job_id (copied) with `chains` chains. Its first
 * event gets seq base_seq + 1. progress_capacity 0 picks the default.
 * NULL when memory runs out or the arguments are invalid (no id, no
 * chains, base_seq beyond INT64_MAX). Free with job_events_free. */
job_events *job_events_new(const char *job_id, uint32_t chains, uint64_t base_seq,
                           size_t progress_capacity);
void job_events_free(job_events *log);

/* Each add returns the new event's seq, or 0 if nothing was added: memory
 * ran out, an argument is invalid, or the log already holds its done
 * event. Strings are copied. States: queued, running, succeeded, failed,
 * cancelled; done takes the last three only. error may be NULL.
 * draws_per_chain holds one count per chain; NULL takes each chain's
 * latest progress draws (0 for a chain that never reported). */
uint64_t job_events_add_state(job_events *log, const char *state, const char *error, double time);
uint64_t job_events_add_progress(job_events *log, const job_progress *p, double time);
uint64_t job_events_add_done(job_events *log, const char *state, const char *error,
                             const uint64_t *draws_per_chain, double time);

/* The seq of the newest event (base_seq while the log is empty). */
uint64_t job_events_last_seq(const job_events *log);
/* 1 once the done event is in the log. */
int job_events_is_done(const job_events *log);
/* 1 when a watcher that has sent every event up to `after` has sent the
 * done event too, so its stream can end. */
int job_events_watcher_finished(const job_events *log, uint64_t after);
/* The latest state ("queued", ...; a static string), NULL before any. */
const char *job_events_state(const job_events *log);
/* Chain c's latest progress; NULL before its first report. The pointer
 * is valid until the next add. */
const job_progress *job_events_chain_progress(const job_events *log, uint32_t chain);
/* How many events the log holds now: at most the state and done events,
 * plus progress_capacity, plus chains. */
size_t job_events_retained(const job_events *log);

/* A growable byte buffer the caller owns: start it zeroed, empty it by
 * setting len = 0, release it with event_buf_free. Text in it is not
 * NUL-terminated. */
typedef struct event_buf {
    char *data;
    size_t len, cap;
} event_buf;

void event_buf_free(event_buf *buf);

/* Appends to buf the retained events with seq > after, in seq order and
 * framed, at most max_events of them (0: no limit). *new_after becomes
 * the seq of the last event appended (after, when none was). Returns how
 * many were appended, or -1 when memory ran out; buf and *new_after are
 * then as they were. An `after` beyond job_events_last_seq gets nothing
 * until the log passes it: the HTTP layer may reject such a resume. */
ssize_t job_events_format_after(const job_events *log, uint64_t after, event_framing framing,
                                size_t max_events, event_buf *buf, uint64_t *new_after);

/* A log read back from the NDJSON text of every event a finished log
 * retained (job_events_format_after from 0 with NDJSON framing and no
 * limit), as kept on disk once its job leaves memory. It holds the text,
 * not the numbers: it formats, in either framing, exactly the bytes the
 * log it came from did, answers last_seq, is_done, watcher_finished,
 * state and retained as it did, and knows no chain's progress (NULL).
 * NULL when memory runs out or the text is not such a log: every line one
 * event of job_id, seqs rising, the done event last and present. */
job_events *job_events_from_ndjson(const char *job_id, uint32_t chains, const char *text,
                                   size_t len);

/* A heartbeat, NUL-terminated in buf: an NDJSON line, or an SSE comment.
 * Returns its length; a result >= cap means buf was too small (nothing
 * usable was written) and 0 means memory ran out. */
size_t job_events_format_heartbeat(event_framing framing, double time, char *buf, size_t cap);

/* What an SSE stream starts with: "retry: <ms>\n\n", the delay a client
 * waits before reconnecting. Same return convention as the heartbeat. */
size_t job_events_format_sse_preamble(unsigned retry_ms, char *buf, size_t cap);

/* Where a watcher resumes: the seq from the Last-Event-ID header, else
 * from the `after` query parameter, else 0 (from the start). Either one
 * given must be a plain decimal integer (digits only, no sign or spaces,
 * no more than UINT64_MAX), even when the header makes the query moot.
 * The header wins because a browser's EventSource reconnects to the same
 * URL, ?after= included, with the header set to the last id it received.
 * Returns 0, or -1 on a malformed value (a 400 for the HTTP layer), with
 * *after untouched. */
int job_events_parse_resume(const char *after_query, const char *last_event_id, uint64_t *after);

/* SSE when the Accept header lists text/event-stream with a nonzero
 * q-value no lower than application/x-ndjson's (when that is listed too);
 * NDJSON otherwise, a missing header and wildcards included. */
event_framing event_framing_from_accept(const char *accept);
/* The Content-Type to send for the framing. */
const char *event_framing_content_type(event_framing framing);

#endif
