/* SPDX-License-Identifier: GPL-2.0 */
/*
 * What each task is owed, for the stats' live fairness (stats.rs): on each
 * CPU's queue every runnable task is owed CPU time at the rate weight /
 * load_weight, CFS's per-queue share (cfs_fair_step(), cfs_fair_entitled()).
 * Each queue keeps a fair clock, the integral of dt / load_weight, brought
 * up to date before every change of its load; a task adds weight x the
 * clock's advance for each stretch it is runnable on one queue, settled when
 * it leaves the queue, changes weight or queue, and at its ticks. The daemon
 * compares that with the CPU time the task got, across migrations. Nothing
 * in the policy reads it. O(1): one compare-and-swap, one division and one
 * atomic add per clock update.
 */
#ifndef __FAIRRS_ENTITLE_BPF_H
#define __FAIRRS_ENTITLE_BPF_H

#include "fairrs.bpf.h"
#include "cfs.bpf.h"
#include "load.bpf.h"

/*
 * Bring @cctx's fair clock to now at its load as it stands, from any CPU
 * (a task leaving a queue is settled by the CPU it moves to). The stretch
 * since the last update is claimed by compare-and-swap on the stamp, so it
 * is counted once; a CPU that loses the race reads the clock as it is.
 */
static __always_inline u64 entitle_clock(struct fairrs_cpu_ctx *cctx)
{
	u64 stamp = READ_ONCE(cctx->fair_stamp_ns);
	u64 now = load_now();
	u64 step;

	if ((s64)(now - stamp) <= 0 ||
	    __sync_val_compare_and_swap(&cctx->fair_stamp_ns, stamp, now) != stamp)
		return READ_ONCE(cctx->fair_clock);
	step = cfs_fair_step(now - stamp, READ_ONCE(cctx->load_weight));
	if (!step)
		return READ_ONCE(cctx->fair_clock);
	return __sync_fetch_and_add(&cctx->fair_clock, step) + step;
}

/* The same without updating it (the task dump reads it). */
static __always_inline u64 entitle_clock_peek(const struct fairrs_cpu_ctx *cctx, u64 now)
{
	u64 stamp = READ_ONCE(cctx->fair_stamp_ns);
	u64 clock = READ_ONCE(cctx->fair_clock);

	if ((s64)(now - stamp) > 0)
		clock += cfs_fair_step(now - stamp, READ_ONCE(cctx->load_weight));
	return clock;
}

/* What a task of @weight is owed since its queue's clock read @from. */
static __always_inline u64 entitle_owed(u32 weight, u64 from, u64 clock)
{
	/* Signed: a clock read in a lost race may trail a stamp taken just before. */
	return (s64)(clock - from) > 0 ? cfs_fair_entitled(weight, clock - from) : 0;
}

/* @tctx becomes runnable on @cctx's queue: call before its weight joins the load. */
static __always_inline void entitle_join(struct task_ctx *tctx, struct fairrs_cpu_ctx *cctx)
{
	tctx->fair_clock = entitle_clock(cctx);
}

/*
 * Add what @tctx, runnable on its queue, was owed since it was last settled;
 * call before its weight or queue changes, or it stops being runnable.
 */
static __always_inline void entitle_settle(struct task_ctx *tctx)
{
	struct fairrs_cpu_ctx *cctx = cpu_ctx(tctx->queue_cpu);
	u64 clock;

	if (!cctx)
		return;
	clock = entitle_clock(cctx);
	tctx->fair_ns += entitle_owed(tctx->weight, tctx->fair_clock, clock);
	tctx->fair_clock = clock;
}

#endif /* __FAIRRS_ENTITLE_BPF_H */
