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
#include "load.bpf.h"
#include "stats.bpf.h"

/*
 * sched_prio_to_weight[] (kernel/sched/core.c): nice -20 .. 19. Each step is
 * ~1.25x, so a task one nice level lower gets ~10% more CPU than its peer.
 */
static const u32 prio_to_weight[40] = {
	/* -20 */ 88761, 71755, 56483, 46273, 36291,
	/* -15 */ 29154, 23254, 18705, 14949, 11916,
	/* -10 */  9548,  7620,  6100,  4904,  3906,
	/*  -5 */  3121,  2501,  1991,  1586,  1277,
	/*   0 */  1024,   820,   655,   526,   423,
	/*   5 */   335,   272,   215,   172,   137,
	/*  10 */   110,    87,    70,    56,    45,
	/*  15 */    36,    29,    23,    18,    15,
};

#define MAX_RT_PRIO	100
#define SCHED_IDLE_POLICY	5

/*
 * The CFS load weight of @p: from its nice level (static_prio), not from
 * p->scx.weight, which is rounded to the cgroup scale and loses the ratios
 * (nice 19 would be 1/100 of nice 0 instead of 15/1024). SCHED_IDLE tasks get
 * WEIGHT_IDLEPRIO as in set_load_weight().
 */
static __always_inline u32 vtime_task_weight(const struct task_struct *p)
{
	s32 idx = p->static_prio - MAX_RT_PRIO;

	if (p->policy == SCHED_IDLE_POLICY)
		return FAIRRS_WEIGHT_IDLEPRIO;
	if (idx < 0)
		idx = 0;
	if (idx > 39)
		idx = 39;
	return prio_to_weight[idx];
}

/* calc_delta_fair(): @delta ns of runtime in vruntime units for @weight. */
static __always_inline u64 vtime_scale(u64 delta, u32 weight)
{
	return delta * FAIRRS_NICE_0_LOAD / (weight ?: 1);
}

/*
 * Charge the runtime @p accumulated since the last charge. The kernel keeps
 * p->se.sum_exec_runtime current for sched_ext tasks (update_curr_scx()) before
 * it calls ops.tick and ops.stopping, so the delta is exact.
 */
static __always_inline void vtime_charge(struct task_struct *p, struct task_ctx *tctx)
{
	u64 now_exec = p->se.sum_exec_runtime;
	u64 delta = now_exec - tctx->exec_charged;

	tctx->exec_charged = now_exec;
	if ((s64)delta > 0)
		tctx->vruntime += vtime_scale(delta, tctx->weight);
}

/* update_min_vruntime(): the floor only moves forward. */
static __always_inline void vtime_update_min(struct fairrs_cpu_ctx *cctx, u64 vruntime)
{
	cctx->min_vruntime = vtime_max(cctx->min_vruntime, vruntime);
}

/*
 * sched_slice() before EEVDF: the queue's period, stretched to
 * nr_running * min_granularity when crowded (__sched_period()), shared in
 * proportion to weight, and never shorter than min_granularity.
 */
static __always_inline u64 vtime_slice(u32 weight, const struct fairrs_cpu_ctx *cctx)
{
	/* Read each tunable once: the daemon may change them meanwhile. */
	u64 min_gran = READ_ONCE(tun.min_granularity_ns);
	u64 period = READ_ONCE(tun.sched_latency_ns);
	u64 nr = cctx->nr_running ?: 1;
	u64 load = cctx->load_weight;
	u64 slice;

	if (nr * min_gran > period)
		period = nr * min_gran;
	if (load < weight)
		load = weight;
	slice = period * weight / load;
	return slice < min_gran ? min_gran : slice;
}

/* Add or remove @weight from a queue's load; other CPUs may do the same. */
static __always_inline void vtime_load_add(s32 cpu, u32 weight)
{
	struct fairrs_cpu_ctx *cctx = cpu_ctx(cpu);

	if (!cctx)
		return;
	__sync_fetch_and_add(&cctx->load_weight, weight);
	__sync_fetch_and_add(&cctx->nr_running, 1);
}

static __always_inline void vtime_load_sub(s32 cpu, u32 weight)
{
	struct fairrs_cpu_ctx *cctx = cpu_ctx(cpu);

	if (!cctx)
		return;
	__sync_fetch_and_sub(&cctx->load_weight, weight);
	__sync_fetch_and_sub(&cctx->nr_running, 1);
}

/* @v, earned on @from's queue, expressed on @to's: same distance to the floor. */
static __always_inline u64 vtime_rebase(u64 v, const struct fairrs_cpu_ctx *from,
					const struct fairrs_cpu_ctx *to)
{
	return v - from->min_vruntime + to->min_vruntime;
}

/*
 * Make @cpu's queue the home of @p: its vruntime keeps its distance to the
 * min_vruntime of the queue it leaves (migrate_task_rq_fair() subtracts the
 * old floor, enqueue adds the new one), and its weight moves with it.
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
		vtime_load_sub(tctx->queue_cpu, tctx->weight);
		vtime_load_add(cpu, tctx->weight);
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
	u64 load = cctx->load_weight ?: FAIRRS_NICE_0_LOAD;
	u64 max_lag = starvation_guard_ns * FAIRRS_NICE_0_LOAD / load;
	u64 limit = cctx->min_vruntime + max_lag;

	if (vtime_before(limit, tctx->vruntime)) {
		tctx->vruntime = limit;
		stat_inc(FAIRRS_STAT_LAG_CLAMP);
	}
}

#endif /* __FAIRRS_VTIME_BPF_H */
