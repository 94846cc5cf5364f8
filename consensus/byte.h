/*
 * byte: little-endian integer load/store for consensus/'s on-disk and wire
 * formats (docs/raft-disk-format.md, docs/raft-wire-format.md).
 *
 * Both formats are little-endian with explicit widths, whatever the host's
 * byte order, so every encoder and decoder goes through these four helpers
 * instead of memcpy of host integers. Callers check bounds first: these
 * read and write exactly 4 or 8 bytes at p.
 */
#ifndef SLUICE_RAFT_BYTE_H
#define SLUICE_RAFT_BYTE_H

#include <stdint.h>

static inline void raft_put_le32(uint8_t *p, uint32_t v)
{
	for (int i = 0; i < 4; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

static inline void raft_put_le64(uint8_t *p, uint64_t v)
{
	for (int i = 0; i < 8; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

static inline uint32_t raft_get_le32(const uint8_t *p)
{
	uint32_t v = 0;
	for (int i = 3; i >= 0; i--)
		v = (v << 8) | p[i];
	return v;
}

static inline uint64_t raft_get_le64(const uint8_t *p)
{
	uint64_t v = 0;
	for (int i = 7; i >= 0; i--)
		v = (v << 8) | p[i];
	return v;
}

#endif
