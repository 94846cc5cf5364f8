/*
 * ctlr_ipam (prefix ipam_): node IPAM, the allocator behind the node
 * controller's spec.podCIDR assignment. The cluster CIDR (IPv4) is cut into
 * blocks of one prefix length (/24 by default); each node gets one block,
 * never two nodes the same. The assignment lives in the Node objects: after
 * a restart or a leader change the controller claims every podCIDR it finds
 * (ipam_claim) before it allocates anything, so assignments survive.
 *
 * Errors (STYLE 9): enum ipam_err and an errmsg naming the node and CIDR.
 * Threading: not thread-safe; the orch thread owns it.
 */
#ifndef SLUICE_CTRL_CTLR_IPAM_H
#define SLUICE_CTRL_CTLR_IPAM_H

#include <stddef.h>

enum ipam_err {
	IPAM_OK = 0,
	IPAM_ERR_NOMEM = 1,
	IPAM_ERR_INVALID = 2,  /* not a CIDR, or not a block of the cluster CIDR */
	IPAM_ERR_CONFLICT = 3, /* the block belongs to another node */
	IPAM_ERR_FULL = 4,     /* no block left */
};

/* Longest "a.b.c.d/nn" plus NUL. */
#define IPAM_CIDR_MAX 19
/* At most 2^20 blocks, so the owner table stays small. */
#define IPAM_MAX_BLOCK_BITS 20

struct ipam;

/* cluster_cidr like "10.244.0.0/16", block_bits the node prefix length
 * (> the cluster's, <= 30, at most 2^20 blocks). NULL with errmsg. */
struct ipam *ipam_create(const char *cluster_cidr, unsigned block_bits, char *errmsg,
			 size_t errlen);
void ipam_free(struct ipam *a); /* accepts NULL */

/* Record that node holds cidr (from its Node object). Claiming the block it
 * already holds is OK; a node holding another block first releases it. */
int ipam_claim(struct ipam *a, const char *node, const char *cidr, char *errmsg, size_t errlen);
/* The node's block, allocating the lowest free one if it has none; out
 * gets "a.b.c.d/nn" (IPAM_CIDR_MAX bytes). IPAM_ERR_FULL when exhausted. */
int ipam_alloc(struct ipam *a, const char *node, char *out, size_t outlen, char *errmsg,
	       size_t errlen);
/* Free the node's block (node deleted); unknown nodes are ignored. */
void ipam_release(struct ipam *a, const char *node);

size_t ipam_capacity(const struct ipam *a);
size_t ipam_used(const struct ipam *a);

#endif
