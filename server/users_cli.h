/* users_cli.h - `mcmcd user ...` and `mcmcd token ...`: users and API
 * tokens, managed on the data dir whether or not the daemon runs. */
#ifndef MCMCD_USERS_CLI_H
#define MCMCD_USERS_CLI_H

int users_cli_user_main(int argc, char **argv);
int users_cli_token_main(int argc, char **argv);

#endif
