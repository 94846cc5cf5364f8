/*
 * cli: the internals of the `sluice` command (kubectl-like, over apic).
 * One file per job: cli_main.c (global flags, dispatch), cli_res.c
 * (resource names and paths), cli_manifest.c (YAML/JSON manifests),
 * cli_print.c (tables, -o json|yaml|wide|name), and one file per command
 * family (apply, get, describe, delete, cluster, node).
 *
 * Exit codes (docs/cli.md) are the whole error convention here: every
 * command returns one, after printing one "error: ..." line to stderr.
 * Single-threaded.
 */
#ifndef SLUICE_CLI_H
#define SLUICE_CLI_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <time.h>

#include <jansson.h>

#include "apic.h"

enum cli_exit {
	CLI_EXIT_OK = 0,
	CLI_EXIT_REFUSED = 1,     /* the server said no (404, 409, 422, ...) */
	CLI_EXIT_USAGE = 2,       /* bad flags, arguments or manifest */
	CLI_EXIT_UNREACHABLE = 3, /* no API endpoint answered */
	CLI_EXIT_TLS = 4,         /* TLS or authentication failure */
	CLI_EXIT_PROTOCOL = 5,    /* the server's answer made no sense */
};

/* ---- resources (cli_res.c) ---- */

struct cli_res {
	const char *resource;    /* plural, as in paths: "pods" */
	const char *singular;    /* "pod" (also the -o name prefix) */
	const char *shortname;   /* "po", or NULL */
	const char *kind;        /* "Pod" */
	const char *api_version; /* "v1", "apps/v1", ... */
	bool namespaced;
};

/* By plural, singular or short name, case-insensitive; NULL if unknown. */
const struct cli_res *cli_res_lookup(const char *name);
/* By a manifest's kind (and apiVersion when not NULL); NULL if unknown. */
const struct cli_res *cli_res_by_kind(const char *kind, const char *api_version);
/* "pods, services, ..." for messages. */
const char *cli_res_names(void);
/*
 * Path of a collection (name NULL) or object. ns NULL on a namespaced
 * resource means all namespaces. name and ns are percent-escaped; query
 * (already escaped, without '?') is appended when not NULL. Returns 0, or
 * -1 if buf is too small.
 */
int cli_res_path(const struct cli_res *r, const char *ns, const char *name, const char *query,
		 char *buf, size_t size);
/* Append key=value (value percent-escaped) to a query string. -1 if full. */
int cli_query_add(char *q, size_t size, const char *key, const char *value);

/* ---- manifests (cli_manifest.c) ---- */

/*
 * Parse YAML (one or more documents separated by ---) or JSON (one or more
 * concatenated values) into *docs, a new array with one object per
 * document; a "kind: List" document contributes its items. name is used in
 * messages ("file:line:col: problem"). Returns 0 or CLI_EXIT_USAGE.
 */
int cli_manifest_parse(const char *text, size_t len, const char *name, json_t **docs,
		       char *errmsg, size_t errlen);
/* Whether an unquoted YAML scalar with this text reads back as a string
 * (the printer quotes it otherwise). */
bool cli_plain_is_string(const char *s);
/* The same from a file, or stdin when path is "-". */
int cli_manifest_load(const char *path, json_t **docs, char *errmsg, size_t errlen);

/* ---- printing (cli_print.c) ---- */

enum cli_output {
	CLI_OUT_TABLE = 0,
	CLI_OUT_WIDE,
	CLI_OUT_JSON,
	CLI_OUT_YAML,
	CLI_OUT_NAME,
};

/* Parse -o's value; -1 if unknown. */
int cli_output_parse(const char *s);

struct cli_table; /* rows are collected, then printed with aligned columns */

/* A table for objects of r's kind; with_ns adds a NAMESPACE column. */
struct cli_table *cli_table_create(const struct cli_res *r, bool wide, bool with_ns);
/* Add one object's row; now is the reference time for AGE. */
void cli_table_add(struct cli_table *t, const json_t *obj, time_t now);
/* Print the header (unless no_header) and rows; rows are kept. */
void cli_table_print(struct cli_table *t, FILE *f, bool no_header);
/* Rows added so far. */
size_t cli_table_rows(const struct cli_table *t);
void cli_table_free(struct cli_table *t);

/* "45s", "3m12s", "5h", "2d3h", like kubectl's AGE. */
void cli_age(time_t created, time_t now, char *buf, size_t size);
/* RFC 3339 "2024-01-02T03:04:05Z" (fraction allowed) to time_t; -1 if bad. */
time_t cli_parse_time(const char *s);

/* Emit a JSON value as a YAML document (libyaml). 0 or -1. */
int cli_print_yaml(FILE *f, const json_t *v);
/* Print one object or a list as -o json/yaml/name wants. */
void cli_print_object(FILE *f, const struct cli_res *r, const json_t *obj, enum cli_output o);

/* ---- the invocation (cli_main.c) ---- */

#define CLI_MAX_FILES 32

struct cli_conn_flags {
	char servers[APIC_MAX_SERVERS][256];
	size_t n_servers;
	const char *cacert, *cert, *key;
	long timeout_ms;
};

struct cli {
	/* connection: flags override the config file */
	struct cli_conn_flags flags;
	struct apic_config cfg;
	struct apic_params params;
	struct apic *api; /* made on first use */
	const char *config_path;
	/* global and command flags */
	const char *ns;
	bool ns_given, all_ns;
	enum cli_output out;
	bool watch, watch_only, no_headers, ignore_not_found, help;
	const char *selector, *field_selector;
	const char *replicas; /* scale --replicas */
	const char *files[CLI_MAX_FILES];
	size_t n_files;
	/* positional arguments after the command */
	int argc;
	char **argv;
	const char *cmd;
	FILE *o, *e; /* stdout, stderr (tests swap them) */
	volatile int *stop;
};

/*
 * Send one request. Returns CLI_EXIT_OK when a server answered (look at
 * r->status, free r with apic_resp_clear), otherwise prints the transport
 * error and returns its exit code.
 */
int cli_request(struct cli *c, const char *method, const char *path, const json_t *body,
		struct apic_resp *r);
/* The API client (config loaded on first use); NULL with *rc set. */
struct apic *cli_client(struct cli *c, int *rc);
/* Print "Error from server (Reason): message" for r and return its code. */
int cli_server_error(struct cli *c, const struct apic_resp *r);
/* Map an apic error to an exit code and print it. */
int cli_apic_error(struct cli *c, int err, const char *msg);
/* Print "error: ..." and return code. */
int cli_fail(struct cli *c, int code, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
/* The namespace a command works in (-n, else "default"). */
const char *cli_namespace(const struct cli *c);
/* A JSON object's string member at a dotted path, or NULL. */
const char *cli_str(const json_t *obj, const char *path);
/* "pod/web" or "node/n1" of an object, for messages. */
void cli_obj_ref(const struct cli_res *r, const json_t *obj, char *buf, size_t size);

/* What a command's arguments name: "pods", "pods a b", "pod/a pod/b". */
struct cli_target {
	const struct cli_res *res;
	const char *names[64];
	size_t n_names;
};
int cli_targets(struct cli *c, struct cli_target *t, bool need_names);

/* Check a manifest document (kind, apiVersion, metadata.name, namespace
 * against -n) and say where it goes; sets metadata.namespace from -n or
 * "default" on namespaced kinds. 0 or CLI_EXIT_USAGE (printed). */
int cli_doc_target(struct cli *c, const char *file, size_t index, json_t *doc,
		   const struct cli_res **res, const char **ns, const char **name);

/*
 * Read-modify-write one object (ns ignored for cluster-scoped kinds):
 * mutate changes the object read and returns true, or returns false when
 * there is nothing to do; the result is PUT at the resourceVersion read,
 * re-read and retried on 409 Conflict. Prints "kind/name DONE" or
 * "kind/name SAME"; returns an exit code.
 */
typedef bool (*cli_mutate_fn)(json_t *obj, void *arg);
int cli_update(struct cli *c, const struct cli_res *r, const char *ns, const char *name,
	       cli_mutate_fn mutate, void *arg, const char *done, const char *same);
/* obj's "spec" object, created when absent. */
json_t *cli_spec(json_t *obj);

/* Commands: each returns an exit code; usage text via cli_help(). */
int cli_cmd_get(struct cli *c);
int cli_cmd_describe(struct cli *c);
int cli_cmd_apply(struct cli *c);
int cli_cmd_create(struct cli *c);
int cli_cmd_delete(struct cli *c);
int cli_cmd_cluster(struct cli *c);
int cli_cmd_cordon(struct cli *c);
int cli_cmd_uncordon(struct cli *c);
int cli_cmd_drain(struct cli *c);
int cli_cmd_scale(struct cli *c);

/* The top-level entry, also used by the unit tests (argv is permuted). */
int cli_run(int argc, char **argv, FILE *o, FILE *e, volatile int *stop);

#endif
