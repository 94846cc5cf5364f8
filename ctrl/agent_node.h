/*
 * agent_node: the node agent's cluster side. It registers this node's
 * Node with the masters (capacity, allocatable, labels, taints, underlay
 * address), renews its Lease (sluice-node-lease/<node>), waits for the
 * pod CIDR the masters assign (spec.podCIDR) and hands it to the agent's
 * address management, runs the pods bound to the node through a runtime
 * (ctrl/runtime_netns.h or ctrl/runtime_podman.h) and reports their status, and keeps a route in
 * sluice-dp to every other node's pod CIDR via that node's underlay
 * address.
 *
 * Threads. The cluster loop runs in its own thread with its own apic
 * handle, plus one thread per watch (pods bound here, all Nodes), each
 * with its own handle, because apic_watch() blocks for the life of a
 * stream; watch events reach the loop through a mutex-protected queue.
 * The Lease is renewed by a fourth thread, so that a burst of pod set-ups
 * in the loop never delays the node's heartbeat.
 * The agent core (ctrl/agent.c) is single-threaded and owned by the
 * worker's poll loop, so every change to it (attach a pod, set the pod
 * CIDR, add a route) is a *call* the cluster loop queues and waits for:
 * the queue is mutex-protected, an eventfd wakes the poll loop, which runs
 * the calls between two IPC requests (agent_node_serve) and signals each
 * caller's condition variable. That keeps the agent free of locks and the
 * order of changes identical to a single thread's, at the price of one
 * poll-loop turn (<= 10 ms) per change, which is nothing next to the
 * fsync each change costs anyway.
 *
 * Errors: agent_node_start() returns NULL with errmsg. Threading: start,
 * fd, serve and stop are called from the worker's poll-loop thread.
 */
#ifndef SLUICE_CTRL_AGENT_NODE_H
#define SLUICE_CTRL_AGENT_NODE_H

#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

struct agent;
struct agent_cni_config;

#define AGENT_NODE_LEASE_NS "sluice-node-lease"
#define AGENT_NODE_DEFAULT_LEASE_S 40
#define AGENT_NODE_DEFAULT_MAX_PODS 110

struct agent_node_params {
	const char *api_config;	  /* apic config file (docs/api.md clients) */
	const char *node_name;	  /* DNS-1123 subdomain */
	const char *node_ip;	  /* underlay IPv4: status.addresses InternalIP */
	const char *labels;	  /* "k=v,k2=v2" or NULL */
	const char *taints;	  /* "k=v:NoSchedule,k2:NoExecute" or NULL */
	unsigned lease_seconds;	  /* spec.leaseDurationSeconds; 0 = 40; renewed every quarter */
	const char *runtime;	  /* "netns" or "podman" (NULL = netns) */
	const char *podman_bin;	  /* podman runtime: the executable; NULL = "podman" */
	const char *podman_network; /* podman runtime: sluice-cni's network; NULL = "sluice" */
	const char *pod_dir;	  /* runtime logs and records; NULL = default */
	const char *netns_prefix; /* pod netns names; NULL = default */
	const char *gateway;	  /* pod gateway; NULL/"" = first address of podCIDR */
	int no_routes;		  /* 1: no routes to the other nodes (single node) */
	const char *encap;	  /* routes: "none" (direct on the underlay) or "vxlan" */
	uint32_t vni;		  /* with vxlan; 0 = dp's configured cluster VNI */
	unsigned max_pods;	  /* capacity.pods; 0 = 110 */
	uint64_t backoff_base_ms; /* restart back-off; 0 = 1000 */
	const char *sysroot;	  /* prefix for /proc and /sys (tests); NULL = "" */
	void (*log)(void *data, const char *line);
	void *log_data;
};

struct agent_node;

/* Validate params, load the API config and start the threads. */
struct agent_node *agent_node_start(const struct agent_node_params *p, char *errmsg, size_t len);

/* Readable when calls for the agent's thread are queued. */
int agent_node_fd(const struct agent_node *n);

/* Run every queued call against the agent (poll-loop thread only). */
void agent_node_serve(struct agent_node *n, struct agent *a, struct agent_cni_config *cfg);

/*
 * Run req (an IPC request, stolen) on the agent's thread through the
 * queued-call hand-off and wait for it; the reply (owned by the caller),
 * or NULL when the node is stopping. node is a struct agent_node *. Any
 * thread but the poll loop's (ctrl/agent_svc.c uses it).
 */
json_t *agent_node_ipc(void *node, json_t *req);

/* Stop and join the threads; queued and later calls fail. Accepts NULL.
 * Pods keep running (like a kubelet's); the next start cleans up. */
void agent_node_stop(struct agent_node *n);

/* ---- pure helpers, exposed for tests --------------------------------- */

struct agent_node_capacity {
	unsigned cpus;
	uint64_t mem_kib;	  /* MemTotal */
	uint64_t huge_2m;	  /* pages of 2 MiB */
	uint64_t huge_1g;	  /* pages of 1 GiB */
};

/* MemTotal in kB from /proc/meminfo text; 0 or -1 if absent. */
int agent_node_meminfo_total(const char *text, uint64_t *kib);

/*
 * Read capacity under root ("" = the real /proc and /sys): MemTotal,
 * nr_hugepages of hugepages-2048kB and -1048576kB (missing = 0), and
 * cpus (online CPUs, or root/sys/devices/system/cpu/online if root).
 * 0, or -1 with errmsg naming the file.
 */
int agent_node_capacity_read(const char *root, struct agent_node_capacity *c, char *errmsg,
			     size_t len);

/* capacity and allocatable objects (allocatable memory excludes the
 * hugepages, which are accounted as their own resources). */
json_t *agent_node_capacity_json(const struct agent_node_capacity *c, unsigned max_pods,
				 int allocatable);

/* "k=v,k2=v2" -> {"k":"v",...}; NULL with errmsg on a malformed entry. */
json_t *agent_node_labels_parse(const char *s, char *errmsg, size_t len);
/* "k=v:Effect,k2:Effect" -> [{"key","value"?,"effect"}]; NULL with errmsg. */
json_t *agent_node_taints_parse(const char *s, char *errmsg, size_t len);

/* First host address of cidr ("10.244.1.0/24" -> "10.244.1.1"). 0 or -1. */
int agent_node_first_host(const char *cidr, char *out, size_t len);

/* A node's InternalIP from a Node object, NULL if none. */
const char *agent_node_internal_ip(const json_t *node);

/* Stable nonzero route id of a node name (FNV-1a, never 0). */
uint32_t agent_node_id(const char *name);

#endif
