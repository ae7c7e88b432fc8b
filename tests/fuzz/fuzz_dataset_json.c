/* fuzz_dataset_json.c - libFuzzer harness of the JSON dataset parser
 * (dataset_from_json, the body of POST /v1/datasets). A dataset that
 * parses has n, d >= 1, finite X and y, a NUL-terminated name, and names
 * (when given) that dataset_set_names accepts; a failure has a message and
 * no dataset. */
#include <math.h>

#include "dataset.h"
#include "dataset_store.h"
#include "errors.h"
#include "fuzz_dataset.h"
#include "fuzz_util.h"

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
        fuzz_check_dataset(ds);
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
