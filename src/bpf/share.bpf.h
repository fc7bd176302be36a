/* SPDX-License-Identifier: GPL-2.0 */
/*
 * How load is shared out beyond one queue, as pure functions of numbers: the
 * periodic balancer's bounds on what one move may carry between two CPUs
 * (Linux v6.5 kernel/sched/fair.c, load_balance() / detach_tasks()), and a
 * task's weight seen through its task groups (calc_group_shares(),
 * sched_weight_from_cgroup()).
 *
 * Like cfs.bpf.h it uses no kernel type or helper: the BPF scheduler inlines
 * it (periodic.bpf.h, group.bpf.h feed it their fields) and the host builds it
 * as it is (share_host.c) for the unit tests in src/share.rs, which check it
 * against values worked out from the kernel's formulas.
 */
#ifndef __FAIRRS_SHARE_BPF_H
#define __FAIRRS_SHARE_BPF_H

#include "intf.h"

#ifndef __always_inline
#define __always_inline inline __attribute__((always_inline))
#endif

/* Failed balancing rounds that still relax share_max_load()'s bound. */
#define BALANCE_MAX_FAILED	4

/*
 * The heaviest task one move over a load @gap may carry: half the gap, so
 * that the move narrows the gap instead of swapping it. After @failed rounds
 * in which no task was that light, the bound doubles per round, as CFS's
 * detach_tasks() compares shr_bound(load, nr_balance_failed) with the
 * imbalance: two nice-0 tasks on one CPU and two nice-5 on another are stuck
 * under the half-gap rule, and a swap needs a heavier task to move first. It
 * never exceeds the gap less the imbalance threshold (@imbalance_pct), so the
 * move still shrinks the gap by a real margin: equal tasks (one CPU with two
 * of them, the others with one) never ping-pong.
 */
static __always_inline u64 share_max_load(u64 gap, u32 imbalance_pct, u32 failed)
{
	u64 cap;

	if (!gap)
		return 0;
	cap = gap * 100 / imbalance_pct;
	failed = failed < BALANCE_MAX_FAILED ? failed : BALANCE_MAX_FAILED;
	gap = (gap / 2) << failed;
	return gap < cap || !failed ? gap : cap;
}

/*
 * The first move of a swap (see balance_swap_min_load()), for a pair whose
 * load @gap no single move can narrow within share_max_load(): the heaviest
 * task it may carry, just under the gap, so that the move still lowers the
 * pair's larger load by at least 1/64 of the gap.
 */
static __always_inline u64 share_swap_max_load(u64 gap)
{
	return gap - gap / 64;
}

/*
 * ... and the least: heavier than the @lightest task waiting at the
 * destination by over half the @gap, so that one is light enough to go the
 * other way at once (at most half the new gap, 2 * load - gap):
 * load > lightest + gap / 2, i.e. lightest < (2 * load - gap) / 2.
 */
static __always_inline u64 share_swap_min_load(u64 lightest, u64 gap)
{
	return lightest + gap / 2 + 1;
}

/* sched_weight_from_cgroup(): cpu.weight 100 is a nice-0 task's 1024. */
static __always_inline u32 share_of_cpu_weight(u32 cpu_weight)
{
	return ((u64)cpu_weight * FAIRRS_NICE_0_LOAD + FAIRRS_CGROUP_WEIGHT_DFL / 2) /
	       FAIRRS_CGROUP_WEIGHT_DFL;
}

/* The other way, for the stats of an autogroup (its weight is a nice level's). */
static __always_inline u32 share_cpu_weight(u32 shares)
{
	return ((u64)shares * FAIRRS_CGROUP_WEIGHT_DFL + FAIRRS_NICE_0_LOAD / 2) / FAIRRS_NICE_0_LOAD;
}

/* What a group adds to its parent's load: its shares while its subtree has a runnable task. */
static __always_inline s64 share_group_contrib(s64 nr_runnable, u32 shares)
{
	return nr_runnable > 0 ? (s64)shares : 0;
}

#ifndef READ_ONCE
#define READ_ONCE(x) (*(volatile __typeof__(x) *)&(x))
#endif

/* Where another CPU's change may land in share_sync_contrib() (host replays only). */
#ifndef SHARE_SYNC_RACE
#define SHARE_SYNC_RACE() do {} while (0)
#endif

/* Passes share_sync_contrib() makes at most while the state keeps moving. */
#define SHARE_SYNC_PASSES	8

/*
 * Make a group's contribution (*@contrib) match its state (*@nr_runnable,
 * *@shares), applying each change to its parent's sum (*@parent_sum, or
 * none). Callers race from several CPUs: each exchange applies exactly its
 * own delta, so the sum always equals the contributions, and a caller passes
 * again while the state moved under it, so a stale value it wrote is undone
 * by itself. The passes are bounded (the balancing timer heals the rest:
 * group_tend()).
 */
static __always_inline void share_sync_contrib(s64 *contrib, s64 *parent_sum, s64 *nr_runnable, u32 *shares)
{
	u32 pass;

	for (pass = 0; pass < SHARE_SYNC_PASSES; pass++) {
		s64 want = share_group_contrib(READ_ONCE(*nr_runnable), READ_ONCE(*shares));
		s64 old;

		SHARE_SYNC_RACE();
		old = __sync_lock_test_and_set(contrib, want);
		if (old != want && parent_sum)
			__sync_fetch_and_add(parent_sum, want - old);
		if (want == share_group_contrib(READ_ONCE(*nr_runnable), READ_ONCE(*shares)))
			break;
	}
}

/* A group's load: its own runnable tasks' weights plus its children's contributions. */
static __always_inline s64 share_group_load(s64 task_load, s64 child_shares)
{
	return task_load + child_shares;
}

/*
 * A task's flattened weight (group.bpf.h): its own @task_weight times, for
 * each of its groups below the root, the group's shares / load (its own
 * runnable tasks' weights plus its busy children's shares), the product of
 * calc_group_shares()'s tg->shares * grq_load / tg_load at each level and the
 * task's part w / grq_load of its group's queue. Worked in 16-bit fixed point:
 * share_weight_start(), share_weight_level() once per group from the task's
 * own up, share_weight_end().
 */
#define SHARE_FRAC_SHIFT	16

static __always_inline u64 share_weight_start(u32 task_weight)
{
	return (u64)task_weight << SHARE_FRAC_SHIFT;
}

/* One group of @shares and @load (a group with no load yet leaves @w). */
static __always_inline u64 share_weight_level(u64 w, u32 shares, s64 load)
{
	if (load > 0)
		w = w * shares / (u64)load;
	return w;
}

/*
 * The weight itself, kept within calc_group_shares()'s lower clamp
 * (MIN_SHARES) and a u32.
 */
static __always_inline u32 share_weight_end(u64 w)
{
	w >>= SHARE_FRAC_SHIFT;
	if (w < FAIRRS_MIN_SHARES)
		return FAIRRS_MIN_SHARES;
	return w > 0xffffffffULL ? 0xffffffffU : (u32)w;
}

#endif /* __FAIRRS_SHARE_BPF_H */
