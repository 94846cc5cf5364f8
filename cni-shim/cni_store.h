/*
 * cni_store: sluice-cni's local state under stateDir.
 *
 * Two kinds of small JSON records, one file each, written atomically
 * (write a temp file, fsync, rename) because many plugin processes run at
 * once and any of them may be killed mid-write:
 *
 *   stateDir/att/<key>.json      one per live attachment: what ADD did
 *                                (host veth, socket, device-info file, the
 *                                result). DEL, CHECK and GC read it, so they
 *                                work without prevResult (SPEC.md 1.1.0
 *                                "DEL": prevResult may be absent) and a
 *                                second ADD for the same tuple is detected.
 *   stateDir/pending/<key>.json  a release the agent has not confirmed (it
 *                                was down or died mid-request). The agent
 *                                replays these at start (AGENT-PROTOCOL.md
 *                                "Pending cleanup"); the plugin also flushes
 *                                them on its next call that reaches the agent.
 *
 * <key> is 16 hex digits of FNV-1a 64 over (network, container id, ifname).
 * Records are re-validated on read: the directory is ours, but a torn or
 * foreign file must not crash DEL.
 *
 * Threads and memory: any thread; concurrent plugin processes are safe
 * because every write is a rename of a whole file. Strings passed in are
 * borrowed; records read are copied into caller-owned structs.
 */
#ifndef SLUICE_CNI_STORE_H
#define SLUICE_CNI_STORE_H

#include <stdbool.h>
#include <stddef.h>

#include "cni_agent.h"
#include "cni_config.h"
#include "cni_error.h"
#include "cni_result.h"

struct cni_store_att {
	char network[256];
	char container_id[256];
	char ifname[16];
	char netns[1024];
	enum cni_mode mode;
	char host_ifname[16];
	char socket_path[108];
	char devinfo_path[1024];
	struct cni_result result;   /* what ADD returned (this plugin's part only) */
};

/* View an attachment record as the agent protocol's attachment (borrows a). */
void cni_store_to_agent(const struct cni_store_att *a, struct cni_agent_attachment *out);

/* Write (replace) the attachment record. CNI_ERR_IO on failure. */
enum cni_err cni_store_put(const char *state_dir, const struct cni_store_att *a,
			   struct cni_error *err);

/*
 * Read the record of (network, container_id, ifname) into *a.
 * CNI_ERR_UNKNOWN_CONTAINER if there is none, CNI_ERR_DECODE if it is torn.
 */
enum cni_err cni_store_get(const char *state_dir, const char *network, const char *container_id,
			   const char *ifname, struct cni_store_att *a, struct cni_error *err);

/* Remove the record; absent is fine. */
void cni_store_del(const char *state_dir, const char *network, const char *container_id,
		   const char *ifname);

/*
 * Call fn for every readable attachment record of network (others and torn
 * files are skipped). Returns the number visited.
 */
unsigned cni_store_foreach(const char *state_dir, const char *network,
			   void (*fn)(const struct cni_store_att *a, void *data), void *data);

/* Record a release the agent must still perform. CNI_ERR_IO on failure. */
enum cni_err cni_store_pending_add(const char *state_dir, const struct cni_agent_attachment *a,
				   struct cni_error *err);

/*
 * Replay up to max pending releases through agent (cni.del), removing each
 * record the agent confirmed. Stops at the first transport failure.
 * Returns how many were confirmed.
 */
unsigned cni_store_pending_flush(const char *state_dir, struct cni_agent *agent, unsigned max);

/*
 * Helpers shared with cni_devinfo: create dir and its parents (mode 0755);
 * write text to path atomically (temp + fsync + rename, mode 0644).
 * Return 0 or -errno.
 */
int cni_store_mkdirs(const char *dir);
int cni_store_write_file(const char *path, const char *text);

/*
 * Before a new ADD of (network, container_id, ifname): if a release of that
 * same tuple is still pending, perform it now through agent and drop the
 * record, so a later replay can never release the new attachment. Returns
 * CNI_OK (nothing pending, or released) or the agent's error (the record
 * stays and ADD must fail).
 */
enum cni_err cni_store_pending_settle(const char *state_dir, struct cni_agent *agent,
				      const char *network, const char *container_id,
				      const char *ifname, struct cni_error *err);

/* Number of pending records (for tests and STATUS details). */
unsigned cni_store_pending_count(const char *state_dir);

#endif
