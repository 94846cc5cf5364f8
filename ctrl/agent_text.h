/*
 * agent_text: the text forms of addresses, prefixes, MACs and encaps used
 * by the agent's state file and IPC requests, parsed strictly: a prefix
 * with host bits set or a MAC with a missing octet is an error, not
 * something to round, because the same strings are the node's desired
 * state. Pure functions, any thread.
 */
#ifndef SLUICE_CTRL_AGENT_TEXT_H
#define SLUICE_CTRL_AGENT_TEXT_H

#include <stddef.h>
#include <stdint.h>

/* "10.0.0.2" or "fd00::2" -> RING_FAMILY_*, addr (zero-padded). 0 or -1. */
int agent_parse_ip(const char *s, uint8_t *family, uint8_t addr[16]);
/* "10.1.0.0/24": host bits must be zero. 0 or -1. */
int agent_parse_prefix(const char *s, uint8_t *family, uint8_t addr[16], uint8_t *plen);
/* "02:00:00:00:00:01" exactly. 0 or -1. */
int agent_parse_mac(const char *s, uint8_t mac[6]);
/* "none", "vxlan", "geneve" -> enum ring_encap, or -1. */
int agent_encap_parse(const char *s);
const char *agent_encap_name(unsigned encap);

void agent_format_ip(uint8_t family, const uint8_t addr[16], char *buf, size_t len);
void agent_format_prefix(uint8_t family, const uint8_t addr[16], uint8_t plen, char *buf, size_t len);
void agent_format_mac(const uint8_t mac[6], char *buf, size_t len);

#endif
