/* SPDX-License-Identifier: GPL-2.0 */
/*
 * State shared by every part of the scheduler: the tunables the daemon sets,
 * the per-task and per-CPU contexts, and the small helpers to reach them.
 *
 * The concept headers (vtime, placement, balance, stats) include this one;
 * main.bpf.c includes them all and holds only the callbacks.
 */
#ifndef __FAIRRS_BPF_H
#define __FAIRRS_BPF_H

#include <scx/common.bpf.h>
#include "intf.h"

/*
 * Tunables the daemon sets from its flags before load and may change while
 * running (--set), after validating them. Defaults are CFS's legacy sysctl
 * defaults before the 1 + ilog2(ncpus) scaling: sched_latency 6 ms,
 * min_granularity 0.75 ms, wakeup_granularity 1 ms; migration_cost 0.5 ms;
 * imbalance_pct 117 (CFS's sd->imbalance_pct) and 125 across NUMA nodes;
 * balance_interval 4 ms (CFS's busy balance interval at 4 CPUs).
 */
struct fairrs_tunables tun = {
	.sched_latency_ns	= 6000000,
	.min_granularity_ns	= 750000,
	.wakeup_granularity_ns	= 1000000,
	.migration_cost_ns	= 500000,
	.imbalance_pct		= 117,
	.numa_imbalance_pct	= 125,
	.balance_interval_ns	= 4000000,
};

/*
 * Longest a runnable task should wait because of its vruntime lag. CFS has no
 * such bound; sched_ext has a watchdog that ejects the scheduler when a task
 * waits 30 s, which extreme weight ratios (SCHED_IDLE against several nice -20
 * hogs) would reach. 5 s stays well clear of it and never binds in ordinary
 * mixes (see vtime_guard_lag()).
 */
const volatile u64 starvation_guard_ns = 5000000000ULL;


/* Number of possible CPU ids, set by the daemon. */
const volatile u32 nr_cpu_ids = 1;
/* Topology from the daemon (scx_utils): last-level cache and NUMA node per CPU. */
const volatile u32 cpu_llc[FAIRRS_MAX_CPUS];
const volatile u32 cpu_node[FAIRRS_MAX_CPUS];

/* Per-task scheduling state (CFS's sched_entity). */
struct task_ctx {
	/* Weighted runtime; comparable only within queue_cpu's queue. */
	u64	vruntime;
	/* p->se.sum_exec_runtime when vruntime was last charged. */
	u64	exec_charged;
	/* Load weight from sched_prio_to_weight[], kept current by set_weight. */
	u32	weight;
	/* CPU whose queue vruntime is relative to, -1 before first placement. */
	s32	queue_cpu;
	/* Counted in queue_cpu's load_weight / nr_running. */
	bool	on_queue;
	/* Not placed yet: gets START_DEBIT at its first wakeup. */
	bool	is_new;
	/* Called sched_yield(): skips its next pick if anyone else waits. */
	bool	yielded;
	/*
	 * Back in sched_ext after time in another class (real-time, a PI
	 * boost): its vruntime is stale and is re-placed at its next runnable.
	 */
	bool	rejoined;
	/* When it last stopped running, for cache hotness. */
	u64	last_ran_ns;
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
 * The contexts a callback about @p works with: @p's own and that of the CPU
 * it is on. Returns that CPU, or -1 when a context is missing (which only
 * happens for a task that init_task never saw).
 */
static __always_inline s32 task_cpu_ctxs(const struct task_struct *p,
					 struct task_ctx **tctx,
					 struct fairrs_cpu_ctx **cctx)
{
	s32 cpu = scx_bpf_task_cpu(p);

	*tctx = task_ctx(p);
	*cctx = cpu_ctx(cpu);
	return *tctx && *cctx ? cpu : -1;
}

/* Each CPU's vruntime-ordered queue is the user DSQ whose id is the CPU id. */
static __always_inline u64 cpu_dsq(s32 cpu)
{
	return (u64)cpu;
}

/* Wrap-safe vruntime ordering, as the kernel's entity_before(). */
static __always_inline bool vtime_before(u64 a, u64 b)
{
	return (s64)(a - b) < 0;
}

static __always_inline bool cpu_is_online(s32 cpu)
{
	struct fairrs_cpu_ctx *cctx = cpu_ctx(cpu);

	return cctx && cctx->online;
}

static __always_inline u32 topo_llc(s32 cpu)
{
	return cpu_llc[cpu & (FAIRRS_MAX_CPUS - 1)];
}

static __always_inline u32 topo_node(s32 cpu)
{
	return cpu_node[cpu & (FAIRRS_MAX_CPUS - 1)];
}

static __always_inline u64 vtime_max(u64 a, u64 b)
{
	return vtime_before(a, b) ? b : a;
}

#endif /* __FAIRRS_BPF_H */
