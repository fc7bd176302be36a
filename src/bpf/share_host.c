// SPDX-License-Identifier: GPL-2.0
/*
 * share.bpf.h built for the host, so the Rust unit tests (src/share.rs) call
 * the very arithmetic the BPF scheduler inlines (as cfs_host.c does for CFS's
 * per-queue arithmetic).
 */
#include "intf.h"

/* A replay's other CPUs, run once where a sync is between its read and its exchange. */
static void (*share_race)(void);
#define SHARE_SYNC_RACE()						\
	do {								\
		void (*race)(void) = share_race;			\
		share_race = 0;						\
		if (race)						\
			race();						\
	} while (0)

#include "share.bpf.h"

u64 fairrs_share_max_load(u64 gap, u32 imbalance_pct, u32 failed);
u64 fairrs_share_swap_max_load(u64 gap);
u64 fairrs_share_swap_min_load(u64 lightest, u64 gap);
u32 fairrs_share_of_cpu_weight(u32 cpu_weight);
u32 fairrs_share_cpu_weight(u32 shares);
u32 fairrs_share_task_weight(u32 task_weight, const u32 *shares, const s64 *loads, u32 levels);
s64 fairrs_share_group_contrib(s64 nr_runnable, u32 shares);
s64 fairrs_share_group_load(s64 task_load, s64 child_shares);
u64 fairrs_share_weight_level(u64 w, u32 shares, s64 load);
void fairrs_share_sync_replay(s64 *contrib, s64 *parent_sum);

u64 fairrs_share_max_load(u64 gap, u32 imbalance_pct, u32 failed)
{
	return share_max_load(gap, imbalance_pct, failed);
}
u64 fairrs_share_swap_max_load(u64 gap) { return share_swap_max_load(gap); }
u64 fairrs_share_swap_min_load(u64 lightest, u64 gap) { return share_swap_min_load(lightest, gap); }
u32 fairrs_share_of_cpu_weight(u32 cpu_weight) { return share_of_cpu_weight(cpu_weight); }
u32 fairrs_share_cpu_weight(u32 shares) { return share_cpu_weight(shares); }
/* The group rule, also for the daemon's stats (src/stats.rs: each group's ideal share). */
s64 fairrs_share_group_contrib(s64 nr_runnable, u32 shares) { return share_group_contrib(nr_runnable, shares); }
s64 fairrs_share_group_load(s64 task_load, s64 child_shares) { return share_group_load(task_load, child_shares); }
u64 fairrs_share_weight_level(u64 w, u32 shares, s64 load) { return share_weight_level(w, shares, load); }

/*
 * A task of @task_weight in @levels groups, its own first, each of shares[i]
 * and load loads[i]: the walk group_task_weight() (group.bpf.h) makes over the
 * task's ancestors below the root.
 */
u32 fairrs_share_task_weight(u32 task_weight, const u32 *shares, const s64 *loads, u32 levels)
{
	u64 w = share_weight_start(task_weight);
	u32 i;

	for (i = 0; i < levels; i++)
		w = share_weight_level(w, shares[i], loads[i]);
	return share_weight_end(w);
}

/* One group of shares 1024 under a parent that counts only it. */
static struct { s64 nr_runnable, contrib, parent_sum; u32 shares; } replay;

static void replay_sync(void)
{
	share_sync_contrib(&replay.contrib, &replay.parent_sum, &replay.nr_runnable, &replay.shares);
}

/* A task joins (@sign 1) or leaves (-1); a count crossing 0 syncs (group_task_account()). */
static void replay_task(s64 sign)
{
	s64 before = __sync_fetch_and_add(&replay.nr_runnable, sign);

	if (before == 0 || before + sign == 0)
		replay_sync();
}

static void replay_two_leave(void)
{
	replay_task(-1);
	replay_task(-1);
}

/*
 * Three CPUs race on the group's contribution: A's task leaves (1 -> 0);
 * before A syncs, B's task joins (0 -> 1, B syncs) and C's (1 -> 2); A reads
 * the state (want 1024), and before its exchange B's and C's tasks leave (C
 * syncs 0). A's exchange then writes 1024 into an idle group. The group ends
 * with nothing runnable: what it adds to its parent is returned.
 */
void fairrs_share_sync_replay(s64 *contrib, s64 *parent_sum)
{
	replay.nr_runnable = 1;
	replay.shares = 1024;
	replay.contrib = 1024;
	replay.parent_sum = 1024;
	__sync_fetch_and_add(&replay.nr_runnable, -1);
	replay_task(1);
	replay_task(1);
	share_race = replay_two_leave;
	replay_sync();
	*contrib = replay.contrib;
	*parent_sum = replay.parent_sum;
}
