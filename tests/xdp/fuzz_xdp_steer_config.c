/*
 * Fuzz target for xdp_steer's config parsers (CIDRs, ARP addresses, the
 * underlay and ports), which take strings from ctrl and operators.
 *
 * Input: a sequence of records "<op byte><text>\n". op % 3 selects
 * add_prefix, add_arp or set_encap; for set_encap the op byte's high bits
 * and the text's length pick the ports, so port validation is explored too.
 * Properties checked after every call:
 *   - a call that fails leaves the config byte-for-byte unchanged;
 *   - a call that succeeds leaves a config that validate() accepts, i.e.
 *     the helpers can never build what xdp_steer_apply() would refuse.
 */
#include <assert.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "xdp_steer.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct xdp_steer_config cfg, before;
	char text[128];
	size_t i = 0;

	xdp_steer_config_init(&cfg);
	while (i < size) {
		uint8_t op = data[i++];
		size_t n = 0;
		int rc;

		while (i < size && data[i] != '\n' && n < sizeof(text) - 1)
			text[n++] = (char)data[i++];
		text[n] = '\0';
		if (i < size && data[i] == '\n')
			i++;

		before = cfg;
		switch (op % 3u) {
		case 0:
			rc = xdp_steer_config_add_prefix(&cfg, text);
			break;
		case 1:
			rc = xdp_steer_config_add_arp(&cfg, text);
			break;
		default: {
			/* ports around the interesting edges: 0, equal, > 65535 */
			static const uint32_t ports[] = {0, 4789, 6081, 65535, 65536, 0xffffffffu};
			uint32_t v = ports[(op >> 2) % 6u];
			uint32_t g = ports[(op >> 5) % 6u ^ (n % 2u)];

			rc = xdp_steer_config_set_encap(&cfg, text, v, g);
			break;
		}
		}
		if (rc != 0)
			assert(memcmp(&before, &cfg, sizeof(cfg)) == 0);
		else
			assert(xdp_steer_config_validate(&cfg) == 0);
	}
	return 0;
}
