/*
 * ctlr_endpoints (prefix endpoints_): the Endpoints controller's decision,
 * a pure function of (Service, pods): the Endpoints object a Service should
 * have. Pods are selected by spec.selector in the Service's namespace;
 * a pod with a status.podIP that is not terminal appears in addresses when
 * ready and in notReadyAddresses otherwise. Ports come from the Service:
 * targetPort as a number (default: port), or a name resolved against each
 * pod's container ports, so pods that resolve a name differently land in
 * different subsets (as in Kubernetes). Addresses are sorted by IP so the
 * result is canonical and can be compared to the stored one.
 *
 * A Service without a selector is not managed (its Endpoints are the
 * user's).
 *
 * Threading: no state; any thread.
 */
#ifndef SLUICE_CTRL_CTLR_ENDPOINTS_H
#define SLUICE_CTRL_CTLR_ENDPOINTS_H

#include <stdbool.h>
#include <stddef.h>

#include <jansson.h>

/*
 * The desired Endpoints for svc (a new object: apiVersion, kind, metadata
 * name/namespace/labels, subsets) given candidate pods (borrowed; pods of
 * other namespaces are skipped). NULL for a Service without a selector,
 * or on out of memory (*nomem set).
 */
json_t *endpoints_compute(const json_t *svc, const json_t *const *pods, size_t n, bool *nomem);

/* The subsets of two Endpoints are the same (a missing list equals an
 * empty one). */
bool endpoints_equal(const json_t *a, const json_t *b);

/* Put a subset in canonical form, in place: addresses and
 * notReadyAddresses sorted in numeric IP order (IPv4 before IPv6), each
 * dropped when empty. 0, or -1 on out of memory. */
int endpoints_subset_finish(json_t *sub);

#endif
