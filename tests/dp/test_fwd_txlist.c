/*
 * Unit test of fwd_tx_gather() (dp/dp_internal.h), the gather half of
 * fwd_burst's stage 3: packets grouped per destination port in arrival
 * order, each destination listed once in order of first use, drops (any
 * next >= DP_MAX_PORTS) set aside. Ports up to DP_MAX_PORTS - 1 (255),
 * where the old 32-bit mask stopped at 31. Table-driven; the mbufs are
 * never dereferenced, so no EAL is needed.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "dp_internal.h"

#define X UINT16_MAX /* fwd.c's FWD_DROP */

struct txl_case {
	const char *what;
	uint16_t n;
	uint16_t next[FWD_BURST];
	unsigned nt;                  /* expected destinations */
	uint16_t touched[FWD_BURST];  /* in order of first use */
	unsigned nd;                  /* expected drops */
};

static const struct txl_case txl_cases[] = {
	/* 1 */ { "empty burst", 0, { 0 }, 0, { 0 }, 0 },
	/* 2 */ { "one destination", 4, { 7, 7, 7, 7 }, 1, { 7 }, 0 },
	/* 3 */ { "ports past 31", 5, { 32, 255, 110, 32, 0 }, 4, { 32, 255, 110, 0 }, 0 },
	/* 4 */ { "interleaved", 6, { 3, 200, 3, 200, 3, 1 }, 3, { 3, 200, 1 }, 0 },
	/* 5 */ { "drops and out of range", 6, { X, 5, DP_MAX_PORTS, 5, X, 9 }, 2, { 5, 9 }, 3 },
	/* 6 */ { "all dropped", 3, { X, X, X }, 0, { 0 }, 3 },
	/* 7 */ { "32 distinct, highest first", FWD_BURST,
		  { 255, 254, 253, 252, 251, 250, 249, 248, 247, 246, 245, 244, 243, 242, 241, 240,
		    31, 30, 29, 28, 27, 26, 25, 24, 23, 22, 21, 20, 19, 18, 17, 16 },
		  FWD_BURST,
		  { 255, 254, 253, 252, 251, 250, 249, 248, 247, 246, 245, 244, 243, 242, 241, 240,
		    31, 30, 29, 28, 27, 26, 25, 24, 23, 22, 21, 20, 19, 18, 17, 16 }, 0 },
};

static struct fwd_txbuf tx[DP_MAX_PORTS];
static char fake[FWD_BURST]; /* &fake[i] stands for packet i */

static void test_cases(void **state)
{
	(void)state;
	for (size_t c = 0; c < sizeof(txl_cases) / sizeof(txl_cases[0]); c++) {
		const struct txl_case *k = &txl_cases[c];
		struct rte_mbuf *pkts[FWD_BURST], *dropped[FWD_BURST];
		uint16_t touched[FWD_BURST];
		unsigned nd = 99;

		print_message("case %zu: %s\n", c + 1, k->what);
		for (unsigned i = 0; i < FWD_BURST; i++)
			pkts[i] = (struct rte_mbuf *)(void *)&fake[i];
		unsigned nt = fwd_tx_gather(tx, k->next, pkts, k->n, touched, dropped, &nd);
		assert_int_equal(nt, k->nt);
		assert_int_equal(nd, k->nd);
		assert_memory_equal(touched, k->touched, nt * sizeof(touched[0]));
		/* Each packet sits in its destination's buffer, in arrival
		 * order; drops keep their order too. */
		unsigned total = 0, d = 0;
		for (unsigned t = 0; t < nt; t++) {
			const struct fwd_txbuf *tb = &tx[touched[t]];
			unsigned j = 0;
			for (uint16_t i = 0; i < k->n; i++)
				if (k->next[i] == touched[t])
					assert_ptr_equal(tb->pkts[j++], pkts[i]);
			assert_int_equal(tb->n, j);
			total += j;
		}
		for (uint16_t i = 0; i < k->n; i++)
			if (k->next[i] >= DP_MAX_PORTS)
				assert_ptr_equal(dropped[d++], pkts[i]);
		assert_int_equal(total + nd, k->n);
		/* the tx loop empties what it sent */
		for (unsigned t = 0; t < nt; t++)
			tx[touched[t]].n = 0;
		for (unsigned p = 0; p < DP_MAX_PORTS; p++)
			assert_int_equal(tx[p].n, 0);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_cases),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
