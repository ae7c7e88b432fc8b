/* job_log.c - a finished job's event log once the job leaves memory: saved
 * whole to events.ndjson in the job's dir when jobs.c evicts the job or the
 * daemon stops, and read back when the job is next read, so that a client
 * gets the same bytes from a job in memory, from one read back, and after a
 * restart.
 *
 * The file is made empty with the job's other files as it starts, off the
 * loop thread (job_log_create). An eviction formats the log on the loop and
 * writes it on the thread pool (job_log_save_later) into that file, never
 * creating it (a job deleted meanwhile stays deleted); a job that never
 * started (cancelled while queued) has no file and no dir, and its log is
 * saved on the loop, its dir made first. Until the write is done, the
 * text is kept here by job id and a read back takes it from memory, so the
 * bytes are the same either way. At a stop, job_log_save writes on the
 * caller's thread. A save cut short by a crash leaves a log that does not
 * read back (a cut line, or no done event last), which counts as no saved
 * log.
 *
 * A job that ended without its log saved (the daemon was killed first, or
 * the job ended before this file existed) gets a log made from its
 * registry row: its state event and its done event, numbered after the
 * job's stored seq and stamped with its finish time, so that this log too
 * is the same every time it is made. So does a job whose stored spec this
 * build cannot read: it is shown failed, as its made log says. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include "app.h"
#include "errors.h"
#include "job_table.h"

#define LOG_FILE "events.ndjson"
#define LOG_FILE_MAX (64u << 20) /* far above what a log retains */

static int write_all(int fd, const char *p, size_t n) {
    while (n > 0) {
        ssize_t w = write(fd, p, n);
        if (w < 0 && errno == EINTR) continue;
        if (w <= 0) return -1;
        p += w;
        n -= (size_t)w;
    }
    return 0;
}

int job_log_create(const job *j) {
    char path[4600];
    job_file_path(j, LOG_FILE, path, sizeof path);
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (fd < 0) return errno;
    return close(fd) != 0 ? errno : 0;
}

int job_log_save(const job *j) {
    if (!j->events || !job_events_is_done(j->events)) return MCMC_EINVAL;
    event_buf text = {0};
    uint64_t last;
    if (job_events_format_after(j->events, 0, EVENT_FRAMING_NDJSON, 0, &text, &last) < 0)
        return MCMC_ENOMEM;
    char path[4600];
    snprintf(path, sizeof path, "%s/%s", j->app->jobs_dir, j->id);
    mkdir(path, 0700); /* a job that never started has none yet */
    job_file_path(j, LOG_FILE, path, sizeof path);
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    int ok = fd >= 0 && write_all(fd, text.data, text.len) == 0;
    if (fd >= 0 && close(fd) != 0) ok = 0;
    event_buf_free(&text);
    return ok ? MCMC_OK : MCMC_EIO;
}

/* A log formatted on the loop, being written on the pool. */
typedef struct pending_save {
    app_work work;
    char id[JOB_ID_LEN + 1]; /* the key in a->log_saves */
    char path[4600];
    event_buf text;
    int failed;
} pending_save;

static void save_work(uv_work_t *w) {
    pending_save *p = w->data;
    /* made with the job's files; gone when the job was deleted meanwhile */
    int fd = open(p->path, O_WRONLY | O_TRUNC | O_CLOEXEC);
    if (fd < 0) {
        p->failed = errno;
        return;
    }
    if (write_all(fd, p->text.data, p->text.len) != 0) p->failed = errno ? errno : EIO;
    if (close(fd) != 0 && !p->failed) p->failed = errno;
}

static void save_after(uv_work_t *w, int status) {
    pending_save *p = w->data;
    app *a = p->work.app;
    if (status != 0 || (p->failed && p->failed != ENOENT))
        fprintf(stderr, "mcmcd: job %s: cannot save its events; a restart shows only its end\n",
                p->id);
    job_table_remove(a->log_saves, p->id);
    event_buf_free(&p->text);
    free(p);
}

int job_log_save_later(app *a, const job *j) {
    if (!j->log_file_made) return job_log_save(j); /* restored: its file may not exist */
    if (!j->events || !job_events_is_done(j->events)) return MCMC_EINVAL;
    if (!a->log_saves && !(a->log_saves = job_table_new())) return MCMC_ENOMEM;
    pending_save *p = calloc(1, sizeof *p);
    uint64_t last;
    if (!p || job_events_format_after(j->events, 0, EVENT_FRAMING_NDJSON, 0, &p->text, &last) < 0) {
        free(p);
        return MCMC_ENOMEM;
    }
    snprintf(p->id, sizeof p->id, "%s", j->id);
    job_file_path(j, LOG_FILE, p->path, sizeof p->path);
    job_table_remove(a->log_saves, p->id); /* an older one: its write still ends */
    if (job_table_put(a->log_saves, p->id, p) != 0 ||
        app_queue_work(a, &p->work, p, save_work, save_after) != 0) {
        job_table_remove(a->log_saves, p->id);
        event_buf_free(&p->text);
        free(p);
        return MCMC_ENOMEM;
    }
    return MCMC_OK;
}

void job_log_saves_free(app *a) {
    job_table_free(a->log_saves); /* empty: the pool ran every save's after */
    a->log_saves = NULL;
}

/* The saved log, or NULL when there is none that reads back. */
static job_events *read_saved(const job *j) {
    char path[4600];
    job_file_path(j, LOG_FILE, path, sizeof path);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    struct stat st;
    if (fd < 0) return NULL;
    char *text = NULL;
    ssize_t got = -1;
    if (fstat(fd, &st) == 0 && st.st_size > 0 && st.st_size <= LOG_FILE_MAX &&
        (text = malloc((size_t)st.st_size)))
        got = read(fd, text, (size_t)st.st_size); /* a regular file: whole, or an error */
    close(fd);
    job_events *log =
        got == st.st_size ? job_events_from_ndjson(j->id, j->chains, text, (size_t)got) : NULL;
    free(text);
    return log;
}

/* The state and done events of the job's row. */
static job_events *made_from_row(const job *j) {
    job_events *log = job_events_new(j->id, j->chains, j->persisted_seq, 1);
    uint64_t *draws = calloc(j->chains, sizeof *draws);
    const char *state = registry_job_state_name(j->state);
    double at = (double)j->finished_ms / 1000.0;
    for (uint32_t c = 0; draws && c < j->chains; c++)
        draws[c] = j->counts[c].draws;
    if (!log || !draws || !job_events_add_state(log, state, j->error, at) ||
        !job_events_add_done(log, state, j->error, draws, at)) {
        job_events_free(log);
        log = NULL;
    }
    free(draws);
    return log;
}

job_events *job_log_load(const job *j) {
    /* a spec this build cannot read: shown failed, whatever the saved log says */
    if (j->spec_unreadable) return made_from_row(j);
    const pending_save *p = j->app->log_saves ? job_table_get(j->app->log_saves, j->id) : NULL;
    job_events *log =
        p ? job_events_from_ndjson(j->id, j->chains, p->text.data, p->text.len) : read_saved(j);
    return log ? log : made_from_row(j);
}
