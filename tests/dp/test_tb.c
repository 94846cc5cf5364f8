/*
 * Unit tests of dp/tb, the TSC token bucket: a fake clock drives numbered
 * cases so every refill and refusal is exact.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "tb.h"

#define HZ 1000000000ull /* 1 GHz fake TSC: 1 tick = 1 ns */

static void test_burst_then_rate(void **state)
{
	struct tb b;
	(void)state;
	/* 100/s, burst 10: cost 10 ms per token */
	assert_int_equal(tb_init(&b, 100, 10, HZ, 0), 0);
	for (int i = 0; i < 10; i++)
		assert_true(tb_take(&b, 0));
	assert_false(tb_take(&b, 0));
	assert_false(tb_take(&b, 9999999));     /* 1 ns short of a token */
	assert_true(tb_take(&b, 10000000));     /* exactly one token later */
	assert_false(tb_take(&b, 10000000));
	/* a long pause refills only up to the burst */
	uint64_t t = 10000000 + 60 * HZ;
	int got = 0;
	while (tb_take(&b, t))
		got++;
	assert_int_equal(got, 10);
}

static void test_steady_rate(void **state)
{
	struct tb b;
	(void)state;
	assert_int_equal(tb_init(&b, 1000, 1, HZ, 0), 0);
	assert_true(tb_take(&b, 0));
	int granted = 0;
	/* offered every 100 us for 1 s: exactly 1000 grants at 1000/s */
	for (uint64_t t = 100000; t <= HZ; t += 100000)
		granted += tb_take(&b, t);
	assert_int_equal(granted, 1000);
}

static void test_clock_backwards(void **state)
{
	struct tb b;
	(void)state;
	assert_int_equal(tb_init(&b, 10, 1, HZ, 5 * HZ), 0);
	assert_true(tb_take(&b, 5 * HZ));
	/* an earlier timestamp (another core's TSC, say) grants nothing */
	assert_false(tb_take(&b, 1 * HZ));
	assert_true(tb_take(&b, 5 * HZ + HZ / 10));
}

static void test_disabled_and_invalid(void **state)
{
	struct tb b;
	(void)state;
	assert_int_equal(tb_init(&b, 0, 10, HZ, 0), 0);
	assert_false(tb_take(&b, 0));
	assert_false(tb_take(&b, 100 * HZ));
	assert_int_equal(tb_init(&b, 10, 0, HZ, 0), -22);       /* burst 0 */
	assert_int_equal(tb_init(&b, HZ + 1, 1, HZ, 0), -22);   /* cost < 1 tick */
	assert_int_equal(tb_init(&b, 1, UINT64_MAX, HZ, 0), -22); /* cap overflow */
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_burst_then_rate),
		cmocka_unit_test(test_steady_rate),
		cmocka_unit_test(test_clock_backwards),
		cmocka_unit_test(test_disabled_and_invalid),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
