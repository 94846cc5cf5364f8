/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The two modules together, as the service path will use them: several LB
 * nodes, each with its own conntrack, the same backend set given to each in
 * a different order. Asserts the properties the design relies on (paper
 * §3.3, §3.4): any node picks the same backend for a flow, so ECMP may move
 * a flow between nodes; after a backend change, conntrack keeps existing
 * flows on their backend while new flows follow the new table; flows of a
 * removed backend are swept.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "ct.h"
#include "ct_node.h"
#include "maglev.h"
#include "maglev_node.h"

enum { NODES = 3, BACKENDS = 50, FLOWS = 5000 };

struct lb_node {
	struct ct *ct;
	struct maglev_table *tbl;
	uint32_t id_base; /* each node numbers backends its own way */
};

static void
flow_backend(struct maglev_backend *b, uint32_t i, uint32_t id_base)
{
	memset(b, 0, sizeof(*b));
	b->family = MAGLEV_AF_INET;
	b->addr[0] = 10;
	b->addr[1] = 244;
	b->addr[2] = (uint8_t)(i / 200);
	b->addr[3] = (uint8_t)(i % 200 + 1);
	b->port = 8080;
	b->weight = 1;
	b->id = id_base + i;
}

/* Node n gets the set rotated by n * 7 and its own ids; skip = removed one. */
static struct maglev_table *
flow_table(uint32_t node, uint32_t id_base, uint32_t skip)
{
	struct maglev_backend b[BACKENDS];
	struct maglev_params p = { .table_size = 65537, .backends = b };
	struct maglev_table *t;
	uint32_t k = 0;

	for (uint32_t j = 0; j < BACKENDS; j++) {
		uint32_t i = (j + node * 7) % BACKENDS;

		if (i != skip)
			flow_backend(&b[k++], i, id_base);
	}
	p.nb_backends = k;
	t = maglev_build(&p);
	assert_non_null(t);
	return t;
}

static struct ct_key
flow_key(uint32_t f)
{
	struct ct_key k;

	memset(&k, 0, sizeof(k));
	k.family = 4;
	k.proto = 6;
	k.src[0] = 198;
	k.src[1] = 51;
	k.src[2] = (uint8_t)(f >> 8);
	k.src[3] = (uint8_t)f;
	k.sport = (uint16_t)(40000 + f % 1000);
	k.dst[0] = 10;
	k.dst[1] = 96;
	k.dst[3] = 10;
	k.dport = 443;
	return k;
}

/* One packet of flow f through node n: conntrack, else Maglev + insert.
 * Returns the backend's index in the common numbering. */
static uint32_t
flow_packet(struct lb_node *n, uint32_t f, uint8_t flags, uint64_t t_ms)
{
	struct ct_key k = flow_key(f);
	struct ct_clock now = ct_clock_at(n->ct, t_ms);
	uint64_t h;
	uint32_t idx, be;

	ct_lookup_bulk(n->ct, &k, 1, &now, &h, &idx);
	if (idx == CT_MISS) {
		be = maglev_lookup(n->tbl, h);
		assert_int_not_equal(be, MAGLEV_NO_BACKEND);
		assert_int_equal(ct_insert(n->ct, &k, h,
					   (flags & CT_TCP_SYN) ? CT_TCP_SYN_SENT
								: CT_TCP_MIDSTREAM,
					   be, &now, &idx), 0);
	}
	assert_true(ct_update(n->ct, idx, CT_DIR_ORIG, flags, &now) >= 0);
	return ct_entry(n->ct, idx)->backend - n->id_base;
}

static void
test_flow_ecmp_and_change(void **state)
{
	struct lb_node nodes[NODES];
	struct ct_params cp;
	uint32_t *first = calloc(FLOWS, sizeof(*first));
	uint32_t victim = 17, moved_new = 0, kept = 0, of_victim = 0;
	struct maglev_table *after[NODES];

	(void)state;
	assert_non_null(first);
	memset(&cp, 0, sizeof(cp));
	cp.capacity = 16384;
	cp.tsc_hz = 1000;
	for (uint32_t n = 0; n < NODES; n++) {
		nodes[n].id_base = 1000 * (n + 1);
		nodes[n].ct = ct_create(&cp);
		assert_non_null(nodes[n].ct);
		nodes[n].tbl = flow_table(n, nodes[n].id_base, UINT32_MAX);
	}

	/* 1. ECMP: each flow's SYN lands on node f % 3, its later packets on
	 * the other nodes, which have no state for it: same backend anyway */
	for (uint32_t f = 0; f < FLOWS; f++) {
		first[f] = flow_packet(&nodes[f % NODES], f, CT_TCP_SYN, 0);
		for (uint32_t n = 1; n < NODES; n++)
			assert_int_equal(flow_packet(&nodes[(f + n) % NODES], f, CT_TCP_ACK, 1),
					 first[f]);
	}

	/* 2. backend 17 leaves; every node rebuilds (its own order again) */
	for (uint32_t n = 0; n < NODES; n++) {
		after[n] = flow_table(n, nodes[n].id_base, victim);
		maglev_free(nodes[n].tbl);
		nodes[n].tbl = after[n];
	}
	for (uint32_t f = 0; f < FLOWS; f++) {
		struct ct_key k = flow_key(f);
		uint32_t fresh = maglev_lookup(nodes[0].tbl, ct_hash(&k)) - nodes[0].id_base;

		/* existing flows stay where conntrack pinned them, even the ones
		 * whose slot moved between two surviving backends */
		assert_int_equal(flow_packet(&nodes[f % NODES], f, CT_TCP_ACK, 2), first[f]);
		if (first[f] == victim)
			of_victim++;
		else if (fresh != first[f])
			moved_new++;
		else
			kept++;
		/* the new tables agree across nodes too */
		for (uint32_t n = 1; n < NODES; n++)
			assert_int_equal(maglev_lookup(nodes[n].tbl, ct_hash(&k)) -
						 nodes[n].id_base, fresh);
	}
	printf("flows: %u on the removed backend, %u whose table slot moved between "
	       "survivors (pinned by conntrack), %u unchanged\n", of_victim, moved_new, kept);
	assert_true(of_victim > 0);
	/* §3.4: a removal disturbs few flows besides the removed backend's */
	assert_true(moved_new < FLOWS / 50);

	/* 3. sweep the removed backend's flows on every node; they then re-pick
	 * (as mid-stream flows) a surviving backend, the same on every node */
	for (uint32_t n = 0; n < NODES; n++) {
		uint32_t bit = nodes[n].id_base + victim;
		uint64_t *bm = calloc((bit / 64) + 1, sizeof(uint64_t));
		struct ct_sweep_req req = { .now_tsc = 3, .dead = bm,
					    .nb_dead_bits = bit + 1 };

		assert_non_null(bm);
		bm[bit / 64] |= 1ULL << (bit % 64);
		/* FLOWS / NODES flows per node as SYN, the rest mid-stream:
		 * every node tracks every flow */
		assert_int_equal(ct_sweep(nodes[n].ct, &req), of_victim);
		free(bm);
	}
	for (uint32_t f = 0; f < FLOWS; f++) {
		uint32_t b0;

		if (first[f] != victim)
			continue;
		b0 = flow_packet(&nodes[0], f, CT_TCP_ACK, 4);
		assert_int_not_equal(b0, victim);
		for (uint32_t n = 1; n < NODES; n++)
			assert_int_equal(flow_packet(&nodes[n], f, CT_TCP_ACK, 4), b0);
	}
	for (uint32_t n = 0; n < NODES; n++) {
		ct_free(nodes[n].ct);
		maglev_free(nodes[n].tbl);
	}
	free(first);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_flow_ecmp_and_change),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
