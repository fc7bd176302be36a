// SPDX-License-Identifier: GPL-2.0
//! The machine's CPU ids and topology, as the BPF side needs them.
//!
//! CPU ids can have holes: /sys/devices/system/cpu/possible may read
//! "0-1,4-5" (firmware listing disabled CPUs, some hypervisors). The BPF side
//! indexes its per-CPU arrays by CPU id and loops over `0..nr_cpu_ids`, so it
//! needs the kernel's nr_cpu_ids, the highest possible id + 1 (6 there), not
//! the number of possible CPUs that libbpf's `num_possible_cpus()` counts (4).
//!
//! For each CPU id the balancer needs its core (for SMT), last-level cache and
//! NUMA node (from scx_utils, which reads sysfs). Ids in a hole get harmless
//! values, see `CpuMap::from_cpus`.

use std::ffi::OsStr;

use anyhow::{anyhow, Context, Result};
use scx_utils::Topology;

/// The CPUs that can ever be online, in the kernel's list format.
pub const POSSIBLE_CPUS: &str = "/sys/devices/system/cpu/possible";

/// A CPU list as the kernel prints it (`%*pbl`: "0-3,8,10-11"), as inclusive
/// ranges in the order given.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CpuList(Vec<(usize, usize)>);

impl CpuList {
    /// Parse one line of the kernel's CPU list format. Anything else (the
    /// stride form "0-7:2/4" included, which these sysfs files never print)
    /// is an error that quotes the text.
    pub fn parse(text: &str) -> Result<Self> {
        let body = text.trim();
        let bad = |why: String| anyhow!("cannot parse the CPU list {body:?}: {why}");
        if body.is_empty() {
            return Err(bad("it is empty".into()));
        }
        let id = |s: &str, part: &str| -> Result<usize> {
            if s.is_empty() || !s.bytes().all(|b| b.is_ascii_digit()) {
                return Err(bad(format!("{part:?} is not a CPU id or a range of them")));
            }
            s.parse().map_err(|_| bad(format!("{s} is too large for a CPU id")))
        };
        let mut ranges = Vec::new();
        for part in body.split(',') {
            let (lo, hi) = part.split_once('-').unwrap_or((part, part));
            let (lo, hi) = (id(lo, part)?, id(hi, part)?);
            if lo > hi {
                return Err(bad(format!("the range {part:?} runs backwards")));
            }
            ranges.push((lo, hi));
        }
        Ok(Self(ranges))
    }

    /// The machine's possible CPUs.
    pub fn possible() -> Result<Self> {
        let text = std::fs::read_to_string(POSSIBLE_CPUS).with_context(|| format!("reading {POSSIBLE_CPUS}"))?;
        Self::parse(&text).with_context(|| format!("reading {POSSIBLE_CPUS}"))
    }

    /// The kernel's nr_cpu_ids for this list: the highest id + 1, the length
    /// of any array indexed by CPU id.
    pub fn nr_cpu_ids(&self) -> usize {
        self.0.iter().map(|&(_, hi)| hi.saturating_add(1)).max().unwrap_or(0)
    }

    /// How many CPUs the list holds (each id once, even if ranges overlap).
    pub fn count(&self) -> usize {
        let mut ranges = self.0.clone();
        ranges.sort_unstable();
        let (mut count, mut next) = (0usize, 0usize);
        for (lo, hi) in ranges {
            let lo = lo.max(next);
            if lo <= hi {
                count = count.saturating_add(hi - lo + 1);
                next = hi.saturating_add(1);
            }
        }
        count
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CpuMap {
    /// Core id per CPU id (SMT siblings share one).
    pub core: Vec<u32>,
    /// LLC id per CPU id.
    pub llc: Vec<u32>,
    /// NUMA node per CPU id.
    pub node: Vec<u32>,
    /// Distinct real cores, LLCs and nodes (placeholders for unknown CPUs not counted).
    nr_cores: usize,
    nr_llcs: usize,
    nr_nodes: usize,
}

impl CpuMap {
    /// Read the machine's topology for CPU ids `0..nr_cpu_ids`.
    pub fn read(nr_cpu_ids: usize) -> Result<Self> {
        let topo = Topology::new().context("reading the CPU topology from sysfs")?;
        let online = topo.all_cpus.values().map(|c| (c.id, c.core_id, c.llc_id, c.node_id));
        Ok(Self::from_cpus(nr_cpu_ids, online, read_cpu_nodes()))
    }

    /// Build the map from (cpu, core, llc, node) of the CPUs scx_utils
    /// describes (the online ones; core ids unique machine-wide) and (cpu,
    /// node) of the CPUs registered under a NUMA node (online or not).
    ///
    /// A CPU without an LLC (offline when we read, or an id in a hole of the
    /// possible mask, which never comes online) gets a core and an LLC id of
    /// its own past the real ones, so the balancer never takes it for an SMT
    /// sibling or a cache neighbour;
    /// one without a node (a hole) gets node 0. Both are harmless: the BPF
    /// side only compares these ids, an offline CPU is skipped as a balancing
    /// target and its queue is empty, and a CPU that comes online later is at
    /// worst treated as one in another cache (the map is read at load only).
    pub fn from_cpus(
        nr_cpu_ids: usize,
        online: impl IntoIterator<Item = (usize, usize, usize, usize)>,
        nodes: impl IntoIterator<Item = (usize, usize)>,
    ) -> Self {
        let mut core = vec![None; nr_cpu_ids];
        let mut llc = vec![None; nr_cpu_ids];
        let mut node = vec![None; nr_cpu_ids];
        for (cpu, n) in nodes {
            if cpu < nr_cpu_ids {
                node[cpu] = Some(n as u32);
            }
        }
        for (cpu, c, l, n) in online {
            if cpu < nr_cpu_ids {
                core[cpu] = Some(c as u32);
                llc[cpu] = Some(l as u32);
                node[cpu] = Some(n as u32);
            }
        }
        let distinct = |v: &[Option<u32>]| {
            let mut ids: Vec<u32> = v.iter().flatten().copied().collect();
            ids.sort_unstable();
            ids.dedup();
            ids.len()
        };
        let (nr_cores, nr_llcs, nr_nodes) = (distinct(&core), distinct(&llc), distinct(&node));
        // Unknown ids get fresh ones past the real ids, one each.
        let own_ids = |ids: Vec<Option<u32>>| -> Vec<u32> {
            let mut next = ids.iter().flatten().max().map_or(0, |m| m + 1);
            ids.into_iter()
                .map(|id| {
                    id.unwrap_or_else(|| {
                        next += 1;
                        next - 1
                    })
                })
                .collect()
        };
        let (core, llc) = (own_ids(core), own_ids(llc));
        let node = node.into_iter().map(|n| n.unwrap_or(0)).collect();
        Self { core, llc, node, nr_cores, nr_llcs, nr_nodes }
    }

    pub fn nr_cores(&self) -> usize {
        self.nr_cores
    }

    /// Does some core hold more than one CPU (SMT)?
    pub fn smt(&self) -> bool {
        let mut ids = self.core.clone();
        ids.sort_unstable();
        ids.windows(2).any(|w| w[0] == w[1])
    }

    pub fn nr_llcs(&self) -> usize {
        self.nr_llcs
    }

    pub fn nr_nodes(&self) -> usize {
        self.nr_nodes
    }
}

/// (cpu, node) for every CPU listed under /sys/devices/system/node/nodeN/ as
/// cpuM. Those links stay while a CPU is offline (its topology/ and cache/
/// directories do not), so a CPU offline at load still gets its real node.
/// Without CONFIG_NUMA there is no such directory: nothing, and node 0.
fn read_cpu_nodes() -> Vec<(usize, usize)> {
    let numbered = |name: &OsStr, prefix: &str| name.to_str()?.strip_prefix(prefix)?.parse::<usize>().ok();
    let mut pairs = Vec::new();
    let Ok(nodes) = std::fs::read_dir("/sys/devices/system/node") else {
        return pairs;
    };
    for node_dir in nodes.flatten() {
        let Some(node) = numbered(&node_dir.file_name(), "node") else { continue };
        let Ok(entries) = std::fs::read_dir(node_dir.path()) else { continue };
        // "cpulist" and "cpumap" are files, not cpuM: they do not parse.
        pairs.extend(entries.flatten().filter_map(|e| numbered(&e.file_name(), "cpu")).map(|cpu| (cpu, node)));
    }
    pairs
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cpu_lists_as_the_kernel_prints_them() {
        let one = CpuList::parse("0").unwrap();
        assert_eq!((one.nr_cpu_ids(), one.count()), (1, 1));
        let dense = CpuList::parse("0-3\n").unwrap();
        assert_eq!((dense.nr_cpu_ids(), dense.count()), (4, 4));
        // A hole: the highest id + 1 is what per-CPU arrays need, not the count.
        let holes = CpuList::parse("0-1,4-5\n").unwrap();
        assert_eq!((holes.nr_cpu_ids(), holes.count()), (6, 4));
        let singles = CpuList::parse("0,2").unwrap();
        assert_eq!((singles.nr_cpu_ids(), singles.count()), (3, 2));
        assert_eq!(CpuList::parse("2-3,0-3").unwrap().count(), 4);
    }

    #[test]
    fn a_cpu_list_that_is_not_one_is_an_error_quoting_it() {
        for text in ["", "\n", "garbage", "0-", "-3", "3-1", "0,,2", "0,", "0-7:2/4", "1 2", "99999999999999999999999"] {
            let err = match CpuList::parse(text) {
                Ok(list) => panic!("{text:?} parsed as {list:?}"),
                Err(e) => e.to_string(),
            };
            assert!(err.contains(&format!("{:?}", text.trim())), "{text:?}: {err}");
        }
    }

    #[test]
    fn absent_cpus_get_their_own_llc() {
        // CPU 2 is in a hole (neither online nor under a node).
        let m = CpuMap::from_cpus(4, [(0, 0, 0, 0), (1, 1, 0, 0), (3, 2, 1, 1)], [(0, 0), (1, 0), (3, 1)]);
        assert_eq!(m.core, vec![0, 1, 3, 2]);
        assert_eq!(m.llc, vec![0, 0, 2, 1]);
        assert_eq!(m.node, vec![0, 0, 0, 1]);
        // The placeholder LLC of the hole is not a cache of the machine.
        assert_eq!(m.nr_llcs(), 2);
        assert_eq!(m.nr_nodes(), 2);
        assert_eq!(m.nr_cores(), 3);
        assert!(!m.smt());
    }

    #[test]
    fn smt_siblings_share_a_core() {
        // 2 sockets x 2 cores x 2 threads, as QEMU numbers them.
        let online = (0..8).map(|cpu| (cpu, cpu / 2, cpu / 4, cpu / 4));
        let m = CpuMap::from_cpus(8, online, (0..8).map(|cpu| (cpu, cpu / 4)));
        assert_eq!(m.core, vec![0, 0, 1, 1, 2, 2, 3, 3]);
        assert_eq!((m.nr_cores(), m.nr_llcs(), m.nr_nodes()), (4, 2, 2));
        assert!(m.smt());
    }

    #[test]
    fn sparse_ids_and_offline_cpus() {
        // possible "0-1,4-5" on two nodes; CPU 5 offline at load: it keeps
        // its node from the node directory, and gets an LLC of its own.
        let online = [(0, 0, 0, 0), (1, 1, 0, 0), (4, 2, 1, 1)];
        let nodes = [(0, 0), (1, 0), (4, 1), (5, 1)];
        let m = CpuMap::from_cpus(CpuList::parse("0-1,4-5").unwrap().nr_cpu_ids(), online, nodes);
        assert_eq!(m.llc, vec![0, 0, 2, 3, 1, 4]);
        assert_eq!(m.node, vec![0, 0, 0, 0, 1, 1]);
        assert_eq!((m.nr_llcs(), m.nr_nodes()), (2, 2));
    }

    #[test]
    fn ids_beyond_the_range_are_ignored() {
        let m = CpuMap::from_cpus(2, [(0, 3, 5, 0), (1, 4, 5, 0), (7, 8, 9, 1)], [(7, 1)]);
        assert_eq!(m.llc, vec![5, 5]);
        assert_eq!(m.nr_nodes(), 1);
    }
}
