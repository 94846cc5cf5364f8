/*
 * ring_shm: the shared-memory segment that holds the ctrl<->dp rings.
 *
 * sluice-dp creates the segment, a file (default under /run/sluice/) that
 * holds a header and two rte_rings laid out with the elem API on plain
 * shared memory: the command ring (ctrl produces, dp consumes) and the
 * event ring (dp produces, ctrl consumes), both single-producer and
 * single-consumer with RING_REC_SIZE elements. sluice-ctrl maps the same
 * file; it is not a DPDK secondary process and never initialises an EAL:
 * rte_ring's enqueue and dequeue are inline functions over the ring memory
 * and rte_ring_init() only fills the ring header.
 *
 * Who is alive is decided by file locks, not pids, so pid reuse cannot fool
 * either side. dp holds an open-file-description (OFD) write lock on byte 0
 * of the segment for its whole life; the kernel drops it when dp dies, so a
 * segment whose byte 0 is unlocked is stale. ctrl holds the lock on byte 1,
 * which makes it the single producer of the command ring. dp never reuses a
 * segment: it builds a new one under a temporary name and rename()s it over
 * the old path, so a ctrl still mapping the old file sees its dp die (lock
 * gone) and a new file (another inode, another boot_id) appear, and replays.
 *
 * Errors: constructors return NULL and set errno; other functions return 0
 * or -errno. Threading: a handle belongs to one thread (dp's control thread,
 * or ctrl's main loop); ring_shm_dp_alive() and the accessors are read-only.
 */
#ifndef SLUICE_RING_SHM_H
#define SLUICE_RING_SHM_H

#include <stdint.h>
#include <sys/types.h>

/* "SLCTLSEG" read as a little-endian u64. */
#define RING_SHM_MAGIC 0x4745534c54434c53ull
/* Bump on any change to the header or the placement of the rings. */
#define RING_SHM_LAYOUT_VERSION 1
#define RING_SHM_DEFAULT_PATH "/run/sluice/dp-ctl.shm"
#define RING_SHM_DEFAULT_COUNT 4096

/* 8< struct ring_shm_hdr (docs/ring-protocol.md §1) */
/*
 * The segment header, at offset 0, 192 bytes. The fields before heartbeat
 * are written once by dp before the segment is published; heartbeat and
 * generation sit on their own cache line (offset 128) and change while dp
 * runs.
 */
struct ring_shm_hdr {
	uint64_t magic;		 /* RING_SHM_MAGIC, stored last (release) */
	uint32_t layout_version; /* RING_SHM_LAYOUT_VERSION */
	uint32_t proto_version;	 /* RING_PROTO_VERSION of the records */
	uint32_t hdr_size;	 /* sizeof(struct ring_shm_hdr) */
	uint32_t rec_size;	 /* RING_REC_SIZE */
	uint32_t cmd_count;	 /* ring sizes, powers of two */
	uint32_t evt_count;
	uint64_t cmd_off;	 /* byte offsets of the rte_rings */
	uint64_t evt_off;
	uint64_t total_size;	 /* file size */
	uint32_t dp_pid;	 /* for logs only: liveness is the lock */
	uint32_t reserved0;
	uint64_t boot_id;	 /* random per dp incarnation */
	_Alignas(64) uint64_t heartbeat; /* dp bumps it every control loop */
	uint64_t generation;	 /* last generation dp completed a sync for */
	/*
	 * Written by ctrl only (under its lock): bumped on every attach. ctrl
	 * numbers commands (epoch << 40) + n, so ACKs for commands a killed
	 * ctrl left in the ring are recognisably not the new ctrl's.
	 */
	uint64_t ctrl_epoch;
	uint64_t reserved1[5];
};
/* >8 struct ring_shm_hdr */

struct ring_shm_params {
	const char *path;   /* NULL = RING_SHM_DEFAULT_PATH */
	uint32_t cmd_count; /* power of two >= 64; 0 = default */
	uint32_t evt_count; /* power of two >= 64; 0 = default */
};

struct ring_shm;
struct rte_ring;

/*
 * dp: create and publish a fresh segment at params->path, replacing a stale
 * one. Fails with EBUSY if a live dp holds the existing segment, EINVAL on
 * bad counts. Control thread only. *stale_pid (may be NULL) gets the pid
 * recorded in a stale segment that was replaced, or 0.
 */
struct ring_shm *ring_shm_create(const struct ring_shm_params *params,
				 uint32_t *stale_pid);

/*
 * ctrl: map the segment at path and become its single command producer.
 * errno: ENOENT no segment yet; ESRCH stale (no dp holds it);
 * EPROTONOSUPPORT layout or record version differs from ours (do not use);
 * EBADMSG not a segment or inconsistent sizes; EBUSY another ctrl attached.
 * On success any enqueue or dequeue a previous ctrl left half done (it was
 * killed inside one) is rolled back, which is safe because we now hold the
 * producer lock. The handle keeps the mapping valid after dp dies.
 */
struct ring_shm *ring_shm_attach(const char *path);

/* Unmap and close (dropping our lock). Accepts NULL. Does not unlink. */
void ring_shm_free(struct ring_shm *s);

/* dp, on clean exit: remove the path if it still names our segment. */
int ring_shm_unlink(struct ring_shm *s);

/* 1 if the dp that created this segment still holds it, 0 if it died. */
int ring_shm_dp_alive(const struct ring_shm *s);

/* dp: 1 if a ctrl holds the producer lock, 0 if none does. */
int ring_shm_ctrl_attached(const struct ring_shm *s);

/* 1 if path no longer names this segment (removed, or a newer dp's). */
int ring_shm_replaced(const struct ring_shm *s);

const struct ring_shm_hdr *ring_shm_hdr(const struct ring_shm *s);
struct rte_ring *ring_shm_cmd(struct ring_shm *s);
struct rte_ring *ring_shm_evt(struct ring_shm *s);

/* dp: bump the heartbeat (release store). Control thread only. */
void ring_shm_heartbeat(struct ring_shm *s);
/* dp: publish the generation of a completed sync. */
void ring_shm_set_generation(struct ring_shm *s, uint64_t generation);
/* ctrl: take the next epoch (attach time, under the ctrl lock). */
uint64_t ring_shm_next_ctrl_epoch(struct ring_shm *s);
/* Either side: acquire loads of the dynamic fields. */
uint64_t ring_shm_get_heartbeat(const struct ring_shm *s);
uint64_t ring_shm_get_generation(const struct ring_shm *s);

#endif
