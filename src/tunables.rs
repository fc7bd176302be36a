// SPDX-License-Identifier: GPL-2.0
//! The tunables: the flags the BPF side reads from `struct fairrs_tunables`
//! (intf.h) and `--set` may change while it runs.
//!
//! `TUNABLES` is their one description: key, unit, range (with the
//! cross-checks between them) and where each lives in `Opts` and in the BPF
//! struct. Validation, `--set` parsing and its help text, the values written
//! to the BPF side and the tunables shown in the stats all read it. The flags
//! themselves (help, default) are `Opts` fields, declared with clap.
//!
//! Adding a tunable: its `Opts` field, one `tunable!` row here, its field in
//! `struct fairrs_tunables`, and the BPF code that reads it.

use std::collections::BTreeMap;

use crate::bpf_intf;
use crate::cli::{check_range, BadFlag, Opts};

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
pub fn validate(opts: &Opts) -> Result<Tunables, BadFlag> {
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
    use crate::cli::tests::parse;
    use clap::CommandFactory;

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
    fn set_argument_syntax() {
        assert_eq!(parse_set("sched_latency_us=12000").unwrap(), ("sched_latency_us".into(), "12000".into()));
        for bad in ["sched_latency_us", "sched_latency_us=", "latency=5", "=5"] {
            let err = parse_set(bad).unwrap_err();
            assert_eq!(err.flag, "set", "{bad}");
            assert!(err.to_string().contains("sched_latency_us"), "{err}");
        }
    }
}
