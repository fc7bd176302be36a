/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Where a waking task goes, and waking an idle CPU for work that waits.
 *
 * ops.select_cpu takes the kernel's default selection
 * (scx_bpf_select_cpu_dfl()), the kernel's own topology-aware code: the
 * previous CPU, then a fully idle SMT core and any idle CPU in the previous
 * CPU's LLC, then its NUMA node, then anywhere allowed, with wake-affine
 * placement for synchronous wakeups. A task queued on a busy CPU has an idle
 * CPU it may run on kicked (balance_kick_for()), which then pulls
 * (pull.bpf.h) instead of idling while work waits.
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

#endif /* __FAIRRS_WAKE_BPF_H */
