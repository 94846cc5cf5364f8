/*
 * raft_disk: segment log, metadata and snapshot files (see disk.h and
 * docs/raft-disk-format.md for the byte layout).
 *
 * Design notes:
 * - The whole log is read at load time (the core keeps it in memory, as
 *   canonical raft does), so recovery verifies every CRC once, up front,
 *   and we keep only an offset per entry to make suffix truncation a single
 *   ftruncate.
 * - Every mutation keeps the in-memory view equal to a prefix-consistent
 *   on-disk state after each system call that succeeds, so a failed call can
 *   simply be retried. The exception is a failed fsync/fdatasync: after one,
 *   Linux may have dropped the dirty pages and cleared the error, so a retry
 *   would "succeed" over lost data (PostgreSQL's fsyncgate). We therefore
 *   mark the handle broken; the owner must reopen and recover from disk.
 * - Integers on disk are little-endian with explicit widths, written and
 *   read byte by byte so the format does not depend on the host.
 */
#include "disk.h"
#include <sluice/errmsg.h>
#include "byte.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#define DISK_VERSION 1
#define DISK_SEG_HDR 32
#define DISK_REC_HDR 32
#define DISK_META_SIZE 32
#define DISK_SNAP_HDR 64
/* Upper bound on one entry; a length field above it is a lie, not data. */
#define DISK_MAX_ENTRY (64u << 20)
#define DISK_DEFAULT_SEGMENT (8u << 20)
#define DISK_SEG_NAME_LEN 24	/* 20 digits + ".seg" */

static const uint8_t disk_magic_seg[4] = { 'S', 'L', 'S', 'G' };
static const uint8_t disk_magic_meta[4] = { 'S', 'L', 'M', 'D' };
static const uint8_t disk_magic_snap[4] = { 'S', 'L', 'S', 'N' };

struct disk_seg {
	uint64_t first;	/* index of first entry (also the file name) */
	uint64_t n;	/* entries stored */
	uint64_t size;	/* bytes, header included */
};

struct raft_disk {
	char dir[PATH_MAX - 64];
	struct raft_disk_sys sys;
	void (*log)(void *data, const char *line);
	void *log_data;
	size_t segment_size;
	int lock_fd;
	int dir_fd;
	bool loaded;
	bool broken;
	bool dirty;	/* appended since the last fdatasync */
	int seg_fd;	/* open fd of the last segment, -1 if none */
	struct disk_seg *segs;
	size_t n_segs;
	size_t cap_segs;
	/* off[i - first_index]: byte offset of entry i inside its segment */
	uint64_t *off;
	size_t cap_off;
	uint64_t first_index;
	uint64_t last_index;	/* < first_index when empty */
	uint8_t *wbuf;
	size_t wcap;
	void *(*alloc)(size_t size);
	void (*dealloc)(void *ptr);
};

/* ---- error text ---- */

const char *raft_disk_strerror(int err)
{
	switch (err) {
#define RAFT_DISK_STR(name, str) case RAFT_DISK_##name: return str;
		RAFT_DISK_ERRORS(RAFT_DISK_STR)
#undef RAFT_DISK_STR
	}
	return "unknown error";
}

/* ---- CRC32C, table driven (reflected polynomial 0x82F63B78) ---- */

static uint32_t disk_crc_table[256];

static void disk_crc_init(void)
{
	for (uint32_t i = 0; i < 256; i++) {
		uint32_t c = i;
		for (int k = 0; k < 8; k++)
			c = (c & 1) ? (c >> 1) ^ 0x82F63B78u : c >> 1;
		disk_crc_table[i] = c;
	}
}

uint32_t raft_disk_crc32c(uint32_t crc, const void *buf, size_t len)
{
	const uint8_t *p = buf;
	/* The table is idempotent to build; a race only rewrites equal values,
	 * but keep it single-shot with a flag read after the table. */
	static int ready;
	if (!__atomic_load_n(&ready, __ATOMIC_ACQUIRE)) {
		disk_crc_init();
		__atomic_store_n(&ready, 1, __ATOMIC_RELEASE);
	}
	crc = ~crc;
	while (len--)
		crc = disk_crc_table[(crc ^ *p++) & 0xff] ^ (crc >> 8);
	return ~crc;
}

/* ---- syscall wrappers ---- */

static int sys_open(const struct raft_disk *d, const char *path, int flags,
		    mode_t mode)
{
	return d->sys.open ? d->sys.open(path, flags, mode)
			   : open(path, flags, mode);
}

static ssize_t sys_write(const struct raft_disk *d, int fd, const void *b,
			 size_t n)
{
	return d->sys.write ? d->sys.write(fd, b, n) : write(fd, b, n);
}

static ssize_t sys_read(const struct raft_disk *d, int fd, void *b, size_t n)
{
	return d->sys.read ? d->sys.read(fd, b, n) : read(fd, b, n);
}

static int sys_fsync(const struct raft_disk *d, int fd)
{
	return d->sys.fsync ? d->sys.fsync(fd) : fsync(fd);
}

static int sys_fdatasync(const struct raft_disk *d, int fd)
{
	return d->sys.fdatasync ? d->sys.fdatasync(fd) : fdatasync(fd);
}

static int sys_rename(const struct raft_disk *d, const char *a, const char *b)
{
	return d->sys.rename ? d->sys.rename(a, b) : rename(a, b);
}

static int sys_ftruncate(const struct raft_disk *d, int fd, off_t len)
{
	return d->sys.ftruncate ? d->sys.ftruncate(fd, len)
				: ftruncate(fd, len);
}

static int sys_unlink(const struct raft_disk *d, const char *path)
{
	return d->sys.unlink ? d->sys.unlink(path) : unlink(path);
}

/* Write all of buf, retrying short writes and EINTR. */
static int disk_write_all(const struct raft_disk *d, int fd, const void *buf,
			  size_t len)
{
	const uint8_t *p = buf;
	while (len > 0) {
		ssize_t n = sys_write(d, fd, p, len);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		if (n == 0) {
			errno = EIO;
			return -1;
		}
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

/* Read a whole file into a malloc'ed buffer. -errno-style result in errno. */
static int disk_read_file(const struct raft_disk *d, const char *path,
			  uint8_t **out, size_t *out_len)
{
	int fd = sys_open(d, path, O_RDONLY | O_CLOEXEC, 0);
	if (fd < 0)
		return -1;
	struct stat stbuf;
	if (fstat(fd, &stbuf) != 0) {
		int e = errno;
		close(fd);
		errno = e;
		return -1;
	}
	size_t len = (size_t)stbuf.st_size;
	uint8_t *buf = malloc(len > 0 ? len : 1);
	if (buf == NULL) {
		close(fd);
		errno = ENOMEM;
		return -1;
	}
	size_t got = 0;
	while (got < len) {
		ssize_t n = sys_read(d, fd, buf + got, len - got);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			int e = n < 0 ? errno : EIO;
			free(buf);
			close(fd);
			errno = e;
			return -1;
		}
		got += (size_t)n;
	}
	close(fd);
	*out = buf;
	*out_len = len;
	return 0;
}

static void disk_path(const struct raft_disk *d, char *out, size_t len,
		      const char *name)
{
	snprintf(out, len, "%s/%s", d->dir, name);
}

static void disk_seg_name(uint64_t first, char *out, size_t len)
{
	snprintf(out, len, "%020" PRIu64 ".seg", first);
}

static void disk_logf(const struct raft_disk *d, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

static void disk_logf(const struct raft_disk *d, const char *fmt, ...)
{
	char line[512];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	if (d->log != NULL)
		d->log(d->log_data, line);
	else
		fprintf(stderr, "%s\n", line);
}

/*
 * Atomically replace dir/name with buf: write name.tmp, fsync it, rename
 * over name, fsync the directory so the rename itself is durable. A crash
 * at any point leaves either the old or the new file, never a mix.
 */
static int disk_replace_file(struct raft_disk *d, const char *name,
			     const void *buf, size_t len, char *errmsg,
			     size_t errmsg_len)
{
	char tmp[PATH_MAX], dst[PATH_MAX], tname[64];
	snprintf(tname, sizeof(tname), "%s.tmp", name);
	disk_path(d, tmp, sizeof(tmp), tname);
	disk_path(d, dst, sizeof(dst), name);
	int fd = sys_open(d, tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC,
			  0600);
	if (fd < 0)
		return sluice_errf(RAFT_DISK_IO, errmsg, errmsg_len,
				"open %s: %s", tmp, strerror(errno));
	if (disk_write_all(d, fd, buf, len) != 0) {
		int e = errno;
		close(fd);
		sys_unlink(d, tmp);
		return sluice_errf(RAFT_DISK_IO, errmsg, errmsg_len,
				"write %s: %s", tmp, strerror(e));
	}
	if (sys_fsync(d, fd) != 0) {
		/* The temp file is never trusted, so unlike the log a failed
		 * fsync here does not poison the handle: drop it and retry. */
		int e = errno;
		close(fd);
		sys_unlink(d, tmp);
		return sluice_errf(RAFT_DISK_IO, errmsg, errmsg_len,
				"fsync %s: %s", tmp, strerror(e));
	}
	close(fd);
	if (sys_rename(d, tmp, dst) != 0) {
		int e = errno;
		sys_unlink(d, tmp);
		return sluice_errf(RAFT_DISK_IO, errmsg, errmsg_len,
				"rename %s: %s", tmp, strerror(e));
	}
	if (sys_fsync(d, d->dir_fd) != 0) {
		/* The new file is visible but maybe not durable; we cannot
		 * tell the caller it is either, so stop trusting the handle. */
		d->broken = true;
		return sluice_errf(RAFT_DISK_IO, errmsg, errmsg_len,
				"fsync dir %s: %s", d->dir, strerror(errno));
	}
	return RAFT_DISK_OK;
}

/* ---- create / free ---- */

struct raft_disk *raft_disk_create(const struct raft_disk_params *params,
				   char *errmsg, size_t errmsg_len)
{
	if (params == NULL || params->dir == NULL ||
	    strlen(params->dir) >= sizeof(((struct raft_disk *)0)->dir)) {
		sluice_errf(RAFT_DISK_INVAL, errmsg, errmsg_len,
			 "raft_disk: missing or too long directory");
		errno = EINVAL;
		return NULL;
	}
	struct raft_disk *d = calloc(1, sizeof(*d));
	if (d == NULL) {
		sluice_errf(RAFT_DISK_NOMEM, errmsg, errmsg_len,
			 "raft_disk: out of memory");
		errno = ENOMEM;
		return NULL;
	}
	snprintf(d->dir, sizeof(d->dir), "%s", params->dir);
	if (params->sys != NULL)
		d->sys = *params->sys;
	d->log = params->log;
	d->log_data = params->log_data;
	d->alloc = params->alloc ? params->alloc : malloc;
	d->dealloc = params->dealloc ? params->dealloc : free;
	d->segment_size = params->segment_size ? params->segment_size
					       : DISK_DEFAULT_SEGMENT;
	d->lock_fd = -1;
	d->dir_fd = -1;
	d->seg_fd = -1;
	d->first_index = 1;
	d->last_index = 0;

	if (mkdir(d->dir, 0700) != 0 && errno != EEXIST) {
		sluice_errf(RAFT_DISK_IO, errmsg, errmsg_len, "mkdir %s: %s",
			 d->dir, strerror(errno));
		goto fail;
	}
	d->dir_fd = sys_open(d, d->dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC, 0);
	if (d->dir_fd < 0) {
		sluice_errf(RAFT_DISK_IO, errmsg, errmsg_len, "open %s: %s",
			 d->dir, strerror(errno));
		goto fail;
	}
	char lock[PATH_MAX];
	disk_path(d, lock, sizeof(lock), "LOCK");
	d->lock_fd = sys_open(d, lock, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
	if (d->lock_fd < 0) {
		sluice_errf(RAFT_DISK_IO, errmsg, errmsg_len, "open %s: %s", lock,
			 strerror(errno));
		goto fail;
	}
	/* Two servers appending to one log would interleave records. */
	if (flock(d->lock_fd, LOCK_EX | LOCK_NB) != 0) {
		sluice_errf(RAFT_DISK_BUSY, errmsg, errmsg_len,
			 "%s is locked by another process", d->dir);
		errno = EBUSY;
		goto fail;
	}
	return d;
fail:;
	int e = errno;
	raft_disk_free(d);
	errno = e;
	return NULL;
}

static void disk_reset_segments(struct raft_disk *d)
{
	if (d->seg_fd >= 0)
		close(d->seg_fd);
	d->seg_fd = -1;
	free(d->segs);
	d->segs = NULL;
	d->n_segs = d->cap_segs = 0;
}

void raft_disk_free(struct raft_disk *d)
{
	if (d == NULL)
		return;
	disk_reset_segments(d);
	if (d->lock_fd >= 0)
		close(d->lock_fd);
	if (d->dir_fd >= 0)
		close(d->dir_fd);
	free(d->off);
	free(d->wbuf);
	free(d);
}

/* ---- in-memory index ---- */

static int disk_off_reserve(struct raft_disk *d, size_t n)
{
	if (n <= d->cap_off)
		return 0;
	size_t cap = d->cap_off ? d->cap_off : 1024;
	while (cap < n)
		cap *= 2;
	uint64_t *p = realloc(d->off, cap * sizeof(*p));
	if (p == NULL)
		return -1;
	d->off = p;
	d->cap_off = cap;
	return 0;
}

static int disk_segs_push(struct raft_disk *d, const struct disk_seg *s)
{
	if (d->n_segs == d->cap_segs) {
		size_t cap = d->cap_segs ? d->cap_segs * 2 : 8;
		struct disk_seg *p = realloc(d->segs, cap * sizeof(*p));
		if (p == NULL)
			return -1;
		d->segs = p;
		d->cap_segs = cap;
	}
	d->segs[d->n_segs++] = *s;
	return 0;
}

static size_t disk_n_entries(const struct raft_disk *d)
{
	return d->last_index >= d->first_index
		       ? (size_t)(d->last_index - d->first_index + 1)
		       : 0;
}

/* ---- load ---- */

static int disk_load_meta(struct raft_disk *d, struct raft_disk_state *st,
			  char *errmsg, size_t errmsg_len)
{
	char path[PATH_MAX];
	uint8_t *buf;
	size_t len;
	disk_path(d, path, sizeof(path), "metadata");
	if (disk_read_file(d, path, &buf, &len) != 0) {
		if (errno == ENOENT)
			return RAFT_DISK_OK;	/* fresh server: term 0 */
		return sluice_errf(RAFT_DISK_IO, errmsg, errmsg_len,
				"read %s: %s", path, strerror(errno));
	}
	int rv = RAFT_DISK_OK;
	/* The file is only ever installed by rename, so anything but a whole,
	 * checksummed record means something other than a crash damaged it. */
	if (len != DISK_META_SIZE || memcmp(buf, disk_magic_meta, 4) != 0 ||
	    raft_get_le32(buf + 4) != DISK_VERSION ||
	    raft_get_le32(buf + 24) != raft_disk_crc32c(0, buf, 24) ||
	    raft_get_le32(buf + 28) != 0) {
		rv = sluice_errf(RAFT_DISK_CORRUPT, errmsg, errmsg_len,
			      "%s: corrupt metadata (size %zu)", path, len);
	} else {
		st->term = raft_get_le64(buf + 8);
		st->voted_for = raft_get_le64(buf + 16);
	}
	free(buf);
	return rv;
}

static int disk_load_snapshot(struct raft_disk *d, struct raft_disk_state *st,
			      char *errmsg, size_t errmsg_len)
{
	char path[PATH_MAX];
	uint8_t *buf;
	size_t len;
	disk_path(d, path, sizeof(path), "snapshot");
	if (disk_read_file(d, path, &buf, &len) != 0) {
		if (errno == ENOENT)
			return RAFT_DISK_OK;
		return sluice_errf(RAFT_DISK_IO, errmsg, errmsg_len,
				"read %s: %s", path, strerror(errno));
	}
	int rv = RAFT_DISK_CORRUPT;
	if (len < DISK_SNAP_HDR || memcmp(buf, disk_magic_snap, 4) != 0 ||
	    raft_get_le32(buf + 4) != DISK_VERSION ||
	    raft_get_le32(buf + 52) != raft_disk_crc32c(0, buf, 52)) {
		sluice_errf(rv, errmsg, errmsg_len, "%s: corrupt snapshot header",
			 path);
		goto out;
	}
	uint64_t conf_len = raft_get_le64(buf + 32), data_len = raft_get_le64(buf + 40);
	/* Lengths must add up to the file size exactly; check each against
	 * what is present so the sum cannot overflow. */
	size_t body = len - DISK_SNAP_HDR;
	if (conf_len > body || data_len != body - conf_len) {
		sluice_errf(rv, errmsg, errmsg_len,
			 "%s: snapshot lengths do not match file size", path);
		goto out;
	}
	if (raft_get_le32(buf + 48) != raft_disk_crc32c(0, buf + DISK_SNAP_HDR, body)) {
		sluice_errf(rv, errmsg, errmsg_len, "%s: snapshot checksum mismatch",
			 path);
		goto out;
	}
	st->snap_conf = d->alloc(conf_len ? conf_len : 1);
	st->snap_data = d->alloc(data_len ? data_len : 1);
	if (st->snap_conf == NULL || st->snap_data == NULL) {
		rv = sluice_errf(RAFT_DISK_NOMEM, errmsg, errmsg_len,
			      "%s: out of memory", path);
		goto out;
	}
	memcpy(st->snap_conf, buf + DISK_SNAP_HDR, conf_len);
	memcpy(st->snap_data, buf + DISK_SNAP_HDR + conf_len, data_len);
	st->snap_conf_len = conf_len;
	st->snap_data_len = data_len;
	st->snap_index = raft_get_le64(buf + 8);
	st->snap_term = raft_get_le64(buf + 16);
	st->snap_conf_index = raft_get_le64(buf + 24);
	rv = RAFT_DISK_OK;
out:
	free(buf);
	return rv;
}

static int disk_cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
	return x < y ? -1 : x > y;
}

/* Segment files named exactly "%020u.seg"; anything else is ignored. */
static int disk_list_segments(struct raft_disk *d, uint64_t **out, size_t *n,
			      char *errmsg, size_t errmsg_len)
{
	DIR *dir = opendir(d->dir);
	if (dir == NULL)
		return sluice_errf(RAFT_DISK_IO, errmsg, errmsg_len,
				"opendir %s: %s", d->dir, strerror(errno));
	uint64_t *v = NULL;
	size_t cnt = 0, cap = 0;
	struct dirent *de;
	int rv = RAFT_DISK_OK;
	while ((de = readdir(dir)) != NULL) {
		const char *s = de->d_name;
		if (strlen(s) != DISK_SEG_NAME_LEN || strcmp(s + 20, ".seg"))
			continue;
		uint64_t first = 0;
		bool ok = true;
		for (int i = 0; i < 20; i++) {
			if (s[i] < '0' || s[i] > '9') {
				ok = false;
				break;
			}
			first = first * 10 + (uint64_t)(s[i] - '0');
		}
		if (!ok)
			continue;
		if (cnt == cap) {
			cap = cap ? cap * 2 : 16;
			uint64_t *p = realloc(v, cap * sizeof(*p));
			if (p == NULL) {
				rv = sluice_errf(RAFT_DISK_NOMEM, errmsg,
					      errmsg_len, "out of memory");
				break;
			}
			v = p;
		}
		v[cnt++] = first;
	}
	closedir(dir);
	if (rv != RAFT_DISK_OK) {
		free(v);
		return rv;
	}
	if (cnt > 0)
		qsort(v, cnt, sizeof(*v), disk_cmp_u64);
	*out = v;
	*n = cnt;
	return RAFT_DISK_OK;
}

enum disk_rec_check {
	DISK_REC_OK,
	DISK_REC_SHORT,		/* header or payload runs past EOF */
	DISK_REC_BADCRC,
	DISK_REC_BADFIELD,	/* CRC fine but index/reserved wrong */
};

static enum disk_rec_check disk_check_record(const uint8_t *buf, size_t size,
					     size_t off, uint64_t want_index,
					     size_t *rec_len)
{
	if (size - off < DISK_REC_HDR)
		return DISK_REC_SHORT;
	uint32_t len = raft_get_le32(buf + off + 4);
	/* A length beyond the cap or past EOF cannot be a complete record. */
	if (len > DISK_MAX_ENTRY || len > size - off - DISK_REC_HDR)
		return DISK_REC_SHORT;
	*rec_len = DISK_REC_HDR + (size_t)len;
	if (raft_get_le32(buf + off) !=
	    raft_disk_crc32c(0, buf + off + 4, *rec_len - 4))
		return DISK_REC_BADCRC;
	if (raft_get_le64(buf + off + 8) != want_index)
		return DISK_REC_BADFIELD;
	for (int i = 25; i < 32; i++)
		if (buf[off + (size_t)i] != 0)
			return DISK_REC_BADFIELD;
	return DISK_REC_OK;
}

/* A complete record with a valid CRC starts at p (index not checked). */
static bool disk_crc_ok_at(const uint8_t *buf, size_t size, size_t p)
{
	uint32_t len = raft_get_le32(buf + p + 4);
	if (len > DISK_MAX_ENTRY || len > size - p - DISK_REC_HDR)
		return false;
	return raft_get_le32(buf + p) ==
	       raft_disk_crc32c(0, buf + p + 4, DISK_REC_HDR - 4 + len);
}

static bool disk_all_zero(const uint8_t *p, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (p[i] != 0)
			return false;
	return true;
}

/* Append a loaded entry to the state's array (payload copied). */
static int disk_state_push(struct raft_disk *d, struct raft_disk_state *st,
			   size_t *cap,
			   uint64_t term, uint8_t type, const uint8_t *p,
			   size_t len)
{
	if (st->n_entries == *cap) {
		size_t c = *cap ? *cap * 2 : 64;
		struct raft_disk_entry *e = realloc(st->entries, c * sizeof(*e));
		if (e == NULL)
			return -1;
		st->entries = e;
		*cap = c;
	}
	void *b = d->alloc(len ? len : 1);
	if (b == NULL)
		return -1;
	memcpy(b, p, len);
	st->entries[st->n_entries++] = (struct raft_disk_entry){
		.term = term, .type = type, .buf = b, .len = len };
	return 0;
}

/*
 * Scan one segment. Only the last segment may end in a torn tail: older
 * ones were complete and synced before we rolled over, so any bad record
 * there is corruption.
 */
static int disk_load_segment(struct raft_disk *d, struct raft_disk_state *st,
			     size_t *ecap, uint64_t first, bool last,
			     uint64_t *expect, char *errmsg, size_t errmsg_len)
{
	char name[32], path[PATH_MAX];
	disk_seg_name(first, name, sizeof(name));
	disk_path(d, path, sizeof(path), name);
	uint8_t *buf;
	size_t size;
	if (disk_read_file(d, path, &buf, &size) != 0)
		return sluice_errf(RAFT_DISK_IO, errmsg, errmsg_len,
				"read %s: %s", path, strerror(errno));
	int rv = RAFT_DISK_OK;
	bool hdr_ok = size >= DISK_SEG_HDR &&
		      memcmp(buf, disk_magic_seg, 4) == 0 &&
		      raft_get_le32(buf + 4) == DISK_VERSION &&
		      raft_get_le64(buf + 8) == first &&
		      raft_get_le32(buf + 28) == raft_disk_crc32c(0, buf, 28);
	if (!hdr_ok) {
		/* A crash right after creating the last segment can leave a
		 * short or zero-filled header and no records: drop the file. */
		if (last && (size < DISK_SEG_HDR ||
			     disk_all_zero(buf, size))) {
			free(buf);
			disk_logf(d, "raft_disk: %s: incomplete segment header "
				  "(%zu bytes), removed", path, size);
			if (sys_unlink(d, path) != 0)
				return sluice_errf(RAFT_DISK_IO, errmsg,
						errmsg_len, "unlink %s: %s",
						path, strerror(errno));
			st->torn_bytes += size;
			return RAFT_DISK_NOENT;	/* caller: no segment */
		}
		free(buf);
		return sluice_errf(RAFT_DISK_CORRUPT, errmsg, errmsg_len,
				"%s: corrupt segment header at offset 0",
				path);
	}
	if (*expect != 0 && first != *expect) {
		free(buf);
		return sluice_errf(RAFT_DISK_CORRUPT, errmsg, errmsg_len,
				"%s: starts at index %" PRIu64
				", expected %" PRIu64 " (gap in the log)",
				path, first, *expect);
	}
	struct disk_seg seg = { .first = first, .n = 0, .size = DISK_SEG_HDR };
	size_t off = DISK_SEG_HDR;
	uint64_t index = first;
	while (off < size) {
		size_t rec_len = 0;
		enum disk_rec_check c =
			disk_check_record(buf, size, off, index, &rec_len);
		if (c == DISK_REC_OK) {
			if (disk_off_reserve(d, disk_n_entries(d) + 1) != 0 ||
			    disk_state_push(d, st, ecap, raft_get_le64(buf + off + 16),
					    buf[off + 24],
					    buf + off + DISK_REC_HDR,
					    rec_len - DISK_REC_HDR) != 0) {
				rv = sluice_errf(RAFT_DISK_NOMEM, errmsg,
					      errmsg_len, "out of memory");
				goto out;
			}
			if (disk_n_entries(d) == 0)
				d->first_index = index;
			d->off[disk_n_entries(d)] = off;
			d->last_index = index;
			index++;
			seg.n++;
			off += rec_len;
			continue;
		}
		/*
		 * Torn tail or corruption? The unfinished last write leaves a
		 * record cut short by EOF, garbage or zero fill, and nothing
		 * after it. If any complete record with a valid CRC starts
		 * after the bad one, bytes changed under data we may already
		 * have acknowledged: refuse to start rather than drop it.
		 * The scan tries every offset because the bad record's own
		 * length field cannot be trusted.
		 */
		bool torn = last && c != DISK_REC_BADFIELD;
		/* Zero fill (common after a crash) is settled without the
		 * scan, which would otherwise CRC 28 bytes at every offset. */
		bool zeros = torn && disk_all_zero(buf + off, size - off);
		for (size_t p = off + 1;
		     torn && !zeros && p + DISK_REC_HDR <= size; p++)
			if (disk_crc_ok_at(buf, size, p))
				torn = false;
		if (!torn) {
			rv = sluice_errf(RAFT_DISK_CORRUPT, errmsg, errmsg_len,
				      "%s: %s in record for index %" PRIu64
				      " at offset %zu; refusing to start",
				      path,
				      c == DISK_REC_BADFIELD ? "bad header field"
				      : c == DISK_REC_SHORT  ? "truncated record"
							     : "checksum mismatch",
				      index, off);
			goto out;
		}
		int fd = sys_open(d, path, O_WRONLY | O_CLOEXEC, 0);
		if (fd < 0 || sys_ftruncate(d, fd, (off_t)off) != 0 ||
		    sys_fsync(d, fd) != 0) {
			rv = sluice_errf(RAFT_DISK_IO, errmsg, errmsg_len,
				      "truncate torn tail of %s: %s", path,
				      strerror(errno));
			if (fd >= 0)
				close(fd);
			goto out;
		}
		close(fd);
		disk_logf(d, "raft_disk: %s: torn tail at offset %zu "
			  "(%zu bytes, index %" PRIu64 ") truncated",
			  path, off, size - off, index);
		st->torn_bytes += size - off;
		break;
	}
	seg.size = off;
	if (disk_segs_push(d, &seg) != 0) {
		rv = sluice_errf(RAFT_DISK_NOMEM, errmsg, errmsg_len,
			      "out of memory");
		goto out;
	}
	*expect = index;
out:
	free(buf);
	return rv;
}

static int disk_open_last(struct raft_disk *d, char *errmsg, size_t errmsg_len)
{
	if (d->n_segs == 0)
		return RAFT_DISK_OK;
	char name[32], path[PATH_MAX];
	disk_seg_name(d->segs[d->n_segs - 1].first, name, sizeof(name));
	disk_path(d, path, sizeof(path), name);
	d->seg_fd = sys_open(d, path, O_WRONLY | O_APPEND | O_CLOEXEC, 0);
	if (d->seg_fd < 0)
		return sluice_errf(RAFT_DISK_IO, errmsg, errmsg_len, "open %s: %s",
				path, strerror(errno));
	return RAFT_DISK_OK;
}

int raft_disk_load(struct raft_disk *d, struct raft_disk_state *st,
		   char *errmsg, size_t errmsg_len)
{
	if (d == NULL || st == NULL || d->loaded)
		return sluice_errf(RAFT_DISK_INVAL, errmsg, errmsg_len,
				"raft_disk_load: bad call");
	memset(st, 0, sizeof(*st));
	char path[PATH_MAX];
	/* Leftover temp files are half-written replacements: never used. */
	disk_path(d, path, sizeof(path), "metadata.tmp");
	sys_unlink(d, path);
	disk_path(d, path, sizeof(path), "snapshot.tmp");
	sys_unlink(d, path);

	int rv = disk_load_meta(d, st, errmsg, errmsg_len);
	if (rv == RAFT_DISK_OK)
		rv = disk_load_snapshot(d, st, errmsg, errmsg_len);
	uint64_t *firsts = NULL;
	size_t n = 0;
	if (rv == RAFT_DISK_OK)
		rv = disk_list_segments(d, &firsts, &n, errmsg, errmsg_len);
	size_t ecap = 0;
	uint64_t expect = 0;
	for (size_t i = 0; rv == RAFT_DISK_OK && i < n; i++) {
		rv = disk_load_segment(d, st, &ecap, firsts[i], i + 1 == n,
				       &expect, errmsg, errmsg_len);
		if (rv == RAFT_DISK_NOENT)
			rv = RAFT_DISK_OK;
	}
	free(firsts);
	if (rv == RAFT_DISK_OK)
		rv = disk_open_last(d, errmsg, errmsg_len);
	if (rv != RAFT_DISK_OK) {
		raft_disk_state_free(d, st);
		disk_reset_segments(d);
		d->first_index = 1;
		d->last_index = 0;
		return rv;
	}
	if (disk_n_entries(d) == 0) {
		/* Empty log: the next append may start anywhere (e.g. right
		 * after an installed snapshot). */
		d->first_index = st->snap_index + 1;
		d->last_index = st->snap_index;
	}
	st->start_index = d->first_index;
	d->loaded = true;
	return RAFT_DISK_OK;
}

void raft_disk_state_free(struct raft_disk *d, struct raft_disk_state *st)
{
	if (d == NULL || st == NULL)
		return;
	for (size_t i = 0; i < st->n_entries; i++)
		if (st->entries[i].buf != NULL)
			d->dealloc(st->entries[i].buf);
	free(st->entries);
	if (st->snap_conf != NULL)
		d->dealloc(st->snap_conf);
	if (st->snap_data != NULL)
		d->dealloc(st->snap_data);
	memset(st, 0, sizeof(*st));
}

/* ---- mutations ---- */

static int disk_check_usable(const struct raft_disk *d, char *errmsg,
			     size_t errmsg_len)
{
	if (!d->loaded)
		return sluice_errf(RAFT_DISK_INVAL, errmsg, errmsg_len,
				"raft_disk: not loaded");
	if (d->broken)
		return sluice_errf(RAFT_DISK_BROKEN, errmsg, errmsg_len,
				"raft_disk: %s: unusable after an earlier "
				"failed sync; restart to recover", d->dir);
	return RAFT_DISK_OK;
}

int raft_disk_set_term_vote(struct raft_disk *d, uint64_t term,
			    uint64_t voted_for, char *errmsg, size_t errmsg_len)
{
	int rv = disk_check_usable(d, errmsg, errmsg_len);
	if (rv != RAFT_DISK_OK)
		return rv;
	uint8_t buf[DISK_META_SIZE] = { 0 };
	memcpy(buf, disk_magic_meta, 4);
	raft_put_le32(buf + 4, DISK_VERSION);
	raft_put_le64(buf + 8, term);
	raft_put_le64(buf + 16, voted_for);
	raft_put_le32(buf + 24, raft_disk_crc32c(0, buf, 24));
	return disk_replace_file(d, "metadata", buf, sizeof(buf), errmsg,
				 errmsg_len);
}

static int disk_drop_last_segment(struct raft_disk *d, char *errmsg,
				  size_t errmsg_len);

/* Create segment file named first, header synced, directory synced. */
static int disk_new_segment(struct raft_disk *d, uint64_t first, char *errmsg,
			    size_t errmsg_len)
{
	char name[32], path[PATH_MAX];
	disk_seg_name(first, name, sizeof(name));
	disk_path(d, path, sizeof(path), name);
	if (disk_segs_push(d, &(struct disk_seg){ .first = first, .n = 0,
						   .size = DISK_SEG_HDR }) != 0)
		return sluice_errf(RAFT_DISK_NOMEM, errmsg, errmsg_len,
				"out of memory");
	d->n_segs--;	/* committed below once the file exists */
	int fd = sys_open(d, path,
			  O_WRONLY | O_CREAT | O_TRUNC | O_APPEND | O_CLOEXEC,
			  0600);
	if (fd < 0)
		return sluice_errf(RAFT_DISK_IO, errmsg, errmsg_len, "open %s: %s",
				path, strerror(errno));
	uint8_t hdr[DISK_SEG_HDR] = { 0 };
	memcpy(hdr, disk_magic_seg, 4);
	raft_put_le32(hdr + 4, DISK_VERSION);
	raft_put_le64(hdr + 8, first);
	raft_put_le32(hdr + 28, raft_disk_crc32c(0, hdr, 28));
	/* The header and the directory entry are synced now so a later
	 * fdatasync of appended records is enough to make them findable. */
	if (disk_write_all(d, fd, hdr, sizeof(hdr)) != 0 ||
	    sys_fdatasync(d, fd) != 0 || sys_fsync(d, d->dir_fd) != 0) {
		int e = errno;
		close(fd);
		/* Nothing refers to the file yet; if unlink fails too, load
		 * will discard a short header or accept an empty segment. */
		sys_unlink(d, path);
		return sluice_errf(RAFT_DISK_IO, errmsg, errmsg_len,
				"create %s: %s", path, strerror(e));
	}
	if (d->seg_fd >= 0)
		close(d->seg_fd);
	d->seg_fd = fd;
	d->n_segs++;
	return RAFT_DISK_OK;
}

int raft_disk_append(struct raft_disk *d, uint64_t first_index,
		     const struct raft_disk_entry *entries, size_t n,
		     char *errmsg, size_t errmsg_len)
{
	int rv = disk_check_usable(d, errmsg, errmsg_len);
	if (rv != RAFT_DISK_OK)
		return rv;
	bool empty = disk_n_entries(d) == 0;
	if (n == 0 || entries == NULL ||
	    (!empty && first_index != d->last_index + 1) || first_index == 0)
		return sluice_errf(RAFT_DISK_INVAL, errmsg, errmsg_len,
				"raft_disk_append: index %" PRIu64
				" does not follow %" PRIu64,
				first_index, d->last_index);
	size_t total = 0;
	for (size_t i = 0; i < n; i++) {
		if (entries[i].len > DISK_MAX_ENTRY)
			return sluice_errf(RAFT_DISK_INVAL, errmsg, errmsg_len,
					"raft_disk_append: entry too large");
		total += DISK_REC_HDR + entries[i].len;
	}
	if (disk_off_reserve(d, disk_n_entries(d) + n) != 0)
		return sluice_errf(RAFT_DISK_NOMEM, errmsg, errmsg_len,
				"out of memory");
	if (total > d->wcap) {
		uint8_t *p = realloc(d->wbuf, total);
		if (p == NULL)
			return sluice_errf(RAFT_DISK_NOMEM, errmsg, errmsg_len,
					"out of memory");
		d->wbuf = p;
		d->wcap = total;
	}
	/* An empty log may still have an empty segment (recovery cut its only
	 * records); its name must equal its first index, so replace it. */
	if (empty && d->n_segs > 0 && d->segs[d->n_segs - 1].first != first_index) {
		rv = disk_drop_last_segment(d, errmsg, errmsg_len);
		if (rv != RAFT_DISK_OK)
			return rv;
	}
	/* Roll over before (never within) a batch, so one append is in one
	 * file and rollback is one ftruncate. Sync the old segment first:
	 * raft_disk_sync only flushes the current one. */
	if (d->seg_fd < 0 || d->segs[d->n_segs - 1].size >= d->segment_size) {
		if (d->seg_fd >= 0 && d->dirty) {
			if (sys_fdatasync(d, d->seg_fd) != 0) {
				d->broken = true;
				return sluice_errf(RAFT_DISK_IO, errmsg,
						errmsg_len, "fdatasync: %s",
						strerror(errno));
			}
			d->dirty = false;
		}
		rv = disk_new_segment(d, first_index, errmsg, errmsg_len);
		if (rv != RAFT_DISK_OK)
			return rv;
	}
	struct disk_seg *seg = &d->segs[d->n_segs - 1];
	uint8_t *p = d->wbuf;
	for (size_t i = 0; i < n; i++) {
		memset(p, 0, DISK_REC_HDR);
		raft_put_le32(p + 4, (uint32_t)entries[i].len);
		raft_put_le64(p + 8, first_index + i);
		raft_put_le64(p + 16, entries[i].term);
		p[24] = entries[i].type;
		if (entries[i].len > 0)
			memcpy(p + DISK_REC_HDR, entries[i].buf, entries[i].len);
		raft_put_le32(p, raft_disk_crc32c(0, p + 4,
					  DISK_REC_HDR - 4 + entries[i].len));
		p += DISK_REC_HDR + entries[i].len;
	}
	if (disk_write_all(d, d->seg_fd, d->wbuf, total) != 0) {
		int e = errno;
		/* Undo a partial write so the file ends on a record boundary
		 * and a retry appends cleanly. */
		if (sys_ftruncate(d, d->seg_fd, (off_t)seg->size) != 0)
			d->broken = true;
		return sluice_errf(RAFT_DISK_IO, errmsg, errmsg_len,
				"write segment %" PRIu64 ": %s", seg->first,
				strerror(e));
	}
	if (empty)
		d->first_index = first_index;
	size_t base = disk_n_entries(d);
	uint64_t off = seg->size;
	for (size_t i = 0; i < n; i++) {
		d->off[base + i] = off;
		off += DISK_REC_HDR + entries[i].len;
	}
	seg->size = off;
	seg->n += n;
	d->last_index = first_index + n - 1;
	d->dirty = true;
	return RAFT_DISK_OK;
}

int raft_disk_sync(struct raft_disk *d, char *errmsg, size_t errmsg_len)
{
	int rv = disk_check_usable(d, errmsg, errmsg_len);
	if (rv != RAFT_DISK_OK || !d->dirty)
		return rv;
	if (sys_fdatasync(d, d->seg_fd) != 0) {
		d->broken = true;	/* see the fsyncgate note on top */
		return sluice_errf(RAFT_DISK_IO, errmsg, errmsg_len,
				"fdatasync %s: %s", d->dir, strerror(errno));
	}
	d->dirty = false;
	return RAFT_DISK_OK;
}

/* Remove the last segment file entirely and reopen the previous one. */
static int disk_drop_last_segment(struct raft_disk *d, char *errmsg,
				  size_t errmsg_len)
{
	struct disk_seg *seg = &d->segs[d->n_segs - 1];
	char name[32], path[PATH_MAX];
	disk_seg_name(seg->first, name, sizeof(name));
	disk_path(d, path, sizeof(path), name);
	if (sys_unlink(d, path) != 0)
		return sluice_errf(RAFT_DISK_IO, errmsg, errmsg_len,
				"unlink %s: %s", path, strerror(errno));
	if (d->seg_fd >= 0)
		close(d->seg_fd);
	d->seg_fd = -1;
	d->dirty = false;
	d->last_index -= seg->n;
	d->n_segs--;
	return RAFT_DISK_OK;
}

int raft_disk_truncate(struct raft_disk *d, uint64_t index, char *errmsg,
		       size_t errmsg_len)
{
	int rv = disk_check_usable(d, errmsg, errmsg_len);
	if (rv != RAFT_DISK_OK)
		return rv;
	if (index == 0)
		return sluice_errf(RAFT_DISK_INVAL, errmsg, errmsg_len,
				"raft_disk_truncate: index 0");
	if (disk_n_entries(d) == 0 || index > d->last_index)
		return RAFT_DISK_OK;
	bool unlinked = false;
	/* Work from the end so that after each successful step the files
	 * still hold a contiguous prefix and a failure can be retried. */
	while (d->n_segs > 0 && d->segs[d->n_segs - 1].first >= index) {
		rv = disk_drop_last_segment(d, errmsg, errmsg_len);
		if (rv != RAFT_DISK_OK)
			goto out;
		unlinked = true;
	}
	if (d->n_segs > 0 && d->last_index >= index) {
		struct disk_seg *seg = &d->segs[d->n_segs - 1];
		uint64_t cut = d->off[index - d->first_index];
		char name[32], path[PATH_MAX];
		disk_seg_name(seg->first, name, sizeof(name));
		disk_path(d, path, sizeof(path), name);
		int fd = d->seg_fd >= 0 ? d->seg_fd
				: sys_open(d, path, O_WRONLY | O_APPEND | O_CLOEXEC, 0);
		if (fd < 0) {
			rv = sluice_errf(RAFT_DISK_IO, errmsg, errmsg_len,
				      "open %s: %s", path, strerror(errno));
			goto out;
		}
		d->seg_fd = fd;
		if (sys_ftruncate(d, fd, (off_t)cut) != 0) {
			rv = sluice_errf(RAFT_DISK_IO, errmsg, errmsg_len,
				      "ftruncate %s: %s", path, strerror(errno));
			goto out;
		}
		seg->n -= d->last_index - index + 1;
		seg->size = cut;
		d->last_index = index - 1;
		d->dirty = true;
		if (sys_fdatasync(d, fd) != 0) {
			d->broken = true;
			rv = sluice_errf(RAFT_DISK_IO, errmsg, errmsg_len,
				      "fdatasync %s: %s", path, strerror(errno));
			goto out;
		}
		d->dirty = false;
	}
	if (d->n_segs == 0) {
		d->first_index = index;
		d->last_index = index - 1;
	}
out:
	if (unlinked && sys_fsync(d, d->dir_fd) != 0 && rv == RAFT_DISK_OK) {
		d->broken = true;
		rv = sluice_errf(RAFT_DISK_IO, errmsg, errmsg_len,
			      "fsync dir %s: %s", d->dir, strerror(errno));
	}
	if (rv == RAFT_DISK_OK && d->seg_fd < 0 && d->n_segs > 0)
		rv = disk_open_last(d, errmsg, errmsg_len);
	return rv;
}

int raft_disk_snapshot_put(struct raft_disk *d, uint64_t index, uint64_t term,
			   uint64_t conf_index, const void *conf,
			   size_t conf_len, const void *data, size_t data_len,
			   uint64_t compact_up_to, char *errmsg,
			   size_t errmsg_len)
{
	int rv = disk_check_usable(d, errmsg, errmsg_len);
	if (rv != RAFT_DISK_OK)
		return rv;
	if (index == 0 || conf_len > SIZE_MAX - DISK_SNAP_HDR - data_len ||
	    (conf_len && conf == NULL) || (data_len && data == NULL))
		return sluice_errf(RAFT_DISK_INVAL, errmsg, errmsg_len,
				"raft_disk_snapshot_put: bad arguments");
	size_t body = conf_len + data_len;
	uint8_t *buf = malloc(DISK_SNAP_HDR + body);
	if (buf == NULL)
		return sluice_errf(RAFT_DISK_NOMEM, errmsg, errmsg_len,
				"out of memory");
	memset(buf, 0, DISK_SNAP_HDR);
	memcpy(buf, disk_magic_snap, 4);
	raft_put_le32(buf + 4, DISK_VERSION);
	raft_put_le64(buf + 8, index);
	raft_put_le64(buf + 16, term);
	raft_put_le64(buf + 24, conf_index);
	raft_put_le64(buf + 32, conf_len);
	raft_put_le64(buf + 40, data_len);
	if (conf_len)
		memcpy(buf + DISK_SNAP_HDR, conf, conf_len);
	if (data_len)
		memcpy(buf + DISK_SNAP_HDR + conf_len, data, data_len);
	raft_put_le32(buf + 48, raft_disk_crc32c(0, buf + DISK_SNAP_HDR, body));
	raft_put_le32(buf + 52, raft_disk_crc32c(0, buf, 52));
	rv = disk_replace_file(d, "snapshot", buf, DISK_SNAP_HDR + body, errmsg,
			       errmsg_len);
	free(buf);
	if (rv != RAFT_DISK_OK)
		return rv;
	/* Compaction: only whole, closed segments go; the open one stays so
	 * appends never need a new file because of a snapshot. */
	size_t drop = 0;
	uint64_t dropped = 0;
	while (drop + 1 < d->n_segs &&
	       d->segs[drop].first + d->segs[drop].n - 1 <= compact_up_to &&
	       d->segs[drop].n > 0) {
		char name[32], path[PATH_MAX];
		disk_seg_name(d->segs[drop].first, name, sizeof(name));
		disk_path(d, path, sizeof(path), name);
		if (sys_unlink(d, path) != 0) {
			rv = sluice_errf(RAFT_DISK_IO, errmsg, errmsg_len,
				      "unlink %s: %s", path, strerror(errno));
			break;
		}
		dropped += d->segs[drop].n;
		drop++;
	}
	if (drop > 0) {
		memmove(d->segs, d->segs + drop,
			(d->n_segs - drop) * sizeof(*d->segs));
		d->n_segs -= drop;
		memmove(d->off, d->off + dropped,
			(disk_n_entries(d) - dropped) * sizeof(*d->off));
		d->first_index += dropped;
		/* Deleting old segments needs no dir fsync for safety: if the
		 * unlink is lost, load just sees older entries again. */
	}
	return rv;
}

int raft_disk_snapshot_read(struct raft_disk *d, struct raft_disk_state *st,
			    char *errmsg, size_t errmsg_len)
{
	if (d == NULL || st == NULL)
		return sluice_errf(RAFT_DISK_INVAL, errmsg, errmsg_len,
				"raft_disk_snapshot_read: bad call");
	memset(st, 0, sizeof(*st));
	int rv = disk_load_snapshot(d, st, errmsg, errmsg_len);
	if (rv != RAFT_DISK_OK)
		raft_disk_state_free(d, st);
	return rv;
}

uint64_t raft_disk_first_index(const struct raft_disk *d)
{
	return d->first_index;
}

uint64_t raft_disk_last_index(const struct raft_disk *d)
{
	return d->last_index;
}

int raft_disk_broken(const struct raft_disk *d)
{
	return d->broken;
}

size_t raft_disk_n_segments(const struct raft_disk *d)
{
	return d->n_segs;
}
