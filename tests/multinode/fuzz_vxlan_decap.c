/*
 * fuzz_vxlan_decap: every input is a frame arriving on the uplink. It must
 * parse, then decapsulate or fail cleanly with a reason; on success the
 * inner frame lies inside the input, parses or fails cleanly, and
 * re-encapsulating it (as dp would towards another node) and decapsulating
 * again gives back the same inner bytes. The replay harness hands us an
 * exact-size heap copy, so ASan sees any access past the frame.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "pkt.h"
#include "vxlan.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct pkt_info pi, ipi;
	size_t off, ilen, off2, ilen2;
	enum dp_drop why;

	if (pkt_parse(data, size, &pi) != 0 || !vxlan_is_candidate(&pi, pi.dst_ip))
		return 0;
	if (vxlan_decap(data, size, &pi, VXLAN_PORT, 4242, &off, &ilen, &why) != 0) {
		if (why != DP_DROP_VXLAN_MALFORMED && why != DP_DROP_VXLAN_VNI)
			abort();
		return 0;
	}
	if (why != DP_DROP_NONE || ilen < PKT_ETH_LEN || off + ilen > size)
		abort();
	if (pkt_parse(data + off, ilen, &ipi) != 0 &&
	    (ipi.drop == DP_DROP_NONE || ipi.drop >= DP_DROP_MAX))
		abort();
	uint8_t *f = malloc(VXLAN_OVERHEAD + ilen);
	if (f == NULL)
		return 0;
	memcpy(f + VXLAN_OVERHEAD, data + off, ilen);
	struct vxlan_tx t = { .src_ip = pi.src_ip, .dst_ip = pi.dst_ip, .vni = 4242,
			      .dport = VXLAN_PORT };
	uint16_t sport = 0;
	if (ipi.kind == PKT_KIND_IPV4)
		sport = vxlan_src_port(vxlan_flow_hash(f + VXLAN_OVERHEAD + PKT_ETH_LEN,
						       ilen - PKT_ETH_LEN, &ipi));
	if (vxlan_encap(f, ilen, &t, sport, 0) != 0 ||
	    pkt_parse(f, VXLAN_OVERHEAD + ilen, &pi) != 0 ||
	    vxlan_decap(f, VXLAN_OVERHEAD + ilen, &pi, VXLAN_PORT, 4242, &off2, &ilen2, &why) != 0 ||
	    off2 != VXLAN_OVERHEAD || ilen2 != ilen ||
	    memcmp(f + off2, data + off, ilen) != 0)
		abort();
	free(f);
	return 0;
}
