/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The load signals: each task's PELT averages (pelt.bpf.h does the maths) and
 * what they add up to on each CPU's queue.
 *
 * A task's PELT state is brought up to date at every change of its state
 * (becomes runnable, starts running, stops, sleeps) and at every tick, with
 * the state it was in since the last update, as update_load_avg() does for a
 * sched_entity. Each queue's runnable_load is the sum of the load_avg of the
 * runnable tasks queued there, kept by adding each task's change in load_avg
 * and by moving a task's whole contribution when it changes queue, so the
 * balancer sees a migration at once instead of after PELT's 32 ms half-life.
 * New tasks start with a full load_avg (init_entity_runnable_average()), so a
 * burst of forks is visible to the balancer before it has any history.
 *
 * Each queue also keeps its own PELT sums (load = queued weight, runnable =
 * nr_running, running = busy), updated by its own CPU, for util and load
 * figures in the stats.
 */
#ifndef __FAIRRS_LOAD_BPF_H
#define __FAIRRS_LOAD_BPF_H

#include "fairrs.bpf.h"
#include "pelt.bpf.h"

/* PELT runs on the global monotonic clock: a task's updates come from many CPUs. */
static __always_inline u64 load_now(void)
{
	return bpf_ktime_get_ns();
}

/* A new task: no history, but counted at its full weight until it has one. */
static __always_inline void load_task_init(struct task_ctx *tctx, u32 weight)
{
	pelt_init(&tctx->pelt, load_now());
	tctx->pelt.load_sum = PELT_MIN_DIVIDER;
	tctx->pelt.load_avg = weight;
	tctx->load_contrib = 0;
}

/* Apply the change in @tctx's load_avg to its queue's runnable load. */
static __always_inline void load_sync_contrib(struct task_ctx *tctx)
{
	struct fairrs_cpu_ctx *cctx;
	s64 now_contrib = tctx->on_queue ? (s64)tctx->pelt.load_avg : 0;
	s64 delta = now_contrib - tctx->load_contrib;

	if (!delta || !(cctx = cpu_ctx(tctx->queue_cpu)))
		return;
	__sync_fetch_and_add(&cctx->runnable_load, delta);
	tctx->load_contrib = now_contrib;
}

/*
 * Bring @tctx's PELT up to now with the state it has been in (on_queue,
 * is_running), then its queue's runnable load. Call before changing state.
 */
static __always_inline void load_task_update(struct task_ctx *tctx)
{
	u64 on = tctx->on_queue;

	pelt_update(&tctx->pelt, load_now(), on, on, tctx->is_running, tctx->weight);
	load_sync_contrib(tctx);
}

/* @tctx leaves its queue for @to's: its whole contribution goes along. */
static __always_inline void load_move_contrib(struct task_ctx *tctx, s32 to)
{
	struct fairrs_cpu_ctx *from = cpu_ctx(tctx->queue_cpu), *dst = cpu_ctx(to);

	if (!tctx->load_contrib)
		return;
	if (from)
		__sync_fetch_and_sub(&from->runnable_load, tctx->load_contrib);
	if (dst)
		__sync_fetch_and_add(&dst->runnable_load, tctx->load_contrib);
}

/* Bring @cctx's own PELT up to now, as the queue looked until now. */
static __always_inline void load_cpu_update(struct fairrs_cpu_ctx *cctx)
{
	pelt_update(&cctx->pelt, load_now(), cctx->load_weight, cctx->nr_running,
		    cctx->curr_weight != 0, 1);
}

/*
 * Tell cpufreq how busy this CPU is, as CFS does through cpu_util_cfs(): the
 * CPU's PELT util_avg (0..1024, SCHED_CAPACITY_SCALE) becomes its
 * performance target; schedutil adds its own headroom (map_util_perf(),
 * util * 1.25) and picks the frequency (Linux v6.5
 * kernel/sched/cpufreq_schedutil.c). Left alone, sched_ext keeps every CPU's
 * target at the maximum (SCX_CPUPERF_ONE). Called where @cpu's run queue is
 * locked (ops.running, ops.tick), the only CPU the kfunc may then target.
 *
 * Not at every call: the kfunc is the costliest part of ops.running
 * (docs/DESIGN.md, "CPU frequency"), and schedutil rate-limits frequency
 * changes itself (rate_limit_us) and picks among a few frequencies. The
 * target moves when util has moved by LOAD_CPUPERF_STEP (1/32 of the range)
 * since it was last set, where CFS calls cpufreq_update_util() at every
 * change of the CPU's load.
 */
#define LOAD_CPUPERF_STEP	(SCX_CPUPERF_ONE / 32)

static __always_inline void load_cpuperf_update(s32 cpu, struct fairrs_cpu_ctx *cctx)
{
	u64 util = cctx->pelt.util_avg;
	u32 target = util < SCX_CPUPERF_ONE ? util : SCX_CPUPERF_ONE;
	u32 last = cctx->perf_target;

	if (!cpuperf_enabled || (target < last + LOAD_CPUPERF_STEP && last < target + LOAD_CPUPERF_STEP))
		return;
	cctx->perf_target = target;
	scx_bpf_cpuperf_set(cpu, target);
}

#endif /* __FAIRRS_LOAD_BPF_H */
