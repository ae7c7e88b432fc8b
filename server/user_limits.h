/* user_limits.h - the per-user limits: one list (USER_LIMITS) from which the
 * config keys (user_NAME, the defaults), `mcmcd user set NAME KEY=VALUE`,
 * GET /v1/users/me, the over-limit errors and /metrics all take their
 * names. A value of 0 means "no limit". */
#ifndef MCMCD_USER_LIMITS_H
#define MCMCD_USER_LIMITS_H

#include <stddef.h>
#include <stdint.h>

typedef enum limit_unit {
    LIMIT_UNIT_COUNT,   /* a whole number */
    LIMIT_UNIT_BYTES,   /* a size: k, M, G, T suffixes (powers of 1024) */
    LIMIT_UNIT_SECONDS, /* a duration: s, m, h, d suffixes */
} limit_unit;

/* X(ID, name, unit, default, max, help) */
#define USER_LIMITS(X)                                                                             \
    X(RUNNING_CHAINS, "running_chains", LIMIT_UNIT_COUNT, 0, 1048576,                              \
      "chains of the user's jobs running at once; more wait in the queue")                         \
    X(QUEUED_JOBS, "queued_jobs", LIMIT_UNIT_COUNT, 1000, 10000000,                                \
      "the user's jobs queued or running; beyond it POST /v1/jobs answers 429")                    \
    X(STORED_BYTES, "stored_bytes", LIMIT_UNIT_BYTES, 0, (1ull << 50),                             \
      "bytes of the user's datasets and draws; beyond it uploads and jobs answer 507")             \
    X(DRAW_VALUES_PER_JOB, "draw_values_per_job", LIMIT_UNIT_COUNT, 0, (1ull << 40),               \
      "chains x kept draws x parameters of one job; beyond it 413")                                \
    X(JOB_SECONDS, "job_seconds", LIMIT_UNIT_SECONDS, 0, 31536000ull,                              \
      "wall time of one job; past it the job stops, keeps its draws, and fails with "              \
      "reason time_limit")                                                                         \
    X(JOB_RETENTION, "job_retention", LIMIT_UNIT_SECONDS, 2592000ull, 315360000ull,                \
      "how long a finished job is kept before the sweep deletes it")

typedef enum limit_id {
#define LIMIT_ENUM(ID, name, unit, dflt, max, help) LIMIT_##ID,
    USER_LIMITS(LIMIT_ENUM)
#undef LIMIT_ENUM
        LIMIT_COUNT
} limit_id;

typedef struct limit_def {
    const char *name; /* "running_chains" */
    limit_unit unit;
    uint64_t dflt, max; /* 0..max; 0 means no limit */
    const char *help;
} limit_def;

/* The values of every limit for one user (0: none). */
typedef struct user_limits {
    uint64_t v[LIMIT_COUNT];
} user_limits;

const limit_def *limit_get(limit_id id);
/* LIMIT_COUNT when no limit has that name. */
limit_id limit_by_name(const char *name);
/* Parses text as a value of limit id ("64G", "12h", "4"): 0, or -1 with
 * why in msg. */
int limit_parse(limit_id id, const char *text, uint64_t *out, char *msg, size_t cap);
/* "64G", "12h", "4" (exact units where they fit), "0" for none. */
void limit_format(limit_id id, uint64_t v, char *buf, size_t cap);
/* Whether used + more would pass limit v (0: never). */
int limit_exceeded(uint64_t v, uint64_t used, uint64_t more);

#endif
