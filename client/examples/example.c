/* example.c - libmcmcclient on one page: upload a small synthetic dataset
 * (or a CSV file), run MALA with 4 chains, adapted in warmup, print progress
 * as it streams and the posterior means. Usage: mcmc_example [URL [data.csv]] */
#include <math.h>
#include <stdio.h>

#include <mcmcclient.h>

enum { N = 400, D = 3 };

static int on_event(void *ctx, const mcmc_event *ev) {
    (void)ctx;
    if (ev->type == MCMC_EVENT_PROGRESS)
        printf("chain %u: %llu/%llu iterations (%s, step size %.3g), accept rate %.2f\n", ev->chain,
               (unsigned long long)ev->iter, (unsigned long long)ev->total,
               mcmc_phase_name(ev->phase), ev->step_size, ev->accept_rate);
    else if (ev->type != MCMC_EVENT_HEARTBEAT)
        printf("job %s\n", mcmc_job_state_name(ev->state));
    return 0; /* nonzero would stop watching */
}

static int fail(const char *what, mcmc_client_status st, const mcmc_error *err) {
    fprintf(stderr, "%s: %s, HTTP %d %s: %s\n", what, mcmc_client_status_name(st), err->status,
            err->code, err->message);
    for (size_t i = 0; i < err->ndetails; i++)
        fprintf(stderr, "  %s: %s\n", err->details[i].path, err->details[i].message);
    return 1;
}

/* y ~ Bernoulli(sigmoid(X theta)) with theta = (1, -2, 0.5), X ~ U(-2, 2) */
static void make_data(double *X, uint8_t *y) {
    const double theta[D] = {1.0, -2.0, 0.5};
    unsigned s = 42;
    for (int i = 0; i < N; i++) {
        double eta = 0;
        for (int j = 0; j < D; j++, s = s * 1103515245u + 12345u)
            eta += (X[i * D + j] = (s >> 16) / 16384.0 - 2.0) * theta[j];
        y[i] = (s >> 16) / 65536.0 < 1 / (1 + exp(-eta));
        s = s * 1103515245u + 12345u;
    }
}

int main(int argc, char **argv) {
    static double X[N * D];
    static uint8_t y[N];
    mcmc_client *c;
    mcmc_error err;
    mcmc_dataset ds;
    mcmc_job job;
    mcmc_job_state final;
    mcmc_summary sum;
    mcmc_client_status st;
    if (mcmc_client_new(argc > 1 ? argv[1] : "http://127.0.0.1:8470", NULL, &c)) return 1;
    make_data(X, y);
    st = argc > 2 ? mcmc_upload_dataset_csv(c, "example", argv[2], &ds, &err)
                  : mcmc_upload_dataset(c, "example", X, y, N, D, &ds, &err);
    if (st) return fail("upload", st, &err);
    mcmc_spec spec;
    mcmc_spec_init(&spec);
    spec.dataset_id = ds.id;
    spec.sampler = "mala"; /* any sampler GET /v1/info lists, with any of its parameters: */
    spec.sampler_params_json = "{\"adapt_delta\": 0.6}";
    spec.num_warmup = 1000; /* adapts the step size and the metric */
    spec.chains = 4;
    spec.num_samples = 3000;
    spec.progress_every = 1000;
    if ((st = mcmc_submit_job(c, &spec, &job, &err))) return fail("submit", st, &err);
    printf("dataset %s (%llu rows), job %s\n", ds.id, (unsigned long long)ds.n, job.id);
    if ((st = mcmc_watch_job(c, job.id, NULL, on_event, NULL, &final, &err)))
        return fail("watch", st, &err);
    if ((st = mcmc_get_summary(c, job.id, &sum, &err))) return fail("summary", st, &err);
    for (size_t j = 0; j < sum.nparams; j++)
        printf("%s: mean %.3f, sd %.3f, R-hat %.3f\n", sum.params[j].name, sum.params[j].mean,
               sum.params[j].sd, sum.params[j].rhat);
    mcmc_summary_free(&sum);
    mcmc_job_free(&job);
    mcmc_client_free(c);
    return final == MCMC_JOB_SUCCEEDED ? 0 : 1;
}
