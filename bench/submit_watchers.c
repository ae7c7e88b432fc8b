/* submit_watchers.c - bench_submit_watchers: job submissions against a
 * running daemon with event watchers attached (issue 11): `clients`
 * threads share `submissions` POST /v1/jobs (keep-alive, one libcurl
 * handle each) while `watchers` event streams of a running job stay open
 * and one more thread times GET status, GET list and the first byte of a
 * new event stream, probe_rate rounds a second (default 100, 0: back to
 * back), until the last POST is answered. At a fixed rate the probes
 * measure the other routes under the submissions' load without adding an
 * unbounded load of their own: back to back, they sent as many requests
 * as the daemon could answer, which took more of the loop thread than the
 * 1,000 POSTs did.
 * Prints one JSON object: accepted per second and each route's latency
 * percentiles in milliseconds. bench/submit_watchers.sh starts the daemons
 * and runs this several times against each.
 *
 * With rate 0 (the default) the clients are a closed loop: each sends its
 * next POST when the last is answered, so the run measures the most the
 * daemon accepts a second, and by Little's law the mean latency is then
 * clients / throughput whatever the daemon does. With rate R > 0 they are
 * an open loop, as wrk2 is: submission k is due at start + k / R, a client
 * takes the next one due and waits for its time, and its latency is
 * counted from that time, not from when it was sent, so a stall that holds
 * every client back is charged to every submission it delays.
 *
 * With MCMCD_BENCH_TIMELINE=FILE in the environment, each accepted POST's
 * number, due time (seconds after the start) and latency go to FILE: when
 * in the run the slow ones came.
 *
 * Usage: bench_submit_watchers URL TOKEN JOB_ID [submissions clients watchers rate
 *                                                probe_rate] */
#include <curl/curl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

enum { ROUTE_POST, ROUTE_STATUS, ROUTE_LIST, ROUTE_EVENTS, ROUTES };
static const char *const route_names[ROUTES] = {"post", "get_status", "get_list",
                                                "events_first_byte"};

typedef struct samples {
    double *ms;
    size_t n, cap;
} samples;

static const char *url, *job_id;
static char auth[300];
static const char *spec = "{\"data\": {\"synthetic\": {\"n\": 100, \"d\": 2, \"seed\": 1}}, "
                          "\"sampler\": {\"type\": \"rwm\", \"step_size\": 0.1}, "
                          "\"num_samples\": 100}";
static atomic_int next_submission, accepted, refused, submitting_done;
static int submissions;
static FILE *timeline; /* MCMCD_BENCH_TIMELINE: each POST's number, due time (s) and ms */
/* POSTs due a second (0: closed loop), probe rounds a second, when the first POST was due */
static double rate, probe_rate = 100, start_s;

static double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

/* This process's CPU time (every thread), seconds: the load it puts on
 * the cores it shares with the daemon. */
static double process_cpu_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static void add(samples *s, double ms) {
    if (s->n == s->cap) {
        s->cap = s->cap ? 2 * s->cap : 1024;
        s->ms = realloc(s->ms, s->cap * sizeof *s->ms);
        if (!s->ms) abort();
    }
    s->ms[s->n++] = ms;
}

static size_t discard(char *p, size_t size, size_t n, void *ctx) {
    (void)p, (void)ctx;
    return size * n;
}

/* An event stream's first bytes: enough, stop there. */
static size_t first_bytes(char *p, size_t size, size_t n, void *ctx) {
    (void)p, (void)size, (void)n;
    *(int *)ctx = 1;
    return 0;
}

static CURL *handle(struct curl_slist **headers) {
    CURL *h = curl_easy_init();
    *headers = curl_slist_append(NULL, auth);
    *headers = curl_slist_append(*headers, "Content-Type: application/json");
    curl_easy_setopt(h, CURLOPT_HTTPHEADER, *headers);
    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, discard);
    curl_easy_setopt(h, CURLOPT_NOPROXY, "*");
    curl_easy_setopt(h, CURLOPT_TIMEOUT, 60L);
    return h;
}

static void sleep_until(double t) {
    double left = t - now_s();
    if (left <= 0) return;
    struct timespec nap = {(time_t)left, (long)((left - (double)(time_t)left) * 1e9)};
    nanosleep(&nap, NULL);
}

/* One request, timed from due (now_s() if 0); its milliseconds, or -1 when
 * it failed or got status != want. */
static double timed_from(CURL *h, long want, double due) {
    double t0 = due > 0 ? due : now_s();
    CURLcode rc = curl_easy_perform(h);
    double ms = (now_s() - t0) * 1e3;
    long status = 0;
    curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &status);
    return rc == CURLE_OK && status == want ? ms : -1;
}

static double timed(CURL *h, long want) {
    return timed_from(h, want, 0);
}

static void *submitter(void *arg) {
    samples *s = arg;
    struct curl_slist *hdr;
    CURL *h = handle(&hdr);
    char target[512];
    snprintf(target, sizeof target, "%s/v1/jobs", url);
    curl_easy_setopt(h, CURLOPT_URL, target);
    curl_easy_setopt(h, CURLOPT_POSTFIELDS, spec);
    int k;
    while ((k = atomic_fetch_add(&next_submission, 1)) < submissions) {
        double due = rate > 0 ? start_s + k / rate : 0;
        sleep_until(due);
        double ms = timed_from(h, 201, due);
        if (ms < 0) {
            atomic_fetch_add(&refused, 1);
            continue;
        }
        atomic_fetch_add(&accepted, 1);
        add(s, ms);
        if (timeline)
            fprintf(timeline, "%d %.3f %.3f\n", k, (due > 0 ? due : now_s()) - start_s, ms);
    }
    curl_easy_cleanup(h);
    curl_slist_free_all(hdr);
    return NULL;
}

/* GET status, GET list, an event stream's first byte, round and round. */
static void *prober(void *arg) {
    samples *s = arg;
    struct curl_slist *hdr;
    CURL *h = handle(&hdr);
    char status_url[512], list_url[512], events_url[512];
    snprintf(status_url, sizeof status_url, "%s/v1/jobs/%s", url, job_id);
    snprintf(list_url, sizeof list_url, "%s/v1/jobs?page_size=50", url);
    snprintf(events_url, sizeof events_url, "%s/v1/jobs/%s/events", url, job_id);
    for (long round = 0; !atomic_load(&submitting_done); round++) {
        if (probe_rate > 0) sleep_until(start_s + (double)round / probe_rate);
        curl_easy_setopt(h, CURLOPT_URL, status_url);
        double ms = timed(h, 200);
        if (ms >= 0) add(&s[ROUTE_STATUS], ms);
        curl_easy_setopt(h, CURLOPT_URL, list_url);
        if ((ms = timed(h, 200)) >= 0) add(&s[ROUTE_LIST], ms);
        int got = 0;
        CURL *e = curl_easy_duphandle(h);
        curl_easy_setopt(e, CURLOPT_URL, events_url);
        curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, first_bytes);
        curl_easy_setopt(e, CURLOPT_WRITEDATA, &got);
        double t0 = now_s();
        curl_easy_perform(e);
        if (got) add(&s[ROUTE_EVENTS], (now_s() - t0) * 1e3);
        curl_easy_cleanup(e);
    }
    curl_easy_cleanup(h);
    curl_slist_free_all(hdr);
    return NULL;
}

/* The watchers: event streams held open by one multi handle. */
typedef struct watchers {
    int count;
    atomic_int open;    /* streams that have sent their first bytes: attached */
    atomic_int running; /* streams still open */
    atomic_int stop;
} watchers;

typedef struct watcher {
    watchers *all;
    int attached;
} watcher;

/* A watcher counts as attached once its stream has sent something: the
 * daemon has then set the stream up, replayed the events so far and holds
 * it open. The timed run starts after every watcher is attached, so the
 * setup of 200 streams is not timed as a stall of the first POSTs. */
static size_t watched(char *p, size_t size, size_t n, void *ctx) {
    (void)p;
    watcher *me = ctx;
    if (!me->attached) {
        me->attached = 1;
        atomic_fetch_add(&me->all->open, 1);
    }
    return size * n;
}

static void *watch(void *arg) {
    watchers *w = arg;
    CURLM *m = curl_multi_init();
    struct curl_slist *hdr = curl_slist_append(NULL, auth);
    char events_url[512];
    snprintf(events_url, sizeof events_url, "%s/v1/jobs/%s/events", url, job_id);
    watcher *each = calloc((size_t)w->count + 1, sizeof *each);
    if (!each) abort();
    for (int i = 0; i < w->count; i++) {
        CURL *e = curl_easy_init();
        each[i].all = w;
        curl_easy_setopt(e, CURLOPT_URL, events_url);
        curl_easy_setopt(e, CURLOPT_HTTPHEADER, hdr);
        curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, watched);
        curl_easy_setopt(e, CURLOPT_WRITEDATA, &each[i]);
        curl_easy_setopt(e, CURLOPT_NOPROXY, "*");
        curl_multi_add_handle(m, e);
    }
    int running = 1;
    while (!atomic_load(&w->stop) && running) {
        curl_multi_perform(m, &running);
        w->running = running;
        curl_multi_poll(m, NULL, 0, 50, NULL);
    }
    curl_multi_cleanup(m); /* the easy handles leak at exit: the process ends */
    curl_slist_free_all(hdr);
    return NULL;
}

static int cmp(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static double pct(samples *s, double p) {
    if (!s->n) return -1;
    size_t i = (size_t)(p * (double)(s->n - 1) + 0.5);
    return s->ms[i];
}

/* A route's percentiles; with every sample too when with_ms (the probes':
 * ~100 a run at 100 rounds a second, too few for a p99 of their own, so
 * submit_watchers.sh pools them over the runs). */
static void print_route(const char *name, samples *s, int with_ms, int last) {
    qsort(s->ms, s->n, sizeof *s->ms, cmp);
    printf("\"%s\": {\"n\": %zu, \"p50\": %.3f, \"p99\": %.3f, \"max\": %.3f", name, s->n,
           pct(s, 0.5), pct(s, 0.99), pct(s, 1.0));
    if (with_ms) {
        printf(", \"ms\": [");
        for (size_t i = 0; i < s->n; i++)
            printf("%s%.3f", i ? ", " : "", s->ms[i]);
        printf("]");
    }
    printf("}%s", last ? "" : ", ");
}

int main(int argc, char **argv) {
    if (argc < 4) {
        fprintf(stderr,
                "usage: %s URL TOKEN JOB_ID [submissions clients watchers rate probe_rate]\n",
                argv[0]);
        return 2;
    }
    url = argv[1];
    snprintf(auth, sizeof auth, "Authorization: Bearer %s", argv[2]);
    job_id = argv[3];
    submissions = argc > 4 ? atoi(argv[4]) : 1000;
    int clients = argc > 5 ? atoi(argv[5]) : 8;
    watchers w = {.count = argc > 6 ? atoi(argv[6]) : 200};
    rate = argc > 7 ? atof(argv[7]) : 0;
    if (argc > 8) probe_rate = atof(argv[8]);
    if (submissions < 1 || clients < 1 || clients > 64 || w.count < 0 || !(rate >= 0) ||
        !(probe_rate >= 0))
        return 2;
    curl_global_init(CURL_GLOBAL_DEFAULT);
    const char *timeline_path = getenv("MCMCD_BENCH_TIMELINE");
    if (timeline_path && *timeline_path) timeline = fopen(timeline_path, "w");
    pthread_t wt, pt, st[64];
    pthread_create(&wt, NULL, watch, &w);
    for (int i = 0; i < 100 && w.open < w.count; i++) { /* the watchers attach */
        struct timespec nap = {0, 50 * 1000 * 1000};
        nanosleep(&nap, NULL);
    }
    int watching = w.open;
    samples per_client[64] = {0}, probes[ROUTES] = {0}, post = {0};
    double t0 = now_s(), cpu0 = process_cpu_s();
    start_s = t0 + 0.001;
    if (timeline) fprintf(timeline, "# start %.6f s, CLOCK_MONOTONIC\n", start_s);
    pthread_create(&pt, NULL, prober, probes);
    for (int i = 0; i < clients; i++)
        pthread_create(&st[i], NULL, submitter, &per_client[i]);
    for (int i = 0; i < clients; i++)
        pthread_join(st[i], NULL);
    double wall = now_s() - t0, client_cpu = process_cpu_s() - cpu0;
    atomic_store(&submitting_done, 1);
    pthread_join(pt, NULL);
    int still_watching = w.running < w.open ? w.running : w.open;
    atomic_store(&w.stop, 1);
    pthread_join(wt, NULL);
    for (int i = 0; i < clients; i++)
        for (size_t k = 0; k < per_client[i].n; k++)
            add(&post, per_client[i].ms[k]);
    printf("{\"submissions\": %d, \"clients\": %d, \"watchers\": %d, \"watching_at_end\": %d, "
           "\"rate\": %g, \"accepted\": %d, \"refused\": %d, \"seconds\": %.3f, "
           "\"accepted_per_s\": %.1f, \"client_cpu_ms\": %.1f, ",
           submissions, clients, watching, still_watching, rate, atomic_load(&accepted),
           atomic_load(&refused), wall, atomic_load(&accepted) / wall, 1000 * client_cpu);
    print_route(route_names[ROUTE_POST], &post, 0, 0);
    for (int r = ROUTE_STATUS; r < ROUTES; r++)
        print_route(route_names[r], &probes[r], 1, r == ROUTES - 1);
    printf("}\n");
    curl_global_cleanup();
    return atomic_load(&refused) ? 1 : 0;
}
