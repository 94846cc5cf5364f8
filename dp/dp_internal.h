/*
 * dp internals shared by the control files (dp.c, dp_port.c,
 * dp_telemetry.c) and the fast path (fwd.c). Not for other modules.
 *
 * Layout rule: fields the workers read sit at the top of struct dp and
 * change only by publication (release store of a pointer to a fully
 * built object, old object reused after a QSBR grace period). Everything
 * below "control side" is touched only with dp->lock held.
 */
#ifndef SLUICE_DP_INTERNAL_H
#define SLUICE_DP_INTERNAL_H

#include <pthread.h>
#include <stdint.h>

#include <rte_common.h>
#include <rte_mbuf.h>
#include <rte_rcu_qsbr.h>

#include "dp.h"
#include "dp_stats.h"
#include "tables.h"
#include "tb.h"

#define FWD_BURST 32

/* The host exception path as workers see it. */
struct dp_host {
	uint32_t ip;       /* network order */
	uint16_t port_id;
	uint8_t mac[6];    /* the tap netdev's kernel MAC */
	uint8_t valid;
};

/* Rx queues one worker polls. Double-buffered per worker. Every port
 * has one rx queue except tap and af_packet, which have one per worker
 * (the kernel spreads flows over them); the worker owning such a port
 * polls all of its queues. Bounded: entries past FWD_MAX_RXQ are not
 * polled, so keep (multi-queue ports x workers) small. */
#define FWD_MAX_RXQ (2 * DP_MAX_PORTS + DP_MAX_WORKERS)
struct fwd_rxq {
	uint16_t port;
	uint16_t queue;
};
struct fwd_rxlist {
	uint16_t n;
	struct fwd_rxq q[FWD_MAX_RXQ];
};

struct fwd_txbuf {
	uint16_t n;
	struct rte_mbuf *pkts[FWD_BURST];
};

/*
 * Stage 3 of fwd_burst, the gather half: append each packet to the tx
 * buffer of its destination next[i] (one of @tx, indexed by port id), and
 * list each destination once, in order of first use, in @touched; packets
 * whose next[i] is >= DP_MAX_PORTS (drops) go to @dropped. A burst has at
 * most FWD_BURST packets, so at most FWD_BURST distinct destinations: a
 * short list replaces a bitmask that would need DP_MAX_PORTS bits, and the
 * tx loop costs one iteration per destination whatever the port count.
 * Every tx buffer must be empty on entry (the tx loop empties them).
 * Returns the number of destinations; *nd receives the number dropped.
 * Any lcore, on its own @tx; no allocation.
 */
static inline unsigned fwd_tx_gather(struct fwd_txbuf *tx, const uint16_t *next,
				     struct rte_mbuf *const *pkts, uint16_t n,
				     uint16_t touched[FWD_BURST], struct rte_mbuf **dropped,
				     unsigned *nd)
{
	unsigned nt = 0;

	*nd = 0;
	for (uint16_t i = 0; i < n; i++) {
		if (next[i] >= DP_MAX_PORTS) {
			dropped[(*nd)++] = pkts[i];
			continue;
		}
		struct fwd_txbuf *tb = &tx[next[i]];
		if (tb->n == 0)
			touched[nt++] = next[i];
		tb->pkts[tb->n++] = pkts[i];
	}
	return nt;
}

/*
 * Per-worker state. Counters are written only by the owning worker with
 * relaxed atomic stores and read by telemetry with relaxed loads, so a
 * reader never sees a torn value and the worker never takes a lock.
 */
struct fwd_lcore {
	struct dp *dp;
	unsigned idx;                    /* worker index = QSBR thread id = tx queue */
	unsigned lcore_id;
	struct fwd_rxlist *rx;           /* published */
	struct tb icmp_tb;
	uint32_t want_ip;                /* last on-link host asked for (ul.want) */
	uint64_t want_tsc;
	uint64_t drop[DP_DROP_MAX];
	uint64_t ev[DP_EV_MAX];
	uint64_t port_rx[DP_MAX_PORTS];
	uint64_t port_tx[DP_MAX_PORTS];
	uint64_t port_txdrop[DP_MAX_PORTS];
	struct fwd_txbuf tx[DP_MAX_PORTS];
	/* control side: the two rx list buffers */
	struct fwd_rxlist rx_buf[2];
	unsigned rx_cur;
} __rte_cache_aligned;

/*
 * DPDK 22.11's af_xdp PMD parks ETH_AF_XDP_DFLT_NUM_DESCS (2048) mbufs of
 * the rx queue's pool in the fill ring of every port, and registers that
 * whole pool as the port's umem: the kernel pins it and allocates one
 * descriptor per chunk at bind, so an attach costs time in proportion to
 * the pool (measured: ~22 ms at 28k mbufs, ~38 ms at 80k). So af_xdp
 * ports share pools in groups of DP_POOL_GROUP, each sized for the
 * group's fill rings plus slack: memory grows with the pods attached
 * (~10 MiB per port) and the attach cost stays that of a small umem.
 * Tx within a group is zero-copy; across groups the PMD copies the frame
 * into the egress port's umem (veth AF_XDP runs in copy mode anyway).
 */
#define DP_POOL_GROUP 4u
#define DP_AF_XDP_FQ_MBUFS 2048u
/* Per port: its fill ring (2048) plus up to a tx ring's worth (2048) of
 * frames it sent zero-copy and the PMD reclaims only at that port's next
 * tx burst. Sized for the fill rings alone, a group whose uplink or busy
 * pods held frames in tx left the fourth port's fill ring empty (rx 0,
 * rx_drops climbing: tests/node/node_service.sh). */
#define DP_POOL_MBUFS (DP_POOL_GROUP * 2u * DP_AF_XDP_FQ_MBUFS + 2047u)
#define DP_MAX_POOLS (DP_MAX_PORTS / DP_POOL_GROUP)

struct dp_port {
	char name[DP_NAME_MAX];
	char devname[48];                /* vdev name */
	struct dp_port_params params;    /* as requested */
	enum dp_port_type type;          /* as attached (af_packet after fallback) */
	uint16_t port_id;
	uint16_t nb_rxq;
	uint8_t used;
	uint8_t link_up;
	uint8_t mac[6];                  /* tap: kernel netdev MAC */
	unsigned worker;
	int pool;                        /* index into dp->xdp_pool, -1 = dp->mp */
	/* Per-lcore port counters are indexed by port id and ids are reused
	 * after a detach: these are the sums at attach time, subtracted when
	 * reporting, so a new port starts at zero without workers resetting. */
	uint64_t base_rx, base_tx, base_txdrop;
};

/* Sum of one per-port counter array over the workers. */
static inline uint64_t dp_port_sum(const struct dp *dp, size_t off, uint16_t port_id);

/* The uplink as workers see it: written once by dp_uplink_set() before
 * valid is set with a release store, then immutable. */
struct dp_ul {
	uint32_t valid;
	uint16_t port_id;
	uint8_t mode;            /* enum dp_overlay */
	uint8_t mac[6];          /* the uplink netdev's (kernel's) MAC */
	uint32_t ip;             /* node underlay IP, network order */
	uint32_t vni;
	uint16_t vxlan_port;     /* host order */
	uint16_t encap_mtu;      /* largest inner IP packet: uplink MTU - 50 */
	/* which underlay addresses are on-link */
	uint32_t mask;           /* the kernel's netmask for ip, network order */
	uint32_t gateway;        /* 0 = none */
	/* Egress (docs/multinode.md, "Leaving the cluster"): destinations
	 * outside cluster_net/cluster_mask with no route leave by the uplink.
	 * cluster_mask 0 = off. On-link ones get a /32 route from the control
	 * side, which workers ask for through @want (MP/SC ring of u32). */
	uint32_t cluster_net, cluster_mask;
	uint32_t gw_neigh;       /* neigh slot of gateway; UINT32_MAX = none */
	struct rte_ring *want;
};

struct dp_uplink;   /* control side, dp/uplink.c */
struct neigh;

struct dp {
	/* ---- read by workers ---- */
	struct dp_ul ul;
	struct neigh *neigh;               /* underlay neighbours (dp/neigh.h) */
	uint8_t port_mac[DP_MAX_PORTS][6]; /* MAC dp sends from and accepts on */
	uint32_t pod_net, pod_mask, gateway_ip;
	uint8_t gw_mac[6];
	uint8_t port_is_tap[DP_MAX_PORTS];
	uint16_t port_mtu[DP_MAX_PORTS];   /* IP MTU of each port, set at attach */
	uint32_t stop;                   /* set with release store by dp_stop */
	uint32_t idle_backoff_us;
	struct tbl *tbl;
	struct rte_rcu_qsbr *qsbr;
	struct dp_host *host;            /* published */
	struct lb *lb;                   /* published by ctl_apply (dp/lb_svc.h); NULL = none */
	uint64_t hz;

	/* ---- control side ---- */
	struct dp_uplink *uplink;
	pthread_mutex_t lock;
	struct dp_params params;
	struct rte_mempool *mp;
	/* af_xdp ports' mbuf pools, DP_POOL_GROUP ports each (dp_port.c);
	 * created on demand, kept until dp_free (their mbufs may sit in any
	 * port's rings). */
	struct rte_mempool *xdp_pool[DP_MAX_POOLS];
	unsigned xdp_pool_users[DP_MAX_POOLS];
	unsigned n_xdp_pools;
	struct dp_port ports[DP_MAX_PORTS];
	struct dp_host host_buf[2];
	unsigned host_cur;
	unsigned n_workers;
	struct fwd_lcore *lcores[DP_MAX_WORKERS];
	int running;
};

static inline void dp_cnt_add(uint64_t *c, uint64_t n)
{
	__atomic_store_n(c, __atomic_load_n(c, __ATOMIC_RELAXED) + n, __ATOMIC_RELAXED);
}

static inline uint64_t dp_cnt_get(const uint64_t *c)
{
	return __atomic_load_n(c, __ATOMIC_RELAXED);
}

static inline uint64_t dp_port_sum(const struct dp *dp, size_t off, uint16_t port_id)
{
	uint64_t n = 0;
	for (unsigned w = 0; w < dp->n_workers; w++) {
		const uint64_t *arr = (const uint64_t *)((const char *)dp->lcores[w] + off);
		n += dp_cnt_get(&arr[port_id]);
	}
	return n;
}

/* dp_port.c, lock held */
struct dp_port *dp_port_by_name(struct dp *dp, const char *name);
void dp_port_detach_locked(struct dp *dp, struct dp_port *pt);
/* dp.c, lock held: publish the rx list of worker @w */
void dp_publish_rx(struct dp *dp, unsigned w);
/* uplink.c: the af_xdp xdp_prog= object written from the embedded copy
 * (caller unlinks it once the port started); lock held. */
int dp_uplink_prog_file(char *path, size_t len);
/* uplink.c, lock NOT held: ARP in and out, neighbour ageing; bounded,
 * non-blocking. Called by the control loop every iteration. */
void dp_uplink_poll(struct dp *dp);
/* uplink.c, lock held: release everything (dp_free). */
void dp_uplink_free_locked(struct dp *dp);
/* uplink.c: /sluice/uplink (dp_telemetry.c registers it). */
struct rte_tel_data;
int dp_uplink_tel(struct dp *dp, struct rte_tel_data *d);
/* dp.c, lock held: dp_route_add_via without taking the lock. */
int dp_route_add_via_locked(struct dp *dp, uint32_t prefix, uint8_t depth, uint32_t nh_ip,
			    int encap, uint32_t vni, uint32_t gen);

#endif
