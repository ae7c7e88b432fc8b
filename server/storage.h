/* storage.h - the data dir's disk where requests meet it: the room a new
 * file needs, its space taken up front, and the one answer when storage
 * fails: 507 insufficient_storage (the disk is full), 503 with Retry-After
 * (another process holds the registry's write lock past the busy timeout),
 * or 500 with its cause logged (any other storage error). */
#ifndef MCMCD_STORAGE_H
#define MCMCD_STORAGE_H

#include <stddef.h>
#include <stdint.h>

#include "http.h"

/* The bytes an unprivileged writer may still take on path's file system
 * (statvfs: f_bavail x f_frsize); UINT64_MAX when it cannot be read. */
uint64_t storage_free_bytes(const char *path);

/* Whether bytes more fit on path's file system: 0, or REGISTRY_FULL with
 * storage_full_message's text in why. */
int storage_check_room(const char *path, uint64_t bytes, const char *what, char *why, size_t cap);
/* "insufficient storage: WHAT: N bytes needed, M free on the data dir's
 * disk", M as it is now. */
void storage_full_message(const char *path, uint64_t bytes, const char *what, char *why,
                          size_t cap);

/* Takes the blocks of fd's first bytes now (fallocate, the size kept), so
 * that writing them later cannot find the disk full. 0; ENOSPC or EDQUOT
 * when there is no room; another errno when it failed otherwise. A file
 * system without fallocate counts as success: the room check is all
 * there is there. */
int storage_reserve(int fd, uint64_t bytes);

/* Whether errno value e means the disk (or the user's quota) is full. */
int storage_errno_is_full(int e);

/* Answers a request whose write failed with status (a registry status:
 * REGISTRY_FULL, REGISTRY_BUSY, anything else) and message. */
void storage_respond(http_request *req, int status, const char *message);

#endif
