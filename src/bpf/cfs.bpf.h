/* SPDX-License-Identifier: GPL-2.0 */
/*
 * CFS's arithmetic, as pure functions of numbers: weights, vruntime scaling,
 * slices, placement, wakeup and tick preemption, the floor, the rebase of a
 * vruntime between queues, the lag bound, and the per-queue fair share the
 * stats measure fairness against. Every formula is the one of Linux
 * v6.5 kernel/sched/fair.c (the last CFS release) unless it says otherwise.
 *
 * Like pelt.bpf.h it uses no kernel type or helper, so the BPF scheduler
 * inlines it and the host builds it as it is (cfs_host.c) for the unit tests
 * in src/cfs.rs, which check it against values worked out from the kernel's
 * formulas. The headers that know tasks and queues (vtime.bpf.h,
 * placement.bpf.h, preempt.bpf.h) feed it their fields.
 */
#ifndef __FAIRRS_CFS_BPF_H
#define __FAIRRS_CFS_BPF_H

#include "intf.h"

#ifndef __always_inline
#define __always_inline inline __attribute__((always_inline))
#endif

/* Wrap-safe vruntime ordering: entity_before(). */
static __always_inline int cfs_before(u64 a, u64 b)
{
	return (s64)(a - b) < 0;
}

static __always_inline u64 cfs_max(u64 a, u64 b)
{
	return cfs_before(a, b) ? b : a;
}

/*
 * sched_prio_to_weight[] (kernel/sched/core.c): nice -20 .. 19. Each step is
 * ~1.25x, so a task one nice level lower gets ~10% more CPU than its peer.
 */
static const u32 cfs_prio_to_weight[40] = {
	/* -20 */ 88761, 71755, 56483, 46273, 36291,
	/* -15 */ 29154, 23254, 18705, 14949, 11916,
	/* -10 */  9548,  7620,  6100,  4904,  3906,
	/*  -5 */  3121,  2501,  1991,  1586,  1277,
	/*   0 */  1024,   820,   655,   526,   423,
	/*   5 */   335,   272,   215,   172,   137,
	/*  10 */   110,    87,    70,    56,    45,
	/*  15 */    36,    29,    23,    18,    15,
};

/*
 * set_load_weight() (kernel/sched/core.c): the weight of a task of @nice, or
 * WEIGHT_IDLEPRIO for a SCHED_IDLE one (@idle). Out-of-range nice levels are
 * clamped, as the kernel never produces them.
 */
static __always_inline u32 cfs_weight(s32 nice, int idle)
{
	s32 idx = nice + 20;

	if (idle)
		return FAIRRS_WEIGHT_IDLEPRIO;
	if (idx < 0)
		idx = 0;
	if (idx > 39)
		idx = 39;
	return cfs_prio_to_weight[idx];
}

/* calc_delta_fair(): @delta ns of runtime in vruntime units for @weight. */
static __always_inline u64 cfs_scale(u64 delta, u32 weight)
{
	return delta * FAIRRS_NICE_0_LOAD / (weight ? weight : 1);
}

/*
 * sched_slice(): the period is sched_latency, stretched to
 * nr_running * min_granularity when more tasks than latency / min_granularity
 * share the queue (__sched_period()); each task gets the part of it its
 * weight is of the queue's @load (which includes it), and never less than
 * min_granularity (v6.5's sched_slice() floors it with
 * sysctl_sched_min_granularity under the BASE_SLICE feature).
 */
static __always_inline u64 cfs_slice(u32 weight, u64 load, u64 nr_running, u64 latency,
				     u64 min_gran)
{
	u64 period = latency, slice;

	if (!nr_running)
		nr_running = 1;
	if (nr_running * min_gran > period)
		period = nr_running * min_gran;
	if (load < weight)
		load = weight;
	slice = period * weight / load;
	return slice < min_gran ? min_gran : slice;
}

/*
 * task_fork_fair() and place_entity() for a new task (START_DEBIT): it starts
 * one virtual slice (sched_vslice(): its @slice scaled to its @weight) after
 * the queue's @floor, so a process that forks cannot multiply its share, and
 * never before its parent, which was @parent_lag past its own queue's floor
 * when it forked (0 when the parent was not ours).
 */
static __always_inline u64 cfs_place_new(u64 floor, u32 weight, u64 slice, s64 parent_lag)
{
	return cfs_max(floor + parent_lag, floor + cfs_scale(slice, weight));
}

/*
 * place_entity() for a waking task (GENTLE_FAIR_SLEEPERS): it keeps its own
 * @vruntime or gets @thresh / 2 of credit behind the @floor, whichever is
 * later, so a sleeper runs promptly but cannot bank its sleep. @thresh is
 * sched_latency, or min_granularity for a SCHED_IDLE task (se_is_idle()).
 */
static __always_inline u64 cfs_place_waking(u64 vruntime, u64 floor, u64 thresh)
{
	return cfs_max(vruntime, floor - thresh / 2);
}

/*
 * The sleeper credit @thresh (cfs_place_waking()) for a task of weight
 * @task_weight that weighs @weight in the flat queue (group.bpf.h). CFS
 * gives the credit in vruntime of the task's group's own queue, where the
 * task weighs @task_weight; the flat queue's vruntime runs @task_weight /
 * @weight times as fast for it, so the same credit is that much more here.
 */
static __always_inline u64 cfs_group_thresh(u64 thresh, u32 task_weight, u32 weight)
{
	if (!weight || weight == task_weight)
		return thresh;
	return thresh * task_weight / weight;
}

/*
 * wakeup_preempt_entity() with wakeup_gran(): a waking task of @weight at
 * @wakee_vr preempts the running one at @curr_vr when it is behind it by more
 * than wakeup_granularity scaled to the wakee's weight (heavy wakees preempt
 * more readily).
 */
static __always_inline int cfs_wakeup_preempts(u64 wakee_vr, u32 weight, u64 curr_vr, u64 gran)
{
	return cfs_before(wakee_vr + cfs_scale(gran, weight), curr_vr);
}

/*
 * pick_next_entity()'s skip buddy: the task that called sched_yield(), at
 * @yielder_vr with @weight and still the leftmost, is passed over for the next
 * task at @next_vr only while that one is within wakeup_gran() of it
 * (wakeup_preempt_entity(next, yielder) < 1). A yield cannot give away more
 * than that: a yielder far behind runs on.
 */
static __always_inline int cfs_yield_skips(u64 yielder_vr, u32 weight, u64 next_vr, u64 gran)
{
	return !cfs_wakeup_preempts(yielder_vr, weight, next_vr, gran);
}

/*
 * check_preempt_tick()'s ideal_runtime: the task's @slice, capped at
 * sched_latency, as many light tasks can stretch the period far past it.
 * Both the slice granted and the tick's test use it.
 */
static __always_inline u64 cfs_ideal_runtime(u64 slice, u64 latency)
{
	return slice < latency ? slice : latency;
}

/*
 * check_preempt_tick(): the running task, which has run @ran ns of a slice
 * whose ideal length is now @ideal, gives way when it ran longer than that,
 * or, once it ran min_granularity, when its vruntime @curr_vr leads the
 * leftmost waiting task's (@has_leftmost, @leftmost_vr) by more than @ideal.
 */
static __always_inline int cfs_tick_preempts(u64 ran, u64 ideal, u64 min_gran, u64 curr_vr,
					     int has_leftmost, u64 leftmost_vr)
{
	s64 lead;

	if (ran > ideal)
		return 1;
	if (ran < min_gran || !has_leftmost)
		return 0;
	lead = (s64)(curr_vr - leftmost_vr);
	return lead > 0 && (u64)lead > ideal;
}

/*
 * update_min_vruntime(): the @floor moves up to min(running task at @curr_vr,
 * leftmost waiting task), never back; a task that is going to sleep no longer
 * counts as running (@has_curr 0: its dequeue_entity() has cleared on_rq), and
 * with neither the floor stays.
 */
static __always_inline u64 cfs_min_vruntime(u64 floor, int has_curr, u64 curr_vr, int has_leftmost,
					    u64 leftmost_vr)
{
	u64 v = has_curr ? curr_vr : leftmost_vr;

	if (!has_curr && !has_leftmost)
		return floor;
	if (has_curr && has_leftmost && cfs_before(leftmost_vr, v))
		v = leftmost_vr;
	return cfs_max(floor, v);
}

/*
 * migrate_task_rq_fair() and enqueue: a vruntime @v earned on a queue whose
 * floor is @from keeps its distance to the floor @to of the queue it joins.
 */
static __always_inline u64 cfs_rebase(u64 v, u64 from, u64 to)
{
	return v - from + to;
}

/*
 * Not CFS (sched_ext's watchdog has no CFS counterpart): how far ahead of a
 * queue's @floor a task may sit so that it waits at most about @guard_ns.
 * The floor advances at NICE_0_LOAD / load per ns of wall time, so a lag of
 * L closes in L * load / NICE_0_LOAD ns. Returns the latest vruntime allowed.
 */
static __always_inline u64 cfs_lag_limit(u64 floor, u64 load, u64 guard_ns)
{
	if (!load)
		load = FAIRRS_NICE_0_LOAD;
	return floor + guard_ns * FAIRRS_NICE_0_LOAD / load;
}

/*
 * The ideal the stats' live fairness measures against (not a scheduling
 * rule): CFS's promise on one queue, every runnable task served at the rate
 * weight / load (sched_slice() and calc_delta_fair() share a period that
 * way). A queue's fair clock is the integral of dt / load over the time it
 * holds runnable tasks, in units of 2^-CFS_FAIR_SHIFT ns per unit of weight;
 * a task of @weight runnable on it while the clock advanced by @dclock was
 * owed weight * dclock ns of CPU time (entitle.bpf.h keeps both).
 */
#define CFS_FAIR_SHIFT	16
/* Longest stretch one step takes: keeps dt << CFS_FAIR_SHIFT within 64 bits. */
#define CFS_FAIR_MAX_DT	(1ULL << 47)

/* How far a queue's fair clock advances in @dt ns at @load (0 while empty). */
static __always_inline u64 cfs_fair_step(u64 dt, u64 load)
{
	if (!load)
		return 0;
	if (dt > CFS_FAIR_MAX_DT)
		dt = CFS_FAIR_MAX_DT;
	return (dt << CFS_FAIR_SHIFT) / load;
}

/*
 * The CPU time, ns, owed to a task of @weight while its queue's fair clock
 * advanced by @dclock; split so that the product cannot overflow.
 */
static __always_inline u64 cfs_fair_entitled(u32 weight, u64 dclock)
{
	u64 mask = (1ULL << CFS_FAIR_SHIFT) - 1;

	return (dclock >> CFS_FAIR_SHIFT) * weight + (((dclock & mask) * weight) >> CFS_FAIR_SHIFT);
}

#endif /* __FAIRRS_CFS_BPF_H */
