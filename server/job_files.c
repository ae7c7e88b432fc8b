/* job_files.c - the small files of a job's dir (adapt.json, names.json),
 * by name, and a JSON document written there whole: what jobs.c,
 * job_adapt.c and job_names.c share, kept apart so that none of them
 * depends on another for it. */
#include <stdio.h>
#include <unistd.h>

#include "app.h"
#include "errors.h"

void job_file_path(const job *j, const char *name, char *buf, size_t cap) {
    snprintf(buf, cap, "%s/%s/%s", j->app->jobs_dir, j->id, name);
}

int job_file_save_json(const job *j, const char *name, const json_t *root) {
    char tmp[4600], path[4600], tmp_name[256];
    snprintf(tmp_name, sizeof tmp_name, "%s.tmp", name);
    job_file_path(j, tmp_name, tmp, sizeof tmp);
    job_file_path(j, name, path, sizeof path);
    int rc = root && json_dump_file(root, tmp, JSON_COMPACT) == 0 && rename(tmp, path) == 0
                 ? MCMC_OK
                 : MCMC_EIO;
    if (rc != MCMC_OK) unlink(tmp);
    return rc;
}
