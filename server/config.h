/* config.h - the settings of `mcmcd serve`: defaults, a `key = value`
 * config file and the command line, in that order of precedence (lowest
 * first). Nothing here prints except serve_config_usage; errors go to the
 * caller's buffer, prefixed with where they come from:
 *
 *   mcmcd.conf:7: port: must be 1..65535 (got '70000')
 *   mcmcd.conf:3: unknown key 'prot'
 *   --workers: must be 1..1024 (got '0')
 *
 * A call that fails leaves the config it was given unchanged. */
#ifndef MCMCD_CONFIG_H
#define MCMCD_CONFIG_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "user_limits.h"

/* Every field is also a config-file key of the same name. */
typedef struct serve_config {
    char bind[64];                      /* listen address, an IP literal or a host
                                           name; default 127.0.0.1 */
    uint16_t port;                      /* TCP port, default 8470; 1..65535 in a
                                           file, --port also takes 0 (ephemeral) */
    char data_dir[4096];                /* registry, datasets and draws; default
                                           $XDG_STATE_HOME/mcmcd, else
                                           $HOME/.local/state/mcmcd, else
                                           ./mcmcd-data */
    unsigned workers;                   /* chain worker threads, 1..1024; default
                                           the number of online CPUs */
    uint64_t max_body_bytes;            /* largest request body, 1K..64G; default
                                           256M (k, M, G, T: powers of 1024) */
    uint32_t max_queued_jobs;           /* jobs queued or running before 429,
                                           1..10000000; default 10000 */
    uint32_t max_chains_per_job;        /* 1..65536; default 1024 */
    uint64_t max_draw_values_per_job;   /* chains * samples * d, 1..2^40;
                                           default 2^31 */
    uint64_t memory_budget;             /* bytes that running jobs may hold
                                           together, and the most one job or
                                           upload may need, 1M..1024T; default
                                           half the physical memory */
    double heartbeat_seconds;           /* idle-stream heartbeat, 0.1..3600;
                                           default 5 */
    uint32_t max_streams;               /* open event/draw streams, 1..1048576;
                                           default 1024 */
    char auth[8];                       /* "token" (default) or "none", which
                                           serve accepts only on a loopback bind */
    char tls_cert[4096], tls_key[4096]; /* PEM files; both set: HTTPS */
    double sweep_seconds;               /* expiry sweep period, default 60 */
    uint32_t idle_timeout_seconds;      /* a connection with no traffic this
                                           long is closed (streams are kept
                                           alive by their heartbeats),
                                           1..86400; default 30 */
    char hosts[1024];                   /* Host header names the daemon answers
                                           (any port), comma-separated; the bind
                                           address is always one; "*": any.
                                           Default localhost,127.0.0.1,[::1] */
    uint32_t job_cache;                 /* ended jobs kept in memory (the rest
                                           are read back from the registry on
                                           demand), 1..1000000; default 256 */
    /* where chains run (executor.h), and the slurm executor's settings
     * ("" for a string left unset: Slurm's default; 0 likewise) */
    char executor[8];      /* "local" (default) or "slurm" */
    char shared_dir[4096]; /* shared with the compute nodes */
    char slurm_partition[128], slurm_account[128];
    uint32_t slurm_time_limit;        /* minutes per task */
    uint32_t slurm_cpus_per_task;     /* default 1 */
    uint64_t slurm_mem;               /* bytes per task */
    uint32_t slurm_max_time_limit;    /* what a spec may ask for (0: */
    uint32_t slurm_max_cpus_per_task; /*  no more than the default) */
    uint64_t slurm_max_mem;
    char slurm_partitions[1024];   /* others a spec may name */
    char slurm_callback_url[1024]; /* the daemon as the nodes reach it */
    char slurm_mcmcd[4096];        /* the binary the tasks run */
    uint32_t chain_nice;           /* the nice value a worker thread takes
                                      while it runs a chain, 0..19; default
                                      10: chains are batch work, and the
                                      loop thread answers ahead of them */
    int32_t service_nice;          /* the nice value of the daemon's own
                                      threads, -20..19 (0: as started);
                                      set once at start (thread_sched.h) */
    uint32_t loop_rt_priority;     /* SCHED_FIFO priority of the loop
                                      thread, 0..99 (0: not real-time);
                                      set once the pool has started
                                      (thread_sched.h) */
    char chain_sched[8];           /* "nice" (default: at chain_nice) or
                                      "idle" (SCHED_IDLE; thread_sched.h) */
    uint32_t ksd_draws;            /* draws a summary's kernel Stein
                                      discrepancy reads at most (its cost
                                      is quadratic), 2..4000; default 1000 */
    user_limits limits;            /* defaults of the per-user limits,
                                      keys user_<name> (user_limits.h) */
} serve_config;

/* Return values of the calls below. */
#define SERVE_CONFIG_OK 0
#define SERVE_CONFIG_ERR (-1) /* err holds the reason */
#define SERVE_CONFIG_HELP 1   /* --help: print serve_config_usage, exit 0 */

/* Fills c with the defaults. Reads XDG_STATE_HOME (used only when it is an
 * absolute path, as the XDG spec asks), HOME and the online CPU count. */
void serve_config_defaults(serve_config *c);

/* Applies the config file at path over c. Format: one `key = value` a line;
 * blank lines and `#` comments (a whole line, or after whitespace
 * following a value) are skipped; keys and values are trimmed; a value in
 * double quotes is taken literally (no escapes), so it may hold '#' or edge
 * spaces. Unknown keys, bad or out-of-range values and a key given twice
 * are errors. Returns SERVE_CONFIG_OK or SERVE_CONFIG_ERR. */
int serve_config_load_file(serve_config *c, const char *path, char *err, size_t errlen);

/* Parses the options of `mcmcd serve` over c, which the caller filled
 * (normally with serve_config_defaults). argv[0] is the command's name and is
 * skipped. --config FILE is loaded first, then every other flag overrides
 * it, wherever it stands; a flag given twice takes its last value. Stops at
 * --help with SERVE_CONFIG_HELP (c unchanged); positional arguments are
 * errors. Uses getopt_long (resets optind, so it may be called again, but
 * not from two threads at once). */
int serve_config_parse_args(serve_config *c, int argc, char **argv, char *err, size_t errlen);

/* Whether a request's Host header (NULL: none sent, as HTTP/1.0 may) is
 * one of c's hosts or its bind address, with any port. Names compare
 * without regard to case; IPv6 literals in brackets. */
int serve_config_host_allowed(const serve_config *c, const char *host);

/* Help text: every option and every config key with its default. */
void serve_config_usage(FILE *out);

/* One line for the startup log: every key with its effective value, e.g.
 * "bind=127.0.0.1 port=8470 data_dir=/var/lib/mcmcd workers=8 ...". */
void serve_config_describe(const serve_config *c, char *buf, size_t cap);

#endif
