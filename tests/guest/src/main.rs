// SPDX-License-Identifier: GPL-2.0
//! Workloads and measurements for the VM suites, run inside the guest: this
//! file only dispatches.
//!
//!   fairrs-guest fairness [--secs S] [--cpu N] [--only CASE] [--latency-bound-ms MS] | --plan   (fairness.rs)
//!   fairrs-guest balance  [--secs S] [--only CASE] | --plan   (balance.rs)
//!   fairrs-guest groups   [--secs S] [--only CASE] | --plan   (groups.rs)
//!   fairrs-guest hostile  [--secs S] [--only CASE] | --plan   (hostile.rs)
//!   fairrs-guest bandwidth [--secs S] [--only CASE] | --plan  (bandwidth.rs)
//!   fairrs-guest spin     --cpu N [--threads N] [--duty PCT] [--secs S]   (hogs.rs)
//!   fairrs-guest stats    CASE ...   (checks of a running instance's reports, stats.rs)
//!   fairrs-guest bench    CASE ...   (the benchmark suite's workloads and report, bench.rs)
//!
//! The five measuring suites are case tables (cases.rs): each prints one
//! `RESULT <case> <value> <lo> <hi> <detail>` line per result, and with
//! `--plan` the table the suite scripts count from. Their workloads are
//! hogs (hogs.rs) on top of the system calls and /proc readers of sys.rs.

mod balance;
mod bandwidth;
mod bench;
mod cases;
mod fairness;
mod groups;
mod hogs;
mod hostile;
mod stats;
mod sys;

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let rest = args.get(2..).unwrap_or_default();
    match args.get(1).map(String::as_str) {
        Some("fairness") => fairness::main(rest),
        Some("balance") => balance::main(rest),
        Some("groups") => groups::main(rest),
        Some("hostile") => hostile::main(rest),
        Some("bandwidth") => bandwidth::main(rest),
        Some("spin") => hogs::spin_main(rest),
        Some("stats") => stats::main(rest),
        Some("bench") => bench::main(rest),
        _ => {
            eprintln!("usage: fairrs-guest fairness|balance|groups|hostile|bandwidth|spin|stats|bench ... (see tests/guest/src/main.rs)");
            std::process::exit(2);
        }
    }
}
