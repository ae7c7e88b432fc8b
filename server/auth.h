/* auth.h - who is asking: the bearer token of a request turned into a
 * principal (user, role, scope, limits), the `auth = none` rule, and the
 * admin token the daemon writes on its first start. */
#ifndef MCMCD_AUTH_H
#define MCMCD_AUTH_H

#include <stddef.h>
#include <stdint.h>

#include "config.h"
#include "registry.h"
#include "users.h"

typedef struct principal {
    int64_t user_id;
    char name[USER_NAME_MAX + 1];
    int admin;
    token_scope scope;
    user_limits limits; /* effective: the user's own over the config's */
} principal;

typedef enum auth_status {
    AUTH_OK,
    AUTH_MISSING, /* no Authorization header, or not a Bearer one */
    AUTH_INVALID, /* a token that is malformed, unknown or revoked */
    AUTH_ERROR,   /* the registry failed */
} auth_status;

#define AUTH_TOKEN_FILE "admin.token" /* in data_dir */

/* The principal behind an Authorization header value (NULL when absent),
 * its token checked through kept (NULL: the registry every time).
 * With auth = none every request is the admin user. */
auth_status auth_identify(registry *reg, token_cache *kept, const serve_config *cfg,
                          const char *authorization, int64_t now_ms, principal *out);
/* The principal of a user record (for the built-in admin of auth = none). */
void auth_principal_of(const user_record *u, token_scope scope, const serve_config *cfg,
                       principal *out);
/* Whether bind is a loopback address or "localhost". */
int auth_bind_is_loopback(const char *bind);
/* Refuses auth = none unless the bind is loopback: 0 or -1 with err. */
int auth_check_config(const serve_config *cfg, char *err, size_t errlen);
/* When no token exists at all (a first start), makes one for the admin
 * user and writes it to <data_dir>/admin.token, mode 0600; says so on
 * stderr. 0 or -1 with err. */
int auth_first_start(registry *reg, const serve_config *cfg, int64_t now_ms, char *err,
                     size_t errlen);

#endif
