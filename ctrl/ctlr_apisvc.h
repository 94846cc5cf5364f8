/*
 * ctlr_apisvc (prefix apisvc_): the decision of the controller that keeps
 * the Service default/kubernetes and its Endpoints pointing at the masters
 * (Kubernetes' master endpoint reconciler), as pure functions of what
 * /cluster/status reports and of the objects found in the API.
 *
 *   Service   default/kubernetes, clusterIP APISVC_CLUSTER_IP (reserved by
 *             the API server's allocator), port 443/TCP named "https" with
 *             targetPort the masters' API port, and spec.externalIPs = the
 *             API VIPs when the masters were given --api-vip; created
 *             with the annotation sluice.io/health-check: tcp, so every
 *             node's agent drains a dead master at once (agent_svc.h).
 *   Endpoints one address per master whose apiURL host is an IPv4 literal:
 *             in addresses while the leader hears from it (health "ok",
 *             role leader or follower), else in notReadyAddresses; one
 *             subset per API port, port named "https".
 *
 * Ownership: the controller creates the Service whole; afterwards it only
 * rewrites its "https" port and, when VIPs are configured, externalIPs:
 * other ports, labels, annotations and (without --api-vip) externalIPs are
 * the operator's. The Endpoints are entirely the controller's.
 *
 * Threading: no state; any thread.
 */
#ifndef SLUICE_CTRL_CTLR_APISVC_H
#define SLUICE_CTRL_CTLR_APISVC_H

#include <stdbool.h>
#include <stddef.h>

#include <jansson.h>

#define APISVC_NAMESPACE "default"
#define APISVC_NAME "kubernetes"
#define APISVC_KEY APISVC_NAMESPACE "/" APISVC_NAME
/* The service CIDR the API server allocates clusterIPs from, and its
 * first address, kept for default/kubernetes (as kube-apiserver does). */
#define APISVC_SERVICE_CIDR "10.96.0.0/16"
#define APISVC_CLUSTER_IP "10.96.0.1"
#define APISVC_PORT 443
#define APISVC_PORT_NAME "https"
#define APISVC_DEFAULT_TARGET 6443
#define APISVC_MAX_VIPS 8
#define APISVC_IP_MAX 16 /* "255.255.255.255" + NUL */

/*
 * The desired Endpoints default/kubernetes from a /cluster/status answer
 * (borrowed). Members whose apiURL is not https://IPv4:PORT are left out,
 * their names appended to skipped (a JSON array, may be NULL). NULL on out
 * of memory.
 */
json_t *apisvc_endpoints(const json_t *status, json_t *skipped);

/* The port most masters serve the API on in eps (ties: the lowest);
 * APISVC_DEFAULT_TARGET when eps lists none. */
unsigned apisvc_target_port(const json_t *eps);

struct apisvc_cfg {
	const char *const *vips; /* the API VIPs (validated), may be 0 of them */
	size_t n_vips;
	unsigned target_port;    /* the masters' API port */
};

/*
 * The Service to write given the current one (cur, borrowed; NULL when it
 * does not exist): a new object to create, an updated copy of cur (with its
 * resourceVersion) when a field the controller owns differs, or NULL when
 * cur is as wanted (*nomem tells out of memory apart).
 */
json_t *apisvc_service(const json_t *cur, const struct apisvc_cfg *c, bool *nomem);

/*
 * Check one API VIP: a dotted-quad IPv4 address that is a usable unicast
 * address (not 0/8, 127/8, 169.254/16, multicast, reserved or broadcast)
 * outside the pod network cluster_cidr (NULL = 10.244.0.0/16) and the
 * service CIDR. 0, or -1 with err naming the problem.
 */
int apisvc_vip_check(const char *ip, const char *cluster_cidr, char *err, size_t len);

/*
 * Append the comma-separated addresses of list to vips[*n] (each checked
 * as above, duplicates dropped, at most max in all). 0, or -1 with err.
 */
int apisvc_vips_parse(const char *list, const char *cluster_cidr, char vips[][APISVC_IP_MAX],
		      size_t max, size_t *n, char *err, size_t len);

#endif
