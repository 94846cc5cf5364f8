/*
 * agent_cni: the cni.* requests of sluice-cni (cni-shim/AGENT-PROTOCOL.md)
 * as thin front ends over the agent's port and pod operations, plus the
 * node's address management: pod IPs are handed out from the node's pod
 * CIDR, first free address, idempotently per attachment key (the key is
 * both the dp port name and the pod name, so the desired state itself is
 * the allocation table and survives restarts with it).
 *
 * IPv4 only, like the dataplane. Threading: the agent's thread.
 */
#ifndef SLUICE_CTRL_AGENT_CNI_H
#define SLUICE_CTRL_AGENT_CNI_H

#include <jansson.h>

struct agent;

struct agent_cni_config {
	char pod_cidr[64];	/* "10.77.1.0/24"; empty = cni.add refused */
	char gateway[64];	/* "10.77.1.1" */
	char dns[256];		/* comma-separated nameservers, may be empty */
};

/*
 * Handle one cni.* request (req is the parsed object, borrowed). Returns a
 * new reply object ({"v":1,"ok":...}), NULL only when out of memory.
 */
json_t *agent_cni_handle(struct agent *a, const struct agent_cni_config *cfg, json_t *req);

/*
 * The agent's share of pending-release recovery (AGENT-PROTOCOL.md
 * "Pending cleanup"): every complete record <state_dir>/pending/<16 hex>.json
 * is applied as a cni.del and unlinked; a torn or foreign record is
 * unlinked without action. Returns the number of releases applied.
 */
unsigned agent_cni_pending(struct agent *a, const char *state_dir);

#endif
