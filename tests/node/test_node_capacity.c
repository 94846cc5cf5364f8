/*
 * test_node_capacity: the pure parts of the agent's cluster side
 * (ctrl/agent_node.h): Node capacity from a fake /proc and /sys tree,
 * MemTotal parsing, the capacity/allocatable objects, --labels and
 * --register-taint parsing, the gateway of a pod CIDR, a Node's
 * InternalIP and route ids.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>
#include <jansson.h>

#include "agent_node.h"

static char root[256];

static void put(const char *rel, const char *text)
{
	char path[512], dir[512];
	snprintf(path, sizeof(path), "%s/%s", root, rel);
	snprintf(dir, sizeof(dir), "%s", path);
	for (char *p = dir + strlen(root) + 1; (p = strchr(p, '/')) != NULL; p++) {
		*p = '\0';
		mkdir(dir, 0755);
		*p = '/';
	}
	FILE *f = fopen(path, "w");
	assert_non_null(f);
	fputs(text, f);
	fclose(f);
}

static int setup(void **state)
{
	(void)state;
	snprintf(root, sizeof(root), "/tmp/test_node_capacity.XXXXXX");
	return mkdtemp(root) ? 0 : -1;
}

static int teardown(void **state)
{
	char cmd[300];
	(void)state;
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", root);
	return system(cmd) == 0 ? 0 : -1;
}

static void test_meminfo(void **state)
{
	(void)state;
	uint64_t kib = 0;
	assert_int_equal(agent_node_meminfo_total("MemTotal:       16318712 kB\nMemFree: 1 kB\n", &kib), 0);
	assert_int_equal(kib, 16318712);
	assert_int_equal(agent_node_meminfo_total("MemFree: 1 kB\nMemTotal: 42 kB", &kib), 0);
	assert_int_equal(kib, 42);
	assert_int_equal(agent_node_meminfo_total("MemFree: 1 kB\n", &kib), -1);
	assert_int_equal(agent_node_meminfo_total("MemTotal: lots\n", &kib), -1);
	assert_int_equal(agent_node_meminfo_total("", &kib), -1);
}

static void test_capacity_tree(void **state)
{
	(void)state;
	struct agent_node_capacity c;
	char err[256];

	/* No meminfo: the error names the file. */
	assert_int_equal(agent_node_capacity_read(root, &c, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "/proc/meminfo"));

	put("proc/meminfo", "MemTotal:        4194304 kB\nMemFree: 5 kB\n");
	put("sys/devices/system/cpu/online", "0-3,6,8-9\n");
	put("sys/kernel/mm/hugepages/hugepages-2048kB/nr_hugepages", "512\n");
	assert_int_equal(agent_node_capacity_read(root, &c, err, sizeof(err)), 0);
	assert_int_equal(c.cpus, 7);
	assert_int_equal(c.mem_kib, 4194304);
	assert_int_equal(c.huge_2m, 512);
	assert_int_equal(c.huge_1g, 0); /* size not offered: none */

	put("sys/kernel/mm/hugepages/hugepages-1048576kB/nr_hugepages", "1\n");
	assert_int_equal(agent_node_capacity_read(root, &c, err, sizeof(err)), 0);
	assert_int_equal(c.huge_1g, 1);

	json_t *cap = agent_node_capacity_json(&c, 0, 0);
	json_t *alloc = agent_node_capacity_json(&c, 50, 1);
	assert_string_equal(json_string_value(json_object_get(cap, "cpu")), "7");
	assert_string_equal(json_string_value(json_object_get(cap, "memory")), "4194304Ki");
	assert_string_equal(json_string_value(json_object_get(cap, "hugepages-2Mi")), "1024Mi");
	assert_string_equal(json_string_value(json_object_get(cap, "hugepages-1Gi")), "1Gi");
	assert_string_equal(json_string_value(json_object_get(cap, "pods")), "110");
	/* Allocatable memory leaves out the hugepages (1 GiB + 1 GiB). */
	assert_string_equal(json_string_value(json_object_get(alloc, "memory")), "2097152Ki");
	assert_string_equal(json_string_value(json_object_get(alloc, "pods")), "50");
	json_decref(cap);
	json_decref(alloc);

	/* Malformed files are refused with the file's name. */
	put("sys/kernel/mm/hugepages/hugepages-2048kB/nr_hugepages", "many\n");
	assert_int_equal(agent_node_capacity_read(root, &c, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "hugepages-2048kB"));
	put("sys/kernel/mm/hugepages/hugepages-2048kB/nr_hugepages", "0\n");
	put("sys/devices/system/cpu/online", "3-1\n");
	assert_int_equal(agent_node_capacity_read(root, &c, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "cpu/online"));
	put("sys/devices/system/cpu/online", "0\n");
	assert_int_equal(agent_node_capacity_read(root, &c, err, sizeof(err)), 0);
	assert_int_equal(c.cpus, 1);
}

static void test_capacity_real(void **state)
{
	(void)state;
	struct agent_node_capacity c;
	char err[256];
	assert_int_equal(agent_node_capacity_read("", &c, err, sizeof(err)), 0);
	assert_true(c.cpus >= 1);
	assert_true(c.mem_kib > 0);
}

static void test_labels(void **state)
{
	(void)state;
	char err[256];
	json_t *l = agent_node_labels_parse("a=b,sluice.io/zone=z1,empty=", err, sizeof(err));
	assert_non_null(l);
	assert_string_equal(json_string_value(json_object_get(l, "a")), "b");
	assert_string_equal(json_string_value(json_object_get(l, "sluice.io/zone")), "z1");
	assert_string_equal(json_string_value(json_object_get(l, "empty")), "");
	json_decref(l);
	l = agent_node_labels_parse(NULL, err, sizeof(err));
	assert_int_equal(json_object_size(l), 0);
	json_decref(l);
	static const char *const bad[] = {"novalue", "=v", "a=b c", "a=x/y", "a b=c"};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		err[0] = '\0';
		assert_null(agent_node_labels_parse(bad[i], err, sizeof(err)));
		assert_non_null(strstr(err, "--labels"));
		assert_non_null(strstr(err, bad[i]));
	}
}

static void test_taints(void **state)
{
	(void)state;
	char err[256];
	json_t *t = agent_node_taints_parse("dedicated=gpu:NoSchedule,maint:NoExecute", err, sizeof(err));
	assert_non_null(t);
	assert_int_equal(json_array_size(t), 2);
	json_t *t0 = json_array_get(t, 0), *t1 = json_array_get(t, 1);
	assert_string_equal(json_string_value(json_object_get(t0, "key")), "dedicated");
	assert_string_equal(json_string_value(json_object_get(t0, "value")), "gpu");
	assert_string_equal(json_string_value(json_object_get(t0, "effect")), "NoSchedule");
	assert_string_equal(json_string_value(json_object_get(t1, "key")), "maint");
	assert_null(json_object_get(t1, "value"));
	assert_string_equal(json_string_value(json_object_get(t1, "effect")), "NoExecute");
	json_decref(t);
	static const char *const bad[] = {"k=v", "k=v:Sometimes", ":NoSchedule", "k=v w:NoSchedule"};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		err[0] = '\0';
		assert_null(agent_node_taints_parse(bad[i], err, sizeof(err)));
		if (strstr(err, "--register-taint") == NULL)
			fail_msg("case %zu (%s): error \"%s\"", i + 1, bad[i], err);
	}
}

static void test_first_host_and_ip(void **state)
{
	(void)state;
	char gw[64];
	assert_int_equal(agent_node_first_host("10.244.1.0/24", gw, sizeof(gw)), 0);
	assert_string_equal(gw, "10.244.1.1");
	assert_int_equal(agent_node_first_host("10.244.1.77/24", gw, sizeof(gw)), 0);
	assert_string_equal(gw, "10.244.1.1"); /* host bits ignored */
	assert_int_equal(agent_node_first_host("10.0.0.0/8", gw, sizeof(gw)), 0);
	assert_string_equal(gw, "10.0.0.1");
	assert_int_equal(agent_node_first_host("10.0.0.0/31", gw, sizeof(gw)), -1);
	assert_int_equal(agent_node_first_host("10.0.0.0", gw, sizeof(gw)), -1);
	assert_int_equal(agent_node_first_host("fd00::/64", gw, sizeof(gw)), -1);
	assert_int_equal(agent_node_first_host("10.0.0.0/", gw, sizeof(gw)), -1);

	json_t *n = json_loads("{\"status\":{\"addresses\":[{\"type\":\"Hostname\",\"address\":\"w1\"},"
			       "{\"type\":\"InternalIP\",\"address\":\"192.168.1.5\"}]}}", 0, NULL);
	assert_string_equal(agent_node_internal_ip(n), "192.168.1.5");
	json_decref(n);
	n = json_loads("{\"status\":{}}", 0, NULL);
	assert_null(agent_node_internal_ip(n));
	json_decref(n);

	assert_int_not_equal(agent_node_id("w1"), 0);
	assert_int_equal(agent_node_id("w1"), agent_node_id("w1"));
	assert_int_not_equal(agent_node_id("w1"), agent_node_id("w2"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_meminfo),
		cmocka_unit_test_setup_teardown(test_capacity_tree, setup, teardown),
		cmocka_unit_test(test_capacity_real),
		cmocka_unit_test(test_labels),
		cmocka_unit_test(test_taints),
		cmocka_unit_test(test_first_host_and_ip),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
