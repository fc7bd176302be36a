/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Per-task figures for the daemon (--top, live fairness): a task iterator the
 * daemon reads on demand, so the scheduling paths pay nothing for them (what
 * a task is owed, entitle.bpf.h, is the one figure they keep current). Each
 * record is a struct fairrs_task_dump (intf.h); PELT averages are decayed to
 * now on a copy, as if updated at the moment of the dump.
 */
#ifndef __FAIRRS_DUMP_BPF_H
#define __FAIRRS_DUMP_BPF_H

#include "fairrs.bpf.h"
#include "pelt.bpf.h"
#include "entitle.bpf.h"

SEC("iter/task")
int dump_tasks(struct bpf_iter__task *ctx)
{
	struct task_struct *p = ctx->task;
	struct fairrs_task_dump d = {};
	struct fairrs_cpu_ctx *cctx;
	struct fairrs_pelt pelt;
	struct task_ctx *tctx;
	u64 now = bpf_ktime_get_ns();

	if (!p)
		return 0;
	tctx = bpf_task_storage_get(&task_ctxs, p, 0, 0);
	if (!tctx)
		return 0;

	pelt = tctx->pelt;
	pelt_update(&pelt, now, tctx->on_queue, tctx->on_queue, tctx->is_running, tctx->weight);

	d.pid = p->pid;
	d.nice = p->static_prio - DEFAULT_PRIO;
	d.weight = tctx->task_weight;
	d.group_weight = tctx->weight;
	d.group = tctx->group;
	d.queue_cpu = tctx->queue_cpu;
	d.on_queue = tctx->on_queue;
	d.exec_ns = p->se.sum_exec_runtime;
	d.runnable_ns = tctx->runnable_ns;
	if (tctx->on_queue && now > tctx->runnable_since)
		d.runnable_ns += now - tctx->runnable_since;
	cctx = cpu_ctx(tctx->queue_cpu);
	d.vlag_ns = cctx ? (s64)(tctx->vruntime - cctx->min_vruntime) : 0;
	d.load_avg = pelt.load_avg;
	d.runnable_avg = pelt.runnable_avg;
	d.util_avg = pelt.util_avg;
	d.nr_migrations = tctx->nr_migrations;
	d.entitled_ns = tctx->fair_ns;
	if (tctx->on_queue && cctx)
		d.entitled_ns += entitle_owed(tctx->weight, tctx->fair_clock, entitle_clock_peek(cctx, now));
	bpf_probe_read_kernel_str(d.comm, sizeof(d.comm), p->comm);

	bpf_seq_write(ctx->meta->seq, &d, sizeof(d));
	return 0;
}

#endif /* __FAIRRS_DUMP_BPF_H */
