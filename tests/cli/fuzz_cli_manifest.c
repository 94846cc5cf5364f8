/*
 * fuzz_cli_manifest: the manifest parser (YAML and JSON) on arbitrary bytes.
 * Beyond not crashing, every accepted input must be an array of objects,
 * and printing each object as YAML (-o yaml) must read back as the same
 * JSON: the printer quotes exactly what the parser would retype.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	json_t *docs = NULL;
	char err[512];
	if (size > (1u << 20))
		return 0;
	if (cli_manifest_parse((const char *)data, size, "fuzz", &docs, err, sizeof(err)) != 0)
		return 0;
	if (!json_is_array(docs) || json_array_size(docs) == 0)
		abort();
	size_t i;
	json_t *d;
	json_array_foreach(docs, i, d) {
		if (!json_is_object(d))
			abort();
		char *out = NULL;
		size_t len = 0;
		FILE *f = open_memstream(&out, &len);
		if (f == NULL)
			abort();
		if (cli_print_yaml(f, d) != 0)
			abort();
		fclose(f);
		json_t *back = NULL;
		if (cli_manifest_parse(out, len, "round-trip", &back, err, sizeof(err)) != 0 ||
		    json_array_size(back) != 1 || !json_equal(json_array_get(back, 0), d)) {
			/* An item that is itself a List is flattened when read back. */
			const char *kind = json_string_value(json_object_get(d, "kind"));
			bool list = kind != NULL && strcmp(kind, "List") == 0 &&
				    json_is_array(json_object_get(d, "items"));
			if (!list) {
				fprintf(stderr, "round trip failed: %s\n%s\n", err, out);
				abort();
			}
		}
		json_decref(back);
		free(out);
	}
	json_decref(docs);
	return 0;
}
