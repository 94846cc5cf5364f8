/*
 * configuration.c: cluster membership lists and their log encoding.
 *
 * A configuration travels in RAFT_CHANGE entries and in snapshot metadata.
 * Decoding follows STYLE 18: every length is checked against the bytes
 * present before it is read, and trailing garbage is refused, because a
 * configuration decides who may vote and a lenient parser would let a
 * corrupted entry change quorums.
 */
#include <string.h>

#include "raft.h"

#define CONF_VERSION 1
#define CONF_MAX_SERVERS 1024
#define CONF_MAX_ADDRESS 65535

void raft_configuration_init(struct raft_configuration *c)
{
	c->servers = NULL;
	c->n = 0;
}

void raft_configuration_close(struct raft_configuration *c)
{
	for (unsigned i = 0; i < c->n; i++)
		raft_heap_free(c->servers[i].address);
	raft_heap_free(c->servers);
	c->servers = NULL;
	c->n = 0;
}

int raft_configuration_add(struct raft_configuration *c, raft_id id,
			   const char *address, int role)
{
	if (id == 0 || address == NULL ||
	    (role != RAFT_VOTER && role != RAFT_LEARNER))
		return RAFT_INVALID;
	size_t alen = strlen(address);
	if (alen > CONF_MAX_ADDRESS || c->n >= CONF_MAX_SERVERS)
		return RAFT_TOOBIG;
	for (unsigned i = 0; i < c->n; i++) {
		if (c->servers[i].id == id ||
		    strcmp(c->servers[i].address, address) == 0)
			return RAFT_DUPLICATE;
	}
	char *copy = raft_heap_malloc(alen + 1);
	if (copy == NULL)
		return RAFT_NOMEM;
	memcpy(copy, address, alen + 1);
	struct raft_server *s = raft_heap_realloc(
		c->servers, (c->n + 1) * sizeof(*s));
	if (s == NULL) {
		raft_heap_free(copy);
		return RAFT_NOMEM;
	}
	c->servers = s;
	s[c->n].id = id;
	s[c->n].address = copy;
	s[c->n].role = (uint8_t)role;
	c->n++;
	return RAFT_OK;
}

int raft_configuration_copy(const struct raft_configuration *src,
			    struct raft_configuration *dst)
{
	raft_configuration_init(dst);
	for (unsigned i = 0; i < src->n; i++) {
		int rv = raft_configuration_add(dst, src->servers[i].id,
						src->servers[i].address,
						src->servers[i].role);
		if (rv != RAFT_OK) {
			raft_configuration_close(dst);
			return rv;
		}
	}
	return RAFT_OK;
}

static void conf_put_u64(uint8_t **p, uint64_t v)
{
	for (unsigned i = 0; i < 8; i++)
		*(*p)++ = (uint8_t)(v >> (8 * i));
}

static uint64_t conf_get_u64(const uint8_t *p)
{
	uint64_t v = 0;
	for (unsigned i = 0; i < 8; i++)
		v |= (uint64_t)p[i] << (8 * i);
	return v;
}

int raft_configuration_encode(const struct raft_configuration *c,
			      struct raft_buffer *out)
{
	size_t len = 1 + 4;
	for (unsigned i = 0; i < c->n; i++)
		len += 8 + 1 + 2 + strlen(c->servers[i].address);
	uint8_t *buf = raft_heap_malloc(len);
	if (buf == NULL)
		return RAFT_NOMEM;
	uint8_t *p = buf;
	*p++ = CONF_VERSION;
	for (unsigned i = 0; i < 4; i++)
		*p++ = (uint8_t)(c->n >> (8 * i));
	for (unsigned i = 0; i < c->n; i++) {
		size_t alen = strlen(c->servers[i].address);
		conf_put_u64(&p, c->servers[i].id);
		*p++ = c->servers[i].role;
		*p++ = (uint8_t)alen;
		*p++ = (uint8_t)(alen >> 8);
		memcpy(p, c->servers[i].address, alen);
		p += alen;
	}
	out->base = buf;
	out->len = len;
	return RAFT_OK;
}

int raft_configuration_decode(const struct raft_buffer *buf,
			      struct raft_configuration *c)
{
	const uint8_t *p = buf->base;
	size_t left = buf->len;
	char addr[CONF_MAX_ADDRESS + 1];

	raft_configuration_init(c);
	/* header is version + count */
	if (left < 5 || p[0] != CONF_VERSION)
		return RAFT_MALFORMED;
	uint32_t n = (uint32_t)p[1] | (uint32_t)p[2] << 8 |
		     (uint32_t)p[3] << 16 | (uint32_t)p[4] << 24;
	p += 5;
	left -= 5;
	/* a count larger than the bytes could hold is a lie */
	if (n > CONF_MAX_SERVERS || n > left / 11)
		return RAFT_MALFORMED;
	for (uint32_t i = 0; i < n; i++) {
		/* fewer bytes than a server record */
		if (left < 11) {
			raft_configuration_close(c);
			return RAFT_MALFORMED;
		}
		raft_id id = conf_get_u64(p);
		int role = p[8];
		size_t alen = (size_t)p[9] | (size_t)p[10] << 8;
		p += 11;
		left -= 11;
		/* address length past the end of the buffer */
		if (alen > left || memchr(p, 0, alen) != NULL) {
			raft_configuration_close(c);
			return RAFT_MALFORMED;
		}
		memcpy(addr, p, alen);
		addr[alen] = '\0';
		p += alen;
		left -= alen;
		int rv = raft_configuration_add(c, id, addr, role);
		if (rv != RAFT_OK) {
			raft_configuration_close(c);
			return rv == RAFT_NOMEM ? rv : RAFT_MALFORMED;
		}
	}
	/* trailing bytes mean the encoder and decoder disagree */
	if (left != 0) {
		raft_configuration_close(c);
		return RAFT_MALFORMED;
	}
	return RAFT_OK;
}

void raft_snapshot_close(struct raft_snapshot *s)
{
	raft_configuration_close(&s->meta.conf);
	raft_heap_free(s->data.base);
	s->data.base = NULL;
	s->data.len = 0;
}
