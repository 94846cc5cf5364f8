/*
 * test_pki: certificates issued by ctrl/pki.c verify against their CA (and
 * only theirs), carry the right names and usages, never overwrite, and the
 * peer key is exactly 32 private bytes.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>
#include <jansson.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "pki.h"

struct fx {
	char dir[64];
	char other[128];
};

static int setup(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));
	snprintf(f->dir, sizeof(f->dir), "/tmp/test_pki.XXXXXX");
	assert_non_null(mkdtemp(f->dir));
	snprintf(f->other, sizeof(f->other), "%s/other", f->dir);
	char err[256];
	assert_int_equal(pki_init_ca(f->dir, err, sizeof(err)), 0);
	assert_int_equal(pki_init_ca(f->other, err, sizeof(err)), 0);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fx *f = *state;
	char cmd[128];
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", f->dir);
	assert_int_equal(system(cmd), 0);
	free(f);
	return 0;
}

static X509 *load(const char *path)
{
	FILE *fp = fopen(path, "r");
	assert_non_null(fp);
	X509 *c = PEM_read_X509(fp, NULL, NULL, NULL);
	fclose(fp);
	assert_non_null(c);
	return c;
}

static void test_master_cert_verifies(void **state)
{
	struct fx *f = *state;
	char err[256], crt[4096], key[4096], ca[128], other_ca[160];
	struct pki_issue_params p = { .dir = f->dir, .name = "m1", .kind = PKI_MASTER,
				      .ips = { "10.0.0.7" }, .n_ips = 1,
				      .dns = { "master1.example" }, .n_dns = 1 };
	assert_int_equal(pki_issue(&p, crt, key, err, sizeof(err)), 0);
	snprintf(ca, sizeof(ca), "%s/ca.crt", f->dir);
	snprintf(other_ca, sizeof(other_ca), "%s/ca.crt", f->other);
	assert_int_equal(pki_verify(ca, crt, err, sizeof(err)), 0);
	/* the wrong CA rejects it */
	assert_int_equal(pki_verify(other_ca, crt, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "unable to get local issuer"));

	X509 *c = load(crt);
	char cn[64];
	X509_NAME_get_text_by_NID(X509_get_subject_name(c), NID_commonName, cn, sizeof(cn));
	assert_string_equal(cn, "master:m1");
	/* SANs: loopback, the extra IP and the DNS names */
	assert_int_equal(X509_check_ip_asc(c, "127.0.0.1", 0), 1);
	assert_int_equal(X509_check_ip_asc(c, "10.0.0.7", 0), 1);
	assert_int_equal(X509_check_ip_asc(c, "10.0.0.8", 0), 0);
	assert_int_equal(X509_check_host(c, "master1.example", 0, 0, NULL), 1);
	assert_int_equal(X509_check_host(c, "localhost", 0, 0, NULL), 1);
	/* and the Service default/kubernetes's clusterIP and names */
	assert_int_equal(X509_check_ip_asc(c, "10.96.0.1", 0), 1);
	assert_int_equal(X509_check_host(c, "kubernetes.default.svc", 0, 0, NULL), 1);
	/* a master is both a TLS server and a client (forwarding) */
	assert_true(X509_get_extended_key_usage(c) & XKU_SSL_SERVER);
	assert_true(X509_get_extended_key_usage(c) & XKU_SSL_CLIENT);
	X509_free(c);

	struct stat st;
	assert_int_equal(stat(key, &st), 0);
	assert_int_equal(st.st_mode & 077, 0);
}

static void test_node_admin_client_only(void **state)
{
	struct fx *f = *state;
	char err[256], crt[4096], ca[128];
	snprintf(ca, sizeof(ca), "%s/ca.crt", f->dir);
	struct pki_issue_params p = { .dir = f->dir, .name = "n1", .kind = PKI_NODE };
	assert_int_equal(pki_issue(&p, crt, NULL, err, sizeof(err)), 0);
	assert_int_equal(pki_verify(ca, crt, err, sizeof(err)), 0);
	X509 *c = load(crt);
	assert_true(X509_get_extended_key_usage(c) & XKU_SSL_CLIENT);
	assert_false(X509_get_extended_key_usage(c) & XKU_SSL_SERVER);
	char cn[64];
	X509_NAME_get_text_by_NID(X509_get_subject_name(c), NID_commonName, cn, sizeof(cn));
	assert_string_equal(cn, "node:n1");
	X509_free(c);

	struct pki_issue_params a = { .dir = f->dir, .kind = PKI_ADMIN };
	assert_int_equal(pki_issue(&a, crt, NULL, err, sizeof(err)), 0);
	assert_int_equal(pki_verify(ca, crt, err, sizeof(err)), 0);
	const char *servers[] = { "https://127.0.0.1:6443" };
	assert_int_equal(pki_write_client_conf(f->dir, "admin", "admin.crt", "admin.key",
					       servers, 1, err, sizeof(err)), 0);
	char conf[128];
	snprintf(conf, sizeof(conf), "%s/admin.conf", f->dir);
	json_error_t je;
	json_t *o = json_load_file(conf, 0, &je);
	assert_non_null(o);
	assert_string_equal(json_string_value(json_object_get(o, "cert")), "admin.crt");
	assert_string_equal(json_string_value(json_array_get(json_object_get(o, "servers"), 0)),
			    "https://127.0.0.1:6443");
	json_decref(o);
}

static void test_no_overwrite_and_bad_names(void **state)
{
	struct fx *f = *state;
	char err[256];
	struct pki_issue_params p = { .dir = f->dir, .name = "twice", .kind = PKI_NODE };
	assert_int_equal(pki_issue(&p, NULL, NULL, err, sizeof(err)), 0);
	assert_int_equal(pki_issue(&p, NULL, NULL, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "File exists"));
	/* a second init over an existing CA is refused */
	assert_int_equal(pki_init_ca(f->dir, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "already holds a cluster"));

	const char *bad[] = { "", "../etc", "a/b", "x y", ".hidden" };
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		struct pki_issue_params b = { .dir = f->dir, .name = bad[i], .kind = PKI_MASTER };
		assert_int_equal(pki_issue(&b, NULL, NULL, err, sizeof(err)), -1);
		assert_non_null(strstr(err, "--name"));
	}
	struct pki_issue_params ip = { .dir = f->dir, .name = "badip", .kind = PKI_MASTER,
				       .ips = { "not-an-ip" }, .n_ips = 1 };
	assert_int_equal(pki_issue(&ip, NULL, NULL, err, sizeof(err)), -1);
	assert_int_equal(pki_kind_parse("node"), PKI_NODE);
	assert_int_equal(pki_kind_parse("root"), 0);
}

static void test_peer_key(void **state)
{
	struct fx *f = *state;
	char err[256], path[128];
	uint8_t k1[PKI_PEER_KEY_LEN], k2[PKI_PEER_KEY_LEN];
	assert_int_equal(pki_read_peer_key(f->dir, k1, err, sizeof(err)), 0);
	assert_int_equal(pki_read_peer_key(f->other, k2, err, sizeof(err)), 0);
	assert_memory_not_equal(k1, k2, sizeof(k1)); /* random per cluster */
	snprintf(path, sizeof(path), "%s/peer.key", f->dir);
	assert_int_equal(chmod(path, 0644), 0);
	assert_int_equal(pki_read_peer_key(f->dir, k1, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "chmod 600"));
	assert_int_equal(chmod(path, 0600), 0);
	assert_int_equal(truncate(path, 16), 0);
	assert_int_equal(pki_read_peer_key(f->dir, k1, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "16 bytes"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_master_cert_verifies, setup, teardown),
		cmocka_unit_test_setup_teardown(test_node_admin_client_only, setup, teardown),
		cmocka_unit_test_setup_teardown(test_no_overwrite_and_bad_names, setup, teardown),
		cmocka_unit_test_setup_teardown(test_peer_key, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
