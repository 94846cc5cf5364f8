/*
 * fuzz_cni_config: the stdin network configuration parser, prevResult
 * included. Whatever parses must print in every supported version and
 * parse back (the conversion is total over valid input).
 */
#include <assert.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include <jansson.h>

#include "cni_config.h"
#include "cni_result.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct cni_error err;
	struct cni_config *cfg = cni_config_parse((const char *)data, size, &err);
	if (cfg == NULL) {
		assert(err.code != CNI_OK);
		return 0;
	}
	if (cfg->has_prev_result) {
		for (int v = 0; v < CNI_VERSION_COUNT; v++) {
			json_t *o = cni_result_to_json(&cfg->prev_result, (enum cni_version)v);
			assert(o != NULL);
			struct cni_result *back = malloc(sizeof(*back));
			assert(back != NULL);
			assert(cni_result_parse(o, (enum cni_version)v, back, NULL) == CNI_OK);
			assert(back->n_ips == cfg->prev_result.n_ips);
			free(back);
			json_decref(o);
		}
	}
	cni_config_free(cfg);
	return 0;
}
