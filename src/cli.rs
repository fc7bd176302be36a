// SPDX-License-Identifier: GPL-2.0
//! Command-line options, their validation, and the tunables.
//!
//! Flags are in the units people tune CFS in (microseconds), and each one is
//! checked against its accepted range before anything touches the kernel, so
//! a bad value costs nothing and explains itself in one line.
//!
//! The tunables are the flags the BPF side reads from `struct fairrs_tunables`
//! (intf.h), which `--set` may change while it runs. `TUNABLES` is their one
//! description: key, unit, range (with the cross-checks between them) and
//! where each lives in `Opts` and in the BPF struct. Validation, the ranges
//! in `--help`, `--set` parsing and its help text, the values written to the
//! BPF side and the tunables shown in the stats all read it. The flags
//! themselves (help, default) are `Opts` fields, declared with clap.
//!
//! Adding a tunable: its `Opts` field, one `tunable!` row, its field in
//! `struct fairrs_tunables`, and the BPF code that reads it.

use std::collections::BTreeMap;
use std::fmt;

use clap::{ArgAction, Parser};

use crate::bpf_intf;

/// Version string: the crate version plus the git revision it was built from.
pub const VERSION: &str = concat!(env!("CARGO_PKG_VERSION"), "-g", env!("FAIRRS_GIT_REV"));

/// The name of the binary, the completions and the man page.
pub const BIN_NAME: &str = "scx_fairrs";

// --help headings (also the man page's option sections).
const POLICY: &str = "Policy";
const BALANCING: &str = "Balancing";
const STATS: &str = "Stats";
const DIAGNOSTICS: &str = "Diagnostics";

/// The exit statuses, for --help and the man page's EXIT STATUS section (one
/// entry per "  N  " line, continuation lines indented by five spaces). A
/// service manager acts on them: 0 is a requested stop, anything else a
/// failure, and 2 will fail again with the same flags.
pub const EXIT_STATUS: &str = "\
Exit status:
  0  stopped on request (SIGINT or SIGTERM): the scheduler was detached and
     the kernel's own scheduler took over
  1  could not start (no sched_ext, not root, another sched_ext scheduler
     attached, load or attach failed), or the kernel ejected the scheduler
     while it ran (the kernel's exit reason is printed); also a failed
     --monitor, --set or --openmetrics
  2  a flag value was refused; nothing was loaded";

/// scx_fairrs: the Completely Fair Scheduler's policy as a sched_ext scheduler.
///
/// Each CPU runs its tasks in vruntime order with CFS's nice weights, slices
/// sized from sched_latency and min_granularity, bounded sleeper credit,
/// new-task debit and wakeup preemption. Run as root on a kernel with
/// sched_ext (Linux 6.12+, CONFIG_SCHED_CLASS_EXT=y); Ctrl-C or SIGTERM
/// detaches it and the kernel's own scheduler takes over again.
#[derive(Debug, Clone, Parser)]
#[command(
    name = BIN_NAME,
    version = VERSION,
    after_long_help = EXIT_STATUS,
    // -h and -V are declared below, under "Diagnostics", so that every flag
    // sits under one of the four headings.
    disable_help_flag = true,
    disable_version_flag = true,
    // Each range-checked flag's help ends with its range, from the table.
    mut_args = with_range
)]
pub struct Opts {
    /// Period in which every runnable task of a CPU runs once, in
    /// microseconds (CFS's sched_latency). Longer favours throughput, shorter
    /// favours latency.
    #[arg(long, value_name = "US", default_value_t = 6000, help_heading = POLICY)]
    pub sched_latency_us: u64,

    /// Shortest slice, in microseconds (CFS's min_granularity): with more than
    /// sched_latency / min_granularity tasks the period grows instead of the
    /// slices shrinking.
    #[arg(long, value_name = "US", default_value_t = 750, help_heading = POLICY)]
    pub min_granularity_us: u64,

    /// How far ahead in vruntime (nice-0 scale) a woken task must be to
    /// preempt the running one, in microseconds (CFS's wakeup_granularity).
    /// Smaller preempts more eagerly.
    #[arg(long, value_name = "US", default_value_t = 1000, help_heading = POLICY)]
    pub wakeup_granularity_us: u64,

    /// A running task is safe from preemption by a synchronous wakee (woken
    /// by a task about to sleep: pipes, sockets) until it has run this long
    /// since it was picked, in microseconds; a wakee that finds it protected
    /// is checked again at each tick. Other wakeups preempt as in CFS. 0
    /// preempts at once, exactly as CFS's check_preempt_wakeup(), at a large
    /// cost on messaging workloads (see docs/DESIGN.md, Wakeup preemption).
    #[arg(long, value_name = "US", default_value_t = 750, help_heading = POLICY)]
    pub wakeup_protect_us: u64,

    /// Leave each CPU's performance target at the maximum instead of setting
    /// it from the CPU's PELT utilisation (as CFS drives schedutil). Only
    /// matters with a cpufreq governor that reads it (schedutil).
    #[arg(long, help_heading = POLICY)]
    pub no_cpuperf: bool,

    /// Ignore cgroups: every task competes at its own weight, whatever the
    /// cpu.weight of its cgroup. By default the CPU is shared between
    /// cgroups by cpu.weight, hierarchically, as CFS's group scheduling does.
    #[arg(long, help_heading = POLICY)]
    pub no_cgroup: bool,

    /// Group the tasks of the root cgroup by session, as the kernel's
    /// autogroups do (CONFIG_SCHED_AUTOGROUP): each session shares the CPU
    /// as one group, weighted by its autogroup nice (/proc/PID/autogroup),
    /// so a make -j in one terminal does not starve another session.
    /// Tasks in other cgroups follow their cgroups.
    #[arg(long, help_heading = POLICY, conflicts_with = "no_cgroup")]
    pub autogroup: bool,

    /// A task that ran within this many microseconds is cache-hot and the
    /// balancers leave it where it is (CFS's migration_cost).
    #[arg(long, value_name = "US", default_value_t = 500, help_heading = BALANCING)]
    pub migration_cost_us: u64,

    /// Periodic balancing moves load when the busiest CPU's load exceeds
    /// another's by this percentage (CFS's imbalance_pct, 117 = 17 %).
    #[arg(long, value_name = "PCT", default_value_t = 117, help_heading = BALANCING)]
    pub imbalance_pct: u32,

    /// The same threshold for moves across NUMA nodes, where a task leaves its
    /// memory behind.
    #[arg(long, value_name = "PCT", default_value_t = 125, help_heading = BALANCING)]
    pub numa_imbalance_pct: u32,

    /// Period of the periodic balancer, in microseconds.
    #[arg(long, value_name = "US", default_value_t = 4000, help_heading = BALANCING)]
    pub balance_interval_us: u64,

    /// Print scheduler statistics every SECS seconds (0 disables).
    #[arg(long, value_name = "SECS", default_value_t = 0.0, help_heading = STATS)]
    pub stats: f64,

    /// Number of tasks with the highest PELT load to list in each stats
    /// report (pid, comm, nice, weight, util, load, vruntime lag,
    /// migrations).
    #[arg(long, value_name = "N", default_value_t = 5, help_heading = STATS)]
    pub top: usize,

    /// Do not load a scheduler: print the running instance's statistics
    /// every SECS seconds, read over its stats socket
    /// (/var/run/scx/root/stats, root only).
    #[arg(long, value_name = "SECS", default_value_t = 0.0, help_heading = STATS)]
    pub monitor: f64,

    /// With --monitor: print each report as JSON instead of text.
    #[arg(long, requires = "monitor", help_heading = STATS)]
    pub json: bool,

    /// Do not load a scheduler: print the running instance's statistics once,
    /// over one second, in the OpenMetrics text format (which Prometheus and
    /// node_exporter's textfile collector read), and exit. Names start with
    /// fairrs_; per-CPU, per-task (--top) and per-cgroup series are labelled.
    #[arg(long, conflicts_with_all = ["monitor", "json", "set"], help_heading = STATS)]
    pub openmetrics: bool,

    // The help lists the keys from the tunables table.
    #[arg(long, value_name = "KEY=VALUE", help_heading = STATS, help = set_help())]
    pub set: Option<String>,

    /// Describe every statistic (the fields of the JSON reports) and exit.
    #[arg(long, help_heading = STATS)]
    pub help_stats: bool,

    /// Size of the kernel's debug dump printed when the scheduler is ejected,
    /// in bytes (0 = the kernel's default).
    #[arg(long, value_name = "BYTES", default_value_t = 0, help_heading = DIAGNOSTICS)]
    pub exit_dump_len: u32,

    /// Verbose output, including libbpf's messages.
    #[arg(short, long, help_heading = DIAGNOSTICS)]
    pub verbose: bool,

    /// Print help (--help: the long form, with the exit statuses).
    #[arg(short, long, action = ArgAction::Help, help_heading = DIAGNOSTICS)]
    help: Option<bool>,

    /// Print the version and the git revision it was built from.
    #[arg(short = 'V', long, action = ArgAction::Version, help_heading = DIAGNOSTICS)]
    version: Option<bool>,
}

/// A flag value outside its accepted range.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BadFlag {
    pub flag: String,
    pub value: String,
    pub range: String,
}

impl fmt::Display for BadFlag {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "invalid value {} for --{}: accepted range is {}", self.value, self.flag, self.range)
    }
}

impl std::error::Error for BadFlag {}

// The other range-checked flags accept 0..=these.
const STATS_SECS_MAX: u64 = 3600;
const TOP_MAX: u64 = 1000;
const EXIT_DUMP_MAX: u64 = 16 << 20;

/// The range a flag's help states, by clap id (the field's name): a
/// tunable's from `TUNABLES`, the other flags' from their limits above.
fn help_range(id: &str) -> Option<String> {
    if let Some(t) = find(id) {
        return Some(format!("{}..={}", t.min, t.max));
    }
    let max = match id {
        "stats" | "monitor" => STATS_SECS_MAX,
        "top" => TOP_MAX,
        "exit_dump_len" => EXIT_DUMP_MAX,
        _ => return None,
    };
    Some(format!("0..={max}"))
}

/// `Opts`' `mut_args` hook: the help of each flag with a range ends with it.
fn with_range(arg: clap::Arg) -> clap::Arg {
    let Some(range) = help_range(arg.get_id().as_str()) else { return arg };
    let help = arg.get_help().map(|h| h.to_string()).unwrap_or_default();
    arg.help(format!("{help}. Range {range}"))
}

fn check_range(flag: &str, value: u64, lo: u64, hi: u64, range: String) -> Result<(), BadFlag> {
    if value < lo || value > hi {
        return Err(BadFlag { flag: flag.to_string(), value: value.to_string(), range });
    }
    Ok(())
}

impl Opts {
    /// Check every flag against its range; the first bad one is reported.
    pub fn validate(&self) -> Result<Tunables, BadFlag> {
        let tun = validate_tunables(self)?;
        for (flag, secs) in [("stats", self.stats), ("monitor", self.monitor)] {
            if !(secs.is_finite() && (0.0..=STATS_SECS_MAX as f64).contains(&secs)) {
                return Err(BadFlag {
                    flag: flag.to_string(),
                    value: secs.to_string(),
                    range: format!("0..={STATS_SECS_MAX}"),
                });
            }
        }
        check_range("top", self.top as u64, 0, TOP_MAX, format!("0..={TOP_MAX}"))?;
        check_range(
            "exit-dump-len",
            self.exit_dump_len.into(),
            0,
            EXIT_DUMP_MAX,
            format!("0..={EXIT_DUMP_MAX}"),
        )?;
        Ok(tun)
    }
}

// The tunables: the flags the BPF side reads, which --set may change.

/// What the BPF side reads: `struct fairrs_tunables` (intf.h), in its units
/// (nanoseconds, percent), validated.
pub type Tunables = bpf_intf::fairrs_tunables;

/// A flag's unit, and what one of it is in the BPF side's unit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Unit {
    /// Microseconds on the command line, nanoseconds in BPF.
    Micros,
    /// Percent in both.
    Percent,
}

impl Unit {
    pub fn scale(self) -> u64 {
        match self {
            Unit::Micros => 1000,
            Unit::Percent => 1,
        }
    }
}

/// One end of a tunable's range: a number, or the current value of another
/// tunable's flag (by key), which must come earlier in `TUNABLES`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Bound {
    Fixed(u64),
    Flag(&'static str),
}

/// One tunable.
pub struct Tunable {
    /// Its `--set` key and its name in the stats: the flag's long name with
    /// underscores.
    pub key: &'static str,
    pub unit: Unit,
    /// The accepted range, inclusive.
    pub min: Bound,
    pub max: Bound,
    /// The flag's value in `Opts`; setting it fails (false) for a value the
    /// field cannot hold.
    get: fn(&Opts) -> u64,
    set: fn(&mut Opts, u64) -> bool,
    /// Its field of `struct fairrs_tunables`, in the BPF unit (validated
    /// values always fit).
    bpf_get: fn(&Tunables) -> u64,
    bpf_set: fn(&mut Tunables, u64) -> bool,
}

/// A table row: the `Opts` field (named as the flag) and the
/// `struct fairrs_tunables` field it becomes.
macro_rules! tunable {
    ($key:ident => $bpf:ident, $unit:ident, $min:expr, $max:expr) => {
        Tunable {
            key: stringify!($key),
            unit: Unit::$unit,
            min: $min,
            max: $max,
            get: |o| o.$key.into(),
            set: |o, v| store(&mut o.$key, v),
            bpf_get: |t| t.$bpf.into(),
            bpf_set: |t, v| store(&mut t.$bpf, v),
        }
    };
}

/// `*field = v` if `v` fits the field's type; false if it does not.
fn store<T: TryFrom<u64>>(field: &mut T, v: u64) -> bool {
    match T::try_from(v) {
        Ok(v) => {
            *field = v;
            true
        }
        Err(_) => false,
    }
}

use Bound::{Fixed, Flag};

/// Every tunable, in the order they are validated (and listed).
pub const TUNABLES: &[Tunable] = &[
    tunable!(sched_latency_us => sched_latency_ns, Micros, Fixed(100), Fixed(1_000_000)),
    tunable!(min_granularity_us => min_granularity_ns, Micros, Fixed(100), Flag("sched_latency_us")),
    tunable!(wakeup_granularity_us => wakeup_granularity_ns, Micros, Fixed(0), Fixed(1_000_000)),
    tunable!(migration_cost_us => migration_cost_ns, Micros, Fixed(0), Fixed(100_000)),
    tunable!(imbalance_pct => imbalance_pct, Percent, Fixed(101), Fixed(400)),
    tunable!(numa_imbalance_pct => numa_imbalance_pct, Percent, Flag("imbalance_pct"), Fixed(400)),
    tunable!(balance_interval_us => balance_interval_ns, Micros, Fixed(1000), Fixed(1_000_000)),
    tunable!(wakeup_protect_us => wakeup_protect_ns, Micros, Fixed(0), Fixed(1_000_000)),
];

/// The tunable named `key`.
pub fn find(key: &str) -> Option<&'static Tunable> {
    TUNABLES.iter().find(|t| t.key == key)
}

fn keys() -> String {
    TUNABLES.iter().map(|t| t.key).collect::<Vec<_>>().join(", ")
}

impl Bound {
    fn value(self, opts: &Opts) -> u64 {
        match self {
            Fixed(v) => v,
            Flag(key) => find(key).map_or(0, |t| t.value(opts)),
        }
    }
}

/// As `--help` states it: the number, or the other tunable's key.
impl fmt::Display for Bound {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Fixed(v) => write!(f, "{v}"),
            Flag(key) => f.write_str(key),
        }
    }
}

impl Tunable {
    /// The flag: --sched-latency-us for sched_latency_us.
    pub fn flag(&self) -> String {
        self.key.replace('_', "-")
    }

    /// The flag's value in `opts`, in the flag's unit.
    pub fn value(&self, opts: &Opts) -> u64 {
        (self.get)(opts)
    }

    /// The range as a refusal states it, e.g. "100..=6000 (at most
    /// --sched-latency-us)" when a bound is another flag.
    fn range(&self, opts: &Opts) -> String {
        let mut range = format!("{}..={}", self.min.value(opts), self.max.value(opts));
        if let Flag(key) = self.max {
            range += &format!(" (at most --{})", key.replace('_', "-"));
        }
        if let Flag(key) = self.min {
            range += &format!(" (at least --{})", key.replace('_', "-"));
        }
        range
    }

    fn check(&self, opts: &Opts) -> Result<(), BadFlag> {
        let (lo, hi) = (self.min.value(opts), self.max.value(opts));
        check_range(&self.flag(), self.value(opts), lo, hi, self.range(opts))
    }
}

/// Check every tunable of `opts` against its range, in table order (the first
/// bad one is reported), and convert them to the BPF side's units.
fn validate_tunables(opts: &Opts) -> Result<Tunables, BadFlag> {
    // SAFETY: struct fairrs_tunables is integers only; every field is set below.
    let mut tun: Tunables = unsafe { std::mem::zeroed() };
    for t in TUNABLES {
        t.check(opts)?;
        (t.bpf_set)(&mut tun, t.value(opts) * t.unit.scale());
    }
    Ok(tun)
}

/// The current value of each tunable, in the flag's unit, for the stats.
pub fn current(opts: &Opts) -> BTreeMap<String, u64> {
    TUNABLES.iter().map(|t| (t.key.to_string(), t.value(opts))).collect()
}

/// The `--set` flag's help, with the keys from the table.
pub fn set_help() -> String {
    format!(
        "Do not load a scheduler: change a tunable of the running instance without reloading it, \
         e.g. --set sched_latency_us=12000. Keys are the tunable flags' names with underscores ({}); \
         the value is checked against the flag's range",
        keys()
    )
}

/// Split a `--set` argument into key and value.
pub fn parse_set(arg: &str) -> Result<(String, String), BadFlag> {
    match arg.split_once('=') {
        Some((k, v)) if find(k.trim()).is_some() && !v.trim().is_empty() => {
            Ok((k.trim().to_string(), v.trim().to_string()))
        }
        _ => Err(BadFlag {
            flag: "set".into(),
            value: arg.to_string(),
            range: format!("KEY=VALUE with KEY one of {}", keys()),
        }),
    }
}

impl Opts {
    /// These options with tunable `key` set to `value`, validated as the
    /// flags are; the error names the flag and its range. An unknown key is
    /// refused.
    pub fn with_tunable(&self, key: &str, value: &str) -> Result<(Opts, Tunables), BadFlag> {
        let t = find(key).ok_or_else(|| BadFlag {
            flag: "set".into(),
            value: key.to_string(),
            range: format!("one of {}", keys()),
        })?;
        let bad = |range: String| BadFlag { flag: t.flag(), value: value.to_string(), range };
        let v: u64 = value.parse().map_err(|_| bad("a whole number (see --help for the range)".into()))?;
        let mut next = self.clone();
        if !(t.set)(&mut next, v) {
            return Err(bad(format!("at most {}", t.max.value(self))));
        }
        let tun = next.validate()?;
        Ok((next, tun))
    }

    /// The current value of tunable `key`, in the flag's unit.
    pub fn tunable(&self, key: &str) -> Option<u64> {
        find(key).map(|t| t.value(self))
    }
}

impl PartialEq for Tunables {
    fn eq(&self, other: &Self) -> bool {
        TUNABLES.iter().all(|t| (t.bpf_get)(self) == (t.bpf_get)(other))
    }
}

impl Eq for Tunables {}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    /// The options a command line (without the program name) parses to.
    fn parse(args: &[&str]) -> Opts {
        let mut argv = vec!["scx_fairrs"];
        argv.extend_from_slice(args);
        Opts::try_parse_from(argv).expect("parses")
    }

    #[test]
    fn defaults_are_cfs_legacy_values() {
        let t = parse(&[]).validate().unwrap();
        assert_eq!(t.sched_latency_ns, 6_000_000);
        assert_eq!(t.min_granularity_ns, 750_000);
        assert_eq!(t.wakeup_granularity_ns, 1_000_000);
    }

    #[test]
    fn microseconds_become_nanoseconds() {
        let t = parse(&["--sched-latency-us", "12000", "--min-granularity-us", "1500"])
            .validate()
            .unwrap();
        assert_eq!(t.sched_latency_ns, 12_000_000);
        assert_eq!(t.min_granularity_ns, 1_500_000);
    }

    #[test]
    fn min_granularity_above_latency_is_refused() {
        let err = parse(&["--sched-latency-us", "6000", "--min-granularity-us", "7000"])
            .validate()
            .unwrap_err();
        assert_eq!(err.flag, "min-granularity-us");
        let msg = err.to_string();
        assert!(msg.contains("7000") && msg.contains("100..=6000"), "{msg}");
        assert!(!msg.contains('\n'));
    }

    #[test]
    fn zero_min_granularity_is_refused() {
        let err = parse(&["--min-granularity-us", "0"]).validate().unwrap_err();
        assert_eq!(err.flag, "min-granularity-us");
        assert_eq!(err.value, "0");
    }

    #[test]
    fn latency_bounds_are_inclusive() {
        assert!(parse(&["--sched-latency-us", "100", "--min-granularity-us", "100"]).validate().is_ok());
        assert!(parse(&["--sched-latency-us", "1000000"]).validate().is_ok());
        let err = parse(&["--sched-latency-us", "99"]).validate().unwrap_err();
        assert_eq!(err.to_string(), "invalid value 99 for --sched-latency-us: accepted range is 100..=1000000");
        let err = parse(&["--sched-latency-us", "1000001"]).validate().unwrap_err();
        assert_eq!(err.flag, "sched-latency-us");
    }

    #[test]
    fn wakeup_granularity_range() {
        assert!(parse(&["--wakeup-granularity-us", "0"]).validate().is_ok());
        let err = parse(&["--wakeup-granularity-us", "1000001"]).validate().unwrap_err();
        assert_eq!(err.flag, "wakeup-granularity-us");
    }

    #[test]
    fn balancing_flags() {
        let t = parse(&[]).validate().unwrap();
        assert_eq!((t.migration_cost_ns, t.imbalance_pct, t.numa_imbalance_pct), (500_000, 117, 125));
        assert_eq!(t.balance_interval_ns, 4_000_000);
        let err = parse(&["--imbalance-pct", "100"]).validate().unwrap_err();
        assert_eq!(err.to_string(), "invalid value 100 for --imbalance-pct: accepted range is 101..=400");
        let err = parse(&["--imbalance-pct", "130"]).validate().unwrap_err();
        assert_eq!(err.flag, "numa-imbalance-pct", "the NUMA threshold may not be below the local one");
        assert!(parse(&["--imbalance-pct", "130", "--numa-imbalance-pct", "130"]).validate().is_ok());
        let err = parse(&["--balance-interval-us", "999"]).validate().unwrap_err();
        assert_eq!(err.flag, "balance-interval-us");
        let err = parse(&["--migration-cost-us", "100001"]).validate().unwrap_err();
        assert_eq!(err.flag, "migration-cost-us");
    }

    #[test]
    fn stats_interval_must_be_finite_and_bounded() {
        assert!(parse(&["--stats", "0.5"]).validate().is_ok());
        for bad in ["-1", "NaN", "inf", "3601"] {
            let opts = Opts::try_parse_from(["scx_fairrs", "--stats", bad]);
            // clap refuses some of these outright; the rest must fail validation.
            if let Ok(o) = opts {
                let err = o.validate().unwrap_err();
                assert_eq!(err.flag, "stats", "{bad}");
            }
        }
    }

    #[test]
    fn every_flag_sits_under_one_of_the_four_headings() {
        let cmd = Opts::command();
        for a in cmd.get_arguments().filter(|a| !a.is_hide_set()) {
            let heading = a.get_help_heading();
            assert!(
                matches!(heading, Some(POLICY | BALANCING | STATS | DIAGNOSTICS)),
                "--{} has heading {heading:?}",
                a.get_id()
            );
        }
        let mut help = Opts::command();
        let help = help.render_long_help().to_string();
        let at = |h: &str| help.find(&format!("\n{h}:\n")).unwrap_or_else(|| panic!("no {h} heading:\n{help}"));
        assert!(at(POLICY) < at(BALANCING) && at(BALANCING) < at(STATS) && at(STATS) < at(DIAGNOSTICS), "{help}");
        assert!(!help.contains("\nOptions:\n"), "a flag without a heading:\n{help}");
        assert!(help.contains(EXIT_STATUS.lines().nth(1).unwrap()), "--help lists the exit statuses:\n{help}");
    }

    #[test]
    fn every_valued_flag_shows_its_unit_default_and_range() {
        let cmd = Opts::command();
        for a in cmd.get_arguments().filter(|a| a.get_num_args().is_some_and(|n| n.takes_values())) {
            let long = a.get_long().unwrap();
            let help = a.get_long_help().or(a.get_help()).map(|h| h.to_string()).unwrap_or_default();
            assert!(a.get_value_names().is_some(), "--{long} names its value (the unit)");
            if long == "set" {
                // KEY=VALUE: the keys are listed; each value has its flag's range.
                assert!(TUNABLES.iter().all(|t| help.contains(t.key)), "{help}");
                continue;
            }
            assert!(help.contains("Range "), "--{long} help lacks its range: {help}");
            assert!(!a.get_default_values().is_empty(), "--{long} has no default");
        }
    }

    /// The range a flag's help states, "Range LO..=HI": (LO, HI) as written.
    fn stated_range(help: &str) -> Option<(String, String)> {
        let range = help.split("Range ").nth(1)?.split_whitespace().next()?;
        let (lo, hi) = range.trim_end_matches('.').split_once("..=")?;
        Some((lo.to_string(), hi.to_string()))
    }

    #[test]
    fn each_help_range_is_the_table_bound_that_validation_enforces() {
        let defaults = parse(&[]);
        let mut stated = 0;
        for a in Opts::command().get_arguments() {
            let (id, long) = (a.get_id().as_str(), a.get_long().unwrap());
            let help = a.get_help().map(|h| h.to_string()).unwrap_or_default();
            assert!(a.get_long_help().is_none(), "--{long}: a long help would not show the range");
            let Some((lo, hi)) = stated_range(&help) else {
                assert!(help_range(id).is_none(), "--{long} has a range its help does not state: {help}");
                continue;
            };
            assert_eq!(help.matches("Range ").count(), 1, "--{long} states a range twice: {help}");
            if let Some(t) = find(id) {
                assert_eq!((lo.clone(), hi.clone()), (t.min.to_string(), t.max.to_string()), "--{long}");
            }
            // The stated bounds are where validation starts refusing this flag
            // (a bound naming another tunable at that one's default).
            let value = |b: &str| b.parse().ok().or_else(|| defaults.tunable(b)).unwrap_or_else(|| panic!("--{long}: {b}"));
            let (lo, hi) = (value(&lo), value(&hi));
            let refused = |v: u64| {
                let opts = Opts::try_parse_from(["scx_fairrs", &format!("--{long}"), &v.to_string()]).unwrap();
                opts.validate().is_err_and(|e| e.flag == long)
            };
            assert!(!refused(lo) && !refused(hi) && refused(hi + 1), "--{long}: help says {lo}..={hi}");
            assert!(lo == 0 || refused(lo - 1), "--{long}: help says {lo}..={hi}");
            stated += 1;
        }
        // Every tunable, --stats, --monitor, --top, --exit-dump-len.
        assert_eq!(stated, TUNABLES.len() + 4);
    }

    /// The assignments of a defaults file, read with systemd's EnvironmentFile
    /// rules restricted to what a shell reads the same way (the VM suite and
    /// the scx project's scx.service read such files with a shell): comments
    /// start with # or ;, KEY=VALUE, the value optionally in double quotes,
    /// with no quote, backslash, $ or backtick inside. Anything else is an
    /// error naming the line.
    fn env_file(text: &str) -> Result<Vec<(String, String)>, String> {
        let mut vars = Vec::new();
        for (n, line) in text.lines().enumerate() {
            let line = line.trim();
            if line.is_empty() || line.starts_with('#') || line.starts_with(';') {
                continue;
            }
            let bad = |why: &str| format!("line {}: {why}: {line}", n + 1);
            let (key, value) = line.split_once('=').ok_or_else(|| bad("not KEY=VALUE"))?;
            let key_ok = key.chars().next().is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
                && key.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
            if !key_ok {
                return Err(bad("not a variable name"));
            }
            let value = match value.strip_prefix('"') {
                Some(v) => v.strip_suffix('"').ok_or_else(|| bad("unbalanced quote"))?,
                None if value.contains(char::is_whitespace) => return Err(bad("spaces outside quotes")),
                None => value,
            };
            if value.contains(['"', '\'', '\\', '$', '`']) {
                return Err(bad("quote, backslash, $ or backtick in the value"));
            }
            vars.push((key.to_string(), value.to_string()));
        }
        Ok(vars)
    }

    /// Validate SCX_FAIRRS_FLAGS as the daemon would receive it: systemd
    /// splits the unbraced $SCX_FAIRRS_FLAGS at whitespace.
    fn check_flags(flags: &str) -> Result<Tunables, String> {
        let argv = std::iter::once("scx_fairrs").chain(flags.split_whitespace());
        let opts = Opts::try_parse_from(argv).map_err(|e| e.to_string())?;
        opts.validate().map_err(|e| e.to_string())
    }

    #[test]
    fn shipped_defaults_file_sets_valid_flags() {
        let text = include_str!("../packaging/scx_fairrs.default");
        assert!(text.starts_with("# SPDX-License-Identifier: GPL-2.0\n"));
        let vars = env_file(text).unwrap();
        let flags: Vec<_> = vars.iter().filter(|(k, _)| k == "SCX_FAIRRS_FLAGS").collect();
        assert_eq!(flags.len(), 1, "exactly one SCX_FAIRRS_FLAGS line: {vars:?}");
        assert_eq!(check_flags(&flags[0].1).unwrap(), check_flags("").unwrap(), "the defaults are the built-in ones");
        // The commented examples must work when uncommented.
        let examples: Vec<_> = text.lines().filter_map(|l| l.strip_prefix("#SCX_FAIRRS_FLAGS=")).collect();
        assert!(!examples.is_empty());
        for ex in examples {
            let vars = env_file(&format!("SCX_FAIRRS_FLAGS={ex}")).unwrap();
            check_flags(&vars[0].1).unwrap_or_else(|e| panic!("example {ex}: {e}"));
        }
    }

    #[test]
    fn env_file_reader_refuses_what_systemd_and_sh_would_read_differently() {
        assert!(env_file("A=\"x y\"\n# c\n; c\n\nB=z").is_ok());
        for bad in ["A=x y", "A=\"x", "A='x'", "1A=x", "A=$B", "A=\"a\\\"b\"", "export A=x", "A"] {
            assert!(env_file(bad).is_err(), "{bad}");
        }
        assert!(check_flags("--sched-latency-us 50").unwrap_err().contains("100..=1000000"));
    }

    #[test]
    fn non_numbers_are_refused_by_the_parser() {
        assert!(Opts::try_parse_from(["scx_fairrs", "--sched-latency-us", "fast"]).is_err());
        assert!(Opts::try_parse_from(["scx_fairrs", "--min-granularity-us", "-5"]).is_err());
    }


    #[test]
    fn every_tunable_is_a_flag_with_its_unit_and_reaches_bpf() {
        let cmd = Opts::command();
        let opts = parse(&[]);
        let tun = opts.validate().unwrap();
        for (i, t) in TUNABLES.iter().enumerate() {
            let arg = cmd.get_arguments().find(|a| a.get_long() == Some(&t.flag()));
            let arg = arg.unwrap_or_else(|| panic!("no flag --{}", t.flag()));
            let unit = arg.get_value_names().unwrap()[0].to_string();
            assert_eq!(unit, if t.unit == Unit::Micros { "US" } else { "PCT" }, "--{}", t.flag());
            // Each tunable has its own BPF field, in the BPF unit.
            assert_eq!((t.bpf_get)(&tun), t.value(&opts) * t.unit.scale(), "{}", t.key);
            let mut other = tun;
            (t.bpf_set)(&mut other, (t.bpf_get)(&tun) + 1);
            for (j, u) in TUNABLES.iter().enumerate() {
                assert_eq!((u.bpf_get)(&other) != (u.bpf_get)(&tun), i == j, "{} vs {}", t.key, u.key);
            }
            // A cross-checked bound names an earlier tunable.
            for bound in [t.min, t.max] {
                if let Flag(key) = bound {
                    assert!(TUNABLES[..i].iter().any(|u| u.key == key), "{}: {key}", t.key);
                }
            }
        }
        assert_eq!(current(&opts).len(), TUNABLES.len());
    }

    #[test]
    fn live_retuning_is_validated_like_the_flags() {
        let opts = parse(&[]);
        let (next, tun) = opts.with_tunable("sched_latency_us", "12000").unwrap();
        assert_eq!(next.sched_latency_us, 12000);
        assert_eq!(tun.sched_latency_ns, 12_000_000);
        assert_eq!(next.tunable("sched_latency_us"), Some(12000));
        // Below min_granularity (750): refused with the range, nothing changed.
        let err = opts.with_tunable("sched_latency_us", "50").unwrap_err();
        assert_eq!(err.to_string(), "invalid value 50 for --sched-latency-us: accepted range is 100..=1000000");
        let err = opts.with_tunable("min_granularity_us", "7000").unwrap_err();
        assert!(err.to_string().contains("100..=6000"), "{err}");
        let err = opts.with_tunable("imbalance_pct", "99999999999").unwrap_err();
        assert_eq!(err.flag, "imbalance-pct");
        let err = opts.with_tunable("wakeup_granularity_us", "soon").unwrap_err();
        assert!(err.to_string().contains("soon"), "{err}");
        let err = opts.with_tunable("nr_cpus", "4").unwrap_err();
        assert_eq!(err.flag, "set");
        assert_eq!(opts.sched_latency_us, 6000);
    }

    #[test]
    fn refusals_read_as_before() {
        let opts = parse(&[]);
        let err = opts.with_tunable("min_granularity_us", "7000").unwrap_err();
        assert_eq!(
            err.to_string(),
            "invalid value 7000 for --min-granularity-us: accepted range is 100..=6000 (at most --sched-latency-us)"
        );
        let err = opts.with_tunable("numa_imbalance_pct", "110").unwrap_err();
        assert_eq!(
            err.to_string(),
            "invalid value 110 for --numa-imbalance-pct: accepted range is 117..=400 (at least --imbalance-pct)"
        );
        let err = opts.with_tunable("numa_imbalance_pct", "99999999999").unwrap_err();
        assert_eq!(err.to_string(), "invalid value 99999999999 for --numa-imbalance-pct: accepted range is at most 400");
        let err = opts.with_tunable("latency", "5").unwrap_err().to_string();
        assert!(
            err.starts_with(
                "invalid value latency for --set: accepted range is one of sched_latency_us, min_granularity_us, \
                 wakeup_granularity_us, migration_cost_us, imbalance_pct, numa_imbalance_pct, balance_interval_us"
            ),
            "{err}"
        );
    }

    #[test]
    fn openmetrics_is_a_client_of_its_own() {
        assert!(parse(&["--openmetrics", "--top", "0"]).openmetrics);
        for other in [&["--monitor", "1"][..], &["--set", "sched_latency_us=12000"], &["--monitor", "1", "--json"]] {
            let mut argv = vec!["scx_fairrs", "--openmetrics"];
            argv.extend_from_slice(other);
            assert!(Opts::try_parse_from(&argv).is_err(), "{argv:?}");
        }
    }

    #[test]
    fn set_argument_syntax() {
        assert_eq!(parse_set("sched_latency_us=12000").unwrap(), ("sched_latency_us".into(), "12000".into()));
        for bad in ["sched_latency_us", "sched_latency_us=", "latency=5", "=5"] {
            let err = parse_set(bad).unwrap_err();
            assert_eq!(err.flag, "set", "{bad}");
            assert!(err.to_string().contains("sched_latency_us"), "{err}");
        }
    }
}
