/*
 * fuzz_podman: what the podman runtime (ctrl/runtime_podman.h) takes from
 * outside: `podman container inspect` output (an array of objects, decoded
 * by runtime_podman_state_parse), podman's stderr (image-missing check), and
 * a Pod from the API turned into a `podman run` argv.
 * Properties: no crash or sanitizer report; a decoded state has a non-empty
 * Id and status, every string NUL-terminated within its field; a refused
 * argv has a message; a built one is NULL-terminated, within the buffer,
 * and ends with the image unless the command line follows it.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "runtime_common.h"
#include "runtime_podman.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void fuzz_check(int cond)
{
	if (!cond)
		abort();
}

static void fuzz_state(const json_t *obj, const char *network)
{
	struct runtime_podman_state st;
	if (runtime_podman_state_parse(obj, network, &st) != 0)
		return;
	fuzz_check(st.id[0] != '\0' || json_string_length(json_object_get(obj, "Id")) == 0);
	fuzz_check(memchr(st.id, '\0', sizeof(st.id)) != NULL);
	fuzz_check(memchr(st.status, '\0', sizeof(st.status)) != NULL);
	fuzz_check(memchr(st.finished_at, '\0', sizeof(st.finished_at)) != NULL);
	fuzz_check(memchr(st.ip, '\0', sizeof(st.ip)) != NULL);
}

static void fuzz_argv(const json_t *pod, size_t size)
{
	static struct runtime_podman_argv a; /* 64 KiB + argv: not on the stack */
	struct runtime_pod_spec spec;
	char err[512];

	if (runtime_pod_spec_parse(pod, &spec, err, sizeof(err)) != 0)
		return;
	const json_t *ct = json_array_get(json_object_get(json_object_get(pod, "spec"), "containers"), 0);
	struct runtime_podman_run r = {
		.podman = "podman", .name = "sp-fuzz", .network = "sl", .node = "n1",
		.log_path = "/var/log/fuzz.log", .spec = &spec,
		.n_command = json_array_size(json_object_get(ct, "command")),
		.image_default = (int)(size & 1),
	};
	err[0] = '\0';
	if (runtime_podman_run_argv(&r, &a, err, sizeof(err)) != 0) {
		fuzz_check(err[0] != '\0');
	} else {
		fuzz_check(a.argc >= 2 && a.argc < RUNTIME_PODMAN_MAX_ARGV && a.argv[a.argc] == NULL);
		fuzz_check(a.used <= sizeof(a.buf));
		for (size_t i = 0; i < a.argc; i++)
			fuzz_check(a.argv[i] >= a.buf && a.argv[i] < a.buf + sizeof(a.buf));
		fuzz_check(strcmp(a.argv[0], "podman") == 0);
	}
	runtime_pod_spec_clear(&spec);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *text = malloc(size + 1);
	if (text == NULL)
		return 0;
	memcpy(text, data, size);
	text[size] = '\0';
	(void)runtime_podman_image_missing(text);
	free(text);

	json_t *root = json_loadb((const char *)data, size, JSON_DECODE_ANY, NULL);
	if (root == NULL)
		return 0;
	if (json_is_array(root)) {
		size_t i;
		json_t *v;
		json_array_foreach(root, i, v) {
			fuzz_state(v, "sl");
			fuzz_state(v, "");
		}
	} else {
		fuzz_state(root, "sl");
		fuzz_argv(root, size);
	}
	json_decref(root);
	return 0;
}
