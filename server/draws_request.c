/* draws_request.c - the query and Accept header of GET /v1/jobs/{id}/draws
 * to a checked draws_request (draws_request.h). */
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

const char *draws_request_parse(draws_request *q, draws_query_get_fn get, void *ctx,
                                const char *accept, const draws_job_shape *job, char *err,
                                size_t errlen) {
    draw_query dq = {get(ctx, "chain"), get(ctx, "start"), get(ctx, "stop"), get(ctx, "thin")};
    int follow = query_flag(get, ctx, "follow", 0), stats = query_flag(get, ctx, "stats", 0);
    q->include_warmup = query_flag(get, ctx, "include_warmup", 1);
    const char *format = get(ctx, "format");
    int fmt = draws_format_from(format, accept);
    if (follow == 1 && !format) fmt = DRAW_NDJSON;
    if (follow < 0 || stats < 0 || q->include_warmup < 0)
        return "follow, stats and include_warmup take 0 or 1";
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
    if (!q->include_warmup) drop_warmup(&q->sel, job->warmup_rows);
    q->out = (draw_output){.fmt = (draw_format)fmt, .follow = follow, .with_stats = stats};
    return NULL;
}
