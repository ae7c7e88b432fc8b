/* app_users.c - the loop's table of users (app.h): name, role and limits
 * as the registry has them, and the usage jobs.c counts. A lab has tens of
 * users, so the table is a plain array searched in order. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "app.h"

static void user_apply_record(app *a, app_user *u, const user_record *r) {
    snprintf(u->name, sizeof u->name, "%s", r->name);
    u->admin = r->admin;
    u->removed = 0;
    user_effective_limits(r, &a->cfg.limits, &u->limits);
}

static void user_mark_removed(app *a, app_user *u) {
    snprintf(u->name, sizeof u->name, "#%lld", (long long)u->id);
    a->users_generation++; /* list items that named the user are made again */
    u->admin = 0;
    u->removed = 1;
    user_effective_limits(NULL, &a->cfg.limits, &u->limits);
}

static app_user *user_find(app *a, int64_t id) {
    for (size_t i = 0; i < a->nusers; i++)
        if (a->users[i]->id == id) return a->users[i];
    return NULL;
}

app_user *app_user_get(app *a, int64_t id) {
    app_user *u = user_find(a, id);
    if (u) return u;
    if (a->nusers == a->cap_users) {
        size_t cap = a->cap_users ? 2 * a->cap_users : 16;
        app_user **users = realloc(a->users, cap * sizeof *users);
        if (!users) return NULL;
        a->users = users;
        a->cap_users = cap;
    }
    if (!(u = calloc(1, sizeof *u))) return NULL;
    u->id = id;
    user_record r;
    if (users_get_by_id(a->reg, id, &r) == REGISTRY_OK)
        user_apply_record(a, u, &r);
    else
        user_mark_removed(a, u);
    a->users[a->nusers++] = u;
    return u;
}

void app_user_update(app *a, const principal *p) {
    app_user *u = app_user_get(a, p->user_id);
    if (!u) return;
    snprintf(u->name, sizeof u->name, "%s", p->name);
    u->admin = p->admin;
    u->removed = 0;
    u->limits = p->limits;
}

static int reload_one(void *ctx, const user_record *r) {
    app *a = ctx;
    app_user *u = app_user_get(a, r->id);
    if (u) user_apply_record(a, u, r);
    return 0;
}

void app_users_reload(app *a) {
    for (size_t i = 0; i < a->nusers; i++)
        a->users[i]->removed = 2; /* still 2 after the walk: gone from the registry */
    if (users_list(a->reg, reload_one, a) != REGISTRY_OK) {
        for (size_t i = 0; i < a->nusers; i++)
            if (a->users[i]->removed == 2) a->users[i]->removed = 0;
        return;
    }
    for (size_t i = 0; i < a->nusers; i++)
        if (a->users[i]->removed == 2) user_mark_removed(a, a->users[i]);
}

void app_users_free(app *a) {
    for (size_t i = 0; i < a->nusers; i++)
        free(a->users[i]);
    free(a->users);
    a->users = NULL;
    a->nusers = a->cap_users = 0;
}

uint64_t app_user_stored_bytes(app *a, app_user *u) {
    int64_t datasets = 0;
    int rc = registry_user_dataset_bytes(a->reg, u->id, &datasets);
    if (rc == REGISTRY_OK && datasets >= 0)
        u->dataset_bytes = (uint64_t)datasets;
    else /* not 0: a quota would let through what it should refuse */
        fprintf(stderr,
                "mcmcd: user %s: cannot read the size of their datasets (the last "
                "one read counts): %s\n",
                u->name, registry_last_error(a->reg));
    return u->dataset_bytes + u->draw_bytes;
}
