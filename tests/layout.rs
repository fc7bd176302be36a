// SPDX-License-Identifier: GPL-2.0
//! The project's one file map, the code block under docs/DESIGN.md's
//! "## Layout", checked against `git ls-files`: every tracked file is named
//! by the map, and every path the map names is tracked (a directory, named
//! with a trailing `/`, is tracked if a tracked file lies under it; it does
//! not name the files under it, those are listed one by one). Needs a git
//! clone: without git or a repository at the crate's root it fails, saying
//! so, rather than passing unchecked.

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;
use std::process::Command;

const MAP: &str = "docs/DESIGN.md";

/// Tracked files the map does not name. Empty: the map names everything,
/// Cargo.lock and .gitignore included. An entry needs a comment saying why.
const NOT_IN_MAP: &[&str] = &[];

/// Width of the map's name column: a line's first 30 characters are names,
/// the rest is their description.
const NAME_WIDTH: usize = 30;

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// The lines of the code block under "## Layout", with their line numbers.
fn layout_block(doc: &str) -> Vec<(usize, &str)> {
    let mut lines = doc.lines().enumerate().map(|(i, l)| (i + 1, l));
    lines
        .by_ref()
        .find(|(_, l)| l.trim_end() == "## Layout")
        .unwrap_or_else(|| panic!("{MAP} has no \"## Layout\" section"));
    let (n, open) = lines
        .by_ref()
        .find(|(_, l)| !l.trim().is_empty())
        .unwrap_or_else(|| panic!("{MAP}: \"## Layout\" is empty"));
    assert!(
        open.starts_with("```"),
        "{MAP}:{n}: the Layout section must start with its code block"
    );
    let block: Vec<_> = lines.by_ref().take_while(|(_, l)| !l.starts_with("```")).collect();
    assert!(!block.is_empty(), "{MAP}: the Layout code block is empty or unclosed");
    block
}

/// The paths the map names (directories with their trailing `/`), each with
/// its line number. The grammar, all of it:
/// - a line's first NAME_WIDTH characters are its name column, the rest
///   its description; a line whose name column is blank continues the
///   description above;
/// - the name column is indented two spaces per level: a name ending in
///   `/` is a directory, and the lines indented one level below it are in
///   it; a name may itself hold a `/` (`vm/lib.sh` under `tests/`);
/// - a name column may hold several names, separated by commas or spaces;
///   a name column ending in a comma goes on in the next line's; a later
///   name with no `/` is in the first name's directory (`vm/demo.sh,
///   bench.sh` names vm/demo.sh and vm/bench.sh).
fn parse(block: &[(usize, &str)]) -> Vec<(String, usize)> {
    let mut dirs: Vec<String> = Vec::new(); // the enclosing directories, one per level
    let mut list: Option<String> = None; // an unfinished list's directory
    let mut named = Vec::new();
    for &(n, line) in block {
        let cut = line.char_indices().nth(NAME_WIDTH).map_or(line.len(), |(i, _)| i);
        let (names, rest) = line.split_at(cut);
        assert!(
            rest.is_empty() || names.ends_with(' '),
            "{MAP}:{n}: the name column is {NAME_WIDTH} characters wide, then the description: {line:?}"
        );
        if names.trim().is_empty() {
            assert!(
                list.is_none(),
                "{MAP}:{n}: a name list ending in a comma must go on in this line's name column"
            );
            continue;
        }
        let mut base = match list.take() {
            Some(base) => base,
            None => {
                let indent = names.len() - names.trim_start().len();
                let level = indent / 2;
                assert!(
                    indent % 2 == 0 && level <= dirs.len(),
                    "{MAP}:{n}: indentation must be two spaces per level below a directory: {line:?}"
                );
                dirs.truncate(level);
                dirs.concat()
            }
        };
        let names = names.trim();
        let words: Vec<&str> = names.split([',', ' ']).filter(|w| !w.is_empty()).collect();
        for (i, word) in words.iter().enumerate() {
            assert!(
                word.chars().all(|c| c.is_ascii_alphanumeric() || "._-/".contains(c)),
                "{MAP}:{n}: {word:?} is not a plain path (no patterns in the map)"
            );
            let path = format!("{base}{word}");
            if word.ends_with('/') && words.len() == 1 && !names.ends_with(',') {
                dirs.push(word.to_string());
            }
            if i == 0 && word.contains('/') && !word.ends_with('/') {
                base = format!("{base}{}", &word[..=word.rfind('/').unwrap()]);
            }
            named.push((path, n));
        }
        if names.ends_with(',') {
            list = Some(base);
        }
    }
    assert!(list.is_none(), "{MAP}: the Layout block ends inside a name list");
    named
}

/// `git ls-files` at the crate's root (which must be the repository's).
fn tracked() -> BTreeSet<String> {
    let git = |args: &[&str]| {
        let out = Command::new("git").args(args).current_dir(repo()).output().unwrap_or_else(|e| {
            panic!("cannot run git ({e}): this test checks {MAP}'s file map against `git ls-files` and needs git and a clone")
        });
        assert!(
            out.status.success(),
            "`git {}` failed in {}: this test checks {MAP}'s file map against `git ls-files` and needs a git clone, not an unpacked copy:\n{}",
            args.join(" "),
            repo().display(),
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).expect("git's output is UTF-8")
    };
    let top = PathBuf::from(git(&["rev-parse", "--show-toplevel"]).trim_end());
    assert_eq!(
        top.canonicalize().unwrap(),
        repo().canonicalize().unwrap(),
        "the crate is not the root of its git repository (an unpacked copy inside another clone?)"
    );
    git(&["ls-files", "-z"])
        .split('\0')
        .filter(|p| !p.is_empty())
        .map(String::from)
        .collect()
}

#[test]
fn layout_names_every_tracked_file() {
    let doc = std::fs::read_to_string(repo().join(MAP)).unwrap_or_else(|e| panic!("reading {MAP}: {e}"));
    let named = parse(&layout_block(&doc));
    let tracked = tracked();

    let mut problems = Vec::new();
    let mut lines: BTreeMap<&str, usize> = BTreeMap::new();
    for (path, n) in &named {
        if let Some(first) = lines.insert(path, *n) {
            problems.push(format!("{MAP}:{n}: {path} is named twice (first on line {first})"));
        }
        let exists = match path.strip_suffix('/') {
            Some(_) => tracked.iter().any(|t| t.starts_with(path.as_str())),
            None => tracked.contains(path),
        };
        if !exists {
            problems.push(format!("{MAP}:{n}: {path} is named by the map but not tracked by git"));
        }
    }
    for path in &tracked {
        if !lines.contains_key(path.as_str()) && !NOT_IN_MAP.contains(&path.as_str()) {
            problems.push(format!("{path} is tracked by git but not named by {MAP}'s Layout"));
        }
    }
    for path in NOT_IN_MAP {
        if !tracked.contains(*path) {
            problems.push(format!("{path} is in NOT_IN_MAP but not tracked by git"));
        }
    }
    assert!(
        problems.is_empty(),
        "{MAP}'s file map and `git ls-files` disagree:\n  {}",
        problems.join("\n  ")
    );
}

/// The grammar's less obvious rules, on a small map.
#[test]
fn parser_rules() {
    let map = "\
a.txt                         one file
src/
  x.rs  y.rs                  two names, spaces between
  sub/                        a directory
    z.rs                      in src/sub/,
                              a continued description
  vm/one.sh, two.sh,          a list: later names share the first's
  three.sh                    directory, and it goes on after a comma
.ci/run                       back at the top, a path with a slash
";
    let block: Vec<_> = map.lines().enumerate().collect();
    let named: Vec<String> = parse(&block).into_iter().map(|(p, _)| p).collect();
    assert_eq!(
        named,
        [
            "a.txt",
            "src/",
            "src/x.rs",
            "src/y.rs",
            "src/sub/",
            "src/sub/z.rs",
            "src/vm/one.sh",
            "src/vm/two.sh",
            "src/vm/three.sh",
            ".ci/run"
        ]
    );
}
