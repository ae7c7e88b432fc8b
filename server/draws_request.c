/* draws_request.c - the query and Accept header of GET /v1/jobs/{id}/draws
 * to a checked draws_request (draws_request.h). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "accept.h"
#include "draws_request.h"
#include "errors.h"
#include "sampler.h"

int draws_format_from(const char *format, const char *accept) {
    static const char *const names[] = {"npy", "csv", "json", "ndjson", "cmdstan"};
    if (format) {
        for (int i = 0; i < 5; i++)
            if (!strcmp(format, names[i])) return i;
        return -1;
    }
    /* Accept, with q-values (accept.c); most preferred first: a tie goes
     * to the more specific; JSON by default */
    static const char *const offered[] = {"application/x-npy", "text/csv;profile=cmdstan",
                                          "text/csv", "application/x-ndjson", "application/json"};
    static const int formats[] = {DRAW_NPY, DRAW_CMDSTAN, DRAW_CSV, DRAW_NDJSON, DRAW_JSON};
    int i = accept_choose(accept, offered, 5);
    return i < 0 ? DRAW_JSON : formats[i];
}

/* A 0/1 (or false/true) query flag: its value, def when absent, -1 when
 * malformed. */
static int query_flag(draws_query_get_fn get, void *ctx, const char *name, int def) {
    const char *v = get(ctx, name);
    if (!v) return def;
    if (!strcmp(v, "1") || !strcmp(v, "true")) return 1;
    if (!strcmp(v, "0") || !strcmp(v, "false")) return 0;
    return -1;
}

/* An index of params: decimal digits, below d; advances *s past it. */
static int column_index(const char **s, size_t d, uint64_t *out) {
    const char *p = *s;
    uint64_t v = 0;
    if (*p < '0' || *p > '9') return 0;
    for (; *p >= '0' && *p <= '9'; p++) {
        v = v * 10 + (uint64_t)(*p - '0');
        if (v >= d) return 0; /* also stops any wrap */
    }
    *s = p;
    *out = v;
    return 1;
}

/* params=LIST: counts its columns, and writes them to out when not NULL.
 * 0 when malformed, out of range or not strictly increasing. */
static int param_list(const char *s, size_t d, uint32_t *out, size_t *n) {
    size_t count = 0;
    uint64_t next = 0; /* the least index the next item may start at */
    for (;;) {
        uint64_t lo, hi;
        if (!column_index(&s, d, &lo) || lo < next) return 0;
        hi = lo;
        if (*s == '-' && (++s, !column_index(&s, d, &hi) || hi < lo)) return 0;
        for (uint64_t j = lo; j <= hi; j++)
            if (out) out[count + (j - lo)] = (uint32_t)j;
        count += (size_t)(hi - lo + 1);
        next = hi + 1;
        if (!*s) break;
        if (*s++ != ',') return 0;
    }
    *n = count;
    return 1;
}

/* params= into q->sel, or a message for a 400 (err holds it). */
static const char *parse_params(draws_request *q, const char *v, size_t d, char *err,
                                size_t errlen) {
    size_t n = 0;
    if (d > UINT32_MAX || !param_list(v, d, NULL, &n)) {
        snprintf(err, errlen, "params must be increasing indices or ranges a-b, each < %zu", d);
        return err;
    }
    q->params = malloc(n * sizeof *q->params);
    if (!q->params) return "params: out of memory";
    param_list(v, d, q->params, &n);
    q->out.params = q->params;
    q->out.nparams = n;
    return NULL;
}

/* divergent=1: its checks, and thin 1. */
static const char *keep_divergent(draws_request *q, const draws_job_shape *job) {
    int one_chain = q->sel.chain != DRAW_ALL_CHAINS || job->chains == 1;
    if (!(job->stats & STAT_BIT(STAT_DIVERGENT)))
        return "divergent=1: this job's sampler reports no divergences";
    if (!one_chain && (q->out.fmt == DRAW_NPY || q->out.fmt == DRAW_JSON))
        return "divergent=1 with format=npy or json needs chain=c (chains differ in rows)";
    q->out.divergent = 1;
    q->sel.thin = 1;
    return NULL;
}

/* include_warmup=0: the selection starts after the saved warmup rows. */
static void drop_warmup(draw_selection *sel, uint64_t warmup_rows) {
    if (sel->start >= warmup_rows) return;
    /* keep the grid; no overflow with a thin near UINT64_MAX (the fuzzer's find) */
    uint64_t skipped = (warmup_rows - sel->start - 1) / sel->thin + 1;
    uint64_t room = sel->stop - sel->start;
    if (skipped > room / sel->thin)
        sel->start = sel->stop;
    else
        sel->start += skipped * sel->thin;
    if (sel->start > sel->stop) sel->start = sel->stop;
}

void draws_request_release(draws_request *q) {
    free(q->params);
    q->params = NULL;
}

/* The query parameter a message from the checks below is about. */
static const char *field_of(const char *msg) {
    static const char *const names[] = {"chain",  "start", "stop",           "thin",      "format",
                                        "follow", "stats", "include_warmup", "divergent", "params"};
    for (size_t i = 0; i < sizeof names / sizeof *names; i++)
        if (!strncmp(msg, names[i], strlen(names[i]))) return names[i];
    return NULL;
}

static const char *parse_checked(draws_request *q, draws_query_get_fn get, void *ctx,
                                 const char *accept, const draws_job_shape *job, char *err,
                                 size_t errlen);

const char *draws_request_parse(draws_request *q, draws_query_get_fn get, void *ctx,
                                const char *accept, const draws_job_shape *job, char *err,
                                size_t errlen) {
    *q = (draws_request){0};
    const char *msg = parse_checked(q, get, ctx, accept, job, err, errlen);
    if (msg) {
        draws_request_release(q);
        q->field = field_of(msg);
        if (q->field && !get(ctx, q->field)) q->field = NULL; /* format by Accept */
    }
    return msg;
}

static const char *parse_checked(draws_request *q, draws_query_get_fn get, void *ctx,
                                 const char *accept, const draws_job_shape *job, char *err,
                                 size_t errlen) {
    draw_query dq = {get(ctx, "chain"), get(ctx, "start"), get(ctx, "stop"), get(ctx, "thin")};
    int follow = query_flag(get, ctx, "follow", 0), stats = query_flag(get, ctx, "stats", 0);
    int divergent = query_flag(get, ctx, "divergent", 0);
    const char *params = get(ctx, "params");
    q->include_warmup = query_flag(get, ctx, "include_warmup", 1);
    const char *format = get(ctx, "format");
    int fmt = draws_format_from(format, accept);
    if (follow == 1 && !format) fmt = DRAW_NDJSON;
    if (follow < 0) return "follow takes 0 or 1";
    if (stats < 0) return "stats takes 0 or 1";
    if (q->include_warmup < 0) return "include_warmup takes 0 or 1";
    if (divergent < 0) return "divergent takes 0 or 1";
    if (fmt < 0) return "format must be one of npy, csv, json, ndjson, cmdstan";
    if (follow && fmt != DRAW_NDJSON) return "follow=1 streams NDJSON: use format=ndjson";
    if (stats && fmt == DRAW_NPY)
        return "stats=1 needs format=csv, json or ndjson (npy holds the draws alone)";
    if (fmt == DRAW_CMDSTAN && job->chains > 1 && !dq.chain)
        return "format=cmdstan is one chain's file: give chain=c";
    if ((stats || fmt == DRAW_CMDSTAN) && chain_stat_count(job->stats) == 0)
        return "this job's sampler reports no statistics";
    if (draw_selection_resolve(&q->sel, &dq, job->chains, job->samples, err, errlen) != MCMC_OK)
        return err;
    q->out = (draw_output){.fmt = (draw_format)fmt, .follow = follow, .with_stats = stats};
    const char *msg = divergent ? keep_divergent(q, job) : NULL;
    if (!msg && params) msg = parse_params(q, params, job->d, err, errlen);
    if (!msg && !q->include_warmup) drop_warmup(&q->sel, job->warmup_rows);
    return msg;
}
