// SPDX-License-Identifier: GPL-2.0
//! Cgroup paths for the per-group stats: the BPF side knows a cgroup by its
//! id, which on cgroup v2 is the inode number of its directory.

use std::collections::BTreeMap;
use std::os::unix::fs::MetadataExt;
use std::path::Path;

/// Where the cgroup v2 hierarchy is mounted (systemd and virtme-ng alike).
const CGROUP2_ROOT: &str = "/sys/fs/cgroup";

/// Every cgroup's path below the root ("/" for the root), by cgroup id.
pub fn paths() -> BTreeMap<u64, String> {
    let mut out = BTreeMap::new();
    walk(Path::new(CGROUP2_ROOT), "", &mut out, 0);
    out
}

fn walk(dir: &Path, rel: &str, out: &mut BTreeMap<u64, String>, depth: usize) {
    let Ok(meta) = dir.metadata() else { return };
    out.insert(meta.ino(), if rel.is_empty() { "/".to_string() } else { rel.to_string() });
    // The kernel nests at most a few dozen levels in practice; stop a loop anyway.
    if depth > 64 {
        return;
    }
    let Ok(entries) = dir.read_dir() else { return };
    for e in entries.flatten() {
        if e.file_type().is_ok_and(|t| t.is_dir()) {
            let name = e.file_name();
            walk(&e.path(), &format!("{rel}/{}", name.to_string_lossy()), out, depth + 1);
        }
    }
}

/// The autogroup id of a group key that is one (--autogroup: the top bit set,
/// group.bpf.h's GROUP_AUTOGROUP_KEY), as /proc/PID/autogroup names it.
pub fn autogroup_id(key: u64) -> Option<u64> {
    (key & (1 << 63) != 0).then_some(key & !(1 << 63))
}
