/*
 * ring_proto: encode and validate ring records (include/sluice/ring_proto.h).
 *
 * Linked by both sluice-dp (validates every command before applying it) and
 * sluice-ctrl (validates every event), so there is one definition of "well
 * formed". The checks run on a private copy and in a fixed order: header
 * first (version before anything else, since another version may mean
 * another layout), then the reserved tail past the type's body, then the
 * body's fields. The first failure wins, which makes the reason a test can
 * assert on deterministic.
 */
#include <errno.h>
#include <string.h>

#include <sluice/ring_proto.h>

void ring_cmd_init(struct ring_cmd *c, enum ring_cmd_type type, uint64_t seq,
		   uint64_t generation)
{
	memset(c, 0, sizeof(*c));
	c->version = RING_PROTO_VERSION;
	c->type = (uint8_t)type;
	c->seq = seq;
	c->generation = generation;
}

void ring_evt_init(struct ring_evt *e, enum ring_evt_type type, uint64_t seq,
		   uint64_t generation)
{
	memset(e, 0, sizeof(*e));
	e->version = RING_PROTO_VERSION;
	e->type = (uint8_t)type;
	e->seq = seq;
	e->generation = generation;
}

static int ring_all_zero(const void *p, size_t n)
{
	const uint8_t *b = p;

	for (size_t i = 0; i < n; i++)
		if (b[i] != 0)
			return 0;
	return 1;
}

static size_t ring_cmd_body_size(unsigned type)
{
	switch (type) {
#define RING_CMD_SIZE(name, val, size) \
	case val:                      \
		return size;
		RING_CMD_TYPES(RING_CMD_SIZE)
#undef RING_CMD_SIZE
	default:
		return (size_t)-1;
	}
}

static size_t ring_evt_body_size(unsigned type)
{
	switch (type) {
#define RING_EVT_SIZE(name, val, size) \
	case val:                      \
		return size;
		RING_EVT_TYPES(RING_EVT_SIZE)
#undef RING_EVT_SIZE
	default:
		return (size_t)-1;
	}
}

static size_t ring_family_len(uint8_t family)
{
	return family == RING_FAMILY_IPV4 ? 4 : family == RING_FAMILY_IPV6 ? 16 : 0;
}

/* An address: known family, and nothing past the family's length. */
static enum ring_bad ring_check_addr(uint8_t family, const uint8_t addr[16])
{
	size_t alen = ring_family_len(family);

	if (alen == 0)
		return RING_BAD_FAMILY;
	if (!ring_all_zero(addr + alen, 16 - alen))
		return RING_BAD_ADDR;
	return RING_BAD_OK;
}

/* Prefix: address check, length bound, and no host bits (canonical form). */
static enum ring_bad ring_check_prefix(uint8_t family, uint8_t plen,
				       const uint8_t prefix[16])
{
	enum ring_bad why = ring_check_addr(family, prefix);
	size_t alen = ring_family_len(family);

	if (why != RING_BAD_OK)
		return why;
	if (plen > alen * 8)
		return RING_BAD_PREFIX_LEN;
	for (size_t bit = plen; bit < alen * 8; bit++)
		if (prefix[bit / 8] & (0x80u >> (bit % 8)))
			return RING_BAD_HOST_BITS;
	return RING_BAD_OK;
}

/*
 * A name that is pasted into a vdev argument string must not carry ',' or
 * '=' (it would add arguments), nor anything a shell or the kernel treats
 * specially: allow [A-Za-z0-9._-] and, for paths, '/'. The string must end
 * within the field and the padding after it must be zero.
 */
static int ring_check_str(const char *s, size_t size, int path)
{
	size_t n = strnlen(s, size);

	if (n == size)
		return -1; /* unterminated */
	for (size_t i = 0; i < n; i++) {
		char ch = s[i];
		int ok = (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
			 (ch >= '0' && ch <= '9') || ch == '.' || ch == '_' ||
			 ch == '-' || (path && ch == '/');
		if (!ok)
			return -1;
	}
	if (!ring_all_zero(s + n, size - n))
		return -1;
	if (path && n > 0 && s[0] != '/')
		return -1;
	/* ".." in a path could escape the socket directory dp was given. */
	if (path && strstr(s, "..") != NULL)
		return -1;
	return (int)(n > 0);
}

static enum ring_bad ring_check_port(const struct ring_port *p)
{
	int sock = p->kind == RING_PORT_MEMIF || p->kind == RING_PORT_VHOST_USER;

	if (p->port_id == 0)
		return RING_BAD_ID;
	if (p->kind == 0 || p->kind >= RING_PORT_KIND_MAX)
		return RING_BAD_PORT_KIND;
	if (p->reserved0 != 0)
		return RING_BAD_RESERVED;
	if (p->role > 1 || (p->role == 1 && !sock))
		return RING_BAD_ROLE;
	if (ring_check_str(p->name, sizeof(p->name), 0) != 1)
		return RING_BAD_NAME;
	int has_if = ring_check_str(p->ifname, sizeof(p->ifname), 0);
	if (has_if < 0 || has_if == sock)
		return RING_BAD_IFNAME;
	int has_path = ring_check_str(p->path, sizeof(p->path), 1);
	if (has_path < 0 || has_path != sock)
		return RING_BAD_PATH;
	return RING_BAD_OK;
}

static enum ring_bad ring_check_mac(const uint8_t mac[6])
{
	/* Group bit set = multicast/broadcast: never a pod's own address. */
	if ((mac[0] & 1) || ring_all_zero(mac, 6))
		return RING_BAD_MAC;
	return RING_BAD_OK;
}

static enum ring_bad ring_check_body(const struct ring_cmd *c)
{
	enum ring_bad why;

	switch (c->type) {
	case RING_CMD_POD_ADD:
		if (c->u.pod.pod_id == 0 || c->u.pod.port_id == 0)
			return RING_BAD_ID;
		if (c->u.pod.reserved0 != 0)
			return RING_BAD_RESERVED;
		if ((why = ring_check_addr(c->u.pod.family, c->u.pod.addr)))
			return why;
		return ring_check_mac(c->u.pod.mac);
	case RING_CMD_POD_DEL:
		if (c->u.pod_del.pod_id == 0)
			return RING_BAD_ID;
		if (!ring_all_zero(c->u.pod_del.reserved0, sizeof(c->u.pod_del.reserved0)))
			return RING_BAD_RESERVED;
		return ring_check_addr(c->u.pod_del.family, c->u.pod_del.addr);
	case RING_CMD_PORT_ATTACH:
		return ring_check_port(&c->u.port);
	case RING_CMD_PORT_DETACH:
		if (c->u.port_del.port_id == 0)
			return RING_BAD_ID;
		return c->u.port_del.reserved0 ? RING_BAD_RESERVED : RING_BAD_OK;
	case RING_CMD_ROUTE_ADD: {
		const struct ring_route *r = &c->u.route;
		if (!ring_all_zero(r->reserved0, sizeof(r->reserved0)))
			return RING_BAD_RESERVED;
		/* port_id 0 is RING_PORT_UPLINK: valid only with an underlay
		 * next hop (checked below, after the address). */
		if (r->node_id == 0 || (r->port_id == RING_PORT_UPLINK && r->nh_family == 0))
			return RING_BAD_ID;
		if ((why = ring_check_prefix(r->family, r->prefix_len, r->prefix)))
			return why;
		if (r->nh_family == 0) {
			if (!ring_all_zero(r->nexthop, sizeof(r->nexthop)))
				return RING_BAD_ADDR;
		} else if ((why = ring_check_addr(r->nh_family, r->nexthop))) {
			return why;
		}
		if (r->encap >= RING_ENCAP_MAX ||
		    (r->encap != RING_ENCAP_NONE && r->nh_family == 0))
			return RING_BAD_ENCAP; /* a tunnel needs an underlay address */
		if (r->vni >= (1u << 24) || (r->encap == RING_ENCAP_NONE && r->vni != 0))
			return RING_BAD_VNI;
		/* Via the uplink dp resolves the MAC by ARP: none may be given. */
		if (r->port_id == RING_PORT_UPLINK)
			return ring_all_zero(r->nh_mac, 6) ? RING_BAD_OK : RING_BAD_MAC;
		return ring_check_mac(r->nh_mac);
	}
	case RING_CMD_ROUTE_DEL: {
		const struct ring_route_del *r = &c->u.route_del;
		if (r->reserved0 != 0 || r->reserved1 != 0)
			return RING_BAD_RESERVED;
		return ring_check_prefix(r->family, r->prefix_len, r->prefix);
	}
	case RING_CMD_SVC_ADD: {
		const struct ring_svc *s = &c->u.svc;
		if (s->svc_id == 0)
			return RING_BAD_ID;
		if ((why = ring_check_addr(s->family, s->vip)))
			return why;
		if (s->proto != 6 && s->proto != 17)
			return RING_BAD_PROTO;
		if (s->flags & ~RING_SVC_F_MASK)
			return RING_BAD_FLAG;
		return s->port == 0 ? RING_BAD_L4_PORT : RING_BAD_OK;
	}
	case RING_CMD_SVC_DEL:
		if (c->u.svc_del.svc_id == 0)
			return RING_BAD_ID;
		return c->u.svc_del.reserved0 ? RING_BAD_RESERVED : RING_BAD_OK;
	case RING_CMD_BACKEND_ADD: {
		const struct ring_backend *b = &c->u.backend;
		if (b->svc_id == 0 || b->backend_id == 0)
			return RING_BAD_ID;
		if (b->reserved0 != 0)
			return RING_BAD_RESERVED;
		if ((why = ring_check_addr(b->family, b->addr)))
			return why;
		if (b->port == 0)
			return RING_BAD_L4_PORT;
		return b->weight == 0 || b->weight > 65535 ? RING_BAD_WEIGHT : RING_BAD_OK;
	}
	case RING_CMD_BACKEND_DEL:
		return c->u.backend_del.svc_id == 0 || c->u.backend_del.backend_id == 0
			       ? RING_BAD_ID
			       : RING_BAD_OK;
	case RING_CMD_BACKEND_WEIGHT: {
		const struct ring_backend_weight *w = &c->u.backend_weight;
		if (w->svc_id == 0 || w->backend_id == 0)
			return RING_BAD_ID;
		if (w->reserved0 != 0)
			return RING_BAD_RESERVED;
		/* 0 drains: existing flows stay, no new ones (docs/lb.md) */
		return w->weight > 65535 ? RING_BAD_WEIGHT : RING_BAD_OK;
	}
	case RING_CMD_SYNC_BEGIN:
	case RING_CMD_SYNC_END:
		return RING_BAD_OK; /* no body; the tail check covered it */
	default:
		return RING_BAD_TYPE;
	}
}

enum ring_bad ring_cmd_check(const struct ring_cmd *c)
{
	/* Version first: another version may have another layout entirely. */
	if (c->version != RING_PROTO_VERSION)
		return RING_BAD_VERSION;
	size_t body = ring_cmd_body_size(c->type);
	if (body == (size_t)-1)
		return RING_BAD_TYPE;
	if (c->reserved0 != 0 || c->reserved1 != 0)
		return RING_BAD_RESERVED;
	if (!ring_all_zero(c->u.raw + body, RING_BODY_SIZE - body))
		return RING_BAD_RESERVED;
	if (c->seq == 0)
		return RING_BAD_SEQ;
	if (c->generation == 0)
		return RING_BAD_GENERATION;
	return ring_check_body(c);
}

enum ring_bad ring_evt_check(const struct ring_evt *e)
{
	if (e->version != RING_PROTO_VERSION)
		return RING_BAD_VERSION;
	size_t body = ring_evt_body_size(e->type);
	if (body == (size_t)-1)
		return RING_BAD_TYPE;
	if (e->reserved0 != 0 || e->reserved1 != 0)
		return RING_BAD_RESERVED;
	if (!ring_all_zero(e->u.raw + body, RING_BODY_SIZE - body))
		return RING_BAD_RESERVED;
	switch (e->type) {
	case RING_EVT_ACK:
		if (e->seq == 0)
			return RING_BAD_SEQ;
		if (e->u.ack.reserved0 != 0)
			return RING_BAD_RESERVED;
		/* errno values are small positive ints; -4095 is the kernel's bound. */
		if (e->u.ack.err > 0 || e->u.ack.err < -4095)
			return RING_BAD_ERR;
		return RING_BAD_OK;
	case RING_EVT_LINK:
		if (e->u.link.reserved1 != 0 ||
		    !ring_all_zero(e->u.link.reserved0, sizeof(e->u.link.reserved0)))
			return RING_BAD_RESERVED;
		if (e->u.link.port_id == 0)
			return RING_BAD_ID;
		return e->u.link.up > 1 ? RING_BAD_FLAG : RING_BAD_OK;
	case RING_EVT_STATS:
		if (e->u.stats.reserved0 != 0)
			return RING_BAD_RESERVED;
		return e->u.stats.port_id == 0 ? RING_BAD_ID : RING_BAD_OK;
	case RING_EVT_HEALTH:
		if (!ring_all_zero(e->u.health.reserved0, sizeof(e->u.health.reserved0)))
			return RING_BAD_RESERVED;
		if (e->u.health.svc_id == 0 || e->u.health.backend_id == 0)
			return RING_BAD_ID;
		return e->u.health.healthy > 1 ? RING_BAD_FLAG : RING_BAD_OK;
	default:
		return RING_BAD_TYPE;
	}
}

static int ring_bad_errno(enum ring_bad why)
{
	if (why == RING_BAD_OK)
		return 0;
	return why == RING_BAD_VERSION ? -EPROTONOSUPPORT : -EINVAL;
}

int ring_cmd_decode(const void *buf, size_t len, struct ring_cmd *out,
		    enum ring_bad *why)
{
	enum ring_bad w;

	memset(out, 0, sizeof(*out));
	if (len != sizeof(*out)) {
		/* Fixed-size record: any other length is a framing lie. */
		w = RING_BAD_SIZE;
	} else {
		memcpy(out, buf, sizeof(*out));
		w = ring_cmd_check(out);
	}
	if (why != NULL)
		*why = w;
	return ring_bad_errno(w);
}

int ring_evt_decode(const void *buf, size_t len, struct ring_evt *out,
		    enum ring_bad *why)
{
	enum ring_bad w;

	memset(out, 0, sizeof(*out));
	if (len != sizeof(*out)) {
		w = RING_BAD_SIZE;
	} else {
		memcpy(out, buf, sizeof(*out));
		w = ring_evt_check(out);
	}
	if (why != NULL)
		*why = w;
	return ring_bad_errno(w);
}

const char *ring_cmd_type_name(unsigned type)
{
	switch (type) {
#define RING_CMD_NAME(name, val, size) \
	case val:                      \
		return #name;
		RING_CMD_TYPES(RING_CMD_NAME)
#undef RING_CMD_NAME
	default:
		return "?";
	}
}

const char *ring_evt_type_name(unsigned type)
{
	switch (type) {
#define RING_EVT_NAME(name, val, size) \
	case val:                      \
		return #name;
		RING_EVT_TYPES(RING_EVT_NAME)
#undef RING_EVT_NAME
	default:
		return "?";
	}
}

const char *ring_bad_str(unsigned why)
{
	static const char *const text[] = {
#define RING_BAD_TEXT(name, str) str,
		RING_BAD_REASONS(RING_BAD_TEXT)
#undef RING_BAD_TEXT
	};

	return why < RING_BAD_MAX ? text[why] : "?";
}

static const char *const ring_kind_names[RING_PORT_KIND_MAX] = {
	[RING_PORT_AF_XDP] = "af_xdp",
	[RING_PORT_MEMIF] = "memif",
	[RING_PORT_VHOST_USER] = "vhost_user",
	[RING_PORT_TAP] = "tap",
};

const char *ring_port_kind_name(unsigned kind)
{
	return kind > 0 && kind < RING_PORT_KIND_MAX ? ring_kind_names[kind] : "?";
}

unsigned ring_port_kind_parse(const char *name)
{
	for (unsigned k = 1; k < RING_PORT_KIND_MAX; k++)
		if (strcmp(name, ring_kind_names[k]) == 0)
			return k;
	return 0;
}
