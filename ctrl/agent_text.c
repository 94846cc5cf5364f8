/*
 * agent_text: strict text <-> binary for addresses (ctrl/agent_text.h).
 * inet_pton is the parser of record for addresses: it accepts exactly the
 * dotted-quad and RFC 4291 forms and nothing looser.
 */
#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sluice/ring_proto.h>

#include "agent_text.h"

int agent_parse_ip(const char *s, uint8_t *family, uint8_t addr[16])
{
	memset(addr, 0, 16);
	if (inet_pton(AF_INET, s, addr) == 1) {
		*family = RING_FAMILY_IPV4;
		return 0;
	}
	if (inet_pton(AF_INET6, s, addr) == 1) {
		*family = RING_FAMILY_IPV6;
		return 0;
	}
	return -1;
}

int agent_parse_prefix(const char *s, uint8_t *family, uint8_t addr[16], uint8_t *plen)
{
	char buf[64];
	const char *slash = strchr(s, '/');
	char *end;

	if (slash == NULL || (size_t)(slash - s) >= sizeof(buf) || slash[1] == '\0')
		return -1;
	memcpy(buf, s, (size_t)(slash - s));
	buf[slash - s] = '\0';
	if (agent_parse_ip(buf, family, addr) != 0)
		return -1;
	long n = strtol(slash + 1, &end, 10);
	unsigned max = *family == RING_FAMILY_IPV4 ? 32 : 128;
	if (*end != '\0' || n < 0 || n > (long)max || slash[1] == '+' || slash[1] == '-')
		return -1;
	*plen = (uint8_t)n;
	for (unsigned bit = *plen; bit < max; bit++)
		if (addr[bit / 8] & (0x80u >> (bit % 8)))
			return -1;
	return 0;
}

int agent_parse_mac(const char *s, uint8_t mac[6])
{
	unsigned v[6];
	int used = 0;

	if (strlen(s) != 17 ||
	    sscanf(s, "%2x:%2x:%2x:%2x:%2x:%2x%n", &v[0], &v[1], &v[2], &v[3], &v[4], &v[5], &used) != 6 ||
	    used != 17)
		return -1;
	for (int i = 0; i < 6; i++)
		mac[i] = (uint8_t)v[i];
	return 0;
}

static const char *const agent_encaps[RING_ENCAP_MAX] = {
	[RING_ENCAP_NONE] = "none",
	[RING_ENCAP_VXLAN] = "vxlan",
	[RING_ENCAP_GENEVE] = "geneve",
};

int agent_encap_parse(const char *s)
{
	for (int i = 0; i < RING_ENCAP_MAX; i++)
		if (strcmp(s, agent_encaps[i]) == 0)
			return i;
	return -1;
}

const char *agent_encap_name(unsigned encap)
{
	return encap < RING_ENCAP_MAX ? agent_encaps[encap] : "?";
}

void agent_format_ip(uint8_t family, const uint8_t addr[16], char *buf, size_t len)
{
	char tmp[INET6_ADDRSTRLEN];

	if (inet_ntop(family == RING_FAMILY_IPV4 ? AF_INET : AF_INET6, addr, tmp, sizeof(tmp)) == NULL)
		snprintf(tmp, sizeof(tmp), "?");
	snprintf(buf, len, "%s", tmp);
}

void agent_format_prefix(uint8_t family, const uint8_t addr[16], uint8_t plen, char *buf, size_t len)
{
	char ip[INET6_ADDRSTRLEN];

	agent_format_ip(family, addr, ip, sizeof(ip));
	snprintf(buf, len, "%s/%u", ip, plen);
}

void agent_format_mac(const uint8_t mac[6], char *buf, size_t len)
{
	snprintf(buf, len, "%02x:%02x:%02x:%02x:%02x:%02x", mac[0], mac[1], mac[2], mac[3], mac[4], mac[5]);
}
