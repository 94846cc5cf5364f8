/*
 * ctlr_ipam: node pod-CIDR allocator (see ctlr_ipam.h).
 *
 * One owner pointer per block (node name, owned) and a name -> block index
 * map (a jansson object used as a hash table). Allocation takes the lowest
 * free block, scanning from a hint that only moves forward until a release
 * lowers it, so a full scan happens only after releases.
 */
#include <arpa/inet.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>
#include <sluice/errmsg.h>

#include "ctlr_ipam.h"
#include "ctlr_util.h"

struct ipam {
	uint32_t base;   /* host order */
	unsigned prefix; /* cluster prefix length */
	unsigned bits;   /* block prefix length */
	size_t n_blocks, used, hint;
	char **owner;    /* per block */
	json_t *by_node; /* name -> block index */
};

struct ipam *ipam_create(const char *cluster_cidr, unsigned block_bits, char *errmsg,
			 size_t errlen)
{
	uint32_t addr;
	unsigned len;
	if (!ctlr_cidr4_parse(cluster_cidr, &addr, &len)) {
		sluice_errf(IPAM_ERR_INVALID, errmsg, errlen,
			    "cluster CIDR \"%s\": not an IPv4 CIDR", cluster_cidr ? cluster_cidr : "");
		return NULL;
	}
	if ((addr & ~ctlr_mask4(len)) != 0) {
		sluice_errf(IPAM_ERR_INVALID, errmsg, errlen,
			    "cluster CIDR \"%s\": host bits set", cluster_cidr);
		return NULL;
	}
	if (block_bits <= len || block_bits > 30 || block_bits - len > IPAM_MAX_BLOCK_BITS) {
		sluice_errf(IPAM_ERR_INVALID, errmsg, errlen,
			    "node CIDR length /%u: must be longer than the cluster's /%u, at "
			    "most /30 and at most %d bits more",
			    block_bits, len, IPAM_MAX_BLOCK_BITS);
		return NULL;
	}
	struct ipam *a = calloc(1, sizeof(*a));
	if (a == NULL)
		goto nomem;
	a->base = addr;
	a->prefix = len;
	a->bits = block_bits;
	a->n_blocks = (size_t)1 << (block_bits - len);
	a->owner = calloc(a->n_blocks, sizeof(*a->owner));
	a->by_node = json_object();
	if (a->owner == NULL || a->by_node == NULL)
		goto nomem;
	return a;
nomem:
	ipam_free(a);
	sluice_errf(IPAM_ERR_NOMEM, errmsg, errlen, "ipam: out of memory");
	return NULL;
}

void ipam_free(struct ipam *a)
{
	if (a == NULL)
		return;
	if (a->owner)
		for (size_t i = 0; i < a->n_blocks; i++)
			free(a->owner[i]);
	free(a->owner);
	json_decref(a->by_node);
	free(a);
}

static void ipam_format(const struct ipam *a, size_t block, char *out, size_t outlen)
{
	uint32_t ip = a->base + (uint32_t)(block << (32 - a->bits));
	snprintf(out, outlen, "%u.%u.%u.%u/%u", ip >> 24, (ip >> 16) & 255, (ip >> 8) & 255,
		 ip & 255, a->bits);
}

static int ipam_take(struct ipam *a, const char *node, size_t block)
{
	char *name = strdup(node);
	json_t *iv = json_integer((json_int_t)block);
	if (name == NULL || iv == NULL || json_object_set_new(a->by_node, node, iv) != 0) {
		free(name);
		return IPAM_ERR_NOMEM;
	}
	a->owner[block] = name;
	a->used++;
	return IPAM_OK;
}

void ipam_release(struct ipam *a, const char *node)
{
	json_t *v = json_object_get(a->by_node, node);
	if (v == NULL)
		return;
	size_t block = (size_t)json_integer_value(v);
	free(a->owner[block]);
	a->owner[block] = NULL;
	a->used--;
	if (block < a->hint)
		a->hint = block;
	json_object_del(a->by_node, node);
}

int ipam_claim(struct ipam *a, const char *node, const char *cidr, char *errmsg, size_t errlen)
{
	uint32_t addr;
	unsigned len;
	if (!ctlr_cidr4_parse(cidr, &addr, &len) || len != a->bits || (addr & ~ctlr_mask4(len)) != 0 ||
	    (addr & ctlr_mask4(a->prefix)) != a->base)
		return sluice_errf(IPAM_ERR_INVALID, errmsg, errlen,
				   "Node %s: spec.podCIDR \"%s\": not a /%u block of the cluster "
				   "CIDR",
				   node, cidr ? cidr : "", a->bits);
	size_t block = (addr - a->base) >> (32 - a->bits);
	if (a->owner[block]) {
		if (strcmp(a->owner[block], node) == 0)
			return IPAM_OK;
		return sluice_errf(IPAM_ERR_CONFLICT, errmsg, errlen,
				   "Node %s: spec.podCIDR %s already belongs to node %s", node, cidr,
				   a->owner[block]);
	}
	ipam_release(a, node);
	if (ipam_take(a, node, block) != IPAM_OK)
		return sluice_errf(IPAM_ERR_NOMEM, errmsg, errlen, "ipam: out of memory");
	return IPAM_OK;
}

int ipam_alloc(struct ipam *a, const char *node, char *out, size_t outlen, char *errmsg,
	       size_t errlen)
{
	json_t *v = json_object_get(a->by_node, node);
	if (v) {
		ipam_format(a, (size_t)json_integer_value(v), out, outlen);
		return IPAM_OK;
	}
	for (size_t b = a->hint; b < a->n_blocks; b++) {
		if (a->owner[b])
			continue;
		if (ipam_take(a, node, b) != IPAM_OK)
			return sluice_errf(IPAM_ERR_NOMEM, errmsg, errlen, "ipam: out of memory");
		a->hint = b + 1;
		ipam_format(a, b, out, outlen);
		return IPAM_OK;
	}
	a->hint = a->n_blocks;
	return sluice_errf(IPAM_ERR_FULL, errmsg, errlen,
			   "Node %s: no pod CIDR left: all %zu /%u blocks of the cluster CIDR "
			   "are assigned",
			   node, a->n_blocks, a->bits);
}

size_t ipam_capacity(const struct ipam *a)
{
	return a->n_blocks;
}

size_t ipam_used(const struct ipam *a)
{
	return a->used;
}
