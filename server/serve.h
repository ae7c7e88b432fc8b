/* serve.h - `mcmcd serve`: the daemon (threading notes in serve.c). */
#ifndef MCMCD_SERVE_H
#define MCMCD_SERVE_H

int serve_main(int argc, char **argv);

#endif
