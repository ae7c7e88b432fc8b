/* http.h - HTTP for the daemon: libmicrohttpd driven from the libuv loop.
 *
 * libmicrohttpd runs in "external" epoll mode: its epoll descriptor is
 * watched by a uv_poll handle and MHD_run is called on the loop thread, so
 * every request handler, every streaming callback and all the state they
 * touch live on that one thread. A handler answers at once, or defers (the
 * connection is suspended, no thread waits) and answers later from the loop,
 * for instance when work finishes on the thread pool. A streaming response
 * is a callback that produces bytes; when it has none it returns
 * HTTP_STREAM_WAIT, the connection is suspended, and http_stream_wake
 * resumes it when there is more.
 */
#ifndef MCMCD_HTTP_H
#define MCMCD_HTTP_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <uv.h>

typedef struct http_server http_server;
typedef struct http_request http_request;
typedef struct http_stream http_stream;

/* Called on the loop thread once a request's headers and body are in. The
 * handler must answer req (now or later) exactly once. */
typedef void (*http_handler_fn)(void *app, http_request *req);

/* Opens the listening socket: a TCP socket on addr (an IPv4 or IPv6
 * literal, or "localhost") and port (0: one the OS picks), with
 * SO_REUSEADDR but never SO_REUSEPORT, so a port in use is refused rather
 * than shared; an IPv6 address listens on IPv6 alone. Non-blocking,
 * close-on-exec. On failure err says why and what to do, e.g. "cannot
 * listen on 127.0.0.1:8470: address already in use (is another mcmcd
 * running? choose another --port)". */
int http_listen(const char *addr, uint16_t port, int *fd, char *err, size_t errlen);

/* Whether this libmicrohttpd was built with TLS (GnuTLS). */
int http_tls_supported(void);
/* Tries cert_pem (a PEM certificate chain) with key_pem (its PEM private
 * key) as the server's TLS credentials without serving anything; err holds
 * GnuTLS's reason when they do not load or do not match. */
int http_tls_check(const char *cert_pem, const char *key_pem, char *err, size_t errlen);

/* Limits of every request, each answered at once with a JSON 4xx (the
 * README's error section lists them):
 * - more than HTTP_MAX_QUERY_ARGS query arguments: 400 bad_request (the
 *   arguments are cut off before libmicrohttpd files them, whose
 *   per-connection memory they would otherwise exhaust, with no answer);
 * - a request target (path and query) over HTTP_MAX_URL bytes: 414;
 * - Content-Length with Transfer-Encoding, or Content-Length twice: 400;
 * - a query argument that is not valid UTF-8: 400 invalid_query.
 * libmicrohttpd answers by itself (HTML) when the request line and headers
 * do not fit in HTTP_CONNECTION_MEMORY bytes (414, 431) and for a
 * malformed request (400) or HTTP version (505). A chunked body that runs
 * past max_body is cut off by closing the connection; a client that stops
 * sending is closed after idle_timeout seconds. */
#define HTTP_MAX_QUERY_ARGS 100
#define HTTP_MAX_URL 8192
/* 32 KiB, not more: libmicrohttpd maps a larger pool with mmap for each
 * connection and unmaps it at close (a TLB shootdown across cores). */
#define HTTP_CONNECTION_MEMORY (32 * 1024)
/* Connections beyond the streams that may stay open: idle ones are closed
 * after idle_timeout seconds; past this many more, requests get 503. */
#define HTTP_MAX_OTHER_CONNECTIONS 4096

/* A route's own body limit, under max_body (e.g. a job spec's): called
 * once the request line is in, before any body is read. */
typedef uint64_t (*http_body_limit_fn)(void *app, const char *method, const char *path);

typedef struct http_options {
    int listen_fd; /* from http_listen; http_server_start takes it over and
                      closes it, even when it fails */
    uint64_t max_body;
    http_body_limit_fn body_limit; /* NULL: max_body for every route */
    unsigned max_streams;          /* open streams; one more is answered 503 */
    unsigned idle_timeout;         /* seconds without traffic before a connection
                                      is closed; streams waiting for data are not
                                      (their heartbeats are traffic) */
    /* both set: HTTPS with this PEM certificate chain and key (the server
     * keeps copies); both NULL: plain HTTP */
    const char *tls_cert_pem, *tls_key_pem;
} http_options;

int http_server_start(uv_loop_t *loop, const http_options *opt, http_handler_fn fn, void *app,
                      http_server **out, char *err, size_t errlen);
/* The port it listens on (the one the OS picked for port 0). */
uint16_t http_server_port(const http_server *s);
/* Resumes every suspended connection (their streams see the server
 * stopping and end), stops listening, closes the handles; frees s once the
 * loop has closed them. */
void http_server_stop(http_server *s);
int http_server_stopping(const http_server *s);
unsigned http_server_open_streams(const http_server *s);

/* --- reading a request --------------------------------------------------- */

const char *http_request_method(const http_request *req);
const char *http_request_path(const http_request *req); /* without the query */
const char *http_request_header(const http_request *req, const char *name);
const char *http_request_query(const http_request *req, const char *name);
/* Every value of a repeated query parameter (?tag=a&tag=b), in order: the
 * first max into out; returns how many there are. */
size_t http_request_query_all(const http_request *req, const char *name, const char **out,
                              size_t max);
const char *http_request_body(const http_request *req, size_t *len);
/* The media type of Content-Type, lowercased, without parameters ("" if
 * none), in a buffer of the request. */
const char *http_request_content_type(http_request *req);
/* The client's address ("127.0.0.1", "::1") into buf: 0, or -1 with buf
 * "" when it is not known. */
int http_request_remote(const http_request *req, char *buf, size_t cap);

/* --- observing answers ---------------------------------------------------- */

/* Called on the loop thread as each answer is queued (deferred ones and
 * streams too): its status and the seconds since the request arrived. */
typedef void (*http_done_fn)(void *app, http_request *req, unsigned status, double seconds);
void http_server_on_done(http_server *s, http_done_fn fn);
/* A label for the observer, e.g. the route's pattern: a string that
 * outlives the request (a literal); NULL until set. */
void http_request_set_label(http_request *req, const char *label);
const char *http_request_label(const http_request *req);

/* --- answering ------------------------------------------------------------ */

void http_request_add_header(http_request *req, const char *name, const char *value);
void http_respond(http_request *req, unsigned status, const char *content_type, const char *body,
                  size_t len);
/* The same with a body from malloc, taken: libmicrohttpd frees it after
 * sending, so a large answer is not copied. */
void http_respond_taken(http_request *req, unsigned status, const char *content_type, char *body,
                        size_t len);
void http_respond_json(http_request *req, unsigned status, json_t *body); /* steals body */
/* {"error": {"code", "message", "details"?}}; details is stolen. A message
 * that is not valid UTF-8 is repaired (U+FFFD). A 500 also gets an "id"
 * (16 hex digits), and is logged to stderr with the message as its cause
 * under that id. */
void http_respond_error(http_request *req, unsigned status, const char *code, const char *message,
                        json_t *details);
void http_respond_empty(http_request *req, unsigned status);
/* The handler returns without answering; it answers later from the loop. */
void http_request_defer(http_request *req);

/* --- answers to writes wait for the disk ---------------------------------- */

/* With a hold function set, a 2xx answer to POST, PUT, PATCH or DELETE is
 * not sent when it is made: fn returns a ticket for the changes made so far
 * (durable.h) and the answer waits, its connection suspended, until
 * http_server_release passes that ticket. Every write route is covered
 * without a change of its own, retries of an idempotent request included. */
typedef uint64_t (*http_hold_fn)(void *ctx);
void http_server_hold_writes(http_server *s, http_hold_fn fn, void *ctx);
/* Sends the held answers whose tickets are up to done. failed (an errno):
 * every held answer becomes a 500 saying the change may not be on disk. */
void http_server_release(http_server *s, uint64_t done, int failed);

/* --- streaming ------------------------------------------------------------ */

#define HTTP_STREAM_WAIT 0     /* nothing now: suspend until http_stream_wake */
#define HTTP_STREAM_END (-1)   /* done: finish the response */
#define HTTP_STREAM_ERROR (-2) /* abort the connection */

/* Fills buf with up to max bytes; returns the count or one of the above. */
typedef ssize_t (*http_stream_fn)(void *ctx, char *buf, size_t max);
/* Called once when the response is destroyed (sent, or client gone). */
typedef void (*http_stream_free_fn)(void *ctx);

/* Bytes fn may fill at once: libmicrohttpd zeroes a buffer of this size
 * for every stream it makes, so a stream of small writes (events) asks
 * for the small one, a download for the large. */
#define HTTP_STREAM_BLOCK_SMALL (8 * 1024)
#define HTTP_STREAM_BLOCK_LARGE (64 * 1024)

/* size: the exact length, or UINT64_MAX for chunked; block: see above. The stream handle
 * stays valid until free_fn runs. NULL when refused: 503 unavailable (with
 * Retry-After) when max_streams are open, 500 when out of memory; the
 * answer is made, and free_fn(ctx) runs once the request is done, so ctx
 * is still valid as this returns. */
http_stream *http_respond_stream(http_request *req, unsigned status, const char *content_type,
                                 uint64_t size, size_t block, http_stream_fn fn,
                                 http_stream_free_fn free_fn, void *ctx);
/* Resumes a stream waiting for data, in a later loop turn: at most
 * HTTP_WAKE_BATCH streams a turn, in the order woken, so that many
 * watchers of one event do not hold up other requests; harmless for a
 * stream that is not waiting. Loop thread only. */
#define HTTP_WAKE_BATCH 32
void http_stream_wake(http_stream *st);

#endif
