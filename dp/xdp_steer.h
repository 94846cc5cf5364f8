/*
 * xdp_steer: the shared-uplink XDP program's control side. It loads
 * dp/xdp/uplink.bpf.c (embedded in this library), attaches it to the
 * node's NIC, writes which traffic belongs to sluice into its maps, binds
 * AF_XDP sockets to rx queues and reads the per-reason counters.
 *
 * The node has one NIC. sluice-dp takes its uplink through AF_XDP, but the
 * host keeps its own address, SSH and the masters' Raft/API traffic on the
 * same wire. So the program redirects only sluice traffic (destination in
 * a pod CIDR or VIP prefix, VXLAN/Geneve to the node's underlay address,
 * ARP for an address dp answers for) to the XSK bound to the frame's rx
 * queue and returns XDP_PASS for everything else. What is "sluice traffic"
 * lives in maps, so ctrl changes it at run time without a reload.
 *
 * The first half of this header is the contract with the BPF program
 * (map layouts and the reason list) and is also compiled by clang
 * -target bpf; the API below it is user space only.
 */
#ifndef SLUICE_DP_XDP_STEER_H
#define SLUICE_DP_XDP_STEER_H

#include <linux/types.h>

/* ---- shared with dp/xdp/uplink.bpf.c ---- */

/*
 * Verdict reasons: one per-CPU counter each. A frame is counted under
 * exactly one reason. REDIRECT_* mean the frame was classified as sluice
 * traffic *and* an XSK was bound to its rx queue; NOSOCK means it was
 * sluice traffic but no XSK was bound, so the configured fallback verdict
 * (XDP_PASS by default, or XDP_DROP) was returned instead.
 */
/* 8< xdp-steer-reasons (docs/xdp-uplink.md pulls this region) */
#define XDP_STEER_REASONS(X)                                                  \
	X(REDIRECT_PREFIX4, "redirect_prefix4") /* IPv4 dst in pod CIDR/VIP  */ \
	X(REDIRECT_PREFIX6, "redirect_prefix6") /* IPv6 dst in pod CIDR/VIP  */ \
	X(REDIRECT_ENCAP, "redirect_encap")     /* VXLAN/Geneve to underlay  */ \
	X(REDIRECT_ARP, "redirect_arp")         /* ARP for a dp address      */ \
	X(NOSOCK, "nosock")                     /* sluice, no XSK: fallback  */ \
	X(PASS_HOST, "pass_host")               /* IP not for sluice         */ \
	X(PASS_ARP, "pass_arp")                 /* ARP not for dp            */ \
	X(PASS_OTHER, "pass_other")             /* other ethertype (LLDP...) */ \
	X(PASS_FRAG, "pass_frag")               /* non-first frag to underlay*/ \
	X(PASS_TRUNC, "pass_trunc")             /* frame ends inside a header*/ \
	X(PASS_MALFORMED, "pass_malformed")     /* bad IHL/version/ARP sizes */ \
	X(PASS_VLAN_STACKED, "pass_vlan_stacked") /* more than one VLAN tag  */ \
	X(PASS_NOCONFIG, "pass_noconfig")       /* config map not readable   */
/* >8 xdp-steer-reasons */

enum xdp_steer_reason {
#define XDP_STEER_X_ENUM(name, str) XDP_STEER_##name,
	XDP_STEER_REASONS(XDP_STEER_X_ENUM)
#undef XDP_STEER_X_ENUM
	XDP_STEER_REASON_MAX
};

/* Value of the per-CPU "steer_stats" array, indexed by reason. */
struct xdp_steer_counter {
	__u64 packets;
	__u64 bytes;
};

/* 8< xdp-steer-maps (docs/xdp-uplink.md pulls this region) */
/* Config flags (struct xdp_steer_cfg.flags). */
#define XDP_STEER_CFG_UNDERLAY4 0x1u /* underlay4 is set */
#define XDP_STEER_CFG_UNDERLAY6 0x2u /* underlay6 is set */

/* Key of "steer_v4"/"steer_v6" LPM tries: prefix length then address in
 * network byte order, as BPF_MAP_TYPE_LPM_TRIE requires. Value: __u8 1. */
struct xdp_steer_lpm4 {
	__u32 prefixlen;
	__u8 addr[4];
};
struct xdp_steer_lpm6 {
	__u32 prefixlen;
	__u8 addr[16];
};

/* Single entry (key 0) of the "steer_cfg" array. Ports in network order,
 * 0 = that encapsulation is not steered. */
struct xdp_steer_cfg {
	__u32 flags;
	__u32 fallback;      /* XDP_PASS or XDP_DROP, returned when no XSK */
	__u16 vxlan_port;
	__u16 geneve_port;
	__u8 underlay4[4];
	__u8 underlay6[16];
};

/* Map capacities (LPM and ARP maps are sized at build time). */
#define XDP_STEER_MAX_PREFIXES 256u /* per family */
#define XDP_STEER_MAX_ARP 256u
/* >8 xdp-steer-maps */

#ifndef __bpf__
/* ---- user-space API ---- */

#include <stddef.h>
#include <stdint.h>

#define XDP_STEER_MAX_QUEUES 1024u
#define XDP_STEER_VXLAN_PORT 4789u  /* RFC 7348 */
#define XDP_STEER_GENEVE_PORT 6081u /* RFC 8926 */

/* How the program is attached. */
enum xdp_steer_attach {
	XDP_STEER_ATTACH_NATIVE = 0, /* driver mode (XDP_FLAGS_DRV_MODE)   */
	XDP_STEER_ATTACH_SKB,        /* generic mode, any netdev, slower   */
	XDP_STEER_ATTACH_NONE,       /* load only: tests, or attach elsewhere */
};

struct xdp_steer_params {
	unsigned int ifindex;          /* uplink; must be 0 iff ATTACH_NONE */
	enum xdp_steer_attach attach;
	uint32_t queues;               /* XSKMAP size: 1..XDP_STEER_MAX_QUEUES */
	/* If set, the XSKMAP is pinned here as "xsks_map" (a directory on a
	 * bpffs that must exist), so another process (DPDK's af_xdp PMD, an
	 * xsk tool) can bind its sockets; unpinned by xdp_steer_free().
	 * Copied. */
	const char *pin_dir;
};

/* A prefix in network byte order. family is AF_INET or AF_INET6. */
struct xdp_steer_prefix {
	uint8_t family;
	uint8_t len;
	uint8_t addr[16];
};

/*
 * What counts as sluice traffic. A plain value: fill it with the
 * xdp_steer_config_* helpers (which validate as they go) or by hand;
 * xdp_steer_apply() validates it again in full before touching a map.
 */
struct xdp_steer_config {
	uint32_t n_prefixes;
	struct xdp_steer_prefix prefixes[2 * XDP_STEER_MAX_PREFIXES];
	uint32_t n_arp;
	uint8_t arp[XDP_STEER_MAX_ARP][4]; /* IPv4, network order */
	uint8_t underlay_family;           /* 0 (none), AF_INET, AF_INET6 */
	uint8_t underlay[16];
	uint32_t vxlan_port;               /* host order; 0 = not steered */
	uint32_t geneve_port;              /* host order; 0 = not steered */
	uint32_t fallback_drop;            /* 0: XDP_PASS when no XSK; 1: DROP */
};

/* Totals over all CPUs. */
struct xdp_steer_stats {
	struct xdp_steer_counter reason[XDP_STEER_REASON_MAX];
};

struct xdp_steer;

/**
 * Initialise @cfg: no prefixes, no ARP addresses, no underlay, VXLAN 4789
 * and Geneve 6081 (only effective once an underlay address is set),
 * fallback XDP_PASS. Any thread.
 */
void xdp_steer_config_init(struct xdp_steer_config *cfg);

/**
 * Add a prefix "a.b.c.d/len" or "x::y/len" (pod CIDR or service VIP; a
 * bare address means a host route). Host bits must be zero: "10.1.0.1/16"
 * is rejected rather than silently masked, since it usually means the
 * caller confused an address with its network.
 * @return 0, -EINVAL (NULL, not a CIDR, len out of range, host bits set),
 *   -EEXIST (already present), -ENOSPC (XDP_STEER_MAX_PREFIXES of that
 *   family already). Any thread; @cfg is not shared.
 */
int xdp_steer_config_add_prefix(struct xdp_steer_config *cfg, const char *cidr);

/**
 * Add an IPv4 address dp answers ARP for (pod gateway, VIP).
 * @return 0, -EINVAL (not a dotted quad, 0.0.0.0, multicast, broadcast),
 *   -EEXIST, -ENOSPC. Any thread.
 */
int xdp_steer_config_add_arp(struct xdp_steer_config *cfg, const char *ip4);

/**
 * Set the node's underlay address (IPv4 or IPv6 literal) and the UDP
 * destination ports steered as VXLAN and Geneve (0 disables one).
 * @return 0, -EINVAL (bad or unspecified/multicast address, port >
 *   65535, both ports equal and non-zero). Any thread.
 */
int xdp_steer_config_set_encap(struct xdp_steer_config *cfg, const char *underlay,
			       uint32_t vxlan_port, uint32_t geneve_port);

/**
 * Check every field of @cfg (counts, families, lengths, host bits,
 * duplicates, ports, fallback). @return 0 or -EINVAL. Any thread.
 */
int xdp_steer_config_validate(const struct xdp_steer_config *cfg);

/**
 * Load the program, size its XSKMAP, attach it per @p and pin the XSKMAP
 * if asked. The maps start empty: nothing is steered until
 * xdp_steer_apply(). Needs CAP_BPF+CAP_NET_ADMIN.
 * @return a handle, or NULL with errno: EINVAL (bad params), EPERM (BPF
 *   not permitted), EBUSY (an XDP program is already attached),
 *   EOPNOTSUPP (native mode unsupported by the driver), others from libbpf.
 * Control thread only.
 */
struct xdp_steer *xdp_steer_create(const struct xdp_steer_params *p);

/**
 * Take over the uplink program that another loader attached to @ifindex,
 * e.g. DPDK 22.11's af_xdp PMD started with xdp_prog=<installed
 * uplink.bpf.o>, which loads and attaches the object itself and puts its
 * own XSKs into "xsks_map". The attached program must be sluice_uplink and
 * its maps must have this header's layouts (a stale object is refused).
 * The handle then configures and reads it like one from
 * xdp_steer_create(), but xdp_steer_free() leaves it attached: detaching
 * is the business of whoever attached it. Needs CAP_BPF+CAP_SYS_ADMIN.
 * @return a handle, or NULL with errno: EINVAL (ifindex 0), ENOENT (no
 * XDP program on @ifindex), EPROTO (not sluice_uplink, or map layouts
 * differ), others from the bpf syscall. Control thread only.
 */
struct xdp_steer *xdp_steer_adopt(unsigned int ifindex);

/** Detach (only our own program: a program attached later by someone
 *  else is left alone), unpin and release everything. NULL is ok.
 *  Bound XSKs are not closed: their owner does that. Control thread. */
void xdp_steer_free(struct xdp_steer *s);

/**
 * Make the maps reflect @cfg: new entries are added before stale ones are
 * removed, so a prefix present in both the old and new config is never
 * briefly unsteered. On error the maps may hold a mix of both configs;
 * apply again. @return 0, -EINVAL (@cfg invalid; no map was touched), or
 * -errno from the bpf syscall. Control thread only.
 */
int xdp_steer_apply(struct xdp_steer *s, const struct xdp_steer_config *cfg);

/**
 * Bind AF_XDP socket @xsk_fd (owned by the caller, not closed here) to rx
 * queue @queue: frames steered on that queue are redirected to it.
 * @return 0, -EINVAL (queue >= params.queues, fd < 0), -errno from the
 * kernel (EOPNOTSUPP: not an AF_XDP socket). Control thread only.
 */
int xdp_steer_xsk_set(struct xdp_steer *s, uint32_t queue, int xsk_fd);

/** Unbind rx queue @queue; steered frames there get the fallback verdict.
 *  Idempotent: clearing an empty slot returns 0 (the kernel's XSKMAP does
 *  not report it). @return 0, -EINVAL. Control thread only. */
int xdp_steer_xsk_clear(struct xdp_steer *s, uint32_t queue);

/** The program's fd (for bpf_prog_test_run_opts) and the XSKMAP's fd.
 *  Owned by @s. Any thread. */
int xdp_steer_prog_fd(const struct xdp_steer *s);
int xdp_steer_xsks_map_fd(const struct xdp_steer *s);

/**
 * Sum the per-CPU counters into @out. Counters are never reset, so
 * callers compare two snapshots. @return 0, -EINVAL, -errno.
 * Any thread (reads only).
 */
int xdp_steer_stats(const struct xdp_steer *s, struct xdp_steer_stats *out);

/** Name of reason @r ("redirect_prefix4", ...), or "unknown". Any thread. */
const char *xdp_steer_reason_name(unsigned int r);

#endif /* !__bpf__ */
#endif
