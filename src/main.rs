// SPDX-License-Identifier: GPL-2.0
//! scx_fairrs: CFS's fairness as a sched_ext scheduler.
//!
//! Reads top to bottom: parse and validate the flags (nothing touches the
//! kernel before they are all good), set up logging and Ctrl-C, check the
//! machine, then load/attach/run the scheduler until asked to stop, reloading
//! it when the kernel asks for a restart (CPU hotplug).
//!
//! The exit status is for service managers (see cli::EXIT_STATUS): 0 only
//! for a requested stop, 1 when it could not load or the kernel ejected it,
//! 2 for a refused flag.

mod bpf_intf;
mod bpf_skel;
mod cgroups;
mod cli;
mod control;
mod generate;
mod openmetrics;
#[cfg(test)]
mod cfs;
#[cfg(test)]
mod pelt;
mod scheduler;
#[cfg(test)]
mod share;
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

/// `--set`: retune the running instance over its control socket.
fn set_running(arg: &str) -> Result<()> {
    let (key, value) = cli::parse_set(arg)?;
    let result = control::set_remote(&key, &value)?;
    if result.applied == 0 {
        anyhow::bail!("the running scx_fairrs refused --set {key}={value}: {}", result.message);
    }
    println!("scx_fairrs: {}", result.message);
    Ok(())
}

/// `--monitor`: report on the running instance without loading anything.
fn monitor(opts: &Opts, shutdown: Arc<AtomicBool>) -> Result<()> {
    let every = Duration::from_secs_f64(opts.monitor);
    control::monitor(every, opts.top, opts.json, || shutdown.load(Ordering::Relaxed))
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
    if opts.openmetrics {
        print!("{}", control::openmetrics(opts.top)?);
        return Ok(());
    }

    scheduler::preflight()?;
    let mut open_object = MaybeUninit::uninit();
    loop {
        // A stop that arrives while starting (or between a kernel-requested
        // restart and the reload) is honoured before loading anything.
        if shutdown.load(Ordering::Relaxed) {
            info!("stop requested before attaching; nothing loaded");
            return Ok(());
        }
        let mut sched = Scheduler::init(opts, tun, &mut open_object)?;
        info!(
            "scx_fairrs {VERSION} attached on {} CPUs ({} cores{}, {} LLCs, {} NUMA nodes): sched_latency {}us, \
             min_granularity {}us, wakeup_granularity {}us (protect {}us), imbalance {}%/{}% (node)",
            sched.nr_cpus(),
            sched.topology().nr_cores(),
            if sched.topology().smt() { " with SMT" } else { "" },
            sched.topology().nr_llcs(),
            sched.topology().nr_nodes(),
            opts.sched_latency_us,
            opts.min_granularity_us,
            opts.wakeup_granularity_us,
            opts.wakeup_protect_us,
            opts.imbalance_pct,
            opts.numa_imbalance_pct
        );
        info!("{}", stats::verifier_line(&sched.progs()));
        // An error exit (sysrq-S, a runtime or BPF error, a stall) is an Err
        // here already: "the kernel ejected scx_fairrs: EXIT: reason (msg)".
        let uei = sched.run(&shutdown)?;
        match ending(uei.exit_code(), uei.should_restart(), shutdown.load(Ordering::Relaxed)) {
            Ending::Reload => {
                info!("the kernel asked scx_fairrs to restart (CPU hotplug); reloading");
            }
            Ending::Stopped => {
                info!("scx_fairrs detached");
                return Ok(());
            }
            Ending::Unregistered(code) => anyhow::bail!(
                "the kernel ejected scx_fairrs: it was unregistered without a stop request \
                 (exit code {code:#x}; the EXIT line above has the kernel's reason)"
            ),
        }
    }
}

/// How a run that ended without an error exit goes on.
#[derive(Debug, PartialEq, Eq)]
enum Ending {
    /// The kernel asked for a reload: load again.
    Reload,
    /// Detached because we were asked to stop: exit 0.
    Stopped,
    /// Unregistered by the kernel or the BPF side, not by us: exit non-zero
    /// so that a service manager sees a failure (Restart=on-failure).
    Unregistered(i64),
}

/// scx_utils' UserExitInfo keeps the exit kind private, but what it exposes
/// tells the kinds apart: `report()` (in Scheduler::run, on what
/// Scheduler::exit_info() read) turns every kind above SCX_EXIT_UNREG_KERN
/// (sysrq, errors, stalls) into an Err,
/// and `exit_code()` is Some exactly for SCX_EXIT_UNREG_BPF and
/// SCX_EXIT_UNREG_KERN, the kinds where someone other than user space
/// unregistered the scheduler. None is SCX_EXIT_UNREG (our own detach when
/// the struct_ops link is dropped), DONE or NONE.
fn ending(exit_code: Option<i64>, restart: bool, stop_requested: bool) -> Ending {
    match (exit_code, restart, stop_requested) {
        (_, true, false) => Ending::Reload,
        // A restart request racing with a stop request: stopping was asked for.
        (_, true, true) | (None, false, _) => Ending::Stopped,
        (Some(code), false, _) => Ending::Unregistered(code),
    }
}

/// A refused command line: clap's first line names the flag and the value
/// (the usage lines after it repeat what --help says); status 2.
fn bad_args(e: &clap::Error) -> ExitCode {
    let text = e.to_string();
    eprintln!("scx_fairrs: {}", text.lines().next().unwrap_or("invalid arguments").trim_start_matches("error: "));
    ExitCode::from(2)
}

fn main() -> ExitCode {
    let args: Vec<_> = std::env::args_os().collect();
    if let Some(request) = generate::generate_request(&args) {
        let what = match request {
            Ok(what) => what,
            Err(e) => return bad_args(&e),
        };
        return match generate::generate(what, &mut std::io::stdout().lock()) {
            Ok(()) => ExitCode::SUCCESS,
            Err(e) => {
                eprintln!("scx_fairrs: writing the {what:?} output: {e}");
                ExitCode::FAILURE
            }
        };
    }
    let opts = match Opts::try_parse_from(&args) {
        Ok(opts) => opts,
        Err(e) => {
            use clap::error::ErrorKind;
            if matches!(e.kind(), ErrorKind::DisplayHelp | ErrorKind::DisplayVersion) {
                e.exit();
            }
            return bad_args(&e);
        }
    };
    if opts.help_stats {
        let mut out = std::io::stdout();
        let described = stats::describe(&mut out);
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_a_requested_stop_ends_in_success() {
        // SCX_EXIT_UNREG (our detach): exit_code() is None.
        assert_eq!(ending(None, false, true), Ending::Stopped);
        // Unregistered by the kernel or the BPF side while nobody asked.
        assert_eq!(ending(Some(0), false, false), Ending::Unregistered(0));
        assert_eq!(ending(Some(7), false, true), Ending::Unregistered(7));
        // A restart request reloads, unless a stop was requested meanwhile.
        assert_eq!(ending(Some(1 << 16), true, false), Ending::Reload);
        assert_eq!(ending(Some(1 << 16), true, true), Ending::Stopped);
    }
}
