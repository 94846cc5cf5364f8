/*
 * ring_shm: create, publish, attach and watch the ctrl<->dp segment
 * (include/sluice/ring_shm.h; layout in docs/ring-protocol.md).
 *
 * Linked by sluice-dp and sluice-ctrl alike. Publication is build-aside:
 * dp initialises the whole file under a temporary name and renames it into
 * place, so an attacher never sees a half-built header; the magic is still
 * stored last with release semantics so a reader that races a crash in the
 * middle of creation sees "not a segment" rather than garbage.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>

#include <rte_ring.h>
#include <rte_ring_elem.h>

#include <sluice/ring_proto.h>
#include <sluice/ring_shm.h>

_Static_assert(sizeof(struct ring_shm_hdr) == 192, "segment header: 72 static bytes, then the dynamic cache line");

/* Byte offsets of the two locks in the segment file. */
#define RING_SHM_LOCK_DP 0
#define RING_SHM_LOCK_CTRL 1

struct ring_shm {
	int fd;
	void *base;
	size_t size;
	dev_t dev;
	ino_t ino;
	char path[PATH_MAX];
};

static int ring_shm_lock(int fd, off_t byte, int set)
{
	struct flock fl = {
		.l_type = F_WRLCK,
		.l_whence = SEEK_SET,
		.l_start = byte,
		.l_len = 1,
	};

	if (set)
		return fcntl(fd, F_OFD_SETLK, &fl) == 0 ? 0 : -errno;
	/* Probe: F_UNLCK back means nobody else holds it. */
	if (fcntl(fd, F_OFD_GETLK, &fl) != 0)
		return -errno;
	return fl.l_type == F_UNLCK ? 0 : 1;
}

static int ring_shm_pow2_ok(uint32_t n)
{
	return n >= 64 && (n & (n - 1)) == 0 && n <= (1u << 24);
}

static size_t ring_shm_align(size_t n)
{
	return (n + 63) & ~(size_t)63;
}

struct ring_shm *ring_shm_create(const struct ring_shm_params *params,
				 uint32_t *stale_pid)
{
	const char *path = params->path ? params->path : RING_SHM_DEFAULT_PATH;
	uint32_t cmd_count = params->cmd_count ? params->cmd_count : RING_SHM_DEFAULT_COUNT;
	uint32_t evt_count = params->evt_count ? params->evt_count : RING_SHM_DEFAULT_COUNT;
	char tmp[PATH_MAX];
	struct ring_shm *s = NULL;
	int fd = -1, err;

	if (stale_pid != NULL)
		*stale_pid = 0;
	if (!ring_shm_pow2_ok(cmd_count) || !ring_shm_pow2_ok(evt_count) ||
	    strlen(path) >= sizeof(s->path) - 32) {
		errno = EINVAL;
		return NULL;
	}

	/* An existing segment is ours to replace only if no dp holds it. */
	int old = open(path, O_RDWR | O_CLOEXEC);
	if (old >= 0) {
		int held = ring_shm_lock(old, RING_SHM_LOCK_DP, 0);
		struct ring_shm_hdr h;
		if (held == 0 && stale_pid != NULL &&
		    pread(old, &h, sizeof(h), 0) == (ssize_t)sizeof(h) &&
		    h.magic == RING_SHM_MAGIC)
			*stale_pid = h.dp_pid ? h.dp_pid : 1;
		close(old);
		if (held != 0) {
			errno = held > 0 ? EBUSY : -held;
			return NULL;
		}
	}

	ssize_t cmd_sz = rte_ring_get_memsize_elem(RING_REC_SIZE, cmd_count);
	ssize_t evt_sz = rte_ring_get_memsize_elem(RING_REC_SIZE, evt_count);
	if (cmd_sz < 0 || evt_sz < 0) {
		errno = EINVAL;
		return NULL;
	}
	size_t cmd_off = ring_shm_align(sizeof(struct ring_shm_hdr));
	size_t evt_off = ring_shm_align(cmd_off + (size_t)cmd_sz);
	size_t total = ring_shm_align(evt_off + (size_t)evt_sz);

	s = calloc(1, sizeof(*s));
	if (s == NULL)
		return NULL;
	s->fd = -1;
	snprintf(s->path, sizeof(s->path), "%s", path);
	snprintf(tmp, sizeof(tmp), "%s.tmp.%ld", path, (long)getpid());

	/* /run/sluice/ is a tmpfs directory: gone after a reboot. */
	char dir[PATH_MAX];
	snprintf(dir, sizeof(dir), "%s", path);
	char *slash = strrchr(dir, '/');
	if (slash != NULL && slash != dir) {
		*slash = '\0';
		(void)mkdir(dir, 0755);
	}
	(void)unlink(tmp); /* left by an earlier incarnation with our pid */
	fd = open(tmp, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	if (fd < 0)
		goto fail;
	/* Take our liveness lock before anyone can see the file. */
	if ((err = ring_shm_lock(fd, RING_SHM_LOCK_DP, 1)) != 0) {
		errno = -err;
		goto fail_unlink;
	}
	if (ftruncate(fd, (off_t)total) != 0)
		goto fail_unlink;
	void *base = mmap(NULL, total, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	if (base == MAP_FAILED)
		goto fail_unlink;
	s->fd = fd;
	s->base = base;
	s->size = total;

	struct ring_shm_hdr *h = base;
	uint64_t boot_id = 0;
	while (boot_id == 0)
		if (getrandom(&boot_id, sizeof(boot_id), 0) != (ssize_t)sizeof(boot_id))
			goto fail_unlink;
	h->layout_version = RING_SHM_LAYOUT_VERSION;
	h->proto_version = RING_PROTO_VERSION;
	h->hdr_size = sizeof(*h);
	h->rec_size = RING_REC_SIZE;
	h->cmd_count = cmd_count;
	h->evt_count = evt_count;
	h->cmd_off = cmd_off;
	h->evt_off = evt_off;
	h->total_size = total;
	h->dp_pid = (uint32_t)getpid();
	h->boot_id = boot_id;

	int rc = rte_ring_init((struct rte_ring *)((char *)base + cmd_off), "sluice_cmd",
			       cmd_count, RING_F_SP_ENQ | RING_F_SC_DEQ);
	if (rc == 0)
		rc = rte_ring_init((struct rte_ring *)((char *)base + evt_off), "sluice_evt",
				   evt_count, RING_F_SP_ENQ | RING_F_SC_DEQ);
	if (rc != 0) {
		errno = -rc;
		goto fail_unlink;
	}
	__atomic_store_n(&h->magic, RING_SHM_MAGIC, __ATOMIC_RELEASE);

	if (rename(tmp, path) != 0)
		goto fail_unlink;
	struct stat st;
	if (fstat(fd, &st) != 0)
		goto fail; /* published: leave it, it is a valid segment */
	s->dev = st.st_dev;
	s->ino = st.st_ino;
	return s;

fail_unlink:
	err = errno;
	(void)unlink(tmp);
	errno = err;
fail:
	err = errno;
	if (s->base != NULL)
		munmap(s->base, s->size);
	if (fd >= 0)
		close(fd);
	free(s);
	errno = err;
	return NULL;
}

/* Check what a mapped file claims about itself against what it is. */
static int ring_shm_check_layout(const struct ring_shm_hdr *h, size_t file_size)
{
	if (__atomic_load_n(&h->magic, __ATOMIC_ACQUIRE) != RING_SHM_MAGIC)
		return -EBADMSG;
	/* Versions before sizes: another version may size things differently. */
	if (h->layout_version != RING_SHM_LAYOUT_VERSION ||
	    h->proto_version != RING_PROTO_VERSION)
		return -EPROTONOSUPPORT;
	if (h->hdr_size != sizeof(*h) || h->rec_size != RING_REC_SIZE ||
	    !ring_shm_pow2_ok(h->cmd_count) || !ring_shm_pow2_ok(h->evt_count) ||
	    h->total_size != file_size)
		return -EBADMSG;
	ssize_t cmd_sz = rte_ring_get_memsize_elem(RING_REC_SIZE, h->cmd_count);
	ssize_t evt_sz = rte_ring_get_memsize_elem(RING_REC_SIZE, h->evt_count);
	/* Both rings inside the file, in order, not overlapping the header. */
	if (cmd_sz < 0 || evt_sz < 0 || h->cmd_off < sizeof(*h) || (h->cmd_off & 63) ||
	    (h->evt_off & 63) || h->evt_off < h->cmd_off + (uint64_t)cmd_sz ||
	    h->evt_off + (uint64_t)evt_sz > file_size)
		return -EBADMSG;
	/* rte_ring indexes with the mask stored in the ring: it must match. */
	const struct rte_ring *c = (const void *)((const char *)h + h->cmd_off);
	const struct rte_ring *e = (const void *)((const char *)h + h->evt_off);
	if (c->size != h->cmd_count || c->mask != h->cmd_count - 1 ||
	    c->capacity > c->mask || e->size != h->evt_count ||
	    e->mask != h->evt_count - 1 || e->capacity > e->mask)
		return -EBADMSG;
	return 0;
}

struct ring_shm *ring_shm_attach(const char *path)
{
	struct ring_shm *s;
	struct stat st;
	int err;

	if (path == NULL)
		path = RING_SHM_DEFAULT_PATH;
	s = calloc(1, sizeof(*s));
	if (s == NULL)
		return NULL;
	snprintf(s->path, sizeof(s->path), "%s", path);
	s->fd = open(path, O_RDWR | O_CLOEXEC);
	if (s->fd < 0)
		goto fail;
	if (fstat(s->fd, &st) != 0)
		goto fail;
	if (st.st_size < (off_t)sizeof(struct ring_shm_hdr)) {
		errno = EBADMSG;
		goto fail;
	}
	s->dev = st.st_dev;
	s->ino = st.st_ino;
	s->size = (size_t)st.st_size;
	s->base = mmap(NULL, s->size, PROT_READ | PROT_WRITE, MAP_SHARED, s->fd, 0);
	if (s->base == MAP_FAILED) {
		s->base = NULL;
		goto fail;
	}
	if ((err = ring_shm_check_layout(s->base, s->size)) != 0) {
		errno = -err;
		goto fail;
	}
	if ((err = ring_shm_lock(s->fd, RING_SHM_LOCK_DP, 0)) != 1) {
		errno = err == 0 ? ESRCH : -err;
		goto fail;
	}
	if ((err = ring_shm_lock(s->fd, RING_SHM_LOCK_CTRL, 1)) != 0) {
		errno = (err == -EAGAIN || err == -EACCES) ? EBUSY : -err;
		goto fail;
	}
	/*
	 * A ctrl killed inside an enqueue leaves prod.head ahead of prod.tail
	 * (or cons.head ahead of cons.tail for a dequeue). We are the only
	 * producer of cmd and the only consumer of evt now, so pulling the head
	 * back to the tail discards just the half-written slot, which was never
	 * visible to dp.
	 */
	struct rte_ring *cmd = ring_shm_cmd(s), *evt = ring_shm_evt(s);
	cmd->prod.head = cmd->prod.tail;
	evt->cons.head = evt->cons.tail;
	__atomic_thread_fence(__ATOMIC_RELEASE);
	return s;

fail:
	err = errno;
	ring_shm_free(s);
	errno = err;
	return NULL;
}

void ring_shm_free(struct ring_shm *s)
{
	if (s == NULL)
		return;
	if (s->base != NULL)
		munmap(s->base, s->size);
	if (s->fd >= 0)
		close(s->fd);
	free(s);
}

int ring_shm_unlink(struct ring_shm *s)
{
	if (ring_shm_replaced(s))
		return -ESTALE;
	return unlink(s->path) == 0 ? 0 : -errno;
}

int ring_shm_dp_alive(const struct ring_shm *s)
{
	return ring_shm_lock(s->fd, RING_SHM_LOCK_DP, 0) == 1;
}

int ring_shm_ctrl_attached(const struct ring_shm *s)
{
	return ring_shm_lock(s->fd, RING_SHM_LOCK_CTRL, 0) == 1;
}

int ring_shm_replaced(const struct ring_shm *s)
{
	struct stat st;

	if (stat(s->path, &st) != 0)
		return 1;
	return st.st_dev != s->dev || st.st_ino != s->ino;
}

const struct ring_shm_hdr *ring_shm_hdr(const struct ring_shm *s)
{
	return s->base;
}

struct rte_ring *ring_shm_cmd(struct ring_shm *s)
{
	return (struct rte_ring *)((char *)s->base + ring_shm_hdr(s)->cmd_off);
}

struct rte_ring *ring_shm_evt(struct ring_shm *s)
{
	return (struct rte_ring *)((char *)s->base + ring_shm_hdr(s)->evt_off);
}

void ring_shm_heartbeat(struct ring_shm *s)
{
	struct ring_shm_hdr *h = s->base;

	__atomic_store_n(&h->heartbeat, h->heartbeat + 1, __ATOMIC_RELEASE);
}

void ring_shm_set_generation(struct ring_shm *s, uint64_t generation)
{
	struct ring_shm_hdr *h = s->base;

	__atomic_store_n(&h->generation, generation, __ATOMIC_RELEASE);
}

uint64_t ring_shm_get_heartbeat(const struct ring_shm *s)
{
	return __atomic_load_n(&ring_shm_hdr(s)->heartbeat, __ATOMIC_ACQUIRE);
}

uint64_t ring_shm_get_generation(const struct ring_shm *s)
{
	return __atomic_load_n(&ring_shm_hdr(s)->generation, __ATOMIC_ACQUIRE);
}

uint64_t ring_shm_next_ctrl_epoch(struct ring_shm *s)
{
	struct ring_shm_hdr *h = s->base;
	uint64_t e = h->ctrl_epoch + 1;

	__atomic_store_n(&h->ctrl_epoch, e, __ATOMIC_RELEASE);
	return e;
}
