/*
 * fuzz_api_objects: JSON decode and validation of API objects on untrusted
 * bytes. Properties: no crash or sanitizer report; a rejection always
 * carries an HTTP class and a message; an accepted object has a name, a
 * store key under /registry/, and re-serialized JSON that decodes again to
 * the same kind, name and store key (validation is a function of content).
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "api_objects.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void fuzz_check(int cond)
{
	if (!cond)
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct api_obj_error err;
	struct api_obj *o = api_obj_decode((const char *)data, size,
					   API_OBJ_ANY, &err);
	if (o == NULL) {
		fuzz_check(err.status == 400 || err.status == 413 ||
			   err.status == 422 || err.status == 500);
		fuzz_check(err.errmsg[0] != 0);
		return 0;
	}
	char k1[1024], k2[1024];
	fuzz_check(api_obj_name(o)[0] != 0);
	api_obj_store_key(o, k1, sizeof(k1));
	fuzz_check(strncmp(k1, "/registry/", 10) == 0);
	char *again = json_dumps(api_obj_json(o), JSON_COMPACT);
	if (again != NULL) {
		struct api_obj *p = api_obj_decode(again, strlen(again),
						   API_OBJ_ANY, &err);
		fuzz_check(p != NULL);
		fuzz_check(api_obj_kind(p) == api_obj_kind(o));
		api_obj_store_key(p, k2, sizeof(k2));
		fuzz_check(strcmp(k1, k2) == 0);
		api_obj_free(p);
		free(again);
	}
	api_obj_free(o);
	return 0;
}
