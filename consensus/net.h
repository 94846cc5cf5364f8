/*
 * raft_net: authenticated, replay-protected datagrams between masters over
 * nanomsg TCP.
 *
 * Sockets: each node binds one NN_PULL socket and connects one NN_PUSH
 * socket per peer. Raft traffic is point to point; NN_BUS would deliver
 * every frame to every peer (N-1 times the bandwidth, and every node would
 * have to verify and drop frames meant for others) and offers no per-peer
 * queue, while PUSH connected to a single endpoint gives exactly one
 * destination with its own send buffer and nanomsg's automatic reconnect.
 * Sends never block (NN_DONTWAIT): a full queue or an absent peer drops the
 * frame, which Raft tolerates by retrying.
 *
 * Frame (little-endian), 32-byte header + payload + 32-byte tag:
 *   u8 version (1) | u8 kind (1 = raft) | u16 reserved (0) | u32 payload len
 *   u64 sender id | u64 receiver id | u64 counter | payload | HMAC-SHA256
 * The tag covers header and payload under a key derived from the cluster
 * key. The receiver id inside the MAC stops reflection (a frame sent to B
 * replayed back at A, or to C, does not verify as addressed to them). The
 * counter is strictly increasing per sender, seeded from the wall clock
 * (max(last + 1, realtime ns)) so it keeps increasing across restarts; the
 * receiver keeps a 64-frame sliding window per sender (RFC 6479 style) and
 * updates it only after the tag verified, so forged frames cannot move it.
 * A sender seen for the first time must be within max_skew of our clock,
 * which bounds replays after a receiver restart. Assumption: masters' wall
 * clocks are synchronized (NTP) and do not step back by more than the
 * window across a sender restart; otherwise the restarted sender's frames
 * read as replays until its clock passes its old counter.
 *
 * Threading: one thread owns a handle (the io thread). raft_net_fd() gives
 * a descriptor to poll for POLLIN.
 */
#ifndef SLUICE_CONSENSUS_NET_H
#define SLUICE_CONSENSUS_NET_H

#include <stddef.h>
#include <stdint.h>

#define RAFT_NET_HDR 32
#define RAFT_NET_TAG 32
#define RAFT_NET_MAX_PEERS 64
#define RAFT_NET_MIN_KEY 16

#define RAFT_NET_ERRORS(X)                                   \
	X(OK, "ok")                                          \
	X(NOMEM, "out of memory")                            \
	X(INVAL, "invalid argument")                         \
	X(IO, "transport error")                             \
	X(AGAIN, "no message available")                     \
	X(NOPEER, "unknown peer")                            \
	X(DROPPED, "frame rejected")

enum raft_net_err {
#define RAFT_NET_ENUM(name, str) RAFT_NET_##name,
	RAFT_NET_ERRORS(RAFT_NET_ENUM)
#undef RAFT_NET_ENUM
};

const char *raft_net_strerror(int err);

/* Why a frame was dropped: one list generates the enum, names and
 * counters (STYLE 11). */
#define RAFT_NET_DROPS(X)                                                 \
	X(SHORT, "shorter than header and tag")                            \
	X(VERSION, "unknown version, kind or reserved bits")               \
	X(LENGTH, "payload length does not match frame size")              \
	X(BADMAC, "authentication failed (wrong cluster key or tampered)") \
	X(WRONG_RECEIVER, "addressed to another node (reflection)")       \
	X(REPLAY, "counter already seen or older than the window")         \
	X(STALE, "first counter from sender outside the clock skew")       \
	X(TOO_MANY_SENDERS, "sender table full")                           \
	X(SEND_FAILED, "send queue full or peer unreachable")

enum raft_net_drop {
#define RAFT_NET_DROP_ENUM(name, str) RAFT_NET_DROP_##name,
	RAFT_NET_DROPS(RAFT_NET_DROP_ENUM)
#undef RAFT_NET_DROP_ENUM
	RAFT_NET_DROP_COUNT_
};

const char *raft_net_drop_name(int drop);

struct raft_net_stats {
	uint64_t sent;
	uint64_t received;	/* accepted frames */
	uint64_t drops[RAFT_NET_DROP_COUNT_];
};

struct raft_net_params {
	uint64_t id;		/* this node, != 0 */
	const char *bind_url;	/* "tcp://127.0.0.1:7001"; NULL = no PULL */
	const void *key;	/* cluster key, copied; >= RAFT_NET_MIN_KEY */
	size_t key_len;
	size_t max_payload;	/* default 16 MiB */
	uint64_t max_skew_ms;	/* first-contact freshness, default 60000 */
	/* Rate-limited log lines (wrong key...); NULL = stderr. */
	void (*log)(void *data, const char *line);
	void *log_data;
	/* Wall clock in ns for counters and freshness; NULL = realtime.
	 * Tests use it to make the skew check deterministic. */
	uint64_t (*clock_ns)(void *data);
	void *clock_data;
};

struct raft_net;

/* Create: copy the key, derive the MAC key, bind the PULL socket. NULL on
 * error with errmsg filled (may be NULL) and errno set. */
struct raft_net *raft_net_create(const struct raft_net_params *params,
				 char *errmsg, size_t errmsg_len);

/* Close every socket and wipe the key. Accepts NULL. */
void raft_net_free(struct raft_net *net);

/* Add or re-point a peer: a PUSH socket connected to url (copied). */
int raft_net_peer_add(struct raft_net *net, uint64_t id, const char *url,
		      char *errmsg, size_t errmsg_len);

/* Seal payload (copied) for peer `to` and queue it without blocking.
 * RAFT_NET_DROPPED if the queue was full or the peer unreachable (counted
 * as SEND_FAILED), RAFT_NET_NOPEER if `to` was never added. */
int raft_net_send(struct raft_net *net, uint64_t to, const void *payload,
		  size_t len, char *errmsg, size_t errmsg_len);

/*
 * Receive the next authentic frame without blocking. On RAFT_NET_OK *from
 * is the authenticated sender and *payload points to *len bytes valid until
 * the next raft_net_recv or raft_net_free. Rejected frames are counted and
 * skipped; RAFT_NET_AGAIN when nothing (more) is queued, or after 256
 * rejections in one call so a flood of forged frames cannot monopolize
 * the caller (call again later: the fd stays readable).
 */
int raft_net_recv(struct raft_net *net, uint64_t *from, const void **payload,
		  size_t *len);

/* Descriptor that becomes readable (POLLIN) when a frame may be waiting,
 * -1 if the handle has no PULL socket. */
int raft_net_fd(const struct raft_net *net);

void raft_net_stats_get(const struct raft_net *net, struct raft_net_stats *st);

/*
 * Socket-free halves of send and receive, exposed for tests and fuzzing.
 * seal: write the frame for payload to `to` into out (exactly
 * RAFT_NET_HDR + len + RAFT_NET_TAG bytes), consuming one counter value.
 * open: verify a frame addressed to this node; on success return
 * RAFT_NET_OK with *from, *payload (pointing into frame) and *len; else
 * RAFT_NET_DROPPED and *drop names the reason (also counted).
 */
int raft_net_seal(struct raft_net *net, uint64_t to, const void *payload,
		  size_t len, void *out, size_t out_len);
int raft_net_open(struct raft_net *net, const void *frame, size_t len,
		  uint64_t *from, const void **payload, size_t *plen,
		  int *drop);

#endif
