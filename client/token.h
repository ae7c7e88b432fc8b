/* token.h - where a client's bearer token comes from when the caller gives
 * none (token.c), and the token store `mcmc login` writes (token_store.c).
 * Internal: hidden from the shared library's ABI, mcmcc_ prefix. Each step
 * of the search is a small function of its inputs, so tests can drive it
 * with a temporary HOME and XDG directories. */
#ifndef MCMCCLIENT_TOKEN_H
#define MCMCCLIENT_TOKEN_H

#include <stddef.h>

#include "client_internal.h"

#define MCMCC_TOKEN_MAX 1024 /* longest token accepted, in bytes */
#define MCMCC_PATH_MAX 4096

/* --- tokens and URLs ----------------------------------------------------- */

/* 1 when token is 1..MCMCC_TOKEN_MAX printable ASCII characters without
 * spaces (what may follow "Bearer " in a header line), else 0. */
int mcmcc_token_is_valid(const char *token);
/* url's length without its trailing slashes: "http://h:1/" and
 * "http://h:1" name the same server. */
size_t mcmcc_url_len(const char *url);
/* 1 when url's host is a loopback address: 127.0.0.0/8, localhost, [::1]. */
int mcmcc_url_is_loopback(const char *url);

/* --- where the files are ------------------------------------------------- */

/* The token store: $XDG_CONFIG_HOME/mcmc/tokens (XDG_CONFIG_HOME only when
 * absolute), else $HOME/.config/mcmc/tokens. 0, or -1 without either. */
int mcmcc_token_store_path(char *buf, size_t cap);
/* The local daemon's admin token: <data_dir>/admin.token with the
 * daemon's default data_dir, $XDG_STATE_HOME/mcmcd (absolute only), else
 * $HOME/.local/state/mcmcd. 0, or -1 without either. */
int mcmcc_admin_token_path(char *buf, size_t cap);

/* --- reading them -------------------------------------------------------- */

typedef enum mcmcc_read {
    MCMCC_READ_OK,      /* the file's text is in the buffer */
    MCMCC_READ_MISSING, /* no such file, or not one we may open */
    MCMCC_READ_EXPOSED, /* group or others have access to it: not read */
    MCMCC_READ_FAILED   /* not a regular file, too big, a read error, no memory */
} mcmcc_read;

/* Reads a small private file (at most 64 KiB) into out (NUL-terminated;
 * free it with mcmcc_buf_free), refusing one whose mode gives group or
 * others any access. */
mcmcc_read mcmcc_read_private(const char *path, mcmcc_buf *out);
/* The token of url in a store's text: lines "BASE_URL TOKEN", blank lines
 * and '#' comments skipped, URLs compared without trailing slashes, the
 * first match wins. 0 with the token in buf, -1 when none fits. */
int mcmcc_token_store_lookup(const char *text, const char *url, char *buf, size_t cap);
/* A token file's first line, trimmed, into buf: 0, or -1 when it holds
 * no valid token. */
int mcmcc_token_file_parse(const char *text, char *buf, size_t cap);

/* --- the search ---------------------------------------------------------- */

typedef struct mcmcc_token_found {
    char token[MCMCC_TOKEN_MAX + 1];     /* "" when none was found */
    char source[MCMCC_PATH_MAX + 16];    /* "MCMC_TOKEN", or the file's path */
    char note[2 * MCMCC_PATH_MAX + 128]; /* why a token seen was passed over, or "" */
} mcmcc_token_found;

/* The search mcmc_client_new makes for a client of base_url given no
 * token: MCMC_TOKEN (when not empty), the token store's line for
 * base_url, then, only when base_url's host is loopback, the local
 * daemon's admin token file. A file that group or others may read is
 * skipped, and said so in out->note. */
void mcmcc_token_find(const char *base_url, mcmcc_token_found *out);

/* --- writing the store (token_store.c) ----------------------------------- */

/* The store's new text: old (may be NULL) with url's line replaced by
 * "URL TOKEN" (url without trailing slashes), in place, or appended;
 * later lines for the same URL dropped, every other line kept. 0, or -1
 * when memory ran out. */
int mcmcc_token_store_edit(const char *old, const char *url, const char *token, mcmcc_buf *out);

#endif
