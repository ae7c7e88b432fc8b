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

typedef struct http_options {
    const char *bind; /* an IPv4 or IPv6 address literal */
    uint16_t port;    /* 0: any free port */
    uint64_t max_body;
    unsigned max_connections;
} http_options;

int http_server_start(uv_loop_t *loop, const http_options *opt, http_handler_fn fn, void *app,
                      http_server **out, char *err, size_t errlen);
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

/* --- answering ------------------------------------------------------------ */

void http_request_add_header(http_request *req, const char *name, const char *value);
void http_respond(http_request *req, unsigned status, const char *content_type, const char *body,
                  size_t len);
void http_respond_json(http_request *req, unsigned status, json_t *body); /* steals body */
/* {"error": {"code", "message", "details"?}}; details is stolen. */
void http_respond_error(http_request *req, unsigned status, const char *code, const char *message,
                        json_t *details);
void http_respond_empty(http_request *req, unsigned status);
/* The handler returns without answering; it answers later from the loop. */
void http_request_defer(http_request *req);

/* --- streaming ------------------------------------------------------------ */

#define HTTP_STREAM_WAIT 0     /* nothing now: suspend until http_stream_wake */
#define HTTP_STREAM_END (-1)   /* done: finish the response */
#define HTTP_STREAM_ERROR (-2) /* abort the connection */

/* Fills buf with up to max bytes; returns the count or one of the above. */
typedef ssize_t (*http_stream_fn)(void *ctx, char *buf, size_t max);
/* Called once when the response is destroyed (sent, or client gone). */
typedef void (*http_stream_free_fn)(void *ctx);

/* size: the exact length, or UINT64_MAX for chunked. The stream handle
 * stays valid until free_fn runs. */
http_stream *http_respond_stream(http_request *req, unsigned status, const char *content_type,
                                 uint64_t size, http_stream_fn fn, http_stream_free_fn free_fn,
                                 void *ctx);
/* Resumes a stream waiting for data; harmless otherwise. Loop thread only. */
void http_stream_wake(http_stream *st);

#endif
