/*
 * fuzz_node_pod: what the node agent does with a Pod or Node from the API
 * (untrusted JSON from the watch stream): runtime_pod_spec_parse,
 * runtime_status_json, runtime_status_keep_times and the agent's Node
 * helpers, plus the --labels/--register-taint parsers on the raw bytes.
 * Properties: no crash or sanitizer report; a rejected spec has a message
 * and nothing to free; an accepted one has a NULL-terminated argv of argc
 * non-NULL strings (argc >= 1) and a status object with a known phase.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "agent_node.h"
#include "runtime_common.h"
#include "runtime_netns.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void fuzz_check(int cond)
{
	if (!cond)
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char err[512], name[256];
	char *text = malloc(size + 1);

	if (text == NULL)
		return 0;
	memcpy(text, data, size);
	text[size] = '\0';
	/* Flag parsers see the bytes as a flag value. */
	json_decref(agent_node_labels_parse(text, err, sizeof(err)));
	json_decref(agent_node_taints_parse(text, err, sizeof(err)));
	(void)agent_node_first_host(text, name, sizeof(name));

	json_t *obj = json_loadb((const char *)data, size, 0, NULL);
	free(text);
	if (obj == NULL)
		return 0;
	(void)agent_node_internal_ip(obj);
	struct runtime_pod_spec spec;
	err[0] = '\0';
	if (runtime_pod_spec_parse(obj, &spec, err, sizeof(err)) != 0) {
		fuzz_check(err[0] != '\0');
		fuzz_check(spec.argv == NULL && spec.envp == NULL);
		json_decref(obj);
		return 0;
	}
	fuzz_check(spec.argc >= 1 && spec.argv[spec.argc] == NULL);
	for (size_t i = 0; i < spec.argc; i++)
		fuzz_check(spec.argv[i] != NULL);
	fuzz_check(spec.envp[spec.envc] == NULL);
	runtime_netns_name("sp-", spec.ns, spec.name, spec.uid, name, sizeof(name));
	fuzz_check(strlen(name) <= 3 + 32 + 1 + 8);
	struct runtime_status st = {0};
	st.state = (enum runtime_state)(size % 3);
	st.started = (int)(size & 1);
	st.exit_code = (int)(size % 7);
	json_t *s = runtime_status_json(&spec, &st, "2026-01-01T00:00:00.000000Z");
	fuzz_check(s != NULL);
	const char *phase = json_string_value(json_object_get(s, "phase"));
	fuzz_check(phase != NULL && (strcmp(phase, "Pending") == 0 || strcmp(phase, "Running") == 0 ||
				     strcmp(phase, "Succeeded") == 0 || strcmp(phase, "Failed") == 0));
	runtime_status_keep_times(s, json_object_get(obj, "status"));
	json_decref(s);
	runtime_pod_spec_clear(&spec);
	json_decref(obj);
	return 0;
}
