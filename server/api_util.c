/* api_util.c - what the route handlers share: who may see what, JSON and
 * error helpers. */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "api_util.h"
#include "utf8.h"

int api_may_see(const api_call *c, int64_t owner) {
    return c->who->admin || (c->who->user_id && c->who->user_id == owner);
}

json_t *json_number_or_null(double v) {
    return isfinite(v) ? json_real(v) : json_null();
}

json_t *json_time_ms(int64_t ms) {
    if (ms <= 0) return json_null();
    time_t s = (time_t)(ms / 1000);
    struct tm tm;
    gmtime_r(&s, &tm);
    char buf[96];
    snprintf(buf, sizeof buf, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900,
             tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, (int)(ms % 1000));
    return json_string(buf);
}

int query_u64(http_request *req, const char *name, uint64_t max, uint64_t *out) {
    const char *v = http_request_query(req, name);
    if (!v) return 0;
    char *end;
    errno = 0;
    unsigned long long x = strtoull(v, &end, 10);
    if (*v < '0' || *v > '9' || *end || errno || x > max) {
        char msg[160];
        snprintf(msg, sizeof msg, "query parameter %s must be an integer in 0..%llu", name,
                 (unsigned long long)max);
        json_t *d = json_pack("[{s:s, s:s}]", "path", name, "message", "not a valid integer");
        http_respond_error(req, 400, "invalid_query", msg, d);
        return -1;
    }
    *out = x;
    return 0;
}

void respond_not_found(http_request *req, const char *what, const char *id) {
    char msg[256], clean[101];
    snprintf(msg, sizeof msg, "no %s with id '%s'", what, utf8_clip(clean, sizeof clean, id));
    http_respond_error(req, 404, "not_found", msg, NULL);
}

void respond_method_not_allowed(http_request *req, const char *allow) {
    char msg[200], method[65];
    snprintf(msg, sizeof msg, "%s is not allowed here; allowed: %s",
             utf8_clip(method, sizeof method, http_request_method(req)), allow);
    http_request_add_header(req, "Allow", allow);
    http_respond_error(req, 405, "method_not_allowed", msg, NULL);
}

void respond_unsupported_type(http_request *req, const char *expected) {
    char msg[256], ct[97];
    utf8_clip(ct, sizeof ct, http_request_content_type(req));
    snprintf(msg, sizeof msg, "Content-Type '%s' is not accepted here; send %s",
             *ct ? ct : "(none)", expected);
    http_respond_error(req, 415, "unsupported_media_type", msg, NULL);
}

void api_respond_json_error(http_request *req, const json_error_t *error) {
    const json_error_t e = *error;
    char msg[320];
    snprintf(msg, sizeof msg, "malformed JSON at line %d, column %d (byte offset %d): %s", e.line,
             e.column, e.position, e.text);
    json_t *d = json_pack("[{s:s, s:s, s:i}]", "path", "", "message", e.text, "offset", e.position);
    http_respond_error(req, 400, "invalid_json", msg, d);
}
