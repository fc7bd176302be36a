/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Weights, vruntime, min_vruntime and slices: the arithmetic of CFS's
 * per-queue fairness (kernel/sched/fair.c before EEVDF), applied to one
 * vruntime-ordered DSQ per CPU.
 *
 * A task's vruntime advances by delta_exec * NICE_0_LOAD / weight, so over any
 * interval the tasks of one queue receive CPU time in proportion to their
 * weights. Each queue keeps a monotonic min_vruntime; a vruntime only means
 * something relative to the min_vruntime of the queue it was earned on, so a
 * task that changes queue is renormalised (vtime_move_queue()).
 */
#ifndef __FAIRRS_VTIME_BPF_H
#define __FAIRRS_VTIME_BPF_H

#include "fairrs.bpf.h"
#include "cfs.bpf.h"
#include "load.bpf.h"
#include "stats.bpf.h"
#include "entitle.bpf.h"

/*
 * The CFS load weight of @p: from its nice level (static_prio), not from
 * p->scx.weight, which is rounded to the cgroup scale and loses the ratios
 * (nice 19 would be 1/100 of nice 0 instead of 15/1024). SCHED_IDLE tasks get
 * WEIGHT_IDLEPRIO as in set_load_weight().
 */
static __always_inline u32 vtime_task_weight(const struct task_struct *p)
{
	return cfs_weight(p->static_prio - DEFAULT_PRIO, p->policy == SCHED_IDLE_POLICY);
}

/*
 * Charge the runtime @p accumulated since the last charge. The kernel keeps
 * p->se.sum_exec_runtime current for sched_ext tasks (update_curr_scx()) before
 * it calls ops.tick and ops.stopping, so the delta is exact. Returns the
 * runtime charged, ns.
 */
static __always_inline u64 vtime_charge(struct task_struct *p, struct task_ctx *tctx)
{
	u64 now_exec = p->se.sum_exec_runtime;
	u64 delta = now_exec - tctx->exec_charged;

	tctx->exec_charged = now_exec;
	if ((s64)delta <= 0)
		return 0;
	tctx->vruntime += cfs_scale(delta, tctx->weight);
	return delta;
}

/*
 * update_min_vruntime() while a task of @vruntime runs on @cpu (Linux v6.5
 * kernel/sched/fair.c): the floor moves up to min(running, leftmost queued),
 * never back. A running task is not in the queue (as CFS's curr is not in its
 * tree), so the queue's head is the leftmost waiting task. Called when a
 * task starts running (a pulled task or a preempting wakee runs out of
 * vruntime order and must not lift the floor past the queue), at every
 * tick and when it stops, so a task that keeps the CPU through several
 * slices drags the floor along and a waking sleeper's credit stays bounded
 * by latency / 2 of the present, not of a stale floor. A task that stops to
 * sleep (@on_rq false) no longer counts: the floor moves up to the queue's
 * head, as dequeue_entity()'s update does.
 */
static __always_inline void vtime_update_min_curr(s32 cpu, struct fairrs_cpu_ctx *cctx, u64 vruntime,
						  bool on_rq)
{
	struct task_struct *head = __COMPAT_scx_bpf_dsq_peek(cpu_dsq(cpu));
	u64 left = head ? head->scx.dsq_vtime : cctx->next_vruntime;

	if (head && cctx->next_pending && cfs_before(cctx->next_vruntime, left))
		left = cctx->next_vruntime;
	cctx->min_vruntime = cfs_min_vruntime(cctx->min_vruntime, on_rq, vruntime,
					      head || cctx->next_pending, left);
}

/*
 * A task of @vruntime left this queue for the local DSQ (ops.dispatch, or a
 * preempting wakee) and runs next. ops.dispatch runs before the previous
 * task's ops.stopping, whose floor update must still count it as waiting:
 * without it the floor jumped to the previous task's vruntime (a nice-19
 * task beside one hog: 270 ms past the hog at every switch).
 */
static __always_inline void vtime_note_next(struct fairrs_cpu_ctx *cctx, u64 vruntime)
{
	if (!cctx->next_pending || cfs_before(vruntime, cctx->next_vruntime))
		cctx->next_vruntime = vruntime;
	cctx->next_pending = 1;
}

/*
 * sched_slice() before EEVDF: the queue's period, stretched to
 * nr_running * min_granularity when crowded (__sched_period()), shared in
 * proportion to weight, and never shorter than min_granularity.
 */
static __always_inline u64 vtime_slice(u32 weight, const struct fairrs_cpu_ctx *cctx)
{
	/* Read each tunable once: the daemon may change them meanwhile. */
	return cfs_slice(weight, cctx->load_weight, cctx->nr_running, READ_ONCE(tun.sched_latency_ns),
			 READ_ONCE(tun.min_granularity_ns));
}

/* check_preempt_tick()'s ideal_runtime: the slice a task of @weight runs at most. */
static __always_inline u64 vtime_ideal_runtime(u32 weight, const struct fairrs_cpu_ctx *cctx)
{
	return cfs_ideal_runtime(vtime_slice(weight, cctx), READ_ONCE(tun.sched_latency_ns));
}

/* Give @p, about to run on @cctx's CPU, its fair slice; returns it. */
static __always_inline u64 vtime_grant_slice(struct task_struct *p, struct task_ctx *tctx,
					     struct fairrs_cpu_ctx *cctx)
{
	u64 slice = vtime_ideal_runtime(tctx->weight, cctx);

	scx_bpf_task_set_slice(p, slice);
	tctx->slice_exec_start = p->se.sum_exec_runtime;
	cctx->last_slice_ns = slice;
	stat_add(FAIRRS_STAT_SLICES, 1);
	stat_add(FAIRRS_STAT_SLICE_NS, slice);
	return slice;
}

/*
 * pick_next_entity() for the task that just ran: @prev, still runnable, keeps
 * @cpu when no task queued there is further behind it, with a fresh slice (the
 * kernel runs it on). A task that yielded is the skip buddy, once: it gives
 * way to the head when that is within wakeup_granularity of it
 * (cfs_yield_skips()). Returns true when @prev keeps the CPU.
 */
static __always_inline bool vtime_keep_prev(struct task_struct *prev, s32 cpu,
					    struct fairrs_cpu_ctx *cctx)
{
	struct task_ctx *tctx = task_ctx(prev);
	struct task_struct *head = __COMPAT_scx_bpf_dsq_peek(cpu_dsq(cpu));
	bool yielded;

	if (!tctx)
		return false;
	yielded = tctx->yielded;
	tctx->yielded = false;
	if (head && (cfs_before(head->scx.dsq_vtime, tctx->vruntime) ||
		     (yielded && cfs_yield_skips(tctx->vruntime, tctx->weight, head->scx.dsq_vtime,
						 READ_ONCE(tun.wakeup_granularity_ns)))))
		return false;
	vtime_grant_slice(prev, tctx, cctx);
	stat_inc(FAIRRS_STAT_KEEP_PREV);
	return true;
}

/*
 * A runnable task of @weight joins or leaves @cpu's queue: the queue's weight
 * sum (load_weight, CFS's cfs_rq->load) and task count follow. Other CPUs may
 * do the same, hence the atomics.
 */
static __always_inline void queue_weight_add(s32 cpu, u32 weight, bool idle)
{
	struct fairrs_cpu_ctx *cctx = cpu_ctx(cpu);

	if (!cctx)
		return;
	__sync_fetch_and_add(&cctx->load_weight, weight);
	__sync_fetch_and_add(&cctx->nr_running, 1);
	if (idle)
		__sync_fetch_and_add(&cctx->nr_idle, 1);
}

static __always_inline void queue_weight_sub(s32 cpu, u32 weight, bool idle)
{
	struct fairrs_cpu_ctx *cctx = cpu_ctx(cpu);

	if (!cctx)
		return;
	__sync_fetch_and_sub(&cctx->load_weight, weight);
	__sync_fetch_and_sub(&cctx->nr_running, 1);
	if (idle)
		__sync_fetch_and_sub(&cctx->nr_idle, 1);
}

/* @tctx's policy may have changed: a queued task's count as SCHED_IDLE follows @idle. */
static __always_inline void vtime_requeue_idle(struct task_ctx *tctx, bool idle)
{
	struct fairrs_cpu_ctx *cctx;

	if (tctx->on_queue && idle != tctx->queued_idle && (cctx = cpu_ctx(tctx->queue_cpu))) {
		if (idle)
			__sync_fetch_and_add(&cctx->nr_idle, 1);
		else
			__sync_fetch_and_sub(&cctx->nr_idle, 1);
	}
	tctx->queued_idle = idle;
}

/*
 * reweight_entity(): @tctx's weight becomes @weight (a new nice level or
 * policy, or its groups' loads moved); a runnable task's queue weight sum
 * follows, once what it was owed at the old weight is settled.
 */
static __always_inline void vtime_reweight(struct task_ctx *tctx, u32 weight)
{
	struct fairrs_cpu_ctx *cctx;

	if (tctx->on_queue && (cctx = cpu_ctx(tctx->queue_cpu))) {
		entitle_settle(tctx);
		__sync_fetch_and_add(&cctx->load_weight, weight);
		__sync_fetch_and_sub(&cctx->load_weight, tctx->weight);
	}
	tctx->weight = weight;
}

/* @v, earned on @from's queue, expressed on @to's: same distance to the floor. */
static __always_inline u64 vtime_rebase(u64 v, const struct fairrs_cpu_ctx *from,
					const struct fairrs_cpu_ctx *to)
{
	return cfs_rebase(v, from->min_vruntime, to->min_vruntime);
}

/*
 * Make @cpu's queue the home of @p: its vruntime keeps its distance to the
 * min_vruntime of the queue it leaves (migrate_task_rq_fair() subtracts the
 * old floor, enqueue adds the new one), and its weight moves with it (what
 * it was owed on the old queue is settled first, entitle.bpf.h).
 * Returns true when @p changed queue (a migration, counted by the caller,
 * which knows why); false for a first placement or no move.
 */
static __always_inline bool vtime_move_queue(struct task_ctx *tctx, s32 cpu)
{
	struct fairrs_cpu_ctx *from, *to;
	bool moved = false;

	if (tctx->queue_cpu == cpu)
		return false;
	to = cpu_ctx(cpu);
	if (!to)
		return false;
	from = cpu_ctx(tctx->queue_cpu);
	if (from) {
		tctx->vruntime = vtime_rebase(tctx->vruntime, from, to);
		tctx->nr_migrations++;
		moved = true;
	}
	load_move_contrib(tctx, cpu);
	if (tctx->on_queue) {
		entitle_settle(tctx);
		queue_weight_sub(tctx->queue_cpu, tctx->weight, tctx->queued_idle);
		entitle_join(tctx, to);
		queue_weight_add(cpu, tctx->weight, tctx->queued_idle);
	}
	tctx->queue_cpu = cpu;
	return moved;
}

/*
 * Bound how far ahead of its queue's floor a task may sit, so that it waits
 * at most about starvation_guard_ns. The floor advances at about
 * NICE_0_LOAD / load_weight per ns of wall time, so a lag of L takes
 * L * load_weight / NICE_0_LOAD ns to close. Binding needs weight ratios in
 * the thousands (SCHED_IDLE beside several nice -20 hogs); it never touches
 * ordinary mixes, where lags are a few slices.
 */
static __always_inline void vtime_guard_lag(struct task_ctx *tctx,
					    const struct fairrs_cpu_ctx *cctx)
{
	u64 limit = cfs_lag_limit(cctx->min_vruntime, cctx->load_weight, starvation_guard_ns);

	if (cfs_before(limit, tctx->vruntime)) {
		tctx->vruntime = limit;
		stat_inc(FAIRRS_STAT_LAG_CLAMP);
	}
}

/*
 * @p was preempted inside an RCU read-side section (preemptible RCU marks it
 * blocked at the context switch and clears the mark when it leaves): every
 * grace period waits for it, and the kernel ejects a sched_ext scheduler on
 * an RCU stall (21 s on Debian) where CFS only warns. A light task behind
 * heavy ones may run a tick every few seconds, too little to leave a long
 * section (khugepaged, nice 19, copying a huge page under emulation). Queue
 * it no later than the floor, as RCU priority boosting would run it; it pays
 * for the CPU as usual. Not rcu_read_lock_nesting: this program's own
 * trampoline holds an RCU read lock, counted in current's nesting when
 * current is @p (a preempted task is re-queued from its own context).
 * Returns whether it moved.
 */
static __always_inline bool vtime_rcu_reader(struct task_struct *p, struct task_ctx *tctx,
					     const struct fairrs_cpu_ctx *cctx)
{
	if (!bpf_core_field_exists(p->rcu_read_unlock_special) ||
	    !BPF_CORE_READ(p, rcu_read_unlock_special.b.blocked) ||
	    !cfs_before(cctx->min_vruntime, tctx->vruntime))
		return false;
	tctx->vruntime = cctx->min_vruntime;
	return true;
}

/*
 * The guard for tasks already queued: vtime_guard_lag() bounds a lag for the
 * load at enqueue, and heavier tasks arriving afterwards slow the floor, so a
 * task can still wait far past the watchdog (SCHED_IDLE behind five nice -20
 * hogs). In ops.dispatch, at most once per STARVE_SCAN_NS, @cpu looks
 * through its queue and runs first a task that has waited longer than the
 * guard; its next enqueue bounds its lag again for the load as it stands.
 * Cost: one walk of this CPU's own queue per STARVE_SCAN_NS.
 */
static __always_inline bool vtime_serve_starving(s32 cpu, struct fairrs_cpu_ctx *cctx)
{
	struct task_struct *p;
	u64 now = scx_bpf_now();

	if (now - cctx->starve_scan_ns < STARVE_SCAN_NS)
		return false;
	cctx->starve_scan_ns = now;
	bpf_for_each(scx_dsq, p, cpu_dsq(cpu), 0) {
		struct task_ctx *tctx = task_ctx(p);

		/* Signed: another CPU's clock may be a little ahead of this one's. */
		if (!tctx || !tctx->queued_ns || (s64)(now - tctx->queued_ns) <= (s64)starvation_guard_ns)
			continue;
		if (scx_bpf_dsq_move(BPF_FOR_EACH_ITER, p, SCX_DSQ_LOCAL, 0)) {
			stat_inc(FAIRRS_STAT_STARVE_RUN);
			return true;
		}
	}
	return false;
}

#endif /* __FAIRRS_VTIME_BPF_H */
