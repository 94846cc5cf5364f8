/*
 * cli_scale: `sluice scale deployment NAME --replicas N`: sets
 * spec.replicas by read-modify-write (cli_update); the Deployment
 * controller then creates or deletes pods to match.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

static bool cli_scale_mutate(json_t *obj, void *arg)
{
	long long want = *(const long long *)arg;
	json_t *spec = cli_spec(obj);
	json_t *cur = json_object_get(spec, "replicas");
	if (json_is_integer(cur) && json_integer_value(cur) == want)
		return false;
	json_object_set_new(spec, "replicas", json_integer(want));
	return true;
}

int cli_cmd_scale(struct cli *c)
{
	struct cli_target t;
	int rc = cli_targets(c, &t, true);
	if (rc != 0)
		return rc;
	if (strcmp(t.res->kind, "Deployment") != 0)
		return cli_fail(c, CLI_EXIT_USAGE, "scale: only deployments scale, not %s",
				t.res->resource);
	if (c->replicas == NULL)
		return cli_fail(c, CLI_EXIT_USAGE, "scale: give --replicas N");
	char *end;
	errno = 0;
	long long n = strtoll(c->replicas, &end, 10);
	if (errno != 0 || end == c->replicas || *end != '\0' || n < 0 || n > 100000)
		return cli_fail(c, CLI_EXIT_USAGE,
				"--replicas: \"%s\" is not a count between 0 and 100000",
				c->replicas);
	int worst = 0;
	for (size_t i = 0; i < t.n_names; i++) {
		rc = cli_update(c, t.res, cli_namespace(c), t.names[i], cli_scale_mutate, &n,
				"scaled", "already at that scale");
		if (rc > worst)
			worst = rc;
		if (rc == CLI_EXIT_UNREACHABLE || rc == CLI_EXIT_TLS)
			break;
	}
	return worst;
}
