/* durable.c - the registry's sync thread (durable.h): group commit of the
 * WAL; and its checkpoint thread: the bulk of each checkpoint off the loop,
 * and off the sync thread, so that no answer waits behind a checkpoint's
 * copy of ~1,000 pages (at 1,000 submissions a second one comes every ~90
 * of them).
 *
 * The loop counts commits (SQLite's WAL hook, which fires after each one)
 * and, when an answer needs them on disk, raises `asked` unless an earlier
 * ask already covers them. The sync thread takes the latest ask, fsyncs the
 * WAL, publishes it as `synced` and wakes the loop (wakeup.h: the loop
 * never spins waiting for this thread to finish its send). Asks that
 * arrive during an fsync are served by the next one, so there is never
 * more than one fsync in flight and n waiting answers cost one fsync,
 * not n. The sync thread also makes the writes queued for it (a
 * submission's rows): each turn takes every write queued so far, makes
 * them in one transaction on its own connection, then syncs, so those
 * share one commit and one fsync, and hands them back to the loop with
 * the sync's result.
 *
 * A checkpoint has two steps. Only a WAL whose every frame is in the
 * database starts over from its beginning, and only when a write begins
 * after that (SQLite's walRestartLog); until then it grows, and each
 * commit appends to the file instead of rewriting it in place. The
 * checkpoint thread's passive checkpoint copies the bulk while commits go
 * on, so it ends with a few frames still to copy. The sync thread then
 * copies those at the start of its next turn, before its own write, which
 * then starts the WAL over; that turn's answers wait for the small copy
 * and its two syncs (the WAL's and the database's). (Were the second step
 * left to the checkpoint thread, every commit after the first step would
 * find the WAL still long and ask for another: bursts of 10-20
 * checkpoints, each with an fsync of the database, were measured at 1,000
 * submissions a second.) The next checkpoint is due
 * DURABLE_CHECKPOINT_FRAMES frames after the WAL starts over, or after
 * the last one if it did not. */
#include "durable.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <sqlite3.h>

#include "clock.h"
#include "registry_internal.h"
#include "wakeup.h"

struct durable {
    uv_loop_t *loop;
    wakeup synced_wakeup; /* the sync thread's "synced" */
    pthread_t thread, ckpt_thread;
    pthread_mutex_t lock;
    pthread_cond_t wake;      /* the sync thread's */
    pthread_cond_t ckpt_wake; /* the checkpoint thread's */
    sqlite3 *db;              /* the loop's (the registry's) connection */
    sqlite3 *ckpt_db;         /* the checkpoint thread's */
    registry *writer;         /* the sync thread's connection, for queued writes */
    int wal_fd;               /* registry.db-wal, read-only: fsync needs no more */
    durable_synced_fn fn;
    void *ctx;
    /* under lock */
    uint64_t asked, synced;
    durable_write *queued, *queued_tail;   /* for the sync thread's next batch */
    durable_write *written, *written_tail; /* made and synced, for the loop's done */
    int failed;                            /* the errno of the first fsync that failed */
    int checkpoint_due, stopping;
    int finish_due;                      /* the sync thread's step of a checkpoint */
    int checkpointed;                    /* a step has run since the WAL last started over */
    int frames_seen, next_checkpoint_at; /* the WAL hooks' frames: when one is due */
    durable_counts counts;
    /* the loop's alone */
    uint64_t commits, commits_asked;
    uint64_t reported; /* the last done handed to fn */
    int thread_running, ckpt_thread_running;
};

const double durable_sync_bounds[DURABLE_SYNC_BOUNDS] = {0.0001, 0.00025, 0.0005, 0.001, 0.0025,
                                                         0.005,  0.01,    0.025,  0.1};

/* --- the sync and checkpoint threads --------------------------------------- */

/* A passive checkpoint on db: the frames in the WAL when it began that no
 * reader still needs, copied into the database, which is then synced
 * (SQLite syncs the WAL first). 1 when it copied every frame it saw. */
static int checkpoint(sqlite3 *db) {
    int log_frames = 0, done_frames = 0;
    int rc =
        sqlite3_wal_checkpoint_v2(db, NULL, SQLITE_CHECKPOINT_PASSIVE, &log_frames, &done_frames);
    if (rc != SQLITE_OK && rc != SQLITE_BUSY)
        fprintf(stderr, "mcmcd: registry checkpoint failed: %s\n", sqlite3_errmsg(db));
    return rc == SQLITE_OK && done_frames == log_frames;
}

/* The sync thread's step of a checkpoint, before its next write: the
 * frames committed during the checkpoint thread's step, a few, and the
 * syncs of the WAL and the database that come with them, which the
 * answers of this turn wait for. A step that meets the checkpoint
 * thread's next one gets SQLITE_BUSY and is dropped: that one has it. */
static void finish_checkpoint_if_due(durable *d) {
    pthread_mutex_lock(&d->lock);
    int due = d->finish_due;
    d->finish_due = 0;
    pthread_mutex_unlock(&d->lock);
    if (!due) return;
    checkpoint(registry_sqlite(d->writer));
    pthread_mutex_lock(&d->lock);
    d->checkpointed = 1;
    pthread_mutex_unlock(&d->lock);
}

/* Waits for an ask or a queued write and takes the queued writes; 0 when
 * stopping with nothing left to write or sync. */
static int next_work(durable *d, durable_write **batch, uint64_t *target) {
    pthread_mutex_lock(&d->lock);
    while (!d->stopping && d->asked == d->synced && !d->queued)
        pthread_cond_wait(&d->wake, &d->lock);
    *batch = d->queued;
    d->queued = d->queued_tail = NULL;
    *target = d->asked;
    int go = *batch || d->asked != d->synced || !d->stopping;
    pthread_mutex_unlock(&d->lock);
    return go;
}

/* Every write of batch that has not failed on its own fails with status. */
static void fail_batch(durable_write *batch, int status, const char *why) {
    for (durable_write *w = batch; w; w = w->next) {
        if (w->status != REGISTRY_OK) continue;
        w->status = status;
        snprintf(w->why, sizeof w->why, "%s", why);
    }
}

/* The batch's writes in one transaction on the sync thread's connection. */
static void write_batch(durable *d, durable_write *batch) {
    registry *reg = d->writer;
    int status = registry_batch_begin(reg);
    for (durable_write *w = batch; w && status == REGISTRY_OK; w = w->next) {
        int rc = registry_batch_write(reg, w->run, w->ctx);
        if (rc == REGISTRY_OK) continue;
        if (!registry_batch_open(reg)) { /* SQLite undid the batch: all of it fails */
            status = rc;
            break;
        }
        w->status = rc;
        snprintf(w->why, sizeof w->why, "%s", registry_last_error(reg));
    }
    if (status == REGISTRY_OK) status = registry_batch_commit(reg);
    if (status != REGISTRY_OK) fail_batch(batch, status, registry_last_error(reg));
}

/* A synced batch goes to the loop's list; a failed sync fails it. */
static void batch_synced(durable *d, durable_write *batch) {
    if (!batch) return;
    size_t n = 0;
    durable_write *last = batch;
    for (durable_write *w = batch; w; w = w->next, n++)
        last = w;
    if (d->failed) {
        char why[200];
        snprintf(why, sizeof why, "the registry could not be synced: %s", strerror(d->failed));
        fail_batch(batch, REGISTRY_EIO, why);
    }
    if (d->written_tail)
        d->written_tail->next = batch;
    else
        d->written = batch;
    d->written_tail = last;
    d->counts.writes += n;
    d->counts.batches++;
}

static void *sync_thread(void *arg) {
    durable *d = arg;
    durable_write *batch;
    uint64_t target;
    while (next_work(d, &batch, &target)) {
        finish_checkpoint_if_due(d);
        if (batch) write_batch(d, batch);
        double t0 = app_monotonic();
        int e = fdatasync(d->wal_fd) == 0 ? 0 : errno;
        double took = app_monotonic() - t0;
        pthread_mutex_lock(&d->lock);
        if (e && !d->failed) d->failed = e;
        d->synced = target;
        d->counts.syncs++;
        histogram_observe(&d->counts.sync_time, durable_sync_bounds, DURABLE_SYNC_BOUNDS, took);
        d->counts.writer_busy_waits = registry_busy_waits(d->writer);
        batch_synced(d, batch);
        pthread_mutex_unlock(&d->lock);
        wakeup_send(&d->synced_wakeup);
    }
    return NULL;
}

/* Waits for a due checkpoint; 0 when stopping. */
static int next_checkpoint(durable *d) {
    pthread_mutex_lock(&d->lock);
    while (!d->stopping && !d->checkpoint_due)
        pthread_cond_wait(&d->ckpt_wake, &d->lock);
    d->checkpoint_due = 0;
    int go = !d->stopping;
    pthread_mutex_unlock(&d->lock);
    return go;
}

static void *checkpoint_thread(void *arg) {
    durable *d = arg;
    while (next_checkpoint(d)) {
        int whole = checkpoint(d->ckpt_db);
        pthread_mutex_lock(&d->lock);
        /* the sync thread's step only after a whole copy: were a reader
         * holding frames back, it would copy most of the WAL on the
         * answers' path; the next checkpoint comes instead */
        d->finish_due = whole;
        d->checkpointed = 1;
        d->counts.checkpoints++;
        pthread_mutex_unlock(&d->lock);
    }
    return NULL;
}

/* --- the loop -------------------------------------------------------------- */

static void report(durable *d) {
    pthread_mutex_lock(&d->lock);
    uint64_t done = d->synced;
    int failed = d->failed;
    durable_write *w = d->written;
    d->written = d->written_tail = NULL;
    pthread_mutex_unlock(&d->lock);
    if (done != d->reported || failed) {
        d->reported = done;
        d->fn(d->ctx, done, failed);
    }
    while (w) {
        durable_write *next = w->next;
        w->next = NULL;
        w->done(w);
        w = next;
    }
}

static void on_synced(void *ctx) {
    report(ctx);
}

/* A WAL of frames frames after a commit: the checkpoint thread's turn once
 * it has grown by DURABLE_CHECKPOINT_FRAMES since it started over or since
 * the last checkpoint was due. It started over when a commit sees fewer
 * frames than the last one and a checkpoint step has run since the last
 * start: SQLite calls the hooks of two connections after their commits
 * have let go of the lock, so one may report its frames after a later
 * commit of the other's, and that alone is not a start. */
static void checkpoint_if_due(durable *d, int frames) {
    pthread_mutex_lock(&d->lock);
    if (frames < d->frames_seen && d->checkpointed) {
        d->next_checkpoint_at = DURABLE_CHECKPOINT_FRAMES;
        d->counts.wal_restarts++;
        d->checkpointed = 0;
        d->finish_due = 0; /* started over already: nothing left to copy */
        d->frames_seen = frames;
    } else if (frames > d->frames_seen) {
        d->frames_seen = frames;
    }
    if (frames >= d->next_checkpoint_at && !d->checkpoint_due) {
        d->checkpoint_due = 1;
        d->next_checkpoint_at = frames + DURABLE_CHECKPOINT_FRAMES;
        pthread_cond_signal(&d->ckpt_wake);
    }
    pthread_mutex_unlock(&d->lock);
}

/* SQLite calls this on the loop after each commit of the loop's
 * connection, with the frames now in the WAL. */
static int on_commit(void *arg, sqlite3 *db, const char *name, int frames) {
    (void)db, (void)name;
    durable *d = arg;
    d->commits++;
    checkpoint_if_due(d, frames);
    return SQLITE_OK;
}

/* The same after each commit of the sync thread's connection, on it. */
static int on_writer_commit(void *arg, sqlite3 *db, const char *name, int frames) {
    (void)db, (void)name;
    checkpoint_if_due(arg, frames);
    return SQLITE_OK;
}

void durable_write_queue(durable *d, durable_write *w) {
    w->status = REGISTRY_OK;
    w->why[0] = '\0';
    w->next = NULL;
    pthread_mutex_lock(&d->lock);
    if (d->queued_tail)
        d->queued_tail->next = w;
    else
        d->queued = w;
    d->queued_tail = w;
    pthread_cond_signal(&d->wake);
    pthread_mutex_unlock(&d->lock);
}

uint64_t durable_ticket(durable *d) {
    pthread_mutex_lock(&d->lock);
    if (d->commits != d->commits_asked) {
        d->commits_asked = d->commits;
        d->asked++;
        d->counts.asks++;
        pthread_cond_signal(&d->wake);
    }
    uint64_t t = d->asked;
    pthread_mutex_unlock(&d->lock);
    return t;
}

durable_counts durable_counts_of(durable *d) {
    pthread_mutex_lock(&d->lock);
    durable_counts c = d->counts;
    pthread_mutex_unlock(&d->lock);
    return c;
}

/* --- start and stop -------------------------------------------------------- */

static int fail(char *err, size_t errlen, const char *what, const char *path, const char *why) {
    snprintf(err, errlen, "%s %.900s: %s", what, path, why);
    return -1;
}

/* The -wal file (it exists once the registry has read its schema) and the
 * directory entry that names it, made durable once. */
static int open_wal(durable *d, const char *dir, char *err, size_t errlen) {
    char path[4200];
    snprintf(path, sizeof path, "%s/registry.db-wal", dir);
    d->wal_fd = open(path, O_RDONLY | O_CLOEXEC);
    if (d->wal_fd < 0) return fail(err, errlen, "cannot open", path, strerror(errno));
    int dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    int e = dfd < 0 || fsync(dfd) != 0 ? errno : 0;
    if (dfd >= 0) close(dfd);
    return e ? fail(err, errlen, "cannot sync", dir, strerror(e)) : 0;
}

/* The sync thread's connection: commits without a sync of their own (the
 * thread syncs after each batch) and without checkpoints (its WAL hook
 * asks the checkpoint thread instead, as the loop's does). */
static int open_writer(durable *d, const char *dir, char *err, size_t errlen) {
    if (registry_open_another(dir, &d->writer, err, errlen) != REGISTRY_OK) return -1;
    sqlite3 *db = registry_sqlite(d->writer);
    if (sqlite3_exec(db, "PRAGMA synchronous = NORMAL", NULL, NULL, NULL) != SQLITE_OK)
        return fail(err, errlen, "cannot set", "synchronous", sqlite3_errmsg(db));
    sqlite3_wal_hook(db, on_writer_commit, d);
    return 0;
}

static int open_checkpointer(durable *d, const char *dir, char *err, size_t errlen) {
    char path[4200];
    snprintf(path, sizeof path, "%s/registry.db", dir);
    if (sqlite3_open_v2(path, &d->ckpt_db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX, NULL) !=
            SQLITE_OK ||
        sqlite3_exec(d->ckpt_db, "PRAGMA synchronous = NORMAL", NULL, NULL, NULL) != SQLITE_OK)
        return fail(err, errlen, "cannot open", path,
                    d->ckpt_db ? sqlite3_errmsg(d->ckpt_db) : "out of memory");
    return 0;
}

/* The loop's connection: no sync at commit, no checkpoint (the WAL hook
 * replaces SQLite's autocheckpoint, which is a WAL hook too). */
static int take_over(durable *d, char *err, size_t errlen) {
    if (sqlite3_exec(d->db, "PRAGMA synchronous = NORMAL", NULL, NULL, NULL) != SQLITE_OK)
        return fail(err, errlen, "cannot set", "synchronous", sqlite3_errmsg(d->db));
    sqlite3_wal_hook(d->db, on_commit, d);
    return 0;
}

static void give_back(durable *d) {
    sqlite3_wal_autocheckpoint(d->db, DURABLE_CHECKPOINT_FRAMES); /* drops our hook */
    sqlite3_exec(d->db, "PRAGMA synchronous = FULL", NULL, NULL, NULL);
}

static void free_durable(durable *d) {
    if (d->wal_fd >= 0) close(d->wal_fd);
    sqlite3_close(d->ckpt_db);
    registry_close(d->writer);
    pthread_cond_destroy(&d->wake);
    pthread_cond_destroy(&d->ckpt_wake);
    pthread_mutex_destroy(&d->lock);
    free(d);
}

static void on_closed(uv_handle_t *h) {
    wakeup *w = h->data;
    durable *d = w->ctx;
    wakeup_release(w);
    free_durable(d);
}

int durable_start(uv_loop_t *loop, registry *reg, const char *dir, durable_synced_fn fn, void *ctx,
                  durable **out, char *err, size_t errlen) {
    *out = NULL;
    durable *d = calloc(1, sizeof *d);
    if (!d) return fail(err, errlen, "cannot start", "the registry's sync thread", "out of memory");
    d->loop = loop;
    d->db = registry_sqlite(reg);
    d->fn = fn;
    d->ctx = ctx;
    d->wal_fd = -1;
    d->next_checkpoint_at = DURABLE_CHECKPOINT_FRAMES;
    pthread_mutex_init(&d->lock, NULL);
    pthread_cond_init(&d->wake, NULL);
    pthread_cond_init(&d->ckpt_wake, NULL);
    if (open_wal(d, dir, err, errlen) != 0 || open_checkpointer(d, dir, err, errlen) != 0 ||
        open_writer(d, dir, err, errlen) != 0) {
        free_durable(d);
        return -1;
    }
    int rc = wakeup_start(loop, &d->synced_wakeup, on_synced, d);
    if (rc != 0) {
        free_durable(d);
        return fail(err, errlen, "cannot make", "the sync thread's wakeup", uv_strerror(rc));
    }
    if ((rc = pthread_create(&d->thread, NULL, sync_thread, d)) != 0) {
        uv_close((uv_handle_t *)&d->synced_wakeup.poll, on_closed); /* frees d */
        return fail(err, errlen, "cannot start", "the registry's sync thread", strerror(rc));
    }
    d->thread_running = 1;
    if ((rc = pthread_create(&d->ckpt_thread, NULL, checkpoint_thread, d)) != 0) {
        durable_stop(d);
        return fail(err, errlen, "cannot start", "the registry's checkpoint thread", strerror(rc));
    }
    d->ckpt_thread_running = 1;
    if (take_over(d, err, errlen) != 0) {
        durable_stop(d);
        return -1;
    }
    *out = d;
    return 0;
}

void durable_stop(durable *d) {
    if (!d) return;
    pthread_mutex_lock(&d->lock);
    d->stopping = 1;
    pthread_cond_signal(&d->wake);
    pthread_cond_signal(&d->ckpt_wake);
    pthread_mutex_unlock(&d->lock);
    if (d->thread_running) pthread_join(d->thread, NULL);
    if (d->ckpt_thread_running) pthread_join(d->ckpt_thread, NULL);
    d->thread_running = d->ckpt_thread_running = 0;
    give_back(d);
    /* the last asks, on this thread: nothing is left to wait for */
    int e = fdatasync(d->wal_fd) == 0 ? 0 : errno;
    pthread_mutex_lock(&d->lock);
    if (e && !d->failed) d->failed = e;
    d->synced = d->asked;
    pthread_mutex_unlock(&d->lock);
    report(d);
    uv_handle_t *h = (uv_handle_t *)&d->synced_wakeup.poll;
    if (!uv_is_closing(h)) uv_close(h, on_closed);
}
