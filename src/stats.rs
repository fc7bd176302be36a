// SPDX-License-Identifier: GPL-2.0
//! Statistics: what the BPF side counted and tracks, turned into the figures
//! a kernel engineer reads: event rates, per-CPU PELT util/load, average
//! slice, the heaviest tasks, and live fairness. (There is deliberately no
//! cross-CPU vruntime figure: as in CFS, each queue's clock runs at its own
//! rate and a task's vruntime is renormalised when it changes queue, so the
//! distance between two queues' clocks means nothing.)
//!
//! The scheduler module takes `Raw` snapshots (cumulative counters, every
//! CPU's queue, every task's dump record); `Metrics::between()` turns two of
//! them into one interval's report. That is pure arithmetic, tested on the
//! host. The same `Metrics` travel as JSON over the control socket
//! (control/: `--monitor`, tools), so the in-process `--stats` and a monitor
//! print the same figures.
//!
//! Live fairness: CFS's promise is per queue: while runnable on a CPU's queue,
//! a task is served at the rate weight / (the weights of the queue's runnable
//! tasks). The BPF side integrates that for every task over every queue it
//! is runnable on (entitle.bpf.h), migrations included, so each task's CPU
//! time in the interval can be set against what it was owed. Sampled: tasks
//! owed at least max(sched_latency, 1 % of the interval), below which a
//! slice's granularity is most of the figure. Jain's index of (CPU time /
//! entitlement) over the sample is 1 for perfect proportionality, 1/n at
//! worst; the lag is CPU time minus entitlement. The weight is the one the
//! queue uses: the task's own scaled by its cgroups' shares (group.bpf.h).
//!
//! BPF cost: with kernel.bpf_stats_enabled on, the kernel counts each BPF
//! program's runs and run time; the report gives each of the scheduler's
//! programs (its callbacks, and the task dump) calls and mean ns over the
//! interval, and all of them together per context switch (/proc/stat ctxt),
//! as tests/vm/bench.sh computes bpf_ns_per_switch.
//!
//! Groups: each cgroup's share of the CPU time the root cgroup's child groups
//! received in the interval (the root cgroup's own tasks are left out: the
//! BPF side keeps no counts for the root), beside the share cpu.weight gives
//! it where it sits in the hierarchy: the product, from it up to the root's
//! children, of what it contributes to its parent over its parent's load
//! (group.bpf.h), as the groups stood at the end of the interval, the thread
//! that read them left out. Each also gets the CPU time its subtree used, in
//! CPUs (run time over the interval's length), to set against a cpu.max
//! limit. A group with a cpu.max limit also gets the limit and cpu.stat's
//! counts (bandwidth.bpf.h), its throttled time including a current throttle
//! up to the read (CLOCK_MONOTONIC, bpf_ktime_get_ns()'s clock).

use std::collections::BTreeMap;
use std::ffi::{c_char, CStr};
use std::fmt::Write as _;
use std::sync::LazyLock;
use std::time::Instant;

use scx_stats::prelude::*;

use crate::bpf_intf;
pub use scx_fairrs::metrics::{CallbackMetrics, CpuMetrics, GroupMetrics, Metrics, TaskMetrics};

/// One BPF event counter (intf.h's FAIRRS_STATS list): its name, which is its
/// key in `events_per_s` and the text block, and what it counts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Counter {
    pub name: &'static str,
    pub doc: &'static str,
}

/// How many counters there are (FAIRRS_NR_STATS).
pub const NR_COUNTERS: usize = bpf_intf::fairrs_stat_FAIRRS_NR_STATS as usize;

/// The counters, indexed by `enum fairrs_stat`: read from the tables
/// intf_host.c expands from the same list as the enum, so the order cannot
/// drift.
pub fn counters() -> &'static [Counter; NR_COUNTERS] {
    static COUNTERS: LazyLock<[Counter; NR_COUNTERS]> = LazyLock::new(|| {
        let text = |table: &[*const c_char; NR_COUNTERS], i: usize| {
            // SAFETY: intf_host.c fills every entry with a string literal.
            unsafe { CStr::from_ptr(table[i]) }.to_str().unwrap_or("?")
        };
        // SAFETY: immutable C arrays of NR_COUNTERS entries (intf.h).
        let (names, docs) = unsafe { (&bpf_intf::fairrs_stat_names, &bpf_intf::fairrs_stat_docs) };
        std::array::from_fn(|i| Counter { name: text(names, i), doc: text(docs, i) })
    });
    &COUNTERS
}

/// Is counter `i` an event? SLICES and SLICE_NS are not: they make the
/// average slice.
fn is_event(i: usize) -> bool {
    ![bpf_intf::fairrs_stat_FAIRRS_STAT_SLICES, bpf_intf::fairrs_stat_FAIRRS_STAT_SLICE_NS].contains(&(i as u32))
}

/// The event counters, in order: (index, counter).
pub fn events() -> impl Iterator<Item = (usize, &'static Counter)> {
    counters().iter().enumerate().filter(|(i, _)| is_event(*i))
}

/// A task is sampled for live fairness if it was owed at least this share of
/// the interval, and at least sched_latency.
const FAIR_MIN_SHARE: f64 = 0.01;

/// sched_latency when the snapshot carries no tunables (the flag's default).
const DEFAULT_LATENCY_NS: f64 = 6e6;

/// One CPU's queue as the BPF side last wrote it.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct CpuRaw {
    pub online: bool,
    pub nr_running: u32,
    pub load_weight: u64,
    pub runnable_load: i64,
    pub util_avg: u64,
    pub load_avg: u64,
    pub last_slice_ns: u64,
}

/// One task's dump record (struct fairrs_task_dump).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TaskRaw {
    pub pid: i32,
    pub comm: String,
    pub nice: i32,
    pub weight: u32,
    pub group_weight: u32,
    pub group: i32,
    pub queue_cpu: i32,
    pub on_queue: bool,
    pub exec_ns: u64,
    pub runnable_ns: u64,
    pub vlag_ns: i64,
    pub load_avg: u64,
    pub util_avg: u64,
    pub nr_migrations: u64,
    /// CPU time owed by weight while runnable, ns (entitle.bpf.h).
    pub entitled_ns: u64,
}

/// One of the scheduler's BPF programs: its runs and their total time since
/// load, as the kernel counts them while kernel.bpf_stats_enabled is on, and
/// the instructions the verifier processed to load it (always reported; 0
/// where the kernel does not fill it in).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ProgRaw {
    pub name: String,
    pub run_cnt: u64,
    pub run_time_ns: u64,
    pub verified_insns: u64,
}

/// The most instructions the kernel's verifier processes for one program
/// before it refuses it (BPF_COMPLEXITY_LIMIT_INSNS, include/linux/bpf.h).
pub const VERIFIER_LIMIT_INSNS: u64 = 1_000_000;

/// The attach log's line on the verifier's work: the programs that report a
/// count, their total, and the one closest to the kernel's limit (the first
/// listed of equals), so a kernel where the scheduler nears the limit shows
/// it before a change tips it over.
pub fn verifier_line(progs: &[ProgRaw]) -> String {
    let counted: Vec<&ProgRaw> = progs.iter().filter(|p| p.verified_insns > 0).collect();
    let Some(most) = counted.iter().copied().reduce(|m, p| if p.verified_insns > m.verified_insns { p } else { m })
    else {
        return "verifier: this kernel does not report instruction counts".into();
    };
    let total: u64 = counted.iter().map(|p| p.verified_insns).sum();
    format!(
        "verifier: {} program{}, {total} instructions processed; most: {} {} \
         (the kernel's limit: {VERIFIER_LIMIT_INSNS} per program)",
        counted.len(),
        if counted.len() == 1 { "" } else { "s" },
        most.name,
        most.verified_insns
    )
}

/// One tracked cgroup (struct fairrs_group in its slot), with its path.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct GroupRaw {
    pub slot: i32,
    pub cgid: u64,
    pub parent: i32,
    pub path: String,
    pub cpu_weight: u32,
    /// cpu.weight in load units (tg->shares).
    pub shares: u32,
    pub nr_runnable: i64,
    pub task_load: i64,
    pub child_shares: i64,
    pub contrib: i64,
    pub runtime_ns: u64,
    /// cpu.max and cpu.max.burst, ns (bandwidth.bpf.h); quota 0: no limit.
    pub bw_quota_ns: u64,
    pub bw_period_ns: u64,
    pub bw_burst_ns: u64,
    /// When it was throttled (CLOCK_MONOTONIC), 0 while it is not.
    pub bw_throttled_at: u64,
    /// As cpu.stat: periods with a limit, throttles, and the time of those
    /// that ended, ns.
    pub bw_nr_periods: u64,
    pub bw_nr_throttled: u64,
    pub bw_throttled_ns: u64,
}

/// Cumulative counters, queues, tasks and groups at one instant.
#[derive(Debug, Clone)]
pub struct Raw {
    pub at: Instant,
    pub counters: Vec<u64>,
    pub cpus: Vec<CpuRaw>,
    pub tasks: Vec<TaskRaw>,
    pub groups: Vec<GroupRaw>,
    /// The thread that took the snapshot, counted runnable in its group
    /// while it read: (that group's slot, its weight).
    pub reader: Option<(i32, u32)>,
    pub tunables: BTreeMap<String, u64>,
    /// kernel.bpf_stats_enabled was on; `progs` are read only then.
    pub bpf_stats: bool,
    pub progs: Vec<ProgRaw>,
    /// Context switches since boot, all CPUs (/proc/stat's ctxt).
    pub ctxt: u64,
    /// CLOCK_MONOTONIC (bpf_ktime_get_ns()'s clock) after the groups were
    /// read: how long a current throttle has lasted.
    pub mono_ns: u64,
    /// cpu.max is enforced: the kernel reports it, and cgroups are on.
    pub cpu_max_enforced: bool,
}

/// The ctxt line of /proc/stat: context switches since boot, all CPUs.
pub fn proc_stat_ctxt(text: &str) -> Option<u64> {
    text.lines().find_map(|l| l.strip_prefix("ctxt ")).and_then(|v| v.trim().parse().ok())
}

// The BPF side's group rule (src/bpf/share.bpf.h, built for the host by
// share_host.c), so that the ideal shares follow what the scheduler does.
extern "C" {
    fn fairrs_share_group_contrib(nr_runnable: i64, shares: u32) -> i64;
    fn fairrs_share_group_load(task_load: i64, child_shares: i64) -> i64;
    #[cfg(test)]
    fn fairrs_share_weight_level(w: u64, shares: u32, load: i64) -> u64;
}

// SAFETY (both): pure functions of their arguments.
/// What a group adds to its parent's load as its count of runnable tasks stands.
fn group_contrib(g: &GroupRaw) -> i64 {
    unsafe { fairrs_share_group_contrib(g.nr_runnable, g.shares) }
}

/// A group's load: its own runnable tasks' weights and its children's contributions.
fn group_load(g: &GroupRaw) -> i64 {
    unsafe { fairrs_share_group_load(g.task_load, g.child_shares) }
}

/// The share of what the root's child groups receive that @g's place in the
/// hierarchy gives it (contrib / parent's load, multiplied up to the root's
/// children, which divide by the sum of their contributions: the BPF side
/// keeps no load for the root); 0 if it is idle.
fn ideal_share(g: &GroupRaw, by_slot: &BTreeMap<i32, &GroupRaw>) -> f64 {
    let mut share = 1.0;
    let mut cur = g;
    for _ in 0..=bpf_intf::fairrs_consts_FAIRRS_MAX_GROUP_DEPTH {
        let Some(parent) = by_slot.get(&cur.parent) else { return share };
        let load = if parent.parent < 0 {
            by_slot.values().filter(|c| c.parent == parent.slot).map(|c| c.contrib).sum()
        } else {
            group_load(parent)
        };
        if cur.contrib <= 0 || load <= 0 {
            return 0.0;
        }
        share *= cur.contrib as f64 / load as f64;
        cur = parent;
    }
    share
}

/// The groups as they stand apart from the thread that read them (which was
/// running, so counted as a runnable task of its cgroup, while it read).
fn without_reader(groups: &[GroupRaw], reader: Option<(i32, u32)>) -> Vec<GroupRaw> {
    let mut gs = groups.to_vec();
    let Some((slot, weight)) = reader else { return gs };
    // The root keeps no counts (group.bpf.h, group_in_root()).
    let Some(mut i) = gs.iter().position(|g| g.slot == slot && g.parent >= 0) else { return gs };
    gs[i].task_load -= weight as i64;
    for _ in 0..=bpf_intf::fairrs_consts_FAIRRS_MAX_GROUP_DEPTH {
        gs[i].nr_runnable -= 1;
        // Its count left 1: its contribution is synced (group_task_account()).
        let parent = gs.iter().position(|g| g.slot == gs[i].parent && g.parent >= 0);
        if gs[i].nr_runnable <= 0 {
            let want = group_contrib(&gs[i]);
            // A child of the root adds to no parent: ideal_share() sums its contribution.
            if let Some(p) = parent {
                gs[p].child_shares += want - gs[i].contrib;
            }
            gs[i].contrib = want;
        }
        let Some(p) = parent else { break };
        i = p;
    }
    gs
}

/// The length of the interval from @prev to @cur, s (never 0: it divides).
fn interval_secs(prev: &Raw, cur: &Raw) -> f64 {
    cur.at.duration_since(prev.at).as_secs_f64().max(1e-9)
}

/// The cgroups (not the root) that ran in the interval, the @top_n that ran
/// most, with their shares of what the root's child groups ran, their ideal,
/// and the CPUs they used.
pub fn group_shares(prev: &Raw, cur: &Raw, top_n: usize) -> Vec<GroupMetrics> {
    let secs = interval_secs(prev, cur);
    let before: BTreeMap<(i32, u64), &GroupRaw> = prev.groups.iter().map(|g| ((g.slot, g.cgid), g)).collect();
    let now = without_reader(&cur.groups, cur.reader);
    let by_slot: BTreeMap<i32, &GroupRaw> = now.iter().map(|g| (g.slot, g)).collect();
    let ran = |g: &GroupRaw| {
        before.get(&(g.slot, g.cgid)).map_or(0, |p| g.runtime_ns.saturating_sub(p.runtime_ns))
    };
    let Some(root) = cur.groups.iter().find(|g| g.parent < 0) else { return Vec::new() };
    // What the root's children ran (the root cgroup's own tasks are not counted).
    let total: u64 = cur.groups.iter().filter(|g| g.parent == root.slot).map(ran).sum();
    if total == 0 {
        return Vec::new();
    }
    let mut groups: Vec<(u64, &GroupRaw)> =
        now.iter().filter(|g| g.parent >= 0).map(|g| (ran(g), g)).filter(|(r, _)| *r > 0).collect();
    groups.sort_by(|a, b| b.0.cmp(&a.0).then(a.1.path.cmp(&b.1.path)));
    groups
        .into_iter()
        .take(top_n)
        .map(|(r, g)| GroupMetrics {
            path: g.path.clone(),
            cpu_weight: g.cpu_weight.into(),
            nr_runnable: g.nr_runnable.max(0) as u64,
            share: r as f64 / total as f64,
            ideal_share: ideal_share(g, &by_slot),
            cpus_used: r as f64 / 1e9 / secs,
            ..bandwidth(g, cur.mono_ns)
        })
        .collect()
}

/// A group's cpu.max and cpu.stat figures as of @now_ns (CLOCK_MONOTONIC);
/// all 0 without a limit, whatever a lifted one left behind.
fn bandwidth(g: &GroupRaw, now_ns: u64) -> GroupMetrics {
    if g.bw_quota_ns == 0 {
        return GroupMetrics::default();
    }
    let current = if g.bw_throttled_at != 0 { now_ns.saturating_sub(g.bw_throttled_at) } else { 0 };
    GroupMetrics {
        cpu_max_quota_us: g.bw_quota_ns / 1000,
        cpu_max_period_us: g.bw_period_ns / 1000,
        cpu_max_burst_us: g.bw_burst_ns / 1000,
        nr_periods: g.bw_nr_periods,
        nr_throttled: g.bw_nr_throttled,
        throttled_us: (g.bw_throttled_ns + current) / 1000,
        throttled: u64::from(g.bw_throttled_at != 0),
        ..Default::default()
    }
}

/// Live fairness over one interval (see the module doc).
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Fairness {
    /// Tasks runnable for at least the threshold in the interval.
    pub runnable: u64,
    /// Tasks owed at least the threshold: the sample.
    pub sampled: u64,
    /// Jain's index of CPU time / entitlement over the sample (1 with none).
    pub jain: f64,
    /// Largest |CPU time - entitlement| in the sample, ns.
    pub max_lag_ns: f64,
}

/// What a task must be owed in an interval of @secs to be sampled, ns.
fn fair_threshold_ns(secs: f64, tunables: &BTreeMap<String, u64>) -> f64 {
    let latency = tunables.get("sched_latency_us").map_or(DEFAULT_LATENCY_NS, |us| *us as f64 * 1e3);
    latency.max(FAIR_MIN_SHARE * secs * 1e9)
}

/// A task's (CPU time, runnable time, entitlement) in the interval, ns.
/// Without a record before (@before None), or with CPU time that went back
/// (its pid reused), it started in the interval: everything it has counts.
fn task_interval(t: &TaskRaw, before: Option<&TaskRaw>) -> (u64, u64, u64) {
    match before {
        Some(b) if t.exec_ns >= b.exec_ns && t.runnable_ns >= b.runnable_ns => (
            t.exec_ns - b.exec_ns,
            t.runnable_ns - b.runnable_ns,
            t.entitled_ns.saturating_sub(b.entitled_ns),
        ),
        _ => (t.exec_ns, t.runnable_ns, t.entitled_ns),
    }
}

/// Each task of @cur's (CPU time, runnable time, entitlement) in the
/// interval, ns; none when @prev has no task records to start from.
fn task_intervals<'a>(prev: &'a Raw, cur: &'a Raw) -> impl Iterator<Item = (&'a TaskRaw, (u64, u64, u64))> + 'a {
    let before: BTreeMap<i32, &TaskRaw> = prev.tasks.iter().map(|t| (t.pid, t)).collect();
    let known = !prev.tasks.is_empty();
    cur.tasks.iter().filter(move |_| known).map(move |t| (t, task_interval(t, before.get(&t.pid).copied())))
}

/// Live fairness over one interval: every task's CPU time against what its
/// weight entitled it to on the queues it was runnable on.
pub fn fairness(prev: &Raw, cur: &Raw) -> Fairness {
    let secs = cur.at.duration_since(prev.at).as_secs_f64();
    let threshold = fair_threshold_ns(secs, &cur.tunables);
    let mut f = Fairness { jain: 1.0, ..Default::default() };
    let mut xs = Vec::new();
    for (_, (ran, runnable, entitled)) in task_intervals(prev, cur) {
        f.runnable += u64::from(runnable as f64 >= threshold);
        if (entitled as f64) < threshold {
            continue;
        }
        xs.push(ran as f64 / entitled as f64);
        f.max_lag_ns = f.max_lag_ns.max((ran as f64 - entitled as f64).abs());
    }
    f.sampled = xs.len() as u64;
    let (sum, sum2): (f64, f64) = (xs.iter().sum(), xs.iter().map(|x| x * x).sum());
    if sum2 > 0.0 {
        f.jain = sum * sum / (xs.len() as f64 * sum2);
    }
    f
}

/// BPF cost over one interval, None unless kernel.bpf_stats_enabled was on
/// at both ends: each program's calls, mean run time and run time per
/// context switch, and the total per switch (the bench suite's
/// bpf_ns_per_switch: all programs' run time over /proc/stat's ctxt). A
/// program whose counts went back (reloaded) counts nothing.
pub fn bpf_overhead(prev: &Raw, cur: &Raw) -> Option<(Vec<CallbackMetrics>, f64)> {
    if !(prev.bpf_stats && cur.bpf_stats) {
        return None;
    }
    let switches = cur.ctxt.saturating_sub(prev.ctxt);
    let per_switch = |ns: u64| if switches > 0 { ns as f64 / switches as f64 } else { 0.0 };
    let before: BTreeMap<&str, &ProgRaw> = prev.progs.iter().map(|p| (p.name.as_str(), p)).collect();
    let mut total = 0u64;
    let callbacks = cur
        .progs
        .iter()
        .map(|p| {
            let (calls, ns) = match before.get(p.name.as_str()) {
                Some(b) if p.run_cnt >= b.run_cnt && p.run_time_ns >= b.run_time_ns => {
                    (p.run_cnt - b.run_cnt, p.run_time_ns - b.run_time_ns)
                }
                _ => (0, 0),
            };
            total += ns;
            CallbackMetrics {
                name: p.name.strip_prefix("fairrs_").unwrap_or(&p.name).to_string(),
                calls,
                mean_ns: if calls > 0 { ns as f64 / calls as f64 } else { 0.0 },
                ns_per_switch: per_switch(ns),
                verified_insns: p.verified_insns,
            }
        })
        .collect();
    Some((callbacks, per_switch(total)))
}

/// What the daemon does with a report: compute one from two snapshots, and
/// print it. (A trait because the report type belongs to the library.)
pub trait Report {
    /// The report for the interval from `prev` to `cur`, with the `top_n`
    /// heaviest tasks.
    fn between(prev: &Raw, cur: &Raw, top_n: usize) -> Self;
    /// The compact text block --stats and --monitor print.
    fn format(&self) -> String;
}

impl Report for Metrics {
    fn between(prev: &Raw, cur: &Raw, top_n: usize) -> Self {
        let secs = interval_secs(prev, cur);
        let delta = |i: usize| {
            cur.counters.get(i).copied().unwrap_or(0).saturating_sub(prev.counters.get(i).copied().unwrap_or(0))
        };
        let events_per_s = events().map(|(i, c)| (c.name.to_string(), delta(i) as f64 / secs)).collect();
        let slices = delta(bpf_intf::fairrs_stat_FAIRRS_STAT_SLICES as usize);
        let slice_ns = delta(bpf_intf::fairrs_stat_FAIRRS_STAT_SLICE_NS as usize);
        let online: Vec<&CpuRaw> = cur.cpus.iter().filter(|c| c.online).collect();
        let fair = fairness(prev, cur);
        let (bpf_callbacks, bpf_ns_per_switch) = bpf_overhead(prev, cur).unwrap_or_default();

        let spans: BTreeMap<i32, (u64, u64, u64)> = task_intervals(prev, cur).map(|(t, f)| (t.pid, f)).collect();
        let mut heavy: Vec<&TaskRaw> = cur.tasks.iter().collect();
        heavy.sort_by(|a, b| b.load_avg.cmp(&a.load_avg).then(a.pid.cmp(&b.pid)));
        let top = heavy
            .into_iter()
            .take(top_n)
            .map(|t| (t, spans.get(&t.pid).copied().unwrap_or_default()))
            .map(|(t, (ran, runnable, entitled))| TaskMetrics {
                pid: t.pid.into(),
                comm: t.comm.clone(),
                nice: t.nice.into(),
                weight: t.weight.into(),
                group_weight: t.group_weight.into(),
                cpu: t.queue_cpu.into(),
                util_avg: t.util_avg,
                load_avg: t.load_avg,
                vlag_ms: t.vlag_ns as f64 / 1e6,
                migrations: t.nr_migrations,
                ran_ms: ran as f64 / 1e6,
                runnable_ms: runnable as f64 / 1e6,
                entitled_ms: entitled as f64 / 1e6,
            })
            .collect();

        Self {
            interval_s: secs,
            nr_cpus: online.len() as u64,
            nr_running: cur.cpus.iter().map(|c| c.nr_running as u64).sum(),
            events_per_s,
            avg_slice_us: if slices > 0 { slice_ns as f64 / slices as f64 / 1e3 } else { 0.0 },
            util_total: online.iter().map(|c| c.util_avg).sum(),
            fair_tasks: fair.sampled,
            fair_jain: fair.jain,
            fair_max_lag_ms: fair.max_lag_ns / 1e6,
            fair_runnable_tasks: fair.runnable,
            fair_threshold_ms: fair_threshold_ns(secs, &cur.tunables) / 1e6,
            cpus: cur
                .cpus
                .iter()
                .enumerate()
                .filter(|(_, c)| c.online)
                .map(|(i, c)| CpuMetrics {
                    cpu: i as u64,
                    nr_running: c.nr_running.into(),
                    util_avg: c.util_avg,
                    load_avg: c.load_avg,
                    runnable_load: c.runnable_load.max(0) as u64,
                    slice_us: c.last_slice_ns as f64 / 1e3,
                })
                .collect(),
            top,
            groups: group_shares(prev, cur, top_n),
            tunables: cur.tunables.clone(),
            switches_per_s: cur.ctxt.saturating_sub(prev.ctxt) as f64 / secs,
            bpf_stats: u64::from(prev.bpf_stats && cur.bpf_stats),
            bpf_ns_per_switch,
            bpf_callbacks,
            cpu_max_enforced: u64::from(cur.cpu_max_enforced),
        }
    }

    fn format(&self) -> String {
        let mut out = String::new();
        let _ = writeln!(
            out,
            "[fairrs] {:.1}s | cpus {} runnable {} util {:.2} CPUs | avg slice {:.0}us",
            self.interval_s,
            self.nr_cpus,
            self.nr_running,
            self.util_total as f64 / 1024.0,
            self.avg_slice_us
        );
        if self.fair_tasks > 0 {
            let _ = writeln!(
                out,
                "  fairness: {} of {} runnable tasks sampled ({:.0}ms+ each), Jain {:.4} (CPU time / entitlement by weight), max lag {:.2}ms",
                self.fair_tasks, self.fair_runnable_tasks, self.fair_threshold_ms, self.fair_jain, self.fair_max_lag_ms
            );
        } else {
            // An index over no tasks would read as "perfectly fair".
            let _ = writeln!(
                out,
                "  fairness: n/a (no task was owed {:.0}ms of CPU time in the interval)",
                self.fair_threshold_ms
            );
        }
        let _ = writeln!(out, "  {}", events_line(self));
        bpf_lines(self, &mut out);
        let _ = writeln!(out, "  cpu  nr  util  load  rload  slice_us");
        for c in &self.cpus {
            let _ = writeln!(
                out,
                "  {:>3} {:>3} {:>5} {:>5} {:>6} {:>9.0}",
                c.cpu, c.nr_running, c.util_avg, c.load_avg, c.runnable_load, c.slice_us
            );
        }
        if !self.top.is_empty() {
            let _ = writeln!(out, "  top:   pid comm             nice weight cpu util  load   vlag_ms migr   ran_ms  owed_ms");
            for t in &self.top {
                let _ = writeln!(
                    out,
                    "  {:>9} {:<16} {:>4} {:>6} {:>3} {:>4} {:>5} {:>9.2} {:>4} {:>8.1} {:>8.1}",
                    t.pid,
                    t.comm,
                    t.nice,
                    t.weight,
                    t.cpu,
                    t.util_avg,
                    t.load_avg,
                    t.vlag_ms,
                    t.migrations,
                    t.ran_ms,
                    t.entitled_ms
                );
            }
        }
        let _ = writeln!(out, "  {}", cpu_max_line(self.cpu_max_enforced != 0));
        group_lines(&self.groups, &mut out);
        out.pop();
        out
    }
}

/// The text block's line on whether cpu.max limits are enforced.
fn cpu_max_line(enforced: bool) -> &'static str {
    if enforced {
        "cpu.max: enforced"
    } else {
        "cpu.max: not enforced (needs Linux 6.17+, and cgroups on: no --no-cgroup)"
    }
}

/// A duration of @us as the groups table prints it.
fn ms_text(us: u64) -> String {
    format!("{:.1}ms", us as f64 / 1e3)
}

/// A group's cpu.max as quota/period, or "max" without a limit.
fn cpu_max_text(g: &GroupMetrics) -> String {
    if g.cpu_max_quota_us == 0 {
        return "max".into();
    }
    format!("{}/{}", ms_text(g.cpu_max_quota_us), ms_text(g.cpu_max_period_us))
}

/// The groups table. `used` (CPUs, not a fraction) comes before the two
/// shares, which are read side by side. The cpu.max columns appear only when
/// a listed group has a limit (the others read "max" there and have nothing
/// to count), the burst column only when one has a burst; "(throttled now)"
/// follows a throttled group's path.
fn group_lines(groups: &[GroupMetrics], out: &mut String) {
    if groups.is_empty() {
        return;
    }
    let limited = groups.iter().any(|g| g.cpu_max_quota_us > 0);
    let burst = groups.iter().any(|g| g.cpu_max_quota_us > 0 && g.cpu_max_burst_us > 0);
    let maxes: Vec<String> = groups.iter().map(cpu_max_text).collect();
    let w = maxes.iter().map(String::len).chain(["cpu.max".len()]).max().unwrap_or(0);
    // The cpu.max columns after the ideal share, from their cells.
    let columns = |max: &str, cells: [&str; 4]| {
        let burst_col = if burst { format!(" {:>8}", cells[0]) } else { String::new() };
        format!(" {max:>w$}{burst_col} {:>7} {:>9} {:>12}", cells[1], cells[2], cells[3])
    };
    let head = if limited { columns("cpu.max", ["burst", "periods", "throttled", "throttled_ms"]) } else { String::new() };
    // `used` 7 wide: 100 CPUs and more still line up.
    let _ = writeln!(out, "  groups: weight runnable    used  share  ideal{head} path");
    for (g, max) in groups.iter().zip(&maxes) {
        let bw = match (limited, g.cpu_max_quota_us > 0) {
            (false, _) => String::new(),
            (true, false) => columns(max, [""; 4]),
            (true, true) => {
                let burst_cell = if g.cpu_max_burst_us > 0 { ms_text(g.cpu_max_burst_us) } else { "-".into() };
                let (periods, throttled) = (g.nr_periods.to_string(), g.nr_throttled.to_string());
                let time = format!("{:.1}", g.throttled_us as f64 / 1e3);
                columns(max, [&burst_cell, &periods, &throttled, &time])
            }
        };
        let now = if g.throttled != 0 { " (throttled now)" } else { "" };
        let _ = writeln!(
            out,
            "  {:>14} {:>8} {:>7.3} {:>6.3} {:>6.3}{bw} {}{now}",
            g.cpu_weight, g.nr_runnable, g.cpus_used, g.share, g.ideal_share, g.path
        );
    }
}

/// The BPF cost lines: one saying it is off, or the total per context switch
/// and each program that ran, costliest first.
fn bpf_lines(m: &Metrics, out: &mut String) {
    if m.bpf_stats == 0 {
        let _ = writeln!(out, "  bpf: off (kernel.bpf_stats_enabled=0; --help-stats says how to see each callback's cost)");
        return;
    }
    let _ = writeln!(
        out,
        "  bpf: {:.0} ns per context switch ({:.0} switches/s)",
        m.bpf_ns_per_switch, m.switches_per_s
    );
    let mut ran: Vec<&CallbackMetrics> = m.bpf_callbacks.iter().filter(|c| c.calls > 0).collect();
    ran.sort_by(|a, b| b.ns_per_switch.total_cmp(&a.ns_per_switch).then(a.name.cmp(&b.name)));
    if !ran.is_empty() {
        let _ = writeln!(
            out,
            "  {:<18} {:>9} {:>8} {:>10} {:>14}",
            "bpf callback", "calls", "mean_ns", "ns/switch", "verified_insns"
        );
        for c in ran {
            let _ = writeln!(
                out,
                "  {:<18} {:>9} {:>8.0} {:>10.1} {:>14}",
                c.name, c.calls, c.mean_ns, c.ns_per_switch, c.verified_insns
            );
        }
    }
}

/// The block's events line: the groups of EVENTS_LINE, then every other
/// event counter under its own name, so each one is printed.
fn events_line(m: &Metrics) -> String {
    let named = |k: &str| EVENTS_LINE.iter().any(|g| g.items.iter().any(|(n, _)| *n == k));
    let others: Vec<(&str, &str)> = events().map(|(_, c)| (c.name, c.name)).filter(|(k, _)| !named(k)).collect();
    let groups: Vec<String> = EVENTS_LINE
        .iter()
        .enumerate()
        .map(|(g, group)| {
            let extra = if g == EVENTS_LINE.len() - 1 { &others[..] } else { &[] };
            let values: Vec<String> = group
                .items
                .iter()
                .chain(extra)
                .map(|(k, label)| {
                    format!("{label} {:.*}", group.decimals, m.events_per_s.get(*k).copied().unwrap_or(0.0))
                })
                .collect();
            format!("{}{}", group.heading, values.join(" "))
        })
        .collect();
    groups.join(" | ")
}

/// A group of the text block's events line: its heading, its decimals, and
/// (counter, label) pairs.
struct EventGroup {
    heading: &'static str,
    decimals: usize,
    items: &'static [(&'static str, &'static str)],
}

const EVENTS_LINE: [EventGroup; 3] = [
    EventGroup {
        heading: "events/s: ",
        decimals: 0,
        items: &[
            ("enqueue", "enq"),
            ("dispatch", "disp"),
            ("wake_idle", "wake_idle"),
            ("keep_prev", "keep"),
            ("slice_expired", "expired"),
            ("preempt", "preempt"),
        ],
    },
    EventGroup {
        heading: "migrations/s: ",
        decimals: 1,
        items: &[
            ("mig_wakeup", "wakeup"),
            ("mig_idle", "idle"),
            ("mig_periodic", "periodic"),
            ("mig_hotplug", "hotplug"),
            ("mig_affinity", "affinity"),
        ],
    },
    EventGroup { heading: "", decimals: 1, items: &[("lag_clamp", "clamp")] },
];

/// The report structures, for --help-stats and the socket's "stats_meta".
pub fn metas() -> Vec<StatsMeta> {
    vec![Metrics::meta(), CpuMetrics::meta(), TaskMetrics::meta(), GroupMetrics::meta(), CallbackMetrics::meta()]
}

/// --help-stats: every field of the reports, then every event counter (the
/// keys of events_per_s).
pub fn describe<W: std::io::Write>(out: &mut W) -> anyhow::Result<()> {
    let data = metas().into_iter().fold(StatsServerData::<(), ()>::new(), StatsServerData::add_meta);
    data.describe_meta(out, None)?;
    writeln!(out, "\n[events_per_s] scheduling events, per second")?;
    let width = events().map(|(_, c)| c.name.len()).max().unwrap_or(0);
    for (_, c) in events() {
        writeln!(out, "  {:width$} : {}", c.name, c.doc)?;
    }
    write!(out, "{BPF_COST_HELP}")?;
    Ok(())
}

/// --help-stats on the BPF cost figures: what they are and how to turn them on.
const BPF_COST_HELP: &str = "
[bpf_callbacks] BPF cost: each of the scheduler's BPF programs (a sched_ext
  callback, or dump_tasks, the stats' own task dump) with its calls and mean
  run time over the interval and verified_insns, the instructions the
  kernel's verifier processed to load it (its limit: 1000000 per program),
  and bpf_ns_per_switch, all of them per context switch (/proc/stat ctxt,
  all CPUs; the bench suite's figure). The kernel only times BPF programs
  while kernel.bpf_stats_enabled is 1, which costs a little on every run of
  every BPF program, so it is off by default; then the report says so in one
  line (the daemon logs the verifier's counts when it attaches, whatever
  the switch). To see them:
    sudo sysctl -w kernel.bpf_stats_enabled=1
  and to stop:
    sudo sysctl -w kernel.bpf_stats_enabled=0
";
#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use std::time::Duration;

    pub(crate) fn task(pid: i32, cpu: i32, weight: u32, exec_ms: u64, runnable_ms: u64) -> TaskRaw {
        TaskRaw {
            pid,
            comm: format!("t{pid}"),
            weight,
            queue_cpu: cpu,
            on_queue: true,
            exec_ns: exec_ms * 1_000_000,
            runnable_ns: runnable_ms * 1_000_000,
            load_avg: weight as u64,
            ..Default::default()
        }
    }

    pub(crate) fn raw(at: Instant, counters: Vec<u64>, tasks: Vec<TaskRaw>) -> Raw {
        Raw {
            at,
            counters,
            cpus: vec![
                CpuRaw { online: true, nr_running: 2, util_avg: 1000, ..Default::default() },
                CpuRaw { online: true, nr_running: 1, util_avg: 500, ..Default::default() },
                CpuRaw { online: false, ..Default::default() },
            ],
            tasks,
            groups: Vec::new(),
            reader: None,
            tunables: BTreeMap::new(),
            bpf_stats: false,
            progs: Vec::new(),
            ctxt: 0,
            mono_ns: 0,
            cpu_max_enforced: false,
        }
    }

    #[test]
    fn every_counter_index_has_its_name() {
        use bpf_intf::*;
        // The names are the JSON keys (events_per_s): each enum index keeps its own.
        let expected = [
            (fairrs_stat_FAIRRS_STAT_ENQUEUE, "enqueue"),
            (fairrs_stat_FAIRRS_STAT_WAKE_IDLE, "wake_idle"),
            (fairrs_stat_FAIRRS_STAT_DISPATCH, "dispatch"),
            (fairrs_stat_FAIRRS_STAT_KEEP_PREV, "keep_prev"),
            (fairrs_stat_FAIRRS_STAT_PREEMPT, "preempt"),
            (fairrs_stat_FAIRRS_STAT_MIGRATE_WAKEUP, "mig_wakeup"),
            (fairrs_stat_FAIRRS_STAT_MIGRATE_IDLE, "mig_idle"),
            (fairrs_stat_FAIRRS_STAT_MIGRATE_PERIODIC, "mig_periodic"),
            (fairrs_stat_FAIRRS_STAT_MIGRATE_HOTPLUG, "mig_hotplug"),
            (fairrs_stat_FAIRRS_STAT_MIGRATE_AFFINITY, "mig_affinity"),
            (fairrs_stat_FAIRRS_STAT_BALANCE_REQ, "balance_req"),
            (fairrs_stat_FAIRRS_STAT_LAG_CLAMP, "lag_clamp"),
            (fairrs_stat_FAIRRS_STAT_SLICE_EXPIRED, "slice_expired"),
            (fairrs_stat_FAIRRS_STAT_OFFLINE_RESCUE, "offline_rescue"),
            (fairrs_stat_FAIRRS_STAT_KICK_OFFLINE, "kick_offline"),
            (fairrs_stat_FAIRRS_STAT_BALANCE_TAKEN, "balance_taken"),
            (fairrs_stat_FAIRRS_STAT_SLICES, "slices"),
            (fairrs_stat_FAIRRS_STAT_SLICE_NS, "slice_ns"),
        ];
        for (idx, name) in expected {
            assert_eq!(counters()[idx as usize].name, name, "index {idx}");
        }
        // Every counter, those added since included: a unique name and a description.
        let mut names: Vec<&str> = counters().iter().map(|c| c.name).collect();
        assert!(counters().iter().all(|c| !c.name.is_empty() && c.name != "?" && !c.doc.is_empty()), "{:?}", counters());
        names.sort_unstable();
        names.dedup();
        assert_eq!(names.len(), NR_COUNTERS);
        assert_eq!(events().count(), NR_COUNTERS - 2);
    }

    /// A group with `nr` runnable tasks in its subtree and (task_load, child_shares) `loads`.
    fn group(slot: i32, parent: i32, path: &str, weight: u32, contrib: i64, nr: i64, loads: (i64, i64)) -> GroupRaw {
        GroupRaw {
            slot,
            cgid: 100 + slot as u64,
            parent,
            path: path.to_string(),
            cpu_weight: weight,
            shares: weight * 1024 / 100,
            nr_runnable: nr,
            task_load: loads.0,
            child_shares: loads.1,
            contrib,
            runtime_ns: 0,
            ..Default::default()
        }
    }

    /// A task's weight seen from the root, as group.bpf.h's group_task_weight()
    /// walks it with the shared rule (fixed point here only for precision).
    fn bpf_weight(w: u32, slot: i32, by_slot: &BTreeMap<i32, &GroupRaw>) -> f64 {
        const FRAC: u32 = 20;
        let mut w = u64::from(w) << FRAC;
        let mut g = by_slot.get(&slot).filter(|g| g.parent >= 0);
        while let Some(cur) = g {
            // SAFETY: a pure function of its arguments.
            w = unsafe { fairrs_share_weight_level(w, cur.shares, group_load(cur)) };
            g = by_slot.get(&cur.parent).filter(|g| g.parent >= 0);
        }
        w as f64 / (1u64 << FRAC) as f64
    }

    #[test]
    fn ideal_shares_are_what_the_bpf_weights_give_each_group() {
        // (slot, parent, cpu.weight): the root > A, B; A > C, D (D idle).
        let tree = [(0, -1, 100), (1, 0, 100), (2, 0, 200), (3, 1, 50), (4, 1, 300)];
        // Runnable tasks: (slot, weight); the root cgroup's own is in no share.
        let tasks = [(1, 1024), (1, 2048), (2, 335), (2, 1024), (2, 1024), (3, 1024), (0, 1024)];
        let ancestors = |mut slot: i32| {
            std::iter::from_fn(move || {
                let at = (slot >= 0).then_some(slot)?;
                slot = tree[at as usize].1;
                Some(at)
            })
        };
        // The groups as the BPF accounting leaves them (the root keeps no counts).
        let mut gs: Vec<GroupRaw> = tree.iter().map(|&(s, p, w)| group(s, p, "", w, 0, 0, (0, 0))).collect();
        for (slot, w) in tasks.into_iter().filter(|(s, _)| *s > 0) {
            gs[slot as usize].task_load += w;
            ancestors(slot).filter(|s| *s > 0).for_each(|s| gs[s as usize].nr_runnable += 1);
        }
        for i in 1..gs.len() {
            gs[i].contrib = group_contrib(&gs[i]);
            if gs[i].parent > 0 {
                let p = gs[i].parent as usize;
                gs[p].child_shares += gs[i].contrib;
            }
        }
        let by_slot: BTreeMap<i32, &GroupRaw> = gs.iter().map(|g| (g.slot, g)).collect();
        // What the scheduler gives a group's subtree, of what the root's children get.
        let weight_in = |slot: i32| -> f64 {
            tasks.iter().filter(|(s, _)| ancestors(*s).any(|a| a == slot)).map(|&(s, w)| bpf_weight(w as u32, s, &by_slot)).sum()
        };
        let total = weight_in(1) + weight_in(2);
        for g in &gs[1..] {
            let (ideal, bpf) = (ideal_share(g, &by_slot), weight_in(g.slot) / total);
            assert!((ideal - bpf).abs() < 1e-6, "slot {}: ideal {ideal}, BPF weights {bpf}", g.slot);
        }
        assert!((ideal_share(&gs[3], &by_slot) - 512.0 / 3584.0 / 3.0).abs() < 1e-9);
        assert_eq!(ideal_share(&gs[4], &by_slot), 0.0);
    }

    #[test]
    fn group_shares_beside_their_ideal_without_the_reader() {
        // The root (which keeps no counts) holds /top; /top holds A (weight
        // 100, 1 task) and B (200, 4 tasks): B's ideal is 2/3, A's 1/3.
        let t0 = Instant::now();
        let before = vec![
            group(0, -1, "/", 100, 0, 0, (0, 0)),
            group(1, 0, "/top", 100, 1024, 5, (0, 3072)),
            group(2, 1, "/top/A", 100, 1024, 1, (1024, 0)),
            group(3, 1, "/top/B", 200, 2048, 4, (4096, 0)),
        ];
        let mut after = before.clone();
        for (g, ms) in after.iter_mut().zip([1000, 990, 330, 660]) {
            g.runtime_ns = ms * 1_000_000;
        }
        let mut prev = raw(t0, vec![], vec![]);
        prev.groups = before;
        let mut cur = raw(t0 + Duration::from_secs(1), vec![], vec![]);
        cur.groups = after;
        // A reader in the root cgroup changes nothing.
        cur.reader = Some((0, 1024));
        let g = group_shares(&prev, &cur, 10);
        let got: Vec<(&str, f64, f64)> = g.iter().map(|g| (g.path.as_str(), g.share, g.ideal_share)).collect();
        assert_eq!(got.len(), 3, "{got:?}");
        assert_eq!(got[0].0, "/top");
        assert!((got[0].1 - 1.0).abs() < 1e-9 && (got[0].2 - 1.0).abs() < 1e-9, "{got:?}");
        assert_eq!(got[1].0, "/top/B");
        assert!((got[1].1 - 660.0 / 990.0).abs() < 1e-9 && (got[1].2 - 2.0 / 3.0).abs() < 1e-9, "{got:?}");
        assert!((got[2].1 - 330.0 / 990.0).abs() < 1e-9 && (got[2].2 - 1.0 / 3.0).abs() < 1e-9, "{got:?}");
        // Over 1 s, each used its run time in CPUs.
        let used: Vec<f64> = g.iter().map(|g| g.cpus_used).collect();
        assert!(used.iter().zip([0.99, 0.66, 0.33]).all(|(u, w)| (u - w).abs() < 1e-9), "{used:?}");
        cur.reader = None;
        let again: Vec<(String, f64, f64)> =
            group_shares(&prev, &cur, 10).into_iter().map(|g| (g.path, g.share, g.ideal_share)).collect();
        assert_eq!(again, got.iter().map(|(p, s, i)| (p.to_string(), *s, *i)).collect::<Vec<_>>());
        // A reader alone in a group takes that group out of its parent's load
        // (here A, whose hog is asleep): B then has all of /top.
        cur.reader = Some((2, 1024));
        let g = group_shares(&prev, &cur, 10);
        let b = g.iter().find(|g| g.path == "/top/B").unwrap();
        assert!((b.ideal_share - 1.0).abs() < 1e-9, "{g:?}");
    }

    /// Two snapshots 2 s apart: /top holds /top/lim (cpu.max 50ms/100ms,
    /// burst 10ms, throttled 250.3 ms ago after 2 s throttled before; ran
    /// 1 s: 0.5 CPU) and /top/free (no limit: what a lifted one left is not
    /// reported; ran 0.9 s).
    fn bandwidth_pair() -> (Raw, Raw) {
        let t0 = Instant::now();
        let mut lim = group(2, 1, "/top/lim", 100, 1024, 1, (1024, 0));
        lim.bw_quota_ns = 50_000_000;
        lim.bw_period_ns = 100_000_000;
        lim.bw_burst_ns = 10_000_000;
        lim.bw_nr_periods = 123;
        lim.bw_nr_throttled = 45;
        lim.bw_throttled_ns = 2_000_000_000;
        lim.bw_throttled_at = 9_749_700_000;
        let mut free = group(3, 1, "/top/free", 100, 1024, 1, (1024, 0));
        free.bw_period_ns = 100_000_000;
        free.bw_nr_periods = 7;
        free.bw_nr_throttled = 2;
        let before = vec![group(0, -1, "/", 100, 0, 0, (0, 0)), group(1, 0, "/top", 100, 1024, 2, (0, 2048)), lim, free];
        let mut after = before.clone();
        for (g, ms) in after.iter_mut().zip([0, 1900, 1000, 900]) {
            g.runtime_ns = ms * 1_000_000;
        }
        let mut prev = raw(t0, vec![], vec![]);
        prev.groups = before;
        let mut cur = raw(t0 + Duration::from_secs(2), vec![], vec![]);
        cur.groups = after;
        cur.mono_ns = 10_000_000_000;
        cur.cpu_max_enforced = true;
        (prev, cur)
    }

    #[test]
    fn a_limited_group_reports_its_cpu_max_and_cpu_stat() {
        let (prev, cur) = bandwidth_pair();
        let m = Metrics::between(&prev, &cur, 10);
        assert_eq!(m.cpu_max_enforced, 1);
        let lim = m.groups.iter().find(|g| g.path == "/top/lim").unwrap();
        let got = (lim.cpu_max_quota_us, lim.cpu_max_period_us, lim.cpu_max_burst_us);
        assert_eq!(got, (50_000, 100_000, 10_000), "{lim:?}");
        assert_eq!((lim.nr_periods, lim.nr_throttled, lim.throttled), (123, 45, 1), "{lim:?}");
        // 2 s of ended throttles and the current one's 250.3 ms.
        assert_eq!(lim.throttled_us, 2_250_300, "{lim:?}");
        // 1 s of CPU time in 2 s: half its 50ms/100ms.
        assert!((lim.cpus_used - 0.5).abs() < 1e-9, "{lim:?}");
        let free = m.groups.iter().find(|g| g.path == "/top/free").unwrap();
        let got = [free.cpu_max_quota_us, free.cpu_max_period_us, free.nr_periods, free.nr_throttled, free.throttled];
        assert_eq!(got, [0; 5], "{free:?}");
        // Without a limit it still has what it used.
        assert!((free.cpus_used - 0.45).abs() < 1e-9, "{free:?}");
        // Not throttled: only the ended throttles count.
        let mut cur = cur;
        cur.groups[2].bw_throttled_at = 0;
        let m = Metrics::between(&prev, &cur, 10);
        let lim = m.groups.iter().find(|g| g.path == "/top/lim").unwrap();
        assert_eq!((lim.throttled_us, lim.throttled), (2_000_000, 0), "{lim:?}");
    }

    #[test]
    fn the_groups_table_has_cpu_max_columns_when_a_group_is_limited() {
        let (prev, cur) = bandwidth_pair();
        let text = Metrics::between(&prev, &cur, 10).format();
        let lines: Vec<&str> = text.lines().skip_while(|l| !l.starts_with("  cpu.max: ")).collect();
        assert_eq!(lines[0], "  cpu.max: enforced", "{text}");
        let head: Vec<&str> = lines[1].split_whitespace().collect();
        let want = ["groups:", "weight", "runnable", "used", "share", "ideal", "cpu.max", "burst", "periods", "throttled", "throttled_ms", "path"];
        assert_eq!(head, want, "{text}");
        let row = |path: &str| lines.iter().find(|l| l.contains(path)).unwrap_or_else(|| panic!("{path}:\n{text}"));
        let cells = |path: &str| row(path).split_whitespace().collect::<Vec<_>>();
        // Weight, runnable, then CPUs used, for every group.
        assert_eq!(cells("/top/lim")[2], "0.500", "{text}");
        assert_eq!(cells("/top/free")[2], "0.450", "{text}");
        let lim: Vec<&str> = cells("/top/lim").split_off(5);
        assert_eq!(lim, ["50.0ms/100.0ms", "10.0ms", "123", "45", "2250.3", "/top/lim", "(throttled", "now)"], "{text}");
        // No limit: "max", nothing to count.
        let free: Vec<&str> = cells("/top/free").split_off(5);
        assert_eq!(free, ["max", "/top/free"], "{text}");
        // Columns line up: each row as long as the header up to its path,
        // and up to each number its header right-aligns over.
        let at = |l: &str, p: &str| l.find(p).unwrap();
        assert_eq!(at(lines[1], " path"), at(row("/top/free"), " /top/free"), "{text}");
        assert_eq!(at(lines[1], " path"), at(row("/top/lim"), " /top/lim"), "{text}");
        let end = |l: &str, p: &str| l.find(p).unwrap() + p.len();
        assert_eq!(end(lines[1], " used"), end(row("/top/lim"), " 0.500"), "{text}");
        assert_eq!(end(lines[1], " used"), end(row("/top/free"), " 0.450"), "{text}");
        // No burst anywhere: no burst column; a limited group with none reads "-".
        let mut plain = cur.clone();
        plain.groups[2].bw_burst_ns = 0;
        let text = Metrics::between(&prev, &plain, 10).format();
        assert!(text.contains(" cpu.max periods throttled throttled_ms path"), "{text}");
        assert!(!text.contains("burst"), "{text}");
    }

    #[test]
    fn without_a_limited_group_the_groups_table_has_no_cpu_max_columns() {
        let (prev, mut cur) = bandwidth_pair();
        cur.groups[2].bw_quota_ns = 0;
        cur.cpu_max_enforced = false;
        let text = Metrics::between(&prev, &cur, 10).format();
        let lines: Vec<&str> = text.lines().skip_while(|l| !l.starts_with("  cpu.max: ")).collect();
        assert_eq!(lines[0], "  cpu.max: not enforced (needs Linux 6.17+, and cgroups on: no --no-cgroup)", "{text}");
        assert_eq!(lines[1], "  groups: weight runnable    used  share  ideal path", "{text}");
        assert!(lines[2..].iter().all(|l| l.split_whitespace().count() == 6 && !l.contains("max")), "{text}");
        let b = lines.iter().find(|l| l.ends_with(" /top/lim")).unwrap();
        assert_eq!(b.split_whitespace().nth(2), Some("0.500"), "{text}");
    }

    #[test]
    fn cpu_max_fields_are_in_the_json_of_limited_groups_only() {
        let (prev, cur) = bandwidth_pair();
        let m = Metrics::between(&prev, &cur, 10);
        let json = serde_json::to_value(&m).unwrap();
        assert_eq!(json["cpu_max_enforced"], 1);
        let group = |path: &str| json["groups"].as_array().unwrap().iter().find(|g| g["path"] == path).unwrap().clone();
        let keys = |g: &serde_json::Value| g.as_object().unwrap().keys().cloned().collect::<Vec<_>>();
        // A limited group carries every field the metadata describes.
        let mut every: Vec<String> = GroupMetrics::meta().fields.keys().cloned().collect();
        let mut lim_keys = keys(&group("/top/lim"));
        every.sort();
        lim_keys.sort();
        assert_eq!(lim_keys, every);
        let lim = group("/top/lim");
        let bw = ["cpu_max_quota_us", "cpu_max_period_us", "cpu_max_burst_us", "nr_periods", "nr_throttled", "throttled_us", "throttled"];
        let got: Vec<u64> = bw.iter().map(|k| lim[k].as_u64().unwrap()).collect();
        assert_eq!(got, [50_000, 100_000, 10_000, 123, 45, 2_250_300, 1], "{lim}");
        assert_eq!(lim["cpus_used"].as_f64(), Some(0.5), "{lim}");
        // An unlimited one: no cpu.max fields, but what it used.
        let free = group("/top/free");
        let mut free_keys = keys(&free);
        free_keys.sort();
        assert_eq!(free_keys, ["cpu_weight", "cpus_used", "ideal_share", "nr_runnable", "path", "share"]);
        assert_eq!(free["cpus_used"].as_f64(), Some(0.45), "{free}");
        // Read back (--monitor), the absent ones are 0: the same text.
        let back: Metrics = serde_json::from_value(json.clone()).unwrap();
        assert_eq!(back.format(), m.format());
        assert_eq!(serde_json::to_value(&back).unwrap(), json);
        // A report without cpus_used (an older instance's) reads as 0 CPUs.
        let mut old = json.clone();
        for g in old["groups"].as_array_mut().unwrap() {
            g.as_object_mut().unwrap().remove("cpus_used");
        }
        let back: Metrics = serde_json::from_value(old).unwrap();
        assert!(back.groups.iter().all(|g| g.cpus_used == 0.0), "{:?}", back.groups);
        assert_eq!(back.groups.iter().find(|g| g.path == "/top/lim").unwrap().cpu_max_quota_us, 50_000);
    }

    #[test]
    fn the_events_line_is_the_old_one_then_every_other_event() {
        let mut m = Metrics::default();
        for (i, (_, c)) in events().enumerate() {
            m.events_per_s.insert(c.name.to_string(), 1.25 + i as f64);
        }
        let ev = |k: &str| m.events_per_s[k];
        let old = format!(
            "events/s: enq {:.0} disp {:.0} wake_idle {:.0} keep {:.0} expired {:.0} preempt {:.0} | migrations/s: wakeup {:.1} idle {:.1} periodic {:.1} hotplug {:.1} affinity {:.1} | clamp {:.1}",
            ev("enqueue"),
            ev("dispatch"),
            ev("wake_idle"),
            ev("keep_prev"),
            ev("slice_expired"),
            ev("preempt"),
            ev("mig_wakeup"),
            ev("mig_idle"),
            ev("mig_periodic"),
            ev("mig_hotplug"),
            ev("mig_affinity"),
            ev("lag_clamp")
        );
        let line = events_line(&m);
        let rest = line.strip_prefix(&old).unwrap_or_else(|| panic!("{line}\n{old}"));
        // Then the events not printed before (balance_req, offline_rescue,
        // kick_offline, and any added since), in counter order.
        let before = ["enqueue", "dispatch", "wake_idle", "keep_prev", "slice_expired", "preempt"]
            .into_iter()
            .chain(["mig_wakeup", "mig_idle", "mig_periodic", "mig_hotplug", "mig_affinity", "lag_clamp"]);
        let before: Vec<&str> = before.collect();
        let others: String = events()
            .filter(|(_, c)| !before.contains(&c.name))
            .map(|(_, c)| format!(" {} {:.1}", c.name, ev(c.name)))
            .collect();
        assert!(others.starts_with(" balance_req ") && others.contains(" offline_rescue ") && others.contains(" kick_offline "));
        assert_eq!(rest, others);
        let text = m.format();
        assert_eq!(text.lines().nth(2), Some(format!("  {line}").as_str()), "{text}");
    }

    #[test]
    fn help_stats_describes_every_event_counter() {
        let mut out = Vec::new();
        describe(&mut out).unwrap();
        let text = String::from_utf8(out).unwrap();
        assert!(text.starts_with("[Metrics"), "{text}");
        for (_, c) in events() {
            let described = |l: &str| l.trim_start().starts_with(&format!("{} ", c.name)) && l.ends_with(&format!(": {}", c.doc));
            assert!(text.lines().any(described), "{} is not described:\n{text}", c.name);
        }
    }

    #[test]
    fn rates_slices_and_util() {
        let t0 = Instant::now();
        let n = NR_COUNTERS;
        let mut c0 = vec![0u64; n];
        let mut c1 = vec![0u64; n];
        c0[0] = 100;
        c1[0] = 300;
        c1[bpf_intf::fairrs_stat_FAIRRS_STAT_SLICES as usize] = 4;
        c1[bpf_intf::fairrs_stat_FAIRRS_STAT_SLICE_NS as usize] = 12_000_000;
        let m = Metrics::between(&raw(t0, c0, vec![]), &raw(t0 + Duration::from_secs(2), c1, vec![]), 0);
        assert_eq!(m.events_per_s["enqueue"], 100.0);
        assert!(!m.events_per_s.contains_key("slice_ns"));
        assert!(m.events_per_s.contains_key("slice_expired"));
        assert_eq!(m.avg_slice_us, 3000.0);
        // Offline CPUs are left out of the CPU list and util.
        assert_eq!(m.cpus.len(), 2);
        assert_eq!(m.util_total, 1500);
        assert_eq!(m.nr_running, 3);
    }

    #[test]
    fn text_monitor_reads_back_the_json_the_instance_sends() {
        // --monitor without --json parses the same JSON value it would print.
        let t0 = Instant::now();
        let prev = raw(t0, vec![0; NR_COUNTERS], (1..=2).map(|p| task(p, 0, 1024, 0, 0)).collect());
        let cur = raw(t0 + Duration::from_secs(1), vec![7; NR_COUNTERS], (1..=2).map(|p| task(p, 0, 1024, 500, 1000)).collect());
        let m = Metrics::between(&prev, &cur, 2);
        let back: Metrics = serde_json::from_value(serde_json::to_value(&m).unwrap()).unwrap();
        assert_eq!(back.format(), m.format());
    }

    // The BPF side's fair-clock arithmetic (cfs.bpf.h, built for the host).
    extern "C" {
        fn fairrs_cfs_fair_step(dt: u64, load: u64) -> u64;
        fn fairrs_cfs_fair_entitled(weight: u32, dclock: u64) -> u64;
    }

    /// How a simulated scheduler shares a CPU among the tasks of its queue.
    #[derive(Clone, Copy, Debug, PartialEq)]
    enum Share {
        /// CFS's ideal: by weight.
        ByWeight,
        /// A scheduler that ignores weights.
        Equal,
    }

    struct SimTask {
        pid: i32,
        weight: u32,
        cpu: usize,
        exec_ns: f64,
        runnable_ns: u64,
        fair_ns: u64,
        fair_clock: u64,
    }

    /// Runnable tasks on CPUs in simulated time: each CPU is shared among
    /// its queue as `share` says, while the BPF side's bookkeeping
    /// (entitle.bpf.h: a fair clock per queue, each task settled at its ticks
    /// and before it changes queue) runs beside it on the host build of
    /// cfs.bpf.h; `snapshot` gives what the task dump would.
    struct Sim {
        share: Share,
        now_ns: u64,
        clocks: Vec<u64>,
        loads: Vec<u64>,
        tasks: Vec<SimTask>,
    }

    const TICK_NS: u64 = 4_000_000;

    impl Sim {
        fn new(share: Share, cpus: usize) -> Self {
            Sim { share, now_ns: 0, clocks: vec![0; cpus], loads: vec![0; cpus], tasks: Vec::new() }
        }

        /// Task `pid` of `weight` becomes runnable on `cpu` (entitle_join()).
        fn add(&mut self, pid: i32, weight: u32, cpu: usize) {
            let fair_clock = self.clocks[cpu];
            self.loads[cpu] += weight as u64;
            self.tasks.push(SimTask { pid, weight, cpu, exec_ns: 0.0, runnable_ns: 0, fair_ns: 0, fair_clock });
        }

        fn settle(&mut self, i: usize) {
            let t = &mut self.tasks[i];
            let clock = self.clocks[t.cpu];
            // SAFETY: a pure function of its arguments.
            t.fair_ns += unsafe { fairrs_cfs_fair_entitled(t.weight, clock - t.fair_clock) };
            t.fair_clock = clock;
        }

        /// Task `pid` moves to `cpu`'s queue (vtime_move_queue()).
        fn migrate(&mut self, pid: i32, cpu: usize) {
            let i = self.tasks.iter().position(|t| t.pid == pid).unwrap();
            self.settle(i);
            let t = &mut self.tasks[i];
            self.loads[t.cpu] -= t.weight as u64;
            t.cpu = cpu;
            t.fair_clock = self.clocks[cpu];
            self.loads[cpu] += t.weight as u64;
        }

        /// `ns` of time pass, tick by tick.
        fn run(&mut self, ns: u64) {
            let end = self.now_ns + ns;
            while self.now_ns < end {
                let dt = TICK_NS.min(end - self.now_ns);
                for cpu in 0..self.clocks.len() {
                    // SAFETY: a pure function of its arguments.
                    self.clocks[cpu] += unsafe { fairrs_cfs_fair_step(dt, self.loads[cpu]) };
                    let n = self.tasks.iter().filter(|t| t.cpu == cpu).count() as f64;
                    let load = self.loads[cpu] as f64;
                    for t in self.tasks.iter_mut().filter(|t| t.cpu == cpu) {
                        let share = match self.share {
                            Share::ByWeight => t.weight as f64 / load,
                            Share::Equal => 1.0 / n,
                        };
                        t.exec_ns += dt as f64 * share;
                        t.runnable_ns += dt;
                    }
                }
                for i in 0..self.tasks.len() {
                    self.settle(i);
                }
                self.now_ns += dt;
            }
        }

        fn snapshot(&self, t0: Instant) -> Raw {
            let tasks = self
                .tasks
                .iter()
                .map(|t| TaskRaw {
                    pid: t.pid,
                    weight: t.weight,
                    queue_cpu: t.cpu as i32,
                    on_queue: true,
                    exec_ns: t.exec_ns.round() as u64,
                    runnable_ns: t.runnable_ns,
                    entitled_ns: t.fair_ns,
                    ..Default::default()
                })
                .collect();
            raw(t0 + Duration::from_nanos(self.now_ns), vec![], tasks)
        }
    }

    fn entitled_s(raw: &Raw, pid: i32) -> f64 {
        raw.tasks.iter().find(|t| t.pid == pid).unwrap().entitled_ns as f64 / 1e9
    }

    #[test]
    fn a_migrating_nice_mix_is_measured_against_its_shares_on_each_queue() {
        // CPU 0: A (nice 0) and B (nice 5); CPU 1: C (nice 0). Half-way
        // through, B moves to CPU 1. Owed (CFS's share of each queue, by
        // hand): A 0.5 * 1024/1359 + 0.5, B 2 * 0.5 * 335/1359, C 0.5 + 0.5 * 1024/1359.
        let ideal = [(1, 0.5 * 1024.0 / 1359.0 + 0.5), (2, 335.0 / 1359.0), (3, 0.5 + 0.5 * 1024.0 / 1359.0)];
        for share in [Share::ByWeight, Share::Equal] {
            let mut sim = Sim::new(share, 2);
            sim.add(1, 1024, 0);
            sim.add(2, 335, 0);
            sim.add(3, 1024, 1);
            let t0 = Instant::now();
            let prev = sim.snapshot(t0);
            sim.run(500_000_000);
            sim.migrate(2, 1);
            sim.run(500_000_000);
            let cur = sim.snapshot(t0);
            for (pid, want) in ideal {
                assert!((entitled_s(&cur, pid) - want).abs() < 1e-6, "{pid}: {} vs {want}", entitled_s(&cur, pid));
            }
            let f = fairness(&prev, &cur);
            assert_eq!((f.runnable, f.sampled), (3, 3), "{share:?}");
            match share {
                Share::ByWeight => assert!(f.jain > 0.999_999 && f.max_lag_ns < 1e3, "{f:?}"),
                // A 0.75 s of 0.877, B 0.5 of 0.246, C as A: Jain 0.835,
                // B's lag 0.254 s.
                Share::Equal => {
                    assert!((f.jain - 0.835).abs() < 0.01, "{f:?}");
                    assert!((f.max_lag_ns / 1e9 - (0.5 - 335.0 / 1359.0)).abs() < 1e-3, "{f:?}");
                }
            }
        }
    }

    #[test]
    fn group_weights_are_what_tasks_are_owed_by() {
        // Two cgroups of cpu.weight 100: X with one task, Y with three. Seen
        // from the root (group.bpf.h) X's task weighs 1024, Y's 1024/3 each.
        // CPU 0: x and y1, CPU 1: y2 and y3; after 0.4 s y3 moves to CPU 0.
        let (x, y) = (1024u32, 341u32);
        let ideal = [
            (1, 0.4 * 1024.0 / 1365.0 + 0.6 * 1024.0 / 1706.0),
            (2, 0.4 * 341.0 / 1365.0 + 0.6 * 341.0 / 1706.0),
            (3, 0.4 / 2.0 + 0.6),
            (4, 0.4 / 2.0 + 0.6 * 341.0 / 1706.0),
        ];
        for share in [Share::ByWeight, Share::Equal] {
            let mut sim = Sim::new(share, 2);
            for (pid, w, cpu) in [(1, x, 0), (2, y, 0), (3, y, 1), (4, y, 1)] {
                sim.add(pid, w, cpu);
            }
            let t0 = Instant::now();
            let prev = sim.snapshot(t0);
            sim.run(400_000_000);
            sim.migrate(4, 0);
            sim.run(600_000_000);
            let cur = sim.snapshot(t0);
            for (pid, want) in ideal {
                assert!((entitled_s(&cur, pid) - want).abs() < 1e-6, "{pid}: {} vs {want}", entitled_s(&cur, pid));
            }
            let f = fairness(&prev, &cur);
            assert_eq!(f.sampled, 4);
            // Group shares ignored (each task as much as the next): x 0.4 s
            // of 0.66, y1 0.4 of 0.22, y2 0.8 of 0.8, y3 0.4 of 0.32; Jain 0.876.
            match share {
                Share::ByWeight => assert!(f.jain > 0.999_999, "{f:?}"),
                Share::Equal => assert!((f.jain - 0.876).abs() < 0.01, "{f:?}"),
            }
        }
    }

    #[test]
    fn tasks_owed_too_little_are_counted_runnable_not_sampled() {
        // A SCHED_IDLE task (weight 3) beside a nice-0 hog for 1 s: runnable
        // all along, owed 3/1027 of it (2.9 ms), under max(6 ms, 10 ms).
        let mut sim = Sim::new(Share::ByWeight, 1);
        sim.add(1, 1024, 0);
        sim.add(2, 3, 0);
        let t0 = Instant::now();
        let prev = sim.snapshot(t0);
        sim.run(1_000_000_000);
        let cur = sim.snapshot(t0);
        let f = fairness(&prev, &cur);
        assert_eq!((f.runnable, f.sampled), (2, 1), "{f:?}");
        let text = Metrics::between(&prev, &cur, 0).format();
        assert!(text.contains("fairness: 1 of 2 runnable tasks sampled (10ms+ each), Jain 1.0000"), "{text}");
    }

    #[test]
    fn no_sample_is_reported_as_no_figure() {
        // A 5 ms interval: nobody is owed sched_latency (6 ms). The block must
        // not print an index of 1 that looks like a measurement.
        let mut sim = Sim::new(Share::ByWeight, 1);
        sim.add(1, 1024, 0);
        let t0 = Instant::now();
        let prev = sim.snapshot(t0);
        sim.run(5_000_000);
        let cur = sim.snapshot(t0);
        let m = Metrics::between(&prev, &cur, 0);
        assert_eq!((m.fair_tasks, m.fair_runnable_tasks), (0, 0));
        let text = m.format();
        assert!(text.contains("fairness: n/a (no task was owed 6ms of CPU time in the interval)"), "{text}");
        assert!(!text.contains("Jain"), "{text}");
    }

    #[test]
    fn tasks_started_in_the_interval_count_from_zero() {
        let mut sim = Sim::new(Share::ByWeight, 1);
        sim.add(1, 1024, 0);
        let t0 = Instant::now();
        let prev = sim.snapshot(t0);
        sim.run(200_000_000);
        // A thread started 0.2 s in: what it has is all from this interval.
        sim.add(2, 335, 0);
        sim.run(800_000_000);
        let cur = sim.snapshot(t0);
        let f = fairness(&prev, &cur);
        assert_eq!(f.sampled, 2);
        assert!(f.jain > 0.999_999, "{f:?}");
        // Without records to start from (an empty dump) nothing is sampled.
        let mut blank = prev.clone();
        blank.tasks.clear();
        assert_eq!(fairness(&blank, &cur).sampled, 0);
        // A pid reused in the interval (its CPU time went back) starts from zero too.
        let mut reused = prev.clone();
        reused.tasks[0].exec_ns = cur.tasks[0].exec_ns + 1;
        let f = fairness(&reused, &cur);
        assert_eq!(f.sampled, 2);
        let m = Metrics::between(&reused, &cur, 2);
        let t1 = m.top.iter().find(|t| t.pid == 1).unwrap();
        assert!((t1.ran_ms - cur.tasks[0].exec_ns as f64 / 1e6).abs() < 1e-9, "{t1:?}");
    }

    #[test]
    fn top_tasks_carry_their_interval() {
        let mut sim = Sim::new(Share::ByWeight, 1);
        sim.add(1, 1024, 0);
        sim.add(2, 335, 0);
        let t0 = Instant::now();
        sim.run(1_000_000_000);
        let prev = sim.snapshot(t0);
        sim.run(1_000_000_000);
        let cur = sim.snapshot(t0);
        let m = Metrics::between(&prev, &cur, 2);
        let t2 = m.top.iter().find(|t| t.pid == 2).unwrap();
        assert!((t2.runnable_ms - 1000.0).abs() < 1e-6, "{t2:?}");
        assert!((t2.entitled_ms - 1000.0 * 335.0 / 1359.0).abs() < 1e-3, "{t2:?}");
        assert!((t2.ran_ms - t2.entitled_ms).abs() < 1e-3, "{t2:?}");
    }

    fn prog(name: &str, run_cnt: u64, run_time_ns: u64) -> ProgRaw {
        ProgRaw { name: name.to_string(), run_cnt, run_time_ns, verified_insns: 1000 + run_cnt }
    }

    fn verified(name: &str, verified_insns: u64) -> ProgRaw {
        ProgRaw { name: name.to_string(), verified_insns, ..Default::default() }
    }

    #[test]
    fn the_verifier_line_gives_the_total_and_the_largest() {
        let progs = [
            verified("fairrs_enqueue", 12_000),
            verified("fairrs_dispatch", 45_678),
            verified("dump_tasks", 900),
            verified("fairrs_tick", 45_678),
            verified("fairrs_running", 0),
        ];
        assert_eq!(
            verifier_line(&progs),
            "verifier: 4 programs, 104256 instructions processed; most: fairrs_dispatch 45678 \
             (the kernel's limit: 1000000 per program)"
        );
        assert_eq!(
            verifier_line(&progs[2..3]),
            "verifier: 1 program, 900 instructions processed; most: dump_tasks 900 \
             (the kernel's limit: 1000000 per program)"
        );
    }

    #[test]
    fn the_verifier_line_says_when_the_kernel_reports_nothing() {
        let none = "verifier: this kernel does not report instruction counts";
        assert_eq!(verifier_line(&[verified("fairrs_enqueue", 0), verified("fairrs_tick", 0)]), none);
        assert_eq!(verifier_line(&[]), none);
    }

    /// Two snapshots 2 s apart with bpf stats `on` at each end.
    fn bpf_pair(on: (bool, bool)) -> (Raw, Raw) {
        let t0 = Instant::now();
        let mut prev = raw(t0, vec![], vec![]);
        prev.bpf_stats = on.0;
        prev.ctxt = 1000;
        prev.progs = vec![
            prog("fairrs_enqueue", 10, 5_000),
            prog("fairrs_dispatch", 20, 10_000),
            prog("fairrs_tick", 500, 900_000),
            prog("dump_tasks", 1, 100_000),
        ];
        let mut cur = raw(t0 + Duration::from_secs(2), vec![], vec![]);
        cur.bpf_stats = on.1;
        cur.ctxt = 3000;
        cur.progs = vec![
            prog("fairrs_enqueue", 1010, 505_000),
            prog("fairrs_dispatch", 20, 10_000),
            // Reloaded meanwhile: its counts went back.
            prog("fairrs_tick", 3, 1_000),
            prog("dump_tasks", 2, 300_000),
            // Not there before.
            prog("fairrs_running", 7, 7_000),
        ];
        (prev, cur)
    }

    #[test]
    fn bpf_cost_per_callback_and_per_context_switch() {
        let (prev, cur) = bpf_pair((true, true));
        let m = Metrics::between(&prev, &cur, 0);
        assert_eq!(m.bpf_stats, 1);
        assert_eq!(m.switches_per_s, 1000.0);
        let got: Vec<(&str, u64, f64, f64, u64)> = m
            .bpf_callbacks
            .iter()
            .map(|c| (c.name.as_str(), c.calls, c.mean_ns, c.ns_per_switch, c.verified_insns))
            .collect();
        // verified_insns as the latest snapshot has it, whatever the counts did.
        assert_eq!(
            got,
            vec![
                ("enqueue", 1000, 500.0, 250.0, 2010),
                ("dispatch", 0, 0.0, 0.0, 1020),
                ("tick", 0, 0.0, 0.0, 1003),
                ("dump_tasks", 1, 200_000.0, 100.0, 1002),
                ("running", 0, 0.0, 0.0, 1007),
            ]
        );
        // All programs' run time over the 2000 switches: (500000 + 200000) / 2000.
        assert_eq!(m.bpf_ns_per_switch, 350.0);
        let total: f64 = m.bpf_callbacks.iter().map(|c| c.ns_per_switch).sum();
        assert_eq!(total, m.bpf_ns_per_switch);
        let text = m.format();
        // After the events line: the total, then those that ran, costliest first.
        let lines: Vec<&str> = text.lines().skip(3).take_while(|l| !l.starts_with("  cpu  nr")).collect();
        assert_eq!(lines[0], "  bpf: 350 ns per context switch (1000 switches/s)", "{text}");
        assert!(
            lines[1].starts_with("  bpf callback") && lines[1].ends_with("calls  mean_ns  ns/switch verified_insns"),
            "{text}"
        );
        let rows: Vec<Vec<&str>> = lines[2..].iter().map(|l| l.split_whitespace().collect()).collect();
        assert_eq!(
            rows,
            vec![vec!["enqueue", "1000", "500", "250.0", "2010"], vec!["dump_tasks", "1", "200000", "100.0", "1002"]],
            "{text}"
        );
        let json = serde_json::to_value(&m).unwrap();
        assert_eq!(json["bpf_callbacks"][0]["verified_insns"], 2010, "{json}");
        // No switches: no figure per switch rather than a division by zero.
        let mut still = cur.clone();
        still.ctxt = prev.ctxt;
        let m = Metrics::between(&prev, &still, 0);
        assert!(m.bpf_ns_per_switch == 0.0 && m.bpf_callbacks.iter().all(|c| c.ns_per_switch == 0.0));
    }

    #[test]
    fn bpf_cost_off_is_one_line() {
        for on in [(false, false), (true, false), (false, true)] {
            let (prev, cur) = bpf_pair(on);
            let m = Metrics::between(&prev, &cur, 0);
            assert_eq!((m.bpf_stats, m.bpf_ns_per_switch, m.bpf_callbacks.len()), (0, 0.0, 0), "{on:?}");
            let text = m.format();
            let lines: Vec<&str> = text.lines().filter(|l| l.contains("bpf")).collect();
            assert_eq!(lines.len(), 1, "{text}");
            assert!(lines[0].starts_with("  bpf: off (kernel.bpf_stats_enabled=0"), "{text}");
            let json = serde_json::to_value(&m).unwrap();
            assert_eq!(json["bpf_stats"], 0);
        }
    }

    #[test]
    fn context_switches_from_proc_stat() {
        let text = "cpu  1 2 3\nintr 55 1 2\nctxt 123456789\nbtime 1700000000\n";
        assert_eq!(proc_stat_ctxt(text), Some(123_456_789));
        assert_eq!(proc_stat_ctxt("cpu 1\n"), None);
    }

    #[test]
    fn help_stats_says_how_to_see_the_bpf_cost() {
        let mut out = Vec::new();
        describe(&mut out).unwrap();
        let text = String::from_utf8(out).unwrap();
        for want in
            ["sudo sysctl -w kernel.bpf_stats_enabled=1", "bpf_ns_per_switch", "[bpf_callbacks]", "mean_ns", "verified_insns", "entitled_ms"]
        {
            assert!(text.contains(want), "{want}:\n{text}");
        }
    }

    #[test]
    fn top_is_sorted_by_load_and_cut() {
        let t0 = Instant::now();
        let mut a = task(10, 0, 1024, 0, 0);
        a.load_avg = 50;
        let mut b = task(11, 1, 335, 0, 0);
        b.load_avg = 300;
        let mut c = task(12, 1, 88761, 0, 0);
        c.load_avg = 80000;
        let cur = raw(t0 + Duration::from_secs(1), vec![], vec![a, b, c]);
        let m = Metrics::between(&raw(t0, vec![], vec![]), &cur, 2);
        let pids: Vec<i64> = m.top.iter().map(|t| t.pid).collect();
        assert_eq!(pids, vec![12, 11]);
        let text = m.format();
        assert!(text.contains("top:") && text.contains("t12"), "{text}");
    }
}
