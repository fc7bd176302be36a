// SPDX-License-Identifier: GPL-2.0
//! `fairrs-guest bandwidth [--secs S] [--only CASE] | --plan`: cgroup cpu.max
//! limits (CFS bandwidth control), measured the same way under any scheduler
//! (the bandwidth suite runs it under the kernel's own, then under
//! scx_fairrs). CASES is the suite (tests/vm/bandwidth.sh counts from its
//! plan).
//!
//! Hogs are processes (hogs.rs) in the cases' cgroups; what a group uses is
//! its hogs' CPU time (sum_exec_runtime) over the wall time, in CPUs. The
//! expected figures are what Documentation/scheduler/sched-bwc.rst says a
//! limit gives: quota / period CPUs at most, for the group and everything
//! below it, with unused quota banked up to cpu.max.burst.

use std::path::Path;
use std::thread;
use std::time::Duration;

use crate::cases::{self, case, Case, OnPanic};
use crate::hogs::{self, Class, Procs};
use crate::sys::{self, nr_cpus, pin_self, write, Cgroup, CGROOT};

const CASES: &[Case<Bw>] = &[
    case("quota", &["bw_quota_half", "bw_quota_fifth", "bw_quota_two"], quota),
    case("nested", &["bw_nested_child", "bw_nested_parent"], nested),
    case("beside", &["bw_beside_limited", "bw_beside_free"], beside),
    case("live", &["bw_live_lowered", "bw_live_lifted"], live),
    case("burst", &["bw_burst"], burst),
    // Last: kernels before 6.19 do not report cpu.idle to sched_ext, and run
    // the table without it (main()).
    case("idle", &["bw_idle_share"], idle),
];

/// What every case gets: the measuring window, the machine's CPUs (counted
/// before this process pins itself), and the cgroup the cases make theirs in.
pub struct Bw {
    secs: Duration,
    nr_cpus: usize,
    top: Cgroup,
}

type Run<'a> = cases::Run<'a, Bw>;

/// Where the cases make their cgroups: /sys/fs/cgroup/fairrs-bandwidth.
const TOP: &str = "fairrs-bandwidth";

pub fn main(args: &[String]) {
    let table = if kernel_at_least(6, 19) { CASES } else { &CASES[..CASES.len() - 1] };
    let Some((opts, chosen)) = cases::start("bandwidth", table, args, 3.0) else { return };
    let n = nr_cpus();
    pin_self(0);
    let suite = Bw { secs: Duration::from_secs_f64(opts.secs), nr_cpus: n, top: Cgroup::new(Path::new(CGROOT), TOP, 100) };
    cases::run("bandwidth", &chosen, &suite, OnPanic::Stop);
}

/// The running kernel is `major`.`minor` or later.
fn kernel_at_least(major: u32, minor: u32) -> bool {
    let release = std::fs::read_to_string("/proc/sys/kernel/osrelease").unwrap_or_default();
    let mut parts = release.trim().split(|c: char| !c.is_ascii_digit()).filter_map(|p| p.parse::<u32>().ok());
    (parts.next().unwrap_or(0), parts.next().unwrap_or(0)) >= (major, minor)
}

/// cpu.max of `cg`: `quota` us per `period` us, or no limit (None).
fn set_max(cg: &Cgroup, quota: Option<u64>, period: u64) {
    let q = quota.map_or("max".to_string(), |q| q.to_string());
    write(&cg.dir.join("cpu.max"), &format!("{q} {period}"));
}

/// `n` hogs free to run on `cpus`, in `cg`.
fn hogs_in(p: &mut Procs, n: usize, cpus: &[usize], cg: &Cgroup) -> Vec<i32> {
    (0..n).map(|_| p.spawn(&hogs::on(cpus, Class::Nice(0)), Some(cg))).collect()
}

/// CPUs the hogs of `groups` used over `secs`, per group.
fn cpus_used(groups: &[&[i32]], secs: Duration) -> Vec<f64> {
    let all: Vec<i32> = groups.iter().flat_map(|g| g.iter().copied()).collect();
    let (t, wall) = sys::measure(&all, secs);
    let mut out = Vec::new();
    let mut at = 0;
    for g in groups {
        let ns: u64 = t[at..at + g.len()].iter().sum();
        out.push(ns as f64 / 1e9 / wall);
        at += g.len();
    }
    out
}

fn all_cpus(r: &Run) -> Vec<usize> {
    (0..r.nr_cpus).collect()
}

/// One hog per CPU in a group limited to 50 ms per 100 ms, then 20 ms, then
/// 200 ms: the group uses 0.5, 0.2 and 2 CPUs however many it could use.
fn quota(r: &Run) {
    let g = r.top.child("Q", 100);
    let mut p = Procs::default();
    let pids = hogs_in(&mut p, r.nr_cpus, &all_cpus(r), &g);
    for (i, quota) in [50_000u64, 20_000, 200_000].into_iter().enumerate() {
        set_max(&g, Some(quota), 100_000);
        thread::sleep(Duration::from_secs(1));
        let used = cpus_used(&[&pids], r.secs)[0];
        let ideal = quota as f64 / 100_000.0;
        let tol = if ideal > 1.0 { 0.05 } else { 0.02 };
        r.emit(i, used, ideal - tol, ideal + tol, &format!("CPUs used by {} hogs under cpu.max {quota} 100000 (ideal {ideal:.2})", pids.len()));
    }
}

/// P limited to 1 CPU holds C1 (limited to 0.3) and C2 (limited to 3, above
/// its parent), two hogs each, free on every CPU: C1 keeps to its own limit,
/// and the two together to P's.
fn nested(r: &Run) {
    let parent = r.top.child("P", 100);
    set_max(&parent, Some(100_000), 100_000);
    let (c1, c2) = (parent.child("C1", 100), parent.child("C2", 100));
    set_max(&c1, Some(30_000), 100_000);
    set_max(&c2, Some(300_000), 100_000);
    let cpus = all_cpus(r);
    let mut p = Procs::default();
    let (h1, h2) = (hogs_in(&mut p, 2, &cpus, &c1), hogs_in(&mut p, 2, &cpus, &c2));
    thread::sleep(Duration::from_secs(1));
    let used = cpus_used(&[&h1, &h2], r.secs);
    let detail = format!("C1 {:.3} C2 {:.3} CPUs (C1 limit 0.3, C2 3, their parent 1)", used[0], used[1]);
    r.emit(0, used[0], 0.25, 0.32, &format!("C1's CPUs; {detail}"));
    r.emit(1, used[0] + used[1], 0.97, 1.03, &format!("the parent's CPUs; {detail}"));
}

/// One CPU: A limited to 30 ms per 100 ms beside B unlimited, one hog each.
/// A gets its 0.3 and B the rest.
fn beside(r: &Run) {
    let (a, b) = (r.top.child("A", 100), r.top.child("B", 100));
    set_max(&a, Some(30_000), 100_000);
    let cpu = [r.nr_cpus - 1];
    let mut p = Procs::default();
    let (ha, hb) = (hogs_in(&mut p, 1, &cpu, &a), hogs_in(&mut p, 1, &cpu, &b));
    thread::sleep(Duration::from_secs(1));
    let used = cpus_used(&[&ha, &hb], r.secs);
    let detail = format!("A {:.3} B {:.3} of one CPU (A limited to 0.3)", used[0], used[1]);
    r.emit(0, used[0], 0.28, 0.32, &format!("A's share; {detail}"));
    r.emit(1, used[1], 0.67, 0.72, &format!("B's share (the rest); {detail}"));
}

/// One hog per CPU in a group at 50 ms per 100 ms: lowered to 20 ms, it
/// holds from two periods later; lifted, the hogs take every CPU at once.
fn live(r: &Run) {
    let g = r.top.child("L", 100);
    set_max(&g, Some(50_000), 100_000);
    let mut p = Procs::default();
    let pids = hogs_in(&mut p, r.nr_cpus, &all_cpus(r), &g);
    thread::sleep(Duration::from_secs(1));
    set_max(&g, Some(20_000), 100_000);
    thread::sleep(Duration::from_millis(200));
    let lowered = cpus_used(&[&pids], r.secs)[0];
    r.emit(0, lowered, 0.18, 0.22, "CPUs used from 0.2 s after cpu.max went 50000 -> 20000 100000 (ideal 0.2)");
    set_max(&g, None, 100_000);
    thread::sleep(Duration::from_millis(50));
    let lifted = cpus_used(&[&pids], Duration::from_secs(1))[0];
    let n = r.nr_cpus as f64;
    r.emit(1, lifted, n * 0.95, n * 1.01, &format!("CPUs used from 50 ms after the limit was lifted (ideal {n}: one hog per CPU)"));
}

/// One CPU, one hog in a group at 100 ms per 1 s with a burst of 100 ms,
/// stopped for 2.5 s (the pool banks up to quota + burst, 200 ms), then let
/// go: in the next 0.25 s it runs the 200 ms, and 50 more if a refill falls
/// in the window: 0.8-1.0 of the CPU. Without the burst it runs the 100 ms,
/// or 200 if a refill comes within the first 100 ms (1 time in 10): 0.4-0.8.
fn burst(r: &Run) {
    let g = r.top.child("U", 100);
    set_max(&g, Some(100_000), 1_000_000);
    write(&g.dir.join("cpu.max.burst"), "100000");
    let mut p = Procs::default();
    let pid = hogs_in(&mut p, 1, &[r.nr_cpus - 1], &g);
    thread::sleep(Duration::from_millis(500));
    let mut got = Vec::new();
    for _ in 0..3 {
        unsafe { libc::kill(pid[0], libc::SIGSTOP) };
        thread::sleep(Duration::from_millis(2500));
        unsafe { libc::kill(pid[0], libc::SIGCONT) };
        got.push(cpus_used(&[&pid], Duration::from_millis(250))[0]);
    }
    got.sort_by(f64::total_cmp);
    r.emit(
        0,
        got[1],
        0.72,
        1.02,
        &format!("share of one CPU in the 0.25 s after 2.5 s stopped, median of 3 {got:.3?} (cpu.max 100000 1000000, burst 100000: ideal 0.8-1.0; 0.4-0.8 without the burst)"),
    );
}

/// One CPU: I (cpu.idle 1) beside N, one hog each. An idle group weighs
/// WEIGHT_IDLEPRIO (3) against N's 1024: I gets 3/1027 of the CPU, 0.003.
fn idle(r: &Run) {
    let (i, n) = (r.top.child("I", 100), r.top.child("N", 100));
    write(&i.dir.join("cpu.idle"), "1");
    let cpu = [r.nr_cpus - 1];
    let mut p = Procs::default();
    let (hi, hn) = (hogs_in(&mut p, 1, &cpu, &i), hogs_in(&mut p, 1, &cpu, &n));
    thread::sleep(Duration::from_secs(1));
    let used = cpus_used(&[&hi, &hn], r.secs);
    let share = used[0] / (used[0] + used[1]).max(1e-9);
    r.emit(0, share, 0.0, 0.01, &format!("the idle group's share of one CPU (ideal 0.0029; 0.5 if cpu.idle is ignored); I {:.4} N {:.4} CPUs", used[0], used[1]));
}
