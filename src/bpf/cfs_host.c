// SPDX-License-Identifier: GPL-2.0
/*
 * cfs.bpf.h built for the host, so the Rust unit tests (src/cfs.rs) call the
 * very arithmetic the BPF scheduler inlines (as pelt_host.c does for PELT).
 */
#include "intf.h"
#include "cfs.bpf.h"

u32 fairrs_cfs_weight(s32 nice, int idle);
u64 fairrs_cfs_scale(u64 delta, u32 weight);
u64 fairrs_cfs_slice(u32 weight, u64 load, u64 nr_running, u64 latency, u64 min_gran);
u64 fairrs_cfs_place_new(u64 floor, u32 weight, u64 slice, s64 parent_lag);
u64 fairrs_cfs_place_waking(u64 vruntime, u64 floor, u64 thresh);
u64 fairrs_cfs_group_thresh(u64 thresh, u32 task_weight, u32 weight);
u64 fairrs_cfs_ideal_runtime(u64 slice, u64 latency);
int fairrs_cfs_wakeup_preempts(u64 wakee_vr, u32 weight, u64 curr_vr, u64 gran);
int fairrs_cfs_yield_skips(u64 yielder_vr, u32 weight, u64 next_vr, u64 gran);
int fairrs_cfs_tick_preempts(u64 ran, u64 ideal, u64 min_gran, u64 curr_vr, int has_leftmost,
			     u64 leftmost_vr);
u64 fairrs_cfs_min_vruntime(u64 floor, int has_curr, u64 curr_vr, int has_leftmost, u64 leftmost_vr);
u64 fairrs_cfs_rebase(u64 v, u64 from, u64 to);
u64 fairrs_cfs_lag_limit(u64 floor, u64 load, u64 guard_ns);
u64 fairrs_cfs_fair_step(u64 dt, u64 load);
u64 fairrs_cfs_fair_entitled(u32 weight, u64 dclock);

u32 fairrs_cfs_weight(s32 nice, int idle) { return cfs_weight(nice, idle); }
u64 fairrs_cfs_scale(u64 delta, u32 weight) { return cfs_scale(delta, weight); }
u64 fairrs_cfs_slice(u32 weight, u64 load, u64 nr_running, u64 latency, u64 min_gran)
{
	return cfs_slice(weight, load, nr_running, latency, min_gran);
}
u64 fairrs_cfs_place_new(u64 floor, u32 weight, u64 slice, s64 parent_lag)
{
	return cfs_place_new(floor, weight, slice, parent_lag);
}
u64 fairrs_cfs_place_waking(u64 vruntime, u64 floor, u64 thresh)
{
	return cfs_place_waking(vruntime, floor, thresh);
}
u64 fairrs_cfs_group_thresh(u64 thresh, u32 task_weight, u32 weight)
{
	return cfs_group_thresh(thresh, task_weight, weight);
}
u64 fairrs_cfs_ideal_runtime(u64 slice, u64 latency) { return cfs_ideal_runtime(slice, latency); }
int fairrs_cfs_wakeup_preempts(u64 wakee_vr, u32 weight, u64 curr_vr, u64 gran)
{
	return cfs_wakeup_preempts(wakee_vr, weight, curr_vr, gran);
}
int fairrs_cfs_yield_skips(u64 yielder_vr, u32 weight, u64 next_vr, u64 gran)
{
	return cfs_yield_skips(yielder_vr, weight, next_vr, gran);
}
int fairrs_cfs_tick_preempts(u64 ran, u64 ideal, u64 min_gran, u64 curr_vr, int has_leftmost,
			     u64 leftmost_vr)
{
	return cfs_tick_preempts(ran, ideal, min_gran, curr_vr, has_leftmost, leftmost_vr);
}
u64 fairrs_cfs_min_vruntime(u64 floor, int has_curr, u64 curr_vr, int has_leftmost, u64 leftmost_vr)
{
	return cfs_min_vruntime(floor, has_curr, curr_vr, has_leftmost, leftmost_vr);
}
u64 fairrs_cfs_rebase(u64 v, u64 from, u64 to) { return cfs_rebase(v, from, to); }
u64 fairrs_cfs_lag_limit(u64 floor, u64 load, u64 guard_ns) { return cfs_lag_limit(floor, load, guard_ns); }
u64 fairrs_cfs_fair_step(u64 dt, u64 load) { return cfs_fair_step(dt, load); }
u64 fairrs_cfs_fair_entitled(u32 weight, u64 dclock) { return cfs_fair_entitled(weight, dclock); }
