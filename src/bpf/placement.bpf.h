/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Where a task enters its queue: CFS's place_entity() and task_fork_fair()
 * (kernel/sched/fair.c, the pre-EEVDF versions with START_DEBIT and
 * GENTLE_FAIR_SLEEPERS). Whether its arrival preempts the running task is
 * preempt.bpf.h's.
 *
 * A new task starts one virtual slice behind the queue's floor, so a process
 * that forks cannot multiply its share. A waking task may keep the lead its
 * sleep earned, but at most sched_latency / 2 ahead of the floor: enough to
 * run promptly after a wait, never enough to monopolise the CPU.
 */
#ifndef __FAIRRS_PLACEMENT_BPF_H
#define __FAIRRS_PLACEMENT_BPF_H

#include "fairrs.bpf.h"
#include "cfs.bpf.h"
#include "vtime.bpf.h"

/*
 * A task forks @child (ops.init_task of a fork runs in the parent's context):
 * the child remembers how far its parent was past its queue's floor, for
 * task_fork_fair()'s rule that a child never starts before its parent.
 */
static __always_inline void placement_fork(struct task_ctx *child)
{
	struct task_ctx *parent = task_ctx(bpf_get_current_task_btf());
	struct fairrs_cpu_ctx *pcctx;

	child->fork_lag = 0;
	if (parent && (pcctx = cpu_ctx(parent->queue_cpu)))
		child->fork_lag = (s64)(parent->vruntime - pcctx->min_vruntime);
}

/*
 * Place @p, which just became runnable on @cctx's queue (and is already
 * counted in its load). New tasks get START_DEBIT: min_vruntime plus the
 * vruntime worth of the slice they would get (sched_vslice()), or their
 * parent's place if later. Waking tasks get GENTLE_FAIR_SLEEPERS credit:
 * max(own vruntime, min_vruntime - latency / 2), min_granularity / 2 for a
 * SCHED_IDLE task.
 */
static __always_inline void place_entity(const struct task_struct *p, struct task_ctx *tctx,
					 const struct fairrs_cpu_ctx *cctx, bool wakeup)
{
	u64 floor = cctx->min_vruntime, thresh;

	if (tctx->is_new) {
		tctx->vruntime = cfs_place_new(floor, tctx->weight, vtime_slice(tctx->weight, cctx),
					       tctx->fork_lag);
		tctx->is_new = false;
		tctx->forked = true;
		return;
	}
	/*
	 * A task returning from another class is placed like a waking one:
	 * detach_task_cfs_rq() runs place_entity(cfs_rq, se, 0) on a task
	 * leaving the fair class and switched_to_fair() re-attaches it with that
	 * relative vruntime (Linux v6.5 kernel/sched/fair.c), so it comes back
	 * with at most latency / 2 of credit, however long it was away.
	 */
	thresh = tctx->queued_idle ? READ_ONCE(tun.min_granularity_ns) :
				     READ_ONCE(tun.sched_latency_ns);
	/* In a group, the credit CFS gives on the group's own clock. */
	thresh = cfs_group_thresh(thresh, tctx->task_weight, tctx->weight);
	if (wakeup || tctx->rejoined)
		tctx->vruntime = cfs_place_waking(tctx->vruntime, floor, thresh);
	tctx->rejoined = false;
}

#endif /* __FAIRRS_PLACEMENT_BPF_H */
