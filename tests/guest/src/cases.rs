// SPDX-License-Identifier: GPL-2.0
//! The case tables every measuring suite is (fairness, balance, groups,
//! hostile), after the kernel selftests' REGISTER_SCX_TEST and ktstr's
//! `#[ktstr_test]`: a suite is one `&[Case]`, each row naming a case, the
//! RESULT lines it prints, whether the kernel's own scheduler calibrates it
//! (and why not), and the function that runs it. Adding a case is one
//! function and one row.
//!
//!   fairrs-guest SUITE [--secs S] [--only CASE] [--cpu N] [--latency-bound-ms MS]
//!   fairrs-guest SUITE --plan [--only CASE]
//!
//! `--only` names a case or one of its results. `--plan` prints the table
//! for what would run, one `PLAN <result> <calibrated 1|0> <why not, or ->`
//! line per result; the suite scripts take every count from it
//! (read_plan in tests/vm/lib.sh).
//!
//! Each result is one line, `RESULT <name> <value> <lo> <hi> <detail>`; the
//! suite script decides what the bounds mean for the scheduler under test.

use std::ops::Deref;
use std::panic::{catch_unwind, AssertUnwindSafe};

/// One row of a suite's table; `S` is what the suite hands its cases (its
/// measuring window, CPUs, ...).
pub struct Case<S: 'static> {
    /// What `--only` selects (a result's name selects its case too).
    pub name: &'static str,
    /// The RESULT lines it prints, in order (Run::emit prints the ith).
    pub results: &'static [&'static str],
    /// None: the kernel's figure must meet the same bounds; else why not.
    pub uncalibrated: Option<&'static str>,
    /// Runs only when `--only` names it (it needs a VM shape of its own).
    pub on_request: bool,
    pub run: fn(&Run<S>),
}

/// A row: the case `name`, its `results`, run by `run`; calibrated and run
/// by default unless said otherwise (below).
pub const fn case<S>(name: &'static str, results: &'static [&'static str], run: fn(&Run<S>)) -> Case<S> {
    Case { name, results, uncalibrated: None, on_request: false, run }
}

impl<S> Case<S> {
    /// The kernel's scheduler is not held to this case's bounds, for `why`.
    pub const fn uncalibrated(mut self, why: &'static str) -> Self {
        self.uncalibrated = Some(why);
        self
    }

    /// Run only when `--only` names it.
    pub const fn on_request(mut self) -> Self {
        self.on_request = true;
        self
    }

    fn named(&self, only: &str) -> bool {
        self.name == only || self.results.contains(&only)
    }
}

/// A case running: its row and the suite's context (reached through Deref).
pub struct Run<'a, S: 'static> {
    case: &'a Case<S>,
    suite: &'a S,
}

impl<S> Run<'_, S> {
    /// Print the case's `i`th RESULT line.
    pub fn emit(&self, i: usize, value: f64, lo: f64, hi: f64, detail: &str) {
        result(self.case.results[i], value, lo, hi, detail);
    }
}

impl<S> Deref for Run<'_, S> {
    type Target = S;
    fn deref(&self) -> &S {
        self.suite
    }
}

/// One RESULT line.
pub fn result(case: &str, value: f64, lo: f64, hi: f64, detail: &str) {
    println!("RESULT {case} {value:.4} {lo:.4} {hi:.4} {detail}");
}

/// The options of a case suite.
pub struct Opts {
    pub plan: bool,
    pub secs: f64,
    pub only: Option<String>,
    /// The CPU under test (fairness).
    pub cpu: usize,
    /// The wakeup latency case's bound (fairness).
    pub latency_bound_ms: f64,
}

impl Opts {
    fn parse(suite: &str, args: &[String], default_secs: f64) -> Self {
        let mut o = Opts { plan: false, secs: default_secs, only: None, cpu: 1, latency_bound_ms: 12.0 };
        let mut i = 0;
        while i < args.len() {
            let value = || args.get(i + 1).unwrap_or_else(|| panic!("{suite}: {} needs a value", args[i]));
            match args[i].as_str() {
                "--plan" => {
                    o.plan = true;
                    i += 1;
                    continue;
                }
                "--secs" => o.secs = value().parse().expect("--secs"),
                "--cpu" => o.cpu = value().parse().expect("--cpu"),
                "--only" => o.only = Some(value().clone()),
                "--latency-bound-ms" => o.latency_bound_ms = value().parse().expect("--latency-bound-ms"),
                other => panic!("{suite}: unknown option {other}"),
            }
            i += 2;
        }
        o
    }
}

/// What a panicking case leaves behind.
pub enum OnPanic {
    /// Threads still spinning, say: stop the program (the suite counts the
    /// missing results).
    Stop,
    /// Nothing (its guards cleaned up): the other cases still run.
    Continue,
}

/// A suite's front: parse `args`, pick the cases (`--only`, or all but the
/// on-request ones), and with `--plan` print the plan and return None; else
/// the options and the cases to run. No case: usage, exit 2.
pub fn start<'a, S>(suite: &str, cases: &'a [Case<S>], args: &[String], default_secs: f64) -> Option<(Opts, Vec<&'a Case<S>>)> {
    let opts = Opts::parse(suite, args, default_secs);
    let chosen: Vec<&Case<S>> = match opts.only.as_deref() {
        Some(o) => cases.iter().filter(|c| c.named(o)).collect(),
        None => cases.iter().filter(|c| !c.on_request).collect(),
    };
    if chosen.is_empty() {
        let names: Vec<&str> = cases.iter().map(|c| c.name).collect();
        eprintln!(
            "usage: fairrs-guest {suite} [--plan] [--secs S] [--only CASE] [--cpu N] [--latency-bound-ms MS]; cases: {}",
            names.join(" ")
        );
        std::process::exit(2);
    }
    if opts.plan {
        for c in &chosen {
            for r in c.results {
                println!("PLAN {r} {} {}", u8::from(c.uncalibrated.is_none()), c.uncalibrated.unwrap_or("-"));
            }
        }
        return None;
    }
    Some((opts, chosen))
}

/// Run `chosen` in order with the suite's context.
pub fn run<S>(suite_name: &str, chosen: &[&Case<S>], suite: &S, on_panic: OnPanic) {
    for &case in chosen {
        let run = Run { case, suite };
        match on_panic {
            OnPanic::Stop => (case.run)(&run),
            OnPanic::Continue => {
                // A case that panics has cleaned up (its guards) and prints
                // fewer results; the rest still run.
                if catch_unwind(AssertUnwindSafe(|| (case.run)(&run))).is_err() {
                    eprintln!("{suite_name}: case {} panicked", case.name);
                }
            }
        }
    }
}

/// Every result of `chosen`, as a failure: the suite could not run here.
pub fn all_failed<S>(chosen: &[&Case<S>], why: &str) {
    for r in chosen.iter().flat_map(|c| c.results) {
        result(r, 0.0, 1.0, 1.0, why);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn nothing(_: &Run<()>) {}
    const CASES: &[Case<()>] = &[
        case("a", &["a_one", "a_two"], nothing),
        case("b", &["b_one"], nothing).uncalibrated("why"),
        case("c", &["c_one"], nothing).on_request(),
    ];

    fn chosen(args: &[&str]) -> Option<Vec<&'static str>> {
        let args: Vec<String> = args.iter().map(|s| s.to_string()).collect();
        start("t", CASES, &args, 1.0).map(|(_, c)| c.iter().map(|c| c.name).collect())
    }

    #[test]
    fn only_picks_by_case_or_result_and_on_request_needs_it() {
        assert_eq!(chosen(&[]), Some(vec!["a", "b"]));
        assert_eq!(chosen(&["--only", "a_two"]), Some(vec!["a"]));
        assert_eq!(chosen(&["--only", "c"]), Some(vec!["c"]));
        assert_eq!(chosen(&["--plan"]), None);
    }

    #[test]
    fn options() {
        let args: Vec<String> =
            ["--secs", "3", "--cpu", "2", "--latency-bound-ms", "1000"].iter().map(|s| s.to_string()).collect();
        let o = Opts::parse("t", &args, 10.0);
        assert_eq!((o.secs, o.cpu, o.latency_bound_ms, o.plan), (3.0, 2, 1000.0, false));
        let o = Opts::parse("t", &[], 8.0);
        assert_eq!((o.secs, o.cpu, o.latency_bound_ms, o.only), (8.0, 1, 12.0, None));
    }
}
