/*
 * fwd: the sluice-dp fast path. One worker loop per worker lcore: rx
 * bursts from the ports it owns, classifies every packet into next[]
 * (a tx port or drop), then does one tx burst per destination port
 * (STYLE 12). No malloc, locks, syscalls or logging; the only syscall
 * is the idle back-off sleep, taken only when no packet has arrived for
 * a while (docs/dp-config.md, "Idle back-off").
 */
#ifndef SLUICE_DP_FWD_H
#define SLUICE_DP_FWD_H

#include <stdint.h>

struct fwd_lcore;
struct rte_mbuf;

/** rte_eal_remote_launch() entry: @arg is a struct fwd_lcore. Runs until
 *  dp_stop(). Returns 0. Worker lcore only. */
int fwd_worker_main(void *arg);

/**
 * Process one rx burst of @n mbufs received on @rx_port: every mbuf is
 * either transmitted or freed before return. Returns the number handed
 * to tx successfully. Owner worker only, QSBR online.
 */
uint16_t fwd_burst(struct fwd_lcore *lc, uint16_t rx_port, struct rte_mbuf **pkts, uint16_t n);

#endif
