/*
 * cni_args: parser for the CNI_ARGS environment variable.
 *
 * CNI_ARGS is "K=V;K=V", an unordered list (SPEC.md 1.1.0 "Parameters",
 * CNI_ARGS; conventions.md "CNI_ARGS"). sluice-cni understands the keys
 * Kubernetes runtimes send (K8S_POD_NAME, K8S_POD_NAMESPACE,
 * K8S_POD_INFRA_CONTAINER_ID, K8S_POD_UID) and IgnoreUnknown. Per
 * conventions.md, an unknown key is an error unless IgnoreUnknown is true,
 * and because the list is unordered IgnoreUnknown counts wherever it
 * appears, also after the unknown key. The input is untrusted and bounded:
 * every pair must contain '=', keys are non-empty, no key may repeat, and
 * values must fit their fields.
 */
#ifndef SLUICE_CNI_ARGS_H
#define SLUICE_CNI_ARGS_H

#include <stdbool.h>
#include <stddef.h>

#include "cni_error.h"

/* Upper bound on the whole CNI_ARGS string; longer input is refused. */
#define CNI_ARGS_MAX_LEN 4096

struct cni_args {
	char pod_name[254];      /* DNS subdomain: at most 253 chars */
	char pod_namespace[64];  /* DNS label: at most 63 chars */
	char pod_infra_id[129];
	char pod_uid[64];
	bool ignore_unknown;
	unsigned unknown_count;  /* unknown keys that IgnoreUnknown let through */
};

/*
 * Parse s[0..len) (need not be NUL-terminated; NULL or len 0 means "no
 * args") into *out, which is zeroed first. Returns CNI_OK, or
 * CNI_ERR_INVALID_ENV for a malformed list or an oversized value, or
 * CNI_ERR_UNSUPPORTED_FIELD for an unknown key without IgnoreUnknown; *err
 * names the offending key. Any thread; allocates nothing.
 */
enum cni_err cni_args_parse(const char *s, size_t len, struct cni_args *out,
			    struct cni_error *err);

#endif
