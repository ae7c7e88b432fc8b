/* users.c - /v1/users from the client: who the token acts for, with the
 * user's limits and usage (GET /v1/users/me). */
#include <stdlib.h>
#include <string.h>

#include "client_internal.h"

/* An object of numbers into a new array of name/value pairs; -1 when
 * memory ran out. Members that are not numbers read as 0. */
static int values_from_json(const json_t *obj, mcmc_user_value **out, size_t *n) {
    *out = NULL;
    *n = 0;
    size_t count = json_object_size(obj);
    if (count == 0) return 0;
    if (!(*out = calloc(count, sizeof **out))) return -1;
    const char *key;
    const json_t *v;
    json_object_foreach((json_t *)obj, key, v) {
        mcmc_user_value *e = &(*out)[(*n)++];
        snprintf(e->name, sizeof e->name, "%s", key);
        e->value = mcmcc_json_u64(obj, key);
    }
    return 0;
}

static mcmc_client_status user_from_json(const json_t *o, mcmc_user *out, mcmc_error *err) {
    if (!json_is_object(o) || !json_is_string(json_object_get(o, "name")))
        return mcmcc_fail(err, MCMC_CLIENT_PROTOCOL, "the answer is not a user");
    mcmcc_json_string(o, "name", out->name, sizeof out->name);
    out->admin = json_is_true(json_object_get(o, "admin"));
    if (values_from_json(json_object_get(o, "limits"), &out->limits, &out->nlimits) != 0 ||
        values_from_json(json_object_get(o, "usage"), &out->usage, &out->nusage) != 0) {
        mcmc_user_free(out);
        return mcmcc_fail(err, MCMC_CLIENT_NOMEM, "out of memory");
    }
    return MCMC_CLIENT_OK;
}

mcmc_client_status mcmc_whoami(mcmc_client *c, mcmc_user *out, mcmc_error *err) {
    mcmcc_error_reset(err);
    if (out) memset(out, 0, sizeof *out);
    if (!c || !out) return mcmcc_fail(err, MCMC_CLIENT_INVALID, "no client or no user");
    json_t *root;
    mcmc_client_status st = mcmcc_json_call(c, "GET", "/v1/users/me", NULL, &root, err);
    if (st == MCMC_CLIENT_OK) st = user_from_json(root, out, err);
    json_decref(root);
    return st;
}

void mcmc_user_free(mcmc_user *user) {
    if (!user) return;
    free(user->limits);
    free(user->usage);
    user->limits = user->usage = NULL;
    user->nlimits = user->nusage = 0;
}

uint64_t mcmc_user_value_get(const mcmc_user_value *values, size_t n, const char *name) {
    for (size_t i = 0; values && name && i < n; i++)
        if (!strcmp(values[i].name, name)) return values[i].value;
    return 0;
}
