/* draws.c - `mcmc draws`, and the draws half of `mcmc run`: a job's draws
 * fetched as float64 a block at a time (at most 8 MiB in memory, however
 * large the job) and written as .npy, CSV or JSON with core's own writers
 * (npy_header, draws_format.h), so the bytes are those `mcmcd run` and the
 * daemon write. The file is written under a temporary name beside its
 * destination and renamed into place once complete; SIGINT or SIGTERM
 * meanwhile removes it and exits 130. */
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli.h"
#include "draws_file.h"
#include "draws_format.h"

#define BLOCK_VALUES (1u << 20) /* doubles per request */

typedef struct draws_out {
    cli *c;
    const char *id;
    int fmt; /* DRAWS_NPY, DRAWS_CSV, DRAWS_JSON */
    FILE *f;
    mcmc_draw_query q;      /* the selection; thin >= 1 */
    mcmc_draws_shape shape; /* of the whole selection */
    double *values;         /* one block */
    uint64_t block_rows;
    char *text; /* one rendered CSV/JSON piece */
    size_t text_cap;
    mcmc_job job;        /* for the parameters' names */
    draws_layout layout; /* d and those names (theta.1..d when the server has none) */
} draws_out;

int cli_check_draws_path(cli *c, const char *path) {
    if (draws_format_from_path(path) >= 0) return 0;
    return cli_usage_error(c, "'%s': the output's extension must be .npy, .csv or .json", path);
}

/* --- writing ------------------------------------------------------------- */

static void to_little_endian(double *v, size_t n) {
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
    for (size_t i = 0; i < n; i++) {
        uint64_t u;
        memcpy(&u, &v[i], 8);
        u = __builtin_bswap64(u);
        memcpy(&v[i], &u, 8);
    }
#else
    (void)v, (void)n;
#endif
}

static void write_header(draws_out *o) {
    const mcmc_draws_shape *s = &o->shape;
    if (o->fmt == DRAWS_NPY) {
        uint64_t dims[3] = {s->chains, s->rows, s->d};
        fwrite(o->text, 1, npy_header(o->text, o->text_cap, dims, 3), o->f);
    } else if (o->fmt == DRAWS_CSV) {
        fwrite(o->text, 1, draws_render_csv_header_of(o->text, o->text_cap, &o->layout), o->f);
    } else {
        fwrite(o->text, 1,
               draws_render_json_open(o->text, o->text_cap, (uint32_t)s->chains, s->rows, s->d),
               o->f);
    }
}

/* Rows first .. first + n - 1 (of the selection) of the k-th selected
 * chain, numbered chain, in values. */
static void write_rows(draws_out *o, uint64_t k, uint32_t chain, uint64_t first, uint64_t n) {
    size_t d = o->shape.d;
    if (o->fmt == DRAWS_NPY) {
        to_little_endian(o->values, n * d);
        fwrite(o->values, sizeof(double), n * d, o->f);
        return;
    }
    for (uint64_t i = 0; i < n; i++) {
        const double *row = o->values + i * d;
        uint64_t r = first + i;
        size_t len;
        if (o->fmt == DRAWS_CSV) {
            uint64_t draw = o->q.start + r * o->q.thin;
            len = draws_render_csv_row(o->text, o->text_cap, chain, draw, row, d);
        } else {
            unsigned place = (k == 0 ? DRAWS_JSON_FIRST_CHAIN : 0) |
                             (r == 0 ? DRAWS_JSON_FIRST_ROW : 0) |
                             (r + 1 == o->shape.rows ? DRAWS_JSON_LAST_ROW : 0);
            len = draws_render_json_row(o->text, o->text_cap, row, d, place);
        }
        fwrite(o->text, 1, len, o->f);
    }
}

/* --- fetching ------------------------------------------------------------ */

/* Rows first .. first + n - 1 of one chain into o->values. */
static int fetch_block(draws_out *o, uint32_t chain, uint64_t first, uint64_t n) {
    mcmc_draw_query q = {.chain = chain,
                         .start = o->q.start + first * o->q.thin,
                         .stop = o->q.start + (first + n - 1) * o->q.thin + 1,
                         .thin = o->q.thin};
    mcmc_draws_shape got;
    mcmc_error err;
    mcmc_client_status st =
        mcmc_fetch_draws(o->c->client, o->id, &q, o->values, n * o->shape.d, &got, &err);
    if (st != MCMC_CLIENT_OK) return cli_fail(o->c, "draws", st, &err);
    if (got.chains != 1 || got.rows != n || got.d != o->shape.d)
        return cli_error("draws: chain %u came with %llu rows of %llu, not %llu of %llu", chain,
                         (unsigned long long)got.rows, (unsigned long long)got.d,
                         (unsigned long long)n, (unsigned long long)o->shape.d);
    return CLI_OK;
}

static int write_chain(draws_out *o, uint64_t k) {
    uint32_t chain = o->q.chain == MCMC_ALL_CHAINS ? (uint32_t)k : o->q.chain;
    if (o->shape.rows == 0 && o->fmt == DRAWS_JSON)
        fwrite(o->text, 1, draws_render_json_empty_chain(o->text, o->text_cap, k == 0), o->f);
    for (uint64_t first = 0; first < o->shape.rows; first += o->block_rows) {
        uint64_t n = o->shape.rows - first < o->block_rows ? o->shape.rows - first : o->block_rows;
        int rc = fetch_block(o, chain, first, n);
        if (rc != CLI_OK) return rc;
        write_rows(o, k, chain, first, n);
    }
    return CLI_OK;
}

static int write_body(draws_out *o) {
    write_header(o);
    for (uint64_t k = 0; k < o->shape.chains; k++) {
        int rc = write_chain(o, k);
        if (rc != CLI_OK) return rc;
    }
    if (o->fmt == DRAWS_JSON)
        fwrite(o->text, 1, draws_render_json_close(o->text, o->text_cap), o->f);
    return CLI_OK;
}

/* --- the file ------------------------------------------------------------ */

/* A new file named after the template tmp ("PATH.XXXXXX"), with the
 * permissions a plain create would give. */
static FILE *open_temp(char *tmp) {
    int fd = mkstemp(tmp);
    if (fd < 0) return NULL;
    mode_t mask = umask(0);
    umask(mask);
    fchmod(fd, 0666 & ~mask);
    FILE *f = fdopen(fd, "wb");
    if (!f) {
        close(fd);
        unlink(tmp);
    }
    return f;
}

static int finish_file(draws_out *o, int rc, const char *tmp, const char *path) {
    int failed = ferror(o->f) || fflush(o->f) != 0 || fsync(fileno(o->f)) != 0;
    int err = errno;
    failed = fclose(o->f) != 0 || failed;
    if (rc == CLI_OK && failed) rc = cli_error("cannot write %s: %s", path, strerror(err));
    if (rc == CLI_OK && rename(tmp, path) != 0)
        rc = cli_error("cannot write %s: %s", path, strerror(errno));
    if (rc != CLI_OK) unlink(tmp);
    return rc;
}

static int size_selection(draws_out *o) {
    mcmc_error err;
    mcmc_client_status st = mcmc_fetch_draws(o->c->client, o->id, &o->q, NULL, 0, &o->shape, &err);
    if (st != MCMC_CLIENT_OK) return cli_fail(o->c, "draws", st, &err);
    if (o->shape.d == 0 || o->shape.d > BLOCK_VALUES)
        return cli_error("draws: %llu parameters per draw", (unsigned long long)o->shape.d);
    o->block_rows = BLOCK_VALUES / o->shape.d;
    return CLI_OK;
}

/* The temporary file, for the signal handler to remove. */
static const char *volatile temp_path;

static void on_signal(int sig) {
    (void)sig;
    if (temp_path) unlink(temp_path);
    _exit(CLI_INTERRUPTED);
}

static void guard_temp(const char *tmp, struct sigaction old[2]) {
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sigemptyset(&sa.sa_mask);
    temp_path = tmp;
    sigaction(SIGINT, &sa, &old[0]);
    sigaction(SIGTERM, &sa, &old[1]);
}

static void unguard_temp(struct sigaction old[2]) {
    sigaction(SIGINT, &old[0], NULL);
    sigaction(SIGTERM, &old[1], NULL);
    temp_path = NULL;
}

static int write_file(draws_out *o, const char *path) {
    size_t cap = strlen(path) + 8;
    char *tmp = malloc(cap);
    if (!tmp) return cli_error("out of memory");
    struct sigaction old[2];
    snprintf(tmp, cap, "%s.XXXXXX", path);
    guard_temp(tmp, old);
    int rc;
    if ((o->f = open_temp(tmp)))
        rc = finish_file(o, write_body(o), tmp, path);
    else
        rc = cli_error("cannot write %s: %s", path, strerror(errno));
    unguard_temp(old);
    free(tmp);
    return rc;
}

int cli_write_draws(cli *c, const char *id, const mcmc_draw_query *q, const char *path) {
    if (cli_check_draws_path(c, path) != 0) return CLI_USAGE;
    if (!cli_client(c)) return CLI_USAGE;
    draws_out o = {.c = c, .id = id, .fmt = draws_format_from_path(path), .q = *q};
    if (o.q.thin == 0) o.q.thin = 1;
    int rc = size_selection(&o);
    if (rc != CLI_OK) return rc;
    mcmc_error err;
    o.layout.d = o.shape.d;
    if (mcmc_get_job(c->client, id, &o.job, &err) == MCMC_CLIENT_OK && o.job.d == o.shape.d)
        o.layout.names = (const char *const *)o.job.param_names; /* NULL: theta.1..d */
    o.text_cap = draws_layout_max(&o.layout);
    if (o.text_cap < 256) o.text_cap = 256; /* the .npy header */
    o.text = malloc(o.text_cap);
    uint64_t values = o.block_rows * o.shape.d;
    o.values = malloc((values ? values : 1) * sizeof(double));
    rc = o.text && o.values ? write_file(&o, path) : cli_error("out of memory");
    free(o.text);
    free(o.values);
    mcmc_job_free(&o.job);
    return rc;
}

/* --- mcmc draws ---------------------------------------------------------- */

typedef struct draws_args {
    const char *out;
    mcmc_draw_query q;
} draws_args;

static int draws_option(cli *c, int opt, draws_args *a) {
    uint64_t v;
    if (opt == 'o') {
        a->out = optarg;
        return 0;
    }
    const char *name = opt == OPT_CHAIN   ? "--chain"
                       : opt == OPT_START ? "--start"
                       : opt == OPT_STOP  ? "--stop"
                                          : "--thin";
    if (cli_parse_u64(c, name, optarg, &v) != 0) return -1;
    if (opt == OPT_CHAIN && v >= MCMC_ALL_CHAINS)
        return cli_stop(c, cli_usage_error(c, "--chain %s is too large", optarg));
    if (opt == OPT_THIN && v == 0) return cli_stop(c, cli_usage_error(c, "--thin must be >= 1"));
    if (opt == OPT_CHAIN) a->q.chain = (uint32_t)v;
    if (opt == OPT_START) a->q.start = v;
    if (opt == OPT_STOP) a->q.stop = v;
    if (opt == OPT_THIN) a->q.thin = v;
    return 0;
}

int cmd_draws(cli *c, int argc, char **argv) {
    static const struct option longs[] = {
        {"out", required_argument, 0, 'o'},         {"chain", required_argument, 0, OPT_CHAIN},
        {"start", required_argument, 0, OPT_START}, {"stop", required_argument, 0, OPT_STOP},
        {"thin", required_argument, 0, OPT_THIN},   {0, 0, 0, 0}};
    draws_args a = {.q = MCMC_DRAW_QUERY_ALL};
    int opt;
    while ((opt = cli_getopt(c, argc, argv, "o:", longs)) >= 0)
        if (draws_option(c, opt, &a) != 0) return CLI_USAGE;
    if (opt == CLI_OPT_STOP) return c->rc;
    if (cli_operands(c, argc, argv, 1, "JOB")) return CLI_USAGE;
    if (!a.out) return cli_usage_error(c, "-o FILE.{npy,csv,json} missing");
    return cli_write_draws(c, argv[optind], &a.q, a.out);
}
