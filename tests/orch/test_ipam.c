/*
 * test_ipam: node IPAM (ctrl/ctlr_ipam.h): no duplicates, exhaustion with a
 * clear error, restart keeps assignments, bad CIDRs refused.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>
#include <jansson.h>

#include "ctlr_ipam.h"

/* 1. Sequential allocation is lowest-free, one block per node, stable. */
static void test_alloc_unique(void **state)
{
	(void)state;
	char err[256], cidr[IPAM_CIDR_MAX];
	struct ipam *a = ipam_create("10.244.0.0/16", 24, err, sizeof(err));
	assert_non_null(a);
	assert_int_equal(ipam_capacity(a), 256);
	json_t *seen = json_object();
	for (int i = 0; i < 256; i++) {
		char node[32];
		snprintf(node, sizeof(node), "node-%d", i);
		assert_int_equal(ipam_alloc(a, node, cidr, sizeof(cidr), err, sizeof(err)), IPAM_OK);
		assert_null(json_object_get(seen, cidr)); /* never two nodes the same */
		json_object_set_new(seen, cidr, json_string(node));
		if (i == 0)
			assert_string_equal(cidr, "10.244.0.0/24");
		if (i == 255)
			assert_string_equal(cidr, "10.244.255.0/24");
		/* Asking again gives the same block. */
		char again[IPAM_CIDR_MAX];
		assert_int_equal(ipam_alloc(a, node, again, sizeof(again), NULL, 0), IPAM_OK);
		assert_string_equal(again, cidr);
	}
	assert_int_equal(ipam_used(a), 256);
	/* Exhausted: a clear error naming the node. */
	assert_int_equal(ipam_alloc(a, "one-too-many", cidr, sizeof(cidr), err, sizeof(err)),
			 IPAM_ERR_FULL);
	assert_non_null(strstr(err, "one-too-many"));
	assert_non_null(strstr(err, "no pod CIDR left"));
	/* A release makes exactly that block available again. */
	ipam_release(a, "node-7");
	assert_int_equal(ipam_alloc(a, "one-too-many", cidr, sizeof(cidr), err, sizeof(err)),
			 IPAM_OK);
	assert_string_equal(cidr, "10.244.7.0/24");
	json_decref(seen);
	ipam_free(a);
}

/* 2. Restart: claiming what the Node objects hold, then allocating for a
 * new node, never hands out a claimed block and keeps every claim. */
static void test_restart_keeps(void **state)
{
	(void)state;
	char err[256], cidr[IPAM_CIDR_MAX];
	struct ipam *a = ipam_create("10.0.0.0/22", 25, err, sizeof(err));
	assert_non_null(a);
	static const char *const held[][2] = {
		{"b", "10.0.0.0/25"}, {"d", "10.0.1.0/25"}, {"a", "10.0.2.128/25"}};
	for (size_t i = 0; i < 3; i++)
		assert_int_equal(ipam_claim(a, held[i][0], held[i][1], err, sizeof(err)), IPAM_OK);
	for (size_t i = 0; i < 3; i++) {
		assert_int_equal(ipam_alloc(a, held[i][0], cidr, sizeof(cidr), NULL, 0), IPAM_OK);
		assert_string_equal(cidr, held[i][1]);
	}
	static const char *const fresh[] = {"10.0.0.128/25", "10.0.1.128/25", "10.0.2.0/25",
					    "10.0.3.0/25", "10.0.3.128/25"};
	for (size_t i = 0; i < 5; i++) {
		char node[16];
		snprintf(node, sizeof(node), "new%zu", i);
		assert_int_equal(ipam_alloc(a, node, cidr, sizeof(cidr), err, sizeof(err)), IPAM_OK);
		assert_string_equal(cidr, fresh[i]);
	}
	assert_int_equal(ipam_alloc(a, "x", cidr, sizeof(cidr), err, sizeof(err)), IPAM_ERR_FULL);
	ipam_free(a);
}

/* 3. Claims: conflicts, foreign and misaligned blocks, idempotence. */
static void test_claim_table(void **state)
{
	(void)state;
	static const struct {
		const char *node, *cidr;
		int rc;
	} cases[] = {
		{"a", "10.244.1.0/24", IPAM_OK},
		{"a", "10.244.1.0/24", IPAM_OK},           /* again: fine */
		{"b", "10.244.1.0/24", IPAM_ERR_CONFLICT}, /* taken by a */
		{"b", "10.245.1.0/24", IPAM_ERR_INVALID},  /* outside */
		{"b", "10.244.1.0/25", IPAM_ERR_INVALID},  /* wrong size */
		{"b", "10.244.1.1/24", IPAM_ERR_INVALID},  /* host bits */
		{"b", "garbage", IPAM_ERR_INVALID},
		{"b", "", IPAM_ERR_INVALID},
		{"b", "10.244.2.0/24", IPAM_OK},
		{"a", "10.244.3.0/24", IPAM_OK}, /* a moves: 1.0 is free again */
		{"c", "10.244.1.0/24", IPAM_OK},
	};
	char err[256];
	struct ipam *a = ipam_create("10.244.0.0/16", 24, err, sizeof(err));
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		err[0] = 0;
		int rc = ipam_claim(a, cases[i].node, cases[i].cidr, err, sizeof(err));
		if (rc != cases[i].rc)
			fail_msg("case %zu: rc %d (%s), want %d", i, rc, err, cases[i].rc);
		if (rc != IPAM_OK && strstr(err, "spec.podCIDR") == NULL)
			fail_msg("case %zu: message does not name the field: %s", i, err);
	}
	assert_int_equal(ipam_used(a), 3);
	ipam_free(a);
	/* Bad parameters. */
	static const struct {
		const char *cidr;
		unsigned bits;
	} bad[] = {{"10.0.0.0/16", 16}, {"10.0.0.0/16", 31}, {"10.0.0.1/16", 24},
		   {"fd00::/64", 80},   {"10.0.0.0/8", 30},  {NULL, 24}};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		err[0] = 0;
		assert_null(ipam_create(bad[i].cidr, bad[i].bits, err, sizeof(err)));
		assert_true(err[0] != 0);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_alloc_unique),
		cmocka_unit_test(test_restart_keeps),
		cmocka_unit_test(test_claim_table),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
