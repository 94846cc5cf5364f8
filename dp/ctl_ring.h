/*
 * ctl_ring: sluice-dp's consumer of the ctrl command ring.
 *
 * Owns the shared-memory segment (ring_shm), drains the command ring on the
 * control thread, validates every record (ring_cmd_check), applies the good
 * ones through a table of control functions and answers each command with
 * exactly one ACK on the event ring, in order. A malformed record gets an
 * error ACK naming the reason and is never applied.
 *
 * The apply functions come in as a struct ctl_ring_ops so this module has
 * no dependency on the dataplane's tables: sluice-dp passes thin wrappers
 * over dp_pod_add() and friends (dp/ctl_apply.c), the unit tests and the
 * benchmark pass fakes. That keeps the protocol machinery testable without
 * an EAL.
 *
 * Backpressure, dp side: a poll dequeues at most as many commands as the
 * event ring has free slots, so an ACK never has to be dropped; a ctrl that
 * stops reading events stalls its own commands, never dp's forwarding (the
 * control thread is not a worker). Unsolicited events (link, stats, health)
 * that find the event ring full are counted and dropped, because a later
 * snapshot supersedes them.
 *
 * Threading: one control thread owns the handle; nothing here blocks.
 */
#ifndef SLUICE_DP_CTL_RING_H
#define SLUICE_DP_CTL_RING_H

#include <stdint.h>

#include <sluice/ring_proto.h>

/*
 * Apply functions. Each returns 0 or -errno (sent back in the ACK). A NULL
 * member answers -EOPNOTSUPP. gen is the record's generation.
 * sweep(gen) removes what older generations installed and returns the
 * number removed or -errno.
 */
struct ctl_ring_ops {
	int (*port_attach)(void *data, const struct ring_port *p, uint64_t gen);
	int (*port_detach)(void *data, const struct ring_port_del *p);
	int (*pod_add)(void *data, const struct ring_pod *p, uint64_t gen);
	int (*pod_del)(void *data, const struct ring_pod_del *p);
	int (*route_add)(void *data, const struct ring_route *r, uint64_t gen);
	int (*route_del)(void *data, const struct ring_route_del *r);
	int (*svc_add)(void *data, const struct ring_svc *s, uint64_t gen);
	int (*svc_del)(void *data, const struct ring_svc_del *s);
	int (*backend_add)(void *data, const struct ring_backend *b, uint64_t gen);
	int (*backend_del)(void *data, const struct ring_backend_del *b);
	int (*backend_weight)(void *data, const struct ring_backend_weight *w);
	int (*sweep)(void *data, uint64_t gen);
};

struct ctl_ring_params {
	const char *path;	/* segment path; NULL = RING_SHM_DEFAULT_PATH */
	uint32_t cmd_count;	/* ring sizes; 0 = default */
	uint32_t evt_count;
	unsigned burst;		/* max commands per poll; 0 = 256 */
	const struct ctl_ring_ops *ops; /* borrowed, must outlive the handle */
	void *ops_data;
	/* One line per transition (ctrl attached/gone, sync begin/end). NULL = stderr. */
	void (*log)(void *data, const char *line);
	void *log_data;
};

struct ctl_ring_stats {
	uint64_t applied;	/* commands whose apply returned 0 */
	uint64_t failed;	/* well-formed, apply returned an error */
	uint64_t rejected;	/* malformed, never applied */
	uint64_t evt_dropped;	/* unsolicited events lost to a full ring */
	uint64_t syncs;		/* completed SYNC_END */
	uint64_t swept;		/* entries removed by sweeps */
};

struct ctl_ring;

/*
 * Create and publish the segment (replacing a stale one; EBUSY if a live
 * dp owns it). params copied; ops borrowed. NULL + errno on error.
 * Control thread.
 */
struct ctl_ring *ctl_ring_create(const struct ctl_ring_params *params);

/* Unlink the segment (clean shutdown) and free. Accepts NULL. */
void ctl_ring_free(struct ctl_ring *c);

/*
 * Free without unlinking: the segment stays behind exactly as a crashed dp
 * leaves it (lock released, file present). For tests. Accepts NULL.
 */
void ctl_ring_close(struct ctl_ring *c);

/*
 * One pass: bump the heartbeat, note ctrl attach/detach (one log line per
 * transition), then drain up to `burst` commands, apply, ACK. Returns the
 * number of commands consumed. Control thread, never blocks.
 */
unsigned ctl_ring_poll(struct ctl_ring *c);

/* Post unsolicited events. 0, or -ENOBUFS (ring full, counted). */
int ctl_ring_post_link(struct ctl_ring *c, uint32_t port_id, int up, uint32_t speed_mbps);
int ctl_ring_post_stats(struct ctl_ring *c, const struct ring_stats *st);
int ctl_ring_post_health(struct ctl_ring *c, uint32_t svc_id, uint32_t backend_id, int healthy);

void ctl_ring_get_stats(const struct ctl_ring *c, struct ctl_ring_stats *out);
/* The generation of the last completed sync (0 = none yet). */
uint64_t ctl_ring_generation(const struct ctl_ring *c);

#endif
