// SPDX-License-Identifier: GPL-2.0
//! Hogs: tasks that only spin (or yield), the workload of every suite. A
//! `Hog` says where one may run and how it is scheduled; `Threads` starts
//! hogs as threads of this process (their CPU time is read from
//! /proc/self/task), `Procs` as forked processes (a cgroup v2 domain holds
//! whole processes; a SIGKILL stops one whatever its class). Either way the
//! affinity is set first, then the class: a SCHED_FIFO hog must never land
//! on the measuring CPU.
//!
//!   fairrs-guest spin --cpu N [--threads N] [--duty PCT] [--secs S]
//!       (`spin` below: threads on one CPU, busy PCT % of the time)

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Barrier};
use std::thread;
use std::time::{Duration, Instant};

use crate::sys::{gettid, pin_self, set_affinity, set_nice, set_policy, thread_cpu_ns, Cgroup};

/// How a hog is scheduled.
#[derive(Clone, Copy, Debug)]
pub enum Class {
    Nice(i32),
    Idle,
    /// SCHED_FIFO, priority 1.
    Fifo,
    /// nice 0, calling sched_yield() in a loop instead of spinning
    Yielder,
}

/// One hog: the CPUs it may run on (None: its parent's) and its class.
#[derive(Clone, Debug)]
pub struct Hog {
    cpus: Option<Vec<usize>>,
    class: Class,
}

/// A hog allowed on `cpus`, of `class`.
pub fn on(cpus: &[usize], class: Class) -> Hog {
    Hog { cpus: Some(cpus.to_vec()), class }
}

/// A nice-0 hog wherever its parent may run.
pub fn anywhere() -> Hog {
    Hog { cpus: None, class: Class::Nice(0) }
}

/// `n` nice-0 hogs allowed on `cpus`.
pub fn nice0(n: usize, cpus: &[usize]) -> Vec<Hog> {
    vec![on(cpus, Class::Nice(0)); n]
}

/// One hog of each of `classes` on `cpu`.
pub fn each_on(cpu: usize, classes: &[Class]) -> Vec<Hog> {
    classes.iter().map(|&c| on(&[cpu], c)).collect()
}

impl Hog {
    /// Give thread or process `tid` (0: the caller) this hog's CPUs.
    fn set_cpus(&self, tid: i32) {
        if let Some(cpus) = &self.cpus {
            set_affinity(tid, cpus);
        }
    }

    /// Give thread or process `tid` (0: the caller) this hog's class.
    fn set_class(&self, tid: i32) {
        match self.class {
            Class::Nice(n) => set_nice(tid, n),
            Class::Yielder => set_nice(tid, 0),
            Class::Idle => set_policy(tid, libc::SCHED_IDLE, 0),
            Class::Fifo => set_policy(tid, libc::SCHED_FIFO, 1),
        }
    }
}

/// The work of a hog: a few ALU operations the compiler cannot drop.
fn churn(x: u64) -> u64 {
    std::hint::black_box(x.wrapping_mul(6364136223846793005).wrapping_add(1))
}

/// Spin until `stop`, or until killed.
fn spin_until(stop: Option<&AtomicBool>) {
    let mut x = 0u64;
    while !stop.is_some_and(|s| s.load(Ordering::Relaxed)) {
        x = churn(x);
    }
}

/// Hogs as threads of this process, all running once `start` returns.
pub struct Threads {
    stop: Arc<AtomicBool>,
    pub tids: Vec<i32>,
    handles: Vec<thread::JoinHandle<()>>,
}

impl Threads {
    pub fn start(hogs: &[Hog]) -> Self {
        let stop = Arc::new(AtomicBool::new(false));
        let ready = Arc::new(Barrier::new(hogs.len() + 1));
        let tids: Arc<Vec<AtomicU64>> = Arc::new(hogs.iter().map(|_| AtomicU64::new(0)).collect());
        let handles = hogs
            .iter()
            .enumerate()
            .map(|(i, hog)| {
                let (stop, ready, tids, hog) = (stop.clone(), ready.clone(), tids.clone(), hog.clone());
                thread::spawn(move || {
                    hog.set_cpus(0);
                    hog.set_class(0);
                    tids[i].store(gettid() as u64, Ordering::SeqCst);
                    ready.wait();
                    if matches!(hog.class, Class::Yielder) {
                        while !stop.load(Ordering::Relaxed) {
                            unsafe { libc::sched_yield() };
                        }
                    } else {
                        spin_until(Some(&stop));
                    }
                })
            })
            .collect();
        ready.wait();
        let tids = tids.iter().map(|t| t.load(Ordering::SeqCst) as i32).collect();
        Self { stop, tids, handles }
    }

    /// Each hog's CPU time so far, ns.
    pub fn cpu_ns(&self) -> Vec<u64> {
        self.tids.iter().map(|&t| thread_cpu_ns(t)).collect()
    }

    pub fn stop(self) {
        self.stop.store(true, Ordering::Relaxed);
        for h in self.handles {
            h.join().unwrap();
        }
    }
}

/// Start `hogs` as threads; the CPU time each received over `secs` after a
/// `warmup`.
pub fn measure(hogs: &[Hog], warmup: Duration, secs: Duration) -> Vec<u64> {
    let threads = Threads::start(hogs);
    thread::sleep(warmup);
    let before = threads.cpu_ns();
    thread::sleep(secs);
    let after = threads.cpu_ns();
    threads.stop();
    after.iter().zip(&before).map(|(a, b)| a.saturating_sub(*b)).collect()
}

/// Hogs as processes: all SIGKILLed, then all reaped, when dropped (a
/// starved one can only die once the others stop taking its CPU). Each dies
/// with this program's main thread too (PR_SET_PDEATHSIG).
#[derive(Default)]
pub struct Procs {
    pids: Vec<i32>,
}

impl Procs {
    /// Fork a process that spins as `hog`, in `cg` if given; its pid.
    pub fn spawn(&mut self, hog: &Hog, cg: Option<&Cgroup>) -> i32 {
        self.spawn_running(hog, cg, || spin_until(None))
    }

    /// The same, running `body` instead of the spin (then exiting). `body`
    /// must make plain syscalls only: the fork is of a threaded program.
    pub fn spawn_running(&mut self, hog: &Hog, cg: Option<&Cgroup>, body: impl FnOnce()) -> i32 {
        let parent = unsafe { libc::getpid() };
        // SAFETY: the child makes plain syscalls and runs `body`; it takes
        // no lock another thread may have held at fork().
        let pid = unsafe { libc::fork() };
        assert!(pid >= 0, "fork: {}", std::io::Error::last_os_error());
        if pid == 0 {
            unsafe {
                libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL as libc::c_ulong);
                if libc::getppid() != parent {
                    libc::_exit(0);
                }
            }
            body();
            unsafe { libc::_exit(0) };
        }
        self.pids.push(pid);
        hog.set_cpus(pid);
        if let Some(cg) = cg {
            cg.add(pid);
        }
        hog.set_class(pid);
        pid
    }

    pub fn stop(&mut self) {
        for &pid in &self.pids {
            unsafe { libc::kill(pid, libc::SIGKILL) };
        }
        for pid in self.pids.drain(..) {
            unsafe { libc::waitpid(pid, std::ptr::null_mut(), 0) };
        }
    }
}

impl Drop for Procs {
    fn drop(&mut self) {
        self.stop();
    }
}

/// `spin`: N threads pinned to one CPU, each busy `duty` % of the time in
/// 10 ms periods, for `secs`; prints "tid <tid>" per thread so a test can find
/// them. Each sleep ends at the moment the thread's busy time since it started
/// is exactly `duty` % of the time elapsed, so a sleep that overruns (which
/// under emulation they do by milliseconds) shortens the next one instead of
/// lowering the duty for good. With duty < 100 the first thread also prints
/// "duty <fraction>" every second: the share of wall time it really spent busy
/// over that second.
fn spin(cpu: usize, threads: usize, duty: u32, secs: Duration) {
    let ready = Arc::new(Barrier::new(threads + 1));
    let handles: Vec<_> = (0..threads)
        .map(|i| {
            let ready = ready.clone();
            thread::spawn(move || {
                pin_self(cpu);
                println!("tid {}", gettid());
                ready.wait();
                let busy = Duration::from_millis(10) * duty / 100;
                let share = duty as f64 / 100.0;
                let start = Instant::now();
                let mut busy_total = Duration::ZERO;
                let (mut window, mut busy_in_window) = (Instant::now(), Duration::ZERO);
                let mut x = 0u64;
                while start.elapsed() < secs {
                    let t0 = Instant::now();
                    while t0.elapsed() < busy {
                        x = std::hint::black_box(x.wrapping_add(1));
                    }
                    let ran = t0.elapsed();
                    busy_total += ran;
                    busy_in_window += ran;
                    if duty < 100 {
                        let wake = start + busy_total.div_f64(share);
                        if let Some(nap) = wake.checked_duration_since(Instant::now()) {
                            thread::sleep(nap);
                        }
                        if i == 0 && window.elapsed() >= Duration::from_secs(1) {
                            use std::io::Write;
                            println!("duty {:.4}", busy_in_window.as_secs_f64() / window.elapsed().as_secs_f64());
                            let _ = std::io::stdout().flush();
                            (window, busy_in_window) = (Instant::now(), Duration::ZERO);
                        }
                    }
                }
            })
        })
        .collect();
    ready.wait();
    use std::io::Write;
    let _ = std::io::stdout().flush();
    for h in handles {
        h.join().unwrap();
    }
}

/// `fairrs-guest spin --cpu N [--threads N] [--duty PCT] [--secs S]`.
pub fn spin_main(args: &[String]) {
    let (mut cpu, mut threads, mut duty, mut secs) = (1usize, 1usize, 100u32, 10.0);
    for pair in args.chunks(2) {
        let value = pair.get(1).unwrap_or_else(|| panic!("spin: {} needs a value", pair[0]));
        match pair[0].as_str() {
            "--cpu" => cpu = value.parse().expect("--cpu"),
            "--threads" => threads = value.parse().expect("--threads"),
            "--duty" => duty = value.parse().expect("--duty"),
            "--secs" => secs = value.parse().expect("--secs"),
            other => panic!("spin: unknown option {other}"),
        }
    }
    spin(cpu, threads, duty.clamp(1, 100), Duration::from_secs_f64(secs));
}
