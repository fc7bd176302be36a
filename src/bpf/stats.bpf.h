/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Event counters (the list is FAIRRS_STATS in intf.h). One per-CPU slot per
 * counter, so each CPU increments its own copy without atomics; the daemon
 * sums the copies when it reports.
 */
#ifndef __FAIRRS_STATS_BPF_H
#define __FAIRRS_STATS_BPF_H

#include "fairrs.bpf.h"

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(key_size, sizeof(u32));
	__uint(value_size, sizeof(u64));
	__uint(max_entries, FAIRRS_NR_STATS);
} stats SEC(".maps");

static __always_inline void stat_add(u32 idx, u64 n)
{
	u64 *cnt = bpf_map_lookup_elem(&stats, &idx);

	if (cnt)
		*cnt += n;
}

static __always_inline void stat_inc(u32 idx)
{
	stat_add(idx, 1);
}

#endif /* __FAIRRS_STATS_BPF_H */
