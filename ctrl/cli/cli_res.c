/*
 * cli_res: the resource table of the `sluice` CLI: the names a user may type
 * (kubectl's plural, singular and short forms), the kind and apiVersion a
 * manifest carries, and the REST paths of docs/api.md.
 */
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "cli.h"

static const struct cli_res cli_res_table[] = {
	{"pods", "pod", "po", "Pod", "v1", true},
	{"nodes", "node", "no", "Node", "v1", false},
	{"services", "service", "svc", "Service", "v1", true},
	{"endpoints", "endpoints", "ep", "Endpoints", "v1", true},
	{"deployments", "deployment", "deploy", "Deployment", "apps/v1", true},
	{"leases", "lease", NULL, "Lease", "coordination.k8s.io/v1", true},
};
#define CLI_N_RES (sizeof(cli_res_table) / sizeof(cli_res_table[0]))

const struct cli_res *cli_res_lookup(const char *name)
{
	for (size_t i = 0; i < CLI_N_RES; i++) {
		const struct cli_res *r = &cli_res_table[i];
		if (strcasecmp(name, r->resource) == 0 || strcasecmp(name, r->singular) == 0 ||
		    (r->shortname && strcasecmp(name, r->shortname) == 0))
			return r;
	}
	return NULL;
}

const struct cli_res *cli_res_by_kind(const char *kind, const char *api_version)
{
	for (size_t i = 0; i < CLI_N_RES; i++) {
		const struct cli_res *r = &cli_res_table[i];
		if (strcmp(kind, r->kind) == 0 &&
		    (api_version == NULL || strcmp(api_version, r->api_version) == 0))
			return r;
	}
	return NULL;
}

const char *cli_res_names(void)
{
	return "pods (po), nodes (no), services (svc), endpoints (ep), deployments (deploy), "
	       "leases";
}

/* Percent-escape everything but RFC 3986 unreserved characters. */
static int cli_escape(char *dst, size_t size, const char *s)
{
	static const char hex[] = "0123456789ABCDEF";
	size_t j = 0;
	for (; *s; s++) {
		unsigned char ch = (unsigned char)*s;
		bool plain = (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
			     (ch >= '0' && ch <= '9') || ch == '-' || ch == '.' || ch == '_' ||
			     ch == '~';
		if (j + (plain ? 1 : 3) >= size)
			return -1;
		if (plain) {
			dst[j++] = (char)ch;
		} else {
			dst[j++] = '%';
			dst[j++] = hex[ch >> 4];
			dst[j++] = hex[ch & 15];
		}
	}
	dst[j] = '\0';
	return 0;
}

int cli_res_path(const struct cli_res *r, const char *ns, const char *name, const char *query,
		 char *buf, size_t size)
{
	char ens[512], ename[1024];
	const char *prefix = strcmp(r->api_version, "v1") == 0 ? "/api/" : "/apis/";
	int n;

	if ((ns && cli_escape(ens, sizeof(ens), ns) != 0) ||
	    (name && cli_escape(ename, sizeof(ename), name) != 0))
		return -1;
	if (r->namespaced && ns != NULL)
		n = snprintf(buf, size, "%s%s/namespaces/%s/%s%s%s%s%s", prefix, r->api_version,
			     ens, r->resource, name ? "/" : "", name ? ename : "",
			     query ? "?" : "", query ? query : "");
	else
		n = snprintf(buf, size, "%s%s/%s%s%s%s%s", prefix, r->api_version, r->resource,
			     name ? "/" : "", name ? ename : "", query ? "?" : "",
			     query ? query : "");
	return n < 0 || (size_t)n >= size ? -1 : 0;
}

int cli_query_add(char *q, size_t size, const char *key, const char *value)
{
	char ev[1024];
	size_t len = strlen(q);
	if (cli_escape(ev, sizeof(ev), value) != 0)
		return -1;
	int n = snprintf(q + len, size - len, "%s%s=%s", len ? "&" : "", key, ev);
	return n < 0 || (size_t)n >= size - len ? -1 : 0;
}
