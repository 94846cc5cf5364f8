/*
 * cli_node: `sluice cordon|uncordon|drain NODE`.
 *
 * Cordoning is a read-modify-write of spec.unschedulable at the node's
 * resourceVersion (cli_update); the node agent updates the same object
 * (status), so a 409 Conflict is expected now and then and is retried.
 * Drain cordons first, so the scheduler stops placing pods there, then
 * deletes the pods bound to the node; their controllers recreate them on
 * other nodes.
 */
#include <stdio.h>
#include <string.h>

#include "cli.h"

static bool cli_node_mutate(json_t *node, void *arg)
{
	bool cordon = *(const bool *)arg;
	json_t *spec = cli_spec(node);
	if (json_is_true(json_object_get(spec, "unschedulable")) == cordon)
		return false;
	if (cordon)
		json_object_set_new(spec, "unschedulable", json_true());
	else
		json_object_del(spec, "unschedulable");
	return true;
}

/* Set or clear spec.unschedulable; prints the outcome. */
static int cli_node_set(struct cli *c, const char *node, bool cordon)
{
	return cli_update(c, cli_res_lookup("nodes"), NULL, node, cli_node_mutate, &cordon,
			  cordon ? "cordoned" : "uncordoned",
			  cordon ? "already cordoned" : "already uncordoned");
}

static int cli_one_node(struct cli *c, const char **node)
{
	if (c->argc != 1)
		return cli_fail(c, CLI_EXIT_USAGE, "%s: give exactly one NODE", c->cmd);
	*node = c->argv[0];
	if (strncmp(*node, "node/", 5) == 0 || strncmp(*node, "nodes/", 6) == 0)
		*node = strchr(*node, '/') + 1;
	if ((*node)[0] == '\0')
		return cli_fail(c, CLI_EXIT_USAGE, "%s: empty node name", c->cmd);
	return 0;
}

int cli_cmd_cordon(struct cli *c)
{
	const char *node = NULL;
	int rc = cli_one_node(c, &node);
	return rc != 0 ? rc : cli_node_set(c, node, true);
}

int cli_cmd_uncordon(struct cli *c)
{
	const char *node = NULL;
	int rc = cli_one_node(c, &node);
	return rc != 0 ? rc : cli_node_set(c, node, false);
}

int cli_cmd_drain(struct cli *c)
{
	const struct cli_res *pods = cli_res_lookup("pods");
	const char *node = NULL;
	char q[600] = "", fs[400], path[1024];
	struct apic_resp r;
	int rc = cli_one_node(c, &node), worst = 0;
	if (rc != 0)
		return rc;
	rc = cli_node_set(c, node, true);
	if (rc != 0)
		return rc;
	snprintf(fs, sizeof(fs), "spec.nodeName=%s", node);
	if (cli_query_add(q, sizeof(q), "fieldSelector", fs) != 0 ||
	    cli_res_path(pods, NULL, NULL, q, path, sizeof(path)) != 0)
		return cli_fail(c, CLI_EXIT_USAGE, "node name too long");
	rc = cli_request(c, "GET", path, NULL, &r);
	if (rc != 0)
		return rc;
	if (r.status != 200 || !json_is_array(json_object_get(r.body, "items"))) {
		rc = r.status != 200 ? cli_server_error(c, &r) :
				       cli_fail(c, CLI_EXIT_PROTOCOL, "pod list without items");
		apic_resp_clear(&r);
		return rc;
	}
	size_t i;
	json_t *p;
	json_array_foreach(json_object_get(r.body, "items"), i, p) {
		const char *name = cli_str(p, "metadata.name");
		const char *ns = cli_str(p, "metadata.namespace");
		const char *bound = cli_str(p, "spec.nodeName");
		char ppath[1024];
		struct apic_resp d;
		/* The selector is the server's; check the binding ourselves too. */
		if (name == NULL || ns == NULL || bound == NULL || strcmp(bound, node) != 0)
			continue;
		fprintf(c->o, "evicting pod %s/%s\n", ns, name);
		if (cli_res_path(pods, ns, name, NULL, ppath, sizeof(ppath)) != 0)
			continue;
		rc = cli_request(c, "DELETE", ppath, NULL, &d);
		if (rc != 0) {
			worst = rc;
			break;
		}
		if (d.status == 200 || d.status == 404) /* 404: gone already */
			fprintf(c->o, "pod/%s evicted\n", name);
		else if ((rc = cli_server_error(c, &d)) > worst)
			worst = rc;
		apic_resp_clear(&d);
	}
	apic_resp_clear(&r);
	if (worst == 0)
		fprintf(c->o, "node/%s drained\n", node);
	fflush(c->o);
	return worst;
}
