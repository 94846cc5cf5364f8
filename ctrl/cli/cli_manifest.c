/*
 * cli_manifest: manifests (YAML with several documents, or JSON) into
 * jansson objects, one per API object.
 *
 * YAML goes through libyaml's event parser into a stack of open
 * containers. Plain scalars are typed with the YAML 1.2 core schema (null,
 * true/false, integers, floats; everything else is a string), quoted ones
 * are strings, and !!str/!!int/!!float/!!bool/!!null tags are obeyed.
 * Aliases are deep copies, counted against a node budget so that a small
 * "billion laughs" file cannot exhaust memory. Every error carries the
 * line and column of the offending token.
 */
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <yaml.h>

#include "cli.h"
#include "sluice/errmsg.h"

#define CLI_MANIFEST_MAX_BYTES (16u << 20)
#define CLI_MANIFEST_MAX_DEPTH 256
#define CLI_MANIFEST_MAX_NODES 2000000u
#define CLI_MANIFEST_MAX_ANCHORS 1024

struct cli_frame {
	json_t *v;         /* the open mapping or sequence */
	char *key;         /* mapping: key waiting for its value */
	char *anchor;      /* anchor of this container, if any */
	size_t nodes_at;   /* node count when it opened */
	size_t line, col;  /* where it started */
};

struct cli_anchor {
	char *name;
	json_t *v;
	size_t nodes; /* how many nodes a copy costs */
};

struct cli_yaml {
	const char *name;
	char *errmsg;
	size_t errlen;
	struct cli_frame stack[CLI_MANIFEST_MAX_DEPTH];
	size_t depth;
	struct cli_anchor anchors[CLI_MANIFEST_MAX_ANCHORS];
	size_t n_anchors;
	size_t nodes;
	json_t *doc; /* the finished root of the current document */
};

__attribute__((format(printf, 3, 4))) static int cli_yerr(struct cli_yaml *y,
							   const yaml_mark_t *m,
							   const char *fmt, ...)
{
	char what[256];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(what, sizeof(what), fmt, ap);
	va_end(ap);
	return sluice_errf(CLI_EXIT_USAGE, y->errmsg, y->errlen, "%s:%zu:%zu: %s", y->name,
			   m->line + 1, m->column + 1, what);
}

/* Whole-string matches for the core schema's plain scalars. */
static bool cli_is_int(const char *s)
{
	if (*s == '-' || *s == '+')
		s++;
	if (*s == '\0')
		return false;
	for (; *s; s++)
		if (*s < '0' || *s > '9')
			return false;
	return true;
}

static bool cli_is_float(const char *s)
{
	bool digits = false;
	if (*s == '-' || *s == '+')
		s++;
	while (*s >= '0' && *s <= '9')
		s++, digits = true;
	if (*s == '.') {
		s++;
		while (*s >= '0' && *s <= '9')
			s++, digits = true;
	}
	if (!digits)
		return false;
	if (*s == 'e' || *s == 'E') {
		s++;
		if (*s == '-' || *s == '+')
			s++;
		if (*s < '0' || *s > '9')
			return false;
		while (*s >= '0' && *s <= '9')
			s++;
	}
	return *s == '\0';
}

static bool cli_is_digit(char ch, int base)
{
	return (ch >= '0' && ch <= (base == 8 ? '7' : '9')) ||
	       (base == 16 && ((ch >= 'a' && ch <= 'f') || (ch >= 'A' && ch <= 'F')));
}

/* The value of a plain (unquoted, untagged) scalar: YAML 1.2 core schema. */
static json_t *cli_resolve_plain(const char *s, size_t len)
{
	if (len == 0 || strcmp(s, "~") == 0 || strcmp(s, "null") == 0 || strcmp(s, "Null") == 0 ||
	    strcmp(s, "NULL") == 0)
		return json_null();
	if (strcmp(s, "true") == 0 || strcmp(s, "True") == 0 || strcmp(s, "TRUE") == 0)
		return json_true();
	if (strcmp(s, "false") == 0 || strcmp(s, "False") == 0 || strcmp(s, "FALSE") == 0)
		return json_false();
	if (cli_is_int(s)) {
		errno = 0;
		char *end;
		long long v = strtoll(s, &end, 10);
		if (errno == 0 && *end == '\0')
			return json_integer(v);
		return json_stringn(s, len); /* too big for JSON's int64 */
	}
	if (len > 2 && s[0] == '0' && (s[1] == 'x' || s[1] == 'o')) {
		int base = s[1] == 'x' ? 16 : 8;
		bool digits = true;
		for (size_t i = 2; i < len; i++)
			digits = digits && cli_is_digit(s[i], base);
		errno = 0;
		long long v = digits ? strtoll(s + 2, NULL, base) : 0;
		if (digits && errno == 0)
			return json_integer(v);
	}
	if (cli_is_float(s)) {
		double d = strtod(s, NULL);
		if (isfinite(d))
			return json_real(d);
	}
	return json_stringn(s, len);
}

bool cli_plain_is_string(const char *s)
{
	json_t *v = cli_resolve_plain(s, strlen(s));
	bool str = json_is_string(v) || v == NULL;
	json_decref(v);
	return str;
}

static json_t *cli_scalar(struct cli_yaml *y, const yaml_event_t *ev, int *rc)
{
	const char *s = (const char *)ev->data.scalar.value;
	size_t len = ev->data.scalar.length;
	const char *tag = (const char *)ev->data.scalar.tag;
	bool plain = ev->data.scalar.style == YAML_PLAIN_SCALAR_STYLE;

	*rc = 0;
	if (strlen(s) != len) {
		*rc = cli_yerr(y, &ev->start_mark, "NUL byte in a scalar");
		return NULL;
	}
	if (tag != NULL) {
		if (strcmp(tag, YAML_STR_TAG) == 0)
			return json_stringn(s, len);
		if (strcmp(tag, YAML_NULL_TAG) == 0)
			return json_null();
		if (strcmp(tag, YAML_BOOL_TAG) == 0) {
			if (strcmp(s, "true") == 0 || strcmp(s, "false") == 0)
				return json_boolean(s[0] == 't');
			*rc = cli_yerr(y, &ev->start_mark, "!!bool \"%s\" is not true or false", s);
			return NULL;
		}
		if (strcmp(tag, YAML_INT_TAG) == 0 && !cli_is_int(s)) {
			*rc = cli_yerr(y, &ev->start_mark, "!!int \"%s\" is not an integer", s);
			return NULL;
		}
		if (strcmp(tag, YAML_FLOAT_TAG) == 0 && !cli_is_float(s)) {
			*rc = cli_yerr(y, &ev->start_mark, "!!float \"%s\" is not a number", s);
			return NULL;
		}
		plain = true; /* !!int/!!float resolve below; unknown tags are ignored */
	}
	return plain ? cli_resolve_plain(s, len) : json_stringn(s, len);
}

static struct cli_anchor *cli_anchor_find(struct cli_yaml *y, const char *name)
{
	/* Latest definition wins: YAML lets an anchor be redefined. */
	for (size_t i = y->n_anchors; i-- > 0;)
		if (strcmp(y->anchors[i].name, name) == 0)
			return &y->anchors[i];
	return NULL;
}

static int cli_anchor_add(struct cli_yaml *y, const yaml_mark_t *m, const char *name,
			  json_t *v, size_t nodes)
{
	if (name == NULL)
		return 0;
	if (y->n_anchors == CLI_MANIFEST_MAX_ANCHORS)
		return cli_yerr(y, m, "more than 1024 anchors");
	struct cli_anchor *a = &y->anchors[y->n_anchors];
	a->name = strdup(name);
	if (a->name == NULL)
		return cli_yerr(y, m, "out of memory");
	a->v = json_incref(v);
	a->nodes = nodes;
	y->n_anchors++;
	return 0;
}

/* Put a finished value into the open container (or make it the doc). */
static int cli_put(struct cli_yaml *y, const yaml_mark_t *m, json_t *v)
{
	if (v == NULL)
		return cli_yerr(y, m, "out of memory");
	if (y->depth == 0) {
		y->doc = v;
		return 0;
	}
	struct cli_frame *f = &y->stack[y->depth - 1];
	if (json_is_array(f->v)) {
		json_array_append_new(f->v, v);
		return 0;
	}
	if (f->key == NULL) {
		/* A key: only scalars make sense as JSON object keys. */
		if (!json_is_string(v) && !json_is_integer(v) && !json_is_boolean(v) &&
		    !json_is_real(v)) {
			json_decref(v);
			return cli_yerr(y, m, "a mapping key must be a scalar");
		}
		char buf[64];
		const char *k = buf;
		if (json_is_string(v))
			k = json_string_value(v);
		else if (json_is_integer(v))
			snprintf(buf, sizeof(buf), "%" JSON_INTEGER_FORMAT, json_integer_value(v));
		else if (json_is_boolean(v))
			snprintf(buf, sizeof(buf), "%s", json_is_true(v) ? "true" : "false");
		else
			snprintf(buf, sizeof(buf), "%g", json_real_value(v));
		if (json_object_get(f->v, k) != NULL) {
			int rc = cli_yerr(y, m, "duplicate key \"%s\"", k);
			json_decref(v);
			return rc;
		}
		f->key = strdup(k);
		json_decref(v);
		return f->key ? 0 : cli_yerr(y, m, "out of memory");
	}
	json_object_set_new(f->v, f->key, v);
	free(f->key);
	f->key = NULL;
	return 0;
}

static int cli_open(struct cli_yaml *y, const yaml_event_t *ev, json_t *v, const char *anchor)
{
	if (v == NULL)
		return cli_yerr(y, &ev->start_mark, "out of memory");
	if (y->depth == CLI_MANIFEST_MAX_DEPTH) {
		json_decref(v);
		return cli_yerr(y, &ev->start_mark, "nesting deeper than 256 levels");
	}
	struct cli_frame *f = &y->stack[y->depth++];
	memset(f, 0, sizeof(*f));
	f->v = v;
	f->nodes_at = y->nodes;
	f->anchor = anchor ? strdup(anchor) : NULL;
	return 0;
}

static int cli_close(struct cli_yaml *y, const yaml_event_t *ev)
{
	struct cli_frame f = y->stack[--y->depth];
	int rc = cli_anchor_add(y, &ev->start_mark, f.anchor, f.v, y->nodes - f.nodes_at + 1);
	free(f.anchor);
	free(f.key);
	if (rc != 0) {
		json_decref(f.v);
		return rc;
	}
	return cli_put(y, &ev->start_mark, f.v);
}

static void cli_yaml_reset(struct cli_yaml *y)
{
	while (y->depth > 0) {
		struct cli_frame *f = &y->stack[--y->depth];
		json_decref(f->v);
		free(f->key);
		free(f->anchor);
	}
	for (size_t i = 0; i < y->n_anchors; i++) {
		free(y->anchors[i].name);
		json_decref(y->anchors[i].v);
	}
	y->n_anchors = 0;
	json_decref(y->doc);
	y->doc = NULL;
}

/* Check one document and add it (or a List's items) to docs. */
static int cli_add_doc(struct cli_yaml *y, json_t *docs, json_t *doc, size_t index,
		       const yaml_mark_t *m)
{
	if (json_is_null(doc))
		return 0; /* an empty document (e.g. after a trailing ---) */
	if (!json_is_object(doc)) {
		return cli_yerr(y, m, "document %zu is not a mapping (an API object)", index + 1);
	}
	const char *kind = json_string_value(json_object_get(doc, "kind"));
	json_t *items = json_object_get(doc, "items");
	if (kind != NULL && strcmp(kind, "List") == 0 && json_is_array(items)) {
		size_t i;
		json_t *it;
		json_array_foreach(items, i, it) {
			if (!json_is_object(it)) {
				return cli_yerr(y, m, "document %zu: items[%zu] is not an object",
						index + 1, i);
			}
			json_array_append(docs, it);
		}
		return 0;
	}
	json_array_append(docs, doc);
	return 0;
}

static int cli_parse_yaml(const char *text, size_t len, const char *name, json_t *docs,
			  char *errmsg, size_t errlen)
{
	yaml_parser_t p;
	yaml_event_t ev;
	struct cli_yaml *y = calloc(1, sizeof(*y));
	size_t ndoc = 0;
	int rc = 0;
	bool done = false;

	if (y == NULL)
		return sluice_errf(CLI_EXIT_USAGE, errmsg, errlen, "%s: out of memory", name);
	y->name = name;
	y->errmsg = errmsg;
	y->errlen = errlen;
	if (!yaml_parser_initialize(&p)) {
		free(y);
		return sluice_errf(CLI_EXIT_USAGE, errmsg, errlen, "%s: out of memory", name);
	}
	yaml_parser_set_input_string(&p, (const unsigned char *)text, len);
	while (!done && rc == 0) {
		if (!yaml_parser_parse(&p, &ev)) {
			/* libyaml's text for a tab is cryptic; say what it means. */
			bool tab = p.problem_mark.index < len && text[p.problem_mark.index] == '\t';
			rc = sluice_errf(CLI_EXIT_USAGE, errmsg, errlen, "%s:%zu:%zu: %s%s%s%s", name,
					 p.problem_mark.line + 1, p.problem_mark.column + 1,
					 p.problem ? p.problem : "invalid YAML",
					 p.context ? " " : "", p.context ? p.context : "",
					 tab ? " (a tab: YAML indents with spaces only)" : "");
			break;
		}
		const char *anchor = NULL;
		switch (ev.type) {
		case YAML_STREAM_END_EVENT:
			done = true;
			break;
		case YAML_DOCUMENT_START_EVENT:
			y->doc = NULL;
			break;
		case YAML_DOCUMENT_END_EVENT:
			if (y->doc != NULL)
				rc = cli_add_doc(y, docs, y->doc, ndoc, &ev.start_mark);
			ndoc++;
			cli_yaml_reset(y); /* anchors are per document */
			break;
		case YAML_SCALAR_EVENT: {
			json_t *v = cli_scalar(y, &ev, &rc);
			if (rc != 0)
				break;
			y->nodes++;
			anchor = (const char *)ev.data.scalar.anchor;
			if (anchor != NULL)
				rc = cli_anchor_add(y, &ev.start_mark, anchor, v, 1);
			if (rc == 0)
				rc = cli_put(y, &ev.start_mark, v);
			else
				json_decref(v);
			break;
		}
		case YAML_ALIAS_EVENT: {
			const char *an = (const char *)ev.data.alias.anchor;
			struct cli_anchor *a = cli_anchor_find(y, an);
			if (a == NULL) {
				rc = cli_yerr(y, &ev.start_mark, "unknown anchor \"%s\"", an);
				break;
			}
			if (y->nodes + a->nodes > CLI_MANIFEST_MAX_NODES) {
				rc = cli_yerr(y, &ev.start_mark,
					      "aliases expand to more than 2000000 nodes (at *%s)",
					      an);
				break;
			}
			y->nodes += a->nodes;
			rc = cli_put(y, &ev.start_mark, json_deep_copy(a->v));
			break;
		}
		case YAML_MAPPING_START_EVENT:
			y->nodes++;
			rc = cli_open(y, &ev, json_object(),
				      (const char *)ev.data.mapping_start.anchor);
			break;
		case YAML_SEQUENCE_START_EVENT:
			y->nodes++;
			rc = cli_open(y, &ev, json_array(),
				      (const char *)ev.data.sequence_start.anchor);
			break;
		case YAML_MAPPING_END_EVENT:
		case YAML_SEQUENCE_END_EVENT:
			rc = cli_close(y, &ev);
			break;
		default:
			break;
		}
		yaml_event_delete(&ev);
	}
	cli_yaml_reset(y);
	yaml_parser_delete(&p);
	free(y);
	return rc;
}

/* JSON: one or more concatenated values, each an object (or a List). */
static int cli_parse_json(const char *text, size_t len, const char *name, json_t *docs,
			  char *errmsg, size_t errlen)
{
	size_t off = 0;
	size_t line = 1;
	for (size_t index = 0;; index++) {
		while (off < len && (text[off] == ' ' || text[off] == '\t' || text[off] == '\n' ||
				     text[off] == '\r')) {
			if (text[off] == '\n')
				line++;
			off++;
		}
		if (off == len)
			return 0;
		json_error_t jerr;
		json_t *v = json_loadb(text + off, len - off,
				       JSON_DISABLE_EOF_CHECK | JSON_REJECT_DUPLICATES, &jerr);
		if (v == NULL)
			return sluice_errf(CLI_EXIT_USAGE, errmsg, errlen, "%s:%zu:%d: %s", name,
					   line + (size_t)(jerr.line > 0 ? jerr.line - 1 : 0),
					   jerr.column, jerr.text);
		for (size_t i = off; i < off + (size_t)jerr.position && i < len; i++)
			if (text[i] == '\n')
				line++;
		off += (size_t)jerr.position;
		const char *kind = json_string_value(json_object_get(v, "kind"));
		json_t *items = json_object_get(v, "items");
		int rc = 0;
		if (!json_is_object(v)) {
			rc = sluice_errf(CLI_EXIT_USAGE, errmsg, errlen,
					 "%s:%zu: document %zu is not an object (an API object)", name,
					 line, index + 1);
		} else if (kind && strcmp(kind, "List") == 0 && json_is_array(items)) {
			size_t i;
			json_t *it;
			json_array_foreach(items, i, it) {
				if (!json_is_object(it)) {
					rc = sluice_errf(CLI_EXIT_USAGE, errmsg, errlen,
							 "%s: document %zu: items[%zu] is not an "
							 "object", name, index + 1, i);
					break;
				}
				json_array_append(docs, it);
			}
		} else {
			json_array_append(docs, v);
		}
		json_decref(v);
		if (rc != 0)
			return rc;
	}
}

int cli_manifest_parse(const char *text, size_t len, const char *name, json_t **docs,
		       char *errmsg, size_t errlen)
{
	size_t i = 0;
	*docs = json_array();
	if (*docs == NULL)
		return sluice_errf(CLI_EXIT_USAGE, errmsg, errlen, "%s: out of memory", name);
	if (memchr(text, '\0', len) != NULL) {
		json_decref(*docs);
		*docs = NULL;
		return sluice_errf(CLI_EXIT_USAGE, errmsg, errlen,
				   "%s: contains a NUL byte (not a text manifest)", name);
	}
	/* JSON is YAML too, but jansson's errors and number handling are
	 * exact, and tabs (fine in JSON) are not always accepted by YAML. */
	while (i < len && (text[i] == ' ' || text[i] == '\t' || text[i] == '\n' || text[i] == '\r'))
		i++;
	int rc = (i < len && text[i] == '{') ?
			 cli_parse_json(text, len, name, *docs, errmsg, errlen) :
			 cli_parse_yaml(text, len, name, *docs, errmsg, errlen);
	if (rc == 0 && json_array_size(*docs) == 0)
		rc = sluice_errf(CLI_EXIT_USAGE, errmsg, errlen, "%s: no objects in the manifest",
				 name);
	if (rc != 0) {
		json_decref(*docs);
		*docs = NULL;
	}
	return rc;
}

int cli_manifest_load(const char *path, json_t **docs, char *errmsg, size_t errlen)
{
	bool in = strcmp(path, "-") == 0;
	const char *name = in ? "<stdin>" : path;
	FILE *f = in ? stdin : fopen(path, "rb");
	char *buf = NULL;
	size_t len = 0, cap = 0;

	*docs = NULL;
	if (f == NULL)
		return sluice_errf(CLI_EXIT_USAGE, errmsg, errlen, "%s: %s", path, strerror(errno));
	for (;;) {
		if (len + 65536 + 1 > cap) {
			cap = cap ? cap * 2 : 131072;
			char *nb = realloc(buf, cap);
			if (nb == NULL) {
				free(buf);
				if (!in)
					fclose(f);
				return sluice_errf(CLI_EXIT_USAGE, errmsg, errlen, "%s: out of memory",
						   name);
			}
			buf = nb;
		}
		size_t n = fread(buf + len, 1, 65536, f);
		len += n;
		if (len > CLI_MANIFEST_MAX_BYTES) {
			free(buf);
			if (!in)
				fclose(f);
			return sluice_errf(CLI_EXIT_USAGE, errmsg, errlen, "%s: larger than %u bytes",
					   name, CLI_MANIFEST_MAX_BYTES);
		}
		if (n == 0)
			break;
	}
	bool failed = ferror(f) != 0;
	if (!in)
		fclose(f);
	if (failed) {
		free(buf);
		return sluice_errf(CLI_EXIT_USAGE, errmsg, errlen, "%s: read error", name);
	}
	buf[len] = '\0';
	int rc = cli_manifest_parse(buf, len, name, docs, errmsg, errlen);
	free(buf);
	return rc;
}
