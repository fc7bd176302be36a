/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Where a task enters its queue, and whether its arrival preempts the running
 * task: CFS's place_entity() and check_preempt_wakeup() (kernel/sched/fair.c,
 * the pre-EEVDF versions with START_DEBIT and GENTLE_FAIR_SLEEPERS).
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
#include "stats.bpf.h"

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
	thresh = p->policy == SCHED_IDLE_POLICY ? READ_ONCE(tun.min_granularity_ns) :
						  READ_ONCE(tun.sched_latency_ns);
	if (wakeup || tctx->rejoined)
		tctx->vruntime = cfs_place_waking(tctx->vruntime, floor, thresh);
	tctx->rejoined = false;
}

/*
 * What wakeup preemption knows of the task running on a CPU (its queue's
 * curr_* fields, CFS's cfs_rq->curr): set when it starts running, its
 * vruntime refreshed at every tick, cleared when it stops.
 */
static __always_inline void curr_update(const struct task_ctx *tctx, struct fairrs_cpu_ctx *cctx)
{
	cctx->curr_vruntime = tctx->vruntime;
	cctx->curr_stamp_ns = scx_bpf_now();
}

static __always_inline void curr_start(const struct task_struct *p, const struct task_ctx *tctx,
				       struct fairrs_cpu_ctx *cctx)
{
	curr_update(tctx, cctx);
	cctx->curr_since_ns = cctx->curr_stamp_ns;
	cctx->preempt_deferred = 0;
	cctx->curr_weight = tctx->weight;
	cctx->curr_idle = p->policy == SCHED_IDLE_POLICY;
}

static __always_inline void curr_stop(struct fairrs_cpu_ctx *cctx)
{
	cctx->curr_weight = 0;
	cctx->curr_idle = 0;
	cctx->left_ns = scx_bpf_now();
}

/*
 * The running task's vruntime now, extrapolated from its last charge so that a
 * wakeup between ticks compares against the truth.
 */
static __always_inline u64 curr_vruntime_now(const struct fairrs_cpu_ctx *cctx)
{
	u64 now = scx_bpf_now();
	u64 ran = now - cctx->curr_stamp_ns;

	if ((s64)ran < 0)
		ran = 0;
	return cctx->curr_vruntime + cfs_scale(ran, cctx->curr_weight);
}

/*
 * check_preempt_wakeup() (Linux v6.5 kernel/sched/fair.c): does a task of
 * @vruntime and @weight, woken (or new: wake_up_new_task() calls it with
 * WF_FORK), preempt the task running on @cctx's CPU? Yes when it is ahead of
 * it by more than wakeup_granularity, scaled to its weight (wakeup_gran()) so
 * that heavy wakees preempt more readily.
 */
static __always_inline bool placement_ahead_of_curr(u64 vruntime, u32 weight,
						    const struct fairrs_cpu_ctx *cctx)
{
	return cfs_wakeup_preempts(vruntime, weight, curr_vruntime_now(cctx),
				   READ_ONCE(tun.wakeup_granularity_ns));
}

/*
 * Should the woken @p preempt the task running on @cpu now? Any wakee but a
 * SCHED_IDLE one preempts a SCHED_IDLE task; otherwise SCHED_BATCH and
 * SCHED_IDLE wakees never preempt (check_preempt_wakeup()'s order).
 * Otherwise CFS's rule above, with one difference (--wakeup-protect-us,
 * default min_granularity; 0 is CFS exactly): for a synchronous wakeup (the
 * waker is about to sleep: pipes, sockets, SCX_WAKE_SYNC) a task that has
 * run less than wakeup_protect since it was picked keeps the CPU, and the
 * tick checks the queue again (placement_tick_preempt()). Without it a
 * message-passing workload preempts its sender at every message: hackbench
 * ran 3-5x slower than under the kernel's scheduler, which protects a task's
 * slice in a similar way (EEVDF's RUN_TO_PARITY). Other wakeups (timers,
 * futexes, I/O) preempt at once, as in CFS: delaying them bought nothing but
 * latency. Shares are unaffected: vruntime is charged the same, only when a
 * wakee starts changes.
 */
static __always_inline bool placement_wakeup_preempts(struct task_struct *p,
						      const struct task_ctx *tctx, s32 cpu)
{
	struct fairrs_cpu_ctx *cctx = cpu_ctx(cpu);

	if (!cctx || !cctx->curr_weight)
		return false;
	if (cctx->curr_idle && p->policy != SCHED_IDLE_POLICY)
		return true;
	if (p->policy == SCHED_BATCH_POLICY || p->policy == SCHED_IDLE_POLICY)
		return false;
	if (!placement_ahead_of_curr(tctx->vruntime, tctx->weight, cctx))
		return false;
	if (tctx->wake_sync && scx_bpf_now() - cctx->curr_since_ns < READ_ONCE(tun.wakeup_protect_ns)) {
		cctx->preempt_deferred = 1;
		stat_inc(FAIRRS_STAT_PREEMPT_DEFERRED);
		return false;
	}
	return true;
}

/*
 * At a tick of @p on @cpu: a wakee found @p protected; once @p has run
 * wakeup_protect, it gives way if the head of the queue would preempt it now.
 */
static __always_inline void placement_tick_preempt(struct task_struct *p, s32 cpu,
						   struct fairrs_cpu_ctx *cctx)
{
	struct task_struct *head;
	struct task_ctx *hctx;

	if (!cctx->preempt_deferred ||
	    scx_bpf_now() - cctx->curr_since_ns < READ_ONCE(tun.wakeup_protect_ns))
		return;
	cctx->preempt_deferred = 0;
	head = __COMPAT_scx_bpf_dsq_peek(cpu_dsq(cpu));
	if (!head || !(hctx = task_ctx(head)))
		return;
	if (placement_ahead_of_curr(head->scx.dsq_vtime, hctx->weight, cctx)) {
		scx_bpf_task_set_slice(p, 0);
		stat_inc(FAIRRS_STAT_TICK_PREEMPT);
	}
}

#endif /* __FAIRRS_PLACEMENT_BPF_H */
