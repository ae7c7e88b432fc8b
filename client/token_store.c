/* token_store.c - writing the token store (`mcmc login`): one line
 * "BASE_URL TOKEN" per server, the file mode 0600 in a directory of mode
 * 0700, replaced whole through a temporary file and rename so a reader
 * never sees half of it. token.c reads it. */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "token.h"

/* --- the text ------------------------------------------------------------ */

/* Whether line (up to its end) is a line of the store for url. */
static int line_is_for(const char *line, size_t len, const char *url, size_t url_len) {
    while (len > 0 && (*line == ' ' || *line == '\t'))
        line++, len--;
    size_t n = 0;
    while (n < len && line[n] != ' ' && line[n] != '\t' && line[n] != '\r')
        n++;
    while (n > 0 && line[n - 1] == '/')
        n--;
    return n == url_len && n > 0 && line[0] != '#' && !strncmp(line, url, n);
}

static int append_entry(mcmcc_buf *out, const char *url, size_t url_len, const char *token) {
    return mcmcc_buf_append(out, url, url_len) || mcmcc_buf_append(out, " ", 1) ||
           mcmcc_buf_append(out, token, strlen(token)) || mcmcc_buf_append(out, "\n", 1);
}

int mcmcc_token_store_edit(const char *old, const char *url, const char *token, mcmcc_buf *out) {
    *out = (mcmcc_buf){0};
    size_t url_len = mcmcc_url_len(url);
    int placed = 0, bad = 0;
    for (const char *line = old; line && *line && !bad;) {
        const char *nl = strchr(line, '\n');
        size_t len = nl ? (size_t)(nl - line) : strlen(line);
        if (!line_is_for(line, len, url, url_len))
            bad = mcmcc_buf_append(out, line, len) || mcmcc_buf_append(out, "\n", 1);
        else if (!placed)
            bad = append_entry(out, url, url_len, token), placed = 1;
        line = nl ? nl + 1 : NULL;
    }
    if (!bad && !placed) bad = append_entry(out, url, url_len, token);
    if (bad) mcmcc_buf_free(out);
    return bad ? -1 : 0;
}

/* --- the file ------------------------------------------------------------ */

/* Makes dir (mode 0700) and its missing parents (0700, as the XDG base
 * directory spec asks); the last one is set to 0700 even if it was there. */
static int make_private_dir(char *dir) {
    for (char *p = dir + 1; *p; p++) {
        if (*p != '/') continue;
        *p = '\0';
        int rc = mkdir(dir, 0700);
        *p = '/';
        if (rc != 0 && errno != EEXIST) return -1;
    }
    if (mkdir(dir, 0700) != 0 && errno != EEXIST) return -1;
    return chmod(dir, 0700);
}

static int write_all(int fd, const char *p, size_t n) {
    while (n > 0) {
        ssize_t k = write(fd, p, n);
        if (k < 0 && errno == EINTR) continue;
        if (k <= 0) return -1;
        p += k, n -= (size_t)k;
    }
    return 0;
}

/* text into path through a temporary file in its directory; 0 or -1 with
 * errno. */
static int replace_file(const char *path, const mcmcc_buf *text) {
    char tmp[MCMCC_PATH_MAX + 16];
    snprintf(tmp, sizeof tmp, "%s.XXXXXX", path);
    int fd = mkstemp(tmp); /* mode 0600 */
    if (fd < 0) return -1;
    int rc = fchmod(fd, 0600);
    if (rc == 0) rc = write_all(fd, text->data ? text->data : "", text->len);
    if (rc == 0) rc = fsync(fd);
    int saved = errno;
    if (close(fd) != 0 && rc == 0) rc = -1, saved = errno;
    if (rc == 0 && rename(tmp, path) != 0) rc = -1, saved = errno;
    if (rc != 0) unlink(tmp);
    errno = saved;
    return rc;
}

mcmc_client_status mcmc_token_store_path(char *buf, size_t cap) {
    if (!buf || cap == 0) return MCMC_CLIENT_INVALID;
    if (mcmcc_token_store_path(buf, cap) == 0) return MCMC_CLIENT_OK;
    buf[0] = '\0';
    return MCMC_CLIENT_INVALID;
}

/* The store's current text into old (empty when there is none yet). */
static mcmc_client_status read_store(const char *path, mcmcc_buf *old, mcmc_error *err) {
    *old = (mcmcc_buf){0};
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0 && errno == ENOENT) return MCMC_CLIENT_OK;
    if (fd < 0)
        return mcmcc_fail(err, MCMC_CLIENT_INVALID, "cannot read %s: %s", path, strerror(errno));
    char chunk[4096];
    ssize_t n;
    while ((n = read(fd, chunk, sizeof chunk)) > 0 || (n < 0 && errno == EINTR))
        if (n > 0 && mcmcc_buf_append(old, chunk, (size_t)n) != 0) break;
    int bad = n != 0;
    close(fd);
    if (!bad) return MCMC_CLIENT_OK;
    mcmcc_buf_free(old);
    return mcmcc_fail(err, MCMC_CLIENT_INVALID, "cannot read %s", path);
}

mcmc_client_status mcmc_token_store_save(const char *base_url, const char *token, mcmc_error *err) {
    mcmcc_error_reset(err);
    if (!base_url || mcmcc_url_len(base_url) == 0 || strpbrk(base_url, " \t\r\n"))
        return mcmcc_fail(err, MCMC_CLIENT_INVALID, "no server URL, or one with spaces");
    if (!mcmcc_token_is_valid(token))
        return mcmcc_fail(err, MCMC_CLIENT_INVALID,
                          "not a token: empty, too long, or with spaces or control characters");
    char path[MCMCC_PATH_MAX];
    if (mcmcc_token_store_path(path, sizeof path) != 0)
        return mcmcc_fail(err, MCMC_CLIENT_INVALID, "neither XDG_CONFIG_HOME nor HOME is set");
    char *slash = strrchr(path, '/');
    *slash = '\0';
    int rc = make_private_dir(path);
    *slash = '/';
    if (rc != 0)
        return mcmcc_fail(err, MCMC_CLIENT_INVALID, "cannot make the directory of %s: %s", path,
                          strerror(errno));
    mcmcc_buf old, text;
    mcmc_client_status st = read_store(path, &old, err);
    if (st != MCMC_CLIENT_OK) return st;
    rc = mcmcc_token_store_edit(old.data, base_url, token, &text);
    mcmcc_buf_free(&old);
    if (rc != 0) return mcmcc_fail(err, MCMC_CLIENT_NOMEM, "out of memory");
    rc = replace_file(path, &text);
    mcmcc_buf_free(&text);
    if (rc != 0)
        return mcmcc_fail(err, MCMC_CLIENT_INVALID, "cannot write %s: %s", path, strerror(errno));
    return MCMC_CLIENT_OK;
}
