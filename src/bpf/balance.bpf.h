/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Spreading work over CPUs, as CFS's load balancer does for its per-CPU run
 * queues. Each part has its header: where a waking task goes (wake.bpf.h),
 * what a CPU that runs dry pulls (pull.bpf.h), the periodic balancer that
 * evens out queues that stay unequal (periodic.bpf.h), and active balancing
 * on SMT machines (active.bpf.h).
 *
 * This one sits above them: the BPF timer that runs the periodic and active
 * balancers every balance_interval (and tends the task groups every 256th
 * round, group_tend()), a CPU's balancing state at load and when it goes
 * offline, and what a dying CPU's queue does.
 */
#ifndef __FAIRRS_BALANCE_BPF_H
#define __FAIRRS_BALANCE_BPF_H

#include "fairrs.bpf.h"
#include "periodic.bpf.h"
#include "active.bpf.h"
#include "group.bpf.h"
#include "kick.bpf.h"
#include "stats.bpf.h"

struct balance_timer {
	struct bpf_timer timer;
};

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, u32);
	__type(value, struct balance_timer);
} balance_timer SEC(".maps");

/* @cctx's CPU owes no pull and pushes nothing: at load, and once it is offline. */
static __always_inline void balance_cpu_reset(struct fairrs_cpu_ctx *cctx)
{
	balance_periodic_reset(cctx);
	balance_active_reset(cctx);
}

/*
 * @cpu is going offline (ops.cpu_offline) and will not run ops.dispatch
 * again: whatever waits in its queue moves to the global DSQ, which every CPU
 * a task may run on consumes, offline or not. Per-CPU kthreads of the dying
 * CPU (ksoftirqd, parked by the hotplug code) must still run there, and the
 * dying CPU does consume the global DSQ. Some kernels re-enqueue such tasks
 * onto the local DSQ themselves (rq_offline_scx(), before calling us: this
 * queue is then empty); on the others a task left here stalls the CPU's
 * offlining until the watchdog ejects the scheduler (which kernels:
 * docs/DESIGN.md, "CPU hotplug").
 */
static __always_inline void balance_rescue_offline(s32 cpu)
{
	struct task_struct *p;

	bpf_for_each(scx_dsq, p, cpu_dsq(cpu), 0) {
		if (scx_bpf_dsq_move(BPF_FOR_EACH_ITER, p, SCX_DSQ_GLOBAL, 0))
			stat_inc(FAIRRS_STAT_OFFLINE_RESCUE);
	}
}

/*
 * A task that was counted on @from's run queue starts running here: it left
 * from the global DSQ (above) or an idle pull. If @from is going offline,
 * its hotplug thread may be waiting for the queue to empty (the kernel's
 * balance_hotplug_wait()), and only a reschedule of @from wakes it
 * (balance_push()): if @from went idle before the task left, none comes and
 * the offlining hangs. Kick it; the kick is dropped once it is offline.
 */
static __always_inline void balance_left_dying(s32 from)
{
	if (from >= 0 && !cpu_is_online(from)) {
		kick_cpu(from, SCX_KICK_IDLE);
		stat_inc(FAIRRS_STAT_KICK_DYING);
	}
}

/* When a CPU last went offline (ops.cpu_offline). */
u64 balance_offline_ns;
/* How long after that the timer looks after CPUs offline in our books. */
#define BALANCE_DYING_NS	(10ULL * 1000 * 1000 * 1000)

/*
 * A CPU going offline no longer calls ops.dispatch or ops.enqueue: the
 * kernel puts its tasks straight in its local queue. With SCX_OPS_ENQ_LAST
 * (SMT, cpu.max), the last one, its hotplug thread, lands there as the CPU
 * goes idle, and nothing reschedules it (6.18: cpuhp/1 stalled 40 s, the
 * watchdog ejected us). For a while after an offlining, each round kicks
 * such a CPU that idles with a task in its local queue: from another CPU,
 * or itself while the kernel still has it online (kick_self()).
 */
static __always_inline void balance_wake_dying(void)
{
	s32 cpu, self = bpf_get_smp_processor_id();

	if (!READ_ONCE(balance_offline_ns) ||
	    bpf_ktime_get_ns() - READ_ONCE(balance_offline_ns) > BALANCE_DYING_NS)
		return;
	bpf_for(cpu, 0, nr_cpu_ids) {
		if (cpu_is_online(cpu) || !scx_bpf_dsq_nr_queued(SCX_DSQ_LOCAL_ON | cpu))
			continue;
		stat_inc(FAIRRS_STAT_KICK_DYING);
		if (cpu == self)
			kick_self(cpu);
		else
			kick_cpu(cpu, SCX_KICK_IDLE);
	}
}

static int balance_timerfn(void *map, int *key, struct bpf_timer *timer)
{
	balance_wake_dying();
	balance_periodic();
	balance_active();
	if (!(lb_round & 255))
		group_tend();
	bpf_timer_start(timer, tun.balance_interval_ns, 0);
	return 0;
}

/* Arm the balancing timer; called from ops.init. */
static __always_inline s32 balance_init(void)
{
	u32 zero = 0;
	struct balance_timer *bt = bpf_map_lookup_elem(&balance_timer, &zero);
	struct bpf_timer *timer;
	s32 ret;

	if (!bt)
		return -ENOENT;
	timer = &bt->timer;
	ret = bpf_timer_init(timer, &balance_timer, CLOCK_MONOTONIC);
	if (ret)
		return ret;
	ret = bpf_timer_set_callback(timer, balance_timerfn);
	if (ret)
		return ret;
	return bpf_timer_start(timer, tun.balance_interval_ns, 0);
}

#endif /* __FAIRRS_BALANCE_BPF_H */
