/*
 * Unit tests for consensus/io_posix.c's storage side, driven through the
 * struct raft_io vtable without a raft instance (raft_io_posix_flush runs
 * the loop's disk and completion steps):
 *   - many append requests are made durable by ONE fdatasync and their
 *     callbacks run only in the flush, in issue order, never inside append;
 *   - truncate and snapshot_put take effect in issue order between appends;
 *   - load after reopening returns exactly what completed (terms, payloads,
 *     snapshot with its configuration, vote);
 *   - close cancels pending requests with RAFT_CANCELED;
 *   - bootstrap refuses a directory that holds state.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <ftw.h>
#include <netinet/in.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cmocka.h>

#include "io_posix.h"
#include "raft.h"

static const char key[] = "disk-io-test-key-0123456789abcdef";
static char dir[64];
static char url[64];

static int order[64];
static int n_order;
static int statuses[64];

struct tagged_append {
	struct raft_io_append req;
	int tag;
};

static void append_cb(struct raft_io_append *req, int status)
{
	struct tagged_append *t = req->data;
	order[n_order] = t->tag;
	statuses[n_order] = status;
	n_order++;
}

static int snap_status = -1;
static void snap_cb(struct raft_io_snapshot_put *req, int status)
{
	(void)req;
	snap_status = status;
	order[n_order++] = 1000;
}

static void quiet(void *data, const char *line)
{
	(void)data;
	(void)line;
}

static int free_port(void)
{
	int s = socket(AF_INET, SOCK_STREAM, 0);
	struct sockaddr_in sa = { .sin_family = AF_INET };
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	socklen_t sl = sizeof(sa);
	assert_int_equal(bind(s, (struct sockaddr *)&sa, sizeof(sa)), 0);
	assert_int_equal(getsockname(s, (struct sockaddr *)&sa, &sl), 0);
	close(s);
	return ntohs(sa.sin_port);
}

/* Fault shim: fail the Nth fdatasync / write (0 = next), once. */
static int fail_sync_in = -1, fail_write_in = -1;
static int log_lines;

static int shim_fdatasync(int fd)
{
	if (fail_sync_in >= 0 && fail_sync_in-- == 0) {
		errno = EIO;
		return -1;
	}
	return fdatasync(fd);
}

static ssize_t shim_write(int fd, const void *b, size_t n)
{
	if (fail_write_in >= 0 && fail_write_in-- == 0) {
		errno = ENOSPC;
		return -1;
	}
	return write(fd, b, n);
}

static const struct raft_disk_sys shim = { .fdatasync = shim_fdatasync,
					   .write = shim_write };

static void count_log(void *data, const char *line)
{
	(void)data;
	(void)line;
	log_lines++;
}

static struct raft_io_posix *open_io_sys(const struct raft_disk_sys *sys)
{
	char err[256];
	struct raft_io_posix_params p = {
		.id = 1, .dir = dir, .bind_url = url, .key = key,
		.key_len = strlen(key), .log = count_log, .disk_sys = sys,
	};
	struct raft_io_posix *io = raft_io_posix_create(&p, err, sizeof(err));
	if (io == NULL)
		fail_msg("create: %s", err);
	return io;
}

static struct raft_io_posix *open_io(void)
{
	char err[256];
	struct raft_io_posix_params p = {
		.id = 1, .dir = dir, .bind_url = url, .key = key,
		.key_len = strlen(key), .log = quiet,
	};
	struct raft_io_posix *io = raft_io_posix_create(&p, err, sizeof(err));
	if (io == NULL)
		fail_msg("create: %s", err);
	return io;
}

static void free_load(struct raft_io_load *l)
{
	for (unsigned i = 0; i < l->n_entries; i++)
		raft_heap_free(l->entries[i].buf.base);
	raft_heap_free(l->entries);
	if (l->snapshot != NULL) {
		raft_snapshot_close(l->snapshot);
		raft_heap_free(l->snapshot);
	}
}

static int rm_cb(const char *path, const struct stat *sb, int flag,
		 struct FTW *ftw)
{
	(void)sb;
	(void)flag;
	(void)ftw;
	return remove(path);
}

static int setup(void **state)
{
	(void)state;
	snprintf(dir, sizeof(dir), "/tmp/test_disk_io.XXXXXX");
	if (mkdtemp(dir) == NULL)
		return -1;
	snprintf(url, sizeof(url), "tcp://127.0.0.1:%d", free_port());
	n_order = 0;
	snap_status = -1;
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	nftw(dir, rm_cb, 16, FTW_DEPTH | FTW_PHYS);
	return 0;
}

static void test_batch_order_reload(void **state)
{
	(void)state;
	struct raft_io_posix *p = open_io();
	struct raft_io *io = raft_io_posix_io(p);
	struct raft_io_load l;
	assert_int_equal(io->load(io, &l), 0);
	assert_int_equal(l.n_entries, 0);
	free_load(&l);
	assert_int_equal(io->persist_vote(io, 3, 2), 0);

	/* 10 requests of 2 entries each: indexes 1..20, terms = tag. */
	static char payload[20][16];
	struct raft_entry e[20];
	struct tagged_append reqs[12];
	for (int i = 0; i < 20; i++) {
		snprintf(payload[i], sizeof(payload[i]), "p%d", i + 1);
		e[i] = (struct raft_entry){ .term = (raft_term)(i / 2 + 1),
					    .type = RAFT_COMMAND,
					    .buf = { payload[i],
						     strlen(payload[i]) } };
	}
	for (int r = 0; r < 10; r++) {
		reqs[r].tag = r;
		reqs[r].req.data = &reqs[r];
		assert_int_equal(io->append(io, &reqs[r].req,
					    (raft_index)(2 * r + 1), &e[2 * r],
					    2, append_cb),
				 0);
	}
	/* A suffix truncate in the queue: entries 19, 20 go, and the next
	 * append rewrites 19 with term 99. */
	assert_int_equal(io->truncate(io, 19), 0);
	struct raft_entry e19 = { .term = 99, .type = RAFT_BARRIER };
	reqs[10].tag = 10;
	reqs[10].req.data = &reqs[10];
	assert_int_equal(io->append(io, &reqs[10].req, 19, &e19, 1, append_cb),
			 0);
	/* Nothing completes inside the calls. */
	assert_int_equal(n_order, 0);
	raft_io_posix_flush(p);
	assert_int_equal(n_order, 11);
	for (int i = 0; i < 11; i++) {
		assert_int_equal(order[i], i);
		assert_int_equal(statuses[i], 0);
	}
	struct raft_io_posix_stats st;
	raft_io_posix_stats_get(p, &st);
	assert_int_equal(st.append_reqs, 11);
	assert_int_equal(st.entries, 21);
	/* The truncate syncs on its own; the 11 appends share one sync. */
	assert_int_equal(st.syncs, 1);

	/* Snapshot at 10 keeping 5 trailing entries, ordered after an
	 * append of 20. */
	char a1[] = "tcp://127.0.0.1:1", a2[] = "tcp://127.0.0.1:2";
	struct raft_server servers[2] = { { 1, a1, RAFT_VOTER },
					  { 2, a2, RAFT_VOTER } };
	struct raft_snapshot snap = {
		.meta = { .index = 10, .term = 5,
			  .conf = { .servers = servers, .n = 2 },
			  .conf_index = 1 },
		.data = { "fsm", 3 } };
	struct raft_entry e20 = { .term = 99, .type = RAFT_COMMAND,
				  .buf = { "last", 4 } };
	reqs[11].tag = 11;
	reqs[11].req.data = &reqs[11];
	n_order = 0;
	assert_int_equal(io->append(io, &reqs[11].req, 20, &e20, 1, append_cb),
			 0);
	struct raft_io_snapshot_put sreq;
	assert_int_equal(io->snapshot_put(io, &sreq, 5, &snap, snap_cb), 0);
	raft_io_posix_flush(p);
	assert_int_equal(n_order, 2);
	assert_int_equal(order[0], 11);
	assert_int_equal(order[1], 1000);
	assert_int_equal(snap_status, 0);
	raft_io_posix_free(p);

	/* Reopen: everything that completed is there. */
	p = open_io();
	io = raft_io_posix_io(p);
	assert_int_equal(io->load(io, &l), 0);
	assert_int_equal(l.term, 3);
	assert_int_equal(l.voted_for, 2);
	assert_non_null(l.snapshot);
	assert_int_equal(l.snapshot->meta.index, 10);
	assert_int_equal(l.snapshot->meta.term, 5);
	assert_int_equal(l.snapshot->meta.conf.n, 2);
	assert_string_equal(l.snapshot->meta.conf.servers[1].address, a2);
	assert_int_equal(l.snapshot->data.len, 3);
	assert_memory_equal(l.snapshot->data.base, "fsm", 3);
	/* Compaction drops whole segments only; with the default segment
	 * size everything is still in one segment. */
	assert_int_equal(l.start_index, 1);
	assert_int_equal(l.n_entries, 20);
	for (unsigned i = 0; i < 18; i++) {
		assert_int_equal(l.entries[i].term, i / 2 + 1);
		assert_memory_equal(l.entries[i].buf.base, payload[i],
				    strlen(payload[i]));
	}
	assert_int_equal(l.entries[18].term, 99);
	assert_int_equal(l.entries[18].type, RAFT_BARRIER);
	assert_int_equal(l.entries[19].buf.len, 4);
	free_load(&l);
	/* State exists: bootstrap is refused. */
	struct raft_entry boot = { .term = 1, .type = RAFT_CHANGE };
	assert_int_equal(io->bootstrap(io, &boot), RAFT_CANTBOOTSTRAP);
	raft_io_posix_free(p);
}

static void test_close_cancels(void **state)
{
	(void)state;
	struct raft_io_posix *p = open_io();
	struct raft_io *io = raft_io_posix_io(p);
	struct raft_io_load l;
	assert_int_equal(io->load(io, &l), 0);
	free_load(&l);
	struct raft_entry e = { .term = 1, .type = RAFT_COMMAND,
				.buf = { "x", 1 } };
	struct tagged_append reqs[3];
	for (int r = 0; r < 3; r++) {
		reqs[r].tag = r;
		reqs[r].req.data = &reqs[r];
		assert_int_equal(io->append(io, &reqs[r].req,
					    (raft_index)(r + 1), &e, 1,
					    append_cb),
				 0);
	}
	io->close(io);
	assert_int_equal(n_order, 3);
	for (int i = 0; i < 3; i++) {
		assert_int_equal(order[i], i);
		assert_int_equal(statuses[i], RAFT_CANCELED);
	}
	/* No callback after close, and no new requests. */
	assert_int_not_equal(io->append(io, &reqs[0].req, 1, &e, 1, append_cb),
			     0);
	raft_io_posix_flush(p);
	assert_int_equal(n_order, 3);
	raft_io_posix_free(p);
}

static void append_one(struct raft_io *io, struct tagged_append *t, int tag,
		       raft_index index, struct raft_entry *e)
{
	t->tag = tag;
	t->req.data = t;
	assert_int_equal(io->append(io, &t->req, index, e, 1, append_cb), 0);
}

/*
 * Disk failures through the io: a failed write fails its request and the
 * rest of the batch, and a truncate + re-append then succeeds (what the
 * core does); a failed fdatasync fails every append of its batch and
 * poisons the disk (fsyncgate), logged once, until the server restarts and
 * recovers from what is on disk.
 */
static void test_disk_failures(void **state)
{
	(void)state;
	struct raft_io_posix *p = open_io_sys(&shim);
	struct raft_io *io = raft_io_posix_io(p);
	struct raft_io_load l;
	assert_int_equal(io->load(io, &l), 0);
	free_load(&l);
	struct raft_entry e = { .term = 1, .type = RAFT_COMMAND,
				.buf = { "x", 1 } };
	struct tagged_append t[8];

	/* write fails for the second of three requests */
	append_one(io, &t[0], 0, 1, &e);
	append_one(io, &t[1], 1, 2, &e);
	append_one(io, &t[2], 2, 3, &e);
	fail_write_in = 2;	/* segment header, record 1, record 2 */
	raft_io_posix_flush(p);
	assert_int_equal(n_order, 3);
	assert_int_equal(statuses[0], 0);
	assert_int_equal(statuses[1], RAFT_IOERR);
	assert_int_equal(statuses[2], RAFT_IOERR);
	/* recover as the core would: truncate at the failure, re-append */
	assert_int_equal(io->truncate(io, 2), 0);
	append_one(io, &t[3], 3, 2, &e);
	raft_io_posix_flush(p);
	assert_int_equal(n_order, 4);
	assert_int_equal(statuses[3], 0);

	/* fdatasync fails: the whole batch fails, later batches too */
	n_order = 0;
	log_lines = 0;
	append_one(io, &t[4], 4, 3, &e);
	append_one(io, &t[5], 5, 4, &e);
	fail_sync_in = 0;
	raft_io_posix_flush(p);
	assert_int_equal(n_order, 2);
	assert_int_equal(statuses[0], RAFT_IOERR);
	assert_int_equal(statuses[1], RAFT_IOERR);
	for (int i = 6; i < 8; i++) {
		append_one(io, &t[i], i, 3, &e);
		raft_io_posix_flush(p);
	}
	assert_int_equal(n_order, 4);
	assert_int_equal(statuses[2], RAFT_IOERR);
	assert_int_equal(statuses[3], RAFT_IOERR);
	/* one line for the sync failure, one for "broken", not one per
	 * request */
	assert_int_equal(log_lines, 2);
	raft_io_posix_free(p);

	/* restart: what is on disk loads, contiguous from 1 */
	fail_sync_in = fail_write_in = -1;
	p = open_io();
	io = raft_io_posix_io(p);
	assert_int_equal(io->load(io, &l), 0);
	assert_int_equal(l.start_index, 1);
	assert_true(l.n_entries >= 2 && l.n_entries <= 4);
	free_load(&l);
	raft_io_posix_free(p);
}

/* A second instance on a data directory in use fails cleanly (the disk
 * layer's lock), with a message, and frees what it built: no crash in the
 * error path that closes a half-made io. */
static void test_dir_in_use(void **state)
{
	(void)state;
	struct raft_io_posix *io = open_io();
	char err[256] = "";
	struct raft_io_posix_params p = {
		.id = 1, .dir = dir, .bind_url = url, .key = key,
		.key_len = strlen(key), .log = quiet,
	};
	assert_null(raft_io_posix_create(&p, err, sizeof(err)));
	assert_true(err[0] != '\0');
	raft_io_posix_free(io);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_dir_in_use, setup, teardown),
		cmocka_unit_test_setup_teardown(test_batch_order_reload, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_close_cancels, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_disk_failures, setup,
						teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
