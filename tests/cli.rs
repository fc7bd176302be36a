// SPDX-License-Identifier: GPL-2.0
//! Host-side tests of the real binary: what a user sees when a flag is bad or
//! the machine cannot run a sched_ext scheduler. None of these load anything.

use std::path::Path;
use std::process::{Command, Output};

fn fairrs(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_scx_fairrs"))
        .args(args)
        .output()
        .expect("running scx_fairrs")
}

fn stderr_lines(out: &Output) -> Vec<String> {
    String::from_utf8_lossy(&out.stderr).lines().map(str::to_owned).collect()
}

#[test]
fn bad_flag_value_is_one_line_naming_flag_value_and_range() {
    let out = fairrs(&["--sched-latency-us", "4000", "--min-granularity-us", "5000"]);
    assert_eq!(out.status.code(), Some(2));
    let lines = stderr_lines(&out);
    assert_eq!(lines.len(), 1, "{lines:?}");
    assert!(lines[0].contains("--min-granularity-us"), "{}", lines[0]);
    assert!(lines[0].contains("5000"), "{}", lines[0]);
    assert!(lines[0].contains("100..=4000"), "{}", lines[0]);
}

#[test]
fn unparsable_flag_value_is_one_line() {
    let out = fairrs(&["--wakeup-granularity-us", "soon"]);
    assert_eq!(out.status.code(), Some(2));
    let lines = stderr_lines(&out);
    assert_eq!(lines.len(), 1, "{lines:?}");
    assert!(lines[0].contains("--wakeup-granularity-us") && lines[0].contains("soon"), "{}", lines[0]);
}

#[test]
fn help_documents_units_defaults_and_ranges() {
    let out = fairrs(&["--help"]);
    assert!(out.status.success());
    let help = String::from_utf8_lossy(&out.stdout);
    for needle in ["--sched-latency-us", "[default: 6000]", "Range 100..=1000000", "--min-granularity-us", "[default: 750]"] {
        assert!(help.contains(needle), "--help lacks {needle:?}:\n{help}");
    }
}

#[test]
fn version_names_the_git_revision() {
    let out = fairrs(&["--version"]);
    assert!(out.status.success());
    let v = String::from_utf8_lossy(&out.stdout);
    assert!(v.starts_with("scx_fairrs 0.") && v.contains("-g"), "{v}");
}

/// The host these tests run on decides which refusal applies; each branch
/// asserts the sentence a user would see there.
#[test]
fn refuses_to_run_where_it_cannot_load() {
    let out = fairrs(&[]);
    let lines = stderr_lines(&out);
    if !Path::new("/sys/kernel/sched_ext").exists() {
        assert_eq!(out.status.code(), Some(1));
        assert_eq!(lines.len(), 1, "{lines:?}");
        assert!(lines[0].contains("has no sched_ext support"), "{}", lines[0]);
        assert!(lines[0].contains("CONFIG_SCHED_CLASS_EXT"), "{}", lines[0]);
    } else if unsafe { libc::geteuid() } != 0 {
        assert_eq!(out.status.code(), Some(1));
        assert!(lines[0].contains("must run as root"), "{lines:?}");
    } else {
        // A sched_ext host with root: that is the VM suite's territory; do not
        // attach a scheduler to the machine running the tests.
        eprintln!("sched_ext host with root: refusal paths are covered by the VM suite");
    }
}

/// --openmetrics is for a textfile collector's cron job: with nothing to
/// read, one line and status 1, and nothing on stdout to be mistaken for
/// metrics.
#[test]
fn openmetrics_without_an_instance_is_one_line() {
    if Path::new("/var/run/scx/root/stats").exists() {
        eprintln!("a stats socket exists on this host: not asserting the no-instance error");
        return;
    }
    let out = fairrs(&["--openmetrics"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(out.stdout.is_empty(), "{}", String::from_utf8_lossy(&out.stdout));
    let lines = stderr_lines(&out);
    assert_eq!(lines.len(), 1, "{lines:?}");
    assert!(lines[0].contains("cannot reach a running scx_fairrs at /var/run/scx/root/stats"), "{}", lines[0]);
}
