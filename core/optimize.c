/* optimize.c - the mode finder (optimize.h): L-BFGS and minibatch Adam. */
#include <math.h>
#include <string.h>

#include "errors.h"
#include "optimize.h"

void optimize_options_default(optimize_options *o) {
    memset(o, 0, sizeof *o);
    o->method = OPTIMIZE_AUTO;
    o->max_iter = 1000;
    o->tolerance = 1e-6;
    o->history = 10;
    o->learning_rate = 1e-2;
    o->beta1 = 0.9;
    o->beta2 = 0.999;
    o->eps = 1e-8;
    o->auto_rows = 1000000;
}

const char *optimize_status_name(optimize_status status) {
    static const char *const names[] = {"converged", "stalled", "max_iter", "nonfinite"};
    return (unsigned)status < 4 ? names[status] : "unknown";
}

const char *optimize_method_name(optimize_method method) {
    static const char *const names[] = {"auto", "lbfgs", "adam"};
    return (unsigned)method < 3 ? names[method] : "unknown";
}

int optimize_mode(const model *m, const optimize_options *o, double *theta, optimize_result *res) {
    (void)m, (void)o, (void)theta;
    memset(res, 0, sizeof *res);
    return MCMC_EINVAL; /* skeleton: implemented next */
}
