/* jobs_flat.c - bench_jobs_flat: does the daemon stay flat as jobs pile up?
 * Submits N small jobs (POST /v1/jobs, one keep-alive connection) to a
 * running mcmcd, and at every STEP jobs, once all have ended, prints the
 * daemon's resident memory (VmRSS from /proc/PID/status) and the median
 * and p99 latency of
 *   GET /v1/jobs/ID            a random job among those submitted so far,
 *   GET /v1/jobs?page_size=50  the newest page,
 *   POST /v1/jobs              the submissions since the last row.
 * At most 2 x WINDOW jobs are in flight: every WINDOW submissions it waits
 * for the job submitted WINDOW earlier to end (jobs run first in, first out).
 * bench/jobs_flat.sh starts the daemon and runs this.
 *
 * Usage: bench_jobs_flat URL TOKEN DAEMON_PID [N [STEP [SAMPLES]]]
 *   N 100000, STEP N/10, SAMPLES (GETs of each kind per row) 400. */
#include <curl/curl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define WINDOW 1000
#define ID_LEN 24

static const char *SPEC =
    "{\"data\": {\"synthetic\": {\"n\": 20, \"d\": 2, \"seed\": 1}},"
    " \"sampler\": {\"type\": \"ula\", \"step_size\": 0.001}, \"num_samples\": 10, \"chains\": 1}";

typedef struct body {
    char *data;
    size_t len, cap;
} body;

static size_t on_data(char *p, size_t size, size_t n, void *ctx) {
    body *b = ctx;
    size_t more = size * n;
    if (b->len + more + 1 > b->cap) {
        size_t cap = b->cap ? b->cap : 4096;
        while (cap < b->len + more + 1)
            cap *= 2;
        char *grown = realloc(b->data, cap);
        if (!grown) return 0;
        b->data = grown;
        b->cap = cap;
    }
    memcpy(b->data + b->len, p, more);
    b->len += more;
    b->data[b->len] = 0;
    return more;
}

static double now_s(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

typedef struct client {
    CURL *h;
    struct curl_slist *headers;
    const char *url;
    body b;
    long status;
} client;

/* One request; its latency in seconds (the body in c->b), or -1. */
static double request(client *c, const char *method, const char *path, const char *data) {
    char url[512];
    snprintf(url, sizeof url, "%s%s", c->url, path);
    c->b.len = 0;
    curl_easy_setopt(c->h, CURLOPT_URL, url);
    curl_easy_setopt(c->h, CURLOPT_CUSTOMREQUEST, method);
    if (data)
        curl_easy_setopt(c->h, CURLOPT_POSTFIELDS, data);
    else
        curl_easy_setopt(c->h, CURLOPT_HTTPGET, 1L);
    double t0 = now_s();
    CURLcode rc = curl_easy_perform(c->h);
    double dt = now_s() - t0;
    curl_easy_getinfo(c->h, CURLINFO_RESPONSE_CODE, &c->status);
    return rc == CURLE_OK ? dt : -1;
}

static int by_value(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* The q-quantile (nearest rank) of v[0..n), sorted in place. */
static double quantile(double *v, size_t n, double q) {
    if (n == 0) return 0;
    qsort(v, n, sizeof *v, by_value);
    size_t i = (size_t)(q * (double)(n - 1) + 0.5);
    return v[i];
}

static long rss_kib(const char *pid) {
    char path[64], line[256];
    snprintf(path, sizeof path, "/proc/%s/status", pid);
    FILE *f = fopen(path, "r");
    long kib = -1;
    while (f && fgets(line, sizeof line, f))
        if (!strncmp(line, "VmRSS:", 6)) kib = strtol(line + 6, NULL, 10);
    if (f) fclose(f);
    return kib;
}

/* The state of job id: 1 once it has ended, 0 before, -1 on error. */
static int job_ended(client *c, const char *id) {
    char path[64];
    snprintf(path, sizeof path, "/v1/jobs/%s", id);
    if (request(c, "GET", path, NULL) < 0 || c->status != 200) return -1;
    return strstr(c->b.data, "\"state\":\"succeeded\"") ||
           strstr(c->b.data, "\"state\":\"failed\"") ||
           strstr(c->b.data, "\"state\":\"cancelled\"");
}

static int wait_ended(client *c, const char *id) {
    int e;
    while ((e = job_ended(c, id)) == 0)
        usleep(2000);
    return e < 0 ? -1 : 0;
}

static int submit(client *c, char *id_out, double *latency) {
    *latency = request(c, "POST", "/v1/jobs", SPEC);
    const char *p = c->b.data ? strstr(c->b.data, "\"id\":\"") : NULL;
    if (*latency < 0 || c->status != 201 || !p) {
        fprintf(stderr, "bench_jobs_flat: POST answered %ld: %s\n", c->status,
                c->b.data ? c->b.data : "");
        return -1;
    }
    memcpy(id_out, p + 6, ID_LEN);
    id_out[ID_LEN] = 0;
    return 0;
}

typedef struct row_stats {
    double med, p99;
} row_stats;

static row_stats gets(client *c, char (*ids)[ID_LEN + 1], size_t known, int list, size_t samples,
                      double *scratch) {
    size_t n = 0;
    for (size_t i = 0; i < samples; i++) {
        char path[64];
        if (list)
            snprintf(path, sizeof path, "/v1/jobs?page_size=50");
        else
            snprintf(path, sizeof path, "/v1/jobs/%s", ids[(size_t)rand() % known]);
        double dt = request(c, "GET", path, NULL);
        if (dt >= 0 && c->status == 200) scratch[n++] = dt;
    }
    row_stats r = {quantile(scratch, n, 0.5), quantile(scratch, n, 0.99)};
    return r;
}

int main(int argc, char **argv) {
    if (argc < 4) {
        fprintf(stderr, "usage: bench_jobs_flat URL TOKEN DAEMON_PID [N [STEP [SAMPLES]]]\n");
        return 2;
    }
    size_t n = argc > 4 ? strtoul(argv[4], NULL, 10) : 100000;
    size_t step = argc > 5 ? strtoul(argv[5], NULL, 10) : (n >= 10 ? n / 10 : 1);
    size_t samples = argc > 6 ? strtoul(argv[6], NULL, 10) : 400;
    if (n == 0 || step == 0 || samples == 0) return 2;
    curl_global_init(CURL_GLOBAL_DEFAULT);
    client c = {.h = curl_easy_init(), .url = argv[1]};
    char auth[512];
    snprintf(auth, sizeof auth, "Authorization: Bearer %s", argv[2]);
    c.headers = curl_slist_append(c.headers, auth);
    c.headers = curl_slist_append(c.headers, "Content-Type: application/json");
    curl_easy_setopt(c.h, CURLOPT_HTTPHEADER, c.headers);
    curl_easy_setopt(c.h, CURLOPT_WRITEFUNCTION, on_data);
    curl_easy_setopt(c.h, CURLOPT_WRITEDATA, &c.b);
    curl_easy_setopt(c.h, CURLOPT_TIMEOUT, 60L);
    char(*ids)[ID_LEN + 1] = calloc(n, sizeof *ids);
    double *post = calloc(step, sizeof *post), *scratch = calloc(samples, sizeof *scratch);
    if (!c.h || !ids || !post || !scratch) return 1;
    srand(1);
    printf("%8s %9s %10s %10s %10s %10s %10s %10s %8s\n", "jobs", "rss_MiB", "get_med_ms",
           "get_p99_ms", "list_med", "list_p99", "post_med", "post_p99", "jobs/s");
    size_t in_row = 0;
    double row_start = now_s();
    for (size_t i = 0; i < n; i++) {
        if (i >= WINDOW && i % WINDOW == 0 && wait_ended(&c, ids[i - WINDOW]) != 0) return 1;
        if (submit(&c, ids[i], &post[in_row++]) != 0) return 1;
        if ((i + 1) % step != 0 && i + 1 != n) continue;
        if (wait_ended(&c, ids[i]) != 0) return 1;
        double rate = (double)in_row / (now_s() - row_start);
        usleep(1200 * 1000); /* a wall-time tick: the ended jobs leave the live list */
        row_stats g = gets(&c, ids, i + 1, 0, samples, scratch);
        row_stats l = gets(&c, ids, i + 1, 1, samples, scratch);
        row_stats p = {quantile(post, in_row, 0.5), quantile(post, in_row, 0.99)};
        printf("%8zu %9.1f %10.3f %10.3f %10.3f %10.3f %10.3f %10.3f %8.0f\n", i + 1,
               (double)rss_kib(argv[3]) / 1024.0, 1e3 * g.med, 1e3 * g.p99, 1e3 * l.med,
               1e3 * l.p99, 1e3 * p.med, 1e3 * p.p99, rate);
        fflush(stdout);
        in_row = 0;
        row_start = now_s();
    }
    curl_slist_free_all(c.headers);
    curl_easy_cleanup(c.h);
    free(c.b.data);
    free(ids);
    free(post);
    free(scratch);
    curl_global_cleanup();
    return 0;
}
