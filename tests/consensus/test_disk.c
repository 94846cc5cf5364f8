/*
 * Unit tests for consensus/disk.c: round trip, segment rollover,
 * truncation, snapshot+compaction, torn tails at every byte offset of the
 * last record, refusal of mid-log corruption, atomic metadata, and
 * countdown fault injection through the raft_disk_sys shim (fail the Nth
 * system call, transient and persistent; every step must give a clean
 * error, and what is left on disk must always load again).
 */
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "disk.h"

#define ERRLEN RAFT_DISK_ERRMSG_SIZE

static char last_log[512];
static int n_logs;

static void capture_log(void *data, const char *line)
{
	(void)data;
	snprintf(last_log, sizeof(last_log), "%s", line);
	n_logs++;
}

static int rm_cb(const char *path, const struct stat *sb, int flag,
		 struct FTW *ftw)
{
	(void)sb;
	(void)flag;
	(void)ftw;
	return remove(path);
}

static void rm_rf(const char *dir)
{
	nftw(dir, rm_cb, 16, FTW_DEPTH | FTW_PHYS);
}

struct fixture {
	char dir[64];
};

static int setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));
	snprintf(f->dir, sizeof(f->dir), "/tmp/test_disk.XXXXXX");
	if (mkdtemp(f->dir) == NULL)
		return -1;
	n_logs = 0;
	last_log[0] = 0;
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;
	rm_rf(f->dir);
	free(f);
	return 0;
}

static struct raft_disk *open_disk(const char *dir, size_t seg,
				   const struct raft_disk_sys *sys)
{
	struct raft_disk_params p = { .dir = dir, .segment_size = seg,
				      .log = capture_log, .sys = sys };
	char err[ERRLEN];
	return raft_disk_create(&p, err, sizeof(err));
}

/* Payload names its index and term so a misplaced entry is detected. */
static size_t fill_payload(char *buf, size_t cap, uint64_t index,
			   uint64_t term)
{
	return (size_t)snprintf(buf, cap, "entry-%llu-term-%llu",
				(unsigned long long)index,
				(unsigned long long)term);
}

static int append_range(struct raft_disk *d, uint64_t first, uint64_t n,
			uint64_t term)
{
	struct raft_disk_entry e[64];
	char bufs[64][48];
	char err[ERRLEN];
	assert_true(n <= 64);
	for (uint64_t i = 0; i < n; i++) {
		e[i].term = term;
		e[i].type = 1;
		e[i].buf = bufs[i];
		e[i].len = fill_payload(bufs[i], sizeof(bufs[i]), first + i,
					term);
	}
	return raft_disk_append(d, first, e, (size_t)n, err, sizeof(err));
}

static void check_entry(const struct raft_disk_entry *e, uint64_t index,
			uint64_t term)
{
	char want[48];
	size_t len = fill_payload(want, sizeof(want), index, term);
	assert_int_equal(e->term, term);
	assert_int_equal(e->len, len);
	assert_memory_equal(e->buf, want, len);
}

static void test_roundtrip(void **state)
{
	struct fixture *f = *state;
	char err[ERRLEN];
	struct raft_disk_state st;
	struct raft_disk *d = open_disk(f->dir, 512, NULL);
	assert_non_null(d);
	assert_int_equal(raft_disk_load(d, &st, err, sizeof(err)), RAFT_DISK_OK);
	assert_int_equal(st.n_entries, 0);
	assert_int_equal(st.term, 0);
	assert_int_equal(st.start_index, 1);
	raft_disk_state_free(d, &st);

	assert_int_equal(raft_disk_set_term_vote(d, 7, 3, err, sizeof(err)), 0);
	for (uint64_t i = 1; i <= 200; i += 20)
		assert_int_equal(append_range(d, i, 20, i < 100 ? 1 : 2), 0);
	assert_int_equal(raft_disk_sync(d, err, sizeof(err)), 0);
	/* 200 records of ~56 bytes in 512-byte segments: several files. */
	assert_true(raft_disk_n_segments(d) > 5);
	/* A non-contiguous append is refused and changes nothing. */
	assert_int_equal(append_range(d, 300, 1, 2), RAFT_DISK_INVAL);
	raft_disk_free(d);

	d = open_disk(f->dir, 512, NULL);
	assert_int_equal(raft_disk_load(d, &st, err, sizeof(err)), RAFT_DISK_OK);
	assert_int_equal(st.term, 7);
	assert_int_equal(st.voted_for, 3);
	assert_int_equal(st.start_index, 1);
	assert_int_equal(st.n_entries, 200);
	assert_int_equal(st.torn_bytes, 0);
	for (uint64_t i = 0; i < 200; i++)
		check_entry(&st.entries[i], i + 1, i + 1 < 101 ? 1 : 2);
	raft_disk_state_free(d, &st);
	assert_int_equal(raft_disk_last_index(d), 200);
	/* Appends continue after a reload. */
	assert_int_equal(append_range(d, 201, 1, 3), 0);
	assert_int_equal(raft_disk_sync(d, err, sizeof(err)), 0);
	raft_disk_free(d);
	assert_int_equal(n_logs, 0);
}

static void test_lock(void **state)
{
	struct fixture *f = *state;
	struct raft_disk *d = open_disk(f->dir, 0, NULL);
	assert_non_null(d);
	char err[ERRLEN];
	struct raft_disk_params p = { .dir = f->dir };
	assert_null(raft_disk_create(&p, err, sizeof(err)));
	assert_non_null(strstr(err, "locked"));
	raft_disk_free(d);
	raft_disk_free(NULL);
}

static void test_truncate(void **state)
{
	struct fixture *f = *state;
	char err[ERRLEN];
	struct raft_disk_state st;
	struct raft_disk *d = open_disk(f->dir, 300, NULL);
	assert_int_equal(raft_disk_load(d, &st, err, sizeof(err)), 0);
	raft_disk_state_free(d, &st);
	for (uint64_t i = 1; i <= 60; i += 10)
		assert_int_equal(append_range(d, i, 10, 1), 0);
	size_t segs = raft_disk_n_segments(d);
	/* Cut across segment boundaries, then overwrite with term 2. */
	assert_int_equal(raft_disk_truncate(d, 17, err, sizeof(err)), 0);
	assert_true(raft_disk_n_segments(d) < segs);
	assert_int_equal(raft_disk_last_index(d), 16);
	assert_int_equal(append_range(d, 17, 10, 2), 0);
	/* Beyond the end: no-op. */
	assert_int_equal(raft_disk_truncate(d, 100, err, sizeof(err)), 0);
	assert_int_equal(raft_disk_sync(d, err, sizeof(err)), 0);
	raft_disk_free(d);

	d = open_disk(f->dir, 300, NULL);
	assert_int_equal(raft_disk_load(d, &st, err, sizeof(err)), 0);
	assert_int_equal(st.n_entries, 26);
	for (uint64_t i = 0; i < 26; i++)
		check_entry(&st.entries[i], i + 1, i < 16 ? 1 : 2);
	raft_disk_state_free(d, &st);
	/* Truncating at the first index empties the log; the next append
	 * may then start anywhere. */
	assert_int_equal(raft_disk_truncate(d, 1, err, sizeof(err)), 0);
	assert_int_equal(raft_disk_n_segments(d), 0);
	assert_int_equal(append_range(d, 500, 3, 4), 0);
	assert_int_equal(raft_disk_sync(d, err, sizeof(err)), 0);
	raft_disk_free(d);

	d = open_disk(f->dir, 300, NULL);
	assert_int_equal(raft_disk_load(d, &st, err, sizeof(err)), 0);
	assert_int_equal(st.start_index, 500);
	assert_int_equal(st.n_entries, 3);
	check_entry(&st.entries[2], 502, 4);
	raft_disk_state_free(d, &st);
	raft_disk_free(d);
}

static void test_snapshot_compact(void **state)
{
	struct fixture *f = *state;
	char err[ERRLEN];
	struct raft_disk_state st;
	struct raft_disk *d = open_disk(f->dir, 300, NULL);
	assert_int_equal(raft_disk_load(d, &st, err, sizeof(err)), 0);
	raft_disk_state_free(d, &st);
	for (uint64_t i = 1; i <= 60; i += 10)
		assert_int_equal(append_range(d, i, 10, 1), 0);
	assert_int_equal(raft_disk_sync(d, err, sizeof(err)), 0);
	const char conf[] = "conf-bytes", data[] = "fsm-state";
	assert_int_equal(raft_disk_snapshot_put(d, 50, 1, 1, conf, sizeof(conf),
						data, sizeof(data), 40, err,
						sizeof(err)),
			 0);
	/* Whole segments at or below 40 are gone; nothing above 40 is. */
	uint64_t first = raft_disk_first_index(d);
	assert_true(first > 1 && first <= 41);
	raft_disk_free(d);

	d = open_disk(f->dir, 300, NULL);
	assert_int_equal(raft_disk_load(d, &st, err, sizeof(err)), 0);
	assert_int_equal(st.snap_index, 50);
	assert_int_equal(st.snap_term, 1);
	assert_int_equal(st.snap_conf_index, 1);
	assert_int_equal(st.snap_conf_len, sizeof(conf));
	assert_memory_equal(st.snap_conf, conf, sizeof(conf));
	assert_int_equal(st.snap_data_len, sizeof(data));
	assert_memory_equal(st.snap_data, data, sizeof(data));
	assert_int_equal(st.start_index, first);
	assert_int_equal(st.start_index + st.n_entries - 1, 60);
	for (size_t i = 0; i < st.n_entries; i++)
		check_entry(&st.entries[i], first + i, 1);
	raft_disk_state_free(d, &st);

	/* A snapshot from the leader replaces the whole log. */
	assert_int_equal(raft_disk_snapshot_put(d, 90, 3, 1, conf, sizeof(conf),
						NULL, 0, 0, err, sizeof(err)),
			 0);
	assert_int_equal(raft_disk_truncate(d, raft_disk_first_index(d), err,
					    sizeof(err)),
			 0);
	assert_int_equal(append_range(d, 91, 2, 3), 0);
	assert_int_equal(raft_disk_sync(d, err, sizeof(err)), 0);
	raft_disk_free(d);
	d = open_disk(f->dir, 300, NULL);
	assert_int_equal(raft_disk_load(d, &st, err, sizeof(err)), 0);
	assert_int_equal(st.snap_index, 90);
	assert_int_equal(st.snap_data_len, 0);
	assert_int_equal(st.start_index, 91);
	assert_int_equal(st.n_entries, 2);
	raft_disk_state_free(d, &st);
	raft_disk_free(d);
}

/* Write n entries into a fresh dir (one segment) and return the segment
 * bytes and the offset where the last record starts. */
static uint8_t *make_log(const char *dir, uint64_t n, size_t *len,
			 size_t *last_off, char *seg_path, size_t path_len)
{
	char err[ERRLEN];
	struct raft_disk_state st;
	struct raft_disk *d = open_disk(dir, 0, NULL);
	assert_int_equal(raft_disk_load(d, &st, err, sizeof(err)), 0);
	raft_disk_state_free(d, &st);
	assert_int_equal(append_range(d, 1, n - 1, 1), 0);
	assert_int_equal(raft_disk_sync(d, err, sizeof(err)), 0);
	snprintf(seg_path, path_len, "%s/%020d.seg", dir, 1);
	struct stat sb;
	assert_int_equal(stat(seg_path, &sb), 0);
	*last_off = (size_t)sb.st_size;
	assert_int_equal(append_range(d, n, 1, 1), 0);
	assert_int_equal(raft_disk_sync(d, err, sizeof(err)), 0);
	raft_disk_free(d);
	assert_int_equal(stat(seg_path, &sb), 0);
	*len = (size_t)sb.st_size;
	uint8_t *buf = malloc(*len);
	FILE *fp = fopen(seg_path, "rb");
	assert_int_equal(fread(buf, 1, *len, fp), *len);
	fclose(fp);
	return buf;
}

static void write_file(const char *path, const uint8_t *buf, size_t len)
{
	FILE *fp = fopen(path, "wb");
	assert_non_null(fp);
	assert_int_equal(fwrite(buf, 1, len, fp), len);
	fclose(fp);
}

static void test_torn_tail_every_offset(void **state)
{
	struct fixture *f = *state;
	char path[128], err[ERRLEN];
	size_t len, last_off;
	uint8_t *img = make_log(f->dir, 8, &len, &last_off, path, sizeof(path));
	assert_true(len > last_off + 32);
	/* Cut the file at every byte of the last record: 7 entries survive
	 * and the cut is reported once, except at the exact boundary. */
	for (size_t cut = last_off; cut < len; cut++) {
		write_file(path, img, cut);
		n_logs = 0;
		struct raft_disk *d = open_disk(f->dir, 0, NULL);
		struct raft_disk_state st;
		assert_int_equal(raft_disk_load(d, &st, err, sizeof(err)), 0);
		assert_int_equal(st.n_entries, 7);
		assert_int_equal(st.torn_bytes, cut - last_off);
		assert_int_equal(n_logs, cut > last_off ? 1 : 0);
		if (cut > last_off)
			assert_non_null(strstr(last_log, "torn tail"));
		raft_disk_state_free(d, &st);
		/* The log is usable: entry 8 can be re-appended. */
		assert_int_equal(append_range(d, 8, 1, 2), 0);
		raft_disk_free(d);
	}
	/* Same length but garbage in the last record (crash after size
	 * update, before data): bad CRC with nothing valid after it. */
	for (size_t at = last_off; at < len; at += 5) {
		img[at] ^= 0x5a;
		write_file(path, img, len);
		img[at] ^= 0x5a;
		struct raft_disk *d = open_disk(f->dir, 0, NULL);
		struct raft_disk_state st;
		assert_int_equal(raft_disk_load(d, &st, err, sizeof(err)), 0);
		assert_int_equal(st.n_entries, 7);
		raft_disk_state_free(d, &st);
		raft_disk_free(d);
	}
	/* Zero fill after the valid records is also a torn tail. */
	uint8_t *z = calloc(1, len + 100);
	memcpy(z, img, last_off);
	write_file(path, z, len + 100);
	free(z);
	struct raft_disk *d = open_disk(f->dir, 0, NULL);
	struct raft_disk_state st;
	assert_int_equal(raft_disk_load(d, &st, err, sizeof(err)), 0);
	assert_int_equal(st.n_entries, 7);
	raft_disk_state_free(d, &st);
	raft_disk_free(d);
	free(img);
}

static void test_mid_log_corruption(void **state)
{
	struct fixture *f = *state;
	char path[128], err[ERRLEN], want[160];
	size_t len, last_off;
	uint8_t *img = make_log(f->dir, 8, &len, &last_off, path, sizeof(path));
	/* Record 1 starts right after the 32-byte segment header; every
	 * record here is the same size. */
	size_t rec = len - last_off;
	struct {
		size_t at;	/* byte to flip */
		size_t rec_off;	/* offset named in the message */
	} cases[] = {
		{ 32 + 0, 32 },			/* CRC field of record 1 */
		{ 32 + 4, 32 },			/* length field of record 1 */
		{ 32 + rec + 40, 32 + rec },	/* payload of record 2 */
		{ last_off - 1, last_off - rec },	/* last byte of record 7 */
		{ 32 + 2 * rec + 16, 32 + 2 * rec },	/* term of record 3 */
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		img[cases[i].at] ^= 0x01;
		write_file(path, img, len);
		img[cases[i].at] ^= 0x01;
		struct raft_disk *d = open_disk(f->dir, 0, NULL);
		struct raft_disk_state st;
		err[0] = 0;
		assert_int_equal(raft_disk_load(d, &st, err, sizeof(err)),
				 RAFT_DISK_CORRUPT);
		snprintf(want, sizeof(want), "at offset %zu", cases[i].rec_off);
		assert_non_null(strstr(err, path));
		assert_non_null(strstr(err, want));
		/* Refused means nothing loaded and nothing mutable. */
		assert_int_equal(st.n_entries, 0);
		assert_null(st.entries);
		assert_int_equal(append_range(d, 9, 1, 1), RAFT_DISK_INVAL);
		raft_disk_free(d);
	}
	/* A damaged non-last segment is never a torn tail. */
	write_file(path, img, len);
	char other[160];
	snprintf(other, sizeof(other), "%s/%020d.seg", f->dir, 9);
	uint8_t hdr[32] = { 'S', 'L', 'S', 'G', 1, 0, 0, 0, 9 };
	uint32_t crc = raft_disk_crc32c(0, hdr, 28);
	for (int i = 0; i < 4; i++)
		hdr[28 + i] = (uint8_t)(crc >> (8 * i));
	write_file(other, hdr, sizeof(hdr));
	write_file(path, img, len - 3);	/* tail of the first segment cut */
	struct raft_disk *d = open_disk(f->dir, 0, NULL);
	struct raft_disk_state st;
	assert_int_equal(raft_disk_load(d, &st, err, sizeof(err)),
			 RAFT_DISK_CORRUPT);
	assert_non_null(strstr(err, path));
	raft_disk_free(d);
	free(img);
}

/* ---- fault injection shim ---- */

static struct {
	int armed;
	long countdown;	/* fail when it reaches 0 */
	int persistent;
	long fired;
} fault;

static int fault_hit(void)
{
	if (!fault.armed)
		return 0;
	if (fault.countdown > 0) {
		fault.countdown--;
		return 0;
	}
	if (!fault.persistent)
		fault.armed = 0;
	fault.fired++;
	errno = EIO;
	return 1;
}

static int f_open(const char *p, int fl, mode_t m)
{
	return fault_hit() ? -1 : open(p, fl, m);
}
static ssize_t f_write(int fd, const void *b, size_t n)
{
	if (fault_hit())
		return -1;
	/* Short writes exercise the retry loop. */
	return write(fd, b, n > 7 ? n / 2 : n);
}
static ssize_t f_read(int fd, void *b, size_t n)
{
	return fault_hit() ? -1 : read(fd, b, n);
}
static int f_fsync(int fd)
{
	return fault_hit() ? -1 : fsync(fd);
}
static int f_fdatasync(int fd)
{
	return fault_hit() ? -1 : fdatasync(fd);
}
static int f_rename(const char *a, const char *b)
{
	return fault_hit() ? -1 : rename(a, b);
}
static int f_ftruncate(int fd, off_t l)
{
	return fault_hit() ? -1 : ftruncate(fd, l);
}
static int f_unlink(const char *p)
{
	return fault_hit() ? -1 : unlink(p);
}

static const struct raft_disk_sys fault_sys = {
	f_open, f_write, f_read, f_fsync, f_fdatasync, f_rename, f_ftruncate,
	f_unlink,
};

static void test_metadata_atomic(void **state)
{
	struct fixture *f = *state;
	char err[ERRLEN], path[128];
	struct raft_disk_state st;
	struct raft_disk *d = open_disk(f->dir, 0, &fault_sys);
	assert_int_equal(raft_disk_load(d, &st, err, sizeof(err)), 0);
	assert_int_equal(raft_disk_set_term_vote(d, 5, 2, err, sizeof(err)), 0);
	/* Fail each step of the replacement in turn (open, write, fsync,
	 * rename): the old value must survive every one. Calls: open, write
	 * (x several, short writes), fsync, rename, fsync dir. */
	for (long n = 0; n < 12; n++) {
		fault.armed = 1;
		fault.countdown = n;
		fault.persistent = 0;
		fault.fired = 0;
		int rv = raft_disk_set_term_vote(d, 6, 1, err, sizeof(err));
		fault.armed = 0;
		if (fault.fired == 0) {
			assert_int_equal(rv, 0);
			break;
		}
		assert_int_not_equal(rv, 0);
		raft_disk_free(d);
		snprintf(path, sizeof(path), "%s/metadata.tmp", f->dir);
		d = open_disk(f->dir, 0, NULL);
		assert_int_equal(raft_disk_load(d, &st, err, sizeof(err)), 0);
		/* Failing the final dir fsync leaves the new file in place;
		 * every earlier failure leaves the old one. */
		assert_true((st.term == 5 && st.voted_for == 2) ||
			    (rv == RAFT_DISK_IO && st.term == 6));
		assert_int_equal(access(path, F_OK), -1);
		raft_disk_state_free(d, &st);
		raft_disk_set_term_vote(d, 5, 2, err, sizeof(err));
		raft_disk_free(d);
		d = open_disk(f->dir, 0, &fault_sys);
		assert_int_equal(raft_disk_load(d, &st, err, sizeof(err)), 0);
	}
	raft_disk_free(d);
	/* A stale half-written temp file is ignored and removed. */
	snprintf(path, sizeof(path), "%s/metadata.tmp", f->dir);
	write_file(path, (const uint8_t *)"junk", 4);
	d = open_disk(f->dir, 0, NULL);
	assert_int_equal(raft_disk_load(d, &st, err, sizeof(err)), 0);
	assert_int_equal(st.term, 6);
	assert_int_equal(access(path, F_OK), -1);
	raft_disk_free(d);
	/* A damaged metadata file is refused, not read as term 0. */
	snprintf(path, sizeof(path), "%s/metadata", f->dir);
	write_file(path, (const uint8_t *)"SLMD\1\0\0\0garbage-garbage-garbage!",
		   32);
	d = open_disk(f->dir, 0, NULL);
	assert_int_equal(raft_disk_load(d, &st, err, sizeof(err)),
			 RAFT_DISK_CORRUPT);
	assert_non_null(strstr(err, "metadata"));
	raft_disk_free(d);
}

static int fault_step(struct raft_disk *d, int step, uint64_t *next,
		      char *err)
{
	int rv = 0;
	err[0] = 0;
	switch (step) {
	case 0:
		rv = raft_disk_set_term_vote(d, 2, 1, err, ERRLEN);
		break;
	case 1: case 2: case 4:
		rv = append_range(d, *next, 3, 2);
		if (rv == 0)
			*next += 3;
		else
			snprintf(err, ERRLEN, "append failed");
		break;
	case 3: case 6:
		rv = raft_disk_sync(d, err, ERRLEN);
		break;
	case 5:
		rv = raft_disk_truncate(d, *next - 2, err, ERRLEN);
		if (rv == 0)
			*next = raft_disk_last_index(d) + 1;
		break;
	case 7:
		rv = raft_disk_snapshot_put(d, 3, 2, 1, "c", 1, "d", 1, 3, err,
					    ERRLEN);
		break;
	}
	return rv;
}

/*
 * One workload touching every mutation. A step failing on a transient
 * fault must leave the handle usable: unless it reports itself broken
 * (failed sync), retrying the same step succeeds. With persistent faults
 * the workload stops at the first error.
 */
static int fault_workload(const char *dir, long n, int persistent)
{
	char err[ERRLEN];
	struct raft_disk_state st;
	fault.armed = 1;
	fault.countdown = n;
	fault.persistent = persistent;
	fault.fired = 0;
	struct raft_disk *d = open_disk(dir, 200, &fault_sys);
	if (d == NULL)
		goto out;
	int rv = raft_disk_load(d, &st, err, sizeof(err));
	if (rv != 0) {
		assert_true(rv == RAFT_DISK_IO || rv == RAFT_DISK_NOMEM);
		assert_true(strlen(err) > 0);
		if (persistent)
			goto out;
		assert_int_equal(raft_disk_load(d, &st, err, sizeof(err)), 0);
	}
	uint64_t next = st.start_index + st.n_entries;
	raft_disk_state_free(d, &st);
	for (int step = 0; step < 8; step++) {
		rv = fault_step(d, step, &next, err);
		if (rv == 0)
			continue;
		assert_true(rv == RAFT_DISK_IO || rv == RAFT_DISK_BROKEN ||
			    rv == RAFT_DISK_NOMEM);
		assert_true(strlen(err) > 0);
		if (persistent || raft_disk_broken(d))
			break;
		assert_int_equal(fault_step(d, step, &next, err), 0);
	}
out:
	raft_disk_free(d);
	int clean = fault.fired == 0;
	fault.armed = 0;
	/* Whatever the faults did, the directory must load again and hold
	 * a contiguous log whose entries are the ones written there. */
	d = open_disk(dir, 200, NULL);
	assert_non_null(d);
	assert_int_equal(raft_disk_load(d, &st, err, sizeof(err)), 0);
	for (size_t i = 0; i < st.n_entries; i++)
		check_entry(&st.entries[i], st.start_index + i, 2);
	raft_disk_state_free(d, &st);
	raft_disk_free(d);
	return clean;
}

static void test_fault_countdown(void **state)
{
	struct fixture *f = *state;
	for (int persistent = 0; persistent <= 1; persistent++) {
		long n;
		for (n = 0; n < 400; n++) {
			char dir[96];
			snprintf(dir, sizeof(dir), "%s/run-%d-%ld", f->dir,
				 persistent, n);
			if (fault_workload(dir, n, persistent))
				break;
			rm_rf(dir);
		}
		print_message("fault countdown: persistent=%d clean after %ld\n", persistent, n);
		/* The workload must eventually finish below the bound, or the
		 * loop tested nothing past it. */
		assert_true(n > 10 && n < 400);
	}
}

/* ---- allocation countdown on the buffers handed out by load ---- */

static long alloc_countdown = -1;
static long alloc_live;

static void *count_alloc(size_t n)
{
	if (alloc_countdown == 0)
		return NULL;
	if (alloc_countdown > 0)
		alloc_countdown--;
	alloc_live++;
	return malloc(n);
}

static void count_free(void *p)
{
	alloc_live--;
	free(p);
}

static void test_alloc_countdown(void **state)
{
	struct fixture *f = *state;
	char err[ERRLEN];
	struct raft_disk_state st;
	struct raft_disk *d = open_disk(f->dir, 300, NULL);
	assert_int_equal(raft_disk_load(d, &st, err, sizeof(err)), 0);
	for (uint64_t i = 1; i <= 30; i += 10)
		assert_int_equal(append_range(d, i, 10, 2), 0);
	assert_int_equal(raft_disk_snapshot_put(d, 5, 2, 1, "c", 1, "d", 1, 0,
						err, sizeof(err)),
			 0);
	assert_int_equal(raft_disk_sync(d, err, sizeof(err)), 0);
	raft_disk_free(d);

	struct raft_disk_params p = { .dir = f->dir, .log = capture_log,
				      .alloc = count_alloc,
				      .dealloc = count_free };
	long n;
	for (n = 0; n < 100; n++) {
		d = raft_disk_create(&p, err, sizeof(err));
		assert_non_null(d);
		alloc_countdown = n;
		alloc_live = 0;
		int rv = raft_disk_load(d, &st, err, sizeof(err));
		alloc_countdown = -1;
		if (rv == RAFT_DISK_OK) {
			raft_disk_state_free(d, &st);
			assert_int_equal(alloc_live, 0);
			raft_disk_free(d);
			break;
		}
		/* A failed load gives back everything and can be retried
		 * on the same handle. */
		assert_int_equal(rv, RAFT_DISK_NOMEM);
		assert_int_equal(alloc_live, 0);
		assert_int_equal(raft_disk_load(d, &st, err, sizeof(err)), 0);
		assert_int_equal(st.n_entries, 30);
		assert_int_equal(st.snap_index, 5);
		raft_disk_state_free(d, &st);
		assert_int_equal(alloc_live, 0);
		raft_disk_free(d);
	}
	/* snapshot conf + data + 30 payloads */
	assert_int_equal(n, 32);
}

/*
 * Model check: a deterministic random sequence of appends, truncations,
 * snapshots with compaction, syncs and reopenings, compared after every
 * reopen with an in-memory model of which term each index holds.
 */
static void test_model_random(void **state)
{
	struct fixture *f = *state;
	char err[ERRLEN];
	enum { MAXI = 4096 };
	static uint64_t model[MAXI];	/* term at index, 0 = absent */
	uint64_t first = 1, last = 0, term = 1, snap = 0;
	uint64_t rng = 0x9e3779b97f4a7c15ull;
	unsigned counts[4] = { 0 };	/* append, truncate, snapshot, reopen */
	struct raft_disk_state st;
	struct raft_disk *d = open_disk(f->dir, 256, NULL);
	assert_int_equal(raft_disk_load(d, &st, err, sizeof(err)), 0);
	raft_disk_state_free(d, &st);
	memset(model, 0, sizeof(model));
	for (int op = 0; op < 600; op++) {
		rng ^= rng << 13;
		rng ^= rng >> 7;
		rng ^= rng << 17;
		unsigned r = (unsigned)(rng % 100);
		if (r < 55 && last + 64 < MAXI) {
			uint64_t n = 1 + rng % 12;
			assert_int_equal(append_range(d, last + 1, n, term), 0);
			counts[0]++;
			for (uint64_t i = last + 1; i <= last + n; i++)
				model[i] = term;
			if (last < first)
				first = last + 1;
			last += n;
		} else if (r < 70 && last >= first) {
			uint64_t cut = first + (rng >> 8) % (last - first + 1);
			assert_int_equal(raft_disk_truncate(d, cut, err,
							    sizeof(err)),
					 0);
			counts[1]++;
			if (cut <= raft_disk_first_index(d) || cut <= first) {
				/* whole log gone */
				last = cut - 1;
				first = cut;
			} else {
				last = cut - 1;
			}
			term++;
		} else if (r < 80 && last > first + 4) {
			snap = last - 2;
			assert_int_equal(raft_disk_snapshot_put(
						 d, snap, model[snap], 1, "c", 1,
						 "d", 1, snap - 2, err,
						 sizeof(err)),
					 0);
			counts[2]++;
			/* compaction drops a prefix of whole segments */
			assert_true(raft_disk_first_index(d) >= first);
			assert_true(raft_disk_first_index(d) <= snap - 1);
			first = raft_disk_first_index(d);
		} else if (r < 90) {
			assert_int_equal(raft_disk_sync(d, err, sizeof(err)), 0);
		} else {
			assert_int_equal(raft_disk_sync(d, err, sizeof(err)), 0);
			raft_disk_free(d);
			counts[3]++;
			d = open_disk(f->dir, 256, NULL);
			assert_int_equal(raft_disk_load(d, &st, err, sizeof(err)),
					 0);
			if (last >= first) {
				assert_int_equal(st.start_index, first);
				assert_int_equal(st.n_entries, last - first + 1);
			} else {
				assert_int_equal(st.n_entries, 0);
			}
			for (size_t i = 0; i < st.n_entries; i++)
				check_entry(&st.entries[i], first + i,
					    model[first + i]);
			assert_int_equal(st.snap_index, snap);
			raft_disk_state_free(d, &st);
		}
		/* An empty log has no meaningful last index (the next append
		 * may start anywhere); only emptiness is compared then. */
		bool disk_empty = raft_disk_last_index(d) <
				  raft_disk_first_index(d);
		if (last >= first ? raft_disk_last_index(d) != last || disk_empty
				  : !disk_empty)
			fail_msg("op %d (r=%u): disk last %llu first %llu, model "
				 "last %llu first %llu", op, r,
				 (unsigned long long)raft_disk_last_index(d),
				 (unsigned long long)raft_disk_first_index(d),
				 (unsigned long long)last,
				 (unsigned long long)first);
	}
	raft_disk_free(d);
	/* The sequence exercised every operation many times. */
	for (int i = 0; i < 4; i++)
		assert_true(counts[i] >= 20);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_roundtrip, setup, teardown),
		cmocka_unit_test_setup_teardown(test_lock, setup, teardown),
		cmocka_unit_test_setup_teardown(test_truncate, setup, teardown),
		cmocka_unit_test_setup_teardown(test_snapshot_compact, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_torn_tail_every_offset,
						setup, teardown),
		cmocka_unit_test_setup_teardown(test_mid_log_corruption, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_metadata_atomic, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_fault_countdown, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_alloc_countdown, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_model_random, setup,
						teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
