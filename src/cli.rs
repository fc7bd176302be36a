// SPDX-License-Identifier: GPL-2.0
//! Command-line options and their validation.
//!
//! Flags are in the units people tune CFS in (microseconds), and each one is
//! checked against its accepted range before anything touches the kernel, so
//! a bad value costs nothing and explains itself in one line.
//!
//! The tunables (the flags the BPF side reads, which `--set` may change) are
//! declared here as flags; their ranges, units and BPF fields are the
//! `TUNABLES` table in tunables.rs, which `validate()` checks first.

use std::ffi::OsString;
use std::fmt;
use std::io::{self, Write};

use clap::{ArgAction, CommandFactory, Parser, ValueEnum};

use crate::tunables::{self, Tunables};

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
     --monitor or --set
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
    disable_version_flag = true
)]
pub struct Opts {
    /// Period in which every runnable task of a CPU runs once, in
    /// microseconds (CFS's sched_latency). Longer favours throughput, shorter
    /// favours latency. Range 100..=1000000.
    #[arg(long, value_name = "US", default_value_t = 6000, help_heading = POLICY)]
    pub sched_latency_us: u64,

    /// Shortest slice, in microseconds (CFS's min_granularity): with more than
    /// sched_latency / min_granularity tasks the period grows instead of the
    /// slices shrinking. Range 100..=sched_latency_us.
    #[arg(long, value_name = "US", default_value_t = 750, help_heading = POLICY)]
    pub min_granularity_us: u64,

    /// How far ahead in vruntime (nice-0 scale) a woken task must be to
    /// preempt the running one, in microseconds (CFS's wakeup_granularity).
    /// Smaller preempts more eagerly. Range 0..=1000000.
    #[arg(long, value_name = "US", default_value_t = 1000, help_heading = POLICY)]
    pub wakeup_granularity_us: u64,

    /// A running task is safe from preemption by a synchronous wakee (woken
    /// by a task about to sleep: pipes, sockets) until it has run this long
    /// since it was picked, in microseconds; a wakee that finds it protected
    /// is checked again at each tick. Other wakeups preempt as in CFS. 0 preempts at once, exactly as
    /// CFS's check_preempt_wakeup(), at a large cost on messaging workloads
    /// (hackbench 3-5x slower than with the default; see docs/BENCHMARKS.md).
    /// Range 0..=1000000.
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
    /// Range 0..=100000.
    #[arg(long, value_name = "US", default_value_t = 500, help_heading = BALANCING)]
    pub migration_cost_us: u64,

    /// Periodic balancing moves load when the busiest CPU's load exceeds
    /// another's by this percentage (CFS's imbalance_pct, 117 = 17 %).
    /// Range 101..=400.
    #[arg(long, value_name = "PCT", default_value_t = 117, help_heading = BALANCING)]
    pub imbalance_pct: u32,

    /// The same threshold for moves across NUMA nodes, where a task leaves its
    /// memory behind. Range imbalance_pct..=400.
    #[arg(long, value_name = "PCT", default_value_t = 125, help_heading = BALANCING)]
    pub numa_imbalance_pct: u32,

    /// Period of the periodic balancer, in microseconds. Range 1000..=1000000.
    #[arg(long, value_name = "US", default_value_t = 4000, help_heading = BALANCING)]
    pub balance_interval_us: u64,

    /// Print scheduler statistics every SECS seconds (0 disables).
    /// Range 0..=3600.
    #[arg(long, value_name = "SECS", default_value_t = 0.0, help_heading = STATS)]
    pub stats: f64,

    /// Number of tasks with the highest PELT load to list in each stats
    /// report (pid, comm, nice, weight, util, load, vruntime lag,
    /// migrations). Range 0..=1000.
    #[arg(long, value_name = "N", default_value_t = 5, help_heading = STATS)]
    pub top: usize,

    /// Do not load a scheduler: print the running instance's statistics
    /// every SECS seconds, read over its stats socket
    /// (/var/run/scx/fairrs/stats, root only). Range 0..=3600.
    #[arg(long, value_name = "SECS", default_value_t = 0.0, help_heading = STATS)]
    pub monitor: f64,

    /// With --monitor: print each report as JSON instead of text.
    #[arg(long, requires = "monitor", help_heading = STATS)]
    pub json: bool,

    // The help lists the keys from the tunables table.
    #[arg(long, value_name = "KEY=VALUE", help_heading = STATS, help = tunables::set_help())]
    pub set: Option<String>,

    /// Describe every statistic (the fields of the JSON reports) and exit.
    #[arg(long, help_heading = STATS)]
    pub help_stats: bool,

    /// Size of the kernel's debug dump printed when the scheduler is ejected,
    /// in bytes (0 = the kernel's default). Range 0..=16777216.
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

/// What `--generate` prints.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Generate {
    Bash,
    Zsh,
    Fish,
    /// The man page (section 8, roff).
    Man,
}

/// The packaging hook: `scx_fairrs --generate bash|zsh|fish|man` prints a
/// shell completion script or the man page, generated from `Opts` (so they
/// cannot drift from the flags). It is a separate parser, recognised only as
/// the first argument, rather than a hidden flag of `Opts`: completion
/// generators list hidden flags too, and users should not be offered it.
#[derive(Debug, Parser)]
#[command(name = BIN_NAME, disable_help_flag = true, disable_version_flag = true)]
struct GenerateOpts {
    #[arg(long, value_enum)]
    generate: Generate,
}

/// `Some` when the command line asks for `--generate` (the parse result:
/// what to print, or clap's error for a bad or missing value).
pub fn generate_request(args: &[OsString]) -> Option<Result<Generate, clap::Error>> {
    let first = args.get(1)?.to_str()?;
    if first != "--generate" && !first.starts_with("--generate=") {
        return None;
    }
    Some(GenerateOpts::try_parse_from(args).map(|g| g.generate))
}

/// Write the completion script for a shell, or the man page, to `out`.
pub fn generate(what: Generate, out: &mut dyn Write) -> io::Result<()> {
    use clap_complete::Shell;
    let mut cmd = Opts::command();
    let shell = match what {
        Generate::Bash => Shell::Bash,
        Generate::Zsh => Shell::Zsh,
        Generate::Fish => Shell::Fish,
        Generate::Man => return man_page(cmd, out),
    };
    clap_complete::generate(shell, &mut cmd, BIN_NAME, out);
    Ok(())
}

/// Roff text: backslashes and hyphens escaped (a plain "-" may be typeset as
/// a hyphen, which breaks copy-pasting flags), no line starting with a
/// control character.
fn roff_text(text: &str) -> String {
    let t = text.replace('\\', "\\e").replace('-', "\\-");
    if t.starts_with('.') || t.starts_with('\'') {
        format!("\\&{t}")
    } else {
        t
    }
}

/// clap_mangen's sections (name, synopsis, description, one section per help
/// heading, version), plus what a daemon's page needs and clap does not
/// model: EXIT STATUS (from EXIT_STATUS), FILES and SEE ALSO.
fn man_page(cmd: clap::Command, out: &mut dyn Write) -> io::Result<()> {
    // NAME reads "scx_fairrs \- <about>": drop the about's own "scx_fairrs: ".
    let about = cmd.get_about().map(|a| a.to_string()).unwrap_or_default();
    let about = about.strip_prefix("scx_fairrs: ").unwrap_or(&about).trim_end_matches('.').to_string();
    let man = clap_mangen::Man::new(cmd.about(about)).section("8").manual("System Manager's Manual");
    man.render_title(out)?;
    man.render_name_section(out)?;
    man.render_synopsis_section(out)?;
    man.render_description_section(out)?;
    man.render_options_section(out)?;

    writeln!(out, ".SH \"EXIT STATUS\"")?;
    for line in EXIT_STATUS.lines().skip(1) {
        match line.trim_start().split_once("  ") {
            Some((code, text)) if line.starts_with("  ") && !line.starts_with("     ") => {
                writeln!(out, ".TP\n\\fB{code}\\fR\n{}", roff_text(text))?
            }
            _ => writeln!(out, "{}", roff_text(line.trim_start()))?,
        }
    }
    writeln!(out, ".SH FILES")?;
    for (path, what) in [
        (
            "/etc/default/scx_fairrs",
            "SCX_FAIRRS_FLAGS: the flags scx_fairrs.service starts the scheduler with.",
        ),
        (
            "/var/run/scx/fairrs/stats",
            "The running instance's stats socket (root only), used by --monitor and --set.",
        ),
    ] {
        writeln!(out, ".TP\n\\fI{}\\fR\n{}", roff_text(path), roff_text(what))?;
    }
    writeln!(out, ".SH \"SEE ALSO\"")?;
    writeln!(
        out,
        "{}",
        roff_text(
            "scx_fairrs.service (systemctl enable --now scx_fairrs), or the scx project's scx.service \
             with SCX_SCHEDULER=scx_fairrs in /etc/default/scx; \
             https://docs.kernel.org/scheduler/sched-ext.html"
        )
    )?;
    man.render_version_section(out)
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

const STATS_SECS_MAX: f64 = 3600.0;
const TOP_MAX: u64 = 1000;
const EXIT_DUMP_MAX: u32 = 16 << 20;

pub(crate) fn check_range(flag: &str, value: u64, lo: u64, hi: u64, range: String) -> Result<(), BadFlag> {
    if value < lo || value > hi {
        return Err(BadFlag { flag: flag.to_string(), value: value.to_string(), range });
    }
    Ok(())
}

impl Opts {
    /// Check every flag against its range; the first bad one is reported.
    pub fn validate(&self) -> Result<Tunables, BadFlag> {
        let tun = tunables::validate(self)?;
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
        Ok(tun)
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// The options a command line (without the program name) parses to.
    pub(crate) fn parse(args: &[&str]) -> Opts {
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

    /// Every flag a user can pass, from clap's own definition: (long, short).
    fn visible_flags() -> Vec<(String, Option<char>)> {
        let cmd = Opts::command();
        let flags: Vec<_> = cmd
            .get_arguments()
            .filter(|a| !a.is_hide_set())
            .map(|a| (a.get_long().expect("every flag has a long form").to_string(), a.get_short()))
            .collect();
        assert!(flags.len() >= 17, "{flags:?}");
        flags
    }

    fn generated(what: Generate) -> String {
        let mut out = Vec::new();
        generate(what, &mut out).unwrap();
        String::from_utf8(out).unwrap()
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
                assert!(tunables::TUNABLES.iter().all(|t| help.contains(t.key)), "{help}");
                continue;
            }
            assert!(help.contains("Range "), "--{long} help lacks its range: {help}");
            assert!(!a.get_default_values().is_empty(), "--{long} has no default");
        }
    }

    #[test]
    fn completions_and_man_page_mention_every_flag() {
        let flags = visible_flags();
        for what in [Generate::Bash, Generate::Zsh, Generate::Fish, Generate::Man] {
            let text = generated(what);
            for (long, short) in &flags {
                // How each format spells a flag: fish declares "-l NAME" /
                // "-s C"; roff escapes every hyphen.
                let (l, s) = match what {
                    Generate::Fish => (format!("-l {long}"), short.map(|c| format!("-s {c}"))),
                    Generate::Man => (
                        format!("\\-\\-{}", long.replace('-', "\\-")),
                        short.map(|c| format!("\\-{c}")),
                    ),
                    _ => (format!("--{long}"), short.map(|c| format!("-{c}"))),
                };
                assert!(text.contains(&l), "{what:?} output lacks {l}");
                if let Some(s) = s {
                    assert!(text.contains(&s), "{what:?} output lacks {s}");
                }
            }
            assert!(!text.contains("generate"), "{what:?} output offers the packaging hook");
        }
    }

    #[test]
    fn man_page_is_section_8_with_headings_and_exit_status() {
        let man = generated(Generate::Man);
        assert!(man.contains("\n.TH scx_fairrs 8 "), "{man}");
        assert!(man.contains("\n.SH NAME\nscx_fairrs \\- the Completely Fair Scheduler"), "{man}");
        for section in ["NAME", "SYNOPSIS", "DESCRIPTION", "POLICY", "BALANCING", "STATS", "DIAGNOSTICS"] {
            assert!(man.contains(&format!("\n.SH {section}\n")), "no {section} section");
        }
        for section in ["\"EXIT STATUS\"", "FILES", "\"SEE ALSO\""] {
            assert!(man.contains(&format!("\n.SH {section}\n")), "no {section} section");
        }
        for code in ["0", "1", "2"] {
            assert!(man.contains(&format!(".TP\n\\fB{code}\\fR\n")), "EXIT STATUS lacks {code}");
        }
        assert!(man.contains("[default: 6000]") && man.contains("Range 100..=1000000"));
    }

    #[test]
    fn generate_is_recognised_only_as_the_first_argument() {
        let args = |v: &[&str]| v.iter().map(OsString::from).collect::<Vec<_>>();
        assert_eq!(generate_request(&args(&["scx_fairrs", "--generate", "man"])).unwrap().unwrap(), Generate::Man);
        assert_eq!(generate_request(&args(&["scx_fairrs", "--generate=zsh"])).unwrap().unwrap(), Generate::Zsh);
        assert!(generate_request(&args(&["scx_fairrs", "--generate", "tcsh"])).unwrap().is_err());
        assert!(generate_request(&args(&["scx_fairrs", "--generate"])).unwrap().is_err());
        assert!(generate_request(&args(&["scx_fairrs"])).is_none());
        assert!(generate_request(&args(&["scx_fairrs", "--stats", "1", "--generate", "man"])).is_none());
        // ... where the scheduler's own parser refuses it.
        assert!(Opts::try_parse_from(["scx_fairrs", "--stats", "1", "--generate", "man"]).is_err());
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
}
