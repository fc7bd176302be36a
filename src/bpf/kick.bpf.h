/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Kicking a CPU (waking it, or making it reschedule) without ever issuing a
 * kick that cannot be delivered.
 *
 * scx_bpf_kick_cpu() does not kick directly: it records the target and queues
 * the calling CPU's kick irq_work, which a self-IPI runs (kernel/sched/ext.c,
 * kick_cpus_irq_workfn()). A CPU on its way offline flushes its irq_work for
 * the last time in smpcfd_dying_cpu(), after __cpu_disable() has stopped its
 * interrupts, and still calls our ops.enqueue after that (the stop_machine()
 * completion wakes the hotplug control task). A kick issued then is never
 * run and its irq_work stays claimed for good: every later kick from that CPU
 * is dropped, and disabling the scheduler waits for it (the stalls and hangs
 * this caused, kernel by kernel: docs/DESIGN.md, "CPU hotplug"). The kernel
 * does not suppress kicks for CPU hotplug, so the scheduler must not issue
 * them.
 *
 * ops.cpu_offline runs on the dying CPU itself (sched_cpu_deactivate()), well
 * before __cpu_disable(), and ops.cpu_online only once the CPU is fully back,
 * so "this CPU is online in our books" is a safe test. A kick skipped there
 * costs nothing that matters: an idle target is woken by the core anyway
 * (wakeup_preempt() reschedules an idle CPU when a task is queued on it), a
 * busy one reaches its queue at the end of its slice, and the periodic
 * balancer spreads what the skipped idle kicks would have.
 */
#ifndef __FAIRRS_KICK_BPF_H
#define __FAIRRS_KICK_BPF_H

#include "fairrs.bpf.h"
#include "stats.bpf.h"

/* Kick @cpu with @flags (SCX_KICK_*) unless this CPU is going offline. */
static __always_inline void kick_cpu(s32 cpu, u64 flags)
{
	if (!cpu_is_online(bpf_get_smp_processor_id())) {
		stat_inc(FAIRRS_STAT_KICK_OFFLINE);
		return;
	}
	scx_bpf_kick_cpu(cpu, flags);
}

/*
 * Reschedule this CPU, @cpu, which is running dry with a task just put in
 * its local queue (ops.enqueue of SCX_ENQ_LAST): nothing else would, and
 * while it goes offline the kernel no longer calls ops.dispatch and ENQ_LAST
 * brings it here for its own hotplug thread. Its own kick is safe until
 * __cpu_disable() takes it out of the kernel's online mask (and stops its
 * interrupts), whatever our books say; after that its tasks are migrated.
 */
static __always_inline void kick_self(s32 cpu)
{
	const struct cpumask *online;
	bool up;

	if (cpu_is_online(cpu)) {
		scx_bpf_kick_cpu(cpu, 0);
		return;
	}
	online = scx_bpf_get_online_cpumask();
	up = bpf_cpumask_test_cpu(cpu, online);
	scx_bpf_put_cpumask(online);
	if (up)
		scx_bpf_kick_cpu(cpu, 0);
	else
		stat_inc(FAIRRS_STAT_KICK_OFFLINE);
}

#endif /* __FAIRRS_KICK_BPF_H */
