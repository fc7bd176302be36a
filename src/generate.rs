// SPDX-License-Identifier: GPL-2.0
//! `scx_fairrs --generate bash|zsh|fish|man`, the packaging hook: shell
//! completions and the man page, generated from the clap definition of the
//! flags (`cli::Opts`), so they cannot drift from them.

use std::ffi::OsString;
use std::io::{self, Write};

use clap::{CommandFactory, Parser, ValueEnum};

use crate::cli::{Opts, BIN_NAME, EXIT_STATUS};

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
            "/var/run/scx/root/stats",
            "The running instance's stats socket (root only): scx_stats' default path, where scxtop and \
             other scx_stats clients look; used by --monitor, --set and --openmetrics.",
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

#[cfg(test)]
mod tests {
    use super::*;

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
        assert!(man.contains("/var/run/scx/root/stats"), "FILES names the stats socket");
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
}
