/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Where a waking task goes, and waking an idle CPU for work that waits.
 *
 * ops.select_cpu takes the kernel's default selection
 * (scx_bpf_select_cpu_dfl()), the kernel's own topology-aware code: the
 * previous CPU, then a fully idle SMT core and any idle CPU in the previous
 * CPU's LLC, then its NUMA node, then anywhere allowed, with wake-affine
 * placement for synchronous wakeups. When no CPU is idle, a CPU running only
 * SCHED_IDLE work takes the wakee (wake_sched_idle_pick()). A task queued on
 * a busy CPU has an idle CPU it may run on kicked (balance_kick_for()), which
 * then pulls (pull.bpf.h) instead of idling while work waits.
 */
#ifndef __FAIRRS_WAKE_BPF_H
#define __FAIRRS_WAKE_BPF_H

#include "fairrs.bpf.h"
#include "kick.bpf.h"

/*
 * @p was queued on @cpu. If @cpu is idle, wake it; otherwise, if another CPU
 * that @p may run on is idle, wake that one so it pulls @p (or another waiting
 * task) instead of idling while work waits. A task preempted or out of slice
 * is enqueued from its own context, where p->migration_disabled reads 1 (the
 * BPF prolog's migrate_disable()): is_migration_disabled() knows.
 */
static __always_inline void balance_kick_for(struct task_struct *p, s32 cpu)
{
	s32 idle;

	if (scx_bpf_test_and_clear_cpu_idle(cpu)) {
		kick_cpu(cpu, SCX_KICK_IDLE);
		return;
	}
	if (p->nr_cpus_allowed == 1 || is_migration_disabled(p))
		return;
	idle = scx_bpf_pick_idle_cpu(p->cpus_ptr, 0);
	if (idle >= 0)
		kick_cpu(idle, SCX_KICK_IDLE);
}

/*
 * Per LLC, a CPU that runs only SCHED_IDLE work, plus 1 (0: none): set by
 * such a CPU at its ticks and when it goes back to SCHED_IDLE work, if the
 * hint is empty or stale; a wakeup that takes it empties it.
 */
s32 wake_sched_idle_hint[FAIRRS_MAX_CPUS];

/* sched_idle_cpu(): @cpu runs a SCHED_IDLE task and has nothing else queued. */
static __always_inline bool wake_sched_idle_cpu(s32 cpu)
{
	struct fairrs_cpu_ctx *cctx = cpu_ctx(cpu);
	u32 nr;

	if (!cctx)
		return false;
	nr = READ_ONCE(cctx->nr_running);
	return nr && nr == READ_ONCE(cctx->nr_idle) && READ_ONCE(cctx->curr_idle) &&
	       READ_ONCE(cctx->online);
}

/* Keep @cpu's LLC's hint pointing at a CPU that runs only SCHED_IDLE work. */
static __always_inline void wake_note_sched_idle(s32 cpu)
{
	u32 llc = topo_llc(cpu) & (FAIRRS_MAX_CPUS - 1);
	s32 hint = READ_ONCE(wake_sched_idle_hint[llc]) - 1;

	if (hint != cpu && wake_sched_idle_cpu(cpu) && (hint < 0 || !wake_sched_idle_cpu(hint)))
		WRITE_ONCE(wake_sched_idle_hint[llc], cpu + 1);
}

/*
 * No CPU @p may use is idle, and the kernel's selection returned @cpu (its
 * previous CPU): as select_idle_sibling() does, keep @cpu if it runs only
 * SCHED_IDLE work, else take such a CPU of its LLC (the hint), which @p then
 * preempts at once. The hint is claimed, so that wakeups at the same moment
 * do not all pile onto one CPU. CFS scans
 * the LLC for one only while the LLC is partly idle (SIS_UTIL); the hint
 * costs O(1).
 */
static __always_inline s32 wake_sched_idle_pick(struct task_struct *p, s32 cpu)
{
	u32 llc = topo_llc(cpu) & (FAIRRS_MAX_CPUS - 1);
	s32 hint;

	if (wake_sched_idle_cpu(cpu))
		return cpu;
	hint = READ_ONCE(wake_sched_idle_hint[llc]) - 1;
	if (hint < 0 || hint == cpu || !bpf_cpumask_test_cpu(hint, p->cpus_ptr) ||
	    !wake_sched_idle_cpu(hint) ||
	    __sync_val_compare_and_swap(&wake_sched_idle_hint[llc], hint + 1, 0) != hint + 1)
		return cpu;
	stat_inc(FAIRRS_STAT_WAKE_SCHED_IDLE);
	return hint;
}

#endif /* __FAIRRS_WAKE_BPF_H */
