/* run.h - `mcmcd run`: one job spec, offline, draws to a file. */
#ifndef MCMCD_RUN_H
#define MCMCD_RUN_H

int run_main(int argc, char **argv);

#endif
