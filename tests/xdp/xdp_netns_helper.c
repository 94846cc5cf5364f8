/*
 * xdp_netns_helper: the node side of tests/xdp/xdp_netns.sh. Runs inside
 * the node's netns: attaches the uplink program to IFNAME, steers the pod
 * CIDR 10.244.1.0/24 (and ARP for its gateway 10.244.1.1), binds a real
 * AF_XDP socket (libxdp's xsk API, copy mode) to rx queue 0 and registers
 * it in the program's XSKMAP, as sluice-dp will on a node.
 *
 * It then waits for a UDP datagram to 10.244.1.5 carrying MARKER to arrive
 * on the socket, prints "got marker", waits for DONE_FILE (the script
 * pings the node's host IP meanwhile) and finally checks the counters:
 * the pings and ARP went to the kernel (pass_host, pass_arp), the marker
 * was redirected (redirect_prefix4), nothing was steered without a socket.
 *
 * With mode "adopt" the program was attached by someone else and the
 * helper takes it over with xdp_steer_adopt() (and leaves it attached).
 * With mode "pmd" DPDK's af_xdp PMD attached it (xdp_prog=) and bound its
 * own XSK: the helper only adopts, configures and checks the counters.
 *
 * usage: xdp_netns_helper IFNAME native|skb|adopt|pmd READY DONE TIMEOUT_S
 * exit: 0 pass, 1 fail, 77 BPF or AF_XDP not available.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <net/if.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#include <linux/if_xdp.h>
#include <xdp/xsk.h>

#include "xdp_steer.h"

#define MARKER "sluice-xdp-steer-marker"
#define NUM_FRAMES 512u
#define FRAME_SIZE XSK_UMEM__DEFAULT_FRAME_SIZE
#define RING_SIZE 256u

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* The marker frame: Ethernet, IPv4 to 10.244.1.5, UDP, payload MARKER.
 * Checked field by field against the bytes present. */
static int is_marker(const uint8_t *p, uint32_t len)
{
	uint32_t ihl;

	if (len < 14 + 20 + 8 || p[12] != 0x08 || p[13] != 0x00)
		return 0;
	ihl = (uint32_t)(p[14] & 0x0f) * 4;
	if (ihl < 20 || len < 14 + ihl + 8 + sizeof(MARKER) - 1)
		return 0;
	if (p[14 + 9] != 17 || memcmp(p + 14 + 16, "\x0a\xf4\x01\x05", 4) != 0)
		return 0;
	return memcmp(p + 14 + ihl + 8, MARKER, sizeof(MARKER) - 1) == 0;
}

static int touch(const char *path)
{
	FILE *f = fopen(path, "w");

	return f && fclose(f) == 0 ? 0 : -1;
}

int main(int argc, char **argv)
{
	struct xdp_steer_params p = {.queues = 1};
	struct xsk_socket_config xcfg = {
		.rx_size = RING_SIZE,
		.tx_size = RING_SIZE,
		/* Our program is already attached; libxdp must not load its
		 * own default one over it. */
		.libxdp_flags = XSK_LIBXDP_FLAGS__INHIBIT_PROG_LOAD,
		.bind_flags = XDP_COPY, /* veth has no zero-copy */
	};
	struct xsk_ring_prod fill, tx;
	struct xsk_ring_cons comp, rx;
	struct xdp_steer_config cfg;
	struct xdp_steer_stats st;
	struct xdp_steer *s;
	struct xsk_umem *umem = NULL;
	struct xsk_socket *xsk = NULL;
	uint32_t idx;
	double deadline;
	void *area;
	int got = 0, rc, ret = 1, adopt, pmd;

	if (argc != 6) {
		fprintf(stderr, "usage: %s IFNAME native|skb|adopt|pmd READY DONE TIMEOUT_S\n", argv[0]);
		return 1;
	}
	p.ifindex = if_nametoindex(argv[1]);
	p.attach = strcmp(argv[2], "skb") == 0 ? XDP_STEER_ATTACH_SKB : XDP_STEER_ATTACH_NATIVE;
	pmd = strcmp(argv[2], "pmd") == 0;
	adopt = pmd || strcmp(argv[2], "adopt") == 0;
	deadline = now_s() + atof(argv[5]);
	if (p.ifindex == 0) {
		perror("if_nametoindex");
		return 1;
	}
	/* "adopt": another loader (the script, through iproute2, standing in
	 * for DPDK's af_xdp PMD and its xdp_prog= option) attached the object. */
	s = adopt ? xdp_steer_adopt(p.ifindex) : xdp_steer_create(&p);
	if (s == NULL) {
		int e = errno;

		fprintf(stderr, "xdp_steer_create(%s): %s\n", argv[2], strerror(e));
		return e == EPERM || e == EACCES || e == ENOSYS ? 77 : 1;
	}
	if (!adopt) {
		/* A second loader on the same link must be refused, not
		 * replace ours (XDP_FLAGS_UPDATE_IF_NOEXIST). */
		struct xdp_steer *again = xdp_steer_create(&p);

		if (again != NULL || errno != EBUSY) {
			fprintf(stderr, "second create on the link: %s, want EBUSY\n",
				again ? "succeeded" : strerror(errno));
			xdp_steer_free(again);
			goto out;
		}
	}
	xdp_steer_config_init(&cfg);
	if (xdp_steer_config_add_prefix(&cfg, "10.244.1.0/24") ||
	    xdp_steer_config_add_arp(&cfg, "10.244.1.1") ||
	    xdp_steer_apply(s, &cfg) != 0) {
		fprintf(stderr, "config/apply failed\n");
		goto out;
	}
	if (pmd) {
		/* DPDK's PMD owns the XSK and has put it in xsks_map itself;
		 * the script checks that testpmd received the marker. */
		if (touch(argv[3]) != 0)
			goto out;
		goto wait_done;
	}

	area = mmap(NULL, (size_t)NUM_FRAMES * FRAME_SIZE, PROT_READ | PROT_WRITE,
		    MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (area == MAP_FAILED) {
		perror("mmap");
		goto out;
	}
	rc = xsk_umem__create(&umem, area, (uint64_t)NUM_FRAMES * FRAME_SIZE, &fill, &comp, NULL);
	if (rc == 0)
		rc = xsk_socket__create(&xsk, argv[1], 0, umem, &rx, &tx, &xcfg);
	if (rc != 0) {
		fprintf(stderr, "AF_XDP socket: %s\n", strerror(-rc));
		ret = rc == -EAFNOSUPPORT ? 77 : 1;
		goto out;
	}
	/* Give the kernel every frame of the umem to receive into. */
	if (xsk_ring_prod__reserve(&fill, RING_SIZE, &idx) != RING_SIZE) {
		fprintf(stderr, "fill ring reserve failed\n");
		goto out;
	}
	for (uint32_t i = 0; i < RING_SIZE; i++)
		*xsk_ring_prod__fill_addr(&fill, idx + i) = (uint64_t)i * FRAME_SIZE;
	xsk_ring_prod__submit(&fill, RING_SIZE);

	rc = xdp_steer_xsk_set(s, 0, xsk_socket__fd(xsk));
	if (rc != 0) {
		fprintf(stderr, "xdp_steer_xsk_set: %s\n", strerror(-rc));
		goto out;
	}
	if (touch(argv[3]) != 0) {
		perror(argv[3]);
		goto out;
	}

	while (!got && now_s() < deadline) {
		struct pollfd pfd = {.fd = xsk_socket__fd(xsk), .events = POLLIN};
		uint32_t n, fidx;

		if (poll(&pfd, 1, 200) <= 0)
			continue;
		n = xsk_ring_cons__peek(&rx, 64, &idx);
		for (uint32_t i = 0; i < n; i++) {
			const struct xdp_desc *d = xsk_ring_cons__rx_desc(&rx, idx + i);
			const uint8_t *pkt = xsk_umem__get_data(area, d->addr);

			if (is_marker(pkt, d->len))
				got = 1;
			else
				fprintf(stderr, "unexpected frame of %u bytes on the XSK\n", d->len);
		}
		/* Recycle the frames; the ring has room: we took n out of it. */
		if (n > 0 && xsk_ring_prod__reserve(&fill, n, &fidx) == n) {
			for (uint32_t i = 0; i < n; i++) {
				uint64_t a = xsk_ring_cons__rx_desc(&rx, idx + i)->addr;

				*xsk_ring_prod__fill_addr(&fill, fidx + i) = xsk_umem__extract_addr(a);
			}
			xsk_ring_prod__submit(&fill, n);
		}
		xsk_ring_cons__release(&rx, n);
	}
	if (!got) {
		fprintf(stderr, "timeout: no marker frame on the XSK\n");
		goto out;
	}
	printf("got marker\n");
	fflush(stdout);
wait_done:
	while (access(argv[4], F_OK) != 0 && now_s() < deadline)
		usleep(50 * 1000);
	if (xdp_steer_stats(s, &st) != 0)
		goto out;
	for (unsigned int r = 0; r < XDP_STEER_REASON_MAX; r++)
		printf("  %-18s %llu\n", xdp_steer_reason_name(r),
		       (unsigned long long)st.reason[r].packets);
	/* >= 5: the script's pings (3 before, 2 after the marker). */
	if (st.reason[XDP_STEER_REDIRECT_PREFIX4].packets < 1 ||
	    st.reason[XDP_STEER_PASS_HOST].packets < 5 ||
	    st.reason[XDP_STEER_PASS_ARP].packets < 1 || st.reason[XDP_STEER_NOSOCK].packets != 0) {
		fprintf(stderr, "counters do not match the traffic sent\n");
		goto out;
	}
	ret = 0;
out:
	if (xsk)
		xsk_socket__delete(xsk);
	if (umem)
		xsk_umem__delete(umem);
	xdp_steer_free(s);
	return ret;
}
