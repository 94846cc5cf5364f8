/*
 * cli_apply: `sluice apply -f` and `sluice create -f`.
 *
 * apply creates each object, and when the server answers 409 AlreadyExists
 * it reads the stored object, merges the manifest into it (objects merge
 * key by key, anything else is replaced: RFC 7386 without deletions), and
 * PUTs the result at the stored resourceVersion. Merging rather than
 * replacing keeps what the cluster filled in (a pod's spec.nodeName, a
 * status) that the manifest does not mention. A 409 Conflict means someone
 * wrote in between: read again and retry, a bounded number of times.
 */
#include <stdio.h>
#include <string.h>

#include "cli.h"

#define CLI_APPLY_RETRIES 5

/* Merge src into dst in place (dst owns the result). */
static void cli_merge(json_t *dst, const json_t *src)
{
	const char *k;
	json_t *v;
	json_object_foreach((json_t *)src, k, v) {
		json_t *d = json_object_get(dst, k);
		if (json_is_object(v) && json_is_object(d))
			cli_merge(d, v);
		else
			json_object_set_new(dst, k, json_deep_copy(v));
	}
}

int cli_doc_target(struct cli *c, const char *file, size_t index, json_t *doc,
			  const struct cli_res **res, const char **ns, const char **name)
{
	const char *kind = cli_str(doc, "kind");
	const char *api_version = cli_str(doc, "apiVersion");
	*name = cli_str(doc, "metadata.name");
	if (kind == NULL)
		return cli_fail(c, CLI_EXIT_USAGE, "%s: document %zu: missing \"kind\"", file,
				index + 1);
	if (api_version == NULL)
		return cli_fail(c, CLI_EXIT_USAGE, "%s: document %zu: missing \"apiVersion\"", file,
				index + 1);
	*res = cli_res_by_kind(kind, NULL);
	if (*res == NULL)
		return cli_fail(c, CLI_EXIT_USAGE, "%s: document %zu: unknown kind \"%s\" (known: "
				"Pod, Node, Service, Endpoints, Deployment, Lease)", file,
				index + 1, kind);
	if (strcmp(api_version, (*res)->api_version) != 0)
		return cli_fail(c, CLI_EXIT_USAGE,
				"%s: document %zu: apiVersion \"%s\" for kind %s, expected \"%s\"",
				file, index + 1, api_version, kind, (*res)->api_version);
	if (*name == NULL || (*name)[0] == '\0')
		return cli_fail(c, CLI_EXIT_USAGE, "%s: document %zu: missing metadata.name", file,
				index + 1);
	*ns = NULL;
	if ((*res)->namespaced) {
		const char *dns = cli_str(doc, "metadata.namespace");
		if (dns != NULL && c->ns_given && strcmp(dns, c->ns) != 0)
			return cli_fail(c, CLI_EXIT_USAGE,
					"%s: document %zu: namespace \"%s\" differs from -n %s",
					file, index + 1, dns, c->ns);
		if (dns == NULL)
			json_object_set_new(json_object_get(doc, "metadata"), "namespace",
					    json_string(cli_namespace(c)));
		/* Read back: *ns must point into doc, which outlives the call. */
		*ns = cli_str(doc, "metadata.namespace");
	}
	return 0;
}

/* The update half of apply: GET, merge, PUT; 0 or an exit code. */
static int cli_apply_update(struct cli *c, const struct cli_res *r, const char *ns,
			    const char *name, const json_t *doc, const char *ref)
{
	char path[2048];
	if (cli_res_path(r, ns, name, NULL, path, sizeof(path)) != 0)
		return cli_fail(c, CLI_EXIT_USAGE, "%s: name too long", ref);
	for (int attempt = 0; attempt < CLI_APPLY_RETRIES; attempt++) {
		struct apic_resp cur, put;
		int rc = cli_request(c, "GET", path, NULL, &cur);
		if (rc != 0)
			return rc;
		if (cur.status == 404) {
			/* Deleted since our create failed: the caller creates again. */
			apic_resp_clear(&cur);
			return -1;
		}
		if (cur.status != 200 || !json_is_object(cur.body)) {
			rc = cli_server_error(c, &cur);
			apic_resp_clear(&cur);
			return rc;
		}
		const char *rv = cli_str(cur.body, "metadata.resourceVersion");
		if (rv == NULL) {
			apic_resp_clear(&cur);
			return cli_fail(c, CLI_EXIT_PROTOCOL, "%s: stored object has no "
					"metadata.resourceVersion", ref);
		}
		json_t *merged = json_deep_copy(cur.body);
		cli_merge(merged, doc);
		json_object_set_new(json_object_get(merged, "metadata"), "resourceVersion",
				    json_string(rv));
		if (json_equal(merged, cur.body)) {
			fprintf(c->o, "%s unchanged\n", ref);
			json_decref(merged);
			apic_resp_clear(&cur);
			return 0;
		}
		apic_resp_clear(&cur);
		rc = cli_request(c, "PUT", path, merged, &put);
		json_decref(merged);
		if (rc != 0)
			return rc;
		if (put.status == 200 || put.status == 201) {
			fprintf(c->o, "%s configured\n", ref);
			apic_resp_clear(&put);
			return 0;
		}
		bool conflict = put.status == 409 &&
				strcmp(cli_str(put.body, "reason") ? cli_str(put.body, "reason") : "",
				       "Conflict") == 0;
		if (!conflict) {
			rc = cli_server_error(c, &put);
			apic_resp_clear(&put);
			return rc;
		}
		apic_resp_clear(&put); /* written in between: read again */
	}
	return cli_fail(c, CLI_EXIT_REFUSED, "%s: still conflicting after %d attempts", ref,
			CLI_APPLY_RETRIES);
}

static int cli_apply_one(struct cli *c, const char *file, size_t index, json_t *doc,
			 bool update)
{
	const struct cli_res *r = NULL;
	const char *ns = NULL, *name = NULL;
	char path[2048], ref[600];
	int rc = cli_doc_target(c, file, index, doc, &r, &ns, &name);
	if (rc != 0)
		return rc;
	snprintf(ref, sizeof(ref), "%s/%s", r->singular, name);
	if (cli_res_path(r, ns, NULL, NULL, path, sizeof(path)) != 0)
		return cli_fail(c, CLI_EXIT_USAGE, "%s: namespace too long", ref);
	/* The manifest's own resourceVersion would make every apply stale. */
	json_object_del(json_object_get(doc, "metadata"), "resourceVersion");

	for (int attempt = 0; attempt < CLI_APPLY_RETRIES; attempt++) {
		struct apic_resp resp;
		rc = cli_request(c, "POST", path, doc, &resp);
		if (rc != 0)
			return rc;
		if (resp.status == 201 || resp.status == 200) {
			fprintf(c->o, "%s created\n", ref);
			apic_resp_clear(&resp);
			return 0;
		}
		const char *reason = cli_str(resp.body, "reason");
		bool exists = resp.status == 409 && reason && strcmp(reason, "AlreadyExists") == 0;
		if (!exists || !update) {
			rc = cli_server_error(c, &resp);
			apic_resp_clear(&resp);
			return rc;
		}
		apic_resp_clear(&resp);
		rc = cli_apply_update(c, r, ns, name, doc, ref);
		if (rc >= 0)
			return rc;
	}
	return cli_fail(c, CLI_EXIT_REFUSED, "%s: created and deleted concurrently %d times",
			ref, CLI_APPLY_RETRIES);
}

static int cli_apply_files(struct cli *c, bool update)
{
	char err[512];
	int worst = 0;
	if (c->n_files == 0)
		return cli_fail(c, CLI_EXIT_USAGE, "%s: give manifests with -f FILE (- for stdin)",
				c->cmd);
	if (c->argc > 0)
		return cli_fail(c, CLI_EXIT_USAGE, "%s: unexpected argument \"%s\"", c->cmd,
				c->argv[0]);
	/* Parse every file first: a typo in the last one applies nothing. */
	json_t *all[CLI_MAX_FILES] = {0};
	for (size_t i = 0; i < c->n_files; i++) {
		int rc = cli_manifest_load(c->files[i], &all[i], err, sizeof(err));
		if (rc != 0) {
			for (size_t j = 0; j < i; j++)
				json_decref(all[j]);
			return cli_fail(c, rc, "%s", err);
		}
	}
	for (size_t i = 0; i < c->n_files; i++) {
		size_t k;
		json_t *doc;
		const char *name = strcmp(c->files[i], "-") == 0 ? "<stdin>" : c->files[i];
		json_array_foreach(all[i], k, doc) {
			int rc = cli_apply_one(c, name, k, doc, update);
			if (rc > worst)
				worst = rc;
			if (rc == CLI_EXIT_UNREACHABLE || rc == CLI_EXIT_TLS)
				break; /* the next object would fail the same way */
		}
		if (worst == CLI_EXIT_UNREACHABLE || worst == CLI_EXIT_TLS)
			break;
	}
	for (size_t i = 0; i < c->n_files; i++)
		json_decref(all[i]);
	return worst;
}

int cli_cmd_apply(struct cli *c)
{
	return cli_apply_files(c, true);
}

int cli_cmd_create(struct cli *c)
{
	return cli_apply_files(c, false);
}
