/*
 * Unit tests of ring_proto: table-driven, one numbered case per lie.
 *
 * Each case starts from a valid record of one type, overwrites `width`
 * bytes at `off` (an integer in host order, or raw bytes) and expects the
 * validator to name exactly one reason. A second sweep sets every byte past
 * each type's body, one at a time, and expects RING_BAD_RESERVED, so a
 * field added to a body without updating the size table fails here.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include <sluice/ring_proto.h>

static void base_cmd(struct ring_cmd *c, unsigned type)
{
	ring_cmd_init(c, (enum ring_cmd_type)type, 7, 3);
	switch (type) {
	case RING_CMD_POD_ADD:
		c->u.pod.pod_id = 1;
		c->u.pod.port_id = 2;
		c->u.pod.family = RING_FAMILY_IPV4;
		memcpy(c->u.pod.mac, "\x02\x00\x00\x00\x00\x01", 6);
		memcpy(c->u.pod.addr, "\x0a\x00\x00\x02", 4);
		break;
	case RING_CMD_POD_DEL:
		c->u.pod_del.pod_id = 1;
		c->u.pod_del.family = RING_FAMILY_IPV4;
		memcpy(c->u.pod_del.addr, "\x0a\x00\x00\x02", 4);
		break;
	case RING_CMD_PORT_ATTACH:
		c->u.port.port_id = 2;
		c->u.port.kind = RING_PORT_AF_XDP;
		strcpy(c->u.port.name, "pod1");
		strcpy(c->u.port.ifname, "veth-p1");
		break;
	case RING_CMD_PORT_DETACH:
		c->u.port_del.port_id = 2;
		break;
	case RING_CMD_ROUTE_ADD:
		c->u.route.family = RING_FAMILY_IPV4;
		c->u.route.prefix_len = 24;
		c->u.route.node_id = 9;
		c->u.route.port_id = 1;
		memcpy(c->u.route.prefix, "\x0a\x01\x02\x00", 4);
		memcpy(c->u.route.nh_mac, "\x02\x00\x00\x00\x00\x09", 6);
		break;
	case RING_CMD_ROUTE_DEL:
		c->u.route_del.family = RING_FAMILY_IPV4;
		c->u.route_del.prefix_len = 24;
		memcpy(c->u.route_del.prefix, "\x0a\x01\x02\x00", 4);
		break;
	case RING_CMD_SVC_ADD:
		c->u.svc.svc_id = 5;
		c->u.svc.family = RING_FAMILY_IPV4;
		c->u.svc.proto = 6;
		c->u.svc.port = 80;
		memcpy(c->u.svc.vip, "\x0a\x60\x00\x01", 4);
		break;
	case RING_CMD_SVC_DEL:
		c->u.svc_del.svc_id = 5;
		break;
	case RING_CMD_BACKEND_ADD:
		c->u.backend.svc_id = 5;
		c->u.backend.backend_id = 1;
		c->u.backend.family = RING_FAMILY_IPV4;
		c->u.backend.port = 8080;
		c->u.backend.weight = 100;
		memcpy(c->u.backend.addr, "\x0a\x00\x00\x02", 4);
		break;
	case RING_CMD_BACKEND_DEL:
		c->u.backend_del.svc_id = 5;
		c->u.backend_del.backend_id = 1;
		break;
	case RING_CMD_BACKEND_WEIGHT:
		c->u.backend_weight.svc_id = 5;
		c->u.backend_weight.backend_id = 1;
		c->u.backend_weight.weight = 1;
		break;
	default:
		break;
	}
}

#define CMD(f) offsetof(struct ring_cmd, f)
#define EVT(f) offsetof(struct ring_evt, f)

struct tcase {
	const char *name;
	unsigned type;
	size_t off;
	size_t width;
	uint64_t val;
	const char *bytes; /* if set: width raw bytes instead of val */
	enum ring_bad expect;
};

static void put(void *rec, const struct tcase *t)
{
	uint8_t *p = (uint8_t *)rec + t->off;

	if (t->bytes != NULL) {
		memcpy(p, t->bytes, t->width);
	} else if (t->width == 1) {
		uint8_t v = (uint8_t)t->val;
		memcpy(p, &v, 1);
	} else if (t->width == 2) {
		uint16_t v = (uint16_t)t->val;
		memcpy(p, &v, 2);
	} else if (t->width == 4) {
		uint32_t v = (uint32_t)t->val;
		memcpy(p, &v, 4);
	} else {
		memcpy(p, &t->val, 8);
	}
}

static const struct tcase cmd_cases[] = {
	/* 1-9: header */
	{"version 0", RING_CMD_POD_ADD, CMD(version), 1, 0, NULL, RING_BAD_VERSION},
	{"version 2", RING_CMD_POD_ADD, CMD(version), 1, 2, NULL, RING_BAD_VERSION},
	{"type 0", RING_CMD_POD_ADD, CMD(type), 1, 0, NULL, RING_BAD_TYPE},
	{"type past last", RING_CMD_POD_ADD, CMD(type), 1, RING_CMD_MAX, NULL, RING_BAD_TYPE},
	{"type 255", RING_CMD_POD_ADD, CMD(type), 1, 255, NULL, RING_BAD_TYPE},
	{"header reserved0", RING_CMD_POD_ADD, CMD(reserved0), 2, 1, NULL, RING_BAD_RESERVED},
	{"header reserved1", RING_CMD_SYNC_END, CMD(reserved1), 4, 0x80000000u, NULL, RING_BAD_RESERVED},
	{"seq 0", RING_CMD_POD_ADD, CMD(seq), 8, 0, NULL, RING_BAD_SEQ},
	{"generation 0", RING_CMD_SYNC_BEGIN, CMD(generation), 8, 0, NULL, RING_BAD_GENERATION},
	/* 10-17: pod */
	{"pod id 0", RING_CMD_POD_ADD, CMD(u.pod.pod_id), 4, 0, NULL, RING_BAD_ID},
	{"pod port 0", RING_CMD_POD_ADD, CMD(u.pod.port_id), 4, 0, NULL, RING_BAD_ID},
	{"pod reserved", RING_CMD_POD_ADD, CMD(u.pod.reserved0), 1, 1, NULL, RING_BAD_RESERVED},
	{"pod family 5", RING_CMD_POD_ADD, CMD(u.pod.family), 1, 5, NULL, RING_BAD_FAMILY},
	{"pod family 0", RING_CMD_POD_ADD, CMD(u.pod.family), 1, 0, NULL, RING_BAD_FAMILY},
	{"pod v4 addr byte 4", RING_CMD_POD_ADD, CMD(u.pod.addr) + 4, 1, 1, NULL, RING_BAD_ADDR},
	{"pod v4 addr byte 15", RING_CMD_POD_ADD, CMD(u.pod.addr) + 15, 1, 1, NULL, RING_BAD_ADDR},
	{"pod mac multicast", RING_CMD_POD_ADD, CMD(u.pod.mac), 1, 0x01, NULL, RING_BAD_MAC},
	{"pod mac zero", RING_CMD_POD_ADD, CMD(u.pod.mac), 6, 0, "\0\0\0\0\0\0", RING_BAD_MAC},
	{"pod mac broadcast", RING_CMD_POD_ADD, CMD(u.pod.mac), 6, 0, "\xff\xff\xff\xff\xff\xff", RING_BAD_MAC},
	/* pod del */
	{"pod del id 0", RING_CMD_POD_DEL, CMD(u.pod_del.pod_id), 4, 0, NULL, RING_BAD_ID},
	{"pod del reserved", RING_CMD_POD_DEL, CMD(u.pod_del.reserved0) + 2, 1, 9, NULL, RING_BAD_RESERVED},
	{"pod del family", RING_CMD_POD_DEL, CMD(u.pod_del.family), 1, 7, NULL, RING_BAD_FAMILY},
	{"pod del addr tail", RING_CMD_POD_DEL, CMD(u.pod_del.addr) + 8, 1, 7, NULL, RING_BAD_ADDR},
	/* port attach */
	{"port id 0", RING_CMD_PORT_ATTACH, CMD(u.port.port_id), 4, 0, NULL, RING_BAD_ID},
	{"port kind 0", RING_CMD_PORT_ATTACH, CMD(u.port.kind), 1, 0, NULL, RING_BAD_PORT_KIND},
	{"port kind past last", RING_CMD_PORT_ATTACH, CMD(u.port.kind), 1, RING_PORT_KIND_MAX, NULL, RING_BAD_PORT_KIND},
	{"port reserved", RING_CMD_PORT_ATTACH, CMD(u.port.reserved0), 2, 0x100, NULL, RING_BAD_RESERVED},
	{"port role 2", RING_CMD_PORT_ATTACH, CMD(u.port.role), 1, 2, NULL, RING_BAD_ROLE},
	{"port role 1 on af_xdp", RING_CMD_PORT_ATTACH, CMD(u.port.role), 1, 1, NULL, RING_BAD_ROLE},
	{"port name empty", RING_CMD_PORT_ATTACH, CMD(u.port.name), 5, 0, "\0\0\0\0\0", RING_BAD_NAME},
	{"port name unterminated", RING_CMD_PORT_ATTACH, CMD(u.port.name), 16, 0, "aaaaaaaaaaaaaaaa", RING_BAD_NAME},
	{"port name comma", RING_CMD_PORT_ATTACH, CMD(u.port.name), 4, 0, "a,b", RING_BAD_NAME},
	{"port name junk after NUL", RING_CMD_PORT_ATTACH, CMD(u.port.name) + 10, 1, 'x', NULL, RING_BAD_NAME},
	{"port ifname missing", RING_CMD_PORT_ATTACH, CMD(u.port.ifname), 8, 0, "\0\0\0\0\0\0\0\0", RING_BAD_IFNAME},
	{"port ifname equals", RING_CMD_PORT_ATTACH, CMD(u.port.ifname), 4, 0, "a=b", RING_BAD_IFNAME},
	{"port ifname space", RING_CMD_PORT_ATTACH, CMD(u.port.ifname), 4, 0, "a b", RING_BAD_IFNAME},
	{"port ifname unterminated", RING_CMD_PORT_ATTACH, CMD(u.port.ifname), 16, 0, "vvvvvvvvvvvvvvvv", RING_BAD_IFNAME},
	{"port path on af_xdp", RING_CMD_PORT_ATTACH, CMD(u.port.path), 3, 0, "/x", RING_BAD_PATH},
	{"port path junk", RING_CMD_PORT_ATTACH, CMD(u.port.path) + 63, 1, 'x', NULL, RING_BAD_PATH},
	/* route add */
	{"route reserved", RING_CMD_ROUTE_ADD, CMD(u.route.reserved0) + 1, 1, 1, NULL, RING_BAD_RESERVED},
	{"route node 0", RING_CMD_ROUTE_ADD, CMD(u.route.node_id), 4, 0, NULL, RING_BAD_ID},
	{"route port 0", RING_CMD_ROUTE_ADD, CMD(u.route.port_id), 4, 0, NULL, RING_BAD_ID},
	{"route family 0", RING_CMD_ROUTE_ADD, CMD(u.route.family), 1, 0, NULL, RING_BAD_FAMILY},
	{"route plen 33", RING_CMD_ROUTE_ADD, CMD(u.route.prefix_len), 1, 33, NULL, RING_BAD_PREFIX_LEN},
	{"route host bits", RING_CMD_ROUTE_ADD, CMD(u.route.prefix) + 3, 1, 1, NULL, RING_BAD_HOST_BITS},
	{"route host bit /23", RING_CMD_ROUTE_ADD, CMD(u.route.prefix_len), 1, 23, NULL, RING_BAD_OK},
	{"route v4 prefix tail", RING_CMD_ROUTE_ADD, CMD(u.route.prefix) + 4, 1, 1, NULL, RING_BAD_ADDR},
	{"route nexthop without family", RING_CMD_ROUTE_ADD, CMD(u.route.nexthop), 1, 10, NULL, RING_BAD_ADDR},
	{"route nh family 5", RING_CMD_ROUTE_ADD, CMD(u.route.nh_family), 1, 5, NULL, RING_BAD_FAMILY},
	{"route encap 3", RING_CMD_ROUTE_ADD, CMD(u.route.encap), 1, 3, NULL, RING_BAD_ENCAP},
	{"route vxlan without underlay", RING_CMD_ROUTE_ADD, CMD(u.route.encap), 1, RING_ENCAP_VXLAN, NULL, RING_BAD_ENCAP},
	{"route vni without encap", RING_CMD_ROUTE_ADD, CMD(u.route.vni), 4, 1, NULL, RING_BAD_VNI},
	{"route nh mac multicast", RING_CMD_ROUTE_ADD, CMD(u.route.nh_mac), 1, 0x03, NULL, RING_BAD_MAC},
	/* route del */
	{"route del reserved0", RING_CMD_ROUTE_DEL, CMD(u.route_del.reserved0), 2, 1, NULL, RING_BAD_RESERVED},
	{"route del reserved1", RING_CMD_ROUTE_DEL, CMD(u.route_del.reserved1), 4, 1, NULL, RING_BAD_RESERVED},
	{"route del host bits", RING_CMD_ROUTE_DEL, CMD(u.route_del.prefix_len), 1, 8, NULL, RING_BAD_HOST_BITS},
	{"route del plen 200", RING_CMD_ROUTE_DEL, CMD(u.route_del.prefix_len), 1, 200, NULL, RING_BAD_PREFIX_LEN},
	/* services and backends */
	{"svc id 0", RING_CMD_SVC_ADD, CMD(u.svc.svc_id), 4, 0, NULL, RING_BAD_ID},
	{"svc proto icmp", RING_CMD_SVC_ADD, CMD(u.svc.proto), 1, 1, NULL, RING_BAD_PROTO},
	{"svc port 0", RING_CMD_SVC_ADD, CMD(u.svc.port), 2, 0, NULL, RING_BAD_L4_PORT},
	{"svc vip family", RING_CMD_SVC_ADD, CMD(u.svc.family), 1, 3, NULL, RING_BAD_FAMILY},
	{"svc del id 0", RING_CMD_SVC_DEL, CMD(u.svc_del.svc_id), 4, 0, NULL, RING_BAD_ID},
	{"svc del reserved", RING_CMD_SVC_DEL, CMD(u.svc_del.reserved0), 4, 1, NULL, RING_BAD_RESERVED},
	{"backend svc 0", RING_CMD_BACKEND_ADD, CMD(u.backend.svc_id), 4, 0, NULL, RING_BAD_ID},
	{"backend id 0", RING_CMD_BACKEND_ADD, CMD(u.backend.backend_id), 4, 0, NULL, RING_BAD_ID},
	{"backend reserved", RING_CMD_BACKEND_ADD, CMD(u.backend.reserved0), 1, 1, NULL, RING_BAD_RESERVED},
	{"backend weight 0", RING_CMD_BACKEND_ADD, CMD(u.backend.weight), 4, 0, NULL, RING_BAD_WEIGHT},
	{"backend weight 65536", RING_CMD_BACKEND_ADD, CMD(u.backend.weight), 4, 65536, NULL, RING_BAD_WEIGHT},
	{"backend port 0", RING_CMD_BACKEND_ADD, CMD(u.backend.port), 2, 0, NULL, RING_BAD_L4_PORT},
	{"backend addr tail", RING_CMD_BACKEND_ADD, CMD(u.backend.addr) + 12, 1, 1, NULL, RING_BAD_ADDR},
	{"backend del id 0", RING_CMD_BACKEND_DEL, CMD(u.backend_del.backend_id), 4, 0, NULL, RING_BAD_ID},
	{"weight reserved", RING_CMD_BACKEND_WEIGHT, CMD(u.backend_weight.reserved0), 4, 1, NULL, RING_BAD_RESERVED},
	{"weight 0 drains", RING_CMD_BACKEND_WEIGHT, CMD(u.backend_weight.weight), 4, 0, NULL, RING_BAD_OK},
	{"weight too big", RING_CMD_BACKEND_WEIGHT, CMD(u.backend_weight.weight), 4, 65536, NULL, RING_BAD_WEIGHT},
	{"svc unknown flag", RING_CMD_SVC_ADD, CMD(u.svc.flags), 4, 4, NULL, RING_BAD_FLAG},
	{"svc affinity ok", RING_CMD_SVC_ADD, CMD(u.svc.flags), 4, 1, NULL, RING_BAD_OK},
	{"svc dsr ok", RING_CMD_SVC_ADD, CMD(u.svc.flags), 4, 2, NULL, RING_BAD_OK},
	{"weight max ok", RING_CMD_BACKEND_WEIGHT, CMD(u.backend_weight.weight), 4, 65535, NULL, RING_BAD_OK},
	{"sync body byte", RING_CMD_SYNC_BEGIN, CMD(u.raw), 1, 1, NULL, RING_BAD_RESERVED},
	{"sync end last byte", RING_CMD_SYNC_END, CMD(u.raw) + 103, 1, 1, NULL, RING_BAD_RESERVED},
};

static void test_cmd_table(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(cmd_cases) / sizeof(cmd_cases[0]); i++) {
		const struct tcase *t = &cmd_cases[i];
		struct ring_cmd c, out;
		enum ring_bad why;

		base_cmd(&c, t->type);
		put(&c, t);
		int rc = ring_cmd_decode(&c, sizeof(c), &out, &why);
		if (why != t->expect)
			fail_msg("case %zu (%s): got %s, want %s", i + 1, t->name,
				 ring_bad_str(why), ring_bad_str(t->expect));
		assert_int_equal(rc, t->expect == RING_BAD_OK ? 0
				     : t->expect == RING_BAD_VERSION ? -EPROTONOSUPPORT
								    : -EINVAL);
		/* The copy is what was validated, and is what the caller uses. */
		assert_memory_equal(&out, &c, sizeof(c));
	}
}

/* Every base record is valid, and so are v6 and socket-kind variants. */
static void test_cmd_valid(void **state)
{
	struct ring_cmd c;

	(void)state;
	for (unsigned t = 1; t < RING_CMD_MAX; t++) {
		base_cmd(&c, t);
		if (ring_cmd_check(&c) != RING_BAD_OK)
			fail_msg("base %s rejected: %s", ring_cmd_type_name(t),
				 ring_bad_str(ring_cmd_check(&c)));
	}
	base_cmd(&c, RING_CMD_PORT_ATTACH);
	c.u.port.kind = RING_PORT_MEMIF;
	c.u.port.role = 1;
	memset(c.u.port.ifname, 0, sizeof(c.u.port.ifname));
	strcpy(c.u.port.path, "/run/sluice/memif/p1.sock");
	assert_int_equal(ring_cmd_check(&c), RING_BAD_OK);
	c.u.port.path[5] = ',';
	assert_int_equal(ring_cmd_check(&c), RING_BAD_PATH);
	strcpy(c.u.port.path, "/run/../etc/x");
	assert_int_equal(ring_cmd_check(&c), RING_BAD_PATH);
	memset(c.u.port.path, 0, sizeof(c.u.port.path));
	strcpy(c.u.port.path, "relative.sock");
	assert_int_equal(ring_cmd_check(&c), RING_BAD_PATH);
	memset(c.u.port.path, 0, sizeof(c.u.port.path));
	assert_int_equal(ring_cmd_check(&c), RING_BAD_PATH); /* memif needs a path */
	strcpy(c.u.port.path, "/s");
	strcpy(c.u.port.ifname, "eth0");
	assert_int_equal(ring_cmd_check(&c), RING_BAD_IFNAME); /* and no ifname */

	/* IPv6 route over a VXLAN tunnel with an IPv4 underlay. */
	base_cmd(&c, RING_CMD_ROUTE_ADD);
	memset(c.u.route.prefix, 0, 16);
	c.u.route.family = RING_FAMILY_IPV6;
	c.u.route.prefix_len = 64;
	memcpy(c.u.route.prefix, "\xfd\x00\x00\x00\x00\x00\x00\x01", 8);
	c.u.route.encap = RING_ENCAP_VXLAN;
	c.u.route.vni = (1u << 24) - 1;
	c.u.route.nh_family = RING_FAMILY_IPV4;
	memcpy(c.u.route.nexthop, "\xc0\x00\x02\x01", 4);
	assert_int_equal(ring_cmd_check(&c), RING_BAD_OK);
	c.u.route.vni = 1u << 24;
	assert_int_equal(ring_cmd_check(&c), RING_BAD_VNI);
	c.u.route.vni = 1;
	c.u.route.prefix_len = 129;
	assert_int_equal(ring_cmd_check(&c), RING_BAD_PREFIX_LEN);
	c.u.route.prefix_len = 63;
	assert_int_equal(ring_cmd_check(&c), RING_BAD_HOST_BITS);
}

/* Any byte past a type's body is reserved: set each, one at a time. */
static void test_cmd_tail_bytes(void **state)
{
	static const size_t body[] = {
		[RING_CMD_POD_ADD] = sizeof(struct ring_pod),
		[RING_CMD_POD_DEL] = sizeof(struct ring_pod_del),
		[RING_CMD_PORT_ATTACH] = sizeof(struct ring_port),
		[RING_CMD_PORT_DETACH] = sizeof(struct ring_port_del),
		[RING_CMD_ROUTE_ADD] = sizeof(struct ring_route),
		[RING_CMD_ROUTE_DEL] = sizeof(struct ring_route_del),
		[RING_CMD_SVC_ADD] = sizeof(struct ring_svc),
		[RING_CMD_SVC_DEL] = sizeof(struct ring_svc_del),
		[RING_CMD_BACKEND_ADD] = sizeof(struct ring_backend),
		[RING_CMD_BACKEND_DEL] = sizeof(struct ring_backend_del),
		[RING_CMD_BACKEND_WEIGHT] = sizeof(struct ring_backend_weight),
		[RING_CMD_SYNC_BEGIN] = 0,
		[RING_CMD_SYNC_END] = 0,
	};
	unsigned checked = 0;

	(void)state;
	for (unsigned t = 1; t < RING_CMD_MAX; t++) {
		for (size_t b = body[t]; b < RING_BODY_SIZE; b++) {
			struct ring_cmd c;
			base_cmd(&c, t);
			c.u.raw[b] = 0x5a;
			if (ring_cmd_check(&c) != RING_BAD_RESERVED)
				fail_msg("%s byte %zu: %s", ring_cmd_type_name(t), b,
					 ring_bad_str(ring_cmd_check(&c)));
			checked++;
		}
	}
	assert_true(checked > 500);
}

static void test_cmd_size(void **state)
{
	uint8_t buf[RING_REC_SIZE + 1];
	struct ring_cmd out;
	enum ring_bad why;

	(void)state;
	base_cmd((struct ring_cmd *)(void *)buf, RING_CMD_POD_ADD);
	assert_int_equal(ring_cmd_decode(buf, RING_REC_SIZE, &out, &why), 0);
	assert_int_equal(ring_cmd_decode(buf, RING_REC_SIZE - 1, &out, &why), -EINVAL);
	assert_int_equal(why, RING_BAD_SIZE);
	assert_int_equal(ring_cmd_decode(buf, RING_REC_SIZE + 1, &out, &why), -EINVAL);
	assert_int_equal(why, RING_BAD_SIZE);
	assert_int_equal(ring_cmd_decode(buf, 0, &out, NULL), -EINVAL);
}

static const struct tcase evt_cases[] = {
	{"ack ok", RING_EVT_ACK, EVT(u.ack.err), 4, 0, NULL, RING_BAD_OK},
	{"ack errno", RING_EVT_ACK, EVT(u.ack.err), 4, (uint32_t)-ENOENT, NULL, RING_BAD_OK},
	{"ack positive err", RING_EVT_ACK, EVT(u.ack.err), 4, 2, NULL, RING_BAD_ERR},
	{"ack huge negative", RING_EVT_ACK, EVT(u.ack.err), 4, (uint32_t)-5000, NULL, RING_BAD_ERR},
	{"ack seq 0", RING_EVT_ACK, EVT(seq), 8, 0, NULL, RING_BAD_SEQ},
	{"ack reserved", RING_EVT_ACK, EVT(u.ack.reserved0), 1, 1, NULL, RING_BAD_RESERVED},
	{"ack tail", RING_EVT_ACK, EVT(u.raw) + 8, 1, 1, NULL, RING_BAD_RESERVED},
	{"evt version", RING_EVT_ACK, EVT(version), 1, 9, NULL, RING_BAD_VERSION},
	{"evt type 0", RING_EVT_ACK, EVT(type), 1, 0, NULL, RING_BAD_TYPE},
	{"evt header reserved", RING_EVT_LINK, EVT(reserved1), 4, 1, NULL, RING_BAD_RESERVED},
	{"link up 2", RING_EVT_LINK, EVT(u.link.up), 1, 2, NULL, RING_BAD_FLAG},
	{"link port 0", RING_EVT_LINK, EVT(u.link.port_id), 4, 0, NULL, RING_BAD_ID},
	{"link reserved", RING_EVT_LINK, EVT(u.link.reserved0), 1, 1, NULL, RING_BAD_RESERVED},
	{"stats reserved", RING_EVT_STATS, EVT(u.stats.reserved0), 4, 1, NULL, RING_BAD_RESERVED},
	{"stats tail", RING_EVT_STATS, EVT(u.raw) + 56, 1, 1, NULL, RING_BAD_RESERVED},
	{"health healthy 3", RING_EVT_HEALTH, EVT(u.health.healthy), 1, 3, NULL, RING_BAD_FLAG},
	{"health backend 0", RING_EVT_HEALTH, EVT(u.health.backend_id), 4, 0, NULL, RING_BAD_ID},
};

static void test_evt_table(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(evt_cases) / sizeof(evt_cases[0]); i++) {
		const struct tcase *t = &evt_cases[i];
		struct ring_evt e, out;
		enum ring_bad why;

		ring_evt_init(&e, (enum ring_evt_type)t->type, 11, 2);
		if (t->type == RING_EVT_LINK)
			e.u.link.port_id = 1;
		if (t->type == RING_EVT_STATS)
			e.u.stats.port_id = 1;
		if (t->type == RING_EVT_HEALTH) {
			e.u.health.svc_id = 1;
			e.u.health.backend_id = 1;
		}
		if (t->type == RING_EVT_ACK)
			e.u.ack.cmd_type = RING_CMD_POD_ADD;
		put(&e, t);
		ring_evt_decode(&e, sizeof(e), &out, &why);
		if (why != t->expect)
			fail_msg("evt case %zu (%s): got %s, want %s", i + 1, t->name,
				 ring_bad_str(why), ring_bad_str(t->expect));
	}
}

static void test_names(void **state)
{
	(void)state;
	assert_string_equal(ring_cmd_type_name(RING_CMD_ROUTE_ADD), "ROUTE_ADD");
	assert_string_equal(ring_cmd_type_name(0), "?");
	assert_string_equal(ring_evt_type_name(RING_EVT_STATS), "STATS");
	assert_string_equal(ring_bad_str(RING_BAD_MAX), "?");
	assert_int_equal(ring_port_kind_parse("vhost_user"), RING_PORT_VHOST_USER);
	assert_int_equal(ring_port_kind_parse("pcap"), 0);
	assert_string_equal(ring_port_kind_name(RING_PORT_TAP), "tap");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_cmd_table),
		cmocka_unit_test(test_cmd_valid),
		cmocka_unit_test(test_cmd_tail_bytes),
		cmocka_unit_test(test_cmd_size),
		cmocka_unit_test(test_evt_table),
		cmocka_unit_test(test_names),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
