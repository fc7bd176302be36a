// SPDX-License-Identifier: GPL-2.0
//! Statistics: what the BPF side counted, turned into rates and per-CPU
//! figures a kernel engineer can read at a glance.
//!
//! The scheduler module takes a `Snapshot` of the counters and run queues;
//! this module only does arithmetic and formatting, so it is tested on the
//! host without a kernel.

use std::fmt::Write;
use std::time::Duration;

use crate::bpf_intf;

/// Names of the BPF event counters, indexed by `enum fairrs_stat`.
pub const STAT_NAMES: [&str; bpf_intf::fairrs_stat_FAIRRS_NR_STATS as usize] = [
    "enqueue",
    "wake_idle",
    "dispatch",
    "keep_prev",
    "preempt",
    "mig_wakeup",
    "mig_idle",
    "mig_periodic",
    "mig_hotplug",
    "mig_affinity",
    "balance_req",
    "lag_clamp",
];

/// One CPU's run queue as the BPF side last wrote it.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct CpuQueue {
    pub nr_running: u32,
    pub load_weight: u64,
    pub min_vruntime: u64,
    pub last_slice_ns: u64,
}

/// Counters (summed over CPUs) and run queues at one instant.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Snapshot {
    pub counters: Vec<u64>,
    pub cpus: Vec<CpuQueue>,
}

/// Per-second rate of each counter between two snapshots `elapsed` apart.
pub fn rates(prev: &Snapshot, cur: &Snapshot, elapsed: Duration) -> Vec<(&'static str, f64)> {
    let secs = elapsed.as_secs_f64().max(1e-9);
    STAT_NAMES
        .iter()
        .enumerate()
        .map(|(i, name)| {
            let a = prev.counters.get(i).copied().unwrap_or(0);
            let b = cur.counters.get(i).copied().unwrap_or(0);
            (*name, b.saturating_sub(a) as f64 / secs)
        })
        .collect()
}

/// The spread of min_vruntime across CPUs that have run anything, in ms.
/// Queues are independent, so a large spread is expected and harmless; it
/// shows how far apart the per-CPU virtual clocks have drifted.
fn vruntime_spread_ms(cur: &Snapshot) -> f64 {
    let used: Vec<u64> = cur.cpus.iter().map(|c| c.min_vruntime).collect();
    match (used.iter().min(), used.iter().max()) {
        (Some(lo), Some(hi)) => (hi - lo) as f64 / 1e6,
        _ => 0.0,
    }
}

/// A compact multi-line report of one interval.
pub fn format_report(prev: &Snapshot, cur: &Snapshot, elapsed: Duration) -> String {
    let mut out = String::new();
    let total_running: u32 = cur.cpus.iter().map(|c| c.nr_running).sum();
    let _ = write!(
        out,
        "[fairrs] {:.1}s  runnable {}  vruntime spread {:.1}ms\n  events/s:",
        elapsed.as_secs_f64(),
        total_running,
        vruntime_spread_ms(cur)
    );
    for (name, rate) in rates(prev, cur, elapsed) {
        let _ = write!(out, " {name} {rate:.0}");
    }
    out.push_str("\n  cpu  nr  load    slice_ms\n");
    for (cpu, q) in cur.cpus.iter().enumerate() {
        let _ = writeln!(
            out,
            "  {:>3} {:>3} {:>6}  {:>7.3}",
            cpu,
            q.nr_running,
            q.load_weight,
            q.last_slice_ns as f64 / 1e6
        );
    }
    out.pop();
    out
}

/// One line of totals since the scheduler attached.
pub fn format_totals(total: &Snapshot, elapsed: Duration) -> String {
    let mut out = format!("[fairrs] totals over {:.1}s:", elapsed.as_secs_f64());
    for (i, name) in STAT_NAMES.iter().enumerate() {
        let _ = write!(out, " {name}={}", total.counters.get(i).copied().unwrap_or(0));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn snap(counters: &[u64], cpus: &[(u32, u64, u64)]) -> Snapshot {
        Snapshot {
            counters: counters.to_vec(),
            cpus: cpus
                .iter()
                .map(|&(nr_running, load_weight, min_vruntime)| CpuQueue {
                    nr_running,
                    load_weight,
                    min_vruntime,
                    last_slice_ns: 3_000_000,
                })
                .collect(),
        }
    }

    #[test]
    fn stat_names_match_the_bpf_enum() {
        assert_eq!(STAT_NAMES[bpf_intf::fairrs_stat_FAIRRS_STAT_ENQUEUE as usize], "enqueue");
        assert_eq!(STAT_NAMES[bpf_intf::fairrs_stat_FAIRRS_STAT_MIGRATE_IDLE as usize], "mig_idle");
        assert_eq!(STAT_NAMES[bpf_intf::fairrs_stat_FAIRRS_STAT_MIGRATE_HOTPLUG as usize], "mig_hotplug");
        assert_eq!(STAT_NAMES[bpf_intf::fairrs_stat_FAIRRS_STAT_LAG_CLAMP as usize], "lag_clamp");
    }

    #[test]
    fn rates_are_per_second_and_never_negative() {
        let a = snap(&[100, 0, 50, 0, 0, 0, 0, 0, 0, 0, 0, 0], &[]);
        let b = snap(&[300, 0, 40, 0, 0, 0, 0, 0, 0, 0, 0, 0], &[]);
        let r = rates(&a, &b, Duration::from_secs(2));
        assert_eq!(r[0], ("enqueue", 100.0));
        // A counter that went backwards (scheduler restarted) reads as 0.
        assert_eq!(r[2], ("dispatch", 0.0));
    }

    #[test]
    fn report_lists_every_cpu() {
        let a = snap(&[0; 12], &[(0, 0, 0), (0, 0, 0)]);
        let b = snap(&[10; 12], &[(2, 2048, 5_000_000), (1, 1024, 1_000_000)]);
        let text = format_report(&a, &b, Duration::from_secs(1));
        assert!(text.contains("runnable 3"), "{text}");
        assert!(text.contains("vruntime spread 4.0ms"), "{text}");
        assert!(text.contains("enqueue 10"), "{text}");
        assert_eq!(text.lines().count(), 5, "{text}");
    }
}
