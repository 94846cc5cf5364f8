/*
 * runtime_netns: pods as network namespaces with a command inside
 * (ctrl/runtime_netns.h).
 *
 * The veth and the addresses go through sluice-cni's rtnetlink module
 * (cni-shim/cni_link.c), so the pod end looks exactly as a CNI ADD leaves
 * it: lo and eth0 up, the address, a default route on-link via the
 * gateway, and tx checksum offload off (dp does not fill L4 checksums).
 *
 * Processes are started with fork+execve from a multithreaded process, so
 * the child does only async-signal-safe work between the two (the path
 * and the environment are prepared before fork). Each container leads its
 * own session, so a stop signals the whole process group; anything that
 * left the group is still caught by the sweep over /proc/<pid>/ns/net.
 */

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <sluice/attach_key.h>
#include <sluice/errmsg.h>

#include "cni_error.h"
#include "cni_link.h"
#include "cni_result.h"
#include "runtime_netns.h"

#define RTNS_NET_RETRY_MS 2000
/* Pods set up (netns, veth, attach, addresses: ~100 ms each) per poll, so a
 * burst of pods does not hold up reaping, stops and status reports. */
#define RTNS_SETUPS_PER_POLL 2
#define RTNS_NETNS_DIR "/run/netns"
#define RTNS_DEFAULT_PATH "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

struct rtns_pod {
	struct runtime_pod_spec spec;
	struct runtime_status st;
	char key[SLUICE_ATTACH_KEY_SIZE]; /* veth host end and the agent's pod name */
	char netns[128];
	char dir[512];
	int net_ready;
	int attached;
	pid_t pid;		/* 0 = no process */
	uint64_t next_try_ms;	/* next network attempt or (re)start */
	uint64_t started_ms;	/* monotonic time of the last start */
	unsigned crashes;	/* exits since the last long run: the back-off step */
	int stopping;
	uint64_t kill_at_ms;	/* SIGKILL after this */
	int dirty;
};

struct runtime_netns {
	struct runtime_netns_params p;
	char pod_dir[512];
	char prefix[64];
	char host_ip[64];
	struct rtns_pod **pods;
	size_t n, cap;
};

/* Log through the caller's sink (runtime_common.h). */
#define rtns_logf(rt, ...) runtime_logf((rt)->p.log, (rt)->p.data, __VA_ARGS__)

/* ---- pure helpers ----------------------------------------------------- */

void runtime_netns_name(const char *prefix, const char *ns, const char *name, const char *uid,
			char *out, size_t len)
{
	uint64_t h = 0xcbf29ce484222325ull;
	const char *parts[3] = {ns, name, uid};
	char clean[33];
	size_t i = 0;

	for (int k = 0; k < 3; k++) {
		for (const char *c = parts[k]; *c; c++)
			h = (h ^ (unsigned char)*c) * 0x100000001b3ull;
		h = (h ^ '/') * 0x100000001b3ull;
	}
	for (; name[i] && i < sizeof(clean) - 1; i++) {
		char c = name[i];
		clean[i] = ((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '.' || c == '-') ? c : '-';
	}
	clean[i] = '\0';
	snprintf(out, len, "%s%s-%08llx", prefix, clean, (unsigned long long)(h & 0xffffffffull));
}

int runtime_netns_resolve(const char *argv0, const char *path, char *out, size_t len)
{
	if (argv0 == NULL || argv0[0] == '\0')
		return -1;
	if (strchr(argv0, '/') != NULL) {
		snprintf(out, len, "%s", argv0);
		return access(out, X_OK) == 0 ? 0 : -1;
	}
	for (const char *p = path ? path : RTNS_DEFAULT_PATH; *p;) {
		const char *e = strchr(p, ':');
		size_t dl = e ? (size_t)(e - p) : strlen(p);
		if (dl > 0 && (size_t)snprintf(out, len, "%.*s/%s", (int)dl, p, argv0) < len) {
			struct stat sb;
			if (stat(out, &sb) == 0 && S_ISREG(sb.st_mode) && access(out, X_OK) == 0)
				return 0;
		}
		if (e == NULL)
			break;
		p = e + 1;
	}
	return -1;
}

/* ---- namespaces --------------------------------------------------------- */

/*
 * Create /run/netns/<name> the way `ip netns add` does: the directory is
 * made a shared mount so the bind mount propagates to other mount
 * namespaces, and the namespace is created by a short-lived child
 * (unshare in this thread would strand it in the new namespace).
 */
static int rtns_netns_add(const char *name, char *errmsg, size_t len)
{
	char path[256];
	int status;

	snprintf(path, sizeof(path), RTNS_NETNS_DIR "/%s", name);
	(void)mkdir(RTNS_NETNS_DIR, 0755);
	if (mount("", RTNS_NETNS_DIR, "none", MS_SHARED | MS_REC, NULL) != 0 && errno == EINVAL) {
		(void)mount(RTNS_NETNS_DIR, RTNS_NETNS_DIR, "none", MS_BIND | MS_REC, NULL);
		(void)mount("", RTNS_NETNS_DIR, "none", MS_SHARED | MS_REC, NULL);
	}
	int fd = open(path, O_RDONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0);
	if (fd < 0)
		return sluice_errf(-1, errmsg, len, "netns %s: %s", path, strerror(errno));
	close(fd);
	pid_t pid = fork();
	if (pid < 0) {
		unlink(path);
		return sluice_errf(-1, errmsg, len, "netns %s: fork: %s", name, strerror(errno));
	}
	if (pid == 0) {
		if (unshare(CLONE_NEWNET) != 0)
			_exit(1);
		if (mount("/proc/self/ns/net", path, "none", MS_BIND, NULL) != 0)
			_exit(2);
		_exit(0);
	}
	while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
		;
	if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
		unlink(path);
		return sluice_errf(-1, errmsg, len, "netns %s: %s failed", name,
				   WIFEXITED(status) && WEXITSTATUS(status) == 1 ? "unshare" : "bind mount");
	}
	return 0;
}

/* SIGKILL every process whose network namespace is path's (ip netns pids). */
static unsigned rtns_netns_kill_all(const char *path)
{
	struct stat ns, ps;
	unsigned n = 0;
	struct dirent *de;
	char p[64];

	if (stat(path, &ns) != 0)
		return 0;
	DIR *d = opendir("/proc");
	if (d == NULL)
		return 0;
	while ((de = readdir(d)) != NULL) {
		if (de->d_name[0] < '1' || de->d_name[0] > '9')
			continue;
		snprintf(p, sizeof(p), "/proc/%.20s/ns/net", de->d_name);
		if (stat(p, &ps) == 0 && ps.st_ino == ns.st_ino && ps.st_dev == ns.st_dev) {
			pid_t pid = (pid_t)strtol(de->d_name, NULL, 10);
			if (pid > 1 && pid != getpid() && kill(pid, SIGKILL) == 0)
				n++;
		}
	}
	closedir(d);
	return n;
}

static void rtns_netns_del(const char *name)
{
	char path[256];

	snprintf(path, sizeof(path), RTNS_NETNS_DIR "/%s", name);
	(void)umount2(path, MNT_DETACH);
	(void)unlink(path);
}

static void rtns_rm_dir(const char *dir)
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

/* ---- pods ------------------------------------------------------------- */

static struct rtns_pod *rtns_find(const struct runtime_netns *rt, const char *uid)
{
	for (size_t i = 0; i < rt->n; i++)
		if (strcmp(rt->pods[i]->spec.uid, uid) == 0)
			return rt->pods[i];
	return NULL;
}

static void rtns_write_record(const struct rtns_pod *pod)
{
	char path[600], tmp[610];
	json_t *o = json_pack("{s:s,s:s,s:s,s:s,s:s}", "uid", pod->spec.uid, "namespace", pod->spec.ns,
			      "name", pod->spec.name, "key", pod->key, "netns", pod->netns);

	snprintf(path, sizeof(path), "%s/record.json", pod->dir);
	snprintf(tmp, sizeof(tmp), "%s.tmp", path);
	if (o != NULL && json_dump_file(o, tmp, JSON_COMPACT) == 0)
		(void)rename(tmp, path);
	json_decref(o);
}

/* Undo everything of a pod outside its processes: port, veth, netns. */
static void rtns_release(struct runtime_netns *rt, const char *key, const char *netns, int attached)
{
	char path[256];
	struct cni_error cerr;

	snprintf(path, sizeof(path), RTNS_NETNS_DIR "/%s", netns);
	rtns_netns_kill_all(path);
	if (attached && rt->p.detach != NULL)
		rt->p.detach(rt->p.data, key);
	memset(&cerr, 0, sizeof(cerr));
	(void)cni_link_veth_del(key, &cerr);
	rtns_netns_del(netns);
}

/* Network: netns, veth, attachment through the agent, addresses. */
static int rtns_net_setup(struct runtime_netns *rt, struct rtns_pod *pod, char *errmsg, size_t len)
{
	char nspath[256], host_mac[18], pod_mac[18], cidr[80];
	struct runtime_netns_attach at;
	struct cni_error cerr;
	struct cni_result *res;

	snprintf(nspath, sizeof(nspath), RTNS_NETNS_DIR "/%s", pod->netns);
	if (access(nspath, F_OK) == 0)
		rtns_release(rt, pod->key, pod->netns, 0); /* half-done earlier attempt */
	if (rtns_netns_add(pod->netns, errmsg, len) != 0)
		return -1;
	memset(&cerr, 0, sizeof(cerr));
	(void)cni_link_veth_del(pod->key, &cerr);
	if (cni_link_veth_add(nspath, pod->key, "eth0", 0, host_mac, pod_mac, &cerr) != CNI_OK) {
		sluice_errf(-1, errmsg, len, "veth %s: %s", pod->key, cerr.msg);
		rtns_netns_del(pod->netns);
		return -1;
	}
	memset(&at, 0, sizeof(at));
	if (rt->p.attach == NULL || rt->p.attach(rt->p.data, pod->key, pod_mac, &at, errmsg, len) != 0) {
		rtns_release(rt, pod->key, pod->netns, 0);
		return -1;
	}
	pod->attached = 1;
	res = calloc(1, sizeof(*res));
	if (res == NULL) {
		rtns_release(rt, pod->key, pod->netns, 1);
		pod->attached = 0;
		return sluice_errf(-1, errmsg, len, "out of memory");
	}
	cni_result_init(res);
	snprintf(cidr, sizeof(cidr), "%s/%u", at.ip, at.prefix_len);
	res->n_ips = 1;
	res->ips[0].family = 4;
	snprintf(res->ips[0].address, sizeof(res->ips[0].address), "%.40s/%u", at.ip, at.prefix_len);
	snprintf(res->ips[0].gateway, sizeof(res->ips[0].gateway), "%.45s", at.gateway);
	res->ips[0].iface = -1;
	res->n_routes = 1;
	snprintf(res->routes[0].dst, sizeof(res->routes[0].dst), "0.0.0.0/0");
	snprintf(res->routes[0].gw, sizeof(res->routes[0].gw), "%.45s", at.gateway);
	res->routes[0].scope = -1;
	int rc = cni_link_configure(nspath, "eth0", res, &cerr);
	free(res);
	if (rc != CNI_OK) {
		sluice_errf(-1, errmsg, len, "configure eth0 in %s: %s", pod->netns, cerr.msg);
		rtns_release(rt, pod->key, pod->netns, 1);
		pod->attached = 0;
		return -1;
	}
	snprintf(pod->st.pod_ip, sizeof(pod->st.pod_ip), "%s", at.ip);
	rtns_logf(rt, "runtime: pod %s/%s: netns %s, eth0 %s (%s), host end %s", pod->spec.ns,
		  pod->spec.name, pod->netns, cidr, pod_mac, pod->key);
	return 0;
}

/*
 * Start the container process. Everything the child needs is built here,
 * before fork: after it, only async-signal-safe calls until execve.
 */
static int rtns_spawn(struct rtns_pod *pod, char *errmsg, size_t len)
{
	char exe[1024], nspath[256], logpath[700], hostenv[300], ipenv[100], pathenv[600];
	const char *path = RTNS_DEFAULT_PATH;
	char *envp[RUNTIME_MAX_ENV + 4];
	size_t ne = 0;

	for (size_t i = 0; i < pod->spec.envc; i++)
		if (strncmp(pod->spec.envp[i], "PATH=", 5) == 0)
			path = pod->spec.envp[i] + 5;
	if (runtime_netns_resolve(pod->spec.argv[0], path, exe, sizeof(exe)) != 0)
		return sluice_errf(-1, errmsg, len, "executable \"%s\" not found in %s", pod->spec.argv[0],
				   path);
	snprintf(pathenv, sizeof(pathenv), "PATH=%s", path);
	snprintf(hostenv, sizeof(hostenv), "HOSTNAME=%s", pod->spec.name);
	snprintf(ipenv, sizeof(ipenv), "POD_IP=%s", pod->st.pod_ip);
	envp[ne++] = pathenv;
	envp[ne++] = hostenv;
	envp[ne++] = ipenv;
	for (size_t i = 0; i < pod->spec.envc; i++)
		if (strncmp(pod->spec.envp[i], "PATH=", 5) != 0)
			envp[ne++] = pod->spec.envp[i];
	envp[ne] = NULL;

	snprintf(nspath, sizeof(nspath), RTNS_NETNS_DIR "/%s", pod->netns);
	snprintf(logpath, sizeof(logpath), "%s/%s.log", pod->dir, pod->spec.container);
	int nsfd = open(nspath, O_RDONLY | O_CLOEXEC);
	int logfd = open(logpath, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
	int nullfd = open("/dev/null", O_RDONLY | O_CLOEXEC);
	if (nsfd < 0 || logfd < 0 || nullfd < 0) {
		int e = errno;
		if (nsfd >= 0)
			close(nsfd);
		if (logfd >= 0)
			close(logfd);
		if (nullfd >= 0)
			close(nullfd);
		return sluice_errf(-1, errmsg, len, "open %s or %s: %s", nspath, logpath, strerror(e));
	}
	const char *wd = pod->spec.working_dir[0] ? pod->spec.working_dir : "/";
	sigset_t none;
	sigemptyset(&none);
	pid_t pid = fork();
	if (pid == 0) {
		struct sigaction dfl = {.sa_handler = SIG_DFL};
		for (int s = 1; s < 32; s++)
			(void)sigaction(s, &dfl, NULL); /* SIGPIPE was ignored by the agent */
		sigprocmask(SIG_SETMASK, &none, NULL);
		if (setsid() < 0 || setns(nsfd, CLONE_NEWNET) != 0 || dup2(nullfd, 0) < 0 ||
		    dup2(logfd, 1) < 0 || dup2(logfd, 2) < 0 || chdir(wd) != 0)
			_exit(126);
		close_range(3, ~0u, 0);
		execve(exe, pod->spec.argv, envp);
		_exit(127);
	}
	int e = errno;
	close(nsfd);
	close(logfd);
	close(nullfd);
	if (pid < 0)
		return sluice_errf(-1, errmsg, len, "fork: %s", strerror(e));
	pod->pid = pid;
	return 0;
}

static void rtns_free_pod(struct rtns_pod *pod)
{
	runtime_pod_spec_clear(&pod->spec);
	free(pod);
}

/* ---- stale records from an earlier run -------------------------------- */

static void rtns_cleanup_stale(struct runtime_netns *rt)
{
	DIR *d = opendir(rt->pod_dir);
	struct dirent *de;
	char path[1100], dir[1024];

	if (d == NULL)
		return;
	while ((de = readdir(d)) != NULL) {
		if (strncmp(de->d_name, rt->prefix, strlen(rt->prefix)) != 0)
			continue;
		snprintf(dir, sizeof(dir), "%s/%s", rt->pod_dir, de->d_name);
		snprintf(path, sizeof(path), "%.1000s/record.json", dir);
		json_t *rec = json_load_file(path, 0, NULL);
		const char *key = NULL, *netns = NULL, *name = NULL;
		if (rec != NULL && json_unpack(rec, "{s:s,s:s,s:s}", "key", &key, "netns", &netns,
					       "name", &name) == 0 &&
		    strlen(key) < SLUICE_ATTACH_KEY_SIZE && strcmp(netns, de->d_name) == 0) {
			rtns_logf(rt, "runtime: cleaning up pod %s left by an earlier run (netns %s)", name,
				  netns);
			rtns_release(rt, key, netns, 1);
		}
		json_decref(rec);
		rtns_rm_dir(dir);
	}
	closedir(d);
}

/* ---- public API -------------------------------------------------------- */

struct runtime_netns *runtime_netns_create(const struct runtime_netns_params *p, char *errmsg,
					   size_t len)
{
	struct runtime_netns *rt = calloc(1, sizeof(*rt));

	if (rt == NULL) {
		sluice_errf(-1, errmsg, len, "runtime: out of memory");
		return NULL;
	}
	rt->p = *p;
	snprintf(rt->pod_dir, sizeof(rt->pod_dir), "%s", p->pod_dir ? p->pod_dir : RUNTIME_NETNS_DEFAULT_DIR);
	snprintf(rt->prefix, sizeof(rt->prefix), "%s",
		 p->netns_prefix ? p->netns_prefix : RUNTIME_NETNS_DEFAULT_PREFIX);
	snprintf(rt->host_ip, sizeof(rt->host_ip), "%s", p->host_ip ? p->host_ip : "");
	rt->p.pod_dir = rt->pod_dir;
	rt->p.netns_prefix = rt->prefix;
	rt->p.host_ip = rt->host_ip;
	if (rt->p.max_grace_s == 0)
		rt->p.max_grace_s = 10;
	char tmp[sizeof(rt->pod_dir) + 2];
	snprintf(tmp, sizeof(tmp), "%s/", rt->pod_dir);
	for (char *s = tmp + 1; (s = strchr(s, '/')) != NULL; s++) {
		*s = '\0';
		(void)mkdir(tmp, 0755);
		*s = '/';
	}
	struct stat sb;
	if (stat(rt->pod_dir, &sb) != 0 || !S_ISDIR(sb.st_mode)) {
		sluice_errf(-1, errmsg, len, "runtime: cannot create pod directory %s", rt->pod_dir);
		free(rt);
		return NULL;
	}
	/* Orphans of our pods (daemonising commands) are reparented to us. */
	(void)prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0);
	rtns_cleanup_stale(rt);
	return rt;
}

void runtime_netns_free(struct runtime_netns *rt)
{
	if (rt == NULL)
		return;
	for (size_t i = 0; i < rt->n; i++)
		rtns_free_pod(rt->pods[i]);
	free(rt->pods);
	free(rt);
}

int runtime_netns_has(const struct runtime_netns *rt, const char *uid)
{
	return rtns_find(rt, uid) != NULL;
}

int runtime_netns_sync(struct runtime_netns *rt, const json_t *podj, char *errmsg, size_t len)
{
	const char *uid = json_string_value(json_object_get(json_object_get(podj, "metadata"), "uid"));

	if (uid != NULL && rtns_find(rt, uid) != NULL)
		return 0;
	struct rtns_pod *pod = calloc(1, sizeof(*pod));
	if (pod == NULL)
		return sluice_errf(-1, errmsg, len, "runtime: out of memory");
	if (runtime_pod_spec_parse(podj, &pod->spec, errmsg, len) != 0) {
		free(pod);
		return -1;
	}
	if (rt->n == rt->cap) {
		size_t nc = rt->cap ? rt->cap * 2 : 16;
		struct rtns_pod **np = realloc(rt->pods, nc * sizeof(*np));
		if (np == NULL) {
			rtns_free_pod(pod);
			return sluice_errf(-1, errmsg, len, "runtime: out of memory");
		}
		rt->pods = np;
		rt->cap = nc;
	}
	sluice_attach_key(pod->spec.uid, "eth0", pod->key);
	runtime_netns_name(rt->prefix, pod->spec.ns, pod->spec.name, pod->spec.uid, pod->netns,
			   sizeof(pod->netns));
	snprintf(pod->dir, sizeof(pod->dir), "%.380s/%s", rt->pod_dir, pod->netns);
	(void)mkdir(pod->dir, 0755);
	snprintf(pod->st.host_ip, sizeof(pod->st.host_ip), "%s", rt->host_ip);
	runtime_now_rfc3339(pod->st.start_time, sizeof(pod->st.start_time));
	snprintf(pod->st.reason, sizeof(pod->st.reason), "ContainerCreating");
	pod->dirty = 1;
	rtns_write_record(pod);
	rt->pods[rt->n++] = pod;
	rtns_logf(rt, "runtime: pod %s/%s (uid %s) accepted: %s", pod->spec.ns, pod->spec.name,
		  pod->spec.uid, pod->spec.argv[0]);
	return 0;
}

void runtime_netns_remove(struct runtime_netns *rt, const char *uid)
{
	struct rtns_pod *pod = rtns_find(rt, uid);

	if (pod == NULL || pod->stopping)
		return;
	pod->stopping = 1;
	unsigned g = pod->spec.grace_s < rt->p.max_grace_s ? pod->spec.grace_s : rt->p.max_grace_s;
	pod->kill_at_ms = runtime_now_ms() + (uint64_t)g * 1000u;
	if (pod->pid > 0)
		(void)kill(-pod->pid, SIGTERM);
	rtns_logf(rt, "runtime: stopping pod %s/%s (grace %u s)", pod->spec.ns, pod->spec.name, g);
}

/* The process of pod exited with wait status ws. */
static void rtns_exited(struct runtime_netns *rt, struct rtns_pod *pod, int ws, uint64_t now)
{
	int code = WIFEXITED(ws) ? WEXITSTATUS(ws) : 128 + WTERMSIG(ws);

	pod->pid = 0;
	pod->st.exit_code = code;
	runtime_now_rfc3339(pod->st.finished_at, sizeof(pod->st.finished_at));
	pod->dirty = 1;
	if (pod->stopping)
		return;
	uint64_t d = runtime_exited(&pod->st, pod->spec.restart, code, 0, now - pod->started_ms,
				    &pod->crashes, rt->p.backoff_base_ms, rt->p.backoff_max_ms);
	if (d != UINT64_MAX)
		pod->next_try_ms = now + d;
	rtns_logf(rt, "runtime: pod %s/%s exited with %d (%s)", pod->spec.ns, pod->spec.name, code,
		  pod->st.state == RUNTIME_TERMINATED ? "terminated" : "will restart");
}

size_t runtime_netns_poll(struct runtime_netns *rt)
{
	uint64_t now = runtime_now_ms();
	char err[512];
	unsigned setups = 0;
	int ws;
	pid_t pid;

	while ((pid = waitpid(-1, &ws, WNOHANG)) > 0) {
		for (size_t i = 0; i < rt->n; i++)
			if (rt->pods[i]->pid == pid)
				rtns_exited(rt, rt->pods[i], ws, now);
	}
	for (size_t i = 0; i < rt->n;) {
		struct rtns_pod *pod = rt->pods[i];
		if (pod->stopping) {
			if (pod->pid > 0 && now < pod->kill_at_ms) {
				i++;
				continue;
			}
			if (pod->pid > 0)
				(void)kill(-pod->pid, SIGKILL);
			rtns_release(rt, pod->key, pod->netns, pod->attached);
			rtns_rm_dir(pod->dir);
			rtns_logf(rt, "runtime: pod %s/%s removed (netns %s deleted, %s released)",
				  pod->spec.ns, pod->spec.name, pod->netns,
				  pod->st.pod_ip[0] ? pod->st.pod_ip : "no address");
			/* A process killed just now is reaped by a later waitpid(-1). */
			rtns_free_pod(pod);
			rt->pods[i] = rt->pods[--rt->n];
			continue;
		}
		if (!pod->net_ready && now >= pod->next_try_ms && setups++ < RTNS_SETUPS_PER_POLL) {
			if (rtns_net_setup(rt, pod, err, sizeof(err)) == 0) {
				pod->net_ready = 1;
				pod->st.message[0] = '\0';
			} else {
				pod->next_try_ms = now + RTNS_NET_RETRY_MS;
				if (strcmp(pod->st.message, err) != 0) {
					snprintf(pod->st.reason, sizeof(pod->st.reason), "NetworkNotReady");
					snprintf(pod->st.message, sizeof(pod->st.message), "%.255s", err);
					pod->dirty = 1;
					rtns_logf(rt, "runtime: pod %s/%s: network not ready: %s", pod->spec.ns,
						  pod->spec.name, err);
				}
			}
		}
		if (pod->net_ready && pod->pid == 0 && pod->st.state == RUNTIME_WAITING &&
		    now >= pod->next_try_ms) {
			if (rtns_spawn(pod, err, sizeof(err)) == 0) {
				pod->started_ms = now;
				pod->st.state = RUNTIME_RUNNING;
				pod->st.started = 1;
				pod->st.reason[0] = '\0';
				pod->st.message[0] = '\0';
				runtime_now_rfc3339(pod->st.started_at, sizeof(pod->st.started_at));
				rtns_logf(rt, "runtime: pod %s/%s started: pid %d, log %s/%s.log", pod->spec.ns,
					  pod->spec.name, (int)pod->pid, pod->dir, pod->spec.container);
			} else if (runtime_should_restart(pod->spec.restart, 127)) {
				snprintf(pod->st.reason, sizeof(pod->st.reason), "CreateContainerError");
				snprintf(pod->st.message, sizeof(pod->st.message), "%.255s", err);
				pod->st.restarts++;
				pod->crashes++;
				pod->next_try_ms = now + runtime_backoff_ms(pod->crashes, rt->p.backoff_base_ms,
									    rt->p.backoff_max_ms);
			} else {
				pod->st.state = RUNTIME_TERMINATED;
				pod->st.exit_code = 127;
				snprintf(pod->st.reason, sizeof(pod->st.reason), "ContainerCannotRun");
				snprintf(pod->st.message, sizeof(pod->st.message), "%.255s", err);
			}
			pod->dirty = 1;
		}
		i++;
	}
	return rt->n;
}

void runtime_netns_report(struct runtime_netns *rt, runtime_netns_status_fn fn, void *arg)
{
	for (size_t i = 0; i < rt->n; i++) {
		struct rtns_pod *pod = rt->pods[i];
		if (pod->dirty && !pod->stopping && fn(arg, &pod->spec, &pod->st) == 0)
			pod->dirty = 0;
	}
}

void runtime_netns_foreach_uid(const struct runtime_netns *rt,
			       void (*fn)(void *arg, const char *uid), void *arg)
{
	for (size_t i = 0; i < rt->n; i++)
		fn(arg, rt->pods[i]->spec.uid);
}
