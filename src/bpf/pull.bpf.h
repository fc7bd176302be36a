/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Idle pull (CFS's newidle_balance()): a CPU whose queue is empty pulls from
 * the longest queue in its LLC first, then its node, then anywhere, skipping
 * tasks that may not run here and cache-hot ones (ran within migration_cost)
 * unless the queue has several waiting (can_migrate_task(), task_hot()).
 */
#ifndef __FAIRRS_PULL_BPF_H
#define __FAIRRS_PULL_BPF_H

#include "fairrs.bpf.h"
#include "stats.bpf.h"

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
	struct fairrs_cpu_ctx *cctx = cpu_ctx(cpu);

	/*
	 * Handed back for a moment by real-time or deadline work (throttled, or
	 * a DL server's turn): not idle. A task pulled here would wait in its
	 * local queue, out of the balancer's reach, until that work pauses
	 * again. CFS gives such a CPU next to no capacity (scale_rt_capacity()).
	 */
	if (cctx && scx_bpf_now() - READ_ONCE(cctx->taken_ns) < 2 * READ_ONCE(tun.sched_latency_ns))
		return false;

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

#endif /* __FAIRRS_PULL_BPF_H */
