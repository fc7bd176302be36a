// SPDX-License-Identifier: GPL-2.0
//! The scheduler's lifecycle: check the machine, open the BPF skeleton,
//! configure it from the validated flags, load, attach, watch it run, detach,
//! and report how it ended.
//!
//! Every way this can fail is turned into one sentence a user can act on; the
//! kernel's own exit information (reason, message, debug dump) follows when
//! the kernel ejected the scheduler.

use std::collections::BTreeMap;
use std::io::Read;
use std::mem::MaybeUninit;
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use libbpf_rs::skel::Skel;
use libbpf_rs::{AsRawLibbpf, MapCore, MapFlags, OpenObject};
use log::{info, warn};
use scx_utils::{scx_ops_attach, scx_ops_load, scx_ops_open, uei_exited, UserExitInfo};

use crate::bpf_intf;
use crate::bpf_skel::*;
use crate::cli::{self, Opts, Tunables};
use crate::control::{self, Call, Request, Response};
use crate::cgroups;
use crate::stats::{self, CpuRaw, GroupRaw, Metrics, ProgRaw, Raw, Report, TaskRaw};
use crate::topology::{CpuList, CpuMap, POSSIBLE_CPUS};

const SCHED_EXT_SYSFS: &str = "/sys/kernel/sched_ext";

/// 1 while the kernel counts every BPF program's runs and run time.
const BPF_STATS_SYSCTL: &str = "/proc/sys/kernel/bpf_stats_enabled";

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
        bail!(another_scheduler());
    }
    Ok(())
}

/// The kernel reports cgroups' cpu.idle to sched_ext (6.19+).
pub fn kernel_has_idle() -> bool {
    scx_utils::compat::struct_has_field("sched_ext_ops", "cgroup_set_idle").unwrap_or(false)
}

/// The kernel reports cgroups' cpu.max to sched_ext (6.17+).
pub fn kernel_has_bandwidth() -> bool {
    scx_utils::compat::struct_has_field("sched_ext_ops", "cgroup_set_bandwidth").unwrap_or(false)
}

/// The refusal when another sched_ext scheduler holds the kernel.
fn another_scheduler() -> String {
    let other = std::fs::read_to_string(format!("{SCHED_EXT_SYSFS}/root/ops"))
        .map(|s| s.trim().to_string())
        .unwrap_or_else(|_| "unknown".into());
    format!("another sched_ext scheduler ({other}) is already attached: stop it before starting scx_fairrs")
}

/// Is a scheduler attached or on its way in or out (any state but disabled)?
fn sched_ext_busy() -> bool {
    std::fs::read_to_string(format!("{SCHED_EXT_SYSFS}/state")).is_ok_and(|s| s.trim() != "disabled")
}

/// Write validated tunables into the BPF side's `tun`. Both types are
/// `struct fairrs_tunables` (intf.h), generated twice: by bindgen for the
/// daemon and by the skeleton from the object's BTF.
fn write_tunables(dst: &mut types::fairrs_tunables, tun: &Tunables) {
    // SAFETY: the same C struct, integers only; transmute checks the sizes.
    *dst = unsafe { std::mem::transmute::<Tunables, types::fairrs_tunables>(*tun) };
}

pub struct Scheduler<'a> {
    skel: BpfSkel<'a>,
    opts: Opts,
    struct_ops: Option<libbpf_rs::Link>,
    /// Possible CPUs (for messages).
    nr_cpus: usize,
    /// Highest possible CPU id + 1: the length of everything indexed by CPU id.
    nr_cpu_ids: usize,
    topo: CpuMap,
    /// Cgroup paths by cgroup id, for the per-group stats (reread when an
    /// unknown id appears).
    cgroup_paths: std::cell::RefCell<BTreeMap<u64, String>>,
    /// cpu.max is enforced (for the stats).
    bandwidth: bool,
}

impl<'a> Scheduler<'a> {
    /// Open, configure, load and attach the BPF scheduler.
    pub fn init(opts: &Opts, tun: &Tunables, open_object: &'a mut MaybeUninit<OpenObject>) -> Result<Self> {
        // The BPF side indexes its per-CPU arrays by CPU id, so it needs the
        // highest possible id + 1, which exceeds the number of possible CPUs
        // when the possible mask has holes (see topology.rs).
        let possible = CpuList::possible()?;
        let (nr_cpus, nr_cpu_ids) = (possible.count(), possible.nr_cpu_ids());
        let max_cpus = bpf_intf::fairrs_consts_FAIRRS_MAX_CPUS as usize;
        if nr_cpu_ids > max_cpus {
            bail!(
                "this machine's CPU ids go up to {} ({POSSIBLE_CPUS}); scx_fairrs supports CPU ids below {max_cpus}",
                nr_cpu_ids - 1
            );
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
        rodata.nr_cpu_ids = nr_cpu_ids as u32;
        rodata.cpuperf_enabled = !opts.no_cpuperf;
        rodata.groups_enabled = !opts.no_cgroup;
        rodata.autogroup_enabled = opts.autogroup;
        if !opts.no_cgroup {
            // Where the kernel has the flag, it warns about a scheduler without it.
            skel.struct_ops.fairrs_ops_mut().flags |=
                scx_utils::compat::read_enum("scx_ops_flags", "SCX_OPS_HAS_CGROUP_WEIGHT").unwrap_or(0);
        }
        // A wakee bound for an idle CPU is activated there, as CFS does (DESIGN.md,
        // CPU selection); nothing relies on ops.select_cpu having run for it.
        skel.struct_ops.fairrs_ops_mut().flags |=
            scx_utils::compat::read_enum("scx_ops_flags", "SCX_OPS_ALLOW_QUEUED_WAKEUP").unwrap_or(0);
        let topo = CpuMap::read(nr_cpu_ids)?;
        rodata.cpu_core[..nr_cpu_ids].copy_from_slice(&topo.core);
        rodata.cpu_llc[..nr_cpu_ids].copy_from_slice(&topo.llc);
        rodata.cpu_node[..nr_cpu_ids].copy_from_slice(&topo.node);
        let smt = topo.smt();
        rodata.smt_enabled = smt;
        if smt {
            // Active balancing moves a running task by declining to keep it
            // at its next dispatch, which only ENQ_LAST turns into an
            // ops.enqueue (active.bpf.h, balance_push_prev()). Without SMT
            // there is nothing to push, and the flag stays off.
            skel.struct_ops.fairrs_ops_mut().flags |= *scx_utils::compat::SCX_OPS_ENQ_LAST;
        }

        // cpu.max (bandwidth.bpf.h) holds a throttled group's tasks, the one
        // running included: without ENQ_LAST the kernel keeps a CPU's last
        // runnable task running whatever ops.dispatch decides.
        let bandwidth = !opts.no_cgroup && kernel_has_bandwidth();
        if bandwidth {
            skel.struct_ops.fairrs_ops_mut().flags |= *scx_utils::compat::SCX_OPS_ENQ_LAST;
        } else if !opts.no_cgroup {
            info!("cpu.max is not enforced on this kernel: it does not report it to sched_ext (ops.cgroup_set_bandwidth, Linux 6.17+)");
        }
        if !opts.no_cgroup && !kernel_has_idle() {
            info!("cpu.idle is not enforced on this kernel: it does not report it to sched_ext (ops.cgroup_set_idle, Linux 6.19+)");
        }
        let mut skel = scx_ops_load!(skel, fairrs_ops, uei).context("loading the BPF scheduler")?;
        // Two instances started at the same instant both pass preflight();
        // the kernel lets one attach and the other gets EBUSY (or scx_utils'
        // own "already running"): that one says what preflight() would have.
        let struct_ops = match scx_ops_attach!(skel, fairrs_ops) {
            Ok(link) => link,
            Err(_) if sched_ext_busy() => bail!(another_scheduler()),
            Err(e) => return Err(e).context("attaching the BPF scheduler"),
        };

        Ok(Self {
            skel,
            opts: opts.clone(),
            struct_ops: Some(struct_ops),
            nr_cpus,
            nr_cpu_ids,
            topo,
            cgroup_paths: Default::default(),
            bandwidth,
        })
    }

    pub fn nr_cpus(&self) -> usize {
        self.nr_cpus
    }

    pub fn topology(&self) -> &CpuMap {
        &self.topo
    }

    /// The event counters, summed over CPUs (stats.bpf.h). The kernel
    /// returns one value per possible CPU, packed (holes in the ids take no
    /// slot), and libbpf sizes the buffer by the count of possible CPUs, so
    /// the sum is right whatever the ids; nothing here indexes it by CPU id.
    fn counters(&self) -> Vec<u64> {
        (0..stats::NR_COUNTERS as u32)
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
            // Indexed by CPU id: ids in a hole of the possible mask are
            // never online, and stats leaves out CPUs that are not.
            Some(bss) => bss.cpu_ctxs[..self.nr_cpu_ids]
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
        let tunables = cli::current(&self.opts);
        let tasks = self.dump_tasks();
        let groups = self.groups();
        let mono_ns = monotonic_ns();
        // This thread was running while it read the groups: its weight is in
        // its group's load, which the stats leave out of the ideal shares.
        // SAFETY: gettid() has no preconditions.
        let tid = unsafe { libc::gettid() };
        let reader = tasks.iter().find(|t| t.pid == tid && t.on_queue).map(|t| (t.group, t.weight));
        let bpf_stats = std::fs::read_to_string(BPF_STATS_SYSCTL).is_ok_and(|v| v.trim() == "1");
        let progs = if bpf_stats { self.progs() } else { Vec::new() };
        let ctxt = std::fs::read_to_string("/proc/stat").ok().and_then(|t| stats::proc_stat_ctxt(&t)).unwrap_or(0);
        Raw {
            at: Instant::now(),
            counters,
            cpus,
            tasks,
            groups,
            reader,
            tunables,
            bpf_stats,
            progs,
            ctxt,
            mono_ns,
            cpu_max_enforced: self.bandwidth,
        }
    }

    /// Each loaded BPF program's run count and time (bpf_prog_info; counted
    /// by the kernel only while kernel.bpf_stats_enabled is on) and its
    /// verified instructions (kept from the load, whatever the switch).
    pub fn progs(&self) -> Vec<ProgRaw> {
        self.skel
            .object()
            .progs()
            .filter_map(|prog| {
                // SAFETY: the program belongs to the loaded skeleton, alive as long as self.
                let fd = unsafe { libbpf_rs::libbpf_sys::bpf_program__fd(prog.as_libbpf_object().as_ptr()) };
                if fd < 0 {
                    return None;
                }
                let mut info = libbpf_rs::libbpf_sys::bpf_prog_info::default();
                let mut len = std::mem::size_of_val(&info) as u32;
                // SAFETY: info is a zeroed bpf_prog_info of len bytes with no
                // arrays asked for, so the kernel writes only into it.
                let ret = unsafe { libbpf_rs::libbpf_sys::bpf_prog_get_info_by_fd(fd, &mut info, &mut len) };
                (ret == 0).then(|| ProgRaw {
                    name: prog.name().to_string_lossy().into_owned(),
                    run_cnt: info.run_cnt,
                    run_time_ns: info.run_time_ns,
                    verified_insns: info.verified_insns.into(),
                })
            })
            .collect()
    }

    /// Every tracked cgroup (group.bpf.h's slots), with its path.
    fn groups(&self) -> Vec<GroupRaw> {
        let Some(bss) = self.skel.maps.bss_data.as_ref() else {
            return Vec::new();
        };
        let mut groups: Vec<GroupRaw> = bss
            .groups
            .iter()
            .enumerate()
            .filter(|(_, g)| g.cgid != 0)
            .map(|(slot, g)| GroupRaw {
                slot: slot as i32,
                cgid: g.cgid,
                parent: g.parent,
                path: String::new(),
                cpu_weight: g.cpu_weight,
                shares: g.shares,
                nr_runnable: g.nr_runnable,
                task_load: g.task_load,
                child_shares: g.child_shares,
                contrib: g.contrib,
                runtime_ns: g.runtime_ns,
                bw_quota_ns: g.bw_quota_ns,
                bw_period_ns: g.bw_period_ns,
                bw_burst_ns: g.bw_burst_ns,
                bw_throttled_at: g.bw_throttled_at,
                bw_nr_periods: g.bw_nr_periods,
                bw_nr_throttled: g.bw_nr_throttled,
                bw_throttled_ns: g.bw_throttled_ns,
            })
            .collect();
        let mut paths = self.cgroup_paths.borrow_mut();
        if groups.iter().any(|g| cgroups::autogroup_id(g.cgid).is_none() && !paths.contains_key(&g.cgid)) {
            *paths = cgroups::paths();
        }
        for g in &mut groups {
            g.path = match cgroups::autogroup_id(g.cgid) {
                Some(id) => format!("autogroup-{id}"),
                None => paths.get(&g.cgid).cloned().unwrap_or_else(|| format!("cgroup {}", g.cgid)),
            };
        }
        groups
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
                TaskRaw {
                    pid: d.pid,
                    comm: c_text(d.comm.iter().map(|&c| c as u8)),
                    nice: d.nice,
                    weight: d.weight,
                    group_weight: d.group_weight,
                    group: d.group,
                    queue_cpu: d.queue_cpu,
                    on_queue: d.on_queue != 0,
                    exec_ns: d.exec_ns,
                    runnable_ns: d.runnable_ns,
                    vlag_ns: d.vlag_ns,
                    load_avg: d.load_avg,
                    util_avg: d.util_avg,
                    nr_migrations: d.nr_migrations,
                    entitled_ns: d.entitled_ns,
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
    /// serve the control socket (reports and --set), print --stats reports.
    /// Detaches, then returns the kernel's exit information (an error when
    /// the exit was an error).
    pub fn run(&mut self, shutdown: &AtomicBool) -> Result<UserExitInfo> {
        // `calls_tx` stays here too, so that the loop below waits the same
        // way whether or not the server runs.
        let (calls_tx, calls) = mpsc::channel::<Call>();
        let limits = control::Limits::default();
        let server = match control::Server::launch(Path::new(control::STATS_DIR), self.opts.top, limits, calls_tx.clone()) {
            Ok(server) => Some(server),
            // The scheduler is what the user asked for; the socket is a
            // convenience, and one that other users could reach is worse
            // than none.
            Err(e) => {
                warn!("stats server not started, --monitor and --set cannot reach this instance: {e:#}");
                None
            }
        };

        let every = (self.opts.stats > 0.0).then(|| Duration::from_secs_f64(self.opts.stats));
        let started = Instant::now();
        let mut last = self.snapshot();
        let mut warned = [false; WARN_COUNTERS.len()];
        let mut watched = Instant::now();

        while !shutdown.load(Ordering::Relaxed) && !self.exited() {
            // A client that gave up waiting no longer takes its answer: fine.
            match calls.recv_timeout(Duration::from_millis(100)) {
                Ok(Call { request: Request::Snapshot, reply }) => {
                    let _ = reply.send(Response::Snapshot(Box::new(self.snapshot())));
                }
                Ok(Call { request: Request::Set(key, value), reply }) => {
                    let result = self.retune(&key, &value);
                    if let Err(why) = &result {
                        warn!("refused --set {key}={value}: {why}");
                    }
                    let _ = reply.send(Response::Set(result));
                }
                Err(_) => {}
            }
            if watched.elapsed() >= WARN_EVERY {
                watched = Instant::now();
                self.warn_counters(&mut warned);
            }
            if let Some(every) = every {
                if last.at.elapsed() >= every {
                    let cur = self.snapshot();
                    println!("{}", Metrics::between(&last, &cur, self.opts.top).format());
                    last = cur;
                }
            }
        }

        // Requests still queued or arriving now are answered "stopping" at
        // once instead of waiting out their time limit.
        drop(calls);
        // Detach before anything else: the machine gets the kernel's
        // scheduler back first, and nothing (a task dump, a report) runs
        // against a scheduler that is being torn down.
        self.detach();
        drop(server);
        let counts: Vec<String> =
            stats::counters().iter().zip(self.counters()).map(|(c, v)| format!("{}={v}", c.name)).collect();
        info!("totals over {:.1}s: {}", started.elapsed().as_secs_f64(), counts.join(" "));
        let uei = self.exit_info();
        uei.report().map(|()| uei).context("the kernel ejected scx_fairrs")
    }

    /// Log each of WARN_COUNTERS the first time it is found above 0.
    fn warn_counters(&self, warned: &mut [bool]) {
        let values = self.counters();
        for ((name, what), done) in WARN_COUNTERS.iter().zip(warned.iter_mut()) {
            let idx = stats::counters().iter().position(|c| c.name == *name);
            let v = idx.and_then(|i| values.get(i).copied()).unwrap_or(0);
            if v > 0 && !*done {
                *done = true;
                warn!("{name}={v}: {what} (logged once; the exit totals give the count)");
            }
        }
    }

    /// The kernel's exit information, as scx_utils' uei_report! reads it but
    /// without its panic: uei_read! converts the reason, message and dump
    /// with `to_str().expect()`, and the kernel writes task names into the
    /// message and the dump ("runnable task stall (NAME[PID] ...)"), which can
    /// be any bytes a task chose (prctl(PR_SET_NAME)) or a UTF-8 name cut at
    /// 15 bytes. So read the same fields, replace what is not UTF-8, and hand
    /// scx_utils only valid text.
    fn exit_info(&self) -> UserExitInfo {
        let Some(data) = self.skel.maps.data_data.as_ref() else {
            return UserExitInfo::default();
        };
        // SAFETY: .data stays mapped as long as the skeleton; the kernel
        // writes uei, hence the volatile copy (as uei_exited! reads it).
        let uei = unsafe { std::ptr::read_volatile(&data.uei) };
        // The dump area: set up by scx_ops_load! (uei_set_size!) for the
        // skeleton loaded last, which is this one, with the length it gave
        // the BPF side.
        let dump_len = self.skel.maps.rodata_data.as_ref().map_or(0, |r| r.uei_dump_len as usize);
        let dump_ptr = scx_utils::UEI_DUMP_PTR_MUTEX.lock().map_or(std::ptr::null(), |p| p.ptr);
        // SAFETY: that area is dump_len bytes, mapped as long as the skeleton.
        let dump = (!dump_ptr.is_null() && dump_len > 0)
            .then(|| unsafe { std::slice::from_raw_parts(dump_ptr as *const u8, dump_len) });
        exit_info_from(&uei, dump)
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

/// Counters that mean a weight the user set is not applied as set, or a
/// state that must not happen: each is logged the first time it is above 0.
const WARN_COUNTERS: [(&str, &str); 3] = [
    (
        "group_untracked",
        "cgroups nested deeper than 16 levels, or beyond the 4096 group slots (autogroup sessions too), \
         count as their parent; their cpu.weight is not applied on its own",
    ),
    ("group_underflow", "a task left a group slot it was not counted in (a bug: please report it)"),
    ("group_phantom", "an idle group was still adding to its parent's shares, healed (a bug: please report it)"),
];

/// How often the daemon looks at WARN_COUNTERS.
const WARN_EVERY: Duration = Duration::from_secs(1);

/// How long releasing the struct_ops link may take before the daemon says so
/// (and again every as long): far longer than a disable takes.
const DETACH_WARN: Duration = Duration::from_secs(5);

/// The struct_ops link goes before the skeleton it refers to, whatever path
/// drops the scheduler (an error after attach included): the kernel then
/// disables the scheduler while its maps and programs are still loaded.
impl Drop for Scheduler<'_> {
    fn drop(&mut self) {
        self.detach();
    }
}

/// CLOCK_MONOTONIC now, ns: the clock of bpf_ktime_get_ns(), which stamps
/// the BPF side's throttles.
fn monotonic_ns() -> u64 {
    let mut ts = libc::timespec { tv_sec: 0, tv_nsec: 0 };
    // SAFETY: ts is a valid timespec to write; CLOCK_MONOTONIC always exists.
    unsafe { libc::clock_gettime(libc::CLOCK_MONOTONIC, &mut ts) };
    ts.tv_sec as u64 * 1_000_000_000 + ts.tv_nsec as u64
}

/// Text from a NUL-terminated C string of the kernel's: up to the first NUL
/// (or the end of the array), with bytes that are not UTF-8 replaced by
/// U+FFFD. Task names are bytes, not text: valid UTF-8 names come out as
/// written, anything else still prints.
fn c_text(bytes: impl IntoIterator<Item = u8>) -> String {
    let raw: Vec<u8> = bytes.into_iter().take_while(|&b| b != 0).collect();
    String::from_utf8_lossy(&raw).into_owned()
}

/// scx_utils' UserExitInfo from the BPF side's `uei` and its dump area,
/// with reason, message and dump made valid UTF-8 first (see exit_info).
fn exit_info_from(uei: &types::user_exit_info, dump: Option<&[u8]>) -> UserExitInfo {
    // c_text stops at the first NUL, so CString::new cannot fail.
    let text = |bytes: Vec<u8>| std::ffi::CString::new(c_text(bytes)).unwrap_or_default();
    let reason = text(uei.reason.iter().map(|&c| c as u8).collect());
    let msg = text(uei.msg.iter().map(|&c| c as u8).collect());
    let dump = dump.map(|d| text(d.to_vec()));
    // As uei_read!: these fields only mean something on kernels that have them.
    let has = |field| scx_utils::compat::struct_has_field("scx_exit_info", field).unwrap_or(false);
    let exit_code: *const i64 = if has("exit_code") { &uei.exit_code } else { std::ptr::null() };
    let exit_cpu: *const i32 = if has("exit_cpu") { &uei.exit_cpu } else { std::ptr::null() };
    UserExitInfo::new(
        &uei.kind,
        exit_code,
        exit_cpu,
        reason.as_ptr(),
        msg.as_ptr(),
        dump.as_ref().map_or(std::ptr::null(), |d| d.as_ptr()),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    // The skeleton has C `char` as i8 (the BPF target's), on every host.
    fn put(dst: &mut [i8], text: &[u8]) {
        for (d, &s) in dst.iter_mut().zip(text) {
            *d = s as _;
        }
    }

    #[test]
    fn task_names_are_bytes_and_still_print() {
        assert_eq!(c_text(*b"fairrs-guest\0\0\0\0"), "fairrs-guest");
        assert_eq!(c_text(*b"no terminator"), "no terminator");
        assert_eq!(c_text("café".bytes()), "café");
        // A UTF-8 name the kernel cut inside a character, and plain bytes.
        assert_eq!(c_text(*b"ab\xc3"), "ab\u{fffd}");
        assert_eq!(c_text(*b"\xff\xfeX\0tail"), "\u{fffd}\u{fffd}X");
    }

    #[test]
    fn an_exit_message_naming_a_task_that_is_not_utf8_does_not_panic() {
        // What the kernel writes when it ejects the scheduler for a stall of
        // a task whose name is not UTF-8 (scx_utils' own reader panics here).
        let mut uei = types::user_exit_info::default();
        uei.kind = scx_utils::ScxExitKind::ErrorStall as i32;
        put(&mut uei.reason, b"runnable task stall");
        put(&mut uei.msg, b"\xffname\xfe[36] failed to run for 38.576s");
        let dump = b"CPU 3   : nr_run=2\n  curr=\xc3[36]\n\0stale bytes after the end".to_vec();
        let info = exit_info_from(&uei, Some(&dump));
        let why = info.report().expect_err("a stall is an error exit").to_string();
        assert!(why.starts_with("EXIT: runnable task stall (\u{fffd}name\u{fffd}[36] failed to run for 38.576s)"), "{why}");
        let all = format!("{info:?}");
        assert!(all.contains("curr=\u{fffd}[36]") && !all.contains("stale"), "{all}");
    }
}
