/*
 * cli_update: read-modify-write of one object at its resourceVersion, the
 * pattern behind cordon, uncordon and scale. The object is read, changed
 * by a callback, and PUT back with the resourceVersion it was read at; a
 * 409 Conflict means another client (the node agent, a controller) wrote
 * in between, so the whole cycle starts again from a fresh read.
 */
#include <stdio.h>
#include <string.h>

#include "cli.h"

#define CLI_UPDATE_RETRIES 8

int cli_update(struct cli *c, const struct cli_res *r, const char *ns, const char *name,
	       cli_mutate_fn mutate, void *arg, const char *done, const char *same)
{
	char path[1024];
	if (cli_res_path(r, r->namespaced ? ns : NULL, name, NULL, path, sizeof(path)) != 0)
		return cli_fail(c, CLI_EXIT_USAGE, "%s name too long", r->singular);
	for (int attempt = 0; attempt < CLI_UPDATE_RETRIES; attempt++) {
		struct apic_resp cur, put;
		int rc = cli_request(c, "GET", path, NULL, &cur);
		if (rc != 0)
			return rc;
		if (cur.status != 200 || !json_is_object(cur.body)) {
			rc = cli_server_error(c, &cur);
			apic_resp_clear(&cur);
			return rc;
		}
		if (!mutate(cur.body, arg)) {
			fprintf(c->o, "%s/%s %s\n", r->singular, name, same);
			apic_resp_clear(&cur);
			return 0;
		}
		rc = cli_request(c, "PUT", path, cur.body, &put);
		apic_resp_clear(&cur);
		if (rc != 0)
			return rc;
		if (put.status == 200) {
			fprintf(c->o, "%s/%s %s\n", r->singular, name, done);
			apic_resp_clear(&put);
			return 0;
		}
		const char *reason = cli_str(put.body, "reason");
		if (put.status != 409 || reason == NULL || strcmp(reason, "Conflict") != 0) {
			rc = cli_server_error(c, &put);
			apic_resp_clear(&put);
			return rc;
		}
		apic_resp_clear(&put); /* written in between: read again */
	}
	return cli_fail(c, CLI_EXIT_REFUSED, "%s/%s: still conflicting after %d attempts",
			r->singular, name, CLI_UPDATE_RETRIES);
}

/* spec, created when absent. */
json_t *cli_spec(json_t *obj)
{
	json_t *spec = json_object_get(obj, "spec");
	if (!json_is_object(spec)) {
		spec = json_object();
		json_object_set_new(obj, "spec", spec);
	}
	return spec;
}
