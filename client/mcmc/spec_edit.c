/* spec_edit.c - the job spec that `mcmc submit` and `mcmc run` send: a
 * SPEC.json file (or none), edited by options, so any sampler and any of
 * its parameters can be picked on the command line:
 *   -s, --sampler NAME[,KEY=VALUE...]  the sampler (its parameters after
 *                                      commas); a different type than the
 *                                      file's starts a fresh sampler object
 *   -p, --param KEY=VALUE              one sampler parameter
 *   --set PATH=VALUE                   any field, PATH dotted: num_warmup,
 *                                      model.prior_variance, data.dataset
 * A VALUE that reads as JSON (0.9, true, [1, 2], "text") is that value;
 * anything else is a string (dense, an id). Without options the file goes
 * to the server as it is, so the server reports its syntax errors. */
#include <stdlib.h>
#include <string.h>

#include "cli.h"

int cli_spec_edit_option(cli *c, int opt, const char *arg, spec_edits *e) {
    if (opt != 's' && opt != 'p' && opt != OPT_SET) return 0;
    if (opt == 's') {
        e->sampler = arg;
        return 1;
    }
    const char *eq = strchr(arg, '=');
    if (!eq || eq == arg)
        return cli_stop(c, cli_usage_error(c, "%s takes KEY=VALUE, not '%s'",
                                           opt == 'p' ? "--param" : "--set", arg));
    size_t *n = opt == 'p' ? &e->nparams : &e->nsets;
    const char **list = opt == 'p' ? e->params : e->sets;
    if (*n == SPEC_EDITS_MAX)
        return cli_stop(c, cli_usage_error(c, "at most %d of each option", SPEC_EDITS_MAX));
    list[(*n)++] = arg;
    return 1;
}

int cli_spec_edits_any(const spec_edits *e) {
    return e->sampler || e->nparams || e->nsets;
}

/* VALUE as JSON when it reads as JSON, else as a string. */
static json_t *value_of(const char *text) {
    json_t *v = json_loads(text, JSON_DECODE_ANY, NULL);
    return v ? v : json_string(text);
}

/* o[key], made an empty object when it is not one. */
static json_t *object_at(json_t *o, const char *key) {
    json_t *v = json_object_get(o, key);
    if (json_is_object(v)) return v;
    v = json_object();
    return json_object_set_new(o, key, v) == 0 ? v : NULL;
}

/* "a.b.c=VALUE" into root; -1 when memory ran out. */
static int set_path(json_t *root, const char *assignment) {
    const char *eq = strchr(assignment, '=');
    char *path = strndup(assignment, (size_t)(eq - assignment));
    json_t *o = path ? root : NULL;
    char *key = path, *dot;
    while (o && (dot = strchr(key, '.'))) {
        *dot = '\0';
        o = object_at(o, key);
        key = dot + 1;
    }
    int rc = o && json_object_set_new(o, key, value_of(eq + 1)) == 0 ? 0 : -1;
    free(path);
    return rc;
}

/* -s NAME[,KEY=VALUE...] */
static int set_sampler(json_t *root, const char *arg) {
    char *copy = strdup(arg), *save = NULL;
    char *name = copy ? strtok_r(copy, ",", &save) : NULL;
    json_t *smp = json_object_get(root, "sampler");
    const char *type = json_string_value(json_object_get(smp, "type"));
    int rc = name ? 0 : -1;
    if (name && (!json_is_object(smp) || !type || strcmp(type, name) != 0))
        rc = json_object_set_new(root, "sampler", json_pack("{s:s}", "type", name));
    smp = json_object_get(root, "sampler");
    for (char *kv; rc == 0 && (kv = strtok_r(NULL, ",", &save));) {
        char *eq = strchr(kv, '=');
        if (!eq) { /* a flag-like word: not a parameter */
            rc = -2;
            break;
        }
        *eq = '\0';
        rc = json_object_set_new(smp, kv, value_of(eq + 1));
    }
    free(copy);
    return rc;
}

static int apply_edits(cli *c, json_t *root, const spec_edits *e) {
    int rc = e->sampler ? set_sampler(root, e->sampler) : 0;
    if (rc == -2)
        return cli_usage_error(c, "--sampler takes NAME[,KEY=VALUE...], not '%s'", e->sampler);
    json_t *smp = rc == 0 && e->nparams ? object_at(root, "sampler") : NULL;
    for (size_t i = 0; rc == 0 && i < e->nparams; i++) {
        char *key = strndup(e->params[i], (size_t)(strchr(e->params[i], '=') - e->params[i]));
        rc = key && smp ? json_object_set_new(smp, key, value_of(strchr(e->params[i], '=') + 1))
                        : -1;
        free(key);
    }
    for (size_t i = 0; rc == 0 && i < e->nsets; i++)
        rc = set_path(root, e->sets[i]);
    return rc == 0 ? CLI_OK : cli_error("out of memory");
}

char *cli_load_spec(cli *c, const char *path, const spec_edits *e, int *rc) {
    char *text = path ? cli_read_file(path) : strdup("{}");
    *rc = CLI_USAGE;
    if (!text || !cli_spec_edits_any(e)) return text;
    json_error_t je;
    json_t *root = json_loads(text, 0, &je);
    free(text);
    if (!json_is_object(root)) {
        *rc = cli_usage_error(c, "%s is not a JSON object%s%s, so options cannot edit it", path,
                              root ? "" : ": ", root ? "" : je.text);
        json_decref(root);
        return NULL;
    }
    char *out = NULL;
    *rc = apply_edits(c, root, e);
    if (*rc == CLI_OK && !(out = json_dumps(root, JSON_COMPACT))) *rc = cli_error("out of memory");
    json_decref(root);
    return out;
}
