// SPDX-License-Identifier: GPL-2.0
//! Command-line options and their validation.
//!
//! Flags are in the units people tune CFS in (microseconds), and each one is
//! checked against its accepted range before anything touches the kernel, so
//! a bad value costs nothing and explains itself in one line.

use std::fmt;

use clap::Parser;

/// Version string: the crate version plus the git revision it was built from.
pub const VERSION: &str = concat!(env!("CARGO_PKG_VERSION"), "-g", env!("FAIRRS_GIT_REV"));

/// scx_fairrs: the Completely Fair Scheduler's policy as a sched_ext scheduler.
///
/// Each CPU runs its tasks in vruntime order with CFS's nice weights, slices
/// sized from sched_latency and min_granularity, bounded sleeper credit,
/// new-task debit and wakeup preemption. Run as root on a kernel with
/// sched_ext (Linux 6.12+, CONFIG_SCHED_CLASS_EXT=y); Ctrl-C or SIGTERM
/// detaches it and the kernel's own scheduler takes over again.
#[derive(Debug, Clone, Parser)]
#[command(name = "scx_fairrs", version = VERSION)]
pub struct Opts {
    /// Period in which every runnable task of a CPU runs once, in
    /// microseconds (CFS's sched_latency). Longer favours throughput, shorter
    /// favours latency. Range 100..=1000000.
    #[arg(long, value_name = "US", default_value_t = 6000)]
    pub sched_latency_us: u64,

    /// Shortest slice, in microseconds (CFS's min_granularity): with more than
    /// sched_latency / min_granularity tasks the period grows instead of the
    /// slices shrinking. Range 100..=sched_latency_us.
    #[arg(long, value_name = "US", default_value_t = 750)]
    pub min_granularity_us: u64,

    /// How far ahead in vruntime (nice-0 scale) a woken task must be to
    /// preempt the running one, in microseconds (CFS's wakeup_granularity).
    /// Smaller preempts more eagerly. Range 0..=1000000.
    #[arg(long, value_name = "US", default_value_t = 1000)]
    pub wakeup_granularity_us: u64,

    /// A task that ran within this many microseconds is cache-hot and the
    /// balancers leave it where it is (CFS's migration_cost).
    /// Range 0..=100000.
    #[arg(long, value_name = "US", default_value_t = 500)]
    pub migration_cost_us: u64,

    /// Periodic balancing moves load when the busiest CPU's load exceeds
    /// another's by this percentage (CFS's imbalance_pct, 117 = 17 %).
    /// Range 101..=400.
    #[arg(long, value_name = "PCT", default_value_t = 117)]
    pub imbalance_pct: u32,

    /// The same threshold for moves across NUMA nodes, where a task leaves its
    /// memory behind. Range imbalance_pct..=400.
    #[arg(long, value_name = "PCT", default_value_t = 125)]
    pub numa_imbalance_pct: u32,

    /// Period of the periodic balancer, in microseconds. Range 1000..=1000000.
    #[arg(long, value_name = "US", default_value_t = 4000)]
    pub balance_interval_us: u64,

    /// Print scheduler statistics every SECS seconds (0 disables).
    /// Range 0..=3600.
    #[arg(long, value_name = "SECS", default_value_t = 0.0)]
    pub stats: f64,

    /// Number of tasks with the highest PELT load to list in each stats
    /// report (pid, comm, nice, weight, util, load, vruntime lag,
    /// migrations). Range 0..=1000.
    #[arg(long, value_name = "N", default_value_t = 5)]
    pub top: usize,

    /// Do not load a scheduler: print the running instance's statistics
    /// every SECS seconds, read over its stats socket
    /// (/var/run/scx/fairrs/stats, root only). Range 0..=3600.
    #[arg(long, value_name = "SECS", default_value_t = 0.0)]
    pub monitor: f64,

    /// With --monitor: print each report as JSON instead of text.
    #[arg(long, requires = "monitor")]
    pub json: bool,

    /// Do not load a scheduler: change a tunable of the running instance
    /// without reloading it, e.g. --set sched_latency_us=12000. Keys are the
    /// tunable flags' names with underscores (sched_latency_us,
    /// min_granularity_us, wakeup_granularity_us, migration_cost_us,
    /// imbalance_pct, numa_imbalance_pct, balance_interval_us); the value is
    /// checked against the flag's range.
    #[arg(long, value_name = "KEY=VALUE")]
    pub set: Option<String>,

    /// Describe every statistic (the fields of the JSON reports) and exit.
    #[arg(long)]
    pub help_stats: bool,

    /// Size of the kernel's debug dump printed when the scheduler is ejected,
    /// in bytes (0 = the kernel's default). Range 0..=16777216.
    #[arg(long, value_name = "BYTES", default_value_t = 0)]
    pub exit_dump_len: u32,

    /// Verbose output, including libbpf's messages.
    #[arg(short, long)]
    pub verbose: bool,
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

/// The BPF tunables, in nanoseconds, derived from validated options.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Tunables {
    pub sched_latency_ns: u64,
    pub min_granularity_ns: u64,
    pub wakeup_granularity_ns: u64,
    pub migration_cost_ns: u64,
    pub imbalance_pct: u32,
    pub numa_imbalance_pct: u32,
    pub balance_interval_ns: u64,
}

const LATENCY_US: (u64, u64) = (100, 1_000_000);
const MIN_GRAN_US_MIN: u64 = 100;
const WAKEUP_GRAN_US: (u64, u64) = (0, 1_000_000);
const MIGRATION_COST_US: (u64, u64) = (0, 100_000);
const IMBALANCE_PCT: (u64, u64) = (101, 400);
const BALANCE_INTERVAL_US: (u64, u64) = (1000, 1_000_000);
const STATS_SECS_MAX: f64 = 3600.0;
const TOP_MAX: u64 = 1000;

/// The tunables `--set` may change while running, as KEY=VALUE names.
pub const LIVE_KEYS: [&str; 7] = [
    "sched_latency_us",
    "min_granularity_us",
    "wakeup_granularity_us",
    "migration_cost_us",
    "imbalance_pct",
    "numa_imbalance_pct",
    "balance_interval_us",
];
const EXIT_DUMP_MAX: u32 = 16 << 20;

fn check_range(flag: &str, value: u64, lo: u64, hi: u64, range: String) -> Result<(), BadFlag> {
    if value < lo || value > hi {
        return Err(BadFlag { flag: flag.to_string(), value: value.to_string(), range });
    }
    Ok(())
}

/// Split a `--set` argument into key and value.
pub fn parse_set(arg: &str) -> Result<(String, String), BadFlag> {
    match arg.split_once('=') {
        Some((k, v)) if LIVE_KEYS.contains(&k.trim()) && !v.trim().is_empty() => {
            Ok((k.trim().to_string(), v.trim().to_string()))
        }
        _ => Err(BadFlag {
            flag: "set".into(),
            value: arg.to_string(),
            range: format!("KEY=VALUE with KEY one of {}", LIVE_KEYS.join(", ")),
        }),
    }
}

impl Opts {
    /// These options with tunable `key` (a LIVE_KEYS name) set to `value`,
    /// validated as the flags are; the error names the flag and its range.
    pub fn with_tunable(&self, key: &str, value: &str) -> Result<(Opts, Tunables), BadFlag> {
        let flag = LIVE_KEYS
            .iter()
            .find(|k| **k == key)
            .map(|k| k.replace('_', "-"))
            .ok_or_else(|| BadFlag {
                flag: "set".into(),
                value: key.to_string(),
                range: format!("one of {}", LIVE_KEYS.join(", ")),
            })?;
        let v: u64 = value.parse().map_err(|_| BadFlag {
            flag: flag.clone(),
            value: value.to_string(),
            range: "a whole number (see --help for the range)".into(),
        })?;
        let too_big = || BadFlag { flag: flag.clone(), value: value.to_string(), range: "at most 400".into() };
        let mut next = self.clone();
        match key {
            "sched_latency_us" => next.sched_latency_us = v,
            "min_granularity_us" => next.min_granularity_us = v,
            "wakeup_granularity_us" => next.wakeup_granularity_us = v,
            "migration_cost_us" => next.migration_cost_us = v,
            "imbalance_pct" => next.imbalance_pct = u32::try_from(v).map_err(|_| too_big())?,
            "numa_imbalance_pct" => next.numa_imbalance_pct = u32::try_from(v).map_err(|_| too_big())?,
            _ => next.balance_interval_us = v,
        }
        let tun = next.validate()?;
        Ok((next, tun))
    }

    /// The current value of a LIVE_KEYS tunable.
    pub fn tunable(&self, key: &str) -> Option<u64> {
        Some(match key {
            "sched_latency_us" => self.sched_latency_us,
            "min_granularity_us" => self.min_granularity_us,
            "wakeup_granularity_us" => self.wakeup_granularity_us,
            "migration_cost_us" => self.migration_cost_us,
            "imbalance_pct" => self.imbalance_pct.into(),
            "numa_imbalance_pct" => self.numa_imbalance_pct.into(),
            "balance_interval_us" => self.balance_interval_us,
            _ => return None,
        })
    }

    /// Check every flag against its range; the first bad one is reported.
    pub fn validate(&self) -> Result<Tunables, BadFlag> {
        let (lo, hi) = LATENCY_US;
        check_range("sched-latency-us", self.sched_latency_us, lo, hi, format!("{lo}..={hi}"))?;
        check_range(
            "min-granularity-us",
            self.min_granularity_us,
            MIN_GRAN_US_MIN,
            self.sched_latency_us,
            format!(
                "{MIN_GRAN_US_MIN}..={} (at most --sched-latency-us)",
                self.sched_latency_us
            ),
        )?;
        let (lo, hi) = WAKEUP_GRAN_US;
        check_range("wakeup-granularity-us", self.wakeup_granularity_us, lo, hi, format!("{lo}..={hi}"))?;
        let (lo, hi) = MIGRATION_COST_US;
        check_range("migration-cost-us", self.migration_cost_us, lo, hi, format!("{lo}..={hi}"))?;
        let (lo, hi) = IMBALANCE_PCT;
        check_range("imbalance-pct", self.imbalance_pct.into(), lo, hi, format!("{lo}..={hi}"))?;
        check_range(
            "numa-imbalance-pct",
            self.numa_imbalance_pct.into(),
            self.imbalance_pct.into(),
            hi,
            format!("{}..={hi} (at least --imbalance-pct)", self.imbalance_pct),
        )?;
        let (lo, hi) = BALANCE_INTERVAL_US;
        check_range("balance-interval-us", self.balance_interval_us, lo, hi, format!("{lo}..={hi}"))?;
        for (flag, secs) in [("stats", self.stats), ("monitor", self.monitor)] {
            if !(secs.is_finite() && (0.0..=STATS_SECS_MAX).contains(&secs)) {
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
            EXIT_DUMP_MAX.into(),
            format!("0..={EXIT_DUMP_MAX}"),
        )?;
        Ok(Tunables {
            sched_latency_ns: self.sched_latency_us * 1000,
            min_granularity_ns: self.min_granularity_us * 1000,
            wakeup_granularity_ns: self.wakeup_granularity_us * 1000,
            migration_cost_ns: self.migration_cost_us * 1000,
            imbalance_pct: self.imbalance_pct,
            numa_imbalance_pct: self.numa_imbalance_pct,
            balance_interval_ns: self.balance_interval_us * 1000,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
    fn set_argument_syntax() {
        assert_eq!(parse_set("sched_latency_us=12000").unwrap(), ("sched_latency_us".into(), "12000".into()));
        for bad in ["sched_latency_us", "sched_latency_us=", "latency=5", "=5"] {
            let err = parse_set(bad).unwrap_err();
            assert_eq!(err.flag, "set", "{bad}");
            assert!(err.to_string().contains("sched_latency_us"), "{err}");
        }
    }

    #[test]
    fn non_numbers_are_refused_by_the_parser() {
        assert!(Opts::try_parse_from(["scx_fairrs", "--sched-latency-us", "fast"]).is_err());
        assert!(Opts::try_parse_from(["scx_fairrs", "--min-granularity-us", "-5"]).is_err());
    }
}
