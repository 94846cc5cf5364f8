/*
 * fuzz_api_rest: the REST request decoders on untrusted bytes: path,
 * query (selectors, resourceVersion, watch), and bodies of create, update,
 * status and binding. Input: lines "path\nlabelSelector\nfieldSelector\n"
 * then the body. Properties: no crash or sanitizer report; rejections
 * carry a status in 400..599, a reason and a message; an accepted create
 * or update renders to JSON that decodes again as the same kind; a parsed
 * selector can be matched against the result and against a stored object.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "api_rest.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void fuzz_check(int cond)
{
	if (!cond)
		abort();
}

static void fuzz_rejected(const struct api_rest_err *e)
{
	fuzz_check(e->code >= 400 && e->code < 600);
	fuzz_check(e->reason != NULL && e->msg[0] != 0);
}

/* Split off the next line into a NUL-terminated copy (or NULL at end). */
static char *fuzz_line(const uint8_t **p, size_t *n)
{
	const uint8_t *nl = memchr(*p, '\n', *n);
	if (nl == NULL)
		return NULL;
	size_t l = (size_t)(nl - *p);
	char *s = malloc(l + 1);
	fuzz_check(s != NULL);
	memcpy(s, *p, l);
	s[l] = 0;
	*p += l + 1;
	*n -= l + 1;
	return s;
}

static void fuzz_result(const struct api_rest_path *p, json_t *o,
			const struct api_rest_sel *sel)
{
	size_t len;
	(void)api_rest_sel_match(sel, o);
	char *s = api_rest_to_store(o, &len);
	fuzz_check(s != NULL);
	struct api_obj_error e;
	struct api_obj *back = api_obj_decode(s, len, p->kind, &e);
	/* A binding result is the stored pod plus a node name: valid. */
	fuzz_check(back != NULL);
	api_obj_free(back);
	free(s);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *path = fuzz_line(&data, &size);
	char *label = path ? fuzz_line(&data, &size) : NULL;
	char *field = label ? fuzz_line(&data, &size) : NULL;
	struct api_rest_path p;
	struct api_rest_err e;
	struct api_rest_sel *sel = NULL;

	if (field == NULL)
		goto out;
	if (api_rest_sel_parse(label, field, &sel, &e) < 0) {
		fuzz_rejected(&e);
		sel = NULL;
	}
	if (api_rest_parse_path(path, &p, &e) < 0) {
		fuzz_rejected(&e);
		goto out;
	}
	char key[API_REST_KEY_MAX];
	fuzz_check(api_rest_key(&p, key, sizeof(key)) > 0);
	if (p.name[0] == 0) {
		json_t *o = api_rest_prepare_create(
			&p, (const char *)data, size,
			"0d5e4a2c-3b1f-4e8a-9c6d-7f2a1b3c4d5e",
			"2026-01-01T00:00:00Z", &e);
		if (o == NULL)
			fuzz_rejected(&e);
		else
			fuzz_result(&p, o, sel);
		json_decref(o);
		goto out;
	}
	/* Update against a stored object of the path's kind. */
	if (p.kind != API_OBJ_NODE && p.kind != API_OBJ_POD)
		goto out;
	char buf[1024];
	if (p.kind == API_OBJ_NODE)
		snprintf(buf, sizeof(buf),
			 "{\"apiVersion\":\"v1\",\"kind\":\"Node\","
			 "\"metadata\":{\"name\":\"%s\"}}", p.name);
	else
		snprintf(buf, sizeof(buf),
			 "{\"apiVersion\":\"v1\",\"kind\":\"Pod\","
			 "\"metadata\":{\"name\":\"%s\",\"namespace\":"
			 "\"%s\"},\"spec\":{\"containers\":[{\"name\":"
			 "\"c\",\"image\":\"i\"}]}}", p.name, p.ns);
	/* Stored objects are valid: skip path names no object can have. */
	struct api_obj *valid = api_obj_decode(buf, strlen(buf), p.kind, NULL);
	api_obj_free(valid);
	json_t *cur = valid ? api_rest_from_store((const uint8_t *)buf,
						  strlen(buf), 5)
			    : NULL;
	if (cur == NULL)
		goto out;
	json_t *o = api_rest_prepare_update(&p, (const char *)data, size, cur,
					    &e);
	if (o == NULL)
		fuzz_rejected(&e);
	else
		fuzz_result(&p, o, sel);
	json_decref(o);
	json_decref(cur);
out:
	api_rest_sel_free(sel);
	free(path);
	free(label);
	free(field);
	return 0;
}
