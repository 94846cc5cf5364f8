/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Allocation fault injection for the lb modules' constructors (STYLE 23):
 * the allocator is wrapped at link time (-Wl,--wrap) and fails the Nth call,
 * once (transient) or from then on (persistent), for N = 1, 2, ... until the
 * operation succeeds. Every failing step must return a clean ENOMEM and leak
 * nothing (the suite runs under ASan's leak checker in build-asan).
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
#include "maglev.h"

void *__real_malloc(size_t size);
void *__real_calloc(size_t n, size_t size);
void *__real_aligned_alloc(size_t align, size_t size);
void *__wrap_malloc(size_t size);
void *__wrap_calloc(size_t n, size_t size);
void *__wrap_aligned_alloc(size_t align, size_t size);

static int fault_countdown; /* 0 = disarmed; fail when it reaches 1 */
static bool fault_persistent;
static bool fault_tripped;
static unsigned fault_calls;

static bool
fault_fail_now(void)
{
	fault_calls++;
	if (fault_countdown == 0)
		return false;
	if (fault_tripped)
		return fault_persistent;
	if (--fault_countdown == 0) {
		fault_tripped = true;
		fault_countdown = 1; /* stay armed for the persistent mode */
		return true;
	}
	return false;
}

void *
__wrap_malloc(size_t size)
{
	return fault_fail_now() ? NULL : __real_malloc(size);
}

void *
__wrap_calloc(size_t n, size_t size)
{
	return fault_fail_now() ? NULL : __real_calloc(n, size);
}

void *
__wrap_aligned_alloc(size_t align, size_t size)
{
	return fault_fail_now() ? NULL : __real_aligned_alloc(align, size);
}

static void
fault_arm(int n, bool persistent)
{
	fault_countdown = n;
	fault_persistent = persistent;
	fault_tripped = false;
	fault_calls = 0;
}

static void
fault_disarm(void)
{
	fault_countdown = 0;
	fault_tripped = false;
}

static void *
fault_maglev(void)
{
	struct maglev_backend b[20];
	struct maglev_params p = { 65537, b, 20 };

	memset(b, 0, sizeof(b));
	for (uint32_t i = 0; i < 20; i++) {
		b[i].family = MAGLEV_AF_INET;
		b[i].addr[0] = 10;
		b[i].addr[3] = (uint8_t)i;
		b[i].port = 80;
		b[i].weight = 1 + i % 3; /* unequal: exercises the credit arrays */
		b[i].id = i;
	}
	return maglev_build(&p);
}

static void *
fault_ct(void)
{
	struct ct_params p;

	memset(&p, 0, sizeof(p));
	p.capacity = 1u << 18; /* large enough for the huge-page path */
	p.tsc_hz = 1000;
	return ct_create(&p);
}

static void
fault_retire(void *ctx, struct maglev_table *old)
{
	(void)ctx;
	maglev_free(old);
}

static void *
fault_holder(void)
{
	struct maglev_holder_params p = { .retire = fault_retire };

	return maglev_holder_create(&p);
}

static void
fault_run(const char *name, void *(*op)(void), void (*undo)(void *))
{
	for (int persistent = 0; persistent < 2; persistent++) {
		int n;

		for (n = 1; n < 100; n++) {
			void *obj;

			fault_arm(n, persistent);
			errno = 0;
			obj = op();
			fault_disarm();
			if (obj != NULL) {
				/* success only once the fault lies past the last call */
				assert_true(fault_calls < (unsigned)n);
				undo(obj);
				break;
			}
			if (errno != ENOMEM)
				fail_msg("%s: call %d failed (persistent %d): errno %d", name, n,
					 persistent, errno);
		}
		/* there must have been at least one allocation to fail */
		assert_true(n > 1);
		assert_true(n < 100);
		printf("%s: %d allocation(s), each failed %s: clean ENOMEM\n", name, n - 1,
		       persistent ? "persistently" : "once");
	}
}

static void
fault_free_table(void *t)
{
	maglev_free(t);
}

static void
fault_free_ct(void *ct)
{
	ct_free(ct);
}

static void
fault_free_holder(void *h)
{
	maglev_holder_free(h);
}

static void
test_fault_maglev_build(void **state)
{
	(void)state;
	fault_run("maglev_build", fault_maglev, fault_free_table);
}

static void
test_fault_ct_create(void **state)
{
	(void)state;
	fault_run("ct_create", fault_ct, fault_free_ct);
}

static void
test_fault_holder_create(void **state)
{
	(void)state;
	fault_run("maglev_holder_create", fault_holder, fault_free_holder);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_fault_maglev_build),
		cmocka_unit_test(test_fault_ct_create),
		cmocka_unit_test(test_fault_holder_create),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
