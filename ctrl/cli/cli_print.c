/*
 * cli_print: what `sluice get` shows. Tables are collected row by row and
 * printed with columns padded to their widest cell (three spaces apart,
 * like kubectl), so one code path serves a list, a single object and each
 * event of a watch. Each kind has one row function that fills the default
 * columns and, for -o wide, a few more. -o yaml goes through libyaml's
 * emitter so quoting is always right.
 */
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <yaml.h>

#include "cli.h"

#define CLI_MAX_COLS 12

struct cli_table {
	const struct cli_res *res;
	bool wide, with_ns;
	size_t ncols;
	const char *head[CLI_MAX_COLS];
	char **cells; /* rows * ncols strings */
	size_t rows, cap;
};

int cli_output_parse(const char *s)
{
	if (strcmp(s, "json") == 0)
		return CLI_OUT_JSON;
	if (strcmp(s, "yaml") == 0)
		return CLI_OUT_YAML;
	if (strcmp(s, "wide") == 0)
		return CLI_OUT_WIDE;
	if (strcmp(s, "name") == 0)
		return CLI_OUT_NAME;
	return -1;
}

time_t cli_parse_time(const char *s)
{
	struct tm tm = {0};
	int y, mo, d, h, mi, sec, n = 0;
	if (s == NULL || sscanf(s, "%4d-%2d-%2dT%2d:%2d:%2d%n", &y, &mo, &d, &h, &mi, &sec, &n) != 6)
		return -1;
	s += n;
	if (*s == '.')
		for (s++; *s >= '0' && *s <= '9'; s++)
			;
	long off = 0;
	if (*s == '+' || *s == '-') {
		int oh, om;
		if (sscanf(s + 1, "%2d:%2d", &oh, &om) != 2)
			return -1;
		off = (oh * 3600L + om * 60L) * (*s == '-' ? -1 : 1);
	} else if (*s != 'Z' && *s != 'z') {
		return -1;
	}
	tm.tm_year = y - 1900;
	tm.tm_mon = mo - 1;
	tm.tm_mday = d;
	tm.tm_hour = h;
	tm.tm_min = mi;
	tm.tm_sec = sec;
	time_t t = timegm(&tm);
	return t == (time_t)-1 ? -1 : t - off;
}

void cli_age(time_t created, time_t now, char *buf, size_t size)
{
	if (created < 0) {
		snprintf(buf, size, "<unknown>");
		return;
	}
	long s = now > created ? (long)(now - created) : 0;
	long m = s / 60, h = s / 3600, d = s / 86400;
	/* Coarser as it grows, two units while the second still matters. */
	if (s < 120)
		snprintf(buf, size, "%lds", s);
	else if (m < 10)
		snprintf(buf, size, "%ldm%lds", m, s % 60);
	else if (h < 3)
		snprintf(buf, size, "%ldm", m);
	else if (h < 8)
		snprintf(buf, size, "%ldh%ldm", h, m % 60);
	else if (h < 48)
		snprintf(buf, size, "%ldh", h);
	else if (d < 8)
		snprintf(buf, size, "%ldd%ldh", d, h % 24);
	else if (d < 365 * 2)
		snprintf(buf, size, "%ldd", d);
	else
		snprintf(buf, size, "%ldy%ldd", d / 365, d % 365);
}

/* ---- tables ---- */

static void cli_cols(struct cli_table *t, const char *const *names)
{
	for (size_t i = 0; names[i] != NULL && t->ncols < CLI_MAX_COLS; i++)
		t->head[t->ncols++] = names[i];
}

struct cli_table *cli_table_create(const struct cli_res *r, bool wide, bool with_ns)
{
	struct cli_table *t = calloc(1, sizeof(*t));
	if (t == NULL)
		return NULL;
	t->res = r;
	t->wide = wide;
	t->with_ns = with_ns && r->namespaced;
	if (t->with_ns)
		t->head[t->ncols++] = "NAMESPACE";
	const char *kind = r->kind;
	if (strcmp(kind, "Pod") == 0) {
		static const char *const c[] = {"NAME", "READY", "STATUS", "RESTARTS", "AGE", NULL};
		static const char *const w[] = {"IP", "NODE", NULL};
		cli_cols(t, c);
		if (wide)
			cli_cols(t, w);
	} else if (strcmp(kind, "Node") == 0) {
		static const char *const c[] = {"NAME", "STATUS", "ROLES", "AGE", "POD-CIDR", NULL};
		static const char *const w[] = {"INTERNAL-IP", "TAINTS", NULL};
		cli_cols(t, c);
		if (wide)
			cli_cols(t, w);
	} else if (strcmp(kind, "Service") == 0) {
		static const char *const c[] = {"NAME", "TYPE", "CLUSTER-IP", "EXTERNAL-IP",
						"PORT(S)", "AGE", NULL};
		static const char *const w[] = {"SELECTOR", NULL};
		cli_cols(t, c);
		if (wide)
			cli_cols(t, w);
	} else if (strcmp(kind, "Endpoints") == 0) {
		static const char *const c[] = {"NAME", "ENDPOINTS", "AGE", NULL};
		cli_cols(t, c);
	} else if (strcmp(kind, "Deployment") == 0) {
		static const char *const c[] = {"NAME", "READY", "UP-TO-DATE", "AVAILABLE", "AGE",
						NULL};
		static const char *const w[] = {"CONTAINERS", "IMAGES", "SELECTOR", NULL};
		cli_cols(t, c);
		if (wide)
			cli_cols(t, w);
	} else {
		static const char *const c[] = {"NAME", "HOLDER", "AGE", NULL};
		cli_cols(t, c);
	}
	return t;
}

size_t cli_table_rows(const struct cli_table *t)
{
	return t->rows;
}

void cli_table_free(struct cli_table *t)
{
	if (t == NULL)
		return;
	for (size_t i = 0; i < t->rows * t->ncols; i++)
		free(t->cells[i]);
	free(t->cells);
	free(t);
}

/* Accumulates one row's cells. */
struct cli_row {
	char *cell[CLI_MAX_COLS];
	size_t n;
};

__attribute__((format(printf, 2, 3))) static void cli_cell(struct cli_row *row,
							   const char *fmt, ...)
{
	if (row->n == CLI_MAX_COLS)
		return;
	va_list ap;
	va_start(ap, fmt);
	char *s = NULL;
	if (vasprintf(&s, fmt, ap) < 0)
		s = NULL;
	va_end(ap);
	row->cell[row->n++] = s;
}

static const char *cli_or(const char *s, const char *dflt)
{
	return s != NULL && s[0] != '\0' ? s : dflt;
}

static json_t *cli_at(const json_t *obj, const char *path)
{
	char key[128];
	const json_t *cur = obj;
	while (cur != NULL && *path) {
		const char *dot = strchr(path, '.');
		size_t n = dot ? (size_t)(dot - path) : strlen(path);
		if (n >= sizeof(key))
			return NULL;
		memcpy(key, path, n);
		key[n] = '\0';
		cur = json_object_get(cur, key);
		path += n + (dot ? 1 : 0);
	}
	return (json_t *)cur;
}

const char *cli_str(const json_t *obj, const char *path)
{
	return json_string_value(cli_at(obj, path));
}

static long long cli_int(const json_t *obj, const char *path)
{
	json_t *v = cli_at(obj, path);
	return json_is_integer(v) ? (long long)json_integer_value(v) : 0;
}

/* Join "k=v" pairs of a string map, or NULL when empty. */
static char *cli_join_map(const json_t *map)
{
	char *out = NULL;
	size_t len = 0;
	const char *k;
	json_t *v;
	if (!json_is_object(map) || json_object_size(map) == 0)
		return NULL;
	FILE *f = open_memstream(&out, &len);
	if (f == NULL)
		return NULL;
	bool first = true;
	json_object_foreach((json_t *)map, k, v) {
		fprintf(f, "%s%s=%s", first ? "" : ",", k, cli_or(json_string_value(v), ""));
		first = false;
	}
	fclose(f);
	return out;
}

static void cli_row_pod(struct cli_row *row, const json_t *o, bool wide, const char *age)
{
	json_t *cs = cli_at(o, "status.containerStatuses");
	json_t *containers = cli_at(o, "spec.containers");
	size_t total = json_is_array(containers) ? json_array_size(containers) : 0;
	size_t ready = 0;
	long long restarts = 0;
	size_t i;
	json_t *c;
	if (json_is_array(cs)) {
		if (json_array_size(cs) > total)
			total = json_array_size(cs);
		json_array_foreach(cs, i, c) {
			if (json_is_true(json_object_get(c, "ready")))
				ready++;
			restarts += cli_int(c, "restartCount");
		}
	} else if (json_is_array(cli_at(o, "status.conditions"))) {
		/* No per-container status: the Ready condition speaks for all. */
		json_array_foreach(cli_at(o, "status.conditions"), i, c)
			if (strcmp(cli_or(cli_str(c, "type"), ""), "Ready") == 0 &&
			    strcmp(cli_or(cli_str(c, "status"), ""), "True") == 0)
				ready = total;
	}
	const char *phase = cli_or(cli_str(o, "status.phase"), "Pending");
	if (cli_at(o, "metadata.deletionTimestamp") != NULL)
		phase = "Terminating";
	cli_cell(row, "%zu/%zu", ready, total);
	cli_cell(row, "%s", phase);
	cli_cell(row, "%lld", restarts);
	cli_cell(row, "%s", age);
	if (wide) {
		cli_cell(row, "%s", cli_or(cli_str(o, "status.podIP"), "<none>"));
		cli_cell(row, "%s", cli_or(cli_str(o, "spec.nodeName"), "<none>"));
	}
}

static void cli_row_node(struct cli_row *row, const json_t *o, bool wide, const char *age)
{
	const char *ready = "Unknown";
	size_t i;
	json_t *c;
	json_array_foreach(cli_at(o, "status.conditions"), i, c) {
		if (strcmp(cli_or(cli_str(c, "type"), ""), "Ready") != 0)
			continue;
		const char *st = cli_or(cli_str(c, "status"), "Unknown");
		ready = strcmp(st, "True") == 0 ? "Ready" :
			strcmp(st, "False") == 0 ? "NotReady" : "Unknown";
	}
	bool cordoned = json_is_true(cli_at(o, "spec.unschedulable"));
	cli_cell(row, "%s%s", ready, cordoned ? ",SchedulingDisabled" : "");

	/* Roles come from node-role.kubernetes.io/<role> labels. */
	char roles[256] = "";
	const char *k;
	json_t *v;
	json_object_foreach(cli_at(o, "metadata.labels"), k, v) {
		static const char pfx[] = "node-role.kubernetes.io/";
		if (strncmp(k, pfx, sizeof(pfx) - 1) == 0 && k[sizeof(pfx) - 1] != '\0') {
			size_t len = strlen(roles);
			snprintf(roles + len, sizeof(roles) - len, "%s%s", len ? "," : "",
				 k + sizeof(pfx) - 1);
		}
	}
	cli_cell(row, "%s", roles[0] ? roles : "<none>");
	cli_cell(row, "%s", age);
	cli_cell(row, "%s", cli_or(cli_str(o, "spec.podCIDR"), "<none>"));
	if (wide) {
		const char *ip = NULL;
		json_array_foreach(cli_at(o, "status.addresses"), i, c)
			if (ip == NULL && strcmp(cli_or(cli_str(c, "type"), ""), "InternalIP") == 0)
				ip = cli_str(c, "address");
		cli_cell(row, "%s", cli_or(ip, "<none>"));
		json_t *taints = cli_at(o, "spec.taints");
		cli_cell(row, "%zu", json_is_array(taints) ? json_array_size(taints) : 0);
	}
}

static void cli_row_service(struct cli_row *row, const json_t *o, bool wide, const char *age)
{
	char ports[512] = "";
	size_t i;
	json_t *p;
	json_array_foreach(cli_at(o, "spec.ports"), i, p) {
		size_t len = strlen(ports);
		long long np = cli_int(p, "nodePort");
		char nodeport[32] = "";
		if (np > 0)
			snprintf(nodeport, sizeof(nodeport), ":%lld", np);
		snprintf(ports + len, sizeof(ports) - len, "%s%lld%s/%s", len ? "," : "",
			 cli_int(p, "port"), nodeport, cli_or(cli_str(p, "protocol"), "TCP"));
	}
	char ext[256] = "";
	json_t *e;
	json_array_foreach(cli_at(o, "spec.externalIPs"), i, e) {
		size_t len = strlen(ext);
		snprintf(ext + len, sizeof(ext) - len, "%s%s", len ? "," : "",
			 cli_or(json_string_value(e), ""));
	}
	cli_cell(row, "%s", cli_or(cli_str(o, "spec.type"), "ClusterIP"));
	cli_cell(row, "%s", cli_or(cli_str(o, "spec.clusterIP"), "<none>"));
	cli_cell(row, "%s", ext[0] ? ext : "<none>");
	cli_cell(row, "%s", ports[0] ? ports : "<none>");
	cli_cell(row, "%s", age);
	if (wide) {
		char *sel = cli_join_map(cli_at(o, "spec.selector"));
		cli_cell(row, "%s", sel ? sel : "<none>");
		free(sel);
	}
}

static void cli_row_endpoints(struct cli_row *row, const json_t *o, const char *age)
{
	/* ip:port pairs, the first three then "+ N more", like kubectl. */
	char eps[512] = "";
	size_t shown = 0, total = 0, i, j, k;
	json_t *s, *a, *p;
	json_array_foreach(cli_at(o, "subsets"), i, s) {
		json_t *ports = json_object_get(s, "ports");
		json_array_foreach(json_object_get(s, "addresses"), j, a) {
			size_t np = json_is_array(ports) ? json_array_size(ports) : 0;
			for (k = 0; k < (np ? np : 1); k++) {
				total++;
				if (shown == 3)
					continue;
				p = np ? json_array_get(ports, k) : NULL;
				size_t len = strlen(eps);
				if (p != NULL)
					snprintf(eps + len, sizeof(eps) - len, "%s%s:%lld",
						 len ? "," : "", cli_or(cli_str(a, "ip"), "?"),
						 cli_int(p, "port"));
				else
					snprintf(eps + len, sizeof(eps) - len, "%s%s",
						 len ? "," : "", cli_or(cli_str(a, "ip"), "?"));
				shown++;
			}
		}
	}
	if (total > shown) {
		size_t len = strlen(eps);
		snprintf(eps + len, sizeof(eps) - len, " + %zu more...", total - shown);
	}
	cli_cell(row, "%s", eps[0] ? eps : "<none>");
	cli_cell(row, "%s", age);
}

static void cli_row_deployment(struct cli_row *row, const json_t *o, bool wide,
			       const char *age)
{
	json_t *rep = cli_at(o, "spec.replicas");
	long long want = json_is_integer(rep) ? (long long)json_integer_value(rep) : 1;
	cli_cell(row, "%lld/%lld", cli_int(o, "status.readyReplicas"), want);
	cli_cell(row, "%lld", cli_int(o, "status.updatedReplicas"));
	cli_cell(row, "%lld", cli_int(o, "status.availableReplicas"));
	cli_cell(row, "%s", age);
	if (wide) {
		char names[256] = "", images[512] = "";
		size_t i;
		json_t *c;
		json_array_foreach(cli_at(o, "spec.template.spec.containers"), i, c) {
			size_t a = strlen(names), b = strlen(images);
			snprintf(names + a, sizeof(names) - a, "%s%s", a ? "," : "",
				 cli_or(cli_str(c, "name"), "?"));
			snprintf(images + b, sizeof(images) - b, "%s%s", b ? "," : "",
				 cli_or(cli_str(c, "image"), "?"));
		}
		char *sel = cli_join_map(cli_at(o, "spec.selector.matchLabels"));
		cli_cell(row, "%s", names[0] ? names : "<none>");
		cli_cell(row, "%s", images[0] ? images : "<none>");
		cli_cell(row, "%s", sel ? sel : "<none>");
		free(sel);
	}
}

void cli_table_add(struct cli_table *t, const json_t *obj, time_t now)
{
	struct cli_row row = {.n = 0};
	char age[32];
	const char *kind = t->res->kind;

	cli_age(cli_parse_time(cli_str(obj, "metadata.creationTimestamp")), now, age, sizeof(age));
	if (t->with_ns)
		cli_cell(&row, "%s", cli_or(cli_str(obj, "metadata.namespace"), ""));
	cli_cell(&row, "%s", cli_or(cli_str(obj, "metadata.name"), "<unnamed>"));
	if (strcmp(kind, "Pod") == 0)
		cli_row_pod(&row, obj, t->wide, age);
	else if (strcmp(kind, "Node") == 0)
		cli_row_node(&row, obj, t->wide, age);
	else if (strcmp(kind, "Service") == 0)
		cli_row_service(&row, obj, t->wide, age);
	else if (strcmp(kind, "Endpoints") == 0)
		cli_row_endpoints(&row, obj, age);
	else if (strcmp(kind, "Deployment") == 0)
		cli_row_deployment(&row, obj, t->wide, age);
	else {
		cli_cell(&row, "%s", cli_or(cli_str(obj, "spec.holderIdentity"), "<none>"));
		cli_cell(&row, "%s", age);
	}

	if (t->rows == t->cap) {
		size_t cap = t->cap ? t->cap * 2 : 16;
		char **cells = realloc(t->cells, cap * t->ncols * sizeof(*cells));
		if (cells == NULL)
			goto drop;
		t->cells = cells;
		t->cap = cap;
	}
	for (size_t i = 0; i < t->ncols; i++)
		t->cells[t->rows * t->ncols + i] = i < row.n && row.cell[i] ? row.cell[i] :
								      strdup("");
	for (size_t i = t->ncols; i < row.n; i++)
		free(row.cell[i]);
	t->rows++;
	return;
drop:
	for (size_t i = 0; i < row.n; i++)
		free(row.cell[i]);
}

void cli_table_print(struct cli_table *t, FILE *f, bool no_header)
{
	size_t width[CLI_MAX_COLS];
	for (size_t c = 0; c < t->ncols; c++) {
		width[c] = no_header ? 0 : strlen(t->head[c]);
		for (size_t r = 0; r < t->rows; r++) {
			const char *s = t->cells[r * t->ncols + c];
			size_t n = s ? strlen(s) : 0;
			if (n > width[c])
				width[c] = n;
		}
	}
	for (size_t r = no_header ? 1 : 0; r < t->rows + 1; r++) {
		for (size_t c = 0; c < t->ncols; c++) {
			const char *s = r == 0 ? t->head[c] : t->cells[(r - 1) * t->ncols + c];
			if (c + 1 == t->ncols)
				fprintf(f, "%s\n", s ? s : "");
			else
				fprintf(f, "%-*s   ", (int)width[c], s ? s : "");
		}
	}
}

/* ---- YAML output ---- */

static int cli_emit(yaml_emitter_t *em, yaml_event_t *ev)
{
	return yaml_emitter_emit(em, ev) ? 0 : -1;
}

static int cli_emit_scalar(yaml_emitter_t *em, const char *s, bool quote_if_ambiguous)
{
	yaml_event_t ev;
	yaml_scalar_style_t style = YAML_ANY_SCALAR_STYLE;
	/* A string that would read back as another type gets quotes. */
	if (quote_if_ambiguous) {
		/* Also YAML 1.1's booleans, for readers older than 1.2. */
		bool ambiguous = !cli_plain_is_string(s) || strcasecmp(s, "yes") == 0 ||
				 strcasecmp(s, "no") == 0 || strcasecmp(s, "on") == 0 ||
				 strcasecmp(s, "off") == 0 || strcasecmp(s, "y") == 0 ||
				 strcasecmp(s, "n") == 0 || strcasecmp(s, "null") == 0 ||
				 strcasecmp(s, "true") == 0 || strcasecmp(s, "false") == 0;
		if (ambiguous)
			style = YAML_DOUBLE_QUOTED_SCALAR_STYLE;
	}
	if (!yaml_scalar_event_initialize(&ev, NULL, NULL, (yaml_char_t *)s, (int)strlen(s), 1, 1,
					  style))
		return -1;
	return cli_emit(em, &ev);
}

static int cli_emit_value(yaml_emitter_t *em, const json_t *v, int depth)
{
	yaml_event_t ev;
	char buf[64];
	if (depth > 512)
		return -1;
	switch (json_typeof(v)) {
	case JSON_OBJECT: {
		const char *k;
		json_t *x;
		if (!yaml_mapping_start_event_initialize(&ev, NULL, NULL, 1,
							 YAML_BLOCK_MAPPING_STYLE) ||
		    cli_emit(em, &ev) != 0)
			return -1;
		json_object_foreach((json_t *)v, k, x) {
			if (cli_emit_scalar(em, k, true) != 0 || cli_emit_value(em, x, depth + 1) != 0)
				return -1;
		}
		yaml_mapping_end_event_initialize(&ev);
		return cli_emit(em, &ev);
	}
	case JSON_ARRAY: {
		size_t i;
		json_t *x;
		if (!yaml_sequence_start_event_initialize(&ev, NULL, NULL, 1,
							  YAML_BLOCK_SEQUENCE_STYLE) ||
		    cli_emit(em, &ev) != 0)
			return -1;
		json_array_foreach(v, i, x) {
			if (cli_emit_value(em, x, depth + 1) != 0)
				return -1;
		}
		yaml_sequence_end_event_initialize(&ev);
		return cli_emit(em, &ev);
	}
	case JSON_STRING:
		return cli_emit_scalar(em, json_string_value(v), true);
	case JSON_INTEGER:
		snprintf(buf, sizeof(buf), "%" JSON_INTEGER_FORMAT, json_integer_value(v));
		return cli_emit_scalar(em, buf, false);
	case JSON_REAL:
		snprintf(buf, sizeof(buf), "%.17g", json_real_value(v));
		/* 1000.0 must not read back as the integer 1000. */
		if (strpbrk(buf, ".eEn") == NULL)
			strcat(buf, ".0");
		return cli_emit_scalar(em, buf, false);
	case JSON_TRUE:
		return cli_emit_scalar(em, "true", false);
	case JSON_FALSE:
		return cli_emit_scalar(em, "false", false);
	default:
		return cli_emit_scalar(em, "null", false);
	}
}

static int cli_yaml_write(void *data, unsigned char *buf, size_t size)
{
	return fwrite(buf, 1, size, data) == size;
}

int cli_print_yaml(FILE *f, const json_t *v)
{
	yaml_emitter_t em;
	yaml_event_t ev;
	int rc = -1;
	if (!yaml_emitter_initialize(&em))
		return -1;
	yaml_emitter_set_output(&em, cli_yaml_write, f);
	yaml_emitter_set_unicode(&em, 1);
	yaml_emitter_set_width(&em, -1);
	if (!yaml_stream_start_event_initialize(&ev, YAML_UTF8_ENCODING) || cli_emit(&em, &ev) != 0)
		goto out;
	if (!yaml_document_start_event_initialize(&ev, NULL, NULL, NULL, 1) ||
	    cli_emit(&em, &ev) != 0)
		goto out;
	if (cli_emit_value(&em, v, 0) != 0)
		goto out;
	if (!yaml_document_end_event_initialize(&ev, 1) || cli_emit(&em, &ev) != 0)
		goto out;
	if (!yaml_stream_end_event_initialize(&ev) || cli_emit(&em, &ev) != 0)
		goto out;
	rc = 0;
out:
	yaml_emitter_delete(&em);
	return rc;
}

void cli_print_object(FILE *f, const struct cli_res *r, const json_t *obj, enum cli_output o)
{
	switch (o) {
	case CLI_OUT_JSON:
		json_dumpf(obj, f, JSON_INDENT(4));
		fputc('\n', f);
		break;
	case CLI_OUT_YAML:
		cli_print_yaml(f, obj);
		break;
	case CLI_OUT_NAME: {
		/* A list prints one line per item. */
		json_t *items = json_object_get(obj, "items");
		if (json_is_array(items)) {
			size_t i;
			json_t *it;
			json_array_foreach(items, i, it)
				fprintf(f, "%s/%s\n", r->singular,
					cli_or(cli_str(it, "metadata.name"), ""));
		} else {
			fprintf(f, "%s/%s\n", r->singular, cli_or(cli_str(obj, "metadata.name"), ""));
		}
		break;
	}
	default:
		break;
	}
}
