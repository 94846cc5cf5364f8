/*
 * ctl_apply: the ring commands applied to the real dataplane. A table of
 * struct ctl_ring_ops whose entries translate ring records into dp_* calls
 * (dp/dp.h), plus the one piece of state the dataplane does not keep: which
 * ring port_id names which dp port, and the generation each port was last
 * (re)installed under, so a sync can detach ports the replay did not
 * mention, as dp_sweep does for pods and routes.
 *
 * Threading: whatever thread runs ctl_ring_poll() (sluice-dp's ctl thread);
 * the dp_* functions serialise themselves.
 */
#ifndef SLUICE_DP_CTL_APPLY_H
#define SLUICE_DP_CTL_APPLY_H

#include "ctl_ring.h"

struct dp;
struct ctl_apply;

/* dp is borrowed. NULL + errno (ENOMEM). */
struct ctl_apply *ctl_apply_create(struct dp *dp);
void ctl_apply_free(struct ctl_apply *ca);

/* The ops table; pass ca as ops_data. */
extern const struct ctl_ring_ops ctl_apply_ops;

struct ctl_apply_thread;

/*
 * sluice-dp --ctl PATH: create the segment at PATH and drain it on a
 * thread of its own (not an lcore: the dp_* control functions serialise
 * themselves, and a separate thread keeps dp_control_loop's housekeeping
 * cadence untouched). The thread sleeps from 50 us up to 1 ms while the
 * ring is empty, so an idle node does not burn a core. NULL + errno
 * (EBUSY: a live dp owns PATH). Main thread.
 */
struct ctl_apply_thread *ctl_apply_start(struct dp *dp, const char *path);
/* Stop the thread, unlink the segment, free. Accepts NULL. */
void ctl_apply_stop(struct ctl_apply_thread *t);

#endif
