/*
 * ring_proto: the records sluice-ctrl and sluice-dp exchange over the
 * shared-memory rings (docs/ring-protocol.md is the normative description).
 *
 * Both rings carry fixed-size records copied by value: struct ring_cmd
 * (ctrl -> dp) and struct ring_evt (dp -> ctrl), 128 bytes each, two cache
 * lines. Fixed size means the ring element size *is* the record size, so a
 * record can never be truncated or run into the next one, and a reader
 * validates a private copy (rte_ring dequeue copies) rather than memory the
 * other process can still change under it.
 *
 * Every field has an explicit width. Integers are in host byte order (both
 * ends are on one host, built from one tree); addresses are byte arrays in
 * network order, IPv4 in the first 4 bytes with the other 12 zero. Every
 * byte that is not a defined field of the record's type is reserved and must
 * be zero, which keeps the encoding canonical and leaves room to define
 * fields later under a new version without ambiguity.
 *
 * Validation follows WireGuard: a record is accepted only at its exact size,
 * every field is range-checked before anything reads it as meaning, and the
 * first lie found is reported as one enum ring_bad reason, which dp sends
 * back in the error acknowledgement so ctrl can log exactly what it got
 * wrong. A rejected record is never applied.
 *
 * Threading: every function here is pure (no global state) and may be called
 * from any thread.
 */
#ifndef SLUICE_RING_PROTO_H
#define SLUICE_RING_PROTO_H

#include <stddef.h>
#include <stdint.h>

/* Bump on any change of layout or meaning; dp rejects any other version. */
#define RING_PROTO_VERSION 1
#define RING_REC_SIZE 128
#define RING_BODY_SIZE 104

/* Address families on the wire (not AF_* so the values are ours to fix). */
#define RING_FAMILY_IPV4 4
#define RING_FAMILY_IPV6 6

#define RING_IFNAME_SIZE 16 /* IFNAMSIZ, NUL included */
#define RING_NAME_SIZE 16
#define RING_PATH_SIZE 64

/* Command types: X(name, value, body struct size). Values are wire values. */
#define RING_CMD_TYPES(X)                                            \
	X(POD_ADD, 1, sizeof(struct ring_pod))                        \
	X(POD_DEL, 2, sizeof(struct ring_pod_del))                    \
	X(PORT_ATTACH, 3, sizeof(struct ring_port))                   \
	X(PORT_DETACH, 4, sizeof(struct ring_port_del))               \
	X(ROUTE_ADD, 5, sizeof(struct ring_route))                    \
	X(ROUTE_DEL, 6, sizeof(struct ring_route_del))                \
	X(SVC_ADD, 7, sizeof(struct ring_svc))                        \
	X(SVC_DEL, 8, sizeof(struct ring_svc_del))                    \
	X(BACKEND_ADD, 9, sizeof(struct ring_backend))                \
	X(BACKEND_DEL, 10, sizeof(struct ring_backend_del))           \
	X(BACKEND_WEIGHT, 11, sizeof(struct ring_backend_weight))     \
	X(SYNC_BEGIN, 12, 0)                                          \
	X(SYNC_END, 13, 0)

enum ring_cmd_type {
#define RING_CMD_ENUM(name, val, size) RING_CMD_##name = val,
	RING_CMD_TYPES(RING_CMD_ENUM)
#undef RING_CMD_ENUM
	RING_CMD_MAX
};

/* Event types (dp -> ctrl). */
#define RING_EVT_TYPES(X)                                            \
	X(ACK, 1, sizeof(struct ring_ack))                            \
	X(LINK, 2, sizeof(struct ring_link))                          \
	X(STATS, 3, sizeof(struct ring_stats))                        \
	X(HEALTH, 4, sizeof(struct ring_health))

enum ring_evt_type {
#define RING_EVT_ENUM(name, val, size) RING_EVT_##name = val,
	RING_EVT_TYPES(RING_EVT_ENUM)
#undef RING_EVT_ENUM
	RING_EVT_MAX
};

enum ring_port_kind {
	RING_PORT_AF_XDP = 1,	  /* AF_XDP socket on a named (veth) interface */
	RING_PORT_MEMIF = 2,	  /* memif, dp is the server on path */
	RING_PORT_VHOST_USER = 3, /* vhost-user socket at path */
	RING_PORT_TAP = 4,	  /* tap interface named ifname */
	RING_PORT_KIND_MAX
};

enum ring_encap {
	RING_ENCAP_NONE = 0, /* routed directly on the underlay */
	RING_ENCAP_VXLAN = 1,
	RING_ENCAP_GENEVE = 2,
	RING_ENCAP_MAX
};

/*
 * Why a record was rejected. X(name, text). The value travels in the error
 * acknowledgement (struct ring_ack.reason), so append only.
 */
#define RING_BAD_REASONS(X)                                          \
	X(OK, "ok")                                                   \
	X(SIZE, "record is not exactly 128 bytes")                    \
	X(VERSION, "unsupported protocol version")                    \
	X(TYPE, "unknown record type")                                \
	X(RESERVED, "reserved field or padding is not zero")          \
	X(SEQ, "sequence number is zero")                             \
	X(GENERATION, "generation is zero")                           \
	X(FAMILY, "address family is not 4 or 6")                     \
	X(ADDR, "address has bytes set past its family's length")     \
	X(PREFIX_LEN, "prefix length exceeds the address length")     \
	X(HOST_BITS, "prefix has bits set past its length")           \
	X(MAC, "MAC is multicast or zero")                            \
	X(ID, "object id is zero")                                    \
	X(PORT_KIND, "unknown port kind")                             \
	X(IFNAME, "interface name missing where required, present where not, unterminated or has a character outside [A-Za-z0-9._-]") \
	X(PATH, "socket path missing where required, present where not, unterminated or not absolute [A-Za-z0-9._/-]") \
	X(NAME, "port name is empty, unterminated or has a character outside [A-Za-z0-9._-]") \
	X(ROLE, "port role is not 0 or 1, or 1 for a kind without roles") \
	X(ENCAP, "unknown encapsulation")                             \
	X(VNI, "VNI out of 24-bit range or set without encapsulation") \
	X(PROTO, "L4 protocol is not TCP (6) or UDP (17)")            \
	X(L4_PORT, "L4 port is zero")                                 \
	X(WEIGHT, "weight out of range 1..65535")                     \
	X(ERR, "ack error is not 0 or a negative errno")              \
	X(FLAG, "boolean field is not 0 or 1")

enum ring_bad {
#define RING_BAD_ENUM(name, text) RING_BAD_##name,
	RING_BAD_REASONS(RING_BAD_ENUM)
#undef RING_BAD_ENUM
	RING_BAD_MAX
};

/* ---- command bodies ---------------------------------------------------- */
/* 8< command bodies (docs/ring-protocol.md §2.1) */

/* POD_ADD: pod address -> (port, MAC). The port must be attached first. */
struct ring_pod {
	uint32_t pod_id;  /* nonzero, ctrl-assigned, stable for the pod's life */
	uint32_t port_id; /* nonzero, the port the pod sits behind */
	uint8_t family;	  /* RING_FAMILY_* */
	uint8_t reserved0;
	uint8_t mac[6];	  /* the pod's MAC: unicast, nonzero */
	uint8_t addr[16]; /* the pod's IP */
};

/* POD_DEL: the address is the dataplane's key; the id is for logs. */
struct ring_pod_del {
	uint32_t pod_id;
	uint8_t family;
	uint8_t reserved0[3];
	uint8_t addr[16];
};

/*
 * PORT_ATTACH: hot-plug a vdev. name is dp's name for the port (logs,
 * telemetry); ifname is the kernel interface for AF_XDP and tap and must be
 * empty for the socket kinds; path is the socket of memif and vhost-user
 * and must be empty for the others. All strings are NUL-terminated and
 * NUL-padded, and limited to characters that cannot break out of a vdev
 * argument string ("iface=...,path=..."). role 0: dp is the server (creates
 * the socket), 1: dp is the client; always 0 for AF_XDP and tap.
 */
struct ring_port {
	uint32_t port_id; /* nonzero; pods and routes refer to it */
	uint8_t kind;	  /* enum ring_port_kind */
	uint8_t role;
	uint16_t reserved0;
	char name[RING_NAME_SIZE];
	char ifname[RING_IFNAME_SIZE];
	char path[RING_PATH_SIZE];
};

struct ring_port_del {
	uint32_t port_id;
	uint32_t reserved0;
};

/*
 * ROUTE_ADD: another node's pod prefix, in one of two forms
 * (docs/ring-protocol.md, docs/multinode.md):
 *  - via a port: egress is port port_id (nonzero) towards the L2 next hop
 *    nh_mac (unicast, nonzero); nexthop (nh_family 0 = none) is the node's
 *    underlay address, needed when encap is not NONE;
 *  - via the uplink ("prefix P is behind the node at underlay IP U"):
 *    port_id == RING_PORT_UPLINK, nh_family 4 with nexthop U, nh_mac all
 *    zero (dp resolves U by ARP itself). encap NONE routes directly on the
 *    underlay, VXLAN encapsulates towards U with vni (0 = dp's configured
 *    cluster VNI).
 */
#define RING_PORT_UPLINK 0u /* port_id of a route via dp's configured uplink */
struct ring_route {
	uint8_t family;	    /* of prefix */
	uint8_t prefix_len; /* <= 32 or 128; host bits must be zero */
	uint8_t encap;	    /* enum ring_encap */
	uint8_t nh_family;  /* of nexthop: 0 (none), 4 or 6 */
	uint32_t node_id;   /* nonzero */
	uint32_t vni;	    /* < 2^24; zero when encap is NONE */
	uint32_t port_id;   /* an attached port, or RING_PORT_UPLINK */
	uint8_t prefix[16];
	uint8_t nexthop[16];
	uint8_t nh_mac[6];  /* unicast, nonzero; all zero via the uplink */
	uint8_t reserved0[2];
};

struct ring_route_del {
	uint8_t family;
	uint8_t prefix_len;
	uint16_t reserved0;
	uint32_t reserved1;
	uint8_t prefix[16];
};

/* SVC_ADD: a service VIP (ClusterIP or LB VIP) with L4 protocol and port. */
struct ring_svc {
	uint32_t svc_id; /* nonzero */
	uint8_t family;
	uint8_t proto; /* 6 or 17 */
	uint16_t port; /* nonzero, host order */
	uint8_t vip[16];
	uint32_t flags; /* RING_SVC_F_*; undefined bits must be zero */
};

/* SVC_ADD flags. ClientIP session affinity: Maglev hashes the client
 * address only, so one client reaches one backend (docs/lb.md). */
#define RING_SVC_F_AFFINITY_CLIENTIP 0x1u
/* Direct server return by IPIP encapsulation instead of full NAT: the LB
 * node tunnels the client's packet to the backend pod, whose node rewrites
 * it and sends the replies straight to the client (docs/lb.md "DSR"). */
#define RING_SVC_F_DSR 0x2u
#define RING_SVC_F_MASK 0x3u

struct ring_svc_del {
	uint32_t svc_id;
	uint32_t reserved0;
};

struct ring_backend {
	uint32_t svc_id;     /* nonzero */
	uint32_t backend_id; /* nonzero, unique within the service */
	uint8_t family;
	uint8_t reserved0;
	uint16_t port;	     /* nonzero, host order */
	uint32_t weight;     /* 1..65535 (Maglev table share) */
	uint8_t addr[16];
};

struct ring_backend_del {
	uint32_t svc_id;
	uint32_t backend_id;
};

struct ring_backend_weight {
	uint32_t svc_id;
	uint32_t backend_id;
	uint32_t weight;
	uint32_t reserved0;
};

/* >8 command bodies */

/* 8< struct ring_cmd (docs/ring-protocol.md §2) */
/*
 * A command. seq is ctrl's per-connection counter (nonzero, increasing) that
 * the ACK echoes. generation tags what the command installs: SYNC_BEGIN(g)
 * announces a full replay under g, every add carries g, and SYNC_END(g) makes
 * dp sweep everything installed under an older generation.
 */
struct ring_cmd {
	uint8_t version; /* RING_PROTO_VERSION */
	uint8_t type;	 /* enum ring_cmd_type */
	uint16_t reserved0;
	uint32_t reserved1;
	uint64_t seq;
	uint64_t generation;
	union {
		struct ring_pod pod;
		struct ring_pod_del pod_del;
		struct ring_port port;
		struct ring_port_del port_del;
		struct ring_route route;
		struct ring_route_del route_del;
		struct ring_svc svc;
		struct ring_svc_del svc_del;
		struct ring_backend backend;
		struct ring_backend_del backend_del;
		struct ring_backend_weight backend_weight;
		uint8_t raw[RING_BODY_SIZE];
	} u;
};
/* >8 struct ring_cmd */

/* ---- event bodies ------------------------------------------------------ */
/* 8< events (docs/ring-protocol.md §2.2) */

/* ACK: one per command, in command order; err = 0 or -errno. */
struct ring_ack {
	uint8_t cmd_type;
	uint8_t reserved0;
	uint16_t reason; /* enum ring_bad when the record was malformed */
	int32_t err;
};

struct ring_link {
	uint32_t port_id;
	uint8_t up; /* 0 or 1 */
	uint8_t reserved0[3];
	uint32_t speed_mbps;
	uint32_t reserved1;
};

struct ring_stats {
	uint32_t port_id;
	uint32_t reserved0;
	uint64_t rx_pkts;
	uint64_t rx_bytes;
	uint64_t tx_pkts;
	uint64_t tx_bytes;
	uint64_t rx_drops;
	uint64_t tx_drops;
};

struct ring_health {
	uint32_t svc_id;
	uint32_t backend_id;
	uint8_t healthy; /* 0 or 1 */
	uint8_t reserved0[7];
};

/*
 * An event. For ACK, seq is the acknowledged command's seq; for the others
 * it is dp's own event counter. generation is dp's last completed sync.
 */
struct ring_evt {
	uint8_t version;
	uint8_t type; /* enum ring_evt_type */
	uint16_t reserved0;
	uint32_t reserved1;
	uint64_t seq;
	uint64_t generation;
	union {
		struct ring_ack ack;
		struct ring_link link;
		struct ring_stats stats;
		struct ring_health health;
		uint8_t raw[RING_BODY_SIZE];
	} u;
};
/* >8 events */

_Static_assert(sizeof(struct ring_cmd) == RING_REC_SIZE, "ring_cmd size");
_Static_assert(sizeof(struct ring_evt) == RING_REC_SIZE, "ring_evt size");
_Static_assert(offsetof(struct ring_cmd, u) == 24, "ring_cmd header");
_Static_assert(sizeof(struct ring_port) == RING_BODY_SIZE, "ring_port");
_Static_assert(sizeof(struct ring_route) == 56, "ring_route");
_Static_assert(sizeof(struct ring_pod) == 32, "ring_pod");
_Static_assert(sizeof(struct ring_stats) == 56, "ring_stats");

/*
 * Start a command: zero the whole record (so every reserved byte is zero)
 * and fill the header. The caller fills the body of *c. Any thread.
 */
void ring_cmd_init(struct ring_cmd *c, enum ring_cmd_type type, uint64_t seq,
		   uint64_t generation);
void ring_evt_init(struct ring_evt *e, enum ring_evt_type type, uint64_t seq,
		   uint64_t generation);

/*
 * Validate a command in memory the caller owns. Returns RING_BAD_OK or the
 * first reason the record is malformed. Reads only *c.
 */
enum ring_bad ring_cmd_check(const struct ring_cmd *c);
enum ring_bad ring_evt_check(const struct ring_evt *e);

/*
 * Decode untrusted bytes: accept only exactly RING_REC_SIZE bytes, copy them
 * into *out (so later reads cannot race a writer) and validate the copy.
 * Returns 0, -EINVAL (malformed) or -EPROTONOSUPPORT (other version); *why
 * (may be NULL) gets the reason. *out is filled even when rejected, for
 * the error ACK's seq and type.
 */
int ring_cmd_decode(const void *buf, size_t len, struct ring_cmd *out,
		    enum ring_bad *why);
int ring_evt_decode(const void *buf, size_t len, struct ring_evt *out,
		    enum ring_bad *why);

/* Static names; "?" for values outside the enums. Never NULL. */
const char *ring_cmd_type_name(unsigned type);
const char *ring_evt_type_name(unsigned type);
const char *ring_bad_str(unsigned why);
const char *ring_port_kind_name(unsigned kind);

/* Parse a port kind name ("af_xdp", "memif", "vhost_user", "tap"); 0 if unknown. */
unsigned ring_port_kind_parse(const char *name);

#endif
