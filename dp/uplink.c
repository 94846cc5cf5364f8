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

#include <rte_log.h>
#include <rte_malloc.h>

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

struct dp_uplink {
	struct xdp_steer *xs;
	int arp_fd;
	int ifindex;
	uint64_t arp_tx, arp_rx, arp_learned;
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
	uint16_t mtu = dp->port_mtu[pt->port_id];
	dp->ul.encap_mtu = (uint16_t)(mtu > 50 + 68 ? mtu - 50 : 68);
	dp->uplink = u;
	__atomic_store_n(&dp->ul.valid, 1, __ATOMIC_RELEASE);
	goto out;
fail:
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
	/* adopted: left attached, the PMD removes it when the port closes */
	xdp_steer_free(u->xs);
	close(u->arp_fd);
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
	unsigned k = neigh_tick(dp->neigh, now, due, UPLINK_ARP_TX_BUDGET);
	for (unsigned i = 0; i < k; i++)
		dp_uplink_send_arp(dp, u, due[i]);
	pthread_mutex_unlock(&dp->lock);
}
