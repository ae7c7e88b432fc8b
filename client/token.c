/* token.c - finding a bearer token when the caller of mcmc_client_new gives
 * none: MCMC_TOKEN, then the token store `mcmc login` writes, then (for a
 * loopback server only) the local daemon's admin token file. Owns the
 * XDG paths, the store's line format and the refusal of files that group
 * or others may read. */
#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "token.h"

#define PRIVATE_FILE_MAX (64 * 1024)

/* --- tokens and URLs ----------------------------------------------------- */

int mcmcc_token_is_valid(const char *token) {
    size_t n = 0;
    for (; token && token[n]; n++)
        if (token[n] < 0x21 || token[n] > 0x7e) return 0;
    return n > 0 && n <= MCMCC_TOKEN_MAX;
}

size_t mcmcc_url_len(const char *url) {
    size_t len = strlen(url);
    while (len > 0 && url[len - 1] == '/')
        len--;
    return len;
}

/* The host of url (brackets kept for IPv6) into buf; -1 when too long. */
static int url_host(const char *url, char *buf, size_t cap) {
    const char *scheme = strstr(url, "://");
    const char *p = scheme ? scheme + 3 : url;
    size_t n = strcspn(p, "/?#");
    const char *at = memchr(p, '@', n);
    while (at) { /* userinfo: up to the last '@' */
        n -= (size_t)(at + 1 - p);
        p = at + 1;
        at = memchr(p, '@', n);
    }
    if (*p == '[') {
        const char *close = memchr(p, ']', n);
        n = close ? (size_t)(close + 1 - p) : n;
    } else {
        const char *colon = memchr(p, ':', n);
        n = colon ? (size_t)(colon - p) : n;
    }
    if (n + 1 > cap) return -1;
    memcpy(buf, p, n);
    buf[n] = '\0';
    return 0;
}

int mcmcc_url_is_loopback(const char *url) {
    char host[256];
    if (!url || url_host(url, host, sizeof host) != 0) return 0;
    if (!strcasecmp(host, "localhost")) return 1;
    size_t n = strlen(host);
    if (n > 2 && host[0] == '[' && host[n - 1] == ']') {
        struct in6_addr a6;
        host[n - 1] = '\0';
        return inet_pton(AF_INET6, host + 1, &a6) == 1 && IN6_IS_ADDR_LOOPBACK(&a6);
    }
    struct in_addr a4;
    return inet_pton(AF_INET, host, &a4) == 1 && (ntohl(a4.s_addr) >> 24) == 127;
}

/* --- where the files are ------------------------------------------------- */

/* $XDG_var/leaf when XDG_var is absolute, else $HOME/home_leaf. */
static int xdg_path(const char *var, const char *home_leaf, const char *leaf, char *buf,
                    size_t cap) {
    const char *xdg = getenv(var), *home = getenv("HOME");
    int n;
    if (xdg && xdg[0] == '/')
        n = snprintf(buf, cap, "%s/%s", xdg, leaf);
    else if (home && *home)
        n = snprintf(buf, cap, "%s/%s/%s", home, home_leaf, leaf);
    else
        return -1;
    return n > 0 && (size_t)n < cap ? 0 : -1;
}

int mcmcc_token_store_path(char *buf, size_t cap) {
    return xdg_path("XDG_CONFIG_HOME", ".config", "mcmc/tokens", buf, cap);
}

int mcmcc_admin_token_path(char *buf, size_t cap) {
    return xdg_path("XDG_STATE_HOME", ".local/state", "mcmcd/admin.token", buf, cap);
}

/* --- reading them -------------------------------------------------------- */

static mcmcc_read read_all(int fd, mcmcc_buf *out) {
    char chunk[4096];
    for (;;) {
        ssize_t n = read(fd, chunk, sizeof chunk);
        if (n < 0 && errno == EINTR) continue;
        if (n < 0) return MCMCC_READ_FAILED;
        if (n == 0) break;
        if (out->len + (size_t)n > PRIVATE_FILE_MAX) return MCMCC_READ_FAILED;
        if (mcmcc_buf_append(out, chunk, (size_t)n) != 0) return MCMCC_READ_FAILED;
    }
    if (!out->data && mcmcc_buf_append(out, "", 0) != 0) return MCMCC_READ_FAILED;
    return MCMCC_READ_OK;
}

mcmcc_read mcmcc_read_private(const char *path, mcmcc_buf *out) {
    *out = (mcmcc_buf){0};
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
    if (fd < 0) return errno == ENOMEM ? MCMCC_READ_FAILED : MCMCC_READ_MISSING;
    struct stat st;
    mcmcc_read r = MCMCC_READ_FAILED;
    if (fstat(fd, &st) == 0 && S_ISREG(st.st_mode))
        r = (st.st_mode & (S_IRWXG | S_IRWXO)) ? MCMCC_READ_EXPOSED : read_all(fd, out);
    close(fd);
    if (r != MCMCC_READ_OK) mcmcc_buf_free(out);
    return r;
}

/* The next whitespace-separated field of *p (within its line) into buf;
 * 0, or -1 when there is none or it does not fit. */
static int next_field(const char **p, char *buf, size_t cap) {
    const char *s = *p;
    while (*s == ' ' || *s == '\t' || *s == '\r')
        s++;
    size_t n = strcspn(s, " \t\r\n");
    *p = s + n;
    if (n == 0 || n + 1 > cap) return -1;
    memcpy(buf, s, n);
    buf[n] = '\0';
    return 0;
}

int mcmcc_token_store_lookup(const char *text, const char *url, char *buf, size_t cap) {
    size_t want = mcmcc_url_len(url);
    for (const char *line = text; line && *line;) {
        const char *end = strchr(line, '\n'), *p = line;
        char field[MCMCC_PATH_MAX], token[MCMCC_TOKEN_MAX + 1];
        if (next_field(&p, field, sizeof field) == 0 && field[0] != '#' &&
            mcmcc_url_len(field) == want && !strncmp(field, url, want) &&
            next_field(&p, token, sizeof token) == 0 && mcmcc_token_is_valid(token) &&
            strlen(token) < cap) {
            memcpy(buf, token, strlen(token) + 1);
            return 0;
        }
        line = end ? end + 1 : NULL;
    }
    return -1;
}

int mcmcc_token_file_parse(const char *text, char *buf, size_t cap) {
    const char *p = text;
    char token[MCMCC_TOKEN_MAX + 1];
    if (next_field(&p, token, sizeof token) != 0 || !mcmcc_token_is_valid(token)) return -1;
    while (*p == ' ' || *p == '\t' || *p == '\r')
        p++;
    if ((*p && *p != '\n') || strlen(token) >= cap) return -1; /* more than one word */
    memcpy(buf, token, strlen(token) + 1);
    return 0;
}

/* --- the search ---------------------------------------------------------- */

static void note_exposed(mcmcc_token_found *out, const char *path) {
    if (out->note[0]) return; /* the first is enough to act on */
    snprintf(out->note, sizeof out->note,
             "skipped %s: group or others may read it (chmod 600 '%s', and replace the token "
             "if others could have read it)",
             path, path);
}

/* Reads path and, when it is private and holds a token (for url, when a
 * store), fills out; 0 when found. */
static int from_file(const char *path, const char *store_url, mcmcc_token_found *out) {
    mcmcc_buf text;
    mcmcc_read r = mcmcc_read_private(path, &text);
    if (r == MCMCC_READ_EXPOSED) note_exposed(out, path);
    if (r != MCMCC_READ_OK) return -1;
    int rc = store_url
                 ? mcmcc_token_store_lookup(text.data, store_url, out->token, sizeof out->token)
                 : mcmcc_token_file_parse(text.data, out->token, sizeof out->token);
    mcmcc_buf_free(&text);
    if (rc == 0) snprintf(out->source, sizeof out->source, "%s", path);
    return rc;
}

static int from_env(mcmcc_token_found *out) {
    const char *env = getenv("MCMC_TOKEN");
    if (!env || !*env) return -1;
    if (mcmcc_token_file_parse(env, out->token, sizeof out->token) == 0) {
        snprintf(out->source, sizeof out->source, "MCMC_TOKEN");
        return 0;
    }
    snprintf(out->note, sizeof out->note,
             "skipped MCMC_TOKEN: not a token (spaces or control characters)");
    return -1;
}

void mcmcc_token_find(const char *base_url, mcmcc_token_found *out) {
    memset(out, 0, sizeof *out);
    char path[MCMCC_PATH_MAX];
    if (from_env(out) == 0) return;
    if (mcmcc_token_store_path(path, sizeof path) == 0 && from_file(path, base_url, out) == 0)
        return;
    if (mcmcc_url_is_loopback(base_url) && mcmcc_admin_token_path(path, sizeof path) == 0 &&
        from_file(path, NULL, out) == 0)
        return;
    out->token[0] = out->source[0] = '\0';
}
