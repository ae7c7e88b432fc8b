/* jsonw.c - JSON for scripts (--json): a small streaming writer and the
 * library's structs written in the server's shapes (a dataset, a job, a
 * summary, an event), non-finite numbers as null. Numbers use the same
 * shortest-round-trip rendering as the daemon (core/draws_format.h). */
#include <string.h>

#include "cli.h"
#include "draws_format.h"

/* --- the writer ---------------------------------------------------------- */

void jw_init(jw *w, FILE *out) {
    memset(w, 0, sizeof *w);
    w->out = out;
    w->first[0] = 1;
}

/* The comma before a value, unless it follows its key or is a level's first. */
static void separate(jw *w) {
    if (w->after_key) {
        w->after_key = 0;
        return;
    }
    if (!w->first[w->depth]) fputc(',', w->out);
    w->first[w->depth] = 0;
}

static void begin(jw *w, char open, char close) {
    separate(w);
    fputc(open, w->out);
    if (w->depth + 1 < (int)sizeof w->first) w->depth++;
    w->first[w->depth] = 1;
    w->close[w->depth] = close;
}

void jw_begin_object(jw *w) {
    begin(w, '{', '}');
}

void jw_begin_array(jw *w) {
    begin(w, '[', ']');
}

void jw_end(jw *w) {
    if (w->depth == 0) return;
    fputc(w->close[w->depth--], w->out);
    if (w->depth == 0) fputc('\n', w->out);
}

static void escape_string(FILE *out, const char *s) {
    fputc('"', out);
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        if (*p == '"' || *p == '\\')
            fprintf(out, "\\%c", *p);
        else if (*p == '\n')
            fputs("\\n", out);
        else if (*p == '\t')
            fputs("\\t", out);
        else if (*p < 0x20)
            fprintf(out, "\\u%04x", *p);
        else
            fputc(*p, out);
    }
    fputc('"', out);
}

void jw_key(jw *w, const char *key) {
    separate(w);
    escape_string(w->out, key);
    fputc(':', w->out);
    w->after_key = 1;
}

void jw_string(jw *w, const char *s) {
    separate(w);
    escape_string(w->out, s ? s : "");
}

void jw_string_or_null(jw *w, const char *s) {
    if (s && *s)
        jw_string(w, s);
    else
        jw_null(w);
}

void jw_number(jw *w, double v) {
    char buf[DRAWS_NUMBER_MAX];
    separate(w);
    fwrite(buf, 1, draws_render_json_number(buf, v), w->out);
}

void jw_u64(jw *w, uint64_t v) {
    separate(w);
    fprintf(w->out, "%llu", (unsigned long long)v);
}

void jw_null(jw *w) {
    separate(w);
    fputs("null", w->out);
}

void jw_raw(jw *w, const char *json) {
    separate(w);
    fputs(json, w->out);
}

/* --- the library's structs ----------------------------------------------- */

static void key_string(jw *w, const char *key, const char *v) {
    jw_key(w, key);
    jw_string_or_null(w, v);
}

static void key_number(jw *w, const char *key, double v) {
    jw_key(w, key);
    jw_number(w, v);
}

static void key_u64(jw *w, const char *key, uint64_t v) {
    jw_key(w, key);
    jw_u64(w, v);
}

void jw_dataset(jw *w, const mcmc_dataset *ds) {
    jw_begin_object(w);
    key_string(w, "id", ds->id);
    jw_key(w, "name");
    jw_string(w, ds->name);
    key_u64(w, "n", ds->n);
    key_u64(w, "d", ds->d);
    key_u64(w, "bytes", ds->bytes);
    key_string(w, "created", ds->created);
    jw_end(w);
}

/* "phase" (null when the server did not say), "step_size", "divergent". */
static void phase_fields(jw *w, mcmc_phase phase, double step_size, uint64_t divergent) {
    key_string(w, "phase", phase == MCMC_PHASE_UNKNOWN ? NULL : mcmc_phase_name(phase));
    key_number(w, "step_size", step_size);
    key_u64(w, "divergent", divergent);
}

static void chain_progress(jw *w, const mcmc_chain_progress *p) {
    jw_begin_object(w);
    key_u64(w, "chain", p->chain);
    key_u64(w, "iter", p->iter);
    key_u64(w, "total", p->total);
    key_u64(w, "draws", p->draws);
    phase_fields(w, p->phase, p->step_size, p->divergent);
    key_number(w, "accept_rate", p->accept_rate);
    key_number(w, "it_per_s", p->it_per_s);
    key_number(w, "elapsed", p->elapsed);
    key_number(w, "eta_s", p->eta_s);
    jw_end(w);
}

void jw_job(jw *w, const mcmc_job *job) {
    jw_begin_object(w);
    key_string(w, "id", job->id);
    key_string(w, "state", mcmc_job_state_name(job->state));
    key_string(w, "created", job->created);
    key_string(w, "started", job->started);
    key_string(w, "finished", job->finished);
    key_string(w, "error", job->error);
    key_string(w, "dataset", job->dataset);
    jw_key(w, "progress");
    jw_begin_object(w);
    key_u64(w, "iter", job->iter);
    key_u64(w, "total", job->total);
    jw_end(w);
    key_number(w, "accept_rate", job->accept_rate);
    key_number(w, "elapsed", job->elapsed);
    key_number(w, "eta_s", job->eta_s);
    jw_key(w, "shape");
    jw_begin_array(w);
    jw_u64(w, job->chains);
    jw_u64(w, job->samples);
    jw_u64(w, job->d);
    jw_end(w);
    jw_key(w, "chains");
    jw_begin_array(w);
    for (size_t i = 0; i < job->nchains; i++)
        chain_progress(w, &job->progress[i]);
    jw_end(w);
    if (job->spec_json) {
        jw_key(w, "spec");
        jw_raw(w, job->spec_json);
    }
    jw_end(w);
}

static void param_summary(jw *w, const mcmc_param_summary *p) {
    jw_begin_object(w);
    key_string(w, "name", p->name);
    key_number(w, "mean", p->mean);
    key_number(w, "sd", p->sd);
    key_number(w, "q05", p->q05);
    key_number(w, "q50", p->q50);
    key_number(w, "q95", p->q95);
    key_number(w, "mcse_mean", p->mcse_mean);
    key_number(w, "ess_bulk", p->ess_bulk);
    key_number(w, "ess_tail", p->ess_tail);
    key_number(w, "rhat", p->rhat);
    jw_end(w);
}

void jw_summary(jw *w, const mcmc_summary *s) {
    jw_begin_object(w);
    key_string(w, "job", s->job);
    key_string(w, "state", mcmc_job_state_name(s->state));
    key_u64(w, "draws_per_chain", s->draws_per_chain);
    jw_key(w, "parameters");
    jw_begin_array(w);
    for (size_t i = 0; i < s->nparams; i++)
        param_summary(w, &s->params[i]);
    jw_end(w);
    jw_key(w, "chains");
    jw_begin_array(w);
    for (size_t i = 0; i < s->nchains; i++) {
        jw_begin_object(w);
        key_u64(w, "chain", s->chains[i].chain);
        key_number(w, "accept_rate", s->chains[i].accept_rate);
        key_u64(w, "draws", s->chains[i].draws);
        jw_end(w);
    }
    jw_end(w);
    jw_end(w);
}

static void event_progress(jw *w, const mcmc_event *ev) {
    key_u64(w, "chain", ev->chain);
    key_u64(w, "iter", ev->iter);
    key_u64(w, "total", ev->total);
    phase_fields(w, ev->phase, ev->step_size, ev->divergent);
    key_number(w, "accept_rate", ev->accept_rate);
    key_u64(w, "draws", ev->draws);
    key_number(w, "elapsed", ev->elapsed);
    key_number(w, "it_per_s", ev->it_per_s);
    key_number(w, "eta_s", ev->eta_s);
}

void jw_event(jw *w, const char *job_id, const mcmc_event *ev) {
    static const char *const types[] = {"state", "progress", "done", "heartbeat"};
    jw_begin_object(w);
    if (ev->type != MCMC_EVENT_HEARTBEAT) key_u64(w, "seq", ev->seq);
    key_string(w, "type", types[ev->type]);
    if (ev->type != MCMC_EVENT_HEARTBEAT) key_string(w, "job", job_id);
    key_number(w, "time", ev->time);
    if (ev->type == MCMC_EVENT_STATE || ev->type == MCMC_EVENT_DONE) {
        key_string(w, "state", mcmc_job_state_name(ev->state));
        if (ev->error) key_string(w, "error", ev->error);
    }
    if (ev->type == MCMC_EVENT_PROGRESS) event_progress(w, ev);
    if (ev->type == MCMC_EVENT_DONE) {
        jw_key(w, "draws_per_chain");
        jw_begin_array(w);
        for (size_t i = 0; i < ev->nchains; i++)
            jw_u64(w, ev->draws_per_chain[i]);
        jw_end(w);
    }
    jw_end(w);
}

static void key_values(jw *w, const char *key, const mcmc_user_value *v, size_t n) {
    jw_key(w, key);
    jw_begin_object(w);
    for (size_t i = 0; i < n; i++)
        key_u64(w, v[i].name, v[i].value);
    jw_end(w);
}

void jw_user(jw *w, const mcmc_user *u) {
    jw_begin_object(w);
    key_string(w, "name", u->name);
    jw_key(w, "admin");
    jw_raw(w, u->admin ? "true" : "false");
    key_values(w, "limits", u->limits, u->nlimits);
    key_values(w, "usage", u->usage, u->nusage);
    jw_end(w);
}
