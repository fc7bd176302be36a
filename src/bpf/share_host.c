// SPDX-License-Identifier: GPL-2.0
/*
 * share.bpf.h built for the host, so the Rust unit tests (src/share.rs) call
 * the very arithmetic the BPF scheduler inlines (as cfs_host.c does for CFS's
 * per-queue arithmetic).
 */
#include "intf.h"
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
