/* registry.h - the daemon's durable record of datasets and jobs, kept in
 * SQLite at <dir>/registry.db. One connection, owned by the event-loop
 * thread: calls are synchronous and must not run concurrently. (A second
 * handle, registry_open_another, lets one other thread write beside it.) A call that
 * changes anything has reached the disk when it returns (WAL journal,
 * synchronous=FULL), unless durable.h has taken the syncing over: the
 * daemon's answers to writes then wait for its sync thread instead.
 *
 * Ownership: strings passed in are copied; structs filled by a get call own
 * their strings until the matching clear call; structs handed to a list
 * callback are borrowed for that call only. Callbacks run after the query
 * has finished, so they may call back into the registry (even to change the
 * rows being listed). A callback returns 0 to go on; anything else stops the
 * walk and becomes the list call's return value. */
#ifndef MCMCD_REGISTRY_H
#define MCMCD_REGISTRY_H

#include <stddef.h>
#include <stdint.h>

/* 0 or negative. ENOMEM, EIO and EINVAL share the values of mcmc_status. */
enum registry_status {
    REGISTRY_OK = 0,
    REGISTRY_ENOMEM = -1,
    REGISTRY_EIO = -2,             /* SQLite failed: registry_last_error says why */
    REGISTRY_EINVAL = -4,          /* a bad argument: id, count, page size, state */
    REGISTRY_NOT_FOUND = -20,      /* no such dataset or job */
    REGISTRY_EXISTS = -21,         /* that id is taken; the stored row is kept */
    REGISTRY_IN_USE = -22,         /* a queued or running job holds it */
    REGISTRY_BAD_TRANSITION = -23, /* the job's state cannot change that way */
    REGISTRY_BAD_TOKEN = -24,      /* a page token this registry did not make */
    REGISTRY_SCHEMA_TOO_NEW = -25, /* registry.db was written by a newer mcmcd */
    REGISTRY_FULL = -26,           /* the disk is full: nothing was written */
    REGISTRY_BUSY = -27,           /* another process held the write lock past the busy timeout */
};

/* Ids: 1 to REGISTRY_ID_MAX characters from [A-Za-z0-9._-]. */
#define REGISTRY_ID_MAX 64
#define REGISTRY_PAGE_SIZE_MAX 1000
#define REGISTRY_TOKEN_SIZE 128 /* a page token with its NUL always fits */

typedef enum registry_job_state {
    REGISTRY_JOB_QUEUED,
    REGISTRY_JOB_RUNNING,
    REGISTRY_JOB_SUCCEEDED,
    REGISTRY_JOB_FAILED,
    REGISTRY_JOB_CANCELLED,
} registry_job_state;
#define REGISTRY_JOB_STATES 5

typedef struct registry registry;

typedef struct registry_dataset {
    char *id;      /* the content hash, hex */
    char *name;    /* may be empty; NULL is stored as empty. Of a reference:
                      its user's name for the dataset */
    int64_t owner; /* of a reference: its user's id; 0 for the bare row */
    int64_t n, d;
    int64_t bytes;      /* size of the payload file */
    int64_t created_ms; /* unix time, milliseconds */
} registry_dataset;

typedef struct registry_job {
    char *id;         /* made by the caller */
    char *spec;       /* canonical JSON */
    char *dataset_id; /* NULL for synthetic data, or once the dataset is deleted
                         (the spec still names it) */
    registry_job_state state;
    int64_t created_ms, started_ms, finished_ms; /* unix ms; 0: not yet */
    char *error;                                 /* NULL unless set by a state change */
    int64_t chains, num_samples, d;
    char *progress; /* JSON per chain, e.g. [{"iter":..,"accepted":..,"draws":..}]; NULL before
                       the first report */
    int64_t seq;    /* the last event sequence number */
    int64_t owner;  /* the user's id */
    char *name;     /* "" when the job has none */
    char *tags;     /* a JSON array of strings, "[]" when none */
    int64_t starts; /* times it went running since the daemon last stopped cleanly */
    int cancel_requested; /* a cancel was accepted while it ran */
} registry_job;

/* Which jobs a list walks: those passing every field that is set. */
#define REGISTRY_FILTER_TAGS_MAX 16
typedef struct registry_job_filter {
    const registry_job_state *state; /* NULL: any state */
    int64_t owner;                   /* 0: anyone's */
    const char *name;                /* NULL: any name */
    const char *const *tags;         /* jobs that have every one */
    size_t ntags;
} registry_job_filter;

typedef int (*registry_dataset_fn)(void *ctx, const registry_dataset *ds);
typedef int (*registry_job_fn)(void *ctx, const registry_job *job);
typedef int (*registry_id_fn)(void *ctx, const char *id);

/* Opens <dir>/registry.db, creating it and bringing its schema up to date.
 * dir must exist. On failure *out is NULL and err says why. */
int registry_open(const char *dir, registry **out, char *err, size_t errlen);
void registry_close(registry *reg); /* NULL is fine */

/* A second connection to a registry that registry_open has opened, for
 * another thread (durable.h's writes): it keeps no reserve of its own, so
 * a write that finds the disk full fails there, and is the caller's to try
 * again on the first (registry_write_together). Same results as
 * registry_open. */
int registry_open_another(const char *dir, registry **out, char *err, size_t errlen);

/* How many times this connection has napped waiting for another's lock
 * (20 us to 2 ms each; metrics). */
uint64_t registry_busy_waits(const registry *reg);

/* Changes to users and tokens, by any process on this data dir: a count
 * that registry_auth_changed adds one to, kept in <dir>/registry.authgen
 * and read without a system call, so that a copy of a token's user
 * (auth.h's cache) can be checked at every request against changes that
 * `mcmcd token` and `mcmcd user` make from another process. The users
 * module calls registry_auth_changed after each write it commits.
 * REGISTRY_AUTH_UNKNOWN when the file could not be made: keep no copies. */
#define REGISTRY_AUTH_UNKNOWN UINT64_MAX
uint64_t registry_auth_changes(const registry *reg);
void registry_auth_changed(registry *reg);

/* The space held for the registry's own writes: <dir>/registry.reserve,
 * REGISTRY_RESERVE_BYTES, made at open when there is room. A write that
 * finds the disk full releases it and is tried once more, so that a job's
 * end, a cancel or a delete is still recorded on a full disk (each release
 * is logged). This makes it again once there is room (the sweep calls it);
 * 0 when it is there, else -1 (no room, or no fallocate). */
#define REGISTRY_RESERVE_BYTES (1 << 20)
int registry_keep_reserve(registry *reg);

/* Runs fn's writes as one transaction: one commit, one set of WAL frames
 * and locks, and all of them or none. fn returns 0 or a registry status;
 * so does this, having rolled back unless 0. A transaction that finds the
 * disk full is run once more after the reserve is released, as a single
 * write is. */
typedef int (*registry_writes_fn)(registry *reg, void *ctx);
int registry_write_together(registry *reg, registry_writes_fn fn, void *ctx);

/* Many callers' writes in one transaction, each undone alone if it fails:
 * begin, then one registry_batch_write per caller (fn under a savepoint:
 * 0, or its status with the savepoint rolled back and the message kept),
 * then commit (rolled back unless 0). After a write fails, batch_open
 * says whether the transaction is still there: SQLite rolls the whole of
 * it back on some errors (a full disk, an I/O error), undoing the writes
 * before it too. */
int registry_batch_begin(registry *reg);
int registry_batch_write(registry *reg, registry_writes_fn fn, void *ctx);
int registry_batch_open(registry *reg);
int registry_batch_commit(registry *reg);

/* What went wrong in the last call that failed. */
const char *registry_last_error(const registry *reg);
const char *registry_status_str(int status);

const char *registry_job_state_name(registry_job_state state); /* "queued", ... */
int registry_job_state_parse(const char *name, registry_job_state *out);
int registry_job_state_is_final(registry_job_state state);

/* --- datasets --- */

/* REGISTRY_EXISTS when the id is taken. */
int registry_dataset_put(registry *reg, const registry_dataset *ds);
int registry_dataset_get(registry *reg, const char *id, registry_dataset *out);
void registry_dataset_clear(registry_dataset *ds);
/* REGISTRY_IN_USE while a queued or running job uses it or a user still
 * references it; finished jobs keep their rows and lose only their
 * dataset_id. */
int registry_dataset_delete(registry *reg, const char *id);

/* --- datasets: each user's references --- */

/* Every user reference to a dataset (user 0), or one user's, by (created,
 * id); each with its owner and its user's name. */
int registry_dataset_list(registry *reg, int64_t user, registry_dataset_fn fn, void *ctx);
/* Gives user a reference to the stored dataset id, named name (may be ""
 * or NULL); a non-empty name moves to it from the user's other
 * references. REGISTRY_OK when new, REGISTRY_EXISTS when the user had one
 * (kept as it was), REGISTRY_NOT_FOUND without such a dataset or user. */
int registry_dataset_ref_put(registry *reg, int64_t user, const char *id, const char *name,
                             int64_t created_ms);
/* The user's reference by dataset id, else by the user's name for it (the
 * newest); user 0: any user's reference by id (the oldest). */
int registry_dataset_ref_get(registry *reg, int64_t user, const char *id_or_name,
                             registry_dataset *out);
/* Drops the user's reference (user 0: every reference) to dataset id;
 * REGISTRY_NOT_FOUND when there was none. The bytes stay until
 * registry_dataset_collect. */
int registry_dataset_ref_delete(registry *reg, int64_t user, const char *id);
/* Deletes every dataset row that no reference and no queued or running
 * job needs, calling fn with each id after its row is gone (to remove the
 * payload file). */
int registry_dataset_collect(registry *reg, registry_id_fn fn, void *ctx);
/* The bytes of the datasets the user references. */
int registry_user_dataset_bytes(registry *reg, int64_t user, int64_t *bytes);

/* --- jobs --- */

/* Records a new queued job with seq 0: reads id, spec, dataset_id,
 * created_ms, chains, num_samples, d, owner, name and tags. REGISTRY_EXISTS when the id is
 * taken, REGISTRY_NOT_FOUND when dataset_id names no dataset. */
int registry_job_insert(registry *reg, const registry_job *job);
int registry_job_get(registry *reg, const char *id, registry_job *out);
void registry_job_clear(registry_job *job);

/* queued -> running | cancelled, running -> succeeded | failed | cancelled;
 * anything else is REGISTRY_BAD_TRANSITION. Records error (NULL clears it);
 * now_ms becomes started_ms on running, finished_ms on a final state.
 * Going running adds one to the job's starts. */
int registry_job_set_state(registry *reg, const char *id, registry_job_state to, const char *error,
                           int64_t now_ms);
/* The job's progress (JSON text) and the seq its events restart after. */
int registry_job_set_progress(registry *reg, const char *id, const char *progress_json,
                              int64_t seq);
/* The same for a job still queued or running whose recorded seq is not
 * past seq; else (ended, gone, or a newer progress recorded) nothing, and
 * REGISTRY_NOT_FOUND: a progress written late, from another thread, never
 * overwrites the one its end or a cancel recorded. */
int registry_job_set_running_progress(registry *reg, const char *id, const char *progress_json,
                                      int64_t seq);
/* set_state to a final state and set_progress in one write (one commit):
 * how a job's end is recorded. */
int registry_job_end(registry *reg, const char *id, registry_job_state to, const char *error,
                     int64_t now_ms, const char *progress_json, int64_t seq);
/* REGISTRY_IN_USE while queued or running: cancel it first. */
int registry_job_delete(registry *reg, const char *id);

/* One page of jobs by (created, id), those that pass filter (NULL: all).
 * page_token is NULL or "" for the first page, else a next_token from
 * an earlier call; it may be the next_token buffer itself. next_token
 * becomes "" on the last page (and on errors). */
int registry_job_list(registry *reg, const registry_job_filter *filter, int page_size,
                      const char *page_token, registry_job_fn fn, void *ctx,
                      char next_token[REGISTRY_TOKEN_SIZE]);

/* At startup, in one transaction, the jobs that a crash (or a stop) left
 * running: those whose cancel was accepted (registry_job_request_cancel)
 * end cancelled; those that went running crash_limit times or more since
 * the daemon last stopped cleanly end failed with crash_error; both keep
 * their progress, get finished = now_ms, and seq_gap is added to their seq
 * (event numbers a client saw are not handed out again). The rest go back
 * to queued, losing their started_ms and progress but keeping seq. */
typedef struct registry_recovery_args {
    int64_t crash_limit; /* >= 1 */
    const char *crash_error;
    int64_t now_ms, seq_gap;
} registry_recovery_args;
typedef struct registry_recovery {
    int cancelled, crash_looped, requeued;
} registry_recovery;
int registry_jobs_recover(registry *reg, const registry_recovery_args *args,
                          registry_recovery *out);
/* Records that a cancel of the queued or running job was accepted, so that
 * it holds across a crash. REGISTRY_BAD_TRANSITION once it has ended. */
int registry_job_request_cancel(registry *reg, const char *id);
/* The daemon stops cleanly: its running jobs' starts go back to 0, since
 * the stop was no crash of theirs. */
int registry_jobs_stopped_cleanly(registry *reg);
/* The ids of queued jobs, first in first out: by (created, id). */
int registry_job_next_queued(registry *reg, registry_id_fn fn, void *ctx);

/* The ids of owner's ended jobs that finished at or before finished_ms,
 * the earliest first, at most limit (> 0) of them: what the retention
 * sweep deletes, without reading every job. */
int registry_jobs_ended_before(registry *reg, int64_t owner, int64_t finished_ms, int limit,
                               registry_id_fn fn, void *ctx);

/* counts[state]: how many jobs are in each state. */
int registry_job_counts(registry *reg, uint64_t counts[REGISTRY_JOB_STATES]);

#endif
