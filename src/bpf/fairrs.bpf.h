/* SPDX-License-Identifier: GPL-2.0 */
/*
 * State shared by every part of the scheduler: the tunables the daemon sets,
 * the per-task and per-CPU contexts, and the small helpers to reach them.
 *
 * The concept headers (vtime, group, placement, preempt, wake, pull, periodic,
 * active, balance, load, stats, kick, dump) include this one; main.bpf.c includes them all and holds only the callbacks
 * (see its header for the single-translation-unit rule).
 */
#ifndef __FAIRRS_BPF_H
#define __FAIRRS_BPF_H

#include <scx/common.bpf.h>
#include "intf.h"

/*
 * Kernel constants that vmlinux.h cannot carry (they are macros, not types),
 * each from where the kernel defines it. CLOCK_MONOTONIC (1,
 * include/uapi/linux/time.h) comes with scx/common.bpf.h.
 */
#define DEFAULT_PRIO		120	/* include/linux/sched/prio.h: static_prio of nice 0 */
#define SCHED_BATCH_POLICY	3	/* SCHED_BATCH, include/uapi/linux/sched.h */
#define SCHED_IDLE_POLICY	5	/* SCHED_IDLE, include/uapi/linux/sched.h */

/*
 * Tunables: the daemon writes every field from its flags before load (their
 * defaults are CFS's, see src/tunables.rs) and may change them while running
 * (--set), after validating them. A writable global in .data (not .bss, where
 * a zero-initialised one would go), so the daemon reaches it as data.tun.
 */
struct fairrs_tunables tun SEC(".data");

/*
 * Longest a runnable task should wait because of its vruntime lag. CFS has no
 * such bound; sched_ext has a watchdog that ejects the scheduler when a task
 * waits 30 s, which extreme weight ratios (SCHED_IDLE against several nice -20
 * hogs) would reach. 5 s stays well clear of it and never binds in ordinary
 * mixes (see vtime_guard_lag() and vtime_serve_starving()).
 */
const volatile u64 starvation_guard_ns = 5000000000ULL;
/* How often each CPU looks through its own queue for tasks waiting past it. */
#define STARVE_SCAN_NS		(500ULL * 1000 * 1000)


/* Set each CPU's cpufreq target from its utilisation (load.bpf.h); --no-cpuperf clears it. */
const volatile bool cpuperf_enabled = true;

/* Number of possible CPU ids, set by the daemon. */
const volatile u32 nr_cpu_ids = 1;
/*
 * Topology from the daemon (scx_utils): core (SMT siblings share one),
 * last-level cache and NUMA node per CPU; smt_enabled when some core has
 * several CPUs.
 */
const volatile u32 cpu_core[FAIRRS_MAX_CPUS];
const volatile u32 cpu_llc[FAIRRS_MAX_CPUS];
const volatile u32 cpu_node[FAIRRS_MAX_CPUS];
const volatile bool smt_enabled;

/* Per-task scheduling state (CFS's sched_entity). */
struct task_ctx {
	/* Weighted runtime; comparable only within queue_cpu's queue. */
	u64	vruntime;
	/* p->se.sum_exec_runtime when vruntime was last charged. */
	u64	exec_charged;
	/* p->se.sum_exec_runtime when its current slice was granted. */
	u64	slice_exec_start;
	/*
	 * Load weight seen from the root: its own times its groups' shares /
	 * load (group.bpf.h); what its vruntime, slice and queue load use.
	 */
	u32	weight;
	/* Its own load weight from sched_prio_to_weight[], kept current by set_weight. */
	u32	task_weight;
	/*
	 * Slot of its cgroup's group (group.bpf.h), -1 when not grouped; and
	 * of the group it counts in: that one, or its session's autogroup.
	 */
	s32	cgroup;
	s32	group;
	/* The gen of the cgroup's slot when it was taken (group_ref()). */
	u32	cgroup_gen;
	/* How many levels of groups counted it when it became runnable. */
	u32	group_levels;
	/* task_weight as added to that group's task load while runnable. */
	s64	group_load;
	/* CPU whose queue vruntime is relative to, -1 before first placement. */
	s32	queue_cpu;
	/* Counted in queue_cpu's load_weight / nr_running. */
	bool	on_queue;
	/* ... and in its nr_idle (SCHED_IDLE when it joined or last changed policy). */
	bool	queued_idle;
	/* Not placed yet: gets START_DEBIT at its first wakeup. */
	bool	is_new;
	/* Called sched_yield(): the skip buddy of its next pick (cfs_yield_skips()). */
	bool	yielded;
	/* Just placed as a new task: its first enqueue checks preemption (WF_FORK). */
	bool	forked;
	/* A new task's parent's vruntime past its floor at fork (task_fork_fair()). */
	s64	fork_lag;
	/*
	 * Its waker is about to sleep (SCX_WAKE_SYNC at ops.select_cpu): only
	 * such a wakeup waits for the running task's protection.
	 */
	bool	wake_sync;
	/*
	 * Back in sched_ext after time in another class (real-time, a PI
	 * boost): its vruntime is stale and is re-placed at its next runnable.
	 */
	bool	rejoined;
	/* When it last stopped running, for cache hotness. */
	u64	last_ran_ns;
	/* Since when it waits to run, 0 while it runs or sleeps (the starvation guard). */
	u64	queued_ns;
	/* Balancing round that last moved it (0: never), so it is not bounced. */
	u64	lb_round;
	/* On a CPU right now (between ops.running and ops.stopping). */
	bool	is_running;
	/* PELT signals of the task, and what its load_avg adds to its queue's. */
	struct fairrs_pelt pelt;
	s64	load_contrib;
	/* Time spent runnable, and since when it is runnable (for stats). */
	u64	runnable_ns;
	u64	runnable_since;
	/*
	 * CPU time owed to it by weight up to its last settlement, and its
	 * queue's fair clock then (for stats, entitle.bpf.h).
	 */
	u64	fair_ns;
	u64	fair_clock;
	/* Queue changes (migrations) under scx_fairrs. */
	u64	nr_migrations;
};

struct {
	__uint(type, BPF_MAP_TYPE_TASK_STORAGE);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, int);
	__type(value, struct task_ctx);
} task_ctxs SEC(".maps");

/* Per-CPU queues, in .bss so the daemon can read them directly. */
struct fairrs_cpu_ctx cpu_ctxs[FAIRRS_MAX_CPUS];

static __always_inline struct task_ctx *task_ctx(const struct task_struct *p)
{
	return bpf_task_storage_get(&task_ctxs, (struct task_struct *)p, 0, 0);
}

static __always_inline struct fairrs_cpu_ctx *cpu_ctx(s32 cpu)
{
	if (cpu < 0 || cpu >= FAIRRS_MAX_CPUS)
		return NULL;
	return &cpu_ctxs[cpu & (FAIRRS_MAX_CPUS - 1)];
}

/*
 * The contexts a callback about @p, one of our tasks, works with: @p's own and
 * that of the CPU it is on. Returns that CPU, or -1 when a context is missing:
 * a bug, as ops.init_task created @p's and every CPU has one (ops.init checks
 * nr_cpu_ids), so the scheduler stops with an error.
 */
static __always_inline s32 task_cpu_ctxs(const struct task_struct *p,
					 struct task_ctx **tctx,
					 struct fairrs_cpu_ctx **cctx)
{
	s32 cpu = scx_bpf_task_cpu(p);

	*tctx = task_ctx(p);
	*cctx = cpu_ctx(cpu);
	if (*tctx && *cctx)
		return cpu;
	scx_bpf_error("task_ctx or cpu_ctx lookup failed (pid %d, CPU %d)", p->pid, cpu);
	return -1;
}

/* Each CPU's vruntime-ordered queue is the user DSQ whose id is the CPU id. */
static __always_inline u64 cpu_dsq(s32 cpu)
{
	return (u64)cpu;
}

static __always_inline bool cpu_is_online(s32 cpu)
{
	struct fairrs_cpu_ctx *cctx = cpu_ctx(cpu);

	return cctx && cctx->online;
}

static __always_inline u32 topo_core(s32 cpu)
{
	return cpu_core[cpu & (FAIRRS_MAX_CPUS - 1)];
}

static __always_inline u32 topo_llc(s32 cpu)
{
	return cpu_llc[cpu & (FAIRRS_MAX_CPUS - 1)];
}

static __always_inline u32 topo_node(s32 cpu)
{
	return cpu_node[cpu & (FAIRRS_MAX_CPUS - 1)];
}

/* Topological distance: 0 same LLC, 1 same NUMA node, 2 another node. */
#define TOPO_DISTANCES	3

static __always_inline u32 topo_distance(s32 a, s32 b)
{
	if (topo_llc(a) == topo_llc(b))
		return 0;
	return topo_node(a) == topo_node(b) ? 1 : 2;
}

#endif /* __FAIRRS_BPF_H */
