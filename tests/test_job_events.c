/* test_job_events.c - the per-job event log: seq numbering, retention in
 * bounded memory, resume semantics, NDJSON and SSE framing (every line
 * parsed back with jansson), non-finite numbers as null, heartbeats, and
 * the Accept and resume parsers. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "job_events.h"

#define T0 1712345678.25
#define MAX_EVENTS 4096

/* ---- helpers ---- */

static job_progress progress(uint32_t chain, uint64_t iter) {
    return job_progress_from_counts(chain, iter, 1000, iter / 2, iter, 0.01 * (double)iter);
}

static uint64_t add_progress(job_events *log, uint32_t chain, uint64_t iter) {
    job_progress p = progress(chain, iter);
    uint64_t seq = job_events_add_progress(log, &p, T0 + (double)iter);
    assert_true(seq > 0);
    return seq;
}

/* Every event after `after`, formatted into buf (emptied first). */
static ssize_t format_all(const job_events *log, uint64_t after, event_framing framing,
                          event_buf *buf, uint64_t *new_after) {
    buf->len = 0;
    ssize_t n = job_events_format_after(log, after, framing, 0, buf, new_after);
    assert_true(n >= 0);
    return n;
}

/* Splits NDJSON text into parsed objects (caller decrefs); every line must
 * end with a newline and parse as one JSON object. Returns the count. */
static size_t parse_ndjson(const event_buf *buf, json_t **out, size_t max) {
    size_t count = 0, pos = 0;
    while (pos < buf->len) {
        const char *line = buf->data + pos;
        const char *nl = memchr(line, '\n', buf->len - pos);
        assert_non_null(nl);
        json_error_t err;
        json_t *j = json_loadb(line, (size_t)(nl - line), 0, &err);
        if (!j) print_error("bad line: %.*s (%s)\n", (int)(nl - line), line, err.text);
        assert_non_null(j);
        assert_true(json_is_object(j));
        assert_true(count < max);
        out[count++] = j;
        pos = (size_t)(nl - buf->data) + 1;
    }
    return count;
}

static void decref_all(json_t **items, size_t n) {
    for (size_t i = 0; i < n; i++)
        json_decref(items[i]);
}

static uint64_t seq_of(const json_t *event) {
    return (uint64_t)json_integer_value(json_object_get(event, "seq"));
}

static const char *type_of(const json_t *event) {
    return json_string_value(json_object_get(event, "type"));
}

/* The seqs of every event after `after` (NDJSON), in stream order. */
static size_t seqs_after(const job_events *log, uint64_t after, uint64_t *seqs) {
    static json_t *items[MAX_EVENTS];
    event_buf buf = {0};
    uint64_t new_after;
    ssize_t n = format_all(log, after, EVENT_FRAMING_NDJSON, &buf, &new_after);
    size_t count = parse_ndjson(&buf, items, MAX_EVENTS);
    assert_int_equal(count, (size_t)n);
    for (size_t i = 0; i < count; i++)
        seqs[i] = seq_of(items[i]);
    assert_int_equal(new_after, count ? seqs[count - 1] : after);
    decref_all(items, count);
    event_buf_free(&buf);
    return count;
}

static void assert_increasing(const uint64_t *seqs, size_t n) {
    for (size_t i = 1; i < n; i++)
        assert_true(seqs[i - 1] < seqs[i]);
}

static int contains(const uint64_t *seqs, size_t n, uint64_t seq) {
    for (size_t i = 0; i < n; i++)
        if (seqs[i] == seq) return 1;
    return 0;
}

/* ---- sequence numbers ---- */

static void test_seq_starts_at_one(void **state) {
    (void)state;
    job_events *log = job_events_new("j1", 2, 0, 0);
    assert_non_null(log);
    assert_int_equal(job_events_last_seq(log), 0);
    assert_null(job_events_state(log));
    assert_int_equal(job_events_add_state(log, "queued", NULL, T0), 1);
    assert_int_equal(job_events_add_state(log, "running", NULL, T0), 2);
    assert_int_equal(add_progress(log, 0, 10), 3);
    assert_int_equal(add_progress(log, 1, 10), 4);
    assert_int_equal(job_events_last_seq(log), 4);
    assert_string_equal(job_events_state(log), "running");
    job_events_free(log);
}

static void test_base_seq_continues_after_restart(void **state) {
    (void)state;
    job_events *log = job_events_new("j1", 1, 41, 8);
    assert_int_equal(job_events_last_seq(log), 41);
    assert_int_equal(job_events_add_state(log, "running", NULL, T0), 42);
    assert_int_equal(add_progress(log, 0, 1), 43);
    uint64_t seqs[8];
    assert_int_equal(seqs_after(log, 0, seqs), 2);
    assert_int_equal(seqs[0], 42);
    assert_int_equal(seqs_after(log, 30, seqs), 2); /* a resume from before the restart */
    assert_int_equal(seqs_after(log, 42, seqs), 1);
    assert_int_equal(seqs[0], 43);
    job_events_free(log);
}

static void test_new_rejects_bad_arguments(void **state) {
    (void)state;
    assert_null(job_events_new(NULL, 1, 0, 0));
    assert_null(job_events_new("", 1, 0, 0));
    assert_null(job_events_new("j", 0, 0, 0));
    assert_null(job_events_new("j", 1, (uint64_t)INT64_MAX + 1, 0));
    job_events_free(NULL);
}

static void test_invalid_events_are_refused(void **state) {
    (void)state;
    job_events *log = job_events_new("j", 2, 0, 4);
    job_progress p = progress(2, 5); /* chain 2 of 2 */
    assert_int_equal(job_events_add_progress(log, &p, T0), 0);
    assert_int_equal(job_events_add_progress(log, NULL, T0), 0);
    assert_int_equal(job_events_add_state(log, "bogus", NULL, T0), 0);
    assert_int_equal(job_events_add_state(log, NULL, NULL, T0), 0);
    assert_int_equal(job_events_add_done(log, "running", NULL, NULL, T0), 0);
    assert_int_equal(job_events_add_done(log, "queued", NULL, NULL, T0), 0);
    assert_int_equal(job_events_last_seq(log), 0);
    assert_int_equal(job_events_retained(log), 0);
    job_events_free(log);
}

/* ---- NDJSON ---- */

static void assert_common_fields(const json_t *e, uint64_t seq, const char *type) {
    assert_int_equal(seq_of(e), seq);
    assert_string_equal(type_of(e), type);
    assert_string_equal(json_string_value(json_object_get(e, "job")), "job-7");
    assert_true(json_is_number(json_object_get(e, "time")));
}

static void test_ndjson_lines_parse_with_their_fields(void **state) {
    (void)state;
    job_events *log = job_events_new("job-7", 2, 0, 0);
    job_events_add_state(log, "queued", NULL, T0);
    job_events_add_state(log, "running", NULL, T0 + 1);
    job_progress p = job_progress_from_counts(1, 250, 1000, 100, 200, 2.0);
    p.warmup = 1;
    p.step_size = 0.125;
    p.divergent = 3;
    job_events_add_progress(log, &p, T0 + 2);
    uint64_t draws[2] = {1000, 998};
    job_events_add_done(log, "failed", "chain 1 diverged", draws, T0 + 3);

    event_buf buf = {0};
    uint64_t new_after = 99;
    assert_int_equal(format_all(log, 0, EVENT_FRAMING_NDJSON, &buf, &new_after), 4);
    assert_int_equal(new_after, 4);
    json_t *e[8];
    assert_int_equal(parse_ndjson(&buf, e, 8), 4);

    assert_common_fields(e[0], 1, "state");
    assert_string_equal(json_string_value(json_object_get(e[0], "state")), "queued");
    assert_null(json_object_get(e[0], "error"));
    assert_float_equal(json_number_value(json_object_get(e[0], "time")), T0, 1e-3);

    assert_common_fields(e[2], 3, "progress");
    assert_int_equal(json_integer_value(json_object_get(e[2], "chain")), 1);
    assert_int_equal(json_integer_value(json_object_get(e[2], "iter")), 250);
    assert_int_equal(json_integer_value(json_object_get(e[2], "total")), 1000);
    assert_int_equal(json_integer_value(json_object_get(e[2], "draws")), 200);
    assert_float_equal(json_number_value(json_object_get(e[2], "accept_rate")), 0.4, 1e-12);
    assert_float_equal(json_number_value(json_object_get(e[2], "elapsed")), 2.0, 1e-12);
    assert_float_equal(json_number_value(json_object_get(e[2], "it_per_s")), 125.0, 1e-9);
    assert_float_equal(json_number_value(json_object_get(e[2], "eta_s")), 6.0, 1e-9);
    assert_string_equal(json_string_value(json_object_get(e[2], "phase")), "warmup");
    assert_float_equal(json_number_value(json_object_get(e[2], "step_size")), 0.125, 0.0);
    assert_int_equal(json_integer_value(json_object_get(e[2], "divergent")), 3);

    assert_common_fields(e[3], 4, "done");
    assert_string_equal(json_string_value(json_object_get(e[3], "state")), "failed");
    assert_string_equal(json_string_value(json_object_get(e[3], "error")), "chain 1 diverged");
    json_t *dpc = json_object_get(e[3], "draws_per_chain");
    assert_int_equal(json_array_size(dpc), 2);
    assert_int_equal(json_integer_value(json_array_get(dpc, 1)), 998);

    decref_all(e, 4);
    event_buf_free(&buf);
    job_events_free(log);
}

static void test_format_appends_to_what_is_there(void **state) {
    (void)state;
    job_events *log = job_events_new("j", 1, 0, 0);
    job_events_add_state(log, "queued", NULL, T0);
    event_buf buf = {0};
    uint64_t new_after;
    assert_int_equal(job_events_format_after(log, 0, EVENT_FRAMING_NDJSON, 0, &buf, &new_after), 1);
    size_t first = buf.len;
    assert_int_equal(job_events_format_after(log, 0, EVENT_FRAMING_NDJSON, 0, &buf, &new_after), 1);
    assert_int_equal(buf.len, 2 * first);
    assert_memory_equal(buf.data, buf.data + first, first);
    event_buf_free(&buf);
    assert_null(buf.data);
    job_events_free(log);
}

static void test_strings_are_escaped(void **state) {
    (void)state;
    job_events *log = job_events_new("a\"b\\c", 1, 0, 0);
    job_events_add_state(log, "failed", "line one\nline two\r\t\"quoted\" \xc3\xa9", T0);
    event_buf buf = {0};
    uint64_t new_after;
    format_all(log, 0, EVENT_FRAMING_NDJSON, &buf, &new_after);
    json_t *e[2];
    assert_int_equal(parse_ndjson(&buf, e, 2), 1);
    assert_string_equal(json_string_value(json_object_get(e[0], "job")), "a\"b\\c");
    assert_string_equal(json_string_value(json_object_get(e[0], "error")),
                        "line one\nline two\r\t\"quoted\" \xc3\xa9");
    decref_all(e, 1);
    event_buf_free(&buf);
    job_events_free(log);
}

/* ---- SSE ---- */

/* Checks one SSE event block ("id: N\nevent: T\ndata: J") and returns its
 * data, parsed; *seq and *type get the id and event fields. */
static json_t *parse_sse_block(const char *block, size_t len, uint64_t *seq, char *type) {
    char text[4096];
    assert_true(len < sizeof text);
    memcpy(text, block, len);
    text[len] = '\0';
    char *data = strstr(text, "\ndata: ");
    assert_non_null(data);
    *data = '\0';
    data += strlen("\ndata: ");
    assert_null(strchr(data, '\n')); /* one data line, no raw newline */
    unsigned long long id;
    int consumed = 0;
    assert_int_equal(sscanf(text, "id: %llu\nevent: %63[a-z]%n", &id, type, &consumed), 2);
    assert_int_equal((size_t)consumed, strlen(text)); /* nothing else */
    *seq = id;
    json_error_t err;
    json_t *j = json_loads(data, 0, &err);
    assert_non_null(j);
    return j;
}

static void test_sse_framing_parses(void **state) {
    (void)state;
    job_events *log = job_events_new("job-7", 2, 0, 0);
    job_events_add_state(log, "running", NULL, T0);
    add_progress(log, 0, 10);
    add_progress(log, 1, 10);
    job_events_add_done(log, "failed", "boom\nwith a newline", NULL, T0 + 1);

    event_buf buf = {0};
    uint64_t new_after;
    assert_int_equal(format_all(log, 0, EVENT_FRAMING_SSE, &buf, &new_after), 4);
    assert_true(buf.len >= 2 && memcmp(buf.data + buf.len - 2, "\n\n", 2) == 0);
    size_t pos = 0, count = 0;
    while (pos < buf.len) {
        const char *block = buf.data + pos;
        const char *end = memmem(block, buf.len - pos, "\n\n", 2);
        assert_non_null(end);
        uint64_t seq;
        char type[64];
        json_t *j = parse_sse_block(block, (size_t)(end - block), &seq, type);
        assert_int_equal(seq, ++count);
        assert_int_equal(seq_of(j), seq);
        assert_string_equal(type_of(j), type);
        if (count == 4)
            assert_string_equal(json_string_value(json_object_get(j, "error")),
                                "boom\nwith a newline");
        json_decref(j);
        pos = (size_t)(end - buf.data) + 2;
    }
    assert_int_equal(count, 4);
    event_buf_free(&buf);
    job_events_free(log);
}

/* The memo of formatted events (64 slots; 150 events wrap it twice):
 * reading the same events again (as the next watcher does), in the other
 * framing, or from a later seq gives the bytes a fresh log gives. */
static void test_memo_gives_the_bytes_formatting_gives(void **state) {
    (void)state;
    job_events *log = job_events_new("job-m", 2, 0, 8);
    job_events *fresh = NULL;
    job_events_add_state(log, "running", NULL, T0);
    for (uint64_t i = 1; i <= 150; i++)
        add_progress(log, (uint32_t)(i % 2), i * 10);
    event_buf first = {0}, again = {0}, sse = {0}, tail = {0}, ref = {0};
    uint64_t after;
    ssize_t n = format_all(log, 0, EVENT_FRAMING_NDJSON, &first, &after);
    assert_int_equal(format_all(log, 0, EVENT_FRAMING_NDJSON, &again, &after), n);
    assert_int_equal(first.len, again.len);
    assert_memory_equal(first.data, again.data, first.len);
    /* SSE's data lines are the NDJSON lines, in order */
    format_all(log, 0, EVENT_FRAMING_SSE, &sse, &after);
    size_t pos = 0, line = 0;
    for (const char *d = sse.data;
         (d = memmem(d, sse.len - (size_t)(d - sse.data), "data: ", 6));) {
        d += 6;
        const char *nl = memchr(d, '\n', sse.len - (size_t)(d - sse.data));
        const char *want = first.data + pos;
        const char *want_nl = memchr(want, '\n', first.len - pos);
        assert_int_equal(nl - d, want_nl - want);
        assert_memory_equal(d, want, (size_t)(nl - d));
        pos = (size_t)(want_nl - first.data) + 1;
        line++;
        d = nl;
    }
    assert_int_equal(line, (size_t)n);
    /* a later start: a suffix of the whole */
    format_all(log, 30, EVENT_FRAMING_NDJSON, &tail, &after);
    assert_true(tail.len > 0 && tail.len < first.len);
    assert_memory_equal(first.data + first.len - tail.len, tail.data, tail.len);
    /* a log built the same way, read once: the same bytes */
    fresh = job_events_new("job-m", 2, 0, 8);
    job_events_add_state(fresh, "running", NULL, T0);
    for (uint64_t i = 1; i <= 150; i++)
        add_progress(fresh, (uint32_t)(i % 2), i * 10);
    format_all(fresh, 0, EVENT_FRAMING_NDJSON, &ref, &after);
    assert_int_equal(ref.len, first.len);
    assert_memory_equal(ref.data, first.data, ref.len);
    event_buf_free(&first);
    event_buf_free(&again);
    event_buf_free(&sse);
    event_buf_free(&tail);
    event_buf_free(&ref);
    job_events_free(log);
    job_events_free(fresh);
}

static void test_sse_preamble(void **state) {
    (void)state;
    char buf[32];
    assert_int_equal(job_events_format_sse_preamble(JOB_EVENTS_SSE_RETRY_MS, buf, sizeof buf),
                     strlen("retry: 2000\n\n"));
    assert_string_equal(buf, "retry: 2000\n\n");
    assert_true(job_events_format_sse_preamble(2000, buf, 4) >= 4);
}

/* ---- resume ---- */

static void test_resume_returns_exactly_the_events_after(void **state) {
    (void)state;
    job_events *log = job_events_new("j", 3, 0, 0);
    job_events_add_state(log, "queued", NULL, T0);
    job_events_add_state(log, "running", NULL, T0);
    for (uint64_t i = 1; i <= 10; i++)
        add_progress(log, (uint32_t)(i % 3), i);
    job_events_add_done(log, "succeeded", NULL, NULL, T0);
    uint64_t last = job_events_last_seq(log), seqs[64];
    for (uint64_t after = 0; after <= last + 2; after++) {
        size_t n = seqs_after(log, after, seqs);
        size_t want = after < last ? (size_t)(last - after) : 0;
        assert_int_equal(n, want);
        for (size_t i = 0; i < n; i++)
            assert_int_equal(seqs[i], after + 1 + i);
    }
    job_events_free(log);
}

static void test_batches_resume_where_they_stopped(void **state) {
    (void)state;
    job_events *log = job_events_new("j", 2, 0, 0);
    job_events_add_state(log, "running", NULL, T0);
    for (uint64_t i = 1; i <= 20; i++)
        add_progress(log, (uint32_t)(i % 2), i);
    event_buf all = {0}, parts = {0};
    uint64_t after = 0, new_after;
    format_all(log, 0, EVENT_FRAMING_SSE, &all, &new_after);
    ssize_t n;
    while ((n = job_events_format_after(log, after, EVENT_FRAMING_SSE, 3, &parts, &after)) > 0)
        assert_true(n <= 3);
    assert_int_equal(n, 0);
    assert_int_equal(after, 21);
    assert_int_equal(parts.len, all.len);
    assert_memory_equal(parts.data, all.data, all.len);
    event_buf_free(&all);
    event_buf_free(&parts);
    job_events_free(log);
}

/* ---- retention ---- */

static void test_ring_overflow_keeps_milestones_and_latest_per_chain(void **state) {
    (void)state;
    job_events *log = job_events_new("j", 3, 0, 4);
    uint64_t queued = job_events_add_state(log, "queued", NULL, T0);
    uint64_t running = job_events_add_state(log, "running", NULL, T0);
    uint64_t chain0 = add_progress(log, 0, 1); /* chain 0 never reports again */
    uint64_t chain1 = 0;
    for (uint64_t i = 1; i <= 3; i++)
        chain1 = add_progress(log, 1, i);
    uint64_t noted = job_events_add_state(log, "running", "a note between progress", T0);
    uint64_t chain2[10];
    for (uint64_t i = 0; i < 10; i++)
        chain2[i] = add_progress(log, 2, i + 1);
    uint64_t done = job_events_add_done(log, "cancelled", NULL, NULL, T0);

    uint64_t seqs[64];
    size_t n = seqs_after(log, 0, seqs);
    assert_int_equal(n, job_events_retained(log));
    assert_int_equal(n, 3 + 1 + 4 + 2); /* states, done, ring, chains 0 and 1 */
    assert_increasing(seqs, n);
    assert_true(contains(seqs, n, queued) && contains(seqs, n, running));
    assert_true(contains(seqs, n, noted) && contains(seqs, n, done));
    assert_true(contains(seqs, n, chain0) && contains(seqs, n, chain1));
    for (int i = 6; i < 10; i++)
        assert_true(contains(seqs, n, chain2[i]));
    assert_false(contains(seqs, n, chain2[5]));
    assert_int_equal(seqs[n - 1], done);

    /* Resuming after a dropped seq: what is still there, in order, with
     * every state after it. */
    n = seqs_after(log, chain2[2], seqs);
    assert_int_equal(n, 4 + 1);
    assert_int_equal(seqs[0], chain2[6]);
    assert_int_equal(seqs[n - 1], done);
    n = seqs_after(log, chain1 - 1, seqs);
    assert_int_equal(n, 1 + 1 + 4 + 1); /* chain 1's latest, the note, ring, done */
    assert_int_equal(seqs[0], chain1);
    assert_int_equal(seqs[1], noted);
    assert_increasing(seqs, n);

    const job_progress *p0 = job_events_chain_progress(log, 0);
    assert_non_null(p0);
    assert_int_equal(p0->iter, 1);
    assert_null(job_events_chain_progress(log, 3));
    job_events_free(log);
}

static void test_memory_stays_bounded(void **state) {
    (void)state;
    const size_t capacity = 256;
    const uint32_t chains = 4;
    job_events *log = job_events_new("j", chains, 0, capacity);
    job_events_add_state(log, "queued", NULL, T0);
    job_events_add_state(log, "running", NULL, T0);
    add_progress(log, 3, 1); /* a chain that stalls after its first report */
    for (uint64_t i = 0; i < 100000; i++)
        add_progress(log, (uint32_t)(i % 3), i);
    assert_int_equal(job_events_last_seq(log), 2 + 1 + 100000);
    assert_true(job_events_retained(log) <= capacity + chains + 2);
    assert_int_equal(job_events_retained(log), capacity + 1 + 2);

    static uint64_t seqs[MAX_EVENTS];
    size_t n = seqs_after(log, 0, seqs);
    assert_int_equal(n, job_events_retained(log));
    assert_increasing(seqs, n);
    assert_int_equal(seqs[2], 3); /* the stalled chain's only report */
    assert_int_equal(seqs[n - 1], job_events_last_seq(log));
    job_events_free(log);
}

/* ---- non-finite numbers ---- */

static void test_non_finite_numbers_are_null(void **state) {
    (void)state;
    job_events *log = job_events_new("j", 1, 0, 0);
    job_progress p = {.chain = 0,
                      .iter = 5,
                      .total = 10,
                      .draws = 5,
                      .accept_rate = NAN,
                      .elapsed = NAN,
                      .it_per_s = INFINITY,
                      .eta_s = -INFINITY};
    job_events_add_progress(log, &p, NAN);
    job_progress fresh = job_progress_from_counts(0, 0, 10, 0, 0, 0.0);
    job_events_add_progress(log, &fresh, T0);

    event_buf buf = {0};
    uint64_t new_after;
    format_all(log, 0, EVENT_FRAMING_NDJSON, &buf, &new_after);
    json_t *e[2];
    assert_int_equal(parse_ndjson(&buf, e, 2), 2);
    const char *keys[] = {"accept_rate", "elapsed", "it_per_s", "eta_s", "time"};
    for (size_t i = 0; i < 5; i++)
        assert_true(json_is_null(json_object_get(e[0], keys[i])));
    assert_true(json_is_null(json_object_get(e[1], "accept_rate")));
    assert_true(json_is_null(json_object_get(e[1], "step_size"))); /* not known yet */
    assert_string_equal(json_string_value(json_object_get(e[1], "phase")), "sampling");
    assert_int_equal(json_integer_value(json_object_get(e[1], "divergent")), 0);
    assert_true(json_is_null(json_object_get(e[1], "it_per_s")));
    assert_true(json_is_null(json_object_get(e[1], "eta_s")));
    assert_float_equal(json_number_value(json_object_get(e[1], "elapsed")), 0.0, 0.0);
    decref_all(e, 2);
    event_buf_free(&buf);
    job_events_free(log);
}

static void test_progress_from_counts(void **state) {
    (void)state;
    job_progress p = job_progress_from_counts(2, 400, 1000, 300, 350, 4.0);
    assert_int_equal(p.chain, 2);
    assert_float_equal(p.accept_rate, 0.75, 1e-15);
    assert_float_equal(p.it_per_s, 100.0, 1e-12);
    assert_float_equal(p.eta_s, 6.0, 1e-12);
    job_progress end = job_progress_from_counts(0, 1000, 1000, 1000, 1000, 0.0);
    assert_float_equal(end.eta_s, 0.0, 0.0);
    assert_true(isnan(end.it_per_s));
}

/* ---- done ---- */

static void test_done_is_last(void **state) {
    (void)state;
    job_events *log = job_events_new("j", 2, 0, 0);
    job_events_add_state(log, "running", NULL, T0);
    add_progress(log, 0, 7);
    assert_false(job_events_is_done(log));
    assert_false(job_events_watcher_finished(log, 2));
    uint64_t done = job_events_add_done(log, "succeeded", NULL, NULL, T0);
    assert_int_equal(done, 3);
    assert_true(job_events_is_done(log));
    assert_string_equal(job_events_state(log), "succeeded");
    assert_int_equal(job_events_add_state(log, "running", NULL, T0), 0);
    job_progress late = progress(1, 9);
    assert_int_equal(job_events_add_progress(log, &late, T0), 0);
    assert_int_equal(job_events_add_done(log, "failed", NULL, NULL, T0), 0);
    assert_int_equal(job_events_last_seq(log), done);
    assert_false(job_events_watcher_finished(log, done - 1));
    assert_true(job_events_watcher_finished(log, done));

    event_buf buf = {0};
    uint64_t new_after;
    format_all(log, 0, EVENT_FRAMING_NDJSON, &buf, &new_after);
    json_t *e[4];
    assert_int_equal(parse_ndjson(&buf, e, 4), 3);
    assert_string_equal(type_of(e[2]), "done");
    json_t *dpc = json_object_get(e[2], "draws_per_chain"); /* from the latest progress */
    assert_int_equal(json_integer_value(json_array_get(dpc, 0)), 7);
    assert_int_equal(json_integer_value(json_array_get(dpc, 1)), 0);
    decref_all(e, 3);
    event_buf_free(&buf);
    job_events_free(log);
}

/* ---- heartbeats ---- */

static void test_heartbeat_formats(void **state) {
    (void)state;
    char buf[128];
    size_t n = job_events_format_heartbeat(EVENT_FRAMING_NDJSON, T0, buf, sizeof buf);
    assert_true(n > 0 && n < sizeof buf);
    assert_int_equal(strlen(buf), n);
    assert_int_equal(buf[n - 1], '\n');
    json_t *j = json_loadb(buf, n - 1, 0, NULL);
    assert_non_null(j);
    assert_string_equal(type_of(j), "heartbeat");
    assert_float_equal(json_number_value(json_object_get(j, "time")), T0, 1e-3);
    assert_null(json_object_get(j, "seq"));
    json_decref(j);

    n = job_events_format_heartbeat(EVENT_FRAMING_NDJSON, NAN, buf, sizeof buf);
    assert_string_equal(buf, "{\"type\":\"heartbeat\",\"time\":null}\n");

    n = job_events_format_heartbeat(EVENT_FRAMING_SSE, T0, buf, sizeof buf);
    assert_string_equal(buf, ": heartbeat\n\n");
    assert_int_equal(n, strlen(": heartbeat\n\n"));

    /* Too small: the length it needs, as snprintf does. */
    assert_true(job_events_format_heartbeat(EVENT_FRAMING_NDJSON, T0, buf, 8) >= 8);
    assert_true(job_events_format_heartbeat(EVENT_FRAMING_NDJSON, T0, NULL, 0) > 0);
}

/* ---- Accept ---- */

static void test_framing_from_accept(void **state) {
    (void)state;
    static const struct {
        const char *accept;
        event_framing want;
    } cases[] = {
        {NULL, EVENT_FRAMING_NDJSON},
        {"", EVENT_FRAMING_NDJSON},
        {"*/*", EVENT_FRAMING_NDJSON},
        {"text/*", EVENT_FRAMING_NDJSON},
        {"application/x-ndjson", EVENT_FRAMING_NDJSON},
        {"application/json", EVENT_FRAMING_NDJSON},
        {"text/event-stream", EVENT_FRAMING_SSE},
        {"TEXT/Event-Stream", EVENT_FRAMING_SSE},
        {"text/event-stream;q=1, application/json", EVENT_FRAMING_SSE},
        {"application/json, text/event-stream", EVENT_FRAMING_SSE},
        {"application/json,text/event-stream;charset=utf-8", EVENT_FRAMING_SSE},
        {"  text/event-stream ; q=0.9 ,*/*;q=0.1", EVENT_FRAMING_SSE},
        {"text/event-stream;q=0", EVENT_FRAMING_NDJSON},
        {"text/event-stream; q=0.000", EVENT_FRAMING_NDJSON},
        {"text/event-stream;q=0.5, application/x-ndjson", EVENT_FRAMING_NDJSON},
        {"application/x-ndjson;q=0.5, text/event-stream", EVENT_FRAMING_SSE},
        {"application/x-ndjson, text/event-stream", EVENT_FRAMING_SSE},
        {"text/event-streams", EVENT_FRAMING_NDJSON},
        {"text/event", EVENT_FRAMING_NDJSON},
        {"text/plain;x=\"a, text/event-stream\"", EVENT_FRAMING_NDJSON},
        {"text/plain;x=\"a, text/event-stream\", text/event-stream", EVENT_FRAMING_SSE},
        {",,;;,text/event-stream;;q", EVENT_FRAMING_SSE},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        if (event_framing_from_accept(cases[i].accept) != cases[i].want)
            print_error("Accept: %s\n", cases[i].accept ? cases[i].accept : "(none)");
        assert_int_equal(event_framing_from_accept(cases[i].accept), cases[i].want);
    }
    assert_string_equal(event_framing_content_type(EVENT_FRAMING_SSE), "text/event-stream");
    assert_string_equal(event_framing_content_type(EVENT_FRAMING_NDJSON), "application/x-ndjson");
}

/* ---- resume parsing ---- */

static void test_parse_resume(void **state) {
    (void)state;
    uint64_t after = 123;
    assert_int_equal(job_events_parse_resume(NULL, NULL, &after), 0);
    assert_int_equal(after, 0);
    assert_int_equal(job_events_parse_resume("5", NULL, &after), 0);
    assert_int_equal(after, 5);
    assert_int_equal(job_events_parse_resume(NULL, "7", &after), 0);
    assert_int_equal(after, 7);
    assert_int_equal(job_events_parse_resume("5", "9", &after), 0); /* the header wins */
    assert_int_equal(after, 9);
    assert_int_equal(job_events_parse_resume("0", NULL, &after), 0);
    assert_int_equal(after, 0);
    assert_int_equal(job_events_parse_resume("007", NULL, &after), 0);
    assert_int_equal(after, 7);
    assert_int_equal(job_events_parse_resume("18446744073709551615", NULL, &after), 0);
    assert_true(after == UINT64_MAX);

    static const char *const bad[] = {"",
                                      "-1",
                                      "+1",
                                      "1 ",
                                      " 1",
                                      "12abc",
                                      "0x10",
                                      "1e3",
                                      "1.0",
                                      "18446744073709551616",
                                      "99999999999999999999999"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        after = 42;
        assert_int_equal(job_events_parse_resume(bad[i], NULL, &after), -1);
        assert_int_equal(job_events_parse_resume(NULL, bad[i], &after), -1);
        assert_int_equal(after, 42);
    }
    assert_int_equal(job_events_parse_resume("abc", "5", &after), -1); /* still a bad URL */
    assert_int_equal(job_events_parse_resume("5", "abc", &after), -1);
    assert_int_equal(after, 42);
}

/* ---- a log read back from its saved text ---- */

/* A finished log with milestones, an overflowed ring, an error with
 * escapes and a non-finite number, saved as NDJSON. */
static job_events *finished_log(event_buf *saved) {
    job_events *log = job_events_new("job-saved", 3, 40, 8);
    job_events_add_state(log, "queued", NULL, T0);
    job_events_add_state(log, "running", NULL, T0 + 1);
    for (uint64_t i = 1; i <= 30; i++)
        add_progress(log, (uint32_t)(i % 3 == 0 ? 1 : i % 2), i);
    job_progress p = progress(2, 7);
    p.step_size = NAN;
    job_events_add_progress(log, &p, T0 + 0.1);
    uint64_t draws[3] = {30, 29, 7};
    job_events_add_done(log, "failed", "chain 2: \"bad\"\nline", draws, T0 + 99);
    uint64_t last;
    saved->len = 0;
    assert_true(job_events_format_after(log, 0, EVENT_FRAMING_NDJSON, 0, saved, &last) > 0);
    return log;
}

static void assert_same_bytes(const job_events *a, const job_events *b, uint64_t after,
                              event_framing framing, size_t max) {
    event_buf x = {0}, y = {0};
    uint64_t ax = 7, ay = 9;
    ssize_t nx = job_events_format_after(a, after, framing, max, &x, &ax);
    ssize_t ny = job_events_format_after(b, after, framing, max, &y, &ay);
    assert_int_equal(nx, ny);
    assert_int_equal(ax, ay);
    assert_int_equal(x.len, y.len);
    assert_memory_equal(x.data ? x.data : "", y.data ? y.data : "", x.len);
    event_buf_free(&x);
    event_buf_free(&y);
}

static void test_saved_log_formats_the_same_bytes(void **state) {
    (void)state;
    event_buf saved = {0};
    job_events *log = finished_log(&saved);
    job_events *back = job_events_from_ndjson("job-saved", 3, saved.data, saved.len);
    assert_non_null(back);
    assert_int_equal(job_events_last_seq(back), job_events_last_seq(log));
    assert_int_equal(job_events_retained(back), job_events_retained(log));
    assert_true(job_events_is_done(back));
    assert_string_equal(job_events_state(back), "failed");
    assert_false(job_events_watcher_finished(back, job_events_last_seq(log) - 1));
    assert_true(job_events_watcher_finished(back, job_events_last_seq(log)));
    assert_null(job_events_chain_progress(back, 0));
    uint64_t last = job_events_last_seq(log);
    for (uint64_t after = 0; after <= last + 2; after++)
        for (int f = 0; f < 2; f++)
            for (size_t max = 0; max < 4; max++)
                assert_same_bytes(log, back, after, (event_framing)f, max);
    /* a saved log takes no more events */
    job_progress p = progress(0, 5);
    assert_int_equal(job_events_add_progress(back, &p, T0), 0);
    assert_int_equal(job_events_add_state(back, "running", NULL, T0), 0);
    job_events_free(back);
    job_events_free(log);
    event_buf_free(&saved);
}

static job_events *read_back(const char *id, const char *text) {
    return job_events_from_ndjson(id, 3, text, strlen(text));
}

static void test_saved_log_refuses_other_text(void **state) {
    (void)state;
    event_buf saved = {0};
    job_events *log = finished_log(&saved);
    char *text = calloc(1, saved.len + 1);
    memcpy(text, saved.data, saved.len);
    job_events *ok = read_back("job-saved", text);
    assert_non_null(ok);
    job_events_free(ok);
    assert_null(read_back("job-other", text)); /* another job's events */
    text[saved.len - 1] = 0;                   /* the last line cut */
    assert_null(read_back("job-saved", text));
    char *done = strstr(text, "\"type\":\"done\"");
    char *line = done;
    while (line > text && line[-1] != '\n')
        line--;
    *line = 0; /* no done event */
    assert_null(read_back("job-saved", text));
    assert_null(read_back("job-saved", ""));
    assert_null(read_back("job-saved", "not json\n"));
    const char *backwards =
        "{\"seq\":5,\"type\":\"state\",\"job\":\"j\",\"time\":1,\"state\":\"queued\"}\n"
        "{\"seq\":4,\"type\":\"done\",\"job\":\"j\",\"time\":1,\"state\":\"failed\"}\n";
    assert_null(read_back("j", backwards));
    const char *after_done =
        "{\"seq\":4,\"type\":\"done\",\"job\":\"j\",\"time\":1,\"state\":\"failed\"}\n"
        "{\"seq\":5,\"type\":\"state\",\"job\":\"j\",\"time\":1,\"state\":\"queued\"}\n";
    assert_null(read_back("j", after_done));
    const char *fine =
        "{\"seq\":4,\"type\":\"done\",\"job\":\"j\",\"time\":1,\"state\":\"failed\"}\n";
    job_events *one = read_back("j", fine);
    assert_non_null(one);
    assert_int_equal(job_events_last_seq(one), 4);
    job_events_free(one);
    free(text);
    job_events_free(log);
    event_buf_free(&saved);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_seq_starts_at_one),
        cmocka_unit_test(test_base_seq_continues_after_restart),
        cmocka_unit_test(test_new_rejects_bad_arguments),
        cmocka_unit_test(test_invalid_events_are_refused),
        cmocka_unit_test(test_ndjson_lines_parse_with_their_fields),
        cmocka_unit_test(test_format_appends_to_what_is_there),
        cmocka_unit_test(test_strings_are_escaped),
        cmocka_unit_test(test_sse_framing_parses),
        cmocka_unit_test(test_memo_gives_the_bytes_formatting_gives),
        cmocka_unit_test(test_sse_preamble),
        cmocka_unit_test(test_resume_returns_exactly_the_events_after),
        cmocka_unit_test(test_batches_resume_where_they_stopped),
        cmocka_unit_test(test_ring_overflow_keeps_milestones_and_latest_per_chain),
        cmocka_unit_test(test_memory_stays_bounded),
        cmocka_unit_test(test_non_finite_numbers_are_null),
        cmocka_unit_test(test_progress_from_counts),
        cmocka_unit_test(test_done_is_last),
        cmocka_unit_test(test_heartbeat_formats),
        cmocka_unit_test(test_framing_from_accept),
        cmocka_unit_test(test_parse_resume),
        cmocka_unit_test(test_saved_log_formats_the_same_bytes),
        cmocka_unit_test(test_saved_log_refuses_other_text),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
