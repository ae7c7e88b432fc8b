/* shared_counter.c - a counter in a mapped file (shared_counter.h). The
 * file holds one page; the counter is its first 8 bytes, in the machine's
 * byte order, changed only by atomic adds, which are atomic between
 * processes that map the same page. */
#include "shared_counter.h"

#include <fcntl.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <unistd.h>

enum { COUNTER_FILE_BYTES = 4096 };

struct shared_counter {
    _Atomic uint64_t *value; /* in the mapped page */
};

shared_counter *shared_counter_open(const char *path) {
    int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
    if (fd < 0) return NULL;
    void *page = MAP_FAILED;
    if (posix_fallocate(fd, 0, COUNTER_FILE_BYTES) == 0)
        page = mmap(NULL, COUNTER_FILE_BYTES, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    close(fd); /* the mapping keeps the file */
    if (page == MAP_FAILED) return NULL;
    shared_counter *c = malloc(sizeof *c);
    if (!c) {
        munmap(page, COUNTER_FILE_BYTES);
        return NULL;
    }
    c->value = page;
    return c;
}

void shared_counter_close(shared_counter *c) {
    if (!c) return;
    munmap((void *)c->value, COUNTER_FILE_BYTES);
    free(c);
}

uint64_t shared_counter_read(const shared_counter *c) {
    return atomic_load(c->value);
}

void shared_counter_bump(shared_counter *c) {
    atomic_fetch_add(c->value, 1);
}
