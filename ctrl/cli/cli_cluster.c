/*
 * cli_cluster: `sluice cluster status`: the Raft group as the answering
 * master sees it (GET /cluster/status, docs/api.md).
 */
#include <stdio.h>
#include <string.h>

#include "cli.h"

static const char *cli_jstr(const json_t *o, const char *k, const char *dflt)
{
	const char *s = json_string_value(json_object_get(o, k));
	return s != NULL && s[0] ? s : dflt;
}

static long long cli_jint(const json_t *o, const char *k)
{
	json_t *v = json_object_get(o, k);
	return json_is_integer(v) ? (long long)json_integer_value(v) : -1;
}

static void cli_cluster_print(struct cli *c, const json_t *st)
{
	FILE *f = c->o;
	json_t *members = json_object_get(st, "members");
	long long leader = cli_jint(st, "leader"), self = cli_jint(st, "self");
	const char *leader_name = NULL, *self_name = NULL;
	size_t i;
	json_t *m;
	int wn = 4, wr = 4, wh = 6, wa = 3;

	json_array_foreach(members, i, m) {
		int n;
		if ((n = (int)strlen(cli_jstr(m, "name", "?"))) > wn)
			wn = n;
		if ((n = (int)strlen(cli_jstr(m, "role", "?"))) > wr)
			wr = n;
		if ((n = (int)strlen(cli_jstr(m, "health", "?"))) > wh)
			wh = n;
		if ((n = (int)strlen(cli_jstr(m, "apiURL", "-"))) > wa)
			wa = n;
		if (cli_jint(m, "id") == leader)
			leader_name = cli_jstr(m, "name", "?");
		if (cli_jint(m, "id") == self)
			self_name = cli_jstr(m, "name", "?");
	}
	fprintf(f, "%-4s   %-*s   %-*s   %-*s   %-*s   %s\n", "ID", wn, "NAME", wr, "ROLE", wh,
		"HEALTH", wa, "API", "PEER");
	json_array_foreach(members, i, m)
		fprintf(f, "%-4lld   %-*s   %-*s   %-*s   %-*s   %s\n", cli_jint(m, "id"), wn,
			cli_jstr(m, "name", "?"), wr, cli_jstr(m, "role", "?"), wh,
			cli_jstr(m, "health", "?"), wa, cli_jstr(m, "apiURL", "-"),
			cli_jstr(m, "peerURL", "-"));
	fputc('\n', f);
	if (leader > 0)
		fprintf(f, "Leader:        %s (id %lld)\n", leader_name ? leader_name : "?", leader);
	else
		fprintf(f, "Leader:        none (no quorum)\n");
	fprintf(f, "Term:          %lld\n", cli_jint(st, "term"));
	fprintf(f, "Commit index:  %lld\n", cli_jint(st, "commitIndex"));
	fprintf(f, "Applied index: %lld\n", cli_jint(st, "appliedIndex"));
	fprintf(f, "Revision:      %lld\n", cli_jint(st, "revision"));
	fprintf(f, "Answered by:   %s (%s)\n", self_name ? self_name : "?",
		apic_current_server(c->api));
}

int cli_cmd_cluster(struct cli *c)
{
	struct apic_resp r;
	if (c->argc != 1 || strcmp(c->argv[0], "status") != 0)
		return cli_fail(c, CLI_EXIT_USAGE, "cluster: the only subcommand is \"status\"");
	int rc = cli_request(c, "GET", "/cluster/status", NULL, &r);
	if (rc != 0)
		return rc;
	if (r.status != 200) {
		rc = cli_server_error(c, &r);
	} else if (!json_is_object(r.body) || !json_is_array(json_object_get(r.body, "members"))) {
		rc = cli_fail(c, CLI_EXIT_PROTOCOL, "/cluster/status: no \"members\" array");
	} else if (c->out == CLI_OUT_JSON) {
		json_dumpf(r.body, c->o, JSON_INDENT(4));
		fputc('\n', c->o);
	} else if (c->out == CLI_OUT_YAML) {
		cli_print_yaml(c->o, r.body);
	} else {
		cli_cluster_print(c, r.body);
	}
	apic_resp_clear(&r);
	return rc;
}
