/* errors.c - human-readable names for status codes. */
#include "errors.h"

const char *mcmc_status_str(int status) {
    switch (status) {
    case MCMC_OK:
        return "ok";
    case MCMC_ENOMEM:
        return "out of memory";
    case MCMC_EIO:
        return "input/output error";
    case MCMC_EPARSE:
        return "malformed input";
    case MCMC_EINVAL:
        return "invalid value";
    case MCMC_ECANCELLED:
        return "cancelled";
    case MCMC_ENONFINITE:
        return "a chain went non-finite";
    }
    return "unknown error";
}
