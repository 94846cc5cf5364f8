/*
 * dp: the sluice-dp control API. Everything that changes what the
 * dataplane does at runtime goes through these functions: the JSON config
 * loader (dp_apply_config) and the shared-memory ring consumer (ctl_ring)
 * are two thin front ends over the same calls (STYLE 19).
 *
 * Threads: the control functions are serialised by an internal mutex and
 * may be called from the control thread (main lcore) or a telemetry
 * callback; they never run on a worker lcore. Workers read the tables
 * lock-free as rte_rcu_qsbr readers; removed entries are reclaimed after a
 * grace period, so a worker never sees a freed entry.
 *
 * Generations: every pod and route carries the u32 generation of the
 * desired state that installed it. After ctrl replays its full state with
 * a new generation G, dp_sweep(dp, G) removes whatever the replay did not
 * refresh. The config loader uses generation 1.
 *
 * Addresses are IPv4 in network byte order, MACs are 6 bytes.
 * This header is DPDK-free so config and fuzz code can include it.
 */
#ifndef SLUICE_DP_DP_H
#define SLUICE_DP_DP_H

#include <signal.h>
#include <stddef.h>
#include <stdint.h>

#define DP_NAME_MAX 16   /* port name incl. NUL */
#define DP_IFACE_MAX 16  /* IFNAMSIZ */
#define DP_PATH_MAX 108  /* sun_path */
/* Ports dp can hold: one AF_XDP port per veth pod (Kubernetes' default is
 * 110 pods per node) plus the host tap and the uplink. Port ids index
 * per-lcore arrays, so this also bounds the ethdev port ids dp accepts;
 * the DPDK build's RTE_MAX_ETHPORTS bounds how many ethdevs exist at all
 * (dp_port_attach says so when it is the lower of the two). */
#define DP_MAX_PORTS 256
#define DP_MAX_PODS 65536
#define DP_MAX_ROUTES 16384 /* one per remote node pod CIDR, plus VIPs */
#define DP_MAX_WORKERS 16

enum dp_port_type {
	DP_PORT_AF_XDP = 0,
	DP_PORT_AF_PACKET,
	DP_PORT_MEMIF,
	DP_PORT_TAP,
	DP_PORT_VHOST_USER,
	/* Underlay NIC of a later issue; attached like AF_XDP for now. */
	DP_PORT_UPLINK,
	DP_PORT_TYPE_MAX
};

/* Config-file spelling of each type, indexed by enum dp_port_type. */
extern const char *const dp_port_type_names[DP_PORT_TYPE_MAX];

struct dp_port_params {
	char name[DP_NAME_MAX];
	enum dp_port_type type;
	char iface[DP_IFACE_MAX];  /* af_xdp, af_packet, tap, uplink */
	char socket[DP_PATH_MAX];  /* memif, vhost_user */
	uint32_t memif_id;
	uint8_t memif_server;      /* 1 = dp creates the socket */
	uint8_t vhost_client;      /* 1 = dp connects to the socket */
};

struct dp_params {
	uint32_t pod_net;          /* pod CIDR network */
	uint8_t pod_depth;         /* pod CIDR prefix length */
	uint32_t gateway_ip;
	uint8_t gateway_mac[6];
	uint32_t icmp_rate;        /* ICMP errors/s per worker, 0 = none */
	uint32_t icmp_burst;
	uint32_t idle_backoff_us;  /* max idle sleep of a worker, 0 = spin */
};

/* How packets reach other nodes' pod CIDRs (docs/multinode.md). */
enum dp_overlay {
	DP_OVERLAY_DIRECT = 0, /* routed on the underlay L2 segment, next hop by ARP */
	DP_OVERLAY_VXLAN,      /* VXLAN (RFC 7348) to the remote node's underlay IP */
	DP_OVERLAY_MAX
};

/* The uplink: the node's underlay NIC, shared with the host through the
 * XDP program dp/xdp/uplink.bpf.c. */
struct dp_uplink_params {
	char port[DP_NAME_MAX];    /* an attached port of type uplink */
	uint32_t ip;               /* the node's underlay IPv4 (the kernel's), network order */
	uint32_t gateway;          /* underlay router (VXLAN to off-link nodes, egress), 0 = none */
	uint8_t mode;              /* enum dp_overlay: the cluster's mode */
	uint32_t vni;              /* VXLAN network identifier, 1..2^24-1 */
	uint16_t vxlan_port;       /* UDP destination port, host order */
	/* The cluster's pod network. Set (depth 1..32): packets to anything
	 * outside it and outside every route leave by the uplink, on-link or
	 * via @gateway (docs/multinode.md, "Leaving the cluster"); depth 0:
	 * no egress, such packets are drop_no_route. */
	uint32_t cluster_net;      /* network order */
	uint8_t cluster_depth;
};

struct dp;
struct dpcfg;

/**
 * Create the dataplane: mempool, pod and route tables, QSBR variable, one
 * per-lcore state per worker lcore. EAL must be initialised.
 * @p: copied. Returns NULL and sets errno (ENOMEM, EINVAL). Control thread.
 */
struct dp *dp_create(const struct dp_params *p);

/** Stop workers if running, detach all ports, free everything. NULL ok.
 *  Control thread. */
void dp_free(struct dp *dp);

/**
 * Attach a port as a vdev through rte_dev_probe (hot-plug capable), set
 * up its rx queue(s) (one; one per worker for tap and af_packet) and one
 * tx queue per worker, start it and hand its rx queues to the least
 * loaded worker. An af_xdp port that the kernel refuses (or that cannot
 * give every worker a tx queue) falls back to af_packet on the same iface
 * (logged once). Safe while workers run. Control side, any thread.
 * @p: copied. @port_id: if not NULL, receives the ethdev port id.
 * Returns 0, -EEXIST (name in use), -ENOSPC, -ENODEV/-errno from the PMD.
 * On failure @err (if not NULL) holds one line saying why.
 */
int dp_port_attach(struct dp *dp, const struct dp_port_params *p, uint16_t *port_id,
		   char *err, size_t errlen);

/** Detach a port: refused with -EBUSY while pods, routes or the host
 *  refer to it; else workers stop polling it (after a grace period) and
 *  the vdev is stopped, closed and removed. -ENOENT if unknown. */
int dp_port_detach(struct dp *dp, const char *name);

/** Add or replace the pod @ip at @mac behind port @port. Replacement is
 *  atomic for readers. -EINVAL (ip outside the pod CIDR, the gateway),
 *  -ENOENT (port), -ENOSPC (table full). */
int dp_pod_add(struct dp *dp, uint32_t ip, const uint8_t mac[6], const char *port, uint32_t gen);

/** Remove pod @ip; its entry is freed after a grace period. -ENOENT. */
int dp_pod_del(struct dp *dp, uint32_t ip);

/** Add or replace the route @prefix/@depth via @mac on @port. -EINVAL
 *  (host bits set, depth > 32), -ENOENT (port), -ENOSPC. */
int dp_route_add(struct dp *dp, uint32_t prefix, uint8_t depth, const char *port,
		 const uint8_t mac[6], uint32_t gen);

/**
 * Make @p->port dp's uplink: adopt the XDP program the af_xdp PMD attached
 * (xdp_prog=), steer this node's pod CIDR (and, in VXLAN mode, VXLAN to
 * @p->ip) to dp, open the ARP socket that resolves underlay next hops.
 * @p->ip must be an IPv4 address of the uplink's netdev (its netmask
 * decides which nodes are on-link), @p->gateway (if set) on-link.
 * Once per dp: -EEXIST the second time. -ENOENT (no such port), -EINVAL
 * (not of type uplink, bad mode/VNI, ip not on the netdev, gateway off
 * link), -errno from BPF or the socket. On failure @err holds one line.
 * Control side.
 */
int dp_uplink_set(struct dp *dp, const struct dp_uplink_params *p, char *err, size_t errlen);

/**
 * Steer exactly the service VIPs @vips (@n, network order, sorted
 * ascending, distinct) on the uplink as /32s besides the pod CIDR, so
 * hosts outside the cluster that route a VIP via this node reach dp's LB
 * (docs/lb.md, "External clients"). Only the difference to the last call
 * touches the XDP maps. A VIP the program's trie has no room for is
 * counted (`vip_steer_failed` in /sluice/uplink) and logged once.
 * @return 0 (also without an uplink: nothing to do), or -errno from the
 * map update (the next call retries). Control side, any thread.
 */
int dp_uplink_vips_set(struct dp *dp, const uint32_t *vips, unsigned n);

/**
 * Add or replace the route @prefix/@depth "behind the node at underlay
 * address @nh_ip": out the uplink, directly (@encap 0) or in VXLAN (@encap
 * 1, VNI @vni, 0 = the uplink's). @encap -1 takes the cluster mode from
 * the uplink. ARP resolution of the L2 next hop starts now: @nh_ip when it
 * is on the uplink's subnet, else (VXLAN only) the uplink's gateway.
 * -ENODEV (no uplink), -EINVAL (depth, host bits, bad next hop, VNI other
 * than the cluster's, VXLAN in a direct-mode cluster), -ENETUNREACH (off-link and direct mode, or no
 * gateway), -ENOSPC (routes or neighbours full).
 */
int dp_route_add_via(struct dp *dp, uint32_t prefix, uint8_t depth, uint32_t nh_ip, int encap,
		     uint32_t vni, uint32_t gen);

/** Remove route @prefix/@depth. -ENOENT. */
int dp_route_del(struct dp *dp, uint32_t prefix, uint8_t depth);

/** Set the host exception path: traffic to @ip goes out the tap @port.
 *  @port NULL clears it. -ENOENT, -EINVAL (not a tap). */
int dp_host_set(struct dp *dp, const char *port, uint32_t ip);

/** Change a runtime-mutable option of the dpcfg_opts table (today
 *  idle_backoff_us) while workers run. -ENOENT (no such option), -EPERM
 *  (not runtime-mutable), -ERANGE (out of its bounds). */
int dp_option_set(struct dp *dp, const char *name, uint32_t value);

/** Remove every pod and route whose generation is older than @gen.
 *  Returns the number removed. */
int dp_sweep(struct dp *dp, uint32_t gen);

/**
 * Config front end: attach every port, add pods, routes and the host
 * (generation 1). Returns 0, or -errno with one line in @err.
 */
int dp_apply_config(struct dp *dp, const struct dpcfg *cfg, char *err, size_t errlen);

/** Launch the worker loops on every worker lcore. -EALREADY, -EBUSY. */
int dp_start(struct dp *dp);

/** Tell workers to stop and wait for them. Idempotent. */
void dp_stop(struct dp *dp);

/**
 * The control thread's loop: periodic housekeeping (RCU reclamation,
 * link state) until *@stop becomes non-zero. Returns 0.
 */
int dp_control_loop(struct dp *dp, volatile sig_atomic_t *stop);

/** Register /sluice/stats, /sluice/ports, /sluice/pods. One dp per
 *  process can be registered. Returns 0 or -errno. */
int dp_telemetry_register(struct dp *dp);

/** Stop serving telemetry for @dp (rte_telemetry cannot unregister a
 *  command; the callbacks answer an error afterwards). Call before
 *  dp_free. */
void dp_telemetry_unregister(struct dp *dp);

/** Total packets forwarded so far (sum over workers). Any thread. */
uint64_t dp_forwarded(const struct dp *dp);

#endif
