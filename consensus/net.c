/*
 * raft_net: nanomsg PUSH/PULL transport with HMAC-SHA256 frames and a
 * per-sender replay window. See net.h for the frame layout and why.
 *
 * Parsing follows WireGuard's receive path: check the frame is at least
 * header + tag, check the header's fixed fields, check the declared payload
 * length against the bytes present (exact match: a frame is one message),
 * verify the tag in constant time, and only then look at the counter and
 * touch per-sender state.
 */
#include "net.h"
#include <sluice/errmsg.h>
#include "byte.h"

#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <nanomsg/nn.h>
#include <nanomsg/pipeline.h>
#include <nanomsg/tcp.h>
#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/params.h>

#define NET_VERSION 1
#define NET_KIND_RAFT 1
#define NET_WINDOW 64
#define NET_DEFAULT_MAX_PAYLOAD (16u << 20)
#define NET_DEFAULT_SKEW_MS 60000u
#define NET_LOG_INTERVAL_NS 1000000000ull	/* one line per second */
#define NET_MAX_REJECT_PER_RECV 256

struct net_peer {
	uint64_t id;
	int sock;	/* NN_PUSH, -1 if unused */
};

/* Replay state of one sender (RFC 6479 with a one-word bitmap). */
struct net_window {
	uint64_t id;	/* 0 = free slot */
	uint64_t top;	/* highest counter accepted */
	uint64_t bits;	/* bit i set: counter top - i seen */
};

struct raft_net {
	uint64_t id;
	int pull;
	size_t max_payload;
	uint64_t max_skew_ns;
	uint64_t counter;	/* last counter sent */
	EVP_MAC *mac;
	EVP_MAC_CTX *mac_ctx;	/* keyed once; re-init reuses the key */
	uint8_t *sbuf;		/* send frame scratch */
	size_t sbuf_cap;
	void *rmsg;		/* last nn_recv message, freed on next recv */
	struct net_peer peers[RAFT_NET_MAX_PEERS];
	struct net_window win[RAFT_NET_MAX_PEERS];
	struct raft_net_stats stats;
	void (*log)(void *data, const char *line);
	void *log_data;
	uint64_t (*clock_ns)(void *data);
	void *clock_data;
	uint64_t log_last_ns;	/* rate limit for rejection lines */
	uint64_t log_suppressed;
	bool log_any;
};

const char *raft_net_strerror(int err)
{
	switch (err) {
#define RAFT_NET_STR(name, str) case RAFT_NET_##name: return str;
		RAFT_NET_ERRORS(RAFT_NET_STR)
#undef RAFT_NET_STR
	}
	return "unknown error";
}

const char *raft_net_drop_name(int drop)
{
	switch (drop) {
#define RAFT_NET_DROP_STR(name, str) case RAFT_NET_DROP_##name: return str;
		RAFT_NET_DROPS(RAFT_NET_DROP_STR)
#undef RAFT_NET_DROP_STR
	}
	return "unknown";
}

static uint64_t net_realtime_ns(void *data)
{
	(void)data;
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static uint64_t net_mono_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

/* HMAC-SHA256 over a || b into tag. */
static int net_mac(struct raft_net *net, const uint8_t *a, size_t alen,
		   const uint8_t *b, size_t blen, uint8_t tag[RAFT_NET_TAG])
{
	size_t out = 0;
	if (!EVP_MAC_init(net->mac_ctx, NULL, 0, NULL) ||
	    !EVP_MAC_update(net->mac_ctx, a, alen) ||
	    (blen > 0 && !EVP_MAC_update(net->mac_ctx, b, blen)) ||
	    !EVP_MAC_final(net->mac_ctx, tag, &out, RAFT_NET_TAG) ||
	    out != RAFT_NET_TAG)
		return -1;
	return 0;
}

__attribute__((format(printf, 2, 3)))
static void net_log_limited(struct raft_net *net, const char *fmt, ...)
{
	uint64_t now = net_mono_ns();
	/* A misconfigured or hostile peer can send thousands of frames per
	 * second: one line per interval, with the count of those skipped. */
	if (net->log_any && now - net->log_last_ns < NET_LOG_INTERVAL_NS) {
		net->log_suppressed++;
		return;
	}
	char line[384];
	va_list ap;
	va_start(ap, fmt);
	int n = vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	if (net->log_suppressed > 0 && n > 0 && (size_t)n < sizeof(line))
		snprintf(line + n, sizeof(line) - (size_t)n,
			 " (%" PRIu64 " similar suppressed)",
			 net->log_suppressed);
	net->log_suppressed = 0;
	net->log_last_ns = now;
	net->log_any = true;
	if (net->log != NULL)
		net->log(net->log_data, line);
	else
		fprintf(stderr, "%s\n", line);
}

struct raft_net *raft_net_create(const struct raft_net_params *params,
				 char *errmsg, size_t errmsg_len)
{
	if (params == NULL || params->id == 0 || params->key == NULL ||
	    params->key_len < RAFT_NET_MIN_KEY) {
		sluice_errf(RAFT_NET_INVAL, errmsg, errmsg_len,
			"raft_net: need an id and a key of at least %d bytes",
			RAFT_NET_MIN_KEY);
		errno = EINVAL;
		return NULL;
	}
	struct raft_net *net = calloc(1, sizeof(*net));
	if (net == NULL) {
		sluice_errf(RAFT_NET_NOMEM, errmsg, errmsg_len, "out of memory");
		errno = ENOMEM;
		return NULL;
	}
	net->id = params->id;
	net->pull = -1;
	for (int i = 0; i < RAFT_NET_MAX_PEERS; i++)
		net->peers[i].sock = -1;
	net->max_payload = params->max_payload ? params->max_payload
					       : NET_DEFAULT_MAX_PAYLOAD;
	net->max_skew_ns = (params->max_skew_ms ? params->max_skew_ms
						: NET_DEFAULT_SKEW_MS) *
			   1000000ull;
	net->log = params->log;
	net->log_data = params->log_data;
	net->clock_ns = params->clock_ns ? params->clock_ns : net_realtime_ns;
	net->clock_data = params->clock_data;
	net->counter = net->clock_ns(net->clock_data);

	/* Derive the MAC key rather than keying HMAC with the cluster key
	 * itself, so the same secret can serve other purposes (the store's
	 * API tokens, say) without cross-protocol forgery. */
	uint8_t mac_key[32];
	char digest[] = "SHA256";
	OSSL_PARAM prm[] = {
		OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, digest, 0),
		OSSL_PARAM_construct_end(),
	};
	net->mac = EVP_MAC_fetch(NULL, "HMAC", NULL);
	net->mac_ctx = net->mac ? EVP_MAC_CTX_new(net->mac) : NULL;
	size_t out = 0;
	static const char label[] = "sluice raft net v1";
	if (net->mac_ctx == NULL ||
	    !EVP_MAC_init(net->mac_ctx, params->key, params->key_len, prm) ||
	    !EVP_MAC_update(net->mac_ctx, (const uint8_t *)label,
			    sizeof(label) - 1) ||
	    !EVP_MAC_final(net->mac_ctx, mac_key, &out, sizeof(mac_key)) ||
	    out != sizeof(mac_key) ||
	    !EVP_MAC_init(net->mac_ctx, mac_key, sizeof(mac_key), prm)) {
		OPENSSL_cleanse(mac_key, sizeof(mac_key));
		sluice_errf(RAFT_NET_IO, errmsg, errmsg_len,
			"raft_net: OpenSSL HMAC-SHA256 unavailable");
		errno = EIO;
		goto fail;
	}
	OPENSSL_cleanse(mac_key, sizeof(mac_key));

	if (params->bind_url != NULL) {
		net->pull = nn_socket(AF_SP, NN_PULL);
		int max = (int)(RAFT_NET_HDR + net->max_payload + RAFT_NET_TAG);
		if (net->pull < 0 ||
		    nn_setsockopt(net->pull, NN_SOL_SOCKET, NN_RCVMAXSIZE, &max,
				  sizeof(max)) < 0 ||
		    nn_bind(net->pull, params->bind_url) < 0) {
			int e = nn_errno();
			sluice_errf(RAFT_NET_IO, errmsg, errmsg_len,
				"raft_net: bind %s: %s", params->bind_url,
				nn_strerror(e));
			errno = e;
			goto fail;
		}
	}
	return net;
fail:;
	int e = errno;
	raft_net_free(net);
	errno = e;
	return NULL;
}

void raft_net_free(struct raft_net *net)
{
	if (net == NULL)
		return;
	if (net->rmsg != NULL)
		nn_freemsg(net->rmsg);
	for (int i = 0; i < RAFT_NET_MAX_PEERS; i++)
		if (net->peers[i].sock >= 0)
			nn_close(net->peers[i].sock);
	if (net->pull >= 0)
		nn_close(net->pull);
	EVP_MAC_CTX_free(net->mac_ctx);
	EVP_MAC_free(net->mac);
	free(net->sbuf);
	free(net);
}

static struct net_peer *net_peer_find(struct raft_net *net, uint64_t id)
{
	for (int i = 0; i < RAFT_NET_MAX_PEERS; i++)
		if (net->peers[i].sock >= 0 && net->peers[i].id == id)
			return &net->peers[i];
	return NULL;
}

int raft_net_peer_add(struct raft_net *net, uint64_t id, const char *url,
		      char *errmsg, size_t errmsg_len)
{
	if (net == NULL || id == 0 || id == net->id || url == NULL)
		return sluice_errf(RAFT_NET_INVAL, errmsg, errmsg_len,
			       "raft_net_peer_add: bad peer");
	struct net_peer *p = net_peer_find(net, id);
	if (p != NULL) {
		nn_close(p->sock);
		p->sock = -1;
	} else {
		for (int i = 0; i < RAFT_NET_MAX_PEERS && p == NULL; i++)
			if (net->peers[i].sock < 0)
				p = &net->peers[i];
		if (p == NULL)
			return sluice_errf(RAFT_NET_NOMEM, errmsg, errmsg_len,
				       "raft_net: more than %d peers",
				       RAFT_NET_MAX_PEERS);
	}
	int s = nn_socket(AF_SP, NN_PUSH);
	/* Do not keep frames for a dead peer after close. */
	int linger = 0;
	/* nanomsg leaves Nagle on: a small AppendEntries or its reply then
	 * waits for the peer's delayed ACK (~40 ms per commit on Linux). */
	int nodelay = 1;
	if (s < 0 ||
	    nn_setsockopt(s, NN_SOL_SOCKET, NN_LINGER, &linger,
			  sizeof(linger)) < 0 ||
	    nn_setsockopt(s, NN_TCP, NN_TCP_NODELAY, &nodelay,
			  sizeof(nodelay)) < 0 ||
	    nn_connect(s, url) < 0) {
		int e = nn_errno();
		if (s >= 0)
			nn_close(s);
		return sluice_errf(RAFT_NET_IO, errmsg, errmsg_len,
			       "raft_net: connect %s: %s", url, nn_strerror(e));
	}
	p->id = id;
	p->sock = s;
	return RAFT_NET_OK;
}

int raft_net_seal(struct raft_net *net, uint64_t to, const void *payload,
		  size_t len, void *out, size_t out_len)
{
	if (net == NULL || to == 0 || len > net->max_payload ||
	    len > UINT32_MAX || (len > 0 && payload == NULL) ||
	    out_len != RAFT_NET_HDR + len + RAFT_NET_TAG)
		return RAFT_NET_INVAL;
	uint8_t *f = out;
	/* Strictly increasing, and never behind the wall clock, so a
	 * restarted sender does not fall into a receiver's replay window. */
	uint64_t now = net->clock_ns(net->clock_data);
	net->counter = now > net->counter ? now : net->counter + 1;
	f[0] = NET_VERSION;
	f[1] = NET_KIND_RAFT;
	f[2] = f[3] = 0;
	raft_put_le32(f + 4, (uint32_t)len);
	raft_put_le64(f + 8, net->id);
	raft_put_le64(f + 16, to);
	raft_put_le64(f + 24, net->counter);
	if (len > 0)
		memcpy(f + RAFT_NET_HDR, payload, len);
	if (net_mac(net, f, RAFT_NET_HDR + len, NULL, 0,
		    f + RAFT_NET_HDR + len) != 0)
		return RAFT_NET_IO;
	return RAFT_NET_OK;
}

static int net_drop(struct raft_net *net, int *drop, enum raft_net_drop why)
{
	net->stats.drops[why]++;
	if (drop != NULL)
		*drop = (int)why;
	return RAFT_NET_DROPPED;
}

/* Check counter ctr from window w; update only if commit. */
static bool net_window_check(struct net_window *w, uint64_t ctr, bool commit)
{
	if (ctr > w->top) {
		if (commit) {
			uint64_t shift = ctr - w->top;
			w->bits = shift >= NET_WINDOW ? 0 : w->bits << shift;
			w->bits |= 1;
			w->top = ctr;
		}
		return true;
	}
	uint64_t diff = w->top - ctr;
	if (diff >= NET_WINDOW || (w->bits & (1ull << diff)))
		return false;
	if (commit)
		w->bits |= 1ull << diff;
	return true;
}

int raft_net_open(struct raft_net *net, const void *frame, size_t len,
		  uint64_t *from, const void **payload, size_t *plen,
		  int *drop)
{
	const uint8_t *f = frame;
	if (len < RAFT_NET_HDR + RAFT_NET_TAG)
		return net_drop(net, drop, RAFT_NET_DROP_SHORT);
	if (f[0] != NET_VERSION || f[1] != NET_KIND_RAFT || f[2] || f[3])
		return net_drop(net, drop, RAFT_NET_DROP_VERSION);
	uint32_t n = raft_get_le32(f + 4);
	/* The declared payload must be exactly what lies between header and
	 * tag: no trailing bytes, no short frames. */
	if (n != len - RAFT_NET_HDR - RAFT_NET_TAG || n > net->max_payload)
		return net_drop(net, drop, RAFT_NET_DROP_LENGTH);
	uint8_t tag[RAFT_NET_TAG];
	uint64_t sender = raft_get_le64(f + 8);
	if (net_mac(net, f, RAFT_NET_HDR + n, NULL, 0, tag) != 0 ||
	    CRYPTO_memcmp(tag, f + RAFT_NET_HDR + n, RAFT_NET_TAG) != 0) {
		net_log_limited(net,
				"raft_net: node %" PRIu64 ": rejected frame "
				"claiming sender %" PRIu64
				": bad MAC (wrong cluster key or tampered)",
				net->id, sender);
		return net_drop(net, drop, RAFT_NET_DROP_BADMAC);
	}
	/* Authentic from here on: the fields below are the sender's word. */
	if (raft_get_le64(f + 16) != net->id)
		return net_drop(net, drop, RAFT_NET_DROP_WRONG_RECEIVER);
	uint64_t ctr = raft_get_le64(f + 24);
	struct net_window *w = NULL, *free_slot = NULL;
	for (int i = 0; i < RAFT_NET_MAX_PEERS; i++) {
		if (net->win[i].id == sender) {
			w = &net->win[i];
			break;
		}
		if (net->win[i].id == 0 && free_slot == NULL)
			free_slot = &net->win[i];
	}
	if (w == NULL) {
		uint64_t now = net->clock_ns(net->clock_data);
		if (ctr + net->max_skew_ns < now)
			return net_drop(net, drop, RAFT_NET_DROP_STALE);
		if (free_slot == NULL || sender == 0)
			return net_drop(net, drop,
					RAFT_NET_DROP_TOO_MANY_SENDERS);
		*free_slot = (struct net_window){ .id = sender, .top = ctr,
						  .bits = 1 };
	} else if (!net_window_check(w, ctr, true)) {
		return net_drop(net, drop, RAFT_NET_DROP_REPLAY);
	}
	net->stats.received++;
	*from = sender;
	*payload = f + RAFT_NET_HDR;
	*plen = n;
	return RAFT_NET_OK;
}

int raft_net_send(struct raft_net *net, uint64_t to, const void *payload,
		  size_t len, char *errmsg, size_t errmsg_len)
{
	if (net == NULL || len > net->max_payload)
		return sluice_errf(RAFT_NET_INVAL, errmsg, errmsg_len,
			       "raft_net_send: payload too large");
	struct net_peer *p = net_peer_find(net, to);
	if (p == NULL)
		return sluice_errf(RAFT_NET_NOPEER, errmsg, errmsg_len,
			       "raft_net_send: unknown peer %" PRIu64, to);
	size_t flen = RAFT_NET_HDR + len + RAFT_NET_TAG;
	/* nanomsg copies the buffer on send, so one scratch frame is
	 * enough; it only grows. */
	if (flen > net->sbuf_cap) {
		uint8_t *b = realloc(net->sbuf, flen);
		if (b == NULL)
			return sluice_errf(RAFT_NET_NOMEM, errmsg, errmsg_len,
				       "out of memory");
		net->sbuf = b;
		net->sbuf_cap = flen;
	}
	int rv = raft_net_seal(net, to, payload, len, net->sbuf, flen);
	if (rv != RAFT_NET_OK)
		return sluice_errf(rv, errmsg, errmsg_len, "raft_net: seal failed");
	if (nn_send(p->sock, net->sbuf, flen, NN_DONTWAIT) < 0) {
		net->stats.drops[RAFT_NET_DROP_SEND_FAILED]++;
		return sluice_errf(RAFT_NET_DROPPED, errmsg, errmsg_len,
			       "raft_net: send to %" PRIu64 ": %s", to,
			       nn_strerror(nn_errno()));
	}
	net->stats.sent++;
	return RAFT_NET_OK;
}

int raft_net_recv(struct raft_net *net, uint64_t *from, const void **payload,
		  size_t *len)
{
	if (net == NULL || net->pull < 0)
		return RAFT_NET_INVAL;
	/* A flood of forged frames must not keep the raft thread here: give
	 * up after a bounded number of rejections (the fd stays readable, so
	 * the caller's loop comes back after its timers). */
	for (int rejected = 0; rejected < NET_MAX_REJECT_PER_RECV; rejected++) {
		if (net->rmsg != NULL) {
			nn_freemsg(net->rmsg);
			net->rmsg = NULL;
		}
		void *msg = NULL;
		int n = nn_recv(net->pull, &msg, NN_MSG, NN_DONTWAIT);
		if (n < 0) {
			int e = nn_errno();
			if (e == EAGAIN || e == EINTR)
				return RAFT_NET_AGAIN;
			return RAFT_NET_IO;
		}
		net->rmsg = msg;
		if (raft_net_open(net, msg, (size_t)n, from, payload, len,
				  NULL) == RAFT_NET_OK)
			return RAFT_NET_OK;
		/* rejected: counted by open; try the next frame */
	}
	return RAFT_NET_AGAIN;
}

int raft_net_fd(const struct raft_net *net)
{
	if (net == NULL || net->pull < 0)
		return -1;
	int fd = -1;
	size_t sz = sizeof(fd);
	if (nn_getsockopt(net->pull, NN_SOL_SOCKET, NN_RCVFD, &fd, &sz) < 0)
		return -1;
	return fd;
}

void raft_net_stats_get(const struct raft_net *net, struct raft_net_stats *st)
{
	*st = net->stats;
}
