/*
 * sluice: the command-line client of a sluice cluster (docs/cli.md).
 * Everything is in cli_run(); main only wires signals: SIGINT/SIGTERM end a
 * `get -w` cleanly (exit 0), SIGPIPE is ignored so `sluice get | head`
 * ends with a write error instead of a signal.
 */
#include <signal.h>
#include <stdio.h>
#include <string.h>

#include "cli.h"

static volatile int sluice_stop;

static void sluice_on_signal(int sig)
{
	(void)sig;
	sluice_stop = 1;
}

int main(int argc, char **argv)
{
	struct sigaction sa;
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = sluice_on_signal;
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);
	return cli_run(argc, argv, stdout, stderr, &sluice_stop);
}
