// SPDX-License-Identifier: GPL-2.0
//! The machine's CPU topology, as the BPF balancer needs it: for each CPU id,
//! its last-level cache and its NUMA node (from scx_utils, which reads sysfs).
//! CPUs that are not present get their own LLC id past the real ones, so the
//! balancer never treats them as neighbours.

use anyhow::{Context, Result};
use scx_utils::Topology;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CpuMap {
    /// LLC id per CPU id.
    pub llc: Vec<u32>,
    /// NUMA node per CPU id.
    pub node: Vec<u32>,
}

impl CpuMap {
    /// Read the machine's topology for CPU ids `0..nr_cpu_ids`.
    pub fn read(nr_cpu_ids: usize) -> Result<Self> {
        let topo = Topology::new().context("reading the CPU topology from sysfs")?;
        let cpus = topo.all_cpus.values().map(|c| (c.id, c.llc_id, c.node_id));
        Ok(Self::from_cpus(nr_cpu_ids, cpus))
    }

    /// Build the map from (cpu, llc, node) triples; absent CPUs get unique LLCs.
    pub fn from_cpus(nr_cpu_ids: usize, cpus: impl IntoIterator<Item = (usize, usize, usize)>) -> Self {
        let mut llc = vec![u32::MAX; nr_cpu_ids];
        let mut node = vec![0u32; nr_cpu_ids];
        let mut max_llc = 0u32;
        for (cpu, l, n) in cpus {
            if cpu < nr_cpu_ids {
                llc[cpu] = l as u32;
                node[cpu] = n as u32;
                max_llc = max_llc.max(l as u32);
            }
        }
        for (next, l) in (max_llc + 1..).zip(llc.iter_mut().filter(|l| **l == u32::MAX)) {
            *l = next;
        }
        Self { llc, node }
    }

    pub fn nr_llcs(&self) -> usize {
        let mut v = self.llc.clone();
        v.sort_unstable();
        v.dedup();
        v.len()
    }

    pub fn nr_nodes(&self) -> usize {
        let mut v = self.node.clone();
        v.sort_unstable();
        v.dedup();
        v.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn absent_cpus_get_their_own_llc() {
        let m = CpuMap::from_cpus(4, [(0, 0, 0), (1, 0, 0), (3, 1, 1)]);
        assert_eq!(m.llc, vec![0, 0, 2, 1]);
        assert_eq!(m.node, vec![0, 0, 0, 1]);
        assert_eq!(m.nr_llcs(), 3);
        assert_eq!(m.nr_nodes(), 2);
    }

    #[test]
    fn ids_beyond_the_range_are_ignored() {
        let m = CpuMap::from_cpus(2, [(0, 5, 0), (1, 5, 0), (7, 9, 1)]);
        assert_eq!(m.llc, vec![5, 5]);
        assert_eq!(m.nr_nodes(), 1);
    }
}
