/* progress.c - a job's progress on stderr. On a terminal: a header line
 * and one bar per chain (chain, bar, iterations done/total, warmup or
 * sampling, the step size of the moment, divergences so far, it/s, accept
 * rate, ETA), redrawn in place with ANSI cursor movement at most ten times
 * a second; chains beyond the screen's height share one line. Elsewhere
 * (a pipe, a log file): plain lines, one per state change and at most about
 * one a second per chain (by the events' own clock), each chain's latest
 * line always printed before the end. Both end with the final state. */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"

#define REDRAW_INTERVAL_S 0.1 /* bars */
#define LINE_INTERVAL_S 1.0   /* plain lines, per chain */
#define MAX_CHAINS (1u << 20)

typedef struct chain_view {
    int seen; /* a progress event came */
    uint64_t iter, total;
    mcmc_phase phase;
    double step_size;   /* NaN: not known (or chains that differ, summed up) */
    uint64_t divergent; /* so far */
    double accept_rate, it_per_s, eta_s;
    int printed;       /* lines: a line of this chain was printed ... */
    double printed_at; /* ... at this event time */
    int pending;       /* lines: the latest event is not printed yet */
} chain_view;

struct progress {
    FILE *out;
    progress_mode mode; /* BARS, LINES or NONE: AUTO is resolved */
    char job[64];
    mcmc_job_state state;
    size_t nchains;
    chain_view *chains;
    int drawn;       /* bars: lines on the screen above the cursor */
    double drawn_at; /* bars: monotonic time of the last redraw */
    int cols, rows;  /* the terminal's size at the last redraw */
    char *line;      /* one rendered line */
    size_t line_cap;
};

/* --- modes and state ----------------------------------------------------- */

int cli_progress_option(cli *c, const char *name, progress_mode *mode) {
    static const char *const names[] = {"auto", "bars", "lines", "none"};
    for (int m = 0; m < 4; m++) {
        if (!strcmp(name, names[m])) {
            *mode = (progress_mode)m;
            return 0;
        }
    }
    return cli_stop(
        c, cli_usage_error(c, "--progress takes auto, bars, lines or none, not '%s'", name));
}

static progress_mode resolve_mode(FILE *out, progress_mode mode) {
    if (mode != PROGRESS_AUTO) return mode;
    const char *term = getenv("TERM");
    if (isatty(fileno(out)) && !(term && !strcmp(term, "dumb"))) return PROGRESS_BARS;
    return PROGRESS_LINES;
}

static double monotonic_now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static double wall_now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

/* Makes room for chain i; -1 when it cannot. */
static int grow(progress *p, size_t n) {
    if (n <= p->nchains) return 0;
    if (n > MAX_CHAINS) return -1;
    chain_view *more = realloc(p->chains, n * sizeof *more);
    if (!more) return -1;
    memset(more + p->nchains, 0, (n - p->nchains) * sizeof *more);
    p->chains = more;
    p->nchains = n;
    return 0;
}

progress *progress_new(FILE *out, progress_mode mode, const char *job_id, size_t nchains) {
    progress *p = calloc(1, sizeof *p);
    if (!p) return NULL;
    p->out = out;
    p->mode = resolve_mode(out, mode);
    p->state = MCMC_JOB_UNKNOWN;
    snprintf(p->job, sizeof p->job, "%s", job_id);
    p->line_cap = 512;
    p->line = malloc(p->line_cap);
    if (!p->line || grow(p, nchains ? nchains : 1) != 0) {
        progress_free(p);
        return NULL;
    }
    return p;
}

void progress_free(progress *p) {
    if (!p) return;
    free(p->chains);
    free(p->line);
    free(p);
}

/* --- the pieces of a line ------------------------------------------------ */

/* " 500/1000  50.0%  warmup    eps 0.0123   div 0   1.23M it/s  acc 0.985
 * ETA 0:01" for a chain (iter padded to total's width, so the columns of
 * equal chains line up; acc "-" for samplers without an accept step), or
 * " waiting" before its first event. compact (for a narrow terminal) drops
 * the percentage and the speed: " 500/1000 warmup eps 0.0123 div 0 acc
 * 0.985 ETA 0:01". */
static void chain_stats(char *buf, size_t cap, const chain_view *v, int compact) {
    char rate[16], acc[16], eta[16], eps[16];
    if (!v->seen) {
        snprintf(buf, cap, " waiting");
        return;
    }
    double pct = v->total ? 100.0 * (double)v->iter / (double)v->total : 0;
    int width = snprintf(NULL, 0, "%llu", (unsigned long long)v->total);
    const char *phase = v->phase == MCMC_PHASE_UNKNOWN ? "-" : mcmc_phase_name(v->phase);
    cli_fmt_num(eps, sizeof eps, "%.3g", v->step_size);
    cli_fmt_num(acc, sizeof acc, "%.3f", v->accept_rate);
    cli_fmt_duration(eta, sizeof eta, v->eta_s);
    if (compact)
        snprintf(buf, cap, " %*llu/%llu %-8s eps %-7s div %llu acc %5s ETA %s", width,
                 (unsigned long long)v->iter, (unsigned long long)v->total, phase, eps,
                 (unsigned long long)v->divergent, acc, eta);
    else
        snprintf(buf, cap,
                 " %*llu/%llu %5.1f%%  %-8s  eps %-7s  div %-3llu  %6s it/s  acc %5s  ETA %s",
                 width, (unsigned long long)v->iter, (unsigned long long)v->total, pct, phase, eps,
                 (unsigned long long)v->divergent, cli_fmt_count(rate, sizeof rate, v->it_per_s),
                 acc, eta);
}

/* "[#####.....]" of width cells (brackets included) into buf. */
static void bar(char *buf, int width, uint64_t iter, uint64_t total) {
    int inner = width - 2;
    int filled = total ? (int)((double)inner * (double)iter / (double)total) : 0;
    if (filled > inner) filled = inner;
    buf[0] = '[';
    for (int i = 0; i < inner; i++)
        buf[1 + i] = i < filled ? '#' : '.';
    buf[width - 1] = ']';
    buf[width] = '\0';
}

/* --- bars ---------------------------------------------------------------- */

#define BAR_MIN 12
#define BAR_MAX 52

/* The lines a redraw shows: shown chains, then the rest as one. */
typedef struct screen {
    size_t shown;
    int has_rest;
    chain_view rest;
    int label_w, bar_w;
    int compact; /* chain_stats without percent and speed: the full ones do not fit */
} screen;

static void terminal_size(progress *p) {
    struct winsize ws;
    p->cols = 80, p->rows = 24;
    if (ioctl(fileno(p->out), TIOCGWINSZ, &ws) == 0 && ws.ws_col > 0) {
        p->cols = ws.ws_col;
        p->rows = ws.ws_row > 0 ? ws.ws_row : 24;
    }
    if (p->cols < 20) p->cols = 20;
}

/* One screen line: clear it, write it cut to the width, end it. */
static void put_line(progress *p, const char *text) {
    int len = (int)strlen(text), max = p->cols - 1;
    fprintf(p->out, "\r\033[2K%.*s\n", len < max ? len : max, text);
}

static void put_bar_line(progress *p, const screen *s, const char *label, const chain_view *v) {
    char stats[160], cells[BAR_MAX + 1];
    chain_stats(stats, sizeof stats, v, s->compact);
    bar(cells, s->bar_w, v->iter, v->total);
    snprintf(p->line, p->line_cap, "%-*s %s%s", s->label_w, label, cells, stats);
    put_line(p, p->line);
}

/* Chains first .. nchains - 1 as one view: sums, the slowest ETA, warmup
 * while any chain is in it, the step size when all chains share it. */
static void rest_view(const progress *p, size_t first, chain_view *sum) {
    double accepted = 0;
    uint64_t accept_iter = 0; /* of the chains with an accept rate */
    memset(sum, 0, sizeof *sum);
    sum->phase = MCMC_PHASE_SAMPLING;
    for (size_t i = first; i < p->nchains; i++) {
        const chain_view *v = &p->chains[i];
        sum->iter += v->iter, sum->total += v->total;
        if (!v->seen) continue;
        sum->step_size = !sum->seen || sum->step_size == v->step_size ? v->step_size : NAN;
        sum->seen = 1;
        sum->divergent += v->divergent;
        if (v->phase != MCMC_PHASE_SAMPLING) sum->phase = v->phase;
        if (isfinite(v->accept_rate))
            accepted += v->accept_rate * (double)v->iter, accept_iter += v->iter;
        if (isfinite(v->it_per_s)) sum->it_per_s += v->it_per_s;
        if (!(sum->eta_s >= v->eta_s)) sum->eta_s = v->eta_s;
    }
    sum->accept_rate = accept_iter ? accepted / (double)accept_iter : NAN;
}

/* What fits: every chain, or as many as the height allows and one line for
 * the rest; one bar width for all, from the widest label and stats. */
static void layout(progress *p, screen *s) {
    char stats[160];
    int room = p->rows - 2 > 2 ? p->rows - 2 : 2;
    s->shown = p->nchains <= (size_t)room ? p->nchains : (size_t)room - 1;
    s->has_rest = s->shown < p->nchains;
    if (s->has_rest) rest_view(p, s->shown, &s->rest);
    s->label_w = snprintf(NULL, 0, "chain %zu", p->nchains - 1);
    if (s->has_rest) s->label_w = snprintf(NULL, 0, "chains %zu-%zu", s->shown, p->nchains - 1);
    int stats_w = 0;
    for (s->compact = 0; s->compact < 2; s->compact++) {
        stats_w = 0;
        for (size_t i = 0; i <= s->shown && i < p->nchains; i++) {
            chain_stats(stats, sizeof stats, i < s->shown ? &p->chains[i] : &s->rest, s->compact);
            if ((int)strlen(stats) > stats_w) stats_w = (int)strlen(stats);
        }
        if (p->cols - 1 - s->label_w - 1 - stats_w >= BAR_MIN) break;
    }
    if (s->compact > 1) s->compact = 1; /* neither fits: the compact one, cut */
    s->bar_w = p->cols - 1 - s->label_w - 1 - stats_w;
    if (s->bar_w > BAR_MAX) s->bar_w = BAR_MAX;
    if (s->bar_w < BAR_MIN) s->bar_w = BAR_MIN;
}

static void draw_bars(progress *p) {
    screen s;
    char label[64];
    terminal_size(p);
    layout(p, &s);
    if (p->drawn) fprintf(p->out, "\033[%dA", p->drawn);
    snprintf(p->line, p->line_cap, "job %s  %s  %zu chain%s", p->job,
             p->state ? mcmc_job_state_name(p->state) : "", p->nchains, p->nchains == 1 ? "" : "s");
    put_line(p, p->line);
    for (size_t i = 0; i < s.shown; i++) {
        snprintf(label, sizeof label, "chain %zu", i);
        put_bar_line(p, &s, label, &p->chains[i]);
    }
    if (s.has_rest) {
        snprintf(label, sizeof label, "chains %zu-%zu", s.shown, p->nchains - 1);
        put_bar_line(p, &s, label, &s.rest);
    }
    p->drawn = 1 + (int)s.shown + s.has_rest;
    p->drawn_at = monotonic_now();
    fflush(p->out);
}

/* --- plain lines --------------------------------------------------------- */

static void print_chain_line(progress *p, size_t i, double t) {
    char stats[160];
    chain_view *v = &p->chains[i];
    chain_stats(stats, sizeof stats, v, 0);
    fprintf(p->out, "job %s chain %zu:%s\n", p->job, i, stats);
    fflush(p->out);
    v->printed = 1, v->printed_at = t, v->pending = 0;
}

static void flush_pending(progress *p) {
    for (size_t i = 0; i < p->nchains; i++)
        if (p->chains[i].pending) print_chain_line(p, i, p->chains[i].printed_at);
}

static void line_progress(progress *p, const mcmc_event *ev) {
    double t = isfinite(ev->time) ? ev->time : wall_now();
    chain_view *v = &p->chains[ev->chain];
    if (!v->printed || t - v->printed_at >= LINE_INTERVAL_S || ev->iter >= ev->total)
        print_chain_line(p, ev->chain, t);
    else
        v->pending = 1;
}

static void line_state(progress *p, const mcmc_event *ev) {
    fprintf(p->out, "job %s: %s%s%s\n", p->job, mcmc_job_state_name(ev->state),
            ev->error ? ": " : "", ev->error ? ev->error : "");
    fflush(p->out);
}

/* --- events -------------------------------------------------------------- */

static void update_chain(progress *p, const mcmc_event *ev) {
    chain_view *v = &p->chains[ev->chain];
    v->seen = 1;
    v->iter = ev->iter, v->total = ev->total;
    v->phase = ev->phase;
    v->step_size = ev->step_size;
    v->divergent = ev->divergent;
    v->accept_rate = ev->accept_rate;
    v->it_per_s = ev->it_per_s;
    v->eta_s = ev->eta_s;
}

void progress_event(progress *p, const mcmc_event *ev) {
    if (!p || p->mode == PROGRESS_NONE || ev->type == MCMC_EVENT_HEARTBEAT) return;
    if (ev->type == MCMC_EVENT_PROGRESS) {
        if (grow(p, (size_t)ev->chain + 1) != 0) return;
        update_chain(p, ev);
    } else {
        p->state = ev->state;
    }
    if (p->mode == PROGRESS_BARS) {
        int due = monotonic_now() - p->drawn_at >= REDRAW_INTERVAL_S;
        if (due || ev->type != MCMC_EVENT_PROGRESS) draw_bars(p);
    } else if (ev->type == MCMC_EVENT_PROGRESS) {
        line_progress(p, ev);
    } else if (ev->type == MCMC_EVENT_STATE) {
        line_state(p, ev);
    } else {
        flush_pending(p);
    }
}

void progress_finish(progress *p, mcmc_job_state final, const char *error) {
    if (!p || p->mode == PROGRESS_NONE) return;
    p->state = final;
    if (p->mode == PROGRESS_BARS)
        draw_bars(p);
    else
        flush_pending(p);
    fprintf(p->out, "job %s %s%s%s\n", p->job, mcmc_job_state_name(final), error ? ": " : "",
            error ? error : "");
    fflush(p->out);
}
