/*
 * cli_get: `sluice get` (list, named objects, -w watch).
 *
 * A watch starts from the listing's resourceVersion so no change between
 * the list and the watch is lost, and resumes from the last revision seen
 * when the stream ends (a master restarting, a failover): each event is
 * printed exactly once. A 410 (revision compacted) relists.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cli.h"

int cli_targets(struct cli *c, struct cli_target *t, bool need_names)
{
	memset(t, 0, sizeof(*t));
	if (c->argc == 0)
		return cli_fail(c, CLI_EXIT_USAGE, "%s: give a resource type (%s)", c->cmd,
				cli_res_names());
	for (int i = 0; i < c->argc; i++) {
		char *a = c->argv[i];
		char *slash = strchr(a, '/');
		const struct cli_res *r;
		if (slash != NULL) {
			*slash = '\0';
			r = cli_res_lookup(a);
			*slash = '/';
			if (r == NULL || slash[1] == '\0')
				return cli_fail(c, CLI_EXIT_USAGE,
						"%s: \"%s\" is not RESOURCE/NAME with a known "
						"resource (%s)", c->cmd, a, cli_res_names());
			if (t->res != NULL && t->res != r)
				return cli_fail(c, CLI_EXIT_USAGE,
						"%s: one resource type per command", c->cmd);
			t->res = r;
			if (t->n_names == 64)
				return cli_fail(c, CLI_EXIT_USAGE, "%s: at most 64 names", c->cmd);
			t->names[t->n_names++] = slash + 1;
		} else if (i == 0) {
			t->res = cli_res_lookup(a);
			if (t->res == NULL)
				return cli_fail(c, CLI_EXIT_USAGE,
						"%s: unknown resource type \"%s\" (known: %s)",
						c->cmd, a, cli_res_names());
		} else {
			if (t->n_names == 64)
				return cli_fail(c, CLI_EXIT_USAGE, "%s: at most 64 names", c->cmd);
			t->names[t->n_names++] = a;
		}
	}
	if (need_names && t->n_names == 0)
		return cli_fail(c, CLI_EXIT_USAGE, "%s: give the name of the %s", c->cmd,
				t->res->singular);
	return 0;
}

/* The namespace for paths: NULL (all) with -A on namespaced kinds. */
static const char *cli_path_ns(struct cli *c, const struct cli_res *r)
{
	if (!r->namespaced)
		return NULL;
	return c->all_ns ? NULL : cli_namespace(c);
}

static int cli_list_query(struct cli *c, char *q, size_t size, const char *extra_field)
{
	q[0] = '\0';
	char fs[1024];
	snprintf(fs, sizeof(fs), "%s%s%s", c->field_selector ? c->field_selector : "",
		 c->field_selector && extra_field ? "," : "", extra_field ? extra_field : "");
	if ((c->selector && cli_query_add(q, size, "labelSelector", c->selector) != 0) ||
	    (fs[0] && cli_query_add(q, size, "fieldSelector", fs) != 0))
		return cli_fail(c, CLI_EXIT_USAGE, "selector too long");
	return 0;
}

struct cli_watch {
	struct cli *c;
	const struct cli_res *res;
	char rv[32];
	bool expired;
	long code;
	char message[256];
};

static bool cli_watch_event(void *arg, const char *type, json_t *obj)
{
	struct cli_watch *w = arg;
	struct cli *c = w->c;
	const char *rv = cli_str(obj, "metadata.resourceVersion");

	if (strcmp(type, "ERROR") == 0) {
		w->code = (long)json_integer_value(json_object_get(obj, "code"));
		snprintf(w->message, sizeof(w->message), "%s",
			 cli_str(obj, "message") ? cli_str(obj, "message") : "watch error");
		w->expired = w->code == 410;
		return false;
	}
	if (rv != NULL && strlen(rv) < sizeof(w->rv))
		snprintf(w->rv, sizeof(w->rv), "%s", rv);
	if (strcmp(type, "BOOKMARK") == 0)
		return true;
	if (c->out == CLI_OUT_TABLE || c->out == CLI_OUT_WIDE) {
		struct cli_table *t = cli_table_create(w->res, c->out == CLI_OUT_WIDE, c->all_ns);
		if (t != NULL) {
			cli_table_add(t, obj, time(NULL));
			cli_table_print(t, c->o, true);
			cli_table_free(t);
		}
	} else if (c->out == CLI_OUT_JSON) {
		/* One event per line so a script can read the stream. */
		json_t *ev = json_pack("{s:s,s:O}", "type", type, "object", obj);
		json_dumpf(ev, c->o, JSON_COMPACT);
		fputc('\n', c->o);
		json_decref(ev);
	} else {
		cli_print_object(c->o, w->res, obj, c->out);
		if (c->out == CLI_OUT_YAML)
			fputs("---\n", c->o);
	}
	fflush(c->o);
	return true;
}

/* List (printing unless quiet) and remember the list's resourceVersion. */
static int cli_get_list(struct cli *c, const struct cli_res *r, const char *extra_field,
			bool quiet, char *rv, size_t rvsize)
{
	char q[2048], path[4096];
	struct apic_resp resp;
	int rc = cli_list_query(c, q, sizeof(q), extra_field);
	if (rc != 0)
		return rc;
	if (cli_res_path(r, cli_path_ns(c, r), NULL, q[0] ? q : NULL, path, sizeof(path)) != 0)
		return cli_fail(c, CLI_EXIT_USAGE, "path too long");
	rc = cli_request(c, "GET", path, NULL, &resp);
	if (rc != 0)
		return rc;
	if (resp.status != 200) {
		rc = cli_server_error(c, &resp);
		apic_resp_clear(&resp);
		return rc;
	}
	json_t *items = json_object_get(resp.body, "items");
	const char *lrv = cli_str(resp.body, "metadata.resourceVersion");
	if (!json_is_array(items)) {
		apic_resp_clear(&resp);
		return cli_fail(c, CLI_EXIT_PROTOCOL, "the list answer has no \"items\" array");
	}
	if (rv != NULL)
		snprintf(rv, rvsize, "%s", lrv ? lrv : "");
	if (quiet) {
		/* nothing */
	} else if (c->out == CLI_OUT_TABLE || c->out == CLI_OUT_WIDE) {
		if (json_array_size(items) == 0 && !c->watch) {
			if (r->namespaced && !c->all_ns)
				fprintf(c->e, "No resources found in %s namespace.\n",
					cli_namespace(c));
			else
				fprintf(c->e, "No resources found\n");
		} else {
			struct cli_table *t =
				cli_table_create(r, c->out == CLI_OUT_WIDE, c->all_ns);
			size_t i;
			json_t *it;
			time_t now = time(NULL);
			json_array_foreach(items, i, it)
				cli_table_add(t, it, now);
			cli_table_print(t, c->o, c->no_headers);
			cli_table_free(t);
		}
	} else if (c->out == CLI_OUT_JSON && c->watch) {
		size_t i;
		json_t *it;
		json_array_foreach(items, i, it) {
			json_t *ev = json_pack("{s:s,s:O}", "type", "ADDED", "object", it);
			json_dumpf(ev, c->o, JSON_COMPACT);
			fputc('\n', c->o);
			json_decref(ev);
		}
	} else {
		cli_print_object(c->o, r, resp.body, c->out);
	}
	fflush(c->o);
	apic_resp_clear(&resp);
	return 0;
}

/* How long `get -w` keeps retrying a cluster that does not answer. */
#define CLI_WATCH_OUTAGE_MS 30000

/* Sleep ms, in steps, returning true early if the stop flag is raised. */
static bool cli_nap(struct cli *c, long ms)
{
	for (long slept = 0; slept < ms; slept += 50) {
		if (c->stop != NULL && *c->stop)
			return true;
		struct timespec ts = {0, 50 * 1000 * 1000};
		nanosleep(&ts, NULL);
	}
	return c->stop != NULL && *c->stop;
}

static int cli_get_watch(struct cli *c, const struct cli_res *r, const char *extra_field,
			 const char *from_rv)
{
	struct cli_watch w = {.c = c, .res = r};
	char q[2048], path[4096], err[APIC_ERRMSG_SIZE];
	int rc;
	struct apic *api = cli_client(c, &rc);
	if (api == NULL)
		return rc;
	long outage = 0; /* ms of consecutive failed attempts */
	snprintf(w.rv, sizeof(w.rv), "%s", from_rv);
	for (;;) {
		rc = cli_list_query(c, q, sizeof(q), extra_field);
		if (rc != 0)
			return rc;
		if (cli_query_add(q, sizeof(q), "watch", "1") != 0 ||
		    (w.rv[0] && cli_query_add(q, sizeof(q), "resourceVersion", w.rv) != 0) ||
		    cli_res_path(r, cli_path_ns(c, r), NULL, q, path, sizeof(path)) != 0)
			return cli_fail(c, CLI_EXIT_USAGE, "path too long");
		long status = 0;
		w.expired = false;
		w.code = 0;
		rc = apic_watch(api, path, cli_watch_event, &w, c->stop, &status, err, sizeof(err));
		if (rc == APIC_ERR_STOPPED)
			return CLI_EXIT_OK;
		if (rc == APIC_OK && w.expired) {
			/* Compacted past our revision: relist quietly, go on from there. */
			rc = cli_get_list(c, r, extra_field, true, w.rv, sizeof(w.rv));
			if (rc != 0)
				return rc;
			continue;
		}
		if (rc == APIC_OK && w.code != 0)
			return cli_fail(c, CLI_EXIT_REFUSED, "watch: %s", w.message);
		if (rc == APIC_ERR_UNREACHABLE && status == 200) {
			/* The stream ended after it began: resume where we are. */
			outage = 0;
			if (cli_nap(c, 200))
				return CLI_EXIT_OK;
			continue;
		}
		/* No master answering, or none with a leader (an election after
		 * a crash): wait for the cluster a while rather than exit. */
		bool transient = (rc == APIC_ERR_UNREACHABLE && status == 0) ||
				 (rc == APIC_ERR_PROTOCOL && status == 503);
		if (transient && outage < CLI_WATCH_OUTAGE_MS) {
			if (outage == 0)
				fprintf(c->e, "sluice: watch interrupted (%s); retrying\n", err);
			outage += 500;
			if (cli_nap(c, 500))
				return CLI_EXIT_OK;
			continue;
		}
		return cli_apic_error(c, rc, err);
	}
}

int cli_cmd_get(struct cli *c)
{
	struct cli_target t;
	int rc = cli_targets(c, &t, false), worst = 0;
	char rv[32] = "";
	if (rc != 0)
		return rc;
	if (t.n_names > 0 && (c->selector || c->field_selector))
		return cli_fail(c, CLI_EXIT_USAGE, "get: names and selectors do not mix");
	if (t.n_names > 0 && c->all_ns && t.res->namespaced)
		return cli_fail(c, CLI_EXIT_USAGE,
				"get: a name needs one namespace (-n), not -A");

	if (t.n_names == 0) {
		if (!c->watch_only) {
			rc = cli_get_list(c, t.res, NULL, false, rv, sizeof(rv));
			if (rc != 0)
				return rc;
		}
		return c->watch ? cli_get_watch(c, t.res, NULL, rv) : 0;
	}
	if (c->watch && t.n_names > 1)
		return cli_fail(c, CLI_EXIT_USAGE, "get -w: one name at a time");
	if (c->watch) {
		/* One object: the same watch, narrowed by a field selector. */
		char fs[600];
		snprintf(fs, sizeof(fs), "metadata.name=%s", t.names[0]);
		if (!c->watch_only) {
			rc = cli_get_list(c, t.res, fs, false, rv, sizeof(rv));
			if (rc != 0)
				return rc;
		}
		return cli_get_watch(c, t.res, fs, rv);
	}

	struct cli_table *table = cli_table_create(t.res, c->out == CLI_OUT_WIDE, false);
	json_t *list = json_pack("{s:s,s:s,s:[]}", "kind", "List", "apiVersion", "v1", "items");
	time_t now = time(NULL);
	for (size_t i = 0; i < t.n_names; i++) {
		char path[2048];
		struct apic_resp resp;
		if (cli_res_path(t.res, cli_path_ns(c, t.res), t.names[i], NULL, path,
				 sizeof(path)) != 0) {
			worst = cli_fail(c, CLI_EXIT_USAGE, "name too long");
			continue;
		}
		rc = cli_request(c, "GET", path, NULL, &resp);
		if (rc != 0) {
			worst = rc;
			break; /* transport failures repeat for every name */
		}
		if (resp.status == 200 && json_is_object(resp.body)) {
			cli_table_add(table, resp.body, now);
			json_array_append(json_object_get(list, "items"), resp.body);
		} else {
			worst = cli_server_error(c, &resp);
		}
		apic_resp_clear(&resp);
	}
	json_t *items = json_object_get(list, "items");
	if (c->out == CLI_OUT_TABLE || c->out == CLI_OUT_WIDE) {
		if (cli_table_rows(table) > 0)
			cli_table_print(table, c->o, c->no_headers);
	} else if (json_array_size(items) == 1 && t.n_names == 1) {
		cli_print_object(c->o, t.res, json_array_get(items, 0), c->out);
	} else if (json_array_size(items) > 0) {
		cli_print_object(c->o, t.res, list, c->out);
	}
	cli_table_free(table);
	json_decref(list);
	return worst;
}
