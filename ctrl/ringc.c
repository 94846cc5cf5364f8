/*
 * ringc: attach to sluice-dp's segment, send commands with backpressure,
 * match ACKs by sequence number, follow dp incarnations (ctrl/ringc.h).
 *
 * State is just "attached to incarnation X" or "not attached". ringc_check()
 * moves between them: not attached -> try ring_shm_attach() (quietly while
 * there is no segment, one log line per distinct failure otherwise);
 * attached -> if dp's lock is gone or the path names another file, drop the
 * mapping and log; the next check attaches to the new dp, and `fresh` tells
 * the agent to replay. Sequence numbers restart at 1 per incarnation
 * because dp's ACKs only echo what it was sent.
 *
 * Waiting is a poll with exponential backoff from 20 us to 1 ms: commands
 * are rare enough that a futex across processes is not worth its
 * complexity, and the dp control thread drains in bursts anyway.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include <rte_ring.h>
#include <rte_ring_elem.h>

#include <sluice/ring_shm.h>

#include "ringc.h"
#include <sluice/errmsg.h>

#define RINGC_ERR_SLOTS 256
#define RINGC_DRAIN_BURST 64
#define RINGC_EPOCH_SHIFT 40

struct ringc_err_ack {
	uint64_t seq;
	int32_t err;
	uint16_t reason;
};

struct ringc {
	char path[256];
	unsigned timeout_ms;
	unsigned stall_ms;
	void (*on_event)(void *data, const struct ring_evt *e);
	void *ev_data;
	void (*log)(void *data, const char *line);
	void *data;

	struct ring_shm *shm;
	uint64_t boot_id;
	uint32_t dp_pid;
	uint64_t seq_base;	/* ctrl_epoch << 40: our seqs are above it */
	uint64_t next_seq;
	uint64_t acked;
	int last_fail;		/* errno of the last failed attach, to log once */
	uint64_t last_hb;
	uint64_t hb_change_ms;
	int stalled;
	struct ringc_err_ack errs[RINGC_ERR_SLOTS];
	struct ringc_stats stats;
};

static const char *const ringc_err_text[] = {
#define RINGC_TEXT(name, text) text,
	RINGC_ERRORS(RINGC_TEXT)
#undef RINGC_TEXT
};

const char *ringc_strerror(int err)
{
	if (err < 0 || (size_t)err >= sizeof(ringc_err_text) / sizeof(ringc_err_text[0]))
		return "unknown ringc error";
	return ringc_err_text[err];
}

static void ringc_logf(struct ringc *rc, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

static void ringc_logf(struct ringc *rc, const char *fmt, ...)
{
	char line[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	if (rc->log != NULL)
		rc->log(rc->data, line);
	else
		fprintf(stderr, "%s\n", line);
}

/* Longest sleep between ACK checks in ringc_wait. */
#define RINGC_WAIT_MAX_US 100u

static uint64_t ringc_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

static void ringc_sleep_us(unsigned us)
{
	struct timespec ts = {.tv_sec = 0, .tv_nsec = (long)us * 1000};

	nanosleep(&ts, NULL);
}

struct ringc *ringc_create(const struct ringc_params *params, char *errmsg,
			   size_t errmsg_len)
{
	const char *path = params->path ? params->path : RING_SHM_DEFAULT_PATH;
	struct ringc *rc;

	if (strlen(path) >= sizeof(rc->path)) {
		sluice_errf(RINGC_INVAL, errmsg, errmsg_len, "ringc: segment path too long");
		return NULL;
	}
	rc = calloc(1, sizeof(*rc));
	if (rc == NULL) {
		sluice_errf(RINGC_NOMEM, errmsg, errmsg_len, "ringc: out of memory");
		return NULL;
	}
	snprintf(rc->path, sizeof(rc->path), "%s", path);
	rc->timeout_ms = params->timeout_ms ? params->timeout_ms : 10000;
	rc->stall_ms = params->stall_ms ? params->stall_ms : 2000;
	rc->on_event = params->on_event;
	rc->ev_data = params->data;
	rc->log = params->log;
	rc->data = params->data;
	return rc;
}

static void ringc_detach(struct ringc *rc)
{
	ring_shm_free(rc->shm);
	rc->shm = NULL;
	rc->boot_id = 0;
	rc->dp_pid = 0;
	rc->stalled = 0;
}

void ringc_free(struct ringc *rc)
{
	if (rc == NULL)
		return;
	ringc_detach(rc);
	free(rc);
}

void ringc_set_event_cb(struct ringc *rc, void (*on_event)(void *data, const struct ring_evt *e),
			void *data)
{
	rc->on_event = on_event;
	rc->ev_data = data;
}

int ringc_connected(const struct ringc *rc)
{
	return rc->shm != NULL;
}

static void ringc_try_attach(struct ringc *rc, int *fresh)
{
	struct ring_shm *s = ring_shm_attach(rc->path);

	if (s == NULL) {
		int e = errno;
		/* No segment and a stale one are the normal "dp not up yet". */
		if (e != rc->last_fail && e != ENOENT && e != ESRCH) {
			if (e == EPROTONOSUPPORT)
				ringc_logf(rc, "ringc: %s: sluice-dp speaks another segment layout or record version (we speak layout %u, records v%u); not using it",
					   rc->path, RING_SHM_LAYOUT_VERSION, RING_PROTO_VERSION);
			else
				ringc_logf(rc, "ringc: cannot attach %s: %s", rc->path, strerror(e));
		}
		rc->last_fail = e;
		return;
	}
	const struct ring_shm_hdr *h = ring_shm_hdr(s);
	rc->shm = s;
	rc->boot_id = h->boot_id;
	rc->dp_pid = h->dp_pid;
	rc->seq_base = ring_shm_next_ctrl_epoch(s) << RINGC_EPOCH_SHIFT;
	rc->next_seq = rc->seq_base + 1;
	rc->acked = rc->seq_base;
	rc->last_fail = 0;
	rc->last_hb = ring_shm_get_heartbeat(s);
	rc->hb_change_ms = ringc_now_ms();
	memset(rc->errs, 0, sizeof(rc->errs));
	ringc_logf(rc, "ringc: attached to sluice-dp pid %u boot_id %016llx (its generation %llu)",
		   rc->dp_pid, (unsigned long long)rc->boot_id,
		   (unsigned long long)ring_shm_get_generation(s));
	if (fresh != NULL)
		*fresh = 1;
}

/* 1 if still attached after looking at dp's lock, path and heartbeat. */
static int ringc_watch(struct ringc *rc)
{
	if (!ring_shm_dp_alive(rc->shm)) {
		ringc_logf(rc, "ringc: sluice-dp pid %u (boot_id %016llx) died; waiting for a new one",
			   rc->dp_pid, (unsigned long long)rc->boot_id);
		ringc_detach(rc);
		return 0;
	}
	if (ring_shm_replaced(rc->shm)) {
		ringc_logf(rc, "ringc: segment of sluice-dp pid %u was replaced; re-attaching", rc->dp_pid);
		ringc_detach(rc);
		return 0;
	}
	uint64_t hb = ring_shm_get_heartbeat(rc->shm), now = ringc_now_ms();
	if (hb != rc->last_hb) {
		if (rc->stalled)
			ringc_logf(rc, "ringc: sluice-dp pid %u heartbeat resumed", rc->dp_pid);
		rc->stalled = 0;
		rc->last_hb = hb;
		rc->hb_change_ms = now;
	} else if (!rc->stalled && now - rc->hb_change_ms > rc->stall_ms) {
		rc->stalled = 1;
		ringc_logf(rc, "ringc: sluice-dp pid %u alive but its heartbeat stalled for %llu ms",
			   rc->dp_pid, (unsigned long long)(now - rc->hb_change_ms));
	}
	return 1;
}

int ringc_check(struct ringc *rc, int *fresh)
{
	if (fresh != NULL)
		*fresh = 0;
	if (rc->shm != NULL && !ringc_watch(rc))
		return 0;
	if (rc->shm == NULL)
		ringc_try_attach(rc, fresh);
	if (rc->shm != NULL)
		ringc_drain(rc);
	return rc->shm != NULL;
}

static void ringc_handle(struct ringc *rc, const struct ring_evt *raw)
{
	struct ring_evt e;
	enum ring_bad why;

	if (ring_evt_decode(raw, sizeof(*raw), &e, &why) != 0) {
		rc->stats.bad_events++;
		ringc_logf(rc, "ringc: dropped malformed event type %u from dp: %s", raw->type,
			   ring_bad_str(why));
		return;
	}
	rc->stats.events++;
	if (e.type == RING_EVT_ACK) {
		/* dp still answers what a killed ctrl had queued: not ours. */
		if (e.seq <= rc->seq_base || e.seq >= rc->next_seq) {
			rc->stats.stale_acks++;
			return;
		}
		rc->stats.acked++;
		if (e.seq > rc->acked)
			rc->acked = e.seq;
		if (e.u.ack.err == 0)
			return;
		rc->stats.ack_errors++;
		struct ringc_err_ack *slot = &rc->errs[e.seq % RINGC_ERR_SLOTS];
		slot->seq = e.seq;
		slot->err = e.u.ack.err;
		slot->reason = e.u.ack.reason;
	}
	if (rc->on_event != NULL)
		rc->on_event(rc->ev_data, &e);
}

unsigned ringc_drain(struct ringc *rc)
{
	struct ring_evt evs[RINGC_DRAIN_BURST];
	unsigned total = 0, n;

	if (rc->shm == NULL)
		return 0;
	do {
		n = rte_ring_sc_dequeue_burst_elem(ring_shm_evt(rc->shm), evs, sizeof(evs[0]),
						   RINGC_DRAIN_BURST, NULL);
		for (unsigned i = 0; i < n; i++)
			ringc_handle(rc, &evs[i]);
		total += n;
	} while (n == RINGC_DRAIN_BURST);
	return total;
}

int ringc_send(struct ringc *rc, struct ring_cmd *c, char *errmsg, size_t errmsg_len)
{
	if (rc->shm == NULL)
		return sluice_errf(RINGC_NODP, errmsg, errmsg_len, "ringc: %s not attached",
				  ring_cmd_type_name(c->type));
	c->seq = rc->next_seq;
	struct rte_ring *r = ring_shm_cmd(rc->shm);
	if (rte_ring_sp_enqueue_elem(r, c, sizeof(*c)) == 0) {
		rc->next_seq++;
		rc->stats.sent++;
		return RINGC_OK;
	}
	/* Full: dp is behind. Drain its ACKs (it may be waiting for room) and retry. */
	rc->stats.full_waits++;
	uint64_t deadline = ringc_now_ms() + rc->timeout_ms;
	unsigned backoff = 20, spins = 0;
	for (;;) {
		ringc_drain(rc);
		if (rte_ring_sp_enqueue_elem(r, c, sizeof(*c)) == 0) {
			rc->next_seq++;
			rc->stats.sent++;
			return RINGC_OK;
		}
		if ((++spins & 63) == 0 && !ring_shm_dp_alive(rc->shm)) {
			ringc_watch(rc);
			return sluice_errf(RINGC_DPGONE, errmsg, errmsg_len,
					  "ringc: sluice-dp died with the command ring full");
		}
		if (ringc_now_ms() > deadline)
			return sluice_errf(RINGC_TIMEOUT, errmsg, errmsg_len,
					  "ringc: command ring full for %u ms (dp not consuming)",
					  rc->timeout_ms);
		ringc_sleep_us(backoff);
		if (backoff < 1000)
			backoff *= 2;
	}
}

int ringc_wait(struct ringc *rc, uint64_t seq, int *dp_err, unsigned *reason,
	       char *errmsg, size_t errmsg_len)
{
	uint64_t deadline = ringc_now_ms() + rc->timeout_ms;
	/* An AF_XDP attach takes dp ~15 ms: a back-off doubling to 1 ms
	 * overslept the ACK by up to 1.3 ms on every CNI ADD. 100 us bounds
	 * the overshoot, at ~150 wake-ups per attach. */
	unsigned backoff = 5, spins = 0;

	if (dp_err != NULL)
		*dp_err = 0;
	if (reason != NULL)
		*reason = 0;
	while (rc->acked < seq) {
		if (rc->shm == NULL)
			return sluice_errf(RINGC_DPGONE, errmsg, errmsg_len,
					  "ringc: sluice-dp gone before acknowledging seq %llu",
					  (unsigned long long)seq);
		if (ringc_drain(rc) > 0)
			continue;
		if ((++spins & 63) == 0 && !ringc_watch(rc))
			continue;
		if (ringc_now_ms() > deadline)
			return sluice_errf(RINGC_TIMEOUT, errmsg, errmsg_len,
					  "ringc: no ACK for seq %llu within %u ms",
					  (unsigned long long)seq, rc->timeout_ms);
		ringc_sleep_us(backoff);
		backoff = backoff * 2 > RINGC_WAIT_MAX_US ? RINGC_WAIT_MAX_US : backoff * 2;
	}
	const struct ringc_err_ack *slot = &rc->errs[seq % RINGC_ERR_SLOTS];
	if (slot->seq == seq && slot->err != 0) {
		if (dp_err != NULL)
			*dp_err = slot->err;
		if (reason != NULL)
			*reason = slot->reason;
		return sluice_errf(RINGC_DPERR, errmsg, errmsg_len, "sluice-dp refused seq %llu: %s%s%s",
				  (unsigned long long)seq, strerror(-slot->err),
				  slot->reason ? ": " : "", slot->reason ? ring_bad_str(slot->reason) : "");
	}
	return RINGC_OK;
}

uint64_t ringc_acked(const struct ringc *rc)
{
	return rc->acked;
}

uint32_t ringc_dp_pid(const struct ringc *rc)
{
	return rc->dp_pid;
}

uint64_t ringc_dp_boot_id(const struct ringc *rc)
{
	return rc->boot_id;
}

uint64_t ringc_dp_generation(const struct ringc *rc)
{
	return rc->shm ? ring_shm_get_generation(rc->shm) : 0;
}

void ringc_get_stats(const struct ringc *rc, struct ringc_stats *out)
{
	*out = rc->stats;
}
