// SPDX-License-Identifier: GPL-2.0
/*
 * group_rule.bpf.h built for the host: the daemon's group stats (src/stats.rs)
 * use the very rule the BPF side's group accounting inlines.
 */
#include "intf.h"
#include "group_rule.bpf.h"

s64 fairrs_group_contrib(s64 nr_runnable, u32 shares);
s64 fairrs_group_load(s64 task_load, s64 child_shares);
u64 fairrs_group_scale(u64 w, u32 shares, s64 load);

s64 fairrs_group_contrib(s64 nr_runnable, u32 shares) { return group_rule_contrib(nr_runnable, shares); }
s64 fairrs_group_load(s64 task_load, s64 child_shares) { return group_rule_load(task_load, child_shares); }
u64 fairrs_group_scale(u64 w, u32 shares, s64 load) { return group_rule_scale(w, shares, load); }
