/* audit.c - the audit log (audit.h): appending events to the registry's
 * audit table, and GET /v1/audit, newest first, a page at a time with an
 * opaque keyset token on seq. */
#include "audit.h"

#include <inttypes.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "app.h"
#include "clock.h"
#include "registry_internal.h"

#define PAGE_TOKEN_PREFIX "a1" /* then the seq to continue below, 16 hex digits */

int audit_record(registry *reg, int64_t time_ms, const char *user, const char *action,
                 const char *object, int status, const char *detail, const char *remote) {
    sqlite3_stmt *st;
    int taken =
        registry_take(reg,
                      "INSERT INTO audit (time, user, action, object, status, detail, remote)"
                      " VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
                      &st);
    if (taken != REGISTRY_OK) return taken;
    const char *text[] = {user, action, object, NULL, detail, remote};
    sqlite3_bind_int64(st, 1, time_ms);
    for (int i = 0; i < 6; i++)
        if (i != 3 && text[i]) sqlite3_bind_text(st, i + 2, text[i], -1, SQLITE_TRANSIENT);
    sqlite3_bind_int(st, 5, status);
    int rc = sqlite3_step(st) == SQLITE_DONE ? REGISTRY_OK : registry_sqlite_failed(reg);
    registry_give_back(reg, st);
    return rc;
}

void audit_origin_of(http_request *req, const char *user, audit_origin *o) {
    o->time_ms = app_now_ms();
    o->has_user = user != NULL;
    snprintf(o->user, sizeof o->user, "%s", user ? user : "");
    o->has_remote = http_request_remote(req, o->remote, sizeof o->remote) == 0;
}

void audit_origin_of_call(const api_call *c, audit_origin *o) {
    audit_origin_of(c->req, c->who->user_id ? c->who->name : NULL, o);
}

int audit_record_from(registry *reg, const audit_origin *o, const char *action, const char *object,
                      int status, const char *detail) {
    return audit_record(reg, o->time_ms, o->has_user ? o->user : NULL, action, object, status,
                        detail, o->has_remote ? o->remote : NULL);
}

void audit_request(app *a, http_request *req, const char *user, const char *action,
                   const char *object, unsigned status, const char *detail) {
    audit_origin o;
    audit_origin_of(req, user, &o);
    audit_record_from(a->reg, &o, action, object, (int)status, detail);
}

void audit_call(const api_call *c, const char *action, const char *object, unsigned status,
                const char *detail) {
    audit_origin o;
    audit_origin_of_call(c, &o);
    audit_record_from(c->app->reg, &o, action, object, (int)status, detail);
}

void audit_cli_user(char *buf, size_t cap) {
    struct passwd *pw = getpwuid(geteuid());
    if (pw && pw->pw_name)
        snprintf(buf, cap, "cli:%s", pw->pw_name);
    else
        snprintf(buf, cap, "cli:uid %u", (unsigned)geteuid());
}

/* --- GET /v1/audit ---------------------------------------------------------- */

static void page_token_encode(int64_t seq, char out[32]) {
    snprintf(out, 32, PAGE_TOKEN_PREFIX "%016" PRIx64, (uint64_t)seq);
}

/* 0 with the seq to continue below, or -1 for a token we did not make. */
static int page_token_decode(const char *token, int64_t *seq) {
    size_t n = strlen(PAGE_TOKEN_PREFIX);
    if (strncmp(token, PAGE_TOKEN_PREFIX, n) != 0 || strlen(token + n) != 16 ||
        strspn(token + n, "0123456789abcdef") != 16)
        return -1;
    uint64_t v = strtoull(token + n, NULL, 16);
    if (v == 0 || v > INT64_MAX) return -1;
    *seq = (int64_t)v;
    return 0;
}

static json_t *column_text_or_null(sqlite3_stmt *st, int col) {
    const char *t = (const char *)sqlite3_column_text(st, col);
    return t ? json_string(t) : json_null();
}

static json_t *event_json(sqlite3_stmt *st) {
    return json_pack("{s:I, s:o, s:o, s:o, s:o, s:i, s:o, s:o}", "seq",
                     (json_int_t)sqlite3_column_int64(st, 0), "time",
                     json_time_ms(sqlite3_column_int64(st, 1)), "user", column_text_or_null(st, 2),
                     "action", column_text_or_null(st, 3), "object", column_text_or_null(st, 4),
                     "status", sqlite3_column_int(st, 5), "detail", column_text_or_null(st, 6),
                     "remote", column_text_or_null(st, 7));
}

/* Up to limit events below seq (0: from the newest) that pass the
 * filters, into arr; the seq of the last one read into *last, or 0 when
 * the page reached the end. 0 or a registry status. */
static int audit_page(registry *reg, int64_t below, const char *user, const char *action, int limit,
                      json_t *arr, int64_t *last) {
    sqlite3_stmt *st;
    int taken = registry_take(reg,
                              "SELECT seq, time, user, action, object, status, detail, remote"
                              " FROM audit WHERE (?1 = 0 OR seq < ?1) AND (?2 IS NULL OR user = ?2)"
                              " AND (?3 IS NULL OR action = ?3) ORDER BY seq DESC LIMIT ?4",
                              &st);
    if (taken != REGISTRY_OK) return taken;
    sqlite3_bind_int64(st, 1, below);
    if (user) sqlite3_bind_text(st, 2, user, -1, SQLITE_TRANSIENT);
    if (action) sqlite3_bind_text(st, 3, action, -1, SQLITE_TRANSIENT);
    sqlite3_bind_int(st, 4, limit + 1); /* one more: is there a next page? */
    int rc, n = 0;
    *last = 0;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW && n < limit) {
        json_array_append_new(arr, event_json(st));
        *last = sqlite3_column_int64(st, 0);
        n++;
    }
    int status = rc == SQLITE_ROW || rc == SQLITE_DONE ? REGISTRY_OK : registry_sqlite_failed(reg);
    if (rc == SQLITE_DONE) *last = 0; /* nothing beyond this page */
    registry_give_back(reg, st);
    return status;
}

void api_audit_list(api_call *c) {
    http_request *req = c->req;
    uint64_t page_size = AUDIT_PAGE_DEFAULT;
    if (query_u64(req, "page_size", AUDIT_PAGE_MAX, &page_size) != 0) return;
    if (page_size == 0) page_size = AUDIT_PAGE_DEFAULT;
    const char *token = http_request_query(req, "page_token");
    int64_t below = 0;
    if (token && *token && page_token_decode(token, &below) != 0) {
        json_t *d = json_pack("[{s:s, s:s}]", "path", "page_token", "message", "not one we made");
        http_respond_error(req, 400, "invalid_query", "page_token is not one this server made", d);
        return;
    }
    json_t *events = json_array();
    int64_t last = 0;
    if (audit_page(c->app->reg, below, http_request_query(req, "user"),
                   http_request_query(req, "action"), (int)page_size, events,
                   &last) != REGISTRY_OK) {
        json_decref(events);
        http_respond_error(req, 500, "internal", registry_last_error(c->app->reg), NULL);
        return;
    }
    char next[32] = "";
    if (last) page_token_encode(last, next);
    http_respond_json(req, 200, json_pack("{s:o, s:s}", "events", events, "next_page_token", next));
}
