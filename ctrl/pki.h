/*
 * pki: the cluster's certificates, the way kubeadm lays them out, with
 * OpenSSL's EVP/X509 APIs. One directory holds:
 *   ca.crt, ca.key            cluster CA (ECDSA P-256, 10 years)
 *   peer.key                  32 random bytes: the HMAC key of the Raft
 *                             transport (consensus/net.c), mode 0600
 *   master-NAME.crt/.key      CN "master:NAME", serverAuth + clientAuth,
 *                             SANs: the given IPs and DNS names plus
 *                             127.0.0.1, ::1, localhost, the clusterIP
 *                             10.96.0.1 and the names kubernetes,
 *                             kubernetes.default(.svc(.cluster.local)) of
 *                             the Service default/kubernetes
 *   node-NAME.crt/.key        CN "node:NAME", clientAuth
 *   admin.crt/.key            CN "admin", clientAuth
 *   admin.conf                apic client config (ctrl/apic.h) for admin
 * Keys are written 0600. Nothing is overwritten: issuing an existing name
 * fails (EEXIST), so a typo cannot replace a running master's identity.
 *
 * Errors: 0 or -1 with errmsg naming the file or the field.
 * Threading: any thread; no shared state.
 */
#ifndef SLUICE_CTRL_PKI_H
#define SLUICE_CTRL_PKI_H

#include <stddef.h>
#include <stdint.h>

#define PKI_MAX_SANS 16
#define PKI_PEER_KEY_LEN 32

enum pki_kind {
	PKI_MASTER = 1,
	PKI_NODE = 2,
	PKI_ADMIN = 3,
};

/* Parse "master" | "node" | "admin"; 0 if unknown. */
enum pki_kind pki_kind_parse(const char *s);

/* Create DIR (mode 0700 if missing), ca.crt/ca.key and peer.key. Fails if
 * ca.key already exists. */
int pki_init_ca(const char *dir, char *errmsg, size_t errlen);

struct pki_issue_params {
	const char *dir;
	const char *name;  /* master/node name; ignored for admin */
	enum pki_kind kind;
	const char *ips[PKI_MAX_SANS]; /* extra IP SANs (v4 or v6 text) */
	size_t n_ips;
	const char *dns[PKI_MAX_SANS]; /* extra DNS SANs */
	size_t n_dns;
	unsigned days; /* validity; 0 = 365 */
};

/* Issue a key + cert signed by DIR's CA. The paths written are returned
 * in cert_path / key_path (PATH_MAX-sized buffers, may be NULL). */
int pki_issue(const struct pki_issue_params *p, char *cert_path,
	      char *key_path, char *errmsg, size_t errlen);

/* Write DIR/NAME.conf (apic config, JSON) for the cert pair cert/key
 * (file names relative to DIR) and the API servers given. */
int pki_write_client_conf(const char *dir, const char *conf_name,
			  const char *cert, const char *key,
			  const char *const *servers, size_t n_servers,
			  char *errmsg, size_t errlen);

/* Read DIR/peer.key into key[0..PKI_PEER_KEY_LEN). Refuses a file of the
 * wrong size or readable by group/others. */
int pki_read_peer_key(const char *dir, uint8_t key[PKI_PEER_KEY_LEN],
		      char *errmsg, size_t errlen);

/* Verify that the PEM cert at cert_path chains to the CA at ca_path
 * (and is within its validity). 0 if it verifies. */
int pki_verify(const char *ca_path, const char *cert_path, char *errmsg,
	       size_t errlen);

/* The conventional file names for a kind+name: "master-m1" etc. into
 * out (base name without extension). */
void pki_base_name(enum pki_kind kind, const char *name, char *out,
		   size_t len);

#endif /* SLUICE_CTRL_PKI_H */
