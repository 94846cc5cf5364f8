/*
 * tb: see tb.h.
 */
#include <errno.h>

#include "tb.h"

int tb_init(struct tb *tb, uint64_t rate, uint64_t burst, uint64_t hz, uint64_t now)
{
	tb->last = now;
	if (rate == 0) {
		tb->cost = tb->cap = tb->credit = 0;
		return 0;
	}
	/* cost must be >= 1 tick, and cap must not overflow */
	if (burst == 0 || hz < rate || burst > UINT64_MAX / (hz / rate))
		return -EINVAL;
	tb->cost = hz / rate;
	tb->cap = burst * tb->cost;
	tb->credit = tb->cap;
	return 0;
}
