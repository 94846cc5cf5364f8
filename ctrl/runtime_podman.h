/*
 * runtime_podman: the node agent's second pod runtime (`--runtime
 * podman`). A pod is one podman container on the node's CNI network,
 * which is sluice-cni's: podman runs the plugin, the plugin asks this
 * same agent for the address over IPC and has sluice-dp take the veth,
 * exactly as for any podman container on a sluice node (docs/cni.md).
 *
 *   podman run -d --name <prefix><pod name>-<8 hex of ns/name/uid>
 *     --network <--podman-network> --pull never --hostname <pod name>
 *     --label io.sluice.node=<node> --label io.kubernetes.pod.{namespace,name,uid}=...
 *     --log-driver k8s-file --log-opt path=<pod_dir>/<name>/<container>.log
 *     [--workdir D] [--env K=V ...] [--entrypoint '<command as JSON>']
 *     IMAGE [args...]
 *
 * spec.containers[0].image is a *local* image name: no registry is ever
 * contacted (`--pull never`); a missing image fails the pod with reason
 * ErrImageNeverPull. command replaces the image's ENTRYPOINT and args its
 * CMD, as in Kubernetes; with neither the image's own are used.
 *
 * The agent, not podman, applies restartPolicy (the kubelet's way): an
 * exit seen by `podman container inspect` (one call for all pods, every
 * second) is followed, when the policy says so, by `podman start` after
 * the CrashLoopBackOff delay of runtime_common. The pod IP is the agent's
 * own allocation for the attachment key sluice_attach_key(container id,
 * "eth0") that sluice-cni used; podman's view of the network is the
 * fallback. Deleting a pod is `podman rm -f -t <grace>`, which runs CNI
 * DEL through sluice-cni; the attachment is then released once more
 * (idempotent) in case DEL did not reach the agent.
 *
 * podman (looked up in PATH once) is run with fork + execv (no shell),
 * the agent's environment
 * (CONTAINERS_CONF, CONTAINERS_STORAGE_CONF, ... pass through), stdin
 * /dev/null, a timeout (SIGKILL after it), stdout captured and the last
 * line of stderr kept for the error message. Each call blocks the calling
 * thread, so at most one container is created per poll.
 *
 * Containers carry the label io.sluice.node=<node>: runtime_podman_create()
 * removes those an earlier run left (like the netns runtime, the pods
 * still bound to the node then start afresh).
 *
 * Errors: 0 or -1 with a one-line errmsg. Threading: one thread (the
 * agent's cluster loop) owns a handle.
 */
#ifndef SLUICE_CTRL_RUNTIME_PODMAN_H
#define SLUICE_CTRL_RUNTIME_PODMAN_H

#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "runtime_common.h"

#define RUNTIME_PODMAN_DEFAULT_BIN "podman"
#define RUNTIME_PODMAN_DEFAULT_NETWORK "sluice"
#define RUNTIME_PODMAN_DEFAULT_PREFIX "sp-"
#define RUNTIME_PODMAN_DEFAULT_TIMEOUT_MS 60000u
#define RUNTIME_PODMAN_LABEL_NODE "io.sluice.node"

struct runtime_podman_params {
	const char *podman;	  /* executable, found in PATH; NULL = "podman" */
	const char *network;	  /* CNI network (sluice-cni's); NULL = "sluice" */
	const char *node;	  /* node name: label io.sluice.node of our containers */
	const char *pod_dir;	  /* logs; NULL = RUNTIME_NETNS_DEFAULT_DIR */
	const char *name_prefix;  /* container names; NULL = "sp-" */
	const char *host_ip;	  /* status.hostIP; may be "" */
	uint64_t backoff_base_ms; /* 0 = 1000 */
	uint64_t backoff_max_ms;  /* 0 = 60000 */
	unsigned max_grace_s;	  /* cap on terminationGracePeriodSeconds; 0 = 10 */
	unsigned timeout_ms;	  /* per podman call; 0 = 60000 (grace is added for rm) */
	/*
	 * The agent's address for attachment key (what sluice-cni got from
	 * cni.add). 0 with ip filled, or -1 when the agent has none. Called on
	 * the runtime's thread; may block while the agent's thread serves it.
	 */
	int (*pod_ip)(void *data, const char *key, char *ip, size_t len);
	/* Release the attachment key (idempotent: unknown keys are fine). */
	void (*detach)(void *data, const char *key);
	void (*log)(void *data, const char *line); /* NULL = stderr */
	void *data;
};

struct runtime_podman;

/* Creates pod_dir and removes the containers an earlier run left for
 * this node. NULL + errmsg (pod_dir cannot be made, node missing). */
struct runtime_podman *runtime_podman_create(const struct runtime_podman_params *p, char *errmsg,
					     size_t len);
/* Forget every pod; containers keep running (the next create removes
 * them). Accepts NULL. */
void runtime_podman_free(struct runtime_podman *rt);

/* As runtime_netns_sync(): a new uid is accepted (its container is
 * created by a later poll); a known uid is left alone. 0, or -1 with
 * errmsg naming the bad field. */
int runtime_podman_sync(struct runtime_podman *rt, const json_t *pod, char *errmsg, size_t len);
/* Remove the pod with this uid on the next poll (no-op if unknown). */
void runtime_podman_remove(struct runtime_podman *rt, const char *uid);
int runtime_podman_has(const struct runtime_podman *rt, const char *uid);
/* Create, inspect, restart and remove containers as due. Call every
 * ~100 ms; blocks for the podman calls it makes. Returns pods held. */
size_t runtime_podman_poll(struct runtime_podman *rt);

/* Same contract as runtime_netns_report(). */
typedef int (*runtime_podman_status_fn)(void *arg, const struct runtime_pod_spec *spec,
					const struct runtime_status *st);
void runtime_podman_report(struct runtime_podman *rt, runtime_podman_status_fn fn, void *arg);
void runtime_podman_foreach_uid(const struct runtime_podman *rt,
				void (*fn)(void *arg, const char *uid), void *arg);

/* The podman executable for bin (NULL = "podman"): itself with a '/',
 * else the first match in $PATH. 0, or -1 with errmsg naming the flag. */
int runtime_podman_find(const char *bin, char *out, size_t cap, char *errmsg, size_t len);

/* ---- pure parts, exposed for tests ------------------------------------ */

#define RUNTIME_PODMAN_MAX_ARGV (RUNTIME_MAX_ARGS + RUNTIME_MAX_ENV * 2 + 48)
#define RUNTIME_PODMAN_ARGV_BUF 65536

/* An argv whose strings live in buf (no allocation). */
struct runtime_podman_argv {
	size_t argc;
	char *argv[RUNTIME_PODMAN_MAX_ARGV]; /* NULL-terminated */
	char buf[RUNTIME_PODMAN_ARGV_BUF];
	size_t used;
};

/* What `podman run` needs besides the spec. */
struct runtime_podman_run {
	const char *podman;   /* argv[0] */
	const char *name;     /* container name */
	const char *network;
	const char *node;     /* label io.sluice.node */
	const char *log_path; /* k8s-file log */
	const struct runtime_pod_spec *spec;
	size_t n_command;     /* spec->argv[0..n_command) = command (--entrypoint) */
	int image_default;    /* neither command nor args: spec->argv is ignored */
};

/* Build the `podman run -d ...` argv. 0, or -1 with errmsg (too long, no
 * image). */
int runtime_podman_run_argv(const struct runtime_podman_run *r, struct runtime_podman_argv *out,
			    char *errmsg, size_t len);

/* What one `podman container inspect` entry says. */
struct runtime_podman_state {
	char id[80];
	char status[32];       /* running, exited, created, configured, stopped, ... */
	int running;
	int exit_code;
	int oom_killed;
	char finished_at[64];  /* podman's string, to tell two exits apart */
	char ip[64];	       /* NetworkSettings.Networks.<network>.IPAddress or "" */
};

/* Decode one inspect object (borrowed). 0, or -1 when Id or State is
 * missing. */
int runtime_podman_state_parse(const json_t *obj, const char *network,
			       struct runtime_podman_state *out);

/* Is this `podman run` stderr the "image not present locally" error? */
int runtime_podman_image_missing(const char *stderr_text);

#endif
