/* job_log.c - a finished job's event log once the job leaves memory: saved
 * whole to events.ndjson in the job's dir when jobs.c evicts the job or the
 * daemon stops, and read back when the job is next read, so that a client
 * gets the same bytes from a job in memory, from one read back, and after a
 * restart.
 *
 * The file is made empty with the job's other files, off the loop thread
 * (job_log_create), so that the save, which runs on the loop, writes into
 * a file that exists: no inode to allocate, no rename. A save cut short by
 * a crash leaves a log that does not read back (a cut line, or no done
 * event last), which counts as no saved log.
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
    job_file_path(j, LOG_FILE, path, sizeof path);
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    int ok = fd >= 0 && write_all(fd, text.data, text.len) == 0;
    if (fd >= 0 && close(fd) != 0) ok = 0;
    event_buf_free(&text);
    return ok ? MCMC_OK : MCMC_EIO;
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
    job_events *log = j->spec_unreadable ? NULL : read_saved(j);
    return log ? log : made_from_row(j);
}
