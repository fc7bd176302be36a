// SPDX-License-Identifier: GPL-2.0
//! Host tests of the install step and the service files: packaging/install.sh
//! (given the binary cargo built for these tests, so nothing is rebuilt)
//! into temporary directories, the exact file list, the unit's paths, and
//! `systemd-analyze verify` on the installed unit. Nothing is started or
//! enabled. Which flags the completions and the man page mention is checked
//! against clap's definitions in src/generate.rs's unit tests; here, that the
//! installed files are exactly what the binary generates.

use std::collections::BTreeSet;
use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

const BIN: &str = env!("CARGO_BIN_EXE_scx_fairrs");

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// A fresh, empty directory for one test, removed when dropped.
struct TempDir(PathBuf);

impl TempDir {
    fn new(name: &str) -> Self {
        let dir = std::env::temp_dir().join(format!("scx_fairrs-test-{name}-{}", std::process::id()));
        let _ = fs::remove_dir_all(&dir);
        fs::create_dir_all(&dir).unwrap();
        TempDir(dir)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = fs::remove_dir_all(&self.0);
    }
}

/// Run packaging/install.sh with these variables (on top of a binary that
/// is already built), and require success.
fn install(vars: &[(&str, &Path)]) -> Output {
    let mut cmd = Command::new("sh");
    cmd.arg(repo().join("packaging/install.sh")).env("SCX_FAIRRS_BIN", BIN);
    // Only what the test sets: none of the installer's variables from outside.
    for var in ["DESTDIR", "PREFIX", "BINDIR", "SYSCONFDIR", "UNITDIR", "MANDIR"] {
        cmd.env_remove(var);
    }
    for var in ["BASHCOMPDIR", "ZSHCOMPDIR", "FISHCOMPDIR"] {
        cmd.env_remove(var);
    }
    for (k, v) in vars {
        cmd.env(k, v);
    }
    let out = cmd.output().expect("running packaging/install.sh");
    assert!(
        out.status.success(),
        "install.sh failed ({}):\n{}{}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

/// Every file under `root` (relative, with a leading /) and its mode.
fn files(root: &Path) -> Vec<(String, u32)> {
    fn walk(root: &Path, dir: &Path, out: &mut Vec<(String, u32)>) {
        for entry in fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            let meta = fs::symlink_metadata(&path).unwrap();
            if meta.is_dir() {
                walk(root, &path, out);
            } else {
                let rel = format!("/{}", path.strip_prefix(root).unwrap().display());
                out.push((rel, meta.permissions().mode() & 0o7777));
            }
        }
    }
    let mut out = Vec::new();
    walk(root, root, &mut out);
    out.sort();
    out
}

fn expected(prefix: &str) -> Vec<(String, u32)> {
    let mut v: Vec<(String, u32)> = [
        ("/bin/scx_fairrs", 0o755),
        ("/lib/systemd/system/scx_fairrs.service", 0o644),
        ("/share/man/man8/scx_fairrs.8", 0o644),
        ("/share/bash-completion/completions/scx_fairrs", 0o644),
        ("/share/zsh/site-functions/_scx_fairrs", 0o644),
        ("/share/fish/vendor_completions.d/scx_fairrs.fish", 0o644),
    ]
    .iter()
    .map(|(p, m)| (format!("{prefix}{p}"), *m))
    .collect();
    v.push(("/etc/default/scx_fairrs".into(), 0o644));
    v.sort();
    v
}

fn read(path: impl AsRef<Path>) -> String {
    fs::read_to_string(path.as_ref()).unwrap_or_else(|e| panic!("{}: {e}", path.as_ref().display()))
}

fn generated(what: &str) -> String {
    let out = Command::new(BIN).args(["--generate", what]).output().unwrap();
    assert!(out.status.success(), "--generate {what}: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8(out.stdout).unwrap()
}

/// The value of `Key=` in a unit (the only such line).
fn unit_key<'a>(unit: &'a str, key: &str) -> &'a str {
    let values: Vec<_> = unit.lines().filter_map(|l| l.strip_prefix(&format!("{key}="))).collect();
    assert_eq!(values.len(), 1, "{key}= lines: {values:?}");
    values[0]
}

#[test]
fn install_into_destdir_gives_exactly_the_expected_files() {
    for prefix in ["/usr/local", "/usr"] {
        let dest = TempDir::new("destdir");
        install(&[("DESTDIR", &dest.0), ("PREFIX", Path::new(prefix))]);
        assert_eq!(files(&dest.0), expected(prefix), "PREFIX={prefix}");

        let root = |p: &str| dest.0.join(p.trim_start_matches('/'));
        assert_eq!(fs::read(root(&format!("{prefix}/bin/scx_fairrs"))).unwrap(), fs::read(BIN).unwrap());
        assert_eq!(read(root("/etc/default/scx_fairrs")), read(repo().join("packaging/scx_fairrs.default")));
        for (what, path) in [
            ("man", "/share/man/man8/scx_fairrs.8"),
            ("bash", "/share/bash-completion/completions/scx_fairrs"),
            ("zsh", "/share/zsh/site-functions/_scx_fairrs"),
            ("fish", "/share/fish/vendor_completions.d/scx_fairrs.fish"),
        ] {
            assert_eq!(read(root(&format!("{prefix}{path}"))), generated(what), "{what} at {path}");
        }

        // Bash is always there to check the completion's syntax (zsh and
        // fish may not be; their scripts come from the same generator).
        let bash = root(&format!("{prefix}/share/bash-completion/completions/scx_fairrs"));
        let out = Command::new("bash").arg("-n").arg(&bash).output().unwrap();
        assert!(out.status.success(), "bash -n: {}", String::from_utf8_lossy(&out.stderr));

        // The unit is the shipped one with the installed paths in it.
        let unit = read(root(&format!("{prefix}/lib/systemd/system/scx_fairrs.service")));
        assert_eq!(unit_key(&unit, "ExecStart"), format!("{prefix}/bin/scx_fairrs $SCX_FAIRRS_FLAGS"));
        assert_eq!(unit_key(&unit, "EnvironmentFile"), "-/etc/default/scx_fairrs");
        let shipped = read(repo().join("packaging/scx_fairrs.service"));
        assert_eq!(unit.replace(&format!("{prefix}/bin/"), "/usr/local/bin/"), shipped);
    }
}

#[test]
fn reinstall_keeps_the_administrators_defaults_file() {
    let dest = TempDir::new("reinstall");
    install(&[("DESTDIR", &dest.0)]);
    let defaults = dest.0.join("etc/default/scx_fairrs");
    fs::write(&defaults, "SCX_FAIRRS_FLAGS=\"--sched-latency-us 12000\"\n").unwrap();
    let out = install(&[("DESTDIR", &dest.0)]);
    assert_eq!(read(&defaults), "SCX_FAIRRS_FLAGS=\"--sched-latency-us 12000\"\n");
    assert!(String::from_utf8_lossy(&out.stdout).contains("exists: kept"));
    assert_eq!(files(&dest.0), expected("/usr/local"));
}

#[test]
fn unit_and_defaults_file_name_the_same_variable() {
    let unit = read(repo().join("packaging/scx_fairrs.service"));
    let defaults = read(repo().join("packaging/scx_fairrs.default"));
    assert_eq!(unit_key(&unit, "ExecStart"), "/usr/local/bin/scx_fairrs $SCX_FAIRRS_FLAGS");
    assert_eq!(unit_key(&unit, "EnvironmentFile"), "-/etc/default/scx_fairrs");
    assert!(defaults.lines().any(|l| l.starts_with("SCX_FAIRRS_FLAGS=")), "{defaults}");
    // The restart policy matches the daemon's exit statuses (src/cli.rs).
    assert_eq!(unit_key(&unit, "Restart"), "on-failure");
    assert_eq!(unit_key(&unit, "RestartPreventExitStatus"), "2");
    assert_eq!(unit_key(&unit, "ConditionPathIsDirectory"), "/sys/kernel/sched_ext");
}

fn systemd_analyze(args: &[&str]) -> Output {
    match Command::new("systemd-analyze").args(args).output() {
        Ok(out) => out,
        Err(e) => panic!(
            "systemd-analyze cannot run ({e}): the service unit cannot be verified. \
             Install it: apt-get install systemd (Debian's systemd package ships systemd-analyze)"
        ),
    }
}

/// systemd-analyze verify on the unit as installed, with real paths: PREFIX
/// and SYSCONFDIR in a temporary directory, no DESTDIR, so the ExecStart
/// binary the verifier checks exists. It exits 0 even for unknown keys, so
/// any message about our unit fails the test too. (The defaults file is not
/// something systemd-analyze reads: src/cli.rs checks it with
/// EnvironmentFile's rules and the daemon's own flag validation.)
#[test]
fn installed_unit_passes_systemd_analyze_verify() {
    let root = TempDir::new("verify");
    let prefix = root.0.join("usr");
    let sysconf = root.0.join("etc");
    install(&[("PREFIX", &prefix), ("SYSCONFDIR", &sysconf)]);
    let unit = prefix.join("lib/systemd/system/scx_fairrs.service");
    assert_eq!(
        unit_key(&read(&unit), "ExecStart"),
        format!("{}/bin/scx_fairrs $SCX_FAIRRS_FLAGS", prefix.display())
    );

    // --man=no: the verifier would look the Documentation= page up with
    // man(1), which is not a build dependency; the page itself is tested.
    let out = systemd_analyze(&["verify", "--man=no", unit.to_str().unwrap()]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    let ours: Vec<_> = stderr.lines().filter(|l| l.contains("scx_fairrs")).collect();
    assert!(out.status.success() && ours.is_empty(), "systemd-analyze verify ({}):\n{stderr}", out.status);

    // A misspelt capability is dropped with no more than a warning, so check
    // that systemd knows each one.
    let caps = unit_key(&read(&unit), "CapabilityBoundingSet").to_string();
    let mut args = vec!["capability"];
    args.extend(caps.split_whitespace());
    let out = systemd_analyze(&args);
    assert!(out.status.success(), "systemd-analyze capability {caps}: {}", String::from_utf8_lossy(&out.stderr));
    let known: BTreeSet<_> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .skip(1)
        .filter_map(|l| l.split_whitespace().next().map(str::to_uppercase))
        .collect();
    let wanted: BTreeSet<_> = caps.split_whitespace().map(str::to_string).collect();
    assert_eq!(known, wanted);
}
