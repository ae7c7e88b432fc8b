/* auth.c - bearer tokens to principals (auth.h). */
#include "auth.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

void auth_principal_of(const user_record *u, token_scope scope, const serve_config *cfg,
                       principal *out) {
    memset(out, 0, sizeof *out);
    out->user_id = u->id;
    snprintf(out->name, sizeof out->name, "%s", u->name);
    out->admin = u->admin;
    out->scope = scope;
    user_effective_limits(u, &cfg->limits, &out->limits);
}

/* The token of "Bearer TOKEN" (scheme case-insensitive), or NULL. */
static const char *bearer_token(const char *header) {
    if (!header || strncasecmp(header, "Bearer", 6) != 0 || (header[6] != ' ' && header[6] != '\t'))
        return NULL;
    const char *t = header + 6;
    while (*t == ' ' || *t == '\t')
        t++;
    return *t ? t : NULL;
}

auth_status auth_identify(registry *reg, token_cache *kept, const serve_config *cfg,
                          const char *authorization, int64_t now_ms, principal *out) {
    user_record u;
    if (!strcmp(cfg->auth, "none")) {
        if (users_get_by_id(reg, USER_ADMIN_ID, &u) != REGISTRY_OK) return AUTH_ERROR;
        auth_principal_of(&u, TOKEN_SCOPE_ALL, cfg, out);
        return AUTH_OK;
    }
    const char *token = bearer_token(authorization);
    if (!token) return AUTH_MISSING;
    char text[TOKEN_TEXT_LEN + 1];
    size_t n = strcspn(token, " \t\r\n");
    if (n > TOKEN_TEXT_LEN || token[n + strspn(token + n, " \t\r\n")]) return AUTH_INVALID;
    memcpy(text, token, n);
    text[n] = 0;
    token_scope scope;
    int rc = tokens_verify_kept(reg, kept, text, now_ms, &u, &scope);
    if (rc == REGISTRY_NOT_FOUND) return AUTH_INVALID;
    if (rc != REGISTRY_OK) return AUTH_ERROR;
    auth_principal_of(&u, scope, cfg, out);
    return AUTH_OK;
}

int auth_bind_is_loopback(const char *bind) {
    struct in_addr a4;
    struct in6_addr a6;
    if (!strcmp(bind, "localhost")) return 1;
    if (inet_pton(AF_INET, bind, &a4) == 1) return (ntohl(a4.s_addr) >> 24) == 127;
    if (inet_pton(AF_INET6, bind, &a6) == 1) return !memcmp(&a6, &in6addr_loopback, sizeof a6);
    return 0;
}

int auth_check_config(const serve_config *cfg, char *err, size_t errlen) {
    if (strcmp(cfg->auth, "none") || auth_bind_is_loopback(cfg->bind)) return 0;
    snprintf(err, errlen,
             "auth = none lets anyone who reaches the port act as admin: it is allowed only "
             "when bind is a loopback address (bind is %s)",
             cfg->bind);
    return -1;
}

static int write_token_file(const char *path, const char *token, char *err, size_t errlen) {
    char tmp[4300];
    snprintf(tmp, sizeof tmp, "%.4200s.tmp", path);
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0600);
    size_t n = strlen(token);
    int ok = fd >= 0 && fchmod(fd, 0600) == 0 && write(fd, token, n) == (ssize_t)n &&
             write(fd, "\n", 1) == 1 && fsync(fd) == 0;
    int e = errno;
    if (fd >= 0) close(fd);
    if (ok && rename(tmp, path) == 0) return 0;
    if (!ok) errno = e;
    snprintf(err, errlen, "cannot write %.4000s: %s", path, strerror(errno));
    unlink(tmp);
    return -1;
}

int auth_first_start(registry *reg, const serve_config *cfg, int64_t now_ms, char *err,
                     size_t errlen) {
    int64_t count;
    if (!strcmp(cfg->auth, "none")) return 0;
    if (tokens_count(reg, &count) != REGISTRY_OK) {
        snprintf(err, errlen, "registry: %s", registry_last_error(reg));
        return -1;
    }
    if (count > 0) return 0;
    user_record admin;
    char text[TOKEN_TEXT_LEN + 1], id[TOKEN_ID_LEN + 1], path[4200];
    if (users_get_by_id(reg, USER_ADMIN_ID, &admin) != REGISTRY_OK ||
        tokens_new(reg, admin.name, TOKEN_SCOPE_ALL, "made on first start", now_ms, text, id) !=
            REGISTRY_OK) {
        snprintf(err, errlen, "cannot make the first admin token: %s", registry_last_error(reg));
        return -1;
    }
    snprintf(path, sizeof path, "%s/" AUTH_TOKEN_FILE, cfg->data_dir);
    int rc = write_token_file(path, text, err, errlen);
    memset(text, 0, sizeof text);
    if (rc == 0)
        fprintf(stderr,
                "mcmcd: no token existed: made one for user '%s', written to %s (mode 0600)\n",
                admin.name, path);
    return rc;
}
