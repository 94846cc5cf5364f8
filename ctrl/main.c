/*
 * sluice-ctrl: the control process, one per node. main() only dispatches:
 *   sluice-ctrl init|join|cert ...     cluster bootstrap (master_cli_main)
 *   sluice-ctrl --role=master ...      Raft member + API + controllers
 *   sluice-ctrl --role=worker ...      node agent (also --call)
 * Each role owns its options and its --help.
 */
#include <stdio.h>
#include <string.h>

#include "roles.h"

static void usage(FILE *f)
{
	fprintf(f,
		"usage: sluice-ctrl --role=master [options]   master: Raft member, HTTPS API, scheduler, controllers\n"
		"       sluice-ctrl --role=worker [options]   node agent: programs sluice-dp, runs pods\n"
		"       sluice-ctrl init|join|cert [options]  create a cluster, add a master, issue certificates\n"
		"       sluice-ctrl --call JSON [--ipc URL]   send one request to a running node agent\n"
		"\n"
		"`sluice-ctrl --role=ROLE --help` and `sluice-ctrl init --help` describe each one.\n");
}

/* The role, from --role=X or --role X anywhere in argv (NULL if absent). */
static const char *find_role(int argc, char **argv)
{
	for (int i = 1; i < argc; i++) {
		if (strncmp(argv[i], "--role=", 7) == 0)
			return argv[i] + 7;
		if (strcmp(argv[i], "--role") == 0 && i + 1 < argc)
			return argv[i + 1];
	}
	return NULL;
}

int main(int argc, char **argv)
{
	if (argc > 1 && (strcmp(argv[1], "init") == 0 || strcmp(argv[1], "join") == 0 ||
			 strcmp(argv[1], "cert") == 0))
		return master_cli_main(argc - 1, argv + 1);

	const char *role = find_role(argc, argv);
	if (role != NULL && strcmp(role, "master") == 0)
		return master_main(argc, argv);
	if (role != NULL && strcmp(role, "worker") != 0) {
		fprintf(stderr, "sluice-ctrl: unknown role '%s' (master or worker)\n", role);
		return 2;
	}
	if (role == NULL) {
		for (int i = 1; i < argc; i++) {
			if (strcmp(argv[i], "-h") == 0 || strcmp(argv[i], "--help") == 0) {
				usage(stdout);
				return 0;
			}
		}
	}
	return worker_main(argc, argv);
}
