/*
 * fuzz_dp_config: every input is a config file. dpcfg_parse must accept
 * it or fail with errno EINVAL/ENOMEM and a non-empty message; an
 * accepted config must satisfy the invariants dp relies on.
 */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char err[256];
	struct dpcfg *c = dpcfg_parse((const char *)data, size, err, sizeof(err));
	if (c == NULL) {
		if ((errno != EINVAL && errno != ENOMEM) || err[0] == '\0')
			abort();
		return 0;
	}
	if (c->n_ports == 0 || c->n_ports > DP_MAX_PORTS)
		abort();
	for (unsigned i = 0; i < c->n_ports; i++)
		if (c->ports[i].type >= DP_PORT_TYPE_MAX || c->ports[i].name[0] == '\0')
			abort();
	for (unsigned i = 0; i < c->n_pods; i++)
		if (c->pods[i].ip == c->node.gateway_ip || (c->pods[i].mac[0] & 1))
			abort();
	for (unsigned i = 0; i < c->n_routes; i++)
		if (c->routes[i].depth == 0 || c->routes[i].depth > 32)
			abort();
	dpcfg_free(c);
	return 0;
}
