/* row_team.h - the threads one chain uses to split a gradient's pass over
 * the data rows.
 *
 * A team of k members is the calling thread (member 0) and k - 1 helper
 * threads that wait for work: row_team_run hands every member the same
 * function and returns when all have finished. Helpers spin briefly between
 * runs (a chain asks again within microseconds) and then sleep, so an idle
 * team costs no CPU. What each member computes is the caller's business;
 * model.c gives members fixed segments of rows so that the result does not
 * depend on k.
 */
#ifndef MCMCD_ROW_TEAM_H
#define MCMCD_ROW_TEAM_H

typedef struct row_team row_team;

/* fn(arg, member, members) runs once on each member, 0 <= member < members. */
typedef void (*row_team_fn)(void *arg, unsigned member, unsigned members);

/* Starts members - 1 helper threads (members >= 1). NULL when a thread or
 * memory cannot be had. */
row_team *row_team_create(unsigned members);
/* Stops and joins the helpers. NULL is fine. */
void row_team_free(row_team *t);
unsigned row_team_size(const row_team *t);
/* Runs fn on every member, the caller as member 0; returns when all are done.
 * Only one thread may call it at a time (the team's owner). */
void row_team_run(row_team *t, row_team_fn fn, void *arg);

#endif
