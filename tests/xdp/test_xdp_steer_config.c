/*
 * Unit tests of xdp_steer's configuration values and parameter checks:
 * everything that must be rejected before the bpf syscall is reached, so
 * these run without root and under ASan/UBSan.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>

#include <cmocka.h>

#include "xdp_steer.h"

static struct xdp_steer_config cfg;

static int setup(void **state)
{
	(void)state;
	xdp_steer_config_init(&cfg);
	return 0;
}

static void test_init_defaults(void **state)
{
	(void)state;
	assert_int_equal(cfg.n_prefixes, 0);
	assert_int_equal(cfg.n_arp, 0);
	assert_int_equal(cfg.underlay_family, 0);
	assert_int_equal(cfg.vxlan_port, 4789);
	assert_int_equal(cfg.geneve_port, 6081);
	assert_int_equal(cfg.fallback_drop, 0);
	assert_int_equal(xdp_steer_config_validate(&cfg), 0);
}

static void test_prefix_good(void **state)
{
	static const uint8_t pod6[16] = {0xfd, 0x00, 0x02, 0x44, 0x00, 0x01};

	(void)state;
	assert_int_equal(xdp_steer_config_add_prefix(&cfg, "10.244.1.0/24"), 0);
	assert_int_equal(xdp_steer_config_add_prefix(&cfg, "10.96.0.10"), 0); /* VIP: /32 */
	assert_int_equal(xdp_steer_config_add_prefix(&cfg, "fd00:244:1::/48"), 0);
	assert_int_equal(xdp_steer_config_add_prefix(&cfg, "0.0.0.0/0"), 0);
	assert_int_equal(cfg.n_prefixes, 4);
	assert_int_equal(cfg.prefixes[0].family, AF_INET);
	assert_int_equal(cfg.prefixes[0].len, 24);
	assert_memory_equal(cfg.prefixes[0].addr, ((uint8_t[]){10, 244, 1, 0}), 4);
	assert_int_equal(cfg.prefixes[1].len, 32);
	assert_int_equal(cfg.prefixes[2].family, AF_INET6);
	assert_int_equal(cfg.prefixes[2].len, 48);
	assert_memory_equal(cfg.prefixes[2].addr, pod6, 16);
	assert_int_equal(cfg.prefixes[3].len, 0);
	assert_int_equal(xdp_steer_config_validate(&cfg), 0);
}

static void test_prefix_bad(void **state)
{
	static const char *const bad[] = {
		"10.244.1.1/24",  /* host bits set */
		"10.244.1.0/33",  /* too long */
		"fd00::/129",     /* too long */
		"fd00::1/64",     /* host bits set */
		"10.244.1.0/",    /* empty length */
		"10.244.1.0/-1",  /* sign */
		"10.244.1.0/+8",
		"10.244.1.0/ 8",
		"10.244.1.0/8x",
		"10.244.1.0/0008", /* more than 3 digits */
		"/24",
		"",
		"10.244.1/24",    /* not a dotted quad */
		"10.244.1.256/32",
		"pods",
		"10.244.1.0/24/8",
		"10.244.1.0 /24",
		"fd00::/64::",
		"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa/8",
	};

	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		int rc = xdp_steer_config_add_prefix(&cfg, bad[i]);

		if (rc != -EINVAL)
			fail_msg("\"%s\": got %d, want -EINVAL", bad[i], rc);
	}
	assert_int_equal(xdp_steer_config_add_prefix(&cfg, NULL), -EINVAL);
	assert_int_equal(xdp_steer_config_add_prefix(NULL, "10.0.0.0/8"), -EINVAL);
	assert_int_equal(cfg.n_prefixes, 0);
}

static void test_prefix_dup(void **state)
{
	(void)state;
	assert_int_equal(xdp_steer_config_add_prefix(&cfg, "10.244.1.0/24"), 0);
	assert_int_equal(xdp_steer_config_add_prefix(&cfg, "10.244.1.0/24"), -EEXIST);
	/* Same address, different length: a distinct prefix. */
	assert_int_equal(xdp_steer_config_add_prefix(&cfg, "10.244.0.0/16"), 0);
	assert_int_equal(xdp_steer_config_add_prefix(&cfg, "fd00::/8"), 0);
	assert_int_equal(xdp_steer_config_add_prefix(&cfg, "fd00:0::/8"), -EEXIST);
	assert_int_equal(cfg.n_prefixes, 3);
}

static void test_prefix_too_many(void **state)
{
	char buf[64];

	(void)state;
	for (unsigned int i = 0; i < XDP_STEER_MAX_PREFIXES; i++) {
		snprintf(buf, sizeof(buf), "10.%u.%u.0/24", i / 256u, i % 256u);
		assert_int_equal(xdp_steer_config_add_prefix(&cfg, buf), 0);
	}
	assert_int_equal(xdp_steer_config_add_prefix(&cfg, "11.0.0.0/8"), -ENOSPC);
	/* The limit is per family (one LPM trie each). */
	assert_int_equal(xdp_steer_config_add_prefix(&cfg, "fd00::/8"), 0);
	assert_int_equal(cfg.n_prefixes, XDP_STEER_MAX_PREFIXES + 1);
	assert_int_equal(xdp_steer_config_validate(&cfg), 0);

	/* By hand: one v4 prefix past the trie's capacity. */
	cfg.prefixes[cfg.n_prefixes] = cfg.prefixes[0];
	cfg.prefixes[cfg.n_prefixes].addr[0] = 12;
	cfg.n_prefixes++;
	assert_int_equal(xdp_steer_config_validate(&cfg), -EINVAL);
	cfg.n_prefixes = 2 * XDP_STEER_MAX_PREFIXES + 1;
	assert_int_equal(xdp_steer_config_validate(&cfg), -EINVAL);
}

static void test_arp(void **state)
{
	static const char *const bad[] = {
		"0.0.0.0", "224.0.0.1", "239.255.255.250", "255.255.255.255",
		"10.244.1", "10.244.1.1/32", "fd00::1", "", "gw",
	};
	char buf[32];

	(void)state;
	assert_int_equal(xdp_steer_config_add_arp(&cfg, "10.244.1.1"), 0);
	assert_int_equal(xdp_steer_config_add_arp(&cfg, "10.244.1.1"), -EEXIST);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		if (xdp_steer_config_add_arp(&cfg, bad[i]) != -EINVAL)
			fail_msg("\"%s\" accepted", bad[i]);
	assert_int_equal(xdp_steer_config_add_arp(&cfg, NULL), -EINVAL);
	for (unsigned int i = 1; i < XDP_STEER_MAX_ARP; i++) {
		snprintf(buf, sizeof(buf), "10.96.%u.%u", i / 256u, i % 256u);
		assert_int_equal(xdp_steer_config_add_arp(&cfg, buf), 0);
	}
	assert_int_equal(xdp_steer_config_add_arp(&cfg, "10.97.0.1"), -ENOSPC);
	assert_int_equal(cfg.n_arp, XDP_STEER_MAX_ARP);
	assert_int_equal(xdp_steer_config_validate(&cfg), 0);
	memcpy(cfg.arp[5], cfg.arp[4], 4); /* duplicate by hand */
	assert_int_equal(xdp_steer_config_validate(&cfg), -EINVAL);
}

static void test_encap(void **state)
{
	(void)state;
	assert_int_equal(xdp_steer_config_set_encap(&cfg, "192.168.50.2", 4789, 6081), 0);
	assert_int_equal(cfg.underlay_family, AF_INET);
	assert_memory_equal(cfg.underlay, ((uint8_t[]){192, 168, 50, 2}), 4);
	assert_int_equal(xdp_steer_config_set_encap(&cfg, "fd00:50::2", 0, 6081), 0);
	assert_int_equal(cfg.underlay_family, AF_INET6);
	assert_int_equal(cfg.vxlan_port, 0);
	assert_int_equal(xdp_steer_config_validate(&cfg), 0);

	/* bad ports */
	assert_int_equal(xdp_steer_config_set_encap(&cfg, "192.168.50.2", 65536, 6081), -EINVAL);
	assert_int_equal(xdp_steer_config_set_encap(&cfg, "192.168.50.2", 4789, 70000), -EINVAL);
	assert_int_equal(xdp_steer_config_set_encap(&cfg, "192.168.50.2", 4789, 4789), -EINVAL);
	/* bad underlay addresses */
	assert_int_equal(xdp_steer_config_set_encap(&cfg, "0.0.0.0", 4789, 6081), -EINVAL);
	assert_int_equal(xdp_steer_config_set_encap(&cfg, "::", 4789, 6081), -EINVAL);
	assert_int_equal(xdp_steer_config_set_encap(&cfg, "ff02::1", 4789, 6081), -EINVAL);
	assert_int_equal(xdp_steer_config_set_encap(&cfg, "239.1.1.1", 4789, 6081), -EINVAL);
	assert_int_equal(xdp_steer_config_set_encap(&cfg, "node", 4789, 6081), -EINVAL);
	assert_int_equal(xdp_steer_config_set_encap(&cfg, NULL, 4789, 6081), -EINVAL);
	/* a failed call leaves the config as it was */
	assert_int_equal(cfg.underlay_family, AF_INET6);
	assert_int_equal(cfg.geneve_port, 6081);
}

/* Configs built by hand that bypass the helpers: validate() is the last
 * line before the maps, so each lie must be caught there. */
static void test_validate_by_hand(void **state)
{
	struct xdp_steer_config c;

	(void)state;
	assert_int_equal(xdp_steer_config_validate(NULL), -EINVAL);

	xdp_steer_config_init(&c);
	c.n_prefixes = 1;
	c.prefixes[0].family = 7;
	assert_int_equal(xdp_steer_config_validate(&c), -EINVAL);
	c.prefixes[0] = (struct xdp_steer_prefix){.family = AF_INET, .len = 33};
	assert_int_equal(xdp_steer_config_validate(&c), -EINVAL);
	c.prefixes[0] = (struct xdp_steer_prefix){.family = AF_INET, .len = 8, .addr = {10, 1}};
	assert_int_equal(xdp_steer_config_validate(&c), -EINVAL); /* host bits */
	c.prefixes[0] = (struct xdp_steer_prefix){.family = AF_INET, .len = 9, .addr = {10, 0x80}};
	assert_int_equal(xdp_steer_config_validate(&c), 0);
	c.prefixes[1] = c.prefixes[0];
	c.n_prefixes = 2;
	assert_int_equal(xdp_steer_config_validate(&c), -EINVAL); /* duplicate */

	xdp_steer_config_init(&c);
	c.vxlan_port = 65536;
	assert_int_equal(xdp_steer_config_validate(&c), -EINVAL);
	c.vxlan_port = 8472;
	c.geneve_port = 8472;
	assert_int_equal(xdp_steer_config_validate(&c), -EINVAL);
	c.geneve_port = 0;
	c.vxlan_port = 0; /* both disabled is fine */
	assert_int_equal(xdp_steer_config_validate(&c), 0);

	xdp_steer_config_init(&c);
	c.fallback_drop = 2;
	assert_int_equal(xdp_steer_config_validate(&c), -EINVAL);

	xdp_steer_config_init(&c);
	c.underlay_family = AF_INET; /* 0.0.0.0 */
	assert_int_equal(xdp_steer_config_validate(&c), -EINVAL);
	c.underlay_family = 99;
	c.underlay[0] = 10;
	assert_int_equal(xdp_steer_config_validate(&c), -EINVAL);

	xdp_steer_config_init(&c);
	c.n_arp = XDP_STEER_MAX_ARP + 1;
	assert_int_equal(xdp_steer_config_validate(&c), -EINVAL);
	c.n_arp = 1; /* arp[0] = 0.0.0.0 */
	assert_int_equal(xdp_steer_config_validate(&c), -EINVAL);
}

/* create() checks its params before the first bpf syscall, so these fail
 * with EINVAL even without privileges. */
static void test_create_bad_params(void **state)
{
	const struct xdp_steer_params bad[] = {
		{.ifindex = 1, .attach = XDP_STEER_ATTACH_NATIVE, .queues = 0},
		{.ifindex = 1, .attach = XDP_STEER_ATTACH_NATIVE, .queues = XDP_STEER_MAX_QUEUES + 1},
		{.ifindex = 0, .attach = XDP_STEER_ATTACH_NATIVE, .queues = 1},
		{.ifindex = 0, .attach = XDP_STEER_ATTACH_SKB, .queues = 1},
		{.ifindex = 3, .attach = XDP_STEER_ATTACH_NONE, .queues = 1},
		{.ifindex = 1, .attach = (enum xdp_steer_attach)7, .queues = 1},
		{.ifindex = 1, .attach = XDP_STEER_ATTACH_SKB, .queues = 1, .pin_dir = ""},
	};

	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		errno = 0;
		assert_null(xdp_steer_create(&bad[i]));
		if (errno != EINVAL)
			fail_msg("params[%zu]: errno %d, want EINVAL", i, errno);
	}
	errno = 0;
	assert_null(xdp_steer_create(NULL));
	assert_int_equal(errno, EINVAL);
}

static void test_null_handle(void **state)
{
	struct xdp_steer_stats st;

	(void)state;
	xdp_steer_free(NULL);
	assert_int_equal(xdp_steer_apply(NULL, &cfg), -EINVAL);
	assert_int_equal(xdp_steer_stats(NULL, &st), -EINVAL);
	assert_int_equal(xdp_steer_xsk_set(NULL, 0, 3), -EINVAL);
	assert_int_equal(xdp_steer_xsk_clear(NULL, 0), -EINVAL);
	assert_int_equal(xdp_steer_prog_fd(NULL), -EINVAL);
	assert_int_equal(xdp_steer_xsks_map_fd(NULL), -EINVAL);
}

static void test_reason_names(void **state)
{
	(void)state;
	for (unsigned int i = 0; i < XDP_STEER_REASON_MAX; i++) {
		const char *n = xdp_steer_reason_name(i);

		assert_non_null(n);
		assert_string_not_equal(n, "unknown");
		for (unsigned int j = 0; j < i; j++)
			assert_string_not_equal(n, xdp_steer_reason_name(j));
	}
	assert_string_equal(xdp_steer_reason_name(XDP_STEER_NOSOCK), "nosock");
	assert_string_equal(xdp_steer_reason_name(XDP_STEER_REASON_MAX), "unknown");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup(test_init_defaults, setup),
		cmocka_unit_test_setup(test_prefix_good, setup),
		cmocka_unit_test_setup(test_prefix_bad, setup),
		cmocka_unit_test_setup(test_prefix_dup, setup),
		cmocka_unit_test_setup(test_prefix_too_many, setup),
		cmocka_unit_test_setup(test_arp, setup),
		cmocka_unit_test_setup(test_encap, setup),
		cmocka_unit_test_setup(test_validate_by_hand, setup),
		cmocka_unit_test_setup(test_create_bad_params, setup),
		cmocka_unit_test_setup(test_null_handle, setup),
		cmocka_unit_test_setup(test_reason_names, setup),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
