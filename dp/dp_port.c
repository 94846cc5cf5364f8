/*
 * dp ports: every port is a vdev created at runtime with rte_dev_probe()
 * and removed with rte_eal_hotplug_remove(), so the config loader and
 * the ring consumer attach and detach ports through the same two calls
 * while workers run.
 *
 * A port's rx queues are all polled by one worker: one queue, except tap
 * and af_packet, which get one per worker because the kernel spreads
 * flows over them. Every port has one tx queue per worker (each worker
 * transmits on its own queue, so tx needs no lock).
 */
#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <rte_bus_vdev.h>
#include <rte_dev.h>
#include <rte_ethdev.h>
#include <rte_log.h>

#include "dp_internal.h"

#define DP_NB_RXD 1024
#define DP_NB_TXD 1024

struct dp_port *dp_port_by_name(struct dp *dp, const char *name)
{
	if (name == NULL)
		return NULL;
	for (unsigned i = 0; i < DP_MAX_PORTS; i++)
		if (dp->ports[i].used && strcmp(dp->ports[i].name, name) == 0)
			return &dp->ports[i];
	return NULL;
}

/* vdev name and devargs for @type. Driver names are prefixes of the vdev
 * name, so "net_af_xdp_p1" binds the af_xdp driver. */
static int dp_port_devargs(const struct dp *dp, const struct dp_port_params *p,
			   enum dp_port_type type, char *dev, size_t devlen, char *args,
			   size_t arglen, const char *prog)
{
	int n;
	unsigned nq = dp->n_workers ? dp->n_workers : 1;

	switch (type) {
	case DP_PORT_UPLINK:
		/* The shared uplink: the PMD loads our steering program instead
		 * of libxdp's redirect-everything default, so the host keeps
		 * every frame that is not sluice traffic (docs/multinode.md). */
		snprintf(dev, devlen, "net_af_xdp_%s", p->name);
		n = snprintf(args, arglen, "%s,iface=%s,start_queue=0,queue_count=1,busy_budget=0,"
			     "xdp_prog=%s", dev, p->iface, prog);
		break;
	case DP_PORT_AF_XDP:
		snprintf(dev, devlen, "net_af_xdp_%s", p->name);
		/* busy_budget=0: preferred busy polling needs NAPI tuning a
		 * veth does not have; plain polling works everywhere. */
		n = snprintf(args, arglen, "%s,iface=%s,start_queue=0,queue_count=1,busy_budget=0",
			     dev, p->iface);
		break;
	case DP_PORT_AF_PACKET:
		snprintf(dev, devlen, "net_af_packet_%s", p->name);
		n = snprintf(args, arglen, "%s,iface=%s,qpairs=%u", dev, p->iface, nq);
		break;
	case DP_PORT_MEMIF:
		snprintf(dev, devlen, "net_memif_%s", p->name);
		/* socket-abstract=no: a filesystem socket other tools can find */
		n = snprintf(args, arglen, "%s,role=%s,socket=%s,id=%u,socket-abstract=no", dev,
			     p->memif_server ? "server" : "client", p->socket, p->memif_id);
		break;
	case DP_PORT_TAP:
		snprintf(dev, devlen, "net_tap_%s", p->name);
		n = snprintf(args, arglen, "%s,iface=%s", dev, p->iface);
		break;
	case DP_PORT_VHOST_USER:
		snprintf(dev, devlen, "net_vhost_%s", p->name);
		n = snprintf(args, arglen, "%s,iface=%s,queues=%u,client=%d", dev, p->socket, nq,
			     p->vhost_client);
		break;
	default:
		return -EINVAL;
	}
	return n < 0 || (size_t)n >= arglen ? -ENAMETOOLONG : 0;
}

/* Read the kernel netdev's MAC: frames dp sends to the host must carry it. */
static int dp_port_kernel_mac(const char *iface, uint8_t mac[6])
{
	char path[64];
	unsigned b[6];
	snprintf(path, sizeof(path), "/sys/class/net/%s/address", iface);
	FILE *f = fopen(path, "r");
	if (f == NULL)
		return -errno;
	int n = fscanf(f, "%x:%x:%x:%x:%x:%x", &b[0], &b[1], &b[2], &b[3], &b[4], &b[5]);
	fclose(f);
	if (n != 6)
		return -EINVAL;
	for (int i = 0; i < 6; i++)
		mac[i] = (uint8_t)b[i];
	return 0;
}

/* The kernel netdev's MTU; *mtu unchanged if unreadable or implausible. */
static void dp_port_kernel_mtu(const char *iface, uint16_t *mtu)
{
	char path[64];
	unsigned v = 0;
	snprintf(path, sizeof(path), "/sys/class/net/%s/mtu", iface);
	FILE *f = fopen(path, "r");
	if (f == NULL)
		return;
	if (fscanf(f, "%u", &v) == 1 && v >= 576 && v <= 65535)
		*mtu = (uint16_t)v;
	fclose(f);
}

static void dp_port_remove(const char *dev, uint16_t port_id, int started)
{
	if (started)
		rte_eth_dev_stop(port_id);
	rte_eth_dev_close(port_id);
	rte_eal_hotplug_remove("vdev", dev);
}

/* The pool of group @g, created on first use (dp_internal.h,
 * DP_POOL_GROUP). NULL and rte_errno set if memory is short. */
static struct rte_mempool *dp_port_group_pool(struct dp *dp, unsigned g)
{
	char name[RTE_MEMPOOL_NAMESIZE];

	if (g < dp->n_xdp_pools)
		return dp->xdp_pool[g];
	snprintf(name, sizeof(name), "dp_xdp%u", g);
	struct rte_mempool *mp = rte_pktmbuf_pool_create(name, DP_POOL_MBUFS, 256, 0,
							 RTE_MBUF_DEFAULT_BUF_SIZE,
							 (int)rte_socket_id());
	if (mp != NULL)
		dp->xdp_pool[dp->n_xdp_pools++] = mp;
	return mp;
}

/* Probe, configure and start one port of @type. */
static int dp_port_bringup(struct dp *dp, const struct dp_port_params *p, enum dp_port_type type,
			   struct dp_port *pt, char *err, size_t errlen)
{
	char args[512];
	char prog[128] = "";
	uint16_t pid;
	int rc;
	int started = 0;
	uint16_t nrxd = DP_NB_RXD, ntxd = DP_NB_TXD;
	unsigned nq = dp->n_workers ? dp->n_workers : 1;
	const char *what = p->iface[0] ? p->iface : p->socket;

	if (type == DP_PORT_UPLINK && (rc = dp_uplink_prog_file(prog, sizeof(prog))) != 0) {
		snprintf(err, errlen, "port %s: cannot write the XDP object %s: %s", p->name, prog,
			 strerror(-rc));
		return rc;
	}
	rc = dp_port_devargs(dp, p, type, pt->devname, sizeof(pt->devname), args, sizeof(args),
			     prog);
	if (rc != 0) {
		snprintf(err, errlen, "port %s: devargs too long", p->name);
		if (prog[0] != '\0')
			unlink(prog);
		return rc;
	}
	/* Every port is an ethdev: past the DPDK build's table the probe
	 * fails with a generic log line, so say which limit was hit. */
	if (rte_eth_dev_count_total() >= RTE_MAX_ETHPORTS) {
		snprintf(err, errlen, "port %s: all %d ethdev ports of this DPDK build are in use "
			 "(RTE_MAX_ETHPORTS; dp holds up to %d)", p->name, RTE_MAX_ETHPORTS,
			 DP_MAX_PORTS);
		if (prog[0] != '\0')
			unlink(prog);
		return -ENOSPC;
	}
	rc = rte_dev_probe(args);
	if (rc != 0) {
		/* PMD probe functions mostly return -1, so rc is no errno */
		snprintf(err, errlen, "port %s (%s %s): the %s PMD refused the device (see its log "
			 "line above)", p->name, dp_port_type_names[type], what, pt->devname);
		rte_eal_hotplug_remove("vdev", pt->devname);
		if (prog[0] != '\0')
			unlink(prog);
		return rc;
	}
	rc = rte_eth_dev_get_port_by_name(pt->devname, &pid);
	if (rc != 0) {
		snprintf(err, errlen, "port %s: no ethdev after probe", p->name);
		rte_eal_hotplug_remove("vdev", pt->devname);
		if (prog[0] != '\0')
			unlink(prog);
		return -ENODEV;
	}
	if (pid >= DP_MAX_PORTS) {
		snprintf(err, errlen, "port %s: port id %u beyond %d", p->name, pid, DP_MAX_PORTS);
		rc = -ENOSPC;
		goto fail;
	}
	/* Each worker transmits on its own queue (no tx lock): a port that
	 * cannot offer one per worker cannot be used with this many workers. */
	struct rte_eth_dev_info info;
	if (rte_eth_dev_info_get(pid, &info) == 0 && info.max_tx_queues < nq) {
		snprintf(err, errlen, "port %s (%s %s): needs %u tx queues (one per worker), the "
			 "PMD offers %u; run fewer workers", p->name, dp_port_type_names[type], what,
			 nq, info.max_tx_queues);
		rc = -EINVAL;
		goto fail;
	}
	/* af_xdp: the first pool group with room (dp_internal.h). */
	struct rte_mempool *mp = dp->mp;
	pt->pool = -1;
	if (type == DP_PORT_AF_XDP || type == DP_PORT_UPLINK) {
		unsigned g = 0;
		while (g < dp->n_xdp_pools && dp->xdp_pool_users[g] >= DP_POOL_GROUP)
			g++;
		mp = g < DP_MAX_POOLS ? dp_port_group_pool(dp, g) : NULL;
		if (mp == NULL) {
			snprintf(err, errlen, "port %s: no memory for another af_xdp mbuf pool "
				 "(%u mbufs, %u in use)", p->name, DP_POOL_MBUFS, dp->n_xdp_pools);
			rc = -ENOMEM;
			goto fail;
		}
		pt->pool = (int)g;
	}
	struct rte_eth_conf conf;
	memset(&conf, 0, sizeof(conf));
	const char *step = "configure";
	/* tap insists on rx == tx queues, and af_packet's qpairs sockets share
	 * a fanout group: the kernel spreads flows over all of them, so both
	 * get one rx queue per worker, all polled by the port's worker. */
	uint16_t nrxq = type == DP_PORT_TAP || type == DP_PORT_AF_PACKET ? (uint16_t)nq : 1;
	rc = rte_eth_dev_configure(pid, nrxq, (uint16_t)nq, &conf);
	if (rc == 0) {
		step = "descriptors";
		rc = rte_eth_dev_adjust_nb_rx_tx_desc(pid, &nrxd, &ntxd);
	}
	for (uint16_t q = 0; rc == 0 && q < nrxq; q++) {
		step = "rx queue";
		rc = rte_eth_rx_queue_setup(pid, q, nrxd, rte_socket_id(), NULL, mp);
	}
	for (unsigned q = 0; rc == 0 && q < nq; q++) {
		step = "tx queue";
		rc = rte_eth_tx_queue_setup(pid, (uint16_t)q, ntxd, rte_socket_id(), NULL);
	}
	if (rc == 0) {
		step = "start";
		rc = rte_eth_dev_start(pid);
		started = rc == 0;
	}
	if (rc != 0) {
		snprintf(err, errlen, "port %s (%s %s): %s failed: %s", p->name,
			 dp_port_type_names[type], what, step, strerror(rc < 0 ? -rc : rc));
		goto fail;
	}
	/* Frames arrive addressed to the gateway MAC, not the port's own. */
	rte_eth_promiscuous_enable(pid);
	/* Workers compare against it before this port is reachable. */
	uint16_t mtu = 0;
	if (rte_eth_dev_get_mtu(pid, &mtu) != 0 || mtu < 576)
		mtu = RTE_ETHER_MTU;
	/* The uplink's MTU is the kernel netdev's (the PMD reports 1500). */
	if (type == DP_PORT_UPLINK)
		dp_port_kernel_mtu(p->iface, &mtu);
	dp->port_mtu[pid] = mtu;
	/* dp sends from and accepts the gateway MAC on pod and host ports,
	 * the kernel's MAC on the uplink (shared with the node). */
	memcpy(dp->port_mac[pid], dp->gw_mac, 6);
	pt->port_id = pid;
	pt->nb_rxq = nrxq;
	pt->type = type;
	if (type == DP_PORT_UPLINK) {
		if (prog[0] != '\0')
			unlink(prog);
		prog[0] = '\0';
		rc = dp_port_kernel_mac(p->iface, pt->mac);
		if (rc != 0) {
			snprintf(err, errlen, "port %s: cannot read MAC of uplink %s: %s", p->name,
				 p->iface, strerror(-rc));
			goto fail;
		}
		memcpy(dp->port_mac[pid], pt->mac, 6);
	}
	if (type == DP_PORT_TAP) {
		rc = dp_port_kernel_mac(p->iface, pt->mac);
		if (rc != 0) {
			snprintf(err, errlen, "port %s: cannot read MAC of tap %s: %s", p->name,
				 p->iface, strerror(-rc));
			goto fail;
		}
	}
	return 0;
fail:
	dp_port_remove(pt->devname, pid, started);
	if (prog[0] != '\0')
		unlink(prog);
	return rc < 0 ? rc : -rc;
}

int dp_port_attach(struct dp *dp, const struct dp_port_params *p, uint16_t *port_id,
		   char *err, size_t errlen)
{
	char tmp[256];
	struct dp_port *pt = NULL;
	int rc;

	if (err == NULL || errlen == 0) {
		err = tmp;
		errlen = sizeof(tmp);
	}
	err[0] = '\0';
	if (p == NULL || p->type >= DP_PORT_TYPE_MAX || p->name[0] == '\0' ||
	    memchr(p->name, '\0', sizeof(p->name)) == NULL) {
		snprintf(err, errlen, "port: invalid parameters");
		return -EINVAL;
	}
	/* A missing netdev is the common mistake: say so plainly. The tap
	 * netdev is the exception, dp creates it. */
	if (p->iface[0] != '\0' && p->type != DP_PORT_TAP) {
		char path[64];
		snprintf(path, sizeof(path), "/sys/class/net/%s", p->iface);
		if (access(path, F_OK) != 0) {
			snprintf(err, errlen, "port %s (%s): no such network interface %s in this "
				 "netns", p->name, dp_port_type_names[p->type], p->iface);
			return -ENODEV;
		}
	}
	pthread_mutex_lock(&dp->lock);
	if (dp_port_by_name(dp, p->name) != NULL) {
		snprintf(err, errlen, "port %s: name in use", p->name);
		rc = -EEXIST;
		goto out;
	}
	for (unsigned i = 0; i < DP_MAX_PORTS && pt == NULL; i++)
		if (!dp->ports[i].used)
			pt = &dp->ports[i];
	if (pt == NULL) {
		snprintf(err, errlen, "port %s: too many ports", p->name);
		rc = -ENOSPC;
		goto out;
	}
	memset(pt, 0, sizeof(*pt));
	rc = dp_port_bringup(dp, p, p->type, pt, err, errlen);
	if (rc != 0 && rc != -ENOSPC && p->type == DP_PORT_AF_XDP) {
		/* The kernel refused XDP (no bpffs, no XDP on this netdev,
		 * old kernel): AF_PACKET on the same iface still works. */
		char first[256];
		snprintf(first, sizeof(first), "%s", err);
		rc = dp_port_bringup(dp, p, DP_PORT_AF_PACKET, pt, err, errlen);
		if (rc == 0)
			RTE_LOG(WARNING, USER1, "sluice-dp: %s; falling back to af_packet\n", first);
		else
			snprintf(err, errlen, "%s; af_packet fallback failed too", first);
	}
	if (rc != 0)
		goto out;
	/* the af_packet fallback set pool back to -1 */
	if (pt->pool >= 0)
		dp->xdp_pool_users[pt->pool]++;
	snprintf(pt->name, sizeof(pt->name), "%s", p->name);
	pt->params = *p;
	/* No worker polls or sends on this port id yet: the sums are stable. */
	pt->base_rx = dp_port_sum(dp, offsetof(struct fwd_lcore, port_rx), pt->port_id);
	pt->base_tx = dp_port_sum(dp, offsetof(struct fwd_lcore, port_tx), pt->port_id);
	pt->base_txdrop = dp_port_sum(dp, offsetof(struct fwd_lcore, port_txdrop), pt->port_id);
	pt->used = 1;
	dp->port_is_tap[pt->port_id] = pt->type == DP_PORT_TAP;
	/* least-loaded worker polls the new rx queue */
	unsigned load[DP_MAX_WORKERS] = { 0 };
	for (unsigned i = 0; i < DP_MAX_PORTS; i++)
		if (dp->ports[i].used && &dp->ports[i] != pt)
			load[dp->ports[i].worker]++;
	pt->worker = 0;
	for (unsigned w = 1; w < dp->n_workers; w++)
		if (load[w] < load[pt->worker])
			pt->worker = w;
	if (dp->n_workers > 0)
		dp_publish_rx(dp, pt->worker);
	if (port_id != NULL)
		*port_id = pt->port_id;
out:
	pthread_mutex_unlock(&dp->lock);
	return rc;
}

void dp_port_detach_locked(struct dp *dp, struct dp_port *pt)
{
	pt->used = 0;
	if (pt->worker < dp->n_workers)
		dp_publish_rx(dp, pt->worker); /* returns after a grace period */
	dp->port_is_tap[pt->port_id] = 0;
	dp_port_remove(pt->devname, pt->port_id, 1);
	/* The PMD returned the fill ring's mbufs at close; the pool stays
	 * for the next af_xdp port (its mbufs may still sit in other ports'
	 * rings, so it is freed only by dp_free). */
	if (pt->pool >= 0)
		dp->xdp_pool_users[pt->pool]--;
	pt->pool = -1;
}

int dp_port_detach(struct dp *dp, const char *name)
{
	int rc = 0;
	pthread_mutex_lock(&dp->lock);
	struct dp_port *pt = dp_port_by_name(dp, name);
	const struct dp_host *h = dp->host;
	if (pt == NULL)
		rc = -ENOENT;
	else if (tbl_port_refs(dp->tbl, pt->port_id) != 0 || (h->valid && h->port_id == pt->port_id))
		rc = -EBUSY;
	else if (dp->uplink != NULL && dp->ul.port_id == pt->port_id)
		rc = -EBUSY; /* workers compare rx ports with it; set once per dp */
	else
		dp_port_detach_locked(dp, pt);
	pthread_mutex_unlock(&dp->lock);
	return rc;
}
