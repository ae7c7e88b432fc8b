/* fuzz_dataset_json.c - libFuzzer harness of the JSON dataset parser
 * (dataset_from_json, the body of POST /v1/datasets). A dataset that
 * parses has n, d >= 1, finite X and y, a NUL-terminated name, and names
 * (when given) that dataset_set_names accepts; a failure has a message and
 * no dataset. */
#include <math.h>

#include "dataset.h"
#include "dataset_store.h"
#include "errors.h"
#include "fuzz_util.h"

static void check_dataset(const dataset *ds) {
    FUZZ_CHECK(ds->n >= 1 && ds->d >= 1, "n %zu d %zu", ds->n, ds->d);
    for (size_t i = 0; i < ds->n * ds->d; i++)
        FUZZ_CHECK(isfinite(ds->X[i]), "X[%zu] = %g", i, ds->X[i]);
    for (size_t i = 0; i < ds->n; i++)
        FUZZ_CHECK(isfinite(ds->y[i]), "y[%zu] = %g", i, ds->y[i]);
    if (!ds->names) return;
    dataset *copy = dataset_alloc(1, ds->d);
    FUZZ_CHECK(copy != NULL, "out of memory");
    char err[256];
    int rc = dataset_set_names(copy, (const char *const *)ds->names, err, sizeof err);
    FUZZ_CHECK(rc == MCMC_OK, "names that dataset_set_names refuses: %s", err);
    dataset_free(copy);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    char *text = fuzz_bytes(data, size);
    dataset *ds = NULL;
    char name[128], err[256];
    memset(name, 'x', sizeof name);
    err[0] = '\0';
    int rc = dataset_from_json(text, size, &ds, name, sizeof name, err, sizeof err);
    if (rc == MCMC_OK) {
        FUZZ_CHECK(ds != NULL, "MCMC_OK without a dataset");
        FUZZ_CHECK(fuzz_message_ok(name, sizeof name), "name not terminated");
        FUZZ_CHECK(fuzz_utf8_ok(name), "the name is not UTF-8");
        check_dataset(ds);
        char id[DATASET_ID_LEN + 1];
        FUZZ_CHECK(dataset_hash(ds, id) == MCMC_OK && dataset_id_valid(id), "bad id");
        dataset_free(ds);
    } else {
        FUZZ_CHECK(ds == NULL, "a dataset on failure");
        FUZZ_CHECK(fuzz_message_ok(err, sizeof err) && err[0], "no error message");
    }
    free(text);
    return 0;
}
