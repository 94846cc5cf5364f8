/*
 * dp telemetry: /sluice/stats, /sluice/ports and /sluice/pods for
 * rte_telemetry (docs/dp-telemetry.md).
 *
 * rte_telemetry callbacks in DPDK 22.11 take no user pointer, hence the
 * one file-local dp pointer below: a process has one dataplane. The
 * callbacks run on the telemetry thread: counters are read with relaxed
 * atomic loads (the workers' relaxed stores never tear), tables and ports
 * under dp->lock like any control call.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include <rte_ethdev.h>
#include <rte_telemetry.h>

#include "dp_internal.h"

static struct dp *dp_tel;

static int dp_tel_stats(const char *cmd, const char *params, struct rte_tel_data *d)
{
	struct dp *dp = dp_tel;
	char key[64];
	if (dp == NULL)
		return -ENODEV;
	uint64_t total = 0;
	(void)cmd;
	(void)params;

	rte_tel_data_start_dict(d);
	for (unsigned e = 0; e < DP_EV_MAX; e++) {
		uint64_t v = 0;
		for (unsigned w = 0; w < dp->n_workers; w++)
			v += dp_cnt_get(&dp->lcores[w]->ev[e]);
		rte_tel_data_add_dict_u64(d, dp_ev_names[e], v);
	}
	for (unsigned r = 1; r < DP_DROP_MAX; r++) {
		uint64_t v = 0;
		for (unsigned w = 0; w < dp->n_workers; w++)
			v += dp_cnt_get(&dp->lcores[w]->drop[r]);
		snprintf(key, sizeof(key), "drop_%s", dp_drop_names[r]);
		rte_tel_data_add_dict_u64(d, key, v);
		total += v;
	}
	rte_tel_data_add_dict_u64(d, "drop_total", total);
	rte_tel_data_add_dict_u64(d, "workers", dp->n_workers);
	return 0;
}

/*
 * DPDK 22.11 telemetry cannot nest dicts (a container must be an array)
 * and accepts only [A-Za-z0-9_/] in dict keys, so /sluice/ports is one
 * flat dict with "<port>/<field>" keys (port names are [A-Za-z0-9_]) and
 * /sluice/port,<name> gives one port's fields with plain keys.
 */
struct dp_tel_port {
	const char *type, *req_type, *iface;
	uint64_t v[11];
};

static const char *const dp_tel_port_fields[] = {
	"port_id", "worker", "link_up", "rx", "tx", "tx_dropped",
	"pmd_ipackets", "pmd_opackets", "pmd_imissed", "pmd_oerrors", "pmd_rx_nombuf",
};
/* Fields also listed by /sluice/ports; keeps 32 ports under 256 entries. */
#define DP_TEL_PORTS_SHORT 6

static void dp_tel_port_read(const struct dp *dp, const struct dp_port *pt, struct dp_tel_port *o)
{
	uint64_t rx = dp_port_sum(dp, offsetof(struct fwd_lcore, port_rx), pt->port_id) - pt->base_rx;
	uint64_t tx = dp_port_sum(dp, offsetof(struct fwd_lcore, port_tx), pt->port_id) - pt->base_tx;
	uint64_t txd = dp_port_sum(dp, offsetof(struct fwd_lcore, port_txdrop), pt->port_id) -
		       pt->base_txdrop;
	struct rte_eth_stats st;

	memset(&st, 0, sizeof(st));
	rte_eth_stats_get(pt->port_id, &st);
	o->type = dp_port_type_names[pt->type];
	o->req_type = dp_port_type_names[pt->params.type];
	o->iface = pt->params.iface[0] ? pt->params.iface : pt->params.socket;
	uint64_t v[] = { pt->port_id, pt->worker, pt->link_up, rx, tx, txd,
			 st.ipackets, st.opackets, st.imissed, st.oerrors, st.rx_nombuf };
	memcpy(o->v, v, sizeof(o->v));
}

static int dp_tel_ports(const char *cmd, const char *params, struct rte_tel_data *d)
{
	struct dp *dp = dp_tel;
	char key[64];
	if (dp == NULL)
		return -ENODEV;
	(void)cmd;
	(void)params;

	rte_tel_data_start_dict(d);
	pthread_mutex_lock(&dp->lock);
	for (unsigned i = 0; i < DP_MAX_PORTS; i++) {
		const struct dp_port *pt = &dp->ports[i];
		struct dp_tel_port o;
		if (!pt->used)
			continue;
		dp_tel_port_read(dp, pt, &o);
		snprintf(key, sizeof(key), "%s/type", pt->name);
		rte_tel_data_add_dict_string(d, key, o.type);
		for (unsigned f = 1; f < DP_TEL_PORTS_SHORT; f++) {
			snprintf(key, sizeof(key), "%s/%s", pt->name, dp_tel_port_fields[f]);
			rte_tel_data_add_dict_u64(d, key, o.v[f]);
		}
	}
	pthread_mutex_unlock(&dp->lock);
	return 0;
}

static int dp_tel_port(const char *cmd, const char *params, struct rte_tel_data *d)
{
	struct dp *dp = dp_tel;
	int rc = 0;
	if (dp == NULL)
		return -ENODEV;
	(void)cmd;
	if (params == NULL || params[0] == '\0')
		return -EINVAL;
	pthread_mutex_lock(&dp->lock);
	const struct dp_port *pt = dp_port_by_name(dp, params);
	if (pt == NULL) {
		rc = -ENOENT;
	} else {
		struct dp_tel_port o;
		dp_tel_port_read(dp, pt, &o);
		rte_tel_data_start_dict(d);
		rte_tel_data_add_dict_string(d, "name", pt->name);
		rte_tel_data_add_dict_string(d, "type", o.type);
		rte_tel_data_add_dict_string(d, "requested_type", o.req_type);
		rte_tel_data_add_dict_string(d, "iface", o.iface);
		for (unsigned f = 0; f < RTE_DIM(dp_tel_port_fields); f++)
			rte_tel_data_add_dict_u64(d, dp_tel_port_fields[f], o.v[f]);
	}
	pthread_mutex_unlock(&dp->lock);
	return rc;
}

struct dp_tel_walk {
	struct dp *dp;
	struct rte_tel_data *a;   /* array of strings */
	unsigned n;
};

static const char *dp_tel_port_name(const struct dp *dp, uint16_t port_id)
{
	for (unsigned i = 0; i < DP_MAX_PORTS; i++)
		if (dp->ports[i].used && dp->ports[i].port_id == port_id)
			return dp->ports[i].name;
	return "?";
}

static void dp_tel_ip(uint32_t ip, char *buf, size_t len)
{
	const uint8_t *b = (const uint8_t *)&ip;
	snprintf(buf, len, "%u.%u.%u.%u", b[0], b[1], b[2], b[3]);
}

static void dp_tel_mac(const uint8_t *m, char *buf, size_t len)
{
	snprintf(buf, len, "%02x:%02x:%02x:%02x:%02x:%02x", m[0], m[1], m[2], m[3], m[4], m[5]);
}

static int dp_tel_pod(const struct tbl_pod *p, void *arg)
{
	struct dp_tel_walk *w = arg;
	char ip[16], mac[18], val[64];

	/* rte_telemetry arrays hold at most RTE_TEL_MAX_ARRAY_ENTRIES */
	if (++w->n > RTE_TEL_MAX_ARRAY_ENTRIES)
		return 1;
	dp_tel_ip(p->ip, ip, sizeof(ip));
	dp_tel_mac(p->mac, mac, sizeof(mac));
	/* IPs cannot be dict keys (no '.'): one "ip mac port gen" string each */
	snprintf(val, sizeof(val), "%s %s %s %u", ip, mac, dp_tel_port_name(w->dp, p->port_id), p->gen);
	rte_tel_data_add_array_string(w->a, val);
	return 0;
}

static int dp_tel_pods(const char *cmd, const char *params, struct rte_tel_data *d)
{
	struct dp_tel_walk w = { .dp = dp_tel };
	if (w.dp == NULL)
		return -ENODEV;
	(void)cmd;
	(void)params;

	w.a = rte_tel_data_alloc();
	if (w.a == NULL)
		return -ENOMEM;
	rte_tel_data_start_array(w.a, RTE_TEL_STRING_VAL);
	rte_tel_data_start_dict(d);
	pthread_mutex_lock(&w.dp->lock);
	rte_tel_data_add_dict_u64(d, "count", tbl_pod_count(w.dp->tbl));
	rte_tel_data_add_dict_u64(d, "routes", tbl_route_count(w.dp->tbl));
	tbl_pod_walk(w.dp->tbl, dp_tel_pod, &w);
	pthread_mutex_unlock(&w.dp->lock);
	rte_tel_data_add_dict_container(d, "pods", w.a, 0);
	return 0;
}

static int dp_tel_pod_one(const char *cmd, const char *params, struct rte_tel_data *d)
{
	struct dp *dp = dp_tel;
	struct in_addr a;
	char ip[16], mac[18];
	int rc = 0;
	if (dp == NULL)
		return -ENODEV;
	(void)cmd;
	if (params == NULL || inet_pton(AF_INET, params, &a) != 1)
		return -EINVAL;
	pthread_mutex_lock(&dp->lock);
	const struct tbl_pod *p = tbl_pod_find(dp->tbl, a.s_addr);
	if (p == NULL) {
		rc = -ENOENT;
	} else {
		dp_tel_ip(p->ip, ip, sizeof(ip));
		dp_tel_mac(p->mac, mac, sizeof(mac));
		rte_tel_data_start_dict(d);
		rte_tel_data_add_dict_string(d, "ip", ip);
		rte_tel_data_add_dict_string(d, "mac", mac);
		rte_tel_data_add_dict_string(d, "port", dp_tel_port_name(dp, p->port_id));
		rte_tel_data_add_dict_u64(d, "gen", p->gen);
	}
	pthread_mutex_unlock(&dp->lock);
	return rc;
}

static int dp_tel_uplink(const char *cmd, const char *params, struct rte_tel_data *d)
{
	(void)cmd;
	(void)params;
	if (dp_tel == NULL)
		return -ENODEV;
	return dp_uplink_tel(dp_tel, d);
}

int dp_telemetry_register(struct dp *dp)
{
	if (dp_tel != NULL)
		return -EEXIST;
	dp_tel = dp;
	if (rte_telemetry_register_cmd("/sluice/stats", dp_tel_stats,
				       "Counters summed over workers: events and drop_<reason>") ||
	    rte_telemetry_register_cmd("/sluice/ports", dp_tel_ports,
				       "All ports: <port>/type, /worker, /link_up, /rx, /tx, /tx_dropped") ||
	    rte_telemetry_register_cmd("/sluice/port", dp_tel_port,
				       "One port's fields and PMD counters. Parameter: port name") ||
	    rte_telemetry_register_cmd("/sluice/pod", dp_tel_pod_one,
				       "One pod: ip, mac, port, gen. Parameter: pod IPv4") ||
	    rte_telemetry_register_cmd("/sluice/pods", dp_tel_pods,
				       "count, routes, pods: [\"<ip> <mac> <port> <gen>\", ...] (first 512)") ||
	    rte_telemetry_register_cmd("/sluice/uplink", dp_tel_uplink,
				       "Uplink: ARP, steered VIPs, egress, XDP verdicts"))
		return -EINVAL;
	return 0;
}

void dp_telemetry_unregister(struct dp *dp)
{
	if (dp_tel == dp)
		dp_tel = NULL;
}
