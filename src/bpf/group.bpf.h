/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Task groups: cgroup cpu.weight shared out as CFS's classic group scheduling
 * does (Linux v6.5 kernel/sched/fair.c, calc_group_shares() and
 * update_cfs_group()), on the per-CPU vruntime queues of a flat scheduler.
 *
 * CFS gives each group a run queue per CPU and an entity in its parent's
 * queue there, weighted with the group's shares scaled by the fraction of the
 * group's load on that CPU:
 *
 *	ge->load.weight = tg->shares * grq_load(cpu) / tg_load	(calc_group_shares())
 *
 * A task of weight w in that group's queue on that CPU receives, of what the
 * group entity receives there, w / grq_load(cpu). Seen from the root, the
 * task therefore weighs
 *
 *	w / grq_load(cpu) * tg->shares * grq_load(cpu) / tg_load
 *		= w * tg->shares / tg_load
 *
 * and the CPU's share drops out; one level up the same holds with the group's
 * entity in place of the task. So, recursively to the root, a task's weight
 * in one flat queue per CPU is
 *
 *	w * prod over its groups g below the root of (g->shares / load(g))
 *
 * where load(g) is the machine-wide load of g's queues: the weights of g's
 * own runnable tasks plus the shares of each child group that has runnable
 * tasks (a child's entities on all CPUs add up to its shares). With that
 * weight the queues give every task, and so every group, CFS's share of its
 * CPU, and the balancer (which compares queue loads built from the same
 * weights) spreads groups as CFS's h_load does. The identity is exact for the
 * instantaneous weights (CFS feeds tg_load from PELT load averages, which
 * tend to them) and leaves out calc_group_shares()'s clamp to
 * [MIN_SHARES, tg->shares], which only binds at the extremes (a task's weight
 * is kept at MIN_SHARES or more).
 *
 * Cost: a task becoming runnable or not walks its ancestors once (one atomic
 * add each); its weight is recomputed (the same walk, a multiply and a divide
 * per level) when it becomes runnable, starts running and at each tick, and
 * its queue's load follows (vtime_reweight()). Queued tasks keep the weight
 * they were enqueued with until they run.
 *
 * Groups live in slots of the .bss array `groups` (the daemon reads them for
 * the per-group shares in its stats); a cgroup finds its slot by its id
 * (cgroup_slots), a task keeps its group's slot in its context (ops.init_task,
 * ops.cgroup_move). A cgroup nested deeper than FAIRRS_MAX_GROUP_DEPTH, or
 * created when every slot is taken, counts as its nearest tracked ancestor.
 * --no-cgroup (groups_enabled false) leaves every task at its own weight.
 *
 * Autogroups (--autogroup): CONFIG_SCHED_AUTOGROUP puts the tasks of the root
 * cgroup into one task group per session (setsid()), a child of the root
 * weighted by the session's autogroup nice (sched_prio_to_weight[nice + 20],
 * kernel/sched/autogroup.c). sched_ext is not told of those groups, so a
 * root-cgroup task's session is read from p->signal->autogroup each time it
 * becomes runnable; a session gets a slot the first time one of its tasks
 * does, and the balancing timer frees the slots of sessions idle for
 * GROUP_AUTOGROUP_IDLE_NS.
 */
#ifndef __FAIRRS_GROUP_BPF_H
#define __FAIRRS_GROUP_BPF_H

#include "fairrs.bpf.h"
#include "cfs.bpf.h"
#include "share.bpf.h"
#include "stats.bpf.h"
#include "vtime.bpf.h"

/* Share the CPU between cgroups by cpu.weight; the daemon clears it for --no-cgroup. */
const volatile bool groups_enabled = true;
/* Group the root cgroup's tasks by session, as autogroups (--autogroup). */
const volatile bool autogroup_enabled;

/* Slot of the root cgroup's group (-1 until ops.cgroup_init saw it). */
s32 group_root_slot = -1;

/* Groups with cpu.idle set: while none is, no task's path is walked for it. */
u32 group_nr_idle;

/* When an autogroup's slot search last found every slot taken (0: never). */
u64 group_full_ns;

/* Every tracked cgroup, read by the daemon (stats). */
struct fairrs_group groups[FAIRRS_MAX_GROUPS];

/*
 * Cgroup id -> the slot its tasks count in, for tracked cgroups only (an
 * untracked one finds its nearest tracked ancestor: group_slot_of()). Not
 * cgroup storage: on 6.12-6.18 that is not created (so ops.cgroup_init, and
 * the mkdir, fail with ENOMEM) while a task preempted in any cgroup-storage
 * access holds its CPU's busy count.
 */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, FAIRRS_MAX_GROUPS);
	__type(key, u64);
	__type(value, s32);
} cgroup_slots SEC(".maps");

/* A session idle this long gives its slot back. */
#define GROUP_AUTOGROUP_IDLE_NS	(10ULL * 1000 * 1000 * 1000)
/* nr_runnable of a slot being freed: far below anything a count reaches. */
#define GROUP_DYING		(-(1LL << 40))
/*
 * A freed slot is not taken again for this long, so that whatever was still
 * in flight on it (a join backing out, a late claim) lands on a free slot,
 * not on the next cgroup's.
 */
#define GROUP_QUARANTINE_NS	(1000ULL * 1000 * 1000)
/*
 * After a slot search found none free, an autogroup's does not search again
 * for this long (it runs in ops.runnable): a session without a slot counts in
 * the root meanwhile.
 */
#define GROUP_FULL_RETRY_NS	(100ULL * 1000 * 1000)
/* A group with nothing runnable for this long must add nothing to its parent. */
#define GROUP_PHANTOM_IDLE_NS	(100ULL * 1000 * 1000)

/*
 * The fields of the kernel's autogroups read here (kernel/sched/autogroup.h),
 * as CO-RE flavours: the vmlinux.h the scx headers ship was built without
 * CONFIG_SCHED_AUTOGROUP; libbpf matches them to the running kernel's types.
 */
struct autogroup___fairrs {
	unsigned long id;
	int nice;
} __attribute__((preserve_access_index));

struct signal_struct___fairrs {
	struct autogroup___fairrs *autogroup;
} __attribute__((preserve_access_index));

/* Autogroup id -> slot. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, FAIRRS_MAX_GROUPS);
	__type(key, u64);
	__type(value, s32);
} autogroup_slots SEC(".maps");

static __always_inline struct fairrs_group *group_of(s32 slot)
{
	if (slot < 0 || slot >= FAIRRS_MAX_GROUPS)
		return NULL;
	return &groups[slot & (FAIRRS_MAX_GROUPS - 1)];
}

/*
 * @g is the root cgroup's group, or none. No weight ever includes the root's
 * load (the product stops below it), so the hot paths never write the root's
 * counters: every task of the root cgroup would otherwise hit the same cache
 * line, on every CPU, at every wakeup and sleep. The stats compare the root's
 * children among themselves.
 */
static __always_inline bool group_in_root(const struct fairrs_group *g)
{
	return !g || g->parent < 0;
}

/* Id of @cgrp's ancestor at @level: read, not acquired (ops.init_task's @cgrp is untrusted). */
static __always_inline u64 group_ancestor_id(struct cgroup *cgrp, int level)
{
	struct cgroup *anc = NULL;

	bpf_core_read(&anc, sizeof(anc), &cgrp->ancestors[level]);
	return anc ? BPF_CORE_READ(anc, kn, id) : 0;
}

/*
 * The slot @cgrp's tasks count in: its own, or that of its nearest tracked
 * ancestor below @below_level (not itself, not deeper); -1 when none is
 * (groups disabled, or the root not seen yet).
 */
static __always_inline s32 group_slot_below(struct cgroup *cgrp, int below_level)
{
	int level = below_level - 1;
	s32 *found;
	u64 id;

	if (!groups_enabled || !cgrp)
		return -1;
	/* Untracked: none deeper than FAIRRS_MAX_GROUP_DEPTH - 1 has a slot. */
	if (level > FAIRRS_MAX_GROUP_DEPTH - 1)
		level = FAIRRS_MAX_GROUP_DEPTH - 1;
	for (; level >= 0; level--) {
		id = group_ancestor_id(cgrp, level);
		found = id ? bpf_map_lookup_elem(&cgroup_slots, &id) : NULL;
		if (found)
			return *found;
	}
	return -1;
}

/* The slot @cgrp's tasks count in (group_slot_below()). */
static __always_inline s32 group_slot_of(struct cgroup *cgrp)
{
	s32 *found;
	u64 id;

	if (!groups_enabled || !cgrp)
		return -1;
	id = cgrp->kn->id;
	found = bpf_map_lookup_elem(&cgroup_slots, &id);
	return found ? *found : group_slot_below(cgrp, cgrp->level);
}

/* What @g should add to its parent's child_shares as it stands. */
static __always_inline s64 group_contrib_now(const struct fairrs_group *g)
{
	return share_group_contrib(READ_ONCE(g->nr_runnable), READ_ONCE(g->shares));
}

/*
 * Make @g's contribution to its parent's child_shares match its state: its
 * shares while its subtree has runnable tasks, else 0 (share_sync_contrib(),
 * exact under races from several CPUs). A global function (verified once,
 * not at each of its call sites, several of them in loops): scalar arguments
 * only.
 */
__noinline int group_sync_contrib(s32 slot)
{
	struct fairrs_group *g = group_of(slot), *parent;

	if (!g)
		return 0;
	parent = group_of(g->parent);
	/* The root's children contribute to nothing that is read (group_in_root()). */
	share_sync_contrib(&g->contrib, group_in_root(parent) ? NULL : &parent->child_shares,
			   &g->nr_runnable, &g->shares);
	return 0;
}

/*
 * Claim @g's slot, of generation @gen, for freeing if nothing counts in it,
 * by swapping its count of runnable tasks from 0 to GROUP_DYING: a task
 * joining at that moment sees it (group_task_account()), and only one caller
 * wins. A caller that read @gen before the slot was freed and taken again
 * gives the claim back (joiners that saw GROUP_DYING undo their add, so
 * adding it back is exact).
 */
static __always_inline bool group_claim(struct fairrs_group *g, u32 gen)
{
	if (!__sync_bool_compare_and_swap(&g->nr_runnable, 0, GROUP_DYING))
		return false;
	if (READ_ONCE(g->gen) == gen)
		return true;
	__sync_fetch_and_sub(&g->nr_runnable, GROUP_DYING);
	return false;
}

/*
 * Free a claimed slot: its contribution goes (its count is negative), and its
 * generation moves, so tasks still referring to it know it is not theirs.
 */
static __always_inline void group_free(s32 slot, struct fairrs_group *g)
{
	group_sync_contrib(slot);
	__sync_fetch_and_add(&g->gen, 1);
	WRITE_ONCE(g->freed_ns, bpf_ktime_get_ns());
	WRITE_ONCE(g->cgid, 0);
}

/*
 * @tctx becomes runnable (@sign 1) or stops being runnable (-1): its weight
 * joins or leaves its group's task load, and each ancestor's count of
 * runnable tasks; a group whose count leaves or reaches 0 updates what it
 * adds to its parent, and a group whose cgroup is gone (group_exit()) is
 * freed as its last counted task leaves. Joining fails (false) only for a
 * slot being freed; nothing is counted then. A join stops below an ancestor
 * being freed (an exiting task of removed cgroups), and leaving walks only
 * the levels the join counted.
 */
static __always_inline bool group_task_account(struct task_ctx *tctx, s64 sign)
{
	s32 slot = tctx->group;
	struct fairrs_group *g = group_of(slot);
	u32 depth, levels = sign > 0 ? FAIRRS_MAX_GROUP_DEPTH : tctx->group_levels;
	u64 now = sign > 0 ? bpf_ktime_get_ns() : 0;

	/* The root's load never enters a weight: it is not kept (see group_in_root()). */
	if (group_in_root(g))
		return true;
	if (sign > 0)
		tctx->group_load = tctx->task_weight;
	for (depth = 0; depth < FAIRRS_MAX_GROUP_DEPTH && depth < levels && g; depth++) {
		/* Read before @g may be freed below and taken by another cgroup. */
		s32 parent = READ_ONCE(g->parent);
		u32 gen = READ_ONCE(g->gen);
		s64 before = __sync_fetch_and_add(&g->nr_runnable, sign);

		if (before < 0 && sign > 0) {
			__sync_fetch_and_sub(&g->nr_runnable, sign);
			break;
		}
		/* Leaving a slot that counts nothing: it was freed and retaken under us. */
		if (before <= 0 && sign < 0) {
			__sync_fetch_and_sub(&g->nr_runnable, sign);
			stat_inc(FAIRRS_STAT_GROUP_UNDERFLOW);
			break;
		}
		if (depth == 0)
			__sync_fetch_and_add(&g->task_load, sign * tctx->group_load);
		if (sign > 0)
			WRITE_ONCE(g->last_runnable_ns, now);
		if (before == 0 || before + sign == 0)
			group_sync_contrib(slot);
		if (before + sign == 0 && READ_ONCE(g->dead) && group_claim(g, gen)) {
			group_free(slot, g);
			stat_inc(FAIRRS_STAT_GROUP_LATE_FREE);
		}
		slot = parent;
		g = group_of(slot);
		if (group_in_root(g)) {
			depth++;
			break;
		}
	}
	if (sign > 0)
		tctx->group_levels = depth;
	return depth > 0;
}

/* A runnable @tctx's own weight changed (nice, policy): its group's load follows. */
static __always_inline void group_task_reweight(struct task_ctx *tctx)
{
	struct fairrs_group *g = group_of(tctx->group);

	/* Not counted in the root (group_task_account()). */
	if (group_in_root(g) || !tctx->on_queue)
		return;
	__sync_fetch_and_add(&g->task_load, (s64)tctx->task_weight - (s64)tctx->group_load);
	tctx->group_load = tctx->task_weight;
}

/*
 * @tctx's weight seen from the root: its own, times shares / load of each
 * group it is in below the root (see the top of this file and
 * share_weight_level()); just its own when it is in none (every task weight
 * is above FAIRRS_MIN_SHARES).
 */
static __always_inline u32 group_task_weight(const struct task_ctx *tctx)
{
	u64 w = share_weight_start(tctx->task_weight);
	struct fairrs_group *g = group_of(tctx->group);
	u32 depth;

	for (depth = 0; depth < FAIRRS_MAX_GROUP_DEPTH && g; depth++) {
		s64 load;

		if (g->parent < 0)
			break;
		load = share_group_load(READ_ONCE(g->task_load), READ_ONCE(g->child_shares));
		w = share_weight_level(w, READ_ONCE(g->shares), load);
		g = group_of(g->parent);
	}
	return share_weight_end(w);
}

/* Bring @tctx's weight (and its queue's load, if queued) up to its groups' loads. */
static __always_inline void group_refresh_weight(struct task_ctx *tctx)
{
	u32 w;

	if (tctx->group < 0)
		return;
	w = group_task_weight(tctx);
	if (w != tctx->weight)
		vtime_reweight(tctx, w);
}

/* A freshly taken slot: a group with no tasks yet, under @parent. */
static __always_inline void group_reset(struct fairrs_group *g, s32 parent, u32 level,
					u32 shares, u32 cpu_weight)
{
	g->parent = parent;
	g->level = level;
	g->cpu_weight = cpu_weight;
	g->shares = shares;
	g->dead = 0;
	g->idle = 0;
	g->nr_runnable = 0;
	g->task_load = 0;
	g->child_shares = 0;
	g->contrib = 0;
	g->runtime_ns = 0;
	g->last_runnable_ns = bpf_ktime_get_ns();
	/* No cpu.max yet (bandwidth.bpf.h); a freed slot's limit was lifted at its exit. */
	g->bw_quota_ns = 0;
	g->bw_period_ns = 0;
	g->bw_burst_ns = 0;
	g->bw_runtime_ns = 0;
	g->bw_throttled_at = 0;
	g->bw_nr_periods = 0;
	g->bw_nr_throttled = 0;
	g->bw_throttled_ns = 0;
	g->bw_next_ns = 0;
}

/* Take a free slot for cgroup @cgid, or -1 when all are taken. */
static __always_inline s32 group_alloc(u64 cgid)
{
	u64 now = bpf_ktime_get_ns();
	s32 slot;

	bpf_for(slot, 0, FAIRRS_MAX_GROUPS) {
		struct fairrs_group *g = group_of(slot);
		u64 freed;

		if (!g || READ_ONCE(g->cgid))
			continue;
		freed = READ_ONCE(g->freed_ns);
		if (freed && now - freed < GROUP_QUARANTINE_NS)
			continue;
		if (__sync_bool_compare_and_swap(&g->cgid, 0, cgid))
			return slot;
	}
	return -1;
}

/*
 * A cgroup with the cpu controller appears (or exists when the scheduler
 * loads; parents come first). It gets a slot of its own, unless it is too
 * deep or none is free: then its tasks count in its parent's.
 */
static __always_inline s32 group_init(struct cgroup *cgrp, u32 cpu_weight)
{
	s32 parent_slot = group_slot_below(cgrp, cgrp->level), slot = -1;
	struct fairrs_group *g;
	u32 level = cgrp->level;
	u64 id = cgrp->kn->id;

	if (level < FAIRRS_MAX_GROUP_DEPTH)
		slot = group_alloc(id);
	g = group_of(slot);
	if (g) {
		group_reset(g, parent_slot, level, share_of_cpu_weight(cpu_weight), cpu_weight);
		/* Cannot be full: an entry per taken slot. */
		if (!bpf_map_update_elem(&cgroup_slots, &id, &slot, BPF_ANY)) {
			if (level == 0)
				group_root_slot = slot;
			return 0;
		}
		WRITE_ONCE(g->cgid, 0);
	}
	if (level > 0)
		stat_inc(FAIRRS_STAT_GROUP_UNTRACKED);
	/* Never fails the mkdir: an untracked cgroup counts as its parent. */
	return 0;
}

/*
 * The cgroup went offline (rmdir). A task that left it in do_exit() may still
 * be runnable and counted in its slot (kernels before 6.19 call this before
 * such a task's last ops.quiescent): the slot is freed now if nothing counts
 * in it, else by that task as it leaves (group_task_account()).
 */
static __always_inline void group_exit(struct cgroup *cgrp)
{
	u64 id = cgrp->kn->id;
	struct fairrs_group *g;
	s32 *found, slot;
	u32 gen;

	found = bpf_map_lookup_elem(&cgroup_slots, &id);
	if (!found)
		return;
	slot = *found;
	bpf_map_delete_elem(&cgroup_slots, &id);
	if (!(g = group_of(slot)) || READ_ONCE(g->cgid) != id)
		return;
	gen = READ_ONCE(g->gen);
	if (__sync_lock_test_and_set(&g->idle, 0))
		__sync_fetch_and_sub(&group_nr_idle, 1);
	/* Ordered before the claim: the last task out sees one or the other. */
	__sync_lock_test_and_set(&g->dead, 1);
	if (group_claim(g, gen))
		group_free(slot, g);
}

/* The slot of tracked cgroup @cgrp itself, or -1. */
static __always_inline s32 group_own_slot(struct cgroup *cgrp)
{
	u64 id = cgrp->kn->id;
	struct fairrs_group *g;
	s32 *found;

	found = bpf_map_lookup_elem(&cgroup_slots, &id);
	if (!found || !(g = group_of(*found)) || READ_ONCE(g->cgid) != id)
		return -1;
	return *found;
}

/* cpu.weight of the cgroup changed: so do its shares, and its parent's load. */
static __always_inline void group_set_weight(struct cgroup *cgrp, u32 cpu_weight)
{
	s32 slot = group_own_slot(cgrp);
	struct fairrs_group *g = group_of(slot);

	if (!g)
		return;
	WRITE_ONCE(g->cpu_weight, cpu_weight);
	/* The kernel refuses cpu.weight while cpu.idle is set; kept for when it is not. */
	if (!READ_ONCE(g->idle))
		WRITE_ONCE(g->shares, share_of_cpu_weight(cpu_weight));
	group_sync_contrib(slot);
}

/*
 * cpu.idle of group @slot is now @idle: as sched_group_set_idle() (Linux
 * v6.5 kernel/sched/fair.c) does, an idle group weighs WEIGHT_IDLEPRIO and
 * one set back weighs NICE_0_LOAD (cpu.weight 100); its tasks count as
 * SCHED_IDLE ones (se_is_idle()) from their next wakeup.
 */
static __always_inline void group_set_idle(s32 slot, bool idle)
{
	struct fairrs_group *g = group_of(slot);

	if (!g || READ_ONCE(g->idle) == idle)
		return;
	WRITE_ONCE(g->idle, idle);
	if (idle) {
		__sync_fetch_and_add(&group_nr_idle, 1);
		WRITE_ONCE(g->shares, FAIRRS_WEIGHT_IDLEPRIO);
	} else {
		__sync_fetch_and_sub(&group_nr_idle, 1);
		WRITE_ONCE(g->cpu_weight, FAIRRS_CGROUP_WEIGHT_DFL);
		WRITE_ONCE(g->shares, share_of_cpu_weight(FAIRRS_CGROUP_WEIGHT_DFL));
	}
	group_sync_contrib(slot);
}

/* Is any group on @slot's path to the root idle (cpu.idle)? */
static __always_inline bool group_path_idle(s32 slot)
{
	struct fairrs_group *g;
	u32 depth;

	if (!READ_ONCE(group_nr_idle))
		return false;
	g = group_of(slot);
	for (depth = 0; depth < FAIRRS_MAX_GROUP_DEPTH && !group_in_root(g); depth++) {
		if (READ_ONCE(g->idle))
			return true;
		g = group_of(g->parent);
	}
	return false;
}

/*
 * The slot of @p's session's autogroup, taken the first time one of its tasks
 * becomes runnable, or -1 (autogroups off or not built, the default
 * autogroup, no free slot).
 */
static __always_inline s32 group_autogroup_slot(struct task_struct *p)
{
	struct signal_struct___fairrs *sig;
	struct autogroup___fairrs *ag;
	struct fairrs_group *g;
	u64 id, key, now, full;
	s32 *found, slot;
	int nice;

	if (!bpf_core_field_exists(((struct signal_struct___fairrs *)0)->autogroup))
		return -1;
	sig = (void *)BPF_CORE_READ(p, signal);
	ag = BPF_CORE_READ(sig, autogroup);
	id = BPF_CORE_READ(ag, id);
	if (!id)
		return -1;
	nice = BPF_CORE_READ(ag, nice);
	key = GROUP_AUTOGROUP_KEY | id;
	found = bpf_map_lookup_elem(&autogroup_slots, &id);
	if (found && (g = group_of(*found)) && READ_ONCE(g->cgid) == key) {
		u32 shares = cfs_weight(nice, 0);

		/* echo N > /proc/PID/autogroup changed the session's nice. */
		if (READ_ONCE(g->shares) != shares) {
			WRITE_ONCE(g->shares, shares);
			WRITE_ONCE(g->cpu_weight, share_cpu_weight(shares));
			group_sync_contrib(*found);
		}
		return *found;
	}
	/* Every slot taken: search again only now and then, not at each wakeup. */
	now = bpf_ktime_get_ns();
	full = READ_ONCE(group_full_ns);
	if (full && now - full < GROUP_FULL_RETRY_NS)
		return -1;
	slot = group_alloc(key);
	g = group_of(slot);
	if (!g) {
		WRITE_ONCE(group_full_ns, now);
		stat_inc(FAIRRS_STAT_GROUP_UNTRACKED);
		return -1;
	}
	group_reset(g, group_root_slot, 1, cfs_weight(nice, 0), share_cpu_weight(cfs_weight(nice, 0)));
	if (bpf_map_update_elem(&autogroup_slots, &id, &slot, BPF_NOEXIST)) {
		/* Another CPU took one for this session first: use that. */
		WRITE_ONCE(g->cgid, 0);
		found = bpf_map_lookup_elem(&autogroup_slots, &id);
		return found ? *found : -1;
	}
	return slot;
}

/* @tctx's task is in the cgroup of @slot: a reference, valid while the slot's gen holds. */
static __always_inline void group_ref(struct task_ctx *tctx, s32 slot)
{
	struct fairrs_group *g = group_of(slot);

	tctx->cgroup = slot;
	tctx->cgroup_gen = g ? READ_ONCE(g->gen) : 0;
}

/*
 * @p becomes runnable: the group it counts in is its cgroup's, or, for a
 * task of the root cgroup with --autogroup, its session's
 * (task_wants_autogroup(), kernel/sched/autogroup.h); then it joins it. A
 * task whose cgroup's slot was freed since (it is exiting) counts in none.
 */
static __always_inline void group_task_runnable(struct task_struct *p, struct task_ctx *tctx)
{
	struct fairrs_group *cg = group_of(tctx->cgroup);

	if (cg && READ_ONCE(cg->gen) != tctx->cgroup_gen)
		tctx->cgroup = -1;
	tctx->group = tctx->cgroup;
	if (autogroup_enabled && tctx->cgroup >= 0 && tctx->cgroup == group_root_slot) {
		s32 slot = group_autogroup_slot(p);

		if (slot >= 0)
			tctx->group = slot;
	}
	if (group_task_account(tctx, 1))
		return;
	/* That slot is being freed: an autogroup's falls back to the root, a cgroup's to none. */
	tctx->group = tctx->group != tctx->cgroup ? tctx->cgroup : -1;
	if (!group_task_account(tctx, 1))
		tctx->group = -1;
}

/*
 * @tctx's task moves to the cgroup in @slot. The kernel moves a runnable task
 * between ops.quiescent and ops.runnable (sched_move_task()), so its load is
 * normally out of every group here; if not, it is carried over.
 */
static __always_inline void group_move_task(struct task_struct *p, struct task_ctx *tctx, s32 slot)
{
	if (tctx->cgroup == slot)
		return;
	if (tctx->on_queue)
		group_task_account(tctx, -1);
	group_ref(tctx, slot);
	tctx->group = slot;
	if (tctx->on_queue)
		group_task_runnable(p, tctx);
}

/*
 * The balancing timer's care of the groups, every 256th round: each group's
 * contribution is synced again (group_sync_contrib()), and the slots of
 * autogroups whose sessions have had no runnable task for
 * GROUP_AUTOGROUP_IDLE_NS are freed (the kernel frees an autogroup with its
 * last task; sched_ext is not told); a later task of the session takes a new
 * slot.
 */
static __always_inline void group_tend(void)
{
	u64 now = bpf_ktime_get_ns();
	s32 slot;

	if (!groups_enabled)
		return;
	bpf_for(slot, 0, FAIRRS_MAX_GROUPS) {
		struct fairrs_group *g = group_of(slot);
		u64 key, id;
		u32 gen;

		if (!g)
			break;
		gen = READ_ONCE(g->gen);
		key = READ_ONCE(g->cgid);
		if (!key)
			continue;
		/* Idle a while, yet adding to its parent: a race was lost. */
		if (!READ_ONCE(g->nr_runnable) && READ_ONCE(g->contrib) &&
		    (s64)(now - READ_ONCE(g->last_runnable_ns)) > (s64)GROUP_PHANTOM_IDLE_NS)
			stat_inc(FAIRRS_STAT_GROUP_PHANTOM);
		if (!autogroup_enabled || !(key & GROUP_AUTOGROUP_KEY) ||
		    now - READ_ONCE(g->last_runnable_ns) < GROUP_AUTOGROUP_IDLE_NS ||
		    !group_claim(g, gen)) {
			group_sync_contrib(slot);
			continue;
		}
		id = key & ~GROUP_AUTOGROUP_KEY;
		bpf_map_delete_elem(&autogroup_slots, &id);
		group_free(slot, g);
	}
}

/*
 * @p counts as a SCHED_IDLE task: by its policy, or as a task of an idle
 * group (se_is_idle() of its group's entity: the flat queues have no other).
 */
static __always_inline bool group_task_sched_idle(const struct task_struct *p,
						  const struct task_ctx *tctx)
{
	return p->policy == SCHED_IDLE_POLICY || group_path_idle(tctx->group);
}

#endif /* __FAIRRS_GROUP_BPF_H */
