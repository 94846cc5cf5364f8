/*
 * fuzz_cni_args: the CNI_ARGS parser on arbitrary bytes. Success must
 * leave NUL-terminated fields; failure must say why.
 */
#include <assert.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "cni_args.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct cni_args a;
	struct cni_error err;
	enum cni_err e = cni_args_parse((const char *)data, size, &a, &err);
	if (e == CNI_OK) {
		assert(memchr(a.pod_name, '\0', sizeof(a.pod_name)) != NULL);
		assert(memchr(a.pod_namespace, '\0', sizeof(a.pod_namespace)) != NULL);
		assert(memchr(a.pod_infra_id, '\0', sizeof(a.pod_infra_id)) != NULL);
		assert(memchr(a.pod_uid, '\0', sizeof(a.pod_uid)) != NULL);
	} else {
		assert(e == CNI_ERR_INVALID_ENV || e == CNI_ERR_UNSUPPORTED_FIELD);
		assert(err.msg[0] != '\0');
	}
	return 0;
}
