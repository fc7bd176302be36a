// SPDX-License-Identifier: GPL-2.0
//! `fairrs-guest groups [--secs S] [--only CASE]`: cgroup cpu.weight shares,
//! measured the same way under any scheduler (the groups suite runs it under
//! the kernel's own, in classic group mode, then under scx_fairrs).
//!
//! Each hog is a process of its own (a cgroup v2 domain holds whole
//! processes), forked to spin and moved into its cgroup; its CPU time is its
//! sum_exec_runtime (/proc/PID/schedstat), exact under emulation. A group's
//! share is the CPU time of its hogs over that of all the case's hogs. The
//! expected shares follow CFS's classic group scheduling: siblings divide
//! their parent's share by cpu.weight, whatever their task counts
//! (calc_group_shares(), Linux v6.5 kernel/sched/fair.c).

use std::fs;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;
use std::thread;
use std::time::Duration;

use crate::{result, set_affinity};

/// The machine's CPUs, counted before this process pins itself (after that
/// it only sees its own CPU).
static NR_CPUS: OnceLock<usize> = OnceLock::new();

fn nr_cpus() -> usize {
    *NR_CPUS.get().expect("groups::main counts the CPUs first")
}

/// Where the cases make their cgroups.
const TOP: &str = "/sys/fs/cgroup/fairrs-groups";

fn write(path: &Path, text: &str) {
    fs::write(path, text).unwrap_or_else(|e| panic!("writing {text:?} to {}: {e}", path.display()));
}

/// A cgroup of the case, removed (after its hogs) when dropped.
struct Cgroup {
    dir: PathBuf,
}

impl Cgroup {
    /// `name` below `parent` (TOP when None) with cpu.weight `weight`; the
    /// parent hands the cpu controller down first.
    fn new(parent: Option<&Cgroup>, name: &str, weight: u32) -> Self {
        let base = parent.map_or(PathBuf::from(TOP), |p| p.dir.clone());
        write(&base.join("cgroup.subtree_control"), "+cpu");
        let dir = base.join(name);
        let _ = fs::remove_dir(&dir);
        fs::create_dir(&dir).unwrap_or_else(|e| panic!("mkdir {}: {e}", dir.display()));
        let cg = Self { dir };
        cg.set_weight(weight);
        cg
    }

    fn set_weight(&self, weight: u32) {
        write(&self.dir.join("cpu.weight"), &weight.to_string());
    }

    fn add(&self, pid: i32) {
        write(&self.dir.join("cgroup.procs"), &pid.to_string());
    }
}

impl Drop for Cgroup {
    fn drop(&mut self) {
        let _ = fs::remove_dir(&self.dir);
    }
}

/// A spinning child process, killed and reaped when dropped.
struct Hog {
    pid: i32,
}

impl Hog {
    /// Fork a hog allowed on `cpus`, in cgroup `cg`. The child only spins
    /// (no allocation after fork() in a threaded parent); the parent sets
    /// its affinity and moves it.
    fn start(cpus: &[usize], cg: &Cgroup) -> Self {
        // SAFETY: the child touches nothing but its own registers.
        let pid = unsafe { libc::fork() };
        if pid < 0 {
            panic!("fork: {}", std::io::Error::last_os_error());
        }
        if pid == 0 {
            let mut x = 0u64;
            loop {
                x = std::hint::black_box(x.wrapping_mul(6364136223846793005).wrapping_add(1));
            }
        }
        let hog = Self { pid };
        set_affinity(pid, cpus);
        cg.add(pid);
        hog
    }

    /// Its CPU time so far, ns.
    fn cpu_ns(&self) -> u64 {
        fs::read_to_string(format!("/proc/{}/schedstat", self.pid))
            .ok()
            .and_then(|s| s.split_whitespace().next().and_then(|f| f.parse().ok()))
            .unwrap_or_else(|| panic!("no schedstat for hog {}", self.pid))
    }
}

impl Drop for Hog {
    fn drop(&mut self) {
        if self.pid > 0 {
            // SAFETY: plain syscalls on our own child.
            unsafe {
                libc::kill(self.pid, libc::SIGKILL);
                libc::waitpid(self.pid, std::ptr::null_mut(), 0);
            }
        }
    }
}

/// CPU time each hog gets over `secs`.
fn measure(hogs: &[&Hog], secs: Duration) -> Vec<u64> {
    let before: Vec<u64> = hogs.iter().map(|h| h.cpu_ns()).collect();
    thread::sleep(secs);
    hogs.iter().zip(before).map(|(h, b)| h.cpu_ns().saturating_sub(b)).collect()
}

fn sum(v: &[u64]) -> u64 {
    v.iter().sum()
}

fn ms(v: &[u64]) -> Vec<u64> {
    v.iter().map(|x| x / 1_000_000).collect()
}

/// The CPU a single-CPU case runs on: not CPU 0, where the shell and the
/// daemon mostly run.
fn case_cpu() -> Vec<usize> {
    vec![nr_cpus() - 1]
}

/// One CPU: A (cpu.weight 100, 1 hog) and B (200, 4 hogs). B gets 2/3 of the
/// CPU, whatever its task count, and its hogs split it evenly.
fn one_cpu(secs: Duration) {
    let (a, b) = (Cgroup::new(None, "A", 100), Cgroup::new(None, "B", 200));
    let cpu = case_cpu();
    let ha = Hog::start(&cpu, &a);
    let hb: Vec<Hog> = (0..4).map(|_| Hog::start(&cpu, &b)).collect();
    thread::sleep(Duration::from_secs(2));
    let mut all = vec![&ha];
    all.extend(hb.iter());
    let t = measure(&all, secs);
    let share = sum(&t[1..]) as f64 / sum(&t).max(1) as f64;
    result("group_one_cpu", share, 0.6567, 0.6767, &format!("B's share (ideal 0.6667); cpu ms A {:?} B {:?}", ms(&t[..1]), ms(&t[1..])));
    let (mx, mn) = (*t[1..].iter().max().unwrap(), *t[1..].iter().min().unwrap());
    result("group_one_cpu_even", mx as f64 / mn.max(1) as f64, 1.0, 1.05, &format!("max/min of B's 4 hogs; cpu ms {:?}", ms(&t[1..])));
}

/// One CPU: A (100) holding A1 (100) and A2 (300), beside B (100); one hog
/// in each leaf. A and B halve the CPU, and A1 and A2 split A's half 1:3.
fn nested(secs: Duration) {
    let a = Cgroup::new(None, "A", 100);
    let (a1, a2) = (Cgroup::new(Some(&a), "A1", 100), Cgroup::new(Some(&a), "A2", 300));
    let b = Cgroup::new(None, "B", 100);
    let cpu = case_cpu();
    let hogs = [Hog::start(&cpu, &a1), Hog::start(&cpu, &a2), Hog::start(&cpu, &b)];
    thread::sleep(Duration::from_secs(2));
    let t = measure(&hogs.iter().collect::<Vec<_>>(), secs);
    let total = sum(&t).max(1) as f64;
    let detail = format!("cpu ms A/A1 A/A2 B {:?}", ms(&t));
    for (case, i, ideal) in [("group_nested_a1", 0, 0.125), ("group_nested_a2", 1, 0.375), ("group_nested_b", 2, 0.5)] {
        result(case, t[i] as f64 / total, ideal - 0.01, ideal + 0.01, &format!("share (ideal {ideal:.4}); {detail}"));
    }
    drop(hogs);
    drop((a1, a2));
}

/// Every CPU: A (100) with 2 hogs per CPU, B (100) with one hog per two
/// CPUs, all free to move. Each group should get half the machine: B's hogs
/// must each have a CPU to themselves, which only a balancer that weighs a
/// task by its group's share (h_load) arranges.
fn machine(secs: Duration) {
    let n = nr_cpus();
    let all_cpus: Vec<usize> = (0..n).collect();
    let (a, b) = (Cgroup::new(None, "A", 100), Cgroup::new(None, "B", 100));
    let na = 2 * n;
    let nb = (n / 2).max(1);
    let ha: Vec<Hog> = (0..na).map(|_| Hog::start(&all_cpus, &a)).collect();
    let hb: Vec<Hog> = (0..nb).map(|_| Hog::start(&all_cpus, &b)).collect();
    thread::sleep(Duration::from_secs(3));
    let all: Vec<&Hog> = ha.iter().chain(hb.iter()).collect();
    let t = measure(&all, secs);
    let (ta, tb) = (sum(&t[..na]), sum(&t[na..]));
    result(
        "group_machine",
        ta as f64 / (ta + tb).max(1) as f64,
        0.47,
        0.53,
        &format!("A's share ({na} hogs; B {nb} hogs; ideal 0.5 of {n} CPUs); cpu ms A {} B {:?}", ta / 1_000_000, ms(&t[na..])),
    );
}

/// One CPU: A (100) and B (100), one hog each; B's weight goes to 300. One
/// second later B gets 3/4.
fn live_weight(secs: Duration) {
    let (a, b) = (Cgroup::new(None, "A", 100), Cgroup::new(None, "B", 100));
    let cpu = case_cpu();
    let hogs = [Hog::start(&cpu, &a), Hog::start(&cpu, &b)];
    thread::sleep(Duration::from_secs(1));
    let before = measure(&hogs.iter().collect::<Vec<_>>(), Duration::from_secs(1));
    b.set_weight(300);
    thread::sleep(Duration::from_secs(1));
    let t = measure(&hogs.iter().collect::<Vec<_>>(), secs.min(Duration::from_secs(3)));
    result(
        "group_live_weight",
        t[1] as f64 / sum(&t).max(1) as f64,
        0.73,
        0.77,
        &format!("B's share from 1 s after its cpu.weight went 100 -> 300 (ideal 0.75; before {:.3}); cpu ms {:?}", before[1] as f64 / sum(&before).max(1) as f64, ms(&t)),
    );
}

/// One CPU: A (100) and B (100), two hogs each; one hog moves between them
/// every 50 ms for 2 s, then stays in B (A 1 hog, B 3). The groups still
/// halve the CPU a second later.
fn moves(secs: Duration) {
    let (a, b) = (Cgroup::new(None, "A", 100), Cgroup::new(None, "B", 100));
    let cpu = case_cpu();
    let hogs = [Hog::start(&cpu, &a), Hog::start(&cpu, &a), Hog::start(&cpu, &b), Hog::start(&cpu, &b)];
    thread::sleep(Duration::from_secs(1));
    for i in 0..40 {
        if i % 2 == 0 { b.add(hogs[0].pid) } else { a.add(hogs[0].pid) }
        thread::sleep(Duration::from_millis(50));
    }
    b.add(hogs[0].pid);
    thread::sleep(Duration::from_secs(1));
    let t = measure(&hogs.iter().collect::<Vec<_>>(), secs.min(Duration::from_secs(3)));
    let tb = t[0] + t[2] + t[3];
    result(
        "group_move",
        tb as f64 / sum(&t).max(1) as f64,
        0.48,
        0.52,
        &format!("B's share (3 hogs, one moved in and out 40 times; A 1 hog; ideal 0.5); cpu ms moved {} A {} B {} {}", t[0] / 1_000_000, t[1] / 1_000_000, t[2] / 1_000_000, t[3] / 1_000_000),
    );
}

/// Fork a session leader (setsid()) that runs `n` hogs on `cpu` in its
/// session: itself and `n - 1` children. Returns the session id (its pid).
fn session(cpu: usize, n: usize) -> i32 {
    // SAFETY: the child only makes syscalls on stack data, then spins.
    let pid = unsafe { libc::fork() };
    if pid < 0 {
        panic!("fork: {}", std::io::Error::last_os_error());
    }
    if pid == 0 {
        unsafe {
            libc::setsid();
            let mut set: libc::cpu_set_t = std::mem::zeroed();
            libc::CPU_SET(cpu, &mut set);
            libc::sched_setaffinity(0, std::mem::size_of::<libc::cpu_set_t>(), &set);
            for _ in 1..n {
                if libc::fork() == 0 {
                    break;
                }
            }
        }
        let mut x = 0u64;
        loop {
            x = std::hint::black_box(x.wrapping_mul(6364136223846793005).wrapping_add(1));
        }
    }
    pid
}

/// The CPU time of every process of session `sid` so far, and how many.
fn session_cpu_ns(sid: i32) -> (u64, usize) {
    let mut total = (0, 0);
    for e in fs::read_dir("/proc").expect("/proc").flatten() {
        let Ok(pid) = e.file_name().to_string_lossy().parse::<i32>() else { continue };
        let Ok(stat) = fs::read_to_string(format!("/proc/{pid}/stat")) else { continue };
        let Some(rest) = stat.rfind(')').map(|i| &stat[i + 2..]) else { continue };
        // state ppid pgrp session ...
        if rest.split_whitespace().nth(3).and_then(|s| s.parse::<i32>().ok()) != Some(sid) {
            continue;
        }
        let ns = fs::read_to_string(format!("/proc/{pid}/schedstat"))
            .ok()
            .and_then(|s| s.split_whitespace().next().and_then(|f| f.parse::<u64>().ok()))
            .unwrap_or(0);
        total = (total.0 + ns, total.1 + 1);
    }
    total
}

/// Kills a session's processes when dropped.
struct Session(i32);

impl Drop for Session {
    fn drop(&mut self) {
        // Never kill(-1) or our own group: only a real session id.
        if self.0 > 1 {
            // SAFETY: plain syscalls on our own child's process group.
            unsafe {
                libc::kill(-self.0, libc::SIGKILL);
                libc::waitpid(self.0, std::ptr::null_mut(), 0);
            }
        }
    }
}

/// One CPU, tasks of the root cgroup: a session with 1 hog beside one with 8.
/// With autogroups (the kernel's CONFIG_SCHED_AUTOGROUP, scx_fairrs
/// --autogroup) each session is a group of nice 0, and the lone hog gets
/// half the CPU; without, a ninth.
fn autogroup(secs: Duration) {
    let cpu = case_cpu()[0];
    let (a, b) = (Session(session(cpu, 1)), Session(session(cpu, 8)));
    thread::sleep(Duration::from_secs(2));
    let (a0, b0) = (session_cpu_ns(a.0), session_cpu_ns(b.0));
    thread::sleep(secs);
    let (a1, b1) = (session_cpu_ns(a.0), session_cpu_ns(b.0));
    let (ta, tb) = (a1.0.saturating_sub(a0.0), b1.0.saturating_sub(b0.0));
    result(
        "group_autogroup",
        ta as f64 / (ta + tb).max(1) as f64,
        0.48,
        0.52,
        &format!("the lone hog's share beside a session of {} (ideal 0.5; 1/9 without autogroups); cpu ms {} / {}", b1.1, ta / 1_000_000, tb / 1_000_000),
    );
}

pub fn main(secs: Duration, want: &dyn Fn(&str) -> bool) {
    NR_CPUS.get_or_init(crate::nr_cpus);
    // The measuring process stays off the cases' CPU.
    crate::pin_self(0);
    let top = Path::new(TOP);
    write(Path::new("/sys/fs/cgroup/cgroup.subtree_control"), "+cpu");
    let _ = fs::remove_dir(top);
    fs::create_dir(top).unwrap_or_else(|e| panic!("mkdir {TOP}: {e}"));
    let cases: [(&str, fn(Duration)); 6] = [
        ("one_cpu", one_cpu),
        ("nested", nested),
        ("machine", machine),
        ("live", live_weight),
        ("move", moves),
        ("autogroup", autogroup),
    ];
    for (name, case) in cases {
        if want(name) {
            case(secs);
        }
    }
    let _ = fs::remove_dir(top);
}
