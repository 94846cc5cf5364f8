/*
 * dp_stats: names generated from the X-macro lists in dp_stats.h.
 */
#include "dp_stats.h"

#define DP_DROP_NAME(e, n, d) [DP_DROP_##e] = n,
#define DP_DROP_DESCR(e, n, d) [DP_DROP_##e] = d,
#define DP_EV_NAME(e, n) [DP_EV_##e] = n,

const char *const dp_drop_names[DP_DROP_MAX] = {
	[DP_DROP_NONE] = "none", DP_FOREACH_DROP(DP_DROP_NAME)
};
const char *const dp_drop_descr[DP_DROP_MAX] = {
	[DP_DROP_NONE] = "not dropped", DP_FOREACH_DROP(DP_DROP_DESCR)
};
const char *const dp_ev_names[DP_EV_MAX] = { DP_FOREACH_EVENT(DP_EV_NAME) };
