/*
 * tb: a token bucket clocked by the TSC, for rate-limiting ICMP errors
 * (RFC 1812 4.3.2.8) per worker lcore without locks or syscalls.
 *
 * Credit is kept in clock ticks rather than tokens: each token costs
 * hz/rate ticks and the bucket holds at most burst tokens' worth, so
 * refill is one subtraction and no division happens on the fast path.
 * Each lcore owns its bucket; nothing here is shared.
 */
#ifndef SLUICE_DP_TB_H
#define SLUICE_DP_TB_H

#include <stdint.h>

struct tb {
	uint64_t credit; /* ticks' worth of tokens available */
	uint64_t cost;   /* ticks per token; 0 = bucket disabled */
	uint64_t cap;    /* burst * cost */
	uint64_t last;   /* clock at last refill */
};

/**
 * Initialise @tb for @rate tokens per second (0 disables: tb_take always
 * fails) and depth @burst (>= 1) on a clock of @hz ticks per second,
 * starting full at time @now. Returns 0 or -EINVAL (hz < rate, burst 0).
 * Any thread, before the bucket is used.
 */
int tb_init(struct tb *tb, uint64_t rate, uint64_t burst, uint64_t hz, uint64_t now);

/** Take one token at time @now (monotonic). Returns 1 if granted, else 0.
 *  Owner lcore only. */
static inline int tb_take(struct tb *tb, uint64_t now)
{
	if (tb->cost == 0)
		return 0;
	if (now > tb->last) {
		uint64_t gain = now - tb->last;
		tb->credit = gain >= tb->cap - tb->credit ? tb->cap : tb->credit + gain;
		tb->last = now;
	}
	if (tb->credit < tb->cost)
		return 0;
	tb->credit -= tb->cost;
	return 1;
}

#endif
