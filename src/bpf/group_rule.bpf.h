/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The rule of group accounting (see group.bpf.h) as pure functions of
 * numbers: what a group contributes to its parent, its load, and one level of
 * a task's weight seen from the root. Plain C like cfs.bpf.h: group.bpf.h
 * inlines it, and the host builds it (group_host.c) for the daemon's stats
 * (src/stats.rs: the ideal share of each group) and their tests, so the stats
 * follow whatever the scheduler does.
 */
#ifndef __FAIRRS_GROUP_RULE_BPF_H
#define __FAIRRS_GROUP_RULE_BPF_H

#include "intf.h"

#ifndef __always_inline
#define __always_inline inline __attribute__((always_inline))
#endif

/* What a group adds to its parent's load: its shares while its subtree has a runnable task. */
static __always_inline s64 group_rule_contrib(s64 nr_runnable, u32 shares)
{
	return nr_runnable > 0 ? (s64)shares : 0;
}

/* load(g): the weights of its own runnable tasks plus its children's contributions. */
static __always_inline s64 group_rule_load(s64 task_load, s64 child_shares)
{
	return task_load + child_shares;
}

/* One level of a task's weight seen from the root: times shares / load(g) (as is without load). */
static __always_inline u64 group_rule_scale(u64 w, u32 shares, s64 load)
{
	return load > 0 ? w * shares / (u64)load : w;
}

#endif /* __FAIRRS_GROUP_RULE_BPF_H */
