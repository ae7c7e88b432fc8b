/* list_items.h - the list items of ended (and queued) jobs, kept as JSON
 * text by key (the job id; api_jobs.c keys a queued job's apart), so that
 * GET /v1/jobs answers a page without making each item again. An ended
 * job's item does not change, nor a queued one's until it starts, except
 * its owner's name when that user is removed: each item carries the users'
 * generation it was made in (app->users_generation) and is made again
 * after a change. Least recently used items go beyond the capacity. Loop
 * thread only. */
#ifndef MCMCD_LIST_ITEMS_H
#define MCMCD_LIST_ITEMS_H

#include <stddef.h>
#include <stdint.h>

typedef struct list_items list_items;

/* Holds up to cap items; NULL on ENOMEM. */
list_items *list_items_new(size_t cap);
void list_items_free(list_items *l);
/* The item of job id made in generation gen, or NULL; a hit becomes the
 * most recently used. The text stays valid until the next put. */
const char *list_items_get(list_items *l, const char *id, uint64_t gen);
/* Keeps text (taken: freed by the cache, or now on ENOMEM) as id's item
 * in generation gen, replacing any older one. */
void list_items_put(list_items *l, const char *id, uint64_t gen, char *text);
size_t list_items_count(const list_items *l);

#endif
