/* http.c - libmicrohttpd in external epoll mode on the libuv loop.
 *
 * Lifecycle of a request: MHD calls on_uri with the raw request target
 * before it files the query arguments (a target over the limits has its
 * query cut off there, see http.h), then on_access once with the headers
 * (the limits of http.h are checked right there, and a declared body over
 * the limit refused with 413), then with
 * each chunk of body, then with *upload_size == 0; that last call hands the
 * request to the application handler. An answer is kept as `pending` and
 * queued on return; with no answer yet the connection is suspended, and
 * http_respond on a suspended request resumes it, so MHD calls on_access
 * again and the pending answer is queued then. MHD_run runs after the poll
 * handle fires and from a zero-delay timer whenever something was resumed.
 *
 * The listening socket is ours (http_listen), handed to MHD: no
 * SO_REUSEPORT, so a second daemon on a port in use fails to start instead
 * of sharing it. HTTPS is MHD's GnuTLS support, from PEM texts in memory.
 */
#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "http.h"
#include "utf8.h"

/* The first message libmicrohttpd logs while capture is on. */
typedef struct mhd_log {
    char text[256];
    int capture;
} mhd_log;

struct http_server {
    uv_loop_t *loop;
    struct MHD_Daemon *daemon;
    uv_poll_t poll;
    uv_timer_t timer;
    uv_idle_t waking;                /* resumes woken streams, a batch a turn */
    http_stream *woken, *woken_tail; /* streams waiting for that, in order */
    http_handler_fn fn;
    void *app;
    http_done_fn done; /* NULL: nobody observes answers */
    http_hold_fn hold; /* NULL: answers to writes go out at once */
    void *hold_ctx;
    uint64_t released; /* held answers with tickets up to this went out */
    uint64_t max_body;
    http_body_limit_fn body_limit; /* NULL: max_body for every route */
    unsigned max_streams, idle_timeout, conn_limit;
    unsigned connections; /* open TCP connections, counted by on_connection */
    int stopping, handles_open;
    unsigned streams;
    http_request *deferred; /* suspended requests waiting for an answer */
    http_stream *stream_list;
    uint16_t port;
    char *tls_cert, *tls_key; /* PEM copies; NULL for plain HTTP */
    mhd_log log;
};

typedef struct header_pair {
    char *name, *value;
} header_pair;

struct http_request {
    http_server *srv;
    struct MHD_Connection *conn;
    char *method, *path;
    char *body;
    size_t len, cap;
    const char *label;   /* http_request_set_label */
    uint64_t arrived_ns; /* uv_hrtime() */
    int too_large, dispatched, suspended;
    uint64_t max_body; /* this request's: body_limit's, or the server's */
    int held;          /* a 2xx to a write, waiting for http_server_release */
    uint64_t ticket;   /* from hold, while held */
    int target_status; /* on_uri found the target over a limit: 400 or 414 */
    size_t nargs;      /* query arguments in the target */
    /* a stream refused: its context, freed with the request (the handler
     * may still touch it as http_respond_stream returns) */
    http_stream_free_fn refused_free;
    void *refused_ctx;
    struct MHD_Response *pending;
    unsigned pending_status;
    header_pair *headers;
    size_t nheaders;
    char ctype[96];
    http_request *next, *prev; /* in srv->deferred while suspended */
};

struct http_stream {
    http_server *srv;
    struct MHD_Connection *conn;
    http_stream_fn fn;
    http_stream_free_fn free_fn;
    void *ctx;
    int suspended, woken; /* woken: in srv->woken, to be resumed */
    http_stream *next, *prev;
    http_stream *woken_next, *woken_prev;
};

static void server_run(http_server *s);

static void on_timer(uv_timer_t *t) {
    server_run(t->data);
}

/* Runs MHD soon, outside whatever callback we are in. */
static void server_kick(http_server *s) {
    if (s->handles_open) uv_timer_start(&s->timer, on_timer, 0, 0);
}

static void server_run(http_server *s) {
    if (!s->daemon) return;
    MHD_run(s->daemon);
    MHD_UNSIGNED_LONG_LONG ms;
    if (MHD_get_timeout(s->daemon, &ms) == MHD_YES)
        uv_timer_start(&s->timer, on_timer, ms, 0);
    else
        uv_timer_stop(&s->timer);
}

static void on_poll(uv_poll_t *p, int status, int events) {
    (void)status, (void)events;
    server_run(p->data);
}

/* --- requests ------------------------------------------------------------ */

static void list_remove_request(http_request *req) {
    if (req->prev)
        req->prev->next = req->next;
    else if (req->srv->deferred == req)
        req->srv->deferred = req->next;
    if (req->next) req->next->prev = req->prev;
    req->next = req->prev = NULL;
}

static void request_free(http_request *req) {
    if (req->refused_free) req->refused_free(req->refused_ctx);
    if (req->suspended) list_remove_request(req);
    if (req->pending) MHD_destroy_response(req->pending);
    for (size_t i = 0; i < req->nheaders; i++)
        free(req->headers[i].name), free(req->headers[i].value);
    free(req->headers);
    free(req->method);
    free(req->path);
    free(req->body);
    free(req);
}

static void on_completed(void *cls, struct MHD_Connection *conn, void **con_cls,
                         enum MHD_RequestTerminationCode code) {
    (void)cls, (void)conn, (void)code;
    if (*con_cls) request_free(*con_cls);
    *con_cls = NULL;
}

/* Counts open connections for request_refused. Asking MHD instead
 * (MHD_get_daemon_info with MHD_DAEMON_INFO_CURRENT_CONNECTIONS) from
 * inside on_access frees the connections MHD has closed while MHD_run is
 * still walking them: a use after free inside libmicrohttpd (0.9.75)
 * that crashed the daemon under tests/http_fuzz.py. */
static void on_connection(void *cls, struct MHD_Connection *conn, void **socket_context,
                          enum MHD_ConnectionNotificationCode code) {
    (void)conn, (void)socket_context;
    http_server *s = cls;
    if (code == MHD_CONNECTION_NOTIFY_STARTED)
        s->connections++;
    else if (code == MHD_CONNECTION_NOTIFY_CLOSED && s->connections)
        s->connections--;
}

static int body_append(http_request *req, const char *data, size_t n) {
    if (req->too_large || req->len + n > req->max_body) {
        req->too_large = 1;
        free(req->body);
        req->body = NULL;
        req->len = req->cap = 0;
        return 0;
    }
    if (req->len + n + 1 > req->cap) {
        size_t cap = req->cap ? req->cap : 4096;
        while (cap < req->len + n + 1)
            cap *= 2;
        char *b = realloc(req->body, cap);
        if (!b) return -1;
        req->body = b;
        req->cap = cap;
    }
    memcpy(req->body + req->len, data, n);
    req->len += n;
    req->body[req->len] = 0;
    return 0;
}

static http_request *request_new(http_server *s, struct MHD_Connection *conn) {
    http_request *req = calloc(1, sizeof *req);
    if (!req) return NULL;
    req->srv = s;
    req->conn = conn;
    req->arrived_ns = uv_hrtime();
    return req;
}

/* Called by MHD with the request target as it came (path and query),
 * before the query is split into arguments in the connection's memory
 * pool: too many arguments exhaust the pool and MHD then never answers
 * (0.9.75). Over a limit, the query is cut off here (the target lies in
 * MHD's writable read buffer; MHD looks for '?' before this call and
 * parses what follows it after) and on_access answers 400 or 414. The
 * request made here is the one on_access gets. */
static void *on_uri(void *cls, const char *uri, struct MHD_Connection *conn) {
    http_request *req = request_new(cls, conn);
    if (!req) return NULL;
    char *query = strchr(uri, '?');
    if (query) {
        req->nargs = 1;
        for (const char *p = query + 1; *p; p++)
            req->nargs += *p == '&';
    }
    if (strlen(uri) > HTTP_MAX_URL)
        req->target_status = 414;
    else if (req->nargs > HTTP_MAX_QUERY_ARGS)
        req->target_status = 400;
    if (req->target_status && query) query[1] = 0;
    return req;
}

static enum MHD_Result queue_pending(http_request *req) {
    enum MHD_Result r = MHD_queue_response(req->conn, req->pending_status, req->pending);
    if (req->srv->done)
        req->srv->done(req->srv->app, req, req->pending_status,
                       (double)(uv_hrtime() - req->arrived_ns) * 1e-9);
    MHD_destroy_response(req->pending);
    req->pending = NULL;
    return r;
}

typedef struct framing {
    unsigned content_length, transfer_encoding;
} framing;

static enum MHD_Result count_framing(void *cls, enum MHD_ValueKind kind, const char *key,
                                     const char *value) {
    (void)kind, (void)value;
    framing *f = cls;
    if (key && !strcasecmp(key, "Content-Length")) f->content_length++;
    if (key && !strcasecmp(key, "Transfer-Encoding")) f->transfer_encoding++;
    return MHD_YES;
}

/* Two Content-Lengths, or one with Transfer-Encoding: a proxy in front
 * may read the body differently, so neither reading is safe. */
static int framing_ambiguous(http_request *req) {
    framing f = {0, 0};
    MHD_get_connection_values(req->conn, MHD_HEADER_KIND, count_framing, &f);
    return f.content_length > 1 || (f.content_length && f.transfer_encoding);
}

typedef struct bad_arg {
    char name[64];
    int found;
} bad_arg;

static enum MHD_Result find_bad_arg(void *cls, enum MHD_ValueKind kind, const char *key,
                                    const char *value) {
    (void)kind;
    bad_arg *b = cls;
    if ((key && !utf8_valid(key)) || (value && !utf8_valid(value))) {
        utf8_clip(b->name, sizeof b->name, key);
        b->found = 1;
        return MHD_NO;
    }
    return MHD_YES;
}

static int declared_too_large(http_request *req) {
    const char *cl = MHD_lookup_connection_value(req->conn, MHD_HEADER_KIND, "Content-Length");
    return cl && strtoull(cl, NULL, 10) > req->max_body;
}

static void respond_too_large(http_request *req) {
    char msg[128];
    snprintf(msg, sizeof msg, "the body is larger than the limit of %llu bytes",
             (unsigned long long)req->max_body);
    http_request_add_header(req, "Connection", "close");
    http_respond_error(req, 413, "body_too_large", msg, NULL);
}

/* What request_refused answers. */
typedef struct refusal {
    unsigned status;
    const char *code;
    char msg[160];
    json_t *details;
} refusal;

/* Whether the target, framing or query breaks a limit of http.h; fills r. */
static int request_malformed(http_request *req, refusal *r) {
    bad_arg arg = {.found = 0};
    if (req->target_status == 414) {
        *r = (refusal){414, "uri_too_long", "", NULL};
        snprintf(r->msg, sizeof r->msg, "the request target is longer than %d bytes", HTTP_MAX_URL);
    } else if (req->target_status) {
        *r = (refusal){400, "invalid_query", "", NULL};
        snprintf(r->msg, sizeof r->msg, "%zu query arguments; the limit is %d", req->nargs,
                 HTTP_MAX_QUERY_ARGS);
    } else if (framing_ambiguous(req)) {
        *r = (refusal){400, "bad_request",
                       "ambiguous framing: Content-Length twice, or with Transfer-Encoding", NULL};
    } else if (MHD_get_connection_values(req->conn, MHD_GET_ARGUMENT_KIND, find_bad_arg, &arg),
               arg.found) {
        *r = (refusal){400, "invalid_query", "", NULL};
        snprintf(r->msg, sizeof r->msg, "query parameter %s is not valid UTF-8",
                 *arg.name ? arg.name : "(empty)");
        r->details = json_pack("[{s:s, s:s}]", "path", arg.name, "message", "not valid UTF-8");
    } else {
        return 0;
    }
    return 1;
}

/* Over one of http.h's limits, or too busy: answers (closing the
 * connection) and returns 1. Checked once the headers are in, before any
 * body is read. */
static int request_refused(http_request *req) {
    http_server *s = req->srv;
    refusal r = {0, NULL, "", NULL};
    if (request_malformed(req, &r)) {
        /* r is filled */
    } else if (declared_too_large(req)) {
        req->too_large = 1;
        respond_too_large(req);
        return 1;
    } else if (s->connections + 16 > s->conn_limit) {
        r = (refusal){503, "unavailable", "too many open connections; retry shortly", NULL};
        http_request_add_header(req, "Retry-After", "1");
    } else {
        return 0;
    }
    http_request_add_header(req, "Connection", "close");
    http_respond_error(req, r.status, r.code, r.msg, r.details);
    return 1;
}

/* Fills in what on_uri could not know; NULL when out of memory. */
static http_request *request_begin(http_server *s, struct MHD_Connection *conn, void **con_cls,
                                   const char *url, const char *method) {
    http_request *req = *con_cls;
    if (!req && !(req = *con_cls = request_new(s, conn))) return NULL;
    req->method = strdup(method);
    req->path = strdup(url);
    req->max_body = s->max_body;
    if (s->body_limit && req->method && req->path) {
        uint64_t route_max = s->body_limit(s->app, req->method, req->path);
        if (route_max < req->max_body) req->max_body = route_max;
    }
    return req->method && req->path ? req : NULL;
}

static enum MHD_Result on_access(void *cls, struct MHD_Connection *conn, const char *url,
                                 const char *method, const char *version, const char *upload,
                                 size_t *upload_size, void **con_cls) {
    (void)version;
    http_server *s = cls;
    http_request *req = *con_cls;
    if (!req || !req->method) {
        if (!(req = request_begin(s, conn, con_cls, url, method))) return MHD_NO;
        if (!request_refused(req)) return MHD_YES;
        req->dispatched = 1;
        return queue_pending(req);
    }
    if (*upload_size) {
        int rc = body_append(req, upload, *upload_size);
        *upload_size = 0;
        return rc == 0 ? MHD_YES : MHD_NO;
    }
    if (req->pending) return queue_pending(req);
    if (req->dispatched) return MHD_YES;
    req->dispatched = 1;
    if (req->too_large)
        respond_too_large(req);
    else
        s->fn(s->app, req);
    if (req->pending && !req->held) return queue_pending(req);
    /* deferred, or its answer held: wait without holding a thread */
    MHD_suspend_connection(conn);
    req->suspended = 1;
    req->next = s->deferred;
    if (s->deferred) s->deferred->prev = req;
    s->deferred = req;
    return MHD_YES;
}

/* --- reading ------------------------------------------------------------- */

const char *http_request_method(const http_request *req) {
    return req->method;
}
const char *http_request_path(const http_request *req) {
    return req->path;
}

const char *http_request_header(const http_request *req, const char *name) {
    return MHD_lookup_connection_value(req->conn, MHD_HEADER_KIND, name);
}

const char *http_request_query(const http_request *req, const char *name) {
    return MHD_lookup_connection_value(req->conn, MHD_GET_ARGUMENT_KIND, name);
}

typedef struct query_walk {
    const char *name;
    const char **out;
    size_t max, n;
} query_walk;

static enum MHD_Result collect_query(void *cls, enum MHD_ValueKind kind, const char *key,
                                     const char *value) {
    (void)kind;
    query_walk *w = cls;
    if (key && !strcmp(key, w->name)) {
        if (w->n < w->max) w->out[w->n] = value ? value : "";
        w->n++;
    }
    return MHD_YES;
}

size_t http_request_query_all(const http_request *req, const char *name, const char **out,
                              size_t max) {
    query_walk w = {name, out, max, 0};
    MHD_get_connection_values(req->conn, MHD_GET_ARGUMENT_KIND, collect_query, &w);
    return w.n;
}

const char *http_request_body(const http_request *req, size_t *len) {
    *len = req->len;
    return req->body ? req->body : "";
}

const char *http_request_content_type(http_request *req) {
    const char *ct = http_request_header(req, "Content-Type");
    size_t k = 0;
    for (; ct && *ct && *ct != ';' && k + 1 < sizeof req->ctype; ct++)
        if (!isspace((unsigned char)*ct)) req->ctype[k++] = (char)tolower((unsigned char)*ct);
    req->ctype[k] = 0;
    return req->ctype;
}

int http_request_remote(const http_request *req, char *buf, size_t cap) {
    const union MHD_ConnectionInfo *ci =
        MHD_get_connection_info(req->conn, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
    const struct sockaddr *sa = ci ? ci->client_addr : NULL;
    const void *addr =
        !sa                         ? NULL
        : sa->sa_family == AF_INET  ? (const void *)&((const struct sockaddr_in *)sa)->sin_addr
        : sa->sa_family == AF_INET6 ? (const void *)&((const struct sockaddr_in6 *)sa)->sin6_addr
                                    : NULL;
    if (cap) *buf = 0;
    if (!addr || !inet_ntop(sa->sa_family, addr, buf, (socklen_t)cap)) {
        if (cap) *buf = 0;
        return -1;
    }
    return 0;
}

/* --- observing answers ---------------------------------------------------- */

void http_server_on_done(http_server *s, http_done_fn fn) {
    s->done = fn;
}

void http_request_set_label(http_request *req, const char *label) {
    req->label = label;
}

const char *http_request_label(const http_request *req) {
    return req->label;
}

/* --- answering ----------------------------------------------------------- */

void http_request_add_header(http_request *req, const char *name, const char *value) {
    header_pair *h = realloc(req->headers, (req->nheaders + 1) * sizeof *h);
    if (!h) return;
    req->headers = h;
    h[req->nheaders].name = strdup(name);
    h[req->nheaders].value = strdup(value);
    req->nheaders++;
}

static void request_resume(http_request *req) {
    list_remove_request(req);
    req->suspended = 0;
    MHD_resume_connection(req->conn);
    server_kick(req->srv);
}

static int method_writes(const char *m) {
    return !strcmp(m, "POST") || !strcmp(m, "PUT") || !strcmp(m, "PATCH") || !strcmp(m, "DELETE");
}

/* Whether the answer waits for the changes made so far to reach the disk:
 * a 2xx to a write, when the server holds those (http_server_hold_writes). */
static int answer_must_wait(http_request *req, unsigned status) {
    http_server *s = req->srv;
    if (!s->hold || status < 200 || status > 299 || !req->method || !method_writes(req->method))
        return 0;
    req->ticket = s->hold(s->hold_ctx);
    return req->ticket > s->released;
}

/* Adopts resp as the answer; a deferred request is resumed to send it,
 * unless the answer is held. */
static void request_set_answer(http_request *req, unsigned status, struct MHD_Response *resp) {
    if (!resp) { /* out of memory: close the connection */
        resp = MHD_create_response_from_buffer(0, "", MHD_RESPMEM_PERSISTENT);
        status = 500;
    }
    for (size_t i = 0; i < req->nheaders; i++)
        if (req->headers[i].name && req->headers[i].value)
            MHD_add_response_header(resp, req->headers[i].name, req->headers[i].value);
    if (req->pending) MHD_destroy_response(req->pending);
    req->pending = resp;
    req->pending_status = status;
    req->held = answer_must_wait(req, status);
    if (req->suspended && !req->held) request_resume(req);
}

void http_server_hold_writes(http_server *s, http_hold_fn fn, void *ctx) {
    s->hold = fn;
    s->hold_ctx = ctx;
}

void http_server_release(http_server *s, uint64_t done, int failed) {
    if (done > s->released) s->released = done;
    http_request *next;
    for (http_request *req = s->deferred; req; req = next) {
        next = req->next;
        if (!req->held || (req->ticket > s->released && !failed)) continue;
        req->held = 0;
        if (!failed) {
            request_resume(req);
            continue;
        }
        char msg[200];
        snprintf(msg, sizeof msg,
                 "the change was made but could not be written to disk (%s); it may be lost if "
                 "the machine stops",
                 strerror(failed));
        http_respond_error(req, 500, "internal", msg, NULL); /* resumes it */
    }
}

void http_respond(http_request *req, unsigned status, const char *content_type, const char *body,
                  size_t len) {
    struct MHD_Response *r =
        MHD_create_response_from_buffer(len, (void *)body, MHD_RESPMEM_MUST_COPY);
    if (r && content_type) MHD_add_response_header(r, "Content-Type", content_type);
    request_set_answer(req, status, r);
}

void http_respond_taken(http_request *req, unsigned status, const char *content_type, char *body,
                        size_t len) {
    struct MHD_Response *r = MHD_create_response_from_buffer(len, body, MHD_RESPMEM_MUST_FREE);
    if (!r) free(body);
    if (r && content_type) MHD_add_response_header(r, "Content-Type", content_type);
    request_set_answer(req, status, r);
}

/* 16 hex digits to find a 500 in the log by. */
static void error_id(char out[17]) {
    static uint64_t counter;
    uint64_t x;
    if (getrandom(&x, sizeof x, GRND_NONBLOCK) != (ssize_t)sizeof x)
        x = (uv_hrtime() ^ (uint64_t)getpid() << 48) + 0x9E3779B97F4A7C15ull * ++counter;
    snprintf(out, 17, "%016llx", (unsigned long long)x);
}

/* The last resort when an answer cannot be made: a fixed 500, logged. */
static void respond_unencodable(http_request *req) {
    char id[17], text[160];
    error_id(id);
    fprintf(stderr, "mcmcd: error %s: the answer to a request could not be encoded as JSON\n", id);
    int n = snprintf(text, sizeof text,
                     "{\"error\":{\"code\":\"internal\",\"message\":\"the answer could not be "
                     "encoded\",\"id\":\"%s\"}}\n",
                     id);
    http_respond(req, 500, "application/json", text, (size_t)n);
}

void http_respond_json(http_request *req, unsigned status, json_t *body) {
    char *text = body ? json_dumps(body, JSON_COMPACT) : NULL;
    json_decref(body);
    if (!text) {
        respond_unencodable(req);
        return;
    }
    size_t n = strlen(text);
    char *line = realloc(text, n + 2);
    if (line) {
        line[n] = '\n';
        line[n + 1] = 0;
        text = line;
        n++;
    }
    http_respond_taken(req, status, "application/json", text, n);
}

/* Logs a 500 with its cause under a new id, which goes into err. */
static void log_internal(http_request *req, const char *cause, json_t *err) {
    char id[17], method[17], path[201];
    error_id(id);
    fprintf(stderr, "mcmcd: error %s: %s %s: %s\n", id,
            utf8_clip(method, sizeof method, req->method), utf8_clip(path, sizeof path, req->path),
            cause);
    json_object_set_new(err, "id", json_string(id));
}

void http_respond_error(http_request *req, unsigned status, const char *code, const char *message,
                        json_t *details) {
    char *clean = NULL;
    if (!message || !*message) message = "internal error";
    if (!utf8_valid(message)) { /* bytes of the request made it in: repair */
        size_t cap = strlen(message) * 3 + 1;
        message = (clean = malloc(cap)) ? utf8_clip(clean, cap, message) : "(not UTF-8)";
    }
    json_t *err = json_pack("{s:s, s:s}", "code", code, "message", message);
    if (err && details)
        json_object_set_new(err, "details", details);
    else
        json_decref(details);
    if (err && status == 500) log_internal(req, message, err);
    free(clean);
    http_respond_json(req, status, err ? json_pack("{s:o}", "error", err) : NULL);
}

void http_respond_empty(http_request *req, unsigned status) {
    http_respond(req, status, NULL, "", 0);
}

void http_request_defer(http_request *req) {
    (void)req; /* on_access suspends it */
}

/* --- streams ------------------------------------------------------------- */

/* Takes a stream out of the woken list (it is resumed, or gone). */
static void woken_unlink(http_stream *st) {
    http_server *s = st->srv;
    if (st->woken_prev)
        st->woken_prev->woken_next = st->woken_next;
    else
        s->woken = st->woken_next;
    if (st->woken_next)
        st->woken_next->woken_prev = st->woken_prev;
    else
        s->woken_tail = st->woken_prev;
    st->woken_next = st->woken_prev = NULL;
    st->woken = 0;
}

static ssize_t stream_read(void *cls, uint64_t pos, char *buf, size_t max) {
    (void)pos;
    http_stream *st = cls;
    if (st->srv->stopping) return MHD_CONTENT_READER_END_OF_STREAM;
    ssize_t n = st->fn(st->ctx, buf, max);
    if (n > 0) return n;
    if (n == HTTP_STREAM_WAIT) {
        MHD_suspend_connection(st->conn);
        st->suspended = 1;
        return 0;
    }
    return n == HTTP_STREAM_END ? MHD_CONTENT_READER_END_OF_STREAM
                                : MHD_CONTENT_READER_END_WITH_ERROR;
}

static void stream_free(void *cls) {
    http_stream *st = cls;
    if (st->woken) woken_unlink(st);
    if (st->prev)
        st->prev->next = st->next;
    else if (st->srv->stream_list == st)
        st->srv->stream_list = st->next;
    if (st->next) st->next->prev = st->prev;
    st->srv->streams--;
    if (st->free_fn) st->free_fn(st->ctx);
    free(st);
}

http_stream *http_respond_stream(http_request *req, unsigned status, const char *content_type,
                                 uint64_t size, size_t block, http_stream_fn fn,
                                 http_stream_free_fn free_fn, void *ctx) {
    req->refused_free = free_fn, req->refused_ctx = ctx; /* until it is adopted */
    if (req->srv->max_streams && req->srv->streams >= req->srv->max_streams) {
        char msg[128];
        snprintf(msg, sizeof msg, "all %u streams are open (max_streams); retry later",
                 req->srv->max_streams);
        http_request_add_header(req, "Retry-After", "5");
        http_respond_error(req, 503, "unavailable", msg, NULL);
        return NULL;
    }
    http_stream *st = calloc(1, sizeof *st);
    struct MHD_Response *r = NULL;
    if (st) {
        *st = (http_stream){
            .srv = req->srv, .conn = req->conn, .fn = fn, .free_fn = free_fn, .ctx = ctx};
        r = MHD_create_response_from_callback(size == UINT64_MAX ? MHD_SIZE_UNKNOWN : size, block,
                                              stream_read, st, stream_free);
    }
    if (!r) {
        free(st);
        http_respond_error(req, 500, "internal", "out of memory", NULL);
        return NULL;
    }
    req->refused_free = NULL;
    st->next = req->srv->stream_list;
    if (st->next) st->next->prev = st;
    req->srv->stream_list = st;
    req->srv->streams++;
    MHD_add_response_header(r, "Content-Type", content_type);
    MHD_add_response_header(r, "Cache-Control", "no-cache");
    MHD_add_response_header(r, "X-Accel-Buffering", "no");
    request_set_answer(req, status, r);
    return st;
}

/* One loop turn's share of the woken streams: resumed and run, so that an
 * event for 200 watchers goes out over several turns, with the requests
 * that arrive meanwhile answered between them, not behind all 200. */
static void on_waking(uv_idle_t *h) {
    http_server *s = h->data;
    for (int n = 0; s->woken && n < HTTP_WAKE_BATCH; n++) {
        http_stream *st = s->woken;
        woken_unlink(st);
        if (!st->suspended) continue;
        st->suspended = 0;
        MHD_resume_connection(st->conn);
    }
    if (!s->woken) uv_idle_stop(&s->waking);
    server_run(s);
}

void http_stream_wake(http_stream *st) {
    if (!st || !st->suspended || st->woken) return;
    http_server *s = st->srv;
    st->woken = 1;
    st->woken_prev = s->woken_tail;
    if (s->woken_tail)
        s->woken_tail->woken_next = st;
    else
        s->woken = st;
    s->woken_tail = st;
    if (s->handles_open) uv_idle_start(&s->waking, on_waking);
}

/* --- the listening socket ------------------------------------------------- */

static int make_address(const char *addr, uint16_t port, struct sockaddr_storage *ss, int *ipv6) {
    memset(ss, 0, sizeof *ss);
    struct sockaddr_in *a4 = (struct sockaddr_in *)ss;
    struct sockaddr_in6 *a6 = (struct sockaddr_in6 *)ss;
    if (!strcmp(addr, "localhost")) addr = "127.0.0.1";
    if (inet_pton(AF_INET, addr, &a4->sin_addr) == 1) {
        a4->sin_family = AF_INET;
        a4->sin_port = htons(port);
        *ipv6 = 0;
        return 0;
    }
    if (inet_pton(AF_INET6, addr, &a6->sin6_addr) == 1) {
        a6->sin6_family = AF_INET6;
        a6->sin6_port = htons(port);
        *ipv6 = 1;
        return 0;
    }
    return -1;
}

/* What a user can do about a failed bind or listen. */
static const char *listen_hint(int e) {
    switch (e) {
    case EADDRINUSE:
        return " (is another mcmcd running? choose another --port)";
    case EACCES:
        return " (ports below 1024 need root or CAP_NET_BIND_SERVICE: choose a --port of "
               "1024 or more)";
    case EADDRNOTAVAIL:
        return " (no interface of this machine has that address: check --bind)";
    default:
        return "";
    }
}

static int listen_error(const char *addr, uint16_t port, int ipv6, int e, char *err,
                        size_t errlen) {
    char why[128];
    snprintf(why, sizeof why, "%s", strerror(e));
    why[0] = (char)tolower((unsigned char)why[0]);
    snprintf(err, errlen, "cannot listen on %s%s%s:%u: %s%s", ipv6 ? "[" : "", addr,
             ipv6 ? "]" : "", port, why, listen_hint(e));
    return -1;
}

int http_listen(const char *addr, uint16_t port, int *fd_out, char *err, size_t errlen) {
    struct sockaddr_storage ss;
    int ipv6;
    *fd_out = -1;
    if (make_address(addr, port, &ss, &ipv6) != 0) {
        snprintf(err, errlen, "bind: '%s' is not an IPv4 or IPv6 address", addr);
        return -1;
    }
    int fd = socket(ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) return listen_error(addr, port, ipv6, errno, err, errlen);
    /* SO_REUSEADDR lets a restart bind while the last run's connections
     * sit in TIME_WAIT; on Linux it never lets two listeners share a port.
     * SO_REUSEPORT would, and requests would split between two daemons. */
    int one = 1;
    socklen_t len = ipv6 ? sizeof(struct sockaddr_in6) : sizeof(struct sockaddr_in);
    if (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) != 0 ||
        (ipv6 && setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof one) != 0) ||
        bind(fd, (struct sockaddr *)&ss, len) != 0 || listen(fd, SOMAXCONN) != 0) {
        int e = errno;
        close(fd);
        return listen_error(addr, port, ipv6, e, err, errlen);
    }
    *fd_out = fd;
    return 0;
}

static uint16_t socket_port(int fd) {
    struct sockaddr_storage ss;
    socklen_t len = sizeof ss;
    if (getsockname(fd, (struct sockaddr *)&ss, &len) != 0) return 0;
    if (ss.ss_family == AF_INET6) return ntohs(((struct sockaddr_in6 *)&ss)->sin6_port);
    return ntohs(((struct sockaddr_in *)&ss)->sin_port);
}

/* --- TLS -------------------------------------------------------------------- */

/* libmicrohttpd reports why it did not start only through its logger: keep
 * the first message while starting (GnuTLS's reason comes first, then a
 * generic one); later ones (failed handshakes, ...) are dropped, as before
 * TLS. */
static void on_mhd_log(void *cls, const char *fmt, va_list ap) {
    mhd_log *l = cls;
    if (!l->capture || l->text[0]) return;
    vsnprintf(l->text, sizeof l->text, fmt, ap);
    size_t n = strlen(l->text);
    while (n && (l->text[n - 1] == '\n' || l->text[n - 1] == '.'))
        l->text[--n] = 0;
}

int http_tls_supported(void) {
    return MHD_is_feature_supported(MHD_FEATURE_TLS) == MHD_YES;
}

int http_tls_check(const char *cert_pem, const char *key_pem, char *err, size_t errlen) {
    mhd_log log = {.capture = 1};
    struct MHD_Daemon *d = MHD_start_daemon(
        MHD_USE_TLS | MHD_USE_NO_LISTEN_SOCKET | MHD_USE_ERROR_LOG, 0, NULL, NULL, on_access, NULL,
        MHD_OPTION_EXTERNAL_LOGGER, on_mhd_log, &log, MHD_OPTION_HTTPS_MEM_CERT, cert_pem,
        MHD_OPTION_HTTPS_MEM_KEY, key_pem, MHD_OPTION_END);
    if (!d) {
        snprintf(err, errlen, "%s", log.text[0] ? log.text : "GnuTLS refused them");
        return -1;
    }
    MHD_stop_daemon(d);
    return 0;
}

/* --- the server ------------------------------------------------------------- */

static char *copy_secret(const char *text) {
    return text ? strdup(text) : NULL;
}

static void free_secret(char *text) {
    if (text) explicit_bzero(text, strlen(text));
    free(text);
}

static void server_free(http_server *s) {
    if (!s) return;
    free_secret(s->tls_cert);
    free_secret(s->tls_key);
    free(s);
}

static http_server *server_new(uv_loop_t *loop, const http_options *opt, http_handler_fn fn,
                               void *app) {
    http_server *s = calloc(1, sizeof *s);
    if (!s) return NULL;
    *s = (http_server){.loop = loop,
                       .fn = fn,
                       .app = app,
                       .max_body = opt->max_body,
                       .body_limit = opt->body_limit,
                       .max_streams = opt->max_streams,
                       .idle_timeout = opt->idle_timeout ? opt->idle_timeout : 30,
                       .conn_limit = opt->max_streams + HTTP_MAX_OTHER_CONNECTIONS};
    s->tls_cert = copy_secret(opt->tls_cert_pem);
    s->tls_key = copy_secret(opt->tls_key_pem);
    if (!s->tls_cert != !opt->tls_cert_pem || !s->tls_key != !opt->tls_key_pem) {
        server_free(s);
        return NULL;
    }
    return s;
}

static struct MHD_Daemon *server_daemon(http_server *s, int fd) {
    int tls = s->tls_cert && s->tls_key;
    struct MHD_OptionItem tls_opts[] = {
        {tls ? MHD_OPTION_HTTPS_MEM_CERT : MHD_OPTION_END, 0, s->tls_cert},
        {MHD_OPTION_HTTPS_MEM_KEY, 0, s->tls_key},
        {MHD_OPTION_END, 0, NULL},
    };
    unsigned flags = MHD_USE_EPOLL | MHD_ALLOW_SUSPEND_RESUME | MHD_USE_ERROR_LOG;
    if (tls) flags |= MHD_USE_TLS;
    s->log.capture = 1;
    struct MHD_Daemon *d = MHD_start_daemon(
        flags, 0, NULL, NULL, on_access, s, MHD_OPTION_EXTERNAL_LOGGER, on_mhd_log, &s->log,
        MHD_OPTION_LISTEN_SOCKET, (MHD_socket)fd, MHD_OPTION_NOTIFY_COMPLETED, on_completed, s,
        MHD_OPTION_URI_LOG_CALLBACK, on_uri, s, MHD_OPTION_NOTIFY_CONNECTION, on_connection, s,
        MHD_OPTION_CONNECTION_LIMIT, s->conn_limit, MHD_OPTION_CONNECTION_MEMORY_LIMIT,
        (size_t)HTTP_CONNECTION_MEMORY, MHD_OPTION_CONNECTION_TIMEOUT, s->idle_timeout,
        MHD_OPTION_ARRAY, tls_opts, MHD_OPTION_END);
    s->log.capture = 0;
    return d;
}

int http_server_start(uv_loop_t *loop, const http_options *opt, http_handler_fn fn, void *app,
                      http_server **out, char *err, size_t errlen) {
    *out = NULL;
    http_server *s = server_new(loop, opt, fn, app);
    if (!s) {
        close(opt->listen_fd);
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    s->port = socket_port(opt->listen_fd);
    s->daemon = server_daemon(s, opt->listen_fd);
    if (!s->daemon) {
        snprintf(err, errlen, "libmicrohttpd did not start: %s",
                 s->log.text[0] ? s->log.text : "no reason given");
        /* MHD has closed the socket: closing it again could close a
         * descriptor opened since under the same number */
        server_free(s);
        return -1;
    }
    const union MHD_DaemonInfo *info = MHD_get_daemon_info(s->daemon, MHD_DAEMON_INFO_EPOLL_FD);
    uv_poll_init(loop, &s->poll, info->epoll_fd);
    uv_timer_init(loop, &s->timer);
    uv_idle_init(loop, &s->waking);
    s->poll.data = s->timer.data = s->waking.data = s;
    s->handles_open = 3;
    uv_poll_start(&s->poll, UV_READABLE, on_poll);
    server_kick(s);
    *out = s;
    return 0;
}

uint16_t http_server_port(const http_server *s) {
    return s->port;
}

int http_server_stopping(const http_server *s) {
    return s->stopping;
}
unsigned http_server_open_streams(const http_server *s) {
    return s->streams;
}

static void on_handle_closed(uv_handle_t *h) {
    http_server *s = h->data;
    if (--s->handles_open == 0) server_free(s);
}

void http_server_stop(http_server *s) {
    s->stopping = 1;
    while (s->deferred) /* answered by nobody now: say so */
        http_respond_error(s->deferred, 503, "shutting_down", "the server is stopping", NULL);
    while (s->woken)
        woken_unlink(s->woken);
    uv_idle_stop(&s->waking);
    for (http_stream *st = s->stream_list; st; st = st->next)
        if (st->suspended) {
            st->suspended = 0;
            MHD_resume_connection(st->conn);
        }
    /* Let resumed streams send their last chunk and answers go out: run
     * MHD until no stream is open, for at most about a second. */
    for (int i = 0; i < 100; i++) {
        MHD_run(s->daemon);
        if (s->streams == 0 && !s->deferred) break;
        struct timespec nap = {0, 10 * 1000 * 1000};
        nanosleep(&nap, NULL);
    }
    uv_poll_stop(&s->poll); /* before MHD closes the descriptor it watches */
    MHD_stop_daemon(s->daemon);
    s->daemon = NULL;
    uv_close((uv_handle_t *)&s->poll, on_handle_closed);
    uv_close((uv_handle_t *)&s->timer, on_handle_closed);
    uv_close((uv_handle_t *)&s->waking, on_handle_closed);
}
