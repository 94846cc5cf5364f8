/* Placeholder until the master work stream lands (issue #5). */
#include <stdio.h>

#include "roles.h"

int master_main(int argc, char **argv)
{
	(void)argc;
	(void)argv;
	fprintf(stderr, "sluice-ctrl: --role=master is not part of this build yet\n");
	return 2;
}

int master_cli_main(int argc, char **argv)
{
	(void)argc;
	fprintf(stderr, "sluice-ctrl: '%s' is not part of this build yet\n", argv[0]);
	return 2;
}
