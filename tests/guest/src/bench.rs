// SPDX-License-Identifier: GPL-2.0
//! The benchmark suite's own workloads (vm/bench.sh runs them under each
//! scheduler in turn), and its report.
//!
//!   fairrs-guest bench latency --workers N [--secs S] [--work-us US]
//!       schbench-like: one message thread wakes N workers at once; each
//!       spins for a request's work and answers. Wakeup latency (message sent
//!       to worker running) and request latency (sent to answered), µs, and
//!       requests per second.
//!   fairrs-guest bench timer [--secs S]
//!       cyclictest-like (`cyclictest -t N -i 1000`, SCHED_OTHER): one
//!       unpinned thread per CPU sleeps to 1 ms absolute deadlines beside one
//!       unpinned hog per CPU; how late each wakeup runs, µs.
//!   fairrs-guest bench nice_mix [--secs S]
//!       4 nice-0 and 4 nice-5 hogs on 4 CPUs, started in the worst placement
//!       (nice-0 two to a CPU on CPUs 0-1, nice-5 on 2-3) and then unpinned:
//!       the nice-0 group's share of their CPU time (ideal 4*1024 /
//!       (4*1024 + 4*335) = 0.7535) and max/min among the nice-0 hogs.
//!   fairrs-guest bench report FILE [--json OUT] [--png OUT]
//!       The table (and JSON, and a chart of the ratios) of a run: FILE holds `BENCH <scheduler> <round> <metric>
//!       <value>` and `EJECTED <scheduler> <round> <why>` lines.
//!
//! The workloads print `BENCH <metric> <value>`; the script prefixes the
//! scheduler and round.

use crate::balance::{nice_mix_measure, MixStart};
use crate::hogs::{self, Threads};
use crate::sys::nr_cpus;
use std::collections::BTreeMap;
use std::fs;
use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, Ordering};
use std::sync::{Arc, Barrier};
use std::thread;
use std::time::{Duration, Instant};

fn now_ns(base: Instant) -> u64 {
    base.elapsed().as_nanos() as u64
}

fn futex_wait(word: &AtomicU32, expected: u32) {
    unsafe {
        libc::syscall(
            libc::SYS_futex,
            word.as_ptr(),
            libc::FUTEX_WAIT | libc::FUTEX_PRIVATE_FLAG,
            expected,
            std::ptr::null::<libc::timespec>(),
        );
    }
}

fn futex_wake(word: &AtomicU32) {
    unsafe {
        libc::syscall(libc::SYS_futex, word.as_ptr(), libc::FUTEX_WAKE | libc::FUTEX_PRIVATE_FLAG, i32::MAX);
    }
}

fn spin_for(d: Duration) {
    let t = Instant::now();
    let mut x = 0u64;
    while t.elapsed() < d {
        x = std::hint::black_box(x.wrapping_mul(6364136223846793005).wrapping_add(1));
    }
}

fn percentile(sorted: &[u64], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let i = ((sorted.len() - 1) as f64 * p).round() as usize;
    sorted[i] as f64
}

fn emit(metric: &str, value: f64) {
    println!("BENCH {metric} {value:.4}");
}

/// One message thread, `workers` workers: each round the message thread
/// stamps the time and wakes every worker (a futex each); a worker records
/// its wakeup latency, spins `work`, records its request latency and answers;
/// the last answer wakes the message thread, which starts the next round.
fn latency(workers: usize, secs: Duration, work: Duration, tag: &str) {
    let base = Instant::now();
    let sent = Arc::new(AtomicU64::new(0));
    let round = Arc::new(AtomicU32::new(0));
    let pending = Arc::new(AtomicU32::new(0));
    let stop = Arc::new(AtomicBool::new(false));
    let ready = Arc::new(Barrier::new(workers + 1));
    let handles: Vec<_> = (0..workers)
        .map(|_| {
            let (sent, round, pending, stop, ready) =
                (sent.clone(), round.clone(), pending.clone(), stop.clone(), ready.clone());
            thread::spawn(move || {
                let (mut wake, mut req) = (Vec::new(), Vec::new());
                let mut seen = 0u32;
                ready.wait();
                loop {
                    while round.load(Ordering::Acquire) == seen && !stop.load(Ordering::Acquire) {
                        futex_wait(&round, seen);
                    }
                    if stop.load(Ordering::Acquire) {
                        break;
                    }
                    seen = round.load(Ordering::Acquire);
                    let t0 = sent.load(Ordering::Acquire);
                    wake.push(now_ns(base).saturating_sub(t0));
                    spin_for(work);
                    req.push(now_ns(base).saturating_sub(t0));
                    if pending.fetch_sub(1, Ordering::AcqRel) == 1 {
                        futex_wake(&pending);
                    }
                }
                (wake, req)
            })
        })
        .collect();
    ready.wait();
    let t0 = Instant::now();
    let mut rounds = 0u64;
    while t0.elapsed() < secs {
        pending.store(workers as u32, Ordering::Release);
        sent.store(now_ns(base), Ordering::Release);
        round.fetch_add(1, Ordering::AcqRel);
        futex_wake(&round);
        loop {
            let left = pending.load(Ordering::Acquire);
            if left == 0 {
                break;
            }
            futex_wait(&pending, left);
        }
        rounds += 1;
    }
    let elapsed = t0.elapsed().as_secs_f64();
    stop.store(true, Ordering::Release);
    round.fetch_add(1, Ordering::AcqRel);
    futex_wake(&round);
    let (mut wake, mut req) = (Vec::new(), Vec::new());
    for h in handles {
        let (w, r) = h.join().unwrap();
        wake.extend(w);
        req.extend(r);
    }
    wake.sort_unstable();
    req.sort_unstable();
    emit(&format!("{tag}_wake_p50_us"), percentile(&wake, 0.5) / 1e3);
    emit(&format!("{tag}_wake_p99_us"), percentile(&wake, 0.99) / 1e3);
    emit(&format!("{tag}_req_p99_us"), percentile(&req, 0.99) / 1e3);
    emit(&format!("{tag}_rps"), (rounds * workers as u64) as f64 / elapsed);
}

/// One unpinned SCHED_OTHER thread per CPU sleeping to 1 ms absolute
/// deadlines, beside one unpinned hog per CPU: how late each wakeup ran.
fn timer(secs: Duration) {
    let n = nr_cpus();
    let hogs = Threads::start(&vec![hogs::anywhere(); n]);
    thread::sleep(Duration::from_millis(500));
    let sleepers: Vec<_> = (0..n)
        .map(|_| {
            thread::spawn(move || {
                let mut late = Vec::new();
                let mut next = libc::timespec { tv_sec: 0, tv_nsec: 0 };
                unsafe { libc::clock_gettime(libc::CLOCK_MONOTONIC, &mut next) };
                let end = Instant::now() + secs;
                while Instant::now() < end {
                    next.tv_nsec += 1_000_000;
                    if next.tv_nsec >= 1_000_000_000 {
                        next.tv_nsec -= 1_000_000_000;
                        next.tv_sec += 1;
                    }
                    let mut now = libc::timespec { tv_sec: 0, tv_nsec: 0 };
                    unsafe {
                        libc::clock_nanosleep(libc::CLOCK_MONOTONIC, libc::TIMER_ABSTIME, &next, std::ptr::null_mut());
                        libc::clock_gettime(libc::CLOCK_MONOTONIC, &mut now);
                    }
                    let d = (now.tv_sec - next.tv_sec) as i64 * 1_000_000_000 + (now.tv_nsec - next.tv_nsec) as i64;
                    late.push(d.max(0) as u64);
                    // A sleeper that fell behind by whole periods restarts
                    // from now, as cyclictest does not: it would otherwise
                    // count one stall many times.
                    if d > 1_000_000 {
                        next = now;
                    }
                }
                late
            })
        })
        .collect();
    let mut late: Vec<u64> = sleepers.into_iter().flat_map(|h| h.join().unwrap()).collect();
    hogs.stop();
    late.sort_unstable();
    let avg = late.iter().sum::<u64>() as f64 / late.len().max(1) as f64;
    emit("timer_avg_us", avg / 1e3);
    emit("timer_p99_us", percentile(&late, 0.99) / 1e3);
}

fn nice_mix(secs: Duration) {
    let (share, max_over_min, _) = nice_mix_measure(secs, MixStart::Worst);
    emit("nice_mix_share", share);
    emit("nice_mix_maxmin", max_over_min);
}

/// How to read a metric: whether lower is better, and its unit.
fn metric_kind(metric: &str) -> (bool, &'static str) {
    if metric.ends_with("_rps") {
        (false, "req/s")
    } else if metric.ends_with("_us") {
        (true, "µs")
    } else if metric.ends_with("_s") && !metric.ends_with("_task_s") {
        (true, "s")
    } else if metric == "nice_mix_share" {
        (true, "share, ideal 0.7535")
    } else if metric.ends_with("_per_task_s") {
        (true, "/task-s")
    } else if metric.ends_with("_ns_per_switch") {
        (true, "ns")
    } else {
        (true, "")
    }
}

fn median(v: &mut [f64]) -> f64 {
    v.sort_by(|a, b| a.partial_cmp(b).unwrap());
    let n = v.len();
    if n == 0 {
        f64::NAN
    } else if n % 2 == 1 {
        v[n / 2]
    } else {
        (v[n / 2 - 1] + v[n / 2]) / 2.0
    }
}

/// The table: one row per metric, one column per scheduler (in the order
/// they first appear), each cell the median of the rounds with min..max and,
/// beside the kernel's column, the ratio of medians to the kernel's.
fn report(args: &[String]) {
    let file = args.first().expect("usage: fairrs-guest bench report FILE [--json OUT] [--png OUT]");
    let json_out = args.iter().position(|a| a == "--json").map(|i| args[i + 1].clone());
    let png_out = args.iter().position(|a| a == "--png").map(|i| args[i + 1].clone());
    let text = fs::read_to_string(file).unwrap_or_else(|e| panic!("{file}: {e}"));
    let mut scheds: Vec<String> = Vec::new();
    let mut metrics: Vec<String> = Vec::new();
    let mut values: BTreeMap<(String, String), Vec<f64>> = BTreeMap::new();
    let mut ejected: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for line in text.lines() {
        let f: Vec<&str> = line.split_whitespace().collect();
        match f.first().copied() {
            Some("BENCH") if f.len() == 5 => {
                let (sched, metric) = (f[1].to_string(), f[3].to_string());
                let Ok(v) = f[4].parse::<f64>() else { continue };
                if !scheds.contains(&sched) {
                    scheds.push(sched.clone());
                }
                if !metrics.contains(&metric) {
                    metrics.push(metric.clone());
                }
                values.entry((metric, sched)).or_default().push(v);
            }
            Some("EJECTED") if f.len() >= 3 => {
                ejected.entry(f[1].to_string()).or_default().push(format!("round {}: {}", f[2], f[3..].join(" ")));
                if !scheds.contains(&f[1].to_string()) {
                    scheds.push(f[1].to_string());
                }
            }
            _ => {}
        }
    }
    let kernel = scheds.iter().find(|s| s.as_str() == "kernel").cloned();
    let mut out = String::from("| metric | unit |");
    for s in &scheds {
        out += &format!(" {s}{} |", if ejected.contains_key(s) { " (ejected!)" } else { "" });
    }
    out += "\n| --- | --- |";
    for _ in &scheds {
        out += " --- |";
    }
    out += "\n";
    let mut json_rows = Vec::new();
    for m in &metrics {
        let (_, unit) = metric_kind(m);
        out += &format!("| {m} | {unit} |");
        let kmed = kernel.as_ref().and_then(|k| values.get(&(m.clone(), k.clone()))).map(|v| median(&mut v.clone()));
        let mut cells = Vec::new();
        for s in &scheds {
            let Some(v) = values.get(&(m.clone(), s.clone())) else {
                out += " – |";
                continue;
            };
            let mut v = v.clone();
            let med = median(&mut v);
            let (lo, hi) = (v[0], v[v.len() - 1]);
            let ratio = kmed.filter(|k| *k != 0.0 && Some(s) != kernel.as_ref()).map(|k| med / k);
            out += &format!(" {} ({}..{}, n={})", fmt(med), fmt(lo), fmt(hi), v.len());
            if let Some(r) = ratio {
                out += &format!(" **{r:.2}×**");
            }
            out += " |";
            cells.push(serde_json::json!({
                "scheduler": s, "median": med, "min": lo, "max": hi, "n": v.len(),
                "ratio_to_kernel": ratio, "values": v,
            }));
        }
        out += "\n";
        json_rows.push(serde_json::json!({ "metric": m, "unit": unit, "lower_is_better": metric_kind(m).0, "cells": cells }));
    }
    for (s, why) in &ejected {
        out += &format!("\n{s} was ejected or failed to run: {}\n", why.join("; "));
    }
    print!("{out}");
    if let Some(path) = png_out {
        let medians: Vec<Vec<Option<f64>>> = metrics
            .iter()
            .map(|m| {
                let kmed = kernel.as_ref().and_then(|k| values.get(&(m.clone(), k.clone()))).map(|v| median(&mut v.clone()));
                scheds
                    .iter()
                    .filter(|s| Some(*s) != kernel.as_ref())
                    .map(|s| {
                        let med = values.get(&(m.clone(), s.clone())).map(|v| median(&mut v.clone()))?;
                        kmed.filter(|k| *k != 0.0).map(|k| med / k)
                    })
                    .collect()
            })
            .collect();
        let others: Vec<String> = scheds.iter().filter(|s| Some(*s) != kernel.as_ref()).cloned().collect();
        match chart(&path, &metrics, &others, &medians) {
            Ok(()) => eprintln!("chart: {path}"),
            Err(e) => eprintln!("chart not drawn ({path}): {e}"),
        }
    }
    if let Some(path) = json_out {
        let doc = serde_json::json!({ "schedulers": scheds, "rows": json_rows, "ejected": ejected });
        fs::write(&path, serde_json::to_string_pretty(&doc).unwrap()).unwrap_or_else(|e| panic!("{path}: {e}"));
    }
}

/// The chart: one group of horizontal bars per metric, one bar per scheduler,
/// its median as a ratio to the kernel's scheduler's (1 = the same; a line
/// marks it), from 0. Bars are cut at 4x with the figure written beside them.
/// The names sit left of the plot and the legend above it, clear of the bars;
/// a metric without a kernel figure (bpf_ns_per_switch) has no ratio and is
/// named under the chart instead (the table has its values).
fn chart(path: &str, metrics: &[String], scheds: &[String], ratios: &[Vec<Option<f64>>]) -> Result<(), String> {
    use plotters::prelude::*;
    use plotters::style::text_anchor::{HPos, Pos, VPos};
    const FONT: &str = "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf";
    let font = fs::read(FONT).map_err(|e| format!("{FONT}: {e}"))?;
    plotters::style::register_font("sans-serif", FontStyle::Normal, Box::leak(font.into_boxed_slice()))
        .map_err(|_| "the font could not be loaded".to_string())?;
    let rows: Vec<usize> = (0..metrics.len()).filter(|&i| ratios[i].iter().any(Option::is_some)).collect();
    let unrated: Vec<&str> =
        (0..metrics.len()).filter(|i| !rows.contains(i)).map(|i| metrics[i].as_str()).collect();
    let (n, k) = (rows.len() as f64, scheds.len().max(1) as f64);
    let cap = 4.0;
    const PER_LINE: usize = 6;
    let legend_h = 40 + 22 * scheds.len().div_ceil(PER_LINE) as u32;
    let foot_h = if unrated.is_empty() { 0 } else { 28 };
    let height = legend_h + foot_h + 60 + 22 * rows.len() as u32 * (scheds.len() as u32 + 1) / 2;
    let root = BitMapBackend::new(path, (1200, height)).into_drawing_area();
    let e = |e: DrawingAreaErrorKind<_>| e.to_string();
    root.fill(&WHITE).map_err(e)?;
    let (top, rest) = root.split_vertically(legend_h);
    let (body, foot) = rest.split_vertically(rest.dim_in_pixel().1 - foot_h);
    let centred = |size| TextStyle::from(("sans-serif", size).into_font()).pos(Pos::new(HPos::Center, VPos::Top));
    top.draw(&Text::new("median / kernel's scheduler (lower is better except _rps and shares)", (600, 8), centred(20)))
        .map_err(e)?;
    let colours = [BLUE, RED, GREEN, MAGENTA, CYAN, BLACK];
    for (j, s) in scheds.iter().enumerate() {
        let colour = colours[j % colours.len()];
        let (x, y) = (250 + 150 * (j % PER_LINE) as i32, 40 + 22 * (j / PER_LINE) as i32);
        top.draw(&Rectangle::new([(x, y), (x + 14, y + 12)], colour.filled())).map_err(e)?;
        top.draw(&Text::new(s.as_str(), (x + 20, y - 1), ("sans-serif", 14).into_font())).map_err(e)?;
    }

    let mut c = ChartBuilder::on(&body)
        .margin(12)
        .x_label_area_size(30)
        .y_label_area_size(230)
        .build_cartesian_2d(0f64..cap + 0.45, n..0f64)
        .map_err(|e| e.to_string())?;
    c.configure_mesh().disable_y_mesh().disable_y_axis().x_labels(10).draw().map_err(|e| e.to_string())?;
    for (j, _) in scheds.iter().enumerate() {
        let colour = colours[j % colours.len()];
        let rated = || rows.iter().enumerate().filter_map(move |(row, &i)| Some((row, ratios[i].get(j).copied().flatten()?)));
        let bar_y = |row: usize| row as f64 + 0.1 + 0.8 * j as f64 / k;
        c.draw_series(rated().map(|(row, r)| {
            Rectangle::new([(0.0, bar_y(row)), (r.min(cap), bar_y(row) + 0.8 / k)], colour.filled())
        }))
        .map_err(|e| e.to_string())?;
        let cut = rated()
            .filter(|(_, r)| *r > cap)
            .map(|(row, r)| Text::new(format!("{r:.1}x"), (cap + 0.02, bar_y(row)), ("sans-serif", 11).into_font()));
        c.draw_series(cut).map_err(|e| e.to_string())?;
    }
    c.draw_series(std::iter::once(PathElement::new(vec![(1.0, 0.0), (1.0, n)], BLACK.stroke_width(2))))
        .map_err(|e| e.to_string())?;
    // The names, right-aligned against the plot, each centred on its group
    // (drawn on the whole image, in its pixels).
    let name = TextStyle::from(("sans-serif", 13).into_font()).pos(Pos::new(HPos::Right, VPos::Center));
    for (row, &i) in rows.iter().enumerate() {
        let (x, y) = c.backend_coord(&(0.0, row as f64 + 0.5));
        root.draw(&Text::new(metrics[i].as_str(), (x - 8, y), name.clone())).map_err(e)?;
    }
    if !unrated.is_empty() {
        let why = format!("not charted, no kernel figure to compare with (see the table): {}", unrated.join(", "));
        foot.draw(&Text::new(why, (250, 4), ("sans-serif", 13).into_font())).map_err(e)?;
    }
    root.present().map_err(e)?;
    Ok(())
}

fn fmt(v: f64) -> String {
    if v.abs() >= 100.0 {
        format!("{v:.0}")
    } else if v.abs() >= 1.0 {
        format!("{v:.2}")
    } else {
        format!("{v:.4}")
    }
}

pub fn main(args: &[String]) {
    let mut secs = 5.0;
    let mut workers = 2usize;
    let mut work_us = 200u64;
    let case = args.first().map(String::as_str);
    if case == Some("report") {
        return report(&args[1..]);
    }
    let mut i = 1;
    while i + 1 < args.len() {
        match args[i].as_str() {
            "--secs" => secs = args[i + 1].parse().expect("--secs"),
            "--workers" => workers = args[i + 1].parse().expect("--workers"),
            "--work-us" => work_us = args[i + 1].parse().expect("--work-us"),
            other => panic!("unknown option {other}"),
        }
        i += 2;
    }
    let secs = Duration::from_secs_f64(secs);
    match case {
        Some("latency") => latency(
            workers,
            secs,
            Duration::from_micros(work_us),
            &format!("sched_w{workers}"),
        ),
        Some("timer") => timer(secs),
        Some("nice_mix") => nice_mix(secs),
        _ => {
            eprintln!("usage: fairrs-guest bench latency|timer|nice_mix|report ...");
            std::process::exit(2);
        }
    }
}
