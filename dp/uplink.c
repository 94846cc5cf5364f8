/*
 * uplink: the control side of dp's uplink (docs/multinode.md).
 *
 * The uplink is the node's underlay NIC, shared with the node's kernel:
 *   - the af_xdp PMD attaches dp/xdp/uplink.bpf.c (xdp_prog=, the object
 *     written from the copy embedded in libsluice_xdp_steer), and
 *     dp_uplink_set() adopts it and steers exactly this node's pod CIDR
 *     and, in VXLAN mode, UDP to the VXLAN port at the node's underlay IP.
 *     Everything else (ARP, the node's own IP, SSH, Raft...) is XDP_PASS.
 *   - dp uses the kernel's MAC and IP on the underlay and answers nothing
 *     there: the kernel keeps answering ARP for the node IP, so remote
 *     nodes resolve it as usual and dp needs no address of its own.
 *   - underlay next hops are resolved by ARP from this control side: an
 *     AF_PACKET socket on the uplink sends requests (sender = the node's
 *     IP and MAC, what the kernel would send) and sees every ARP frame the
 *     program passes to the kernel, replies to our requests included
 *     (Linux ignores those it did not ask for). dp/neigh.c holds the
 *     table the fast path reads. Nothing here runs on a worker.
 *   - service VIPs (docs/lb.md, "External clients"): dp_uplink_vips_set()
 *     adds each VIP as a /32 to the program's trie, so a host outside the
 *     cluster that routes a VIP via this node reaches dp's LB.
 *   - egress (docs/multinode.md, "Leaving the cluster"): with a cluster
 *     CIDR, packets to outside it that match no route leave by the uplink,
 *     via the gateway (its neighbour entry is held from the start) or, on
 *     the uplink's subnet, directly: workers ask for such a host on the
 *     want ring, and the poll below adds a /32 route via the host itself
 *     (so ARP resolves it, dp/neigh.c), removed when ARP fails or to make
 *     room (at most UPLINK_ONLINK_MAX).
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <ifaddrs.h>
#include <net/if.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <linux/if_ether.h>
#include <linux/if_packet.h>
#include <sys/socket.h>

#include <rte_errno.h>
#include <rte_log.h>
#include <rte_malloc.h>
#include <rte_ring.h>
#include <rte_telemetry.h>

#include "dp_internal.h"
#include "neigh.h"
#include "xdp_steer.h"

extern const unsigned char xdp_steer_obj[];
extern const size_t xdp_steer_obj_len;

/* ARP frames handled per poll, and requests sent per poll (bounded so a
 * flood or a large table never stalls the control loop). */
#define UPLINK_ARP_RX_BUDGET 64
#define UPLINK_ARP_TX_BUDGET 32
#define UPLINK_ARP_FRAME 42 /* Ethernet + ARP for IPv4 */

/* Egress to on-link hosts: /32 routes via the host itself under a
 * generation no ctrl replay uses, so SYNC_END never sweeps them. */
#define UPLINK_ONLINK_MAX 256u
#define UPLINK_ONLINK_GEN UINT32_MAX
#define UPLINK_ONLINK_INCOMPLETE_MS 3000u /* unanswered ARP: give up */
#define UPLINK_WANT_RING 1024u
#define UPLINK_WANT_BUDGET 64u
#define UPLINK_EXPIRE_MS 1000u

struct dp_uplink_host {
	uint32_t ip;
	uint64_t added_ms;
};

struct dp_uplink {
	struct xdp_steer *xs;
	int arp_fd;
	int ifindex;
	uint64_t arp_tx, arp_rx, arp_learned;
	/* steering: the pod CIDR/encap config, plus the service VIPs */
	struct xdp_steer_config base, scratch;
	uint32_t *vips;              /* wanted, sorted; from dp_uplink_vips_set */
	unsigned n_vips, cap_vips, vips_steered;
	int vips_dirty;              /* the last apply failed: retry */
	uint64_t vip_apply_errors;
	/* egress to on-link hosts, oldest first */
	struct dp_uplink_host onlink[UPLINK_ONLINK_MAX];
	unsigned n_onlink;
	uint64_t onlink_added, onlink_expired, onlink_evicted, onlink_refused;
	uint64_t last_expire_ms;
};

int dp_uplink_prog_file(char *path, size_t len)
{
	/* A private file per attach: the PMD opens it during queue setup and
	 * the caller unlinks it once the port has started. */
	int n = snprintf(path, len, "/tmp/sluice-uplink-%d-XXXXXX", (int)getpid());
	if (n < 0 || (size_t)n >= len)
		return -ENAMETOOLONG;
	int fd = mkstemp(path);
	if (fd < 0)
		return -errno;
	size_t off = 0;
	while (off < xdp_steer_obj_len) {
		ssize_t w = write(fd, xdp_steer_obj + off, xdp_steer_obj_len - off);
		if (w < 0) {
			int e = errno;
			close(fd);
			unlink(path);
			return -e;
		}
		off += (size_t)w;
	}
	close(fd);
	return 0;
}

static uint64_t dp_uplink_now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

static void dp_uplink_ip_str(uint32_t ip, char *buf, size_t len)
{
	struct in_addr a = { .s_addr = ip };
	inet_ntop(AF_INET, &a, buf, (socklen_t)len);
}

/* The kernel's netmask for @ip on @iface: dp shares the kernel's address,
 * so it must be there (a typo would make dp ARP from an address nobody
 * answers for). 0, or -ENOENT. */
static int dp_uplink_kernel_mask(const char *iface, uint32_t ip, uint32_t *mask)
{
	struct ifaddrs *ifa, *it;
	int rc = -ENOENT;

	if (getifaddrs(&ifa) != 0)
		return -errno;
	for (it = ifa; it != NULL; it = it->ifa_next) {
		if (it->ifa_addr == NULL || it->ifa_netmask == NULL ||
		    it->ifa_addr->sa_family != AF_INET || strcmp(it->ifa_name, iface) != 0)
			continue;
		const struct sockaddr_in *a = (const struct sockaddr_in *)(const void *)it->ifa_addr;
		const struct sockaddr_in *m = (const struct sockaddr_in *)(const void *)it->ifa_netmask;
		if (a->sin_addr.s_addr == ip) {
			*mask = m->sin_addr.s_addr;
			rc = 0;
			break;
		}
	}
	freeifaddrs(ifa);
	return rc;
}

static int dp_uplink_open_arp(int ifindex)
{
	int fd = socket(AF_PACKET, SOCK_RAW | SOCK_NONBLOCK | SOCK_CLOEXEC, htons(ETH_P_ARP));
	if (fd < 0)
		return -errno;
	struct sockaddr_ll sll = {
		.sll_family = AF_PACKET,
		.sll_protocol = htons(ETH_P_ARP),
		.sll_ifindex = ifindex,
	};
	if (bind(fd, (struct sockaddr *)&sll, sizeof(sll)) != 0) {
		int e = errno;
		close(fd);
		return -e;
	}
	return fd;
}

/* Egress state the workers read (dp->ul, before valid is published): the
 * want ring and, with a gateway, a reference on its neighbour entry so it
 * resolves before the first packet. Lock held. */
static int dp_uplink_egress_init(struct dp *dp, const struct dp_uplink_params *p, char *err,
				 size_t errlen)
{
	char ipbuf[INET_ADDRSTRLEN];
	uint32_t idx;
	int rc;

	dp->ul.cluster_net = p->cluster_net;
	dp->ul.cluster_mask = htonl(0xffffffffu << (32 - p->cluster_depth));
	dp->ul.want = rte_ring_create_elem("sl_ul_want", sizeof(uint32_t), UPLINK_WANT_RING,
					   SOCKET_ID_ANY, RING_F_SC_DEQ);
	if (dp->ul.want == NULL) {
		snprintf(err, errlen, "uplink: egress ring: %s", rte_strerror(rte_errno));
		return -ENOMEM;
	}
	if (p->gateway == 0)
		return 0;
	rc = neigh_ref(dp->neigh, p->gateway, &idx);
	if (rc != 0) {
		dp_uplink_ip_str(p->gateway, ipbuf, sizeof(ipbuf));
		snprintf(err, errlen, "uplink.gateway: %s: %s", ipbuf, strerror(-rc));
		return rc;
	}
	dp->ul.gw_neigh = idx;
	return 0;
}

/* Undo dp_uplink_egress_init (valid is 0: no worker uses it). Lock held. */
static void dp_uplink_egress_fini(struct dp *dp)
{
	if (dp->ul.want == NULL)
		return;
	if (dp->ul.gw_neigh != UINT32_MAX)
		neigh_unref(dp->neigh, dp->ul.gw_neigh);
	dp->ul.gw_neigh = UINT32_MAX;
	rte_ring_free(dp->ul.want);
	dp->ul.want = NULL;
	dp->ul.cluster_mask = 0;
}

int dp_uplink_set(struct dp *dp, const struct dp_uplink_params *p, char *err, size_t errlen)
{
	char ipbuf[INET_ADDRSTRLEN], cidr[32];
	struct xdp_steer_config cfg;
	int rc = 0;

	pthread_mutex_lock(&dp->lock);
	struct dp_port *pt = dp_port_by_name(dp, p->port);
	if (dp->uplink != NULL) {
		snprintf(err, errlen, "uplink: already set");
		rc = -EEXIST;
		goto out;
	}
	if (pt == NULL) {
		snprintf(err, errlen, "uplink.port: no port named \"%s\"", p->port);
		rc = -ENOENT;
		goto out;
	}
	if (pt->type != DP_PORT_UPLINK || p->mode >= DP_OVERLAY_MAX ||
	    (p->mode == DP_OVERLAY_VXLAN && (p->vni == 0 || p->vni > 0xffffffu || p->vxlan_port == 0))) {
		snprintf(err, errlen, "uplink: port %s is not of type uplink, or bad mode/vni/vxlan_port",
			 p->port);
		rc = -EINVAL;
		goto out;
	}
	uint32_t mask = 0;
	dp_uplink_ip_str(p->ip, ipbuf, sizeof(ipbuf));
	if (dp_uplink_kernel_mask(pt->params.iface, p->ip, &mask) != 0) {
		snprintf(err, errlen, "uplink.ip: %s is not an IPv4 address of %s (dp shares the "
			 "node's own underlay address)", ipbuf, pt->params.iface);
		rc = -EINVAL;
		goto out;
	}
	if (p->gateway != 0 && ((p->gateway & mask) != (p->ip & mask) || p->gateway == p->ip)) {
		dp_uplink_ip_str(p->gateway, ipbuf, sizeof(ipbuf));
		snprintf(err, errlen, "uplink.gateway: %s is not another address on %s's subnet",
			 ipbuf, pt->params.iface);
		rc = -EINVAL;
		goto out;
	}
	struct dp_uplink *u = calloc(1, sizeof(*u));
	if (u == NULL) {
		rc = -ENOMEM;
		snprintf(err, errlen, "uplink: out of memory");
		goto out;
	}
	u->arp_fd = -1;
	u->ifindex = (int)if_nametoindex(pt->params.iface);
	if (u->ifindex == 0) {
		rc = -errno;
		snprintf(err, errlen, "uplink: %s: %s", pt->params.iface, strerror(-rc));
		goto fail;
	}
	/* The PMD attached the program (xdp_prog=); configure it through the
	 * same API that tests/xdp exercises. */
	u->xs = xdp_steer_adopt((unsigned)u->ifindex);
	if (u->xs == NULL) {
		rc = -errno;
		snprintf(err, errlen, "uplink: %s: cannot adopt the XDP program: %s",
			 pt->params.iface, strerror(-rc));
		goto fail;
	}
	xdp_steer_config_init(&cfg);
	dp_uplink_ip_str(dp->params.pod_net, ipbuf, sizeof(ipbuf));
	snprintf(cidr, sizeof(cidr), "%s/%u", ipbuf, dp->params.pod_depth);
	dp_uplink_ip_str(p->ip, ipbuf, sizeof(ipbuf));
	rc = xdp_steer_config_add_prefix(&cfg, cidr);
	if (rc == 0)
		rc = xdp_steer_config_set_encap(&cfg, ipbuf,
						p->mode == DP_OVERLAY_VXLAN ? p->vxlan_port : 0, 0);
	if (rc == 0)
		rc = xdp_steer_apply(u->xs, &cfg);
	u->base = cfg;
	if (rc != 0) {
		snprintf(err, errlen, "uplink: steering %s (underlay %s): %s", cidr, ipbuf,
			 strerror(-rc));
		goto fail;
	}
	u->arp_fd = dp_uplink_open_arp(u->ifindex);
	if (u->arp_fd < 0) {
		rc = u->arp_fd;
		snprintf(err, errlen, "uplink: ARP socket on %s: %s", pt->params.iface, strerror(-rc));
		goto fail;
	}
	dp->ul.port_id = pt->port_id;
	dp->ul.mode = p->mode;
	memcpy(dp->ul.mac, pt->mac, 6);
	dp->ul.ip = p->ip;
	dp->ul.vni = p->mode == DP_OVERLAY_VXLAN ? p->vni : 0;
	dp->ul.vxlan_port = p->vxlan_port;
	dp->ul.mask = mask;
	dp->ul.gateway = p->gateway;
	dp->ul.gw_neigh = UINT32_MAX;
	if (p->cluster_depth != 0) {
		rc = dp_uplink_egress_init(dp, p, err, errlen);
		if (rc != 0)
			goto fail;
	}
	uint16_t mtu = dp->port_mtu[pt->port_id];
	dp->ul.encap_mtu = (uint16_t)(mtu > 50 + 68 ? mtu - 50 : 68);
	dp->uplink = u;
	__atomic_store_n(&dp->ul.valid, 1, __ATOMIC_RELEASE);
	goto out;
fail:
	dp_uplink_egress_fini(dp);
	xdp_steer_free(u->xs);
	if (u->arp_fd >= 0)
		close(u->arp_fd);
	free(u);
out:
	pthread_mutex_unlock(&dp->lock);
	return rc;
}

void dp_uplink_free_locked(struct dp *dp)
{
	struct dp_uplink *u = dp->uplink;
	if (u == NULL)
		return;
	__atomic_store_n(&dp->ul.valid, 0, __ATOMIC_RELEASE);
	dp_uplink_egress_fini(dp); /* dp_free stopped the workers */
	/* adopted: left attached, the PMD removes it when the port closes */
	xdp_steer_free(u->xs);
	close(u->arp_fd);
	free(u->vips);
	free(u);
	dp->uplink = NULL;
}

/* RFC 826 request "who has @ip, tell <node ip>" from the node's MAC. */
static void dp_uplink_send_arp(struct dp *dp, struct dp_uplink *u, uint32_t ip)
{
	uint8_t f[UPLINK_ARP_FRAME];
	memset(f, 0xff, 6);
	memcpy(f + 6, dp->ul.mac, 6);
	f[12] = 0x08; f[13] = 0x06;
	uint8_t *a = f + 14;
	a[0] = 0; a[1] = 1;             /* htype Ethernet */
	a[2] = 0x08; a[3] = 0x00;       /* ptype IPv4 */
	a[4] = 6; a[5] = 4;
	a[6] = 0; a[7] = 1;             /* request */
	memcpy(a + 8, dp->ul.mac, 6);
	memcpy(a + 14, &dp->ul.ip, 4);
	memset(a + 18, 0, 6);
	memcpy(a + 24, &ip, 4);
	struct sockaddr_ll sll = {
		.sll_family = AF_PACKET,
		.sll_protocol = htons(ETH_P_ARP),
		.sll_ifindex = u->ifindex,
		.sll_halen = 6,
	};
	memset(sll.sll_addr, 0xff, 6);
	if (sendto(u->arp_fd, f, sizeof(f), 0, (struct sockaddr *)&sll, sizeof(sll)) ==
	    (ssize_t)sizeof(f))
		u->arp_tx++;
}

/* Learn from one ARP frame seen on the uplink: the sender's binding, for
 * requests and replies alike (RFC 826 "merge" step, but only for entries a
 * route wants). */
static void dp_uplink_arp_in(struct dp *dp, const uint8_t *f, size_t len, uint64_t now)
{
	if (len < UPLINK_ARP_FRAME)
		return;
	const uint8_t *a = f + 14;
	if (a[0] != 0 || a[1] != 1 || a[2] != 0x08 || a[3] != 0 || a[4] != 6 || a[5] != 4)
		return;
	uint32_t spa;
	memcpy(&spa, a + 14, 4);
	/* Our own requests (the kernel's or ours) carry our MAC: skip. */
	if (memcmp(a + 8, dp->ul.mac, 6) == 0)
		return;
	/* One log line when a next hop resolves or moves (control thread
	 * only; the fast path never logs): the operator's view of ARP. */
	uint32_t idx;
	struct neigh_info before = { 0 };
	int known = neigh_find(dp->neigh, spa, &idx) == 0 && neigh_get(dp->neigh, idx, &before) == 0;
	if (neigh_learn(dp->neigh, spa, a + 8, now) != 0)
		return;
	dp->uplink->arp_learned++;
	if (known && (!before.valid || memcmp(before.mac, a + 8, 6) != 0)) {
		char ip[INET_ADDRSTRLEN];
		dp_uplink_ip_str(spa, ip, sizeof(ip));
		RTE_LOG(INFO, USER1, "sluice-dp: uplink: next hop %s is at %02x:%02x:%02x:%02x:%02x:%02x\n",
			ip, a[8], a[9], a[10], a[11], a[12], a[13]);
	}
}

/* ---- service VIPs ---- */

static int dp_uplink_has(const uint32_t *set, unsigned n, uint32_t v)
{
	for (unsigned lo = 0, hi = n; lo < hi;) {
		unsigned mid = lo + (hi - lo) / 2;
		if (set[mid] == v)
			return 1;
		if (set[mid] < v)
			lo = mid + 1;
		else
			hi = mid;
	}
	return 0;
}

int dp_uplink_vips_set(struct dp *dp, const uint32_t *vips, unsigned n)
{
	char ip[INET_ADDRSTRLEN], cidr[32];
	int rc = 0;

	pthread_mutex_lock(&dp->lock);
	struct dp_uplink *u = dp->uplink;
	if (u == NULL || (!u->vips_dirty && n == u->n_vips &&
			  (n == 0 || memcmp(vips, u->vips, n * sizeof(*vips)) == 0)))
		goto out;
	if (n > u->cap_vips) {
		uint32_t *nv = realloc(u->vips, n * sizeof(*nv));
		if (nv == NULL) {
			rc = -ENOMEM;
			goto out;
		}
		u->vips = nv;
		u->cap_vips = n;
	}
	struct xdp_steer_config *cfg = &u->scratch;
	unsigned steered = 0;
	*cfg = u->base;
	for (unsigned i = 0; i < n; i++) {
		dp_uplink_ip_str(vips[i], ip, sizeof(ip));
		snprintf(cidr, sizeof(cidr), "%s/32", ip);
		int r = xdp_steer_config_add_prefix(cfg, cidr);
		if (r == 0) {
			steered++;
			continue;
		}
		/* one line when the VIP appears, not on every later change */
		if (!dp_uplink_has(u->vips, u->n_vips, vips[i]))
			RTE_LOG(WARNING, USER1, "sluice-dp: uplink: VIP %s not steered (external "
				"clients cannot reach it): %s, the XDP trie holds %u prefixes\n", ip,
				strerror(-r), XDP_STEER_MAX_PREFIXES);
	}
	rc = xdp_steer_apply(u->xs, cfg);
	if (rc != 0) {
		u->vip_apply_errors++;
		u->vips_dirty = 1;
		RTE_LOG(ERR, USER1, "sluice-dp: uplink: steering %u VIPs: %s (retried at the next "
			"service change)\n", n, strerror(-rc));
		goto out;
	}
	for (unsigned i = 0; i < u->n_vips; i++)
		if (!dp_uplink_has(vips, n, u->vips[i])) {
			dp_uplink_ip_str(u->vips[i], ip, sizeof(ip));
			RTE_LOG(INFO, USER1, "sluice-dp: uplink: VIP %s no longer steered\n", ip);
		}
	for (unsigned i = 0; i < n; i++)
		if (!dp_uplink_has(u->vips, u->n_vips, vips[i])) {
			dp_uplink_ip_str(vips[i], ip, sizeof(ip));
			RTE_LOG(INFO, USER1, "sluice-dp: uplink: VIP %s steered to dp\n", ip);
		}
	if (n != 0)
		memcpy(u->vips, vips, n * sizeof(*vips));
	u->n_vips = n;
	u->vips_steered = steered;
	u->vips_dirty = 0;
out:
	pthread_mutex_unlock(&dp->lock);
	return rc;
}

/* ---- egress to on-link hosts ---- */

/* Forget on-link host @i (oldest first), deleting its route if it is
 * still ours (a ctrl route for the same /32 replaced it otherwise). */
static void dp_uplink_onlink_drop(struct dp *dp, struct dp_uplink *u, unsigned i)
{
	const struct tbl_route *r = tbl_route_find(dp->tbl, u->onlink[i].ip, 32);
	if (r != NULL && r->gen == UPLINK_ONLINK_GEN)
		tbl_route_del(dp->tbl, u->onlink[i].ip, 32);
	memmove(&u->onlink[i], &u->onlink[i + 1], (u->n_onlink - i - 1) * sizeof(u->onlink[0]));
	u->n_onlink--;
}

/* Hosts the workers asked for: a /32 route via the host itself. */
static void dp_uplink_want_in(struct dp *dp, struct dp_uplink *u, uint64_t now)
{
	uint32_t ips[UPLINK_WANT_BUDGET];
	char buf[INET_ADDRSTRLEN];

	if (dp->ul.want == NULL)
		return;
	unsigned k = rte_ring_sc_dequeue_burst_elem(dp->ul.want, ips, sizeof(ips[0]),
						    UPLINK_WANT_BUDGET, NULL);
	for (unsigned i = 0; i < k; i++) {
		uint32_t ip = ips[i];
		/* several workers may ask; a route may have appeared since */
		if (tbl_route_lookup(dp->tbl, ip) != NULL)
			continue;
		if ((ip & dp->ul.mask) != (dp->ul.ip & dp->ul.mask) ||
		    (ip & dp->ul.cluster_mask) == dp->ul.cluster_net) {
			u->onlink_refused++;
			continue;
		}
		if (u->n_onlink == UPLINK_ONLINK_MAX) {
			dp_uplink_onlink_drop(dp, u, 0);
			u->onlink_evicted++;
		}
		int rc = dp_route_add_via_locked(dp, ip, 32, ip, DP_OVERLAY_DIRECT, 0,
						 UPLINK_ONLINK_GEN);
		if (rc != 0) {
			dp_uplink_ip_str(ip, buf, sizeof(buf));
			if (u->onlink_refused++ == 0)
				RTE_LOG(WARNING, USER1, "sluice-dp: uplink: no route to on-link host "
					"%s: %s (counted as onlink_refused)\n", buf, strerror(-rc));
			continue;
		}
		u->onlink[u->n_onlink].ip = ip;
		u->onlink[u->n_onlink].added_ms = now;
		u->n_onlink++;
		u->onlink_added++;
	}
}

/* Drop on-link hosts whose ARP failed (or never answered). */
static void dp_uplink_onlink_expire(struct dp *dp, struct dp_uplink *u, uint64_t now)
{
	if (now - u->last_expire_ms < UPLINK_EXPIRE_MS)
		return;
	u->last_expire_ms = now;
	for (unsigned i = 0; i < u->n_onlink;) {
		const struct tbl_route *r = tbl_route_find(dp->tbl, u->onlink[i].ip, 32);
		struct neigh_info ni;
		int gone = r == NULL || r->gen != UPLINK_ONLINK_GEN ||
			   neigh_get(dp->neigh, r->neigh, &ni) != 0 || ni.state == NEIGH_FAILED ||
			   (ni.state == NEIGH_INCOMPLETE &&
			    now - u->onlink[i].added_ms > UPLINK_ONLINK_INCOMPLETE_MS);
		if (!gone) {
			i++;
			continue;
		}
		dp_uplink_onlink_drop(dp, u, i);
		u->onlink_expired++;
	}
}

void dp_uplink_poll(struct dp *dp)
{
	uint8_t buf[128];
	uint32_t due[UPLINK_ARP_TX_BUDGET];

	if (!__atomic_load_n(&dp->ul.valid, __ATOMIC_ACQUIRE))
		return;
	pthread_mutex_lock(&dp->lock);
	struct dp_uplink *u = dp->uplink;
	if (u == NULL) {
		pthread_mutex_unlock(&dp->lock);
		return;
	}
	uint64_t now = dp_uplink_now_ms();
	for (int i = 0; i < UPLINK_ARP_RX_BUDGET; i++) {
		struct sockaddr_ll from;
		socklen_t fl = sizeof(from);
		ssize_t n = recvfrom(u->arp_fd, buf, sizeof(buf), 0, (struct sockaddr *)&from, &fl);
		if (n < 0)
			break;
		u->arp_rx++;
		if (from.sll_pkttype == PACKET_OUTGOING)
			continue;
		dp_uplink_arp_in(dp, buf, (size_t)n, now);
	}
	dp_uplink_want_in(dp, u, now);
	dp_uplink_onlink_expire(dp, u, now);
	unsigned k = neigh_tick(dp->neigh, now, due, UPLINK_ARP_TX_BUDGET);
	for (unsigned i = 0; i < k; i++)
		dp_uplink_send_arp(dp, u, due[i]);
	pthread_mutex_unlock(&dp->lock);
}

int dp_uplink_tel(struct dp *dp, struct rte_tel_data *d)
{
	struct xdp_steer_stats st;
	struct neigh_info ni;
	char key[64];

	rte_tel_data_start_dict(d);
	pthread_mutex_lock(&dp->lock);
	struct dp_uplink *u = dp->uplink;
	rte_tel_data_add_dict_u64(d, "uplink", u != NULL);
	if (u == NULL)
		goto out;
	uint64_t v[] = {
		u->arp_tx, u->arp_rx, u->arp_learned, u->n_vips, u->vips_steered,
		u->n_vips - u->vips_steered, u->vip_apply_errors, dp->ul.cluster_mask != 0,
		dp->ul.gw_neigh != UINT32_MAX && neigh_get(dp->neigh, dp->ul.gw_neigh, &ni) == 0 &&
			ni.valid,
		u->n_onlink, u->onlink_added, u->onlink_expired, u->onlink_evicted, u->onlink_refused,
	};
	static const char *const names[] = {
		"arp_tx", "arp_rx", "arp_learned", "vips", "vips_steered", "vips_unsteered",
		"vip_apply_errors", "egress", "gateway_resolved", "onlink_hosts", "onlink_added",
		"onlink_expired", "onlink_evicted", "onlink_refused",
	};
	for (unsigned i = 0; i < sizeof(v) / sizeof(v[0]); i++)
		rte_tel_data_add_dict_u64(d, names[i], v[i]);
	/* the XDP program's verdicts: pass_host is the node kernel's traffic */
	if (xdp_steer_stats(u->xs, &st) == 0)
		for (unsigned r = 0; r < XDP_STEER_REASON_MAX; r++) {
			snprintf(key, sizeof(key), "xdp_%s", xdp_steer_reason_name(r));
			rte_tel_data_add_dict_u64(d, key, st.reason[r].packets);
		}
out:
	pthread_mutex_unlock(&dp->lock);
	return 0;
}
