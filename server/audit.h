/* audit.h - the audit log: who submitted, cancelled or deleted what, who
 * failed to authenticate, and what `mcmcd user` and `mcmcd token` changed,
 * kept in the registry's audit table. Never a token's text: a token is
 * named by its public id.
 *
 * Each event has a user (NULL when nobody authenticated; "cli:LOGIN" for
 * the command line), an action ("job.submit", "auth.failed", ...), the
 * object acted on (a job, dataset or token id, a user name), the HTTP
 * status it was answered with (0 for a command that succeeded), a detail
 * and the client's address. Loop thread (or the CLI's own thread) only. */
#ifndef MCMCD_AUDIT_H
#define MCMCD_AUDIT_H

#include <stdint.h>

#include "api_util.h"
#include "registry.h"

#define AUDIT_PAGE_DEFAULT 100
#define AUDIT_PAGE_MAX 1000

/* Appends one event; 0 or a registry status (registry_last_error says why). */
int audit_record(registry *reg, int64_t time_ms, const char *user, const char *action,
                 const char *object, int status, const char *detail, const char *remote);

/* A request's time, user and client address, copied out of it, for an
 * event written later or on another thread (a submission's, with its
 * job's row: jobs_submit_end). */
typedef struct audit_origin {
    int64_t time_ms;
    int has_user, has_remote;
    char user[USER_NAME_MAX + 1], remote[64];
} audit_origin;
/* user NULL for nobody. */
void audit_origin_of(http_request *req, const char *user, audit_origin *o);
/* For a route handler: the caller is the user. */
void audit_origin_of_call(const api_call *c, audit_origin *o);
/* audit_record with o's time, user and address. */
int audit_record_from(registry *reg, const audit_origin *o, const char *action, const char *object,
                      int status, const char *detail);

/* The same, written now for a request: its time now and its client's
 * address; user NULL for nobody. Failures are not the request's: they are
 * dropped. */
void audit_request(app *a, http_request *req, const char *user, const char *action,
                   const char *object, unsigned status, const char *detail);
/* For a route handler: the caller is the user. */
void audit_call(const api_call *c, const char *action, const char *object, unsigned status,
                const char *detail);

/* The CLI's user: "cli:" and the login name of the effective uid. */
void audit_cli_user(char *buf, size_t cap);

/* GET /v1/audit (admins): newest first; ?page_size, ?page_token, ?user,
 * ?action. */
void api_audit_list(api_call *c);

#endif
