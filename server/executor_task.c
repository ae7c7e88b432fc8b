/* executor_task.c - one chain of a job as a Slurm task runs it
 * (`mcmcd run --chain N --shared DIR --post URL`). Its rows go to
 * DIR/chain-N.draws and DIR/chain-N.stats (raw float64, row after row),
 * then its counters to DIR/chain-N.progress (a JSON document replaced
 * whole), then the block is posted to URL with the job's secret
 * (DIR/secret). A post that fails is not retried: the task runs on, and
 * the daemon reads the shared files instead (posts are tried again after
 * POST_BACKOFF_S). DIR/chain-N.end says how the chain ended. SIGTERM (what
 * scancel and a time limit send first) stops the chain at its next block.
 * The bytes of a block: executor_slurm.c reads what this file writes. */
#include <curl/curl.h>
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "clock.h"
#include "errors.h"
#include "executor.h"
#include "executor_wire.h"

#define POST_BACKOFF_S 5.0
#define POST_TIMEOUT_MS 5000L

typedef struct task_state {
    const job_spec *spec;
    uint32_t chain;
    const char *dir, *url;
    char secret_header[200];
    int draws_fd, stats_fd;
    CURL *curl;
    double post_paused_until; /* monotonic seconds */
    int adapt_sent, nonfinite;
    uint64_t nonfinite_at;
    unsigned posts_failed;
    int quiet;
} task_state;

static atomic_int task_cancel;

static void on_term(int sig) {
    (void)sig;
    atomic_store(&task_cancel, 1);
}

static int pwrite_all(int fd, const void *buf, size_t n, off_t off) {
    for (size_t done = 0; done < n;) {
        ssize_t w = pwrite(fd, (const char *)buf + done, n - done, off + (off_t)done);
        if (w < 0 && errno == EINTR) continue;
        if (w <= 0) return -1;
        done += (size_t)w;
    }
    return 0;
}

/* Writes text to DIR/name whole: a temporary file, then a rename. */
static int write_whole(const task_state *t, const char *name, const char *text) {
    char path[4400], tmp[4420];
    snprintf(path, sizeof path, "%s/%s", t->dir, name);
    snprintf(tmp, sizeof tmp, "%s.tmp", path);
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (fd < 0) return -1;
    int rc = pwrite_all(fd, text, strlen(text), 0);
    if (close(fd) != 0) rc = -1;
    return rc == 0 ? rename(tmp, path) : -1;
}

static size_t discard_body(char *p, size_t size, size_t n, void *ctx) {
    (void)p, (void)ctx;
    return size * n;
}

/* Posts body; 0 when the daemon took it (2xx). */
static int post(task_state *t, const char *body) {
    if (!t->url || !t->curl) return -1;
    if (app_monotonic() < t->post_paused_until) return -1;
    struct curl_slist *h = curl_slist_append(NULL, "Content-Type: application/json");
    h = curl_slist_append(h, t->secret_header);
    curl_easy_setopt(t->curl, CURLOPT_HTTPHEADER, h);
    curl_easy_setopt(t->curl, CURLOPT_POSTFIELDS, body);
    long status = 0;
    CURLcode rc = curl_easy_perform(t->curl);
    if (rc == CURLE_OK) curl_easy_getinfo(t->curl, CURLINFO_RESPONSE_CODE, &status);
    curl_slist_free_all(h);
    if (rc == CURLE_OK && status >= 200 && status < 300) return 0;
    if (!t->quiet && t->posts_failed++ == 0)
        fprintf(stderr, "mcmcd run: posting to %s failed (%s, HTTP %ld); the daemon reads %s\n",
                t->url, curl_easy_strerror(rc), status, t->dir);
    t->post_paused_until = app_monotonic() + POST_BACKOFF_S;
    return -1;
}

static int write_rows(task_state *t, const chain_block *b) {
    size_t bytes = (size_t)b->count * b->d * sizeof(double);
    if (pwrite_all(t->draws_fd, b->draws, bytes, (off_t)(b->first_draw * b->d * sizeof(double))))
        return -1;
    if (!b->nstats) return 0;
    bytes = (size_t)b->count * b->nstats * sizeof(double);
    return pwrite_all(t->stats_fd, b->stats, bytes,
                      (off_t)(b->first_draw * b->nstats * sizeof(double)));
}

static int on_block(void *ctx, const chain_block *b) {
    task_state *t = ctx;
    if (b->nonfinite_at != UINT64_MAX && !t->nonfinite)
        t->nonfinite = 1, t->nonfinite_at = b->nonfinite_at;
    if (write_rows(t, b) != 0) {
        fprintf(stderr, "mcmcd run: writing to %s: %s\n", t->dir, strerror(errno));
        return 1;
    }
    chain_counts k = executor_block_counts(b, t->nonfinite, t->nonfinite_at);
    chain_adaptation ad = {0};
    if (b->adapted && !t->adapt_sent && chain_adaptation_from_block(&ad, b) == MCMC_OK)
        t->adapt_sent = 1;
    json_t *rec = wire_counts_json(t->chain, &k, ad.known ? &ad : NULL);
    char *text = rec ? json_dumps(rec, JSON_COMPACT) : NULL;
    char name[64];
    snprintf(name, sizeof name, "chain-%u.progress", t->chain);
    int rc = text ? write_whole(t, name, text) : -1;
    free(text);
    if (rc == 0 && wire_add_rows(rec, b) == 0 && (text = json_dumps(rec, JSON_COMPACT))) {
        post(t, text);
        free(text);
    }
    json_decref(rec);
    chain_adaptation_clear(&ad);
    return rc != 0;
}

/* DIR/chain-N.end, and the same posted: how the chain ended. */
static void report_end(task_state *t, int rc) {
    json_t *end = json_pack("{s:i, s:i, s:s}", "chain", (int)t->chain, "rc", rc, "message",
                            mcmc_status_str(rc));
    char *text = end ? json_dumps(end, JSON_COMPACT) : NULL;
    char name[64];
    snprintf(name, sizeof name, "chain-%u.end", t->chain);
    if (!text || write_whole(t, name, text) != 0)
        fprintf(stderr, "mcmcd run: cannot write %s/%s\n", t->dir, name);
    t->post_paused_until = 0; /* the end is tried once more whatever came before */
    if (text) post(t, text);
    free(text);
    json_decref(end);
}

static int open_rows(const task_state *t, const char *kind) {
    char path[4400];
    snprintf(path, sizeof path, "%s/chain-%u.%s", t->dir, t->chain, kind);
    return open(path, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
}

static int read_secret(task_state *t) {
    char path[4400], secret[129] = "";
    snprintf(path, sizeof path, "%s/secret", t->dir);
    FILE *f = fopen(path, "r");
    if (!f) return -1;
    int ok = fscanf(f, "%128s", secret) == 1;
    fclose(f);
    snprintf(t->secret_header, sizeof t->secret_header, "Authorization: Bearer %s", secret);
    return ok ? 0 : -1;
}

static void post_setup(task_state *t) {
    if (!t->url) return;
    if (read_secret(t) != 0) {
        fprintf(stderr, "mcmcd run: no secret in %s/secret: not posting\n", t->dir);
        t->url = NULL;
        return;
    }
    curl_global_init(CURL_GLOBAL_DEFAULT);
    if (!(t->curl = curl_easy_init())) return;
    curl_easy_setopt(t->curl, CURLOPT_URL, t->url);
    curl_easy_setopt(t->curl, CURLOPT_TIMEOUT_MS, POST_TIMEOUT_MS);
    curl_easy_setopt(t->curl, CURLOPT_CONNECTTIMEOUT_MS, 2000L);
    curl_easy_setopt(t->curl, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(t->curl, CURLOPT_WRITEFUNCTION, discard_body);
}

int executor_task_run(const job_spec *spec, const model *m, uint32_t chain, const char *shared_dir,
                      const char *post_url, int quiet) {
    task_state t = {
        .spec = spec, .chain = chain, .dir = shared_dir, .url = post_url, .quiet = quiet};
    if (spec->kind != JOB_KIND_SAMPLE) {
        fprintf(stderr, "mcmcd run: --chain runs sampling jobs only\n");
        return 2;
    }
    if (chain >= spec->chain.chains) {
        fprintf(stderr, "mcmcd run: --chain %u: the spec has %u chains\n", chain,
                spec->chain.chains);
        return 2;
    }
    t.draws_fd = open_rows(&t, "draws");
    t.stats_fd = open_rows(&t, "stats");
    if (t.draws_fd < 0 || t.stats_fd < 0) {
        fprintf(stderr, "mcmcd run: cannot create the chain's files in %s: %s\n", shared_dir,
                strerror(errno));
        return 1;
    }
    post_setup(&t);
    signal(SIGTERM, on_term);
    signal(SIGINT, on_term);
    int rc = chain_run(m, &spec->chain, chain, on_block, &t, &task_cancel);
    if (fdatasync(t.draws_fd) != 0 || fdatasync(t.stats_fd) != 0) rc = MCMC_EIO;
    close(t.draws_fd);
    close(t.stats_fd);
    report_end(&t, rc);
    if (t.curl) curl_easy_cleanup(t.curl);
    if (t.url) curl_global_cleanup();
    if (!quiet) fprintf(stderr, "mcmcd run: chain %u: %s\n", chain, mcmc_status_str(rc));
    return rc == MCMC_OK || rc == MCMC_ENONFINITE ? 0 : 1;
}
