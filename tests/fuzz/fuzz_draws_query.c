/* fuzz_draws_query.c - libFuzzer harness of the draws query parser
 * (draws_request_parse: format, chain, start, stop, thin, follow, stats,
 * include_warmup, divergent, params and the Accept header). The input is lines of key=value,
 * the query's parameters (the first of a name counts, as in the daemon; a
 * line without '=' is a parameter without a value, which reads as absent);
 * the keys @chains, @samples, @warmup, @stats and @d set the job's shape and
 * "Accept" the header. A request that parses must select only what the
 * job has, keep the thinning grid, leave out the warmup when asked, pick
 * increasing columns below d, and ask only for combinations the daemon
 * can serve; one that does not names the parameter at fault or none. */
#include "draws_request.h"
#include "fuzz_util.h"
#include "sampler.h"

#define MAX_PARAMS 64

typedef struct params {
    size_t n;
    const char *key[MAX_PARAMS], *value[MAX_PARAMS];
} params;

static const char *get(void *ctx, const char *name) {
    const params *p = ctx;
    for (size_t i = 0; i < p->n; i++)
        if (!strcmp(p->key[i], name)) return p->value[i];
    return NULL;
}

/* Splits text (modified in place) into lines of key=value. */
static void split(char *text, params *p) {
    for (char *line = text; line && p->n < MAX_PARAMS;) {
        char *next = strchr(line, '\n');
        if (next) *next++ = '\0';
        char *eq = strchr(line, '=');
        if (eq) *eq++ = '\0';
        p->key[p->n] = line;
        p->value[p->n++] = eq;
        line = next;
    }
}

static uint64_t number(const params *p, const char *name, uint64_t def) {
    const char *v = get((void *)p, name);
    return v ? strtoull(v, NULL, 10) : def;
}

static void check(const draws_request *q, const params *p, const draws_job_shape *job) {
    const draw_selection *s = &q->sel;
    const char *chain = get((void *)p, "chain");
    FUZZ_CHECK(chain ? s->chain == strtoull(chain, NULL, 10) : s->chain == DRAW_ALL_CHAINS,
               "chain %u", s->chain);
    FUZZ_CHECK(s->chain == DRAW_ALL_CHAINS || s->chain < job->chains, "chain %u", s->chain);
    FUZZ_CHECK(s->start <= s->stop && s->stop <= job->samples && s->thin >= 1,
               "start %llu stop %llu thin %llu", (unsigned long long)s->start,
               (unsigned long long)s->stop, (unsigned long long)s->thin);
    uint64_t asked = number(p, "start", 0);
    if (q->include_warmup) FUZZ_CHECK(s->start == asked, "start moved with the warmup included");
    if (!q->include_warmup && s->start < s->stop) {
        FUZZ_CHECK(s->start >= job->warmup_rows, "start %llu is in the warmup (%llu rows)",
                   (unsigned long long)s->start, (unsigned long long)job->warmup_rows);
        FUZZ_CHECK((s->start - asked) % s->thin == 0, "start %llu is off the grid of %llu",
                   (unsigned long long)s->start, (unsigned long long)asked);
    }
    const draw_output *o = &q->out;
    FUZZ_CHECK(o->fmt >= DRAW_NPY && o->fmt <= DRAW_CMDSTAN, "format %d", (int)o->fmt);
    FUZZ_CHECK(!o->follow || o->fmt == DRAW_NDJSON, "follow with format %d", (int)o->fmt);
    FUZZ_CHECK(!o->with_stats || o->fmt != DRAW_NPY, "stats in npy");
    FUZZ_CHECK(o->fmt != DRAW_CMDSTAN || job->chains == 1 || s->chain != DRAW_ALL_CHAINS,
               "cmdstan of every chain");
    if (o->with_stats || o->fmt == DRAW_CMDSTAN)
        FUZZ_CHECK(chain_stat_count(job->stats) > 0, "statistics the job has not");
    if (o->divergent) {
        FUZZ_CHECK(job->stats & STAT_BIT(STAT_DIVERGENT), "divergences the job has not");
        FUZZ_CHECK(s->thin == 1, "divergent with thin %llu", (unsigned long long)s->thin);
        FUZZ_CHECK((o->fmt != DRAW_NPY && o->fmt != DRAW_JSON) || job->chains == 1 ||
                       s->chain != DRAW_ALL_CHAINS,
                   "divergent npy or json of several chains");
    }
    FUZZ_CHECK(!o->params == !get((void *)p, "params"), "params %p", (const void *)o->params);
    FUZZ_CHECK(!o->params || (o->nparams >= 1 && o->nparams <= job->d), "%zu params", o->nparams);
    for (size_t i = 0; o->params && i < o->nparams; i++)
        FUZZ_CHECK(o->params[i] < job->d && (i == 0 || o->params[i] > o->params[i - 1]),
                   "params[%zu] = %u", i, o->params[i]);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    char *text = fuzz_cstr(data, size);
    params p = {0};
    split(text, &p);
    draws_job_shape job = {.chains = (uint32_t)number(&p, "@chains", 4),
                           .samples = number(&p, "@samples", 1000),
                           .warmup_rows = number(&p, "@warmup", 0),
                           .stats = (unsigned)number(&p, "@stats", 0),
                           .d = (size_t)number(&p, "@d", 10)};
    if (job.chains == 0) job.chains = 1;
    if (job.warmup_rows > job.samples) job.warmup_rows = job.samples;
    draws_request q;
    char err[DRAW_SELECTION_ERROR_MAX];
    const char *msg = draws_request_parse(&q, get, &p, get(&p, "Accept"), &job, err, sizeof err);
    if (msg) {
        FUZZ_CHECK(msg[0] && (msg != err || fuzz_message_ok(err, sizeof err)), "no message");
        FUZZ_CHECK(!q.field || get(&p, q.field), "the field %s is not in the query", q.field);
        FUZZ_CHECK(!q.params, "params kept after an error");
    } else {
        check(&q, &p, &job);
    }
    draws_request_release(&q);
    free(text);
    return 0;
}
