/*
 * cni_link: the kernel side of a veth attachment, over rtnetlink (libmnl).
 *
 * The default sluice attachment (DESIGN.md "Pods") is a veth pair whose
 * host end sluice-dp takes with AF_XDP and whose other end lives in the
 * pod's netns as CNI_IFNAME, carrying the address, default route and
 * gateway the agent allocated. The pair is created from the host netns
 * with the peer placed straight into the pod netns (IFLA_NET_NS_FD in
 * VETH_INFO_PEER), so there is never a moment where the pod end sits in
 * the host netns under a name that could collide. Addresses and routes are
 * set over a netlink socket opened inside the pod netns: a netlink socket
 * stays bound to the netns it was created in, so the process only sits in
 * the pod netns for the duration of socket() (SPEC.md 1.1.0 "ADD": the
 * plugin creates the interface inside CNI_NETNS and applies the result).
 *
 * No shelling out. Single-threaded callers only (setns(2) switches the
 * calling thread, and sluice-cni is single-threaded).
 */
#ifndef SLUICE_CNI_LINK_H
#define SLUICE_CNI_LINK_H

#include <stdbool.h>
#include <stdint.h>

#include "cni_error.h"
#include "cni_result.h"

/*
 * Is path a network namespace handle we can open? Returns CNI_OK or
 * CNI_ERR_INVALID_ENV ("CNI_NETNS ...") with *err set.
 */
enum cni_err cni_link_netns_check(const char *path, struct cni_error *err);

/*
 * Is path the caller's own network namespace? A veth "pod" end there would
 * land next to the host's interfaces, so veth mode refuses it.
 */
bool cni_link_netns_is_own(const char *path);

/* The host end of a pod's veth is named sluice_attach_key(container_id,
 * ifname) (include/sluice/attach_key.h): deterministic, so DEL without
 * prevResult finds the same name, and the agent derives the same key. */

/*
 * Create the veth pair: host_if in the current netns (up), pod_if in
 * netns_path (left down until cni_link_configure). mtu 0 = kernel default.
 * On success fills host_mac/pod_mac ("aa:bb:..", 18 bytes each).
 * CNI_ERR_LINK if the pair exists already (EEXIST) or netlink refuses.
 */
enum cni_err cni_link_veth_add(const char *netns_path, const char *host_if, const char *pod_if,
			       uint32_t mtu, char host_mac[18], char pod_mac[18],
			       struct cni_error *err);

/*
 * Inside netns_path: bring lo and pod_if up, add r's ips and routes
 * (gateway routes are RTNH_F_ONLINK so a gateway outside the subnet works).
 */
enum cni_err cni_link_configure(const char *netns_path, const char *pod_if,
				const struct cni_result *r, struct cni_error *err);

/*
 * Delete host_if (its peer goes with it). Missing interface is success:
 * DEL is idempotent (SPEC.md 1.1.0 "DEL": must not fail if resources are
 * already gone).
 */
enum cni_err cni_link_veth_del(const char *host_if, struct cni_error *err);

/*
 * CHECK: pod_if exists in netns_path and holds every address of r
 * (SPEC.md 1.1.0 "CHECK"). CNI_ERR_LINK with the missing piece named.
 */
enum cni_err cni_link_check(const char *netns_path, const char *pod_if, const struct cni_result *r,
			    struct cni_error *err);

#endif
