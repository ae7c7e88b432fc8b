/* users.h - the people who use the daemon and their API tokens, kept in
 * the registry's database (tables users and tokens), so that `mcmcd user`
 * and `mcmcd token` manage them whether or not the daemon runs.
 *
 * A token's text is "mcmcd_" + 16 hex characters (its id, public: what
 * `token list` shows and `token revoke` takes) + "_" + 64 hex characters
 * (256 random bits, the secret). Only the SHA-256 of the secret is stored;
 * a presented secret's hash is compared in constant time. Calls return 0 or
 * a registry status (registry_last_error says why). */
#ifndef MCMCD_USERS_H
#define MCMCD_USERS_H

#include <stdint.h>

#include "user_limits.h"
#include "registry.h"

#define USER_NAME_MAX 64  /* [A-Za-z0-9._-], starting with a letter or digit */
#define TOKEN_ID_LEN 16   /* hex */
#define TOKEN_TEXT_LEN 87 /* "mcmcd_" id "_" secret, without the NUL */
#define TOKEN_LABEL_MAX 128
#define USER_ADMIN_ID 1 /* "admin", made with the registry */

typedef struct user_record {
    int64_t id;
    char name[USER_NAME_MAX + 1];
    int admin;
    int64_t created_ms;
    uint64_t limit[LIMIT_COUNT]; /* the user's own values where set */
    unsigned limit_set;          /* bit i: limit[i] is the user's own */
} user_record;

typedef enum token_scope {
    TOKEN_SCOPE_ALL,     /* everything the user may do */
    TOKEN_SCOPE_METRICS, /* GET /metrics only */
} token_scope;

typedef struct token_record {
    char id[TOKEN_ID_LEN + 1];
    int64_t user_id;
    char user[USER_NAME_MAX + 1];
    token_scope scope;
    char label[TOKEN_LABEL_MAX + 1];
    int64_t created_ms, last_used_ms; /* last_used_ms: 0 if never */
} token_record;

typedef int (*user_fn)(void *ctx, const user_record *u);
typedef int (*token_fn)(void *ctx, const token_record *t);

/* Whether name is a valid user name. */
int user_name_is_valid(const char *name);
/* The user's limits: the user's own values over defaults. */
void user_effective_limits(const user_record *u, const user_limits *defaults, user_limits *out);

/* REGISTRY_EXISTS when the name is taken, REGISTRY_EINVAL for a bad name. */
int users_add(registry *reg, const char *name, int admin, int64_t now_ms, int64_t *id);
int users_get(registry *reg, const char *name, user_record *out); /* REGISTRY_NOT_FOUND */
int users_get_by_id(registry *reg, int64_t id, user_record *out);
/* Removes the user and its tokens and dataset references; its jobs stay,
 * visible to admins. */
int users_remove(registry *reg, const char *name);
int users_set_admin(registry *reg, const char *name, int admin);
/* Sets the user's own value of a limit, or (clear) drops it. */
int users_set_limit(registry *reg, const char *name, limit_id id, int clear, uint64_t value);
int users_list(registry *reg, user_fn fn, void *ctx); /* by id */

const char *token_scope_name(token_scope s); /* "all", "metrics" */
int token_scope_parse(const char *name, token_scope *out);
/* Makes a token for the user; text gets the token (shown once, stored
 * nowhere), id its id. */
int tokens_new(registry *reg, const char *user, token_scope scope, const char *label,
               int64_t now_ms, char text[TOKEN_TEXT_LEN + 1], char id[TOKEN_ID_LEN + 1]);
/* By id, or by the whole token text. REGISTRY_NOT_FOUND when none. */
int tokens_revoke(registry *reg, const char *id_or_text);
int tokens_list(registry *reg, const char *user, token_fn fn, void *ctx); /* user NULL: all */
int tokens_count(registry *reg, int64_t *count);
/* Checks a presented token: 0 with its user and scope, REGISTRY_NOT_FOUND
 * when it is malformed, unknown or revoked. */
int tokens_verify(registry *reg, const char *text, int64_t now_ms, user_record *user,
                  token_scope *scope);

/* The tokens verified lately, with their users: tokens_verify_kept answers
 * from it, with no registry read, while no process has changed a user or
 * a token since the entry was read (registry_auth_changes: so a token
 * revoked by `mcmcd token revoke` fails at its very next request). One
 * connection's (the loop's); token_cache_free(NULL) does nothing. */
typedef struct token_cache token_cache;
token_cache *token_cache_new(void);
void token_cache_free(token_cache *c);
/* tokens_verify through kept (NULL: none). */
int tokens_verify_kept(registry *reg, token_cache *kept, const char *text, int64_t now_ms,
                       user_record *user, token_scope *scope);

#endif
