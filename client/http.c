/* http.c - the client handle and one HTTP exchange with the daemon
 * (libcurl): timeouts, headers, response bodies, and turning transport
 * failures and error answers into a status and an mcmc_error. */
#include <pthread.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "client_internal.h"
#include "token.h"

static pthread_once_t curl_once = PTHREAD_ONCE_INIT;
static CURLcode curl_init_result;

static void curl_init_once(void) {
    curl_init_result = curl_global_init(CURL_GLOBAL_DEFAULT);
}

const char *mcmc_client_status_name(mcmc_client_status status) {
    switch (status) {
    case MCMC_CLIENT_OK:
        return "ok";
    case MCMC_CLIENT_UNREACHABLE:
        return "unreachable";
    case MCMC_CLIENT_HTTP:
        return "http";
    case MCMC_CLIENT_PROTOCOL:
        return "protocol";
    case MCMC_CLIENT_NOMEM:
        return "nomem";
    case MCMC_CLIENT_CANCELLED:
        return "cancelled";
    case MCMC_CLIENT_INVALID:
        return "invalid";
    case MCMC_CLIENT_UNAUTHORIZED:
        return "unauthorized";
    case MCMC_CLIENT_FORBIDDEN:
        return "forbidden";
    case MCMC_CLIENT_RATE_LIMITED:
        return "rate_limited";
    }
    return "unknown";
}

int mcmc_client_status_is_http(mcmc_client_status status) {
    return status == MCMC_CLIENT_HTTP || status == MCMC_CLIENT_UNAUTHORIZED ||
           status == MCMC_CLIENT_FORBIDDEN || status == MCMC_CLIENT_RATE_LIMITED;
}

/* The status of an error answer. */
static mcmc_client_status answer_status(long http_status) {
    switch (http_status) {
    case 401:
        return MCMC_CLIENT_UNAUTHORIZED;
    case 403:
        return MCMC_CLIENT_FORBIDDEN;
    case 429:
        return MCMC_CLIENT_RATE_LIMITED;
    default:
        return MCMC_CLIENT_HTTP;
    }
}

/* --- the handle ---------------------------------------------------------- */

/* The token to send, and where it came from: the caller's, or the search's
 * (token.c). 0, or -1 when memory ran out. */
static int set_token(mcmc_client *c, const char *bearer_token) {
    mcmcc_token_found *found = NULL;
    if (!bearer_token) {
        if (!(found = malloc(sizeof *found))) return -1;
        mcmcc_token_find(c->base_url, found);
        bearer_token = found->token;
        if (found->note[0] && !(c->token_note = strdup(found->note))) bearer_token = NULL;
    }
    int rc = bearer_token ? 0 : -1;
    if (rc == 0 && *bearer_token) {
        size_t n = strlen(bearer_token) + sizeof "Authorization: Bearer ";
        c->token_source = strdup(found ? found->source : "argument");
        if ((c->auth_header = malloc(n)))
            snprintf(c->auth_header, n, "Authorization: Bearer %s", bearer_token);
        rc = c->auth_header && c->token_source ? 0 : -1;
    }
    if (found) memset(found->token, 0, sizeof found->token);
    free(found);
    return rc;
}

mcmc_client_status mcmc_client_new(const char *base_url, const char *bearer_token,
                                   mcmc_client **out) {
    if (!out) return MCMC_CLIENT_INVALID;
    *out = NULL;
    if (!base_url || !*base_url) return MCMC_CLIENT_INVALID;
    if (bearer_token && *bearer_token && !mcmcc_token_is_valid(bearer_token))
        return MCMC_CLIENT_INVALID;
    pthread_once(&curl_once, curl_init_once);
    if (curl_init_result != CURLE_OK) return MCMC_CLIENT_NOMEM;
    mcmc_client *c = calloc(1, sizeof *c);
    if (!c) return MCMC_CLIENT_NOMEM;
    c->connect_ms = 5000;
    c->total_ms = 60000;
    c->stall_s = 15;
    size_t len = strlen(base_url);
    while (len > 0 && base_url[len - 1] == '/')
        len--;
    c->base_url = strndup(base_url, len);
    c->curl = curl_easy_init();
    if (!c->base_url || !c->curl || set_token(c, bearer_token) != 0) {
        mcmc_client_free(c);
        return MCMC_CLIENT_NOMEM;
    }
    *out = c;
    return MCMC_CLIENT_OK;
}

void mcmc_client_free(mcmc_client *c) {
    if (!c) return;
    if (c->curl) curl_easy_cleanup(c->curl);
    free(c->base_url);
    free(c->auth_header);
    free(c->token_source);
    free(c->token_note);
    free(c);
}

const char *mcmc_client_token_source(const mcmc_client *c) {
    return c ? c->token_source : NULL;
}

const char *mcmc_client_token_note(const mcmc_client *c) {
    return c ? c->token_note : NULL;
}

mcmc_client_status mcmc_client_set_timeouts(mcmc_client *c, long connect_ms, long total_ms,
                                            long stall_s) {
    if (!c || connect_ms < 0 || total_ms < 0 || stall_s < 0) return MCMC_CLIENT_INVALID;
    c->connect_ms = connect_ms;
    c->total_ms = total_ms;
    c->stall_s = stall_s;
    return MCMC_CLIENT_OK;
}

/* --- buffers and errors -------------------------------------------------- */

int mcmcc_buf_append(mcmcc_buf *b, const void *data, size_t n) {
    if (b->len + n + 1 > b->cap) {
        size_t cap = b->cap ? b->cap : 1024;
        while (cap < b->len + n + 1)
            cap *= 2;
        char *p = realloc(b->data, cap);
        if (!p) return -1;
        b->data = p;
        b->cap = cap;
    }
    memcpy(b->data + b->len, data, n);
    b->len += n;
    b->data[b->len] = '\0';
    return 0;
}

void mcmcc_buf_free(mcmcc_buf *b) {
    free(b->data);
    *b = (mcmcc_buf){0};
}

void mcmcc_response_free(mcmcc_response *rs) {
    mcmcc_buf_free(&rs->body);
}

void mcmcc_error_reset(mcmc_error *err) {
    if (err) memset(err, 0, sizeof *err);
}

mcmc_client_status mcmcc_fail(mcmc_error *err, mcmc_client_status status, const char *fmt, ...) {
    if (!err) return status;
    snprintf(err->code, sizeof err->code, "%s", mcmc_client_status_name(status));
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err->message, sizeof err->message, fmt, ap);
    va_end(ap);
    return status;
}

static void error_details_from_json(mcmc_error *err, const json_t *details) {
    size_t i;
    const json_t *d;
    json_array_foreach(details, i, d) {
        if (err->ndetails == MCMC_ERROR_DETAILS_MAX) break;
        mcmc_error_detail *e = &err->details[err->ndetails++];
        mcmcc_json_string(d, "path", e->path, sizeof e->path);
        mcmcc_json_string(d, "message", e->message, sizeof e->message);
    }
}

void mcmcc_error_from_body(mcmc_error *err, long status, const char *body, size_t len) {
    if (!err) return;
    err->status = (int)status;
    json_t *root = body && len ? json_loadb(body, len, 0, NULL) : NULL;
    const json_t *e = json_object_get(root, "error");
    if (json_is_object(e)) {
        mcmcc_json_string(e, "code", err->code, sizeof err->code);
        mcmcc_json_string(e, "message", err->message, sizeof err->message);
        error_details_from_json(err, json_object_get(e, "details"));
    } else {
        snprintf(err->code, sizeof err->code, "http_%ld", status);
        snprintf(err->message, sizeof err->message, "the server answered HTTP %ld: %.200s", status,
                 body && len ? body : "(no body)");
    }
    json_decref(root);
}

/* --- one exchange -------------------------------------------------------- */

typedef struct exchange {
    mcmc_client *client;
    const mcmcc_request *rq;
    mcmcc_response *rs;
    int to_sink; /* decided at the first byte: a 2xx answer with a sink */
    int started, nomem;
} exchange;

static size_t on_body(char *data, size_t size, size_t nmemb, void *userdata) {
    exchange *x = userdata;
    size_t n = size * nmemb;
    if (!x->started) {
        x->started = 1;
        curl_easy_getinfo(x->client->curl, CURLINFO_RESPONSE_CODE, &x->rs->status);
        x->to_sink = x->rq->sink && x->rs->status >= 200 && x->rs->status < 300;
    }
    if (x->to_sink) {
        if (x->rq->sink(x->rq->sink_ctx, data, n) == 0) return n;
        x->rs->sink_stopped = 1;
        return 0;
    }
    if (mcmcc_buf_append(&x->rs->body, data, n) != 0) {
        x->nomem = 1;
        return 0;
    }
    return n;
}

static size_t on_upload(char *buf, size_t size, size_t nmemb, void *userdata) {
    FILE *f = userdata;
    size_t n = fread(buf, 1, size * nmemb, f);
    if (n == 0 && ferror(f)) return CURL_READFUNC_ABORT;
    return n;
}

static struct curl_slist *add_header(struct curl_slist *list, const char *name, const char *value,
                                     int *bad) {
    if (!value || *bad) return list;
    char line[512];
    snprintf(line, sizeof line, "%s: %s", name, value);
    struct curl_slist *l = curl_slist_append(list, line);
    if (!l) *bad = 1;
    return l ? l : list;
}

static struct curl_slist *request_headers(mcmc_client *c, const mcmcc_request *rq, int *bad) {
    struct curl_slist *h = NULL;
    h = add_header(h, "Content-Type", rq->content_type, bad);
    h = add_header(h, "Accept", rq->accept, bad);
    h = add_header(h, "Last-Event-ID", rq->last_event_id, bad);
    if (c->auth_header && !*bad) {
        struct curl_slist *l = curl_slist_append(h, c->auth_header);
        if (!l) *bad = 1;
        h = l ? l : h;
    }
    return h;
}

static void set_body(CURL *curl, const mcmcc_request *rq) {
    if (!strcmp(rq->method, "GET")) return;
    if (strcmp(rq->method, "POST") != 0) {
        curl_easy_setopt(curl, CURLOPT_CUSTOMREQUEST, rq->method);
        return;
    }
    curl_easy_setopt(curl, CURLOPT_POST, 1L);
    if (rq->upload) {
        curl_easy_setopt(curl, CURLOPT_READFUNCTION, on_upload);
        curl_easy_setopt(curl, CURLOPT_READDATA, rq->upload);
        curl_easy_setopt(curl, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)rq->upload_len);
    } else {
        curl_easy_setopt(curl, CURLOPT_POSTFIELDS, rq->body ? rq->body : "");
        curl_easy_setopt(curl, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)rq->body_len);
    }
}

static void set_limits(mcmc_client *c, const mcmcc_request *rq) {
    curl_easy_setopt(c->curl, CURLOPT_CONNECTTIMEOUT_MS, c->connect_ms);
    if (!rq->streaming) curl_easy_setopt(c->curl, CURLOPT_TIMEOUT_MS, c->total_ms);
    if (c->stall_s > 0) {
        curl_easy_setopt(c->curl, CURLOPT_LOW_SPEED_LIMIT, 1L);
        curl_easy_setopt(c->curl, CURLOPT_LOW_SPEED_TIME, c->stall_s);
    }
}

/* What a failed transfer means for the caller. */
static mcmc_client_status transfer_failed(const exchange *x, CURLcode rc, const char *detail,
                                          mcmc_error *err) {
    const char *why = *detail ? detail : curl_easy_strerror(rc);
    long status = x->rs->status;
    if (x->nomem || rc == CURLE_OUT_OF_MEMORY)
        return mcmcc_fail(err, MCMC_CLIENT_NOMEM, "out of memory reading the answer");
    if (status >= 400 && x->rs->body.len) { /* answered, then closed on us */
        mcmcc_error_from_body(err, status, x->rs->body.data, x->rs->body.len);
        return answer_status(status);
    }
    if (err) err->status = (int)status;
    switch (rc) {
    case CURLE_URL_MALFORMAT:
    case CURLE_UNSUPPORTED_PROTOCOL:
        return mcmcc_fail(err, MCMC_CLIENT_INVALID, "bad URL %s: %s", x->client->base_url, why);
    case CURLE_READ_ERROR:
    case CURLE_ABORTED_BY_CALLBACK:
        return mcmcc_fail(err, MCMC_CLIENT_INVALID, "cannot read the upload: %s", why);
    case CURLE_WEIRD_SERVER_REPLY:
    case CURLE_BAD_CONTENT_ENCODING:
    case CURLE_TOO_MANY_REDIRECTS:
        return mcmcc_fail(err, MCMC_CLIENT_PROTOCOL, "%s: %s", x->client->base_url, why);
    default:
        return mcmcc_fail(err, MCMC_CLIENT_UNREACHABLE, "%s: %s", x->client->base_url, why);
    }
}

static mcmc_client_status finish(exchange *x, CURLcode rc, const char *detail, mcmc_error *err) {
    mcmcc_response *rs = x->rs;
    if (rc == CURLE_WRITE_ERROR && rs->sink_stopped) rc = CURLE_OK;
    if (rc != CURLE_OK) return transfer_failed(x, rc, detail, err);
    if (!x->started) curl_easy_getinfo(x->client->curl, CURLINFO_RESPONSE_CODE, &rs->status);
    if (rs->status >= 200 && rs->status < 300) return MCMC_CLIENT_OK;
    mcmcc_error_from_body(err, rs->status, rs->body.data, rs->body.len);
    return answer_status(rs->status);
}

mcmc_client_status mcmcc_perform(mcmc_client *c, const mcmcc_request *rq, mcmcc_response *rs,
                                 mcmc_error *err) {
    *rs = (mcmcc_response){0};
    size_t url_len = strlen(c->base_url) + strlen(rq->path) + 1;
    char *url = malloc(url_len);
    int bad = 0;
    struct curl_slist *headers = request_headers(c, rq, &bad);
    if (!url || bad) {
        free(url);
        curl_slist_free_all(headers);
        return mcmcc_fail(err, MCMC_CLIENT_NOMEM, "out of memory");
    }
    snprintf(url, url_len, "%s%s", c->base_url, rq->path);
    exchange x = {.client = c, .rq = rq, .rs = rs};
    char detail[CURL_ERROR_SIZE] = "";
    CURL *curl = c->curl;
    curl_easy_reset(curl);
    curl_easy_setopt(curl, CURLOPT_URL, url);
    /* loopback never goes through a proxy; the user's no_proxy still holds */
    const char *env = getenv("no_proxy") ? getenv("no_proxy") : getenv("NO_PROXY");
    char noproxy[1024];
    snprintf(noproxy, sizeof noproxy, "%.900s%slocalhost,127.0.0.1,::1", env ? env : "",
             env && *env ? "," : "");
    curl_easy_setopt(curl, CURLOPT_NOPROXY, noproxy);
    curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(curl, CURLOPT_ERRORBUFFER, detail);
    curl_easy_setopt(curl, CURLOPT_USERAGENT, "mcmcclient/" MCMC_CLIENT_VERSION);
    curl_easy_setopt(curl, CURLOPT_HTTPHEADER, headers);
    curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(curl, CURLOPT_WRITEDATA, &x);
    set_limits(c, rq);
    set_body(curl, rq);
    CURLcode rc = curl_easy_perform(curl);
    mcmc_client_status st = finish(&x, rc, detail, err);
    curl_easy_setopt(curl, CURLOPT_ERRORBUFFER, NULL);
    curl_easy_setopt(curl, CURLOPT_HTTPHEADER, NULL);
    curl_slist_free_all(headers);
    free(url);
    return st;
}

mcmc_client_status mcmcc_json_call(mcmc_client *c, const char *method, const char *path,
                                   const char *body, json_t **out, mcmc_error *err) {
    *out = NULL;
    mcmcc_request rq = {.method = method, .path = path, .accept = "application/json"};
    if (body) {
        rq.content_type = "application/json";
        rq.body = body;
        rq.body_len = strlen(body);
    }
    mcmcc_response rs;
    mcmc_client_status st = mcmcc_perform(c, &rq, &rs, err);
    if (st == MCMC_CLIENT_OK && rs.body.len > 0) {
        json_error_t e;
        *out = json_loadb(rs.body.data, rs.body.len, 0, &e);
        if (!*out)
            st = mcmcc_fail(err, MCMC_CLIENT_PROTOCOL, "the answer to %s %s is not JSON: %s",
                            method, path, e.text);
    }
    mcmcc_response_free(&rs);
    return st;
}

mcmc_client_status mcmcc_job_path(mcmc_client *c, const char *id, const char *suffix, char *buf,
                                  size_t cap, mcmc_error *err) {
    if (!id || !*id) return mcmcc_fail(err, MCMC_CLIENT_INVALID, "no job id");
    char *escaped = curl_easy_escape(c->curl, id, 0);
    if (!escaped) return mcmcc_fail(err, MCMC_CLIENT_NOMEM, "out of memory");
    int n = snprintf(buf, cap, "/v1/jobs/%s%s", escaped, suffix ? suffix : "");
    curl_free(escaped);
    if (n < 0 || (size_t)n >= cap) return mcmcc_fail(err, MCMC_CLIENT_INVALID, "job id too long");
    return MCMC_CLIENT_OK;
}
