// SPDX-License-Identifier: GPL-2.0
//! The stats suite's checks: read a running instance's reports through
//! `scx_fairrs --monitor --json`, as a user's tool would, into the very types
//! the daemon writes (`scx_fairrs::metrics`), and judge them here instead of
//! in strings of shell. Each check prints one `RESULT` line (see cases.rs);
//! a figure that could not be had is reported as -1, outside every bound.
//!
//!   fairrs-guest stats duty   --tid T --spin-log F
//!   fairrs-guest stats loaded --hog-cpu C --four-cpu C --latency-us US --daemon-out F
//!   fairrs-guest stats weights --cpu C
//!   fairrs-guest stats retune --hog-cpu C --from US --to US
//!   fairrs-guest stats shape  --case NAME --top N
//!   fairrs-guest stats bpf    --daemon-pid PID --daemon-out F
//!   fairrs-guest stats live   --reports N
//!   fairrs-guest stats default_client --daemon-pid PID --latency-us US
//!
//! The program is run pinned to CPU 0, away from the workloads it measures:
//! starting a process and parsing 100+ tasks is CPU-heavy under emulation.

use std::fs;
use std::io::BufReader;
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread;
use std::time::{Duration, Instant};

use scx_fairrs::metrics::Metrics;
use scx_stats::prelude::StatsClient;

use crate::cases::result;
use crate::hogs::{self, Class, Threads};
use crate::sys::{set_affinity, thread_migrations};

/// The daemon under test: $FAIRRS, as the suites' lib.sh names it.
fn fairrs() -> String {
    std::env::var("FAIRRS").unwrap_or_else(|_| "target/release/scx_fairrs".into())
}

/// The first `n` reports of `scx_fairrs --monitor EVERY --json --top TOP`,
/// one every `every`, or fewer if the stream ends (the monitor is stopped
/// either way).
fn reports(n: usize, every: f64, top: usize) -> Vec<Metrics> {
    let mut child = Command::new(fairrs())
        .args(["--monitor", &every.to_string(), "--json", "--top", &top.to_string()])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap_or_else(|e| panic!("{}: {e}", fairrs()));
    let out = BufReader::new(child.stdout.take().expect("piped stdout"));
    let got: Vec<Metrics> = serde_json::Deserializer::from_reader(out)
        .into_iter::<Metrics>()
        .take(n)
        .map_while(|m| m.map_err(|e| eprintln!("stats: a report that is not a Metrics: {e}")).ok())
        .collect();
    let _ = child.kill();
    let _ = child.wait();
    got
}

/// Enough for every task of the suites' workloads.
const ALL_TASKS: usize = 1000;

fn one_report() -> Option<Metrics> {
    one_report_top(ALL_TASKS)
}

fn one_report_top(top: usize) -> Option<Metrics> {
    reports(1, 1.0, top).into_iter().next()
}

fn cpu_field(m: &Metrics, cpu: u64, f: impl Fn(&scx_fairrs::metrics::CpuMetrics) -> f64) -> f64 {
    m.cpus.iter().find(|c| c.cpu == cpu).map_or(-1.0, f)
}

fn median(mut v: Vec<f64>) -> f64 {
    if v.is_empty() {
        return -1.0;
    }
    v.sort_by(f64::total_cmp);
    let n = v.len();
    if n % 2 == 1 {
        v[n / 2]
    } else {
        (v[n / 2 - 1] + v[n / 2]) / 2.0
    }
}

/// PELT of a 50 %-duty task (`fairrs-guest spin --duty 50`, tid `tid`,
/// writing `duty <share>` each second to `spin_log`). A single util_avg
/// sample ripples with the 10 ms square wave, and when the emulator stalls a
/// vCPU for tens of ms PELT's 32 ms half-life follows that too, so: the
/// median of 16 samples 0.25 s apart must be 512 ± 10 %, and within 10 % of
/// 1024 × the share of time the task really was busy over the last 4 s.
fn duty(tid: i64, spin_log: &str) {
    const SAMPLES: usize = 16;
    let got = reports(SAMPLES, 0.25, ALL_TASKS);
    let utils: Vec<f64> =
        got.iter().filter_map(|m| m.top.iter().find(|t| t.pid == tid)).map(|t| t.util_avg as f64).collect();
    let log = fs::read_to_string(spin_log).unwrap_or_default();
    let shares: Vec<f64> =
        log.lines().filter_map(|l| l.strip_prefix("duty ")).filter_map(|v| v.trim().parse().ok()).collect();
    let last4 = &shares[shares.len().saturating_sub(4)..];
    let busy = if last4.is_empty() { -1.0 } else { last4.iter().sum::<f64>() / last4.len() as f64 };
    let util = if utils.len() == SAMPLES { median(utils.clone()) } else { -1.0 };
    let samples: Vec<String> = utils.iter().map(|u| format!("{u:.0}")).collect();
    result(
        "pelt_duty_util",
        util,
        461.0,
        563.0,
        &format!(
            "median util_avg of tid {tid} over {} of {SAMPLES} samples [{}] (ideal 512)",
            utils.len(),
            samples.join(" ")
        ),
    );
    let expected = 1024.0 * busy;
    let off = if util >= 0.0 && busy > 0.0 { (util - expected).abs() / expected } else { -1.0 };
    result(
        "pelt_duty_util_tracks_busy",
        off,
        0.0,
        0.10,
        &format!("median {util:.0} against 1024 x the busy share {busy:.4} of the last 4 s = {expected:.0}"),
    );
}

/// The rows of the last complete per-CPU table in an instance's `--stats`
/// output: (cpu, util_avg), from the lines under "cpu  nr  util  load ...".
fn last_stats_block(text: &str) -> Vec<(u64, u64)> {
    let mut blocks: Vec<Vec<(u64, u64)>> = Vec::new();
    let mut in_table = false;
    for line in text.lines() {
        let cols: Vec<&str> = line.split_whitespace().collect();
        if cols.first() == Some(&"cpu") && cols.get(2) == Some(&"util") {
            blocks.push(Vec::new());
            in_table = true;
            continue;
        }
        let row = match cols[..] {
            [cpu, _, util, _, _, _] => cpu.parse::<u64>().ok().zip(util.parse::<u64>().ok()),
            _ => None,
        };
        match (in_table, row, blocks.last_mut()) {
            (true, Some(r), Some(b)) => b.push(r),
            _ => in_table = false,
        }
    }
    blocks.into_iter().next_back().unwrap_or_default()
}

fn stats_blocks(path: &str) -> usize {
    fs::read_to_string(path).unwrap_or_default().lines().filter(|l| l.contains("cpu  nr  util")).count()
}

/// The load weight the report gives tasks of nice 0, 5, -5, 19 and
/// SCHED_IDLE: CFS's sched_prio_to_weight[] and WEIGHT_IDLEPRIO
/// (kernel/sched/core.c), exactly; a table read one level off (nice 0 as
/// 820) or the cgroup-scale p->scx.weight (nice 19 as 1) is caught.
fn weights(cpu: usize) {
    let kinds: [(Class, u64); 5] =
        [(Class::Nice(0), 1024), (Class::Nice(5), 335), (Class::Nice(-5), 3121), (Class::Nice(19), 15), (Class::Idle, 3)];
    let hogs = Threads::start(&hogs::each_on(cpu, &kinds.map(|(c, _)| c)));
    thread::sleep(Duration::from_secs(1));
    let report = one_report();
    let tids = hogs.tids.clone();
    hogs.stop();
    let mut right = 0;
    let mut seen = Vec::new();
    for (&tid, &(class, want)) in tids.iter().zip(&kinds) {
        let got = report.as_ref().and_then(|m| m.top.iter().find(|t| t.pid == tid as i64)).map(|t| t.weight);
        right += usize::from(got == Some(want));
        let who = match class {
            Class::Nice(nice) => format!("nice {nice}"),
            _ => "SCHED_IDLE".to_string(),
        };
        seen.push(format!("{who}: {got:?} (want {want})"));
    }
    result(
        "task_weights",
        right as f64,
        kinds.len() as f64,
        kinds.len() as f64,
        &format!("exact weights; {}", seen.join(", ")),
    );
}

/// One hog alone on `hog_cpu`, four equal hogs sharing another CPU: util of
/// the hog's CPU, the live fairness index, the task list, and that the
/// monitor sees what the instance itself prints (its tunables, its figures).
fn loaded(hog_cpu: u64, four_cpu: u64, latency_us: u64, daemon_out: &str) {
    // The second report: the first covers only the moment of the request,
    // in which no task is owed enough CPU time to be a fairness sample.
    let Some(m) = reports(2, 1.0, ALL_TASKS).pop() else {
        for case in ["pelt_hog_cpu_util", "slice_four_hogs", "fairness_index_four_hogs", "top_lists_tasks", "monitor_matches_instance"] {
            result(case, -1.0, 0.0, 0.0, "no report from --monitor --json");
        }
        return;
    };
    let util = cpu_field(&m, hog_cpu, |c| c.util_avg as f64);
    result("pelt_hog_cpu_util", util, 950.0, 1024.0, &format!("util_avg of CPU {hog_cpu}, one hog"));
    // sched_slice(): four equal tasks share the period (latency / 4, above
    // min_granularity), one alone gets all of it.
    let four = cpu_field(&m, four_cpu, |c| c.slice_us);
    let want = latency_us as f64 / 4.0;
    result("slice_four_hogs", four, want, want, &format!("slice on CPU {four_cpu} (four equal hogs), us; sched_latency {latency_us} us"));
    // The four hogs' CPU time over what they were owed (the report's index
    // covers every sampled task, the harness's sleepers too, which sleeper
    // credit puts above their due by design).
    let ratios: Vec<f64> = m
        .top
        .iter()
        .filter(|t| t.cpu == four_cpu as i64 && t.entitled_ms > 100.0)
        .map(|t| t.ran_ms / t.entitled_ms)
        .collect();
    let (sum, sq) = (ratios.iter().sum::<f64>(), ratios.iter().map(|x| x * x).sum::<f64>());
    let jain = if ratios.len() == 4 { sum * sum / (4.0 * sq) } else { -1.0 };
    result(
        "fairness_index_four_hogs",
        jain,
        0.99,
        1.0,
        &format!(
            "Jain of the four hogs' CPU time / entitlement on CPU {four_cpu}: {:?}; the report's index {:.4} over {} tasks, max lag {:.2}ms",
            ratios.iter().map(|r| format!("{r:.3}")).collect::<Vec<_>>(),
            m.fair_jain,
            m.fair_tasks,
            m.fair_max_lag_ms
        ),
    );
    // Every field is there, or the report would not have parsed as Metrics.
    let heaviest = m.top.first().map_or("none".into(), |t| {
        format!("{} {} nice {} weight {} util {}", t.pid, t.comm, t.nice, t.weight, t.util_avg)
    });
    result("top_lists_tasks", m.top.len() as f64, 1.0, 1000.0, &format!("tasks listed; heaviest: {heaviest}"));

    // The instance's own --stats block after this report covers the same workload.
    let n0 = stats_blocks(daemon_out);
    let t0 = Instant::now();
    while stats_blocks(daemon_out) <= n0 && t0.elapsed() < Duration::from_secs(10) {
        thread::sleep(Duration::from_millis(250));
    }
    let rows = last_stats_block(&fs::read_to_string(daemon_out).unwrap_or_default());
    let inproc = rows.iter().find(|(cpu, _)| *cpu == hog_cpu).map_or(-1.0, |(_, u)| *u as f64);
    let lat = m.tunables.get("sched_latency_us").copied();
    result(
        "monitor_matches_instance",
        if lat == Some(latency_us) { inproc } else { -1.0 },
        950.0,
        1024.0,
        &format!(
            "monitor: sched_latency_us {lat:?} (want {latency_us}), CPU {hog_cpu} util {util:.0}; the instance's own block {}: util {inproc:.0}",
            stats_blocks(daemon_out)
        ),
    );
}

fn sysfs(name: &str) -> String {
    fs::read_to_string(format!("/sys/kernel/sched_ext/{name}")).map(|s| s.trim().to_string()).unwrap_or_default()
}

/// `scx_fairrs ARGS`, run as it is or through `setpriv` as user nobody:
/// (exit code, stdout and stderr).
fn run_fairrs(args: &[&str], as_nobody: bool) -> (i32, String) {
    let mut cmd = if as_nobody {
        let mut c = Command::new("setpriv");
        c.args(["--reuid=65534", "--regid=65534", "--clear-groups", &fairrs()]);
        c
    } else {
        Command::new(fairrs())
    };
    let out = cmd.args(args).output().unwrap_or_else(|e| panic!("running {}: {e}", fairrs()));
    let text = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    (out.status.code().unwrap_or(-1), text.trim().to_string())
}

/// `--set` against the running instance (started with sched_latency `from`,
/// one hog alone on `hog_cpu`, whose slice is the whole latency): a value
/// out of range is refused and names the range; `to` retunes the live
/// scheduler without reloading it (the hog's slice follows, enable_seq stays);
/// a non-root user cannot set anything.
fn retune(hog_cpu: u64, from: u64, to: u64) {
    let seq = sysfs("enable_seq");
    let before = one_report().map_or(-1.0, |m| cpu_field(&m, hog_cpu, |c| c.slice_us));

    let (rc, msg) = run_fairrs(&["--set", "sched_latency_us=50"], false);
    let named = msg.contains("100..=1000000") && msg.contains("50");
    result("set_refuses_bad_value", if rc != 0 && named { 1.0 } else { 0.0 }, 1.0, 1.0, &format!("rc={rc} '{msg}'"));

    let (rc, msg) = run_fairrs(&["--set", &format!("sched_latency_us={to}")], false);
    thread::sleep(Duration::from_secs(2));
    let after = one_report();
    let lat = after.as_ref().and_then(|m| m.tunables.get("sched_latency_us").copied());
    let slice = after.as_ref().map_or(-1.0, |m| cpu_field(m, hog_cpu, |c| c.slice_us));
    let live = rc == 0 && lat == Some(to) && before == from as f64;
    result(
        "set_retunes_live",
        if live { slice } else { -1.0 },
        to as f64,
        to as f64,
        &format!(
            "rc={rc} '{msg}'; sched_latency_us {lat:?}; CPU {hog_cpu} (one hog) slice {before:.0}us -> {slice:.0}us"
        ),
    );
    let same = sysfs("enable_seq") == seq && sysfs("state") == "enabled";
    result(
        "set_keeps_the_scheduler_loaded",
        if same { 1.0 } else { 0.0 },
        1.0,
        1.0,
        &format!("enable_seq {seq} -> {}, state {}", sysfs("enable_seq"), sysfs("state")),
    );

    let (rc, msg) = run_fairrs(&["--set", "sched_latency_us=7000"], true);
    let lat = one_report().and_then(|m| m.tunables.get("sched_latency_us").copied());
    result(
        "set_refused_for_non_root",
        if rc == 1 && lat == Some(to) { 1.0 } else { 0.0 },
        1.0,
        1.0,
        &format!("as nobody: rc={rc} '{msg}'; sched_latency_us still {lat:?}"),
    );
}

/// One report has `top` tasks and one row per online CPU.
fn shape(case: &str, top: usize) {
    let cpus = crate::sys::nr_cpus();
    let (ok, detail) = match one_report_top(top) {
        Some(m) => (
            m.top.len() == top && m.cpus.len() == cpus,
            format!("{} top tasks (want {top}), {} CPUs (want {cpus})", m.top.len(), m.cpus.len()),
        ),
        None => (false, "no report from --monitor --json".into()),
    };
    result(case, if ok { 1.0 } else { 0.0 }, 1.0, 1.0, &detail);
}

const BPF_STATS: &str = "/proc/sys/kernel/bpf_stats_enabled";

/// Run time of every BPF program process `pid` holds, ns, as the bench
/// suite reads it (tests/vm/lib.sh, bpf_prog_stats): its fds' fdinfo.
fn fdinfo_bpf_ns(pid: i32) -> u64 {
    let Ok(dir) = fs::read_dir(format!("/proc/{pid}/fdinfo")) else { return 0 };
    dir.filter_map(|e| fs::read_to_string(e.ok()?.path()).ok())
        .filter_map(|text| {
            let field = |k: &str| text.lines().find_map(|l| l.strip_prefix(k)).map(str::trim);
            field("prog_tag:")?;
            field("run_cnt:")?;
            field("run_time_ns:")?.parse::<u64>().ok()
        })
        .sum()
}

/// Context switches since boot, all CPUs (/proc/stat ctxt).
fn ctxt() -> u64 {
    let stat = fs::read_to_string("/proc/stat").unwrap_or_default();
    stat.lines().find_map(|l| l.strip_prefix("ctxt ")).and_then(|v| v.trim().parse().ok()).unwrap_or(0)
}

/// BPF cost per callback (issue 26): with kernel.bpf_stats_enabled off the
/// report says so (JSON, and one line of the instance's own --stats block);
/// turned on, enqueue, dispatch, running and stopping are counted, and the
/// cost per context switch is sane and agrees with the bench suite's
/// reading of the same counters (fdinfo run_time_ns over /proc/stat ctxt).
/// Leaves the switch off.
fn bpf(daemon_pid: i32, daemon_out: &str) {
    let _ = fs::write(BPF_STATS, "0");
    let n0 = stats_blocks(daemon_out);
    let t0 = Instant::now();
    while stats_blocks(daemon_out) < n0 + 2 && t0.elapsed() < Duration::from_secs(10) {
        thread::sleep(Duration::from_millis(250));
    }
    let text = fs::read_to_string(daemon_out).unwrap_or_default();
    let last_bpf = text.lines().filter(|l| l.starts_with("  bpf")).next_back().unwrap_or("none").to_string();
    let off = reports(2, 1.0, 3).pop();
    let said_off = off.as_ref().is_some_and(|m| m.bpf_stats == 0 && m.bpf_callbacks.is_empty())
        && last_bpf.starts_with("  bpf: off (");
    result(
        "bpf_stats_off_reported",
        f64::from(u8::from(said_off)),
        1.0,
        1.0,
        &format!(
            "switch off: JSON bpf_stats {:?}, {:?} callbacks; the instance's last line: '{}'",
            off.as_ref().map(|m| m.bpf_stats),
            off.as_ref().map(|m| m.bpf_callbacks.len()),
            last_bpf.trim()
        ),
    );

    let _ = fs::write(BPF_STATS, "1");
    thread::sleep(Duration::from_millis(1500));
    let (b0, c0) = (fdinfo_bpf_ns(daemon_pid), ctxt());
    // The first report covers the moment of the request; the next four, 4 s.
    let got: Vec<Metrics> = reports(5, 1.0, 3).into_iter().skip(1).collect();
    let (b1, c1) = (fdinfo_bpf_ns(daemon_pid), ctxt());
    let _ = fs::write(BPF_STATS, "0");

    let on: Vec<&Metrics> = got.iter().filter(|m| m.bpf_stats == 1).collect();
    let calls = |name: &str| -> u64 {
        on.iter().flat_map(|m| m.bpf_callbacks.iter().filter(|c| c.name == name)).map(|c| c.calls).sum()
    };
    let wanted = ["enqueue", "dispatch", "running", "stopping"];
    let counted = wanted.iter().filter(|n| calls(n) > 0).count();
    let seen: Vec<String> = wanted.iter().map(|n| format!("{n} {}", calls(n))).collect();
    result(
        "bpf_callbacks_counted",
        if on.len() == 4 { counted as f64 } else { -1.0 },
        4.0,
        4.0,
        &format!("{} of 4 reports with bpf_stats 1; calls over them: {}", on.len(), seen.join(", ")),
    );
    // The reports' figure over their 4 s, weighted by each one's switches.
    let switches: f64 = on.iter().map(|m| m.switches_per_s * m.interval_s).sum();
    let bpf_ns: f64 = on.iter().map(|m| m.bpf_ns_per_switch * m.switches_per_s * m.interval_s).sum();
    let daemon = if on.len() == 4 && switches > 0.0 { bpf_ns / switches } else { -1.0 };
    let each: Vec<String> = on.iter().map(|m| format!("{:.0}", m.bpf_ns_per_switch)).collect();
    result(
        "bpf_ns_per_switch_sane",
        daemon,
        100.0,
        500_000.0,
        &format!("ns per context switch over 4 reports [{}], {:.0} switches/s", each.join(" "), switches / 4.0),
    );
    let fdinfo = if c1 > c0 && b1 > b0 { (b1 - b0) as f64 / (c1 - c0) as f64 } else { -1.0 };
    let off_by = if daemon > 0.0 && fdinfo > 0.0 { (daemon - fdinfo).abs() / fdinfo } else { -1.0 };
    result(
        "bpf_ns_per_switch_matches_fdinfo",
        off_by,
        0.0,
        0.25,
        &format!(
            "the reports' {daemon:.0} ns against the bench suite's reading over the same window: {fdinfo:.0} ns \
             ({} ns of BPF over {} switches)",
            b1.saturating_sub(b0),
            c1.saturating_sub(c0)
        ),
    );
}

/// The machine's online CPUs (the program itself runs pinned to CPU 0).
fn online_cpus() -> usize {
    // SAFETY: sysconf has no preconditions.
    (unsafe { libc::sysconf(libc::_SC_NPROCESSORS_ONLN) }).max(1) as usize
}

/// Live fairness on a migrating load (issue 26): 3 nice-0 and 3 nice-5 hogs
/// free on CPUs 1.., one of them pinned to another CPU for 100 ms every
/// 250 ms, so tasks keep changing queue. On every queue each is owed
/// weight / load of the CPU, so each hog's CPU time over `n` one-second
/// reports must be what it was owed, every report must sample every hog and
/// most runnable tasks, and its Jain index must be high. A scheduler that
/// ignores weights gives the nice-5 hogs up to twice what they are owed.
fn live(n: usize) {
    let cpus: Vec<usize> = (1..online_cpus()).collect();
    let classes = [Class::Nice(0), Class::Nice(0), Class::Nice(0), Class::Nice(5), Class::Nice(5), Class::Nice(5)];
    let hogs = Threads::start(&classes.map(|c| hogs::on(&cpus, c)));
    let tids = hogs.tids.clone();
    let stop = Arc::new(AtomicBool::new(false));
    let shuffler = {
        let (stop, tids, cpus) = (stop.clone(), tids.clone(), cpus.clone());
        thread::spawn(move || {
            let mut k = 0;
            while !stop.load(Ordering::Relaxed) {
                let tid = tids[k % tids.len()];
                set_affinity(tid, &[cpus[(k / tids.len() + k) % cpus.len()]]);
                thread::sleep(Duration::from_millis(100));
                set_affinity(tid, &cpus);
                thread::sleep(Duration::from_millis(150));
                k += 1;
            }
        })
    };
    thread::sleep(Duration::from_secs(2));
    let mig0: u64 = tids.iter().map(|&t| thread_migrations(t)).sum();
    let t0 = Instant::now();
    // The first report covers the moment of the request.
    let got: Vec<Metrics> = reports(n + 1, 1.0, ALL_TASKS).into_iter().skip(1).collect();
    let window = t0.elapsed().as_secs_f64();
    let mig1: u64 = tids.iter().map(|&t| thread_migrations(t)).sum();
    stop.store(true, Ordering::Relaxed);
    let _ = shuffler.join();
    hogs.stop();

    let hog = |m: &Metrics, tid: i32| m.top.iter().find(|t| t.pid == tid as i64).cloned();
    let sampled = |m: &Metrics| {
        tids.iter().all(|&t| hog(m, t).is_some_and(|h| h.entitled_ms >= m.fair_threshold_ms))
            && m.fair_tasks * 4 >= m.fair_runnable_tasks * 3
    };
    let good: Vec<&Metrics> = got.iter().filter(|m| sampled(m)).collect();
    let each: Vec<String> = got.iter().map(|m| format!("{}/{}", m.fair_tasks, m.fair_runnable_tasks)).collect();
    result(
        "fairness_live_intervals",
        good.len() as f64,
        (n * 3).div_ceil(4) as f64,
        n as f64,
        &format!("of {} reports, those sampling all 6 hogs and 3/4 of the runnable tasks (sampled/runnable: {})", got.len(), each.join(" ")),
    );
    let jains: Vec<f64> = good.iter().map(|m| m.fair_jain).collect();
    let shown: Vec<String> = jains.iter().map(|j| format!("{j:.4}")).collect();
    result(
        "fairness_live_jain",
        median(jains.clone()),
        0.97,
        1.0,
        &format!("median Jain (CPU time / entitlement) of those reports [{}]", shown.join(" ")),
    );
    // Each hog over the whole window: CPU time against what it was owed.
    let ratios: Vec<f64> = tids
        .iter()
        .map(|&t| {
            let (ran, owed) = got.iter().filter_map(|m| hog(m, t)).fold((0.0, 0.0), |(r, o), h| (r + h.ran_ms, o + h.entitled_ms));
            if owed > 0.0 { ran / owed } else { -1.0 }
        })
        .collect();
    let worst = if got.len() == n { ratios.iter().map(|r| (r - 1.0).abs()).fold(0.0, f64::max) } else { -1.0 };
    let shown: Vec<String> = ratios.iter().map(|r| format!("{r:.3}")).collect();
    result(
        "fairness_live_hogs_owed",
        worst,
        0.0,
        0.05,
        &format!("largest |CPU time / owed - 1| of a hog over {} reports; nice 0 then 5: [{}]", got.len(), shown.join(" ")),
    );
    let rate = (mig1 - mig0) as f64 / window;
    result(
        "fairness_live_migrations",
        rate,
        1.0,
        1e6,
        &format!("{} queue changes of the 6 hogs in {window:.1}s (the load migrates)", mig1 - mig0),
    );
}

/// One line of an error, for a RESULT detail.
fn one_line<E: std::fmt::Display>(e: &E) -> String {
    format!("{e:#}").replace('\n', " ")
}

/// scx_stats' own client with no path given, as scxtop connects
/// (/var/run/scx/root/stats): it reads the running instance (started with
/// sched_latency `latency_us` and retuned since, as this suite does) while
/// `daemon` runs; then, holding that connection while the suite stops the
/// daemon, its requests must end in an error rather than a timeout, and a
/// new connection once the daemon is gone must fail at once. Every wait is
/// bounded, so a hang is reported, not waited out.
fn default_client(daemon: i32, latency_us: u64) {
    let connect = |ms| StatsClient::new().connect(Some(ms));
    let read = connect(5000).and_then(|mut c| c.request::<Metrics>("stats", vec![]).map(|m| (c, m)));
    let held = match read {
        Ok((c, m)) => {
            let lat = m.tunables.get("sched_latency_us").copied();
            let ok = lat == Some(latency_us) && m.nr_cpus > 0 && m.cpus.len() as u64 == m.nr_cpus;
            result(
                "default_client_reads",
                if ok { 1.0 } else { 0.0 },
                1.0,
                1.0,
                &format!(
                    "StatsClient::new() (no path): sched_latency_us {lat:?} (want {latency_us}), {} CPUs, {} rows",
                    m.nr_cpus,
                    m.cpus.len()
                ),
            );
            Some(c)
        }
        Err(e) => {
            result("default_client_reads", 0.0, 1.0, 1.0, &format!("StatsClient::new() (no path): {}", one_line(&e)));
            None
        }
    };
    let Some(mut held) = held else {
        result("default_client_fails_after_stop", 0.0, 1.0, 1.0, "no connection to hold");
        return;
    };
    // Until the stop closes it: a cheap request (no snapshot) every 250 ms.
    let t0 = Instant::now();
    let ended = loop {
        thread::sleep(Duration::from_millis(250));
        if let Err(e) = held.request::<serde_json::Value>("stats_meta", vec![]) {
            break Some(e);
        }
        if t0.elapsed() > Duration::from_secs(120) {
            break None;
        }
    };
    let alive = || unsafe { libc::kill(daemon, 0) } == 0;
    let t1 = Instant::now();
    while alive() && t1.elapsed() < Duration::from_secs(90) {
        thread::sleep(Duration::from_millis(100));
    }
    let gone = !alive();
    let t2 = Instant::now();
    let after = connect(2000).and_then(|mut c| c.request::<Metrics>("stats", vec![]));
    let took = t2.elapsed().as_secs_f64();
    let held_ok = ended.as_ref().is_some_and(|e| !one_line(e).contains("timed out"));
    let clean = held_ok && gone && after.is_err() && took < 3.0;
    result(
        "default_client_fails_after_stop",
        if clean { 1.0 } else { 0.0 },
        1.0,
        1.0,
        &format!(
            "held connection: {}; daemon {pid} gone: {gone}; new connection after: {} in {took:.2}s",
            ended.as_ref().map_or("still answered after 120 s".into(), one_line),
            after.as_ref().map_or_else(one_line, |_| "a report".into()),
            pid = daemon,
        ),
    );
}

fn opt<T: std::str::FromStr>(args: &[String], name: &str) -> T {
    args.iter()
        .position(|a| a == name)
        .and_then(|i| args.get(i + 1))
        .and_then(|v| v.parse().ok())
        .unwrap_or_else(|| panic!("stats: {name} VALUE is required"))
}

/// `fairrs-guest stats CASE ...` (args from CASE on).
pub fn main(args: &[String]) {
    match args.first().map(String::as_str) {
        Some("duty") => duty(opt(args, "--tid"), &opt::<String>(args, "--spin-log")),
        Some("loaded") => loaded(
            opt(args, "--hog-cpu"),
            opt(args, "--four-cpu"),
            opt(args, "--latency-us"),
            &opt::<String>(args, "--daemon-out"),
        ),
        Some("weights") => weights(opt(args, "--cpu")),
        Some("retune") => retune(opt(args, "--hog-cpu"), opt(args, "--from"), opt(args, "--to")),
        Some("shape") => shape(&opt::<String>(args, "--case"), opt(args, "--top")),
        Some("bpf") => bpf(opt(args, "--daemon-pid"), &opt::<String>(args, "--daemon-out")),
        Some("live") => live(opt(args, "--reports")),
        Some("default_client") => default_client(opt(args, "--daemon-pid"), opt(args, "--latency-us")),
        _ => {
            eprintln!("usage: fairrs-guest stats duty|loaded|weights|retune|shape|bpf|live|default_client [options] (see tests/guest/src/stats.rs)");
            std::process::exit(2);
        }
    }
}
