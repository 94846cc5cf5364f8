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
#include <errno.h>
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

static int dp_tel_ports(const char *cmd, const char *params, struct rte_tel_data *d)
{
	struct dp *dp = dp_tel;
	if (dp == NULL)
		return -ENODEV;
	(void)cmd;
	(void)params;

	rte_tel_data_start_dict(d);
	pthread_mutex_lock(&dp->lock);
	for (unsigned i = 0; i < DP_MAX_PORTS; i++) {
		const struct dp_port *pt = &dp->ports[i];
		if (!pt->used)
			continue;
		struct rte_tel_data *c = rte_tel_data_alloc();
		if (c == NULL)
			break;
		uint64_t rx = 0, tx = 0, txd = 0;
		for (unsigned w = 0; w < dp->n_workers; w++) {
			rx += dp_cnt_get(&dp->lcores[w]->port_rx[pt->port_id]);
			tx += dp_cnt_get(&dp->lcores[w]->port_tx[pt->port_id]);
			txd += dp_cnt_get(&dp->lcores[w]->port_txdrop[pt->port_id]);
		}
		struct rte_eth_stats st;
		memset(&st, 0, sizeof(st));
		rte_eth_stats_get(pt->port_id, &st);
		rte_tel_data_start_dict(c);
		rte_tel_data_add_dict_u64(c, "port_id", pt->port_id);
		rte_tel_data_add_dict_string(c, "type", dp_port_type_names[pt->type]);
		rte_tel_data_add_dict_string(c, "requested_type", dp_port_type_names[pt->params.type]);
		rte_tel_data_add_dict_string(c, "iface", pt->params.iface[0] ? pt->params.iface
							    : pt->params.socket);
		rte_tel_data_add_dict_u64(c, "worker", pt->worker);
		rte_tel_data_add_dict_u64(c, "link_up", pt->link_up);
		rte_tel_data_add_dict_u64(c, "rx", rx);
		rte_tel_data_add_dict_u64(c, "tx", tx);
		rte_tel_data_add_dict_u64(c, "tx_dropped", txd);
		rte_tel_data_add_dict_u64(c, "pmd_ipackets", st.ipackets);
		rte_tel_data_add_dict_u64(c, "pmd_opackets", st.opackets);
		rte_tel_data_add_dict_u64(c, "pmd_imissed", st.imissed);
		rte_tel_data_add_dict_u64(c, "pmd_oerrors", st.oerrors);
		rte_tel_data_add_dict_container(d, pt->name, c, 0);
	}
	pthread_mutex_unlock(&dp->lock);
	return 0;
}

struct dp_tel_walk {
	struct dp *dp;
	struct rte_tel_data *d;
	unsigned n;
};

static int dp_tel_pod(const struct tbl_pod *p, void *arg)
{
	struct dp_tel_walk *w = arg;
	char ip[16], mac[18];
	const uint8_t *b = (const uint8_t *)&p->ip;

	/* rte_telemetry dicts hold at most RTE_TEL_MAX_DICT_ENTRIES */
	if (++w->n >= RTE_TEL_MAX_DICT_ENTRIES)
		return 1;
	struct rte_tel_data *c = rte_tel_data_alloc();
	if (c == NULL)
		return 1;
	snprintf(ip, sizeof(ip), "%u.%u.%u.%u", b[0], b[1], b[2], b[3]);
	snprintf(mac, sizeof(mac), "%02x:%02x:%02x:%02x:%02x:%02x", p->mac[0], p->mac[1],
		 p->mac[2], p->mac[3], p->mac[4], p->mac[5]);
	const char *port = "?";
	for (unsigned i = 0; i < DP_MAX_PORTS; i++)
		if (w->dp->ports[i].used && w->dp->ports[i].port_id == p->port_id)
			port = w->dp->ports[i].name;
	rte_tel_data_start_dict(c);
	rte_tel_data_add_dict_string(c, "mac", mac);
	rte_tel_data_add_dict_string(c, "port", port);
	rte_tel_data_add_dict_u64(c, "gen", p->gen);
	rte_tel_data_add_dict_container(w->d, ip, c, 0);
	return 0;
}

static int dp_tel_pods(const char *cmd, const char *params, struct rte_tel_data *d)
{
	struct dp_tel_walk w = { .dp = dp_tel, .d = d };
	if (w.dp == NULL)
		return -ENODEV;
	(void)cmd;
	(void)params;

	rte_tel_data_start_dict(d);
	pthread_mutex_lock(&w.dp->lock);
	rte_tel_data_add_dict_u64(d, "count", tbl_pod_count(w.dp->tbl));
	rte_tel_data_add_dict_u64(d, "routes", tbl_route_count(w.dp->tbl));
	tbl_pod_walk(w.dp->tbl, dp_tel_pod, &w);
	pthread_mutex_unlock(&w.dp->lock);
	return 0;
}

int dp_telemetry_register(struct dp *dp)
{
	if (dp_tel != NULL)
		return -EEXIST;
	dp_tel = dp;
	if (rte_telemetry_register_cmd("/sluice/stats", dp_tel_stats,
				       "Counters summed over workers: events and drop_<reason>") ||
	    rte_telemetry_register_cmd("/sluice/ports", dp_tel_ports,
				       "Per port: type, link, dp and PMD counters") ||
	    rte_telemetry_register_cmd("/sluice/pods", dp_tel_pods,
				       "Pod table: ip -> mac, port, generation (first 255)"))
		return -EINVAL;
	return 0;
}

void dp_telemetry_unregister(struct dp *dp)
{
	if (dp_tel == dp)
		dp_tel = NULL;
}
