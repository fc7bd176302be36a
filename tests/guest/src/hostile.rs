// SPDX-License-Identifier: GPL-2.0
//! `fairrs-guest hostile [--secs S] [--only CASE]` and `fairrs-guest hostile
//! --plan`: workloads built to break a scheduler's promises (pinned and
//! real-time neighbours in the way of balancing, a task with almost no
//! weight beside heavy ones, cgroups created and removed at a high rate).
//!
//! CASES is the whole suite (cases.rs: each row names a case, the RESULT
//! lines it prints and, when the kernel's own scheduler cannot calibrate it,
//! why); tests/vm/hostile.sh derives its counts from its `--plan`.
//!
//! Every task is a forked process that only spins (or times its own gaps),
//! so a SIGKILL stops it whatever its class; it dies with this program's
//! main thread too (PR_SET_PDEATHSIG; hogs::Procs). The measuring thread
//! stays on CPU 0.

use std::ffi::CString;
use std::fs;
use std::io;
use std::path::Path;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::thread;
use std::time::{Duration, Instant};

use crate::cases::{self, case, Case, OnPanic};
use crate::hogs::{on, Class, Procs};
use crate::sys::{measure, mono_ns, nr_cpus, pin_self, rmdir, schedstat, set_affinity, Cgroup, Preemption, Setting, CGROOT};

const CASES: &[Case<Hostile>] = &[
    case("pinned_neighbours", &["pinned_neighbours_min_share"], pinned_neighbours),
    case("rt_poller", &["rt_poller_min_share"], rt_poller),
    case("idle_beside_nice_m20", &["idle_beside_nice_m20_max_wait_s", "idle_beside_nice_m20_ran_ms"], idle_beside_nice_m20)
        .uncalibrated(
            "CFS and EEVDF let a SCHED_IDLE task wait ~100 s behind five nice -20 hogs (weights 3 vs 443805); they have no watchdog",
        ),
    case("weight_1_vs_10000", &["weight_1_vs_10000_max_wait_s"], weight_1_vs_10000)
        .uncalibrated("the kernel's scheduler lets a cpu.weight 1 task wait ~8 s or more behind 10000; it has no watchdog"),
    case("unit_churn", &["unit_churn_share", "unit_churn_share_survivor"], unit_churn),
    case("slice_cap", &["slice_cap_run_ms"], slice_cap),
    case("rcu_reader", &["rcu_reader_grace_period_max_ms"], rcu_reader).uncalibrated(
        "CFS and EEVDF leave a reader preempted in an RCU read-side section to its nice-19 share (RCU priority boosting \
         would lift it, but Debian's kernels are built without it); they only warn at an RCU stall, sched_ext ejects",
    ),
    case("sched_idle_cpu", &["sched_idle_cpu_wakeups"], sched_idle_cpu).uncalibrated(
        "CFS and EEVDF look for such a CPU beyond the wakee's own only while the LLC is partly idle (SIS_UTIL); here it is fully busy",
    ),
];

/// The CPUs the cases are laid out on (0-3).
const NEED_CPUS: usize = 4;

/// How long the wait cases starve their victim: well past the guard's 5 s
/// (an unguarded victim waits the whole window), short of the 30 s watchdog.
const WAIT_WINDOW: Duration = Duration::from_secs(12);

const TOP: &str = "fairrs-hostile";

/// What every case gets.
pub struct Hostile {
    /// The measuring window of the share cases.
    secs: Duration,
    /// The machine's CPUs (counted before the measuring thread pins itself).
    all: Vec<usize>,
}

type Ctx<'a> = cases::Run<'a, Hostile>;

// ---------------------------------------------------------------------------
// Processes, cgroups, gap timing.

/// A spinner's longest off-CPU gap, in memory shared with it
/// (shared_counters(), so a forked process writes what the parent reads).
#[repr(C)]
struct GapCell {
    armed: AtomicU64,
    last: AtomicU64,
    max: AtomicU64,
}

struct Gaps(&'static GapCell);

impl Gaps {
    fn new() -> Self {
        let c = shared_counters(3);
        // SAFETY: GapCell is three AtomicU64 in a row (repr(C)), as c is.
        Self(unsafe { &*c.as_ptr().cast::<GapCell>() })
    }

    fn cell(&self) -> &GapCell {
        self.0
    }

    /// The spinner: reads the clock back to back; a gap between reads is
    /// time off the CPU. Only the part after arm() counts.
    fn track(&self) -> ! {
        let c = self.cell();
        let mut prev = mono_ns();
        loop {
            let now = mono_ns();
            let armed = c.armed.load(Ordering::Relaxed);
            if armed != 0 && now > armed {
                let gap = now - prev.max(armed);
                if gap > c.max.load(Ordering::Relaxed) {
                    c.max.store(gap, Ordering::Relaxed);
                }
            }
            c.last.store(now, Ordering::Relaxed);
            prev = now;
        }
    }

    /// Wait (at most `limit`) until the spinner runs, then until it has
    /// been off the CPU for 1 ms: it has just been switched out.
    fn wait_switched_out(&self, limit: Duration) {
        let c = self.cell();
        let t0 = Instant::now();
        let seen = c.last.load(Ordering::SeqCst);
        while c.last.load(Ordering::SeqCst) == seen && t0.elapsed() < limit {
            std::hint::spin_loop();
        }
        while mono_ns().saturating_sub(c.last.load(Ordering::SeqCst)) < 1_000_000 && t0.elapsed() < limit {
            std::hint::spin_loop();
        }
    }

    fn arm(&self) {
        self.cell().armed.store(mono_ns(), Ordering::SeqCst);
    }

    /// The longest gap since arm(), the one still open included, s: a
    /// spinner that never ran again has waited the whole window.
    fn longest_s(&self) -> f64 {
        let c = self.cell();
        let last = c.last.load(Ordering::SeqCst);
        let max = c.max.load(Ordering::SeqCst);
        let open = mono_ns().saturating_sub(last.max(c.armed.load(Ordering::SeqCst)));
        max.max(open) as f64 / 1e9
    }
}

/// The cases' top cgroup.
fn top() -> Cgroup {
    Cgroup::new(Path::new(CGROOT), TOP, 100)
}

fn shares_s(v: &[f64]) -> String {
    v.iter().map(|s| format!("{s:.2}")).collect::<Vec<_>>().join(" ")
}

fn lowest(v: &[f64]) -> f64 {
    v.iter().cloned().fold(f64::MAX, f64::min)
}

// ---------------------------------------------------------------------------
// Cases.

/// Four hogs pinned to CPU 0; five movable ones start three on CPU 1 and
/// one each on CPUs 2 and 3. A balancer must spread the five over CPUs 1-3
/// (2,2,1: lowest 0.5 of the ideal 0.6) although CPU 0, busiest, can give
/// none away; one stuck on the pinned CPU leaves three sharing CPU 1.
fn pinned_neighbours(ctx: &Ctx) {
    let mut p = Procs::default();
    let pinned: Vec<i32> = (0..4).map(|_| p.spawn(&on(&[0], Class::Nice(0)), None)).collect();
    let movable: Vec<i32> = [1, 1, 1, 2, 3].iter().map(|&c| p.spawn(&on(&[c], Class::Nice(0)), None)).collect();
    thread::sleep(Duration::from_millis(500));
    for &pid in &movable {
        set_affinity(pid, &ctx.all);
    }
    thread::sleep(Duration::from_secs(2));
    let all: Vec<i32> = movable.iter().chain(&pinned).copied().collect();
    let (shares, wall) = shares_of(&all, ctx.secs);
    p.stop();
    emit_min_share(ctx, &shares[..5], wall, &format!("CPUs 1-3); pinned to CPU 0 [{}]", shares_s(&shares[5..])));
}

/// CPU share of each of `pids` over `secs`, and the wall time it took, s.
fn shares_of(pids: &[i32], secs: Duration) -> (Vec<f64>, f64) {
    let (t, wall) = measure(pids, secs);
    (t.iter().map(|&ns| ns as f64 / 1e9 / wall).collect(), wall)
}

/// The lowest of the 5 movable hogs' shares against their ideal, 3 CPUs
/// among 5 (`where_` completes the detail: the CPUs, then the others' figures).
fn emit_min_share(ctx: &Ctx, movable: &[f64], wall: f64, where_: &str) {
    let ideal = 3.0 / 5.0;
    ctx.emit(
        0,
        lowest(movable) / ideal,
        0.75,
        1.35,
        &format!(
            "lowest share of 5 movable hogs over {wall:.1}s / ideal {ideal:.2} (movable [{}]; {where_}",
            shares_s(movable)
        ),
    );
}

/// A SCHED_FIFO poller pinned to CPU 1 with a nice-0 hog pinned behind it (as a
/// per-CPU kworker waits); five movable hogs start three on CPU 2, one on
/// CPU 3, one on CPU 0. They belong on CPUs 0, 2 and 3: CFS counts RT time
/// as lost capacity; one sent to CPU 1 gets what the poller leaves.
fn rt_poller(ctx: &Ctx) {
    let mut p = Procs::default();
    let poller = p.spawn(&on(&[1], Class::Fifo), None);
    let behind = p.spawn(&on(&[1], Class::Nice(0)), None);
    let movable: Vec<i32> = [2, 2, 2, 3, 0].iter().map(|&c| p.spawn(&on(&[c], Class::Nice(0)), None)).collect();
    thread::sleep(Duration::from_millis(500));
    for &pid in &movable {
        set_affinity(pid, &ctx.all);
    }
    thread::sleep(Duration::from_secs(2));
    let mut all = movable.clone();
    all.extend([behind, poller]);
    let (shares, wall) = shares_of(&all, ctx.secs);
    p.stop();
    emit_min_share(
        ctx,
        &shares[..5],
        wall,
        &format!("CPUs 0,2,3); pinned behind the poller {:.3}, FIFO poller {:.2}", shares[5], shares[6]),
    );
}

/// On CPU 1: a nice-0 hog and a SCHED_IDLE spinner timing its own gaps, then
/// five nice -20 hogs. The SCHED_IDLE task must still run within seconds.
fn idle_beside_nice_m20(ctx: &Ctx) {
    let gaps = Gaps::new();
    let mut p = Procs::default();
    // Made on CPU 3 and moved over together, the moment the SCHED_IDLE task
    // has just run: it is then as far ahead of its queue as it gets, a lag
    // sized for the load before they came.
    let strong: Vec<i32> = (0..5).map(|_| p.spawn(&on(&[3], Class::Nice(-20)), None)).collect();
    let hog = p.spawn(&on(&[1], Class::Nice(0)), None);
    let idle = p.spawn_running(&on(&[1], Class::Idle), None, || gaps.track());
    thread::sleep(Duration::from_secs(1));
    gaps.wait_switched_out(Duration::from_secs(5));
    for &pid in &strong {
        set_affinity(pid, &[1]);
    }
    gaps.arm();
    let mut all = vec![idle, hog];
    all.extend(&strong);
    let (t, wall) = measure(&all, WAIT_WINDOW);
    let longest = gaps.longest_s();
    p.stop();
    let ms = |ns: u64| ns as f64 / 1e6;
    let detail = format!(
        "SCHED_IDLE beside a nice-0 hog and five nice -20 hogs on CPU 1, {wall:.1}s; cpu ms idle {:.1} nice-0 {:.0} nice-20 {:.0}",
        ms(t[0]),
        ms(t[1]),
        ms(t[2..].iter().sum())
    );
    emit_wait(ctx, longest, &detail);
    ctx.emit(1, ms(t[0]), 0.001, ms(WAIT_WINDOW.as_nanos() as u64), &format!("cpu ms it got; {detail}"));
}

/// The longest wait: the starvation guard (5 s) plus the 0.5 s between two
/// looks at a queue, with room for emulation; sched_ext's watchdog ejects at 30 s.
fn emit_wait(ctx: &Ctx, longest: f64, detail: &str) {
    ctx.emit(0, longest, 0.0, 6.5, &format!("longest wait s; {detail}"));
}

/// On CPU 2: L (cpu.weight 1) with one spinner timing its gaps, H (10000)
/// with five hogs. L's task must still run within seconds.
fn weight_1_vs_10000(ctx: &Ctx) {
    let gaps = Gaps::new();
    let top = top();
    let (l, h) = (top.child("L", 1), top.child("H", 10000));
    let mut p = Procs::default();
    let light = p.spawn_running(&on(&[2], Class::Nice(0)), Some(&l), || gaps.track());
    let heavy: Vec<i32> = (0..5).map(|_| p.spawn(&on(&[2], Class::Nice(0)), Some(&h))).collect();
    gaps.arm();
    let mut all = vec![light];
    all.extend(&heavy);
    let (t, wall) = measure(&all, WAIT_WINDOW);
    let longest = gaps.longest_s();
    p.stop();
    emit_wait(
        ctx,
        longest,
        &format!(
            "L (cpu.weight 1, 1 task) beside H (10000, 5 hogs) on CPU 2, {wall:.1}s; cpu ms L {:.1} H {:.0}",
            t[0] as f64 / 1e6,
            t[1..].iter().sum::<u64>() as f64 / 1e6
        ),
    );
}

/// Scopes created and removed as fast as systemd's session churn, under
/// load, then two hogs on CPU 3 in a user scope and a system service of
/// equal weight: each half, in a new scope and in one that outlived it all.
fn unit_churn(ctx: &Ctx) {
    // For churn() and held_exits(); switched while nothing spins: the switch
    // rewrites the kernel's static calls, which beside busy CPUs is slow.
    let preemption = Preemption::set("full");
    let top = top();
    let system = top.child("system.slice", 100);
    let user = top.child("user.slice", 100);
    let user0 = user.child("user-0.slice", 100);
    let survivor = user0.child("survivor.scope", 100);
    let load = system.child("load.service", 100);
    let mut p = Procs::default();
    for _ in 0..8 {
        p.spawn(&on(&ctx.all, Class::Nice(0)), Some(&load));
    }
    let churn = format!("{} (preempt={})", churn(&user0.dir, &ctx.all), preemption.mode());
    let held = held_exits(&user0.dir, NEED_CPUS - 1);
    p.stop();
    drop(load);

    let service = system.child("after.service", 100);
    let after = user0.child("after.scope", 100);
    let cpu = [NEED_CPUS - 1];
    for (i, scope) in [(0, &after), (1, &survivor)] {
        let mut p = Procs::default();
        let pids = [p.spawn(&on(&cpu, Class::Nice(0)), Some(scope)), p.spawn(&on(&cpu, Class::Nice(0)), Some(&service))];
        thread::sleep(Duration::from_secs(1));
        let (t, _) = measure(&pids, Duration::from_secs(5));
        p.stop();
        let which = if i == 0 { "a new scope" } else { "a scope made before the churn" };
        ctx.emit(
            i,
            t[0] as f64 / (t[0] + t[1]).max(1) as f64,
            0.46,
            0.54,
            &format!(
                "the user hog's share (in {which}) beside system.slice/after.service on CPU {} (ideal 0.5); cpu ms {} / {}; {churn}; {held}",
                cpu[0],
                t[0] / 1_000_000,
                t[1] / 1_000_000
            ),
        );
    }
}

/// Nice-0 hogs on CPUs 0-2 and a SCHED_IDLE hog on CPU 3; a task that
/// sleeps 3 ms at a time wakes each time on one of CPUs 0-2 (it moves there
/// before it sleeps). CPU 3 runs only SCHED_IDLE work, so the wakeup belongs
/// there (sched_idle_cpu()): the value is the fraction of wakeups run on CPU 3.
fn sched_idle_cpu(ctx: &Ctx) {
    let mut p = Procs::default();
    for cpu in 0..3 {
        p.spawn(&on(&[cpu], Class::Nice(0)), None);
    }
    p.spawn(&on(&[3], Class::Idle), None);
    let n = shared_counters(2);
    let (all, window) = (ctx.all.clone(), ctx.secs);
    let wakee = p.spawn_running(&on(&ctx.all, Class::Nice(0)), None, || {
        let (t0, mut i) = (Instant::now(), 0usize);
        while t0.elapsed() < window + Duration::from_secs(1) {
            set_affinity(0, &[i % 3]);
            spin_for(200_000);
            set_affinity(0, &all);
            thread::sleep(Duration::from_millis(3));
            let cpu = unsafe { libc::sched_getcpu() };
            if t0.elapsed() > Duration::from_secs(1) {
                n[0].fetch_add(1, Ordering::Relaxed);
                n[1].fetch_add(u64::from(cpu == 3), Ordering::Relaxed);
            }
            spin_for(300_000);
            i += 1;
        }
    });
    unsafe { libc::waitpid(wakee, std::ptr::null_mut(), 0) };
    p.stop();
    let (woke, there) = (n[0].load(Ordering::Relaxed), n[1].load(Ordering::Relaxed));
    ctx.emit(
        0,
        there as f64 / woke.max(1) as f64,
        0.75,
        1.0,
        &format!("fraction of wakeups run on CPU 3, which runs only SCHED_IDLE work: {there} of {woke} (nice-0 hogs on CPUs 0-2)"),
    );
}

/// `n` zeroed counters shared with forked children (MAP_SHARED), for the
/// rest of this process's life.
fn shared_counters(n: usize) -> &'static [AtomicU64] {
    // SAFETY: a fresh anonymous mapping, zeroed: valid atomics, never unmapped.
    let p = unsafe {
        libc::mmap(
            std::ptr::null_mut(),
            n * std::mem::size_of::<AtomicU64>(),
            libc::PROT_READ | libc::PROT_WRITE,
            libc::MAP_SHARED | libc::MAP_ANONYMOUS,
            -1,
            0,
        )
    };
    assert!(p != libc::MAP_FAILED, "mmap: {}", io::Error::last_os_error());
    unsafe { std::slice::from_raw_parts(p.cast(), n) }
}

/// Spin for `ns` of wall time.
fn spin_for(ns: u64) {
    let t = mono_ns();
    while mono_ns() - t < ns {
        std::hint::spin_loop();
    }
}

/// Two nice-0 hogs and 30 SCHED_IDLE spinners on CPU 2: the period stretches
/// to 32 x min_granularity and a nice-0 task's part of it to 11.5 ms, but
/// CFS runs a task at most sched_latency (6 ms) at a time (check_preempt_tick()).
/// The value is the nice-0 hogs' mean CPU time per switch-in; a slice ends
/// at the first tick past it (4 ms ticks: 8 ms for 6 ms, 12 ms for 11.5 ms).
fn slice_cap(ctx: &Ctx) {
    let mut p = Procs::default();
    let hogs = [p.spawn(&on(&[2], Class::Nice(0)), None), p.spawn(&on(&[2], Class::Nice(0)), None)];
    for _ in 0..30 {
        p.spawn(&on(&[2], Class::Idle), None);
    }
    thread::sleep(Duration::from_secs(1));
    let before: Vec<(u64, u64)> = hogs.iter().map(|&h| schedstat(h)).collect();
    thread::sleep(Duration::from_secs(4));
    let after: Vec<(u64, u64)> = hogs.iter().map(|&h| schedstat(h)).collect();
    p.stop();
    let ran: u64 = after.iter().zip(&before).map(|(a, b)| a.0 - b.0).sum();
    let runs: u64 = after.iter().zip(&before).map(|(a, b)| a.1 - b.1).sum();
    ctx.emit(
        0,
        ran as f64 / 1e6 / runs.max(1) as f64,
        0.0,
        10.0,
        &format!(
            "mean run of 2 nice-0 hogs beside 30 SCHED_IDLE spinners on CPU 2, ms (sched_latency 6 ms; 11.5 ms uncapped): {} ms in {runs} runs",
            ran / 1_000_000
        ),
    );
}

/// madvise(2) advice: collapse the range into huge pages now (Linux 6.1).
const MADV_COLLAPSE: libc::c_int = 25;
/// membarrier(2) command: returns after an RCU grace period (synchronize_rcu()).
const MEMBARRIER_CMD_GLOBAL: libc::c_int = 1;

/// On CPU 3, a nice-0 hog and a nice-19 process that collapses one 2 MB
/// range into a huge page (MADV_COLLAPSE) over and over, splitting it again
/// each time by dropping one small page: collapse_huge_page() copies the 2 MB
/// inside an RCU read-side section (the PTE table stays mapped under
/// rcu_read_lock()), slow under emulation, so ticks preempt it there. A
/// reader left to its nice-19 share (1.4 %) holds up every grace period for
/// seconds (both soak ejections, "RCU CPU stall": khugepaged, nice 19,
/// preempted in that copy). Measured on CPU 0: the longest grace period
/// (membarrier's global command waits for one). Only a preemptible kernel
/// preempts a reader: the case runs with preempt=full (6.12's default,
/// voluntary, never does, and its figures there test nothing).
fn rcu_reader(ctx: &Ctx) {
    let _preemption = Preemption::set("full");
    let c = shared_counters(3); // collapses done, collapses refused, the last refusal's errno
    let mut p = Procs::default();
    p.spawn(&on(&[3], Class::Nice(0)), None);
    p.spawn_running(&on(&[3], Class::Nice(19)), None, || collapse_loop(c));
    thread::sleep(Duration::from_secs(1));
    let secs = ctx.secs;
    let (longest, n) = thread::spawn(move || {
        pin_self(0);
        let (mut longest, mut n) = (0u64, 0u64);
        let end = Instant::now() + secs;
        while Instant::now() < end {
            let t0 = mono_ns();
            let rc = unsafe { libc::syscall(libc::SYS_membarrier, MEMBARRIER_CMD_GLOBAL, 0, 0) };
            assert!(rc == 0, "membarrier: {}", io::Error::last_os_error());
            longest = longest.max(mono_ns() - t0);
            n += 1;
        }
        (longest, n)
    })
    .join()
    .expect("the measuring thread panicked");
    p.stop();
    let (done, refused) = (c[0].load(Ordering::Relaxed), c[1].load(Ordering::Relaxed));
    // A kernel built without THP refuses every collapse with EINVAL.
    let why = match c[2].load(Ordering::Relaxed) as i32 {
        0 => String::new(),
        e if fs::metadata("/sys/kernel/mm/transparent_hugepage").is_err() => {
            format!(", last refusal: {} (this kernel has no THP: no reader to test)", io::Error::from_raw_os_error(e))
        }
        e => format!(", last refusal: {}", io::Error::from_raw_os_error(e)),
    };
    // Fewer collapses, fewer preempted readers: the figure would say little, and fails.
    let value = if done >= 2 { longest as f64 / 1e6 } else { -1.0 };
    ctx.emit(
        0,
        value,
        0.0,
        1000.0,
        &format!("longest of {n} grace periods, ms ({:.1}), with a nice-19 MADV_COLLAPSE loop ({done} collapses, {refused} refused{why}) beside a nice-0 hog on CPU 3", longest as f64 / 1e6),
    );
}

/// Collapse one 2 MB range into a huge page, split it by dropping one small
/// page, collapse it again; forever. Counts into `c`: collapses done, refused.
fn collapse_loop(c: &[AtomicU64]) {
    const HUGE: usize = 2 << 20;
    // SAFETY: a private anonymous mapping of our own, used until the process is killed.
    let raw = unsafe {
        libc::mmap(std::ptr::null_mut(), 2 * HUGE, libc::PROT_READ | libc::PROT_WRITE,
                   libc::MAP_PRIVATE | libc::MAP_ANONYMOUS, -1, 0)
    };
    assert!(raw != libc::MAP_FAILED, "mmap: {}", io::Error::last_os_error());
    let base = ((raw as usize + HUGE - 1) & !(HUGE - 1)) as *mut u8;
    unsafe {
        libc::madvise(base.cast(), HUGE, libc::MADV_HUGEPAGE);
        for off in (0..HUGE).step_by(4096) {
            base.add(off).write_volatile(1);
        }
    }
    loop {
        // Splits the PMD mapping (a huge page) into a PTE table, which collapses again.
        unsafe { libc::madvise(base.add(HUGE - 4096).cast(), 4096, libc::MADV_DONTNEED) };
        let rc = unsafe { libc::madvise(base.cast(), HUGE, MADV_COLLAPSE) };
        if rc == 0 {
            c[0].fetch_add(1, Ordering::Relaxed);
        } else {
            c[1].fetch_add(1, Ordering::Relaxed);
            c[2].store(io::Error::last_os_error().raw_os_error().unwrap_or(0) as u64, Ordering::Relaxed);
        }
    }
}

const CHURNERS: usize = 4;
const CHURN_ITERS: usize = 150;
const CHURN_LIMIT: Duration = Duration::from_secs(30);

/// CHURNERS threads, each CHURN_ITERS times (CHURN_LIMIT at most): mkdir a
/// session scope, fork a child that joins it and spins 1-3 ms, reap it,
/// rmdir the scope at once; the next mkdir takes the slot just freed.
/// Each churner and its children share one CPU, and a child exits as
/// SCHED_IDLE: its parent's wakeup in exit_notify() then preempts it after
/// cgroup_exit() (where tasklist_lock is dropped, in a preemptible kernel),
/// and it is still runnable in its
/// scope's group as the parent removes the scope, for a few ms (the group's
/// slot must not be reused then; held_exits() makes that wait certain).
/// Run with preempt=full (unit_churn()).
/// Returns what happened, for the detail.
fn churn(parent: &Path, all: &[usize]) -> String {
    let next = AtomicUsize::new(1);
    let [done, retries, stuck, strays] = [(); 4].map(|_| AtomicU64::new(0));
    let t0 = Instant::now();
    thread::scope(|s| {
        for c in 0..CHURNERS {
            let (next, done, retries, stuck, strays) = (&next, &done, &retries, &stuck, &strays);
            s.spawn(move || {
                set_affinity(0, &[all[c % all.len()]]);
                for _ in 0..CHURN_ITERS {
                    if t0.elapsed() > CHURN_LIMIT {
                        break;
                    }
                    let k = next.fetch_add(1, Ordering::Relaxed);
                    let dir = parent.join(format!("session-{k}.scope"));
                    fs::create_dir(&dir).unwrap_or_else(|e| panic!("mkdir {}: {e}", dir.display()));
                    let procs = CString::new(dir.join("cgroup.procs").into_os_string().into_encoded_bytes()).unwrap();
                    let life_ns = (1 + k as u64 % 3) * 1_000_000;
                    // SAFETY: the child makes plain syscalls on data made before fork().
                    let pid = unsafe { libc::fork() };
                    assert!(pid >= 0, "fork: {}", io::Error::last_os_error());
                    if pid == 0 {
                        unsafe {
                            let fd = libc::open(procs.as_ptr(), libc::O_WRONLY);
                            if fd < 0 || libc::write(fd, b"0".as_ptr().cast(), 1) != 1 {
                                libc::_exit(1);
                            }
                            libc::close(fd);
                            let t = mono_ns();
                            while mono_ns() - t < life_ns {}
                            let param = libc::sched_param { sched_priority: 0 };
                            libc::sched_setscheduler(0, libc::SCHED_IDLE, &param);
                            libc::_exit(0);
                        }
                    }
                    let mut status = 0;
                    unsafe { libc::waitpid(pid, &mut status, 0) };
                    if !(libc::WIFEXITED(status) && libc::WEXITSTATUS(status) == 0) {
                        strays.fetch_add(1, Ordering::Relaxed);
                    }
                    match rmdir(&dir) {
                        Ok(r) => retries.fetch_add(r.into(), Ordering::Relaxed),
                        Err(_) => stuck.fetch_add(1, Ordering::Relaxed),
                    };
                    done.fetch_add(1, Ordering::Relaxed);
                }
            });
        }
    });
    let n = |a: &AtomicU64| a.load(Ordering::Relaxed);
    format!(
        "churn: {} of {} scopes in {:.1}s beside 8 hogs, {} EBUSY retries, {} not removable within 1 s, {} children not in their scope",
        n(&done),
        CHURNERS * CHURN_ITERS,
        t0.elapsed().as_secs_f64(),
        n(&retries),
        n(&stuck),
        n(&strays)
    )
}

const HELD_ROUNDS: usize = 4;

/// How long a removed scope is given to go offline (an RCU grace period and
/// a workqueue; 40-80 ms were seen under emulation) and its slot, if freed,
/// to leave the 1-s quarantine (GROUP_QUARANTINE_NS).
const OFFLINE_WAIT: Duration = Duration::from_millis(1400);

/// New scopes made then: enough to take the lowest free slots.
const TAKERS: usize = 8;

/// Field `name` of /proc/`pid`/status, a number (0 if absent).
fn status_field(pid: i32, name: &str) -> u64 {
    fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()
        .and_then(|t| t.lines().find_map(|l| l.strip_prefix(name).map(|v| v.trim_start_matches(':').trim().parse().ok())))
        .flatten()
        .unwrap_or(0)
}

/// HELD_ROUNDS times: a child in a new scope on `cpu` exits, and its parent
/// thread, SCHED_FIFO on the same CPU, is woken by that exit (exit_notify(),
/// after cgroup_exit()) and preempts it, then spins: the child stays
/// runnable, counted in its scope's group, until released. Meanwhile the
/// scope is removed (kernels before 6.19 allow it: the child has left the
/// cgroup; later ones answer EBUSY until it is gone), given OFFLINE_WAIT to
/// go offline (ops.cgroup_exit) and past the slot quarantine, and TAKERS new
/// scopes are made to take a slot freed too early. A round counts as held if the scope went while the child
/// had not yet made its last switch (its voluntary switch count unchanged,
/// read from its zombie: the parent waits with WNOWAIT). Every held round
/// must end in a group_late_free and no group_underflow (tests/vm/hostile.sh).
fn held_exits(parent: &Path, cpu: usize) -> String {
    // The parent spins longer than RT throttling's 950 ms would allow, and
    // preempts the child where exit_notify() drops tasklist_lock, which
    // needs preempt=full (set by unit_churn()).
    let _rt = Setting::set("/proc/sys/kernel/sched_rt_runtime_us", "-1");
    let (mut held, mut busy, mut unheld) = (0, 0, 0);
    for k in 0..HELD_ROUNDS {
        let dir = parent.join(format!("held-{k}.scope"));
        fs::create_dir(&dir).unwrap_or_else(|e| panic!("mkdir {}: {e}", dir.display()));
        let procs = CString::new(dir.join("cgroup.procs").into_os_string().into_encoded_bytes()).unwrap();
        let child = AtomicU64::new(0);
        let release = AtomicU64::new(0);
        thread::scope(|s| {
            let (child, release) = (&child, &release);
            s.spawn(move || {
                pin_self(cpu);
                let param = libc::sched_param { sched_priority: 1 };
                // SAFETY: plain syscalls; the child makes plain syscalls on data made before fork().
                unsafe {
                    if libc::sched_setscheduler(0, libc::SCHED_FIFO | libc::SCHED_RESET_ON_FORK, &param) != 0 {
                        panic!("SCHED_FIFO: {}", io::Error::last_os_error());
                    }
                    let pid = libc::fork();
                    assert!(pid >= 0, "fork: {}", io::Error::last_os_error());
                    if pid == 0 {
                        let fd = libc::open(procs.as_ptr(), libc::O_WRONLY);
                        if fd < 0 || libc::write(fd, b"0".as_ptr().cast(), 1) != 1 {
                            libc::_exit(1);
                        }
                        libc::_exit(0);
                    }
                    let mut info: libc::siginfo_t = std::mem::zeroed();
                    libc::waitid(libc::P_PID, pid as libc::id_t, &mut info, libc::WEXITED | libc::WNOWAIT);
                    child.store(pid as u64, Ordering::SeqCst);
                    let t0 = Instant::now();
                    while release.load(Ordering::SeqCst) == 0 && t0.elapsed() < Duration::from_secs(3) {
                        std::hint::spin_loop();
                    }
                    libc::waitpid(pid, std::ptr::null_mut(), 0);
                }
                // Sleep, so the child (of a lower class) makes its last switch.
                thread::sleep(Duration::from_millis(20));
            });
            let t0 = Instant::now();
            while child.load(Ordering::SeqCst) == 0 && t0.elapsed() < Duration::from_secs(3) {
                thread::sleep(Duration::from_millis(1));
            }
            let pid = child.load(Ordering::SeqCst) as i32;
            let switches = status_field(pid, "voluntary_ctxt_switches");
            match fs::remove_dir(&dir) {
                Ok(()) => {
                    thread::sleep(OFFLINE_WAIT);
                    for j in 0..TAKERS {
                        let _ = fs::create_dir(parent.join(format!("held-{k}-{j}.scope")));
                    }
                    if pid > 0 && status_field(pid, "voluntary_ctxt_switches") == switches {
                        held += 1;
                    } else {
                        unheld += 1;
                    }
                }
                Err(_) => busy += 1,
            }
            release.store(1, Ordering::SeqCst);
        });
        let _ = rmdir(&dir);
        for j in 0..TAKERS {
            let _ = rmdir(&parent.join(format!("held-{k}-{j}.scope")));
        }
    }
    format!("held exits: {held} of {HELD_ROUNDS} exits held past their scope's removal, {busy} refused (EBUSY), {unheld} not held")
}

// ---------------------------------------------------------------------------

pub fn main(args: &[String]) {
    let Some((opts, chosen)) = cases::start("hostile", CASES, args, 8.0) else { return };
    let n = nr_cpus();
    if n < NEED_CPUS {
        cases::all_failed(&chosen, &format!("needs {NEED_CPUS} CPUs, has {n}"));
        return;
    }
    // Counted before pinning: after it this thread sees only CPU 0.
    let suite = Hostile { secs: Duration::from_secs_f64(opts.secs), all: (0..n).collect() };
    pin_self(0);
    cases::run("hostile", &chosen, &suite, OnPanic::Continue);
}
