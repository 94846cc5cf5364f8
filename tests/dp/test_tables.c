/*
 * Unit tests of dp/tables: pod and route tables with generations, sweep,
 * and the QSBR grace period before a removed slot is reused. Runs EAL
 * with --no-huge --in-memory: no root, no hugepages.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <limits.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include <rte_eal.h>
#include <rte_malloc.h>
#include <pthread.h>
#include <arpa/inet.h>

#include <rte_rcu_qsbr.h>

#include "tables.h"

static struct rte_rcu_qsbr *qv;
static unsigned tbl_seq;

static uint32_t a(const char *s)
{
	struct in_addr x;
	inet_pton(AF_INET, s, &x);
	return x.s_addr;
}

static const uint8_t M1[6] = { 2, 0, 0, 0, 0, 1 };
static const uint8_t M2[6] = { 2, 0, 0, 0, 0, 2 };

static struct tbl *mk(uint32_t pods, uint32_t routes)
{
	char name[16];
	snprintf(name, sizeof(name), "t%u", tbl_seq++);
	struct tbl_params p = { .name = name, .socket_id = 0, .max_pods = pods,
				.max_routes = routes, .qsbr = qv };
	struct tbl *t = tbl_create(&p);
	assert_non_null(t);
	return t;
}

static const struct tbl_pod *look(struct tbl *t, const char *ip)
{
	uint32_t k = a(ip);
	const struct tbl_pod *out;
	tbl_pod_lookup_bulk(t, &k, 1, &out);
	return out;
}

static void test_pods(void **state)
{
	(void)state;
	struct tbl *t = mk(64, 16);

	assert_int_equal(tbl_pod_add(t, a("10.77.1.2"), M1, 3, 1), 0);
	assert_int_equal(tbl_pod_add(t, a("10.77.1.3"), M2, 4, 1), 0);
	assert_int_equal(tbl_pod_count(t), 2);

	uint32_t keys[3] = { a("10.77.1.3"), a("10.77.1.9"), a("10.77.1.2") };
	const struct tbl_pod *out[3];
	tbl_pod_lookup_bulk(t, keys, 3, out);
	assert_non_null(out[0]);
	assert_null(out[1]);
	assert_non_null(out[2]);
	assert_int_equal(out[0]->port_id, 4);
	assert_memory_equal(out[0]->mac, M2, 6);
	assert_int_equal(out[2]->port_id, 3);

	/* replace: readers see the new entry, count unchanged */
	assert_int_equal(tbl_pod_add(t, a("10.77.1.2"), M2, 5, 2), 0);
	assert_int_equal(tbl_pod_count(t), 2);
	assert_int_equal(look(t, "10.77.1.2")->port_id, 5);
	assert_int_equal(look(t, "10.77.1.2")->gen, 2);

	assert_int_equal(tbl_port_refs(t, 4), 1);
	assert_int_equal(tbl_port_refs(t, 3), 0);
	assert_int_equal(tbl_pod_del(t, a("10.77.1.3")), 0);
	assert_int_equal(tbl_pod_del(t, a("10.77.1.3")), -ENOENT);
	assert_null(look(t, "10.77.1.3"));
	assert_int_equal(tbl_pod_count(t), 1);
	tbl_free(t);
}

static void test_grace_period(void **state)
{
	(void)state;
	/* two slots only: reuse must wait for the reader's quiescent state */
	struct tbl *t = mk(2, 1);

	assert_int_equal(rte_rcu_qsbr_thread_register(qv, 0), 0);
	rte_rcu_qsbr_thread_online(qv, 0);

	assert_int_equal(tbl_pod_add(t, a("10.0.0.1"), M1, 1, 1), 0);
	/* a reader holds a pointer across the delete */
	const struct tbl_pod *held = look(t, "10.0.0.1");
	assert_non_null(held);
	assert_int_equal(tbl_pod_del(t, a("10.0.0.1")), 0);
	assert_int_equal(tbl_pod_add(t, a("10.0.0.2"), M2, 2, 1), 0); /* last free slot */
	assert_int_equal(tbl_reclaim(t), 1);                           /* still pending */
	assert_int_equal(tbl_pod_add(t, a("10.0.0.3"), M2, 3, 1), -ENOSPC);
	/* the held entry was not reused or cleared */
	assert_int_equal(held->port_id, 1);
	assert_memory_equal(held->mac, M1, 6);

	rte_rcu_qsbr_quiescent(qv, 0);
	assert_int_equal(tbl_reclaim(t), 0);
	assert_int_equal(tbl_pod_add(t, a("10.0.0.3"), M2, 3, 1), 0);

	rte_rcu_qsbr_thread_offline(qv, 0);
	rte_rcu_qsbr_thread_unregister(qv, 0);
	tbl_free(t);
}

/* A live reader that reports a quiescent state after every lookup, like a
 * worker's poll loop. */
static volatile int churn_stop;

static void *churn_reader(void *arg)
{
	struct tbl *t = arg;
	uint32_t k = a("10.0.0.1");
	const struct tbl_pod *out;

	rte_rcu_qsbr_thread_online(qv, 1);
	while (!__atomic_load_n(&churn_stop, __ATOMIC_ACQUIRE)) {
		tbl_pod_lookup_bulk(t, &k, 1, &out);
		rte_rcu_qsbr_quiescent(qv, 1);
	}
	rte_rcu_qsbr_thread_offline(qv, 1);
	return NULL;
}

static void test_churn_without_housekeeping(void **state)
{
	(void)state;
	/* 250x more adds than slots, and no tbl_reclaim() call at all: each add
	 * that finds the free stack empty must reclaim the slots whose grace
	 * period has ended instead of refusing with -ENOSPC. */
	struct tbl *t = mk(4, 2);
	pthread_t th;

	assert_int_equal(rte_rcu_qsbr_thread_register(qv, 1), 0);
	churn_stop = 0;
	assert_int_equal(pthread_create(&th, NULL, churn_reader, t), 0);
	for (uint32_t i = 0; i < 1000; i++) {
		uint32_t ip = htonl(0x0a010000u + (i & 0xffu));
		uint32_t prefix = htonl(0x0a800000u + ((i & 0xffu) << 8));
		assert_int_equal(tbl_pod_add(t, ip, M1, 1, 1), 0);
		assert_int_equal(tbl_route_add(t, prefix, 24, M2, 2, 1), 0);
		assert_int_equal(tbl_pod_del(t, ip), 0);
		assert_int_equal(tbl_route_del(t, prefix, 24), 0);
	}
	assert_int_equal(tbl_pod_count(t), 0);
	assert_int_equal(tbl_route_count(t), 0);
	__atomic_store_n(&churn_stop, 1, __ATOMIC_RELEASE);
	pthread_join(th, NULL);
	rte_rcu_qsbr_thread_unregister(qv, 1);
	tbl_free(t);
}

static void test_routes(void **state)
{
	(void)state;
	struct tbl *t = mk(8, 16);

	assert_int_equal(tbl_route_add(t, a("10.1.0.0"), 16, M1, 1, 1), 0);
	assert_int_equal(tbl_route_add(t, a("10.1.2.0"), 24, M2, 2, 1), 0);
	assert_int_equal(tbl_route_count(t), 2);
	assert_int_equal(tbl_route_lookup(t, a("10.1.2.9"))->port_id, 2);
	assert_int_equal(tbl_route_lookup(t, a("10.1.3.9"))->port_id, 1);
	assert_null(tbl_route_lookup(t, a("10.2.0.1")));
	/* replace the /24's next hop */
	assert_int_equal(tbl_route_add(t, a("10.1.2.0"), 24, M1, 7, 2), 0);
	assert_int_equal(tbl_route_count(t), 2);
	assert_int_equal(tbl_route_lookup(t, a("10.1.2.9"))->port_id, 7);
	/* deleting the /24 falls back to the /16 */
	assert_int_equal(tbl_route_del(t, a("10.1.2.0"), 24), 0);
	assert_int_equal(tbl_route_lookup(t, a("10.1.2.9"))->port_id, 1);
	assert_int_equal(tbl_route_del(t, a("10.1.2.0"), 24), -ENOENT);
	/* invalid */
	assert_int_equal(tbl_route_add(t, a("10.1.2.1"), 24, M1, 1, 1), -EINVAL);
	assert_int_equal(tbl_route_add(t, a("10.1.2.0"), 33, M1, 1, 1), -EINVAL);
	assert_int_equal(tbl_route_add(t, 0, 0, M1, 1, 1), -EINVAL);
	/* /32 host route */
	assert_int_equal(tbl_route_add(t, a("10.9.9.9"), 32, M2, 9, 1), 0);
	assert_int_equal(tbl_route_lookup(t, a("10.9.9.9"))->port_id, 9);
	assert_null(tbl_route_lookup(t, a("10.9.9.8")));
	tbl_free(t);
}

static void test_sweep(void **state)
{
	(void)state;
	struct tbl *t = mk(16, 16);

	/* generation 1: full state; generation 2 replays part of it */
	assert_int_equal(tbl_pod_add(t, a("10.77.1.2"), M1, 1, 1), 0);
	assert_int_equal(tbl_pod_add(t, a("10.77.1.3"), M1, 1, 1), 0);
	assert_int_equal(tbl_pod_add(t, a("10.77.1.4"), M1, 1, 1), 0);
	assert_int_equal(tbl_route_add(t, a("10.77.2.0"), 24, M2, 2, 1), 0);
	assert_int_equal(tbl_route_add(t, a("10.77.3.0"), 24, M2, 2, 1), 0);

	assert_int_equal(tbl_pod_add(t, a("10.77.1.3"), M1, 1, 2), 0);
	assert_int_equal(tbl_pod_add(t, a("10.77.1.5"), M2, 1, 2), 0);
	assert_int_equal(tbl_route_add(t, a("10.77.3.0"), 24, M2, 2, 2), 0);

	/* sweep(2) removes what gen 2 did not refresh: 2 pods and 1 route */
	assert_int_equal(tbl_sweep(t, 2), 3);
	assert_null(look(t, "10.77.1.2"));
	assert_non_null(look(t, "10.77.1.3"));
	assert_null(look(t, "10.77.1.4"));
	assert_non_null(look(t, "10.77.1.5"));
	assert_null(tbl_route_lookup(t, a("10.77.2.1")));
	assert_non_null(tbl_route_lookup(t, a("10.77.3.1")));
	assert_int_equal(tbl_pod_count(t), 2);
	assert_int_equal(tbl_route_count(t), 1);
	/* idempotent */
	assert_int_equal(tbl_sweep(t, 2), 0);
	tbl_free(t);
}

static int count_cb(const struct tbl_pod *p, void *arg)
{
	(void)p;
	(*(int *)arg)++;
	return 0;
}

static void test_full_and_walk(void **state)
{
	(void)state;
	struct tbl *t = mk(4, 2);
	char ip[16];
	for (int i = 0; i < 4; i++) {
		snprintf(ip, sizeof(ip), "10.0.0.%d", i + 1);
		assert_int_equal(tbl_pod_add(t, a(ip), M1, 1, 1), 0);
	}
	assert_int_equal(tbl_pod_add(t, a("10.0.0.9"), M1, 1, 1), -ENOSPC);
	int n = 0;
	tbl_pod_walk(t, count_cb, &n);
	assert_int_equal(n, 4);
	assert_int_equal(tbl_route_add(t, a("10.1.0.0"), 16, M1, 1, 1), 0);
	assert_int_equal(tbl_route_add(t, a("10.2.0.0"), 16, M1, 1, 1), 0);
	assert_int_equal(tbl_route_add(t, a("10.3.0.0"), 16, M1, 1, 1), -ENOSPC);
	tbl_free(t);
	tbl_free(NULL);
}

static void test_create_invalid(void **state)
{
	(void)state;
	struct tbl_params p = { .name = "bad", .max_pods = 0, .max_routes = 1, .qsbr = qv };
	assert_null(tbl_create(&p));
	assert_int_equal(errno, EINVAL);
	p.max_pods = 1;
	p.qsbr = NULL;
	assert_null(tbl_create(&p));
	assert_int_equal(errno, EINVAL);
}

static int setup(void **state)
{
	/* rte_lpm alone takes 64 MiB (2^24 tbl24 entries). --in-memory is refused together with --no-huge (22.11 treats
	 * --no-huge as legacy memory); --no-shconf gives the same "no files
	 * left behind" and the pid keeps parallel runs apart. */
	char prefix[64];
	snprintf(prefix, sizeof(prefix), "--file-prefix=test_dp_tables_%d", (int)getpid());
	char *argv[] = { "test_dp_tables", "--no-huge", "--no-pci", "--no-shconf", "--no-telemetry",
			 "-m", "256", "-l", "0", "--log-level=error", prefix, NULL };
	(void)state;
	if (rte_eal_init(11, argv) < 0)
		return -1;
	size_t sz = rte_rcu_qsbr_get_memsize(4);
	qv = rte_zmalloc(NULL, sz, RTE_CACHE_LINE_SIZE);
	return qv == NULL || rte_rcu_qsbr_init(qv, 4) != 0 ? -1 : 0;
}

static int teardown(void **state)
{
	(void)state;
	rte_free(qv);
	/* EAL leaves its (empty, --no-shconf) runtime dir behind */
	char dir[PATH_MAX];
	snprintf(dir, sizeof(dir), "%s", rte_eal_get_runtime_dir());
	rte_eal_cleanup();
	rmdir(dir);
	return 0;
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_pods),
		cmocka_unit_test(test_grace_period),
		cmocka_unit_test(test_churn_without_housekeeping),
		cmocka_unit_test(test_routes),
		cmocka_unit_test(test_sweep),
		cmocka_unit_test(test_full_and_walk),
		cmocka_unit_test(test_create_invalid),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
