/*
 * cli_delete: `sluice delete` by name, by label selector (list, then delete
 * each), or the objects of a manifest. Every object is attempted; the exit
 * code is the worst outcome.
 */
#include <stdio.h>
#include <string.h>

#include "cli.h"

/* Delete one object; prints the outcome, returns an exit code. */
static int cli_delete_one(struct cli *c, const struct cli_res *r, const char *ns,
			  const char *name)
{
	char path[2048];
	struct apic_resp resp;
	if (cli_res_path(r, ns, name, NULL, path, sizeof(path)) != 0)
		return cli_fail(c, CLI_EXIT_USAGE, "delete: name too long");
	int rc = cli_request(c, "DELETE", path, NULL, &resp);
	if (rc != 0)
		return rc;
	if (resp.status == 200 || resp.status == 202) {
		fprintf(c->o, "%s \"%s\" deleted\n", r->singular, name);
		rc = 0;
	} else if (resp.status == 404 && c->ignore_not_found) {
		rc = 0;
	} else {
		rc = cli_server_error(c, &resp);
	}
	apic_resp_clear(&resp);
	return rc;
}

static int cli_delete_selected(struct cli *c, const struct cli_res *r)
{
	char q[2048] = "", path[4096];
	struct apic_resp resp;
	const char *ns = r->namespaced ? (c->all_ns ? NULL : cli_namespace(c)) : NULL;
	if ((c->selector && cli_query_add(q, sizeof(q), "labelSelector", c->selector) != 0) ||
	    (c->field_selector &&
	     cli_query_add(q, sizeof(q), "fieldSelector", c->field_selector) != 0) ||
	    cli_res_path(r, ns, NULL, q, path, sizeof(path)) != 0)
		return cli_fail(c, CLI_EXIT_USAGE, "delete: selector too long");
	int rc = cli_request(c, "GET", path, NULL, &resp);
	if (rc != 0)
		return rc;
	if (resp.status != 200) {
		rc = cli_server_error(c, &resp);
		apic_resp_clear(&resp);
		return rc;
	}
	json_t *items = json_object_get(resp.body, "items");
	size_t i;
	json_t *it;
	int worst = 0;
	if (json_array_size(items) == 0)
		fprintf(c->e, "No resources found\n");
	json_array_foreach(items, i, it) {
		const char *name = cli_str(it, "metadata.name");
		const char *ons = cli_str(it, "metadata.namespace");
		if (name == NULL)
			continue;
		rc = cli_delete_one(c, r, r->namespaced ? (ons ? ons : ns) : NULL, name);
		if (rc > worst)
			worst = rc;
		if (rc == CLI_EXIT_UNREACHABLE || rc == CLI_EXIT_TLS)
			break;
	}
	apic_resp_clear(&resp);
	return worst;
}

static int cli_delete_files(struct cli *c)
{
	char err[512];
	int worst = 0;
	for (size_t i = 0; i < c->n_files; i++) {
		json_t *docs;
		const char *file = strcmp(c->files[i], "-") == 0 ? "<stdin>" : c->files[i];
		int rc = cli_manifest_load(c->files[i], &docs, err, sizeof(err));
		if (rc != 0)
			return cli_fail(c, rc, "%s", err);
		size_t k;
		json_t *doc;
		json_array_foreach(docs, k, doc) {
			const struct cli_res *r = NULL;
			const char *ns = NULL, *name = NULL;
			rc = cli_doc_target(c, file, k, doc, &r, &ns, &name);
			if (rc == 0)
				rc = cli_delete_one(c, r, ns, name);
			if (rc > worst)
				worst = rc;
			if (rc == CLI_EXIT_UNREACHABLE || rc == CLI_EXIT_TLS)
				break;
		}
		json_decref(docs);
		if (worst == CLI_EXIT_UNREACHABLE || worst == CLI_EXIT_TLS)
			break;
	}
	return worst;
}

int cli_cmd_delete(struct cli *c)
{
	struct cli_target t;
	int worst = 0;
	if (c->n_files > 0) {
		if (c->argc > 0)
			return cli_fail(c, CLI_EXIT_USAGE, "delete: -f and names do not mix");
		return cli_delete_files(c);
	}
	int rc = cli_targets(c, &t, false);
	if (rc != 0)
		return rc;
	if (t.n_names == 0) {
		if (c->selector == NULL && c->field_selector == NULL)
			return cli_fail(c, CLI_EXIT_USAGE,
					"delete: give names, -l SELECTOR or -f FILE (refusing to "
					"delete every %s)", t.res->resource);
		return cli_delete_selected(c, t.res);
	}
	if (c->selector != NULL)
		return cli_fail(c, CLI_EXIT_USAGE, "delete: names and -l do not mix");
	for (size_t i = 0; i < t.n_names; i++) {
		rc = cli_delete_one(c, t.res, t.res->namespaced ? cli_namespace(c) : NULL,
				    t.names[i]);
		if (rc > worst)
			worst = rc;
		if (rc == CLI_EXIT_UNREACHABLE || rc == CLI_EXIT_TLS)
			break;
	}
	return worst;
}
