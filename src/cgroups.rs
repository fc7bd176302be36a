// SPDX-License-Identifier: GPL-2.0
//! Cgroup paths for the per-group stats: the BPF side knows a cgroup by its
//! id, which on cgroup v2 is the inode number of its directory.

use std::collections::BTreeMap;
use std::os::unix::fs::MetadataExt;
use std::path::Path;

use crate::bpf_intf;

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

/// intf.h's GROUP_AUTOGROUP_KEY; bindgen types the macro as i64, the bits
/// are the same.
const AUTOGROUP_KEY: u64 = bpf_intf::GROUP_AUTOGROUP_KEY as u64;

/// The autogroup id of a group key that is one (--autogroup), as
/// /proc/PID/autogroup names it.
pub fn autogroup_id(key: u64) -> Option<u64> {
    (key & AUTOGROUP_KEY != 0).then_some(key & !AUTOGROUP_KEY)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn autogroup_keys_are_told_from_cgroup_ids() {
        // One bit, the top one: no cgroup id (an inode number) has it.
        assert_eq!((AUTOGROUP_KEY.count_ones(), AUTOGROUP_KEY.leading_zeros()), (1, 0));
        assert_eq!(autogroup_id(AUTOGROUP_KEY | 42), Some(42));
        assert_eq!(autogroup_id(42), None);
    }
}
