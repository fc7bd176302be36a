// SPDX-License-Identifier: GPL-2.0
//! The report scx_fairrs serves: one interval's figures (`Metrics`), its
//! per-CPU queues and heaviest tasks. They are the JSON of `--monitor --json`
//! and of the stats socket, so they live in the crate's library, where a
//! client (the VM tests' guest program) reads them with the very types the
//! daemon writes. How they are computed is the daemon's business (stats.rs).
//!
//! OpenMetrics names (scx_stats' user attributes, read by `--openmetrics`
//! and carried in the "stats_meta" a client receives): a struct's
//! `_om_prefix` starts the name of each of its numeric fields; a field with
//! `_om_label = "NAME"` is the label NAME of its struct's series (a list's
//! element: cpu, pid, comm, cgroup) or, on a map of numbers, the label of its
//! keys; `_om_skip` marks what is no sample of its own; the struct-level
//! `_om_label` names the label of a nested struct, as scx_stats' tools expect.
//! These structs do without `#[stat_doc]`: it cannot parse a field attribute
//! with a value (`_om_label = "cpu"`) and fails the build.

use std::collections::BTreeMap;

use scx_stats_derive::Stats;
use serde::{Deserialize, Serialize};

/// The top-level report's `_om_prefix`: every OpenMetrics name starts with
/// it, and clients tell scx_fairrs's stats socket from another scheduler's by it.
pub const OM_PREFIX: &str = "fairrs_";

#[derive(Clone, Debug, Default, Serialize, Deserialize, Stats)]
#[stat(_om_prefix = "fairrs_cpu_", _om_label = "cpu")]
pub struct CpuMetrics {
    #[stat(desc = "CPU id", _om_label = "cpu", _om_skip)]
    pub cpu: u64,
    #[stat(desc = "Runnable tasks on this CPU's queue, running included")]
    pub nr_running: u64,
    #[stat(desc = "PELT util_avg of the queue (0..1024: share of time busy)")]
    pub util_avg: u64,
    #[stat(desc = "PELT load_avg of the queue (weight-scaled)")]
    pub load_avg: u64,
    #[stat(desc = "Sum of the runnable tasks' PELT load_avg (what the balancer compares)")]
    pub runnable_load: u64,
    #[stat(desc = "Slice most recently granted here, microseconds")]
    pub slice_us: f64,
}

#[derive(Clone, Debug, Default, Serialize, Deserialize, Stats)]
#[stat(_om_prefix = "fairrs_task_", _om_label = "pid")]
pub struct TaskMetrics {
    #[stat(desc = "Thread id", _om_label = "pid", _om_skip)]
    pub pid: i64,
    #[stat(desc = "Command name", _om_label = "comm", _om_skip)]
    pub comm: String,
    #[stat(desc = "Nice level")]
    pub nice: i64,
    #[stat(desc = "CFS load weight (sched_prio_to_weight)")]
    pub weight: u64,
    #[stat(desc = "Weight seen from the root: its own times its cgroups' shares / load")]
    pub group_weight: u64,
    #[stat(desc = "CPU whose queue holds the task")]
    pub cpu: i64,
    #[stat(desc = "PELT util_avg (0..1024)")]
    pub util_avg: u64,
    #[stat(desc = "PELT load_avg (weight-scaled)")]
    pub load_avg: u64,
    #[stat(desc = "vruntime minus its queue's min_vruntime, milliseconds")]
    pub vlag_ms: f64,
    #[stat(desc = "Queue changes since scx_fairrs started tracking it")]
    pub migrations: u64,
    #[stat(desc = "CPU time it got in the interval, milliseconds")]
    pub ran_ms: f64,
    #[stat(desc = "Time it was runnable (queued or running) in the interval, milliseconds")]
    pub runnable_ms: f64,
    #[stat(desc = "CPU time its weight entitled it to on the queues it was runnable on in the interval (the live fairness ideal), milliseconds")]
    pub entitled_ms: f64,
}

/// A cgroup's figures. The cpu.max ones (from `cpu_max_quota_us` on) are in
/// its JSON only while it has a limit: absent, they read as 0 (no limit).
/// `cpus_used` is always sent, and reads as 0 when absent too (a report from
/// an older instance).
#[derive(Clone, Debug, Default, Deserialize, Stats)]
#[stat(_om_prefix = "fairrs_group_", _om_label = "cgroup")]
pub struct GroupMetrics {
    #[stat(desc = "Cgroup path below the cgroup v2 root", _om_label = "cgroup", _om_skip)]
    pub path: String,
    #[stat(desc = "cpu.weight")]
    pub cpu_weight: u64,
    #[stat(desc = "Runnable tasks in its subtree at the end of the interval")]
    pub nr_runnable: u64,
    #[stat(desc = "Share of the CPU time the root cgroup's child groups received in the interval that its subtree received")]
    pub share: f64,
    #[stat(desc = "Share its place in the hierarchy gives it by cpu.weight, with the groups runnable at the end of the interval")]
    pub ideal_share: f64,
    #[stat(desc = "CPU time its subtree used in the interval, in CPUs (its run time over the interval's length): what it used against what cpu.max allows (quota / period)")]
    #[serde(default)]
    pub cpus_used: f64,
    #[stat(desc = "cpu.max: CPU time it may use per period, microseconds (only for a group with a limit)")]
    #[serde(default)]
    pub cpu_max_quota_us: u64,
    #[stat(desc = "cpu.max: its period, microseconds")]
    #[serde(default)]
    pub cpu_max_period_us: u64,
    #[stat(desc = "cpu.max.burst: unused quota it may carry into the next period, microseconds")]
    #[serde(default)]
    pub cpu_max_burst_us: u64,
    #[stat(desc = "As cpu.stat: periods elapsed with its limit set, since scx_fairrs began tracking the group")]
    #[serde(default)]
    pub nr_periods: u64,
    #[stat(desc = "As cpu.stat: times it used up its quota and was throttled (its tasks held until a refill)")]
    #[serde(default)]
    pub nr_throttled: u64,
    #[stat(desc = "As cpu.stat's throttled_usec: time it spent throttled, the current throttle included, microseconds")]
    #[serde(default)]
    pub throttled_us: u64,
    #[stat(desc = "1 while it is throttled, else 0")]
    #[serde(default)]
    pub throttled: u64,
}

/// The derived form but for the cpu.max fields, left out of an unlimited
/// group's JSON: most groups have no limit, and zeros there would read as one.
impl Serialize for GroupMetrics {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeStruct;
        let bandwidth = [
            ("cpu_max_quota_us", self.cpu_max_quota_us),
            ("cpu_max_period_us", self.cpu_max_period_us),
            ("cpu_max_burst_us", self.cpu_max_burst_us),
            ("nr_periods", self.nr_periods),
            ("nr_throttled", self.nr_throttled),
            ("throttled_us", self.throttled_us),
            ("throttled", self.throttled),
        ];
        let limited = self.cpu_max_quota_us > 0;
        let mut st = s.serialize_struct("GroupMetrics", 6 + if limited { bandwidth.len() } else { 0 })?;
        st.serialize_field("path", &self.path)?;
        st.serialize_field("cpu_weight", &self.cpu_weight)?;
        st.serialize_field("nr_runnable", &self.nr_runnable)?;
        st.serialize_field("share", &self.share)?;
        st.serialize_field("ideal_share", &self.ideal_share)?;
        st.serialize_field("cpus_used", &self.cpus_used)?;
        for (name, value) in bandwidth {
            if limited {
                st.serialize_field(name, &value)?;
            } else {
                st.skip_field(name)?;
            }
        }
        st.end()
    }
}

#[derive(Clone, Debug, Default, Serialize, Deserialize, Stats)]
#[stat(_om_prefix = "fairrs_bpf_callback_", _om_label = "callback")]
pub struct CallbackMetrics {
    #[stat(desc = "BPF program: a sched_ext callback (ops.NAME), or dump_tasks (the stats' task dump)", _om_label = "callback", _om_skip)]
    pub name: String,
    #[stat(desc = "Runs in the interval")]
    pub calls: u64,
    #[stat(desc = "Mean run time per call in the interval, nanoseconds")]
    pub mean_ns: f64,
    #[stat(desc = "Its run time in the interval per context switch, nanoseconds")]
    pub ns_per_switch: f64,
    #[stat(desc = "Instructions the kernel's verifier processed to load it, against its limit of 1000000 per program (0 when the kernel does not report it)")]
    #[serde(default)]
    pub verified_insns: u64,
}

#[derive(Clone, Debug, Default, Serialize, Deserialize, Stats)]
#[stat(top, _om_prefix = "fairrs_")]
pub struct Metrics {
    #[stat(desc = "Length of the interval these figures cover, seconds")]
    pub interval_s: f64,
    #[stat(desc = "Online CPUs")]
    pub nr_cpus: u64,
    #[stat(desc = "Runnable tasks, running included")]
    pub nr_running: u64,
    #[stat(desc = "Scheduling events per second, by kind", _om_label = "event")]
    pub events_per_s: BTreeMap<String, f64>,
    #[stat(desc = "Average slice granted in the interval, microseconds")]
    pub avg_slice_us: f64,
    #[stat(desc = "Sum of the CPUs' PELT util_avg (1024 = one busy CPU)")]
    pub util_total: u64,
    #[stat(desc = "Tasks sampled for live fairness: owed at least fair_threshold_ms of CPU time in the interval")]
    pub fair_tasks: u64,
    #[stat(desc = "Jain index of CPU time / entitlement over the sampled tasks (1 = exactly by weight)")]
    pub fair_jain: f64,
    #[stat(desc = "Largest |CPU time - entitlement| of a sampled task in the interval, milliseconds")]
    pub fair_max_lag_ms: f64,
    #[stat(desc = "Per-CPU queues")]
    pub cpus: Vec<CpuMetrics>,
    #[stat(desc = "Tasks with the highest PELT load")]
    pub top: Vec<TaskMetrics>,
    #[stat(desc = "Cgroups that ran the most in the interval (not the root), with their ideal shares")]
    pub groups: Vec<GroupMetrics>,
    #[stat(desc = "Current tunables", _om_label = "tunable")]
    pub tunables: BTreeMap<String, u64>,
    #[stat(desc = "Tasks runnable for at least fair_threshold_ms in the interval (fair_tasks of them are sampled)")]
    pub fair_runnable_tasks: u64,
    #[stat(desc = "CPU time a task must be owed in the interval to be sampled for fairness: max(sched_latency, 1% of the interval), milliseconds")]
    pub fair_threshold_ms: f64,
    #[stat(desc = "Context switches per second, all CPUs (/proc/stat ctxt)")]
    pub switches_per_s: f64,
    #[stat(desc = "1 when kernel.bpf_stats_enabled was on for the interval (the BPF cost figures), else 0")]
    pub bpf_stats: u64,
    #[stat(desc = "Run time of all scx_fairrs's BPF programs per context switch, nanoseconds (0 when bpf_stats is 0)")]
    pub bpf_ns_per_switch: f64,
    #[stat(desc = "Each BPF program's calls and cost in the interval, and its verifier instruction count (empty when bpf_stats is 0)")]
    pub bpf_callbacks: Vec<CallbackMetrics>,
    #[stat(desc = "1 when cgroups' cpu.max limits are enforced (the kernel reports them to sched_ext: Linux 6.17+; not with --no-cgroup), else 0")]
    pub cpu_max_enforced: u64,
}
