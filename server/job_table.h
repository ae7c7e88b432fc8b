/* job_table.h - the jobs in memory, by id: an open-addressing hash table
 * (linear probing, deletion by backward shift, so no tombstones) from a
 * NUL-terminated key to a value. The table does not copy keys: each key
 * must stay valid, unchanged, while its entry is in the table (jobs.c keys
 * each job by its own id field). Lookups, inserts and removals take O(1)
 * on average; the table doubles at 1/2 load and never shrinks below its
 * first size. Not thread-safe: the event loop owns it. */
#ifndef MCMCD_JOB_TABLE_H
#define MCMCD_JOB_TABLE_H

#include <stddef.h>

typedef struct job_table job_table;

/* An empty table; NULL on ENOMEM. */
job_table *job_table_new(void);
void job_table_free(job_table *t); /* the values are the caller's */

/* The value under key, or NULL. */
void *job_table_get(const job_table *t, const char *key);
/* Adds key -> value (value not NULL); 0, -1 on ENOMEM, -2 when the key is
 * already in the table (the entry is left as it was). */
int job_table_put(job_table *t, const char *key, void *value);
/* Removes key's entry; returns its value, or NULL when there was none. */
void *job_table_remove(job_table *t, const char *key);
size_t job_table_count(const job_table *t);

#endif
