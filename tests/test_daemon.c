/* test_daemon.c - end-to-end tests of `mcmcd serve` on loopback.
 *
 * Starts the real daemon (MCMCD_BINARY serve --config <heartbeats every
 * 0.5 s> --port 0 --data-dir <mkdtemp> --workers 2 --max-body 1M) as a child
 * process, reads its port from the first line of its stdout, talks HTTP to
 * it with libcurl (and raw sockets where curl would send the whole body or
 * a stream must stay open), and stops it with SIGTERM, asserting exit
 * status 0 within seconds. What it covers:
 *
 *   - /healthz, /v1/info (models, samplers, limits), /metrics (Prometheus).
 *   - Datasets: the same rows as CSV (header line, ?name=) and as JSON get
 *     one id, the content hash (201, then 200); a synthetic spec; list and
 *     metadata; delete refused (409) while a job uses the dataset, then 204
 *     and 404, and a spec naming it is a 422.
 *   - Jobs: submit (201, Location, links), the event stream as NDJSON and as
 *     SSE to its done event (seq + 1 each, queued, running, progress, done),
 *     resume with ?after= and Last-Event-ID (the header wins), listing with
 *     a state filter and page tokens.
 *   - Draws: .npy, CSV and JSON (by ?format= and by Accept) byte-identical to
 *     what `mcmcd run` writes for the same spec, on synthetic data and on an
 *     uploaded CSV; selections (chain, start, stop, thin, empty); follow=1
 *     streaming rows while the job runs.
 *   - Cancel: a snapshot and a summary while running; 202, cancelled within
 *     seconds with its draws kept (the .npy shape matches the per-chain
 *     counts, the first block equals an offline run's, follow=1 gives each
 *     chain to its own end), 409 again, delete 204 then 404; delete of a
 *     running job 409. A queued job's stream idles with heartbeats, and its
 *     cancel is immediate, with no draws.
 *   - Summary: every field; means equal the .npy draws' means.
 *   - Sampler statistics: a MALA job with saved warmup shows its warmup
 *     rows and adaptation, serves statistics (CSV, CmdStan CSV), leaves the
 *     warmup out of the summary, and its adaptation is a warm start; a
 *     chain that blows up fails its job with where, and the summary takes
 *     the finite prefix.
 *   - Bad input, while a job runs undisturbed: 413 before the body is read
 *     (and for a chunked body past the limit), 415, 400 with the byte
 *     offset, 422 with every error and its path, 404, 405 with Allow, bad
 *     ?after=, Last-Event-ID, draw selections and list queries; every error
 *     is JSON {"error": {"code", "message"}}.
 *   - Restart: streams open at SIGTERM end cleanly; datasets and finished
 *     jobs survive (same status, byte-identical draws); a job running at
 *     SIGTERM runs again and equals an uninterrupted run, the one queued
 *     behind it runs too; event numbers go on; metrics match the list.
 *   - Deleting a job while its draws download leaves the daemon sound.
 *
 * Every test starts its own daemon in its own temporary directory and makes
 * the history it needs (datasets, finished jobs), so each runs alone and in
 * any order: `test_daemon NAME` runs test_NAME only, and ctest runs each as
 * test_daemon.NAME, in parallel.
 *
 * Job lengths come from a calibration job (iterations per second of this
 * build on this machine), so the plain and the sanitized builds run jobs of
 * about the same duration. The daemon's stderr goes to a log file per start
 * (and `mcmcd run`'s to another); a sanitizer report there fails the test.
 * MCMCD_E2E_KEEP=1 keeps the temporary directory.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <curl/curl.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <jansson.h>
#include <math.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "model.h"
#include "sampler.h"

#ifndef MCMCD_BINARY
#error "MCMCD_BINARY must name the mcmcd binary"
#endif

/* Sanitized builds run the chains about ten times slower: waits scale. */
#if defined(__SANITIZE_ADDRESS__)
#define SLOW 6.0
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define SLOW 6.0
#endif
#endif
#ifndef SLOW
#define SLOW 1.0
#endif

#define JOB_ID_MAX 64
#define DS_ID_MAX 128
#define DS_ROWS 200
#define DS_D 3
#define CAL_N 2000 /* the calibration data, also the timed jobs' data */
#define CAL_D 3

static struct {
    char dir[64];       /* ours: logs, specs, offline outputs */
    char data_dir[128]; /* the daemon's */
    char auth[160];     /* "Authorization: Bearer <its admin token>" */
    pid_t pid;
    int out_fd;
    unsigned port;
    int starts;
    char log[160];
    double rate; /* ULA iterations per second of one chain on CAL_N x CAL_D */
    char csv_id[DS_ID_MAX], mala_id[JOB_ID_MAX];
    char csv_path[160];
    char conf[160]; /* a config file: fast heartbeats */
} g;

/* --- time ------------------------------------------------------------ */

static double mono_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static int64_t wall_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void sleep_ms(long ms) {
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

/* "2026-01-02T03:04:05.678Z" to unix milliseconds; -1 if malformed. */
static int64_t iso_ms(const char *s) {
    struct tm tm = {0};
    int ms, n = 0;
    if (!s ||
        sscanf(s, "%4d-%2d-%2dT%2d:%2d:%2d.%3dZ%n", &tm.tm_year, &tm.tm_mon, &tm.tm_mday,
               &tm.tm_hour, &tm.tm_min, &tm.tm_sec, &ms, &n) != 7 ||
        n != 24 || s[n])
        return -1;
    tm.tm_year -= 1900;
    tm.tm_mon -= 1;
    return (int64_t)timegm(&tm) * 1000 + ms;
}

/* --- a growable buffer, always NUL-terminated ------------------------- */

typedef struct buf {
    char *data;
    size_t len, cap;
} buf;

static buf mala_npy; /* a MALA_SPEC job's .npy */

static int buf_try_add(buf *b, const void *p, size_t n) {
    if (b->len + n + 1 > b->cap) {
        size_t cap = b->cap ? b->cap : 1024;
        while (cap < b->len + n + 1)
            cap *= 2;
        char *d = realloc(b->data, cap);
        if (!d) return -1;
        b->data = d;
        b->cap = cap;
    }
    if (n) memcpy(b->data + b->len, p, n);
    b->len += n;
    b->data[b->len] = 0;
    return 0;
}

static void buf_add(buf *b, const void *p, size_t n) {
    assert_int_equal(buf_try_add(b, p, n), 0);
}

static void buf_printf(buf *b, const char *fmt, ...) {
    char tmp[512];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(tmp, sizeof tmp, fmt, ap);
    va_end(ap);
    assert_true(n >= 0 && (size_t)n < sizeof tmp);
    buf_add(b, tmp, (size_t)n);
}

static void buf_free(buf *b) {
    free(b->data);
    memset(b, 0, sizeof *b);
}

static void slurp(const char *path, buf *b) {
    FILE *f = fopen(path, "rb");
    if (!f) print_error("cannot open %s: %s\n", path, strerror(errno));
    assert_non_null(f);
    char chunk[65536];
    size_t n;
    b->len = 0;
    buf_add(b, "", 0);
    while ((n = fread(chunk, 1, sizeof chunk, f)) > 0)
        buf_add(b, chunk, n);
    fclose(f);
}

static void spit(const char *path, const char *text, size_t len) {
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    assert_int_equal(fwrite(text, 1, len, f), len);
    assert_int_equal(fclose(f), 0);
}

static void assert_same_bytes(const buf *got, const buf *want, const char *what) {
    if (got->len == want->len && memcmp(got->data, want->data, got->len) == 0) return;
    size_t i = 0;
    while (i < got->len && i < want->len && got->data[i] == want->data[i])
        i++;
    print_error("%s: %zu bytes from the daemon, %zu expected; first difference at byte %zu\n", what,
                got->len, want->len, i);
    fail();
}

/* --- HTTP with libcurl ------------------------------------------------ */

typedef struct resp {
    long status;
    buf head, body;
    int64_t first_line_ms; /* wall time the first complete body line arrived */
} resp;

typedef struct http_opts {
    const char *method; /* GET, or POST when there is a body */
    const char *ctype;
    const char *body;
    size_t len;
    const char *hdr[3]; /* extra request headers, "Name: value" */
    long timeout_ms;    /* set: a stream cut off after this long is no error */
} http_opts;

static size_t on_body(char *p, size_t size, size_t n, void *ctx) {
    resp *r = ctx;
    if (!r->first_line_ms && memchr(p, '\n', size * n)) r->first_line_ms = wall_ms();
    return buf_try_add(&r->body, p, size * n) == 0 ? size * n : 0;
}

static size_t on_header(char *p, size_t size, size_t n, void *ctx) {
    resp *r = ctx;
    if (size * n >= 5 && !memcmp(p, "HTTP/", 5)) r->head.len = 0; /* keep the last block */
    return buf_try_add(&r->head, p, size * n) == 0 ? size * n : 0;
}

static void resp_free(resp *r) {
    buf_free(&r->head);
    buf_free(&r->body);
    memset(r, 0, sizeof *r);
}

static long http_v(resp *r, const http_opts *o, const char *fmt, va_list ap) {
    char path[2048], url[2200];
    vsnprintf(path, sizeof path, fmt, ap);
    snprintf(url, sizeof url, "http://127.0.0.1:%u%s", g.port, path);
    resp_free(r);
    buf_add(&r->body, "", 0);
    buf_add(&r->head, "", 0);
    CURL *c = curl_easy_init();
    assert_non_null(c);
    struct curl_slist *h = curl_slist_append(NULL, "Expect:");
    char line[256];
    if (o->ctype) {
        snprintf(line, sizeof line, "Content-Type: %s", o->ctype);
        h = curl_slist_append(h, line);
    }
    for (int i = 0; i < 3; i++)
        if (o->hdr[i]) h = curl_slist_append(h, o->hdr[i]);
    h = curl_slist_append(h, g.auth);
    const char *method = o->method ? o->method : (o->body ? "POST" : "GET");
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, h);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, r);
    curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, on_header);
    curl_easy_setopt(c, CURLOPT_HEADERDATA, r);
    curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, o->timeout_ms ? o->timeout_ms : (long)(60000 * SLOW));
    if (!strcmp(method, "POST")) {
        curl_easy_setopt(c, CURLOPT_POSTFIELDS, o->body ? o->body : "");
        curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)(o->body ? o->len : 0));
    } else if (strcmp(method, "GET") != 0) {
        curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method);
    }
    CURLcode rc = curl_easy_perform(c);
    curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &r->status);
    curl_easy_cleanup(c);
    curl_slist_free_all(h);
    if (rc != CURLE_OK && !(o->timeout_ms && rc == CURLE_OPERATION_TIMEDOUT)) {
        print_error("%s %s: %s\n", method, path, curl_easy_strerror(rc));
        fail();
    }
    return r->status;
}

static long http(resp *r, const http_opts *o, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    long s = http_v(r, o, fmt, ap);
    va_end(ap);
    return s;
}

static long get(resp *r, const char *fmt, ...) {
    http_opts o = {0};
    va_list ap;
    va_start(ap, fmt);
    long s = http_v(r, &o, fmt, ap);
    va_end(ap);
    return s;
}

/* A request without a body: DELETE, PUT, POST .../cancel. */
static long call(resp *r, const char *method, const char *fmt, ...) {
    http_opts o = {.method = method};
    va_list ap;
    va_start(ap, fmt);
    long s = http_v(r, &o, fmt, ap);
    va_end(ap);
    return s;
}

static long post_json(resp *r, const char *path, const char *json) {
    http_opts o = {.ctype = "application/json", .body = json, .len = strlen(json)};
    return http(r, &o, "%s", path);
}

/* The value of a response header (the last block's), trimmed; 0 if absent. */
static int resp_header(const resp *r, const char *name, char *out, size_t cap) {
    size_t nl = strlen(name);
    for (const char *l = r->head.data; l && *l;) {
        const char *e = strchr(l, '\n');
        size_t n = e ? (size_t)(e - l) : strlen(l);
        if (n > nl && !strncasecmp(l, name, nl) && l[nl] == ':') {
            const char *v = l + nl + 1;
            while (*v == ' ')
                v++;
            size_t k = (size_t)(l + n - v);
            while (k && (v[k - 1] == '\r' || v[k - 1] == ' '))
                k--;
            snprintf(out, cap, "%.*s", (int)k, v);
            return 1;
        }
        l = e ? e + 1 : l + n;
    }
    return 0;
}

static void assert_header(const resp *r, const char *name, const char *want) {
    char v[512];
    if (!resp_header(r, name, v, sizeof v)) {
        print_error("no %s header in:\n%s\n", name, r->head.data);
        fail();
    }
    if (strcmp(v, want) != 0) print_error("%s: '%s', expected '%s'\n", name, v, want);
    assert_string_equal(v, want);
}

static json_t *resp_json(const resp *r) {
    json_error_t e;
    json_t *j = json_loadb(r->body.data, r->body.len, 0, &e);
    if (!j) print_error("not JSON (%s): %.400s\n", e.text, r->body.data);
    assert_non_null(j);
    return j;
}

static void expect_status(const resp *r, long want) {
    if (r->status != want)
        print_error("status %ld, expected %ld; body: %.600s\n", r->status, want, r->body.data);
    assert_int_equal(r->status, want);
}

/* An error answer: the status, JSON {"error": {"code", "message"}}; the
 * code when code is not NULL. Returns the body (the caller frees it). */
static json_t *check_error(const resp *r, long status, const char *code) {
    expect_status(r, status);
    char ct[128];
    assert_true(resp_header(r, "Content-Type", ct, sizeof ct));
    assert_string_equal(ct, "application/json");
    json_t *j = resp_json(r);
    json_t *e = json_object_get(j, "error");
    assert_true(json_is_object(e));
    json_t *c = json_object_get(e, "code"), *m = json_object_get(e, "message");
    assert_true(json_is_string(c));
    assert_true(json_is_string(m));
    assert_true(strlen(json_string_value(m)) > 0);
    if (code) assert_string_equal(json_string_value(c), code);
    return j;
}

static void expect_error(const resp *r, long status, const char *code) {
    json_decref(check_error(r, status, code));
}

/* --- JSON accessors --------------------------------------------------- */

static const char *jstr(const json_t *o, const char *key) {
    json_t *v = json_object_get(o, key);
    if (!json_is_string(v)) print_error("%s is not a string\n", key);
    assert_true(json_is_string(v));
    return json_string_value(v);
}

static double jnum(const json_t *o, const char *key) {
    json_t *v = json_object_get(o, key);
    if (!json_is_number(v)) print_error("%s is not a number\n", key);
    assert_true(json_is_number(v));
    return json_number_value(v);
}

static json_int_t jint(const json_t *o, const char *key) {
    json_t *v = json_object_get(o, key);
    if (!json_is_integer(v)) print_error("%s is not an integer\n", key);
    assert_true(json_is_integer(v));
    return json_integer_value(v);
}

/* --- the daemon and the offline runner ------------------------------- */

/* Fails on a sanitizer report in a log the binary wrote. */
static void check_log(const char *path) {
    buf b = {0};
    slurp(path, &b);
    static const char *const bad[] = {"ERROR: AddressSanitizer",
                                      "runtime error:", "ERROR: LeakSanitizer"};
    for (int i = 0; i < 3; i++)
        if (strstr(b.data, bad[i])) {
            print_error("sanitizer report in %s:\n%s\n", path, b.data);
            buf_free(&b);
            fail();
        }
    buf_free(&b);
}

/* The token the daemon wrote on its first start, as a header line. */
static void read_admin_token(void) {
    char path[256], token[128] = "";
    snprintf(path, sizeof path, "%s/admin.token", g.data_dir);
    FILE *f = fopen(path, "r");
    assert_non_null(f);
    assert_non_null(fgets(token, sizeof token, f));
    fclose(f);
    token[strcspn(token, "\n")] = 0;
    snprintf(g.auth, sizeof g.auth, "Authorization: Bearer %s", token);
}

static void daemon_start(void) {
    int fds[2];
    assert_int_equal(pipe2(fds, O_CLOEXEC), 0);
    g.starts++;
    snprintf(g.log, sizeof g.log, "%s/daemon-%d.log", g.dir, g.starts);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        prctl(PR_SET_PDEATHSIG, SIGKILL);
        int fd = open(g.log, O_WRONLY | O_CREAT | O_TRUNC, 0644);
        if (fd < 0 || dup2(fds[1], 1) < 0 || dup2(fd, 2) < 0) _exit(127);
        execl(MCMCD_BINARY, MCMCD_BINARY, "serve", "--config", g.conf, "--port", "0", "--data-dir",
              g.data_dir, "--workers", "2", "--max-body", "1M", (char *)NULL);
        _exit(127);
    }
    close(fds[1]);
    g.pid = pid;
    g.out_fd = fds[0];
    char line[256];
    size_t n = 0;
    double deadline = mono_s() + 20 * SLOW;
    while (n + 1 < sizeof line) {
        struct pollfd p = {g.out_fd, POLLIN, 0};
        int left = (int)((deadline - mono_s()) * 1000);
        if (left <= 0 || poll(&p, 1, left) <= 0) break;
        char ch;
        if (read(g.out_fd, &ch, 1) != 1 || ch == '\n') break;
        line[n++] = ch;
    }
    line[n] = 0;
    unsigned port = 0;
    if (sscanf(line, "mcmcd listening on http://127.0.0.1:%u", &port) != 1 || !port) {
        buf b = {0};
        slurp(g.log, &b);
        print_error("no port line from the daemon (got '%s'); its stderr:\n%s\n", line, b.data);
        buf_free(&b);
        fail();
    }
    g.port = port;
    read_admin_token();
}

/* Waits up to timeout_s for a child; returns its wait status, or -1. */
static int wait_child(pid_t pid, double timeout_s) {
    double deadline = mono_s() + timeout_s;
    for (;;) {
        int st;
        pid_t w = waitpid(pid, &st, WNOHANG);
        if (w == pid) return st;
        if (w < 0 || mono_s() > deadline) return -1;
        sleep_ms(10);
    }
}

/* SIGTERM; the daemon must exit 0 within a few seconds. */
static void daemon_stop(void) {
    assert_true(g.pid > 0);
    pid_t pid = g.pid;
    g.pid = 0;
    double t0 = mono_s();
    assert_int_equal(kill(pid, SIGTERM), 0);
    int st = wait_child(pid, 5 * SLOW);
    if (st == -1) {
        kill(pid, SIGKILL);
        waitpid(pid, NULL, 0);
    }
    close(g.out_fd);
    check_log(g.log);
    if (st == -1) {
        print_error("the daemon did not exit within %.0f s of SIGTERM\n", 5 * SLOW);
        fail();
    }
    if (!WIFEXITED(st) || WEXITSTATUS(st) != 0)
        print_error("the daemon ended with wait status %#x (see %s)\n", st, g.log);
    assert_true(WIFEXITED(st));
    assert_int_equal(WEXITSTATUS(st), 0);
    print_message("# daemon stopped in %.2f s\n", mono_s() - t0);
}

/* `mcmcd run --spec SPEC [--data DATA] --out OUT -q` in the background. */
static pid_t offline_spawn(const char *spec, const char *data, const char *out) {
    char logpath[200];
    snprintf(logpath, sizeof logpath, "%s/offline.log", g.dir);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        prctl(PR_SET_PDEATHSIG, SIGKILL);
        int fd = open(logpath, O_WRONLY | O_CREAT | O_APPEND, 0644);
        int nul = open("/dev/null", O_WRONLY);
        if (fd < 0 || nul < 0 || dup2(nul, 1) < 0 || dup2(fd, 2) < 0) _exit(127);
        if (data)
            execl(MCMCD_BINARY, MCMCD_BINARY, "run", "--spec", spec, "--data", data, "--out", out,
                  "-q", (char *)NULL);
        else
            execl(MCMCD_BINARY, MCMCD_BINARY, "run", "--spec", spec, "--out", out, "-q",
                  (char *)NULL);
        _exit(127);
    }
    return pid;
}

static void offline_wait(pid_t pid) {
    int st = wait_child(pid, 120 * SLOW);
    if (st == -1) kill(pid, SIGKILL), waitpid(pid, NULL, 0);
    char logpath[200];
    snprintf(logpath, sizeof logpath, "%s/offline.log", g.dir);
    check_log(logpath);
    if (st == -1 || !WIFEXITED(st) || WEXITSTATUS(st) != 0)
        print_error("mcmcd run failed (wait status %#x, see %s)\n", st, logpath);
    assert_true(st != -1 && WIFEXITED(st) && WEXITSTATUS(st) == 0);
}

static void offline_run(const char *spec, const char *data, const char *out) {
    offline_wait(offline_spawn(spec, data, out));
}

static int remove_entry(const char *path, const struct stat *sb, int flag, struct FTW *ftw) {
    (void)sb, (void)flag, (void)ftw;
    return remove(path);
}

/* --- jobs ------------------------------------------------------------- */

static json_t *get_job(const char *id) {
    resp r = {0};
    get(&r, "/v1/jobs/%s", id);
    expect_status(&r, 200);
    json_t *j = resp_json(&r);
    resp_free(&r);
    return j;
}

static int state_is_final(const char *s) {
    return !strcmp(s, "succeeded") || !strcmp(s, "failed") || !strcmp(s, "cancelled");
}

/* POST /v1/jobs: 201, Location, id, state, links. */
static void submit(const char *spec, char id[JOB_ID_MAX]) {
    resp r = {0};
    post_json(&r, "/v1/jobs", spec);
    expect_status(&r, 201);
    json_t *j = resp_json(&r);
    const char *jid = jstr(j, "id");
    assert_true(strlen(jid) > 0 && strlen(jid) < JOB_ID_MAX);
    assert_true(strspn(jid, "0123456789abcdef") == strlen(jid));
    snprintf(id, JOB_ID_MAX, "%s", jid);
    const char *st = jstr(j, "state");
    assert_true(!strcmp(st, "queued") || !strcmp(st, "running"));
    char want[160];
    snprintf(want, sizeof want, "/v1/jobs/%s", id);
    assert_header(&r, "Location", want);
    json_t *links = json_object_get(j, "links");
    assert_true(json_is_object(links));
    assert_string_equal(jstr(links, "self"), want);
    static const char *const rel[] = {"events", "draws", "summary", "cancel"};
    for (int i = 0; i < 4; i++) {
        char url[200];
        snprintf(url, sizeof url, "/v1/jobs/%s/%s", id, rel[i]);
        assert_string_equal(jstr(links, rel[i]), url);
    }
    json_decref(j);
    resp_free(&r);
}

/* Polls until the job reaches a final state; returns its status. */
static json_t *wait_final(const char *id, double timeout_s) {
    double deadline = mono_s() + timeout_s;
    for (;;) {
        json_t *j = get_job(id);
        if (state_is_final(jstr(j, "state"))) return j;
        if (mono_s() > deadline) {
            char *text = json_dumps(j, JSON_COMPACT);
            print_error("job %s not finished after %.1f s: %s\n", id, timeout_s, text);
            free(text);
            json_decref(j);
            fail();
        }
        json_decref(j);
        sleep_ms(20);
    }
}

static json_t *wait_state(const char *id, const char *want, double timeout_s) {
    json_t *j = wait_final(id, timeout_s);
    if (strcmp(jstr(j, "state"), want) != 0) {
        char *text = json_dumps(j, JSON_COMPACT);
        print_error("job %s ended %s, expected %s: %s\n", id, jstr(j, "state"), want, text);
        free(text);
    }
    assert_string_equal(jstr(j, "state"), want);
    return j;
}

/* Polls until the job runs and each chain has at least min_draws. */
static json_t *wait_draws(const char *id, json_int_t min_draws, double timeout_s) {
    double deadline = mono_s() + timeout_s;
    for (;;) {
        json_t *j = get_job(id);
        const char *st = jstr(j, "state");
        assert_false(state_is_final(st));
        json_t *chains = json_object_get(j, "chains"), *c;
        size_t i, ok = 0;
        json_array_foreach(chains, i, c) ok += jint(c, "draws") >= min_draws;
        if (!strcmp(st, "running") && ok == json_array_size(chains) && ok > 0) return j;
        json_decref(j);
        assert_true(mono_s() < deadline);
        sleep_ms(10);
    }
}

/* A ULA job on CAL_N x CAL_D synthetic rows whose chains each run about
 * `seconds` (thin stretches it; blocks progress blocks of draws). */
static void timed_spec(char *out, size_t cap, double seconds, unsigned chains, unsigned samples,
                       unsigned blocks, unsigned key) {
    double iters = seconds * g.rate;
    unsigned long long thin = (unsigned long long)(iters / samples);
    if (thin < 1) thin = 1;
    unsigned long long every = thin * samples / blocks;
    if (every < 1) every = 1;
    snprintf(out, cap,
             "{\"data\": {\"synthetic\": {\"n\": %d, \"d\": %d, \"seed\": 11}}, \"sampler\": "
             "{\"type\": \"ula\", \"step_size\": 0.0005}, \"chains\": %u, \"num_samples\": %u, "
             "\"thin\": %llu, \"key\": %u, \"init\": \"true\", \"progress_every\": %llu}",
             CAL_N, CAL_D, chains, samples, thin, key, every);
}

/* --- .npy ------------------------------------------------------------- */

typedef struct npy {
    uint64_t shape[3];
    const unsigned char *data;
} npy;

static void npy_parse(const buf *b, npy *out) {
    const unsigned char *u = (const unsigned char *)b->data;
    assert_true(b->len >= 12);
    assert_memory_equal(b->data, "\x93NUMPY", 6);
    size_t hlen =
        u[6] == 1 ? (size_t)u[8] | (size_t)u[9] << 8
                  : (size_t)u[8] | (size_t)u[9] << 8 | (size_t)u[10] << 16 | (size_t)u[11] << 24;
    size_t off = u[6] == 1 ? 10 : 12;
    assert_true(off + hlen <= b->len);
    assert_int_equal((off + hlen) % 16, 0);
    char h[1024];
    assert_true(hlen < sizeof h);
    memcpy(h, b->data + off, hlen);
    h[hlen] = 0;
    assert_non_null(strstr(h, "'descr': '<f8'"));
    assert_non_null(strstr(h, "'fortran_order': False"));
    const char *s = strstr(h, "'shape': (");
    assert_non_null(s);
    s += 10;
    for (int i = 0; i < 3; i++) {
        char *end;
        out->shape[i] = strtoull(s, &end, 10);
        assert_true(end > s);
        s = end;
        while (*s == ',' || *s == ' ')
            s++;
    }
    assert_int_equal(*s, ')');
    out->data = u + off + hlen;
    assert_int_equal(b->len - off - hlen, out->shape[0] * out->shape[1] * out->shape[2] * 8);
}

static double npy_at(const npy *n, uint64_t c, uint64_t i, uint64_t j) {
    double v;
    memcpy(&v, n->data + ((c * n->shape[1] + i) * n->shape[2] + j) * 8, sizeof v);
    return v;
}

/* NDJSON draw rows of a job: chain c gives draws 0 .. want[c] - 1 in order,
 * with the values of the .npy n. */
static void check_draw_rows(const buf *b, const npy *n, const uint64_t *want, uint32_t chains) {
    uint64_t next[8] = {0};
    assert_true(chains <= 8);
    const char *p = b->data, *end = b->data + b->len;
    assert_true(b->len == 0 || end[-1] == '\n');
    while (p < end) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        json_t *row = json_loadb(p, (size_t)(nl - p), 0, NULL);
        if (!json_is_object(row)) print_error("bad row: %.*s\n", (int)(nl - p), p);
        assert_true(json_is_object(row));
        if (json_object_get(row, "heartbeat")) { /* a followed stream's, between rows */
            assert_int_equal(json_object_size(row), 2);
            json_decref(row);
            p = nl + 1;
            continue;
        }
        assert_int_equal(json_object_size(row), 3);
        json_int_t c = jint(row, "chain"), k = jint(row, "draw");
        assert_true(c >= 0 && c < (json_int_t)chains);
        assert_int_equal(k, next[c]);
        next[c]++;
        json_t *theta = json_object_get(row, "theta");
        assert_int_equal(json_array_size(theta), n->shape[2]);
        for (size_t q = 0; q < n->shape[2]; q++)
            if ((uint64_t)k < n->shape[1])
                assert_true(json_real_value(json_array_get(theta, q)) ==
                            npy_at(n, (uint64_t)c, (uint64_t)k, q));
        json_decref(row);
        p = nl + 1;
    }
    for (uint32_t c = 0; c < chains; c++)
        assert_int_equal(next[c], want[c]);
}

/* --- the small dataset ------------------------------------------------ */

/* Multiples of 1/64, so CSV and JSON text give the very same doubles. */
static double ds_x(int i, int j) {
    uint32_t h = (uint32_t)i * 2654435761u ^ ((uint32_t)j * 40503u + 17u);
    h ^= h >> 13;
    h *= 0x5bd1e995u;
    h ^= h >> 15;
    return ((double)(h % 257) - 128.0) / 64.0;
}

static int ds_y(int i) {
    double eta = ds_x(i, 0) - 0.5 * ds_x(i, 1) + 0.25 * ds_x(i, 2);
    return eta + ((i * 7) % 5 - 2) * 0.6 > 0;
}

static void make_dataset_texts(buf *csv, buf *js) {
    buf_printf(csv, "x1,x2,x3,y\n");
    buf_printf(js, "{\"name\": \"small-json\", \"X\": [");
    for (int i = 0; i < DS_ROWS; i++) {
        buf_printf(csv, "%.17g,%.17g,%.17g,%d\n", ds_x(i, 0), ds_x(i, 1), ds_x(i, 2), ds_y(i));
        buf_printf(js, "%s[%.17g, %.17g, %.17g]", i ? ", " : "", ds_x(i, 0), ds_x(i, 1),
                   ds_x(i, 2));
    }
    buf_printf(js, "], \"y\": [");
    for (int i = 0; i < DS_ROWS; i++)
        buf_printf(js, "%s%d", i ? ", " : "", ds_y(i));
    buf_printf(js, "], \"names\": [\"x1\", \"x2\", \"x3\"]}"); /* the CSV header's */
}

static void check_dataset_meta(const json_t *m, const char *name, json_int_t n, json_int_t d) {
    const char *id = jstr(m, "id");
    assert_true(strlen(id) >= 16 && strlen(id) < DS_ID_MAX);
    assert_true(strspn(id, "0123456789abcdef") == strlen(id));
    assert_string_equal(jstr(m, "hash"), id);
    if (name) assert_string_equal(jstr(m, "name"), name);
    assert_int_equal(jint(m, "n"), n);
    assert_int_equal(jint(m, "d"), d);
    assert_true(jint(m, "bytes") > 0);
    int64_t created = iso_ms(jstr(m, "created"));
    assert_true(created > 0);
    assert_true(llabs((long long)(created - wall_ms())) < 3600 * 1000);
}

/* --- events ----------------------------------------------------------- */

/* NDJSON events, heartbeats left out. complete: the body must end with a
 * newline (else a partial last line is ignored). */
static json_t *parse_ndjson(const buf *b, int complete) {
    json_t *arr = json_array();
    const char *p = b->data, *end = b->data + b->len;
    if (complete && b->len) assert_int_equal(end[-1], '\n');
    while (p < end) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        if (!nl) break;
        json_error_t e;
        json_t *ev = json_loadb(p, (size_t)(nl - p), 0, &e);
        if (!ev) print_error("bad NDJSON line (%s): %.*s\n", e.text, (int)(nl - p), p);
        assert_true(json_is_object(ev));
        if (!strcmp(jstr(ev, "type"), "heartbeat"))
            json_decref(ev);
        else
            json_array_append_new(arr, ev);
        p = nl + 1;
    }
    return arr;
}

/* SSE: an optional "retry:" block, then blocks of id/event/data (data is
 * the event's JSON, id its seq, event its type); comments are heartbeats. */
static json_t *parse_sse(const buf *b) {
    json_t *arr = json_array();
    const char *p = b->data, *end = b->data + b->len;
    int first = 1;
    while (p < end) {
        const char *blk = strstr(p, "\n\n");
        if (!blk) print_error("SSE block without its blank line: %.200s\n", p);
        assert_non_null(blk);
        long long id = -1;
        char ev[32] = "";
        json_t *data = NULL;
        int other = 0;
        for (const char *l = p; l < blk;) {
            const char *nl = memchr(l, '\n', (size_t)(blk - l));
            if (!nl) nl = blk;
            size_t n = (size_t)(nl - l);
            if (n > 7 && !strncmp(l, "retry: ", 7)) {
                assert_true(first);
                other = 1;
            } else if (n >= 1 && l[0] == ':') {
                other = 1;
            } else if (n > 4 && !strncmp(l, "id: ", 4)) {
                id = strtoll(l + 4, NULL, 10);
            } else if (n > 7 && !strncmp(l, "event: ", 7)) {
                snprintf(ev, sizeof ev, "%.*s", (int)(n - 7), l + 7);
            } else if (n > 6 && !strncmp(l, "data: ", 6)) {
                assert_null(data);
                data = json_loadb(l + 6, n - 6, 0, NULL);
                assert_true(json_is_object(data));
            } else {
                print_error("unexpected SSE line: %.*s\n", (int)n, l);
                fail();
            }
            l = nl + 1;
        }
        if (data && !strcmp(jstr(data, "type"), "heartbeat")) {
            json_decref(data);
        } else if (data) {
            assert_int_equal(id, jint(data, "seq"));
            assert_string_equal(ev, jstr(data, "type"));
            json_array_append_new(arr, data);
        } else {
            assert_true(other);
        }
        first = 0;
        p = blk + 2;
    }
    return arr;
}

/* A whole log: seq + 1 each from `first_seq`, states queued then running,
 * progress per chain in order up to every draw, and a last done event. */
static void check_event_log(const json_t *evs, const char *id, json_int_t first_seq,
                            const char *final_state, json_int_t chains, json_int_t samples) {
    size_t n = json_array_size(evs), i;
    assert_true(n >= 4);
    json_int_t last_iter[16] = {0}, last_draws[16] = {0};
    size_t progress = 0;
    json_t *e;
    json_array_foreach(evs, i, e) {
        assert_int_equal(jint(e, "seq"), first_seq + (json_int_t)i);
        assert_string_equal(jstr(e, "job"), id);
        assert_true(jnum(e, "time") > 1e9);
        const char *type = jstr(e, "type");
        if (i == 0) {
            assert_string_equal(type, "state");
            assert_string_equal(jstr(e, "state"), "queued");
        } else if (i == 1) {
            assert_string_equal(type, "state");
            assert_string_equal(jstr(e, "state"), "running");
        } else if (i + 1 == n) {
            assert_string_equal(type, "done");
            assert_string_equal(jstr(e, "state"), final_state);
            json_t *dpc = json_object_get(e, "draws_per_chain");
            assert_int_equal(json_array_size(dpc), chains);
            for (json_int_t c = 0; c < chains; c++)
                assert_int_equal(json_integer_value(json_array_get(dpc, (size_t)c)), samples);
        } else {
            assert_string_equal(type, "progress");
            json_int_t c = jint(e, "chain");
            assert_true(c >= 0 && c < chains && c < 16);
            assert_true(jint(e, "iter") > last_iter[c]);
            assert_true(jint(e, "draws") >= last_draws[c]);
            assert_true(jint(e, "total") > 0);
            last_iter[c] = jint(e, "iter");
            last_draws[c] = jint(e, "draws");
            progress++;
        }
    }
    assert_true(progress >= (size_t)chains);
    for (json_int_t c = 0; c < chains; c++)
        assert_int_equal(last_draws[c], samples);
}

/* The events after `after` of a finished job, by ?after= or a header. */
static json_t *events_after(const char *id, const char *query, const char *header) {
    resp r = {0};
    http_opts o = {.hdr = {header}};
    http(&r, &o, "/v1/jobs/%s/events%s", id, query);
    expect_status(&r, 200);
    assert_header(&r, "Content-Type", "application/x-ndjson");
    json_t *evs = parse_ndjson(&r.body, 1);
    resp_free(&r);
    return evs;
}

static void assert_events_tail(const json_t *all, const json_t *got, json_int_t after) {
    size_t i, k = 0;
    json_t *e;
    json_array_foreach(all, i, e) {
        if (jint(e, "seq") <= after) continue;
        json_t *ge = json_array_get(got, k++);
        assert_non_null(ge);
        assert_true(json_equal(e, ge));
    }
    assert_int_equal(k, json_array_size(got));
}

/* --- raw sockets: requests curl would not send, streams left open ----- */

/* Connects and sends head then body (never SIGPIPE; the server may close
 * early). Returns the socket. */
static int raw_open(const char *head, const char *body, size_t blen) {
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    assert_true(fd >= 0);
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)g.port)};
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    assert_int_equal(connect(fd, (struct sockaddr *)&sa, sizeof sa), 0);
    /* the token goes in as the last header of a complete head */
    char authed[8192];
    const char *end = strstr(head, "\r\n\r\n");
    if (end && strlen(head) + strlen(g.auth) + 3 < sizeof authed) {
        int at = (int)(end - head) + 2;
        snprintf(authed, sizeof authed, "%.*s%s\r\n%s", at, head, g.auth, head + at);
        head = authed;
    }
    const char *parts[2] = {head, body};
    size_t lens[2] = {strlen(head), body ? blen : 0};
    for (int k = 0; k < 2; k++)
        for (size_t off = 0; off < lens[k];) {
            ssize_t w = send(fd, parts[k] + off, lens[k] - off, MSG_NOSIGNAL);
            if (w < 0 && errno == EINTR) continue;
            if (w <= 0) break;
            off += (size_t)w;
        }
    return fd;
}

/* Reads into out until the peer closes, max bytes came, or timeout_ms
 * passed. Returns 1 when the peer closed. */
static int raw_read(int fd, buf *out, size_t max, int timeout_ms) {
    double deadline = mono_s() + timeout_ms / 1000.0;
    buf_add(out, "", 0);
    while (out->len < max) {
        struct pollfd p = {fd, POLLIN, 0};
        int left = (int)((deadline - mono_s()) * 1000);
        if (left <= 0 || poll(&p, 1, left) <= 0) return 0;
        char chunk[65536];
        size_t want = max - out->len < sizeof chunk ? max - out->len : sizeof chunk;
        ssize_t n = recv(fd, chunk, want, 0);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) return 1;
        buf_add(out, chunk, (size_t)n);
    }
    return 0;
}

static void raw_request(const char *head, const char *body, size_t blen, buf *out, int timeout_ms) {
    int fd = raw_open(head, body, blen);
    raw_read(fd, out, SIZE_MAX, timeout_ms);
    close(fd);
}

/* --- fixtures --------------------------------------------------------- */

/* How fast a ULA chain runs here (sanitized builds are ~10x slower). */
static void calibrate(void) {
    char spec[512], id[JOB_ID_MAX];
    snprintf(spec, sizeof spec,
             "{\"data\": {\"synthetic\": {\"n\": %d, \"d\": %d, \"seed\": 11}}, \"sampler\": "
             "{\"type\": \"ula\", \"step_size\": 0.0005}, \"num_samples\": 100, \"thin\": 500, "
             "\"init\": \"true\", \"progress_every\": 50000}",
             CAL_N, CAL_D);
    submit(spec, id);
    json_t *j = wait_state(id, "succeeded", 120 * SLOW);
    json_t *c = json_array_get(json_object_get(j, "chains"), 0);
    double iter = jnum(c, "iter"), elapsed = jnum(c, "elapsed");
    assert_true(iter == 50000 && elapsed > 0);
    g.rate = iter / elapsed;
    print_message("# calibration: %.3g ULA iterations/s on %d x %d\n", g.rate, CAL_N, CAL_D);
    json_decref(j);
}

/* Uploads the small CSV (201, Location) as "small-csv"; sets g.csv_id and
 * returns its metadata (the caller's). */
static json_t *upload_small_csv(void) {
    buf csv = {0}, js = {0};
    make_dataset_texts(&csv, &js);
    spit(g.csv_path, csv.data, csv.len);
    resp r = {0};
    http_opts up = {.ctype = "text/csv", .body = csv.data, .len = csv.len};
    http(&r, &up, "/v1/datasets?name=small-csv");
    expect_status(&r, 201);
    json_t *meta = resp_json(&r);
    check_dataset_meta(meta, "small-csv", DS_ROWS, DS_D);
    snprintf(g.csv_id, sizeof g.csv_id, "%s", jstr(meta, "id"));
    char loc[200];
    snprintf(loc, sizeof loc, "/v1/datasets/%s", g.csv_id);
    assert_header(&r, "Location", loc);
    resp_free(&r);
    buf_free(&csv);
    buf_free(&js);
    return meta;
}

/* Each test gets its own directory and daemon, so any one runs alone and
 * in any order (ctest runs them as test_daemon.NAME, in parallel). */
static int daemon_setup(void **state) {
    (void)state;
    memset(&g, 0, sizeof g);
    snprintf(g.dir, sizeof g.dir, "/tmp/mcmcd-e2e-XXXXXX");
    if (!mkdtemp(g.dir)) return -1;
    snprintf(g.data_dir, sizeof g.data_dir, "%s/data", g.dir);
    snprintf(g.csv_path, sizeof g.csv_path, "%s/small.csv", g.dir);
    snprintf(g.conf, sizeof g.conf, "%s/mcmcd.conf", g.dir);
    const char *conf = "# idle streams get a heartbeat twice a second\nheartbeat_seconds = 0.5\n";
    spit(g.conf, conf, strlen(conf));
    daemon_start();
    return 0;
}

/* Stops the daemon a test left up: it must exit 0 with a clean log. */
static int daemon_teardown(void **state) {
    (void)state;
    int rc = 0;
    if (g.pid > 0) {
        kill(g.pid, SIGTERM);
        int st = wait_child(g.pid, 10 * SLOW);
        if (st == -1) kill(g.pid, SIGKILL), waitpid(g.pid, NULL, 0);
        close(g.out_fd);
        g.pid = 0;
        buf b = {0};
        slurp(g.log, &b);
        if (strstr(b.data, "ERROR: AddressSanitizer") || strstr(b.data, "runtime error:") ||
            strstr(b.data, "ERROR: LeakSanitizer")) {
            print_error("sanitizer report in %s:\n%s\n", g.log, b.data);
            rc = -1;
        }
        buf_free(&b);
        if (st == -1 || !WIFEXITED(st) || WEXITSTATUS(st) != 0) {
            print_error("the daemon did not exit 0 on SIGTERM (wait status %#x)\n", st);
            rc = -1;
        }
    }
    buf_free(&mala_npy);
    if (!getenv("MCMCD_E2E_KEEP")) nftw(g.dir, remove_entry, 16, FTW_DEPTH | FTW_PHYS);
    return rc;
}

/* --- 9. health, info, metrics ---------------------------------------- */

static void test_health_info_metrics(void **state) {
    (void)state;
    calibrate(); /* a job that succeeded, for the metrics */
    resp r = {0};
    get(&r, "/healthz");
    expect_status(&r, 200);
    json_t *j = resp_json(&r);
    assert_string_equal(jstr(j, "status"), "ok");
    json_decref(j);

    get(&r, "/v1/info");
    expect_status(&r, 200);
    assert_header(&r, "Content-Type", "application/json");
    j = resp_json(&r);
    assert_string_equal(jstr(j, "name"), "mcmcd");
    assert_true(strlen(jstr(j, "version")) > 0);
    json_t *models = json_object_get(j, "models"), *samplers = json_object_get(j, "samplers");
    /* every model of the table, with its parameters and the kind of y it takes */
    size_t k = 0;
    for (; model_table[k]; k++) {
        json_t *m = json_array_get(models, k);
        assert_string_equal(jstr(m, "name"), model_table[k]->name);
        assert_int_equal(json_array_size(json_object_get(m, "params")), model_table[k]->num_params);
    }
    assert_int_equal(json_array_size(models), k);
    /* every sampler of the table, with its parameters */
    size_t i = 0;
    for (; sampler_table[i]; i++) {
        json_t *s = json_array_get(samplers, i);
        assert_string_equal(jstr(s, "name"), sampler_table[i]->name);
        assert_int_equal(json_array_size(json_object_get(s, "params")),
                         sampler_table[i]->num_params);
    }
    assert_int_equal(json_array_size(samplers), i);
    assert_int_equal(jint(j, "workers"), 2);
    json_t *limits = json_object_get(j, "limits");
    assert_true(json_is_object(limits));
    assert_int_equal(jint(limits, "max_body_bytes"), 1 << 20);
    assert_true(jint(limits, "max_queued_jobs") > 0);
    assert_true(jint(limits, "max_chains_per_job") > 0);
    assert_true(jint(limits, "max_draw_values_per_job") > 0);
    json_decref(j);

    get(&r, "/metrics");
    expect_status(&r, 200);
    char ct[128];
    assert_true(resp_header(&r, "Content-Type", ct, sizeof ct));
    assert_true(!strncmp(ct, "text/plain", 10));
    const char *m = strstr(r.body.data, "\nmcmcd_jobs{state=\"succeeded\"} ");
    assert_non_null(m);
    assert_true(strtoull(m + strlen("\nmcmcd_jobs{state=\"succeeded\"} "), NULL, 10) >= 1);
    m = strstr(r.body.data, "\nmcmcd_queue_length ");
    assert_non_null(m);
    assert_int_equal(strtoull(m + strlen("\nmcmcd_queue_length "), NULL, 10), 0);
    assert_non_null(strstr(r.body.data, "# TYPE mcmcd_jobs gauge\n"));
    assert_non_null(strstr(r.body.data, "# TYPE mcmcd_queue_length gauge\n"));
    resp_free(&r);
}

/* --- 1. datasets ------------------------------------------------------ */

static void test_datasets(void **state) {
    (void)state;
    buf csv = {0}, js = {0};
    make_dataset_texts(&csv, &js);
    json_t *first = upload_small_csv();
    resp r = {0};

    /* the same rows as JSON: the same content hash, 200, the stored row */
    http_opts up = {.ctype = "application/json", .body = js.data, .len = js.len};
    http(&r, &up, "/v1/datasets");
    expect_status(&r, 200);
    json_t *again = resp_json(&r);
    assert_string_equal(jstr(again, "id"), g.csv_id);
    assert_true(json_equal(first, again));
    json_decref(again);

    get(&r, "/v1/datasets/%s", g.csv_id);
    expect_status(&r, 200);
    json_t *meta = resp_json(&r);
    assert_true(json_equal(first, meta));
    json_decref(meta);

    /* a synthetic spec */
    const char *syn = "{\"synthetic\": {\"n\": 300, \"d\": 2, \"seed\": 5}, \"name\": \"syn-300\"}";
    post_json(&r, "/v1/datasets", syn);
    expect_status(&r, 201);
    json_t *sm = resp_json(&r);
    check_dataset_meta(sm, "syn-300", 300, 2);
    char syn_id[DS_ID_MAX];
    snprintf(syn_id, sizeof syn_id, "%s", jstr(sm, "id"));
    assert_string_not_equal(syn_id, g.csv_id);
    post_json(&r, "/v1/datasets", syn);
    expect_status(&r, 200);
    json_t *sm2 = resp_json(&r);
    assert_true(json_equal(sm, sm2));
    json_decref(sm2);

    /* the list holds both, as their metadata says */
    get(&r, "/v1/datasets");
    expect_status(&r, 200);
    json_t *list = resp_json(&r), *e;
    size_t i;
    int seen = 0;
    json_array_foreach(json_object_get(list, "datasets"), i, e) {
        if (!strcmp(jstr(e, "id"), g.csv_id)) seen |= 1, assert_true(json_equal(e, first));
        if (!strcmp(jstr(e, "id"), syn_id)) seen |= 2, assert_true(json_equal(e, sm));
    }
    assert_int_equal(seen, 3);
    json_decref(list);

    /* bad uploads */
    post_json(&r, "/v1/datasets", "{\"synthetic\": {\"n\": 0, \"d\": 2}}");
    expect_error(&r, 422, NULL);
    up = (http_opts){.ctype = "text/csv", .body = "1,2,1\n3,0\n", .len = 10};
    http(&r, &up, "/v1/datasets");
    expect_error(&r, 400, NULL);

    /* delete while a job uses it: 204 at once, the name is gone for the
     * user, but the bytes stay until the job ends; then 404 */
    char spec[512], jid[JOB_ID_MAX];
    snprintf(spec, sizeof spec,
             "{\"data\": {\"dataset\": \"%s\"}, \"sampler\": {\"type\": \"ula\", \"step_size\": "
             "0.001}, \"num_samples\": 100, \"thin\": 10000000, \"progress_every\": 10000}",
             syn_id);
    submit(spec, jid);
    json_decref(wait_draws(jid, 0, 30 * SLOW));
    char payload[512];
    snprintf(payload, sizeof payload, "%s/datasets/%s.ds", g.data_dir, syn_id);
    assert_int_equal(access(payload, F_OK), 0);
    call(&r, "DELETE", "/v1/datasets/%s", syn_id);
    expect_status(&r, 204);
    get(&r, "/v1/datasets/%s", syn_id);
    expect_error(&r, 404, "not_found");
    assert_int_equal(access(payload, F_OK), 0); /* the running job needs it */
    call(&r, "POST", "/v1/jobs/%s/cancel", jid);
    expect_status(&r, 202);
    json_decref(wait_state(jid, "cancelled", 5 * SLOW));
    assert_int_equal(access(payload, F_OK), -1);
    get(&r, "/v1/datasets/%s", syn_id);
    expect_error(&r, 404, "not_found");
    call(&r, "DELETE", "/v1/datasets/%s", syn_id);
    expect_error(&r, 404, "not_found");
    post_json(&r, "/v1/jobs", spec); /* names the deleted dataset */
    json_t *err = check_error(&r, 422, "invalid_spec");
    json_t *d0 = json_array_get(json_object_get(json_object_get(err, "error"), "details"), 0);
    assert_string_equal(jstr(d0, "path"), "data.dataset");
    json_decref(err);
    get(&r, "/v1/datasets");
    list = resp_json(&r);
    json_array_foreach(json_object_get(list, "datasets"), i, e)
        assert_string_not_equal(jstr(e, "id"), syn_id);
    json_decref(list);

    json_decref(sm);
    json_decref(first);
    resp_free(&r);
    buf_free(&csv);
    buf_free(&js);
}

/* --- 2. jobs and their events ---------------------------------------- */

#define MALA_SPEC                                                                                  \
    "{\"model\": {\"type\": \"logistic_regression\", \"prior_variance\": 10.0}, \"data\": "        \
    "{\"synthetic\": {\"n\": 500, \"d\": 3, \"seed\": 3}}, \"sampler\": {\"type\": \"mala\", "     \
    "\"step_size\": 0.01}, \"num_samples\": 1000, \"chains\": 2, \"key\": 42, \"init\": "          \
    "\"true\", \"progress_every\": 100}"

/* A short job run to succeeded, and one cancelled while it runs: history
 * for the list, restart and metrics checks. */
static void finish_two_jobs(void) {
    char id[JOB_ID_MAX];
    submit("{\"model\": {\"type\": \"gaussian\", \"mean\": [1, -1], \"cov\": [[1, 0], [0, "
           "1]]}, \"sampler\": {\"type\": \"mala\", \"step_size\": 0.5}, \"num_samples\": 100, "
           "\"key\": 7}",
           id);
    json_decref(wait_state(id, "succeeded", 20 * SLOW));
    submit("{\"data\": {\"synthetic\": {\"n\": 300, \"d\": 2, \"seed\": 5}}, \"sampler\": "
           "{\"type\": \"ula\", \"step_size\": 0.001}, \"num_samples\": 100, \"thin\": 10000000, "
           "\"progress_every\": 10000}",
           id);
    json_decref(wait_draws(id, 0, 30 * SLOW));
    resp r = {0};
    call(&r, "POST", "/v1/jobs/%s/cancel", id);
    expect_status(&r, 202);
    json_decref(wait_state(id, "cancelled", 5 * SLOW));
    resp_free(&r);
}

/* Runs MALA_SPEC to succeeded; keeps its id and its .npy draws. */
static void run_mala(void) {
    submit(MALA_SPEC, g.mala_id);
    json_decref(wait_state(g.mala_id, "succeeded", 30 * SLOW));
    resp r = {0};
    get(&r, "/v1/jobs/%s/draws?format=npy", g.mala_id);
    expect_status(&r, 200);
    buf_free(&mala_npy);
    buf_add(&mala_npy, r.body.data, r.body.len);
    resp_free(&r);
}

static void test_job_events(void **state) {
    (void)state;
    finish_two_jobs();
    submit(MALA_SPEC, g.mala_id);
    const char *id = g.mala_id;
    resp r = {0};

    /* watched live, to the end */
    get(&r, "/v1/jobs/%s/events", id);
    expect_status(&r, 200);
    assert_header(&r, "Content-Type", "application/x-ndjson");
    json_t *all = parse_ndjson(&r.body, 1);
    check_event_log(all, id, 1, "succeeded", 2, 1000);
    json_int_t last = jint(json_array_get(all, json_array_size(all) - 1), "seq");

    /* the same as Server-Sent Events */
    http_opts sse = {.hdr = {"Accept: text/event-stream"}};
    http(&r, &sse, "/v1/jobs/%s/events", id);
    expect_status(&r, 200);
    assert_header(&r, "Content-Type", "text/event-stream");
    json_t *sevs = parse_sse(&r.body);
    assert_int_equal(json_array_size(sevs), json_array_size(all));
    assert_events_tail(all, sevs, 0);
    json_decref(sevs);
    sse.hdr[1] = "Last-Event-ID: 6";
    http(&r, &sse, "/v1/jobs/%s/events", id);
    sevs = parse_sse(&r.body);
    assert_events_tail(all, sevs, 6);
    json_decref(sevs);

    /* resume: exactly the events after N */
    json_t *tail = events_after(id, "?after=5", NULL);
    assert_events_tail(all, tail, 5);
    json_decref(tail);
    tail = events_after(id, "", "Last-Event-ID: 5");
    assert_events_tail(all, tail, 5);
    json_decref(tail);
    tail = events_after(id, "?after=2", "Last-Event-ID: 7"); /* the header wins */
    assert_events_tail(all, tail, 7);
    json_decref(tail);
    char q[64];
    snprintf(q, sizeof q, "?after=%lld", (long long)last);
    tail = events_after(id, q, NULL);
    assert_int_equal(json_array_size(tail), 0);
    json_decref(tail);
    json_decref(all);

    /* the status of the finished job */
    json_t *j = get_job(id);
    assert_string_equal(jstr(j, "state"), "succeeded");
    assert_true(json_is_null(json_object_get(j, "error")));
    int64_t created = iso_ms(jstr(j, "created")), started = iso_ms(jstr(j, "started")),
            finished = iso_ms(jstr(j, "finished"));
    assert_true(created > 0 && created <= started && started <= finished);
    json_t *shape = json_object_get(j, "shape");
    assert_int_equal(json_integer_value(json_array_get(shape, 0)), 2);
    assert_int_equal(json_integer_value(json_array_get(shape, 1)), 1000);
    assert_int_equal(json_integer_value(json_array_get(shape, 2)), 3);
    json_t *prog = json_object_get(j, "progress");
    assert_int_equal(jint(prog, "iter"), 2000);
    assert_int_equal(jint(prog, "total"), 2000);
    json_t *chains = json_object_get(j, "chains"), *c;
    size_t i;
    assert_int_equal(json_array_size(chains), 2);
    json_array_foreach(chains, i, c) {
        assert_int_equal(jint(c, "chain"), (json_int_t)i);
        assert_int_equal(jint(c, "iter"), 1000);
        assert_int_equal(jint(c, "draws"), 1000);
        double a = jnum(c, "accept_rate");
        assert_true(a > 0 && a <= 1);
    }
    json_t *spec = json_object_get(j, "spec");
    assert_string_equal(jstr(json_object_get(spec, "sampler"), "type"), "mala");
    assert_int_equal(jint(spec, "num_samples"), 1000);
    json_decref(j);

    /* listing: a state filter, and pages that visit every job once */
    get(&r, "/v1/jobs?state=succeeded");
    expect_status(&r, 200);
    json_t *list = resp_json(&r), *e;
    int seen = 0;
    json_array_foreach(json_object_get(list, "jobs"), i, e) {
        assert_string_equal(jstr(e, "state"), "succeeded");
        seen += !strcmp(jstr(e, "id"), id);
    }
    assert_int_equal(seen, 1);
    json_decref(list);
    get(&r, "/v1/jobs?state=cancelled");
    list = resp_json(&r);
    json_array_foreach(json_object_get(list, "jobs"), i, e)
        assert_string_not_equal(jstr(e, "id"), id);
    json_decref(list);
    char token[256] = "";
    int pages = 0, found = 0, total = 0;
    do {
        get(&r, "/v1/jobs?page_size=1%s%s", token[0] ? "&page_token=" : "", token);
        expect_status(&r, 200);
        list = resp_json(&r);
        json_t *jobs = json_object_get(list, "jobs");
        assert_true(json_array_size(jobs) <= 1);
        json_array_foreach(jobs, i, e) found += !strcmp(jstr(e, "id"), id), total++;
        snprintf(token, sizeof token, "%s", jstr(list, "next_page_token"));
        json_decref(list);
        assert_true(++pages < 100);
    } while (token[0]);
    assert_int_equal(found, 1);
    assert_true(total >= 3); /* the two finished before, this one */
    resp_free(&r);
}

/* --- 3. draws equal `mcmcd run`'s ------------------------------------- */

/* The daemon's draws of job id in every format equal the files `mcmcd run`
 * writes for spec (rows from data when not NULL). Keeps the .npy. */
static void check_draws_like_offline(const char *id, const char *spec, const char *data,
                                     const char *tag, buf *npy_out) {
    char spec_path[200], out[200];
    snprintf(spec_path, sizeof spec_path, "%s/%s-spec.json", g.dir, tag);
    spit(spec_path, spec, strlen(spec));
    static const char *const fmts[] = {"npy", "csv", "json"};
    static const char *const types[] = {"application/x-npy", "text/csv", "application/json"};
    pid_t pids[3];
    for (int f = 0; f < 3; f++) {
        snprintf(out, sizeof out, "%s/%s.%s", g.dir, tag, fmts[f]);
        pids[f] = offline_spawn(spec_path, data, out);
    }
    for (int f = 0; f < 3; f++)
        offline_wait(pids[f]);
    resp r = {0};
    buf want = {0};
    char what[128];
    for (int f = 0; f < 3; f++) {
        snprintf(out, sizeof out, "%s/%s.%s", g.dir, tag, fmts[f]);
        slurp(out, &want);
        get(&r, "/v1/jobs/%s/draws?format=%s", id, fmts[f]);
        expect_status(&r, 200);
        assert_header(&r, "Content-Type", types[f]);
        snprintf(what, sizeof what, "%s draws as %s", tag, fmts[f]);
        assert_same_bytes(&r.body, &want, what);
        /* the same by the Accept header (JSON: no header at all) */
        char accept[64];
        snprintf(accept, sizeof accept, "Accept: %s", types[f]);
        http_opts o = {.hdr = {f < 2 ? accept : NULL}};
        http(&r, &o, "/v1/jobs/%s/draws", id);
        expect_status(&r, 200);
        assert_header(&r, "Content-Type", types[f]);
        snprintf(what, sizeof what, "%s draws by Accept %s", tag, types[f]);
        assert_same_bytes(&r.body, &want, what);
        if (f == 0) {
            buf_free(npy_out);
            buf_add(npy_out, want.data, want.len);
        }
    }
    buf_free(&want);
    resp_free(&r);
}

static void test_draws_equal_offline(void **state) {
    (void)state;
    json_decref(upload_small_csv());
    submit(MALA_SPEC, g.mala_id);
    json_decref(wait_state(g.mala_id, "succeeded", 30 * SLOW));
    check_draws_like_offline(g.mala_id, MALA_SPEC, NULL, "mala-synthetic", &mala_npy);

    /* the same spec shape on the uploaded CSV; offline reads the CSV file */
    char spec[512], id[JOB_ID_MAX];
    snprintf(spec, sizeof spec,
             "{\"model\": {\"type\": \"logistic_regression\", \"prior_variance\": 10.0}, "
             "\"data\": {\"dataset\": \"%s\"}, \"sampler\": {\"type\": \"mala\", \"step_size\": "
             "0.05}, \"num_samples\": 1000, \"chains\": 2, \"key\": [1, 2], \"init\": \"zeros\", "
             "\"progress_every\": 250}",
             g.csv_id);
    submit(spec, id);
    json_t *j = wait_state(id, "succeeded", 30 * SLOW);
    assert_string_equal(jstr(j, "dataset"), g.csv_id);
    json_decref(j);
    buf ds_npy = {0};
    check_draws_like_offline(id, spec, g.csv_path, "mala-dataset", &ds_npy);
    buf_free(&ds_npy);

    /* selections: chain 1, draws 10, 12, ..., 18 */
    npy full, sel;
    npy_parse(&mala_npy, &full);
    assert_true(full.shape[0] == 2 && full.shape[1] == 1000 && full.shape[2] == 3);
    resp r = {0};
    get(&r, "/v1/jobs/%s/draws?format=npy&chain=1&start=10&stop=20&thin=2", g.mala_id);
    expect_status(&r, 200);
    npy_parse(&r.body, &sel);
    assert_true(sel.shape[0] == 1 && sel.shape[1] == 5 && sel.shape[2] == 3);
    for (uint64_t k = 0; k < 5; k++)
        for (uint64_t p = 0; p < 3; p++)
            assert_true(npy_at(&sel, 0, k, p) == npy_at(&full, 1, 10 + 2 * k, p));
    get(&r, "/v1/jobs/%s/draws?format=csv&chain=1&start=10&stop=20&thin=2", g.mala_id);
    expect_status(&r, 200);
    const char *line = r.body.data;
    assert_true(!strncmp(line, "chain,draw,theta.1,theta.2,theta.3\n", 35));
    line += 35;
    for (uint64_t k = 0; k < 5; k++) {
        char *end;
        assert_int_equal(strtoul(line, &end, 10), 1);
        assert_int_equal(*end, ',');
        assert_int_equal(strtoul(end + 1, &end, 10), 10 + 2 * k);
        for (uint64_t p = 0; p < 3; p++) {
            assert_int_equal(*end, ',');
            assert_true(strtod(end + 1, &end) == npy_at(&full, 1, 10 + 2 * k, p));
        }
        assert_int_equal(*end, '\n');
        line = end + 1;
    }
    assert_int_equal(*line, 0);
    get(&r, "/v1/jobs/%s/draws?format=json&start=995", g.mala_id);
    expect_status(&r, 200);
    json_t *js = resp_json(&r);
    json_t *shape = json_object_get(js, "shape"), *draws = json_object_get(js, "draws");
    assert_int_equal(json_integer_value(json_array_get(shape, 0)), 2);
    assert_int_equal(json_integer_value(json_array_get(shape, 1)), 5);
    for (size_t c = 0; c < 2; c++)
        for (size_t k = 0; k < 5; k++)
            for (size_t p = 0; p < 3; p++) {
                json_t *v = json_array_get(json_array_get(json_array_get(draws, c), k), p);
                assert_true(json_real_value(v) == npy_at(&full, c, 995 + k, p));
            }
    json_decref(js);
    http_opts nd = {.hdr = {"Accept: application/x-ndjson"}}; /* a snapshot as rows */
    http(&r, &nd, "/v1/jobs/%s/draws", g.mala_id);
    expect_status(&r, 200);
    assert_header(&r, "Content-Type", "application/x-ndjson");
    uint64_t all_rows[2] = {1000, 1000};
    check_draw_rows(&r.body, &full, all_rows, 2);
    get(&r, "/v1/jobs/%s/draws?format=npy&start=5&stop=5", g.mala_id); /* empty */
    expect_status(&r, 200);
    npy_parse(&r.body, &sel);
    assert_true(sel.shape[0] == 2 && sel.shape[1] == 0 && sel.shape[2] == 3);
    resp_free(&r);
}

/* --- 6. summary ------------------------------------------------------- */

static void test_summary(void **state) {
    (void)state;
    run_mala();
    npy n;
    npy_parse(&mala_npy, &n);
    resp r = {0};
    get(&r, "/v1/jobs/%s/summary", g.mala_id);
    expect_status(&r, 200);
    json_t *s = resp_json(&r);
    assert_string_equal(jstr(s, "job"), g.mala_id);
    assert_string_equal(jstr(s, "state"), "succeeded");
    assert_int_equal(jint(s, "draws_per_chain"), 1000);
    json_t *params = json_object_get(s, "parameters"), *p;
    assert_int_equal(json_array_size(params), 3);
    size_t i;
    json_array_foreach(params, i, p) {
        char name[32];
        snprintf(name, sizeof name, "theta.%zu", i + 1);
        assert_string_equal(jstr(p, "name"), name);
        double sum = 0, sum_abs = 0, lo = INFINITY, hi = -INFINITY;
        for (uint64_t c = 0; c < n.shape[0]; c++)
            for (uint64_t k = 0; k < n.shape[1]; k++) {
                double x = npy_at(&n, c, k, i);
                sum += x, sum_abs += fabs(x);
                lo = fmin(lo, x), hi = fmax(hi, x);
            }
        double cnt = (double)(n.shape[0] * n.shape[1]), mean = sum / cnt;
        double ss = 0;
        for (uint64_t c = 0; c < n.shape[0]; c++)
            for (uint64_t k = 0; k < n.shape[1]; k++)
                ss += (npy_at(&n, c, k, i) - mean) * (npy_at(&n, c, k, i) - mean);
        double m = jnum(p, "mean"), scale = fmax(fabs(mean), sum_abs / cnt);
        if (fabs(m - mean) > 1e-12 * scale)
            print_error("%s: mean %.17g, draws' mean %.17g\n", name, m, mean);
        assert_true(fabs(m - mean) <= 1e-12 * scale);
        double sd = jnum(p, "sd"), sd_n = sqrt(ss / cnt), sd_n1 = sqrt(ss / (cnt - 1));
        assert_true(sd >= sd_n * (1 - 1e-9) && sd <= sd_n1 * (1 + 1e-9));
        double q05 = jnum(p, "q05"), q50 = jnum(p, "q50"), q95 = jnum(p, "q95");
        assert_true(lo <= q05 && q05 <= q50 && q50 <= q95 && q95 <= hi);
        double mcse = jnum(p, "mcse_mean"), eb = jnum(p, "ess_bulk"), et = jnum(p, "ess_tail");
        double rhat = jnum(p, "rhat");
        assert_true(mcse > 0 && mcse < sd);
        assert_true(eb > 10 && eb <= 10 * cnt && et > 10 && et <= 10 * cnt);
        assert_true(rhat > 0.9 && rhat < 1.1);
    }
    json_t *status = get_job(g.mala_id);
    json_t *chains = json_object_get(s, "chains"), *c;
    assert_int_equal(json_array_size(chains), 2);
    json_array_foreach(chains, i, c) {
        assert_int_equal(jint(c, "chain"), (json_int_t)i);
        double a = jnum(c, "accept_rate");
        assert_true(a > 0 && a <= 1);
        json_t *sc = json_array_get(json_object_get(status, "chains"), i);
        assert_true(fabs(a - jnum(sc, "accept_rate")) <= 1e-12);
    }
    json_decref(status);
    json_decref(s);
    get(&r, "/v1/jobs/%s/summary", "0123456789abcdef01234567");
    expect_error(&r, 404, "not_found");
    resp_free(&r);
}

/* --- 4. follow=1 while running ---------------------------------------- */

static void test_follow_draws(void **state) {
    (void)state;
    calibrate();
    enum { CHAINS = 2, SAMPLES = 400 };
    char spec[512], id[JOB_ID_MAX];
    timed_spec(spec, sizeof spec, 1.5, CHAINS, SAMPLES, 20, 5);
    submit(spec, id);
    double deadline = mono_s() + 30 * SLOW;
    for (;;) { /* follow from while it runs */
        json_t *j = get_job(id);
        int running = !strcmp(jstr(j, "state"), "running");
        assert_false(state_is_final(jstr(j, "state")));
        json_decref(j);
        if (running) break;
        assert_true(mono_s() < deadline);
        sleep_ms(5);
    }
    resp r = {0};
    get(&r, "/v1/jobs/%s/draws?follow=1", id);
    expect_status(&r, 200);
    assert_header(&r, "Content-Type", "application/x-ndjson");
    json_t *j = wait_state(id, "succeeded", 5 * SLOW);
    int64_t finished = iso_ms(jstr(j, "finished"));
    json_decref(j);
    assert_true(r.first_line_ms > 0);
    if (r.first_line_ms >= finished)
        print_error("the first row came %lld ms after the job finished\n",
                    (long long)(r.first_line_ms - finished));
    assert_true(r.first_line_ms < finished); /* rows arrived while it ran */

    resp nr = {0};
    get(&nr, "/v1/jobs/%s/draws?format=npy", id);
    expect_status(&nr, 200);
    npy n;
    npy_parse(&nr.body, &n);
    assert_true(n.shape[0] == CHAINS && n.shape[1] == SAMPLES && n.shape[2] == CAL_D);
    uint64_t want[CHAINS] = {SAMPLES, SAMPLES};
    check_draw_rows(&r.body, &n, want, CHAINS);

    /* following a finished job: every row, then the end */
    get(&r, "/v1/jobs/%s/draws?follow=1&chain=1&start=390", id);
    expect_status(&r, 200);
    assert_true(r.body.len > 0 && r.body.data[r.body.len - 1] == '\n');
    const char *p = r.body.data;
    for (int k = 0; k < 10; k++) {
        const char *nl = strchr(p, '\n');
        assert_non_null(nl);
        json_t *row = json_loadb(p, (size_t)(nl - p), 0, NULL);
        assert_true(json_is_object(row));
        assert_int_equal(jint(row, "chain"), 1);
        assert_int_equal(jint(row, "draw"), 390 + k);
        json_decref(row);
        p = nl + 1;
    }
    assert_int_equal(*p, 0);
    resp_free(&nr);
    resp_free(&r);
}

/* --- 5. cancel -------------------------------------------------------- */

/* Sanitized builds take ~30x longer per row here: fewer rows, same blocks. */
#define LONG_SPEC                                                                                  \
    "{\"data\": {\"synthetic\": {\"n\": %d, \"d\": 5, \"seed\": 1}}, \"sampler\": {\"type\": "     \
    "\"ula\", \"step_size\": 0.000001}, \"chains\": 2, \"num_samples\": %d, \"key\": 3, "          \
    "\"progress_every\": 1000}"
#define LONG_N (SLOW > 1 ? 10000 : 100000)

/* A job queued behind a running one: its stream idles with heartbeats; a
 * cancel ends it at once, with no draws. */
static void check_queued_cancel(void) {
    char id[JOB_ID_MAX];
    submit(MALA_SPEC, id);
    json_t *j = get_job(id);
    assert_string_equal(jstr(j, "state"), "queued");
    json_decref(j);
    resp r = {0};
    http_opts cut = {.timeout_ms = 1300};
    http(&r, &cut, "/v1/jobs/%s/events", id);
    expect_status(&r, 200);
    int events = 0, beats = 0;
    for (const char *p = r.body.data, *nl; (nl = strchr(p, '\n')); p = nl + 1) {
        json_t *e = json_loadb(p, (size_t)(nl - p), 0, NULL);
        assert_true(json_is_object(e));
        if (!strcmp(jstr(e, "type"), "heartbeat")) {
            assert_null(json_object_get(e, "seq"));
            assert_true(jnum(e, "time") > 1e9);
            beats++;
        } else {
            assert_string_equal(jstr(e, "type"), "state");
            assert_string_equal(jstr(e, "state"), "queued");
            events++;
        }
        json_decref(e);
    }
    assert_int_equal(events, 1);
    assert_true(beats >= 1);
    http_opts sse = {.timeout_ms = 1300, .hdr = {"Accept: text/event-stream"}};
    http(&r, &sse, "/v1/jobs/%s/events", id);
    assert_non_null(strstr(r.body.data, "\n\n:")); /* an SSE comment: the heartbeat */

    call(&r, "POST", "/v1/jobs/%s/cancel", id);
    expect_status(&r, 202);
    j = get_job(id); /* at once: it never ran */
    assert_string_equal(jstr(j, "state"), "cancelled");
    assert_true(json_is_null(json_object_get(j, "started")));
    json_decref(j);
    get(&r, "/v1/jobs/%s/events", id);
    json_t *evs = parse_ndjson(&r.body, 1);
    assert_int_equal(json_array_size(evs), 2);
    assert_string_equal(jstr(json_array_get(evs, 0), "state"), "queued");
    json_t *done = json_array_get(evs, 1);
    assert_string_equal(jstr(done, "type"), "done");
    assert_string_equal(jstr(done, "state"), "cancelled");
    assert_int_equal(jint(done, "seq"), 2);
    json_decref(evs);
    get(&r, "/v1/jobs/%s/draws?format=npy", id);
    expect_status(&r, 200);
    npy n;
    npy_parse(&r.body, &n);
    assert_true(n.shape[0] == 2 && n.shape[1] == 0 && n.shape[2] == 3);
    get(&r, "/v1/jobs/%s/summary", id);
    expect_status(&r, 200);
    json_t *s = resp_json(&r);
    assert_int_equal(jint(s, "draws_per_chain"), 0);
    assert_int_equal(json_array_size(json_object_get(s, "parameters")), 3);
    json_decref(s);
    call(&r, "DELETE", "/v1/jobs/%s", id);
    expect_status(&r, 204);
    resp_free(&r);
}

static void test_cancel(void **state) {
    (void)state;
    char spec[512], id[JOB_ID_MAX];
    snprintf(spec, sizeof spec, LONG_SPEC, LONG_N, 1000000);
    submit(spec, id);
    json_decref(wait_draws(id, 1000, 60 * SLOW));
    resp r = {0};
    call(&r, "DELETE", "/v1/jobs/%s", id); /* running: refused */
    expect_error(&r, 409, "conflict");

    /* while it runs: a rectangular snapshot, a summary of it, a queued job */
    get(&r, "/v1/jobs/%s/draws?format=npy", id);
    expect_status(&r, 200);
    buf snap = {0};
    buf_add(&snap, r.body.data, r.body.len);
    npy sn;
    npy_parse(&snap, &sn);
    assert_true(sn.shape[0] == 2 && sn.shape[1] >= 1000 && sn.shape[2] == 5);
    get(&r, "/v1/jobs/%s/summary", id);
    expect_status(&r, 200);
    json_t *s = resp_json(&r);
    assert_string_equal(jstr(s, "state"), "running");
    assert_true(jint(s, "draws_per_chain") >= 1000);
    assert_true(isfinite(jnum(json_array_get(json_object_get(s, "parameters"), 0), "mean")));
    json_decref(s);
    check_queued_cancel();

    /* the chains stop at their next block (progress_every = 1000 rows),
     * however slowly a loaded machine runs them: each ends at most three
     * blocks past what this read shows (a report still on its way to the
     * loop, a block ended between this read and the cancel, the block it
     * is in), not near its 1,000,000 */
    json_int_t before[2];
    json_t *j = get_job(id), *c;
    size_t i;
    json_array_foreach(json_object_get(j, "chains"), i, c) before[i] = jint(c, "draws");
    json_decref(j);
    double t0 = mono_s();
    call(&r, "POST", "/v1/jobs/%s/cancel", id);
    expect_status(&r, 202);
    json_t *ack = resp_json(&r);
    assert_string_equal(jstr(ack, "id"), id);
    json_decref(ack);
    j = wait_state(id, "cancelled", 60 * SLOW);
    print_message("# cancelled in %.2f s\n", mono_s() - t0);
    json_t *chains = json_object_get(j, "chains");
    uint64_t min_draws = UINT64_MAX, per_chain[2];
    json_array_foreach(chains, i, c) {
        json_int_t d = jint(c, "draws");
        assert_true(d > 0 && d < 1000000);
        assert_true(d <= before[i] + 3000);
        per_chain[i] = (uint64_t)d;
        if ((uint64_t)d < min_draws) min_draws = (uint64_t)d;
    }
    json_decref(j);

    /* the draws kept: a rectangular [chains, min draws, d], as computed */
    get(&r, "/v1/jobs/%s/draws?format=npy", id);
    expect_status(&r, 200);
    npy n;
    npy_parse(&r.body, &n);
    assert_true(n.shape[0] == 2 && n.shape[1] == min_draws && n.shape[2] == 5);
    for (uint64_t ch = 0; ch < 2; ch++) /* the snapshot was a prefix */
        for (uint64_t k = 0; k < sn.shape[1]; k++)
            for (uint64_t p = 0; p < 5; p++)
                assert_true(npy_at(&sn, ch, k, p) == npy_at(&n, ch, k, p));
    buf_free(&snap);
    char spec_path[200], out[200];
    snprintf(spec, sizeof spec, LONG_SPEC, LONG_N, 1000);
    snprintf(spec_path, sizeof spec_path, "%s/long-1000.json", g.dir);
    snprintf(out, sizeof out, "%s/long-1000.npy", g.dir);
    spit(spec_path, spec, strlen(spec));
    offline_run(spec_path, NULL, out);
    buf want = {0};
    slurp(out, &want);
    npy w;
    npy_parse(&want, &w);
    for (uint64_t ch = 0; ch < 2; ch++) /* the first block is an offline run's */
        for (uint64_t k = 0; k < 1000; k++)
            for (uint64_t p = 0; p < 5; p++)
                assert_true(npy_at(&n, ch, k, p) == npy_at(&w, ch, k, p));
    buf_free(&want);
    /* following a cancelled job: each chain to its own last draw */
    resp fr = {0};
    get(&fr, "/v1/jobs/%s/draws?follow=1", id);
    expect_status(&fr, 200);
    check_draw_rows(&fr.body, &n, per_chain, 2);
    resp_free(&fr);

    call(&r, "POST", "/v1/jobs/%s/cancel", id);
    expect_error(&r, 409, "conflict");
    call(&r, "DELETE", "/v1/jobs/%s", id);
    expect_status(&r, 204);
    get(&r, "/v1/jobs/%s", id);
    expect_error(&r, 404, "not_found");
    get(&r, "/v1/jobs/%s/draws", id);
    expect_error(&r, 404, "not_found");
    call(&r, "DELETE", "/v1/jobs/%s", id);
    expect_error(&r, 404, "not_found");
    char dir[300];
    snprintf(dir, sizeof dir, "%s/jobs/%s", g.data_dir, id);
    struct stat sb;
    assert_int_equal(stat(dir, &sb), -1); /* its draws went with it */
    resp_free(&r);
}

/* --- 7. bad input ------------------------------------------------------ */

static void check_raw_413(const buf *b) {
    if (strncmp(b->data, "HTTP/1.1 413", 12) != 0)
        print_error("expected a 413, got: %.300s\n", b->data);
    assert_true(!strncmp(b->data, "HTTP/1.1 413", 12));
    const char *body = strstr(b->data, "\r\n\r\n");
    assert_non_null(body);
    json_t *j = json_loads(body + 4, 0, NULL);
    assert_non_null(j);
    assert_string_equal(jstr(json_object_get(j, "error"), "code"), "body_too_large");
    json_decref(j);
}

static void expect_detail(const json_t *err, const char *path) {
    json_t *details = json_object_get(json_object_get(err, "error"), "details"), *d;
    size_t i;
    json_array_foreach(details, i, d) {
        assert_true(strlen(jstr(d, "message")) > 0);
        if (!strcmp(jstr(d, "path"), path)) return;
    }
    char *text = json_dumps(err, JSON_COMPACT);
    print_error("no error at path %s in %s\n", path, text);
    free(text);
    fail();
}

static void expect_405(resp *r, const char *method, const char *path, const char *allow) {
    call(r, method, "%s", path);
    expect_error(r, 405, "method_not_allowed");
    assert_header(r, "Allow", allow);
}

static void test_bad_input(void **state) {
    (void)state;
    enum { CHAINS = 2, SAMPLES = 300 };
    char spec[512], id[JOB_ID_MAX];
    calibrate();
    json_decref(upload_small_csv());
    timed_spec(spec, sizeof spec, 2.0, CHAINS, SAMPLES, 10, 17);
    submit(spec, id); /* runs through all of this */
    json_decref(wait_draws(id, 0, 30 * SLOW));
    resp r = {0};
    buf raw = {0};

    /* 413 from the declared length, with the body never sent */
    double t0 = mono_s();
    raw_request("POST /v1/jobs HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
                "Content-Length: 10485760\r\n\r\n",
                "{\"chains\":", 10, &raw, (int)(5000 * SLOW));
    check_raw_413(&raw);
    assert_true(mono_s() - t0 < 4 * SLOW);
    buf_free(&raw);
    /* 413 for a chunked body that grows past the limit */
    buf big = {0};
    size_t chunk = (1u << 20) + 4096;
    buf_printf(&big, "%zx\r\n", chunk);
    for (size_t k = 0; k < chunk / 4; k++)
        buf_add(&big, "1,0\n", 4);
    buf_printf(&big, "\r\n0\r\n\r\n");
    raw_request("POST /v1/datasets HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: text/csv\r\n"
                "Transfer-Encoding: chunked\r\n\r\n",
                big.data, big.len, &raw, (int)(10000 * SLOW));
    check_raw_413(&raw);
    buf_free(&raw);
    buf_free(&big);
    get(&r, "/healthz");
    expect_status(&r, 200);

    /* 415 */
    http_opts o = {.ctype = "text/plain", .body = "{}", .len = 2};
    http(&r, &o, "/v1/jobs");
    expect_error(&r, 415, NULL);
    o.ctype = NULL;
    http(&r, &o, "/v1/jobs");
    expect_error(&r, 415, NULL);
    o = (http_opts){.ctype = "application/xml", .body = "<x/>", .len = 4};
    http(&r, &o, "/v1/datasets");
    expect_error(&r, 415, NULL);

    /* 400 malformed JSON, with the byte offset: '}' is byte 13 (0-based),
     * column 14 */
    post_json(&r, "/v1/jobs", "{\"chains\": 2,}");
    json_t *err = check_error(&r, 400, NULL);
    const char *msg = jstr(json_object_get(err, "error"), "message");
    const char *off = strstr(msg, "offset ");
    if (!off) print_error("no byte offset in '%s'\n", msg);
    assert_non_null(off);
    long at = strtol(off + 7, NULL, 10);
    assert_true(at == 13 || at == 14);
    json_decref(err);
    post_json(&r, "/v1/jobs", "");
    expect_error(&r, 400, NULL);
    post_json(&r, "/v1/datasets", "{\"X\": [[1, 2]], \"y\": [");
    expect_error(&r, 400, NULL);

    /* 422 with every error and its path */
    post_json(&r, "/v1/jobs",
              "{\"data\": {\"synthetic\": {\"n\": 100, \"d\": 2}}, \"sampler\": {\"type\": "
              "\"mala\", \"step_size\": -1}, \"chains\": 0}");
    err = check_error(&r, 422, "invalid_spec");
    expect_detail(err, "sampler.step_size");
    expect_detail(err, "chains");
    json_decref(err);
    post_json(&r, "/v1/jobs",
              "{\"data\": {\"synthetic\": {\"n\": 100, \"d\": 2}}, \"sampler\": {\"type\": "
              "\"gibbs\", \"step_size\": 0.1}, \"num_samples\": -5, \"dtype\": \"float16\"}");
    err = check_error(&r, 422, "invalid_spec");
    expect_detail(err, "sampler.type");
    expect_detail(err, "num_samples");
    expect_detail(err, "dtype");
    json_decref(err);
    post_json(&r, "/v1/jobs", "[1, 2]");
    expect_error(&r, 422, "invalid_spec");
    post_json(&r, "/v1/jobs",
              "{\"data\": {\"synthetic\": {\"n\": 100, \"d\": 2}}, \"sampler\": {\"type\": "
              "\"ula\", \"step_size\": 0.1}, \"chains\": 2000}");
    err = check_error(&r, 422, "invalid_spec");
    expect_detail(err, "chains");
    json_decref(err);
    post_json(&r, "/v1/jobs",
              "{\"data\": {\"synthetic\": {\"n\": 100, \"d\": 2000}}, \"sampler\": {\"type\": "
              "\"ula\", \"step_size\": 0.1}, \"chains\": 1000, \"num_samples\": 100000}");
    err = check_error(&r, 422, "invalid_spec");
    expect_detail(err, "num_samples");
    json_decref(err);

    /* 404 */
    const char *nobody = "0123456789abcdef01234567";
    static const char *const actions[] = {"", "/events", "/draws", "/summary"};
    for (int k = 0; k < 4; k++) {
        get(&r, "/v1/jobs/%s%s", nobody, actions[k]);
        expect_error(&r, 404, "not_found");
    }
    call(&r, "POST", "/v1/jobs/%s/cancel", nobody);
    expect_error(&r, 404, "not_found");
    call(&r, "DELETE", "/v1/jobs/%s", nobody);
    expect_error(&r, 404, "not_found");
    get(&r, "/v1/datasets/%s", nobody);
    expect_error(&r, 404, "not_found");
    static const char *const routes[] = {
        "/ui", "/v2/jobs", "/v1/nope", "/v1/jobs/x/y/z", "/v1/jobs/x/draws/z", "/v1"};
    for (int k = 0; k < 6; k++) {
        get(&r, "%s", routes[k]);
        expect_error(&r, 404, "not_found");
    }
    char path[200];
    snprintf(path, sizeof path, "/v1/jobs/%s/bogus", id);
    get(&r, "%s", path);
    expect_error(&r, 404, "not_found");

    /* 405 with Allow */
    expect_405(&r, "PUT", "/v1/jobs", "GET, POST");
    expect_405(&r, "DELETE", "/v1/info", "GET");
    expect_405(&r, "POST", "/healthz", "GET");
    expect_405(&r, "DELETE", "/metrics", "GET");
    expect_405(&r, "PUT", "/v1/datasets", "GET, POST");
    snprintf(path, sizeof path, "/v1/datasets/%s", g.csv_id);
    expect_405(&r, "POST", path, "GET, DELETE");
    snprintf(path, sizeof path, "/v1/jobs/%s", id);
    expect_405(&r, "PUT", path, "GET, DELETE");
    snprintf(path, sizeof path, "/v1/jobs/%s/cancel", id);
    expect_405(&r, "GET", path, "POST");
    snprintf(path, sizeof path, "/v1/jobs/%s/draws", id);
    expect_405(&r, "DELETE", path, "GET");

    /* 400 on bad resumes and draw selections */
    static const char *const afters[] = {"abc", "-1", "1.5", "99999999999999999999999", ""};
    for (int k = 0; k < 5; k++) {
        get(&r, "/v1/jobs/%s/events?after=%s", id, afters[k]);
        expect_error(&r, 400, NULL);
    }
    o = (http_opts){.hdr = {"Last-Event-ID: x7"}};
    http(&r, &o, "/v1/jobs/%s/events", id);
    expect_error(&r, 400, NULL);
    static const char *const sels[] = {
        "chain=99", "chain=-1", "chain=x",   "start=abc",  "start=30&stop=20",
        "thin=0",   "stop=301", "start=301", "format=xml", "follow=1&format=csv"};
    for (int k = 0; k < 10; k++) {
        get(&r, "/v1/jobs/%s/draws?%s", id, sels[k]);
        expect_error(&r, 400, NULL);
    }
    static const char *const lists[] = {"page_size=abc", "page_size=-1", "state=bogus",
                                        "page_token=garbage"};
    for (int k = 0; k < 4; k++) {
        get(&r, "/v1/jobs?%s", lists[k]);
        expect_error(&r, 400, NULL);
    }

    /* the job ran through all of it */
    json_t *j = get_job(id);
    if (strcmp(jstr(j, "state"), "running") != 0)
        print_message("# note: the job had finished before the bad input was done\n");
    json_decref(j);
    j = wait_state(id, "succeeded", 30 * SLOW);
    json_t *c;
    size_t i;
    json_array_foreach(json_object_get(j, "chains"), i, c)
        assert_int_equal(jint(c, "draws"), SAMPLES);
    json_decref(j);
    get(&r, "/v1/jobs/%s/events?after=0", id);
    json_t *evs = parse_ndjson(&r.body, 1);
    check_event_log(evs, id, 1, "succeeded", CHAINS, SAMPLES);
    json_decref(evs);
    get(&r, "/v1/jobs/%s/draws?format=npy", id);
    expect_status(&r, 200);
    npy n;
    npy_parse(&r.body, &n);
    assert_true(n.shape[0] == CHAINS && n.shape[1] == SAMPLES && n.shape[2] == CAL_D);
    for (uint64_t ch = 0; ch < CHAINS; ch++)
        for (uint64_t k = 0; k < SAMPLES; k++)
            assert_true(isfinite(npy_at(&n, ch, k, 0)));
    resp_free(&r);
}

/* --- 8. restart -------------------------------------------------------- */

typedef struct kept_job {
    char id[JOB_ID_MAX];
    json_t *status;
    buf npy;
} kept_job;

/* --- the sampler's statistics, saved warmup, non-finite chains ------- */

/* The post-warmup mean of column col (0-based among the values after
 * chain,draw,warmup) over CSV rows; their count in *n. */
static double csv_post_warmup_mean(const char *csv, int col, int *n) {
    double sum = 0;
    *n = 0;
    for (const char *p = strchr(csv, '\n'); p && p[1]; p = strchr(p + 1, '\n')) {
        char *end;
        strtoul(p + 1, &end, 10);
        strtoull(end + 1, &end, 10);
        int warm = (int)strtol(end + 1, &end, 10);
        double v = 0;
        for (int k = 0; k <= col; k++)
            v = strtod(end + 1, &end);
        if (!warm) sum += v, ++*n;
    }
    return *n ? sum / *n : NAN;
}

/* A MALA job that adapts and saves its warmup: the status shows the
 * warmup rows and each chain's adaptation; the draws carry the statistics
 * and the warmup column, include_warmup=0 leaves those rows out, CmdStan
 * CSV wants a chain; the summary uses only post-warmup draws and reports
 * the mean step size and accept statistic. The adaptation passed back with
 * num_warmup 0 is a valid warm start. */
static void test_statistics_and_warmup(void **state) {
    (void)state;
    const char *spec =
        "{\"model\": {\"type\": \"gaussian\", \"mean\": [1, -1], \"cov\": [[1, 0.3], "
        "[0.3, 2]]}, \"sampler\": {\"type\": \"mala\", \"step_size\": 0.1}, "
        "\"num_samples\": 400, \"num_warmup\": 200, \"save_warmup\": true, "
        "\"chains\": 2, \"key\": 5, \"progress_every\": 50}";
    char id[JOB_ID_MAX];
    submit(spec, id);
    json_t *st = wait_state(id, "succeeded", 20 * SLOW);
    assert_int_equal(jint(st, "warmup_draws"), 200);
    assert_int_equal(json_integer_value(json_array_get(json_object_get(st, "shape"), 1)), 600);
    json_t *adapt = json_array_get(json_object_get(st, "adaptation"), 1);
    assert_string_equal(jstr(adapt, "metric"), "diag");
    assert_int_equal(json_array_size(json_object_get(adapt, "inv_metric")), 2);
    double step = jnum(adapt, "step_size");
    json_t *chain1 = json_array_get(json_object_get(st, "chains"), 1);
    assert_true(jnum(chain1, "step_size") == step);
    assert_false(json_is_true(json_object_get(chain1, "warmup")));

    resp r = {0};
    get(&r, "/v1/jobs/%s/draws?format=csv&stats=1&chain=1", id);
    expect_status(&r, 200);
    assert_true(!strncmp(r.body.data,
                         "chain,draw,warmup,lp__,accept_stat__,stepsize__,theta.1,theta.2\n1,0,1,",
                         69));
    int n;
    double accept = csv_post_warmup_mean(r.body.data, 1, &n);
    assert_int_equal(n, 400);
    get(&r, "/v1/jobs/%s/draws?format=json&include_warmup=0", id);
    json_t *j = resp_json(&r);
    assert_int_equal(json_integer_value(json_array_get(json_object_get(j, "shape"), 1)), 400);
    assert_int_equal(jint(j, "warmup_draws"), 0);
    json_decref(j);
    get(&r, "/v1/jobs/%s/draws?format=cmdstan", id);
    expect_error(&r, 400, "invalid_query");
    get(&r, "/v1/jobs/%s/draws?format=npy&stats=1", id);
    expect_error(&r, 400, "invalid_query");
    get(&r, "/v1/jobs/%s/draws?format=cmdstan&chain=1", id);
    expect_status(&r, 200);
    assert_non_null(strstr(r.body.data, "\nlp__,accept_stat__,stepsize__,theta.1,theta.2\n"));
    assert_non_null(strstr(r.body.data, "\n# Adaptation terminated\n# Step size = "));

    get(&r, "/v1/jobs/%s/summary", id);
    expect_status(&r, 200);
    j = resp_json(&r);
    assert_int_equal(jint(j, "draws_per_chain"), 400);
    assert_int_equal(jint(j, "warmup_draws"), 200);
    assert_int_equal(json_array_size(json_object_get(j, "nonfinite")), 0);
    json_t *c1 = json_array_get(json_object_get(j, "chains"), 1);
    assert_float_equal(jnum(c1, "mean_step_size"), step, 1e-12 * step);
    assert_float_equal(jnum(c1, "mean_accept_stat"), accept, 1e-12);
    assert_true(json_is_null(json_object_get(c1, "divergent"))); /* MALA reports none */
    assert_true(jnum(json_object_get(c1, "adaptation"), "step_size") == step);
    json_decref(j);

    char warm[600];
    char *inv = json_dumps(json_object_get(adapt, "inv_metric"), JSON_COMPACT);
    snprintf(warm, sizeof warm,
             "{\"model\": {\"type\": \"gaussian\", \"mean\": [1, -1], \"cov\": [[1, 0.3], [0.3, "
             "2]]}, \"sampler\": {\"type\": \"mala\", \"step_size\": %.17g, \"inv_metric\": %s}, "
             "\"num_samples\": 100, \"num_warmup\": 0, \"key\": 6}",
             step, inv);
    free(inv);
    char id2[JOB_ID_MAX];
    submit(warm, id2);
    json_t *st2 = wait_state(id2, "succeeded", 20 * SLOW);
    json_t *c0 = json_array_get(json_object_get(st2, "chains"), 0);
    assert_true(jnum(c0, "step_size") == step); /* no adaptation: the step passed in */
    json_decref(st2);
    json_decref(st);
    resp_free(&r);
}

/* ULA with a step far past stability blows up to inf: the job fails and
 * says where, keeps the draws up to there, and the summary is taken over
 * the finite prefix. */
#define NONFINITE_SPEC                                                                             \
    "{\"model\": {\"type\": \"gaussian\", \"mean\": [1, 2], \"cov\": [[1, 0], [0, 1]]}, "          \
    "\"sampler\": {\"type\": \"ula\", \"step_size\": 10}, \"num_samples\": 1000, "                 \
    "\"chains\": 2, \"key\": 1, \"init\": [0.5, 0.5], \"progress_every\": 100}"

static void test_nonfinite_chain(void **state) {
    (void)state;
    char id[JOB_ID_MAX];
    submit(NONFINITE_SPEC, id);
    json_t *st = wait_state(id, "failed", 20 * SLOW);
    json_t *c0 = json_array_get(json_object_get(st, "chains"), 0);
    assert_true(json_is_true(json_object_get(c0, "nonfinite")));
    json_int_t at = jint(c0, "nonfinite_at");
    assert_true(at > 0 && at < 1000);
    assert_int_equal(jint(c0, "draws"), at + 1); /* the non-finite draw is handed over */
    char want[96];
    snprintf(want, sizeof want, "chain 0 went non-finite at draw %lld", (long long)at);
    assert_true(!strncmp(jstr(st, "error"), want, strlen(want)));
    resp r = {0};
    get(&r, "/v1/jobs/%s/summary", id);
    expect_status(&r, 200);
    json_t *j = resp_json(&r);
    json_int_t fewest = at;
    json_t *c1 = json_array_get(json_object_get(st, "chains"), 1);
    if (json_is_integer(json_object_get(c1, "nonfinite_at")) && jint(c1, "nonfinite_at") < fewest)
        fewest = jint(c1, "nonfinite_at");
    assert_int_equal(jint(j, "draws_per_chain"), fewest);
    assert_true(json_array_size(json_object_get(j, "nonfinite")) >= 1);
    assert_int_equal(json_integer_value(json_array_get(json_object_get(j, "nonfinite"), 0)), 0);
    json_t *p0 = json_array_get(json_object_get(j, "parameters"), 0);
    assert_true(json_is_number(json_object_get(p0, "mean"))); /* finite, not null */
    json_decref(j);
    json_decref(st);
    resp_free(&r);
}

static void test_restart(void **state) {
    (void)state;
    /* history: a dataset, jobs succeeded, cancelled and failed */
    calibrate();
    json_decref(upload_small_csv());
    finish_two_jobs();
    run_mala();
    char failed[JOB_ID_MAX];
    submit(NONFINITE_SPEC, failed);
    json_decref(wait_state(failed, "failed", 20 * SLOW));
    resp r = {0};
    /* what must survive: datasets, final jobs, their draws */
    get(&r, "/v1/datasets");
    expect_status(&r, 200);
    json_t *datasets = resp_json(&r);
    assert_true(json_array_size(json_object_get(datasets, "datasets")) >= 1);
    get(&r, "/v1/jobs?page_size=1000");
    expect_status(&r, 200);
    json_t *list = resp_json(&r), *e;
    json_t *jobs = json_object_get(list, "jobs");
    size_t njobs = json_array_size(jobs), i;
    assert_true(njobs >= 4);
    kept_job *kept = calloc(njobs, sizeof *kept);
    assert_non_null(kept);
    json_array_foreach(jobs, i, e) {
        assert_true(state_is_final(jstr(e, "state")));
        snprintf(kept[i].id, sizeof kept[i].id, "%s", jstr(e, "id"));
        kept[i].status = get_job(kept[i].id);
        get(&r, "/v1/jobs/%s/draws?format=npy", kept[i].id);
        expect_status(&r, 200);
        buf_add(&kept[i].npy, r.body.data, r.body.len);
    }

    /* a job running at SIGTERM, and the same spec offline meanwhile */
    enum { CHAINS = 2, SAMPLES = 400 };
    char spec[512], id[JOB_ID_MAX], spec_path[200], out[200];
    timed_spec(spec, sizeof spec, 2.0, CHAINS, SAMPLES, 20, 99);
    snprintf(spec_path, sizeof spec_path, "%s/restart.json", g.dir);
    snprintf(out, sizeof out, "%s/restart.npy", g.dir);
    spit(spec_path, spec, strlen(spec));
    submit(spec, id);
    pid_t offline = offline_spawn(spec_path, NULL, out);
    char qid[JOB_ID_MAX]; /* queued behind it at SIGTERM */
    submit(MALA_SPEC, qid);
    json_decref(wait_draws(id, 20, 30 * SLOW));
    json_t *q = get_job(qid);
    assert_string_equal(jstr(q, "state"), "queued");
    json_decref(q);
    /* streams open at SIGTERM end cleanly (the last chunk is sent) */
    char head[300];
    int streams[3];
    static const char *const what[] = {"events", "draws?follow=1", "events"};
    for (int k = 0; k < 3; k++) {
        snprintf(head, sizeof head, "GET /v1/jobs/%s/%s HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n",
                 k < 2 ? id : qid, what[k]);
        streams[k] = raw_open(head, NULL, 0);
    }
    http_opts cut = {.timeout_ms = 300};
    http(&r, &cut, "/v1/jobs/%s/events", id);
    json_t *before = parse_ndjson(&r.body, 0);
    assert_true(json_array_size(before) >= 3);
    json_int_t seen_seq = jint(json_array_get(before, json_array_size(before) - 1), "seq");
    json_decref(before);
    json_t *j = get_job(id);
    assert_string_equal(jstr(j, "state"), "running");
    json_decref(j);
    daemon_stop();
    int cut_streams = 0; /* checked last, so the rest still runs */
    for (int k = 0; k < 3; k++) {
        buf sb = {0};
        int closed = raw_read(streams[k], &sb, SIZE_MAX, (int)(2000 * SLOW));
        close(streams[k]);
        assert_true(!strncmp(sb.data, "HTTP/1.1 200", 12));
        if (!closed || sb.len < 5 || memcmp(sb.data + sb.len - 5, "0\r\n\r\n", 5) != 0) {
            print_error("the %s stream of the %s job, open at SIGTERM, did not end cleanly: %s "
                        "after %zu bytes without the last chunk; it ends '%s'\n",
                        what[k], k < 2 ? "running" : "queued", closed ? "closed" : "still open",
                        sb.len, sb.len > 24 ? sb.data + sb.len - 24 : sb.data);
            cut_streams++;
        }
        buf_free(&sb);
    }
    daemon_start();

    /* everything is back */
    get(&r, "/v1/datasets");
    expect_status(&r, 200);
    json_t *datasets2 = resp_json(&r);
    assert_true(json_equal(datasets, datasets2));
    json_decref(datasets2);
    for (i = 0; i < njobs; i++) {
        j = get_job(kept[i].id);
        if (!json_equal(j, kept[i].status)) {
            char *a = json_dumps(kept[i].status, JSON_COMPACT), *b = json_dumps(j, JSON_COMPACT);
            print_error("status of %s changed across the restart:\n%s\n%s\n", kept[i].id, a, b);
            free(a), free(b);
            fail();
        }
        json_decref(j);
        get(&r, "/v1/jobs/%s/draws?format=npy", kept[i].id);
        expect_status(&r, 200);
        assert_same_bytes(&r.body, &kept[i].npy, "draws after the restart");
        json_decref(kept[i].status);
        buf_free(&kept[i].npy);
    }
    free(kept);
    json_decref(list);
    json_decref(datasets);

    /* the interrupted job runs again: same bits as an uninterrupted run */
    j = get_job(id);
    const char *st = jstr(j, "state");
    assert_true(!strcmp(st, "queued") || !strcmp(st, "running") || !strcmp(st, "succeeded"));
    json_decref(j);
    get(&r, "/v1/jobs/%s/events", id);
    expect_status(&r, 200);
    json_t *after = parse_ndjson(&r.body, 1);
    assert_true(json_array_size(after) >= 2);
    assert_true(jint(json_array_get(after, 0), "seq") > seen_seq); /* numbering goes on */
    json_t *done = json_array_get(after, json_array_size(after) - 1);
    assert_string_equal(jstr(done, "type"), "done");
    assert_string_equal(jstr(done, "state"), "succeeded");
    json_array_foreach(after, i, e)
        assert_int_equal(jint(e, "seq"), jint(json_array_get(after, 0), "seq") + (json_int_t)i);
    json_decref(after);
    json_decref(wait_state(id, "succeeded", 5 * SLOW));
    offline_wait(offline);
    buf want = {0};
    slurp(out, &want);
    get(&r, "/v1/jobs/%s/draws?format=npy", id);
    expect_status(&r, 200);
    assert_same_bytes(&r.body, &want, "draws of the job rerun after the restart");
    buf_free(&want);

    /* the job queued at SIGTERM ran after it: the same bits as before */
    json_decref(wait_state(qid, "succeeded", 30 * SLOW));
    get(&r, "/v1/jobs/%s/draws?format=npy", qid);
    expect_status(&r, 200);
    assert_same_bytes(&r.body, &mala_npy, "draws of the job queued at SIGTERM");

    /* the metrics count what the list holds */
    get(&r, "/v1/jobs?page_size=1000");
    list = resp_json(&r);
    json_int_t succeeded = 0;
    json_array_foreach(json_object_get(list, "jobs"), i, e) succeeded +=
        !strcmp(jstr(e, "state"), "succeeded");
    json_decref(list);
    get(&r, "/metrics");
    expect_status(&r, 200);
    assert_non_null(strstr(r.body.data, "\nmcmcd_queue_length 0\n"));
    char line[96];
    snprintf(line, sizeof line, "\nmcmcd_jobs{state=\"succeeded\"} %lld\n", (long long)succeeded);
    if (!strstr(r.body.data, line)) print_error("no '%s' in\n%s\n", line + 1, r.body.data);
    assert_non_null(strstr(r.body.data, line));
    resp_free(&r);
    assert_int_equal(cut_streams, 0);
}

/* --- deleting a job while its draws download -------------------------- */

static void test_delete_while_downloading(void **state) {
    (void)state;
    char id[JOB_ID_MAX];
    submit("{\"data\": {\"synthetic\": {\"n\": 50, \"d\": 5, \"seed\": 1}}, \"sampler\": "
           "{\"type\": \"ula\", \"step_size\": 0.001}, \"chains\": 2, \"num_samples\": 200000, "
           "\"progress_every\": 50000}",
           id);
    json_decref(wait_state(id, "succeeded", 60 * SLOW));
    /* ~40 MB of JSON: most of it is still to be made when the job goes */
    char head[300];
    snprintf(head, sizeof head,
             "GET /v1/jobs/%s/draws?format=json HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n", id);
    int fd = raw_open(head, NULL, 0);
    buf b = {0};
    raw_read(fd, &b, 65536, (int)(5000 * SLOW));
    assert_true(!strncmp(b.data, "HTTP/1.1 200", 12));
    resp r = {0};
    call(&r, "DELETE", "/v1/jobs/%s", id);
    expect_status(&r, 204);
    get(&r, "/v1/jobs/%s", id);
    expect_error(&r, 404, "not_found");
    /* the download may finish or be cut; the daemon must stay sound */
    int closed = raw_read(fd, &b, SIZE_MAX, (int)(10000 * SLOW));
    close(fd);
    print_message("# download after the delete: %zu bytes, %s\n", b.len,
                  closed ? "closed" : "still open");
    get(&r, "/healthz");
    expect_status(&r, 200);
    resp_free(&r);
    buf_free(&b);
    daemon_stop(); /* exit 0, and no sanitizer report */
}

#define DAEMON_TEST(f) cmocka_unit_test_setup_teardown(f, daemon_setup, daemon_teardown)

/* `test_daemon [NAME]`: every test, or only test_NAME (ctest runs each as
 * test_daemon.NAME); a NAME that is no test fails. */
int main(int argc, char **argv) {
    const struct CMUnitTest tests[] = {
        DAEMON_TEST(test_health_info_metrics),
        DAEMON_TEST(test_datasets),
        DAEMON_TEST(test_job_events),
        DAEMON_TEST(test_draws_equal_offline),
        DAEMON_TEST(test_summary),
        DAEMON_TEST(test_follow_draws),
        DAEMON_TEST(test_cancel),
        DAEMON_TEST(test_bad_input),
        DAEMON_TEST(test_statistics_and_warmup),
        DAEMON_TEST(test_nonfinite_chain),
        DAEMON_TEST(test_restart),
        DAEMON_TEST(test_delete_while_downloading),
    };
    if (argc > 1) {
        static char filter[128];
        snprintf(filter, sizeof filter, "test_%s", argv[1]);
        size_t k = 0, n = sizeof tests / sizeof tests[0];
        while (k < n && strcmp(tests[k].name, filter) != 0)
            k++;
        if (k == n) {
            fprintf(stderr, "test_daemon: no test named %s\n", filter);
            return 2;
        }
        cmocka_set_test_filter(filter);
    }
    curl_global_init(CURL_GLOBAL_DEFAULT);
    int rc = cmocka_run_group_tests(tests, NULL, NULL);
    curl_global_cleanup();
    return rc;
}
