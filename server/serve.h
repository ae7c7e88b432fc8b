/* serve.h - `mcmcd serve`: the daemon (threading notes in serve.c). */
#ifndef MCMCD_SERVE_H
#define MCMCD_SERVE_H

int serve_main(int argc, char **argv);
/* mkdir -p, mode 0755: 0 or -1 with errno. */
int serve_make_dirs(const char *path);

#endif
