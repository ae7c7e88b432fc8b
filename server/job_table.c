/* job_table.c - the hash table of job_table.h: FNV-1a over the key, a
 * power-of-two array of slots, linear probing. Removing an entry shifts
 * the entries after it in its probe run back, so every run stays
 * contiguous and a lookup stops at the first empty slot. */
#include "job_table.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define FIRST_CAPACITY 64

typedef struct slot {
    const char *key; /* NULL: empty */
    void *value;
    uint64_t hash;
} slot;

struct job_table {
    slot *slots;
    size_t cap, count; /* cap: a power of two */
};

static uint64_t hash_key(const char *key) {
    uint64_t h = 14695981039346656037ull;
    for (const unsigned char *p = (const unsigned char *)key; *p; p++) {
        h ^= *p;
        h *= 1099511628211ull;
    }
    return h;
}

job_table *job_table_new(void) {
    job_table *t = calloc(1, sizeof *t);
    if (t && !(t->slots = calloc(FIRST_CAPACITY, sizeof *t->slots))) {
        free(t);
        return NULL;
    }
    if (t) t->cap = FIRST_CAPACITY;
    return t;
}

void job_table_free(job_table *t) {
    if (!t) return;
    free(t->slots);
    free(t);
}

/* The slot holding key, or the empty slot where it would go. */
static size_t find_slot(const job_table *t, const char *key, uint64_t h) {
    size_t mask = t->cap - 1, i = (size_t)h & mask;
    while (t->slots[i].key && (t->slots[i].hash != h || strcmp(t->slots[i].key, key) != 0))
        i = (i + 1) & mask;
    return i;
}

void *job_table_get(const job_table *t, const char *key) {
    size_t i = find_slot(t, key, hash_key(key));
    return t->slots[i].key ? t->slots[i].value : NULL;
}

static int grow(job_table *t) {
    if (t->cap > SIZE_MAX / 2 / sizeof(slot)) return -1;
    slot *old = t->slots;
    size_t old_cap = t->cap;
    slot *fresh = calloc(2 * old_cap, sizeof *fresh);
    if (!fresh) return -1;
    t->slots = fresh;
    t->cap = 2 * old_cap;
    for (size_t i = 0; i < old_cap; i++)
        if (old[i].key) t->slots[find_slot(t, old[i].key, old[i].hash)] = old[i];
    free(old);
    return 0;
}

int job_table_put(job_table *t, const char *key, void *value) {
    if (!key || !value) return -1;
    if (2 * (t->count + 1) > t->cap && grow(t) != 0) return -1;
    uint64_t h = hash_key(key);
    size_t i = find_slot(t, key, h);
    if (t->slots[i].key) return -2;
    t->slots[i] = (slot){.key = key, .value = value, .hash = h};
    t->count++;
    return 0;
}

/* Whether the entry whose home is `home` may move to the hole at `hole`:
 * the hole lies cyclically in [home, at), at being where it is now. */
static int may_fill(size_t home, size_t hole, size_t at) {
    return home <= at ? (home <= hole && hole < at) : (home <= hole || hole < at);
}

void *job_table_remove(job_table *t, const char *key) {
    size_t mask = t->cap - 1, hole = find_slot(t, key, hash_key(key));
    if (!t->slots[hole].key) return NULL;
    void *value = t->slots[hole].value;
    for (size_t at = (hole + 1) & mask; t->slots[at].key; at = (at + 1) & mask) {
        size_t home = (size_t)t->slots[at].hash & mask;
        if (may_fill(home, hole, at)) {
            t->slots[hole] = t->slots[at];
            hole = at;
        }
    }
    t->slots[hole] = (slot){0};
    t->count--;
    return value;
}

size_t job_table_count(const job_table *t) {
    return t->count;
}
