/*
 * cni_plugin: one invocation of sluice-cni, from environment and stdin to
 * stdout and an exit code (SPEC.md 1.1.0 "Section 2: Execution Protocol").
 *
 * main() is a thin shell over cni_plugin_run() so tests can drive the whole
 * protocol in-process, and the same function is what the binary runs.
 * Contract: on success the result (ADD) or version info (VERSION) is
 * printed and 0 returned; DEL, CHECK, GC and STATUS print nothing on
 * success. On failure the CNI error JSON {cniVersion, code, msg, details}
 * is printed on out and 1 returned. VERSION never fails.
 */
#ifndef SLUICE_CNI_PLUGIN_H
#define SLUICE_CNI_PLUGIN_H

#include <stddef.h>
#include <stdio.h>

#include "cni_error.h"
#include "cni_version.h"

enum cni_cmd {
	CNI_CMD_INVALID = -1,
	CNI_CMD_ADD = 0,
	CNI_CMD_DEL,
	CNI_CMD_CHECK,
	CNI_CMD_VERSION,
	CNI_CMD_STATUS,
	CNI_CMD_GC,
};

/* The CNI_* environment; NULL means unset. Borrowed. */
struct cni_plugin_env {
	const char *command;
	const char *container_id;
	const char *netns;
	const char *ifname;
	const char *args;
	const char *path;
};

/* "ADD" -> CNI_CMD_ADD ...; anything else CNI_CMD_INVALID. */
enum cni_cmd cni_cmd_from_string(const char *s);

/*
 * Lowest spec version that has cmd (SPEC.md "Version considerations": CHECK
 * from 0.4.0, GC and STATUS from 1.1.0).
 */
enum cni_version cni_cmd_min_version(enum cni_cmd cmd);

/*
 * Run one invocation. in[0..len) is stdin (untrusted, any bytes). Results
 * go to out, diagnostics to log (may be NULL). Returns the exit status.
 * Single-threaded (may setns(2) briefly).
 */
int cni_plugin_run(const struct cni_plugin_env *env, const char *in, size_t len, FILE *out,
		   FILE *log);

#endif
