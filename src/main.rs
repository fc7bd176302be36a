// SPDX-License-Identifier: GPL-2.0
//! scx_fairrs: CFS's fairness as a sched_ext scheduler.
//!
//! Reads top to bottom: parse and validate the flags (nothing touches the
//! kernel before they are all good), set up logging and Ctrl-C, check the
//! machine, then load/attach/run the scheduler until asked to stop, reloading
//! it when the kernel asks for a restart (CPU hotplug).

mod bpf_intf;
mod bpf_skel;
mod cli;
mod pelt;
mod scheduler;
mod stats;
mod topology;

use std::io::IsTerminal;
use std::mem::MaybeUninit;
use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, Result};
use clap::Parser;
use log::info;

use cli::{Opts, Tunables, VERSION};
use scheduler::Scheduler;

fn init_logging(verbose: bool) -> Result<()> {
    let level = if verbose { simplelog::LevelFilter::Debug } else { simplelog::LevelFilter::Info };
    let mut cfg = simplelog::ConfigBuilder::new();
    cfg.set_time_level(simplelog::LevelFilter::Off)
        .set_location_level(simplelog::LevelFilter::Off)
        .set_target_level(simplelog::LevelFilter::Off)
        .set_thread_level(simplelog::LevelFilter::Off);
    let color = if std::io::stderr().is_terminal() {
        simplelog::ColorChoice::Auto
    } else {
        simplelog::ColorChoice::Never
    };
    simplelog::TermLogger::init(level, cfg.build(), simplelog::TerminalMode::Stderr, color)?;
    // libbpf's own messages go through `log`: everything with -v, warnings otherwise.
    scx_utils::init_libbpf_logging(Some(if verbose {
        libbpf_rs::PrintLevel::Debug
    } else {
        libbpf_rs::PrintLevel::Warn
    }));
    Ok(())
}

/// `--set`: retune the running instance over its stats socket.
fn set_running(arg: &str) -> Result<()> {
    let (key, value) = cli::parse_set(arg)?;
    let result = stats::set_remote(&key, &value)?;
    if result.applied == 0 {
        anyhow::bail!("the running scx_fairrs refused --set {key}={value}: {}", result.message);
    }
    println!("scx_fairrs: {}", result.message);
    Ok(())
}

/// `--monitor`: report on the running instance without loading anything.
fn monitor(opts: &Opts, shutdown: Arc<AtomicBool>) -> Result<()> {
    let every = Duration::from_secs_f64(opts.monitor);
    stats::monitor(every, opts.top, opts.json, || shutdown.load(Ordering::Relaxed))
}

fn run(opts: &Opts, tun: &Tunables) -> Result<()> {
    let shutdown = Arc::new(AtomicBool::new(false));
    let flag = shutdown.clone();
    ctrlc::set_handler(move || flag.store(true, Ordering::Relaxed)).context("installing the Ctrl-C handler")?;

    if let Some(arg) = &opts.set {
        return set_running(arg);
    }
    if opts.monitor > 0.0 {
        return monitor(opts, shutdown);
    }

    scheduler::preflight()?;
    let mut open_object = MaybeUninit::uninit();
    loop {
        let mut sched = Scheduler::init(opts, tun, &mut open_object)?;
        info!(
            "scx_fairrs {VERSION} attached on {} CPUs ({} LLCs, {} NUMA nodes): sched_latency {}us, \
             min_granularity {}us, wakeup_granularity {}us, imbalance {}%/{}% (node)",
            sched.nr_cpus(),
            sched.topology().nr_llcs(),
            sched.topology().nr_nodes(),
            opts.sched_latency_us,
            opts.min_granularity_us,
            opts.wakeup_granularity_us,
            opts.imbalance_pct,
            opts.numa_imbalance_pct
        );
        let uei = sched.run(&shutdown)?;
        if uei.should_restart() && !shutdown.load(Ordering::Relaxed) {
            info!("the kernel asked scx_fairrs to restart (CPU hotplug); reloading");
            continue;
        }
        info!("scx_fairrs detached");
        return Ok(());
    }
}

fn main() -> ExitCode {
    let opts = match Opts::try_parse() {
        Ok(opts) => opts,
        Err(e) => {
            use clap::error::ErrorKind;
            if matches!(e.kind(), ErrorKind::DisplayHelp | ErrorKind::DisplayVersion) {
                e.exit();
            }
            // clap's first line names the flag and the value; the usage
            // lines after it repeat what --help says.
            let text = e.to_string();
            eprintln!("scx_fairrs: {}", text.lines().next().unwrap_or("invalid arguments").trim_start_matches("error: "));
            return ExitCode::from(2);
        }
    };
    if opts.help_stats {
        let mut out = std::io::stdout();
        let described = stats::server_data(opts.top).describe_meta(&mut out, None);
        return if described.is_ok() { ExitCode::SUCCESS } else { ExitCode::FAILURE };
    }
    let tun = match opts.validate() {
        Ok(tun) => tun,
        Err(e) => {
            eprintln!("scx_fairrs: {e}");
            return ExitCode::from(2);
        }
    };
    if let Err(e) = init_logging(opts.verbose) {
        eprintln!("scx_fairrs: cannot set up logging: {e:#}");
        return ExitCode::FAILURE;
    }
    match run(&opts, &tun) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("scx_fairrs: {e:#}");
            ExitCode::FAILURE
        }
    }
}
