/*
 * cni_result: the CNI Result type, version-independent, and its JSON forms.
 *
 * One in-memory shape (the 1.1.0 one, SPEC.md 1.1.0 "Success") is parsed
 * from any supported version (a prevResult handed down a chain) and printed
 * in any supported version, so converting is parse-then-print. Differences
 * that matter (SPEC.md "Version considerations" and the 0.3.x/0.4.0 spec
 * texts): up to 0.4.0 every ips[] entry carries "version": "4"|"6"; from
 * 1.0.0 it does not; 1.1.0 adds interfaces[].mtu/socketPath/pciID and
 * routes[].mtu/advmss/priority/table/scope. Fields a lower version does not
 * have are dropped when printing that version.
 *
 * Parsing validates deeply (WireGuard-style): every string is bounded,
 * every address parses, ips[].interface indexes an existing interface and
 * ips[].version (where present) agrees with the address family. Unknown
 * keys inside a result are ignored, because a prevResult may come from a
 * plugin that knows fields we do not.
 */
#ifndef SLUICE_CNI_RESULT_H
#define SLUICE_CNI_RESULT_H

#include <stdbool.h>
#include <stdint.h>

#include <jansson.h>

#include "cni_error.h"
#include "cni_version.h"

#define CNI_RESULT_MAX_IFACES 8
#define CNI_RESULT_MAX_IPS 16
#define CNI_RESULT_MAX_ROUTES 32
#define CNI_RESULT_MAX_DNS 8

#define CNI_IP_STR_MAX 46    /* INET6_ADDRSTRLEN */
#define CNI_CIDR_STR_MAX 50  /* address + "/128" */

struct cni_result_iface {
	char name[16];          /* IFNAMSIZ */
	char mac[64];
	char sandbox[1024];     /* netns path; empty for host-side interfaces */
	char socket_path[108];  /* sun_path bound; 1.1.0 only */
	char pci_id[32];        /* 1.1.0 only */
	uint32_t mtu;           /* 0 = absent; 1.1.0 only */
};

struct cni_result_ip {
	int family;             /* 4 or 6 */
	char address[CNI_CIDR_STR_MAX];
	char gateway[CNI_IP_STR_MAX];   /* "" = absent */
	int iface;              /* index into interfaces, -1 = absent */
};

struct cni_result_route {
	char dst[CNI_CIDR_STR_MAX];
	char gw[CNI_IP_STR_MAX];        /* "" = absent */
	uint32_t mtu, advmss, priority, table; /* 0 = absent; 1.1.0 only */
	int scope;                      /* -1 = absent; 1.1.0 only */
};

struct cni_result_dns {
	unsigned n_nameservers, n_search, n_options;
	char nameservers[CNI_RESULT_MAX_DNS][CNI_IP_STR_MAX];
	char domain[254];
	char search[CNI_RESULT_MAX_DNS][254];
	char options[CNI_RESULT_MAX_DNS][64];
};

struct cni_result {
	unsigned n_ifaces, n_ips, n_routes;
	struct cni_result_iface ifaces[CNI_RESULT_MAX_IFACES];
	struct cni_result_ip ips[CNI_RESULT_MAX_IPS];
	struct cni_result_route routes[CNI_RESULT_MAX_ROUTES];
	struct cni_result_dns dns;
};

/* Zero a result (no interfaces, ips, routes or dns). */
void cni_result_init(struct cni_result *r);

/*
 * Parse a result object of version v (the config's cniVersion, which the
 * spec requires prevResult to match) into *r (initialised first). Returns
 * CNI_OK or CNI_ERR_DECODE with *err naming the bad field. Borrows obj.
 * Any thread.
 */
enum cni_err cni_result_parse(const json_t *obj, enum cni_version v, struct cni_result *r,
			      struct cni_error *err);

/*
 * Build the JSON of *r in version v, including "cniVersion". Returns a new
 * reference (caller owns it, json_decref) or NULL on allocation failure.
 */
json_t *cni_result_to_json(const struct cni_result *r, enum cni_version v);

/*
 * Append src's interfaces, ips and routes to dst (chaining: SPEC.md 1.1.0
 * "Chained Plugins" - a plugin passes prevResult through with its own
 * additions). src's ips[].iface indexes are rebased onto dst. DNS fields of
 * src fill those dst leaves empty. Returns CNI_OK, or CNI_ERR_INTERNAL if
 * dst would overflow (dst is then unchanged).
 */
enum cni_err cni_result_append(struct cni_result *dst, const struct cni_result *src,
			       struct cni_error *err);

/*
 * Address helpers shared by the config parser and the link code.
 * cni_ip_parse: "a.b.c.d" or an IPv6 literal into bytes (16 bytes, v4 in the
 * first 4); returns family 4 or 6, or 0 if s is not an address.
 * cni_cidr_parse: "addr/len" with len within the family's bound; returns the
 * family or 0. s may be NULL (gives 0). Any thread.
 */
int cni_ip_parse(const char *s, unsigned char addr[16]);
int cni_cidr_parse(const char *s, unsigned char addr[16], unsigned *prefix);

#endif
