// SPDX-License-Identifier: GPL-2.0
/*
 * pelt.bpf.h built for the host, so the Rust unit tests (src/pelt.rs) call
 * the very code the BPF scheduler inlines. intf.h typedefs
 * u32/u64/... itself when vmlinux.h is absent; nothing else is needed.
 * build.rs compiles this (with intf_host.c) into a static library with the
 * cc crate.
 */
#include "intf.h"
#include "pelt.bpf.h"

void fairrs_pelt_init(struct fairrs_pelt *sa, u64 now_ns);
int fairrs_pelt_update(struct fairrs_pelt *sa, u64 now_ns, u64 load, u64 runnable,
		       int running, u64 avg_weight);
u64 fairrs_pelt_decay(u64 val, u64 n);

void fairrs_pelt_init(struct fairrs_pelt *sa, u64 now_ns)
{
	pelt_init(sa, now_ns);
}

int fairrs_pelt_update(struct fairrs_pelt *sa, u64 now_ns, u64 load, u64 runnable,
		       int running, u64 avg_weight)
{
	return pelt_update(sa, now_ns, load, runnable, running, avg_weight);
}

u64 fairrs_pelt_decay(u64 val, u64 n)
{
	return pelt_decay(val, n);
}
