/* SPDX-License-Identifier: GPL-2.0 */
/*
 * cpu.max and cpu.max.burst: CFS bandwidth control (Linux v6.5
 * kernel/sched/fair.c, __account_cfs_rq_runtime(), throttle_cfs_rq(),
 * __refill_cfs_bandwidth_runtime(), distribute_cfs_runtime();
 * Documentation/scheduler/sched-bwc.rst) for the groups of group.bpf.h, on
 * kernels that report the limits to sched_ext (ops.cgroup_set_bandwidth and
 * scx_cgroup_init_args' bw_* fields, 6.17+).
 *
 * A limited group has one pool of runtime for all CPUs: each period its
 * quota is added, capped at quota + burst. What its subtree's tasks run is
 * taken from the pool of every limited group on their path to the root, at
 * the same points as their vruntime is charged (tick, stop, yield). A pool
 * at or below zero throttles its group until a refill brings it above zero;
 * an overrun (the CPUs that ran on to their next tick) is repaid from the
 * next period, as a cfs_rq's negative runtime_remaining is.
 *
 * A throttled group's tasks are held out of the CPU queues in the group's
 * own held queue (a FIFO DSQ): at ops.enqueue, when they reach the head of a
 * queue (ops.dispatch), and at the next tick if one was already running.
 * They stay runnable to the kernel and in their queue's load, are charged
 * nothing while held, and its period timer (one BPF timer per limited group)
 * puts them back in their CPU's queue at the refill, placed as waking tasks
 * (unthrottle_cfs_rq() enqueues the group entity with ENQUEUE_WAKEUP).
 *
 * The watchdog comes first: a task whose wait reaches starvation_guard_ns
 * is not held (bw_guard counts it); and every period the timer drains what
 * is no longer throttled, so a task held while its group was being released
 * waits one period at most.
 */
#ifndef __FAIRRS_BANDWIDTH_BPF_H
#define __FAIRRS_BANDWIDTH_BPF_H

#include "fairrs.bpf.h"
#include "cfs.bpf.h"
#include "group.bpf.h"
#include "pull.bpf.h"
#include "kick.bpf.h"
#include "stats.bpf.h"

/* Groups with a limit, and of them the throttled ones: the hot paths' gates. */
u32 bw_nr_limited;
u32 bw_nr_throttled;
/* Held queues created, one per group slot that was ever initialised. */
u8 bw_dsq_made[FAIRRS_MAX_GROUPS];

struct bw_timer {
	struct bpf_timer timer;
	u32 inited;
};

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, FAIRRS_MAX_GROUPS);
	__type(key, u32);
	__type(value, struct bw_timer);
} bw_timers SEC(".maps");

/* Most a cpu.max in us may say that is a limit (RUNTIME_INF, "max", is U64_MAX). */
#define BW_MAX_US		(1ULL << 40)
/* Queued tasks ops.dispatch moves to held queues before taking its head. */
#define BW_HOLD_SCAN		8
/* A timer this close to a period's end refills (hrtimers may fire a little early). */
#define BW_TIMER_SLACK_NS	(50ULL * 1000)
/* How often the timer of a group without a limit drains what it still holds. */
#define BW_IDLE_PERIOD_NS	(100ULL * 1000 * 1000)

/* The held queue of group slot @slot: DSQ ids above the CPUs'. */
static __always_inline u64 bw_held_dsq(s32 slot)
{
	return (u64)FAIRRS_MAX_CPUS + (u64)(slot & (FAIRRS_MAX_GROUPS - 1));
}

/*
 * The first throttled group on @slot's path to the root, or -1. Only
 * limited groups are ever throttled; none is, nearly always, and then this
 * reads one global.
 */
static __always_inline s32 bw_throttled_slot(s32 slot)
{
	struct fairrs_group *g;
	u32 depth;

	if (!READ_ONCE(bw_nr_throttled))
		return -1;
	g = group_of(slot);
	for (depth = 0; depth < FAIRRS_MAX_GROUP_DEPTH && !group_in_root(g); depth++) {
		if (READ_ONCE(g->bw_throttled_at))
			return slot;
		slot = g->parent;
		g = group_of(slot);
	}
	return -1;
}

/*
 * The held queue @p must wait in, or -1 to run it: its groups are not
 * throttled, or it has waited so long that holding it longer risks the
 * watchdog (its wait started at its first enqueue: queued_ns).
 */
static __always_inline s32 bw_hold_slot(struct task_ctx *tctx)
{
	s32 slot = bw_throttled_slot(tctx->group);

	if (slot < 0)
		return -1;
	if (tctx->queued_ns && scx_bpf_now() - tctx->queued_ns > starvation_guard_ns) {
		stat_inc(FAIRRS_STAT_BW_GUARD);
		return -1;
	}
	return slot;
}

/* ops.enqueue: @p goes to its throttled group's held queue (true), or on as usual. */
static __always_inline bool bw_hold(struct task_struct *p, struct task_ctx *tctx, u64 enq_flags)
{
	s32 slot = bw_hold_slot(tctx);

	if (slot < 0)
		return false;
	if (!tctx->queued_ns)
		tctx->queued_ns = scx_bpf_now();
	scx_bpf_dsq_insert(p, bw_held_dsq(slot), READ_ONCE(tun.min_granularity_ns), enq_flags);
	stat_inc(FAIRRS_STAT_BW_HOLD);
	return true;
}

/*
 * ops.dispatch on @cpu: tasks queued before their group was throttled leave
 * the head of the queue for their held queue (a few per dispatch; any left
 * are stopped at their first tick: bw_tick()).
 */
static __always_inline void bw_hold_queued(s32 cpu)
{
	struct task_struct *p;
	u32 n = 0;

	if (!READ_ONCE(bw_nr_throttled))
		return;
	bpf_for_each(scx_dsq, p, cpu_dsq(cpu), 0) {
		struct task_ctx *tctx = task_ctx(p);
		s32 slot;

		if (!tctx || ++n > BW_HOLD_SCAN)
			break;
		slot = bw_hold_slot(tctx);
		if (slot < 0)
			break;
		if (scx_bpf_dsq_move(BPF_FOR_EACH_ITER, p, bw_held_dsq(slot), 0))
			stat_inc(FAIRRS_STAT_BW_HOLD);
	}
}

/* ops.dispatch: @prev may run on only if its groups are not throttled. */
static __always_inline bool bw_may_keep(struct task_struct *prev)
{
	struct task_ctx *tctx;

	if (!READ_ONCE(bw_nr_throttled))
		return true;
	tctx = task_ctx(prev);
	return !tctx || bw_hold_slot(tctx) < 0;
}

/*
 * ops.running and ops.tick: a task of a throttled group runs (it was queued
 * or dispatched before the throttle): its slice ends at the next tick, and
 * ops.enqueue holds it.
 */
static __always_inline void bw_stop_throttled(struct task_struct *p, struct task_ctx *tctx,
					      bool running)
{
	if (!READ_ONCE(bw_nr_throttled) || bw_hold_slot(tctx) < 0)
		return;
	scx_bpf_task_set_slice(p, 0);
	if (running)
		stat_inc(FAIRRS_STAT_BW_LATE);
}

/* @g's pool ran out: throttle it (once, whichever CPU sees it first). */
static __always_inline void bw_throttle(struct fairrs_group *g, u64 now)
{
	if (!now)
		now = 1;
	if (!__sync_bool_compare_and_swap(&g->bw_throttled_at, 0, now))
		return;
	__sync_fetch_and_add(&bw_nr_throttled, 1);
	__sync_fetch_and_add(&g->bw_nr_throttled, 1);
	stat_inc(FAIRRS_STAT_BW_THROTTLE);
}

/* @g may run again: its throttled time is counted. */
static __always_inline void bw_unthrottle(struct fairrs_group *g, u64 now)
{
	u64 at = READ_ONCE(g->bw_throttled_at);

	if (!at || !__sync_bool_compare_and_swap(&g->bw_throttled_at, at, 0))
		return;
	__sync_fetch_and_sub(&bw_nr_throttled, 1);
	__sync_fetch_and_add(&g->bw_throttled_ns, now - at);
}

/*
 * @delta ns that a task of @g's subtree ran, taken from @g's pool if it is
 * limited (group_charge() calls it for each group on the task's path). The
 * pool is shared by all CPUs: one atomic per limited group per charge, where
 * CFS hands each CPU 5 ms slices of it (DESIGN.md, cpu.max).
 */
static __always_inline void bw_charge(struct fairrs_group *g, u64 delta)
{
	s64 left;

	if (!READ_ONCE(g->bw_quota_ns))
		return;
	left = __sync_fetch_and_sub(&g->bw_runtime_ns, (s64)delta) - (s64)delta;
	if (left <= 0 && !READ_ONCE(g->bw_throttled_at))
		bw_throttle(g, bpf_ktime_get_ns());
}

/*
 * @delta ns that @tctx just ran count for each group on its path (below the
 * root): in the run time the stats report, and against the pool of each
 * limited one.
 */
static __always_inline void group_charge(struct task_ctx *tctx, u64 delta)
{
	struct fairrs_group *g = group_of(tctx->group);
	bool limits = READ_ONCE(bw_nr_limited);
	u32 depth;

	if (!delta)
		return;
	for (depth = 0; depth < FAIRRS_MAX_GROUP_DEPTH && !group_in_root(g); depth++) {
		__sync_fetch_and_add(&g->runtime_ns, delta);
		if (limits)
			bw_charge(g, delta);
		g = group_of(g->parent);
	}
}

/*
 * The period timer drains @slot's held queue: a task whose groups are no
 * longer throttled goes back to its CPU's queue, placed as a waking task
 * (the global DSQ if that CPU went offline meanwhile); one still held by
 * another throttled group moves to that group's held queue. A global
 * function: it iterates a DSQ, and the timer calls it from one place.
 */
__noinline int bw_release(s32 slot)
{
	struct task_struct *p;

	if (slot < 0 || slot >= FAIRRS_MAX_GROUPS)
		return 0;
	/* A timer callback is not an RCU read-side section (balance_find_task()). */
	bpf_rcu_read_lock();
	bpf_for_each(scx_dsq, p, bw_held_dsq(slot), 0) {
		struct fairrs_cpu_ctx *cctx;
		struct task_ctx *tctx = task_ctx(p);
		s32 held, cpu;

		if (!tctx) {
			scx_bpf_dsq_move(BPF_FOR_EACH_ITER, p, SCX_DSQ_GLOBAL, 0);
			continue;
		}
		held = bw_hold_slot(tctx);
		if (held == slot)
			continue;
		if (held >= 0) {
			scx_bpf_dsq_move(BPF_FOR_EACH_ITER, p, bw_held_dsq(held), 0);
			continue;
		}
		cpu = tctx->queue_cpu;
		cctx = cpu_ctx(cpu);
		if (!cctx || !cpu_is_online(cpu)) {
			if (scx_bpf_dsq_move(BPF_FOR_EACH_ITER, p, SCX_DSQ_GLOBAL, 0))
				stat_inc(FAIRRS_STAT_BW_RELEASE);
			continue;
		}
		tctx->vruntime = cfs_place_waking(tctx->vruntime, READ_ONCE(cctx->min_vruntime),
						  READ_ONCE(tun.sched_latency_ns));
		scx_bpf_dsq_move_set_vtime(BPF_FOR_EACH_ITER, tctx->vruntime);
		if (scx_bpf_dsq_move_vtime(BPF_FOR_EACH_ITER, p, cpu_dsq(cpu), 0)) {
			stat_inc(FAIRRS_STAT_BW_RELEASE);
			pull_mark(cpu);
			kick_cpu(cpu, SCX_KICK_IDLE);
		}
	}
	bpf_rcu_read_unlock();
	return 0;
}

/*
 * Group @slot's period timer. At a period's end the quota is added to the
 * pool, capped at quota + burst (__refill_cfs_bandwidth_runtime()); a pool
 * above zero lifts the throttle, and the held queue is drained. It runs while
 * the group has a limit or held tasks; run early (bw_kick_timer()), it only
 * drains.
 */
static int bw_timerfn(void *map, int *key, struct bw_timer *bt)
{
	s32 slot = *key;
	struct fairrs_group *g = group_of(slot);
	u64 now = bpf_ktime_get_ns(), quota, period, next;
	s64 cap, left;

	if (!g)
		return 0;
	quota = READ_ONCE(g->bw_quota_ns);
	period = READ_ONCE(g->bw_period_ns);
	if (!period)
		period = BW_IDLE_PERIOD_NS;
	next = READ_ONCE(g->bw_next_ns);
	if (quota && (s64)(now + BW_TIMER_SLACK_NS - next) >= 0) {
		cap = (s64)(quota + READ_ONCE(g->bw_burst_ns));
		left = __sync_fetch_and_add(&g->bw_runtime_ns, (s64)quota) + (s64)quota;
		if (left > cap)
			__sync_fetch_and_sub(&g->bw_runtime_ns, left - cap);
		__sync_fetch_and_add(&g->bw_nr_periods, 1);
		next += period;
		if ((s64)(next - now) <= 0)
			next = now + period;
		WRITE_ONCE(g->bw_next_ns, next);
	}
	if (!quota || READ_ONCE(g->bw_runtime_ns) > 0)
		bw_unthrottle(g, now);
	bw_release(slot);
	if (!quota) {
		if (!scx_bpf_dsq_nr_queued(bw_held_dsq(slot)))
			return 0;
		next = now + period;
	}
	bpf_timer_start(&bt->timer, next, BPF_F_TIMER_ABS);
	return 0;
}

/* Run @slot's period timer now: a limit was set, changed or lifted. */
static __always_inline void bw_kick_timer(s32 slot)
{
	u32 key = slot;
	struct bw_timer *bt = bpf_map_lookup_elem(&bw_timers, &key);

	if (!bt)
		return;
	if (!bt->inited) {
		bpf_timer_init(&bt->timer, &bw_timers, CLOCK_MONOTONIC);
		bpf_timer_set_callback(&bt->timer, bw_timerfn);
		bt->inited = 1;
	}
	bpf_timer_start(&bt->timer, 0, 0);
}

/*
 * Group @slot's cpu.max is now @quota_us per @period_us with @burst_us
 * (quota RUNTIME_INF, or anything beyond BW_MAX_US: no limit). As
 * tg_set_cfs_bandwidth() does, a set limit starts a period with a full
 * quota and lifts the throttle; a lifted one releases the held tasks.
 */
static __always_inline void bw_set(s32 slot, u64 period_us, u64 quota_us, u64 burst_us)
{
	struct fairrs_group *g = group_of(slot);
	u64 quota = 0, was;

	if (!g || !bw_dsq_made[slot & (FAIRRS_MAX_GROUPS - 1)])
		return;
	if (quota_us && quota_us < BW_MAX_US && period_us && period_us < BW_MAX_US)
		quota = quota_us * 1000;
	was = READ_ONCE(g->bw_quota_ns);
	if (!quota && !was)
		return;
	WRITE_ONCE(g->bw_period_ns, period_us < BW_MAX_US ? period_us * 1000 : 0);
	WRITE_ONCE(g->bw_burst_ns, quota && burst_us < BW_MAX_US ? burst_us * 1000 : 0);
	if (quota) {
		WRITE_ONCE(g->bw_runtime_ns, (s64)quota);
		WRITE_ONCE(g->bw_next_ns, bpf_ktime_get_ns() + period_us * 1000);
	}
	if (quota && !was)
		__sync_fetch_and_add(&bw_nr_limited, 1);
	else if (!quota)
		__sync_fetch_and_sub(&bw_nr_limited, 1);
	WRITE_ONCE(g->bw_quota_ns, quota);
	bw_kick_timer(slot);
}

/*
 * ops.cgroup_init (sleepable): @cgrp's group gets its held queue, made once
 * per slot, and the limit it was created with.
 */
static __always_inline void bw_group_init(struct cgroup *cgrp, struct scx_cgroup_init_args *args)
{
	s32 slot;

	if (!bpf_core_field_exists(args->bw_quota_us))
		return;
	slot = group_own_slot(cgrp);
	if (slot < 0)
		return;
	slot &= FAIRRS_MAX_GROUPS - 1;
	if (!bw_dsq_made[slot]) {
		if (scx_bpf_create_dsq(bw_held_dsq(slot), -1))
			return;
		bw_dsq_made[slot] = 1;
	}
	bw_set(slot, args->bw_period_us, args->bw_quota_us, args->bw_burst_us);
}

/*
 * ops.cgroup_set_bandwidth: cpu.max or cpu.max.burst of @cgrp changed; and
 * ops.cgroup_exit (all zero: its limit goes, its timer drains and stops).
 */
static __always_inline void bw_group_set(struct cgroup *cgrp, u64 period_us, u64 quota_us,
					 u64 burst_us)
{
	s32 slot = group_own_slot(cgrp);

	if (slot >= 0)
		bw_set(slot, period_us, quota_us, burst_us);
}

#endif /* __FAIRRS_BANDWIDTH_BPF_H */
