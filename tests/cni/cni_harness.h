/*
 * cni_harness: a cnitool-like driver for the sluice-cni tests. It execs the
 * real sluice-cni binary with an explicit environment and stdin (nothing
 * inherited, as a runtime does), captures stdout and the exit status, and
 * runs the fake agent on a unique ipc path inside a private temp dir.
 * Header-only so each test program is one .c file.
 */
#ifndef SLUICE_CNI_HARNESS_H
#define SLUICE_CNI_HARNESS_H

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

struct cni_h {
	const char *cni_bin, *agent_bin;
	char dir[64], url[128], journal[128], state[128], devdir[128], sockdir[128];
	pid_t agent;
};

struct cni_h_env {
	const char *command, *container_id, *netns, *ifname, *args, *path;
};

static inline void cni_h_init(struct cni_h *h, const char *cni_bin, const char *agent_bin)
{
	memset(h, 0, sizeof(*h));
	h->cni_bin = cni_bin;
	h->agent_bin = agent_bin;
	h->agent = -1;
	snprintf(h->dir, sizeof(h->dir), "/tmp/sluice-cni-test-XXXXXX");
	if (mkdtemp(h->dir) == NULL) {
		perror("mkdtemp");
		exit(1);
	}
	snprintf(h->url, sizeof(h->url), "ipc://%s/agent.ipc", h->dir);
	snprintf(h->journal, sizeof(h->journal), "%s/journal", h->dir);
	snprintf(h->state, sizeof(h->state), "%s/state", h->dir);
	snprintf(h->devdir, sizeof(h->devdir), "%s/devinfo", h->dir);
	snprintf(h->sockdir, sizeof(h->sockdir), "%s/sock", h->dir);
}

static inline void cni_h_agent_stop(struct cni_h *h)
{
	if (h->agent > 0) {
		kill(h->agent, SIGTERM);
		waitpid(h->agent, NULL, 0);
	}
	h->agent = -1;
}

/* Start the fake agent with extra options (NULL-terminated); waits for "ready". */
static inline void cni_h_agent_start(struct cni_h *h, ...)
{
	const char *argv[16] = { h->agent_bin, h->url, h->journal };
	if (h->agent > 0) /* a failed test may have left one running */
		cni_h_agent_stop(h);
	int argc = 3;
	va_list ap;
	va_start(ap, h);
	const char *a;
	while ((a = va_arg(ap, const char *)) != NULL && argc < 15)
		argv[argc++] = a;
	va_end(ap);
	argv[argc] = NULL;
	int p[2];
	if (pipe(p) != 0)
		exit(1);
	pid_t pid = fork();
	if (pid == 0) {
		dup2(p[1], 1);
		close(p[0]);
		close(p[1]);
		execv(h->agent_bin, (char *const *)argv);
		_exit(127);
	}
	close(p[1]);
	char buf[16] = "";
	ssize_t n = read(p[0], buf, sizeof(buf) - 1);
	close(p[0]);
	if (n <= 0 || strncmp(buf, "ready", 5) != 0) {
		fprintf(stderr, "harness: fake agent did not start\n");
		exit(1);
	}
	h->agent = pid;
}

/* Reap an agent that is expected to have died by itself; returns its exit status. */
static inline int cni_h_agent_reap(struct cni_h *h)
{
	int st = 0;
	if (h->agent > 0)
		waitpid(h->agent, &st, 0);
	h->agent = -1;
	return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

static inline void cni_h_rm_rf(const char *path)
{
	DIR *d = opendir(path);
	if (d != NULL) {
		struct dirent *de;
		while ((de = readdir(d)) != NULL) {
			char p[1024];
			if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, "..") ||
			    snprintf(p, sizeof(p), "%s/%s", path, de->d_name) >= (int)sizeof(p))
				continue;
			cni_h_rm_rf(p);
		}
		closedir(d);
		rmdir(path);
	} else {
		unlink(path);
	}
}

static inline void cni_h_fini(struct cni_h *h)
{
	cni_h_agent_stop(h);
	cni_h_rm_rf(h->dir);
}

/*
 * Exec sluice-cni with env e (NULL fields are left unset) and stdin in.
 * stdout goes to out[cap] (NUL-terminated). Returns the exit status.
 */
static inline int cni_h_run(struct cni_h *h, const struct cni_h_env *e, const char *in, char *out,
			    size_t cap)
{
	char envbuf[9][1200];
	char *envp[12];
	int n = 0;
	const char *names[6] = { "CNI_COMMAND", "CNI_CONTAINERID", "CNI_NETNS", "CNI_IFNAME",
				 "CNI_ARGS", "CNI_PATH" };
	const char *vals[6] = { e->command, e->container_id, e->netns, e->ifname, e->args, e->path };
	for (int i = 0; i < 6; i++)
		if (vals[i] != NULL) {
			snprintf(envbuf[n], sizeof(envbuf[n]), "%s=%s", names[i], vals[i]);
			envp[n] = envbuf[n];
			n++;
		}
	/* Sanitizer settings pass through, so a leak or UB in sluice-cni fails the test. */
	const char *san[3] = { "ASAN_OPTIONS", "UBSAN_OPTIONS", "LSAN_OPTIONS" };
	for (int i = 0; i < 3; i++)
		if (getenv(san[i]) != NULL) {
			snprintf(envbuf[n], sizeof(envbuf[n]), "%s=%s", san[i], getenv(san[i]));
			envp[n] = envbuf[n];
			n++;
		}
	envp[n] = NULL;
	int pin[2], pout[2];
	if (pipe(pin) != 0 || pipe(pout) != 0)
		exit(1);
	pid_t pid = fork();
	if (pid == 0) {
		dup2(pin[0], 0);
		dup2(pout[1], 1);
		int devnull = open("/dev/null", O_WRONLY);
		if (devnull >= 0 && getenv("CNI_H_STDERR") == NULL)
			dup2(devnull, 2);
		close(pin[0]);
		close(pin[1]);
		close(pout[0]);
		close(pout[1]);
		char *argv[] = { (char *)h->cni_bin, NULL };
		execve(h->cni_bin, argv, envp);
		_exit(127);
	}
	close(pin[0]);
	close(pout[1]);
	size_t len = strlen(in), off = 0;
	signal(SIGPIPE, SIG_IGN);
	while (off < len) {
		ssize_t w = write(pin[1], in + off, len - off);
		if (w <= 0)
			break;
		off += (size_t)w;
	}
	close(pin[1]);
	size_t got = 0;
	for (;;) {
		ssize_t r = read(pout[0], out + got, cap - 1 - got);
		if (r <= 0)
			break;
		got += (size_t)r;
		if (got == cap - 1)
			break;
	}
	out[got] = '\0';
	close(pout[0]);
	int st = 0;
	waitpid(pid, &st, 0);
	return WIFEXITED(st) ? WEXITSTATUS(st) : 128;
}

/* Count regular files in dir (0 if it does not exist). */
static inline int cni_h_count(const char *dir)
{
	int n = 0;
	DIR *d = opendir(dir);
	if (d == NULL)
		return 0;
	struct dirent *de;
	while ((de = readdir(d)) != NULL)
		if (de->d_name[0] != '.')
			n++;
	closedir(d);
	return n;
}

/* How many journal lines start with prefix. */
static inline int cni_h_journal_count(struct cni_h *h, const char *prefix)
{
	FILE *f = fopen(h->journal, "r");
	char line[1024];
	int n = 0;
	if (f == NULL)
		return 0;
	while (fgets(line, sizeof(line), f))
		if (strncmp(line, prefix, strlen(prefix)) == 0)
			n++;
	fclose(f);
	return n;
}

#endif
