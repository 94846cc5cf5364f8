/*
 * sluice-cni: CNI plugin entry point. Reads CNI_* from the environment and
 * the network configuration from stdin (bounded), then hands both to
 * cni_plugin_run(), which owns the protocol. Only main() exits.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cni_config.h"
#include "cni_plugin.h"

int main(void)
{
	/* One byte past the bound so an oversized config is seen as such, not cut. */
	size_t cap = CNI_CONFIG_MAX_LEN + 1, len = 0;
	char *buf = malloc(cap);
	if (buf == NULL)
		return 1;
	while (len < cap) {
		size_t n = fread(buf + len, 1, cap - len, stdin);
		if (n == 0)
			break;
		len += n;
	}
	struct cni_plugin_env env = {
		.command = getenv("CNI_COMMAND"),
		.container_id = getenv("CNI_CONTAINERID"),
		.netns = getenv("CNI_NETNS"),
		.ifname = getenv("CNI_IFNAME"),
		.args = getenv("CNI_ARGS"),
		.path = getenv("CNI_PATH"),
	};
	int rc = cni_plugin_run(&env, buf, len, stdout, stderr);
	free(buf);
	return rc;
}
