/*
 * cni_args: CNI_ARGS parser (see cni_args.h).
 *
 * Two passes over the same bytes: the first validates the shape of every
 * pair and finds IgnoreUnknown, the second stores known keys and judges
 * unknown ones. That is what makes the list order-free.
 */
#include "cni_args.h"

#include <string.h>

struct cni_args_pair {
	const char *key;
	size_t key_len;
	const char *val;
	size_t val_len;
};

/* Cursor over "K=V;K=V": returns 1 with *p filled, 0 at the end, -1 on a lie. */
static int cni_args_next(const char *s, size_t len, size_t *pos, struct cni_args_pair *p)
{
	if (*pos > len)
		return 0;
	size_t start = *pos;
	size_t end = start;
	while (end < len && s[end] != ';')
		end++;
	*pos = end + 1;
	const char *eq = memchr(s + start, '=', end - start);
	/* A pair without '=' or with an empty key is not "K=V". */
	if (eq == NULL || eq == s + start)
		return -1;
	p->key = s + start;
	p->key_len = (size_t)(eq - (s + start));
	p->val = eq + 1;
	p->val_len = end - start - p->key_len - 1;
	return 1;
}

static bool cni_args_key_is(const struct cni_args_pair *p, const char *key)
{
	return p->key_len == strlen(key) && memcmp(p->key, key, p->key_len) == 0;
}

/* strconv.ParseBool's spellings, which is what Go runtimes and plugins accept. */
static int cni_args_bool(const char *v, size_t n)
{
	static const char *const t[] = { "1", "t", "T", "true", "TRUE", "True" };
	static const char *const f[] = { "0", "f", "F", "false", "FALSE", "False" };
	for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		if (n == strlen(t[i]) && memcmp(v, t[i], n) == 0)
			return 1;
		if (n == strlen(f[i]) && memcmp(v, f[i], n) == 0)
			return 0;
	}
	return -1;
}

static bool cni_args_printable(const char *v, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if ((unsigned char)v[i] < 0x21 || (unsigned char)v[i] > 0x7e)
			return false;
	return true;
}

static enum cni_err cni_args_store(char *dst, size_t cap, const struct cni_args_pair *p,
				   struct cni_error *err)
{
	/* Values land in fixed fields; longer than the Kubernetes bound is a lie. */
	if (p->val_len >= cap || !cni_args_printable(p->val, p->val_len))
		return cni_error_set(err, CNI_ERR_INVALID_ENV,
				     "CNI_ARGS: bad value for %.*s", (int)p->key_len, p->key);
	if (dst[0] != '\0')
		return cni_error_set(err, CNI_ERR_INVALID_ENV,
				     "CNI_ARGS: duplicate key %.*s", (int)p->key_len, p->key);
	memcpy(dst, p->val, p->val_len);
	dst[p->val_len] = '\0';
	return CNI_OK;
}

enum cni_err cni_args_parse(const char *s, size_t len, struct cni_args *out,
			    struct cni_error *err)
{
	memset(out, 0, sizeof(*out));
	if (s == NULL || len == 0)
		return CNI_OK;
	if (len > CNI_ARGS_MAX_LEN)
		return cni_error_set(err, CNI_ERR_INVALID_ENV, "CNI_ARGS: longer than %d bytes",
				     CNI_ARGS_MAX_LEN);
	if (memchr(s, '\0', len) != NULL)
		return cni_error_set(err, CNI_ERR_INVALID_ENV, "CNI_ARGS: embedded NUL");

	struct cni_args_pair p;
	size_t pos = 0;
	int r;
	bool seen_ignore = false;
	while ((r = cni_args_next(s, len, &pos, &p)) == 1) {
		if (!cni_args_key_is(&p, "IgnoreUnknown"))
			continue;
		int b = cni_args_bool(p.val, p.val_len);
		if (b < 0 || seen_ignore)
			return cni_error_set(err, CNI_ERR_INVALID_ENV, "CNI_ARGS: bad IgnoreUnknown");
		seen_ignore = true;
		out->ignore_unknown = b == 1;
	}
	if (r < 0)
		return cni_error_set(err, CNI_ERR_INVALID_ENV,
				     "CNI_ARGS: invalid pair near byte %zu (want K=V;K=V)", pos - 1);

	pos = 0;
	while (cni_args_next(s, len, &pos, &p) == 1) {
		enum cni_err e = CNI_OK;
		if (cni_args_key_is(&p, "IgnoreUnknown"))
			continue;
		else if (cni_args_key_is(&p, "K8S_POD_NAME"))
			e = cni_args_store(out->pod_name, sizeof(out->pod_name), &p, err);
		else if (cni_args_key_is(&p, "K8S_POD_NAMESPACE"))
			e = cni_args_store(out->pod_namespace, sizeof(out->pod_namespace), &p, err);
		else if (cni_args_key_is(&p, "K8S_POD_INFRA_CONTAINER_ID"))
			e = cni_args_store(out->pod_infra_id, sizeof(out->pod_infra_id), &p, err);
		else if (cni_args_key_is(&p, "K8S_POD_UID"))
			e = cni_args_store(out->pod_uid, sizeof(out->pod_uid), &p, err);
		else if (out->ignore_unknown)
			out->unknown_count++;
		else
			e = cni_error_set(err, CNI_ERR_UNSUPPORTED_FIELD,
					  "CNI_ARGS: unknown key %.*s (set IgnoreUnknown=1 to allow)",
					  (int)(p.key_len > 64 ? 64 : p.key_len), p.key);
		if (e != CNI_OK)
			return e;
	}
	return CNI_OK;
}
