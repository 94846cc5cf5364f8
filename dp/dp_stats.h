/*
 * dp_stats: the single list of sluice-dp drop reasons and fast-path events.
 *
 * One X-macro list generates the enum, the names exported to telemetry and
 * the size of the per-lcore counter arrays, so a new reason cannot be
 * counted without also being named (STYLE 11). Names are stable: scripts
 * and dashboards read them from /sluice/stats as "drop_<name>".
 */
#ifndef SLUICE_DP_STATS_H
#define SLUICE_DP_STATS_H

/* _(ENUM_SUFFIX, "name", "why the packet was dropped") */
#define DP_FOREACH_DROP(_)                                                      \
	_(ETH_SHORT, "eth_short", "frame shorter than an Ethernet header")      \
	_(VLAN, "vlan", "VLAN-tagged frame (not supported)")                    \
	_(L2_OTHER_HOST, "l2_other_host", "unicast to a MAC that is not the gateway's") \
	_(L2_MCAST_IP, "l2_mcast_ip", "IPv4 in a broadcast/multicast frame")    \
	_(ARP_MALFORMED, "arp_malformed", "ARP shorter than its header or not Ethernet/IPv4") \
	_(ARP_IGNORED, "arp_ignored", "ARP reply, probe or request for an address dp does not answer") \
	_(IPV6, "ipv6", "IPv6 (not routed yet)")                                \
	_(ETHERTYPE, "ethertype", "neither ARP, IPv4 nor IPv6")                 \
	_(IP_MALFORMED, "ip_malformed", "IPv4 header lies about version or lengths") \
	_(IP_CSUM, "ip_csum", "bad IPv4 header checksum")                      \
	_(TTL_EXCEEDED, "ttl_exceeded", "TTL <= 1 on a packet to forward")      \
	_(NO_POD, "no_pod", "destination inside the pod CIDR but no such pod")  \
	_(NO_ROUTE, "no_route", "no pod, host or route for the destination")   \
	_(LOCAL, "local", "to the gateway IP but not an ICMP echo request")    \
	_(MTU_EXCEEDED, "mtu_exceeded", "larger than the output port's MTU (dp does not fragment)") \
	_(MULTISEG, "multiseg", "chained mbuf (never produced by our ports)")  \
	_(TX_FULL, "tx_full", "tx queue full")                                  \
	_(NEIGH_UNRESOLVED, "neigh_unresolved", "underlay next hop not resolved by ARP yet (or failed)") \
	_(ENCAP_HEADROOM, "encap_headroom", "no mbuf headroom for the VXLAN outer headers") \
	_(VXLAN_MALFORMED, "vxlan_malformed", "UDP to the node's underlay IP that is not valid VXLAN, or a bad inner frame") \
	_(VXLAN_VNI, "vxlan_vni", "VXLAN with a VNI other than the cluster's") \
	_(UPLINK_ARP, "uplink_arp", "ARP on the uplink (the node's kernel owns ARP there)") \
	_(UPLINK_UNROUTABLE, "uplink_unroutable", "outside the cluster, no route, and neither on the uplink's subnet nor a uplink.gateway (or the subnet's own/broadcast address)") \
	/* load balancer (dp/lb_fwd.c, docs/lb.md) */                            \
	_(LB_NO_SERVICE, "lb_no_service", "to a VIP on a port or protocol no service has") \
	_(LB_NO_BACKEND, "lb_no_backend", "new flow to a service with no backend of non-zero weight") \
	_(LB_CT_FULL, "lb_ct_full", "conntrack refused a new flow (live established flows only) or no SNAT port") \
	_(LB_NO_FLOW, "lb_no_flow", "reply, later fragment or ICMP error matching no tracked LB flow") \
	_(LB_MALFORMED, "lb_malformed", "LB packet shorter than its L4 header, or an ICMP that is not an error about TCP/UDP") \
	_(LB_HANDOFF_FULL, "lb_handoff_full", "reply for a flow of another worker, whose hand-off ring was full") \
	_(LB_DSR_IPIP, "lb_dsr_ipip", "IPIP that is not DSR traffic for a backend pod of this node (malformed, fragmented, not to a DSR VIP:port, not to one of its backends)")

/* _(ENUM_SUFFIX, "name") events that are not drops */
#define DP_FOREACH_EVENT(_)                                                     \
	_(RX, "rx")                                                              \
	_(TX, "tx")                                                              \
	_(FORWARDED, "forwarded")                                                \
	_(TO_HOST, "to_host")                                                    \
	_(ARP_REPLY, "arp_reply")                                                \
	_(ICMP_ECHO_REPLY, "icmp_echo_reply")                                    \
	_(ICMP_ERROR, "icmp_error_sent")                                         \
	_(ICMP_RATELIMITED, "icmp_error_ratelimited")                           \
	_(BUSY_CYCLES, "busy_cycles")                                            \
	_(VXLAN_ENCAP, "vxlan_encap")                                            \
	_(VXLAN_DECAP, "vxlan_decap")                                            \
	_(TO_UPLINK, "to_uplink")                                                \
	_(ICMP_OVERLAY_SUPPRESSED, "icmp_error_overlay_suppressed")

#define DP_DROP_ENUM(e, n, d) DP_DROP_##e,
enum dp_drop { DP_DROP_NONE = 0, DP_FOREACH_DROP(DP_DROP_ENUM) DP_DROP_MAX };
#undef DP_DROP_ENUM

#define DP_EV_ENUM(e, n) DP_EV_##e,
enum dp_ev { DP_FOREACH_EVENT(DP_EV_ENUM) DP_EV_MAX };
#undef DP_EV_ENUM

/* Names indexed by enum value; dp_drop_names[DP_DROP_NONE] is "none". */
extern const char *const dp_drop_names[DP_DROP_MAX];
extern const char *const dp_drop_descr[DP_DROP_MAX];
extern const char *const dp_ev_names[DP_EV_MAX];

#endif
