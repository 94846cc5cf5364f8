/*
 * agent: the node agent's desired state (ports, pods, routes) and its
 * application to sluice-dp over the rings.
 *
 * The agent is the source of truth for what dp should hold on this node.
 * Every change is made to the in-memory state first, persisted to a JSON
 * file atomically (write a temporary file, fsync, rename, fsync the
 * directory) and only then sent to dp, so a ctrl killed at any point loses
 * nothing it acknowledged: on restart it reloads the file and replays.
 *
 * Replay is how dp is brought in line after either side restarts: the
 * agent picks a generation above both its own last one and dp's, sends
 * SYNC_BEGIN(g), every port, pod and route tagged g, and SYNC_END(g), on
 * which dp sweeps whatever an older generation installed and the replay
 * did not refresh (e.g. a pod deleted while ctrl was down).
 *
 * A change made while dp is down is accepted (applied = 0 in the result)
 * and goes out with the next replay. A change dp refuses is rolled back
 * from the desired state so that the caller (sluice-cni) can retry.
 *
 * Errors: enum agent_err, agent_strerror(), errmsg. Threading: one thread.
 */
#ifndef SLUICE_CTRL_AGENT_H
#define SLUICE_CTRL_AGENT_H

#include <stddef.h>
#include <stdint.h>

#include <sluice/ring_proto.h>

#define AGENT_ERRORS(X)                                             \
	X(OK, "ok")                                                 \
	X(NOMEM, "out of memory")                                   \
	X(INVAL, "invalid request")                                 \
	X(EXIST, "already exists")                                  \
	X(NOENT, "not found")                                       \
	X(BUSY, "still in use")                                     \
	X(IO, "cannot persist the state file")                      \
	X(CORRUPT, "state file is not valid")                       \
	X(DP, "sluice-dp refused the change")

enum agent_err {
#define AGENT_ENUM(name, text) AGENT_##name,
	AGENT_ERRORS(AGENT_ENUM)
#undef AGENT_ENUM
};

const char *agent_strerror(int err);

#define AGENT_NAME_MAX 64

struct agent_port {
	uint32_t id;		/* assigned by the agent */
	uint8_t kind;		/* enum ring_port_kind */
	uint8_t role;
	char name[RING_NAME_SIZE];
	char ifname[RING_IFNAME_SIZE];
	char path[RING_PATH_SIZE];
	/* Last events from dp (not persisted): link -1 = unknown. */
	int link_up;
	struct ring_stats stats;
};

struct agent_pod {
	char name[AGENT_NAME_MAX];
	uint32_t id;		/* assigned by the agent */
	uint32_t port_id;
	uint8_t family;
	uint8_t addr[16];
	uint8_t mac[6];
};

struct agent_route {
	uint8_t family;
	uint8_t prefix_len;
	uint8_t encap;
	uint8_t nh_family;
	uint8_t prefix[16];
	uint8_t nexthop[16];
	uint8_t nh_mac[6];
	uint32_t node_id;
	uint32_t port_id;
	uint32_t vni;
};

struct ringc;

struct agent_params {
	const char *state_path;	/* JSON file; created on first change */
	struct ringc *ringc;	/* borrowed; NULL = state only (tests) */
	void (*log)(void *data, const char *line); /* NULL = stderr */
	void *log_data;
};

struct agent;

/* Load state_path if it exists. NULL on error, with errmsg. */
struct agent *agent_create(const struct agent_params *params, char *errmsg, size_t len);
void agent_free(struct agent *a);

/*
 * Mutations. Each validates (same rules as dp's record check), updates the
 * state, persists it unless inside a batch, then sends to dp if connected
 * and waits for the ACK. *applied (may be NULL) = 1 if dp applied it now.
 * *id_out (may be NULL) gets the assigned id for adds.
 */
int agent_port_add(struct agent *a, const struct agent_port *p, uint32_t *id_out,
		   int *applied, char *errmsg, size_t len);
int agent_port_del(struct agent *a, const char *name, int *applied, char *errmsg, size_t len);
int agent_pod_add(struct agent *a, const struct agent_pod *p, uint32_t *id_out,
		  int *applied, char *errmsg, size_t len);
int agent_pod_del(struct agent *a, const char *name, int *applied, char *errmsg, size_t len);
int agent_route_add(struct agent *a, const struct agent_route *r, int *applied,
		    char *errmsg, size_t len);
int agent_route_del(struct agent *a, uint8_t family, const uint8_t prefix[16],
		    uint8_t prefix_len, int *applied, char *errmsg, size_t len);

/*
 * Batches: between begin and end, mutations skip the per-change fsync and
 * do not wait for each ACK; end persists once and waits for the last ACK.
 * A failure inside a batch is reported by the mutation that caused it
 * (state errors) or by agent_batch_end (dp errors: first one in errmsg;
 * refused entries are rolled back).
 */
void agent_batch_begin(struct agent *a);
int agent_batch_end(struct agent *a, unsigned *dp_errors, char *errmsg, size_t len);

/* Look up a port id by name; 0 if none. */
uint32_t agent_port_id(const struct agent *a, const char *name);
const struct agent_port *agent_port_by_id(const struct agent *a, uint32_t id);

/*
 * Drive the ring: attach/detach, replay on a new dp, drain events.
 * Call from the main loop every few ms. Returns 1 if connected to dp.
 */
int agent_tick(struct agent *a);

/* Replay everything under a new generation now (agent_tick does this). */
int agent_replay(struct agent *a, char *errmsg, size_t len);

/*
 * For the agent's own modules (ctrl/agent_lb.c): persist the state now
 * (unless in a batch); send one command as the mutations above do (waits
 * for the ACK outside a batch; AGENT_DP if refused); one log line; the
 * service state.
 */
int agent_persist(struct agent *a, char *errmsg, size_t len);
int agent_send_cmd(struct agent *a, struct ring_cmd *c, int *applied, char *errmsg, size_t len);
void agent_log(struct agent *a, const char *line);
struct agent_lb *agent_lb_of(struct agent *a);
/* Grow *arr (n elements of elem bytes, capacity *cap) to hold one more. 0 or -1. */
int agent_grow(void **arr, size_t *cap, size_t n, size_t elem);

/* 1 if the ring client is attached to a live dp. */
int agent_dp_connected(const struct agent *a);

/* Counts and generation, for status replies and tests. */
size_t agent_n_ports(const struct agent *a);
size_t agent_n_pods(const struct agent *a);
size_t agent_n_routes(const struct agent *a);
uint64_t agent_generation(const struct agent *a);
const struct agent_pod *agent_pod_at(const struct agent *a, size_t i);
const struct agent_port *agent_port_at(const struct agent *a, size_t i);
const struct agent_route *agent_route_at(const struct agent *a, size_t i);

#endif
