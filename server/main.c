/* main.c - the mcmcd command: dispatches to its subcommands.
 *
 *   mcmcd serve [options]                                  the daemon
 *   mcmcd run --spec JOB.json --out DRAWS.{npy,csv,json}   run one job offline
 *   mcmcd version
 */
#include <stdio.h>
#include <string.h>

#include "run.h"
#include "serve.h"

#ifndef MCMCD_VERSION
#define MCMCD_VERSION "0.1.0"
#endif

static void usage(FILE *out) {
    fputs("usage: mcmcd <command> [options]\n"
          "\n"
          "commands:\n"
          "  serve     run the daemon: HTTP+JSON API on 127.0.0.1:8470 by default\n"
          "  run       run one job spec offline, writing draws to a file\n"
          "  version   print the version\n"
          "\n"
          "Run 'mcmcd <command> --help' for a command's options.\n",
          out);
}

int main(int argc, char **argv) {
    if (argc < 2) {
        usage(stderr);
        return 2;
    }
    const char *cmd = argv[1];
    if (!strcmp(cmd, "run")) return run_main(argc - 1, argv + 1);
    if (!strcmp(cmd, "serve")) return serve_main(argc - 1, argv + 1);
    if (!strcmp(cmd, "version") || !strcmp(cmd, "--version")) {
        printf("mcmcd %s\n", MCMCD_VERSION);
        return 0;
    }
    if (!strcmp(cmd, "help") || !strcmp(cmd, "--help") || !strcmp(cmd, "-h")) {
        usage(stdout);
        return 0;
    }
    fprintf(stderr, "mcmcd: unknown command '%s'\n", cmd);
    usage(stderr);
    return 2;
}
