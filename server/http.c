/* http.c - libmicrohttpd in external epoll mode on the libuv loop.
 *
 * Lifecycle of a request: MHD calls on_access once with the headers (we
 * refuse a declared body over the limit with 413 right there), then with
 * each chunk of body, then with *upload_size == 0; that last call hands the
 * request to the application handler. An answer is kept as `pending` and
 * queued on return; with no answer yet the connection is suspended, and
 * http_respond on a suspended request resumes it, so MHD calls on_access
 * again and the pending answer is queued then. MHD_run runs after the poll
 * handle fires and from a zero-delay timer whenever something was resumed.
 */
#include <arpa/inet.h>
#include <ctype.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "http.h"

struct http_server {
    uv_loop_t *loop;
    struct MHD_Daemon *daemon;
    uv_poll_t poll;
    uv_timer_t timer;
    http_handler_fn fn;
    void *app;
    uint64_t max_body;
    int stopping, handles_open;
    unsigned streams;
    http_request *deferred; /* suspended requests waiting for an answer */
    http_stream *stream_list;
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
    int too_large, dispatched, suspended;
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
    int suspended;
    http_stream *next, *prev;
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

static int body_append(http_request *req, const char *data, size_t n) {
    if (req->too_large || req->len + n > req->srv->max_body) {
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

static http_request *request_new(http_server *s, struct MHD_Connection *conn, const char *url,
                                 const char *method) {
    http_request *req = calloc(1, sizeof *req);
    if (!req) return NULL;
    req->srv = s;
    req->conn = conn;
    req->method = strdup(method);
    req->path = strdup(url);
    if (!req->method || !req->path) {
        request_free(req);
        return NULL;
    }
    return req;
}

static enum MHD_Result queue_pending(http_request *req) {
    enum MHD_Result r = MHD_queue_response(req->conn, req->pending_status, req->pending);
    MHD_destroy_response(req->pending);
    req->pending = NULL;
    return r;
}

static int declared_too_large(http_request *req) {
    const char *cl = MHD_lookup_connection_value(req->conn, MHD_HEADER_KIND, "Content-Length");
    return cl && strtoull(cl, NULL, 10) > req->srv->max_body;
}

static void respond_too_large(http_request *req) {
    char msg[128];
    snprintf(msg, sizeof msg, "the body is larger than the limit of %llu bytes",
             (unsigned long long)req->srv->max_body);
    http_request_add_header(req, "Connection", "close");
    http_respond_error(req, 413, "body_too_large", msg, NULL);
}

static enum MHD_Result on_access(void *cls, struct MHD_Connection *conn, const char *url,
                                 const char *method, const char *version, const char *upload,
                                 size_t *upload_size, void **con_cls) {
    (void)version;
    http_server *s = cls;
    http_request *req = *con_cls;
    if (!req) {
        if (!(req = *con_cls = request_new(s, conn, url, method))) return MHD_NO;
        if (!declared_too_large(req)) return MHD_YES;
        req->too_large = req->dispatched = 1;
        respond_too_large(req);
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
    if (req->pending) return queue_pending(req);
    /* deferred: wait for http_respond without holding a thread */
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

/* --- answering ----------------------------------------------------------- */

void http_request_add_header(http_request *req, const char *name, const char *value) {
    header_pair *h = realloc(req->headers, (req->nheaders + 1) * sizeof *h);
    if (!h) return;
    req->headers = h;
    h[req->nheaders].name = strdup(name);
    h[req->nheaders].value = strdup(value);
    req->nheaders++;
}

/* Adopts resp as the answer; a deferred request is resumed to send it. */
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
    if (req->suspended) {
        list_remove_request(req);
        req->suspended = 0;
        MHD_resume_connection(req->conn);
        server_kick(req->srv);
    }
}

void http_respond(http_request *req, unsigned status, const char *content_type, const char *body,
                  size_t len) {
    struct MHD_Response *r =
        MHD_create_response_from_buffer(len, (void *)body, MHD_RESPMEM_MUST_COPY);
    if (r && content_type) MHD_add_response_header(r, "Content-Type", content_type);
    request_set_answer(req, status, r);
}

void http_respond_json(http_request *req, unsigned status, json_t *body) {
    char *text = body ? json_dumps(body, JSON_COMPACT) : NULL;
    json_decref(body);
    if (!text) {
        http_respond(req, 500, "application/json", "{\"error\":{\"code\":\"internal\"}}\n", 30);
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
    http_respond(req, status, "application/json", text, n);
    free(text);
}

void http_respond_error(http_request *req, unsigned status, const char *code, const char *message,
                        json_t *details) {
    json_t *err = json_pack("{s:s, s:s}", "code", code, "message", message);
    if (err && details)
        json_object_set_new(err, "details", details);
    else
        json_decref(details);
    http_respond_json(req, status, err ? json_pack("{s:o}", "error", err) : NULL);
}

void http_respond_empty(http_request *req, unsigned status) {
    http_respond(req, status, NULL, "", 0);
}

void http_request_defer(http_request *req) {
    (void)req; /* on_access suspends it */
}

/* --- streams ------------------------------------------------------------- */

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
                                 uint64_t size, http_stream_fn fn, http_stream_free_fn free_fn,
                                 void *ctx) {
    http_stream *st = calloc(1, sizeof *st);
    struct MHD_Response *r = NULL;
    if (st) {
        *st = (http_stream){
            .srv = req->srv, .conn = req->conn, .fn = fn, .free_fn = free_fn, .ctx = ctx};
        r = MHD_create_response_from_callback(size == UINT64_MAX ? MHD_SIZE_UNKNOWN : size,
                                              64 * 1024, stream_read, st, stream_free);
    }
    if (!r) {
        free(st);
        if (free_fn) free_fn(ctx);
        http_respond_error(req, 500, "internal", "out of memory", NULL);
        return NULL;
    }
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

void http_stream_wake(http_stream *st) {
    if (!st || !st->suspended) return;
    st->suspended = 0;
    MHD_resume_connection(st->conn);
    server_kick(st->srv);
}

/* --- the server ---------------------------------------------------------- */

static int make_address(const char *bind, uint16_t port, struct sockaddr_storage *ss, int *ipv6) {
    memset(ss, 0, sizeof *ss);
    struct sockaddr_in *a4 = (struct sockaddr_in *)ss;
    struct sockaddr_in6 *a6 = (struct sockaddr_in6 *)ss;
    if (!strcmp(bind, "localhost")) bind = "127.0.0.1";
    if (inet_pton(AF_INET, bind, &a4->sin_addr) == 1) {
        a4->sin_family = AF_INET;
        a4->sin_port = htons(port);
        *ipv6 = 0;
        return 0;
    }
    if (inet_pton(AF_INET6, bind, &a6->sin6_addr) == 1) {
        a6->sin6_family = AF_INET6;
        a6->sin6_port = htons(port);
        *ipv6 = 1;
        return 0;
    }
    return -1;
}

int http_server_start(uv_loop_t *loop, const http_options *opt, http_handler_fn fn, void *app,
                      http_server **out, char *err, size_t errlen) {
    struct sockaddr_storage ss;
    int ipv6;
    *out = NULL;
    if (make_address(opt->bind, opt->port, &ss, &ipv6) != 0) {
        snprintf(err, errlen, "bind: '%s' is not an IPv4 or IPv6 address", opt->bind);
        return -1;
    }
    http_server *s = calloc(1, sizeof *s);
    if (!s) return -1;
    *s = (http_server){.loop = loop, .fn = fn, .app = app, .max_body = opt->max_body};
    unsigned flags = MHD_USE_EPOLL | MHD_ALLOW_SUSPEND_RESUME | (ipv6 ? MHD_USE_IPv6 : 0);
    s->daemon = MHD_start_daemon(
        flags, opt->port, NULL, NULL, on_access, s, MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&ss,
        MHD_OPTION_NOTIFY_COMPLETED, on_completed, s, MHD_OPTION_CONNECTION_LIMIT,
        opt->max_connections ? opt->max_connections : 1024u, MHD_OPTION_CONNECTION_TIMEOUT,
        (unsigned)300, MHD_OPTION_LISTENING_ADDRESS_REUSE, (unsigned)1, MHD_OPTION_END);
    if (!s->daemon) {
        snprintf(err, errlen, "cannot listen on %s port %u (in use, or not permitted)", opt->bind,
                 opt->port);
        free(s);
        return -1;
    }
    const union MHD_DaemonInfo *info = MHD_get_daemon_info(s->daemon, MHD_DAEMON_INFO_EPOLL_FD);
    uv_poll_init(loop, &s->poll, info->epoll_fd);
    uv_timer_init(loop, &s->timer);
    s->poll.data = s->timer.data = s;
    s->handles_open = 2;
    uv_poll_start(&s->poll, UV_READABLE, on_poll);
    server_kick(s);
    *out = s;
    return 0;
}

uint16_t http_server_port(const http_server *s) {
    const union MHD_DaemonInfo *info = MHD_get_daemon_info(s->daemon, MHD_DAEMON_INFO_BIND_PORT);
    return info ? info->port : 0;
}

int http_server_stopping(const http_server *s) {
    return s->stopping;
}
unsigned http_server_open_streams(const http_server *s) {
    return s->streams;
}

static void on_handle_closed(uv_handle_t *h) {
    http_server *s = h->data;
    if (--s->handles_open == 0) free(s);
}

void http_server_stop(http_server *s) {
    s->stopping = 1;
    while (s->deferred) /* answered by nobody now: say so */
        http_respond_error(s->deferred, 503, "shutting_down", "the server is stopping", NULL);
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
}
