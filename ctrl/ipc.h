/*
 * ipc: the node agent's local request socket (nanomsg REQ/REP, JSON).
 *
 * sluice-cni and the sluice CLI send one JSON object per request and get
 * one JSON object back; docs/agent-ipc.md lists the operations. The
 * dispatcher (ipc_handle) is separate from the socket so tests and the
 * fuzzer drive it without a socket, and so the CLI and CNI front ends stay
 * thin over the agent's functions (STYLE 19).
 *
 * Errors: enum agent_err in replies; constructors NULL with errmsg.
 * Threading: the agent's thread.
 */
#ifndef SLUICE_CTRL_IPC_H
#define SLUICE_CTRL_IPC_H

#include <stddef.h>

#define IPC_DEFAULT_URL "ipc:///run/sluice/agent.ipc"
#define IPC_MAX_REQUEST (4u << 20)

struct agent;
struct agent_cni_config;
struct ipc;

struct ipc_params {
	const char *url;	/* NULL = IPC_DEFAULT_URL */
	struct agent *agent;	/* borrowed */
	const struct agent_cni_config *cni; /* borrowed; NULL = cni.add not ready */
};

struct ipc *ipc_create(const struct ipc_params *params, char *errmsg, size_t len);
void ipc_free(struct ipc *ipc);

/* File descriptor that polls readable when a request waits. */
int ipc_fd(const struct ipc *ipc);

/* Serve every waiting request without blocking; returns how many. */
unsigned ipc_serve(struct ipc *ipc);

/*
 * Handle one request: req is untrusted bytes (need not be NUL-terminated).
 * "cni.*" operations go to agent_cni (cni-shim/AGENT-PROTOCOL.md) with cni.
 * Returns a malloc'ed NUL-terminated JSON reply (caller frees), NULL only
 * when out of memory.
 */
char *ipc_handle(struct agent *a, const struct agent_cni_config *cni, const char *req,
		 size_t len);

#endif
