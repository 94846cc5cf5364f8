/*
 * sluice-gen: a memif traffic generator for sluice's forwarding benchmarks.
 *
 * It sends Ethernet/IPv4/UDP frames on one port at a fixed rate or as fast
 * as it can, receives on another (or the same) port, and measures one-way
 * latency through the device under test by stamping each frame with the
 * TSC and a sequence number (see gen_pkt.h). Both ports belong to this
 * process, so tx and rx read the same TSC and no clock sync is needed.
 *
 * Threads: the main lcore only reports (once a second, then a final
 * summary) and otherwise sleeps, so printing never sits in a polling loop.
 * With one worker lcore that worker both sends and receives; with two or
 * more, the first sends and the second receives. Each worker owns its
 * counters and publishes them with relaxed atomic stores for the reporter.
 *
 * Loss is what was sent and never came back after a drain period;
 * reordering is a sequence number lower than the last one seen on the
 * same flow (flows are never reordered by an RSS-respecting forwarder).
 */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <rte_common.h>
#include <rte_cycles.h>
#include <rte_eal.h>
#include <rte_ethdev.h>
#include <rte_launch.h>
#include <rte_lcore.h>
#include <rte_mbuf.h>
#include <rte_mempool.h>
#include <rte_pause.h>

#include "gen_lat.h"
#include "gen_pkt.h"

#define GEN_BURST_MAX   256u
#define GEN_NB_MBUF     16383u
#define GEN_MBUF_CACHE  256u
#define GEN_NB_DESC     1024u

struct gen_opts {
	double rate_pps;        /* 0 = as fast as possible */
	double duration_s;
	uint16_t frame_size;    /* with FCS, as quoted in benchmarks */
	uint16_t tx_port;
	uint16_t rx_port;
	uint16_t burst;
	unsigned int drain_ms;
	unsigned int link_wait_s;
	int have_src_mac;
	int no_tx;
	int once; /* send each flow exactly once, then stop */
	struct gen_pkt_params pkt;
};

struct gen_tx_stats {
	uint64_t pkts;          /* accepted by the port */
	uint64_t full;          /* generated, refused by a full tx ring, freed */
	uint64_t nombuf;
	uint64_t start_tsc;
	uint64_t end_tsc;
} __rte_cache_aligned;

struct gen_rx_stats {
	uint64_t pkts;          /* every frame received */
	uint64_t stamped;       /* ours: counted for loss and latency */
	uint64_t foreign;       /* not ours (ARP, stale runs, anything else) */
	uint64_t reordered;
	uint64_t dup;
} __rte_cache_aligned;

struct gen_ctx {
	struct gen_opts o;
	struct rte_mempool *pool;
	struct gen_lat *lat;
	struct gen_tx_stats tx;
	struct gen_rx_stats rx;
	uint32_t *last_seq;     /* per flow, rx lcore only */
	uint8_t *seen;          /* per flow, rx lcore only */
	uint8_t tmpl[GEN_PKT_MAX_LEN];
	uint64_t ns_mul;        /* ns = (cycles * ns_mul) >> 20 */
	uint64_t max_lat_cycles;
	unsigned int tx_lcore;
	unsigned int rx_lcore;
	int stop_tx;            /* set by main, read by workers */
	int stop_rx;
};

static volatile sig_atomic_t gen_interrupted;

static void
gen_on_signal(int sig)
{
	(void)sig;
	gen_interrupted = 1;
}

#define GEN_PUB(field, val) __atomic_store_n(&(field), (val), __ATOMIC_RELAXED)
#define GEN_GET(field)      __atomic_load_n(&(field), __ATOMIC_RELAXED)

/* Send one burst if the rate allows it; returns the number sent. */
static unsigned int
gen_tx_once(struct gen_ctx *c, uint32_t *seq, uint32_t *flow, double pps_per_cycle)
{
	struct rte_mbuf *m[GEN_BURST_MAX];
	struct gen_pkt_stamp st;
	unsigned int n = c->o.burst, i, sent;
	uint64_t now = rte_rdtsc();

	if (pps_per_cycle > 0) {
		/* Packets owed since start; refused ones count as generated so a
		 * full ring cannot make us burst above the rate later. */
		uint64_t owed = (uint64_t)((double)(now - c->tx.start_tsc) * pps_per_cycle);
		uint64_t done = c->tx.pkts + c->tx.full;

		if (owed <= done)
			return 0;
		if (owed - done < n)
			n = (unsigned int)(owed - done);
	}
	if (c->o.once) {
		uint64_t left = c->o.pkt.flows - c->tx.pkts;
		if (left == 0)
			return 0;
		if (left < n)
			n = (unsigned int)left;
	}
	if (rte_pktmbuf_alloc_bulk(c->pool, m, n) != 0) {
		GEN_PUB(c->tx.nombuf, c->tx.nombuf + 1);
		return 0;
	}
	st.tsc = now;
	for (i = 0; i < n; i++) {
		uint8_t *d = rte_pktmbuf_mtod(m[i], uint8_t *);

		memcpy(d, c->tmpl, c->o.pkt.len);
		st.seq = (*seq)++;
		st.flow = (uint16_t)*flow;
		if (++*flow == c->o.pkt.flows)
			*flow = 0;
		gen_pkt_stamp_frame(&c->o.pkt, d, &st);
		m[i]->data_len = c->o.pkt.len;
		m[i]->pkt_len = c->o.pkt.len;
	}
	sent = rte_eth_tx_burst(c->o.tx_port, 0, m, (uint16_t)n);
	if (sent < n) {
		rte_pktmbuf_free_bulk(&m[sent], n - sent);
		if (c->o.once) {
			/* every flow must go out once: send the refused again */
			*seq -= n - sent;
			*flow = (*flow + c->o.pkt.flows - (n - sent)) % c->o.pkt.flows;
		} else {
			GEN_PUB(c->tx.full, c->tx.full + (n - sent));
		}
	}
	GEN_PUB(c->tx.pkts, c->tx.pkts + sent);
	return sent;
}

/* Receive one burst, check stamps, record latency and order. */
static unsigned int
gen_rx_once(struct gen_ctx *c)
{
	struct rte_mbuf *m[GEN_BURST_MAX];
	uint64_t lat[GEN_BURST_MAX];
	unsigned int n, i, nlat = 0;
	uint64_t now, reord = 0, dup = 0;

	n = rte_eth_rx_burst(c->o.rx_port, 0, m, c->o.burst);
	if (n == 0)
		return 0;
	now = rte_rdtsc();
	for (i = 0; i < n; i++) {
		struct gen_pkt_stamp st;
		uint64_t cyc;
		uint32_t f;

		if (m[i]->nb_segs != 1 ||
		    gen_pkt_read_stamp(rte_pktmbuf_mtod(m[i], const uint8_t *),
				       m[i]->data_len, c->o.pkt.magic, &st) != 0 ||
		    st.flow >= c->o.pkt.flows)
			continue;
		/* A stamp from the future or from long ago is corrupt, not late. */
		cyc = now - st.tsc;
		if (st.tsc > now || cyc > c->max_lat_cycles)
			cyc = c->max_lat_cycles;
		lat[nlat++] = (cyc * c->ns_mul) >> 20;
		f = st.flow;
		if (c->seen[f]) {
			int32_t d = (int32_t)(st.seq - c->last_seq[f]);

			if (d < 0) {
				reord++;
				continue; /* keep last_seq at the high-water mark */
			}
			if (d == 0) {
				dup++;
				continue;
			}
		}
		c->seen[f] = 1;
		c->last_seq[f] = st.seq;
	}
	rte_pktmbuf_free_bulk(m, n);
	gen_lat_record_burst(c->lat, lat, nlat);
	GEN_PUB(c->rx.pkts, c->rx.pkts + n);
	GEN_PUB(c->rx.stamped, c->rx.stamped + nlat);
	GEN_PUB(c->rx.foreign, c->rx.foreign + (n - nlat));
	if (reord)
		GEN_PUB(c->rx.reordered, c->rx.reordered + reord);
	if (dup)
		GEN_PUB(c->rx.dup, c->rx.dup + dup);
	return n;
}

static int
gen_worker(void *arg)
{
	struct gen_ctx *c = arg;
	unsigned int me = rte_lcore_id();
	int do_tx = (me == c->tx_lcore) && !c->o.no_tx;
	int do_rx = (me == c->rx_lcore);
	double ppc = c->o.rate_pps / (double)rte_get_tsc_hz();
	uint32_t seq = 0, flow = 0;

	if (do_tx)
		GEN_PUB(c->tx.start_tsc, rte_rdtsc());
	for (;;) {
		int stx = __atomic_load_n(&c->stop_tx, __ATOMIC_ACQUIRE);
		unsigned int work = 0;

		if (do_tx && stx) {
			GEN_PUB(c->tx.end_tsc, rte_rdtsc());
			do_tx = 0;
		}
		if (!do_rx && !do_tx)
			break;
		if (do_rx && __atomic_load_n(&c->stop_rx, __ATOMIC_ACQUIRE))
			break;
		if (do_tx)
			work += gen_tx_once(c, &seq, &flow, ppc);
		if (do_rx)
			work += gen_rx_once(c);
		if (work == 0)
			rte_pause();
	}
	return 0;
}

static void
gen_usage(const char *prog)
{
	printf("Usage: %s [EAL options] -- [options]\n"
	       "Send UDP frames over one DPDK port (normally a memif vdev), receive on\n"
	       "another, and report rates, loss, reordering and latency.\n\n"
	       "EAL: give one or two --vdev=net_memifN,role=client|server,socket=PATH,...\n"
	       "and at least two lcores: the main lcore only reports; one worker sends\n"
	       "and receives, or two workers split tx and rx. Example:\n"
	       "  %s --lcores 0@0,1@0 --file-prefix gen --no-pci \\\n"
	       "     --vdev=net_memif0,role=client,socket=/tmp/a.sock,socket-abstract=no \\\n"
	       "     --vdev=net_memif1,role=client,socket=/tmp/b.sock,socket-abstract=no \\\n"
	       "     -- --tx-port 0 --rx-port 1 --rate 1M --size 64 --flows 16\n\n"
	       "Options:\n"
	       "  --rate R          packets/s, with optional k/M/G suffix; 0 or 'max' = as fast as possible (default max)\n"
	       "  --size B          frame size in bytes including the 4-byte FCS, 64..1518 (default 64)\n"
	       "  --flows N         number of flows, 1..65536 (default 1)\n"
	       "  --vary port|ip|both|spread  what a flow changes: UDP source port (default), IPv4\n"
	       "                    source, both (ip + i %% 256, port + i / 256), or spread (ip + i %% 256,\n"
	       "                    port scattered over sport..65535 by a hash of i, like ephemeral ports)\n"
	       "  --duration S      seconds of tx (default 10)\n"
	       "  --tx-port P       port to send on (default 0)\n"
	       "  --rx-port P       port to receive on (default: the tx port)\n"
	       "  --no-tx           receive only\n"
	       "  --once            send each flow exactly once (a refused frame is sent again),\n"
	       "                    then stop; --duration caps it (new-flow benchmarks)\n"
	       "  --burst N         burst size, 1..%u (default 32)\n"
	       "  --src-mac M / --dst-mac M   Ethernet addresses (default: tx port MAC / 02:00:00:00:00:01)\n"
	       "  --src-ip A / --dst-ip A     IPv4 addresses (default 10.0.0.1 / 10.0.0.2)\n"
	       "  --sport N / --dport N       UDP ports (default 1024 / 5001)\n"
	       "  --drain-ms N      wait this long for in-flight frames after tx stops (default 500)\n"
	       "  --link-wait S     wait up to S seconds for the ports' links (default 15)\n"
	       "  --help            this text\n\n"
	       "Output: one line per second, a final summary, and a last line\n"
	       "'RESULT key=value ...' for scripts. Latency is one-way through the\n"
	       "device under test plus the generator's own rx/tx queueing, in µs.\n",
	       prog, prog, GEN_BURST_MAX);
}

static int
gen_parse_rate(const char *s, double *out)
{
	char *end;
	double v;

	if (strcmp(s, "max") == 0) {
		*out = 0;
		return 0;
	}
	errno = 0;
	v = strtod(s, &end);
	if (errno || end == s || v < 0)
		return -EINVAL;
	switch (*end) {
	case 'k': case 'K': v *= 1e3; end++; break;
	case 'm': case 'M': v *= 1e6; end++; break;
	case 'g': case 'G': v *= 1e9; end++; break;
	default: break;
	}
	if (*end != '\0')
		return -EINVAL;
	*out = v;
	return 0;
}

static int
gen_parse_ulong(const char *s, unsigned long lo, unsigned long hi, unsigned long *out)
{
	char *end;
	unsigned long v;

	errno = 0;
	v = strtoul(s, &end, 0);
	if (errno || end == s || *end != '\0' || v < lo || v > hi)
		return -EINVAL;
	*out = v;
	return 0;
}

static int
gen_parse_ip(const char *s, uint32_t *out)
{
	unsigned int a, b, c, d;
	char tail;

	if (sscanf(s, "%u.%u.%u.%u%c", &a, &b, &c, &d, &tail) != 4 ||
	    a > 255 || b > 255 || c > 255 || d > 255)
		return -EINVAL;
	*out = (a << 24) | (b << 16) | (c << 8) | d;
	return 0;
}

static int
gen_parse_mac(const char *s, uint8_t *out)
{
	struct rte_ether_addr ea;

	if (rte_ether_unformat_addr(s, &ea) != 0)
		return -EINVAL;
	memcpy(out, ea.addr_bytes, 6);
	return 0;
}

enum {
	GEN_OPT_RATE = 256, GEN_OPT_SIZE, GEN_OPT_FLOWS, GEN_OPT_VARY, GEN_OPT_DURATION,
	GEN_OPT_TXPORT, GEN_OPT_RXPORT, GEN_OPT_NOTX, GEN_OPT_ONCE, GEN_OPT_BURST, GEN_OPT_SRCMAC,
	GEN_OPT_DSTMAC, GEN_OPT_SRCIP, GEN_OPT_DSTIP, GEN_OPT_SPORT, GEN_OPT_DPORT,
	GEN_OPT_DRAIN, GEN_OPT_LINKWAIT, GEN_OPT_HELP,
};

static int
gen_parse_args(int argc, char **argv, struct gen_opts *o)
{
	static const struct option lo[] = {
		{ "rate", required_argument, NULL, GEN_OPT_RATE },
		{ "size", required_argument, NULL, GEN_OPT_SIZE },
		{ "flows", required_argument, NULL, GEN_OPT_FLOWS },
		{ "vary", required_argument, NULL, GEN_OPT_VARY },
		{ "duration", required_argument, NULL, GEN_OPT_DURATION },
		{ "tx-port", required_argument, NULL, GEN_OPT_TXPORT },
		{ "rx-port", required_argument, NULL, GEN_OPT_RXPORT },
		{ "no-tx", no_argument, NULL, GEN_OPT_NOTX },
		{ "once", no_argument, NULL, GEN_OPT_ONCE },
		{ "burst", required_argument, NULL, GEN_OPT_BURST },
		{ "src-mac", required_argument, NULL, GEN_OPT_SRCMAC },
		{ "dst-mac", required_argument, NULL, GEN_OPT_DSTMAC },
		{ "src-ip", required_argument, NULL, GEN_OPT_SRCIP },
		{ "dst-ip", required_argument, NULL, GEN_OPT_DSTIP },
		{ "sport", required_argument, NULL, GEN_OPT_SPORT },
		{ "dport", required_argument, NULL, GEN_OPT_DPORT },
		{ "drain-ms", required_argument, NULL, GEN_OPT_DRAIN },
		{ "link-wait", required_argument, NULL, GEN_OPT_LINKWAIT },
		{ "help", no_argument, NULL, GEN_OPT_HELP },
		{ NULL, 0, NULL, 0 },
	};
	int rx_set = 0, opt;
	unsigned long v;
	double d;

	memset(o, 0, sizeof(*o));
	o->duration_s = 10;
	o->frame_size = 64;
	o->burst = 32;
	o->drain_ms = 500;
	o->link_wait_s = 15;
	o->pkt.flows = 1;
	o->pkt.vary = GEN_PKT_VARY_PORT;
	o->pkt.src_ip = 0x0a000001;
	o->pkt.dst_ip = 0x0a000002;
	o->pkt.sport = 1024;
	o->pkt.dport = 5001;
	gen_parse_mac("02:00:00:00:00:01", o->pkt.dst_mac);

	optind = 1;
	while ((opt = getopt_long(argc, argv, "h", lo, NULL)) != -1) {
		int rc = 0;

		switch (opt) {
		case GEN_OPT_RATE: rc = gen_parse_rate(optarg, &o->rate_pps); break;
		case GEN_OPT_SIZE:
			rc = gen_parse_ulong(optarg, GEN_PKT_MIN_LEN + 4, GEN_PKT_MAX_LEN + 4, &v);
			o->frame_size = (uint16_t)v;
			break;
		case GEN_OPT_FLOWS:
			rc = gen_parse_ulong(optarg, 1, GEN_PKT_MAX_FLOWS, &v);
			o->pkt.flows = (uint32_t)v;
			break;
		case GEN_OPT_VARY:
			if (strcmp(optarg, "port") == 0)
				o->pkt.vary = GEN_PKT_VARY_PORT;
			else if (strcmp(optarg, "ip") == 0)
				o->pkt.vary = GEN_PKT_VARY_IP;
			else if (strcmp(optarg, "both") == 0)
				o->pkt.vary = GEN_PKT_VARY_BOTH;
			else if (strcmp(optarg, "spread") == 0)
				o->pkt.vary = GEN_PKT_VARY_SPREAD;
			else
				rc = -EINVAL;
			break;
		case GEN_OPT_DURATION:
			rc = gen_parse_rate(optarg, &d);
			if (rc == 0 && d <= 0)
				rc = -EINVAL;
			o->duration_s = d;
			break;
		case GEN_OPT_TXPORT:
			rc = gen_parse_ulong(optarg, 0, RTE_MAX_ETHPORTS - 1, &v);
			o->tx_port = (uint16_t)v;
			break;
		case GEN_OPT_RXPORT:
			rc = gen_parse_ulong(optarg, 0, RTE_MAX_ETHPORTS - 1, &v);
			o->rx_port = (uint16_t)v;
			rx_set = 1;
			break;
		case GEN_OPT_NOTX: o->no_tx = 1; break;
		case GEN_OPT_ONCE: o->once = 1; break;
		case GEN_OPT_BURST:
			rc = gen_parse_ulong(optarg, 1, GEN_BURST_MAX, &v);
			o->burst = (uint16_t)v;
			break;
		case GEN_OPT_SRCMAC: rc = gen_parse_mac(optarg, o->pkt.src_mac); o->have_src_mac = 1; break;
		case GEN_OPT_DSTMAC: rc = gen_parse_mac(optarg, o->pkt.dst_mac); break;
		case GEN_OPT_SRCIP: rc = gen_parse_ip(optarg, &o->pkt.src_ip); break;
		case GEN_OPT_DSTIP: rc = gen_parse_ip(optarg, &o->pkt.dst_ip); break;
		case GEN_OPT_SPORT:
			rc = gen_parse_ulong(optarg, 1, 65535, &v);
			o->pkt.sport = (uint16_t)v;
			break;
		case GEN_OPT_DPORT:
			rc = gen_parse_ulong(optarg, 1, 65535, &v);
			o->pkt.dport = (uint16_t)v;
			break;
		case GEN_OPT_DRAIN:
			rc = gen_parse_ulong(optarg, 0, 60000, &v);
			o->drain_ms = (unsigned int)v;
			break;
		case GEN_OPT_LINKWAIT:
			rc = gen_parse_ulong(optarg, 0, 3600, &v);
			o->link_wait_s = (unsigned int)v;
			break;
		case GEN_OPT_HELP: case 'h':
			gen_usage(argv[0]);
			return 1;
		default:
			return -EINVAL;
		}
		if (rc != 0) {
			fprintf(stderr, "sluice-gen: bad value for --%s: %s\n",
				lo[opt - GEN_OPT_RATE].name, optarg);
			return -EINVAL;
		}
	}
	if (optind != argc) {
		fprintf(stderr, "sluice-gen: unexpected argument %s\n", argv[optind]);
		return -EINVAL;
	}
	if (!rx_set)
		o->rx_port = o->tx_port;
	o->pkt.len = (uint16_t)(o->frame_size - 4);
	/* Flows must stay inside the port or address space they vary. */
	if ((o->pkt.vary == GEN_PKT_VARY_PORT && o->pkt.sport + o->pkt.flows - 1 > 65535) ||
	    (o->pkt.vary == GEN_PKT_VARY_BOTH && o->pkt.sport + (o->pkt.flows - 1) / 256 > 65535) ||
	    (o->pkt.vary == GEN_PKT_VARY_SPREAD && o->pkt.sport > 65534)) {
		fprintf(stderr, "sluice-gen: --sport + --flows overflows the UDP port range\n");
		return -EINVAL;
	}
	return 0;
}

static int
gen_port_init(uint16_t port, struct rte_mempool *pool)
{
	struct rte_eth_conf conf;
	int rc;

	memset(&conf, 0, sizeof(conf));
	rc = rte_eth_dev_configure(port, 1, 1, &conf);
	if (rc == 0)
		rc = rte_eth_rx_queue_setup(port, 0, GEN_NB_DESC,
					    (unsigned int)rte_eth_dev_socket_id(port), NULL, pool);
	if (rc == 0)
		rc = rte_eth_tx_queue_setup(port, 0, GEN_NB_DESC,
					    (unsigned int)rte_eth_dev_socket_id(port), NULL);
	if (rc == 0)
		rc = rte_eth_dev_start(port);
	if (rc == 0)
		rc = rte_eth_promiscuous_enable(port);
	/* Virtual ports may not implement promiscuous mode; that is fine. */
	if (rc == -ENOTSUP)
		rc = 0;
	return rc;
}

static int
gen_wait_link(uint16_t port, unsigned int secs)
{
	unsigned int i;

	for (i = 0; i <= secs * 10; i++) {
		struct rte_eth_link link;

		if (rte_eth_link_get_nowait(port, &link) == 0 && link.link_status)
			return 0;
		if (gen_interrupted)
			return -EINTR;
		rte_delay_us_sleep(100000);
	}
	return -ETIMEDOUT;
}

static double
gen_elapsed(uint64_t from, uint64_t to)
{
	return (double)(to - from) / (double)rte_get_tsc_hz();
}

static void
gen_report_line(struct gen_ctx *c, double t, uint64_t dtx, uint64_t drx, double dt,
		struct gen_lat *prev)
{
	struct gen_lat_summary s;

	gen_lat_summarize(c->lat, prev, &s);
	printf("t=%5.1fs tx %8.3f Mpps rx %8.3f Mpps  lat(us) p50 %7.1f p99 %7.1f max %7.1f  "
	       "in-flight/lost %" PRIu64 "\n",
	       t, (double)dtx / dt / 1e6, (double)drx / dt / 1e6, s.p50_us, s.p99_us, s.max_us,
	       GEN_GET(c->tx.pkts) - GEN_GET(c->rx.stamped));
	fflush(stdout);
}

static void
gen_final(struct gen_ctx *c)
{
	struct gen_lat_summary s;
	uint64_t tx = GEN_GET(c->tx.pkts), rx = GEN_GET(c->rx.stamped);
	uint64_t lost = tx > rx ? tx - rx : 0;
	double dur = gen_elapsed(c->tx.start_tsc, c->tx.end_tsc);
	double txm, rxm;

	if (dur <= 0)
		dur = c->o.duration_s;
	txm = (double)tx / dur / 1e6;
	rxm = (double)rx / dur / 1e6;
	gen_lat_summarize(c->lat, NULL, &s);
	printf("\nsluice-gen summary: %.2f s, frame %u B, %u flow(s), rate %s\n",
	       dur, c->o.frame_size, c->o.pkt.flows, c->o.rate_pps > 0 ? "fixed" : "max");
	printf("  tx: %" PRIu64 " pkts (%.3f Mpps, %.3f Gb/s L2), ring-full drops %" PRIu64
	       ", mbuf shortages %" PRIu64 "\n",
	       tx, txm, txm * c->o.frame_size * 8 / 1e3, GEN_GET(c->tx.full), GEN_GET(c->tx.nombuf));
	printf("  rx: %" PRIu64 " stamped pkts (%.3f Mpps, %.3f Gb/s L2), %" PRIu64 " foreign\n",
	       rx, rxm, rxm * c->o.frame_size * 8 / 1e3, GEN_GET(c->rx.foreign));
	printf("  loss: %" PRIu64 " pkts (%.4f%%), reordered %" PRIu64 ", duplicates %" PRIu64 "\n",
	       lost, tx ? 100.0 * (double)lost / (double)tx : 0.0,
	       GEN_GET(c->rx.reordered), GEN_GET(c->rx.dup));
	printf("  latency (us): min %.2f p50 %.2f p99 %.2f max %.2f (n=%" PRIu64 ")\n",
	       s.min_us, s.p50_us, s.p99_us, s.max_us, s.count);
	printf("RESULT tx_pkts=%" PRIu64 " rx_pkts=%" PRIu64 " tx_mpps=%.4f rx_mpps=%.4f lost=%" PRIu64
	       " reordered=%" PRIu64 " dup=%" PRIu64 " lat_min_us=%.2f lat_p50_us=%.2f"
	       " lat_p99_us=%.2f lat_max_us=%.2f frame=%u flows=%u duration_s=%.3f\n",
	       tx, rx, txm, rxm, lost, GEN_GET(c->rx.reordered), GEN_GET(c->rx.dup),
	       s.min_us, s.p50_us, s.p99_us, s.max_us, c->o.frame_size, c->o.pkt.flows, dur);
	fflush(stdout);
}

int
main(int argc, char **argv)
{
	struct gen_ctx *c;
	struct gen_lat *prev;
	unsigned int lc, nworkers = 0;
	uint64_t t0, last, ltx = 0, lrx = 0, hz;
	int eal, rc;

	for (rc = 1; rc < argc; rc++) {
		if (strcmp(argv[rc], "--help") == 0 || strcmp(argv[rc], "-h") == 0) {
			gen_usage(argv[0]);
			return 0;
		}
		if (strcmp(argv[rc], "--") == 0)
			break;
	}

	eal = rte_eal_init(argc, argv);
	if (eal < 0) {
		fprintf(stderr, "sluice-gen: EAL init failed: %s\n", rte_strerror(rte_errno));
		return 1;
	}
	argc -= eal;
	argv += eal;
	argv[0] = (char *)"sluice-gen";

	c = calloc(1, sizeof(*c));
	if (c == NULL)
		rte_exit(EXIT_FAILURE, "sluice-gen: out of memory\n");
	rc = gen_parse_args(argc, argv, &c->o);
	if (rc != 0) {
		rte_eal_cleanup();
		return rc > 0 ? 0 : 2;
	}

	/* RTE_LCORE_FOREACH_WORKER passes -1 as unsigned, which -Wsign-conversion flags. */
	for (lc = rte_get_next_lcore(UINT_MAX, 1, 0); lc < RTE_MAX_LCORE;
	     lc = rte_get_next_lcore(lc, 1, 0)) {
		if (nworkers == 0)
			c->tx_lcore = c->rx_lcore = lc;
		else if (nworkers == 1)
			c->rx_lcore = lc;
		nworkers++;
	}
	if (nworkers == 0)
		rte_exit(EXIT_FAILURE, "sluice-gen: need a worker lcore (e.g. --lcores 0@0,1@1); "
			 "the main lcore only reports\n");
	if (!rte_eth_dev_is_valid_port(c->o.tx_port) || !rte_eth_dev_is_valid_port(c->o.rx_port))
		rte_exit(EXIT_FAILURE, "sluice-gen: port %u or %u does not exist (%u ports; "
			 "pass --vdev=net_memif...)\n", c->o.tx_port, c->o.rx_port,
			 rte_eth_dev_count_avail());

	c->pool = rte_pktmbuf_pool_create("gen_pool", GEN_NB_MBUF, GEN_MBUF_CACHE, 0,
					  RTE_MBUF_DEFAULT_BUF_SIZE, (int)rte_socket_id());
	c->lat = gen_lat_create();
	prev = gen_lat_create();
	c->last_seq = calloc(GEN_PKT_MAX_FLOWS, sizeof(*c->last_seq));
	c->seen = calloc(GEN_PKT_MAX_FLOWS, 1);
	if (c->pool == NULL || c->lat == NULL || prev == NULL || c->last_seq == NULL || c->seen == NULL)
		rte_exit(EXIT_FAILURE, "sluice-gen: out of memory\n");

	rc = gen_port_init(c->o.tx_port, c->pool);
	if (rc == 0 && c->o.rx_port != c->o.tx_port)
		rc = gen_port_init(c->o.rx_port, c->pool);
	if (rc != 0)
		rte_exit(EXIT_FAILURE, "sluice-gen: port setup failed: %s\n", strerror(-rc));
	if (!c->o.have_src_mac) {
		struct rte_ether_addr ea;

		rte_eth_macaddr_get(c->o.tx_port, &ea);
		memcpy(c->o.pkt.src_mac, ea.addr_bytes, 6);
	}
	/* Per-run magic: the pid keeps frames from an earlier run apart. */
	c->o.pkt.magic = 0x53470000u | ((uint32_t)getpid() & 0xffffu);
	if (gen_pkt_template(&c->o.pkt, c->tmpl) != 0)
		rte_exit(EXIT_FAILURE, "sluice-gen: bad packet parameters\n");

	hz = rte_get_tsc_hz();
	c->ns_mul = (1000000000ull << 20) / hz;
	c->max_lat_cycles = hz; /* one second: past that the stamp is garbage */

	signal(SIGINT, gen_on_signal);
	signal(SIGTERM, gen_on_signal);

	printf("sluice-gen: waiting for link on port %u%s\n", c->o.tx_port,
	       c->o.rx_port != c->o.tx_port ? " and rx port" : "");
	fflush(stdout);
	if (gen_wait_link(c->o.tx_port, c->o.link_wait_s) != 0 ||
	    gen_wait_link(c->o.rx_port, c->o.link_wait_s) != 0)
		rte_exit(EXIT_FAILURE, "sluice-gen: link did not come up (is the peer running?)\n");
	printf("sluice-gen: links up; tx port %u rx port %u, tx lcore %u rx lcore %u, TSC %.3f GHz, "
	       "frame %u B, %u flow(s), rate %.0f pps (0 = max), %.1f s\n",
	       c->o.tx_port, c->o.rx_port, c->tx_lcore, c->rx_lcore, (double)hz / 1e9,
	       c->o.frame_size, c->o.pkt.flows, c->o.rate_pps, c->o.duration_s);
	fflush(stdout);

	c->tx.start_tsc = rte_rdtsc();
	rte_eal_mp_remote_launch(gen_worker, c, SKIP_MAIN);

	t0 = last = rte_rdtsc();
	while (!gen_interrupted) {
		uint64_t now, tx, rx;

		rte_delay_us_sleep(100000);
		now = rte_rdtsc();
		if (now - last >= hz) {
			tx = GEN_GET(c->tx.pkts);
			rx = GEN_GET(c->rx.stamped);
			gen_report_line(c, gen_elapsed(t0, now), tx - ltx, rx - lrx,
					gen_elapsed(last, now), prev);
			gen_lat_copy(prev, c->lat);
			ltx = tx;
			lrx = rx;
			last = now;
		}
		if (gen_elapsed(t0, now) >= c->o.duration_s)
			break;
		if (c->o.once && GEN_GET(c->tx.pkts) >= c->o.pkt.flows)
			break;
	}
	__atomic_store_n(&c->stop_tx, 1, __ATOMIC_RELEASE);
	rte_delay_us_sleep(c->o.drain_ms * 1000u);
	__atomic_store_n(&c->stop_rx, 1, __ATOMIC_RELEASE);
	rte_eal_mp_wait_lcore();
	gen_final(c);

	rte_eth_dev_stop(c->o.tx_port);
	if (c->o.rx_port != c->o.tx_port)
		rte_eth_dev_stop(c->o.rx_port);
	gen_lat_free(prev);
	gen_lat_free(c->lat);
	free(c->last_seq);
	free(c->seen);
	free(c);
	rte_eal_cleanup();
	return 0;
}
