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
 * CPUs whose queue may hold a waiting task (CFS's rd->overload, per CPU), one
 * word of 64 CPUs per cache line. Set and cleared only under the CPU's own rq
 * lock (ops.enqueue queues there; its ops.dispatch finds it empty), so no mark
 * is lost; a queue emptied by a pull stays marked until its CPU's next
 * ops.dispatch, and a reader skips it.
 */
struct pull_mask_word {
	u64 bits;
} __attribute__((aligned(64)));

struct pull_mask_word pull_mask[FAIRRS_MAX_CPUS / 64];

static __always_inline struct pull_mask_word *pull_word(s32 cpu)
{
	return &pull_mask[(cpu / 64) & (FAIRRS_MAX_CPUS / 64 - 1)];
}

/* @cpu's queue just got a task (ops.enqueue, under @cpu's rq lock). */
static __always_inline void pull_mark(s32 cpu)
{
	struct pull_mask_word *w = pull_word(cpu);
	u64 bit = 1ULL << (cpu & 63);

	/* Read first: a loaded machine keeps its marks, and the line stays shared. */
	if (!(READ_ONCE(w->bits) & bit))
		__sync_fetch_and_or(&w->bits, bit);
}

/* @cpu found its queue empty (ops.dispatch, under @cpu's rq lock). */
static __always_inline void pull_unmark(s32 cpu)
{
	struct pull_mask_word *w = pull_word(cpu);
	u64 bit = 1ULL << (cpu & 63);

	if (READ_ONCE(w->bits) & bit)
		__sync_fetch_and_and(&w->bits, ~bit);
}

/* Index of the lowest set bit of @w, not 0 (a de Bruijn sequence: BPF has no ctz). */
static const u8 pull_debruijn[64] = {
	0, 1, 48, 2, 57, 49, 28, 3, 61, 58, 50, 42, 38, 29, 17, 4,
	62, 55, 59, 36, 53, 51, 43, 22, 45, 39, 33, 30, 24, 18, 12, 5,
	63, 47, 56, 27, 60, 41, 37, 16, 54, 35, 52, 21, 44, 32, 23, 11,
	46, 26, 40, 15, 34, 20, 31, 10, 25, 14, 19, 9, 13, 8, 7, 6,
};

static __always_inline u32 pull_lowest_bit(u64 w)
{
	return pull_debruijn[(((w & -w) * 0x03f79d71b4cb0a89ULL) >> 58) & 63];
}

/*
 * @cpu has nothing to run: pull from the longest queue at the nearest
 * topological distance that has something to give. Only the marked queues are
 * read (pull_mask), each once, for the longest at each distance: the cost
 * follows the number of queues holding waiting tasks, not of CPUs.
 */
static __always_inline bool balance_idle_pull(s32 cpu)
{
	u32 most[TOPO_DISTANCES] = {}, dist, n, word, j;
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

	stat_inc(FAIRRS_STAT_PULL_TRIES);
	bpf_for(word, 0, (nr_cpu_ids + 63) / 64) {
		u64 bits = READ_ONCE(pull_mask[word & (FAIRRS_MAX_CPUS / 64 - 1)].bits);

		bpf_for(j, 0, 64) {
			if (!bits)
				break;
			i = word * 64 + pull_lowest_bit(bits);
			bits &= bits - 1;
			if (i == cpu)
				continue;
			stat_inc(FAIRRS_STAT_PULL_READS);
			if (!(n = scx_bpf_dsq_nr_queued(cpu_dsq(i))))
				continue;
			dist = topo_distance(cpu, i);
			if (dist < TOPO_DISTANCES && n > most[dist]) {
				most[dist] = n;
				busiest[dist] = i;
			}
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
