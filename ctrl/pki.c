/*
 * pki: CA, peer key and certificates for a sluice cluster (see pki.h).
 *
 * Everything goes through OpenSSL 3's EVP and X509 APIs: EVP_EC_gen for
 * P-256 keys, X509v3 extensions built from their config strings (the same
 * strings openssl.cnf would hold, so the result reads like kubeadm's), and
 * X509_verify_cert for pki_verify. Files are created with O_EXCL so that
 * issuing never overwrites an identity already in use.
 */
#include "pki.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <jansson.h>
#include <openssl/bn.h>
#include <openssl/ec.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "sluice/errmsg.h"

#include "ctlr_apisvc.h" /* APISVC_CLUSTER_IP */

#define PKI_CA_DAYS 3650u

static int pki_ossl_err(char *errmsg, size_t errlen, const char *what)
{
	unsigned long e = ERR_get_error();
	char buf[200];
	ERR_error_string_n(e, buf, sizeof(buf));
	ERR_clear_error();
	return sluice_errf(-1, errmsg, errlen, "pki: %s: %s", what,
			   e != 0 ? buf : "failed");
}

enum pki_kind pki_kind_parse(const char *s)
{
	if (s == NULL)
		return 0;
	if (strcmp(s, "master") == 0)
		return PKI_MASTER;
	if (strcmp(s, "node") == 0)
		return PKI_NODE;
	if (strcmp(s, "admin") == 0)
		return PKI_ADMIN;
	return 0;
}

void pki_base_name(enum pki_kind kind, const char *name, char *out,
		   size_t len)
{
	switch (kind) {
	case PKI_MASTER:
		snprintf(out, len, "master-%s", name);
		break;
	case PKI_NODE:
		snprintf(out, len, "node-%s", name);
		break;
	default:
		snprintf(out, len, "admin");
		break;
	}
}

/* Names end up in file names and in CNs: keep them to a safe alphabet. */
static int pki_name_ok(const char *name)
{
	size_t n = strlen(name);
	if (n == 0 || n > 63)
		return 0;
	for (size_t i = 0; i < n; i++) {
		char c = name[i];
		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
		      (c >= '0' && c <= '9') || c == '-' || c == '_' ||
		      c == '.'))
			return 0;
	}
	return name[0] != '.';
}

/* Open path for writing, failing if it exists. */
static FILE *pki_create_file(const char *path, mode_t mode, char *errmsg,
			     size_t errlen)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, mode);
	if (fd < 0) {
		sluice_errf(-1, errmsg, errlen, "pki: %s: %s", path,
			    strerror(errno));
		return NULL;
	}
	FILE *f = fdopen(fd, "w");
	if (f == NULL) {
		sluice_errf(-1, errmsg, errlen, "pki: %s: %s", path,
			    strerror(errno));
		close(fd);
	}
	return f;
}

static int pki_write_key(const char *path, EVP_PKEY *key, char *errmsg,
			 size_t errlen)
{
	FILE *f = pki_create_file(path, 0600, errmsg, errlen);
	if (f == NULL)
		return -1;
	int ok = PEM_write_PrivateKey(f, key, NULL, NULL, 0, NULL, NULL);
	if (fclose(f) != 0 || !ok) {
		unlink(path);
		return pki_ossl_err(errmsg, errlen, path);
	}
	return 0;
}

static int pki_write_cert(const char *path, X509 *crt, char *errmsg,
			  size_t errlen)
{
	FILE *f = pki_create_file(path, 0644, errmsg, errlen);
	if (f == NULL)
		return -1;
	int ok = PEM_write_X509(f, crt);
	if (fclose(f) != 0 || !ok) {
		unlink(path);
		return pki_ossl_err(errmsg, errlen, path);
	}
	return 0;
}

/* Read one PEM object: a private key (key) or a certificate. */
static void *pki_load_pem(const char *path, bool key, char *errmsg, size_t errlen)
{
	FILE *f = fopen(path, "r");
	if (f == NULL) {
		sluice_errf(-1, errmsg, errlen, "pki: %s: %s", path,
			    strerror(errno));
		return NULL;
	}
	void *o = key ? (void *)PEM_read_PrivateKey(f, NULL, NULL, NULL)
		      : (void *)PEM_read_X509(f, NULL, NULL, NULL);
	fclose(f);
	if (o == NULL)
		pki_ossl_err(errmsg, errlen, path);
	return o;
}

static X509 *pki_load_cert(const char *path, char *errmsg, size_t errlen)
{
	return pki_load_pem(path, false, errmsg, errlen);
}

static EVP_PKEY *pki_load_key(const char *path, char *errmsg, size_t errlen)
{
	return pki_load_pem(path, true, errmsg, errlen);
}

/* Add one extension from its config string (issuer may be NULL for the
 * self-signed CA, where the cert is its own issuer). */
static int pki_add_ext(X509 *crt, X509 *issuer, int nid, const char *value)
{
	X509V3_CTX ctx;
	X509V3_set_ctx_nodb(&ctx);
	X509V3_set_ctx(&ctx, issuer != NULL ? issuer : crt, crt, NULL, NULL,
		       0);
	X509_EXTENSION *ext = X509V3_EXT_conf_nid(NULL, &ctx, nid, value);
	if (ext == NULL)
		return -1;
	int ok = X509_add_ext(crt, ext, -1);
	X509_EXTENSION_free(ext);
	return ok ? 0 : -1;
}

/* A new cert for key with subject CN, valid for days, not yet signed. */
static X509 *pki_new_cert(EVP_PKEY *key, const char *cn, unsigned days)
{
	X509 *crt = X509_new();
	if (crt == NULL)
		return NULL;
	/* 127-bit random serial (RFC 5280 §4.1.2.2: positive, <= 20 bytes) */
	unsigned char rnd[16];
	BIGNUM *bn = NULL;
	if (RAND_bytes(rnd, sizeof(rnd)) != 1)
		goto fail;
	rnd[0] &= 0x7f;
	bn = BN_bin2bn(rnd, sizeof(rnd), NULL);
	if (bn == NULL || BN_to_ASN1_INTEGER(bn, X509_get_serialNumber(crt)) == NULL)
		goto fail;
	BN_free(bn);
	bn = NULL;
	if (!X509_set_version(crt, 2) ||
	    X509_gmtime_adj(X509_getm_notBefore(crt), -300) == NULL ||
	    X509_gmtime_adj(X509_getm_notAfter(crt), (long)days * 86400L) == NULL ||
	    !X509_set_pubkey(crt, key))
		goto fail;
	X509_NAME *subj = X509_get_subject_name(crt);
	if (!X509_NAME_add_entry_by_txt(subj, "O", MBSTRING_ASC,
					(const unsigned char *)"sluice", -1, -1, 0) ||
	    !X509_NAME_add_entry_by_txt(subj, "CN", MBSTRING_ASC,
					(const unsigned char *)cn, -1, -1, 0))
		goto fail;
	return crt;
fail:
	BN_free(bn);
	X509_free(crt);
	return NULL;
}

static void pki_path(char *out, const char *dir, const char *base,
		     const char *ext)
{
	snprintf(out, PATH_MAX, "%s/%s%s", dir, base, ext);
}

/* mkdir -p, the leaf with mode 0700 (it holds the CA key). */
static int pki_mkdirs(const char *dir)
{
	char tmp[PATH_MAX];
	if (snprintf(tmp, sizeof(tmp), "%s", dir) >= (int)sizeof(tmp)) {
		errno = ENAMETOOLONG;
		return -1;
	}
	for (char *p = tmp + 1; *p != '\0'; p++) {
		if (*p != '/')
			continue;
		*p = '\0';
		if (mkdir(tmp, 0755) < 0 && errno != EEXIST)
			return -1;
		*p = '/';
	}
	return mkdir(tmp, 0700) < 0 && errno != EEXIST ? -1 : 0;
}

int pki_init_ca(const char *dir, char *errmsg, size_t errlen)
{
	if (pki_mkdirs(dir) < 0)
		return sluice_errf(-1, errmsg, errlen, "pki: mkdir %s: %s", dir,
				   strerror(errno));
	char crt_path[PATH_MAX], key_path[PATH_MAX], peer_path[PATH_MAX];
	pki_path(crt_path, dir, "ca", ".crt");
	pki_path(key_path, dir, "ca", ".key");
	pki_path(peer_path, dir, "peer", ".key");
	if (access(key_path, F_OK) == 0)
		return sluice_errf(-1, errmsg, errlen,
				   "pki: %s exists: this directory already holds a cluster",
				   key_path);

	int rc = -1;
	EVP_PKEY *key = EVP_EC_gen("P-256");
	X509 *crt = NULL;
	if (key == NULL)
		return pki_ossl_err(errmsg, errlen, "CA key");
	crt = pki_new_cert(key, "sluice-ca", PKI_CA_DAYS);
	if (crt == NULL) {
		pki_ossl_err(errmsg, errlen, "CA cert");
		goto out;
	}
	X509_set_issuer_name(crt, X509_get_subject_name(crt));
	if (pki_add_ext(crt, NULL, NID_basic_constraints, "critical,CA:TRUE") ||
	    pki_add_ext(crt, NULL, NID_key_usage,
			"critical,keyCertSign,cRLSign,digitalSignature") ||
	    pki_add_ext(crt, NULL, NID_subject_key_identifier, "hash") ||
	    !X509_sign(crt, key, EVP_sha256())) {
		pki_ossl_err(errmsg, errlen, "CA cert");
		goto out;
	}
	if (pki_write_key(key_path, key, errmsg, errlen) < 0)
		goto out;
	if (pki_write_cert(crt_path, crt, errmsg, errlen) < 0)
		goto out;

	uint8_t peer[PKI_PEER_KEY_LEN];
	if (RAND_bytes(peer, sizeof(peer)) != 1) {
		pki_ossl_err(errmsg, errlen, "peer key");
		goto out;
	}
	int fd = open(peer_path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	if (fd < 0) {
		sluice_errf(-1, errmsg, errlen, "pki: %s: %s", peer_path,
			    strerror(errno));
		goto out;
	}
	ssize_t w = write(fd, peer, sizeof(peer));
	OPENSSL_cleanse(peer, sizeof(peer));
	if (close(fd) != 0 || w != (ssize_t)sizeof(peer)) {
		sluice_errf(-1, errmsg, errlen, "pki: %s: short write", peer_path);
		unlink(peer_path);
		goto out;
	}
	rc = 0;
out:
	X509_free(crt);
	EVP_PKEY_free(key);
	return rc;
}

int pki_issue(const struct pki_issue_params *p, char *cert_path,
	      char *key_path, char *errmsg, size_t errlen)
{
	if (p->kind != PKI_MASTER && p->kind != PKI_NODE && p->kind != PKI_ADMIN)
		return sluice_errf(-1, errmsg, errlen,
				   "pki: --kind must be master, node or admin");
	if (p->kind != PKI_ADMIN && (p->name == NULL || !pki_name_ok(p->name)))
		return sluice_errf(-1, errmsg, errlen,
				   "pki: --name '%s': 1-63 of [A-Za-z0-9._-]",
				   p->name != NULL ? p->name : "");
	if (p->n_ips > PKI_MAX_SANS || p->n_dns > PKI_MAX_SANS)
		return sluice_errf(-1, errmsg, errlen, "pki: too many SANs (max %d)",
				   PKI_MAX_SANS);

	char ca_crt[PATH_MAX], ca_key[PATH_MAX], crt_path[PATH_MAX],
		k_path[PATH_MAX], base[128];
	pki_path(ca_crt, p->dir, "ca", ".crt");
	pki_path(ca_key, p->dir, "ca", ".key");
	pki_base_name(p->kind, p->name, base, sizeof(base));
	pki_path(crt_path, p->dir, base, ".crt");
	pki_path(k_path, p->dir, base, ".key");

	int rc = -1;
	X509 *ca = NULL, *crt = NULL;
	EVP_PKEY *cakey = NULL, *key = NULL;
	char cn[128];
	if (p->kind == PKI_MASTER)
		snprintf(cn, sizeof(cn), "master:%s", p->name);
	else if (p->kind == PKI_NODE)
		snprintf(cn, sizeof(cn), "node:%s", p->name);
	else
		snprintf(cn, sizeof(cn), "admin");

	ca = pki_load_cert(ca_crt, errmsg, errlen);
	if (ca == NULL)
		goto out;
	cakey = pki_load_key(ca_key, errmsg, errlen);
	if (cakey == NULL)
		goto out;
	key = EVP_EC_gen("P-256");
	if (key == NULL) {
		pki_ossl_err(errmsg, errlen, "key");
		goto out;
	}
	crt = pki_new_cert(key, cn, p->days != 0 ? p->days : 365u);
	if (crt == NULL || !X509_set_issuer_name(crt, X509_get_subject_name(ca))) {
		pki_ossl_err(errmsg, errlen, "cert");
		goto out;
	}
	const char *eku = p->kind == PKI_MASTER ? "serverAuth,clientAuth"
						: "clientAuth";
	if (pki_add_ext(crt, ca, NID_basic_constraints, "critical,CA:FALSE") ||
	    pki_add_ext(crt, ca, NID_key_usage,
			"critical,digitalSignature,keyEncipherment") ||
	    pki_add_ext(crt, ca, NID_ext_key_usage, eku) ||
	    pki_add_ext(crt, ca, NID_authority_key_identifier, "keyid:always")) {
		pki_ossl_err(errmsg, errlen, "extensions");
		goto out;
	}
	if (p->kind == PKI_MASTER) {
		/* Masters are reached by IP (loopback in tests, netns
		 * addresses) and by name: SANs for all of them; and through
		 * the Service default/kubernetes (its clusterIP and names;
		 * the API VIPs come in p->ips), see ctlr_apisvc.h. */
		char san[4096];
		int n = snprintf(san, sizeof(san),
				 "DNS:localhost,DNS:%s,IP:127.0.0.1,IP:::1,IP:" APISVC_CLUSTER_IP
				 ",DNS:kubernetes,DNS:kubernetes.default,DNS:kubernetes.default.svc"
				 ",DNS:kubernetes.default.svc.cluster.local",
				 p->name);
		for (size_t i = 0; i < p->n_ips && n > 0 && (size_t)n < sizeof(san); i++)
			n += snprintf(san + n, sizeof(san) - (size_t)n, ",IP:%s",
				      p->ips[i]);
		for (size_t i = 0; i < p->n_dns && n > 0 && (size_t)n < sizeof(san); i++)
			n += snprintf(san + n, sizeof(san) - (size_t)n, ",DNS:%s",
				      p->dns[i]);
		if (n < 0 || (size_t)n >= sizeof(san)) {
			sluice_errf(-1, errmsg, errlen, "pki: SAN list too long");
			goto out;
		}
		if (pki_add_ext(crt, ca, NID_subject_alt_name, san)) {
			pki_ossl_err(errmsg, errlen, "--ip/--dns (subjectAltName)");
			goto out;
		}
	}
	if (!X509_sign(crt, cakey, EVP_sha256())) {
		pki_ossl_err(errmsg, errlen, "sign");
		goto out;
	}
	if (pki_write_key(k_path, key, errmsg, errlen) < 0)
		goto out;
	if (pki_write_cert(crt_path, crt, errmsg, errlen) < 0) {
		unlink(k_path);
		goto out;
	}
	if (cert_path != NULL)
		snprintf(cert_path, PATH_MAX, "%s", crt_path);
	if (key_path != NULL)
		snprintf(key_path, PATH_MAX, "%s", k_path);
	rc = 0;
out:
	X509_free(ca);
	X509_free(crt);
	EVP_PKEY_free(cakey);
	EVP_PKEY_free(key);
	return rc;
}

int pki_write_client_conf(const char *dir, const char *conf_name,
			  const char *cert, const char *key,
			  const char *const *servers, size_t n_servers,
			  char *errmsg, size_t errlen)
{
	char path[PATH_MAX];
	pki_path(path, dir, conf_name, ".conf");
	json_t *srv = json_array();
	for (size_t i = 0; i < n_servers; i++)
		json_array_append_new(srv, json_string(servers[i]));
	json_t *o = json_pack("{s:o,s:s,s:s,s:s}", "servers", srv, "ca",
			      "ca.crt", "cert", cert, "key", key);
	if (o == NULL)
		return sluice_errf(-1, errmsg, errlen, "pki: %s: out of memory", path);
	FILE *f = pki_create_file(path, 0600, errmsg, errlen);
	if (f == NULL) {
		json_decref(o);
		return -1;
	}
	int w = json_dumpf(o, f, JSON_INDENT(2));
	fputc('\n', f);
	json_decref(o);
	if (fclose(f) != 0 || w != 0) {
		unlink(path);
		return sluice_errf(-1, errmsg, errlen, "pki: %s: write failed", path);
	}
	return 0;
}

int pki_read_peer_key(const char *dir, uint8_t key[PKI_PEER_KEY_LEN],
		      char *errmsg, size_t errlen)
{
	char path[PATH_MAX];
	pki_path(path, dir, "peer", ".key");
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return sluice_errf(-1, errmsg, errlen, "pki: %s: %s", path,
				   strerror(errno));
	struct stat st;
	int rc = -1;
	if (fstat(fd, &st) < 0) {
		sluice_errf(-1, errmsg, errlen, "pki: %s: %s", path, strerror(errno));
	} else if ((st.st_mode & 077) != 0) {
		sluice_errf(-1, errmsg, errlen,
			    "pki: %s: readable by group/others (chmod 600)", path);
	} else if (st.st_size != PKI_PEER_KEY_LEN) {
		sluice_errf(-1, errmsg, errlen, "pki: %s: %lld bytes, want %d", path,
			    (long long)st.st_size, PKI_PEER_KEY_LEN);
	} else if (read(fd, key, PKI_PEER_KEY_LEN) != PKI_PEER_KEY_LEN) {
		sluice_errf(-1, errmsg, errlen, "pki: %s: short read", path);
	} else {
		rc = 0;
	}
	close(fd);
	return rc;
}

int pki_verify(const char *ca_path, const char *cert_path, char *errmsg,
	       size_t errlen)
{
	int rc = -1;
	X509_STORE *store = NULL;
	X509_STORE_CTX *ctx = NULL;
	X509 *ca = pki_load_cert(ca_path, errmsg, errlen);
	X509 *crt = ca != NULL ? pki_load_cert(cert_path, errmsg, errlen) : NULL;
	if (crt == NULL)
		goto out;
	store = X509_STORE_new();
	ctx = X509_STORE_CTX_new();
	if (store == NULL || ctx == NULL || !X509_STORE_add_cert(store, ca) ||
	    !X509_STORE_CTX_init(ctx, store, crt, NULL)) {
		pki_ossl_err(errmsg, errlen, "verify");
		goto out;
	}
	if (X509_verify_cert(ctx) != 1) {
		sluice_errf(-1, errmsg, errlen, "pki: %s: %s", cert_path,
			    X509_verify_cert_error_string(
				    X509_STORE_CTX_get_error(ctx)));
		goto out;
	}
	rc = 0;
out:
	X509_STORE_CTX_free(ctx);
	X509_STORE_free(store);
	X509_free(crt);
	X509_free(ca);
	return rc;
}
