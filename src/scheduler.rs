// SPDX-License-Identifier: GPL-2.0
//! The scheduler's lifecycle: check the machine, open the BPF skeleton,
//! configure it from the validated flags, load, attach, watch it run, detach,
//! and report how it ended.
//!
//! Every way this can fail is turned into one sentence a user can act on; the
//! kernel's own exit information (reason, message, debug dump) follows when
//! the kernel ejected the scheduler.

use std::mem::MaybeUninit;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use libbpf_rs::{MapCore, MapFlags, OpenObject};
use log::info;
use scx_utils::{scx_ops_attach, scx_ops_load, scx_ops_open, uei_exited, uei_report, UserExitInfo};

use crate::bpf_intf;
use crate::bpf_skel::*;
use crate::cli::{Opts, Tunables};
use crate::stats::{self, CpuQueue, Snapshot};
use crate::topology::CpuMap;

const SCHED_EXT_SYSFS: &str = "/sys/kernel/sched_ext";

/// The name the kernel shows in /sys/kernel/sched_ext/root/ops.
pub const OPS_NAME: &str = "fairrs";

/// Refuse early, with one sentence, what would otherwise fail deep inside
/// libbpf or the kernel: no sched_ext, not root, another scheduler attached.
pub fn preflight() -> Result<()> {
    if !std::path::Path::new(SCHED_EXT_SYSFS).exists() {
        let release = std::fs::read_to_string("/proc/sys/kernel/osrelease").unwrap_or_default();
        bail!(
            "this kernel ({}) has no sched_ext support ({SCHED_EXT_SYSFS} is missing): \
             scx_fairrs needs Linux 6.12 or later built with CONFIG_SCHED_CLASS_EXT=y",
            release.trim()
        );
    }
    if unsafe { libc::geteuid() } != 0 {
        bail!("scx_fairrs must run as root to load a BPF scheduler (try: sudo scx_fairrs)");
    }
    if scx_utils::compat::is_sched_ext_enabled().unwrap_or(false) {
        let other = std::fs::read_to_string(format!("{SCHED_EXT_SYSFS}/root/ops"))
            .map(|s| s.trim().to_string())
            .unwrap_or_else(|_| "unknown".into());
        bail!("another sched_ext scheduler ({other}) is already attached: stop it before starting scx_fairrs");
    }
    Ok(())
}

pub struct Scheduler<'a> {
    skel: BpfSkel<'a>,
    struct_ops: Option<libbpf_rs::Link>,
    nr_cpus: usize,
    topo: CpuMap,
}

impl<'a> Scheduler<'a> {
    /// Open, configure, load and attach the BPF scheduler.
    pub fn init(opts: &Opts, tun: &Tunables, open_object: &'a mut MaybeUninit<OpenObject>) -> Result<Self> {
        let nr_cpus = libbpf_rs::num_possible_cpus().context("reading the number of possible CPUs")?;
        let max_cpus = bpf_intf::fairrs_consts_FAIRRS_MAX_CPUS as usize;
        if nr_cpus > max_cpus {
            bail!("this machine has {nr_cpus} possible CPUs; scx_fairrs supports at most {max_cpus}");
        }

        let mut builder = BpfSkelBuilder::default();
        builder.obj_builder.debug(opts.verbose);
        let mut skel = scx_ops_open!(
            builder,
            open_object,
            fairrs_ops,
            None::<libbpf_rs::libbpf_sys::bpf_object_open_opts>
        )
        .context("opening the BPF scheduler")?;

        // scx_ops_open! appends the build's version to the ops name; keep the
        // plain name so /sys/kernel/sched_ext/root/ops reads "fairrs".
        // (--version reports the build.)
        let ops = skel.struct_ops.fairrs_ops_mut();
        ops.name.fill(0);
        for (dst, src) in ops.name.iter_mut().zip(OPS_NAME.bytes()) {
            *dst = src as _;
        }
        ops.exit_dump_len = opts.exit_dump_len;

        let rodata = skel.maps.rodata_data.as_mut().context("BPF object has no .rodata")?;
        rodata.sched_latency_ns = tun.sched_latency_ns;
        rodata.min_granularity_ns = tun.min_granularity_ns;
        rodata.wakeup_granularity_ns = tun.wakeup_granularity_ns;
        rodata.nr_cpu_ids = nr_cpus as u32;
        rodata.migration_cost_ns = tun.migration_cost_ns;
        rodata.imbalance_pct = tun.imbalance_pct;
        rodata.numa_imbalance_pct = tun.numa_imbalance_pct;
        rodata.balance_interval_ns = tun.balance_interval_ns;
        let topo = CpuMap::read(nr_cpus)?;
        rodata.cpu_llc[..nr_cpus].copy_from_slice(&topo.llc);
        rodata.cpu_node[..nr_cpus].copy_from_slice(&topo.node);

        let mut skel = scx_ops_load!(skel, fairrs_ops, uei).context("loading the BPF scheduler")?;
        let struct_ops = scx_ops_attach!(skel, fairrs_ops).context("attaching the BPF scheduler")?;

        Ok(Self { skel, struct_ops: Some(struct_ops), nr_cpus, topo })
    }

    pub fn nr_cpus(&self) -> usize {
        self.nr_cpus
    }

    pub fn topology(&self) -> &CpuMap {
        &self.topo
    }

    /// Counters summed over CPUs, and every CPU's run queue.
    pub fn snapshot(&self) -> Snapshot {
        let counters = (0..bpf_intf::fairrs_stat_FAIRRS_NR_STATS)
            .map(|idx| {
                self.skel
                    .maps
                    .stats
                    .lookup_percpu(&idx.to_ne_bytes(), MapFlags::ANY)
                    .ok()
                    .flatten()
                    .map(|per_cpu| {
                        per_cpu
                            .iter()
                            .filter_map(|v| v.get(..8).map(|b| u64::from_ne_bytes(b.try_into().unwrap())))
                            .sum()
                    })
                    .unwrap_or(0)
            })
            .collect();
        let cpus = match self.skel.maps.bss_data.as_ref() {
            Some(bss) => bss.cpu_ctxs[..self.nr_cpus]
                .iter()
                .map(|c| CpuQueue {
                    nr_running: c.nr_running,
                    load_weight: c.load_weight,
                    min_vruntime: c.min_vruntime,
                    last_slice_ns: c.last_slice_ns,
                })
                .collect(),
            None => Vec::new(),
        };
        Snapshot { counters, cpus }
    }

    fn exited(&self) -> bool {
        uei_exited!(&self.skel, uei)
    }

    /// Run until Ctrl-C/SIGTERM or until the kernel ejects the scheduler,
    /// printing stats every `stats_every` if set. Detaches, then returns the
    /// kernel's exit information (an error when the exit was an error).
    pub fn run(&mut self, shutdown: &AtomicBool, stats_every: Option<Duration>) -> Result<UserExitInfo> {
        let started = Instant::now();
        let mut last = self.snapshot();
        let mut last_at = started;

        while !shutdown.load(Ordering::Relaxed) && !self.exited() {
            std::thread::sleep(Duration::from_millis(100));
            if let Some(every) = stats_every {
                if last_at.elapsed() >= every {
                    let cur = self.snapshot();
                    println!("{}", stats::format_report(&last, &cur, last_at.elapsed()));
                    last = cur;
                    last_at = Instant::now();
                }
            }
        }

        info!("{}", stats::format_totals(&self.snapshot(), started.elapsed()));
        // Dropping the struct_ops link detaches the scheduler.
        self.struct_ops.take();
        uei_report!(&self.skel, uei).context("the kernel ejected scx_fairrs")
    }
}
