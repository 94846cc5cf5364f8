/*
 * ringc: sluice-ctrl's end of the shared-memory rings to sluice-dp.
 *
 * Finds dp's segment (ring_shm), produces commands, consumes events and
 * tells its caller when a *new* dp incarnation appears so the agent can
 * replay its full desired state. ringc never drops a command: a full
 * command ring makes ringc_send() wait (draining events meanwhile, which is
 * what lets dp make progress), and only a dead dp or the timeout ends the
 * wait, with an error the caller sees; the command stays in the agent's
 * desired state and goes out again in the next replay.
 *
 * dp incarnations are told apart by the segment's boot_id and inode; dp's
 * death by its lock on the segment (ring_shm_dp_alive), with the heartbeat
 * only used to report a hung dp. Each transition is logged in one line.
 *
 * Errors: enum ringc_err, ringc_strerror(), errmsg buffers (ctrl layer).
 * Threading: one thread (the agent's loop) owns a handle.
 */
#ifndef SLUICE_CTRL_RINGC_H
#define SLUICE_CTRL_RINGC_H

#include <stddef.h>
#include <stdint.h>

#include <sluice/ring_proto.h>

#define RINGC_ERRORS(X)                                                   \
	X(OK, "ok")                                                       \
	X(NOMEM, "out of memory")                                         \
	X(INVAL, "invalid argument")                                      \
	X(NODP, "sluice-dp is not running")                               \
	X(VERSION, "sluice-dp speaks another segment or record version")   \
	X(BUSY, "another sluice-ctrl is attached to this sluice-dp")      \
	X(CORRUPT, "segment is not a sluice ring segment")                \
	X(TIMEOUT, "sluice-dp did not make room or answer in time")       \
	X(DPGONE, "sluice-dp died while the command was in flight")       \
	X(DPERR, "sluice-dp refused the command")

enum ringc_err {
#define RINGC_ENUM(name, text) RINGC_##name,
	RINGC_ERRORS(RINGC_ENUM)
#undef RINGC_ENUM
};

const char *ringc_strerror(int err);

struct ringc_params {
	const char *path;	  /* segment; NULL = RING_SHM_DEFAULT_PATH */
	unsigned timeout_ms;	  /* send/wait bound; 0 = 10000 */
	unsigned stall_ms;	  /* heartbeat silence reported as a hang; 0 = 2000 */
	/* Every event except successful ACKs (error ACKs, link, stats, health). */
	void (*on_event)(void *data, const struct ring_evt *e);
	void (*log)(void *data, const char *line); /* NULL = stderr */
	void *data;
};

struct ringc_stats {
	uint64_t sent;
	uint64_t acked;
	uint64_t ack_errors;
	uint64_t events;
	uint64_t full_waits;	/* sends that found the ring full */
	uint64_t bad_events;	/* malformed records from dp (logged, dropped) */
	uint64_t stale_acks;	/* ACKs for a previous ctrl's commands */
};

struct ringc;

/* params copied. Does not need dp to be up. NULL on NOMEM/INVAL. */
struct ringc *ringc_create(const struct ringc_params *params, char *errmsg,
			   size_t errmsg_len);
void ringc_free(struct ringc *rc);

/*
 * Look at the segment: attach to a dp that appeared, notice one that died
 * or was replaced, drain events. Returns 1 if connected, 0 if not.
 * *fresh (may be NULL) is set to 1 when this call attached to a dp
 * incarnation: the caller must replay its full state now.
 */
int ringc_check(struct ringc *rc, int *fresh);

int ringc_connected(const struct ringc *rc);

/* Replace the event callback (the agent registers itself after creation). */
void ringc_set_event_cb(struct ringc *rc, void (*on_event)(void *data, const struct ring_evt *e),
			void *data);

/*
 * Enqueue one command; ringc assigns c->seq. Waits while the ring is full
 * (up to the timeout). Returns RINGC_OK, NODP/DPGONE (not connected or dp
 * died), TIMEOUT.
 */
int ringc_send(struct ringc *rc, struct ring_cmd *c, char *errmsg, size_t errmsg_len);

/*
 * Wait until dp acknowledged seq. Returns RINGC_OK (dp applied it),
 * RINGC_DPERR (*dp_err = dp's -errno, *reason = enum ring_bad),
 * DPGONE, TIMEOUT.
 */
int ringc_wait(struct ringc *rc, uint64_t seq, int *dp_err, unsigned *reason,
	       char *errmsg, size_t errmsg_len);

/* Drain the event ring without blocking; returns events processed. */
unsigned ringc_drain(struct ringc *rc);

/* Highest acknowledged seq so far (acks arrive in order). */
uint64_t ringc_acked(const struct ringc *rc);
/* dp's pid, boot id and completed generation (0 if not connected). */
uint32_t ringc_dp_pid(const struct ringc *rc);
uint64_t ringc_dp_boot_id(const struct ringc *rc);
uint64_t ringc_dp_generation(const struct ringc *rc);
void ringc_get_stats(const struct ringc *rc, struct ringc_stats *out);

#endif
