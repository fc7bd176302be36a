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
//! Live fairness: tasks that were runnable for (nearly) the whole interval on
//! one CPU's queue compete only with each other, so CFS's promise is exact
//! there: each gets CPU time in proportion to its weight. Per queue with two
//! or more such tasks, a task's lag is its CPU time minus its weighted share
//! of the time the group received, and Jain's index of (CPU time / weight)
//! is 1 for perfect proportionality, 1/n at worst. The report gives the worst
//! queue's index and the largest lag. The weight is the one the queue uses:
//! the task's own scaled by its cgroups' shares (group.bpf.h).
//!
//! Groups: each cgroup's share of the CPU time the root cgroup's child groups
//! received in the interval (the root cgroup's own tasks are left out: the
//! BPF side keeps no counts for the root), beside the share cpu.weight gives
//! it where it sits in the hierarchy: the product, from it up to the root's
//! children, of what it contributes to its parent over its parent's load
//! (group.bpf.h), as the groups stood at the end of the interval, the thread
//! that read them left out.

use std::collections::BTreeMap;
use std::ffi::{c_char, CStr};
use std::fmt::Write as _;
use std::sync::LazyLock;
use std::time::Instant;

use scx_stats::prelude::*;

use crate::bpf_intf;
pub use scx_fairrs::metrics::{CpuMetrics, GroupMetrics, Metrics, TaskMetrics};

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

/// A task counts for live fairness if it was runnable this share of the interval.
const FAIR_RUNNABLE_SHARE: f64 = 0.95;

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
}

/// The weight a task's queue shares the CPU by.
fn queue_weight(t: &TaskRaw) -> u32 {
    if t.group_weight > 0 {
        t.group_weight
    } else {
        t.weight
    }
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

/// The cgroups (not the root) that ran in the interval, the @top_n that ran
/// most, with their shares of what the root's child groups ran and their
/// ideal.
pub fn group_shares(prev: &Raw, cur: &Raw, top_n: usize) -> Vec<GroupMetrics> {
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
        })
        .collect()
}

/// Fairness over one interval: (tasks sampled, worst Jain index, max |lag| ns).
pub fn fairness(prev: &Raw, cur: &Raw) -> (u64, f64, f64) {
    let secs = cur.at.duration_since(prev.at).as_secs_f64();
    let before: BTreeMap<i32, &TaskRaw> = prev.tasks.iter().map(|t| (t.pid, t)).collect();
    // queue -> [(cpu time in the interval, weight)]
    let mut groups: BTreeMap<i32, Vec<(f64, f64)>> = BTreeMap::new();
    for t in &cur.tasks {
        let Some(p) = before.get(&t.pid) else { continue };
        let runnable = t.runnable_ns.saturating_sub(p.runnable_ns) as f64 / 1e9;
        let stayed = t.queue_cpu == p.queue_cpu && t.nr_migrations == p.nr_migrations;
        if t.on_queue && stayed && queue_weight(t) > 0 && runnable >= FAIR_RUNNABLE_SHARE * secs {
            let exec = t.exec_ns.saturating_sub(p.exec_ns) as f64;
            groups.entry(t.queue_cpu).or_default().push((exec, queue_weight(t) as f64));
        }
    }
    let (mut n, mut jain, mut max_lag) = (0u64, 1.0f64, 0.0f64);
    for g in groups.values().filter(|g| g.len() >= 2) {
        n += g.len() as u64;
        let total_exec: f64 = g.iter().map(|(e, _)| e).sum();
        let total_w: f64 = g.iter().map(|(_, w)| w).sum();
        for (e, w) in g {
            max_lag = max_lag.max((e - total_exec * w / total_w).abs());
        }
        let xs: Vec<f64> = g.iter().map(|(e, w)| e / w).collect();
        let (s, s2): (f64, f64) = (xs.iter().sum(), xs.iter().map(|x| x * x).sum());
        if s2 > 0.0 {
            jain = jain.min(s * s / (xs.len() as f64 * s2));
        }
    }
    (n, jain, max_lag)
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
        let secs = cur.at.duration_since(prev.at).as_secs_f64().max(1e-9);
        let delta = |i: usize| {
            cur.counters.get(i).copied().unwrap_or(0).saturating_sub(prev.counters.get(i).copied().unwrap_or(0))
        };
        let events_per_s = events().map(|(i, c)| (c.name.to_string(), delta(i) as f64 / secs)).collect();
        let slices = delta(bpf_intf::fairrs_stat_FAIRRS_STAT_SLICES as usize);
        let slice_ns = delta(bpf_intf::fairrs_stat_FAIRRS_STAT_SLICE_NS as usize);
        let online: Vec<&CpuRaw> = cur.cpus.iter().filter(|c| c.online).collect();
        let (fair_tasks, fair_jain, max_lag_ns) = fairness(prev, cur);

        let mut heavy: Vec<&TaskRaw> = cur.tasks.iter().collect();
        heavy.sort_by(|a, b| b.load_avg.cmp(&a.load_avg).then(a.pid.cmp(&b.pid)));
        let top = heavy
            .into_iter()
            .take(top_n)
            .map(|t| TaskMetrics {
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
            })
            .collect();

        Self {
            interval_s: secs,
            nr_cpus: online.len() as u64,
            nr_running: cur.cpus.iter().map(|c| c.nr_running as u64).sum(),
            events_per_s,
            avg_slice_us: if slices > 0 { slice_ns as f64 / slices as f64 / 1e3 } else { 0.0 },
            util_total: online.iter().map(|c| c.util_avg).sum(),
            fair_tasks,
            fair_jain,
            fair_max_lag_ms: max_lag_ns / 1e6,
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
                "  fairness: {} tasks sampled, Jain {:.4}, max lag {:.2}ms",
                self.fair_tasks, self.fair_jain, self.fair_max_lag_ms
            );
        } else {
            // An index over no tasks would read as "perfectly fair".
            let _ = writeln!(out, "  fairness: n/a (no two tasks shared a queue for the whole interval)");
        }
        let _ = writeln!(out, "  {}", events_line(self));
        let _ = writeln!(out, "  cpu  nr  util  load  rload  slice_us");
        for c in &self.cpus {
            let _ = writeln!(
                out,
                "  {:>3} {:>3} {:>5} {:>5} {:>6} {:>9.0}",
                c.cpu, c.nr_running, c.util_avg, c.load_avg, c.runnable_load, c.slice_us
            );
        }
        if !self.top.is_empty() {
            let _ = writeln!(out, "  top:   pid comm             nice weight cpu util  load   vlag_ms migr");
            for t in &self.top {
                let _ = writeln!(
                    out,
                    "  {:>9} {:<16} {:>4} {:>6} {:>3} {:>4} {:>5} {:>9.2} {:>4}",
                    t.pid, t.comm, t.nice, t.weight, t.cpu, t.util_avg, t.load_avg, t.vlag_ms, t.migrations
                );
            }
        }
        if !self.groups.is_empty() {
            let _ = writeln!(out, "  groups: weight runnable  share  ideal path");
            for g in &self.groups {
                let _ = writeln!(
                    out,
                    "  {:>14} {:>8} {:>6.3} {:>6.3} {}",
                    g.cpu_weight, g.nr_runnable, g.share, g.ideal_share, g.path
                );
            }
        }
        out.pop();
        out
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
    vec![Metrics::meta(), CpuMetrics::meta(), TaskMetrics::meta(), GroupMetrics::meta()]
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
    Ok(())
}
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

    #[test]
    fn no_sample_is_reported_as_no_figure() {
        // One task alone on its queue is not a fairness sample: the block must
        // not print an index of 1 that looks like a measurement.
        let t0 = Instant::now();
        let prev = raw(t0, vec![], vec![task(1, 0, 1024, 0, 0)]);
        let cur = raw(t0 + Duration::from_secs(1), vec![], vec![task(1, 0, 1024, 1000, 1000)]);
        let text = Metrics::between(&prev, &cur, 0).format();
        assert!(text.contains("fairness: n/a"), "{text}");
        assert!(!text.contains("Jain"), "{text}");
    }

    #[test]
    fn equal_tasks_with_equal_time_are_perfectly_fair() {
        let t0 = Instant::now();
        let prev = raw(t0, vec![], (1..=4).map(|p| task(p, 0, 1024, 0, 0)).collect());
        let cur = raw(t0 + Duration::from_secs(1), vec![], (1..=4).map(|p| task(p, 0, 1024, 250, 1000)).collect());
        let (n, jain, lag) = fairness(&prev, &cur);
        assert_eq!(n, 4);
        assert!((jain - 1.0).abs() < 1e-12);
        assert!(lag < 1.0);
    }

    #[test]
    fn weighted_shares_are_fair_and_skews_are_caught() {
        let t0 = Instant::now();
        let t1 = t0 + Duration::from_secs(1);
        // nice 0 (1024) and nice 5 (335) sharing a CPU in CFS's ratio: fair.
        let prev = raw(t0, vec![], vec![task(1, 0, 1024, 0, 0), task(2, 0, 335, 0, 0)]);
        let cur = raw(t1, vec![], vec![task(1, 0, 1024, 753, 1000), task(2, 0, 335, 247, 1000)]);
        let (n, jain, lag) = fairness(&prev, &cur);
        assert_eq!(n, 2);
        assert!(jain > 0.9999, "{jain}");
        assert!(lag < 1.0e6, "{lag}");
        // The same two tasks splitting 50/50 ignore nice: caught.
        let cur = raw(t1, vec![], vec![task(1, 0, 1024, 500, 1000), task(2, 0, 335, 500, 1000)]);
        let (_, jain, lag) = fairness(&prev, &cur);
        // x = 500/1024, 500/335; Jain = (x1+x2)^2 / (2 (x1^2+x2^2)).
        let (x1, x2) = (500.0 / 1024.0, 500.0 / 335.0);
        assert!((jain - (x1 + x2) * (x1 + x2) / (2.0 * (x1 * x1 + x2 * x2))).abs() < 1e-9);
        assert!((lag / 1e6 - (753.5 - 500.0)).abs() < 0.5, "{lag}");
    }

    #[test]
    fn only_tasks_runnable_all_interval_on_one_queue_count() {
        let t0 = Instant::now();
        let mut moved = task(3, 1, 1024, 900, 1000);
        moved.nr_migrations = 1;
        let prev = raw(t0, vec![], vec![task(1, 0, 1024, 0, 0), task(2, 0, 1024, 0, 0), task(3, 1, 1024, 0, 0), task(4, 1, 1024, 0, 0)]);
        let cur = raw(
            t0 + Duration::from_secs(1),
            vec![],
            // Task 2 slept half the interval: not a competitor. Tasks 3-4: 3 migrated.
            vec![task(1, 0, 1024, 700, 1000), task(2, 0, 1024, 300, 500), moved, task(4, 1, 1024, 100, 1000)],
        );
        let (n, jain, _) = fairness(&prev, &cur);
        assert_eq!(n, 0, "no queue keeps two qualifying tasks");
        assert_eq!(jain, 1.0);
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
