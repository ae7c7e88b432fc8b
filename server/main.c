/* main.c - the mcmcd command: dispatches to its subcommands.
 *
 *   mcmcd serve [options]                                  the daemon
 *   mcmcd run --spec JOB.json --out DRAWS.{npy,csv,json}   run one job offline
 *   mcmcd samplers [NAME]                                  the sampler table, as Markdown
 *   mcmcd user add|list|rm|set ...                         users and their limits
 *   mcmcd token new|list|revoke ...                        API tokens
 *   mcmcd routes                                           the API's route table
 *   mcmcd version
 *
 * How the daemon uses threads: the top of serve.c.
 */
#include <stdio.h>
#include <string.h>

#include "app.h"
#include "describe.h"
#include "run.h"
#include "serve.h"
#include "users_cli.h"

#ifndef MCMCD_VERSION
#define MCMCD_VERSION "0.1.0"
#endif

static void usage(FILE *out) {
    fputs("usage: mcmcd <command> [options]\n"
          "\n"
          "commands:\n"
          "  serve     run the daemon: HTTP+JSON API on 127.0.0.1:8470 by default\n"
          "  run       run one job spec offline, writing draws to a file\n"
          "  samplers  list the samplers and every parameter they take\n"
          "  user      add, list, remove users; set their limits\n"
          "  token     make, list, revoke API tokens\n"
          "  routes    print the API's routes: METHOD PATTERN ACCESS, one a line\n"
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
    if (!strcmp(cmd, "samplers")) return describe_samplers_main(argc - 1, argv + 1);
    if (!strcmp(cmd, "user")) return users_cli_user_main(argc - 1, argv + 1);
    if (!strcmp(cmd, "token")) return users_cli_token_main(argc - 1, argv + 1);
    if (!strcmp(cmd, "routes")) {
        api_print_routes(stdout);
        return 0;
    }
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
