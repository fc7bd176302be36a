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
};

/*
 * Event counters, one per-CPU u64 each in the `stats` map; the daemon sums
 * them over CPUs.
 */
enum fairrs_stat {
	FAIRRS_STAT_ENQUEUE,		/* ops.enqueue into a per-CPU vtime queue */
	FAIRRS_STAT_WAKE_IDLE,		/* wakeup placed straight on an idle CPU */
	FAIRRS_STAT_DISPATCH,		/* a CPU took the head of its own queue */
	FAIRRS_STAT_KEEP_PREV,		/* slice expired, prev still leftmost: ran on */
	FAIRRS_STAT_IDLE_PULL,		/* an idle CPU pulled a task from another queue */
	FAIRRS_STAT_PREEMPT,		/* wakeup preemption kicks */
	FAIRRS_STAT_MIGRATE,		/* vruntime renormalised to another CPU's queue */
	FAIRRS_STAT_LAG_CLAMP,		/* starvation guard shortened a task's lag */
	FAIRRS_NR_STATS,
};

/*
 * One CPU's run queue, as CFS's struct cfs_rq would describe it. Written by
 * the BPF side (the owner CPU for the vruntime fields, any CPU atomically for
 * the load fields), read by the daemon from .bss for stats.
 */
struct fairrs_cpu_ctx {
	/* Monotonic floor of the vruntimes queued here (cfs_rq->min_vruntime). */
	u64	min_vruntime;
	/* Sum of the weights of the runnable tasks on this queue, running included. */
	u64	load_weight;
	/* Runnable tasks on this queue, running included. */
	u32	nr_running;
	/* Weight of the task running here, 0 when the CPU runs no scx task. */
	u32	curr_weight;
	/* vruntime of the running task when curr_stamp_ns was taken. */
	u64	curr_vruntime;
	u64	curr_stamp_ns;
	/* Non-zero when the running task is SCHED_IDLE (always preemptible). */
	u32	curr_idle;
	u32	__pad;
	/* Slice most recently granted here, for stats. */
	u64	last_slice_ns;
} __attribute__((aligned(64)));

#endif /* __FAIRRS_INTF_H */
