/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Spreading work over CPUs, as CFS's load balancer does for its per-CPU run
 * queues: where a waking task goes, what a CPU that runs dry pulls, and a
 * periodic balancer that evens out queues that stay unequal.
 *
 * - Wakeups go to an idle CPU when there is one: the kernel's default
 *   selection (scx_bpf_select_cpu_dfl()) tries the previous CPU, then a fully
 *   idle SMT core and any idle CPU in the previous CPU's LLC, then its NUMA
 *   node, then anywhere allowed, and applies wake-affine placement for
 *   synchronous wakeups. It is the kernel's own topology-aware code.
 * - A CPU whose queue is empty pulls (newidle_balance()): from the longest
 *   queue in its LLC first, then its node, then anywhere, skipping cache-hot
 *   tasks (ran within migration_cost) unless the queue has several waiting.
 * - Every balance_interval a BPF timer compares the queues' PELT runnable
 *   loads (load.bpf.h) and, when
 *   busiest > local * imbalance_pct / 100 (numa_imbalance_pct across nodes),
 *   asks the least loaded CPU to pull one waiting task whose load is at most
 *   half the gap (load_balance() / detach_tasks()): moving it narrows the gap,
 *   moving anything heavier would only swap the imbalance. After failed
 *   rounds the bound relaxes, and a queue stuck with only heavy tasks starts
 *   a swap of two (balance_swap_min_load()). A task moved by the
 *   balancer is not moved again in the next round. The timer only decides and
 *   kicks; the pull itself happens in the puller's ops.dispatch, the one
 *   context where moving a task between queues is always allowed.
 * - On SMT machines the same timer does active balancing: a task running
 *   alone on a core whose siblings are all busy, while a whole core of its
 *   LLC idles, is pushed there (balance_active()): two hogs on the threads of
 *   one core would otherwise share it for ever, since nothing waits in a
 *   queue for the periodic balancer or an idle CPU to pull.
 */
#ifndef __FAIRRS_BALANCE_BPF_H
#define __FAIRRS_BALANCE_BPF_H

#include "fairrs.bpf.h"
#include "vtime.bpf.h"
#include "group.bpf.h"
#include "stats.bpf.h"
#include "kick.bpf.h"

/* Rounds of the periodic balancer, starting at 1 (0 marks "never moved"). */
u64 lb_round = 1;
/*
 * Consecutive rounds that found an imbalance but no task light enough to
 * move (CFS's sd->nr_balance_failed), capped; see balance_max_load().
 */
u32 lb_failed;
#define BALANCE_MAX_FAILED	4

struct balance_timer {
	struct bpf_timer timer;
};

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, u32);
	__type(value, struct balance_timer);
} balance_timer SEC(".maps");

/* Topological distance: 0 same LLC, 1 same NUMA node, 2 another node. */
#define TOPO_DISTANCES	3

static __always_inline u32 topo_distance(s32 a, s32 b)
{
	if (topo_llc(a) == topo_llc(b))
		return 0;
	return topo_node(a) == topo_node(b) ? 1 : 2;
}

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
 * May queued @p move to @dst? Never against its affinity or while migration is
 * disabled (inserting it into another CPU's local queue would be a runtime
 * error that ejects the scheduler); not while cache-hot unless @allow_hot
 * (can_migrate_task() / task_hot()).
 */
static __always_inline bool balance_can_move(struct task_struct *p, struct task_ctx *tctx,
					     s32 dst, bool allow_hot, u64 now)
{
	if (!bpf_cpumask_test_cpu(dst, p->cpus_ptr) || is_migration_disabled(p))
		return false;
	if (!allow_hot && tctx->last_ran_ns && now - tctx->last_ran_ns < tun.migration_cost_ns)
		return false;
	return true;
}

/* Move the first movable task of @src's queue to @dst's local queue. */
static __always_inline bool balance_pull_to_local(s32 dst, s32 src, bool allow_hot)
{
	struct task_struct *p;
	u64 now = scx_bpf_now();

	bpf_for_each(scx_dsq, p, cpu_dsq(src), 0) {
		struct task_ctx *tctx = task_ctx(p);

		if (!tctx || !balance_can_move(p, tctx, dst, allow_hot, now))
			continue;
		if (scx_bpf_dsq_move(BPF_FOR_EACH_ITER, p, SCX_DSQ_LOCAL, 0)) {
			/* ops.running rehomes its vruntime and load. */
			stat_inc(FAIRRS_STAT_MIGRATE_IDLE);
			return true;
		}
	}
	return false;
}

/*
 * @cpu has nothing to run: pull from the longest queue at the nearest
 * topological distance that has something to give. One pass over the CPUs
 * finds the longest queue at each distance (this runs every time a CPU goes
 * idle, so it reads each queue's length once, not once per distance).
 */
static __always_inline bool balance_idle_pull(s32 cpu)
{
	u32 most[TOPO_DISTANCES] = {}, dist, n;
	s32 busiest[TOPO_DISTANCES] = { -1, -1, -1 }, i;

	bpf_for(i, 0, nr_cpu_ids) {
		if (i == cpu || !(n = scx_bpf_dsq_nr_queued(cpu_dsq(i))))
			continue;
		dist = topo_distance(cpu, i);
		if (dist < TOPO_DISTANCES && n > most[dist]) {
			most[dist] = n;
			busiest[dist] = i;
		}
	}
	for (dist = 0; dist < TOPO_DISTANCES; dist++) {
		if (busiest[dist] < 0)
			continue;
		/* Several tasks waiting there: a large imbalance, hot or not. */
		if (balance_pull_to_local(cpu, busiest[dist], most[dist] >= 2))
			return true;
	}
	return false;
}

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
 * The heaviest task one move from @src to @dst may carry: half their load gap,
 * so that the move narrows the gap instead of swapping it. After @failed
 * rounds in which no task was that light, the bound doubles per round, as
 * CFS's detach_tasks() compares shr_bound(load, nr_balance_failed) with the
 * imbalance (Linux v6.5 kernel/sched/fair.c): two nice-0 tasks on one CPU and
 * two nice-5 on another are stuck under the half-gap rule, and a swap needs a
 * heavier task to move first. It never exceeds the gap less the imbalance
 * threshold, so the move still shrinks the gap by a real margin: equal tasks
 * (one CPU with two of them, the others with one) never ping-pong.
 */
static __always_inline u64 balance_max_load(const struct fairrs_cpu_ctx *sctx,
					    const struct fairrs_cpu_ctx *dctx, u32 failed)
{
	u64 gap = balance_gap(sctx, dctx), cap;

	if (!gap)
		return 0;
	cap = gap * 100 / READ_ONCE(tun.imbalance_pct);
	failed = failed < BALANCE_MAX_FAILED ? failed : BALANCE_MAX_FAILED;
	gap = (gap / 2) << failed;
	return gap < cap || !failed ? gap : cap;
}

/*
 * The first move of a swap, for a pair whose gap no single move can narrow
 * within balance_max_load(): @src holds only tasks too heavy for it (two
 * nice-0 tasks, 2048), @dst only light ones (three nice-5 tasks, 1005), and
 * the CPUs in between are even. CFS gets out of this because its relaxed
 * bound (shr_bound(load, nr_balance_failed), Linux v6.5
 * kernel/sched/fair.c detach_tasks()) has no cap; it then also moves equal
 * tasks back and forth for ever (5 hogs on 4 CPUs). Here a heavy task may
 * move when the move still lowers the pair's larger load, by at least 1/64
 * of the gap (balance_swap_max_load()), and @dst then holds a task light
 * enough to go the other way at once: one at most half the new gap,
 * 2 * load - gap. So the swap completes in the next rounds, each move lowers
 * the sum of squared loads, and a lone task is never moved onto a lone task.
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
	/* load > lightest + gap / 2, i.e. lightest < (2 * load - gap) / 2 */
	return lightest + gap / 2 + 1;
}

/* The heaviest task the first move of a swap may carry: just under the @gap. */
static __always_inline u64 balance_swap_max_load(u64 gap)
{
	return gap - gap / 64;
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
	max_load = swap_min ? balance_swap_max_load(balance_gap(sctx, dctx)) :
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
 * (with them in registers, 6.12 ran out of its million-instruction budget).
 * One balancing timer, so one round at a time uses it.
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
 * them (inlined, 6.12's verifier ran out of its million-instruction budget).
 * Hence scalar arguments only, and the idle mask taken here.
 */
__noinline s32 balance_find_src(u64 now)
{
	const struct cpumask *idle = scx_bpf_get_idle_cpumask();
	s32 cpu;

	balance_pick_start();
	bpf_for(cpu, 0, nr_cpu_ids) {
		struct fairrs_cpu_ctx *cctx = cpu_ctx(cpu);
		bool taken;

		if (!cctx || !cctx->online || lb_pinned[cpu & (FAIRRS_MAX_CPUS - 1)] == lb_round ||
		    !scx_bpf_dsq_nr_queued(cpu_dsq(cpu)))
			continue;
		taken = cpu_taken(cpu, cctx, idle, now);
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
		max_load = balance_swap_max_load(gap);
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

/*
 * Active balancing (CFS's active_load_balance_cpu_stop(), Linux v6.5
 * kernel/sched/fair.c), for the one imbalance no queue shows: on an SMT
 * machine, a core whose CPUs all run work (two hogs on the two threads of a
 * core) beside a core that is wholly idle in the same LLC. Each queue holds
 * only its running task, so neither an idle CPU's pull nor the periodic
 * balancer has anything to move, yet both tasks run at SMT speed while a
 * core sleeps. CFS sees it at the LLC level, where each core is a group:
 * the busy core has two tasks and the idle one none, no waiting task can be
 * detached, and after cache_nice_tries + 2 failed attempts
 * (need_active_balance()) the stopper thread of the busy CPU migrates its
 * running task.
 *
 * Here the timer finds such a pair (balance_find_active()); once it has seen
 * one in BALANCE_ACTIVE_ROUNDS consecutive rounds it asks the busy CPU to
 * push (push_dst) and kicks it with SCX_KICK_PREEMPT. That CPU's
 * ops.dispatch lets its task go instead of granting a fresh slice
 * (balance_push_prev()); with SCX_OPS_ENQ_LAST (set by the daemon on SMT
 * machines only) the kernel then hands the task to ops.enqueue, which inserts
 * it into the idle CPU's local queue (balance_enqueue_last()). Afterwards
 * each core has one task: nothing to push back. The search stays in the
 * LLC, as CFS's does at the LLC level; across LLCs and nodes CFS tolerates
 * the imbalance of a couple of tasks (imb_numa_nr), and so do we.
 */
#define BALANCE_ACTIVE_ROUNDS	4
/* push_dst of a CPU whose running task may not move to the target CPU. */
#define BALANCE_PUSH_REFUSED	-2

/* Scratch for balance_find_active(), indexed by core or LLC id. */
u32 lb_core_cpus[FAIRRS_MAX_CPUS];
u32 lb_core_busy[FAIRRS_MAX_CPUS];
s32 lb_llc_idle_cpu[FAIRRS_MAX_CPUS];
/* The wholly idle core's CPU balance_find_active() chose, or -1. */
s32 lb_active_dst = -1;
/* Consecutive rounds that saw an SMT imbalance. */
u32 lb_active_seen;

/*
 * Find a CPU running a task of ours alone (nothing waits in its queue) on a
 * core whose CPUs are all busy, with a wholly idle core in its LLC. Returns
 * that CPU and sets lb_active_dst to a CPU of the idle core, or returns -1.
 * Three passes over the CPUs, no nesting. A global function, see
 * balance_find_src().
 */
__noinline s32 balance_find_active(u64 now)
{
	const struct cpumask *idle = scx_bpf_get_idle_cpumask();
	const struct cpumask *idle_core = scx_bpf_get_idle_smtmask();
	s32 cpu, src = -1;

	bpf_for(cpu, 0, nr_cpu_ids) {
		lb_core_cpus[topo_core(cpu) & (FAIRRS_MAX_CPUS - 1)] = 0;
		lb_core_busy[topo_core(cpu) & (FAIRRS_MAX_CPUS - 1)] = 0;
		lb_llc_idle_cpu[topo_llc(cpu) & (FAIRRS_MAX_CPUS - 1)] = -1;
	}
	bpf_for(cpu, 0, nr_cpu_ids) {
		struct fairrs_cpu_ctx *cctx = cpu_ctx(cpu);
		u32 core = topo_core(cpu) & (FAIRRS_MAX_CPUS - 1);

		if (!cctx || !cctx->online)
			continue;
		lb_core_cpus[core]++;
		if (!bpf_cpumask_test_cpu(cpu, idle))
			lb_core_busy[core]++;
		else if (bpf_cpumask_test_cpu(cpu, idle_core) && !pull_pending(cctx, now))
			lb_llc_idle_cpu[topo_llc(cpu) & (FAIRRS_MAX_CPUS - 1)] = cpu;
	}
	lb_active_dst = -1;
	bpf_for(cpu, 0, nr_cpu_ids) {
		struct fairrs_cpu_ctx *cctx = cpu_ctx(cpu);
		u32 core = topo_core(cpu) & (FAIRRS_MAX_CPUS - 1);
		s32 dst = lb_llc_idle_cpu[topo_llc(cpu) & (FAIRRS_MAX_CPUS - 1)];

		if (dst < 0 || !cctx || !cctx->online || lb_core_cpus[core] < 2 ||
		    lb_core_busy[core] < lb_core_cpus[core])
			continue;
		/* A task of ours runs here alone; none asked to move yet, none refused. */
		if (!READ_ONCE(cctx->curr_weight) || cctx->push_dst != -1 ||
		    scx_bpf_dsq_nr_queued(cpu_dsq(cpu)))
			continue;
		lb_active_dst = dst;
		src = cpu;
		break;
	}
	scx_bpf_put_idle_cpumask(idle_core);
	scx_bpf_put_idle_cpumask(idle);
	return src;
}

/* One round of active balancing (see above); SMT machines only. */
static __always_inline void balance_active(void)
{
	struct fairrs_cpu_ctx *sctx;
	s32 src;

	if (!smt_enabled)
		return;
	src = balance_find_active(scx_bpf_now());
	if (src < 0) {
		lb_active_seen = 0;
		return;
	}
	if (++lb_active_seen < BALANCE_ACTIVE_ROUNDS)
		return;
	lb_active_seen = 0;
	sctx = cpu_ctx(src);
	if (!sctx)
		return;
	sctx->push_dst = lb_active_dst;
	kick_cpu(src, SCX_KICK_PREEMPT);
}

/*
 * In ops.dispatch of @cpu, whose running @prev (still runnable, its slice
 * ended by the kick) active balancing asked to push: should @prev go? Only
 * if nothing waits here (then the idle core pulls that instead), @prev may
 * run on the target, and the target's core is still wholly idle. Returns
 * true when @prev goes: ops.dispatch then grants it no slice, and with
 * SCX_OPS_ENQ_LAST the kernel passes it to ops.enqueue
 * (balance_enqueue_last()) instead of running it on.
 */
static __always_inline bool balance_push_prev(s32 cpu, struct fairrs_cpu_ctx *cctx,
					      struct task_struct *prev)
{
	const struct cpumask *idle_core;
	s32 dst = cctx->push_dst;
	bool still_idle;

	if (dst < 0)
		return false;
	cctx->push_dst = -1;
	if (is_migration_disabled(prev) || !bpf_cpumask_test_cpu(dst, prev->cpus_ptr)) {
		/* Not while this task runs here (ops.running clears it). */
		cctx->push_dst = BALANCE_PUSH_REFUSED;
		return false;
	}
	if (scx_bpf_dsq_nr_queued(cpu_dsq(cpu)))
		return false;
	idle_core = scx_bpf_get_idle_smtmask();
	still_idle = bpf_cpumask_test_cpu(dst, idle_core);
	scx_bpf_put_idle_cpumask(idle_core);
	if (!still_idle)
		return false;
	cctx->push_to = dst;
	return true;
}

/*
 * ops.enqueue of @p with SCX_ENQ_LAST: @p is still runnable, ops.dispatch
 * gave it no slice and nothing else runs here. If active balancing let it go
 * (push_to), it moves to the idle core's CPU; the kernel migrates it there,
 * and ops.running rehomes its vruntime and load. Otherwise (not expected:
 * ops.dispatch grants prev a slice on every other path) it runs on here; the
 * kick makes sure the CPU picks it up even on a kernel that does not
 * reschedule for this insert.
 */
static __always_inline void balance_enqueue_last(struct task_struct *p, struct task_ctx *tctx,
						 s32 cpu, struct fairrs_cpu_ctx *cctx, u64 slice,
						 u64 enq_flags)
{
	s32 dst = cctx->push_to;

	cctx->push_to = -1;
	if (dst >= 0 && !is_migration_disabled(p) && bpf_cpumask_test_cpu(dst, p->cpus_ptr)) {
		scx_bpf_dsq_insert(p, SCX_DSQ_LOCAL_ON | dst, slice, enq_flags);
		tctx->lb_round = lb_round;
		stat_inc(FAIRRS_STAT_BALANCE_ACTIVE);
		return;
	}
	scx_bpf_dsq_insert(p, SCX_DSQ_LOCAL, slice, enq_flags);
	kick_cpu(cpu, 0);
}

/*
 * @cpu is going offline (ops.cpu_offline) and will not run ops.dispatch
 * again: whatever waits in its queue moves to the global DSQ, which every CPU
 * a task may run on consumes, offline or not. Per-CPU kthreads of the dying
 * CPU (ksoftirqd, parked by the hotplug code) must still run there, and the
 * dying CPU does consume the global DSQ. 6.12.117 and 7.x do this themselves
 * (rq_offline_scx() re-enqueues such tasks onto the local DSQ before calling
 * us, and then this queue is empty); 6.16.12 and 6.18.15 do not (the
 * offline_rescue counter moves there, never on 6.12 or 7.3): ksoftirqd/1 was left
 * in a dying CPU's queue until the watchdog ejected the scheduler ("runnable
 * task stall") while the CPU's offlining waited for it to park.
 */
static __always_inline void balance_rescue_offline(s32 cpu)
{
	struct task_struct *p;

	bpf_for_each(scx_dsq, p, cpu_dsq(cpu), 0) {
		if (scx_bpf_dsq_move(BPF_FOR_EACH_ITER, p, SCX_DSQ_GLOBAL, 0))
			stat_inc(FAIRRS_STAT_OFFLINE_RESCUE);
	}
}

static int balance_timerfn(void *map, int *key, struct bpf_timer *timer)
{
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
