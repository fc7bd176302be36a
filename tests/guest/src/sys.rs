// SPDX-License-Identifier: GPL-2.0
//! The system calls and kernel files the workloads use: affinity, policy and
//! nice, the CPUs (count, NUMA nodes, SMT and cache siblings), per-thread and
//! per-process CPU time and placement from /proc, cgroups (v2).

use std::fs;
use std::io;
use std::path::{Path, PathBuf};
use std::thread;
use std::time::{Duration, Instant};

/// sched_prio_to_weight[] (kernel/sched/core.c) for the nice levels used here.
pub fn nice_weight(nice: i32) -> f64 {
    const W: [u32; 40] = [
        88761, 71755, 56483, 46273, 36291, 29154, 23254, 18705, 14949, 11916, 9548, 7620, 6100, 4904,
        3906, 3121, 2501, 1991, 1586, 1277, 1024, 820, 655, 526, 423, 335, 272, 215, 172, 137, 110, 87,
        70, 56, 45, 36, 29, 23, 18, 15,
    ];
    W[(nice + 20) as usize] as f64
}

pub fn gettid() -> i32 {
    unsafe { libc::syscall(libc::SYS_gettid) as i32 }
}

pub fn pin_self(cpu: usize) {
    set_affinity(0, &[cpu]);
}

/// Restrict thread `tid` (0: the caller) to `cpus`.
pub fn set_affinity(tid: i32, cpus: &[usize]) {
    unsafe {
        let mut set: libc::cpu_set_t = std::mem::zeroed();
        for &cpu in cpus {
            libc::CPU_SET(cpu, &mut set);
        }
        if libc::sched_setaffinity(tid, std::mem::size_of::<libc::cpu_set_t>(), &set) != 0 {
            panic!("sched_setaffinity({tid}, {cpus:?}): {}", io::Error::last_os_error());
        }
    }
}

/// Set the nice level of thread or process `tid` (0: the caller).
pub fn set_nice(tid: i32, nice: i32) {
    let who = if tid == 0 { gettid() } else { tid };
    unsafe {
        if libc::setpriority(libc::PRIO_PROCESS, who as libc::id_t, nice) != 0 {
            panic!("setpriority({who}, {nice}): {}", io::Error::last_os_error());
        }
    }
}

/// Set thread `tid`'s scheduling policy (0: the caller; priority 0 except
/// for SCHED_FIFO).
pub fn set_policy(tid: i32, policy: libc::c_int, prio: i32) {
    let param = libc::sched_param { sched_priority: prio };
    unsafe {
        if libc::sched_setscheduler(tid, policy, &param) != 0 {
            panic!("sched_setscheduler({tid}, {policy}): {}", io::Error::last_os_error());
        }
    }
}

/// CPUs this thread may run on (after pinning, only its own).
pub fn nr_cpus() -> usize {
    thread::available_parallelism().map(|n| n.get()).unwrap_or(1)
}

pub fn all_cpus() -> Vec<usize> {
    (0..nr_cpus()).collect()
}

/// CPU time of a thread of this process, in ns (first field of schedstat).
pub fn thread_cpu_ns(tid: i32) -> u64 {
    let path = format!("/proc/self/task/{tid}/schedstat");
    fs::read_to_string(&path)
        .ok()
        .and_then(|s| s.split_whitespace().next().and_then(|f| f.parse().ok()))
        .unwrap_or(0)
}

/// The fields of a /proc stat file from the third (state) on: the command
/// name before them may hold spaces and parentheses.
pub fn stat_fields(path: &str) -> Option<Vec<String>> {
    let stat = fs::read_to_string(path).ok()?;
    let after = &stat[stat.rfind(')')? + 2..];
    Some(after.split_whitespace().map(String::from).collect())
}

/// The CPU a thread of this process last ran on (field 39 of its stat).
pub fn thread_cpu(tid: i32) -> Option<usize> {
    stat_fields(&format!("/proc/self/task/{tid}/stat"))?.get(36)?.parse().ok()
}

/// CPU time of `pid`'s reaped children (cutime + cstime, fields 16 and 17 of
/// its stat), ns: their exact run time, in clock ticks.
pub fn reaped_ns(pid: i32) -> u64 {
    let f = stat_fields(&format!("/proc/{pid}/stat")).unwrap_or_else(|| panic!("/proc/{pid}/stat"));
    let ticks = |i: usize| f.get(i).and_then(|v| v.parse::<u64>().ok()).unwrap_or(0);
    let tck = unsafe { libc::sysconf(libc::_SC_CLK_TCK) } as u64;
    (ticks(13) + ticks(14)) * (1_000_000_000 / tck.max(1))
}

/// How many times a thread changed CPU (se.nr_migrations in its sched file).
pub fn thread_migrations(tid: i32) -> u64 {
    let text = fs::read_to_string(format!("/proc/self/task/{tid}/sched"))
        .unwrap_or_else(|e| panic!("/proc/self/task/{tid}/sched: {e}"));
    text.lines()
        .find(|l| l.trim_start().starts_with("se.nr_migrations"))
        .and_then(|l| l.split(':').nth(1))
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or_else(|| panic!("no se.nr_migrations in /proc/self/task/{tid}/sched"))
}

/// /proc/PID/schedstat: CPU time, ns, and how many times it was switched in.
pub fn schedstat(pid: i32) -> (u64, u64) {
    let text = fs::read_to_string(format!("/proc/{pid}/schedstat")).unwrap_or_else(|e| panic!("schedstat of {pid}: {e}"));
    let f: Vec<u64> = text.split_whitespace().filter_map(|f| f.parse().ok()).collect();
    assert!(f.len() >= 3, "schedstat of {pid}: {text:?}");
    (f[0], f[2])
}

/// CPU time of process `pid` so far, ns.
pub fn cpu_ns(pid: i32) -> u64 {
    schedstat(pid).0
}

/// CPU time of each of `pids` over `secs`, and the wall time it took, s.
pub fn measure(pids: &[i32], secs: Duration) -> (Vec<u64>, f64) {
    let before: Vec<u64> = pids.iter().map(|&p| cpu_ns(p)).collect();
    let t0 = Instant::now();
    thread::sleep(secs);
    let after: Vec<u64> = pids.iter().map(|&p| cpu_ns(p)).collect();
    let wall = t0.elapsed().as_secs_f64();
    (after.iter().zip(before).map(|(a, b)| a.saturating_sub(b)).collect(), wall)
}

/// Time each CPU spent running tasks, in ns: rq_cpu_time, the seventh
/// figure of its line in /proc/schedstat. Exact, unlike /proc/stat's tick
/// sampling, which under-counts badly under emulation.
pub fn cpu_run_ns() -> Vec<u64> {
    let stat = fs::read_to_string("/proc/schedstat").expect("/proc/schedstat");
    stat.lines()
        .filter(|l| l.starts_with("cpu"))
        .map(|l| {
            l.split_whitespace()
                .nth(7)
                .and_then(|v| v.parse().ok())
                .unwrap_or_else(|| panic!("unexpected /proc/schedstat line {l:?}"))
        })
        .collect()
}

/// CPUs of each NUMA node, from sysfs.
pub fn numa_nodes() -> Vec<Vec<usize>> {
    let mut nodes = Vec::new();
    for i in 0.. {
        let Ok(list) = fs::read_to_string(format!("/sys/devices/system/node/node{i}/cpulist")) else { break };
        let mut cpus = Vec::new();
        for part in list.trim().split(',').filter(|p| !p.is_empty()) {
            let mut ends = part.split('-').map(|v| v.parse::<usize>().unwrap());
            let a = ends.next().unwrap();
            let b = ends.next().unwrap_or(a);
            cpus.extend(a..=b);
        }
        nodes.push(cpus);
    }
    nodes
}

/// A sysfs CPU list of `cpu`'s (e.g. "topology/thread_siblings_list"), as
/// the text the kernel printed: CPUs with the same text share that thing.
pub fn cpu_sysfs(cpu: usize, file: &str) -> Option<String> {
    fs::read_to_string(format!("/sys/devices/system/cpu/cpu{cpu}/{file}")).ok().map(|t| t.trim().to_string())
}

pub fn mono_ns() -> u64 {
    let mut ts = libc::timespec { tv_sec: 0, tv_nsec: 0 };
    unsafe { libc::clock_gettime(libc::CLOCK_MONOTONIC, &mut ts) };
    ts.tv_sec as u64 * 1_000_000_000 + ts.tv_nsec as u64
}

pub fn write(path: &Path, text: &str) {
    fs::write(path, text).unwrap_or_else(|e| panic!("writing {text:?} to {}: {e}", path.display()));
}

/// Where cgroup v2 is mounted (the suites mount it).
pub const CGROOT: &str = "/sys/fs/cgroup";

/// A cgroup, removed with everything below it when dropped (drop its
/// processes first).
pub struct Cgroup {
    pub dir: PathBuf,
}

impl Cgroup {
    /// `name` under `parent`, which hands down the cpu controller first,
    /// with cpu.weight `weight`; one left over from an earlier run is
    /// removed first.
    pub fn new(parent: &Path, name: &str, weight: u32) -> Self {
        write(&parent.join("cgroup.subtree_control"), "+cpu");
        let dir = parent.join(name);
        let _ = remove_tree(&dir);
        fs::create_dir(&dir).unwrap_or_else(|e| panic!("mkdir {}: {e}", dir.display()));
        let cg = Self { dir };
        cg.set_weight(weight);
        cg
    }

    pub fn child(&self, name: &str, weight: u32) -> Self {
        Self::new(&self.dir, name, weight)
    }

    pub fn set_weight(&self, weight: u32) {
        write(&self.dir.join("cpu.weight"), &weight.to_string());
    }

    pub fn add(&self, pid: i32) {
        write(&self.dir.join("cgroup.procs"), &pid.to_string());
    }
}

impl Drop for Cgroup {
    fn drop(&mut self) {
        let _ = remove_tree(&self.dir);
    }
}

/// rmdir, retried while the kernel still counts a reaped task in the
/// cgroup (EBUSY), for up to 1 s; returns the retries.
pub fn rmdir(dir: &Path) -> io::Result<u32> {
    let t0 = Instant::now();
    let mut retries = 0;
    loop {
        match fs::remove_dir(dir) {
            Err(e) if e.raw_os_error() == Some(libc::EBUSY) && t0.elapsed() < Duration::from_secs(1) => {
                retries += 1;
                thread::sleep(Duration::from_millis(1));
            }
            r => return r.map(|_| retries),
        }
    }
}

/// rmdir of `dir` and every directory below it, deepest first.
pub fn remove_tree(dir: &Path) -> io::Result<u32> {
    for e in fs::read_dir(dir)?.flatten() {
        if e.file_type().is_ok_and(|t| t.is_dir()) {
            let _ = remove_tree(&e.path());
        }
    }
    rmdir(dir)
}

/// A kernel setting (a /proc/sys or /sys file) written for as long as this
/// lives, then put back.
pub struct Setting {
    path: &'static str,
    was: Option<String>,
}

impl Setting {
    pub fn set(path: &'static str, value: &str) -> Self {
        Self::set_from(path, value, fs::read_to_string(path).ok())
    }

    /// The same, `was` being what to put back (None: the file is absent).
    fn set_from(path: &'static str, value: &str, was: Option<String>) -> Self {
        if was.is_some() {
            let _ = fs::write(path, value);
        }
        Self { path, was }
    }
}

impl Drop for Setting {
    fn drop(&mut self) {
        if let Some(was) = &self.was {
            let _ = fs::write(self.path, was.trim());
        }
    }
}

/// The kernel's preemption mode (PREEMPT_DYNAMIC; debugfs `sched/preempt`,
/// which shows the modes with the current one in parentheses), switched for
/// as long as this lives and put back after. `mode()` is what is in force:
/// the one asked for, or the kernel's own when it cannot be switched.
pub struct Preemption {
    _setting: Setting,
    now: String,
}

const PREEMPT_FILE: &str = "/sys/kernel/debug/sched/preempt";

fn preempt_mode() -> Option<String> {
    let text = fs::read_to_string(PREEMPT_FILE).ok()?;
    text.split_whitespace()
        .find_map(|w| w.strip_prefix('(').and_then(|w| w.strip_suffix(')')))
        .map(str::to_string)
}

impl Preemption {
    pub fn set(mode: &str) -> Self {
        let setting = Setting::set_from(PREEMPT_FILE, mode, preempt_mode());
        let now = preempt_mode().unwrap_or_else(|| "unknown (no sched/preempt)".into());
        Self { _setting: setting, now }
    }

    pub fn mode(&self) -> &str {
        &self.now
    }
}
