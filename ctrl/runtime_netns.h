/*
 * runtime_netns: the built-in pod runtime of the node agent. A pod is a
 * network namespace (/run/netns/<name>, visible to `ip netns`), a veth
 * whose host end sluice-dp takes with AF_XDP through the agent (the same
 * attachment sluice-cni makes: the host end is named by the attachment
 * key and the agent hands out the address), and the pod's command run
 * inside the namespace in its own process group, its stdout and stderr
 * appended to <pod_dir>/<netns>/<container>.log.
 *
 * The runtime owns its pods' processes: it reaps them (the agent becomes a
 * child subreaper so daemonising commands are reaped too), restarts them
 * by restartPolicy with CrashLoopBackOff-style back-off, and on removal
 * sends SIGTERM to the process group, SIGKILL to every process left in the
 * namespace after the grace period, then detaches the port, deletes the
 * namespace and releases the address. Nothing here blocks for longer than
 * one netlink exchange: stops progress in runtime_netns_poll().
 *
 * A record per pod (<pod_dir>/<netns>/record.json) lets a restarted agent
 * find what an earlier run left behind; runtime_netns_create() tears those
 * down (processes, veth, namespace, attachment), and the pods still bound
 * to the node are then started afresh.
 *
 * The agent must run in the host's mount namespace (e.g. entered into its
 * node netns with `nsenter --net=...`, not `ip netns exec`, which gives it
 * a private mount namespace where the pods' /run/netns entries would be
 * invisible to everyone else).
 *
 * Errors: 0 or -1 with a one-line errmsg. Threading: one thread (the
 * agent's cluster loop) owns a handle; setns(2) only ever moves that
 * thread, and it moves back before returning.
 */
#ifndef SLUICE_CTRL_RUNTIME_NETNS_H
#define SLUICE_CTRL_RUNTIME_NETNS_H

#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "runtime_common.h"

#define RUNTIME_NETNS_DEFAULT_PREFIX "sp-"
#define RUNTIME_NETNS_DEFAULT_DIR "/var/log/sluice/pods"

/* What the agent answered for an attachment. */
struct runtime_netns_attach {
	char ip[64];	  /* pod address, no prefix */
	unsigned prefix_len;
	char gateway[64];
};

struct runtime_netns_params {
	const char *pod_dir;	  /* NULL = RUNTIME_NETNS_DEFAULT_DIR */
	const char *netns_prefix; /* NULL = RUNTIME_NETNS_DEFAULT_PREFIX */
	const char *host_ip;	  /* status.hostIP; may be "" */
	uint64_t backoff_base_ms; /* 0 = 1000 */
	uint64_t backoff_max_ms;  /* 0 = 60000 */
	unsigned max_grace_s;	  /* cap on terminationGracePeriodSeconds; 0 = 10 */
	/*
	 * Give the veth host end named key (already in the agent's netns) and
	 * the pod's MAC to sluice-dp through the agent, which allocates the
	 * address. 0, or -1 with errmsg (e.g. no pod CIDR yet). Called on the
	 * runtime's thread; may block while the agent's thread serves it.
	 */
	int (*attach)(void *data, const char *key, const char *pod_mac,
		      struct runtime_netns_attach *out, char *errmsg, size_t len);
	/* Undo attach (idempotent: unknown keys are fine). */
	void (*detach)(void *data, const char *key);
	void (*log)(void *data, const char *line); /* NULL = stderr */
	void *data;
};

struct runtime_netns;

/* Creates pod_dir and tears down what an earlier run left. NULL + errmsg. */
struct runtime_netns *runtime_netns_create(const struct runtime_netns_params *p, char *errmsg,
					   size_t len);
/* Forget every pod without stopping it (the agent exiting leaves pods
 * running, like a kubelet; the next run cleans them up). Accepts NULL. */
void runtime_netns_free(struct runtime_netns *rt);

/*
 * Make sure the pod (a Pod object bound to this node, borrowed) runs: a
 * new uid is set up (network now if possible, process on the next poll).
 * A known uid is left as it is: a pod's spec is immutable. A uid being
 * stopped is not restarted. 0, or -1 with errmsg naming the bad field.
 */
int runtime_netns_sync(struct runtime_netns *rt, const json_t *pod, char *errmsg, size_t len);

/* Start stopping the pod with this uid (no-op if unknown). */
void runtime_netns_remove(struct runtime_netns *rt, const char *uid);

/* Is this uid known (running, waiting, or being stopped)? */
int runtime_netns_has(const struct runtime_netns *rt, const char *uid);

/*
 * Reap exited processes, start or restart what is due, retry network set
 * up, and progress stops. Call every ~100 ms. Returns the number of pods
 * still held (stopping included).
 */
size_t runtime_netns_poll(struct runtime_netns *rt);

/*
 * Visit every pod whose status changed since it was last reported
 * successfully; fn returns 0 when it reported it (the change is then
 * cleared) or nonzero to be called again next time.
 */
typedef int (*runtime_netns_status_fn)(void *arg, const struct runtime_pod_spec *spec,
				       const struct runtime_status *st);
void runtime_netns_report(struct runtime_netns *rt, runtime_netns_status_fn fn, void *arg);

/* Visit every pod's uid (for garbage collection against a fresh list). */
void runtime_netns_foreach_uid(const struct runtime_netns *rt,
			       void (*fn)(void *arg, const char *uid), void *arg);

/* Pure: the netns name of a pod: prefix + name (<= 32) + "-" + 8 hex of
 * FNV-1a(ns/name/uid); characters outside [a-z0-9.-] become '-'. */
void runtime_netns_name(const char *prefix, const char *ns, const char *name, const char *uid,
			char *out, size_t len);

/* Pure: the executable for argv0: itself if it has a '/', else the first
 * executable match in path (a PATH string). 0 or -1 (not found). */
int runtime_netns_resolve(const char *argv0, const char *path, char *out, size_t len);

#endif
