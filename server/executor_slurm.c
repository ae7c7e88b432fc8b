/* executor_slurm.c - the slurm executor: a job's chains run as one Slurm
 * job array, one task a chain, each task `mcmcd run --chain N` on a
 * compute node (executor_task.c). Slurm is driven through its command-line
 * tools only (sbatch --parsable, scontrol show job, scancel), on the thread
 * pool, so a slow or dead slurmctld never stalls the loop; what they fail
 * with becomes the job's error.
 *
 * Each job has a directory in shared_dir, named by its id, that the daemon
 * and the nodes share: spec.json, the dataset (<id>.ds), secret, run.sh,
 * array (the Slurm job id), and per chain the task's rows (chain-N.draws,
 * chain-N.stats), counters (chain-N.progress), end (chain-N.end) and
 * output (slurm-N.out). Blocks reach the daemon two ways: posted by the
 * task (POST /v1/jobs/{id}/blocks, with the job's secret), and read from
 * the shared files every POLL_MS, which is how a task whose posts fail is
 * still followed. Either way the rows are copied into the job's own files,
 * so the rest of the daemon sees the same files as with local chains.
 *
 * Every POLL_MS each job's array is asked about (scontrol show job): a task
 * that Slurm ended (cancelled, preempted, timed out, node failure) without
 * writing its end ends its chain failed, with Slurm's state and reason,
 * keeping the rows it wrote. After a restart, the array named in the job's
 * directory is taken up again if Slurm still knows it; else the job is
 * submitted again (the same draws). */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "errors.h"
#include "executor.h"
#include "executor_wire.h"
#include "utf8.h"

#define POLL_MS 1000
#define QUERY_FAILURES_MAX 60 /* about a minute of scontrol failing: the job fails */
#define CLI_OUT_MAX 16384
#define SECRET_HEX 64

typedef struct slurm_job {
    app *app;
    job *j; /* valid while chains are left: an ended job may be evicted, even deleted */
    char dir[4400];
    char array_id[32]; /* "" until sbatch has answered (or the re-attach) */
    char secret[SECRET_HEX + 1];
    uint8_t *ended; /* per chain */
    uint32_t left;  /* chains not ended */
    int busy;       /* a command of it is running on the thread pool */
    int cancel_wanted, cancel_sent;
    unsigned query_failures;
    uint64_t posted, read; /* blocks taken from posts, catch-ups from the shared files */
    struct slurm_job *next;
} slurm_job;

typedef struct slurm_state {
    uv_timer_t poll;
    slurm_job *jobs;
} slurm_state;

typedef enum cli_kind { CLI_SUBMIT, CLI_QUERY, CLI_CANCEL } cli_kind;

/* One command of one job on the thread pool. */
typedef struct cli_call {
    app_work work;
    slurm_job *sj;
    cli_kind kind;
    char *argv[24];
    int argc;
    int status; /* exit status; -1 when it could not run */
    char out[CLI_OUT_MAX];
    /* CLI_SUBMIT: what the thread needs and learns */
    char *spec_json, *dataset_src, *script;
    int reattached;
    char error[400];
} cli_call;

static slurm_state *state_of(const app *a) {
    return a->exec_state;
}

/* --- commands --------------------------------------------------------------- */

static void call_add(cli_call *k, const char *fmt, const char *v) {
    char buf[4600];
    if (k->argc >= (int)(sizeof k->argv / sizeof k->argv[0]) - 1) return;
    snprintf(buf, sizeof buf, fmt, v);
    k->argv[k->argc++] = strdup(buf);
}

static void call_free(cli_call *k) {
    for (int i = 0; i < k->argc; i++)
        free(k->argv[i]);
    free(k->spec_json);
    free(k->dataset_src);
    free(k->script);
    free(k);
}

/* Runs argv with its stdout and stderr into out; the exit status, or -1. */
static int run_command(char *const argv[], char *out, size_t cap) {
    int fds[2];
    out[0] = 0;
    if (pipe2(fds, O_CLOEXEC) != 0) return -1;
    pid_t pid = fork();
    if (pid == 0) {
        dup2(fds[1], 1);
        dup2(fds[1], 2);
        execvp(argv[0], argv);
        static const char msg[] = "cannot run the command (is Slurm installed, on PATH?)\n";
        if (write(2, msg, sizeof msg - 1) < 0) _exit(126); /* only async-signal-safe calls here */
        _exit(127);
    }
    close(fds[1]);
    size_t n = 0;
    ssize_t got;
    char sink[512];
    while ((got = read(fds[0], n + 1 < cap ? out + n : sink,
                       n + 1 < cap ? cap - 1 - n : sizeof sink)) != 0) {
        if (got < 0 && errno == EINTR) continue;
        if (got < 0) break;
        if (n + 1 < cap) n += (size_t)got;
    }
    out[n] = 0;
    close(fds[0]);
    int st;
    if (pid < 0) return -1;
    while (waitpid(pid, &st, 0) < 0)
        if (errno != EINTR) return -1;
    return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

/* The command's output on one line, clipped, for an error message. */
static void output_line(const char *out, char *buf, size_t cap) {
    size_t n = 0;
    for (const char *p = out; *p && n + 1 < cap; p++)
        buf[n++] = *p == '\n' || *p == '\r' ? ' ' : *p;
    while (n && buf[n - 1] == ' ')
        n--;
    buf[n] = 0;
}

/* --- the shared directory --------------------------------------------------- */

static int write_file(const char *dir, const char *name, const char *text, mode_t mode) {
    char path[4500], tmp[4520];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    snprintf(tmp, sizeof tmp, "%s.tmp", path);
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode);
    if (fd < 0) return -1;
    size_t len = strlen(text);
    int rc = write(fd, text, len) == (ssize_t)len ? 0 : -1;
    if (close(fd) != 0) rc = -1;
    return rc == 0 ? rename(tmp, path) : -1;
}

/* Reads DIR/name whole into a new string (NULL when there is none). */
static char *read_small(const char *dir, const char *name, size_t max) {
    char path[4500];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) return NULL;
    char *buf = malloc(max + 1);
    ssize_t n = buf ? read(fd, buf, max) : -1;
    close(fd);
    if (n < 0) {
        free(buf);
        return NULL;
    }
    buf[n] = 0;
    return buf;
}

static int copy_file(const char *from, const char *dir, const char *name) {
    char path[4500];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    int in = open(from, O_RDONLY | O_CLOEXEC), out = -1, rc = -1;
    if (in >= 0) out = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    char buf[65536];
    ssize_t n;
    if (out >= 0) {
        rc = 0;
        while ((n = read(in, buf, sizeof buf)) > 0)
            if (write(out, buf, (size_t)n) != n) rc = -1;
        if (n < 0 || close(out) != 0) rc = -1;
    }
    if (in >= 0) close(in);
    return rc;
}

/* The stale files of an earlier submission. */
static void remove_chain_files(const char *dir, uint32_t chains) {
    static const char *const kinds[] = {"draws", "stats", "progress", "end"};
    char path[4500];
    for (uint32_t c = 0; c < chains; c++)
        for (size_t i = 0; i < sizeof kinds / sizeof kinds[0]; i++) {
            snprintf(path, sizeof path, "%s/chain-%u.%s", dir, c, kinds[i]);
            unlink(path);
        }
}

/* --- submitting, or re-attaching ------------------------------------------- */

static int end_file_rc(const slurm_job *sj, uint32_t c);

/* Whether Slurm still knows the array named in dir/array, which a daemon
 * before this one submitted (or every chain of it has written its end):
 * then the call takes it up. */
static int try_reattach(cli_call *k, const char *dir) {
    char *id = read_small(dir, "array", 31);
    if (!id) return 0;
    id[strcspn(id, "\n")] = 0;
    char *argv[] = {"scontrol", "show", "job", "-o", id, NULL};
    int st = run_command(argv, k->out, sizeof k->out);
    int known = st == 0 && strstr(k->out, "JobId=") != NULL;
    uint32_t ended = 0;
    for (uint32_t c = 0; !known && c < k->sj->j->chains; c++) {
        int rc = end_file_rc(k->sj, c);
        ended += rc != 1 && rc != MCMC_ECANCELLED;
    }
    known |= ended == k->sj->j->chains; /* every chain's end is written: nothing to run */
    if (known) snprintf(k->error, sizeof k->error, "%s", id); /* the id, for the loop */
    free(id);
    return known;
}

static void submit_work(uv_work_t *req) {
    cli_call *k = req->data;
    const char *dir = k->sj->dir; /* set on the loop before; read-only here */
    if ((k->reattached = try_reattach(k, dir))) return;
    remove_chain_files(dir, k->sj->j->chains);
    char name[160];
    snprintf(name, sizeof name, "%s.ds", k->sj->j->dataset_id);
    if (write_file(dir, "spec.json", k->spec_json, 0600) != 0 ||
        (k->dataset_src && copy_file(k->dataset_src, dir, name) != 0) ||
        write_file(dir, "run.sh", k->script, 0700) != 0) {
        snprintf(k->error, sizeof k->error, "slurm: cannot write the job's files in %.300s: %s",
                 dir, strerror(errno));
        k->status = -1;
        return;
    }
    k->argv[k->argc] = NULL;
    k->status = run_command(k->argv, k->out, sizeof k->out);
    if (k->status == 0) { /* "123" or "123;cluster", maybe after warnings */
        char *last = k->out, *p;
        while ((p = strchr(last, '\n')) && p[1])
            last = p + 1;
        long long id = strtoll(last, &p, 10);
        if (id > 0 && (*p == ';' || *p == '\n' || !*p)) {
            snprintf(k->error, sizeof k->error, "%lld", id);
            if (write_file(dir, "array", k->error, 0600) != 0)
                fprintf(stderr, "mcmcd: %s: cannot record the array id: %s\n", dir,
                        strerror(errno)); /* a restart then submits again */
            return;
        }
    }
    char line[300];
    output_line(k->out, line, sizeof line);
    snprintf(k->error, sizeof k->error, "slurm: sbatch failed (%s%d): %s",
             k->status < 0 ? "could not run, " : "exit status ", k->status,
             line[0] ? line : "no output");
    k->status = k->status ? k->status : -1;
}

static void chains_all_fail(slurm_job *sj, const char *why);

static void submit_after(uv_work_t *req, int status) {
    cli_call *k = req->data;
    slurm_job *sj = k->sj;
    sj->busy = 0;
    if (!sj->app->shutting_down && sj->left) {
        if (status == 0 && (k->reattached || k->status == 0)) {
            snprintf(sj->array_id, sizeof sj->array_id, "%.31s", k->error);
            fprintf(stderr, "mcmcd: job %s: Slurm job %s (%s)\n", sj->j->id, sj->array_id,
                    k->reattached ? "re-attached" : "submitted");
        } else {
            fprintf(stderr, "mcmcd: job %s: %s\n", sj->j->id, k->error);
            chains_all_fail(sj, k->error[0] ? k->error : "slurm: sbatch did not run");
        }
    }
    call_free(k);
}

/* 'text' for sh; -1 when it holds a quote. */
static int sh_quote(char *buf, size_t cap, const char *text) {
    if (strchr(text, '\'')) return -1;
    snprintf(buf, cap, "'%s'", text);
    return 0;
}

static char *make_script(const app *a, const slurm_job *sj, const char *url) {
    char bin[4200], dir[4500], post[1500], self[4096];
    const char *mcmcd = a->cfg.slurm_mcmcd;
    if (!mcmcd[0]) {
        ssize_t n = readlink("/proc/self/exe", self, sizeof self - 1);
        self[n > 0 ? n : 0] = 0;
        mcmcd = self;
    }
    if (sh_quote(bin, sizeof bin, mcmcd) || sh_quote(dir, sizeof dir, sj->dir) ||
        sh_quote(post, sizeof post, url))
        return NULL;
    size_t cap = strlen(bin) + 2 * strlen(dir) + strlen(post) + 400;
    char *s = malloc(cap);
    if (s)
        snprintf(s, cap,
                 "#!/bin/sh\n# mcmcd job %s: one chain per task of the array\n"
                 "exec %s run --quiet --spec %s/spec.json --chain \"$SLURM_ARRAY_TASK_ID\" "
                 "--shared %s --post %s\n",
                 sj->j->id, bin, dir, dir, post);
    return s;
}

/* The daemon as the tasks reach it. */
static void callback_url(const app *a, const char *job_id, char *buf, size_t cap) {
    if (a->cfg.slurm_callback_url[0]) {
        snprintf(buf, cap, "%s/v1/jobs/%s/blocks", a->cfg.slurm_callback_url, job_id);
        return;
    }
    char host[256];
    const char *bind = a->cfg.bind;
    if (!strcmp(bind, "0.0.0.0") || !strcmp(bind, "::")) {
        if (gethostname(host, sizeof host) != 0) snprintf(host, sizeof host, "localhost");
        bind = host;
    }
    int v6 = strchr(bind, ':') != NULL;
    snprintf(buf, cap, "%s://%s%s%s:%u/v1/jobs/%s/blocks", a->cfg.tls_cert[0] ? "https" : "http",
             v6 ? "[" : "", bind, v6 ? "]" : "", (unsigned)http_server_port(a->http), job_id);
}

/* sbatch's arguments from the config, and the spec's own within them. */
static void submit_args(cli_call *k, const app *a, const slurm_job *sj) {
    const serve_config *c = &a->cfg;
    const job_spec *s = &sj->j->spec;
    const char *partition = s->slurm.partition[0] ? s->slurm.partition : c->slurm_partition;
    uint32_t minutes = s->slurm.time_limit ? s->slurm.time_limit : c->slurm_time_limit;
    uint32_t cpus = s->slurm.cpus_per_task ? s->slurm.cpus_per_task : c->slurm_cpus_per_task;
    uint64_t kib = s->slurm.mem_mb ? s->slurm.mem_mb * 1024 : (c->slurm_mem + 1023) / 1024;
    char v[64];
    call_add(k, "%s", "sbatch");
    call_add(k, "%s", "--parsable");
    snprintf(v, sizeof v, "0-%u", sj->j->chains - 1);
    call_add(k, "--array=%s", v);
    call_add(k, "--job-name=mcmcd-%s", sj->j->id);
    /* a preempted task ends (PREEMPTED) and its chain fails with that reason,
     * rather than starting over and reporting its progress anew */
    call_add(k, "%s", "--no-requeue");
    call_add(k, "--output=%s/slurm-%%a.out", sj->dir);
    if (partition[0]) call_add(k, "--partition=%s", partition);
    if (c->slurm_account[0]) call_add(k, "--account=%s", c->slurm_account);
    snprintf(v, sizeof v, "%u", minutes);
    if (minutes) call_add(k, "--time=%s", v);
    snprintf(v, sizeof v, "%u", cpus);
    call_add(k, "--cpus-per-task=%s", v);
    snprintf(v, sizeof v, "%lluK", (unsigned long long)kib);
    if (kib) call_add(k, "--mem=%s", v);
    call_add(k, "%s/run.sh", sj->dir);
}

/* The job's secret: the one a previous run of the daemon left (its tasks
 * may still be posting with it), else a new one. 0 or -1. */
static int job_secret(slurm_job *sj) {
    char *old = read_small(sj->dir, "secret", SECRET_HEX);
    if (old && strlen(old) == SECRET_HEX) {
        memcpy(sj->secret, old, SECRET_HEX + 1);
        free(old);
        return 0;
    }
    free(old);
    unsigned char raw[SECRET_HEX / 2];
    if (getrandom(raw, sizeof raw, 0) != (ssize_t)sizeof raw) return -1;
    for (size_t i = 0; i < sizeof raw; i++)
        snprintf(sj->secret + 2 * i, 3, "%02x", raw[i]);
    return write_file(sj->dir, "secret", sj->secret, 0600);
}

static slurm_job *slurm_job_new(job *j) {
    app *a = j->app;
    slurm_job *sj = calloc(1, sizeof *sj);
    if (!sj || !(sj->ended = calloc(j->chains, 1))) {
        free(sj);
        return NULL;
    }
    sj->app = a;
    sj->j = j;
    sj->left = j->chains;
    snprintf(sj->dir, sizeof sj->dir, "%s/%s", a->cfg.shared_dir, j->id);
    return sj;
}

/* The submit call: spec, dataset and script for the thread. NULL with why. */
static cli_call *submit_call(slurm_job *sj, char *why, size_t cap) {
    job *j = sj->j;
    app *a = j->app;
    cli_call *k = calloc(1, sizeof *k);
    char url[1400], src[4500];
    callback_url(a, j->id, url, sizeof url);
    snprintf(src, sizeof src, "%s/%s.ds", a->datasets_dir, j->dataset_id);
    if (!k || !(k->spec_json = strdup(j->spec_json)) ||
        (j->dataset_id[0] && !(k->dataset_src = strdup(src)))) {
        snprintf(why, cap, "out of memory");
    } else if (!(k->script = make_script(a, sj, url))) {
        snprintf(why, cap, "slurm: the mcmcd path, shared_dir or callback URL holds a quote");
    } else {
        k->sj = sj;
        k->kind = CLI_SUBMIT;
        submit_args(k, a, sj);
        return k;
    }
    if (k) call_free(k);
    return NULL;
}

/* Starts all the job's chains as one array (or takes up the one a
 * previous daemon left). */
static void slurm_start(job *j) {
    app *a = j->app;
    j->chains_started = j->chains;
    jobs_unqueue(j);
    j->user->running_chains += j->chains; /* they count as running while in Slurm */
    jobs_model_done(j); /* the nodes build their own: the daemon's memory is free for the next */
    char why[300] = "out of memory";
    slurm_job *sj = slurm_job_new(j);
    cli_call *k = NULL;
    if (j->spec.kind != JOB_KIND_SAMPLE) {
        snprintf(why, sizeof why,
                 "slurm: the slurm executor runs sampling jobs only; this "
                 "job's kind runs with executor local");
    } else if (sj && (mkdir(sj->dir, 0700) != 0 && errno != EEXIST)) {
        snprintf(why, sizeof why, "slurm: cannot create %.200s: %s", sj->dir, strerror(errno));
    } else if (sj && job_secret(sj) != 0) {
        snprintf(why, sizeof why, "slurm: cannot write the job's secret in %.200s", sj->dir);
    } else if (sj) {
        k = submit_call(sj, why, sizeof why);
    }
    if (!k) {
        j->exec_job = NULL;
        for (uint32_t c = 0; c < j->chains; c++)
            jobs_chain_ended(j, c, MCMC_EIO, 0, why);
        if (sj) free(sj->ended);
        free(sj);
        return;
    }
    j->exec_job = sj;
    slurm_state *s = state_of(a);
    sj->next = s->jobs;
    s->jobs = sj;
    sj->busy = 1;
    if (app_queue_work(a, &k->work, k, submit_work, submit_after) != 0) {
        sj->busy = 0;
        call_free(k);
        chains_all_fail(sj, "slurm: cannot queue the submission");
    }
}

/* --- following the chains ---------------------------------------------------- */

/* Copies rows [from, to) of chain c from the task's files into the job's. */
static int copy_rows(slurm_job *sj, uint32_t c, uint64_t from, uint64_t to) {
    job *j = sj->j;
    size_t widths[2] = {j->d, chain_stat_count(j->stats)};
    int fds[2] = {j->draws_fd, j->stats_fd};
    static const char *const kinds[2] = {"draws", "stats"};
    int rc = 0;
    for (int f = 0; f < 2 && rc == 0; f++) {
        if (!widths[f] || fds[f] < 0 || to <= from) continue;
        char path[4500];
        snprintf(path, sizeof path, "%s/chain-%u.%s", sj->dir, c, kinds[f]);
        int in = open(path, O_RDONLY | O_CLOEXEC);
        size_t row = widths[f] * sizeof(double);
        double *buf = malloc((size_t)(to - from) * row);
        ssize_t want = (ssize_t)((to - from) * row);
        if (in < 0 || !buf || pread(in, buf, (size_t)want, (off_t)(from * row)) != want ||
            job_write_rows(j, fds[f], c, from, (uint32_t)(to - from), buf, widths[f]) != 0)
            rc = -1;
        free(buf);
        if (in >= 0) close(in);
    }
    return rc;
}

/* Takes counters k (and an adaptation) as chain c's progress. */
static void take_progress(slurm_job *sj, uint32_t c, const chain_counts *k, chain_adaptation *ad) {
    job *j = sj->j;
    if (j->adapt[c].known) chain_adaptation_clear(ad);
    jobs_chain_progress(j, c, k, ad->known ? ad : NULL);
    chain_adaptation_clear(ad);
}

/* Chain c's progress from the shared files, when ahead of what the daemon
 * has (a post that failed, or a restart). */
static void catch_up(slurm_job *sj, uint32_t c) {
    job *j = sj->j;
    char name[64], why[200];
    snprintf(name, sizeof name, "chain-%u.progress", c);
    char *text = read_small(sj->dir, name, 1 << 20);
    json_t *rec = text ? json_loads(text, 0, NULL) : NULL;
    free(text);
    chain_counts k;
    chain_adaptation ad = {0};
    const chain_counts *have = &j->counts[c];
    if (rec && wire_counts_parse(rec, j->d, &k, &ad, why, sizeof why) == 0 &&
        (k.iter > have->iter || k.draws > have->draws) && k.draws <= j->samples) {
        if (copy_rows(sj, c, have->draws, k.draws) == 0) {
            take_progress(sj, c, &k, &ad);
            sj->read++;
        } else
            fprintf(stderr, "mcmcd: job %s: cannot copy chain %u's rows from %s\n", j->id, c,
                    sj->dir);
    }
    chain_adaptation_clear(&ad);
    json_decref(rec);
}

/* Chain c has ended: its last rows first, then jobs.c hears of it. */
static void chain_end(slurm_job *sj, uint32_t c, int rc, const char *why) {
    job *j = sj->j;
    if (sj->ended[c]) return;
    catch_up(sj, c);
    /* its rows on disk before the job's end can be recorded after them (on
     * the loop: a Slurm job's rows arrive a block at a time, so little is
     * left to write back) */
    if (fdatasync(j->draws_fd) != 0 || (j->stats_fd >= 0 && fdatasync(j->stats_fd) != 0))
        fprintf(stderr, "mcmcd: job %s: syncing its draws: %s\n", j->id, strerror(errno));
    sj->ended[c] = 1;
    if (--sj->left == 0) { /* sj goes at the next poll */
        j->exec_job = NULL;
        fprintf(stderr, "mcmcd: job %s: %llu blocks posted, %llu read from shared_dir\n", j->id,
                (unsigned long long)sj->posted, (unsigned long long)sj->read);
    }
    if (j->cancel_requested || j->time_limit_s) rc = MCMC_ECANCELLED, why = NULL;
    jobs_chain_ended(j, c, rc, 0, rc == MCMC_OK || rc == MCMC_ENONFINITE ? NULL : why);
}

static void chains_all_fail(slurm_job *sj, const char *why) {
    for (uint32_t c = 0; c < sj->j->chains; c++)
        chain_end(sj, c, MCMC_EIO, why);
}

/* The rc in chain c's end file, or 1 when it has none. */
static int end_file_rc(const slurm_job *sj, uint32_t c) {
    char name[64];
    snprintf(name, sizeof name, "chain-%u.end", c);
    char *text = read_small(sj->dir, name, 4096);
    json_t *end = text ? json_loads(text, 0, NULL) : NULL;
    free(text);
    const json_t *rc = json_object_get(end, "rc");
    int v = json_is_integer(rc) ? (int)json_integer_value(rc) : 1;
    json_decref(end);
    return v;
}

/* An end the task wrote itself; a task stopped by a signal (ECANCELLED)
 * waits for Slurm's word on why. */
static void end_from_task(slurm_job *sj, uint32_t c, int rc) {
    char why[200];
    if (rc == MCMC_ECANCELLED) return;
    snprintf(why, sizeof why, "chain %u: %s", c, mcmc_status_str(rc));
    chain_end(sj, c, rc, why);
}

/* --- scontrol's answer -------------------------------------------------------- */

static int final_state(const char *st) {
    static const char *const finals[] = {"COMPLETED",     "CANCELLED", "FAILED",    "TIMEOUT",
                                         "PREEMPTED",     "NODE_FAIL", "BOOT_FAIL", "DEADLINE",
                                         "OUT_OF_MEMORY", "REVOKED",   NULL};
    for (int i = 0; finals[i]; i++)
        if (!strcmp(st, finals[i])) return 1;
    return 0;
}

/* The value of KEY= in a line of scontrol -o, up to the next space. */
static void field(const char *line, const char *key, char *buf, size_t cap) {
    buf[0] = 0;
    for (const char *p = line; (p = strstr(p, key)); p++)
        if (p == line || p[-1] == ' ') {
            p += strlen(key);
            size_t n = strcspn(p, " \n");
            snprintf(buf, cap, "%.*s", (int)(n < cap ? n : cap - 1), p);
            return;
        }
}

/* The last line task c printed (slurm-N.out), clipped; 0 when none. */
static int task_said(const slurm_job *sj, uint32_t c, char *buf, size_t cap) {
    char name[64];
    snprintf(name, sizeof name, "slurm-%u.out", c);
    char *text = read_small(sj->dir, name, 1 << 16), *end, *start;
    if (!text) return 0;
    end = text + strlen(text);
    while (end > text && (end[-1] == '\n' || end[-1] == '\r' || end[-1] == ' '))
        *--end = 0;
    start = strrchr(text, '\n');
    start = start ? start + 1 : text;
    utf8_clip(buf, cap, start);
    free(text);
    return buf[0] != 0;
}

/* Task c's state, as a line of scontrol gave it: a task that Slurm ended
 * without the task's own end ends its chain failed, with Slurm's state and
 * reason. */
static void task_state(slurm_job *sj, unsigned long c, const char *st, const char *reason) {
    if (c >= sj->j->chains || sj->ended[c] || !final_state(st)) return;
    int rc = end_file_rc(sj, (uint32_t)c);
    if (rc != 1 && rc != MCMC_ECANCELLED) {
        end_from_task(sj, (uint32_t)c, rc);
        return;
    }
    char why[600], said[200];
    int n = snprintf(why, sizeof why,
                     "chain %lu: Slurm ended its task %s_%lu %s (reason: %s); the draws it wrote "
                     "are kept",
                     c, sj->array_id, c, st, reason[0] ? reason : "none given");
    if (n > 0 && (size_t)n < sizeof why && task_said(sj, (uint32_t)c, said, sizeof said))
        snprintf(why + n, sizeof why - (size_t)n, "; its last words: %s", said);
    chain_end(sj, (uint32_t)c, MCMC_EIO, why);
}

/* One line of scontrol show job -o: one task ("ArrayTaskId=3"), or the
 * tasks not started yet ("ArrayTaskId=2-5,7%2"). */
static void query_line(slurm_job *sj, const char *line) {
    char tasks[256], st[32], reason[128], *p, *end;
    field(line, "ArrayTaskId=", tasks, sizeof tasks);
    field(line, "JobState=", st, sizeof st);
    field(line, "Reason=", reason, sizeof reason);
    tasks[strcspn(tasks, "%")] = 0; /* the throttle */
    for (p = tasks; *p;) {
        unsigned long lo = strtoul(p, &end, 10), hi = lo;
        if (end == p) return;
        if (*end == '-') {
            p = end + 1;
            hi = strtoul(p, &end, 10);
            if (end == p) return;
        }
        for (unsigned long c = lo; c <= hi && c < sj->j->chains; c++)
            task_state(sj, c, st, reason);
        if (*end != ',') return;
        p = end + 1;
    }
}

static void cli_work(uv_work_t *req) {
    cli_call *k = req->data;
    k->argv[k->argc] = NULL;
    k->status = run_command(k->argv, k->out, sizeof k->out);
}

static void query_after(slurm_job *sj, cli_call *k) {
    if (k->status == 0) {
        sj->query_failures = 0;
        for (char *line = strtok(k->out, "\n"); line; line = strtok(NULL, "\n"))
            query_line(sj, line);
        return;
    }
    char line[300], why[400];
    output_line(k->out, line, sizeof line);
    if (strstr(k->out, "Invalid job id")) { /* Slurm has forgotten the array */
        for (uint32_t c = 0; c < sj->j->chains; c++) {
            int rc = end_file_rc(sj, c);
            if (rc != 1 && rc != MCMC_ECANCELLED) end_from_task(sj, c, rc);
        }
        snprintf(why, sizeof why, "Slurm no longer knows job %s, and the task wrote no end",
                 sj->array_id);
        chains_all_fail(sj, why);
    } else if (++sj->query_failures == 1 || sj->query_failures >= QUERY_FAILURES_MAX) {
        snprintf(why, sizeof why, "slurm: scontrol show job %s failed %u times: %s", sj->array_id,
                 sj->query_failures, line[0] ? line : "no output");
        fprintf(stderr, "mcmcd: job %s: %s\n", sj->j->id, why);
        if (sj->query_failures >= QUERY_FAILURES_MAX) chains_all_fail(sj, why);
    }
}

static void cli_after(uv_work_t *req, int status) {
    cli_call *k = req->data;
    slurm_job *sj = k->sj;
    sj->busy = 0;
    if (status == 0 && !sj->app->shutting_down && sj->left) {
        if (k->kind == CLI_QUERY) {
            query_after(sj, k);
        } else if (k->kind == CLI_CANCEL && k->status != 0) {
            char line[300];
            output_line(k->out, line, sizeof line);
            fprintf(stderr, "mcmcd: job %s: scancel %s failed (tried again): %s\n", sj->j->id,
                    sj->array_id, line);
            sj->cancel_sent = 0;
        }
    }
    call_free(k);
}

static void run_cli(slurm_job *sj, cli_kind kind, const char *const *args) {
    cli_call *k = calloc(1, sizeof *k);
    if (!k) return;
    k->sj = sj;
    k->kind = kind;
    for (int i = 0; args[i]; i++)
        call_add(k, "%s", args[i]);
    sj->busy = 1;
    if (app_queue_work(sj->app, &k->work, k, cli_work, cli_after) != 0) {
        sj->busy = 0;
        call_free(k);
    }
}

/* --- the poll ------------------------------------------------------------------ */

static void poll_job(slurm_job *sj) {
    for (uint32_t c = 0; c < sj->j->chains && sj->left; c++) {
        if (sj->ended[c]) continue;
        catch_up(sj, c);
        int rc = end_file_rc(sj, c);
        if (rc != 1) end_from_task(sj, c, rc);
    }
    if (!sj->left || sj->busy) return;
    if (sj->cancel_wanted && !sj->cancel_sent) {
        sj->cancel_sent = 1;
        run_cli(sj, CLI_CANCEL, (const char *const[]){"scancel", sj->array_id, NULL});
    } else {
        run_cli(sj, CLI_QUERY,
                (const char *const[]){"scontrol", "show", "job", "-o", sj->array_id, NULL});
    }
}

static void on_poll(uv_timer_t *t) {
    app *a = t->data;
    slurm_state *s = state_of(a);
    if (a->shutting_down) return;
    for (slurm_job **p = &s->jobs; *p;) {
        slurm_job *sj = *p;
        if (sj->left && sj->array_id[0]) poll_job(sj);
        if (!sj->left && !sj->busy) { /* ended: gone */
            *p = sj->next;
            free(sj->ended);
            free(sj);
        } else {
            p = &sj->next;
        }
    }
}

/* --- the posted blocks ----------------------------------------------------------- */

static int secret_matches(const slurm_job *sj, const char *auth) {
    static const char prefix[] = "Bearer ";
    if (!auth || strncmp(auth, prefix, sizeof prefix - 1) || strlen(auth + 7) != SECRET_HEX)
        return 0;
    unsigned diff = 0;
    for (int i = 0; i < SECRET_HEX; i++)
        diff |= (unsigned)(auth[7 + i] ^ sj->secret[i]);
    return diff == 0;
}

/* A block's rows and counters, from a post. */
static int take_block(slurm_job *sj, uint32_t c, const json_t *rec, char *why, size_t cap) {
    job *j = sj->j;
    chain_counts k;
    chain_adaptation ad;
    uint64_t first;
    uint32_t count;
    double *rows = NULL, *stats = NULL;
    unsigned nstats = chain_stat_count(j->stats);
    if (wire_counts_parse(rec, j->d, &k, &ad, why, cap) != 0) return -1;
    if (wire_rows_parse(rec, j->d, nstats, &first, &count, &rows, &stats, why, cap) != 0 ||
        first + count > j->samples || k.draws != first + count) {
        if (!why[0]) snprintf(why, cap, "first_draw, count and draws do not fit the job");
        chain_adaptation_clear(&ad);
        free(rows), free(stats);
        return -1;
    }
    if (first > j->counts[c].draws) catch_up(sj, c); /* an earlier post was lost */
    uint64_t have = j->counts[c].draws;
    int rc = 0;
    if (first <= have && first + count > have) {
        uint32_t skip = (uint32_t)(have - first);
        rc =
            job_write_rows(j, j->draws_fd, c, have, count - skip, rows + (size_t)skip * j->d, j->d);
        if (rc == 0 && nstats && j->stats_fd >= 0)
            rc = job_write_rows(j, j->stats_fd, c, have, count - skip,
                                stats + (size_t)skip * nstats, nstats);
    }
    if (rc == 0 && first <= have && (k.iter > j->counts[c].iter || k.draws > have)) {
        take_progress(sj, c, &k, &ad);
        sj->posted++;
    }
    chain_adaptation_clear(&ad);
    free(rows), free(stats);
    if (rc != 0) snprintf(why, cap, "cannot write the rows: %s", strerror(errno));
    return rc;
}

void executor_slurm_post_block(api_call *call) {
    app *a = call->app;
    job *j = jobs_find(a, call->id);
    slurm_job *sj = j && a->exec == &executor_slurm ? j->exec_job : NULL;
    if (!sj || !secret_matches(sj, http_request_header(call->req, "Authorization"))) {
        int missing = !http_request_header(call->req, "Authorization");
        http_request_add_header(call->req, "WWW-Authenticate",
                                missing ? "Bearer realm=\"mcmcd\""
                                        : "Bearer realm=\"mcmcd\", error=\"invalid_token\"");
        http_respond_error(call->req, 401, missing ? "unauthorized" : "invalid_token",
                           "this route takes a running Slurm job's blocks, with its secret", NULL);
        return;
    }
    size_t len = 0;
    const char *body = http_request_body(call->req, &len);
    json_t *rec = body ? json_loadb(body, len, 0, NULL) : NULL;
    const json_t *chain = json_object_get(rec, "chain"), *rc = json_object_get(rec, "rc");
    char why[300] = "";
    json_int_t c = json_is_integer(chain) ? json_integer_value(chain) : -1;
    if (c < 0 || c >= (json_int_t)j->chains) {
        snprintf(why, sizeof why, "%s", rec ? "chain: expected a chain of the job" : "not JSON");
    } else if (sj->ended[c]) {
        /* late: the chain's end is known; nothing to take */
    } else if (json_is_integer(rc)) {
        end_from_task(sj, (uint32_t)c, (int)json_integer_value(rc));
    } else {
        take_block(sj, (uint32_t)c, rec, why, sizeof why);
    }
    json_decref(rec);
    if (why[0]) {
        json_t *details = json_pack("[{s:s, s:s}]", "path", "", "message", why);
        http_respond_error(call->req, 400, "invalid_block", why, details);
    } else {
        http_respond_empty(call->req, 204);
    }
}

/* --- a spec's own resources --------------------------------------------------- */

/* Whether name is in the comma-separated list. */
static int listed(const char *list, const char *name) {
    size_t n = strlen(name);
    for (const char *p = list; *p;) {
        size_t len = strcspn(p, ",");
        if (len == n && !strncmp(p, name, n)) return 1;
        p += len + (p[len] == ',');
    }
    return 0;
}

void executor_slurm_check_spec(const app *a, const job_spec *s, spec_errors *errs) {
    const serve_config *c = &a->cfg;
    if (a->exec != &executor_slurm) return;
    uint64_t minutes = c->slurm_max_time_limit ? c->slurm_max_time_limit : c->slurm_time_limit;
    uint64_t cpus =
        c->slurm_max_cpus_per_task ? c->slurm_max_cpus_per_task : c->slurm_cpus_per_task;
    uint64_t mem = c->slurm_max_mem ? c->slurm_max_mem : c->slurm_mem;
    if (s->slurm.partition[0] && strcmp(s->slurm.partition, c->slurm_partition) &&
        !listed(c->slurm_partitions, s->slurm.partition))
        spec_errors_add(errs, "slurm.partition",
                        "this server does not submit to partition '%s' (the config's "
                        "slurm_partitions)",
                        s->slurm.partition);
    if (minutes && s->slurm.time_limit > minutes)
        spec_errors_add(errs, "slurm.time_limit", "must be <= %llu minutes on this server",
                        (unsigned long long)minutes);
    if (s->slurm.cpus_per_task > cpus)
        spec_errors_add(errs, "slurm.cpus_per_task", "must be <= %llu on this server",
                        (unsigned long long)cpus);
    if (mem && s->slurm.mem_mb * 1048576 > mem)
        spec_errors_add(errs, "slurm.mem_mb", "must be <= %llu on this server",
                        (unsigned long long)(mem / 1048576));
}

/* --- the executor --------------------------------------------------------------- */

static int slurm_open(app *a, char *err, size_t errlen) {
    struct stat st;
    if (!a->cfg.shared_dir[0]) {
        snprintf(err, errlen,
                 "executor slurm needs shared_dir: a directory the compute nodes share");
        return -1;
    }
    if (stat(a->cfg.shared_dir, &st) != 0 || !S_ISDIR(st.st_mode) ||
        access(a->cfg.shared_dir, R_OK | W_OK | X_OK) != 0) {
        snprintf(err, errlen, "cannot use shared_dir %.900s: %s", a->cfg.shared_dir,
                 strerror(errno ? errno : ENOTDIR));
        return -1;
    }
    slurm_state *s = calloc(1, sizeof *s);
    if (!s) return snprintf(err, errlen, "out of memory"), -1;
    a->exec_state = s;
    uv_timer_init(a->loop, &s->poll);
    s->poll.data = a;
    uv_timer_start(&s->poll, on_poll, POLL_MS, POLL_MS);
    return 0;
}

static int slurm_has_room(const app *a) {
    (void)a;
    return 1; /* Slurm queues what its nodes cannot take now */
}

static void slurm_stop(job *j) {
    slurm_job *sj = j->exec_job;
    if (sj && sj->left) sj->cancel_wanted = 1; /* scancel at the next poll */
}

static void slurm_shutdown(app *a) {
    slurm_state *s = state_of(a);
    if (s) uv_timer_stop(&s->poll); /* the tasks run on; a restart takes them up */
}

static void slurm_close(app *a) {
    slurm_state *s = state_of(a);
    if (!s) return;
    while (s->jobs) {
        slurm_job *sj = s->jobs;
        s->jobs = sj->next;
        if (sj->left) sj->j->exec_job = NULL; /* an ended job may be gone */
        free(sj->ended);
        free(sj);
    }
    free(s);
    a->exec_state = NULL;
}

const executor_ops executor_slurm = {.name = "slurm",
                                     .open = slurm_open,
                                     .has_room = slurm_has_room,
                                     .start = slurm_start,
                                     .stop = slurm_stop,
                                     .shutdown = slurm_shutdown,
                                     .close = slurm_close};
