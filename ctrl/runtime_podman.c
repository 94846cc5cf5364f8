/*
 * runtime_podman: pods as podman containers on sluice-cni's network
 * (ctrl/runtime_podman.h).
 *
 * Every podman call is a child of a multithreaded process, so everything
 * the child needs (argv, the open /dev/null) is prepared before fork and
 * the child does only async-signal-safe work until execv (the executable
 * is looked up in PATH once, at create, not by execvp in the child, which
 * may allocate). The call does
 * not wait for EOF on the pipes: `podman run -d` leaves conmon behind,
 * which may hold them open; it waits for the child's exit (or the
 * deadline, then SIGKILL) and takes what the pipes hold by then.
 */

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <dirent.h>
#include <time.h>
#include <unistd.h>

#include <sluice/attach_key.h>
#include <sluice/errmsg.h>

#include "runtime_netns.h"
#include "runtime_podman.h"

#define RTPM_INSPECT_EVERY_MS 1000u
#define RTPM_OUT_MAX (16u << 20) /* inspect of many containers */

struct rtpm_pod {
	struct runtime_pod_spec spec;
	struct runtime_status st;
	size_t n_command;
	int image_default;
	char name[128];	 /* container name */
	char dir[512];	 /* <pod_dir>/<name> */
	char cid[80];	 /* "" until created */
	char key[SLUICE_ATTACH_KEY_SIZE];
	char finished_at[64];
	uint64_t next_try_ms;
	uint64_t started_ms;
	unsigned crashes;
	int stopping;
	int dirty;
};

struct runtime_podman {
	struct runtime_podman_params p;
	char podman[256], network[128], node[254], pod_dir[512], prefix[64], host_ip[64];
	struct rtpm_pod **pods;
	size_t n, cap;
	uint64_t next_inspect_ms;
	struct runtime_podman_argv *av; /* scratch: big, so on the heap */
};

/* Log through the caller's sink (runtime_common.h). */
#define rtpm_logf(rt, ...) runtime_logf((rt)->p.log, (rt)->p.data, __VA_ARGS__)

/* ---- pure parts --------------------------------------------------------- */

static int rtpm_push(struct runtime_podman_argv *a, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

static int rtpm_push(struct runtime_podman_argv *a, const char *fmt, ...)
{
	va_list ap;

	if (a->argc + 1 >= RUNTIME_PODMAN_MAX_ARGV || a->used >= sizeof(a->buf))
		return -1;
	size_t room = sizeof(a->buf) - a->used;
	va_start(ap, fmt);
	int n = vsnprintf(a->buf + a->used, room, fmt, ap);
	va_end(ap);
	if (n < 0 || (size_t)n >= room)
		return -1;
	a->argv[a->argc++] = a->buf + a->used;
	a->argv[a->argc] = NULL;
	a->used += (size_t)n + 1;
	return 0;
}

int runtime_podman_run_argv(const struct runtime_podman_run *r, struct runtime_podman_argv *out,
			    char *errmsg, size_t len)
{
	const struct runtime_pod_spec *s = r->spec;
	int bad = 0;

	out->argc = 0;
	out->used = 0;
	out->argv[0] = NULL;
	if (s->image[0] == '\0')
		return sluice_errf(-1, errmsg, len,
				   "pod %s/%s: spec.containers[0].image is required with the podman runtime",
				   s->ns, s->name);
	if (!r->image_default && r->n_command > s->argc)
		return sluice_errf(-1, errmsg, len, "pod %s/%s: %zu command words of %zu", s->ns,
				   s->name, r->n_command, s->argc);
	bad |= rtpm_push(out, "%s", r->podman);
	bad |= rtpm_push(out, "run");
	bad |= rtpm_push(out, "-d");
	bad |= rtpm_push(out, "--name");
	bad |= rtpm_push(out, "%s", r->name);
	bad |= rtpm_push(out, "--network");
	bad |= rtpm_push(out, "%s", r->network);
	bad |= rtpm_push(out, "--pull");
	bad |= rtpm_push(out, "never");
	/* A hostname is a DNS label: Kubernetes cuts the pod name at 63. */
	bad |= rtpm_push(out, "--hostname");
	bad |= rtpm_push(out, "%.63s", s->name);
	bad |= rtpm_push(out, "--label");
	bad |= rtpm_push(out, RUNTIME_PODMAN_LABEL_NODE "=%s", r->node);
	bad |= rtpm_push(out, "--label");
	bad |= rtpm_push(out, "io.kubernetes.pod.namespace=%s", s->ns);
	bad |= rtpm_push(out, "--label");
	bad |= rtpm_push(out, "io.kubernetes.pod.name=%s", s->name);
	bad |= rtpm_push(out, "--label");
	bad |= rtpm_push(out, "io.kubernetes.pod.uid=%s", s->uid);
	bad |= rtpm_push(out, "--log-driver");
	bad |= rtpm_push(out, "k8s-file");
	bad |= rtpm_push(out, "--log-opt");
	bad |= rtpm_push(out, "path=%s", r->log_path);
	if (s->working_dir[0]) {
		bad |= rtpm_push(out, "--workdir");
		bad |= rtpm_push(out, "%s", s->working_dir);
	}
	for (size_t i = 0; i < s->envc; i++) {
		bad |= rtpm_push(out, "--env");
		bad |= rtpm_push(out, "%s", s->envp[i]);
	}
	if (!r->image_default && r->n_command > 0) {
		/* --entrypoint takes a JSON array: words with spaces survive. */
		json_t *ep = json_array();
		for (size_t i = 0; ep != NULL && i < r->n_command; i++)
			json_array_append_new(ep, json_string(s->argv[i]));
		char *text = ep ? json_dumps(ep, JSON_COMPACT) : NULL;
		json_decref(ep);
		bad |= rtpm_push(out, "--entrypoint");
		bad |= text ? rtpm_push(out, "%s", text) : -1;
		free(text);
	}
	bad |= rtpm_push(out, "%s", s->image);
	for (size_t i = r->n_command; !r->image_default && i < s->argc; i++)
		bad |= rtpm_push(out, "%s", s->argv[i]);
	if (bad)
		return sluice_errf(-1, errmsg, len, "pod %s/%s: podman command line over %zu bytes",
				   s->ns, s->name, sizeof(out->buf));
	return 0;
}

int runtime_podman_state_parse(const json_t *obj, const char *network,
			       struct runtime_podman_state *out)
{
	const char *id = json_string_value(json_object_get(obj, "Id"));
	const json_t *st = json_object_get(obj, "State");
	const char *status = json_string_value(json_object_get(st, "Status"));

	memset(out, 0, sizeof(*out));
	if (id == NULL || !json_is_object(st) || status == NULL)
		return -1;
	snprintf(out->id, sizeof(out->id), "%s", id);
	snprintf(out->status, sizeof(out->status), "%s", status);
	out->running = json_is_true(json_object_get(st, "Running")) || strcmp(status, "running") == 0;
	out->exit_code = (int)json_integer_value(json_object_get(st, "ExitCode"));
	out->oom_killed = json_is_true(json_object_get(st, "OOMKilled"));
	const char *fin = json_string_value(json_object_get(st, "FinishedAt"));
	snprintf(out->finished_at, sizeof(out->finished_at), "%s", fin ? fin : "");
	const json_t *nets = json_object_get(json_object_get(obj, "NetworkSettings"), "Networks");
	const char *ip = json_string_value(json_object_get(json_object_get(nets, network), "IPAddress"));
	snprintf(out->ip, sizeof(out->ip), "%s", ip ? ip : "");
	return 0;
}

int runtime_podman_image_missing(const char *e)
{
	return e != NULL && (strstr(e, "image not known") != NULL ||
			     strstr(e, "no such image") != NULL ||
			     strstr(e, "image not found") != NULL);
}

/* ---- running podman ----------------------------------------------------- */

/* Append what fd holds now (non-blocking) to *buf; 0 at EOF, 1 if open. */
static int rtpm_drain(int fd, char **buf, size_t *n, size_t *cap)
{
	char tmp[8192];
	for (;;) {
		ssize_t r = read(fd, tmp, sizeof(tmp));
		if (r == 0)
			return 0;
		if (r < 0)
			return errno == EINTR ? 1 : (errno == EAGAIN ? 1 : 0);
		if (*n + (size_t)r + 1 > *cap && *n + (size_t)r + 1 <= RTPM_OUT_MAX) {
			size_t nc = *cap ? *cap : 16384;
			while (nc < *n + (size_t)r + 1)
				nc *= 2;
			char *nb = realloc(*buf, nc);
			if (nb == NULL)
				return 1;
			*buf = nb;
			*cap = nc;
		}
		if (*n + (size_t)r + 1 <= *cap) {
			memcpy(*buf + *n, tmp, (size_t)r);
			*n += (size_t)r;
			(*buf)[*n] = '\0';
		}
	}
}

/*
 * Run argv; wait up to timeout_ms for it to exit. Returns its exit status
 * (0..255), or -1 with errmsg (cannot start, killed at the deadline). *out
 * gets stdout (malloc'd, NUL-terminated, may be NULL when empty); errmsg
 * gets the last stderr line when the status is not 0.
 */
static int rtpm_exec(struct runtime_podman *rt, char *const argv[], unsigned timeout_ms, char **out,
		     char *errmsg, size_t len)
{
	int po[2] = {-1, -1}, pe[2] = {-1, -1};
	char *obuf = NULL, *ebuf = NULL;
	size_t on = 0, ocap = 0, en = 0, ecap = 0;
	int status = 0;

	*out = NULL;
	int nullfd = open("/dev/null", O_RDONLY | O_CLOEXEC);
	if (nullfd < 0 || pipe2(po, O_CLOEXEC | O_NONBLOCK) != 0 || pipe2(pe, O_CLOEXEC | O_NONBLOCK) != 0) {
		int e = errno;
		if (nullfd >= 0)
			close(nullfd);
		for (int i = 0; i < 2; i++) {
			if (po[i] >= 0)
				close(po[i]);
			if (pe[i] >= 0)
				close(pe[i]);
		}
		return sluice_errf(-1, errmsg, len, "%s: %s", argv[0], strerror(e));
	}
	sigset_t none;
	sigemptyset(&none);
	pid_t pid = fork();
	if (pid == 0) {
		struct sigaction dfl = {.sa_handler = SIG_DFL};
		for (int s = 1; s < 32; s++)
			(void)sigaction(s, &dfl, NULL); /* SIGPIPE was ignored by the agent */
		sigprocmask(SIG_SETMASK, &none, NULL); /* the cluster threads block all */
		if (dup2(nullfd, 0) < 0 || dup2(po[1], 1) < 0 || dup2(pe[1], 2) < 0)
			_exit(126);
		execv(argv[0], argv);
		_exit(127);
	}
	int fe = errno;
	close(nullfd);
	close(po[1]);
	close(pe[1]);
	if (pid < 0) {
		close(po[0]);
		close(pe[0]);
		return sluice_errf(-1, errmsg, len, "%s: fork: %s", argv[0], strerror(fe));
	}
	uint64_t deadline = runtime_now_ms() + timeout_ms;
	int oo = 1, eo = 1, done = 0, timed_out = 0;
	while (!done) {
		struct pollfd pf[2] = {{.fd = oo ? po[0] : -1, .events = POLLIN},
				       {.fd = eo ? pe[0] : -1, .events = POLLIN}};
		(void)poll(pf, 2, 20);
		if (oo)
			oo = rtpm_drain(po[0], &obuf, &on, &ocap);
		if (eo)
			eo = rtpm_drain(pe[0], &ebuf, &en, &ecap);
		pid_t w = waitpid(pid, &status, WNOHANG);
		if (w == pid) {
			done = 1;
		} else if (runtime_now_ms() >= deadline) {
			(void)kill(pid, SIGKILL);
			while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
				;
			done = timed_out = 1;
		}
	}
	/* Exited: what it wrote is in the pipes (descendants may keep them open). */
	if (oo)
		(void)rtpm_drain(po[0], &obuf, &on, &ocap);
	if (eo)
		(void)rtpm_drain(pe[0], &ebuf, &en, &ecap);
	close(po[0]);
	close(pe[0]);
	int code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
	if (timed_out) {
		sluice_errf(-1, errmsg, len, "%s %s: no answer in %u ms (killed)", argv[0],
			    argv[1] ? argv[1] : "", timeout_ms);
		code = -1;
	} else if (code != 0) {
		/* The last non-empty stderr line is podman's "Error: ..." */
		char *line = ebuf;
		for (char *p = ebuf; p != NULL && *p; p++)
			if (*p == '\n' && p[1] != '\0' && p[1] != '\n')
				line = p + 1;
		if (line != NULL)
			line[strcspn(line, "\n")] = '\0';
		sluice_errf(-1, errmsg, len, "%s %s: exit %d: %s", argv[0], argv[1] ? argv[1] : "", code,
			    line && *line ? line : code == 127 ? "cannot run it (not installed?)" : "no message");
	}
	free(ebuf);
	(void)rt;
	*out = obuf;
	return code;
}

/* Run a short podman command (argv without argv[0]); exit status or -1. */
static int rtpm_podman(struct runtime_podman *rt, unsigned extra_ms, char **out, char *errmsg,
		       size_t len, const char *const *args)
{
	char *argv[24];
	size_t n = 0;

	argv[n++] = rt->podman;
	for (; args[n - 1] != NULL && n < sizeof(argv) / sizeof(argv[0]) - 1; n++)
		argv[n] = (char *)(uintptr_t)args[n - 1];
	argv[n] = NULL;
	char *o = NULL;
	int rc = rtpm_exec(rt, argv, rt->p.timeout_ms + extra_ms, &o, errmsg, len);
	if (out != NULL)
		*out = o;
	else
		free(o);
	return rc;
}

/* ---- pods --------------------------------------------------------------- */

static struct rtpm_pod *rtpm_find(const struct runtime_podman *rt, const char *uid)
{
	for (size_t i = 0; i < rt->n; i++)
		if (strcmp(rt->pods[i]->spec.uid, uid) == 0)
			return rt->pods[i];
	return NULL;
}

static void rtpm_free_pod(struct rtpm_pod *pod)
{
	runtime_pod_spec_clear(&pod->spec);
	free(pod);
}

static void rtpm_rm_dir(const char *dir)
{
	DIR *d = opendir(dir);
	struct dirent *de;
	char p[1024];

	if (d != NULL) {
		while ((de = readdir(d)) != NULL) {
			if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
				continue;
			snprintf(p, sizeof(p), "%s/%s", dir, de->d_name);
			(void)unlink(p);
		}
		closedir(d);
	}
	(void)rmdir(dir);
}

/* The pod IP: the agent's allocation for our key, else podman's view. */
static void rtpm_take_ip(struct runtime_podman *rt, struct rtpm_pod *pod, const char *podman_ip)
{
	char ip[64] = "";

	if (rt->p.pod_ip != NULL && pod->key[0] && rt->p.pod_ip(rt->p.data, pod->key, ip, sizeof(ip)) == 0 &&
	    ip[0])
		snprintf(pod->st.pod_ip, sizeof(pod->st.pod_ip), "%s", ip);
	else if (podman_ip != NULL && podman_ip[0])
		snprintf(pod->st.pod_ip, sizeof(pod->st.pod_ip), "%s", podman_ip);
}

static void rtpm_set_id(struct rtpm_pod *pod, const char *out)
{
	size_t l = out ? strspn(out, "0123456789abcdef") : 0;
	if (l == 0 || l >= sizeof(pod->cid))
		return;
	memcpy(pod->cid, out, l);
	pod->cid[l] = '\0';
	sluice_attach_key(pod->cid, "eth0", pod->key);
}

static void rtpm_started(struct runtime_podman *rt, struct rtpm_pod *pod, uint64_t now)
{
	pod->started_ms = now;
	pod->st.state = RUNTIME_RUNNING;
	pod->st.started = 1;
	pod->st.reason[0] = '\0';
	pod->st.message[0] = '\0';
	runtime_now_rfc3339(pod->st.started_at, sizeof(pod->st.started_at));
	rtpm_take_ip(rt, pod, NULL);
	pod->dirty = 1;
	rtpm_logf(rt, "runtime: pod %s/%s started: container %s (%.12s), ip %s, log %s/%s.log",
		  pod->spec.ns, pod->spec.name, pod->name, pod->cid,
		  pod->st.pod_ip[0] ? pod->st.pod_ip : "unknown", pod->dir, pod->spec.container);
}

/*
 * A create or start failed with err. code is podman's exit status: 126 or
 * 127 mean the command cannot be run (the netns runtime's exit 127), which
 * the restart policy decides on; anything else (podman, CNI: say the node
 * has no pod CIDR yet) is retried with back-off whatever the policy, like
 * the kubelet's CreateContainerError.
 */
static void rtpm_start_failed(struct runtime_podman *rt, struct rtpm_pod *pod, const char *err,
			      int code, uint64_t now)
{
	int image_missing = code > 0 && runtime_podman_image_missing(err);
	int cannot_run = code == 126 || code == 127;

	pod->dirty = 1;
	if (image_missing) {
		/* Never pulled: nothing will make it appear by itself. */
		pod->st.state = RUNTIME_TERMINATED;
		pod->st.exit_code = 1;
		snprintf(pod->st.reason, sizeof(pod->st.reason), "ErrImageNeverPull");
		snprintf(pod->st.message, sizeof(pod->st.message),
			 "image \"%.100s\" is not present on the node and the podman runtime never pulls: %.60s",
			 pod->spec.image, err);
		runtime_now_rfc3339(pod->st.finished_at, sizeof(pod->st.finished_at));
	} else if (!cannot_run || runtime_should_restart(pod->spec.restart, 127)) {
		pod->st.state = RUNTIME_WAITING;
		snprintf(pod->st.reason, sizeof(pod->st.reason), "CreateContainerError");
		snprintf(pod->st.message, sizeof(pod->st.message), "%.255s", err);
		pod->st.restarts += pod->st.started ? 1u : 0u;
		pod->crashes++;
		pod->next_try_ms = now + runtime_backoff_ms(pod->crashes, rt->p.backoff_base_ms,
							    rt->p.backoff_max_ms);
	} else {
		pod->st.state = RUNTIME_TERMINATED;
		pod->st.exit_code = 127;
		snprintf(pod->st.reason, sizeof(pod->st.reason), "ContainerCannotRun");
		snprintf(pod->st.message, sizeof(pod->st.message), "%.255s", err);
		runtime_now_rfc3339(pod->st.finished_at, sizeof(pod->st.finished_at));
	}
	rtpm_logf(rt, "runtime: pod %s/%s: %s: %s", pod->spec.ns, pod->spec.name,
		  pod->st.reason, err);
}

/* podman run (first start, or the container vanished). */
static void rtpm_create(struct runtime_podman *rt, struct rtpm_pod *pod, uint64_t now)
{
	char err[512], log_path[700];
	char *out = NULL;

	/* A failed run may have left a created container under the name. */
	const char *rm[] = {"rm", "-f", "-t", "0", "--ignore", pod->name, NULL};
	(void)rtpm_podman(rt, 0, NULL, err, sizeof(err), rm);
	(void)mkdir(pod->dir, 0755);
	snprintf(log_path, sizeof(log_path), "%s/%s.log", pod->dir, pod->spec.container);
	struct runtime_podman_run r = {
		.podman = rt->podman, .name = pod->name, .network = rt->network, .node = rt->node,
		.log_path = log_path, .spec = &pod->spec, .n_command = pod->n_command,
		.image_default = pod->image_default,
	};
	if (runtime_podman_run_argv(&r, rt->av, err, sizeof(err)) != 0) {
		rtpm_start_failed(rt, pod, err, 126, now); /* will not get better */
		return;
	}
	int rc = rtpm_exec(rt, rt->av->argv, rt->p.timeout_ms, &out, err, sizeof(err));
	if (rc != 0) {
		rtpm_start_failed(rt, pod, err, rc, now);
		free(out);
		return;
	}
	rtpm_set_id(pod, out);
	free(out);
	if (pod->cid[0] == '\0') {
		rtpm_start_failed(rt, pod, "podman run printed no container id", 0, now);
		return;
	}
	rtpm_started(rt, pod, now);
}

/* podman start after a back-off (restartPolicy, applied by us). */
static void rtpm_restart(struct runtime_podman *rt, struct rtpm_pod *pod, uint64_t now)
{
	char err[512];
	const char *start[] = {"start", pod->cid, NULL};

	int rc = rtpm_podman(rt, 0, NULL, err, sizeof(err), start);
	if (rc != 0) {
		if (strstr(err, "no such container") != NULL) {
			/* Removed behind our back: the next try creates it anew. */
			if (rt->p.detach != NULL)
				rt->p.detach(rt->p.data, pod->key);
			pod->cid[0] = '\0';
			pod->key[0] = '\0';
		}
		rtpm_start_failed(rt, pod, err, rc, now);
		return;
	}
	rtpm_started(rt, pod, now);
}

/* The container of pod exited (seen by inspect). */
static void rtpm_exited(struct runtime_podman *rt, struct rtpm_pod *pod,
			const struct runtime_podman_state *s, uint64_t now)
{
	runtime_now_rfc3339(pod->st.finished_at, sizeof(pod->st.finished_at));
	pod->dirty = 1;
	uint64_t d = runtime_exited(&pod->st, pod->spec.restart, s->exit_code, s->oom_killed,
				    now - pod->started_ms, &pod->crashes, rt->p.backoff_base_ms,
				    rt->p.backoff_max_ms);
	if (d != UINT64_MAX)
		pod->next_try_ms = now + d;
	rtpm_logf(rt, "runtime: pod %s/%s: container %s exited with %d (%s)", pod->spec.ns,
		  pod->spec.name, pod->name, s->exit_code,
		  d == UINT64_MAX ? "terminated" : "will restart");
}

/* One `podman container inspect` for every created container. */
static void rtpm_inspect(struct runtime_podman *rt, uint64_t now)
{
	char err[512];
	char *out = NULL;
	size_t k = 0;

	rt->av->argc = 0;
	rt->av->used = 0;
	int bad = rtpm_push(rt->av, "%s", rt->podman) | rtpm_push(rt->av, "container") |
		  rtpm_push(rt->av, "inspect");
	for (size_t i = 0; i < rt->n; i++)
		if (rt->pods[i]->cid[0] && rt->pods[i]->st.state == RUNTIME_RUNNING) {
			bad |= rtpm_push(rt->av, "%s", rt->pods[i]->cid);
			k++;
		}
	if (k == 0 || bad)
		return;
	/* A missing container makes the exit status 125, but the others are
	 * still printed: read stdout whatever the status. */
	int rc = rtpm_exec(rt, rt->av->argv, rt->p.timeout_ms, &out, err, sizeof(err));
	json_t *arr = out ? json_loads(out, 0, NULL) : NULL;
	free(out);
	if (rc < 0 || !json_is_array(arr)) {
		rtpm_logf(rt, "runtime: podman container inspect: %s", rc < 0 ? err : "output is not a JSON array");
		json_decref(arr);
		return;
	}
	for (size_t i = 0; i < rt->n; i++) {
		struct rtpm_pod *pod = rt->pods[i];
		struct runtime_podman_state s;
		size_t j;
		json_t *v;
		int seen = 0;

		if (pod->cid[0] == '\0' || pod->st.state != RUNTIME_RUNNING)
			continue;
		json_array_foreach(arr, j, v) {
			if (runtime_podman_state_parse(v, rt->network, &s) != 0 || strcmp(s.id, pod->cid) != 0)
				continue;
			seen = 1;
			if (pod->st.pod_ip[0] == '\0' && s.ip[0]) {
				rtpm_take_ip(rt, pod, s.ip);
				pod->dirty = 1;
			}
			/* Only a finished process counts: "created", "configured",
			 * "initialized", "paused" and "stopping" are not exits. */
			if (!s.running && (strcmp(s.status, "exited") == 0 || strcmp(s.status, "stopped") == 0))
				rtpm_exited(rt, pod, &s, now);
			break;
		}
		const char *ex[] = {"container", "exists", pod->cid, NULL};
		char err2[512];
		if (!seen && rc != 0 && strstr(err, "no such") != NULL &&
		    rtpm_podman(rt, 0, NULL, err2, sizeof(err2), ex) == 1) {
			/* Removed behind our back: create it anew (a restart). */
			rtpm_logf(rt, "runtime: pod %s/%s: container %s is gone; creating it again",
				  pod->spec.ns, pod->spec.name, pod->name);
			if (rt->p.detach != NULL && pod->key[0])
				rt->p.detach(rt->p.data, pod->key);
			pod->cid[0] = '\0';
			pod->key[0] = '\0';
			pod->st.pod_ip[0] = '\0';
			struct runtime_podman_state gone = {.exit_code = 137};
			rtpm_exited(rt, pod, &gone, now);
		}
	}
	json_decref(arr);
}

static void rtpm_destroy(struct runtime_podman *rt, struct rtpm_pod *pod)
{
	char err[512], t[16];
	unsigned g = pod->spec.grace_s < rt->p.max_grace_s ? pod->spec.grace_s : rt->p.max_grace_s;

	snprintf(t, sizeof(t), "%u", g);
	const char *rm[] = {"rm", "-f", "-t", t, "--ignore", pod->name, NULL};
	if (rtpm_podman(rt, g * 1000u, NULL, err, sizeof(err), rm) != 0)
		rtpm_logf(rt, "runtime: pod %s/%s: %s", pod->spec.ns, pod->spec.name, err);
	/* rm ran CNI DEL through sluice-cni; release again in case it failed. */
	if (rt->p.detach != NULL && pod->key[0])
		rt->p.detach(rt->p.data, pod->key);
	rtpm_rm_dir(pod->dir);
	rtpm_logf(rt, "runtime: pod %s/%s removed (container %s, %s released)", pod->spec.ns,
		  pod->spec.name, pod->name, pod->st.pod_ip[0] ? pod->st.pod_ip : "no address");
}

/* Containers of this node an earlier agent left: remove them. */
static void rtpm_cleanup_stale(struct runtime_podman *rt)
{
	char err[512], filter[300];
	char *out = NULL;

	snprintf(filter, sizeof(filter), "label=" RUNTIME_PODMAN_LABEL_NODE "=%s", rt->node);
	const char *ps[] = {"ps", "-a", "-q", "--no-trunc", "--filter", filter, NULL};
	if (rtpm_podman(rt, 0, &out, err, sizeof(err), ps) != 0) {
		rtpm_logf(rt, "runtime: listing old containers: %s", err);
		free(out);
		return;
	}
	for (char *save = NULL, *id = out ? strtok_r(out, "\n", &save) : NULL; id != NULL;
	     id = strtok_r(NULL, "\n", &save)) {
		char key[SLUICE_ATTACH_KEY_SIZE];
		const char *rm[] = {"rm", "-f", "-t", "0", "--ignore", id, NULL};
		rtpm_logf(rt, "runtime: removing container %.12s left by an earlier run", id);
		if (rtpm_podman(rt, 0, NULL, err, sizeof(err), rm) != 0)
			rtpm_logf(rt, "runtime: %s", err);
		sluice_attach_key(id, "eth0", key);
		if (rt->p.detach != NULL)
			rt->p.detach(rt->p.data, key);
	}
	free(out);
	/* Their log directories. */
	DIR *d = opendir(rt->pod_dir);
	struct dirent *de;
	char dir[1100];
	while (d != NULL && (de = readdir(d)) != NULL) {
		if (strncmp(de->d_name, rt->prefix, strlen(rt->prefix)) != 0)
			continue;
		snprintf(dir, sizeof(dir), "%s/%s", rt->pod_dir, de->d_name);
		rtpm_rm_dir(dir);
	}
	if (d != NULL)
		closedir(d);
}

/* ---- public API ---------------------------------------------------------- */

int runtime_podman_find(const char *bin, char *out, size_t cap, char *errmsg, size_t len)
{
	if (bin == NULL || bin[0] == '\0')
		bin = RUNTIME_PODMAN_DEFAULT_BIN;
	if (runtime_netns_resolve(bin, getenv("PATH"), out, cap) != 0)
		return sluice_errf(-1, errmsg, len,
				   "--podman: \"%s\" is not an executable (nor found in PATH)", bin);
	return 0;
}

struct runtime_podman *runtime_podman_create(const struct runtime_podman_params *p, char *errmsg,
					     size_t len)
{
	struct runtime_podman *rt = calloc(1, sizeof(*rt));

	if (rt == NULL || (rt->av = calloc(1, sizeof(*rt->av))) == NULL) {
		free(rt);
		sluice_errf(-1, errmsg, len, "runtime: out of memory");
		return NULL;
	}
	rt->p = *p;
	if (runtime_podman_find(p->podman, rt->podman, sizeof(rt->podman), errmsg, len) != 0) {
		runtime_podman_free(rt);
		return NULL;
	}
	snprintf(rt->network, sizeof(rt->network), "%s",
		 p->network && p->network[0] ? p->network : RUNTIME_PODMAN_DEFAULT_NETWORK);
	snprintf(rt->node, sizeof(rt->node), "%s", p->node ? p->node : "");
	snprintf(rt->pod_dir, sizeof(rt->pod_dir), "%s", p->pod_dir ? p->pod_dir : RUNTIME_NETNS_DEFAULT_DIR);
	snprintf(rt->prefix, sizeof(rt->prefix), "%s",
		 p->name_prefix && p->name_prefix[0] ? p->name_prefix : RUNTIME_PODMAN_DEFAULT_PREFIX);
	snprintf(rt->host_ip, sizeof(rt->host_ip), "%s", p->host_ip ? p->host_ip : "");
	if (rt->p.max_grace_s == 0)
		rt->p.max_grace_s = 10;
	if (rt->p.timeout_ms == 0)
		rt->p.timeout_ms = RUNTIME_PODMAN_DEFAULT_TIMEOUT_MS;
	if (rt->node[0] == '\0') {
		sluice_errf(-1, errmsg, len, "runtime podman: no node name to label containers with");
		runtime_podman_free(rt);
		return NULL;
	}
	char tmp[sizeof(rt->pod_dir) + 2];
	snprintf(tmp, sizeof(tmp), "%s/", rt->pod_dir);
	for (char *s = tmp + 1; (s = strchr(s, '/')) != NULL; s++) {
		*s = '\0';
		(void)mkdir(tmp, 0755);
		*s = '/';
	}
	struct stat sb;
	if (stat(rt->pod_dir, &sb) != 0 || !S_ISDIR(sb.st_mode)) {
		sluice_errf(-1, errmsg, len, "runtime podman: cannot create pod directory %s", rt->pod_dir);
		runtime_podman_free(rt);
		return NULL;
	}
	char err[512], *out = NULL;
	const char *ver[] = {"version", "--format", "{{.Client.Version}}", NULL};
	if (rtpm_podman(rt, 0, &out, err, sizeof(err), ver) != 0) {
		sluice_errf(-1, errmsg, len, "runtime podman: %s", err);
		free(out);
		runtime_podman_free(rt);
		return NULL;
	}
	rtpm_logf(rt, "runtime: podman %.*s, network %s, containers labelled " RUNTIME_PODMAN_LABEL_NODE "=%s",
		  out ? (int)strcspn(out, "\n") : 0, out ? out : "", rt->network, rt->node);
	free(out);
	rtpm_cleanup_stale(rt);
	return rt;
}

void runtime_podman_free(struct runtime_podman *rt)
{
	if (rt == NULL)
		return;
	for (size_t i = 0; i < rt->n; i++)
		rtpm_free_pod(rt->pods[i]);
	free(rt->pods);
	free(rt->av);
	free(rt);
}

int runtime_podman_has(const struct runtime_podman *rt, const char *uid)
{
	return rtpm_find(rt, uid) != NULL;
}

int runtime_podman_sync(struct runtime_podman *rt, const json_t *podj, char *errmsg, size_t len)
{
	const char *uid = json_string_value(json_object_get(json_object_get(podj, "metadata"), "uid"));
	const json_t *ct = json_array_get(json_object_get(json_object_get(podj, "spec"), "containers"), 0);
	json_t *copy = NULL;

	if (uid != NULL && rtpm_find(rt, uid) != NULL)
		return 0;
	struct rtpm_pod *pod = calloc(1, sizeof(*pod));
	if (pod == NULL)
		return sluice_errf(-1, errmsg, len, "runtime: out of memory");
	pod->n_command = json_array_size(json_object_get(ct, "command"));
	if (json_is_object(ct) && json_array_size(json_object_get(ct, "command")) == 0 &&
	    json_array_size(json_object_get(ct, "args")) == 0) {
		/* The image's own ENTRYPOINT/CMD: runtime_pod_spec_parse wants a
		 * command, so it reads a copy with a placeholder we ignore. */
		pod->image_default = 1;
		copy = json_deep_copy(podj);
		json_t *c0 = json_array_get(json_object_get(json_object_get(copy, "spec"), "containers"), 0);
		if (c0 == NULL || json_object_set_new(c0, "command", json_pack("[s]", "-")) != 0) {
			json_decref(copy);
			free(pod);
			return sluice_errf(-1, errmsg, len, "runtime: out of memory");
		}
		pod->n_command = 0;
	}
	int rc = runtime_pod_spec_parse(copy ? copy : podj, &pod->spec, errmsg, len);
	json_decref(copy);
	if (rc != 0) {
		free(pod);
		return -1;
	}
	if (pod->spec.image[0] == '\0') {
		sluice_errf(-1, errmsg, len,
			    "pod %s/%s: spec.containers[0].image is required with the podman runtime (a local image)",
			    pod->spec.ns, pod->spec.name);
		rtpm_free_pod(pod);
		return -1;
	}
	if (rt->n == rt->cap) {
		size_t nc = rt->cap ? rt->cap * 2 : 16;
		struct rtpm_pod **np = realloc(rt->pods, nc * sizeof(*np));
		if (np == NULL) {
			rtpm_free_pod(pod);
			return sluice_errf(-1, errmsg, len, "runtime: out of memory");
		}
		rt->pods = np;
		rt->cap = nc;
	}
	runtime_netns_name(rt->prefix, pod->spec.ns, pod->spec.name, pod->spec.uid, pod->name,
			   sizeof(pod->name));
	snprintf(pod->dir, sizeof(pod->dir), "%.380s/%s", rt->pod_dir, pod->name);
	snprintf(pod->st.host_ip, sizeof(pod->st.host_ip), "%s", rt->host_ip);
	runtime_now_rfc3339(pod->st.start_time, sizeof(pod->st.start_time));
	snprintf(pod->st.reason, sizeof(pod->st.reason), "ContainerCreating");
	pod->dirty = 1;
	rt->pods[rt->n++] = pod;
	rtpm_logf(rt, "runtime: pod %s/%s (uid %s) accepted: image %s, container %s", pod->spec.ns,
		  pod->spec.name, pod->spec.uid, pod->spec.image, pod->name);
	return 0;
}

void runtime_podman_remove(struct runtime_podman *rt, const char *uid)
{
	struct rtpm_pod *pod = rtpm_find(rt, uid);

	if (pod == NULL || pod->stopping)
		return;
	pod->stopping = 1;
	rtpm_logf(rt, "runtime: stopping pod %s/%s", pod->spec.ns, pod->spec.name);
}

size_t runtime_podman_poll(struct runtime_podman *rt)
{
	uint64_t now = runtime_now_ms();
	int created = 0, any = 0;

	for (size_t i = 0; i < rt->n;) {
		struct rtpm_pod *pod = rt->pods[i];
		if (pod->stopping) {
			rtpm_destroy(rt, pod);
			rtpm_free_pod(pod);
			rt->pods[i] = rt->pods[--rt->n];
			continue;
		}
		i++;
	}
	for (size_t i = 0; i < rt->n; i++) {
		struct rtpm_pod *pod = rt->pods[i];
		any |= pod->cid[0] != '\0' && pod->st.state == RUNTIME_RUNNING;
		if (pod->st.state != RUNTIME_WAITING || now < pod->next_try_ms || created)
			continue;
		/* One container per poll: each podman call takes ~0.1-1 s. */
		created = 1;
		if (pod->cid[0])
			rtpm_restart(rt, pod, now);
		else
			rtpm_create(rt, pod, now);
	}
	if (any && now >= rt->next_inspect_ms) {
		rtpm_inspect(rt, runtime_now_ms());
		rt->next_inspect_ms = runtime_now_ms() + RTPM_INSPECT_EVERY_MS;
	}
	return rt->n;
}

void runtime_podman_report(struct runtime_podman *rt, runtime_podman_status_fn fn, void *arg)
{
	for (size_t i = 0; i < rt->n; i++) {
		struct rtpm_pod *pod = rt->pods[i];
		if (pod->dirty && !pod->stopping && fn(arg, &pod->spec, &pod->st) == 0)
			pod->dirty = 0;
	}
}

void runtime_podman_foreach_uid(const struct runtime_podman *rt,
				void (*fn)(void *arg, const char *uid), void *arg)
{
	for (size_t i = 0; i < rt->n; i++)
		fn(arg, rt->pods[i]->spec.uid);
}
