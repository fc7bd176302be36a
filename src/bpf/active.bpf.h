/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Active balancing on SMT machines (CFS's active_load_balance_cpu_stop(),
 * Linux v6.5 kernel/sched/fair.c), for the one imbalance no queue shows: a
 * core whose CPUs all run work (two hogs on the two threads of a core) beside
 * a core that is wholly idle in the same LLC. Each queue holds only its
 * running task, so neither an idle CPU's pull nor the periodic balancer has
 * anything to move, yet both tasks run at SMT speed while a core sleeps. CFS
 * sees it at the LLC level, where each core is a group: the busy core has two
 * tasks and the idle one none, no waiting task can be detached, and after
 * cache_nice_tries + 2 failed attempts (need_active_balance()) the stopper
 * thread of the busy CPU migrates its running task.
 *
 * Here the timer finds such a pair (balance_find_active()); once it has seen
 * one in BALANCE_ACTIVE_ROUNDS consecutive rounds it asks the busy CPU to
 * push (push_dst) and kicks it with SCX_KICK_PREEMPT. That CPU's ops.dispatch
 * lets its task go instead of granting a fresh slice (balance_push_prev());
 * with SCX_OPS_ENQ_LAST (set by the daemon on SMT machines only) the kernel
 * then hands the task to ops.enqueue, which inserts it into the idle CPU's
 * local queue (balance_enqueue_last()). Afterwards each core has one task:
 * nothing to push back. The search stays in the LLC, as CFS's does at the LLC
 * level; across LLCs and nodes CFS tolerates the imbalance of a couple of
 * tasks (imb_numa_nr), and so do we.
 *
 * The balancing timer (balance.bpf.h) runs it after the periodic balancer,
 * whose rounds and pending pulls it reads. A CPU's push_dst and push_to are
 * this balancer's mailbox.
 */
#ifndef __FAIRRS_ACTIVE_BPF_H
#define __FAIRRS_ACTIVE_BPF_H

#include "fairrs.bpf.h"
#include "periodic.bpf.h"
#include "stats.bpf.h"
#include "kick.bpf.h"

/* Consecutive rounds that must see an SMT imbalance before a push. */
#define BALANCE_ACTIVE_ROUNDS	4
/* push_dst of a CPU whose running task may not move to the target CPU. */
#define BALANCE_PUSH_REFUSED	-2

/* Scratch for balance_find_active(), indexed by core or LLC id. */
u32 lb_core_cpus[FAIRRS_MAX_CPUS];
u32 lb_core_busy[FAIRRS_MAX_CPUS];
s32 lb_llc_idle_cpu[FAIRRS_MAX_CPUS];
/* The wholly idle core's CPU balance_find_active() chose, or -1. */
s32 lb_active_dst = -1;
/* Consecutive rounds that saw an SMT imbalance. */
u32 lb_active_seen;

/*
 * Find a CPU running a task of ours alone (nothing waits in its queue) on a
 * core whose CPUs are all busy, with a wholly idle core in its LLC. Returns
 * that CPU and sets lb_active_dst to a CPU of the idle core, or returns -1.
 * Three passes over the CPUs, no nesting. A global function, see
 * balance_find_src().
 */
__noinline s32 balance_find_active(u64 now)
{
	const struct cpumask *idle = scx_bpf_get_idle_cpumask();
	const struct cpumask *idle_core = scx_bpf_get_idle_smtmask();
	s32 cpu, src = -1;

	bpf_for(cpu, 0, nr_cpu_ids) {
		lb_core_cpus[topo_core(cpu) & (FAIRRS_MAX_CPUS - 1)] = 0;
		lb_core_busy[topo_core(cpu) & (FAIRRS_MAX_CPUS - 1)] = 0;
		lb_llc_idle_cpu[topo_llc(cpu) & (FAIRRS_MAX_CPUS - 1)] = -1;
	}
	bpf_for(cpu, 0, nr_cpu_ids) {
		struct fairrs_cpu_ctx *cctx = cpu_ctx(cpu);
		u32 core = topo_core(cpu) & (FAIRRS_MAX_CPUS - 1);

		if (!cctx || !cctx->online)
			continue;
		lb_core_cpus[core]++;
		if (!bpf_cpumask_test_cpu(cpu, idle))
			lb_core_busy[core]++;
		else if (bpf_cpumask_test_cpu(cpu, idle_core) && !pull_pending(cctx, now))
			lb_llc_idle_cpu[topo_llc(cpu) & (FAIRRS_MAX_CPUS - 1)] = cpu;
	}
	lb_active_dst = -1;
	bpf_for(cpu, 0, nr_cpu_ids) {
		struct fairrs_cpu_ctx *cctx = cpu_ctx(cpu);
		u32 core = topo_core(cpu) & (FAIRRS_MAX_CPUS - 1);
		s32 dst = lb_llc_idle_cpu[topo_llc(cpu) & (FAIRRS_MAX_CPUS - 1)];

		if (dst < 0 || !cctx || !cctx->online || lb_core_cpus[core] < 2 ||
		    lb_core_busy[core] < lb_core_cpus[core])
			continue;
		/* A task of ours runs here alone; none asked to move yet, none refused. */
		if (!READ_ONCE(cctx->curr_weight) || cctx->push_dst != -1 ||
		    scx_bpf_dsq_nr_queued(cpu_dsq(cpu)))
			continue;
		lb_active_dst = dst;
		src = cpu;
		break;
	}
	scx_bpf_put_idle_cpumask(idle_core);
	scx_bpf_put_idle_cpumask(idle);
	return src;
}

/* One round of active balancing (see above); SMT machines only. */
static __always_inline void balance_active(void)
{
	struct fairrs_cpu_ctx *sctx;
	s32 src;

	if (!smt_enabled)
		return;
	src = balance_find_active(scx_bpf_now());
	if (src < 0) {
		lb_active_seen = 0;
		return;
	}
	if (++lb_active_seen < BALANCE_ACTIVE_ROUNDS)
		return;
	lb_active_seen = 0;
	sctx = cpu_ctx(src);
	if (!sctx) {
		scx_bpf_error("cpu_ctx lookup failed (CPU %d)", src);
		return;
	}
	sctx->push_dst = lb_active_dst;
	kick_cpu(src, SCX_KICK_PREEMPT);
}

/*
 * In ops.dispatch of @cpu, whose running @prev (still runnable, its slice
 * ended by the kick) active balancing asked to push: should @prev go? Only
 * if nothing waits here (then the idle core pulls that instead), @prev may
 * run on the target, and the target's core is still wholly idle. Returns
 * true when @prev goes: ops.dispatch then grants it no slice, and with
 * SCX_OPS_ENQ_LAST the kernel passes it to ops.enqueue
 * (balance_enqueue_last()) instead of running it on.
 */
static __always_inline bool balance_push_prev(s32 cpu, struct fairrs_cpu_ctx *cctx,
					      struct task_struct *prev)
{
	const struct cpumask *idle_core;
	s32 dst = cctx->push_dst;
	bool still_idle;

	if (dst < 0)
		return false;
	cctx->push_dst = -1;
	if (is_migration_disabled(prev) || !bpf_cpumask_test_cpu(dst, prev->cpus_ptr)) {
		/* Not while this task runs here (ops.running clears it). */
		cctx->push_dst = BALANCE_PUSH_REFUSED;
		return false;
	}
	if (scx_bpf_dsq_nr_queued(cpu_dsq(cpu)))
		return false;
	idle_core = scx_bpf_get_idle_smtmask();
	still_idle = bpf_cpumask_test_cpu(dst, idle_core);
	scx_bpf_put_idle_cpumask(idle_core);
	if (!still_idle)
		return false;
	cctx->push_to = dst;
	return true;
}

/*
 * ops.enqueue of @p with SCX_ENQ_LAST: @p is still runnable, ops.dispatch
 * gave it no slice and nothing else runs here. If active balancing let it go
 * (push_to), it moves to the idle core's CPU; the kernel migrates it there,
 * and ops.running rehomes its vruntime and load. Otherwise it runs on here:
 * ops.dispatch grants prev a slice on every other path, but the kernel skips
 * ops.dispatch on a CPU going offline (its hotplug thread comes here), and
 * the kernel does not reschedule for this insert, hence the kick.
 */
static __always_inline void balance_enqueue_last(struct task_struct *p, struct task_ctx *tctx,
						 s32 cpu, struct fairrs_cpu_ctx *cctx, u64 slice,
						 u64 enq_flags)
{
	s32 dst = cctx->push_to;

	cctx->push_to = -1;
	if (dst >= 0 && !is_migration_disabled(p) && bpf_cpumask_test_cpu(dst, p->cpus_ptr)) {
		scx_bpf_dsq_insert(p, SCX_DSQ_LOCAL_ON | dst, slice, enq_flags);
		tctx->lb_round = lb_round;
		stat_inc(FAIRRS_STAT_BALANCE_ACTIVE);
		return;
	}
	scx_bpf_dsq_insert(p, SCX_DSQ_LOCAL, slice, enq_flags);
	kick_self(cpu);
}

/* A new task runs on @cctx's CPU: active balancing may consider it afresh. */
static __always_inline void balance_active_rearm(struct fairrs_cpu_ctx *cctx)
{
	cctx->push_dst = -1;
}

/* @cctx's CPU is asked to push nothing (at load, and once it is offline). */
static __always_inline void balance_active_reset(struct fairrs_cpu_ctx *cctx)
{
	cctx->push_dst = -1;
	cctx->push_to = -1;
}

#endif /* __FAIRRS_ACTIVE_BPF_H */
