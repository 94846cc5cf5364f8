/*
 * fuzz_orch: every object orch reads comes from the API, so a malformed
 * (or hostile) Node, Pod, Deployment, Service or Lease must give a clean
 * error, never a crash. The input is one JSON document; it is fed, as is
 * and as an element of a list, to each pure decision module: the scheduler
 * (as a node and as a pod to place), IPAM (its spec.podCIDR), the node
 * lifecycle (as a node and as its lease), the Deployment reconcile (as the
 * deployment, with itself as an owned pod) and the Endpoints computation.
 */
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "ctlr_deploy.h"
#include "ctlr_endpoints.h"
#include "ctlr_ipam.h"
#include "ctlr_node.h"
#include "ctlr_sched.h"
#include "ctlr_util.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	json_t *v = json_loadb((const char *)data, size, JSON_DECODE_ANY, NULL);
	if (v == NULL)
		return 0;
	char err[256];
	struct sched *s = sched_create(NULL);
	json_t *good = json_pack("{s:{s:s}, s:{s:{s:s, s:s}, s:[{s:s, s:s}]}}", "metadata", "name",
				 "n1", "status", "allocatable", "cpu", "4", "memory", "8Gi",
				 "conditions", "type", "Ready", "status", "True");
	sched_node_set(s, good, err, sizeof(err));
	sched_node_set(s, v, err, sizeof(err));
	sched_pod_set(s, "ns/p", v, "n1", err, sizeof(err));
	struct sched_result r;
	sched_pick(s, v, &r, err, sizeof(err));
	sched_pod_remove(s, "ns/p");
	sched_node_remove(s, ctlr_name(v));
	sched_free(s);

	struct ipam *a = ipam_create("10.244.0.0/16", 24, err, sizeof(err));
	const char *cidr =
		json_string_value(json_object_get(json_object_get(v, "spec"), "podCIDR"));
	if (a && cidr)
		ipam_claim(a, ctlr_name(v), cidr, err, sizeof(err));
	ipam_free(a);

	struct nodelc_node nn;
	nodelc_from_json(v, v, 1, &nn);
	struct nodelc_params np = {0};
	struct nodelc_state st = {0};
	struct nodelc_summary sum;
	unsigned out;
	nodelc_decide(&np, &st, 1700000000000000ll, &nn, 1, &out, &sum);
	json_decref(nodelc_apply(v, NODELC_MARK_NOT_READY, 1700000000000000ll));
	json_decref(nodelc_apply(v, NODELC_MARK_READY, 1700000000000000ll));

	const json_t *pods[2] = {v, good};
	struct deploy_plan plan;
	deploy_reconcile(v, pods, 2, &plan, err, sizeof(err));
	deploy_plan_clear(&plan);

	bool nomem;
	json_t *ep = endpoints_compute(v, pods, 2, &nomem);
	endpoints_equal(ep, v);
	json_decref(ep);
	int64_t us;
	ctlr_time_parse(json_string_value(v), &us);
	ctlr_pod_ready(v);
	json_decref(good);
	json_decref(v);
	return 0;
}
