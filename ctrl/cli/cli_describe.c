/*
 * cli_describe: `sluice describe RESOURCE NAME`: one object as aligned
 * "Field: value" lines, with what an operator asks next already looked up
 * (the pods on a node, the endpoints behind a service).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cli.h"

static void cli_kv(FILE *f, int indent, const char *key, const char *val)
{
	fprintf(f, "%*s%-*s %s\n", indent, "", 22 - indent, key,
		val != NULL && val[0] ? val : "<none>");
}

static void cli_map(FILE *f, const char *key, const json_t *m)
{
	const char *k;
	json_t *v;
	bool first = true;
	char line[1024];
	json_object_foreach((json_t *)m, k, v) {
		snprintf(line, sizeof(line), "%s=%s", k,
			 json_is_string(v) ? json_string_value(v) : "?");
		cli_kv(f, 0, first ? key : "", line);
		first = false;
	}
	if (first)
		cli_kv(f, 0, key, NULL);
}

static const char *cli_num(const json_t *v, char *buf, size_t size)
{
	if (json_is_integer(v))
		snprintf(buf, size, "%" JSON_INTEGER_FORMAT, json_integer_value(v));
	else if (json_is_boolean(v))
		snprintf(buf, size, "%s", json_is_true(v) ? "true" : "false");
	else if (json_is_string(v))
		snprintf(buf, size, "%s", json_string_value(v));
	else
		buf[0] = '\0';
	return buf;
}

static json_t *cli_get_path(const json_t *o, const char *a, const char *b)
{
	return json_object_get(json_object_get(o, a), b);
}

static void cli_conditions(FILE *f, const json_t *o)
{
	size_t i;
	json_t *c;
	json_t *conds = cli_get_path(o, "status", "conditions");
	if (json_array_size(conds) == 0)
		return;
	fprintf(f, "Conditions:\n  %-20s %-8s %s\n", "Type", "Status", "Reason / Message");
	json_array_foreach(conds, i, c)
		fprintf(f, "  %-20s %-8s %s%s%s\n", cli_str(c, "type") ? cli_str(c, "type") : "?",
			cli_str(c, "status") ? cli_str(c, "status") : "?",
			cli_str(c, "reason") ? cli_str(c, "reason") : "",
			cli_str(c, "message") ? " " : "",
			cli_str(c, "message") ? cli_str(c, "message") : "");
}

static void cli_describe_pod(FILE *f, const json_t *o)
{
	char buf[64];
	size_t i;
	json_t *c;
	cli_kv(f, 0, "Node:", cli_str(o, "spec.nodeName"));
	cli_kv(f, 0, "Status:", cli_str(o, "status.phase") ? cli_str(o, "status.phase") : "Pending");
	cli_kv(f, 0, "IP:", cli_str(o, "status.podIP"));
	cli_kv(f, 0, "Host IP:", cli_str(o, "status.hostIP"));
	fprintf(f, "Containers:\n");
	json_array_foreach(cli_get_path(o, "spec", "containers"), i, c) {
		fprintf(f, "  %s:\n", cli_str(c, "name") ? cli_str(c, "name") : "?");
		cli_kv(f, 4, "Image:", cli_str(c, "image"));
		json_t *cmd = json_object_get(c, "command");
		if (json_array_size(cmd) > 0) {
			char *s = json_dumps(cmd, JSON_COMPACT);
			cli_kv(f, 4, "Command:", s);
			free(s);
		}
		size_t j;
		json_t *p;
		json_array_foreach(json_object_get(c, "ports"), j, p) {
			char port[96];
			snprintf(port, sizeof(port), "%s/%s",
				 cli_num(json_object_get(p, "containerPort"), buf, sizeof(buf)),
				 cli_str(p, "protocol") ? cli_str(p, "protocol") : "TCP");
			cli_kv(f, 4, j == 0 ? "Ports:" : "", port);
		}
	}
	json_array_foreach(cli_get_path(o, "status", "containerStatuses"), i, c) {
		char line[256];
		snprintf(line, sizeof(line), "%s ready=%s restarts=%s",
			 cli_str(c, "name") ? cli_str(c, "name") : "?",
			 json_is_true(json_object_get(c, "ready")) ? "true" : "false",
			 cli_num(json_object_get(c, "restartCount"), buf, sizeof(buf)));
		cli_kv(f, 0, i == 0 ? "Container status:" : "", line);
	}
	cli_conditions(f, o);
}

static void cli_describe_node(struct cli *c, const json_t *o)
{
	FILE *f = c->o;
	size_t i;
	json_t *a;
	cli_kv(f, 0, "PodCIDR:", cli_str(o, "spec.podCIDR"));
	cli_kv(f, 0, "Unschedulable:",
	       json_is_true(cli_get_path(o, "spec", "unschedulable")) ? "true" : "false");
	json_array_foreach(cli_get_path(o, "status", "addresses"), i, a) {
		char line[300];
		snprintf(line, sizeof(line), "%s: %s", cli_str(a, "type") ? cli_str(a, "type") : "?",
			 cli_str(a, "address") ? cli_str(a, "address") : "?");
		cli_kv(f, 0, i == 0 ? "Addresses:" : "", line);
	}
	json_array_foreach(cli_get_path(o, "spec", "taints"), i, a) {
		char line[300];
		snprintf(line, sizeof(line), "%s=%s:%s", cli_str(a, "key") ? cli_str(a, "key") : "?",
			 cli_str(a, "value") ? cli_str(a, "value") : "",
			 cli_str(a, "effect") ? cli_str(a, "effect") : "?");
		cli_kv(f, 0, i == 0 ? "Taints:" : "", line);
	}
	cli_conditions(f, o);

	/* The pods bound here, from every namespace. */
	const struct cli_res *pods = cli_res_lookup("pods");
	char q[600] = "", path[1024];
	struct apic_resp r;
	char fs[400];
	snprintf(fs, sizeof(fs), "spec.nodeName=%s", cli_str(o, "metadata.name"));
	if (cli_query_add(q, sizeof(q), "fieldSelector", fs) != 0 ||
	    cli_res_path(pods, NULL, NULL, q, path, sizeof(path)) != 0 ||
	    cli_request(c, "GET", path, NULL, &r) != 0)
		return;
	json_t *items = json_object_get(r.body, "items");
	if (r.status == 200 && json_is_array(items)) {
		fprintf(f, "Pods:                  (%zu on this node)\n", json_array_size(items));
		if (json_array_size(items) > 0) {
			struct cli_table *t = cli_table_create(pods, false, true);
			json_array_foreach(items, i, a)
				cli_table_add(t, a, time(NULL));
			cli_table_print(t, f, false);
			cli_table_free(t);
		}
	}
	apic_resp_clear(&r);
}

static void cli_describe_service(struct cli *c, const json_t *o)
{
	FILE *f = c->o;
	char buf[64];
	size_t i;
	json_t *p;
	cli_kv(f, 0, "Type:", cli_str(o, "spec.type") ? cli_str(o, "spec.type") : "ClusterIP");
	cli_kv(f, 0, "IP:", cli_str(o, "spec.clusterIP"));
	cli_map(f, "Selector:", cli_get_path(o, "spec", "selector"));
	cli_kv(f, 0, "Session Affinity:", cli_str(o, "spec.sessionAffinity"));
	json_array_foreach(cli_get_path(o, "spec", "ports"), i, p) {
		char line[200], tp[64];
		snprintf(line, sizeof(line), "%s%s%s/%s -> %s", cli_str(p, "name") ? cli_str(p, "name") : "",
			 cli_str(p, "name") ? " " : "",
			 cli_num(json_object_get(p, "port"), buf, sizeof(buf)),
			 cli_str(p, "protocol") ? cli_str(p, "protocol") : "TCP",
			 cli_num(json_object_get(p, "targetPort"), tp, sizeof(tp)));
		cli_kv(f, 0, i == 0 ? "Ports:" : "", line);
	}
	const struct cli_res *ep = cli_res_lookup("endpoints");
	char path[1024];
	struct apic_resp r;
	if (cli_res_path(ep, cli_str(o, "metadata.namespace"), cli_str(o, "metadata.name"), NULL,
			 path, sizeof(path)) != 0 ||
	    cli_request(c, "GET", path, NULL, &r) != 0)
		return;
	char line[1024] = "";
	json_t *s, *a;
	size_t j;
	if (r.status == 200)
		json_array_foreach(json_object_get(r.body, "subsets"), i, s)
			json_array_foreach(json_object_get(s, "addresses"), j, a) {
				size_t len = strlen(line);
				snprintf(line + len, sizeof(line) - len, "%s%s", len ? "," : "",
					 cli_str(a, "ip") ? cli_str(a, "ip") : "?");
			}
	cli_kv(f, 0, "Endpoints:", line);
	apic_resp_clear(&r);
}

static void cli_describe_deployment(FILE *f, const json_t *o)
{
	char line[256], b1[32], b2[32], b3[32], b4[32];
	json_t *st = json_object_get(o, "status");
	json_t *rep = cli_get_path(o, "spec", "replicas");
	snprintf(line, sizeof(line), "%s desired | %s updated | %s ready | %s available",
		 json_is_integer(rep) ? cli_num(rep, b1, sizeof(b1)) : "1",
		 cli_num(json_object_get(st, "updatedReplicas"), b2, sizeof(b2))[0] ? b2 : "0",
		 cli_num(json_object_get(st, "readyReplicas"), b3, sizeof(b3))[0] ? b3 : "0",
		 cli_num(json_object_get(st, "availableReplicas"), b4, sizeof(b4))[0] ? b4 : "0");
	cli_kv(f, 0, "Replicas:", line);
	cli_map(f, "Selector:", json_object_get(cli_get_path(o, "spec", "selector"), "matchLabels"));
	cli_kv(f, 0, "Strategy:", cli_str(o, "spec.strategy.type"));
	size_t i;
	json_t *c;
	json_t *tmpl = cli_get_path(o, "spec", "template");
	fprintf(f, "Pod Template:\n");
	json_array_foreach(cli_get_path(tmpl, "spec", "containers"), i, c) {
		fprintf(f, "  %s:\n", cli_str(c, "name") ? cli_str(c, "name") : "?");
		cli_kv(f, 4, "Image:", cli_str(c, "image"));
	}
	cli_conditions(f, o);
}

static void cli_describe_endpoints(FILE *f, const json_t *o)
{
	size_t i, j;
	json_t *s, *a;
	json_array_foreach(json_object_get(o, "subsets"), i, s) {
		fprintf(f, "Subset %zu:\n", i + 1);
		json_array_foreach(json_object_get(s, "addresses"), j, a)
			cli_kv(f, 2, j == 0 ? "Addresses:" : "", cli_str(a, "ip"));
		json_array_foreach(json_object_get(s, "notReadyAddresses"), j, a)
			cli_kv(f, 2, j == 0 ? "NotReadyAddresses:" : "", cli_str(a, "ip"));
		char buf[32];
		json_array_foreach(json_object_get(s, "ports"), j, a) {
			char line[128];
			snprintf(line, sizeof(line), "%s%s%s/%s", cli_str(a, "name") ? cli_str(a, "name") : "",
				 cli_str(a, "name") ? " " : "",
				 cli_num(json_object_get(a, "port"), buf, sizeof(buf)),
				 cli_str(a, "protocol") ? cli_str(a, "protocol") : "TCP");
			cli_kv(f, 2, j == 0 ? "Ports:" : "", line);
		}
	}
}

static void cli_describe_lease(FILE *f, const json_t *o)
{
	char buf[32];
	cli_kv(f, 0, "Holder:", cli_str(o, "spec.holderIdentity"));
	cli_kv(f, 0, "Renew Time:", cli_str(o, "spec.renewTime"));
	cli_kv(f, 0, "Acquire Time:", cli_str(o, "spec.acquireTime"));
	cli_kv(f, 0, "Duration (s):",
	       cli_num(cli_get_path(o, "spec", "leaseDurationSeconds"), buf, sizeof(buf)));
}

int cli_cmd_describe(struct cli *c)
{
	struct cli_target t;
	int rc = cli_targets(c, &t, true), worst = 0;
	if (rc != 0)
		return rc;
	for (size_t i = 0; i < t.n_names; i++) {
		char path[2048];
		struct apic_resp r;
		const char *ns = t.res->namespaced ? cli_namespace(c) : NULL;
		if (cli_res_path(t.res, ns, t.names[i], NULL, path, sizeof(path)) != 0)
			return cli_fail(c, CLI_EXIT_USAGE, "describe: name too long");
		rc = cli_request(c, "GET", path, NULL, &r);
		if (rc != 0)
			return rc;
		if (r.status != 200 || !json_is_object(r.body)) {
			rc = cli_server_error(c, &r);
			if (rc > worst)
				worst = rc;
			apic_resp_clear(&r);
			continue;
		}
		const json_t *o = r.body;
		FILE *f = c->o;
		if (i > 0)
			fputc('\n', f);
		cli_kv(f, 0, "Name:", cli_str(o, "metadata.name"));
		if (t.res->namespaced)
			cli_kv(f, 0, "Namespace:", cli_str(o, "metadata.namespace"));
		cli_kv(f, 0, "Kind:", t.res->kind);
		cli_map(f, "Labels:", cli_get_path(o, "metadata", "labels"));
		cli_map(f, "Annotations:", cli_get_path(o, "metadata", "annotations"));
		cli_kv(f, 0, "Created:", cli_str(o, "metadata.creationTimestamp"));
		cli_kv(f, 0, "UID:", cli_str(o, "metadata.uid"));
		cli_kv(f, 0, "Resource Version:", cli_str(o, "metadata.resourceVersion"));
		if (strcmp(t.res->kind, "Pod") == 0)
			cli_describe_pod(f, o);
		else if (strcmp(t.res->kind, "Node") == 0)
			cli_describe_node(c, o);
		else if (strcmp(t.res->kind, "Service") == 0)
			cli_describe_service(c, o);
		else if (strcmp(t.res->kind, "Deployment") == 0)
			cli_describe_deployment(f, o);
		else if (strcmp(t.res->kind, "Endpoints") == 0)
			cli_describe_endpoints(f, o);
		else
			cli_describe_lease(f, o);
		apic_resp_clear(&r);
	}
	return worst;
}
