/* SPDX-License-Identifier: GPL-2.0 */
/*
 * scx_fairrs: the Completely Fair Scheduler's policy as a sched_ext scheduler.
 *
 * Every CPU owns one vruntime-ordered dispatch queue, as every CPU owns a
 * cfs_rq in CFS. A task is queued on the CPU the kernel put it on (the one
 * ops.select_cpu chose at wakeup), runs in vruntime order for a slice sized
 * from its weight and the queue's load, and is charged vruntime in proportion
 * to its runtime divided by its weight. The arithmetic (slices, keeping the
 * CPU, reweighting) lives in vtime.bpf.h, cgroup weights in group.bpf.h,
 * cpu.max in bandwidth.bpf.h, wakeup placement in placement.bpf.h, preemption and what it knows of the
 * running task in preempt.bpf.h, CPU selection and balancing in wake.bpf.h,
 * pull.bpf.h, periodic.bpf.h, active.bpf.h and balance.bpf.h (the timer),
 * the load signals in load.bpf.h, what each task is owed for the stats'
 * fairness in entitle.bpf.h; this file only wires them to the callbacks.
 *
 * Callbacks appear in the order a task meets them: init_task, enable,
 * select_cpu, runnable, enqueue, dispatch, running, tick, stopping, quiescent,
 * set_weight, yield; then cgroups, CPU hotplug and the scheduler-wide init
 * and exit.
 *
 * One translation unit: the BPF object is this file. It includes every
 * concept header, and each header includes (behind its include guard) the
 * headers it uses, so each is compiled exactly once, here; no other file
 * includes them, except that the host build (pelt_host.c, cfs_host.c,
 * share_host.c, intf_host.c) takes intf.h, pelt.bpf.h, cfs.bpf.h and
 * share.bpf.h. A map or global is defined only in the header that owns its
 * concept (tunables, topology and contexts in fairrs.bpf.h, the counters in
 * stats.bpf.h, the balancer's round in periodic.bpf.h and its timer in
 * balance.bpf.h; uei here); the others only use it. The maths headers
 * pelt.bpf.h, cfs.bpf.h and share.bpf.h use no kernel type or helper, so they
 * build on the host for the tests.
 */
#include "fairrs.bpf.h"
#include "cfs.bpf.h"
#include "share.bpf.h"
#include "stats.bpf.h"
#include "kick.bpf.h"
#include "load.bpf.h"
#include "vtime.bpf.h"
#include "entitle.bpf.h"
#include "group.bpf.h"
#include "placement.bpf.h"
#include "preempt.bpf.h"
#include "wake.bpf.h"
#include "pull.bpf.h"
#include "bandwidth.bpf.h"
#include "periodic.bpf.h"
#include "active.bpf.h"
#include "balance.bpf.h"
#include "dump.bpf.h"

char _license[] SEC("license") = "GPL";

UEI_DEFINE(uei);

/*
 * Floor of every queue's min_vruntime at load. Starting well above zero keeps
 * vruntime - min_vruntime arithmetic away from wrapping for tasks that sit a
 * little behind the floor (sleeper credit).
 */
#define VTIME_BASE	(1ULL << 40)

/*
 * A task enters sched_ext (fork, or every task when the scheduler loads,
 * after every cgroup has been through ops.cgroup_init).
 */
s32 BPF_STRUCT_OPS(fairrs_init_task, struct task_struct *p, struct scx_init_task_args *args)
{
	struct task_ctx *tctx;

	tctx = bpf_task_storage_get(&task_ctxs, p, 0, BPF_LOCAL_STORAGE_GET_F_CREATE);
	if (!tctx)
		return -ENOMEM;
	tctx->queue_cpu = -1;
	tctx->is_new = true;
	group_ref(tctx, group_slot_of(args->cgroup));
	tctx->group = tctx->cgroup;
	if (args->fork)
		placement_fork(tctx);
	return 0;
}

/*
 * @p is about to be scheduled by us: at load or fork, or coming back from
 * another scheduling class (sched_setscheduler(), the end of a priority
 * boost). Take its weight and runtime baseline; the time it ran elsewhere is
 * not charged. A returning task's vruntime is as it left it, while its queue
 * moved on: it is re-placed at its next runnable (place_entity()).
 */
void BPF_STRUCT_OPS(fairrs_enable, struct task_struct *p)
{
	struct task_ctx *tctx = task_ctx(p);

	if (!tctx) {
		scx_bpf_error("task_ctx lookup failed (pid %d)", p->pid);
		return;
	}
	tctx->rejoined = !tctx->is_new;
	tctx->queued_ns = 0;
	tctx->task_weight = vtime_task_weight(p);
	/* Its groups' share is applied when it becomes runnable. */
	tctx->weight = tctx->task_weight;
	tctx->exec_charged = p->se.sum_exec_runtime;
	load_task_init(tctx, tctx->weight);
}

/*
 * Wakeup: pick a CPU. When that CPU is idle the task goes straight to its
 * local queue: there is nothing to be fair against, and skipping ops.enqueue
 * is the shortest path from wakeup to running.
 */
s32 BPF_STRUCT_OPS(fairrs_select_cpu, struct task_struct *p, s32 prev_cpu, u64 wake_flags)
{
	struct task_ctx *tctx = task_ctx(p);
	bool is_idle = false;
	s32 cpu;

	if (tctx)
		tctx->wake_sync = wake_flags & SCX_WAKE_SYNC;
	else
		scx_bpf_error("task_ctx lookup failed (pid %d)", p->pid);

	cpu = scx_bpf_select_cpu_dfl(p, prev_cpu, wake_flags, &is_idle);
	/* A task of a throttled cgroup is held by ops.enqueue (bandwidth.bpf.h). */
	if (is_idle && tctx && bw_hold_slot(tctx) >= 0)
		is_idle = false;
	if (is_idle) {
		scx_bpf_dsq_insert(p, SCX_DSQ_LOCAL, tun.sched_latency_ns, 0);
		stat_inc(FAIRRS_STAT_WAKE_IDLE);
	} else {
		cpu = wake_sched_idle_pick(p, cpu);
	}
	return cpu;
}

/*
 * @p became runnable on its CPU (the kernel has already moved it there). It
 * joins that CPU's queue: its vruntime is renormalised to the queue, its
 * weight joins its groups' loads and, scaled by them, the queue's load, and
 * it is placed (new-task debit or sleeper credit). This runs for direct
 * dispatches too, so accounting never depends on whether ops.enqueue is
 * called.
 */
void BPF_STRUCT_OPS(fairrs_runnable, struct task_struct *p, u64 enq_flags)
{
	struct fairrs_cpu_ctx *cctx;
	struct task_ctx *tctx;
	s32 cpu, from;

	cpu = task_cpu_ctxs(p, &tctx, &cctx);
	if (cpu < 0)
		return;
	/* PELT first, for the time it spent asleep. */
	load_task_update(tctx);
	from = tctx->queue_cpu;
	if (vtime_move_queue(tctx, cpu))
		stat_inc(cpu_is_online(from) ? FAIRRS_STAT_MIGRATE_WAKEUP :
					       FAIRRS_STAT_MIGRATE_HOTPLUG);
	if (!tctx->on_queue) {
		group_task_runnable(p, tctx);
		tctx->weight = group_task_weight(tctx);
		tctx->on_queue = true;
		tctx->runnable_since = load_now();
		tctx->queued_idle = group_task_sched_idle(p, tctx);
		entitle_join(tctx, cctx);
		queue_weight_add(cpu, tctx->weight, tctx->queued_idle);
		load_sync_contrib(tctx);
	}
	place_entity(p, tctx, cctx, enq_flags & SCX_ENQ_WAKEUP);
}

/*
 * Queue @p on its CPU's vruntime-ordered queue, then wake an idle CPU to pull
 * it if its own is busy. A wakee that preempts the running task goes straight
 * to the CPU's local queue instead: check_preempt_wakeup() both reschedules
 * the CPU and makes the wakee its next buddy, so it is what runs next, and
 * SCX_ENQ_PREEMPT does both in one step (the kernel ends the running task's
 * slice and reschedules the CPU itself, no kick needed).
 */
void BPF_STRUCT_OPS(fairrs_enqueue, struct task_struct *p, u64 enq_flags)
{
	struct fairrs_cpu_ctx *cctx;
	struct task_ctx *tctx;
	s32 cpu, from;
	bool preempt;
	u64 slice;

	cpu = task_cpu_ctxs(p, &tctx, &cctx);
	if (cpu < 0) {
		/* No context (an error: the scheduler stops): keep it runnable meanwhile. */
		scx_bpf_dsq_insert(p, SCX_DSQ_GLOBAL, tun.min_granularity_ns, enq_flags);
		return;
	}

	/*
	 * The kernel may have moved @p without a wakeup: an affinity or cpuset
	 * change, or its CPU going offline.
	 */
	from = tctx->queue_cpu;
	if (vtime_move_queue(tctx, cpu))
		stat_inc(cpu_is_online(from) ? FAIRRS_STAT_MIGRATE_AFFINITY :
					       FAIRRS_STAT_MIGRATE_HOTPLUG);
	if (vtime_rcu_reader(p, tctx, cctx))
		stat_inc(FAIRRS_STAT_RCU_READER);
	else
		vtime_guard_lag(tctx, cctx);
	/* Its cgroup used up its cpu.max quota: it waits for the refill. */
	if (bw_hold(p, tctx, enq_flags))
		return;
	slice = vtime_ideal_runtime(tctx->weight, cctx);
	/* Let go by ops.dispatch: active balancing (SMT machines only). */
	if (enq_flags & SCX_ENQ_LAST) {
		balance_enqueue_last(p, tctx, cpu, cctx, slice, enq_flags);
		return;
	}
	stat_inc(FAIRRS_STAT_ENQUEUE);

	/* A new task's first enqueue is not a wakeup to the kernel, but CFS checks it too. */
	preempt = ((enq_flags & SCX_ENQ_WAKEUP) || tctx->forked) &&
		  preempt_wakeup(p, tctx, cpu);
	tctx->forked = false;
	tctx->wake_sync = false;
	if (preempt) {
		vtime_note_next(cctx, tctx->vruntime);
		scx_bpf_dsq_insert(p, SCX_DSQ_LOCAL, slice, enq_flags | SCX_ENQ_PREEMPT);
		stat_inc(FAIRRS_STAT_PREEMPT);
		return;
	}
	/* A re-insert (affinity, nice) keeps the wait it has: the watchdog's does. */
	if (!tctx->queued_ns)
		tctx->queued_ns = scx_bpf_now();
	scx_bpf_dsq_insert_vtime(p, cpu_dsq(cpu), slice, tctx->vruntime, enq_flags);
	pull_mark(cpu);
	balance_kick_for(p, cpu);
}

/*
 * @cpu needs a task. First it serves a pull the periodic balancer asked of it,
 * or runs a task that waited past the starvation guard, or lets the task just
 * running go if active balancing pushes it to an idle core. Then CFS's
 * pick_next_entity(): the task just running keeps the CPU if it is still
 * runnable and no queued task is further behind it; otherwise the head of
 * this CPU's queue runs; an empty queue pulls from the nearest busy queue.
 * A task that yielded gives way to a queued task within wakeup_granularity.
 */
void BPF_STRUCT_OPS(fairrs_dispatch, s32 cpu, struct task_struct *prev)
{
	struct fairrs_cpu_ctx *cctx = cpu_ctx(cpu);
	struct task_struct *head;

	if (!cctx) {
		scx_bpf_error("cpu_ctx lookup failed (CPU %d)", cpu);
		return;
	}

	if (balance_serve_request(cpu, cctx) || vtime_serve_starving(cpu, cctx))
		return;

	bw_hold_queued(cpu);
	if (prev && (prev->scx.flags & SCX_TASK_QUEUED) && bw_may_keep(prev)) {
		if (balance_push_prev(cpu, cctx, prev))
			return;
		if (vtime_keep_prev(prev, cpu, cctx))
			return;
	}

	head = __COMPAT_scx_bpf_dsq_peek(cpu_dsq(cpu));
	if (!head)
		pull_unmark(cpu);
	if (head) {
		/* Read before the move: the head is not ours to read after it. */
		u64 head_vtime = head->scx.dsq_vtime;

		if (scx_bpf_dsq_move_to_local(cpu_dsq(cpu), 0)) {
			vtime_note_next(cctx, head_vtime);
			stat_inc(FAIRRS_STAT_DISPATCH);
			return;
		}
	}

	/*
	 * prev is still runnable (the head it gave way to was taken meanwhile):
	 * it runs on, with a slice of its own, which SCX_OPS_ENQ_LAST needs. A
	 * throttled one does not: ENQ_LAST brings it to ops.enqueue, to be held.
	 */
	if (prev && (prev->scx.flags & SCX_TASK_QUEUED) && bw_may_keep(prev)) {
		struct task_ctx *ptctx = task_ctx(prev);

		if (ptctx)
			vtime_grant_slice(prev, ptctx, cctx);
		else
			scx_bpf_error("task_ctx lookup failed (pid %d)", prev->pid);
		return;
	}

	balance_idle_pull(cpu);
}

/*
 * @p starts running on @cpu. It may come from another CPU's queue (idle pull,
 * counted there), so rehome it first, waking that CPU if it is going offline. The queue's floor moves up to the
 * lesser of it and the leftmost waiting task; its slice is sized from the
 * queue as it is now, and wakeup preemption now compares against it.
 */
void BPF_STRUCT_OPS(fairrs_running, struct task_struct *p)
{
	struct fairrs_cpu_ctx *cctx;
	struct task_ctx *tctx;
	s32 cpu, from;

	cpu = task_cpu_ctxs(p, &tctx, &cctx);
	if (cpu < 0)
		return;
	from = tctx->queue_cpu;
	if (vtime_move_queue(tctx, cpu))
		balance_left_dying(from);
	load_task_update(tctx);
	group_refresh_weight(tctx);
	tctx->is_running = true;
	load_cpu_update(cctx);
	load_cpuperf_update(cpu, cctx);
	tctx->exec_charged = p->se.sum_exec_runtime;
	cctx->next_pending = 0;
	vtime_update_min_curr(cpu, cctx, tctx->vruntime, true);
	vtime_grant_slice(p, tctx, cctx);
	bw_stop_throttled(p, tctx, true);
	curr_start(p, tctx, cctx);
	balance_active_rearm(cctx);
	/* A wakee that took this CPU's hint has gone: offer it again. */
	if (cctx->curr_idle)
		wake_note_sched_idle(cpu);
	/* Not woken through ops.select_cpu next time (pinned): not a sync wakeup. */
	tctx->wake_sync = false;
	/* Dispatched straight to an idle CPU, it never met ops.enqueue's check. */
	tctx->forked = false;
	tctx->queued_ns = 0;
}

/*
 * Scheduler tick while @p runs: keep its vruntime, its groups' weight and the
 * floor current, and end its slice early if the queue has changed so that it
 * should give way.
 */
void BPF_STRUCT_OPS(fairrs_tick, struct task_struct *p)
{
	struct fairrs_cpu_ctx *cctx;
	struct task_ctx *tctx;
	s32 cpu;

	cpu = task_cpu_ctxs(p, &tctx, &cctx);
	if (cpu < 0)
		return;
	group_charge(tctx, vtime_charge(p, tctx));
	load_task_update(tctx);
	/* Bounds the stretch a hog alone on its CPU goes unsettled. */
	entitle_settle(tctx);
	group_refresh_weight(tctx);
	load_cpu_update(cctx);
	load_cpuperf_update(cpu, cctx);
	vtime_update_min_curr(cpu, cctx, tctx->vruntime, true);
	curr_update(tctx, cctx);
	preempt_tick(p, tctx, cpu, cctx);
	preempt_tick_deferred(p, cpu, cctx);
	bw_stop_throttled(p, tctx, false);
	wake_note_sched_idle(cpu);
}

/* @p stops running (slice used up, preempted, or going to sleep). */
void BPF_STRUCT_OPS(fairrs_stopping, struct task_struct *p, bool runnable)
{
	struct fairrs_cpu_ctx *cctx;
	struct task_ctx *tctx;
	s32 cpu;

	cpu = task_cpu_ctxs(p, &tctx, &cctx);
	if (cpu < 0)
		return;
	group_charge(tctx, vtime_charge(p, tctx));
	if (runnable && !p->scx.slice)
		stat_inc(FAIRRS_STAT_SLICE_EXPIRED);
	tctx->last_ran_ns = scx_bpf_now();
	load_task_update(tctx);
	tctx->is_running = false;
	load_cpu_update(cctx);
	vtime_update_min_curr(cpu, cctx, tctx->vruntime, runnable);
	curr_stop(cctx);
}

/* @p is no longer runnable (sleeps, exits, or leaves sched_ext). */
void BPF_STRUCT_OPS(fairrs_quiescent, struct task_struct *p, u64 deq_flags)
{
	struct task_ctx *tctx = task_ctx(p);

	if (!tctx) {
		scx_bpf_error("task_ctx lookup failed (pid %d)", p->pid);
		return;
	}
	if (!tctx->on_queue)
		return;
	load_task_update(tctx);
	tctx->runnable_ns += load_now() - tctx->runnable_since;
	entitle_settle(tctx);
	queue_weight_sub(tctx->queue_cpu, tctx->weight, tctx->queued_idle);
	group_task_account(tctx, -1);
	tctx->on_queue = false;
	/* Only a sleep ends a wait: a re-insert (nice, affinity, cgroup) keeps it. */
	if (deq_flags & SCX_DEQ_SLEEP)
		tctx->queued_ns = 0;
	load_sync_contrib(tctx);
}

/*
 * The nice level or policy of @p changed (@weight is the cgroup-scale value;
 * we recompute the exact CFS weight from the task). A runnable task's group
 * and queue loads follow.
 */
void BPF_STRUCT_OPS(fairrs_set_weight, struct task_struct *p, u32 weight)
{
	struct task_ctx *tctx = task_ctx(p);

	if (!tctx) {
		scx_bpf_error("task_ctx lookup failed (pid %d)", p->pid);
		return;
	}
	tctx->task_weight = vtime_task_weight(p);
	vtime_requeue_idle(tctx, group_task_sched_idle(p, tctx));
	group_task_reweight(tctx);
	vtime_reweight(tctx, group_task_weight(tctx));
}

/*
 * sched_yield(): as yield_task_fair(), the yielder's vruntime is brought up to
 * date (update_curr()), it gives up the rest of its slice and becomes the skip
 * buddy for the next pick (vtime_keep_prev()).
 */
bool BPF_STRUCT_OPS(fairrs_yield, struct task_struct *from, struct task_struct *to)
{
	struct task_ctx *tctx = task_ctx(from);

	if (tctx) {
		group_charge(tctx, vtime_charge(from, tctx));
		tctx->yielded = true;
	} else {
		scx_bpf_error("task_ctx lookup failed (pid %d)", from->pid);
	}
	scx_bpf_task_set_slice(from, 0);
	return false;
}

/*
 * Cgroups with the cpu controller (task groups): each has a group whose
 * cpu.weight shares the CPU among groups as CFS does (group.bpf.h). Parents
 * are initialised before their children.
 */
s32 BPF_STRUCT_OPS_SLEEPABLE(fairrs_cgroup_init, struct cgroup *cgrp,
			     struct scx_cgroup_init_args *args)
{
	if (!groups_enabled)
		return 0;
	group_init(cgrp, args->weight);
	bw_group_init(cgrp, args);
	if (bpf_core_field_exists(args->sched_idle) && args->sched_idle)
		group_set_idle(group_own_slot(cgrp), true);
	return 0;
}

void BPF_STRUCT_OPS(fairrs_cgroup_exit, struct cgroup *cgrp)
{
	if (!groups_enabled)
		return;
	bw_group_set(cgrp, 0, 0, 0);
	group_exit(cgrp);
}

void BPF_STRUCT_OPS(fairrs_cgroup_move, struct task_struct *p, struct cgroup *from,
		    struct cgroup *to)
{
	struct task_ctx *tctx = task_ctx(p);

	if (tctx && groups_enabled)
		group_move_task(p, tctx, group_slot_of(to));
}

void BPF_STRUCT_OPS(fairrs_cgroup_set_weight, struct cgroup *cgrp, u32 weight)
{
	if (groups_enabled)
		group_set_weight(cgrp, weight);
}

/* cpu.idle changed (6.19+). */
void BPF_STRUCT_OPS(fairrs_cgroup_set_idle, struct cgroup *cgrp, bool idle)
{
	if (groups_enabled)
		group_set_idle(group_own_slot(cgrp), idle);
}

/* cpu.max or cpu.max.burst changed (6.17+; quota RUNTIME_INF: no limit). */
void BPF_STRUCT_OPS(fairrs_cgroup_set_bandwidth, struct cgroup *cgrp, u64 period_us,
		    u64 quota_us, u64 burst_us)
{
	if (groups_enabled)
		bw_group_set(cgrp, period_us, quota_us, burst_us);
}

/*
 * CPU hotplug. Implementing these keeps the scheduler attached (without them
 * the kernel ejects it with a restart request). A queue only ever holds tasks
 * of its own CPU's run queue, and the kernel migrates those off a dying CPU,
 * through ops.enqueue, onto live ones, as they come up to run; what still
 * waits in the dying CPU's queue is handed on (balance_rescue_offline()).
 * From here on this CPU issues no kicks (kick.bpf.h).
 */
void BPF_STRUCT_OPS(fairrs_cpu_online, s32 cpu)
{
	struct fairrs_cpu_ctx *cctx = cpu_ctx(cpu);

	if (cctx)
		cctx->online = 1;
	else
		scx_bpf_error("cpu_ctx lookup failed (CPU %d)", cpu);
}

void BPF_STRUCT_OPS(fairrs_cpu_offline, s32 cpu)
{
	struct fairrs_cpu_ctx *cctx = cpu_ctx(cpu);

	if (cctx) {
		cctx->online = 0;
		WRITE_ONCE(balance_offline_ns, bpf_ktime_get_ns());
		balance_cpu_reset(cctx);
	} else {
		scx_bpf_error("cpu_ctx lookup failed (CPU %d)", cpu);
	}
	balance_rescue_offline(cpu);
}

/*
 * Create one vruntime-ordered queue per possible CPU, note which CPUs are
 * online, and arm the balancer.
 */
s32 BPF_STRUCT_OPS_SLEEPABLE(fairrs_init)
{
	const struct cpumask *online;
	s32 cpu, ret;

	online = scx_bpf_get_online_cpumask();
	bpf_for(cpu, 0, nr_cpu_ids) {
		struct fairrs_cpu_ctx *cctx = cpu_ctx(cpu);

		if (!cctx) {
			scx_bpf_put_cpumask(online);
			scx_bpf_error("CPU %d beyond FAIRRS_MAX_CPUS", cpu);
			return -EINVAL;
		}
		cctx->min_vruntime = VTIME_BASE;
		balance_cpu_reset(cctx);
		/* sched_ext starts every CPU at the maximum (load_cpuperf_update()). */
		cctx->perf_target = SCX_CPUPERF_ONE;
		cctx->online = bpf_cpumask_test_cpu(cpu, online);
		ret = scx_bpf_create_dsq(cpu_dsq(cpu), topo_node(cpu));
		if (ret) {
			scx_bpf_put_cpumask(online);
			scx_bpf_error("failed to create the queue of CPU %d: %d", cpu, ret);
			return ret;
		}
	}
	scx_bpf_put_cpumask(online);

	ret = balance_init();
	if (ret)
		scx_bpf_error("failed to arm the balancing timer: %d", ret);
	return ret;
}

void BPF_STRUCT_OPS(fairrs_exit, struct scx_exit_info *ei)
{
	UEI_RECORD(uei, ei);
}

SCX_OPS_DEFINE(fairrs_ops,
	       .init_task	= (void *)fairrs_init_task,
	       .enable		= (void *)fairrs_enable,
	       .select_cpu	= (void *)fairrs_select_cpu,
	       .runnable	= (void *)fairrs_runnable,
	       .enqueue		= (void *)fairrs_enqueue,
	       .dispatch	= (void *)fairrs_dispatch,
	       .running		= (void *)fairrs_running,
	       .tick		= (void *)fairrs_tick,
	       .stopping	= (void *)fairrs_stopping,
	       .quiescent	= (void *)fairrs_quiescent,
	       .set_weight	= (void *)fairrs_set_weight,
	       .yield		= (void *)fairrs_yield,
	       .cgroup_init	= (void *)fairrs_cgroup_init,
	       .cgroup_exit	= (void *)fairrs_cgroup_exit,
	       .cgroup_move	= (void *)fairrs_cgroup_move,
	       .cgroup_set_weight = (void *)fairrs_cgroup_set_weight,
	       .cgroup_set_bandwidth = (void *)fairrs_cgroup_set_bandwidth,
	       .cgroup_set_idle	= (void *)fairrs_cgroup_set_idle,
	       .cpu_online	= (void *)fairrs_cpu_online,
	       .cpu_offline	= (void *)fairrs_cpu_offline,
	       .init		= (void *)fairrs_init,
	       .exit		= (void *)fairrs_exit,
	       .name		= "fairrs");
