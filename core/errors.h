/* errors.h - status codes shared by every module; 0 is success. */
#ifndef MCMCD_ERRORS_H
#define MCMCD_ERRORS_H

enum mcmc_status {
    MCMC_OK = 0,
    MCMC_ENOMEM = -1,     /* allocation failed */
    MCMC_EIO = -2,        /* a file could not be read or written */
    MCMC_EPARSE = -3,     /* malformed input (CSV, JSON) */
    MCMC_EINVAL = -4,     /* well-formed but invalid values */
    MCMC_ECANCELLED = -5, /* stopped by a cancel flag or a callback */
    MCMC_ENONFINITE = -6  /* a chain reached a point where theta or lp is not finite */
};

const char *mcmc_status_str(int status);

#endif
