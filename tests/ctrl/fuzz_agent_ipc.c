/*
 * fuzz_agent_ipc: untrusted bytes as a node-agent IPC request.
 *
 * One agent (no dp attached, state file in a temporary directory) lives
 * across inputs, so a sequence of corpus files builds up real state.
 * Checked: every input gets a JSON object reply with a boolean "ok"; the
 * state the agent holds after the request survives a reload from its file
 * unchanged in size (what was acknowledged was persisted).
 */
#include <assert.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <jansson.h>

#include "agent.h"
#include "agent_cni.h"
#include "ipc.h"

static struct agent *agent;
static const struct agent_cni_config cni = {"10.77.1.0/24", "10.77.1.1", "10.96.0.10"};
static char dir[64], state[128];

static void quiet(void *d, const char *l)
{
	(void)d;
	(void)l;
}

static struct agent *load(void)
{
	char err[256];
	struct agent_params p = {.state_path = state, .log = quiet};
	struct agent *a = agent_create(&p, err, sizeof(err));
	if (a == NULL) {
		fprintf(stderr, "fuzz_agent_ipc: %s\n", err);
		abort();
	}
	return a;
}

static void cleanup(void)
{
	char cmd[128];
	agent_free(agent);
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	if (system(cmd) != 0)
		fprintf(stderr, "fuzz_agent_ipc: cannot remove %s\n", dir);
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	snprintf(dir, sizeof(dir), "/tmp/sluice-fuzz-ipc.XXXXXX");
	if (mkdtemp(dir) == NULL)
		abort();
	snprintf(state, sizeof(state), "%s/agent.json", dir);
	agent = load();
	atexit(cleanup);
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *reply = ipc_handle(agent, &cni, (const char *)data, size);
	assert(reply != NULL);
	json_t *r = json_loads(reply, 0, NULL);
	assert(json_is_object(r) && json_is_boolean(json_object_get(r, "ok")));
	json_decref(r);
	free(reply);
	if (access(state, F_OK) == 0) {
		struct agent *b = load();
		assert(agent_n_pods(b) == agent_n_pods(agent));
		assert(agent_n_ports(b) == agent_n_ports(agent));
		assert(agent_n_routes(b) == agent_n_routes(agent));
		agent_free(b);
	}
	return 0;
}
