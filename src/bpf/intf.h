/* SPDX-License-Identifier: GPL-2.0 */
/*
 * What the BPF scheduler and the Rust daemon both see.
 *
 * bindgen turns this header into src/bpf_intf.rs, and the BPF side includes
 * it after vmlinux.h. Keep it plain C: fixed-width types, no kernel structs,
 * so both compilers agree on every layout.
 */
#ifndef __FAIRRS_INTF_H
#define __FAIRRS_INTF_H

#ifndef __VMLINUX_H__
typedef unsigned char u8;
typedef unsigned int u32;
typedef int s32;
typedef unsigned long long u64;
typedef long long s64;
#endif

enum fairrs_consts {
	/* Upper bound on CPU ids; a power of two so BPF can mask indices. */
	FAIRRS_MAX_CPUS		= 1024,
	/* Weight of a nice-0 task (NICE_0_LOAD, kernel/sched/sched.h). */
	FAIRRS_NICE_0_LOAD	= 1024,
	/* Weight of a SCHED_IDLE task (WEIGHT_IDLEPRIO, kernel/sched/sched.h). */
	FAIRRS_WEIGHT_IDLEPRIO	= 3,
	/*
	 * Cgroups tracked (group.bpf.h); a power of two so BPF can mask
	 * indices. Cgroups beyond it, or nested deeper than
	 * FAIRRS_MAX_GROUP_DEPTH, count as their nearest tracked ancestor.
	 */
	FAIRRS_MAX_GROUPS	= 4096,
	FAIRRS_MAX_GROUP_DEPTH	= 16,
	/* cpu.weight of a cgroup nobody set (CGROUP_WEIGHT_DFL). */
	FAIRRS_CGROUP_WEIGHT_DFL = 100,
	/* Smallest weight a group gives a task (MIN_SHARES, kernel/sched/sched.h). */
	FAIRRS_MIN_SHARES	= 2,
};

/*
 * An autogroup's group key (--autogroup, struct fairrs_group.cgid): its id
 * with the top bit set, which cgroup ids (inode numbers) never have.
 */
#define GROUP_AUTOGROUP_KEY	(1ULL << 63)

/*
 * The tunables that may change while the scheduler runs (--set): a writable
 * global in .data that the daemon updates in place, each field validated by
 * the daemon first. Nanoseconds unless named otherwise.
 */
struct fairrs_tunables {
	u64	sched_latency_ns;	/* period in which each runnable task runs once */
	u64	min_granularity_ns;	/* shortest slice; per-task share of a crowded period */
	u64	wakeup_granularity_ns;	/* vruntime lead a wakee needs to preempt (nice-0 scale) */
	u64	migration_cost_ns;	/* ran this recently: cache-hot, balancing leaves it */
	u32	imbalance_pct;		/* balance when busiest > local * pct / 100 */
	u32	numa_imbalance_pct;	/* the same across NUMA nodes */
	u64	balance_interval_ns;	/* period of the periodic balancer */
	u64	wakeup_protect_ns;	/* a task runs this long before a wakee may preempt it */
};

/*
 * Event counters, one per-CPU u64 each in the `stats` map; the daemon sums
 * them over CPUs. This list is the only definition: X(ID, name, what it
 * counts) becomes FAIRRS_STAT_<ID> below, and on the host the name and the
 * description (fairrs_stat_names / fairrs_stat_docs, intf_host.c), which the
 * daemon reports: the key in events_per_s (JSON), the text block, --help-stats.
 * SLICES and SLICE_NS are not events: the daemon reports them as the average
 * slice.
 */
#define FAIRRS_STATS(X)										\
	X(ENQUEUE,		"enqueue",	"ops.enqueue into a per-CPU vtime queue")		\
	X(WAKE_IDLE,		"wake_idle",	"wakeup placed straight on an idle CPU")		\
	X(DISPATCH,		"dispatch",	"a CPU took the head of its own queue")			\
	X(KEEP_PREV,		"keep_prev",	"slice expired, prev still leftmost: ran on")		\
	X(PREEMPT,		"preempt",	"wakeups that preempted the running task")		\
	X(MIGRATE_WAKEUP,	"mig_wakeup",	"woke up on another CPU than its queue's")		\
	X(MIGRATE_IDLE,		"mig_idle",	"pulled by a CPU that ran out of work")			\
	X(MIGRATE_PERIODIC,	"mig_periodic",	"moved by the periodic balancer")			\
	X(MIGRATE_HOTPLUG,	"mig_hotplug",	"its CPU went offline")					\
	X(MIGRATE_AFFINITY,	"mig_affinity",	"moved by the kernel (affinity, cpuset)")		\
	X(BALANCE_REQ,		"balance_req",	"periodic balancer found an imbalance worth a move")	\
	X(LAG_CLAMP,		"lag_clamp",	"starvation guard shortened a task's lag")		\
	X(SLICE_EXPIRED,	"slice_expired", "stopped runnable with its slice used up (or cut by a preemption kick or yield)") \
	X(OFFLINE_RESCUE,	"offline_rescue", "waiting in a CPU's queue as it went offline: moved to the global DSQ") \
	X(KICK_OFFLINE,		"kick_offline",	"kicks not sent: this CPU was going offline (kick.bpf.h)") \
	X(RCU_READER,		"rcu_reader",	"preempted inside an RCU read-side section: queued no later than the floor") \
	X(KICK_DYING,		"kick_dying",	"kicks to a CPU going offline that a task just left, or that idles with a task in its local queue, to wake its hotplug thread") \
	X(BALANCE_TAKEN,	"balance_taken", "periodic balancer moving a task off a CPU taken by real-time or deadline work") \
	X(TICK_PREEMPT,		"tick_preempt",	"slice ended at a tick: ran its ideal slice, led the queue by it, or a deferred wakee preempts") \
	X(PREEMPT_DEFERRED,	"preempt_deferred", "wakeup preemption left to the tick: the running task was protected") \
	X(BALANCE_SWAP,		"balance_swap",	"periodic balancer moving a heavy task to start a swap of two (balance_swap_min_load())") \
	X(BALANCE_ACTIVE,	"balance_active", "running task pushed off a busy SMT core to a wholly idle one (balance_push_prev())") \
	X(GROUP_UNTRACKED,	"group_untracked", "cgroups (or autogroup sessions) counted as their parent: nested too deep or no free slot (group.bpf.h)") \
	X(GROUP_LATE_FREE,	"group_late_free", "cgroups removed while a task was still counted in them: freed as it left (group_exit())") \
	X(GROUP_UNDERFLOW,	"group_underflow", "a task left a group it was not counted in, undone (a slot reused too early: must stay 0)") \
	X(GROUP_PHANTOM,	"group_phantom", "groups idle for 100 ms still adding to their parent's shares, healed by the timer (a lost group_sync_contrib() race: must stay 0)") \
	X(STARVE_RUN,		"starve_run",	"a task that waited in its queue past the starvation guard run first (vtime_serve_starving())") \
	X(WAKE_SCHED_IDLE,	"wake_sched_idle", "wakeup sent from its busy CPU to one of its LLC running only SCHED_IDLE work (sched_idle_cpu())") \
	X(PULL_TRIES,		"pull_tries",	"idle pulls tried: a CPU found its queue empty (pull.bpf.h)") \
	X(PULL_READS,		"pull_reads",	"queues an idle CPU read for a task to pull: only those marked as holding one (pull.bpf.h)") \
	X(BW_THROTTLE,		"bw_throttle",	"cgroups that used up their cpu.max quota for a period: their tasks held (bandwidth.bpf.h)") \
	X(BW_HOLD,		"bw_hold",	"tasks of a throttled cgroup held out of the queues") \
	X(BW_RELEASE,		"bw_release",	"held tasks queued again as their cgroup's quota was refilled (or its limit lifted)") \
	X(BW_LATE,		"bw_late",	"tasks of a throttled cgroup that started running (queued before the throttle): stopped at the next tick") \
	X(BW_GUARD,		"bw_guard",	"tasks of a throttled cgroup run anyway: waiting longer would pass the starvation guard") \
	X(SLICES,		"slices",	"slices granted")					\
	X(SLICE_NS,		"slice_ns",	"their total length, ns (average = this / slices)")

enum fairrs_stat {
#define FAIRRS_STAT_ID(id, name, doc)	FAIRRS_STAT_##id,
	FAIRRS_STATS(FAIRRS_STAT_ID)
#undef FAIRRS_STAT_ID
	FAIRRS_NR_STATS,
};

#ifndef __VMLINUX_H__
/* Host only (defined in intf_host.c): each counter's name and description. */
extern const char *const fairrs_stat_names[FAIRRS_NR_STATS];
extern const char *const fairrs_stat_docs[FAIRRS_NR_STATS];
#endif

/*
 * PELT signals (kernel/sched/pelt.c, struct sched_avg): geometric sums over
 * 1024 us periods decayed by y per period, y^32 = 1/2, and the averages
 * derived from them. Used per task (task storage) and per CPU queue; the
 * maths is in pelt.bpf.h.
 */
struct fairrs_pelt {
	u64	last_update_ns;	/* time the sums were last brought up to */
	u64	load_sum;	/* sum of "runnable" contributions */
	u64	runnable_sum;	/* sum of runnable-count contributions, << 10 */
	u64	util_sum;	/* sum of running contributions, << 10 */
	u32	period_contrib;	/* us already accumulated in the current period */
	u32	__pad;
	u64	load_avg;	/* load_sum scaled by weight / divider */
	u64	runnable_avg;	/* 0..1024 per runnable task */
	u64	util_avg;	/* 0..1024: fraction of time running */
};

/*
 * One CPU's run queue, as CFS's struct cfs_rq would describe it. Written by
 * the BPF side (the owner CPU for the vruntime fields, any CPU atomically for
 * the load fields), read by the daemon from .bss for stats.
 */
struct fairrs_cpu_ctx {
	/* Monotonic floor of the vruntimes queued here (cfs_rq->min_vruntime). */
	u64	min_vruntime;
	/*
	 * Least vruntime of the tasks this queue handed to the local DSQ that
	 * have not started running (valid if next_pending): CFS's tree still
	 * holds them when the previous task stops.
	 */
	u64	next_vruntime;
	u32	next_pending;
	u32	__pad_next;
	/* Sum of the weights of the runnable tasks on this queue, running included. */
	u64	load_weight;
	/* Runnable tasks on this queue, running included. */
	u32	nr_running;
	/* Those of them that are SCHED_IDLE (cfs_rq->idle_h_nr_running). */
	u32	nr_idle;
	/* Weight of the task running here, 0 when the CPU runs no scx task. */
	u32	curr_weight;
	/* vruntime of the running task when curr_stamp_ns was taken. */
	u64	curr_vruntime;
	u64	curr_stamp_ns;
	/* When the running task was picked (curr_start()). */
	u64	curr_since_ns;
	/* A wakee found the running task protected (preempt_wakeup()). */
	u32	preempt_deferred;
	/* Non-zero when the running task is SCHED_IDLE (always preemptible). */
	u32	curr_idle;
	/* The cpufreq target last set here (load_cpuperf_update()). */
	u32	perf_target;
	/* Slice most recently granted here, for stats. */
	u64	last_slice_ns;
	/* Periodic balancer's request: pull a task from this CPU's queue, or -1. */
	s32	pull_src;
	/* When that request was made (it goes stale, see balance_periodic()). */
	u64	pull_stamp_ns;
	/*
	 * Non-zero when that request is to empty a queue its CPU does not serve
	 * (cpu_taken()): any movable task goes, whatever the load gap.
	 */
	u32	pull_urgent;
	/* Failed balancing rounds before that request (balance_max_load()). */
	u32	pull_failed;
	/*
	 * Non-zero when that request is the first move of a swap: the task
	 * pulled must be at least this heavy (balance_swap_min_load()).
	 */
	u64	pull_swap_min;
	/*
	 * Active balancing (balance_active()): the wholly idle core's CPU the
	 * task running here should move to at its next dispatch, or -1; and
	 * the CPU it is moving to once that dispatch let it go, for the
	 * ops.enqueue that follows, or -1.
	 */
	s32	push_dst;
	s32	push_to;
	/* When a task of ours last stopped running here (curr_stop()). */
	u64	left_ns;
	/* When the balancer last found this CPU taken by real-time or deadline work. */
	u64	taken_ns;
	/* Balancing round in which this queue last gave a task away. */
	u64	lb_src_round;
	/* When this CPU last looked through its queue for starving tasks. */
	u64	starve_scan_ns;
	/* Non-zero while the CPU is online (ops.cpu_online / cpu_offline). */
	u32	online;
	/*
	 * Sum of the PELT load_avg of the runnable tasks queued here (CFS's
	 * runnable load): smooth like each task's history, yet it moves with a
	 * task the moment the task changes queue. The balancer compares these.
	 */
	s64	runnable_load;
	/* The queue's own PELT signals (load = queued weight, runnable = nr_running). */
	struct fairrs_pelt pelt;
	/*
	 * For the stats' live fairness (entitle.bpf.h): the integral of
	 * dt / load_weight (cfs_fair_step()), and the time it was brought to.
	 */
	u64	fair_clock;
	u64	fair_stamp_ns;
} __attribute__((aligned(64)));

/*
 * One cgroup with the cpu controller (a task group), as group.bpf.h keeps it
 * in its slot of the .bss array `groups`, read by the daemon for stats. The
 * counters are machine-wide and changed atomically by any CPU.
 */
struct fairrs_group {
	/*
	 * The cgroup's id (its kernfs inode number), or an autogroup's id with
	 * the top bit set (--autogroup); 0 marks a free slot.
	 */
	u64	cgid;
	/* Slot of its parent, -1 for the root cgroup. */
	s32	parent;
	/* Depth below the root (0 for the root). */
	u32	level;
	/* cpu.weight (1..10000), and the same in load units: tg->shares. */
	u32	cpu_weight;
	u32	shares;
	/* Times the slot was freed: a task's reference to it is stale when this moved. */
	u32	gen;
	/* Non-zero once its cgroup went offline; freed when nothing counts in it. */
	u32	dead;
	/* cpu.idle: weighted as SCHED_IDLE, and its tasks count as SCHED_IDLE tasks. */
	u32	idle;
	u32	__pad;
	/* Runnable tasks in its whole subtree. */
	s64	nr_runnable;
	/* Sum of the weights of its own runnable tasks (not its children's). */
	s64	task_load;
	/* Sum of what its children contribute (their shares while runnable). */
	s64	child_shares;
	/* What it contributes to its parent's child_shares: shares or 0. */
	s64	contrib;
	/* CPU time its subtree's tasks have run, ns (for the stats' shares). */
	u64	runtime_ns;
	/* When a task of its subtree last became runnable (autogroup reaping, group_tend()). */
	u64	last_runnable_ns;
	/* When the slot was last freed: not taken again for a while (group_alloc()). */
	u64	freed_ns;
	/*
	 * cpu.max and cpu.max.burst (bandwidth.bpf.h), ns; quota 0: no limit.
	 * runtime is what is left of this period's quota (below 0: an overrun,
	 * repaid from the next); throttled_at is when it ran out, 0 while not.
	 */
	u64	bw_quota_ns;
	u64	bw_period_ns;
	u64	bw_burst_ns;
	s64	bw_runtime_ns;
	u64	bw_throttled_at;
	/* As cpu.stat: periods with a limit, periods throttled, time throttled. */
	u64	bw_nr_periods;
	u64	bw_nr_throttled;
	u64	bw_throttled_ns;
	/* When the period timer fires next (absolute, CLOCK_MONOTONIC). */
	u64	bw_next_ns;
} __attribute__((aligned(64)));	/* each slot on lines of its own: no false sharing between groups */

/*
 * One task as the dump_tasks iterator reports it to the daemon (for --top and
 * the live fairness figures), with its PELT averages decayed to the moment of
 * the dump.
 */
struct fairrs_task_dump {
	s32	pid;
	s32	nice;
	u32	weight;		/* its own load weight (nice, policy) */
	s32	queue_cpu;	/* CPU whose queue holds it, -1 before first placement */
	u32	on_queue;	/* runnable (queued or running) */
	u32	group_weight;	/* its weight seen from the root (group.bpf.h) */
	s32	group;		/* slot of the group it counts in, -1 for none */
	u32	__pad;
	u64	exec_ns;	/* total CPU time (se.sum_exec_runtime) */
	u64	runnable_ns;	/* total time spent runnable under scx_fairrs */
	s64	vlag_ns;	/* vruntime - its queue's min_vruntime */
	u64	load_avg;
	u64	runnable_avg;
	u64	util_avg;
	u64	nr_migrations;	/* queue changes under scx_fairrs */
	u64	entitled_ns;	/* CPU time owed by weight while runnable (entitle.bpf.h) */
	char	comm[16];
};

#endif /* __FAIRRS_INTF_H */
