/* SPDX-License-Identifier: GPL-2.0 */
/*
 * When the running task gives way: CFS's check_preempt_wakeup() (a woken or
 * new task preempts the running one) and check_preempt_tick() (the running
 * task's slice ends early at a tick), kernel/sched/fair.c before EEVDF, plus
 * the one deliberate difference, a synchronous wakee's preemption deferred to
 * the tick while the running task is protected (--wakeup-protect-us).
 *
 * What preemption knows of the running task (its queue's curr_* fields, CFS's
 * cfs_rq->curr) is kept here too; the load and balancing headers read
 * curr_weight and left_ns to tell whether a task of ours runs on a CPU.
 */
#ifndef __FAIRRS_PREEMPT_BPF_H
#define __FAIRRS_PREEMPT_BPF_H

#include "fairrs.bpf.h"
#include "cfs.bpf.h"
#include "vtime.bpf.h"
#include "stats.bpf.h"

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
	cctx->curr_idle = tctx->queued_idle;
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
static __always_inline bool preempt_ahead_of_curr(u64 vruntime, u32 weight,
						  const struct fairrs_cpu_ctx *cctx)
{
	return cfs_wakeup_preempts(vruntime, weight, curr_vruntime_now(cctx),
				   READ_ONCE(tun.wakeup_granularity_ns));
}

/*
 * Should the woken @p preempt the task running on @cpu now? Any wakee but a
 * SCHED_IDLE one preempts a SCHED_IDLE task; otherwise SCHED_BATCH and
 * SCHED_IDLE wakees never preempt (check_preempt_wakeup()'s order). Otherwise
 * CFS's rule above, with one difference (--wakeup-protect-us, default
 * min_granularity; 0 is CFS exactly): for a synchronous wakeup (the waker is
 * about to sleep: pipes, sockets, SCX_WAKE_SYNC) a task that has run less
 * than wakeup_protect since it was picked keeps the CPU, and the tick checks
 * the queue again (preempt_tick_deferred()). Without it a message-passing
 * workload preempts its sender at every message, each time a full dispatch
 * cycle (figures: docs/DESIGN.md, "Wakeup preemption"); the kernel's
 * scheduler protects a slice similarly (EEVDF's RUN_TO_PARITY). Other wakeups
 * (timers, futexes, I/O) preempt at once, as in CFS: delaying them bought
 * nothing but latency. Shares are unaffected: vruntime is charged the same,
 * only when a wakee starts changes.
 */
static __always_inline bool preempt_wakeup(struct task_struct *p, const struct task_ctx *tctx, s32 cpu)
{
	struct fairrs_cpu_ctx *cctx = cpu_ctx(cpu);

	if (!cctx || !cctx->curr_weight)
		return false;
	/* check_preempt_wakeup(): idle work gives way to other work, never the reverse. */
	if (cctx->curr_idle != tctx->queued_idle)
		return cctx->curr_idle;
	if (p->policy == SCHED_BATCH_POLICY || p->policy == SCHED_IDLE_POLICY)
		return false;
	if (!preempt_ahead_of_curr(tctx->vruntime, tctx->weight, cctx))
		return false;
	if (tctx->wake_sync && scx_bpf_now() - cctx->curr_since_ns < READ_ONCE(tun.wakeup_protect_ns)) {
		cctx->preempt_deferred = 1;
		stat_inc(FAIRRS_STAT_PREEMPT_DEFERRED);
		return false;
	}
	return true;
}

/*
 * check_preempt_tick() (Linux v6.5 kernel/sched/fair.c), at each tick of
 * running @p: its slice ends when it has run longer than its ideal slice as
 * the queue stands now (tasks that arrived since it was granted shrink it), or,
 * once it has run min_granularity, when its vruntime leads the leftmost
 * waiting task's by more than that slice. Ending the slice (slice 0) makes
 * the kernel reschedule; ops.dispatch then picks by vruntime, so @p runs on
 * if it is still the furthest behind (vtime_keep_prev()).
 */
static __always_inline void preempt_tick(struct task_struct *p, const struct task_ctx *tctx, s32 cpu,
					 const struct fairrs_cpu_ctx *cctx)
{
	struct task_struct *head = __COMPAT_scx_bpf_dsq_peek(cpu_dsq(cpu));

	if (cfs_tick_preempts(p->se.sum_exec_runtime - tctx->slice_exec_start,
			      vtime_ideal_runtime(tctx->weight, cctx), READ_ONCE(tun.min_granularity_ns),
			      tctx->vruntime, head != NULL, head ? head->scx.dsq_vtime : 0)) {
		scx_bpf_task_set_slice(p, 0);
		stat_inc(FAIRRS_STAT_TICK_PREEMPT);
	}
}

/*
 * At a tick of @p on @cpu: a wakee found @p protected; once @p has run
 * wakeup_protect, it gives way if the head of the queue would preempt it now.
 */
static __always_inline void preempt_tick_deferred(struct task_struct *p, s32 cpu,
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
	if (preempt_ahead_of_curr(head->scx.dsq_vtime, hctx->weight, cctx)) {
		scx_bpf_task_set_slice(p, 0);
		stat_inc(FAIRRS_STAT_TICK_PREEMPT);
	}
}

#endif /* __FAIRRS_PREEMPT_BPF_H */
