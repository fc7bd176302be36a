/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Spreading work over CPUs: which CPU a waking task goes to, and what an idle
 * CPU does when its own queue is empty.
 *
 * Wakeups go to an idle CPU when there is one, preferring the previous CPU and
 * whole idle SMT cores in the same LLC (the kernel's default selection,
 * scx_bpf_select_cpu_dfl(), which also applies wake-affine placement). A CPU
 * that runs dry pulls the head of the longest other queue (idle balancing in
 * CFS's newidle_balance()), so no CPU idles while another has tasks waiting.
 */
#ifndef __FAIRRS_BALANCE_BPF_H
#define __FAIRRS_BALANCE_BPF_H

#include "fairrs.bpf.h"
#include "stats.bpf.h"

/*
 * Pick the CPU for a waking @p. Returns the CPU and sets *@is_idle when that
 * CPU was idle and has been claimed for @p.
 */
static __always_inline s32 balance_select_cpu(struct task_struct *p, s32 prev_cpu,
					      u64 wake_flags, bool *is_idle)
{
	return scx_bpf_select_cpu_dfl(p, prev_cpu, wake_flags, is_idle);
}

/*
 * @p was queued on @cpu. If @cpu is idle, wake it; otherwise, if another CPU
 * that @p may run on is idle, wake that one so it pulls @p (or another waiting
 * task) instead of idling while work waits.
 */
static __always_inline void balance_kick_for(struct task_struct *p, s32 cpu)
{
	s32 idle;

	if (scx_bpf_test_and_clear_cpu_idle(cpu)) {
		scx_bpf_kick_cpu(cpu, SCX_KICK_IDLE);
		return;
	}
	if (p->nr_cpus_allowed == 1 || p->migration_disabled)
		return;
	idle = scx_bpf_pick_idle_cpu(p->cpus_ptr, 0);
	if (idle >= 0)
		scx_bpf_kick_cpu(idle, SCX_KICK_IDLE);
}

/*
 * @cpu has nothing to run: take the head of the longest other queue that has
 * a task allowed here. scx_bpf_dsq_move_to_local() skips tasks that cannot run
 * on @cpu (affinity, migration disabled), so a queue is only passed over when
 * none of its tasks fits.
 */
static __always_inline bool balance_idle_pull(s32 cpu)
{
	u32 n, most = 0;
	s32 i, busiest = -1;

	bpf_for(i, 0, nr_cpu_ids) {
		if (i == cpu)
			continue;
		n = scx_bpf_dsq_nr_queued(cpu_dsq(i));
		if (n > most) {
			most = n;
			busiest = i;
		}
	}
	if (busiest < 0)
		return false;
	if (scx_bpf_dsq_move_to_local(cpu_dsq(busiest), 0)) {
		stat_inc(FAIRRS_STAT_IDLE_PULL);
		return true;
	}

	/* Nothing in the longest queue may run here; try the others in order. */
	bpf_for(i, 0, nr_cpu_ids) {
		if (i == cpu || i == busiest || !scx_bpf_dsq_nr_queued(cpu_dsq(i)))
			continue;
		if (scx_bpf_dsq_move_to_local(cpu_dsq(i), 0)) {
			stat_inc(FAIRRS_STAT_IDLE_PULL);
			return true;
		}
	}
	return false;
}

#endif /* __FAIRRS_BALANCE_BPF_H */
