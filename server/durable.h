/* durable.h - group commit for the registry: an answer to a write still
 * means the change is on disk, but no fsync runs on the loop thread.
 *
 * durable_start makes the registry's connection (the loop's) commit with
 * synchronous=NORMAL: in WAL mode a commit is then a write into the OS page
 * cache and no fsync. A sync thread fsyncs registry.db-wal through its own
 * descriptor when asked; one fsync covers every commit made before it began,
 * so the writes that come in while one runs share the next. The HTTP layer
 * holds each answer to a write until the sync that covers it has finished
 * (http_server_hold_writes). Writes queued with durable_write_queue (a
 * submission's rows, a running job's progress) are made by the sync
 * thread itself, on a connection of its own, many in one transaction,
 * before its next sync: the loop neither makes them nor waits for them.
 * Checkpoints run on a thread of their own, on a connection of their own,
 * once the WAL has grown by DURABLE_CHECKPOINT_FRAMES: the loop's
 * connection never checkpoints, and no answer waits behind the bulk of
 * the copy. The sync thread copies the few frames committed meanwhile
 * before its next write, which then starts the WAL over from its
 * beginning; the answers of that turn wait for that small copy and its
 * syncs, once every DURABLE_CHECKPOINT_FRAMES frames (durable.c).
 *
 * The argument, against SQLite's documentation (pragma.html#pragma_
 * synchronous, wal.html): in WAL mode with synchronous=NORMAL the database
 * is always consistent, and a commit may be lost only to an OS crash or
 * power loss, because the WAL is not synced at commit. A commit is the
 * frames appended to the WAL, the last one marked as a commit, each
 * checksummed; at the next open SQLite replays the valid frames that reach
 * disk. fdatasync on any descriptor of the -wal file writes out every page
 * of that file the loop wrote before the call, and the mutex between the
 * loop's ask and the thread's read orders those write()s before the sync.
 * So once the sync that began after a commit returns, that commit survives
 * a power loss, as with synchronous=FULL. The connection that starts the
 * WAL over syncs its new header (SQLite does so in NORMAL mode to keep
 * the frames of the old WAL from being replayed): usually the sync
 * thread's; the loop's when its own write comes first, once every
 * DURABLE_CHECKPOINT_FRAMES frames at most.
 *
 * Loop thread only, except the sync and checkpoint threads inside (and the
 * queued writes' run functions, which run on the sync thread). */
#ifndef MCMCD_DURABLE_H
#define MCMCD_DURABLE_H

#include <stdint.h>
#include <uv.h>

#include "histogram.h"
#include "registry.h"

/* SQLite's own autocheckpoint default: about 4 MB of WAL at 4 KiB pages. */
#define DURABLE_CHECKPOINT_FRAMES 1000

typedef struct durable durable;

/* Called on the loop when the commits of every ticket up to done are on
 * disk (failed 0), or when a sync failed (failed: its errno). After one
 * failure every later call fails too: once fsync has failed, Linux may
 * have dropped the pages it could not write, so nothing later is known to
 * be on disk either (restart the daemon). */
typedef void (*durable_synced_fn)(void *ctx, uint64_t done, int failed);

/* Takes over the syncing of reg, whose database is <dir>/registry.db: the
 * pragmas above on its connection, the sync and checkpoint threads, their
 * handle on loop.
 * 0, or -1 with err saying why (reg is then as it was). */
int durable_start(uv_loop_t *loop, registry *reg, const char *dir, durable_synced_fn fn, void *ctx,
                  durable **out, char *err, size_t errlen);

/* A ticket for every commit made so far: fn is called with done >= it once
 * they are on disk. Asks the sync thread for a sync unless one asked for
 * already covers them. */
uint64_t durable_ticket(durable *d);

/* A write made by the sync thread on a connection of its own, in one
 * transaction with the others queued meanwhile and then synced, so that
 * the loop neither writes nor waits for it: run(reg, ctx) on the sync
 * thread, under a savepoint (registry_batch_write: its failure undoes it
 * alone), touching nothing but reg and ctx; then done(w) on the loop, with
 * status REGISTRY_OK once the batch is on disk, or the status it failed
 * with and why. A failed sync fails every write of its batch (EIO). The
 * caller owns w and keeps it, and ctx, alive until done. */
typedef struct durable_write durable_write;
struct durable_write {
    registry_writes_fn run;
    void (*done)(durable_write *w);
    void *ctx;
    int status;
    char why[256];
    durable_write *next; /* the queue's */
};
void durable_write_queue(durable *d, durable_write *w);

/* Stops the sync thread, then syncs the WAL once more on the caller's
 * thread (at shutdown) and calls fn for every ticket handed out; closes the
 * handle and frees d once the loop has closed it (the loop must run again,
 * as uv_walk at shutdown does). The registry goes back to
 * synchronous=FULL. NULL is fine. */
void durable_stop(durable *d);

/* The sync-time histogram's upper bounds, in seconds (then +Inf). */
#define DURABLE_SYNC_BOUNDS 9
_Static_assert(DURABLE_SYNC_BOUNDS <= HISTOGRAM_BOUNDS_MAX, "the sync times fit a histogram");
extern const double durable_sync_bounds[DURABLE_SYNC_BOUNDS];

/* How many fsyncs the sync thread made, and how many asks it served: the
 * ratio is the batching (tests, metrics); and how long the fsyncs took,
 * the disk's floor under every durable answer. */
typedef struct durable_counts {
    uint64_t syncs, asks, checkpoints, writes, batches;
    uint64_t wal_restarts;      /* the WAL started over from its beginning */
    uint64_t writer_busy_waits; /* the sync thread's naps for the loop's lock */
    histogram sync_time;        /* seconds per fsync, in durable_sync_bounds */
} durable_counts;
durable_counts durable_counts_of(durable *d);

#endif
