/* storage.c - room checks, space taken up front, and the answers when
 * storage fails (storage.h). */
#include "storage.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <sys/statvfs.h>

#include "registry.h"

#define BUSY_RETRY_AFTER "2" /* seconds: the other process's transaction is short */

uint64_t storage_free_bytes(const char *path) {
    struct statvfs sv;
    if (statvfs(path, &sv) != 0) return UINT64_MAX;
    return (uint64_t)sv.f_bavail * (uint64_t)sv.f_frsize;
}

void storage_full_message(const char *path, uint64_t bytes, const char *what, char *why,
                          size_t cap) {
    snprintf(why, cap,
             "insufficient storage: %s: %llu bytes needed, %llu free on the data dir's disk", what,
             (unsigned long long)bytes, (unsigned long long)storage_free_bytes(path));
}

int storage_check_room(const char *path, uint64_t bytes, const char *what, char *why, size_t cap) {
    if (bytes <= storage_free_bytes(path)) return 0;
    storage_full_message(path, bytes, what, why, cap);
    return REGISTRY_FULL;
}

int storage_errno_is_full(int e) {
    return e == ENOSPC || e == EDQUOT;
}

int storage_reserve(int fd, uint64_t bytes) {
    if (bytes == 0) return 0;
    while (fallocate(fd, FALLOC_FL_KEEP_SIZE, 0, (off_t)bytes) != 0) {
        if (errno == EINTR) continue;
        return errno == EOPNOTSUPP ? 0 : errno;
    }
    return 0;
}

void storage_respond(http_request *req, int status, const char *message) {
    if (status == REGISTRY_FULL || status == REGISTRY_BUSY)
        fprintf(stderr, "mcmcd: %s %s: %s\n", http_request_method(req), http_request_path(req),
                message);
    if (status == REGISTRY_FULL) {
        http_respond_error(req, 507, "insufficient_storage", message, NULL);
    } else if (status == REGISTRY_BUSY) {
        http_request_add_header(req, "Retry-After", BUSY_RETRY_AFTER);
        http_respond_error(req, 503, "unavailable", message, NULL);
    } else {
        http_respond_error(req, 500, "internal", message, NULL);
    }
}
