/* fuzz_dataset_csv.c - libFuzzer harness of the CSV dataset parser
 * (dataset_parse_csv). A dataset that parses has n, d >= 1, finite X and
 * y, and column names (when a header gave them) that dataset_set_names
 * accepts; one that fails has a message. Either way nothing leaks or
 * reads past the input (it carries no NUL). */
#include <math.h>

#include "dataset.h"
#include "errors.h"
#include "fuzz_dataset.h"
#include "fuzz_util.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    char *text = fuzz_bytes(data, size);
    dataset *ds = NULL;
    char err[256];
    err[0] = '\0';
    if (dataset_parse_csv(text, size, &ds, err, sizeof err) == MCMC_OK) {
        FUZZ_CHECK(ds != NULL, "MCMC_OK without a dataset");
        fuzz_check_dataset(ds);
        dataset_free(ds);
    } else {
        FUZZ_CHECK(fuzz_message_ok(err, sizeof err) && err[0], "no error message");
    }
    free(text);
    return 0;
}
