/* test_client.c - libmcmcclient against a real mcmcd started here (an
 * ephemeral port, a temporary data dir, 2 workers): every call, its error
 * paths (an unreachable server, unknown ids, invalid specs with their
 * field paths, answers that are not what they claim), tokens (none, a bad
 * one, the admin's from MCMC_TOKEN, another user's, a metrics-scope one:
 * 401, 403 and whoami), and an event watch that survives connections cut
 * mid-stream by a TCP proxy in this process, delivering every seq exactly
 * once. A fake HTTP server in a thread serves the malformed answers (and
 * 401, 403, 429 answers) and records what the client sent. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <math.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "job_spec.h"
#include "mcmcclient.h"

enum { ROWS = 200, COLS = 3, CHAINS = 2, SAMPLES = 200 };

static struct {
    pid_t pid;
    int out_fd; /* the daemon's stdout, kept open so it never gets SIGPIPE */
    char dir[64], url[256];
    mcmc_client *c;
    double X[ROWS * COLS];
    uint8_t y[ROWS];
    mcmc_dataset ds; /* X, y uploaded */
    char job_id[64]; /* a succeeded MALA job on ds: CHAINS x SAMPLES x COLS */
} g;

/* --- the daemon ---------------------------------------------------------- */

static double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static void write_text(const char *path, const char *text) {
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs(text, f);
    fclose(f);
}

static void exec_daemon(int out_fd) {
    char conf[128], data[128], log[128];
    snprintf(conf, sizeof conf, "%s/mcmcd.conf", g.dir);
    snprintf(data, sizeof data, "%s/data", g.dir);
    snprintf(log, sizeof log, "%s/daemon.err", g.dir);
    int err_fd = open(log, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    dup2(out_fd, 1);
    if (err_fd >= 0) dup2(err_fd, 2);
    execl(MCMCD_BINARY, "mcmcd", "serve", "--config", conf, "--port", "0", "--data-dir", data,
          "--workers", "2", (char *)NULL);
    _exit(127);
}

/* The first stdout line, "mcmcd listening on http://127.0.0.1:PORT". */
static int read_listen_line(char *line, size_t cap) {
    size_t len = 0;
    double deadline = now_s() + 60; /* an ASan build starts slowly */
    while (len + 1 < cap && now_s() < deadline) {
        struct pollfd p = {g.out_fd, POLLIN, 0};
        if (poll(&p, 1, 200) <= 0) continue;
        ssize_t n = read(g.out_fd, line + len, 1);
        if (n <= 0) return -1;
        if (line[len] == '\n') break;
        len++;
    }
    line[len] = '\0';
    return len ? 0 : -1;
}

static int start_daemon(void) {
    snprintf(g.dir, sizeof g.dir, "/tmp/mcmc-client-test-XXXXXX");
    if (!mkdtemp(g.dir)) return -1;
    char conf[128];
    snprintf(conf, sizeof conf, "%s/mcmcd.conf", g.dir);
    /* quick heartbeats; a small body limit to see a 413 */
    write_text(conf, "heartbeat_seconds = 1\nmax_body_bytes = 4M\n");
    int fds[2];
    if (pipe(fds) != 0) return -1;
    g.pid = fork();
    if (g.pid == 0) {
        close(fds[0]);
        exec_daemon(fds[1]);
    }
    close(fds[1]);
    g.out_fd = fds[0];
    char line[256];
    const char *prefix = "mcmcd listening on ";
    if (g.pid < 0 || read_listen_line(line, sizeof line) != 0 ||
        strncmp(line, prefix, strlen(prefix)) != 0) {
        fprintf(stderr, "the daemon did not start (see %s/daemon.err)\n", g.dir);
        return -1;
    }
    snprintf(g.url, sizeof g.url, "%s", line + strlen(prefix));
    return 0;
}

/* The admin token the daemon wrote on its first start (its data dir is
 * not the default one, so the library's loopback search would not find
 * it): MCMC_TOKEN for every client made with a NULL token. */
static int export_admin_token(void) {
    char path[128], token[256] = "";
    snprintf(path, sizeof path, "%s/data/admin.token", g.dir);
    FILE *f = fopen(path, "r");
    if (!f) {
        fprintf(stderr, "no %s: the daemon made no admin token\n", path);
        return -1;
    }
    int ok = fgets(token, sizeof token, f) != NULL;
    fclose(f);
    token[strcspn(token, "\r\n")] = '\0';
    if (!ok || !token[0]) return -1;
    return setenv("MCMC_TOKEN", token, 1);
}

/* `mcmcd ARGS --data-dir DIR` on the test daemon's data dir, its first
 * stdout line in out; the exit status (-1 when it could not run). */
static int mcmcd_command(const char *args, char *out, size_t cap) {
    char cmd[512];
    snprintf(cmd, sizeof cmd, "'%s' %s --data-dir '%s/data' 2>>'%s/commands.err'", MCMCD_BINARY,
             args, g.dir, g.dir);
    FILE *p = popen(cmd, "r");
    if (!p) return -1;
    out[0] = '\0';
    if (fgets(out, (int)cap, p)) out[strcspn(out, "\r\n")] = '\0';
    char rest[256];
    while (fgets(rest, sizeof rest, p)) {
    }
    int status = pclose(p);
    return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

static void stop_daemon(void) {
    if (g.pid > 0) {
        kill(g.pid, SIGTERM);
        int status;
        double deadline = now_s() + 30;
        while (waitpid(g.pid, &status, WNOHANG) == 0) {
            if (now_s() > deadline) {
                kill(g.pid, SIGKILL);
                waitpid(g.pid, &status, 0);
                break;
            }
            usleep(20000);
        }
    }
    if (g.out_fd > 0) close(g.out_fd);
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", g.dir);
    if (g.dir[0] && system(cmd) != 0) fprintf(stderr, "could not remove %s\n", g.dir);
}

/* --- shared fixtures ----------------------------------------------------- */

static void make_rows(void) {
    const double theta[COLS] = {1.0, -2.0, 0.5};
    uint32_t s = 7;
    for (int i = 0; i < ROWS; i++) {
        double eta = 0;
        for (int j = 0; j < COLS; j++) {
            s = s * 1103515245u + 12345u;
            g.X[i * COLS + j] = (double)(s >> 8) / 8388608.0 - 1.0;
            eta += g.X[i * COLS + j] * theta[j];
        }
        s = s * 1103515245u + 12345u;
        g.y[i] = (double)(s >> 8) / 16777216.0 < 1 / (1 + exp(-eta));
    }
}

static mcmc_spec small_spec(const char *dataset_id) {
    mcmc_spec s;
    mcmc_spec_init(&s);
    s.dataset_id = dataset_id;
    s.sampler = "mala";
    s.step_size = 0.01;
    s.chains = CHAINS;
    s.num_samples = SAMPLES;
    s.progress_every = 50;
    s.key = 11;
    return s;
}

/* A job spec that runs for many seconds unless cancelled. */
static mcmc_spec long_spec(void) {
    mcmc_spec s;
    mcmc_spec_init(&s);
    s.synthetic.n = 1000;
    s.synthetic.d = 5;
    s.step_size = 0.001;
    s.num_samples = 1000;
    s.thin = 5000;           /* 5e6 iterations */
    s.progress_every = 5000; /* a cancel is seen within a block */
    return s;
}

static int ignore_event(void *ctx, const mcmc_event *ev) {
    (void)ctx, (void)ev;
    return 0;
}

static mcmc_job_state run_to_end(mcmc_client *c, const char *id) {
    mcmc_job_state final = MCMC_JOB_UNKNOWN;
    mcmc_error err;
    assert_int_equal(mcmc_watch_job(c, id, NULL, ignore_event, NULL, &final, &err), MCMC_CLIENT_OK);
    return final;
}

static int group_setup(void **state) {
    (void)state;
    signal(SIGPIPE, SIG_IGN);
    /* loopback only: never let a proxy setting route these requests */
    const char *proxies[] = {"http_proxy",  "https_proxy", "HTTP_PROXY",
                             "HTTPS_PROXY", "ALL_PROXY",   "all_proxy"};
    for (size_t i = 0; i < sizeof proxies / sizeof *proxies; i++)
        unsetenv(proxies[i]);
    if (start_daemon() != 0 || export_admin_token() != 0) return -1;
    if (mcmc_client_new(g.url, NULL, &g.c) != MCMC_CLIENT_OK) return -1;
    make_rows();
    mcmc_error err;
    if (mcmc_upload_dataset(g.c, "fixture", g.X, g.y, ROWS, COLS, &g.ds, &err) != MCMC_CLIENT_OK)
        return -1;
    mcmc_spec s = small_spec(g.ds.id);
    mcmc_job job;
    if (mcmc_submit_job(g.c, &s, &job, &err) != MCMC_CLIENT_OK) return -1;
    snprintf(g.job_id, sizeof g.job_id, "%s", job.id);
    mcmc_job_free(&job);
    mcmc_job_state final;
    if (mcmc_watch_job(g.c, g.job_id, NULL, ignore_event, NULL, &final, &err) != MCMC_CLIENT_OK ||
        final != MCMC_JOB_SUCCEEDED)
        return -1;
    return 0;
}

static int group_teardown(void **state) {
    (void)state;
    mcmc_client_free(g.c);
    stop_daemon();
    return 0;
}

/* --- sockets: a closed port, a fake server, a cutting proxy --------------- */

static int listen_loopback(int *port) {
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t len = sizeof a;
    if (fd < 0 || bind(fd, (struct sockaddr *)&a, sizeof a) != 0 || listen(fd, 16) != 0 ||
        getsockname(fd, (struct sockaddr *)&a, &len) != 0) {
        if (fd >= 0) close(fd);
        return -1;
    }
    *port = ntohs(a.sin_port);
    return fd;
}

static int closed_port(void) {
    int port = 0, fd = listen_loopback(&port);
    assert_true(fd >= 0);
    close(fd); /* nothing listens there now */
    return port;
}

static int send_all(int fd, const char *p, size_t n) {
    while (n > 0) {
        ssize_t k = send(fd, p, n, MSG_NOSIGNAL);
        if (k < 0 && errno == EINTR) continue;
        if (k <= 0) return -1;
        p += k, n -= (size_t)k;
    }
    return 0;
}

/* Accepts with a timeout so the owner can stop the thread: -1 when none. */
static int accept_within(int listen_fd, int ms) {
    struct pollfd p = {listen_fd, POLLIN, 0};
    if (poll(&p, 1, ms) <= 0) return -1;
    return accept4(listen_fd, NULL, NULL, SOCK_CLOEXEC);
}

typedef struct fake_server {
    int fd, port;
    const char *response;
    size_t response_len;
    char request[4096]; /* the last request's head */
    volatile int stop;
    pthread_t thread;
} fake_server;

static void fake_serve_one(fake_server *f, int conn) {
    size_t len = 0;
    while (len + 1 < sizeof f->request) {
        struct pollfd p = {conn, POLLIN, 0};
        if (poll(&p, 1, 2000) <= 0) break;
        ssize_t n = recv(conn, f->request + len, sizeof f->request - 1 - len, 0);
        if (n <= 0) break;
        len += (size_t)n;
        f->request[len] = '\0';
        if (strstr(f->request, "\r\n\r\n")) break;
    }
    send_all(conn, f->response, f->response_len);
    shutdown(conn, SHUT_WR);
    close(conn);
}

static void *fake_server_main(void *arg) {
    fake_server *f = arg;
    while (!f->stop) {
        int conn = accept_within(f->fd, 50);
        if (conn >= 0) fake_serve_one(f, conn);
    }
    return NULL;
}

static void fake_server_start(fake_server *f, const char *response, size_t len) {
    memset(f, 0, sizeof *f);
    f->response = response;
    f->response_len = len;
    f->fd = listen_loopback(&f->port);
    assert_true(f->fd >= 0);
    assert_int_equal(pthread_create(&f->thread, NULL, fake_server_main, f), 0);
}

static void fake_server_stop(fake_server *f) {
    f->stop = 1;
    pthread_join(f->thread, NULL);
    close(f->fd);
}

/* Relays connections to the daemon one at a time; connection k < ncuts is
 * closed (both sides) once cut_after[k] bytes went from daemon to client. */
typedef struct cut_proxy {
    int fd, port, upstream_port;
    size_t cut_after[4];
    int ncuts, connections;
    char head[8][512]; /* the first bytes each connection sent upstream */
    volatile int stop;
    pthread_t thread;
} cut_proxy;

static int connect_upstream(int port) {
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    struct sockaddr_in a = {.sin_family = AF_INET,
                            .sin_port = htons((uint16_t)port),
                            .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    if (fd >= 0 && connect(fd, (struct sockaddr *)&a, sizeof a) == 0) return fd;
    if (fd >= 0) close(fd);
    return -1;
}

/* Copies one chunk from -> to, the first bytes also to head (may be
 * NULL); returns bytes sent, or -1 at the end. */
static ssize_t copy_chunk(int from, int to, size_t limit, char *head) {
    char buf[4096];
    ssize_t n = recv(from, buf, sizeof buf, 0);
    if (n <= 0) return -1;
    size_t m = (size_t)n < limit ? (size_t)n : limit;
    if (head && !head[0]) snprintf(head, 512, "%.*s", (int)m, buf);
    return send_all(to, buf, m) == 0 ? (ssize_t)m : -1;
}

static void relay(cut_proxy *p, int client, int upstream, size_t limit) {
    size_t sent = 0;
    char *head = p->connections <= 8 ? p->head[p->connections - 1] : NULL;
    struct pollfd fds[2] = {{client, POLLIN, 0}, {upstream, POLLIN, 0}};
    while (!p->stop && sent < limit) {
        if (poll(fds, 2, 50) <= 0) continue;
        if (fds[0].revents && copy_chunk(client, upstream, SIZE_MAX, head) < 0) break;
        if (fds[1].revents) {
            ssize_t n = copy_chunk(upstream, client, limit - sent, NULL);
            if (n < 0) break;
            sent += (size_t)n;
        }
    }
    close(client);
    close(upstream);
}

static void *cut_proxy_main(void *arg) {
    cut_proxy *p = arg;
    while (!p->stop) {
        int client = accept_within(p->fd, 50);
        if (client < 0) continue;
        int upstream = connect_upstream(p->upstream_port);
        if (upstream < 0) {
            close(client);
            continue;
        }
        int k = p->connections++;
        relay(p, client, upstream, k < p->ncuts ? p->cut_after[k] : SIZE_MAX);
    }
    return NULL;
}

/* --- event recording ----------------------------------------------------- */

typedef struct seen_events {
    uint64_t seq[4096];
    mcmc_event_type type[4096];
    size_t n;
    int heartbeats;
    int stop_at_heartbeat; /* answer nonzero to the first heartbeat */
    size_t stop_after;     /* answer nonzero to the n-th event (0: never) */
    mcmc_job_state last_state;
} seen_events;

static int record_event(void *ctx, const mcmc_event *ev) {
    seen_events *s = ctx;
    if (ev->type == MCMC_EVENT_HEARTBEAT) {
        s->heartbeats++;
        assert_int_equal(ev->seq, 0);
        return s->stop_at_heartbeat;
    }
    assert_true(s->n < 4096);
    s->seq[s->n] = ev->seq;
    s->type[s->n++] = ev->type;
    if (ev->type == MCMC_EVENT_PROGRESS) {
        assert_true(ev->chain < 64);
        assert_true(ev->iter <= ev->total);
        assert_true(ev->iter > 0);
        assert_int_not_equal(ev->phase, MCMC_PHASE_UNKNOWN);
        assert_true(ev->step_size > 0);
    } else {
        assert_int_not_equal(ev->state, MCMC_JOB_UNKNOWN);
        s->last_state = ev->state;
    }
    if (ev->type == MCMC_EVENT_DONE) assert_true(ev->nchains > 0 && ev->draws_per_chain);
    return s->stop_after && s->n == s->stop_after;
}

/* --- tests: the client and its arguments --------------------------------- */

static void test_client_arguments(void **state) {
    (void)state;
    mcmc_client *c = (mcmc_client *)1;
    assert_int_equal(mcmc_client_new(NULL, NULL, &c), MCMC_CLIENT_INVALID);
    assert_null(c);
    assert_int_equal(mcmc_client_new("", NULL, &c), MCMC_CLIENT_INVALID);
    assert_int_equal(mcmc_client_new(g.url, NULL, NULL), MCMC_CLIENT_INVALID);
    assert_int_equal(mcmc_client_new("http://127.0.0.1:1/", "tok", &c), MCMC_CLIENT_OK);
    assert_int_equal(mcmc_client_set_timeouts(c, -1, 0, 0), MCMC_CLIENT_INVALID);
    assert_int_equal(mcmc_client_set_timeouts(c, 1000, 2000, 3), MCMC_CLIENT_OK);
    mcmc_client_free(c);
    mcmc_client_free(NULL);
    assert_string_equal(mcmc_client_status_name(MCMC_CLIENT_UNREACHABLE), "unreachable");
    assert_string_equal(mcmc_client_status_name(MCMC_CLIENT_INVALID), "invalid");
    assert_string_equal(mcmc_job_state_name(MCMC_JOB_SUCCEEDED), "succeeded");

    mcmc_error err;
    mcmc_job job;
    assert_int_equal(mcmc_get_job(g.c, NULL, &job, &err), MCMC_CLIENT_INVALID);
    assert_string_equal(err.code, "invalid");
    assert_int_equal(mcmc_get_job(g.c, "", &job, NULL), MCMC_CLIENT_INVALID);
    assert_int_equal(mcmc_get_job(g.c, g.job_id, NULL, &err), MCMC_CLIENT_INVALID);
    assert_int_equal(mcmc_watch_job(g.c, g.job_id, NULL, NULL, NULL, NULL, &err),
                     MCMC_CLIENT_INVALID);
    mcmc_draws_shape shape;
    assert_int_equal(mcmc_fetch_draws(g.c, g.job_id, NULL, NULL, 5, &shape, &err),
                     MCMC_CLIENT_INVALID);
    mcmc_job_list list;
    assert_int_equal(mcmc_list_jobs(g.c, (mcmc_job_state)99, 0, NULL, &list, &err),
                     MCMC_CLIENT_INVALID);
}

/* --- tests: datasets ----------------------------------------------------- */

static void test_upload_arrays(void **state) {
    (void)state;
    assert_int_equal(strlen(g.ds.id), 32);
    assert_int_equal(g.ds.n, ROWS);
    assert_int_equal(g.ds.d, COLS);
    assert_string_equal(g.ds.name, "fixture");
    assert_true(g.ds.bytes > ROWS * COLS * 8);
    assert_true(g.ds.created[0] != '\0');
    /* the same rows with int labels: the same content hash */
    int yi[ROWS];
    for (int i = 0; i < ROWS; i++)
        yi[i] = g.y[i];
    mcmc_dataset again;
    mcmc_error err;
    assert_int_equal(
        mcmc_upload_dataset_int_labels(g.c, "again", g.X, yi, ROWS, COLS, &again, &err),
        MCMC_CLIENT_OK);
    assert_string_equal(again.id, g.ds.id);
    /* bad rows never leave the client */
    yi[3] = 2;
    assert_int_equal(mcmc_upload_dataset_int_labels(g.c, "bad", g.X, yi, ROWS, COLS, &again, &err),
                     MCMC_CLIENT_INVALID);
    assert_non_null(strstr(err.message, "y[3]"));
    double X[2] = {1, NAN};
    uint8_t y[2] = {0, 1};
    assert_int_equal(mcmc_upload_dataset(g.c, "nan", X, y, 2, 1, &again, &err),
                     MCMC_CLIENT_INVALID);
    assert_int_equal(mcmc_upload_dataset(g.c, "none", X, y, 0, 1, &again, &err),
                     MCMC_CLIENT_INVALID);
}

static void write_csv(const char *path, int header) {
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    if (header) fprintf(f, "x1,x2,x3,y\n");
    for (int i = 0; i < ROWS; i++)
        fprintf(f, "%.17g,%.17g,%.17g,%d\n", g.X[i * 3], g.X[i * 3 + 1], g.X[i * 3 + 2], g.y[i]);
    fclose(f);
}

static void test_upload_csv(void **state) {
    (void)state;
    char path[128];
    snprintf(path, sizeof path, "%s/rows.csv", g.dir);
    write_csv(path, 0); /* a header's column names would be part of the dataset */
    mcmc_dataset ds;
    mcmc_error err;
    /* the same rows as CSV: the same id as the JSON upload */
    assert_int_equal(mcmc_upload_dataset_csv(g.c, "as csv", path, &ds, &err), MCMC_CLIENT_OK);
    assert_string_equal(ds.id, g.ds.id);
    assert_int_equal(ds.n, ROWS);
    assert_int_equal(ds.d, COLS);

    assert_int_equal(mcmc_upload_dataset_csv(g.c, "x", "/nonexistent/rows.csv", &ds, &err),
                     MCMC_CLIENT_INVALID);
    write_text(path, "a,b,y\n1,2\n");
    assert_int_equal(mcmc_upload_dataset_csv(g.c, "bad", path, &ds, &err), MCMC_CLIENT_HTTP);
    assert_int_equal(err.status, 400);
    assert_string_equal(err.code, "invalid_csv");
    assert_true(err.message[0] != '\0');
}

static void test_upload_too_large(void **state) {
    (void)state;
    char path[128];
    snprintf(path, sizeof path, "%s/big.csv", g.dir);
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    for (int i = 0; i < 120000; i++) /* about 5 MB, over the 4M limit */
        fprintf(f, "%.17g,%.17g,1\n", i * 1e-3, -i * 1e-3);
    fclose(f);
    mcmc_dataset ds;
    mcmc_error err;
    assert_int_equal(mcmc_upload_dataset_csv(g.c, "big", path, &ds, &err), MCMC_CLIENT_HTTP);
    assert_int_equal(err.status, 413);
    assert_string_equal(err.code, "body_too_large");
    unlink(path);
    /* the client still works afterwards */
    mcmc_dataset again;
    assert_int_equal(mcmc_get_dataset(g.c, g.ds.id, &again, &err), MCMC_CLIENT_OK);
}

static void test_datasets_list_get_delete(void **state) {
    (void)state;
    double X[4] = {0.5, -1, 2, 3};
    uint8_t y[2] = {1, 0};
    mcmc_dataset tmp, got;
    mcmc_error err;
    assert_int_equal(mcmc_upload_dataset(g.c, "temporary", X, y, 2, 2, &tmp, &err), MCMC_CLIENT_OK);
    mcmc_dataset_list list;
    assert_int_equal(mcmc_list_datasets(g.c, &list, &err), MCMC_CLIENT_OK);
    int found = 0;
    for (size_t i = 0; i < list.count; i++)
        found += !strcmp(list.datasets[i].id, tmp.id) + !strcmp(list.datasets[i].id, g.ds.id);
    assert_int_equal(found, 2);
    mcmc_dataset_list_free(&list);
    assert_null(list.datasets);

    assert_int_equal(mcmc_get_dataset(g.c, tmp.id, &got, &err), MCMC_CLIENT_OK);
    assert_string_equal(got.name, "temporary");
    assert_int_equal(got.n, 2);
    assert_int_equal(mcmc_delete_dataset(g.c, tmp.id, &err), MCMC_CLIENT_OK);
    assert_int_equal(mcmc_get_dataset(g.c, tmp.id, &got, &err), MCMC_CLIENT_HTTP);
    assert_int_equal(err.status, 404);
    assert_string_equal(err.code, "not_found");
}

/* --- tests: specs and jobs ----------------------------------------------- */

/* spec's canonical JSON's [section][key], as the server would store it. */
static double canonical_number(const job_spec *spec, const char *section, const char *key) {
    json_t *o = job_spec_to_json(spec);
    double v = json_number_value(json_object_get(json_object_get(o, section), key));
    json_decref(o);
    return v;
}

static void test_spec_builder_json(void **state) {
    (void)state;
    mcmc_spec s;
    mcmc_spec_init(&s);
    s.synthetic.n = 100;
    s.synthetic.d = 2;
    s.synthetic.seed = 3;
    s.sampler = "sgld";
    s.step_size = 1e-4;
    s.batch_size = 10;
    s.key = UINT64_MAX;
    s.init = MCMC_INIT_TRUE;
    s.dtype = MCMC_DTYPE_FLOAT32;
    s.row_threads = 3;
    s.save_warmup = 1;
    s.num_warmup = 7;
    char *text;
    assert_int_equal(mcmc_spec_to_json(&s, &text), MCMC_CLIENT_OK);
    json_t *o = json_loads(text, 0, NULL);
    assert_non_null(o);
    assert_string_equal(json_string_value(json_object_get(o, "key")), "18446744073709551615");
    json_t *smp = json_object_get(o, "sampler");
    assert_string_equal(json_string_value(json_object_get(smp, "type")), "sgld");
    assert_int_equal(json_integer_value(json_object_get(smp, "batch_size")), 10);
    /* unset conveniences are left to the server */
    assert_null(json_object_get(json_object_get(o, "model"), "prior_variance"));
    json_decref(o);
    /* the server's own parser takes it, every field */
    job_spec spec;
    spec_errors errs;
    assert_int_equal(job_spec_parse_text(text, strlen(text), &spec, &errs), 0);
    assert_int_equal(spec.synthetic.n, 100);
    assert_int_equal(spec.dtype, DTYPE_F32);
    assert_int_equal(spec.chain.init, INIT_TRUE);
    assert_int_equal(spec.chain.row_threads, 3);
    assert_int_equal(spec.chain.save_warmup, 1);
    assert_int_equal(spec.chain.num_warmup, 7);
    assert_float_equal(canonical_number(&spec, "model", "prior_variance"), 10.0, 0.0);
    job_spec_free(&spec);
    free(text);

    /* any sampler by name, any parameter as JSON: they override the
     * conveniences; the model likewise; extra_json adds top-level fields */
    s.sampler = "mala";
    s.batch_size = 0;
    s.sampler_params_json = "{\"step_size\": 0.25, \"adapt_delta\": 0.9, \"metric\": \"dense\"}";
    s.model_params_json = "{\"prior_variance\": 2.5}";
    s.extra_json = "{\"init\": [0.5, -0.5]}";
    s.init = MCMC_INIT_ZEROS;
    assert_int_equal(mcmc_spec_to_json(&s, &text), MCMC_CLIENT_OK);
    assert_int_equal(job_spec_parse_text(text, strlen(text), &spec, &errs), 0);
    const sampler_def *mala = spec.chain.sampler;
    assert_string_equal(mala->name, "mala");
    assert_float_equal(sampler_param(mala, spec.chain.params, "step_size", 0), 0.25, 0.0);
    assert_float_equal(sampler_param(mala, spec.chain.params, "adapt_delta", 0), 0.9, 0.0);
    assert_int_equal(chain_metric_kind(&spec.chain), METRIC_DENSE);
    assert_float_equal(canonical_number(&spec, "model", "prior_variance"), 2.5, 0.0);
    assert_int_equal(spec.chain.init, INIT_VALUES);
    assert_float_equal(spec.chain.init_values[1], -0.5, 0.0);
    job_spec_free(&spec);
    free(text);

    const char *not_objects[] = {"[1]", "{", "0.5"};
    for (int i = 0; i < 3; i++) {
        s.sampler_params_json = not_objects[i];
        assert_int_equal(mcmc_spec_to_json(&s, &text), MCMC_CLIENT_INVALID);
        assert_null(text);
    }
    s.sampler_params_json = NULL;
    s.step_size = INFINITY;
    assert_int_equal(mcmc_spec_to_json(&s, &text), MCMC_CLIENT_INVALID);
    assert_null(text);
}

static void test_info(void **state) {
    (void)state;
    char *text;
    mcmc_error err;
    assert_int_equal(mcmc_get_info_json(g.c, &text, &err), MCMC_CLIENT_OK);
    json_t *info = json_loads(text, 0, NULL);
    free(text);
    /* the server's sampler table, in its order, each with its parameters */
    const json_t *samplers = json_object_get(info, "samplers");
    size_t i = 0;
    for (const sampler_def *const *d = sampler_table; *d; d++, i++) {
        const json_t *e = json_array_get(samplers, i);
        assert_string_equal(json_string_value(json_object_get(e, "name")), (*d)->name);
        assert_int_equal(json_array_size(json_object_get(e, "params")), (*d)->num_params);
    }
    assert_int_equal(json_array_size(samplers), i);
    json_decref(info);
    assert_int_equal(mcmc_get_info_json(g.c, NULL, &err), MCMC_CLIENT_INVALID);
}

static void test_submit_and_status(void **state) {
    (void)state;
    mcmc_job job;
    mcmc_error err;
    assert_int_equal(mcmc_get_job(g.c, g.job_id, &job, &err), MCMC_CLIENT_OK);
    assert_string_equal(job.id, g.job_id);
    assert_int_equal(job.state, MCMC_JOB_SUCCEEDED);
    assert_null(job.error);
    assert_string_equal(job.dataset, g.ds.id);
    assert_true(job.created[0] && job.started[0] && job.finished[0]);
    assert_int_equal(job.chains, CHAINS);
    assert_int_equal(job.samples, SAMPLES);
    assert_int_equal(job.d, COLS);
    assert_int_equal(job.total, CHAINS * SAMPLES);
    assert_int_equal(job.iter, job.total);
    assert_true(job.accept_rate > 0 && job.accept_rate <= 1);
    assert_int_equal(job.nchains, CHAINS);
    for (size_t c = 0; c < job.nchains; c++) {
        const mcmc_chain_progress *p = &job.progress[c];
        assert_int_equal(p->chain, c);
        assert_int_equal(p->iter, SAMPLES);
        assert_int_equal(p->total, SAMPLES);
        assert_int_equal(p->draws, SAMPLES);
        assert_true(p->accept_rate > 0 && p->accept_rate <= 1);
        assert_true(p->it_per_s > 0);
        assert_true(p->eta_s == 0);
    }
    assert_non_null(job.spec_json);
    assert_non_null(strstr(job.spec_json, "\"mala\""));
    mcmc_job_free(&job);
    assert_null(job.progress);
    mcmc_job_free(&job); /* twice is fine */
}

static void test_submit_json(void **state) {
    (void)state;
    const char *spec = "{\"data\": {\"synthetic\": {\"n\": 50, \"d\": 2, \"seed\": 1}},"
                       " \"sampler\": {\"type\": \"ula\", \"step_size\": 0.001},"
                       " \"num_samples\": 100, \"chains\": 3, \"init\": \"true\"}";
    mcmc_job job;
    mcmc_error err;
    assert_int_equal(mcmc_submit_job_json(g.c, spec, &job, &err), MCMC_CLIENT_OK);
    assert_int_equal(strlen(job.id), 24);
    assert_true(job.state == MCMC_JOB_QUEUED || job.state == MCMC_JOB_RUNNING);
    assert_int_equal(job.chains, 3);
    assert_string_equal(job.dataset, "");
    assert_int_equal(run_to_end(g.c, job.id), MCMC_JOB_SUCCEEDED);
    mcmc_job_free(&job);
    /* out may be NULL */
    assert_int_equal(mcmc_submit_job_json(g.c, spec, NULL, &err), MCMC_CLIENT_OK);
}

static int has_detail(const mcmc_error *err, const char *path) {
    for (size_t i = 0; i < err->ndetails; i++)
        if (!strcmp(err->details[i].path, path) && err->details[i].message[0]) return 1;
    return 0;
}

typedef struct phases_seen {
    size_t warmup, sampling, with_step_size, with_accept;
    uint64_t divergent;
    double last_step_size;
} phases_seen;

static int record_phase(void *ctx, const mcmc_event *ev) {
    phases_seen *p = ctx;
    if (ev->type != MCMC_EVENT_PROGRESS) return 0;
    assert_int_not_equal(ev->phase, MCMC_PHASE_UNKNOWN);
    p->warmup += ev->phase == MCMC_PHASE_WARMUP;
    p->sampling += ev->phase == MCMC_PHASE_SAMPLING;
    p->with_step_size += isfinite(ev->step_size) && ev->step_size > 0;
    p->with_accept += !isnan(ev->accept_rate);
    p->divergent += ev->divergent;
    p->last_step_size = ev->step_size;
    return 0;
}

/* Progress says warmup or sampling and the step size of the moment;
 * samplers without an accept step (ula) report no accept rate anywhere. */
static void test_phases_and_accept(void **state) {
    (void)state;
    mcmc_spec s = small_spec(g.ds.id);
    s.chains = 1;
    s.num_warmup = 150;
    s.num_samples = 100;
    s.progress_every = 50; /* events at 50, 100 (warmup), 150 (warmup done), 200, 250 */
    mcmc_job job;
    mcmc_error err;
    assert_int_equal(mcmc_submit_job(g.c, &s, &job, &err), MCMC_CLIENT_OK);
    phases_seen p = {0};
    mcmc_job_state final;
    assert_int_equal(mcmc_watch_job(g.c, job.id, NULL, record_phase, &p, &final, &err),
                     MCMC_CLIENT_OK);
    assert_int_equal(final, MCMC_JOB_SUCCEEDED);
    assert_int_equal(p.warmup, 2);
    assert_int_equal(p.sampling, 3);
    assert_int_equal(p.with_step_size, 5);
    assert_int_equal(p.with_accept, 5);
    assert_true(p.last_step_size != 0.01); /* adapted away from where it started */
    mcmc_job st;
    assert_int_equal(mcmc_get_job(g.c, job.id, &st, &err), MCMC_CLIENT_OK);
    assert_int_equal(st.progress[0].phase, MCMC_PHASE_SAMPLING);
    assert_float_equal(st.progress[0].step_size, p.last_step_size, 0.0);
    assert_int_equal(st.progress[0].divergent, 0);
    assert_true(st.accept_rate > 0 && st.accept_rate <= 1);
    mcmc_job_free(&st);
    mcmc_job_free(&job);

    s.sampler = "ula";
    s.step_size = 0.001;
    assert_int_equal(mcmc_submit_job(g.c, &s, &job, &err), MCMC_CLIENT_OK);
    memset(&p, 0, sizeof p);
    assert_int_equal(mcmc_watch_job(g.c, job.id, NULL, record_phase, &p, &final, &err),
                     MCMC_CLIENT_OK);
    assert_int_equal(p.warmup + p.sampling, 5);
    assert_int_equal(p.with_accept, 0);
    assert_float_equal(p.last_step_size, 0.001, 0.0); /* ula keeps its step */
    assert_int_equal(mcmc_get_job(g.c, job.id, &st, &err), MCMC_CLIENT_OK);
    assert_true(isnan(st.accept_rate) && isnan(st.progress[0].accept_rate));
    mcmc_job_free(&st);
    mcmc_summary sum;
    assert_int_equal(mcmc_get_summary(g.c, job.id, &sum, &err), MCMC_CLIENT_OK);
    assert_true(isnan(sum.chains[0].accept_rate));
    mcmc_summary_free(&sum);
    mcmc_job_free(&job);
}

static void test_invalid_spec(void **state) {
    (void)state;
    mcmc_spec s = small_spec(g.ds.id);
    s.step_size = -1;
    mcmc_job job;
    mcmc_error err;
    assert_int_equal(mcmc_submit_job(g.c, &s, &job, &err), MCMC_CLIENT_HTTP);
    assert_int_equal(err.status, 422);
    assert_string_equal(err.code, "invalid_spec");
    assert_true(has_detail(&err, "sampler.step_size"));
    assert_null(job.progress);

    const char *bad = "{\"data\": {\"synthetic\": {\"n\": 10, \"d\": 2}},"
                      " \"sampler\": {\"type\": \"mala\", \"step_size\": 0}, \"chains\": 0,"
                      " \"dtype\": \"float16\"}";
    assert_int_equal(mcmc_submit_job_json(g.c, bad, &job, &err), MCMC_CLIENT_HTTP);
    assert_int_equal(err.status, 422);
    assert_true(err.ndetails >= 3);
    assert_true(has_detail(&err, "sampler.step_size"));
    assert_true(has_detail(&err, "chains"));
    assert_true(has_detail(&err, "dtype"));

    s = small_spec("0123456789abcdef0123456789abcdef");
    assert_int_equal(mcmc_submit_job(g.c, &s, &job, &err), MCMC_CLIENT_HTTP);
    assert_true(has_detail(&err, "data.dataset"));

    assert_int_equal(mcmc_submit_job_json(g.c, "{\"sampler\": ", &job, &err), MCMC_CLIENT_HTTP);
    assert_int_equal(err.status, 400);
    assert_string_equal(err.code, "invalid_json");
}

static void test_unknown_job(void **state) {
    (void)state;
    const char *id = "ffffffffffffffffffffffff";
    mcmc_job job;
    mcmc_error err;
    assert_int_equal(mcmc_get_job(g.c, id, &job, &err), MCMC_CLIENT_HTTP);
    assert_int_equal(err.status, 404);
    assert_string_equal(err.code, "not_found");
    assert_non_null(strstr(err.message, id));
    assert_int_equal(mcmc_cancel_job(g.c, id, NULL, &err), MCMC_CLIENT_HTTP);
    assert_int_equal(err.status, 404);
    assert_int_equal(mcmc_delete_job(g.c, id, &err), MCMC_CLIENT_HTTP);
    assert_int_equal(err.status, 404);
    mcmc_summary sum;
    assert_int_equal(mcmc_get_summary(g.c, id, &sum, &err), MCMC_CLIENT_HTTP);
    assert_int_equal(err.status, 404);
    mcmc_draws_shape shape;
    assert_int_equal(mcmc_fetch_draws(g.c, id, NULL, NULL, 0, &shape, &err), MCMC_CLIENT_HTTP);
    assert_int_equal(err.status, 404);
    assert_string_equal(err.code, "not_found");
    assert_int_equal(mcmc_watch_job(g.c, id, NULL, ignore_event, NULL, NULL, &err),
                     MCMC_CLIENT_HTTP);
    assert_int_equal(err.status, 404);
    /* an id that needs escaping stays one path segment */
    assert_int_equal(mcmc_get_job(g.c, "a/b?c=d", &job, &err), MCMC_CLIENT_HTTP);
    assert_int_equal(err.status, 404);
}

static void test_unreachable(void **state) {
    (void)state;
    char url[64];
    snprintf(url, sizeof url, "http://127.0.0.1:%d", closed_port());
    mcmc_client *c;
    assert_int_equal(mcmc_client_new(url, NULL, &c), MCMC_CLIENT_OK);
    mcmc_error err;
    mcmc_job job;
    assert_int_equal(mcmc_get_job(c, g.job_id, &job, &err), MCMC_CLIENT_UNREACHABLE);
    assert_int_equal(err.status, 0);
    assert_string_equal(err.code, "unreachable");
    assert_true(err.message[0] != '\0');
    mcmc_job_list list;
    assert_int_equal(mcmc_list_jobs(c, MCMC_JOB_UNKNOWN, 0, NULL, &list, &err),
                     MCMC_CLIENT_UNREACHABLE);
    mcmc_dataset ds;
    assert_int_equal(mcmc_upload_dataset(c, "x", g.X, g.y, ROWS, COLS, &ds, &err),
                     MCMC_CLIENT_UNREACHABLE);
    assert_int_equal(mcmc_watch_job(c, g.job_id, NULL, ignore_event, NULL, NULL, &err),
                     MCMC_CLIENT_UNREACHABLE);
    mcmc_draws_shape shape;
    assert_int_equal(mcmc_fetch_draws(c, g.job_id, NULL, NULL, 0, &shape, &err),
                     MCMC_CLIENT_UNREACHABLE);
    mcmc_client_free(c);
}

static void test_list_jobs(void **state) {
    (void)state;
    mcmc_job_list all, page;
    mcmc_error err;
    assert_int_equal(mcmc_list_jobs(g.c, MCMC_JOB_UNKNOWN, 0, NULL, &all, &err), MCMC_CLIENT_OK);
    assert_true(all.count >= 1);
    assert_string_equal(all.next_page_token, "");
    /* one at a time, by token: the same jobs in the same order */
    char token[128] = "";
    size_t seen = 0;
    do {
        assert_int_equal(mcmc_list_jobs(g.c, MCMC_JOB_UNKNOWN, 1, token, &page, &err),
                         MCMC_CLIENT_OK);
        assert_true(page.count <= 1);
        if (page.count) {
            assert_true(seen < all.count);
            assert_string_equal(page.jobs[0].id, all.jobs[seen].id);
            seen++;
        }
        snprintf(token, sizeof token, "%s", page.next_page_token);
        mcmc_job_list_free(&page);
    } while (token[0]);
    assert_int_equal(seen, all.count);
    mcmc_job_list_free(&all);

    assert_int_equal(mcmc_list_jobs(g.c, MCMC_JOB_SUCCEEDED, 0, NULL, &all, &err), MCMC_CLIENT_OK);
    int fixture = 0;
    for (size_t i = 0; i < all.count; i++) {
        assert_int_equal(all.jobs[i].state, MCMC_JOB_SUCCEEDED);
        assert_null(all.jobs[i].spec_json);
        fixture += !strcmp(all.jobs[i].id, g.job_id);
    }
    assert_int_equal(fixture, 1);
    mcmc_job_list_free(&all);

    assert_int_equal(mcmc_list_jobs(g.c, MCMC_JOB_UNKNOWN, 0, "bogus-token", &all, &err),
                     MCMC_CLIENT_HTTP);
    assert_int_equal(err.status, 400);
    assert_string_equal(err.code, "invalid_query");
}

static void test_cancel_and_delete(void **state) {
    (void)state;
    mcmc_spec s = long_spec();
    mcmc_job job, after;
    mcmc_error err;
    assert_int_equal(mcmc_submit_job(g.c, &s, &job, &err), MCMC_CLIENT_OK);
    assert_int_equal(mcmc_delete_job(g.c, job.id, &err), MCMC_CLIENT_HTTP);
    assert_int_equal(err.status, 409);
    assert_string_equal(err.code, "conflict");
    assert_int_equal(mcmc_cancel_job(g.c, job.id, &after, &err), MCMC_CLIENT_OK);
    assert_string_equal(after.id, job.id);
    mcmc_job_free(&after);
    assert_int_equal(run_to_end(g.c, job.id), MCMC_JOB_CANCELLED);
    assert_int_equal(mcmc_get_job(g.c, job.id, &after, &err), MCMC_CLIENT_OK);
    assert_int_equal(after.state, MCMC_JOB_CANCELLED);
    assert_true(after.iter < after.total); /* stopped long before the end */
    mcmc_job_free(&after);
    assert_int_equal(mcmc_cancel_job(g.c, job.id, NULL, &err), MCMC_CLIENT_HTTP);
    assert_int_equal(err.status, 409);
    assert_int_equal(mcmc_delete_job(g.c, job.id, &err), MCMC_CLIENT_OK);
    assert_int_equal(mcmc_get_job(g.c, job.id, &after, &err), MCMC_CLIENT_HTTP);
    assert_int_equal(err.status, 404);
    mcmc_job_free(&job);
}

/* --- tests: watching ----------------------------------------------------- */

static void check_seq_run(const seen_events *s, uint64_t first) {
    for (size_t i = 0; i < s->n; i++)
        assert_int_equal(s->seq[i], first + i); /* each once, none missing */
}

static void test_watch_events(void **state) {
    (void)state;
    static seen_events s;
    memset(&s, 0, sizeof s);
    mcmc_job_state final;
    mcmc_error err;
    assert_int_equal(mcmc_watch_job(g.c, g.job_id, NULL, record_event, &s, &final, &err),
                     MCMC_CLIENT_OK);
    assert_int_equal(final, MCMC_JOB_SUCCEEDED);
    assert_true(s.n >= 4); /* queued, running, progress..., done */
    assert_int_equal(s.type[0], MCMC_EVENT_STATE);
    assert_int_equal(s.type[s.n - 1], MCMC_EVENT_DONE);
    assert_int_equal(s.last_state, MCMC_JOB_SUCCEEDED);
    check_seq_run(&s, 1);
    size_t total = s.n;

    /* resume from a seq: only the later events */
    mcmc_watch_options o = mcmc_watch_options_default();
    o.after = 2;
    memset(&s, 0, sizeof s);
    assert_int_equal(mcmc_watch_job(g.c, g.job_id, &o, record_event, &s, &final, &err),
                     MCMC_CLIENT_OK);
    assert_int_equal(s.n, total - 2);
    check_seq_run(&s, 3);

    /* the callback stops the watch */
    memset(&s, 0, sizeof s);
    s.stop_after = 2;
    assert_int_equal(mcmc_watch_job(g.c, g.job_id, NULL, record_event, &s, &final, &err),
                     MCMC_CLIENT_CANCELLED);
    assert_int_equal(s.n, 2);
    assert_string_equal(err.code, "cancelled");
    assert_int_equal(final, MCMC_JOB_UNKNOWN);
}

static void test_watch_heartbeats(void **state) {
    (void)state;
    mcmc_spec spec = long_spec();
    mcmc_job job;
    mcmc_error err;
    assert_int_equal(mcmc_submit_job(g.c, &spec, &job, &err), MCMC_CLIENT_OK);
    static seen_events s;
    memset(&s, 0, sizeof s);
    s.stop_at_heartbeat = 1;
    mcmc_watch_options o = mcmc_watch_options_default();
    o.heartbeats = 1;
    assert_int_equal(mcmc_watch_job(g.c, job.id, &o, record_event, &s, NULL, &err),
                     MCMC_CLIENT_CANCELLED);
    assert_int_equal(s.heartbeats, 1);
    assert_true(s.n >= 1);
    check_seq_run(&s, 1);
    assert_int_equal(mcmc_cancel_job(g.c, job.id, NULL, &err), MCMC_CLIENT_OK);
    assert_int_equal(run_to_end(g.c, job.id), MCMC_JOB_CANCELLED);
    mcmc_job_free(&job);
}

static void *run_cut_proxy(cut_proxy *p) {
    memset(p, 0, sizeof *p);
    p->fd = listen_loopback(&p->port);
    assert_true(p->fd >= 0);
    const char *colon = strrchr(g.url, ':');
    p->upstream_port = atoi(colon + 1);
    assert_int_equal(pthread_create(&p->thread, NULL, cut_proxy_main, p), 0);
    return p;
}

static void test_watch_resumes_after_drops(void **state) {
    (void)state;
    mcmc_spec spec = small_spec(g.ds.id);
    spec.num_samples = 3000;
    spec.progress_every = 100; /* 60 progress events */
    mcmc_job job;
    mcmc_error err;
    assert_int_equal(mcmc_submit_job(g.c, &spec, &job, &err), MCMC_CLIENT_OK);

    static cut_proxy p;
    run_cut_proxy(&p);
    /* the first connections close mid-stream, some inside an event */
    const size_t cuts[] = {350, 777, 1234, 2000};
    memcpy(p.cut_after, cuts, sizeof cuts);
    p.ncuts = 4;
    char url[64];
    snprintf(url, sizeof url, "http://127.0.0.1:%d", p.port);
    mcmc_client *via;
    assert_int_equal(mcmc_client_new(url, NULL, &via), MCMC_CLIENT_OK);
    static seen_events s, direct;
    memset(&s, 0, sizeof s);
    mcmc_watch_options o = mcmc_watch_options_default();
    o.retry_delay_ms = 20;
    mcmc_job_state final;
    assert_int_equal(mcmc_watch_job(via, job.id, &o, record_event, &s, &final, &err),
                     MCMC_CLIENT_OK);
    assert_int_equal(final, MCMC_JOB_SUCCEEDED);
    assert_true(p.connections >= 5);
    /* each reconnection resumed after the last event it had */
    assert_null(strstr(p.head[0], "Last-Event-ID"));
    unsigned long long last = 0;
    for (int k = 1; k < 5; k++) {
        const char *h = strstr(p.head[k], "\r\nLast-Event-ID: ");
        assert_non_null(h);
        unsigned long long id = strtoull(h + 17, NULL, 10);
        assert_true(id > 0 && id >= last);
        last = id;
    }
    mcmc_client_free(via);
    p.stop = 1;
    pthread_join(p.thread, NULL);
    close(p.fd);

    /* exactly the daemon's log: every seq once, in order, done last */
    memset(&direct, 0, sizeof direct);
    assert_int_equal(run_to_end(g.c, job.id), MCMC_JOB_SUCCEEDED);
    assert_int_equal(mcmc_watch_job(g.c, job.id, NULL, record_event, &direct, NULL, &err),
                     MCMC_CLIENT_OK);
    assert_int_equal(s.n, direct.n);
    assert_true(s.n > 60);
    check_seq_run(&s, 1);
    for (size_t i = 0; i < s.n; i++)
        assert_int_equal(s.type[i], direct.type[i]);
    assert_int_equal(s.type[s.n - 1], MCMC_EVENT_DONE);
    mcmc_job_free(&job);
}

static void test_watch_gives_up(void **state) {
    (void)state;
    /* every connection is cut before the first event: bounded retries */
    static cut_proxy p;
    run_cut_proxy(&p);
    for (int k = 0; k < 4; k++)
        p.cut_after[k] = 250; /* the headers and retry: come, event 1 does not */
    p.ncuts = 4;
    char url[64];
    snprintf(url, sizeof url, "http://127.0.0.1:%d", p.port);
    mcmc_client *via;
    assert_int_equal(mcmc_client_new(url, NULL, &via), MCMC_CLIENT_OK);
    mcmc_watch_options o = mcmc_watch_options_default();
    o.max_retries = 3;
    o.retry_delay_ms = 10;
    mcmc_error err;
    assert_int_equal(mcmc_watch_job(via, g.job_id, &o, ignore_event, NULL, NULL, &err),
                     MCMC_CLIENT_UNREACHABLE);
    assert_int_equal(p.connections, 4); /* the first and 3 retries */
    assert_non_null(strstr(err.message, "before the done event"));
    mcmc_client_free(via);
    p.stop = 1;
    pthread_join(p.thread, NULL);
    close(p.fd);
}

/* --- tests: draws and summaries ------------------------------------------ */

static void test_fetch_draws(void **state) {
    (void)state;
    mcmc_draws_shape shape;
    mcmc_error err;
    /* the size first */
    assert_int_equal(mcmc_fetch_draws(g.c, g.job_id, NULL, NULL, 0, &shape, &err), MCMC_CLIENT_OK);
    assert_int_equal(shape.chains, CHAINS);
    assert_int_equal(shape.rows, SAMPLES);
    assert_int_equal(shape.d, COLS);
    size_t n = CHAINS * SAMPLES * COLS;
    double *all = malloc(n * sizeof *all), small[10];
    assert_non_null(all);
    /* too small: the size needed comes back */
    assert_int_equal(mcmc_fetch_draws(g.c, g.job_id, NULL, small, 10, &shape, &err),
                     MCMC_CLIENT_INVALID);
    assert_int_equal(shape.chains * shape.rows * shape.d, n);
    assert_int_equal(mcmc_fetch_draws(g.c, g.job_id, NULL, all, n, &shape, &err), MCMC_CLIENT_OK);
    for (size_t k = 0; k < n; k++)
        assert_true(isfinite(all[k]));
    /* chain 1, draws 10, 15, ..., 45 */
    mcmc_draw_query q = {.chain = 1, .start = 10, .stop = 50, .thin = 5};
    double sel[8 * COLS];
    assert_int_equal(mcmc_fetch_draws(g.c, g.job_id, &q, sel, 8 * COLS, &shape, &err),
                     MCMC_CLIENT_OK);
    assert_int_equal(shape.chains, 1);
    assert_int_equal(shape.rows, 8);
    for (size_t i = 0; i < 8; i++)
        for (size_t j = 0; j < COLS; j++)
            assert_true(sel[i * COLS + j] == all[(SAMPLES + 10 + 5 * i) * COLS + j]);
    q = (mcmc_draw_query){.chain = CHAINS, .stop = MCMC_DRAWS_END};
    assert_int_equal(mcmc_fetch_draws(g.c, g.job_id, &q, NULL, 0, &shape, &err), MCMC_CLIENT_HTTP);
    assert_int_equal(err.status, 400);
    assert_string_equal(err.code, "invalid_query");

    /* the summary's means are those of these draws */
    mcmc_summary sum;
    assert_int_equal(mcmc_get_summary(g.c, g.job_id, &sum, &err), MCMC_CLIENT_OK);
    assert_int_equal(sum.nparams, COLS);
    for (size_t j = 0; j < COLS; j++) {
        double mean = 0;
        for (size_t k = 0; k < CHAINS * SAMPLES; k++)
            mean += all[k * COLS + j];
        mean /= CHAINS * SAMPLES;
        assert_true(fabs(mean - sum.params[j].mean) < 1e-9 * (1 + fabs(mean)));
    }
    mcmc_summary_free(&sum);
    free(all);
}

static void test_summary(void **state) {
    (void)state;
    mcmc_summary sum;
    mcmc_error err;
    assert_int_equal(mcmc_get_summary(g.c, g.job_id, &sum, &err), MCMC_CLIENT_OK);
    assert_string_equal(sum.job, g.job_id);
    assert_int_equal(sum.state, MCMC_JOB_SUCCEEDED);
    assert_int_equal(sum.draws_per_chain, SAMPLES);
    assert_int_equal(sum.nparams, COLS);
    assert_string_equal(sum.params[0].name, "theta.1");
    assert_string_equal(sum.params[2].name, "theta.3");
    for (size_t j = 0; j < COLS; j++) {
        const mcmc_param_summary *p = &sum.params[j];
        assert_true(p->sd > 0 && p->q05 <= p->q50 && p->q50 <= p->q95);
        assert_true(p->mcse_mean > 0 && p->ess_bulk > 0 && p->ess_tail > 0);
        assert_true(p->rhat > 0.5 && p->rhat < 2);
    }
    assert_int_equal(sum.nchains, CHAINS);
    for (size_t c = 0; c < CHAINS; c++) {
        assert_int_equal(sum.chains[c].chain, c);
        assert_int_equal(sum.chains[c].draws, SAMPLES);
        assert_true(sum.chains[c].accept_rate > 0 && sum.chains[c].accept_rate <= 1);
    }
    mcmc_summary_free(&sum);
    assert_null(sum.params);

    /* one draw: statistics the server cannot compute arrive as NaN */
    mcmc_spec s = small_spec(g.ds.id);
    s.chains = 1;
    s.num_samples = 1;
    mcmc_job job;
    assert_int_equal(mcmc_submit_job(g.c, &s, &job, &err), MCMC_CLIENT_OK);
    assert_int_equal(run_to_end(g.c, job.id), MCMC_JOB_SUCCEEDED);
    assert_int_equal(mcmc_get_summary(g.c, job.id, &sum, &err), MCMC_CLIENT_OK);
    assert_true(isfinite(sum.params[0].mean));
    assert_true(isnan(sum.params[0].sd));
    assert_true(isnan(sum.params[0].rhat));
    mcmc_summary_free(&sum);
    mcmc_job_free(&job);
}

/* --- tests: answers that are not what they should be ---------------------- */

static void test_protocol_errors(void **state) {
    (void)state;
    static fake_server f;
    const char *not_json = "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
                           "Content-Length: 8\r\nConnection: close\r\n\r\nnot json";
    fake_server_start(&f, not_json, strlen(not_json));
    char url[64];
    snprintf(url, sizeof url, "http://127.0.0.1:%d/", f.port);
    mcmc_client *c;
    assert_int_equal(mcmc_client_new(url, "secret-token", &c), MCMC_CLIENT_OK);
    mcmc_job job;
    mcmc_error err;
    assert_int_equal(mcmc_get_job(c, "abc", &job, &err), MCMC_CLIENT_PROTOCOL);
    assert_string_equal(err.code, "protocol");
    /* what the client sent: the path, the bearer token */
    assert_non_null(strstr(f.request, "GET /v1/jobs/abc HTTP/1.1\r\n"));
    assert_non_null(strstr(f.request, "\r\nAuthorization: Bearer secret-token\r\n"));
    mcmc_draws_shape shape;
    assert_int_equal(mcmc_fetch_draws(c, "abc", NULL, NULL, 0, &shape, &err), MCMC_CLIENT_PROTOCOL);
    assert_int_equal(mcmc_watch_job(c, "abc", NULL, ignore_event, NULL, NULL, &err),
                     MCMC_CLIENT_PROTOCOL);
    fake_server_stop(&f);

    /* a .npy of float32 */
    char body[136], npy[512];
    memcpy(body, "\x93NUMPY\x01\x00\x76\x00", 10); /* v1.0, a 118-byte header */
    snprintf(body + 10, 119, "%-117s\n",
             "{'descr': '<f4', 'fortran_order': False, 'shape': (1, 1, 2), }");
    memset(body + 128, 0, 8);
    int n = snprintf(npy, sizeof npy,
                     "HTTP/1.1 200 OK\r\nContent-Type: application/x-npy\r\n"
                     "Content-Length: %zu\r\nConnection: close\r\n\r\n",
                     sizeof body);
    memcpy(npy + n, body, sizeof body);
    fake_server_start(&f, npy, (size_t)n + sizeof body);
    mcmc_client_free(c);
    snprintf(url, sizeof url, "http://127.0.0.1:%d", f.port);
    assert_int_equal(mcmc_client_new(url, "", &c), MCMC_CLIENT_OK); /* "": no token */
    assert_int_equal(mcmc_fetch_draws(c, "abc", NULL, NULL, 0, &shape, &err), MCMC_CLIENT_PROTOCOL);
    assert_non_null(strstr(err.message, "<f8"));
    assert_null(strstr(f.request, "Authorization"));
    fake_server_stop(&f);

    /* an error answer that is not the server's JSON */
    const char *html = "HTTP/1.1 502 Bad Gateway\r\nContent-Type: text/html\r\n"
                       "Content-Length: 9\r\nConnection: close\r\n\r\n<b>no</b>";
    fake_server_start(&f, html, strlen(html));
    mcmc_client_free(c);
    snprintf(url, sizeof url, "http://127.0.0.1:%d", f.port);
    assert_int_equal(mcmc_client_new(url, NULL, &c), MCMC_CLIENT_OK);
    assert_int_equal(mcmc_get_job(c, "abc", &job, &err), MCMC_CLIENT_HTTP);
    assert_int_equal(err.status, 502);
    assert_string_equal(err.code, "http_502");
    assert_int_equal(err.ndetails, 0);
    fake_server_stop(&f);
    mcmc_client_free(c);
}

/* --- tests: tokens, 401, 403, 429 ---------------------------------------- */

/* A fake server's error answer: status, its JSON error, extra headers. */
static int error_answer(char *buf, size_t cap, int status, const char *reason, const char *headers,
                        const char *code, const char *message) {
    char body[512];
    int n = snprintf(body, sizeof body, "{\"error\": {\"code\": \"%s\", \"message\": \"%s\"}}",
                     code, message);
    return snprintf(buf, cap,
                    "HTTP/1.1 %d %s\r\nContent-Type: application/json\r\n%sContent-Length: "
                    "%d\r\nConnection: close\r\n\r\n%s",
                    status, reason, headers, n, body);
}

static void test_auth_statuses(void **state) {
    (void)state;
    static fake_server f;
    static char answer[1024];
    struct {
        int status;
        const char *reason, *headers, *code, *message;
        mcmc_client_status want;
    } cases[] = {
        {401, "Unauthorized", "WWW-Authenticate: Bearer realm=\"mcmcd\"\r\n", "unauthorized",
         "a bearer token is required", MCMC_CLIENT_UNAUTHORIZED},
        {403, "Forbidden", "", "forbidden", "admins only", MCMC_CLIENT_FORBIDDEN},
        {429, "Too Many Requests", "Retry-After: 30\r\n", "quota_exceeded",
         "queued_jobs: 1 of 1 in use", MCMC_CLIENT_RATE_LIMITED},
    };
    char url[64];
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        int n = error_answer(answer, sizeof answer, cases[i].status, cases[i].reason,
                             cases[i].headers, cases[i].code, cases[i].message);
        fake_server_start(&f, answer, (size_t)n);
        snprintf(url, sizeof url, "http://127.0.0.1:%d", f.port);
        mcmc_client *c;
        assert_int_equal(mcmc_client_new(url, "tok", &c), MCMC_CLIENT_OK);
        mcmc_error err;
        mcmc_job job;
        mcmc_user user;
        assert_int_equal(mcmc_get_job(c, "abc", &job, &err), cases[i].want);
        assert_int_equal(err.status, cases[i].status);
        assert_string_equal(err.code, cases[i].code);
        assert_string_equal(err.message, cases[i].message);
        assert_true(mcmc_client_status_is_http(cases[i].want));
        assert_int_equal(mcmc_whoami(c, &user, &err), cases[i].want);
        assert_non_null(strstr(f.request, "GET /v1/users/me HTTP/1.1\r\n"));
        assert_int_equal(user.nlimits, 0);
        /* a watch does not retry an answer: it ends with its status */
        assert_int_equal(mcmc_watch_job(c, "abc", NULL, ignore_event, NULL, NULL, &err),
                         cases[i].want);
        assert_int_equal(err.status, cases[i].status);
        mcmc_client_free(c);
        fake_server_stop(&f);
    }
    /* a NULL token: MCMC_TOKEN's is sent */
    const char *empty = "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
                        "Content-Length: 2\r\nConnection: close\r\n\r\n{}";
    fake_server_start(&f, empty, strlen(empty));
    snprintf(url, sizeof url, "http://127.0.0.1:%d", f.port);
    char *saved = strdup(getenv("MCMC_TOKEN") ? getenv("MCMC_TOKEN") : "");
    setenv("MCMC_TOKEN", "token-from-env", 1);
    mcmc_client *c;
    assert_int_equal(mcmc_client_new(url, NULL, &c), MCMC_CLIENT_OK);
    assert_string_equal(mcmc_client_token_source(c), "MCMC_TOKEN");
    mcmc_user user;
    mcmc_error err;
    assert_int_equal(mcmc_whoami(c, &user, &err), MCMC_CLIENT_PROTOCOL); /* {} is no user */
    assert_non_null(strstr(f.request, "\r\nAuthorization: Bearer token-from-env\r\n"));
    mcmc_client_free(c);
    setenv("MCMC_TOKEN", saved, 1);
    free(saved);
    fake_server_stop(&f);
}

/* A client of the test daemon with token (NULL: MCMC_TOKEN's, the admin). */
static mcmc_client *client_with(const char *token) {
    mcmc_client *c;
    assert_int_equal(mcmc_client_new(g.url, token, &c), MCMC_CLIENT_OK);
    return c;
}

static void test_unauthorized(void **state) {
    (void)state;
    mcmc_client *none = client_with(""),
                *bad =
                    client_with("mcmcd_0000000000000000_"
                                "0000000000000000000000000000000000000000000000000000000000000000");
    mcmc_error err;
    mcmc_job_list list;
    assert_int_equal(mcmc_list_jobs(none, MCMC_JOB_UNKNOWN, 0, NULL, &list, &err),
                     MCMC_CLIENT_UNAUTHORIZED);
    assert_int_equal(err.status, 401);
    assert_string_equal(err.code, "unauthorized");
    assert_true(err.message[0] != '\0');
    mcmc_job job;
    assert_int_equal(mcmc_get_job(none, g.job_id, &job, &err), MCMC_CLIENT_UNAUTHORIZED);
    mcmc_user user;
    assert_int_equal(mcmc_whoami(bad, &user, &err), MCMC_CLIENT_UNAUTHORIZED);
    assert_int_equal(err.status, 401);
    assert_string_equal(err.code, "invalid_token");
    assert_null(strstr(err.message, "0000000000000000000000")); /* never echoed */
    assert_int_equal(mcmc_watch_job(bad, g.job_id, NULL, ignore_event, NULL, NULL, &err),
                     MCMC_CLIENT_UNAUTHORIZED);
    /* public routes need none */
    char *info = NULL;
    assert_int_equal(mcmc_get_info_json(none, &info, &err), MCMC_CLIENT_OK);
    free(info);
    mcmc_client_free(none);
    mcmc_client_free(bad);
}

static void test_whoami(void **state) {
    (void)state;
    mcmc_user me;
    mcmc_error err;
    assert_non_null(mcmc_client_token_source(g.c));
    assert_string_equal(mcmc_client_token_source(g.c), "MCMC_TOKEN");
    assert_int_equal(mcmc_whoami(g.c, &me, &err), MCMC_CLIENT_OK);
    assert_string_equal(me.name, "admin");
    assert_int_equal(me.admin, 1);
    assert_true(me.nlimits >= 5);
    assert_true(me.nusage >= 3);
    const char *limits[] = {"running_chains", "queued_jobs", "stored_bytes"};
    for (size_t i = 0; i < 3; i++) {
        size_t k = 0;
        while (k < me.nlimits && strcmp(me.limits[k].name, limits[i]) != 0)
            k++;
        assert_true(k < me.nlimits);
        k = 0;
        while (k < me.nusage && strcmp(me.usage[k].name, limits[i]) != 0)
            k++;
        assert_true(k < me.nusage);
    }
    /* the fixture's dataset counts */
    assert_true(mcmc_user_value_get(me.usage, me.nusage, "stored_bytes") >= g.ds.bytes);
    assert_int_equal(mcmc_user_value_get(me.usage, me.nusage, "no_such_value"), 0);
    mcmc_user_free(&me);
    mcmc_user_free(&me); /* twice is safe */

    /* another user: not an admin, and none of the admin's jobs */
    char token[256];
    assert_int_equal(mcmcd_command("user add bob", token, sizeof token), 0);
    assert_int_equal(mcmcd_command("token new bob", token, sizeof token), 0);
    mcmc_client *bob = client_with(token);
    assert_int_equal(mcmc_whoami(bob, &me, &err), MCMC_CLIENT_OK);
    assert_string_equal(me.name, "bob");
    assert_int_equal(me.admin, 0);
    mcmc_user_free(&me);
    mcmc_job job;
    assert_int_equal(mcmc_get_job(bob, g.job_id, &job, &err), MCMC_CLIENT_HTTP);
    assert_int_equal(err.status, 404);
    mcmc_client_free(bob);
}

static void test_forbidden(void **state) {
    (void)state;
    char token[256];
    assert_int_equal(mcmcd_command("token new admin --scope metrics", token, sizeof token), 0);
    mcmc_client *metrics = client_with(token);
    mcmc_user me;
    mcmc_error err;
    assert_int_equal(mcmc_whoami(metrics, &me, &err), MCMC_CLIENT_FORBIDDEN);
    assert_int_equal(err.status, 403);
    assert_string_equal(err.code, "forbidden");
    assert_true(err.message[0] != '\0');
    mcmc_job_list list;
    assert_int_equal(mcmc_list_jobs(metrics, MCMC_JOB_UNKNOWN, 0, NULL, &list, &err),
                     MCMC_CLIENT_FORBIDDEN);
    mcmc_client_free(metrics);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_client_arguments),
        cmocka_unit_test(test_upload_arrays),
        cmocka_unit_test(test_upload_csv),
        cmocka_unit_test(test_upload_too_large),
        cmocka_unit_test(test_datasets_list_get_delete),
        cmocka_unit_test(test_spec_builder_json),
        cmocka_unit_test(test_submit_and_status),
        cmocka_unit_test(test_submit_json),
        cmocka_unit_test(test_info),
        cmocka_unit_test(test_phases_and_accept),
        cmocka_unit_test(test_invalid_spec),
        cmocka_unit_test(test_unknown_job),
        cmocka_unit_test(test_unreachable),
        cmocka_unit_test(test_list_jobs),
        cmocka_unit_test(test_cancel_and_delete),
        cmocka_unit_test(test_watch_events),
        cmocka_unit_test(test_watch_heartbeats),
        cmocka_unit_test(test_watch_resumes_after_drops),
        cmocka_unit_test(test_watch_gives_up),
        cmocka_unit_test(test_fetch_draws),
        cmocka_unit_test(test_summary),
        cmocka_unit_test(test_protocol_errors),
        cmocka_unit_test(test_auth_statuses),
        cmocka_unit_test(test_unauthorized),
        cmocka_unit_test(test_whoami),
        cmocka_unit_test(test_forbidden),
    };
    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
