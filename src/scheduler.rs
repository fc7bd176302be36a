// SPDX-License-Identifier: GPL-2.0
//! The scheduler's lifecycle: check the machine, open the BPF skeleton,
//! configure it from the validated flags, load, attach, watch it run, detach,
//! and report how it ended.
//!
//! Every way this can fail is turned into one sentence a user can act on; the
//! kernel's own exit information (reason, message, debug dump) follows when
//! the kernel ejected the scheduler.

use std::io::Read;
use std::mem::MaybeUninit;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use libbpf_rs::{MapCore, MapFlags, OpenObject};
use log::{info, warn};
use scx_stats::prelude::StatsServer;
use scx_utils::{scx_ops_attach, scx_ops_load, scx_ops_open, uei_exited, uei_report, UserExitInfo};

use crate::bpf_intf;
use crate::bpf_skel::*;
use crate::cli::{Opts, Tunables, LIVE_KEYS};
use crate::stats::{self, CpuRaw, Metrics, Raw, Request, Response, TaskRaw, STAT_NAMES};
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

/// Copy the retunable values into the BPF side's `tun` (see intf.h).
fn write_tunables(dst: &mut types::fairrs_tunables, tun: &Tunables) {
    dst.sched_latency_ns = tun.sched_latency_ns;
    dst.min_granularity_ns = tun.min_granularity_ns;
    dst.wakeup_granularity_ns = tun.wakeup_granularity_ns;
    dst.migration_cost_ns = tun.migration_cost_ns;
    dst.imbalance_pct = tun.imbalance_pct;
    dst.numa_imbalance_pct = tun.numa_imbalance_pct;
    dst.balance_interval_ns = tun.balance_interval_ns;
}

pub struct Scheduler<'a> {
    skel: BpfSkel<'a>,
    opts: Opts,
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

        let data = skel.maps.data_data.as_mut().context("BPF object has no .data")?;
        write_tunables(&mut data.tun, tun);
        let rodata = skel.maps.rodata_data.as_mut().context("BPF object has no .rodata")?;
        rodata.nr_cpu_ids = nr_cpus as u32;
        let topo = CpuMap::read(nr_cpus)?;
        rodata.cpu_llc[..nr_cpus].copy_from_slice(&topo.llc);
        rodata.cpu_node[..nr_cpus].copy_from_slice(&topo.node);

        let mut skel = scx_ops_load!(skel, fairrs_ops, uei).context("loading the BPF scheduler")?;
        let struct_ops = scx_ops_attach!(skel, fairrs_ops).context("attaching the BPF scheduler")?;

        Ok(Self { skel, opts: opts.clone(), struct_ops: Some(struct_ops), nr_cpus, topo })
    }

    pub fn nr_cpus(&self) -> usize {
        self.nr_cpus
    }

    pub fn topology(&self) -> &CpuMap {
        &self.topo
    }

    /// The event counters, summed over CPUs (stats.bpf.h).
    fn counters(&self) -> Vec<u64> {
        (0..bpf_intf::fairrs_stat_FAIRRS_NR_STATS)
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
            .collect()
    }

    /// Cumulative counters, every CPU's queue and every task, for stats.
    pub fn snapshot(&self) -> Raw {
        let counters = self.counters();
        let cpus = match self.skel.maps.bss_data.as_ref() {
            Some(bss) => bss.cpu_ctxs[..self.nr_cpus]
                .iter()
                .map(|c| CpuRaw {
                    online: c.online != 0,
                    nr_running: c.nr_running,
                    load_weight: c.load_weight,
                    runnable_load: c.runnable_load,
                    util_avg: c.pelt.util_avg,
                    load_avg: c.pelt.load_avg,
                    last_slice_ns: c.last_slice_ns,
                })
                .collect(),
            None => Vec::new(),
        };
        let tunables = LIVE_KEYS
            .iter()
            .filter_map(|k| self.opts.tunable(k).map(|v| (k.to_string(), v)))
            .collect();
        Raw { at: Instant::now(), counters, cpus, tasks: self.dump_tasks(), tunables }
    }

    /// Every task scx_fairrs schedules, read through the dump_tasks iterator.
    fn dump_tasks(&self) -> Vec<TaskRaw> {
        let Some(link) = self.skel.links.dump_tasks.as_ref() else {
            return Vec::new();
        };
        let mut bytes = Vec::new();
        if let Err(e) = libbpf_rs::Iter::new(link).and_then(|mut it| it.read_to_end(&mut bytes).map_err(Into::into)) {
            warn!("reading the task iterator: {e}");
            return Vec::new();
        }
        let size = std::mem::size_of::<bpf_intf::fairrs_task_dump>();
        bytes
            .chunks_exact(size)
            .map(|rec| {
                // SAFETY: the record is a struct fairrs_task_dump written by
                // the BPF side with this very layout (intf.h via bindgen).
                let d: bpf_intf::fairrs_task_dump =
                    unsafe { std::ptr::read_unaligned(rec.as_ptr() as *const bpf_intf::fairrs_task_dump) };
                let comm = d.comm.iter().take_while(|&&c| c != 0).map(|&c| c as u8 as char).collect();
                TaskRaw {
                    pid: d.pid,
                    comm,
                    nice: d.nice,
                    weight: d.weight,
                    queue_cpu: d.queue_cpu,
                    on_queue: d.on_queue != 0,
                    exec_ns: d.exec_ns,
                    runnable_ns: d.runnable_ns,
                    vlag_ns: d.vlag_ns,
                    load_avg: d.load_avg,
                    util_avg: d.util_avg,
                    nr_migrations: d.nr_migrations,
                }
            })
            .collect()
    }

    /// Retune `key` while running: validated like its flag, then written into
    /// the BPF side's tunables; nothing changes if it is refused.
    fn retune(&mut self, key: &str, value: &str) -> std::result::Result<String, String> {
        let (next, tun) = self.opts.with_tunable(key, value).map_err(|e| e.to_string())?;
        let data = self.skel.maps.data_data.as_mut().ok_or("BPF object has no .data")?;
        write_tunables(&mut data.tun, &tun);
        let msg = format!("{key} {} -> {}", self.opts.tunable(key).unwrap_or(0), next.tunable(key).unwrap_or(0));
        info!("retuned {msg}");
        self.opts = next;
        Ok(msg)
    }

    fn exited(&self) -> bool {
        uei_exited!(&self.skel, uei)
    }

    /// Run until Ctrl-C/SIGTERM or until the kernel ejects the scheduler:
    /// serve the stats socket (reports and --set), print --stats reports.
    /// Detaches, then returns the kernel's exit information (an error when
    /// the exit was an error).
    pub fn run(&mut self, shutdown: &AtomicBool) -> Result<UserExitInfo> {
        let server = StatsServer::new(stats::server_data(self.opts.top))
            .set_sched_path(stats::STATS_SCHED_PATH)
            .launch()
            .context("starting the stats server")?;
        restrict_stats_socket();
        let (res_tx, req_rx) = server.channels();

        let every = (self.opts.stats > 0.0).then(|| Duration::from_secs_f64(self.opts.stats));
        let started = Instant::now();
        let mut last = self.snapshot();

        while !shutdown.load(Ordering::Relaxed) && !self.exited() {
            match req_rx.recv_timeout(Duration::from_millis(100)) {
                Ok(Request::Snapshot) => res_tx.send(Response::Snapshot(Box::new(self.snapshot())))?,
                Ok(Request::Set(key, value)) => {
                    let result = self.retune(&key, &value);
                    if let Err(why) = &result {
                        warn!("refused --set {key}={value}: {why}");
                    }
                    res_tx.send(Response::Set(result))?
                }
                Err(e) if e.is_timeout() => {}
                Err(e) => Err(e).context("stats server channel")?,
            }
            if let Some(every) = every {
                if last.at.elapsed() >= every {
                    let cur = self.snapshot();
                    println!("{}", Metrics::between(&last, &cur, self.opts.top).format());
                    last = cur;
                }
            }
        }

        // Detach before anything else: the machine gets the kernel's
        // scheduler back first, and nothing (a task dump, a report) runs
        // against a scheduler that is being torn down.
        self.detach();
        let counts: Vec<String> =
            STAT_NAMES.iter().zip(self.counters()).map(|(n, v)| format!("{n}={v}")).collect();
        info!("totals over {:.1}s: {}", started.elapsed().as_secs_f64(), counts.join(" "));
        uei_report!(&self.skel, uei).context("the kernel ejected scx_fairrs")
    }

    /// Release the struct_ops link, which makes the kernel disable the
    /// scheduler and waits for it. A release slower than DETACH_WARN is
    /// logged with the kernel's sched_ext state, so a stuck disable path
    /// names itself instead of looking like a hung daemon.
    fn detach(&mut self) {
        let Some(link) = self.struct_ops.take() else {
            return;
        };
        let done = std::sync::Arc::new((std::sync::Mutex::new(false), std::sync::Condvar::new()));
        let watch = done.clone();
        let watcher = std::thread::spawn(move || {
            let (lock, cvar) = &*watch;
            let started = Instant::now();
            let mut finished = lock.lock().unwrap();
            while !*finished {
                let (guard, timeout) = cvar.wait_timeout(finished, DETACH_WARN).unwrap();
                finished = guard;
                if !*finished && timeout.timed_out() {
                    let state = std::fs::read_to_string(format!("{SCHED_EXT_SYSFS}/state")).unwrap_or_default();
                    warn!(
                        "detaching has taken {:.0}s: waiting for the kernel to disable the scheduler \
                         (releasing the struct_ops link; {SCHED_EXT_SYSFS}/state: {})",
                        started.elapsed().as_secs_f64(),
                        state.trim()
                    );
                }
            }
        });
        drop(link);
        let (lock, cvar) = &*done;
        *lock.lock().unwrap() = true;
        cvar.notify_one();
        let _ = watcher.join();
    }
}

/// How long releasing the struct_ops link may take before the daemon says so
/// (and again every as long): a disable normally completes well under 1 s.
const DETACH_WARN: Duration = Duration::from_secs(5);

/// The struct_ops link goes before the skeleton it refers to, whatever path
/// drops the scheduler (an error after attach included): the kernel then
/// disables the scheduler while its maps and programs are still loaded.
impl Drop for Scheduler<'_> {
    fn drop(&mut self) {
        self.detach();
    }
}

/// The stats socket carries --set: only root may use it.
fn restrict_stats_socket() {
    use std::os::unix::fs::PermissionsExt;
    let path = format!("/var/run/scx/{}/stats", stats::STATS_SCHED_PATH);
    if let Err(e) = std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)) {
        warn!("cannot restrict {path} to root: {e}");
    }
}
