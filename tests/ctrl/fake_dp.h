/*
 * fake_dp: an in-process stand-in for sluice-dp's tables behind ctl_ring,
 * for unit tests. It records what was applied (pods, ports, routes by id or
 * prefix, each with its generation), implements the generation sweep, and
 * can run ctl_ring_poll() on its own thread so that ctrl-side calls that
 * wait for ACKs make progress. No EAL: the rings live in a file under the
 * test's temporary directory.
 */
#ifndef SLUICE_TESTS_FAKE_DP_H
#define SLUICE_TESTS_FAKE_DP_H

#include <pthread.h>
#include <stdint.h>

#include "ctl_ring.h"

#define FAKE_DP_MAX 16384

struct fake_dp {
	struct ctl_ring *ctl;
	/* per id: generation that installed it, 0 = absent */
	uint64_t port_gen[FAKE_DP_MAX];
	uint64_t pod_gen[FAKE_DP_MAX];
	/* routes: keyed by (x & 63) << 8 | y of a 10.x.y.0/24 (tests use those) */
	uint64_t route_gen[FAKE_DP_MAX];
	/* LB: services present (by id), and per backend id its weight + 1
	 * (0 = absent) as BACKEND_ADD / BACKEND_WEIGHT last set it */
	uint8_t svc[FAKE_DP_MAX];
	uint32_t be_weight[FAKE_DP_MAX];
	uint64_t applied;
	uint64_t last_seq_applied;
	int fail_pod_add;	/* nonzero: pod_add returns this */
	pthread_t thread;
	volatile int running;
	volatile int paused;
};

/* Create the segment at path (cmd/evt ring sizes, 0 = default). 0 or -errno. */
int fake_dp_start(struct fake_dp *f, const char *path, uint32_t cmd_count, uint32_t evt_count);
/* Poll on a thread until fake_dp_stop_thread. */
void fake_dp_run_thread(struct fake_dp *f);
void fake_dp_stop_thread(struct fake_dp *f);
/* Clean shutdown (unlinks). */
void fake_dp_stop(struct fake_dp *f);
/* Simulate a crash: drop the lock and mapping but leave the file. */
void fake_dp_crash(struct fake_dp *f);
unsigned fake_dp_count(const uint64_t *gens);

#endif
