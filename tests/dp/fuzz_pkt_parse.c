/*
 * fuzz_pkt_parse: every input is a frame. It must parse or fail cleanly,
 * and on success each in-place rewrite dp would apply must stay inside
 * the buffer (the replay harness hands us an exact-size heap copy, so
 * ASan sees any byte read or written past the frame).
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "pkt.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const uint8_t mac[6] = { 2, 0, 0, 0, 0, 1 };
	struct pkt_info pi;

	if (pkt_parse(data, size, &pi) != 0) {
		/* a failure always names a reason */
		if (pi.drop == DP_DROP_NONE || pi.drop >= DP_DROP_MAX)
			abort();
		return 0;
	}
	uint8_t *f = malloc(size);
	if (f == NULL)
		return 0;
	memcpy(f, data, size);
	switch (pi.kind) {
	case PKT_KIND_ARP:
		pkt_arp_reply(f, size, &pi, mac);
		break;
	case PKT_KIND_IPV4: {
		if (pi.ttl > 0)
			pkt_ip4_dec_ttl(f + PKT_ETH_LEN);
		memcpy(f, data, size);
		pkt_icmp_echo_reply(f, size, &pi, mac);
		memcpy(f, data, size);
		(void)pkt_icmp_error_allowed(f, size, &pi);
		/* the ICMP error is built in a buffer of the frame's own size
		 * (cap = size): it must refuse rather than overflow */
		int n = pkt_icmp_error(f, size, &pi, 3, 4, 0x0101010a, mac);
		if (n > 0) {
			struct pkt_info r;
			pkt_icmp_error_set_mtu(f, 1500);
			if (pkt_parse(f, (size_t)n, &r) != 0)
				abort(); /* we must build what we accept */
			/* and its ICMP checksum must verify */
			if (pkt_csum(f + PKT_ETH_LEN + PKT_IP4_MIN,
				     (size_t)n - PKT_ETH_LEN - PKT_IP4_MIN) != 0)
				abort();
		}
		break;
	}
	default:
		break;
	}
	free(f);
	return 0;
}
