/* list_items.c - jobs' list items as text, by key (list_items.h): a
 * job_table index over a doubly linked list kept in order of use. */
#include "list_items.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "job_table.h"

typedef struct item {
    char id[32]; /* the table's key */
    uint64_t gen;
    char *text;
    struct item *newer, *older;
} item;

struct list_items {
    job_table *by_id;
    item *newest, *oldest;
    size_t count, cap;
};

list_items *list_items_new(size_t cap) {
    list_items *l = calloc(1, sizeof *l);
    if (l && !(l->by_id = job_table_new())) {
        free(l);
        return NULL;
    }
    if (l) l->cap = cap;
    return l;
}

static void unlink_item(list_items *l, item *it) {
    if (it->newer)
        it->newer->older = it->older;
    else
        l->newest = it->older;
    if (it->older)
        it->older->newer = it->newer;
    else
        l->oldest = it->newer;
    it->newer = it->older = NULL;
}

static void push_newest(list_items *l, item *it) {
    it->older = l->newest;
    it->newer = NULL;
    if (l->newest) l->newest->newer = it;
    l->newest = it;
    if (!l->oldest) l->oldest = it;
}

static void drop(list_items *l, item *it) {
    unlink_item(l, it);
    job_table_remove(l->by_id, it->id);
    free(it->text);
    free(it);
    l->count--;
}

void list_items_free(list_items *l) {
    if (!l) return;
    while (l->oldest)
        drop(l, l->oldest);
    job_table_free(l->by_id);
    free(l);
}

const char *list_items_get(list_items *l, const char *id, uint64_t gen) {
    item *it = job_table_get(l->by_id, id);
    if (!it || it->gen != gen) return NULL;
    unlink_item(l, it);
    push_newest(l, it);
    return it->text;
}

void list_items_put(list_items *l, const char *id, uint64_t gen, char *text) {
    item *old = job_table_get(l->by_id, id);
    if (old) drop(l, old);
    item *it = l->cap && strlen(id) < sizeof it->id ? calloc(1, sizeof *it) : NULL;
    if (!it) {
        free(text);
        return;
    }
    snprintf(it->id, sizeof it->id, "%s", id);
    it->gen = gen;
    it->text = text;
    if (job_table_put(l->by_id, it->id, it) != 0) {
        free(text);
        free(it);
        return;
    }
    push_newest(l, it);
    if (++l->count > l->cap) drop(l, l->oldest);
}

size_t list_items_count(const list_items *l) {
    return l ? l->count : 0;
}
