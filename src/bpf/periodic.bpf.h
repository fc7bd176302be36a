/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The periodic balancer (CFS's load_balance() / detach_tasks()): every
 * balance_interval the balancing timer (balance.bpf.h) compares the queues'
 * PELT runnable loads (load.bpf.h) and, when
 * busiest > local * imbalance_pct / 100 (numa_imbalance_pct across nodes),
 * asks the least loaded CPU to pull one waiting task whose load is at most
 * half the gap: moving it narrows the gap, moving anything heavier would only
 * swap the imbalance. After failed rounds the bound relaxes, and a queue
 * stuck with only heavy tasks starts a swap of two (balance_swap_min_load()).
 * A task moved by the balancer is not moved again in the next round. The
 * timer only decides and kicks; the pull itself happens in the puller's
 * ops.dispatch (balance_serve_request()), the one context where moving a
 * task between queues is always allowed.
 *
 * A CPU's pull request (its pull_* fields) is this balancer's mailbox.
 */
#ifndef __FAIRRS_PERIODIC_BPF_H
#define __FAIRRS_PERIODIC_BPF_H

#include "fairrs.bpf.h"
#include "share.bpf.h"
#include "pull.bpf.h"
#include "stats.bpf.h"
#include "kick.bpf.h"

/* Rounds of the periodic balancer, starting at 1 (0 marks "never moved"). */
u64 lb_round = 1;
/*
 * Consecutive rounds that found an imbalance but no task light enough to
 * move (CFS's sd->nr_balance_failed), capped at BALANCE_MAX_FAILED; see
 * share_max_load().
 */
u32 lb_failed;

/* A queue's load as the balancer sees it: its PELT runnable load. */
static __always_inline u64 balance_load(const struct fairrs_cpu_ctx *cctx)
{
	s64 load = READ_ONCE(cctx->runnable_load);

	return load > 0 ? load : 0;
}

/* How much more load @sctx's queue carries than @dctx's, 0 if none. */
static __always_inline u64 balance_gap(const struct fairrs_cpu_ctx *sctx,
				       const struct fairrs_cpu_ctx *dctx)
{
	u64 s = balance_load(sctx), d = balance_load(dctx);

	return s > d ? s - d : 0;
}

/*
 * The heaviest task one move from @src to @dst may carry after @failed
 * rounds: half their load gap, relaxed per failed round (share_max_load()).
 */
static __always_inline u64 balance_max_load(const struct fairrs_cpu_ctx *sctx,
					    const struct fairrs_cpu_ctx *dctx, u32 failed)
{
	u64 gap = balance_gap(sctx, dctx);

	/* No gap: nothing may move, and the tunable is not read. */
	if (!gap)
		return 0;
	return share_max_load(gap, READ_ONCE(tun.imbalance_pct), failed);
}

/*
 * The first move of a swap, for a pair whose gap no single move can narrow
 * within share_max_load(): @src holds only tasks too heavy for it (two
 * nice-0 tasks, 2048), @dst only light ones (three nice-5 tasks, 1005), and
 * the CPUs in between are even. CFS gets out of this because its relaxed
 * bound (shr_bound(load, nr_balance_failed), Linux v6.5
 * kernel/sched/fair.c detach_tasks()) has no cap; it then also moves equal
 * tasks back and forth for ever (5 hogs on 4 CPUs). Here a heavy task may
 * move when the move still lowers the pair's larger load, by at least 1/64
 * of the gap (share_swap_max_load()), and @dst then holds a task light
 * enough to go the other way at once: one at most half the new gap,
 * 2 * load - gap (share_swap_min_load()). So the swap completes in the next
 * rounds, each move lowers the sum of squared loads, and a lone task is never
 * moved onto a lone task.
 *
 * Returns the least load a task must carry for that, or 0 when nothing waits
 * in @dst's queue (whatever runs there cannot be moved by the balancer). A
 * global function (see balance_find_src()): scalar arguments only.
 */
__noinline u64 balance_swap_min_load(s32 dst, u64 gap)
{
	struct task_struct *p;
	s64 lightest = -1;

	bpf_rcu_read_lock();
	bpf_for_each(scx_dsq, p, cpu_dsq(dst), 0) {
		struct task_ctx *tctx = task_ctx(p);

		if (tctx && (lightest < 0 || tctx->load_contrib < lightest))
			lightest = tctx->load_contrib;
	}
	bpf_rcu_read_unlock();
	if (lightest < 0)
		return 0;
	return share_swap_min_load(lightest, gap);
}

/*
 * Would the periodic balancer move @p from its queue to @dst now, carrying a
 * load within [@min_load, @max_load]? From a queue its CPU does not serve
 * (@urgent), any task that may run on @dst goes: it cannot run where it is,
 * so neither its load nor its cache matter.
 */
static __always_inline bool balance_periodic_candidate(struct task_struct *p,
						       struct task_ctx *tctx, s32 dst,
						       u64 min_load, u64 max_load, bool urgent,
						       u64 now)
{
	if (urgent)
		return balance_can_move(p, tctx, dst, true, now);
	if (tctx->load_contrib > (s64)max_load || tctx->load_contrib < (s64)min_load)
		return false;
	/* Never bounce: a task the last round moved stays put this round. */
	if (tctx->lb_round && lb_round - tctx->lb_round <= 1)
		return false;
	return balance_can_move(p, tctx, dst, false, now);
}

/*
 * Serve a pull request the periodic balancer left for @dst: move one task from
 * the requested queue to @dst's local queue, so it runs next here. Returns
 * true when a task was moved.
 *
 * The task goes to the local queue, not to @dst's vruntime queue: the kernel
 * then migrates it to @dst's run queue at once, which keeps every vruntime
 * queue holding only tasks of its own CPU's run queue. A task parked in
 * another CPU's queue while still on the old run queue would be stranded there
 * if that CPU went offline (the kernel only moves a dying CPU's own tasks).
 * The task's context is left alone: this CPU does not hold the task's
 * run-queue lock; ops.running rehomes its vruntime and load, as for any pull.
 */
static __always_inline bool balance_serve_request(s32 dst, struct fairrs_cpu_ctx *dctx)
{
	struct fairrs_cpu_ctx *sctx;
	struct task_struct *p;
	u64 max_load, now;
	s32 src = READ_ONCE(dctx->pull_src);
	bool urgent;
	u32 failed;
	u64 swap_min;

	if (src < 0)
		return false;
	/* Taken atomically: a newer request written meanwhile is served, not lost. */
	src = __sync_lock_test_and_set(&dctx->pull_src, -1);
	if (src < 0)
		return false;
	urgent = READ_ONCE(dctx->pull_urgent);
	failed = READ_ONCE(dctx->pull_failed);
	swap_min = READ_ONCE(dctx->pull_swap_min);
	sctx = cpu_ctx(src);
	if (!sctx || src == dst)
		return false;
	max_load = swap_min ? share_swap_max_load(balance_gap(sctx, dctx)) :
			      balance_max_load(sctx, dctx, failed);
	if (!max_load && !urgent)
		return false;
	now = scx_bpf_now();

	bpf_for_each(scx_dsq, p, cpu_dsq(src), 0) {
		struct task_ctx *tctx = task_ctx(p);

		if (!tctx || tctx->queue_cpu != src ||
		    !balance_periodic_candidate(p, tctx, dst, swap_min, max_load, urgent, now))
			continue;
		if (scx_bpf_dsq_move(BPF_FOR_EACH_ITER, p, SCX_DSQ_LOCAL, 0)) {
			/* Only a marker against bouncing; races are harmless. */
			tctx->lb_round = lb_round;
			sctx->lb_src_round = lb_round;
			stat_inc(FAIRRS_STAT_MIGRATE_PERIODIC);
			return true;
		}
	}
	return false;
}

/*
 * Does @cctx's CPU still owe a pull the balancer asked of it? A request is
 * served at that CPU's next ops.dispatch, within one slice; a CPU that does
 * not dispatch (real-time work monopolising it) must not hold the balancer
 * up. While a request is fresh its CPU is passed over as a destination, so
 * the balancer moves on to the next one; after two periods it is stale and
 * may be replaced by a current decision (the puller re-checks the gap when it
 * finally serves one either way).
 */
static __always_inline bool pull_pending(const struct fairrs_cpu_ctx *cctx, u64 now)
{
	return cctx->pull_src >= 0 &&
	       now - cctx->pull_stamp_ns < 2 * READ_ONCE(tun.sched_latency_ns);
}

/*
 * Is @cpu held by work of a higher scheduling class (real-time, deadline)?
 * CFS counts the time RT and DL take from a CPU as lost capacity
 * (scale_rt_capacity(), Linux v6.5 kernel/sched/fair.c) and balances load
 * per unit of capacity, so such a CPU gets little fair work and gives its
 * queued tasks away. Here it is all or nothing: a CPU that is not idle, runs
 * no task of ours and has run none for sched_latency is taken. It does not
 * dispatch while the higher class runs, so its queue is not served: the
 * balancer sends it nothing and empties its queue (ops.cpu_release would say
 * so directly, but 7.x deprecates it).
 */
static __always_inline bool cpu_taken(s32 cpu, const struct fairrs_cpu_ctx *cctx,
				      const struct cpumask *idle, u64 now)
{
	return !READ_ONCE(cctx->curr_weight) && !bpf_cpumask_test_cpu(cpu, idle) &&
	       now - READ_ONCE(cctx->left_ns) > READ_ONCE(tun.sched_latency_ns);
}

/*
 * The choice balance_find_src() and balance_find_dst() are making, kept in
 * global data rather than in registers: the verifier then does not carry each
 * candidate's figures from one loop iteration to the next as distinct states
 * (its budget: docs/DESIGN.md, "Verifier"). One balancing timer, so one round
 * at a time uses it.
 */
struct balance_pick {
	u64	score;		/* the source's load, or the destination's margin */
	s32	cpu;		/* the CPU chosen so far, -1 for none */
	u32	dist;		/* the destination's distance to the source */
	u32	taken;		/* the source is a taken CPU */
};
struct balance_pick lb_pick;

static __always_inline void balance_pick_start(void)
{
	lb_pick.score = 0;
	lb_pick.cpu = -1;
	lb_pick.dist = 3;
	lb_pick.taken = 0;
}

/* Flag in balance_find_src()'s result: the source CPU is taken. */
#define BALANCE_SRC_TAKEN	(1 << 30)

/*
 * Sources a round tries before it gives up: one whose waiting tasks may not
 * run on the destination is passed over for the next (CFS's LBF_ALL_PINNED),
 * so a CPU full of pinned work cannot stop balancing for the whole machine.
 */
#define BALANCE_SRC_TRIES	4
/* The round in which each CPU's queue was found to hold only pinned tasks. */
u64 lb_pinned[FAIRRS_MAX_CPUS];

/*
 * The balancer's source: the queue with a task waiting that most needs to
 * give one. A queue whose CPU is taken comes first (its tasks wait for
 * nothing), then the most loaded; queues this round found all pinned are
 * passed over. Returns the CPU, with BALANCE_SRC_TAKEN set when it is taken,
 * or -1.
 *
 * This and balance_find_dst() are global functions: the verifier checks each
 * once, on its own, instead of once per path through the balancer that calls
 * them (its budget: docs/DESIGN.md, "Verifier"). Hence scalar arguments only,
 * and the idle mask taken here.
 */
__noinline s32 balance_find_src(u64 now)
{
	const struct cpumask *idle = scx_bpf_get_idle_cpumask();
	s32 cpu;

	balance_pick_start();
	bpf_for(cpu, 0, nr_cpu_ids) {
		struct fairrs_cpu_ctx *cctx = cpu_ctx(cpu);
		bool taken;

		if (!cctx || !cctx->online)
			continue;
		taken = cpu_taken(cpu, cctx, idle, now);
		if (taken)
			WRITE_ONCE(cctx->taken_ns, now);
		if (lb_pinned[cpu & (FAIRRS_MAX_CPUS - 1)] == lb_round || !scx_bpf_dsq_nr_queued(cpu_dsq(cpu)))
			continue;
		if (lb_pick.taken && !taken)
			continue;
		/*
		 * A queue that gave a task last round still counts its load until
		 * the puller runs it: let it settle before it gives again.
		 */
		if (!taken && lb_round - cctx->lb_src_round <= 1)
			continue;
		if ((taken && !lb_pick.taken) || balance_load(cctx) > lb_pick.score) {
			lb_pick.score = balance_load(cctx);
			lb_pick.taken = taken;
			lb_pick.cpu = cpu;
		}
	}
	scx_bpf_put_idle_cpumask(idle);
	if (lb_pick.cpu < 0)
		return -1;
	return lb_pick.taken ? lb_pick.cpu | BALANCE_SRC_TAKEN : lb_pick.cpu;
}

/*
 * The balancer's destination for @src, whose load is @most: the CPU whose
 * load is furthest below it by the threshold of their distance, passing over
 * CPUs that still owe a pull or are taken; for an @urgent (taken) source
 * simply the least loaded one. Returns the CPU or -1. A global function, see
 * balance_find_src().
 */
__noinline s32 balance_find_dst(s32 src, u64 most, u32 urgent, u64 now)
{
	const struct cpumask *idle = scx_bpf_get_idle_cpumask();
	u32 dist, pct;
	u64 margin;
	s32 cpu;

	balance_pick_start();
	bpf_for(cpu, 0, nr_cpu_ids) {
		struct fairrs_cpu_ctx *cctx = cpu_ctx(cpu);

		if (cpu == src || !cctx || !cctx->online || pull_pending(cctx, now) ||
		    cpu_taken(cpu, cctx, idle, now))
			continue;
		dist = topo_distance(src, cpu);
		pct = dist == 2 ? tun.numa_imbalance_pct : tun.imbalance_pct;
		if (urgent) {
			margin = ~0ULL - balance_load(cctx);
		} else {
			if (most * 100 <= balance_load(cctx) * pct)
				continue;
			margin = most * 100 - balance_load(cctx) * pct;
		}
		if (margin > lb_pick.score || (margin == lb_pick.score && dist < lb_pick.dist)) {
			lb_pick.score = margin;
			lb_pick.dist = dist;
			lb_pick.cpu = cpu;
		}
	}
	scx_bpf_put_idle_cpumask(idle);
	return lb_pick.cpu;
}

/*
 * Does @src's queue hold a task the periodic balancer would move to @dst,
 * carrying a load within [@min_load, @max_load]? A global function (see
 * balance_find_src()): the balancer asks it twice.
 */
__noinline int balance_find_task(s32 src, s32 dst, u64 min_load, u64 max_load, u32 urgent)
{
	struct task_struct *p;
	u64 now = scx_bpf_now();
	int found = 0;

	/*
	 * A timer callback is not an RCU read-side section by itself, and
	 * iterating a DSQ needs one (older kernels' verifiers insist).
	 */
	bpf_rcu_read_lock();
	bpf_for_each(scx_dsq, p, cpu_dsq(src), 0) {
		struct task_ctx *tctx = task_ctx(p);

		if (tctx && balance_periodic_candidate(p, tctx, dst, min_load, max_load, urgent, now)) {
			found = 1;
			break;
		}
	}
	bpf_rcu_read_unlock();
	return found;
}

/*
 * One round of periodic balancing: find the queue that most needs to give a
 * task, the CPU that should take it, and whether a task there is worth
 * moving (after failed rounds, whether a swap can start); if so, leave the
 * pull request and wake the puller if it idles (a busy puller serves the
 * request at its next dispatch, within one slice).
 */
static __always_inline void balance_periodic(void)
{
	struct fairrs_cpu_ctx *sctx = NULL, *dctx = NULL;
	u64 max_load, gap, swap_min = 0, now;
	s32 src = -1, dst = -1, try;
	bool urgent = false, found = false;

	lb_round++;
	now = scx_bpf_now();

	bpf_for(try, 0, BALANCE_SRC_TRIES) {
		src = balance_find_src(now);
		if (src < 0)
			return;
		urgent = src & BALANCE_SRC_TAKEN;
		src &= ~BALANCE_SRC_TAKEN;
		sctx = cpu_ctx(src);
		if (!sctx)
			return;
		dst = balance_find_dst(src, balance_load(sctx), urgent, now);
		dctx = cpu_ctx(dst);
		if (dst < 0 || !dctx)
			return;
		/* Any task at all that may go there (load and cache aside)? */
		if (balance_find_task(src, dst, 0, 0, 1)) {
			found = true;
			break;
		}
		lb_pinned[src & (FAIRRS_MAX_CPUS - 1)] = lb_round;
	}
	if (!found || !sctx || !dctx)
		return;

	max_load = balance_max_load(sctx, dctx, lb_failed);
	if (!balance_find_task(src, dst, 0, max_load, urgent)) {
		if (lb_failed < BALANCE_MAX_FAILED) {
			lb_failed++;
			return;
		}
		/* Relaxed as far as it goes and still stuck: start a swap? */
		if (urgent)
			return;
		gap = balance_gap(sctx, dctx);
		max_load = share_swap_max_load(gap);
		if (gap)
			swap_min = balance_swap_min_load(dst, gap);
		if (!swap_min || !balance_find_task(src, dst, swap_min, max_load, 0))
			return;
		stat_inc(FAIRRS_STAT_BALANCE_SWAP);
	}

	WRITE_ONCE(dctx->pull_urgent, urgent);
	WRITE_ONCE(dctx->pull_failed, lb_failed);
	WRITE_ONCE(dctx->pull_swap_min, swap_min);
	WRITE_ONCE(dctx->pull_stamp_ns, now);
	lb_failed = 0;
	/* Published last, and ordered after the rest (the puller reads it first). */
	__sync_lock_test_and_set(&dctx->pull_src, src);
	stat_inc(urgent ? FAIRRS_STAT_BALANCE_TAKEN : FAIRRS_STAT_BALANCE_REQ);
	kick_cpu(dst, SCX_KICK_IDLE);
}

/* @cctx's CPU owes no pull (at load, and once it is offline). */
static __always_inline void balance_periodic_reset(struct fairrs_cpu_ctx *cctx)
{
	cctx->pull_src = -1;
}

#endif /* __FAIRRS_PERIODIC_BPF_H */
