/*
 * roles: the entry points sluice-ctrl's main() dispatches to. Each role
 * parses its own options (getopt_long over the full argv) and returns the
 * process exit status: 0 ok, 1 runtime failure, 2 usage error.
 */
#ifndef SLUICE_CTRL_ROLES_H
#define SLUICE_CTRL_ROLES_H

/* --role=worker: node agent (ctrl/worker_main.c). Also handles --call. */
int worker_main(int argc, char **argv);

/* --role=master: Raft member, HTTPS API, scheduler and controllers
 * (ctrl/master_main.c). */
int master_main(int argc, char **argv);

/* `sluice-ctrl init|join|cert ...`: cluster bootstrap and certificates
 * (ctrl/master_main.c). argv[0] is the subcommand. */
int master_cli_main(int argc, char **argv);

#endif
