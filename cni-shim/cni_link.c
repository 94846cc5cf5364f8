/*
 * cni_link: veth creation and pod-side addressing over rtnetlink (see
 * cni_link.h). Every request asks for an ACK so a kernel refusal surfaces
 * as an errno here instead of a half-configured pod.
 */
#include "cni_link.h"

#include <errno.h>
#include <fcntl.h>
#include <ifaddrs.h>
#include <limits.h>
#include <net/if.h>
#include <netinet/in.h>
#include <sched.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/vfs.h>
#include <time.h>
#include <unistd.h>

#include <libmnl/libmnl.h>
#include <linux/ethtool.h>
#include <linux/sockios.h>
#include <linux/if_link.h>
#include <linux/rtnetlink.h>
#include <linux/veth.h>

#ifndef NSFS_MAGIC
#define NSFS_MAGIC 0x6e736673
#endif

enum cni_err cni_link_netns_check(const char *path, struct cni_error *err)
{
	struct statfs sfs;
	if (path == NULL || path[0] != '/')
		return cni_error_set(err, CNI_ERR_INVALID_ENV, "CNI_NETNS must be an absolute path");
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return cni_error_set(err, CNI_ERR_INVALID_ENV, "CNI_NETNS %.200s: %s", path,
				     strerror(errno));
	int rc = fstatfs(fd, &sfs);
	close(fd);
	/* A netns handle is an nsfs inode (a bind mount of /proc/PID/ns/net or the link itself). */
	if (rc != 0 || sfs.f_type != NSFS_MAGIC)
		return cni_error_set(err, CNI_ERR_INVALID_ENV,
				     "CNI_NETNS %.200s is not a network namespace", path);
	return CNI_OK;
}

bool cni_link_netns_is_own(const char *path)
{
	struct stat a, b;
	return stat(path, &a) == 0 && stat("/proc/self/ns/net", &b) == 0 && a.st_dev == b.st_dev &&
	       a.st_ino == b.st_ino;
}

#define CNI_LINK_NO_NETNS INT_MIN

/* Run fn(arg) with the calling thread inside netns_path, then come back.
 * Returns fn's result, or CNI_LINK_NO_NETNS if the netns could not be
 * entered or left. */
static int cni_link_in_netns(const char *netns_path, int (*fn)(void *arg), void *arg)
{
	int self = open("/proc/self/ns/net", O_RDONLY | O_CLOEXEC);
	int target = open(netns_path, O_RDONLY | O_CLOEXEC);
	int rc = CNI_LINK_NO_NETNS;
	if (self >= 0 && target >= 0 && setns(target, CLONE_NEWNET) == 0) {
		rc = fn(arg);
		if (setns(self, CLONE_NEWNET) != 0)
			rc = CNI_LINK_NO_NETNS;
	}
	if (self >= 0)
		close(self);
	if (target >= 0)
		close(target);
	return rc;
}

/* Open a NETLINK_ROUTE socket inside netns_path (NULL: current netns). */
static struct mnl_socket *cni_link_open(const char *netns_path, struct cni_error *err)
{
	int self = -1, target = -1;
	struct mnl_socket *nl = NULL;
	if (netns_path != NULL) {
		self = open("/proc/self/ns/net", O_RDONLY | O_CLOEXEC);
		target = open(netns_path, O_RDONLY | O_CLOEXEC);
		if (self < 0 || target < 0 || setns(target, CLONE_NEWNET) != 0) {
			cni_error_set(err, CNI_ERR_NETNS, "cannot enter %.200s: %s", netns_path,
				      strerror(errno));
			goto out;
		}
	}
	nl = mnl_socket_open(NETLINK_ROUTE);
	if (nl != NULL && mnl_socket_bind(nl, 0, MNL_SOCKET_AUTOPID) < 0) {
		mnl_socket_close(nl);
		nl = NULL;
	}
	if (nl == NULL)
		cni_error_set(err, CNI_ERR_LINK, "netlink socket: %s", strerror(errno));
	/* Back to where we were; failing that, nothing later can be trusted. */
	if (netns_path != NULL && setns(self, CLONE_NEWNET) != 0) {
		if (nl != NULL)
			mnl_socket_close(nl);
		nl = NULL;
		cni_error_set(err, CNI_ERR_NETNS, "cannot return to own netns: %s", strerror(errno));
	}
out:
	if (self >= 0)
		close(self);
	if (target >= 0)
		close(target);
	return nl;
}

/* Send one request and wait for its ACK. Returns 0 or -errno. */
static int cni_link_talk(struct mnl_socket *nl, struct nlmsghdr *nlh)
{
	char buf[MNL_SOCKET_BUFFER_SIZE];
	unsigned seq = (unsigned)time(NULL) ^ (unsigned)getpid();
	nlh->nlmsg_seq = seq;
	nlh->nlmsg_flags |= NLM_F_ACK;
	if (mnl_socket_sendto(nl, nlh, nlh->nlmsg_len) < 0)
		return -errno;
	ssize_t n = mnl_socket_recvfrom(nl, buf, sizeof(buf));
	if (n < 0)
		return -errno;
	if (mnl_cb_run(buf, (size_t)n, seq, mnl_socket_get_portid(nl), NULL, NULL) < 0)
		return -errno;
	return 0;
}

static struct nlmsghdr *cni_link_msg(char *buf, uint16_t type, uint16_t flags)
{
	struct nlmsghdr *nlh = mnl_nlmsg_put_header(buf);
	nlh->nlmsg_type = type;
	nlh->nlmsg_flags = NLM_F_REQUEST | flags;
	return nlh;
}

static int cni_link_set_up(struct mnl_socket *nl, const char *ifname)
{
	char buf[MNL_SOCKET_BUFFER_SIZE];
	struct nlmsghdr *nlh = cni_link_msg(buf, RTM_NEWLINK, 0);
	struct ifinfomsg *ifi = mnl_nlmsg_put_extra_header(nlh, sizeof(*ifi));
	ifi->ifi_family = AF_UNSPEC;
	ifi->ifi_change = IFF_UP;
	ifi->ifi_flags = IFF_UP;
	mnl_attr_put_strz(nlh, IFLA_IFNAME, ifname);
	return cni_link_talk(nl, nlh);
}

static void cni_link_mac(const char *ifname, char out[18])
{
	struct ifreq ifr;
	out[0] = '\0';
	int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return;
	memset(&ifr, 0, sizeof(ifr));
	snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "%s", ifname);
	if (ioctl(fd, SIOCGIFHWADDR, &ifr) == 0) {
		const unsigned char *m = (const unsigned char *)ifr.ifr_hwaddr.sa_data;
		snprintf(out, 18, "%02x:%02x:%02x:%02x:%02x:%02x", m[0], m[1], m[2], m[3], m[4],
			 m[5]);
	}
	close(fd);
}

struct cni_link_mac_arg {
	const char *ifname;
	char *out;
};

static int cni_link_mac_fn(void *arg)
{
	struct cni_link_mac_arg *m = arg;
	cni_link_mac(m->ifname, m->out);
	return 0;
}

/* Read pod_if's MAC from inside netns_path. */
static void cni_link_mac_in(const char *netns_path, const char *ifname, char out[18])
{
	struct cni_link_mac_arg m = { .ifname = ifname, .out = out };
	out[0] = '\0';
	if (cni_link_in_netns(netns_path, cni_link_mac_fn, &m) != 0)
		out[0] = '\0';
}

enum cni_err cni_link_veth_add(const char *netns_path, const char *host_if, const char *pod_if,
			       uint32_t mtu, char host_mac[18], char pod_mac[18],
			       struct cni_error *err)
{
	char buf[MNL_SOCKET_BUFFER_SIZE];
	int nsfd = open(netns_path, O_RDONLY | O_CLOEXEC);
	if (nsfd < 0)
		return cni_error_set(err, CNI_ERR_NETNS, "open %.200s: %s", netns_path,
				     strerror(errno));
	struct mnl_socket *nl = cni_link_open(NULL, err);
	if (nl == NULL) {
		close(nsfd);
		return CNI_ERR_LINK;
	}
	struct nlmsghdr *nlh = cni_link_msg(buf, RTM_NEWLINK, NLM_F_CREATE | NLM_F_EXCL);
	struct ifinfomsg *ifi = mnl_nlmsg_put_extra_header(nlh, sizeof(*ifi));
	ifi->ifi_family = AF_UNSPEC;
	mnl_attr_put_strz(nlh, IFLA_IFNAME, host_if);
	if (mtu)
		mnl_attr_put_u32(nlh, IFLA_MTU, mtu);
	struct nlattr *linkinfo = mnl_attr_nest_start(nlh, IFLA_LINKINFO);
	mnl_attr_put_strz(nlh, IFLA_INFO_KIND, "veth");
	struct nlattr *data = mnl_attr_nest_start(nlh, IFLA_INFO_DATA);
	struct nlattr *peer = mnl_attr_nest_start(nlh, VETH_INFO_PEER);
	/* VETH_INFO_PEER carries a whole ifinfomsg before the peer's attributes. */
	struct ifinfomsg *pifi = mnl_nlmsg_put_extra_header(nlh, sizeof(*pifi));
	pifi->ifi_family = AF_UNSPEC;
	mnl_attr_put_strz(nlh, IFLA_IFNAME, pod_if);
	mnl_attr_put_u32(nlh, IFLA_NET_NS_FD, (uint32_t)nsfd);
	if (mtu)
		mnl_attr_put_u32(nlh, IFLA_MTU, mtu);
	mnl_attr_nest_end(nlh, peer);
	mnl_attr_nest_end(nlh, data);
	mnl_attr_nest_end(nlh, linkinfo);
	int rc = cni_link_talk(nl, nlh);
	close(nsfd);
	if (rc != 0) {
		mnl_socket_close(nl);
		return cni_error_set(err, CNI_ERR_LINK, "create veth %s/%s: %s", host_if, pod_if,
				     strerror(-rc));
	}
	rc = cni_link_set_up(nl, host_if);
	mnl_socket_close(nl);
	if (rc != 0) {
		/* We made the pair: a failure from here on must not leave it behind. */
		cni_link_veth_del(host_if, NULL);
		return cni_error_set(err, CNI_ERR_LINK, "bring up %s: %s", host_if, strerror(-rc));
	}
	cni_link_mac(host_if, host_mac);
	cni_link_mac_in(netns_path, pod_if, pod_mac);
	return CNI_OK;
}

static int cni_link_ifindex_fn(void *arg)
{
	return (int)if_nametoindex(arg);
}

static int cni_link_ifindex_in(const char *netns_path, const char *ifname)
{
	return cni_link_in_netns(netns_path, cni_link_ifindex_fn, (void *)(uintptr_t)ifname);
}

/* sluice-dp forwards frames as they are and does not complete partial L4
 * checksums (CHECKSUM_PARTIAL from a veth peer reaches AF_XDP with the
 * checksum unfilled), so the pod must compute them itself: tx checksum
 * offload off, as `ethtool -K eth0 tx off` does. 0 or -errno. */
static int cni_link_txcsum_fn(void *arg)
{
	struct ethtool_value ev = { .cmd = ETHTOOL_STXCSUM, .data = 0 };
	struct ifreq ifr;
	memset(&ifr, 0, sizeof(ifr));
	snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "%s", (const char *)arg);
	ifr.ifr_data = (void *)&ev;
	int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	int rc = ioctl(fd, SIOCETHTOOL, &ifr) == 0 ? 0 : -errno;
	close(fd);
	return rc;
}

static int cni_link_addr(struct mnl_socket *nl, int ifindex, const struct cni_result_ip *ip)
{
	char buf[MNL_SOCKET_BUFFER_SIZE];
	unsigned char a[16];
	unsigned plen = 0;
	int fam = cni_cidr_parse(ip->address, a, &plen);
	struct nlmsghdr *nlh = cni_link_msg(buf, RTM_NEWADDR, NLM_F_CREATE | NLM_F_REPLACE);
	struct ifaddrmsg *ifa = mnl_nlmsg_put_extra_header(nlh, sizeof(*ifa));
	ifa->ifa_family = fam == 6 ? AF_INET6 : AF_INET;
	ifa->ifa_prefixlen = (unsigned char)plen;
	ifa->ifa_index = (unsigned)ifindex;
	size_t alen = fam == 6 ? 16 : 4;
	mnl_attr_put(nlh, IFA_LOCAL, alen, a);
	mnl_attr_put(nlh, IFA_ADDRESS, alen, a);
	if (fam == 6)
		mnl_attr_put_u32(nlh, IFA_FLAGS, IFA_F_NODAD); /* usable at once, no DAD wait */
	return cni_link_talk(nl, nlh);
}

static int cni_link_route(struct mnl_socket *nl, int ifindex, const struct cni_result_route *rt)
{
	char buf[MNL_SOCKET_BUFFER_SIZE];
	unsigned char dst[16], gw[16];
	unsigned plen = 0;
	int fam = cni_cidr_parse(rt->dst, dst, &plen);
	struct nlmsghdr *nlh = cni_link_msg(buf, RTM_NEWROUTE, NLM_F_CREATE | NLM_F_REPLACE);
	struct rtmsg *rtm = mnl_nlmsg_put_extra_header(nlh, sizeof(*rtm));
	size_t alen = fam == 6 ? 16 : 4;
	rtm->rtm_family = fam == 6 ? AF_INET6 : AF_INET;
	rtm->rtm_dst_len = (unsigned char)plen;
	rtm->rtm_table = rt->table && rt->table < 256 ? (unsigned char)rt->table : RT_TABLE_MAIN;
	rtm->rtm_protocol = RTPROT_BOOT;
	rtm->rtm_type = RTN_UNICAST;
	rtm->rtm_scope = rt->gw[0] ? RT_SCOPE_UNIVERSE : RT_SCOPE_LINK;
	if (rt->scope >= 0)
		rtm->rtm_scope = (unsigned char)rt->scope;
	if (plen > 0)
		mnl_attr_put(nlh, RTA_DST, alen, dst);
	if (rt->gw[0] && cni_ip_parse(rt->gw, gw) == fam) {
		mnl_attr_put(nlh, RTA_GATEWAY, alen, gw);
		/* dp answers ARP for the gateway on the link whatever the subnet (DESIGN.md packet path 1). */
		rtm->rtm_flags |= RTNH_F_ONLINK;
	}
	if (rt->priority)
		mnl_attr_put_u32(nlh, RTA_PRIORITY, rt->priority);
	mnl_attr_put_u32(nlh, RTA_OIF, (uint32_t)ifindex);
	return cni_link_talk(nl, nlh);
}

enum cni_err cni_link_configure(const char *netns_path, const char *pod_if,
				const struct cni_result *r, struct cni_error *err)
{
	int idx = cni_link_ifindex_in(netns_path, pod_if);
	if (idx <= 0)
		return cni_error_set(err, CNI_ERR_LINK, "%s not found in %.200s", pod_if, netns_path);
	struct mnl_socket *nl = cni_link_open(netns_path, err);
	if (nl == NULL)
		return err ? err->code : CNI_ERR_LINK;
	int rc = cni_link_set_up(nl, "lo");
	if (rc == 0)
		rc = cni_link_set_up(nl, pod_if);
	if (rc == 0) {
		int trc = cni_link_in_netns(netns_path, cni_link_txcsum_fn, (void *)(uintptr_t)pod_if);
		if (trc != 0) {
			mnl_socket_close(nl);
			return cni_error_set(err, CNI_ERR_LINK, "turn off tx checksum offload on %s: %s",
					     pod_if,
					     trc == CNI_LINK_NO_NETNS ? "cannot enter the netns"
								      : strerror(-trc));
		}
	}
	for (unsigned i = 0; rc == 0 && i < r->n_ips; i++)
		if ((rc = cni_link_addr(nl, idx, &r->ips[i])) != 0)
			cni_error_set(err, CNI_ERR_LINK, "address %s: %s", r->ips[i].address,
				      strerror(-rc));
	for (unsigned i = 0; rc == 0 && i < r->n_routes; i++)
		if ((rc = cni_link_route(nl, idx, &r->routes[i])) != 0)
			cni_error_set(err, CNI_ERR_LINK, "route %s: %s", r->routes[i].dst,
				      strerror(-rc));
	mnl_socket_close(nl);
	if (rc != 0)
		return err && err->code == CNI_ERR_LINK
			       ? CNI_ERR_LINK
			       : cni_error_set(err, CNI_ERR_LINK, "bring up %s: %s", pod_if,
					       strerror(-rc));
	return CNI_OK;
}

enum cni_err cni_link_veth_del(const char *host_if, struct cni_error *err)
{
	char buf[MNL_SOCKET_BUFFER_SIZE];
	struct mnl_socket *nl = cni_link_open(NULL, err);
	if (nl == NULL)
		return CNI_ERR_LINK;
	struct nlmsghdr *nlh = cni_link_msg(buf, RTM_DELLINK, 0);
	struct ifinfomsg *ifi = mnl_nlmsg_put_extra_header(nlh, sizeof(*ifi));
	ifi->ifi_family = AF_UNSPEC;
	mnl_attr_put_strz(nlh, IFLA_IFNAME, host_if);
	int rc = cni_link_talk(nl, nlh);
	mnl_socket_close(nl);
	if (rc != 0 && rc != -ENODEV)
		return cni_error_set(err, CNI_ERR_LINK, "delete %s: %s", host_if, strerror(-rc));
	return CNI_OK;
}

enum cni_err cni_link_check(const char *netns_path, const char *pod_if, const struct cni_result *r,
			    struct cni_error *err)
{
	int self = open("/proc/self/ns/net", O_RDONLY | O_CLOEXEC);
	int target = open(netns_path, O_RDONLY | O_CLOEXEC);
	struct ifaddrs *ifs = NULL;
	enum cni_err e = CNI_OK;
	if (self < 0 || target < 0 || setns(target, CLONE_NEWNET) != 0) {
		e = cni_error_set(err, CNI_ERR_NETNS, "cannot enter %.200s", netns_path);
		goto out;
	}
	int gi = getifaddrs(&ifs);
	unsigned idx = if_nametoindex(pod_if);
	if (setns(self, CLONE_NEWNET) != 0) {
		e = cni_error_set(err, CNI_ERR_NETNS, "cannot return to own netns");
		goto out;
	}
	if (gi != 0 || idx == 0) {
		e = cni_error_set(err, CNI_ERR_LINK, "%s is missing from %.200s", pod_if, netns_path);
		goto out;
	}
	for (unsigned i = 0; i < r->n_ips; i++) {
		unsigned char want[16];
		unsigned plen;
		int fam = cni_cidr_parse(r->ips[i].address, want, &plen);
		bool found = false;
		for (struct ifaddrs *p = ifs; p != NULL && !found; p = p->ifa_next) {
			if (p->ifa_addr == NULL || strcmp(p->ifa_name, pod_if) != 0)
				continue;
			if (fam == 4 && p->ifa_addr->sa_family == AF_INET)
				found = memcmp(&((struct sockaddr_in *)(void *)p->ifa_addr)->sin_addr,
					       want, 4) == 0;
			else if (fam == 6 && p->ifa_addr->sa_family == AF_INET6)
				found = memcmp(&((struct sockaddr_in6 *)(void *)p->ifa_addr)->sin6_addr,
					       want, 16) == 0;
		}
		if (!found) {
			e = cni_error_set(err, CNI_ERR_LINK, "%s lacks address %s", pod_if,
					  r->ips[i].address);
			goto out;
		}
	}
out:
	if (ifs != NULL)
		freeifaddrs(ifs);
	if (self >= 0)
		close(self);
	if (target >= 0)
		close(target);
	return e;
}
