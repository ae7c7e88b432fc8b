/* config.c - the settings of `mcmcd serve`: one table of keys (name, type,
 * field, range, default, help) drives the config-file parser, the command
 * line, the help text and the startup log line, so they cannot disagree. */
#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>

#include "config.h"
#include "ksd.h"
#include "user_limits.h"
#include "units.h"

_Static_assert(sizeof(unsigned) == sizeof(uint32_t), "workers is stored as 32 bits");

/* --- the keys ---------------------------------------------------------- */

typedef enum cfg_kind {
    CFG_HOST,   /* string: an IP literal or a host name */
    CFG_PATH,   /* string: non-empty */
    CFG_INT,    /* unsigned integer, stored by the field's size */
    CFG_NICE,   /* a nice value, -20..19 (lo and hi hold it plus 20), stored as int32_t */
    CFG_SIZE,   /* unsigned integer with an optional k/M/G/T suffix */
    CFG_DOUBLE, /* finite double */
    CFG_CHOICE, /* string: one of the words in choices, '|' between them */
    CFG_LIMIT,  /* a per-user limit (user_limits.h), lo holds its limit_id */
    CFG_HOSTS,  /* string: host names or IP literals ([v6]), ',' between; or "*" */
} cfg_kind;

typedef struct cfg_key {
    const char *name;
    cfg_kind kind;
    size_t off, size;
    uint64_t lo, hi;  /* integer kinds */
    double dlo, dhi;  /* CFG_DOUBLE */
    const char *dflt; /* for the help text */
    const char *help;
    const char *choices; /* CFG_CHOICE */
} cfg_key;

#define FIELD(f) offsetof(serve_config, f), sizeof(((serve_config *)0)->f)
#define KIB 1024ull
#define DEFAULT_HOSTS "localhost,127.0.0.1,[::1]"
#define GIB (1024ull * 1024 * 1024)

static const cfg_key cfg_keys[] = {
    {"bind", CFG_HOST, FIELD(bind), 0, 0, 0, 0, "127.0.0.1", "listen address", NULL},
    {"port", CFG_INT, FIELD(port), 1, 65535, 0, 0, "8470", "TCP port", NULL},
    {"data_dir", CFG_PATH, FIELD(data_dir), 0, 0, 0, 0,
     "$XDG_STATE_HOME/mcmcd, else $HOME/.local/state/mcmcd, else ./mcmcd-data",
     "registry, datasets and draws", NULL},
    {"workers", CFG_INT, FIELD(workers), 1, 1024, 0, 0, "online CPUs", "chain worker threads",
     NULL},
    {"max_body_bytes", CFG_SIZE, FIELD(max_body_bytes), KIB, 64 * GIB, 0, 0, "256M",
     "largest request body", NULL},
    {"max_queued_jobs", CFG_INT, FIELD(max_queued_jobs), 1, 10000000, 0, 0, "10000",
     "queued and running jobs before 429", NULL},
    {"max_chains_per_job", CFG_INT, FIELD(max_chains_per_job), 1, 65536, 0, 0, "1024",
     "chains in one job", NULL},
    {"max_draw_values_per_job", CFG_INT, FIELD(max_draw_values_per_job), 1, 1ull << 40, 0, 0,
     "2147483648", "chains * samples * d of one job", NULL},
    {"memory_budget", CFG_SIZE, FIELD(memory_budget), 1024 * KIB, 1024 * 1024 * GIB, 0, 0,
     "half the physical memory",
     "memory that running jobs may hold together; a job or upload that needs more alone is "
     "refused with 413, one that does not fit beside the running jobs waits",
     NULL},
    {"heartbeat_seconds", CFG_DOUBLE, FIELD(heartbeat_seconds), 0, 0, 0.1, 3600, "5",
     "heartbeat on idle streams", NULL},
    {"max_streams", CFG_INT, FIELD(max_streams), 1, 1048576, 0, 0, "1024",
     "open event and draw streams", NULL},
    {"auth", CFG_CHOICE, FIELD(auth), 0, 0, 0, 0, "token",
     "token: every request needs a bearer token; none: no identity, allowed only when bind is a "
     "loopback address",
     "token|none"},
    {"tls_cert", CFG_PATH, FIELD(tls_cert), 0, 0, 0, 0, "none",
     "PEM certificate chain; with tls_key the daemon speaks HTTPS", NULL},
    {"tls_key", CFG_PATH, FIELD(tls_key), 0, 0, 0, 0, "none", "PEM private key of tls_cert", NULL},
    {"sweep_seconds", CFG_DOUBLE, FIELD(sweep_seconds), 0, 0, 0.05, 86400, "60",
     "how often expired jobs and idempotency keys are swept", NULL},
    {"idle_timeout_seconds", CFG_INT, FIELD(idle_timeout_seconds), 1, 86400, 0, 0, "30",
     "a connection with no traffic for this long is closed (streams send heartbeats)", NULL},
    {"hosts", CFG_HOSTS, FIELD(hosts), 0, 0, 0, 0, DEFAULT_HOSTS,
     "names the Host header may carry (any port), comma-separated, besides the bind address; "
     "other Hosts get 421 (DNS rebinding); * accepts any",
     NULL},
    {"job_cache", CFG_INT, FIELD(job_cache), 1, 1000000, 0, 0, "256",
     "ended jobs kept in memory; the others are read back from the registry when asked for", NULL},
    {"executor", CFG_CHOICE, FIELD(executor), 0, 0, 0, 0, "local",
     "where chains run: local (the worker threads) or slurm (one Slurm job array per job; see "
     "the README's \"Running on a cluster\")",
     "local|slurm"},
    {"shared_dir", CFG_PATH, FIELD(shared_dir), 0, 0, 0, 0, "none",
     "executor slurm: a directory the daemon and the compute nodes share, at the same path; "
     "each job's spec, dataset, rows and progress go there",
     NULL},
    {"slurm_partition", CFG_PATH, FIELD(slurm_partition), 0, 0, 0, 0, "Slurm's default",
     "sbatch --partition", NULL},
    {"slurm_account", CFG_PATH, FIELD(slurm_account), 0, 0, 0, 0, "none", "sbatch --account", NULL},
    {"slurm_time_limit", CFG_INT, FIELD(slurm_time_limit), 0, 1000000, 0, 0, "0",
     "sbatch --time, in minutes, of each chain's task (0: the partition's)", NULL},
    {"slurm_cpus_per_task", CFG_INT, FIELD(slurm_cpus_per_task), 1, 1024, 0, 0, "1",
     "sbatch --cpus-per-task", NULL},
    {"slurm_mem", CFG_SIZE, FIELD(slurm_mem), 0, 1024 * 1024 * GIB, 0, 0, "0",
     "sbatch --mem of each task (0: the partition's default)", NULL},
    {"slurm_max_time_limit", CFG_INT, FIELD(slurm_max_time_limit), 0, 1000000, 0, 0, "0",
     "the most minutes a job's spec may ask for in slurm.time_limit (0: no more than "
     "slurm_time_limit)",
     NULL},
    {"slurm_max_cpus_per_task", CFG_INT, FIELD(slurm_max_cpus_per_task), 0, 1024, 0, 0, "0",
     "the most a spec may ask for in slurm.cpus_per_task (0: no more than slurm_cpus_per_task)",
     NULL},
    {"slurm_max_mem", CFG_SIZE, FIELD(slurm_max_mem), 0, 1024 * 1024 * GIB, 0, 0, "0",
     "the most a spec may ask for in slurm.mem (0: no more than slurm_mem)", NULL},
    {"slurm_partitions", CFG_PATH, FIELD(slurm_partitions), 0, 0, 0, 0, "none",
     "partitions a spec may name in slurm.partition, comma-separated, besides slurm_partition",
     NULL},
    {"slurm_callback_url", CFG_PATH, FIELD(slurm_callback_url), 0, 0, 0, 0,
     "http://BIND:PORT (the host name for a wildcard bind)",
     "where Slurm tasks post their blocks: the daemon's URL as the compute nodes reach it", NULL},
    {"slurm_mcmcd", CFG_PATH, FIELD(slurm_mcmcd), 0, 0, 0, 0, "this mcmcd's own path",
     "the mcmcd binary the tasks run on the compute nodes", NULL},
    {"chain_nice", CFG_INT, FIELD(chain_nice), 0, 19, 0, 0, "10",
     "nice value of a worker thread while it runs a chain (0: the daemon's own), so that "
     "requests are answered ahead of running chains",
     NULL},
    {"chain_sched", CFG_CHOICE, FIELD(chain_sched), 0, 0, 0, 0, "nice",
     "how a running chain yields the CPU: nice (at chain_nice, sharing it with the machine's "
     "other work) or idle (Linux's idle class: only the time nothing else wants, so the fastest "
     "answers, but any busy process on the machine stops the chains until it is done)",
     "nice|idle"},
    {"service_nice", CFG_NICE, FIELD(service_nice), 0, 39, 0, 0, "0",
     "nice value of the daemon's own threads, which answer requests (0: as started); below 0 "
     "they are scheduled ahead of the machine's other processes, which needs root, "
     "CAP_SYS_NICE or a LimitNICE that allows it (else the daemon says so and keeps its own)",
     NULL},
    {"loop_rt_priority", CFG_INT, FIELD(loop_rt_priority), 0, 99, 0, 0, "0",
     "real-time (SCHED_FIFO) priority of the loop thread, which answers every request (0: not "
     "real-time); it then runs the moment a request arrives, ahead of every thread that is not "
     "real-time; threads and processes started later do not inherit it. Needs root, "
     "CAP_SYS_NICE or a LimitRTPRIO that allows it (else the daemon says so and runs as without)",
     NULL},
    {"ksd_draws", CFG_INT, FIELD(ksd_draws), 2, KSD_MAX_DRAWS, 0, 0, "1000",
     "draws a summary's kernel Stein discrepancy reads at most, evenly from every chain (its cost "
     "is quadratic in them)",
     NULL},
#define LIMIT_KEY(ID, name, unit, dflt, max, help)                                                 \
    {"user_" name,                                                                                 \
     CFG_LIMIT,                                                                                    \
     FIELD(limits.v[LIMIT_##ID]),                                                                  \
     LIMIT_##ID,                                                                                   \
     0,                                                                                            \
     0,                                                                                            \
     0,                                                                                            \
     NULL,                                                                                         \
     "default per-user limit: " help " (0: none)",                                                 \
     NULL},
    USER_LIMITS(LIMIT_KEY)
#undef LIMIT_KEY
};

#define NKEYS (sizeof cfg_keys / sizeof cfg_keys[0])

static const cfg_key *key_named(const char *name, size_t len) {
    for (size_t i = 0; i < NKEYS; i++)
        if (strlen(cfg_keys[i].name) == len && !memcmp(cfg_keys[i].name, name, len))
            return &cfg_keys[i];
    return NULL;
}

/* --- values: parse, check, store, format --------------------------------- */

static void store_int(serve_config *c, const cfg_key *k, uint64_t v) {
    char *p = (char *)c + k->off;
    if (k->size == 2) {
        uint16_t x = (uint16_t)v;
        memcpy(p, &x, 2);
    } else if (k->size == 4) {
        uint32_t x = (uint32_t)v;
        memcpy(p, &x, 4);
    } else {
        memcpy(p, &v, 8);
    }
}

static uint64_t load_int(const serve_config *c, const cfg_key *k) {
    const char *p = (const char *)c + k->off;
    if (k->size == 2) {
        uint16_t x;
        memcpy(&x, p, 2);
        return x;
    }
    if (k->size == 4) {
        uint32_t x;
        memcpy(&x, p, 4);
        return x;
    }
    uint64_t x;
    memcpy(&x, p, 8);
    return x;
}

static int parse_double(const char *s, double *out) {
    if (!isdigit((unsigned char)*s) && *s != '.') return -1; /* no sign, inf, nan */
    char *end;
    errno = 0;
    double v = strtod(s, &end);
    if (end == s || *end || errno == ERANGE || !isfinite(v)) return -1;
    *out = v;
    return 0;
}

/* Host names: letters, digits, '-' and '.'; all digits and dots must be a
 * valid IPv4 address, so a mistyped one is not taken for a name. */
static int valid_host(const char *s) {
    unsigned char buf[sizeof(struct in6_addr)];
    if (inet_pton(AF_INET, s, buf) == 1 || inet_pton(AF_INET6, s, buf) == 1) return 1;
    if (!isalnum((unsigned char)*s)) return 0;
    int name = 0;
    for (const char *p = s; *p; p++) {
        if (isalpha((unsigned char)*p) || *p == '-')
            name = 1;
        else if (!isdigit((unsigned char)*p) && *p != '.')
            return 0;
    }
    return name;
}

/* One entry of hosts: a host name, an IPv4 literal or a bracketed IPv6
 * literal, len bytes at s. */
static int valid_host_entry(const char *s, size_t len) {
    char buf[256];
    if (len == 0 || len >= sizeof buf) return 0;
    memcpy(buf, s, len);
    buf[len] = 0;
    if (buf[0] != '[') return !strchr(buf, ':') && valid_host(buf);
    if (buf[len - 1] != ']') return 0;
    buf[len - 1] = 0;
    unsigned char a6[sizeof(struct in6_addr)];
    return inet_pton(AF_INET6, buf + 1, a6) == 1;
}

static int valid_hosts(const char *s) {
    if (!strcmp(s, "*")) return 1;
    for (;;) {
        size_t n = strcspn(s, ",");
        if (!valid_host_entry(s, n)) return 0;
        if (!s[n]) return 1;
        s += n + 1;
    }
}

static void format_range(const cfg_key *k, char *buf, size_t cap) {
    char lo[32], hi[32];
    if (k->kind == CFG_NICE) {
        snprintf(buf, cap, "%d..%d", (int)k->lo - 20, (int)k->hi - 20);
    } else if (k->kind == CFG_DOUBLE) {
        snprintf(buf, cap, "%g..%g", k->dlo, k->dhi);
    } else if (k->kind == CFG_SIZE) {
        units_format_size(k->lo, lo, sizeof lo);
        units_format_size(k->hi, hi, sizeof hi);
        snprintf(buf, cap, "%s..%s", lo, hi);
    } else {
        snprintf(buf, cap, "%llu..%llu", (unsigned long long)k->lo, (unsigned long long)k->hi);
    }
}

static int fail(char *msg, size_t cap, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    if (cap) vsnprintf(msg, cap, fmt, ap);
    va_end(ap);
    return -1;
}

static int out_of_range(const cfg_key *k, const char *v, char *msg, size_t cap) {
    char range[80];
    format_range(k, range, sizeof range);
    return fail(msg, cap, "must be %s%s (got '%.64s')", range,
                k->kind == CFG_SIZE ? ", a whole number with an optional k, M, G or T" : "", v);
}

static int set_string(serve_config *c, const cfg_key *k, const char *v, char *msg, size_t cap) {
    if (!*v) return fail(msg, cap, "must not be empty");
    if (strlen(v) >= k->size) return fail(msg, cap, "longer than %zu bytes", k->size - 1);
    if (k->kind == CFG_HOST && !valid_host(v))
        return fail(msg, cap, "must be an IP address or a host name (got '%.64s')", v);
    if (k->kind == CFG_HOSTS && !valid_hosts(v))
        return fail(msg, cap,
                    "must be host names or IP addresses ([...] for IPv6) with ',' between, or * "
                    "(got '%.64s')",
                    v);
    memcpy((char *)c + k->off, v, strlen(v) + 1);
    return 0;
}

static int set_choice(serve_config *c, const cfg_key *k, const char *v, char *msg, size_t cap) {
    size_t n = strlen(v);
    for (const char *w = k->choices; *w;) {
        size_t len = strcspn(w, "|");
        if (len == n && !memcmp(w, v, n) && n < k->size) {
            memcpy((char *)c + k->off, v, n + 1);
            return 0;
        }
        w += len + (w[len] == '|');
    }
    return fail(msg, cap, "must be one of %s (got '%.64s')", k->choices, v);
}

static int set_nice(serve_config *c, const cfg_key *k, const char *v, char *msg, size_t cap) {
    char *end;
    errno = 0;
    long n = strtol(v, &end, 10);
    if (errno || end == v || *end || n + 20 < (long)k->lo || n + 20 > (long)k->hi)
        return out_of_range(k, v, msg, cap);
    int32_t x = (int32_t)n;
    memcpy((char *)c + k->off, &x, sizeof x);
    return 0;
}

/* Parses v as the value of key k into c; on failure says why in msg (without
 * the key's name) and leaves c alone. */
static int set_value(serve_config *c, const cfg_key *k, const char *v, char *msg, size_t cap) {
    uint64_t u;
    double d;
    switch (k->kind) {
    case CFG_HOST:
    case CFG_PATH:
    case CFG_HOSTS:
        return set_string(c, k, v, msg, cap);
    case CFG_INT:
        if (units_parse_count(v, &u) || u < k->lo || u > k->hi) return out_of_range(k, v, msg, cap);
        store_int(c, k, u);
        return 0;
    case CFG_NICE:
        return set_nice(c, k, v, msg, cap);
    case CFG_SIZE:
        if (units_parse_size(v, &u) || u < k->lo || u > k->hi) return out_of_range(k, v, msg, cap);
        store_int(c, k, u);
        return 0;
    case CFG_DOUBLE:
        if (parse_double(v, &d) || d < k->dlo || d > k->dhi) return out_of_range(k, v, msg, cap);
        memcpy((char *)c + k->off, &d, sizeof d);
        return 0;
    case CFG_CHOICE:
        return set_choice(c, k, v, msg, cap);
    case CFG_LIMIT:
        if (limit_parse((limit_id)k->lo, v, &u, msg, cap)) return -1;
        store_int(c, k, u);
        return 0;
    }
    return fail(msg, cap, "internal error: bad key kind");
}

static void format_value(const serve_config *c, const cfg_key *k, char *buf, size_t cap) {
    const char *p = (const char *)c + k->off;
    double d;
    switch (k->kind) {
    case CFG_HOST:
    case CFG_PATH:
    case CFG_HOSTS:
    case CFG_CHOICE:
        if (*p && !strpbrk(p, " \t"))
            snprintf(buf, cap, "%s", p);
        else
            snprintf(buf, cap, "\"%s\"", p);
        return;
    case CFG_INT:
        snprintf(buf, cap, "%llu", (unsigned long long)load_int(c, k));
        return;
    case CFG_NICE: {
        int32_t x;
        memcpy(&x, p, sizeof x);
        snprintf(buf, cap, "%d", (int)x);
        return;
    }
    case CFG_SIZE:
        units_format_size(load_int(c, k), buf, cap);
        return;
    case CFG_LIMIT:
        limit_format((limit_id)k->lo, load_int(c, k), buf, cap);
        return;
    case CFG_DOUBLE:
        memcpy(&d, p, sizeof d);
        snprintf(buf, cap, "%g", d);
        return;
    }
}

/* --- defaults -------------------------------------------------------------- */

static void default_data_dir(char *dir, size_t cap) {
    const char *xdg = getenv("XDG_STATE_HOME"), *home = getenv("HOME");
    if (xdg && xdg[0] == '/') {
        int n = snprintf(dir, cap, "%s/mcmcd", xdg);
        if (n > 0 && (size_t)n < cap) return;
    }
    if (home && *home) {
        int n = snprintf(dir, cap, "%s/.local/state/mcmcd", home);
        if (n > 0 && (size_t)n < cap) return;
    }
    snprintf(dir, cap, "./mcmcd-data");
}

/* Half the physical memory, within the key's range. */
static uint64_t default_memory_budget(void) {
    long pages = sysconf(_SC_PHYS_PAGES), size = sysconf(_SC_PAGESIZE);
    uint64_t half = pages > 0 && size > 0 ? (uint64_t)pages * (uint64_t)size / 2 : 4 * GIB;
    return half < 1024 * KIB ? 1024 * KIB : half;
}

void serve_config_defaults(serve_config *c) {
    memset(c, 0, sizeof *c);
    snprintf(c->bind, sizeof c->bind, "127.0.0.1");
    c->port = 8470;
    default_data_dir(c->data_dir, sizeof c->data_dir);
    long cpus = sysconf(_SC_NPROCESSORS_ONLN);
    c->workers = cpus < 1 ? 1 : cpus > 1024 ? 1024 : (unsigned)cpus;
    c->max_body_bytes = 256ull << 20;
    c->max_queued_jobs = 10000;
    c->job_cache = 256;
    c->chain_nice = 10;
    snprintf(c->chain_sched, sizeof c->chain_sched, "nice");
    c->ksd_draws = KSD_DEFAULT_MAX_DRAWS;
    c->max_chains_per_job = 1024;
    c->max_draw_values_per_job = 1ull << 31;
    c->memory_budget = default_memory_budget();
    c->heartbeat_seconds = 5.0;
    c->max_streams = 1024;
    snprintf(c->auth, sizeof c->auth, "token");
    c->sweep_seconds = 60;
    c->idle_timeout_seconds = 30;
    snprintf(c->hosts, sizeof c->hosts, DEFAULT_HOSTS);
    snprintf(c->executor, sizeof c->executor, "local");
    c->slurm_cpus_per_task = 1;
    for (int i = 0; i < LIMIT_COUNT; i++)
        c->limits.v[i] = limit_get((limit_id)i)->dflt;
}

/* --- the config file ------------------------------------------------------- */

static char *trim(char *s, char *end) {
    while (s < end && isspace((unsigned char)*s))
        s++;
    while (end > s && isspace((unsigned char)end[-1]))
        end--;
    *end = '\0';
    return s;
}

/* Cuts the value text v in place: a quoted value is taken as is, else it ends
 * at a '#' that follows whitespace. Returns NULL with msg on error. */
static char *cut_value(char *v, const char *key, char *msg, size_t cap) {
    const char *why = NULL;
    v = trim(v, v + strlen(v));
    if (*v == '"') {
        char *close = strchr(v + 1, '"'), *rest = close ? close + 1 : NULL;
        while (rest && isspace((unsigned char)*rest))
            rest++;
        if (!close) {
            why = "unterminated quote";
        } else if (*rest && *rest != '#') {
            why = "text after the closing quote";
        } else {
            *close = '\0';
            v++;
        }
    } else {
        for (char *p = v; *p; p++)
            if (*p == '#' && (p == v || isspace((unsigned char)p[-1]))) {
                *p = '\0';
                break;
            }
        v = trim(v, v + strlen(v));
        if (!*v) why = "missing value";
    }
    if (why) fail(msg, cap, "%s: %s", key, why);
    return why ? NULL : v;
}

/* One line of the file; seen[i] is the line that set key i, 0 if none. */
static int parse_line(serve_config *c, char *line, size_t len, unsigned lineno, unsigned *seen,
                      char *msg, size_t cap) {
    if (strlen(line) != len) return fail(msg, cap, "NUL byte in line");
    char *s = trim(line, line + len);
    if (!*s || *s == '#') return 0;
    char *eq = strchr(s, '=');
    if (!eq || eq == s) return fail(msg, cap, "expected 'key = value'");
    *eq = '\0';
    char *name = trim(s, eq);
    const cfg_key *k = key_named(name, strlen(name));
    if (!k) return fail(msg, cap, "unknown key '%.64s'", name);
    char *v = cut_value(eq + 1, k->name, msg, cap);
    if (!v) return -1;
    size_t i = (size_t)(k - cfg_keys);
    if (seen[i]) return fail(msg, cap, "%s: set twice (first on line %u)", k->name, seen[i]);
    seen[i] = lineno;
    char why[160];
    if (set_value(c, k, v, why, sizeof why)) return fail(msg, cap, "%s: %s", k->name, why);
    return 0;
}

static int load_stream(serve_config *c, FILE *f, const char *path, char *err, size_t errlen) {
    char *line = NULL, msg[256];
    size_t linecap = 0;
    unsigned lineno = 0, seen[NKEYS] = {0};
    ssize_t n;
    int rc = 0;
    while (rc == 0 && (n = getline(&line, &linecap, f)) != -1) {
        lineno++;
        if (parse_line(c, line, (size_t)n, lineno, seen, msg, sizeof msg))
            rc = fail(err, errlen, "%s:%u: %s", path, lineno, msg);
    }
    if (rc == 0 && ferror(f)) rc = fail(err, errlen, "%s: %s", path, strerror(errno));
    free(line);
    return rc;
}

int serve_config_load_file(serve_config *c, const char *path, char *err, size_t errlen) {
    FILE *f = fopen(path, "r");
    if (!f) return fail(err, errlen, "%s: %s", path, strerror(errno));
    serve_config tmp = *c;
    errno = 0;
    int rc = load_stream(&tmp, f, path, err, errlen);
    fclose(f);
    if (rc == 0) *c = tmp;
    return rc;
}

/* --- the command line ------------------------------------------------------ */

enum { OPT_MAX_BODY = 1000, OPT_AUTH, OPT_TLS_CERT, OPT_TLS_KEY };

typedef struct cfg_flag {
    const char *name; /* long option */
    int val;          /* short option, or an OPT_ value above 255 */
    const char *key;  /* the config key it sets, NULL for --config and --help */
    const char *arg, *help;
} cfg_flag;

static const cfg_flag cfg_flags[] = {
    {"config", 'c', NULL, "FILE", "read settings from FILE; the options below override it"},
    {"bind", 'b', "bind", "ADDR", "listen address (default 127.0.0.1)"},
    {"port", 'p', "port", "N", "TCP port, 0 for one the OS picks (default 8470)"},
    {"data-dir", 'd', "data_dir", "DIR", "registry, datasets and draws (default below)"},
    {"workers", 'w', "workers", "N", "chain worker threads, 1..1024 (default: online CPUs)"},
    {"max-body", OPT_MAX_BODY, "max_body_bytes", "SIZE",
     "largest request body, e.g. 64M (default 256M)"},
    {"auth", OPT_AUTH, "auth", "MODE", "token (default) or none (loopback only)"},
    {"tls-cert", OPT_TLS_CERT, "tls_cert", "FILE", "PEM certificate: serve HTTPS (with --tls-key)"},
    {"tls-key", OPT_TLS_KEY, "tls_key", "FILE", "PEM private key of --tls-cert"},
    {"help", 'h', NULL, NULL, "print this help and exit"},
};

#define NFLAGS (sizeof cfg_flags / sizeof cfg_flags[0])

static const cfg_flag *flag_by_val(int val) {
    for (size_t i = 0; i < NFLAGS; i++)
        if (cfg_flags[i].val == val) return &cfg_flags[i];
    return NULL;
}

/* getopt_long's answer for a bad option, as an error message. */
static int option_error(int ch, int argc, char **argv, char *err, size_t errlen) {
    if (ch == ':') return fail(err, errlen, "option '%s' needs a value", argv[argc - 1]);
    if (optopt == 0) return fail(err, errlen, "unknown option '%s'", argv[optind - 1]);
    const cfg_flag *f = flag_by_val(optopt);
    if (f) return fail(err, errlen, "option '--%s' takes no value", f->name);
    return fail(err, errlen, "unknown option '-%c'", optopt);
}

/* The flag's value over c; --port alone may be 0. */
static int apply_flag(serve_config *c, const cfg_flag *f, const char *v, char *err, size_t errlen) {
    cfg_key k = *key_named(f->key, strlen(f->key));
    if (f->val == 'p') k.lo = 0;
    char why[160];
    if (set_value(c, &k, v, why, sizeof why)) return fail(err, errlen, "--%s: %s", f->name, why);
    return 0;
}

int serve_config_parse_args(serve_config *c, int argc, char **argv, char *err, size_t errlen) {
    struct option longs[NFLAGS + 1];
    const char *vals[NFLAGS] = {0};
    for (size_t i = 0; i < NFLAGS; i++)
        longs[i] =
            (struct option){cfg_flags[i].name, cfg_flags[i].arg ? required_argument : no_argument,
                            NULL, cfg_flags[i].val};
    longs[NFLAGS] = (struct option){0};

    int ch;
    optind = 0; /* GNU: start over, whatever an earlier caller left */
    opterr = 0;
    while ((ch = getopt_long(argc, argv, "+:c:b:p:d:w:h", longs, NULL)) != -1) {
        const cfg_flag *f = flag_by_val(ch);
        if (!f) return option_error(ch, argc, argv, err, errlen);
        if (ch == 'h') return SERVE_CONFIG_HELP;
        vals[f - cfg_flags] = optarg;
    }
    if (optind < argc) return fail(err, errlen, "unexpected argument '%s'", argv[optind]);

    serve_config tmp = *c;
    if (vals[0] && serve_config_load_file(&tmp, vals[0], err, errlen)) return SERVE_CONFIG_ERR;
    for (size_t i = 0; i < NFLAGS; i++)
        if (vals[i] && cfg_flags[i].key && apply_flag(&tmp, &cfg_flags[i], vals[i], err, errlen))
            return SERVE_CONFIG_ERR;
    *c = tmp;
    return SERVE_CONFIG_OK;
}

/* --- the Host check -------------------------------------------------------- */

/* Whether name (len bytes) equals the entry e (elen bytes), ignoring case;
 * a bare IPv6 bind address matches its bracketed form. */
static int host_equal(const char *name, size_t len, const char *e, size_t elen) {
    if (len == elen + 2 && name[0] == '[' && e[0] != '[' && strchr(e, ':'))
        return !strncasecmp(name + 1, e, elen) && name[len - 1] == ']';
    return len == elen && !strncasecmp(name, e, len);
}

static int host_listed(const char *list, const char *name, size_t len) {
    for (;;) {
        size_t n = strcspn(list, ",");
        if (n && host_equal(name, len, list, n)) return 1;
        if (!list[n]) return 0;
        list += n + 1;
    }
}

int serve_config_host_allowed(const serve_config *c, const char *host) {
    if (!host) return 1; /* HTTP/1.0; browsers always send one */
    if (!strcmp(c->hosts, "*")) return 1;
    size_t len = strlen(host);
    const char *colon = strrchr(host, ':');
    if (colon && (host[0] != '[' || colon > strchr(host, ']'))) { /* a port */
        for (const char *p = colon + 1; *p; p++)
            if (!isdigit((unsigned char)*p)) return 0;
        len = (size_t)(colon - host);
    }
    if (len && host[len - 1] == '.') len--; /* "localhost." is localhost */
    if (!len) return 0;
    return host_listed(c->hosts, host, len) || host_listed(c->bind, host, len);
}

/* --- help and the log line ------------------------------------------------- */

/* Writes text word-wrapped to 80 columns, continuation lines indented to
 * column col (where the caller left the cursor). */
static void put_wrapped(FILE *out, const char *text, int col) {
    int at = col;
    while (*text) {
        size_t w = strcspn(text, " ");
        if (at > col && at + 1 + (int)w > 80) {
            fprintf(out, "\n%*s", col, "");
            at = col;
        } else if (at > col) {
            fputc(' ', out);
            at++;
        }
        fprintf(out, "%.*s", (int)w, text);
        at += (int)w;
        text += w;
        text += strspn(text, " ");
    }
    fputc('\n', out);
}

void serve_config_usage(FILE *out) {
    fputs("usage: mcmcd serve [options]\n"
          "\n"
          "Runs the sampling daemon: the HTTP+JSON API on ADDR:PORT, state under DIR.\n"
          "\n"
          "options:\n",
          out);
    for (size_t i = 0; i < NFLAGS; i++) {
        const cfg_flag *f = &cfg_flags[i];
        char shortname[8] = "    ", spec[40];
        if (f->val < 256) snprintf(shortname, sizeof shortname, "-%c, ", f->val);
        snprintf(spec, sizeof spec, "--%s%s%s", f->name, f->arg ? " " : "", f->arg ? f->arg : "");
        fprintf(out, "  %s%-18s %s\n", shortname, spec, f->help);
    }
    fputs("\n"
          "config file (--config): one 'key = value' a line, '#' comments; sizes take\n"
          "k, M, G, T (powers of 1024). Keys:\n",
          out);
    for (size_t i = 0; i < NKEYS; i++) {
        const cfg_key *k = &cfg_keys[i];
        char range[80] = "", text[400];
        if (k->kind == CFG_CHOICE)
            snprintf(range, sizeof range, "%s", k->choices);
        else if (k->kind != CFG_HOST && k->kind != CFG_PATH && k->kind != CFG_LIMIT &&
                 k->kind != CFG_HOSTS)
            format_range(k, range, sizeof range);
        char dflt[32];
        if (k->kind == CFG_LIMIT)
            limit_format((limit_id)k->lo, limit_get((limit_id)k->lo)->dflt, dflt, sizeof dflt);
        snprintf(text, sizeof text, "%s%s%s; default %s", k->help, *range ? ", " : "", range,
                 k->kind == CFG_LIMIT ? dflt : k->dflt);
        fprintf(out, "  %-24s ", k->name);
        put_wrapped(out, text, 27);
    }
}

void serve_config_describe(const serve_config *c, char *buf, size_t cap) {
    size_t used = 0;
    if (!cap) return;
    buf[0] = '\0';
    for (size_t i = 0; i < NKEYS && used < cap; i++) {
        char v[4200];
        format_value(c, &cfg_keys[i], v, sizeof v);
        int n = snprintf(buf + used, cap - used, "%s%s=%s", i ? " " : "", cfg_keys[i].name, v);
        if (n < 0) break;
        used += (size_t)n;
    }
}
