/*
 * fuzz_ring_record: untrusted bytes through dp's command consumer.
 *
 * The input is cut into 128-byte records (the last one zero-padded, and
 * also fed alone to the decoders at its true length, which must reject any
 * size but 128). Every record is enqueued raw on a real command ring in a
 * segment file, exactly as a buggy or hostile ctrl could, and ctl_ring
 * drains it. Checked: each record gets exactly one ACK with its seq; the
 * ACK's reason is what ring_cmd_check() says; an apply function only ever
 * sees a record that passes the check (malformed is never applied); the
 * event decoder agrees with ring_evt_check on the same bytes.
 */
#include <assert.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <rte_ring.h>
#include <rte_ring_elem.h>

#include <sluice/ring_proto.h>
#include <sluice/ring_shm.h>

#include "ctl_ring.h"

static struct ctl_ring *dp;
static struct ring_shm *ctrl;
static uint64_t applied;

static int check_cmd(const void *body, size_t off)
{
	/* Rebuild the record around the body pointer and re-validate it. */
	const struct ring_cmd *c = (const void *)((const char *)body - off);
	assert(ring_cmd_check(c) == RING_BAD_OK);
	applied++;
	return 0;
}

#define OFF offsetof(struct ring_cmd, u)
static int f_port(void *d, const struct ring_port *p, uint64_t g) { (void)d; (void)g; return check_cmd(p, OFF); }
static int f_port_del(void *d, const struct ring_port_del *p) { (void)d; return check_cmd(p, OFF); }
static int f_pod(void *d, const struct ring_pod *p, uint64_t g) { (void)d; (void)g; return check_cmd(p, OFF); }
static int f_pod_del(void *d, const struct ring_pod_del *p) { (void)d; return check_cmd(p, OFF); }
static int f_route(void *d, const struct ring_route *r, uint64_t g) { (void)d; (void)g; return check_cmd(r, OFF); }
static int f_route_del(void *d, const struct ring_route_del *r) { (void)d; return check_cmd(r, OFF); }
static int f_svc(void *d, const struct ring_svc *s, uint64_t g) { (void)d; (void)g; return check_cmd(s, OFF); }
static int f_svc_del(void *d, const struct ring_svc_del *s) { (void)d; return check_cmd(s, OFF); }
static int f_be(void *d, const struct ring_backend *b, uint64_t g) { (void)d; (void)g; return check_cmd(b, OFF); }
static int f_be_del(void *d, const struct ring_backend_del *b) { (void)d; return check_cmd(b, OFF); }
static int f_be_w(void *d, const struct ring_backend_weight *w) { (void)d; return check_cmd(w, OFF); }
static int f_sweep(void *d, uint64_t g) { (void)d; (void)g; return 0; }

static const struct ctl_ring_ops ops = {
	f_port, f_port_del, f_pod, f_pod_del, f_route, f_route_del,
	f_svc, f_svc_del, f_be, f_be_del, f_be_w, f_sweep,
};

static void quiet(void *d, const char *l)
{
	(void)d;
	(void)l;
}

static char seg[128];

static void cleanup(void)
{
	ring_shm_free(ctrl);
	ctl_ring_free(dp);
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	snprintf(seg, sizeof(seg), "/tmp/sluice-fuzz-ring.%d", (int)getpid());
	struct ctl_ring_params p = {.path = seg, .cmd_count = 256, .evt_count = 256,
				    .ops = &ops, .log = quiet};
	dp = ctl_ring_create(&p);
	ctrl = dp ? ring_shm_attach(seg) : NULL;
	if (dp == NULL || ctrl == NULL) {
		fprintf(stderr, "fuzz_ring_record: cannot set up segment %s\n", seg);
		abort();
	}
	atexit(cleanup);
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct ring_cmd c;
	struct ring_evt e, acks[256];
	enum ring_bad why;

	/* Exact size only. */
	int rc = ring_cmd_decode(data, size, &c, &why);
	assert((rc == 0) == (size == RING_REC_SIZE && ring_cmd_check(&c) == RING_BAD_OK));
	rc = ring_evt_decode(data, size, &e, &why);
	assert((rc == 0) == (size == RING_REC_SIZE && ring_evt_check(&e) == RING_BAD_OK));

	size_t n = (size + RING_REC_SIZE - 1) / RING_REC_SIZE;
	if (n > 200)
		n = 200;
	struct ring_cmd *recs = calloc(n ? n : 1, sizeof(*recs));
	if (n > 0)
		memcpy(recs, data, size < n * RING_REC_SIZE ? size : n * RING_REC_SIZE);
	unsigned put = rte_ring_sp_enqueue_bulk_elem(ring_shm_cmd(ctrl), recs, sizeof(*recs),
						     (unsigned)n, NULL);
	assert(put == n);
	uint64_t before = applied, expect_applied = 0;
	unsigned got = 0;
	while (got < n) {
		ctl_ring_poll(dp);
		got += rte_ring_sc_dequeue_burst_elem(ring_shm_evt(ctrl), &acks[got], sizeof(acks[0]),
						      (unsigned)(n - got), NULL);
	}
	for (size_t i = 0; i < n; i++) {
		enum ring_bad w = ring_cmd_check(&recs[i]);
		assert(acks[i].type == RING_EVT_ACK);
		assert(acks[i].seq == recs[i].seq);
		assert(acks[i].u.ack.reason == (uint16_t)w);
		assert((acks[i].u.ack.err != 0) || w == RING_BAD_OK);
		if (w == RING_BAD_OK && recs[i].type != RING_CMD_SYNC_BEGIN &&
		    recs[i].type != RING_CMD_SYNC_END)
			expect_applied++;
	}
	assert(applied - before == expect_applied);
	free(recs);
	return 0;
}
