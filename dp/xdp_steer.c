/*
 * xdp_steer: see xdp_steer.h.
 *
 * Everything here runs on the control thread and may allocate. The BPF
 * object is embedded (xdp_steer_obj, generated from dp/xdp/uplink.bpf.c
 * by dp/xdp/embed.py) so the loader never depends on an install path.
 *
 * Configuration is a plain value validated in full before any map is
 * written (WireGuard's "check, then act"), and maps are changed
 * add-then-remove so a reconfiguration never briefly unsteers a prefix
 * that both the old and the new config contain.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <limits.h>
#include <linux/if_link.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "xdp_steer.h"

extern const unsigned char xdp_steer_obj[];
extern const size_t xdp_steer_obj_len;

/* "/xsks_map" appended to params.pin_dir */
#define XDP_STEER_PIN_NAME "/xsks_map"

struct xdp_steer {
	struct bpf_object *obj;
	int prog_fd;
	int xsks_fd;
	int cfg_fd;
	int v4_fd;
	int v6_fd;
	int arp_fd;
	int stats_fd;
	uint32_t queues;
	unsigned int ifindex;
	uint32_t attach_flags; /* 0 when not attached */
	bool adopted;          /* xdp_steer_adopt(): fds only, no obj */
	struct bpf_map *xsks_map;
	char pin_path[PATH_MAX]; /* "" when not pinned */
};

static const char *const xdp_steer_reason_names[] = {
#define XDP_STEER_X_NAME(name, str) [XDP_STEER_##name] = str,
	XDP_STEER_REASONS(XDP_STEER_X_NAME)
#undef XDP_STEER_X_NAME
};

const char *xdp_steer_reason_name(unsigned int r)
{
	return r < XDP_STEER_REASON_MAX ? xdp_steer_reason_names[r] : "unknown";
}

/* ---- configuration values ---- */

void xdp_steer_config_init(struct xdp_steer_config *cfg)
{
	memset(cfg, 0, sizeof(*cfg));
	cfg->vxlan_port = XDP_STEER_VXLAN_PORT;
	cfg->geneve_port = XDP_STEER_GENEVE_PORT;
}

static unsigned int xdp_steer_family_bits(uint8_t family)
{
	return family == AF_INET ? 32u : family == AF_INET6 ? 128u : 0u;
}

/* True if any bit past the first @len of @addr (of @bits) is set. */
static bool xdp_steer_host_bits(const uint8_t *addr, unsigned int len, unsigned int bits)
{
	for (unsigned int i = 0; i < bits / 8u; i++) {
		unsigned int first = i * 8u;
		unsigned int keep = 0; /* mask of the prefix bits in byte i */

		if (len >= first + 8u)
			continue;
		if (len > first)
			keep = (0xffu << (8u - (len - first))) & 0xffu;
		if ((addr[i] & ~keep) != 0)
			return true;
	}
	return false;
}

static bool xdp_steer_prefix_eq(const struct xdp_steer_prefix *a, const struct xdp_steer_prefix *b)
{
	return a->family == b->family && a->len == b->len &&
	       memcmp(a->addr, b->addr, xdp_steer_family_bits(a->family) / 8u) == 0;
}

/* Unspecified, multicast or (IPv4) limited broadcast: never a unicast
 * address a node or pod can own. */
static bool xdp_steer_addr_bogus(uint8_t family, const uint8_t *a)
{
	static const uint8_t zero[16];

	if (family == AF_INET)
		return memcmp(a, zero, 4) == 0 || (a[0] & 0xf0u) == 0xe0u ||
		       (a[0] == 0xff && a[1] == 0xff && a[2] == 0xff && a[3] == 0xff);
	return memcmp(a, zero, 16) == 0 || a[0] == 0xff;
}

int xdp_steer_config_validate(const struct xdp_steer_config *cfg)
{
	uint32_t n4 = 0, n6 = 0;

	if (cfg == NULL || cfg->n_prefixes > 2u * XDP_STEER_MAX_PREFIXES ||
	    cfg->n_arp > XDP_STEER_MAX_ARP)
		return -EINVAL;
	for (uint32_t i = 0; i < cfg->n_prefixes; i++) {
		const struct xdp_steer_prefix *p = &cfg->prefixes[i];
		unsigned int bits = xdp_steer_family_bits(p->family);

		if (bits == 0 || p->len > bits || xdp_steer_host_bits(p->addr, p->len, bits))
			return -EINVAL;
		if (p->family == AF_INET ? ++n4 > XDP_STEER_MAX_PREFIXES
					 : ++n6 > XDP_STEER_MAX_PREFIXES)
			return -EINVAL;
		for (uint32_t j = 0; j < i; j++)
			if (xdp_steer_prefix_eq(p, &cfg->prefixes[j]))
				return -EINVAL;
	}
	for (uint32_t i = 0; i < cfg->n_arp; i++) {
		if (xdp_steer_addr_bogus(AF_INET, cfg->arp[i]))
			return -EINVAL;
		for (uint32_t j = 0; j < i; j++)
			if (memcmp(cfg->arp[i], cfg->arp[j], 4) == 0)
				return -EINVAL;
	}
	if (cfg->underlay_family != 0) {
		if (xdp_steer_family_bits(cfg->underlay_family) == 0 ||
		    xdp_steer_addr_bogus(cfg->underlay_family, cfg->underlay))
			return -EINVAL;
	}
	if (cfg->vxlan_port > 65535u || cfg->geneve_port > 65535u ||
	    (cfg->vxlan_port != 0 && cfg->vxlan_port == cfg->geneve_port))
		return -EINVAL;
	if (cfg->fallback_drop > 1u)
		return -EINVAL;
	return 0;
}

/* Parse "addr" or "addr/len" into @out. */
static int xdp_steer_parse_prefix(const char *cidr, struct xdp_steer_prefix *out)
{
	char buf[INET6_ADDRSTRLEN + 5];
	const char *slash;
	size_t alen;
	unsigned int bits, len;

	if (cidr == NULL)
		return -EINVAL;
	slash = strchr(cidr, '/');
	alen = slash ? (size_t)(slash - cidr) : strlen(cidr);
	if (alen == 0 || alen >= sizeof(buf))
		return -EINVAL;
	memcpy(buf, cidr, alen);
	buf[alen] = '\0';
	memset(out, 0, sizeof(*out));
	if (inet_pton(AF_INET, buf, out->addr) == 1)
		out->family = AF_INET;
	else if (inet_pton(AF_INET6, buf, out->addr) == 1)
		out->family = AF_INET6;
	else
		return -EINVAL;
	bits = xdp_steer_family_bits(out->family);
	len = bits;
	if (slash) {
		const char *d = slash + 1;

		/* 1..3 decimal digits and nothing else: no sign, no space, no
		 * "010"-style ambiguity beyond what strtoul would accept. */
		if (d[0] == '\0' || strlen(d) > 3 || strspn(d, "0123456789") != strlen(d))
			return -EINVAL;
		len = (unsigned int)strtoul(d, NULL, 10);
	}
	if (len > bits || xdp_steer_host_bits(out->addr, len, bits))
		return -EINVAL;
	out->len = (uint8_t)len;
	return 0;
}

int xdp_steer_config_add_prefix(struct xdp_steer_config *cfg, const char *cidr)
{
	struct xdp_steer_prefix p;
	uint32_t same_family = 0;
	int rc;

	if (cfg == NULL || cfg->n_prefixes > 2u * XDP_STEER_MAX_PREFIXES)
		return -EINVAL;
	rc = xdp_steer_parse_prefix(cidr, &p);
	if (rc != 0)
		return rc;
	for (uint32_t i = 0; i < cfg->n_prefixes; i++) {
		if (xdp_steer_prefix_eq(&p, &cfg->prefixes[i]))
			return -EEXIST;
		same_family += cfg->prefixes[i].family == p.family;
	}
	if (same_family >= XDP_STEER_MAX_PREFIXES || cfg->n_prefixes >= 2u * XDP_STEER_MAX_PREFIXES)
		return -ENOSPC;
	cfg->prefixes[cfg->n_prefixes++] = p;
	return 0;
}

int xdp_steer_config_add_arp(struct xdp_steer_config *cfg, const char *ip4)
{
	uint8_t a[4];

	if (cfg == NULL || ip4 == NULL || cfg->n_arp > XDP_STEER_MAX_ARP)
		return -EINVAL;
	if (inet_pton(AF_INET, ip4, a) != 1 || xdp_steer_addr_bogus(AF_INET, a))
		return -EINVAL;
	for (uint32_t i = 0; i < cfg->n_arp; i++)
		if (memcmp(cfg->arp[i], a, 4) == 0)
			return -EEXIST;
	if (cfg->n_arp == XDP_STEER_MAX_ARP)
		return -ENOSPC;
	memcpy(cfg->arp[cfg->n_arp++], a, 4);
	return 0;
}

int xdp_steer_config_set_encap(struct xdp_steer_config *cfg, const char *underlay,
			       uint32_t vxlan_port, uint32_t geneve_port)
{
	uint8_t a[16] = {0};
	uint8_t family;

	if (cfg == NULL || underlay == NULL)
		return -EINVAL;
	if (inet_pton(AF_INET, underlay, a) == 1)
		family = AF_INET;
	else if (inet_pton(AF_INET6, underlay, a) == 1)
		family = AF_INET6;
	else
		return -EINVAL;
	if (xdp_steer_addr_bogus(family, a) || vxlan_port > 65535u || geneve_port > 65535u ||
	    (vxlan_port != 0 && vxlan_port == geneve_port))
		return -EINVAL;
	cfg->underlay_family = family;
	memcpy(cfg->underlay, a, sizeof(a));
	cfg->vxlan_port = vxlan_port;
	cfg->geneve_port = geneve_port;
	return 0;
}

/* ---- loader ---- */

int xdp_steer_prog_fd(const struct xdp_steer *s)
{
	return s ? s->prog_fd : -EINVAL;
}

int xdp_steer_xsks_map_fd(const struct xdp_steer *s)
{
	return s ? s->xsks_fd : -EINVAL;
}

static int xdp_steer_map_fd(struct bpf_object *obj, const char *name, struct bpf_map **out)
{
	struct bpf_map *m = bpf_object__find_map_by_name(obj, name);

	if (out)
		*out = m;
	/* A missing map means the embedded object and this file disagree:
	 * a build bug, reported as such rather than crashing later. */
	return m ? bpf_map__fd(m) : -ENOENT;
}

static int xdp_steer_check_params(const struct xdp_steer_params *p)
{
	if (p == NULL || p->queues == 0 || p->queues > XDP_STEER_MAX_QUEUES)
		return -EINVAL;
	switch (p->attach) {
	case XDP_STEER_ATTACH_NATIVE:
	case XDP_STEER_ATTACH_SKB:
		if (p->ifindex == 0)
			return -EINVAL;
		break;
	case XDP_STEER_ATTACH_NONE:
		if (p->ifindex != 0)
			return -EINVAL;
		break;
	default:
		return -EINVAL;
	}
	if (p->pin_dir != NULL &&
	    (p->pin_dir[0] == '\0' || strlen(p->pin_dir) + sizeof(XDP_STEER_PIN_NAME) > PATH_MAX))
		return -EINVAL;
	return 0;
}

struct xdp_steer *xdp_steer_create(const struct xdp_steer_params *p)
{
	LIBBPF_OPTS(bpf_object_open_opts, oopts, .object_name = "sluice_uplink");
	struct bpf_program *prog;
	struct xdp_steer *s;
	int rc = xdp_steer_check_params(p);

	if (rc != 0) {
		errno = -rc;
		return NULL;
	}
	s = calloc(1, sizeof(*s));
	if (s == NULL)
		return NULL;
	s->queues = p->queues;
	s->ifindex = p->ifindex;

	s->obj = bpf_object__open_mem(xdp_steer_obj, xdp_steer_obj_len, &oopts);
	if (s->obj == NULL) {
		rc = -errno;
		goto fail;
	}
	s->xsks_map = bpf_object__find_map_by_name(s->obj, "xsks_map");
	prog = bpf_object__find_program_by_name(s->obj, "sluice_uplink");
	if (s->xsks_map == NULL || prog == NULL) {
		rc = -ENOENT;
		goto fail;
	}
	/* One XSKMAP slot per rx queue: the program indexes it by
	 * rx_queue_index, so a queue beyond the map is simply never steered. */
	rc = bpf_map__set_max_entries(s->xsks_map, p->queues);
	if (rc == 0)
		rc = bpf_object__load(s->obj);
	if (rc != 0)
		goto fail;
	s->prog_fd = bpf_program__fd(prog);
	s->xsks_fd = bpf_map__fd(s->xsks_map);
	s->cfg_fd = xdp_steer_map_fd(s->obj, "steer_cfg", NULL);
	s->v4_fd = xdp_steer_map_fd(s->obj, "steer_v4", NULL);
	s->v6_fd = xdp_steer_map_fd(s->obj, "steer_v6", NULL);
	s->arp_fd = xdp_steer_map_fd(s->obj, "steer_arp", NULL);
	s->stats_fd = xdp_steer_map_fd(s->obj, "steer_stats", NULL);
	if (s->prog_fd < 0 || s->cfg_fd < 0 || s->v4_fd < 0 || s->v6_fd < 0 || s->arp_fd < 0 ||
	    s->stats_fd < 0) {
		rc = -ENOENT;
		goto fail;
	}

	if (p->pin_dir != NULL) {
		snprintf(s->pin_path, sizeof(s->pin_path), "%s%s", p->pin_dir, XDP_STEER_PIN_NAME);
		rc = bpf_map__pin(s->xsks_map, s->pin_path);
		if (rc != 0) {
			s->pin_path[0] = '\0';
			goto fail;
		}
	}

	if (p->attach != XDP_STEER_ATTACH_NONE) {
		uint32_t mode = p->attach == XDP_STEER_ATTACH_NATIVE ? XDP_FLAGS_DRV_MODE
								     : XDP_FLAGS_SKB_MODE;

		/* UPDATE_IF_NOEXIST: never replace a program someone else
		 * attached; the operator must detach it knowingly. */
		rc = bpf_xdp_attach((int)p->ifindex, s->prog_fd, mode | XDP_FLAGS_UPDATE_IF_NOEXIST,
				    NULL);
		if (rc != 0)
			goto fail;
		s->attach_flags = mode;
	}
	return s;

fail:
	xdp_steer_free(s);
	errno = rc < 0 ? -rc : EINVAL;
	return NULL;
}

/* Open the map @id of an adopted program into the matching field of @s
 * if its name and layout are ours; maps we do not know are ignored. */
static int xdp_steer_adopt_map(struct xdp_steer *s, uint32_t id)
{
	static const struct {
		const char *name;
		size_t off; /* of the fd field in struct xdp_steer */
		uint32_t type, key_size, value_size;
	} want[] = {
		{"xsks_map", offsetof(struct xdp_steer, xsks_fd), BPF_MAP_TYPE_XSKMAP, 4, 4},
		{"steer_cfg", offsetof(struct xdp_steer, cfg_fd), BPF_MAP_TYPE_ARRAY, 4,
		 sizeof(struct xdp_steer_cfg)},
		{"steer_v4", offsetof(struct xdp_steer, v4_fd), BPF_MAP_TYPE_LPM_TRIE,
		 sizeof(struct xdp_steer_lpm4), 1},
		{"steer_v6", offsetof(struct xdp_steer, v6_fd), BPF_MAP_TYPE_LPM_TRIE,
		 sizeof(struct xdp_steer_lpm6), 1},
		{"steer_arp", offsetof(struct xdp_steer, arp_fd), BPF_MAP_TYPE_HASH, 4, 1},
		{"steer_stats", offsetof(struct xdp_steer, stats_fd), BPF_MAP_TYPE_PERCPU_ARRAY, 4,
		 sizeof(struct xdp_steer_counter)},
	};
	struct bpf_map_info info;
	uint32_t len = sizeof(info);
	int fd = bpf_map_get_fd_by_id(id);
	int rc;

	if (fd < 0)
		return fd;
	memset(&info, 0, sizeof(info));
	rc = bpf_obj_get_info_by_fd(fd, &info, &len);
	if (rc != 0)
		goto close;
	for (size_t i = 0; i < sizeof(want) / sizeof(want[0]); i++) {
		int *slot = (int *)(void *)((char *)s + want[i].off);

		if (strcmp(info.name, want[i].name) != 0)
			continue;
		/* Same name, other layout: an object built from another
		 * version of xdp_steer.h. Writing our structs into it would
		 * corrupt its config, so refuse. */
		if (info.type != want[i].type || info.key_size != want[i].key_size ||
		    info.value_size != want[i].value_size || *slot >= 0)
			rc = -EPROTO;
		else if (want[i].type == BPF_MAP_TYPE_XSKMAP)
			s->queues = info.max_entries;
		if (rc != 0)
			goto close;
		*slot = fd;
		return 0;
	}
close:
	close(fd);
	return rc;
}

struct xdp_steer *xdp_steer_adopt(unsigned int ifindex)
{
	LIBBPF_OPTS(bpf_xdp_query_opts, q);
	struct bpf_prog_info pinfo;
	uint32_t ids[16];
	uint32_t plen = sizeof(pinfo), id;
	struct xdp_steer *s;
	int rc;

	if (ifindex == 0) {
		errno = EINVAL;
		return NULL;
	}
	s = calloc(1, sizeof(*s));
	if (s == NULL)
		return NULL;
	s->adopted = true;
	s->prog_fd = s->xsks_fd = s->cfg_fd = s->v4_fd = s->v6_fd = s->arp_fd = s->stats_fd = -1;
	rc = bpf_xdp_query((int)ifindex, 0, &q);
	if (rc != 0)
		goto fail;
	/* A netdev can hold one program per mode; ours is the one in the
	 * mode that sees the frames first (driver before generic). */
	id = q.drv_prog_id ? q.drv_prog_id : q.skb_prog_id ? q.skb_prog_id : q.prog_id;
	if (id == 0) {
		rc = -ENOENT;
		goto fail;
	}
	s->prog_fd = bpf_prog_get_fd_by_id(id);
	if (s->prog_fd < 0) {
		rc = s->prog_fd;
		goto fail;
	}
	memset(&pinfo, 0, sizeof(pinfo));
	pinfo.nr_map_ids = sizeof(ids) / sizeof(ids[0]);
	pinfo.map_ids = (uint64_t)(uintptr_t)ids;
	rc = bpf_obj_get_info_by_fd(s->prog_fd, &pinfo, &plen);
	if (rc != 0)
		goto fail;
	/* The kernel keeps BPF_OBJ_NAME_LEN - 1 characters of the name;
	 * "sluice_uplink" fits whole. */
	if (pinfo.type != BPF_PROG_TYPE_XDP || strcmp(pinfo.name, "sluice_uplink") != 0 ||
	    pinfo.nr_map_ids > sizeof(ids) / sizeof(ids[0])) {
		rc = -EPROTO;
		goto fail;
	}
	for (uint32_t i = 0; i < pinfo.nr_map_ids; i++) {
		rc = xdp_steer_adopt_map(s, ids[i]);
		if (rc != 0)
			goto fail;
	}
	if (s->xsks_fd < 0 || s->cfg_fd < 0 || s->v4_fd < 0 || s->v6_fd < 0 || s->arp_fd < 0 ||
	    s->stats_fd < 0 || s->queues == 0) {
		rc = -EPROTO;
		goto fail;
	}
	s->ifindex = ifindex;
	return s;

fail:
	xdp_steer_free(s);
	errno = rc < 0 ? -rc : EPROTO;
	return NULL;
}

void xdp_steer_free(struct xdp_steer *s)
{
	if (s == NULL)
		return;
	if (s->adopted) {
		/* fds we opened by id; the program stays attached */
		const int fds[] = {s->prog_fd, s->xsks_fd, s->cfg_fd, s->v4_fd,
				   s->v6_fd, s->arp_fd, s->stats_fd};

		for (size_t i = 0; i < sizeof(fds) / sizeof(fds[0]); i++)
			if (fds[i] >= 0)
				close(fds[i]);
		free(s);
		return;
	}
	if (s->attach_flags != 0) {
		/* REPLACE with old_prog_fd: detach only if the attached program
		 * is still ours (the kernel compares atomically). */
		LIBBPF_OPTS(bpf_xdp_attach_opts, dopts, .old_prog_fd = s->prog_fd);

		(void)bpf_xdp_detach((int)s->ifindex, s->attach_flags | XDP_FLAGS_REPLACE, &dopts);
	}
	if (s->pin_path[0] != '\0')
		(void)bpf_map__unpin(s->xsks_map, s->pin_path);
	bpf_object__close(s->obj);
	free(s);
}

int xdp_steer_xsk_set(struct xdp_steer *s, uint32_t queue, int xsk_fd)
{
	uint32_t v;

	if (s == NULL || queue >= s->queues || xsk_fd < 0)
		return -EINVAL;
	v = (uint32_t)xsk_fd;
	return bpf_map_update_elem(s->xsks_fd, &queue, &v, BPF_ANY);
}

int xdp_steer_xsk_clear(struct xdp_steer *s, uint32_t queue)
{
	if (s == NULL || queue >= s->queues)
		return -EINVAL;
	return bpf_map_delete_elem(s->xsks_fd, &queue);
}

/* Map keys of one LPM trie, built from cfg entries of @family. */
static void xdp_steer_lpm_key(const struct xdp_steer_prefix *p, void *key)
{
	if (p->family == AF_INET) {
		struct xdp_steer_lpm4 *k = key;

		k->prefixlen = p->len;
		memcpy(k->addr, p->addr, 4);
	} else {
		struct xdp_steer_lpm6 *k = key;

		k->prefixlen = p->len;
		memcpy(k->addr, p->addr, 16);
	}
}

/* Is map key @key (of map @family) among @cfg's entries? */
static bool xdp_steer_cfg_has(const struct xdp_steer_config *cfg, uint8_t family, const void *key)
{
	if (family == 0) { /* ARP map: IPv4 key */
		for (uint32_t i = 0; i < cfg->n_arp; i++)
			if (memcmp(cfg->arp[i], key, 4) == 0)
				return true;
		return false;
	}
	for (uint32_t i = 0; i < cfg->n_prefixes; i++) {
		struct xdp_steer_lpm6 k; /* large enough for either key */

		if (cfg->prefixes[i].family != family)
			continue;
		memset(&k, 0, sizeof(k));
		xdp_steer_lpm_key(&cfg->prefixes[i], &k);
		if (memcmp(&k, key, family == AF_INET ? sizeof(struct xdp_steer_lpm4) : sizeof(k)) == 0)
			return true;
	}
	return false;
}

/*
 * Delete the keys of map @fd (key size @ksz) that @cfg does not hold.
 * Keys are collected first: deleting while walking get_next_key restarts
 * the walk on some map types and can skip entries.
 */
static int xdp_steer_sweep(int fd, size_t ksz, uint32_t max, const struct xdp_steer_config *cfg,
			   uint8_t family)
{
	uint8_t cur[sizeof(struct xdp_steer_lpm6)], next[sizeof(struct xdp_steer_lpm6)];
	uint8_t *keys = calloc(max, ksz);
	uint32_t n = 0;
	int rc = 0;

	if (keys == NULL)
		return -ENOMEM;
	for (const void *prev = NULL; n < max; prev = cur) {
		rc = bpf_map_get_next_key(fd, prev, next);
		if (rc == -ENOENT) {
			rc = 0;
			break;
		}
		if (rc != 0)
			goto out;
		memcpy(keys + (size_t)n++ * ksz, next, ksz);
		memcpy(cur, next, ksz);
	}
	for (uint32_t i = 0; i < n; i++) {
		if (xdp_steer_cfg_has(cfg, family, keys + (size_t)i * ksz))
			continue;
		rc = bpf_map_delete_elem(fd, keys + (size_t)i * ksz);
		if (rc != 0 && rc != -ENOENT)
			goto out;
		rc = 0;
	}
out:
	free(keys);
	return rc;
}

int xdp_steer_apply(struct xdp_steer *s, const struct xdp_steer_config *cfg)
{
	struct xdp_steer_cfg mc = {0};
	const uint8_t one = 1;
	uint32_t zero = 0;
	int rc;

	if (s == NULL)
		return -EINVAL;
	rc = xdp_steer_config_validate(cfg);
	if (rc != 0)
		return rc;

	/* 1. add: every wanted entry is present before anything is removed */
	for (uint32_t i = 0; i < cfg->n_prefixes; i++) {
		struct xdp_steer_lpm6 k;
		const struct xdp_steer_prefix *p = &cfg->prefixes[i];

		memset(&k, 0, sizeof(k));
		xdp_steer_lpm_key(p, &k);
		rc = bpf_map_update_elem(p->family == AF_INET ? s->v4_fd : s->v6_fd, &k, &one, BPF_ANY);
		if (rc != 0)
			return rc;
	}
	for (uint32_t i = 0; i < cfg->n_arp; i++) {
		rc = bpf_map_update_elem(s->arp_fd, cfg->arp[i], &one, BPF_ANY);
		if (rc != 0)
			return rc;
	}

	/* 2. the scalar config, in one update of the single array slot */
	mc.fallback = cfg->fallback_drop ? XDP_DROP : XDP_PASS;
	mc.vxlan_port = htons((uint16_t)cfg->vxlan_port);
	mc.geneve_port = htons((uint16_t)cfg->geneve_port);
	if (cfg->underlay_family == AF_INET) {
		mc.flags |= XDP_STEER_CFG_UNDERLAY4;
		memcpy(mc.underlay4, cfg->underlay, 4);
	} else if (cfg->underlay_family == AF_INET6) {
		mc.flags |= XDP_STEER_CFG_UNDERLAY6;
		memcpy(mc.underlay6, cfg->underlay, 16);
	}
	rc = bpf_map_update_elem(s->cfg_fd, &zero, &mc, BPF_ANY);
	if (rc != 0)
		return rc;

	/* 3. remove what the new config no longer holds */
	rc = xdp_steer_sweep(s->v4_fd, sizeof(struct xdp_steer_lpm4), XDP_STEER_MAX_PREFIXES, cfg,
			     AF_INET);
	if (rc == 0)
		rc = xdp_steer_sweep(s->v6_fd, sizeof(struct xdp_steer_lpm6),
				     XDP_STEER_MAX_PREFIXES, cfg, AF_INET6);
	if (rc == 0)
		rc = xdp_steer_sweep(s->arp_fd, 4, XDP_STEER_MAX_ARP, cfg, 0);
	return rc;
}

int xdp_steer_stats(const struct xdp_steer *s, struct xdp_steer_stats *out)
{
	struct xdp_steer_counter *percpu;
	int ncpu;
	int rc = 0;

	if (s == NULL || out == NULL)
		return -EINVAL;
	ncpu = libbpf_num_possible_cpus();
	if (ncpu <= 0)
		return ncpu < 0 ? ncpu : -EINVAL;
	/* The kernel copies one value per *possible* CPU, each rounded up to
	 * 8 bytes; struct xdp_steer_counter is already a multiple of 8. */
	percpu = calloc((size_t)ncpu, sizeof(*percpu));
	if (percpu == NULL)
		return -ENOMEM;
	memset(out, 0, sizeof(*out));
	for (uint32_t r = 0; r < XDP_STEER_REASON_MAX; r++) {
		rc = bpf_map_lookup_elem(s->stats_fd, &r, percpu);
		if (rc != 0)
			break;
		for (int c = 0; c < ncpu; c++) {
			out->reason[r].packets += percpu[c].packets;
			out->reason[r].bytes += percpu[c].bytes;
		}
	}
	free(percpu);
	return rc;
}
