/*
 * fake_server: start and stop tests/cli/fake_api.py (an in-memory HTTPS API
 * that requires client certificates) from a C test, on a loopback port the
 * kernel picks. Test-only helper shared by test_apic and test_cli_*.
 */
#ifndef SLUICE_TESTS_FAKE_SERVER_H
#define SLUICE_TESTS_FAKE_SERVER_H

#include <arpa/inet.h>
#include <netinet/in.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

extern char **environ;

struct fake_server {
	pid_t pid;
	int port;
	char url[64];
};

/* A fresh temporary directory for certificates (created by the first
 * server started with it). */
static inline void fake_certs_dir(char *dir, size_t size)
{
	snprintf(dir, size, "/tmp/sluice-cli-test-XXXXXX");
	if (mkdtemp(dir) == NULL) {
		perror("mkdtemp");
		exit(1);
	}
}

/* Start fake_api.py with extra flags (NULL-terminated list); exits the test
 * binary if it does not come up within 20 s. */
static inline void fake_server_start(struct fake_server *s, const char *script,
				     const char *certs, const char *const *extra)
{
	char port_file[512];
	const char *argv[24];
	size_t n = 0;
	static unsigned seq;

	snprintf(port_file, sizeof(port_file), "%s/port.%d.%u", certs, (int)getpid(), seq++);
	unlink(port_file);
	argv[n++] = "python3";
	argv[n++] = script;
	argv[n++] = "--certs";
	argv[n++] = certs;
	argv[n++] = "--port-file";
	argv[n++] = port_file;
	for (size_t i = 0; extra != NULL && extra[i] != NULL && n + 1 < 24; i++)
		argv[n++] = extra[i];
	argv[n] = NULL;
	if (posix_spawnp(&s->pid, "python3", NULL, NULL, (char *const *)argv, environ) != 0) {
		perror("posix_spawnp python3");
		exit(1);
	}
	for (int i = 0; i < 400; i++) {
		FILE *f = fopen(port_file, "r");
		if (f != NULL) {
			int ok = fscanf(f, "%d", &s->port);
			fclose(f);
			if (ok == 1) {
				snprintf(s->url, sizeof(s->url), "https://127.0.0.1:%d", s->port);
				return;
			}
		}
		int st;
		if (waitpid(s->pid, &st, WNOHANG) == s->pid) {
			fprintf(stderr, "fake_api.py exited before listening\n");
			exit(1);
		}
		struct timespec ts = {0, 50 * 1000 * 1000};
		nanosleep(&ts, NULL);
	}
	fprintf(stderr, "fake_api.py did not start\n");
	kill(s->pid, SIGTERM);
	exit(1);
}

static inline void fake_server_stop(struct fake_server *s)
{
	if (s->pid > 0) {
		kill(s->pid, SIGTERM);
		waitpid(s->pid, NULL, 0);
		s->pid = 0;
	}
}

/* A loopback URL nothing listens on: bind a port, then release it. */
static inline void fake_dead_url(char *url, size_t size)
{
	struct sockaddr_in a = {.sin_family = AF_INET};
	socklen_t len = sizeof(a);
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (fd < 0 || bind(fd, (struct sockaddr *)&a, sizeof(a)) != 0 ||
	    getsockname(fd, (struct sockaddr *)&a, &len) != 0) {
		perror("dead port");
		exit(1);
	}
	close(fd);
	snprintf(url, size, "https://127.0.0.1:%u", (unsigned)ntohs(a.sin_port));
}

static inline void fake_rm_rf(const char *dir)
{
	char cmd[600];
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	if (system(cmd) != 0)
		fprintf(stderr, "cannot remove %s\n", dir);
}

#endif
