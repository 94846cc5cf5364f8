/*
 * Unit tests of the segment (ring_shm), the dp consumer (ctl_ring) and the
 * ctrl producer (ringc) together, in one process with no EAL: the rings
 * are rte_rings initialised with rte_ring_init() on a mapped file under a
 * temporary directory. A "crash" closes the segment without unlinking it,
 * which drops the OFD lock exactly as process death does.
 *
 * Asserted: a missing, stale, foreign-version, corrupt or busy segment is
 * refused with its own errno and never used; a full ring makes the
 * producer wait and every command still arrives exactly once, in order;
 * a full event ring holds dp's consumption instead of dropping ACKs;
 * malformed records are answered with their reason and never applied;
 * SYNC_BEGIN/END drive the sweep; a new ctrl repairs a torn enqueue and
 * ignores ACKs addressed to its dead predecessor.
 */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include <rte_ring.h>
#include <rte_ring_elem.h>

#include <sluice/ring_proto.h>
#include <sluice/ring_shm.h>

#include "ctl_ring.h"
#include "fake_dp.h"
#include "ringc.h"

static char dir[256];
static char path[300];

static int setup(void **state)
{
	(void)state;
	snprintf(dir, sizeof(dir), "/tmp/sluice-ring-test.XXXXXX");
	if (mkdtemp(dir) == NULL)
		return -1;
	snprintf(path, sizeof(path), "%s/dp-ctl.shm", dir);
	return 0;
}

static int teardown(void **state)
{
	char cmd[400];
	(void)state;
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	return system(cmd) == 0 ? 0 : -1;
}

static char last_log[512];
static unsigned n_logs;

static void capture(void *data, const char *line)
{
	(void)data;
	snprintf(last_log, sizeof(last_log), "%s", line);
	n_logs++;
}

static struct ringc *new_ringc(unsigned timeout_ms)
{
	struct ringc_params p = {.path = path, .timeout_ms = timeout_ms, .log = capture};
	struct ringc *rc = ringc_create(&p, NULL, 0);
	assert_non_null(rc);
	return rc;
}

static void pod_cmd(struct ring_cmd *c, uint32_t id, uint64_t gen)
{
	ring_cmd_init(c, RING_CMD_POD_ADD, 1, gen);
	c->u.pod.pod_id = id;
	c->u.pod.port_id = 1;
	c->u.pod.family = RING_FAMILY_IPV4;
	memcpy(c->u.pod.mac, "\x02\x00\x00\x00\x00\x01", 6);
	c->u.pod.addr[0] = 10;
	c->u.pod.addr[2] = (uint8_t)(id >> 8);
	c->u.pod.addr[3] = (uint8_t)id;
}

static void port_cmd(struct ring_cmd *c, uint32_t id, uint64_t gen)
{
	ring_cmd_init(c, RING_CMD_PORT_ATTACH, 1, gen);
	c->u.port.port_id = id;
	c->u.port.kind = RING_PORT_TAP;
	snprintf(c->u.port.name, sizeof(c->u.port.name), "p%u", id);
	snprintf(c->u.port.ifname, sizeof(c->u.port.ifname), "tap%u", id);
}

static void patch_u32(size_t off, uint32_t v)
{
	int fd = open(path, O_RDWR);
	assert_true(fd >= 0);
	assert_int_equal(pwrite(fd, &v, sizeof(v), (off_t)off), (ssize_t)sizeof(v));
	close(fd);
}

static void test_no_segment(void **state)
{
	(void)state;
	errno = 0;
	assert_null(ring_shm_attach(path));
	assert_int_equal(errno, ENOENT);
	struct ringc *rc = new_ringc(100);
	n_logs = 0;
	assert_int_equal(ringc_check(rc, NULL), 0);
	assert_int_equal(n_logs, 0); /* "dp not up yet" is not worth a line */
	struct ring_cmd c;
	pod_cmd(&c, 1, 1);
	assert_int_equal(ringc_send(rc, &c, NULL, 0), RINGC_NODP);
	ringc_free(rc);
}

static void test_attach_and_exclusive(void **state)
{
	struct fake_dp *f = calloc(1, sizeof(*f));
	(void)state;
	/* The segment's directory is made if missing (/run/sluice after boot). */
	snprintf(path, sizeof(path), "%s/sluice/dp-ctl.shm", dir);
	assert_int_equal(fake_dp_start(f, path, 0, 0), 0);
	struct ring_shm *s = ring_shm_attach(path);
	assert_non_null(s);
	const struct ring_shm_hdr *h = ring_shm_hdr(s);
	assert_int_equal(h->magic, RING_SHM_MAGIC);
	assert_int_equal(h->layout_version, RING_SHM_LAYOUT_VERSION);
	assert_int_equal(h->proto_version, RING_PROTO_VERSION);
	assert_int_equal(h->dp_pid, (uint32_t)getpid());
	assert_true(h->boot_id != 0);
	assert_int_equal(ring_shm_dp_alive(s), 1);
	assert_int_equal(ring_shm_replaced(s), 0);
	/* Exactly one ctrl: the second producer is refused. */
	errno = 0;
	assert_null(ring_shm_attach(path));
	assert_int_equal(errno, EBUSY);
	/* A second dp on the same path is refused while the first lives. */
	struct fake_dp *g = calloc(1, sizeof(*g));
	assert_int_equal(fake_dp_start(g, path, 0, 0), -EBUSY);
	ring_shm_free(s);
	fake_dp_stop(f);
	/* Clean shutdown removes the file. */
	assert_int_not_equal(access(path, F_OK), 0);
	free(f);
	free(g);
}

static void test_stale_segment(void **state)
{
	struct fake_dp *f = calloc(1, sizeof(*f));
	(void)state;
	assert_int_equal(fake_dp_start(f, path, 0, 0), 0);
	struct ring_shm *old = ring_shm_attach(path);
	assert_non_null(old);
	uint64_t boot1 = ring_shm_hdr(old)->boot_id;
	fake_dp_crash(f);
	/* ctrl side: the holder sees dp's death; a fresh attach calls it stale. */
	assert_int_equal(ring_shm_dp_alive(old), 0);
	errno = 0;
	ring_shm_free(old);
	assert_null(ring_shm_attach(path));
	assert_int_equal(errno, ESRCH);
	/* dp side: a new dp replaces the stale file and says so. */
	assert_int_equal(fake_dp_start(f, path, 0, 0), 0);
	struct ring_shm *s = ring_shm_attach(path);
	assert_non_null(s);
	assert_true(ring_shm_hdr(s)->boot_id != boot1);
	ring_shm_free(s);
	fake_dp_stop(f);
	free(f);
}

static void test_replaced_under_ctrl(void **state)
{
	struct fake_dp *f = calloc(1, sizeof(*f));
	int fresh = 0;
	(void)state;
	assert_int_equal(fake_dp_start(f, path, 0, 0), 0);
	struct ringc *rc = new_ringc(500);
	assert_int_equal(ringc_check(rc, &fresh), 1);
	assert_int_equal(fresh, 1);
	assert_int_equal(ringc_check(rc, &fresh), 1);
	assert_int_equal(fresh, 0); /* same incarnation: no replay */
	uint64_t boot1 = ringc_dp_boot_id(rc);
	fake_dp_crash(f);
	assert_int_equal(ringc_check(rc, &fresh), 0);
	assert_non_null(strstr(last_log, "died"));
	assert_int_equal(fake_dp_start(f, path, 0, 0), 0);
	assert_int_equal(ringc_check(rc, &fresh), 1);
	assert_int_equal(fresh, 1);
	assert_true(ringc_dp_boot_id(rc) != boot1);
	ringc_free(rc);
	fake_dp_stop(f);
	free(f);
}

static void test_version_mismatch(void **state)
{
	struct fake_dp *f = calloc(1, sizeof(*f));
	(void)state;
	assert_int_equal(fake_dp_start(f, path, 0, 0), 0);

	patch_u32(offsetof(struct ring_shm_hdr, layout_version), RING_SHM_LAYOUT_VERSION + 1);
	errno = 0;
	assert_null(ring_shm_attach(path));
	assert_int_equal(errno, EPROTONOSUPPORT);
	struct ringc *rc = new_ringc(100);
	n_logs = 0;
	assert_int_equal(ringc_check(rc, NULL), 0);
	assert_int_equal(n_logs, 1);
	assert_non_null(strstr(last_log, "not using it"));
	assert_int_equal(ringc_check(rc, NULL), 0);
	assert_int_equal(n_logs, 1); /* said once, not every tick */
	ringc_free(rc);
	patch_u32(offsetof(struct ring_shm_hdr, layout_version), RING_SHM_LAYOUT_VERSION);

	patch_u32(offsetof(struct ring_shm_hdr, proto_version), RING_PROTO_VERSION + 1);
	errno = 0;
	assert_null(ring_shm_attach(path));
	assert_int_equal(errno, EPROTONOSUPPORT);
	patch_u32(offsetof(struct ring_shm_hdr, proto_version), RING_PROTO_VERSION);

	/* Inconsistent sizes and a ring whose mask disagrees: corrupt. */
	patch_u32(offsetof(struct ring_shm_hdr, rec_size), 64);
	errno = 0;
	assert_null(ring_shm_attach(path));
	assert_int_equal(errno, EBADMSG);
	patch_u32(offsetof(struct ring_shm_hdr, rec_size), RING_REC_SIZE);
	patch_u32(offsetof(struct ring_shm_hdr, magic), 0x12345678);
	errno = 0;
	assert_null(ring_shm_attach(path));
	assert_int_equal(errno, EBADMSG);
	patch_u32(offsetof(struct ring_shm_hdr, magic), (uint32_t)RING_SHM_MAGIC);

	struct ring_shm *s = ring_shm_attach(path);
	assert_non_null(s); /* restored: usable again */
	uint64_t cmd_off = ring_shm_hdr(s)->cmd_off;
	ring_shm_free(s);
	patch_u32(cmd_off + offsetof(struct rte_ring, mask), 0xffff);
	errno = 0;
	assert_null(ring_shm_attach(path));
	assert_int_equal(errno, EBADMSG);
	fake_dp_stop(f);
	free(f);
}

/* 64-slot ring (capacity 63), 5000 commands: the producer must wait. */
static void test_backpressure_no_loss(void **state)
{
	struct fake_dp *f = calloc(1, sizeof(*f));
	struct ring_cmd c;
	(void)state;
	assert_int_equal(fake_dp_start(f, path, 64, 64), 0);
	struct ringc *rc = new_ringc(100);
	assert_int_equal(ringc_check(rc, NULL), 1);

	/* dp not polling: 63 fit, the 64th times out, nothing is lost. */
	port_cmd(&c, 1, 1);
	assert_int_equal(ringc_send(rc, &c, NULL, 0), RINGC_OK);
	for (uint32_t i = 1; i < 63; i++) {
		pod_cmd(&c, i, 1);
		assert_int_equal(ringc_send(rc, &c, NULL, 0), RINGC_OK);
	}
	pod_cmd(&c, 63, 1);
	char err[256];
	assert_int_equal(ringc_send(rc, &c, err, sizeof(err)), RINGC_TIMEOUT);
	assert_non_null(strstr(err, "full"));

	/* dp polls without ctrl reading ACKs: one burst fills the event ring... */
	unsigned n = ctl_ring_poll(f->ctl);
	assert_int_equal(n, 63);
	for (uint32_t i = 63; i < 126; i++) {
		pod_cmd(&c, i, 1);
		assert_int_equal(ringc_send(rc, &c, NULL, 0), RINGC_OK);
	}
	/* ...and then dp holds further commands instead of dropping ACKs. */
	assert_int_equal(ctl_ring_poll(f->ctl), 0);
	assert_int_equal(ringc_drain(rc), 63);
	assert_int_equal(ctl_ring_poll(f->ctl), 63);

	/* Now with dp on a thread: thousands through 63 slots, all acked. */
	fake_dp_run_thread(f);
	uint64_t last = 0;
	for (uint32_t i = 126; i < 5126; i++) {
		pod_cmd(&c, i, 1);
		assert_int_equal(ringc_send(rc, &c, NULL, 0), RINGC_OK);
		last = c.seq;
	}
	int dperr = 0;
	assert_int_equal(ringc_wait(rc, last, &dperr, NULL, NULL, 0), RINGC_OK);
	fake_dp_stop_thread(f);
	assert_int_equal(fake_dp_count(f->pod_gen), 5125);
	struct ctl_ring_stats st;
	ctl_ring_get_stats(f->ctl, &st);
	assert_int_equal(st.applied, 5126);
	assert_int_equal(st.rejected, 0);
	struct ringc_stats rs;
	ringc_get_stats(rc, &rs);
	assert_int_equal(rs.sent, 5126);
	assert_int_equal(rs.acked, 5126);
	assert_true(rs.full_waits > 0);
	ringc_free(rc);
	fake_dp_stop(f);
	free(f);
}

static void test_malformed_never_applied(void **state)
{
	struct fake_dp *f = calloc(1, sizeof(*f));
	struct ring_cmd c;
	int dperr;
	unsigned reason;
	(void)state;
	assert_int_equal(fake_dp_start(f, path, 0, 0), 0);
	struct ringc *rc = new_ringc(2000);
	assert_int_equal(ringc_check(rc, NULL), 1);
	fake_dp_run_thread(f);
	port_cmd(&c, 1, 1);
	assert_int_equal(ringc_send(rc, &c, NULL, 0), RINGC_OK);
	pod_cmd(&c, 7, 1);
	c.u.pod.mac[0] = 0x01; /* multicast */
	assert_int_equal(ringc_send(rc, &c, NULL, 0), RINGC_OK);
	assert_int_equal(ringc_wait(rc, c.seq, &dperr, &reason, NULL, 0), RINGC_DPERR);
	assert_int_equal(dperr, -EINVAL);
	assert_int_equal(reason, RING_BAD_MAC);
	pod_cmd(&c, 8, 1);
	c.version = 2;
	assert_int_equal(ringc_send(rc, &c, NULL, 0), RINGC_OK);
	assert_int_equal(ringc_wait(rc, c.seq, &dperr, &reason, NULL, 0), RINGC_DPERR);
	assert_int_equal(dperr, -EPROTONOSUPPORT);
	/* A good one after the bad ones still goes through. */
	pod_cmd(&c, 9, 1);
	assert_int_equal(ringc_send(rc, &c, NULL, 0), RINGC_OK);
	assert_int_equal(ringc_wait(rc, c.seq, &dperr, NULL, NULL, 0), RINGC_OK);
	fake_dp_stop_thread(f);
	assert_int_equal(f->pod_gen[7], 0);
	assert_int_equal(f->pod_gen[8], 0);
	assert_int_equal(f->pod_gen[9], 1);
	struct ctl_ring_stats st;
	ctl_ring_get_stats(f->ctl, &st);
	assert_int_equal(st.rejected, 2);
	ringc_free(rc);
	fake_dp_stop(f);
	free(f);
}

static uint64_t send_wait(struct ringc *rc, struct ring_cmd *c, int *dperr)
{
	assert_int_equal(ringc_send(rc, c, NULL, 0), RINGC_OK);
	(void)ringc_wait(rc, c->seq, dperr, NULL, NULL, 0);
	return c->seq;
}

static void test_sync_sweep(void **state)
{
	struct fake_dp *f = calloc(1, sizeof(*f));
	struct ring_cmd c;
	int dperr;
	(void)state;
	assert_int_equal(fake_dp_start(f, path, 0, 0), 0);
	struct ringc *rc = new_ringc(2000);
	assert_int_equal(ringc_check(rc, NULL), 1);
	fake_dp_run_thread(f);
	/* generation 1: port 1, pods 1..3 */
	ring_cmd_init(&c, RING_CMD_SYNC_BEGIN, 1, 1);
	send_wait(rc, &c, &dperr);
	assert_int_equal(dperr, 0);
	port_cmd(&c, 1, 1);
	send_wait(rc, &c, &dperr);
	for (uint32_t i = 1; i <= 3; i++) {
		pod_cmd(&c, i, 1);
		send_wait(rc, &c, &dperr);
	}
	ring_cmd_init(&c, RING_CMD_SYNC_END, 1, 1);
	send_wait(rc, &c, &dperr);
	assert_int_equal(dperr, 0);
	assert_int_equal(ringc_dp_generation(rc), 1);
	/* generation 2 replays port 1 and pods 1, 3: pod 2 must be swept. */
	ring_cmd_init(&c, RING_CMD_SYNC_BEGIN, 1, 2);
	send_wait(rc, &c, &dperr);
	port_cmd(&c, 1, 2);
	send_wait(rc, &c, &dperr);
	pod_cmd(&c, 1, 2);
	send_wait(rc, &c, &dperr);
	pod_cmd(&c, 3, 2);
	send_wait(rc, &c, &dperr);
	assert_int_equal(f->pod_gen[2], 1); /* not before SYNC_END */
	ring_cmd_init(&c, RING_CMD_SYNC_END, 1, 2);
	send_wait(rc, &c, &dperr);
	assert_int_equal(dperr, 0);
	assert_int_equal(f->pod_gen[1], 2);
	assert_int_equal(f->pod_gen[2], 0);
	assert_int_equal(f->pod_gen[3], 2);
	assert_int_equal(ctl_ring_generation(f->ctl), 2);
	assert_int_equal(ringc_dp_generation(rc), 2);
	/* Protocol misuse is refused, not applied. */
	ring_cmd_init(&c, RING_CMD_SYNC_END, 1, 3);
	send_wait(rc, &c, &dperr);
	assert_int_equal(dperr, -EPROTO);
	ring_cmd_init(&c, RING_CMD_SYNC_BEGIN, 1, 2);
	send_wait(rc, &c, &dperr);
	assert_int_equal(dperr, -ESTALE);
	fake_dp_stop_thread(f);
	ringc_free(rc);
	fake_dp_stop(f);
	free(f);
}

/*
 * ctrl #1 queues 5 commands and "dies" before dp reads them, in the middle
 * of a sixth enqueue (prod.head moved, tail not). ctrl #2 attaches: the
 * torn slot is discarded, the 5 are applied and their ACKs are not taken
 * for ctrl #2's.
 */
static void test_ctrl_restart_torn_and_stale_acks(void **state)
{
	struct fake_dp *f = calloc(1, sizeof(*f));
	struct ring_cmd c;
	int dperr;
	(void)state;
	assert_int_equal(fake_dp_start(f, path, 0, 0), 0);
	struct ringc *rc1 = new_ringc(2000);
	assert_int_equal(ringc_check(rc1, NULL), 1);
	port_cmd(&c, 1, 1);
	assert_int_equal(ringc_send(rc1, &c, NULL, 0), RINGC_OK);
	for (uint32_t i = 1; i <= 4; i++) {
		pod_cmd(&c, i, 1);
		assert_int_equal(ringc_send(rc1, &c, NULL, 0), RINGC_OK);
	}
	struct ring_shm *peek = ring_shm_attach(path); /* EBUSY: rc1 holds it */
	assert_null(peek);
	ringc_free(rc1);
	struct ring_shm *s = ring_shm_attach(path);
	assert_non_null(s);
	ring_shm_cmd(s)->prod.head += 1; /* the torn enqueue */
	ring_shm_free(s);

	struct ringc *rc2 = new_ringc(2000);
	assert_int_equal(ringc_check(rc2, NULL), 1);
	fake_dp_run_thread(f);
	pod_cmd(&c, 100, 1);
	send_wait(rc2, &c, &dperr);
	assert_int_equal(dperr, 0);
	fake_dp_stop_thread(f);
	assert_int_equal(fake_dp_count(f->pod_gen), 5);
	assert_int_equal(f->pod_gen[100], 1);
	struct ringc_stats rs;
	ringc_get_stats(rc2, &rs);
	assert_int_equal(rs.stale_acks, 5);
	assert_int_equal(rs.acked, 1);
	struct ctl_ring_stats st;
	ctl_ring_get_stats(f->ctl, &st);
	assert_int_equal(st.rejected, 0); /* the torn slot never reached dp */
	ringc_free(rc2);
	fake_dp_stop(f);
	free(f);
}

/* A dp that holds its lock but stops polling is reported once as hung, not dead. */
static void test_heartbeat_stall(void **state)
{
	struct fake_dp *f = calloc(1, sizeof(*f));
	struct timespec ts = {0, 120 * 1000000L};
	(void)state;
	assert_int_equal(fake_dp_start(f, path, 0, 0), 0);
	struct ringc_params p = {.path = path, .stall_ms = 50, .log = capture};
	struct ringc *rc = ringc_create(&p, NULL, 0);
	assert_int_equal(ringc_check(rc, NULL), 1);
	n_logs = 0;
	nanosleep(&ts, NULL); /* > stall_ms with no poll: the heartbeat is still */
	assert_int_equal(ringc_check(rc, NULL), 1); /* alive: lock held */
	assert_non_null(strstr(last_log, "heartbeat stalled"));
	assert_int_equal(n_logs, 1);
	assert_int_equal(ringc_check(rc, NULL), 1);
	assert_int_equal(n_logs, 1); /* said once */
	ctl_ring_poll(f->ctl);
	assert_int_equal(ringc_check(rc, NULL), 1);
	assert_non_null(strstr(last_log, "heartbeat resumed"));
	ringc_free(rc);
	fake_dp_stop(f);
	free(f);
}

static void test_events(void **state)
{
	struct fake_dp *f = calloc(1, sizeof(*f));
	(void)state;
	assert_int_equal(fake_dp_start(f, path, 64, 64), 0);
	struct ringc *rc = new_ringc(100);
	assert_int_equal(ringc_check(rc, NULL), 1);
	assert_int_equal(ctl_ring_post_link(f->ctl, 3, 1, 10000), 0);
	struct ring_stats st = {.port_id = 3, .rx_pkts = 10};
	assert_int_equal(ctl_ring_post_stats(f->ctl, &st), 0);
	assert_int_equal(ctl_ring_post_health(f->ctl, 1, 2, 0), 0);
	assert_int_equal(ringc_drain(rc), 3);
	struct ringc_stats rs;
	ringc_get_stats(rc, &rs);
	assert_int_equal(rs.events, 3);
	assert_int_equal(rs.bad_events, 0);
	/* Unsolicited events on a full ring are dropped and counted, not blocked on. */
	for (int i = 0; i < 63; i++)
		assert_int_equal(ctl_ring_post_link(f->ctl, 3, i & 1, 0), 0);
	assert_int_equal(ctl_ring_post_link(f->ctl, 3, 1, 0), -ENOBUFS);
	struct ctl_ring_stats cs;
	ctl_ring_get_stats(f->ctl, &cs);
	assert_int_equal(cs.evt_dropped, 1);
	ringc_free(rc);
	fake_dp_stop(f);
	free(f);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_no_segment, setup, teardown),
		cmocka_unit_test_setup_teardown(test_attach_and_exclusive, setup, teardown),
		cmocka_unit_test_setup_teardown(test_stale_segment, setup, teardown),
		cmocka_unit_test_setup_teardown(test_replaced_under_ctrl, setup, teardown),
		cmocka_unit_test_setup_teardown(test_version_mismatch, setup, teardown),
		cmocka_unit_test_setup_teardown(test_backpressure_no_loss, setup, teardown),
		cmocka_unit_test_setup_teardown(test_malformed_never_applied, setup, teardown),
		cmocka_unit_test_setup_teardown(test_sync_sweep, setup, teardown),
		cmocka_unit_test_setup_teardown(test_ctrl_restart_torn_and_stale_acks, setup, teardown),
		cmocka_unit_test_setup_teardown(test_events, setup, teardown),
		cmocka_unit_test_setup_teardown(test_heartbeat_stall, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
