// SPDX-License-Identifier: GPL-2.0
//! Host tests of the balancer's and the task groups' arithmetic:
//! src/bpf/share.bpf.h, the header the BPF scheduler inlines, compiled by
//! build.rs into the host library (src/bpf/share_host.c) and called through
//! FFI. Test-only (main.rs builds it under #[cfg(test)]).
//!
//! The expected values are worked out here from Linux v6.5
//! kernel/sched/fair.c's formulas (detach_tasks(), calc_group_shares()) and
//! kernel/sched/core.c's cpu.weight conversions, by hand, not by calling the
//! header again.

extern "C" {
    fn fairrs_share_max_load(gap: u64, imbalance_pct: u32, failed: u32) -> u64;
    fn fairrs_share_swap_max_load(gap: u64) -> u64;
    fn fairrs_share_swap_min_load(lightest: u64, gap: u64) -> u64;
    fn fairrs_share_of_cpu_weight(cpu_weight: u32) -> u32;
    fn fairrs_share_cpu_weight(shares: u32) -> u32;
    fn fairrs_share_task_weight(task_weight: u32, shares: *const u32, loads: *const i64, levels: u32) -> u32;
    fn fairrs_share_sync_replay(contrib: *mut i64, parent_sum: *mut i64);
}

// SAFETY (every wrapper): pure functions of their arguments; the arrays
// passed to fairrs_share_task_weight() hold `levels` entries each.
fn max_load(gap: u64, failed: u32) -> u64 {
    unsafe { fairrs_share_max_load(gap, IMBALANCE_PCT, failed) }
}
fn max_load_pct(gap: u64, pct: u32, failed: u32) -> u64 {
    unsafe { fairrs_share_max_load(gap, pct, failed) }
}
fn swap_max_load(gap: u64) -> u64 {
    unsafe { fairrs_share_swap_max_load(gap) }
}
fn swap_min_load(lightest: u64, gap: u64) -> u64 {
    unsafe { fairrs_share_swap_min_load(lightest, gap) }
}
fn of_cpu_weight(cpu_weight: u32) -> u32 {
    unsafe { fairrs_share_of_cpu_weight(cpu_weight) }
}
fn cpu_weight(shares: u32) -> u32 {
    unsafe { fairrs_share_cpu_weight(shares) }
}
/// A task of `w` in the groups `levels` (its own first): (shares, load) each.
fn task_weight(w: u32, levels: &[(u32, i64)]) -> u32 {
    let shares: Vec<u32> = levels.iter().map(|l| l.0).collect();
    let loads: Vec<i64> = levels.iter().map(|l| l.1).collect();
    unsafe { fairrs_share_task_weight(w, shares.as_ptr(), loads.as_ptr(), levels.len() as u32) }
}

/// CFS's default imbalance_pct within a node (117, the daemon's default).
const IMBALANCE_PCT: u32 = 117;
/// sched_prio_to_weight[] for nice 0 and 5.
const NICE_0: u64 = 1024;
const NICE_5: u64 = 335;

#[test]
fn share_max_load_is_half_the_gap_relaxed_per_failed_round() {
    // No gap, nothing to move.
    assert_eq!(max_load(0, 0), 0);
    assert_eq!(max_load(0, 3), 0);
    // Two nice-0 tasks (2048) against two nice-5 (670): gap 1378. At first
    // only a task of at most half of it moves (detach_tasks() with
    // nr_balance_failed 0 compares the load itself with the imbalance,
    // gap / 2 between two CPUs): a nice-0 task (1024) does not.
    let gap = 2 * NICE_0 - 2 * NICE_5;
    assert_eq!(gap, 1378);
    assert_eq!(max_load(gap, 0), 689);
    assert!(NICE_0 > max_load(gap, 0));
    // After a failed round the bound doubles (shr_bound(load, 1)), but never
    // past the gap less the imbalance threshold: 1378 x 100 / 117 = 1177.
    assert_eq!(max_load(gap, 1), 1177);
    assert!(NICE_0 <= max_load(gap, 1), "a nice-0 task moves after one failed round");
    // Failed rounds beyond BALANCE_MAX_FAILED (4) relax it no further.
    for failed in 2..10 {
        assert_eq!(max_load(gap, failed), 1177, "failed {failed}");
    }
    // Below the cap the doubling shows: with imbalance_pct 400 the cap is a
    // quarter of the gap, under half of it.
    assert_eq!(max_load_pct(1000, 400, 0), 500, "a first round is never capped");
    assert_eq!(max_load_pct(1000, 400, 1), 250);
    assert_eq!(max_load_pct(1000, 125, 1), 800, "across nodes: 1000 x 100 / 125");
    // Odd gaps halve down, as the kernel's integer division does.
    assert_eq!(max_load(1001, 0), 500);
}

#[test]
fn share_max_load_leaves_equal_tasks_alone() {
    // Five nice-0 hogs on four CPUs: one CPU has two (2048), the others one.
    // Moving one (load 1024 over a gap of 1024) would only move the
    // imbalance, so however many rounds fail, no nice-0 task fits.
    let gap = 2 * NICE_0 - NICE_0;
    for failed in 0..8 {
        let bound = max_load(gap, failed);
        assert!(bound < NICE_0, "failed {failed}: bound {bound}");
    }
    assert_eq!(max_load(gap, 4), 875, "1024 x 100 / 117");
}

#[test]
fn share_swap_starts_and_completes_a_swap_of_two() {
    // Stuck: two nice-0 tasks (2048) against three nice-5 (1005). Fully
    // relaxed, the bound (1043 x 100 / 117 = 891) still stops a nice-0 task.
    let (src, dst) = (2 * NICE_0, 3 * NICE_5);
    let gap = src - dst;
    assert_eq!(gap, 1043);
    assert_eq!(max_load(gap, 4), 891);
    // The swap's first move may carry just under the gap (less 1/64 of it)...
    assert_eq!(swap_max_load(gap), 1043 - 16);
    // ...and at least the lightest task waiting at dst plus over half the gap.
    assert_eq!(swap_min_load(NICE_5, gap), 335 + 521 + 1);
    assert!((swap_min_load(NICE_5, gap)..=swap_max_load(gap)).contains(&NICE_0));
    // After it: 1024 against 2029, and a nice-5 task goes back at once (no
    // failed round needed), leaving 1359 against 1694.
    let (src2, dst2) = (src - NICE_0, dst + NICE_0);
    assert!(NICE_5 <= max_load(dst2 - src2, 0));
    let (src3, dst3) = (src2 + NICE_5, dst2 - NICE_5);
    assert_eq!((src3, dst3), (1359, 1694));
    // Each move lowers the sum of the squared loads, so nothing cycles.
    let sq = |a: u64, b: u64| a * a + b * b;
    assert!(sq(src, dst) > sq(src2, dst2) && sq(src2, dst2) > sq(src3, dst3));
}

#[test]
fn share_swap_bounds_always_let_the_light_task_return() {
    // For any gap and lightest task at the destination, a first move within
    // [swap_min_load, swap_max_load] lowers the pair's larger load and the
    // sum of their squares, and leaves a new gap whose half (the bound of a
    // first round) fits the lightest task, so the swap completes.
    for gap in (64..4000u64).step_by(17) {
        let src = 10_000u64;
        let dst = src - gap;
        for lightest in (0..gap).step_by(31) {
            let (lo, hi) = (swap_min_load(lightest, gap), swap_max_load(gap));
            for load in lo..=hi {
                let (s, d) = (src - load, dst + load);
                assert!(s.max(d) < src, "gap {gap} load {load}: the larger load did not drop");
                assert!(s * s + d * d < src * src + dst * dst);
                assert!(lightest <= max_load(d - s, 0), "gap {gap} lightest {lightest} load {load}");
            }
        }
    }
}

#[test]
fn share_cpu_weight_converts_as_the_kernel() {
    // cpu_weight_write_u64(): DIV_ROUND_CLOSEST_ULL(weight * 1024, 100).
    for (w, shares) in [(100, 1024), (1, 10), (50, 512), (200, 2048), (33, 338), (10000, 102400)] {
        assert_eq!(of_cpu_weight(w), shares, "cpu.weight {w}");
    }
    // cpu_weight_read_u64(): DIV_ROUND_CLOSEST_ULL(shares * 100, 1024), here
    // for autogroups, whose shares are a nice level's weight.
    for (shares, w) in [(1024, 100), (88761, 8668), (335, 33), (15, 1)] {
        assert_eq!(cpu_weight(shares), w, "shares {shares}");
    }
    // Every cpu.weight survives the round trip, as the kernel's file does.
    for w in 1..=10000 {
        assert_eq!(cpu_weight(of_cpu_weight(w)), w);
    }
}

#[test]
fn share_task_weight_is_the_product_of_shares_over_loads() {
    // In no group: the task's own weight.
    assert_eq!(task_weight(1024, &[]), 1024);
    assert_eq!(task_weight(15, &[]), 15);
    // Four nice-0 tasks in a cpu.weight-100 group: each weighs
    // 1024 x 1024 / 4096 from the root.
    assert_eq!(task_weight(1024, &[(1024, 4096)]), 256);
    // Three: 1024 x 1024 / 3072 = 341.33, truncated in 16-bit fixed point
    // ((1024 << 16) x 1024 / 3072 = 22369621, >> 16 = 341).
    assert_eq!(task_weight(1024, &[(1024, 3072)]), 341);
    // A lone task weighs its group's shares, whatever its own weight.
    assert_eq!(task_weight(335, &[(2048, 335)]), 2048);
    // Nested: A (cpu.weight 200, 2048) holds a nice-0 task of its own and B
    // (cpu.weight 100, 1024) with two nice-0 tasks. load(B) = 2048,
    // load(A) = 1024 + B's shares 1024 = 2048. A task in B weighs
    // 1024 x 1024/2048 x 2048/2048 = 512, A's own 1024 x 2048/2048 = 1024:
    // together A's shares, 2 x 512 + 1024 = 2048.
    let in_b = task_weight(1024, &[(1024, 2048), (2048, 2048)]);
    let in_a = task_weight(1024, &[(2048, 2048)]);
    assert_eq!((in_b, in_a), (512, 1024));
    assert_eq!(2 * in_b + in_a, 2048);
    // A group with no load counted yet (a race with its first task) leaves
    // the weight as it is at that level.
    assert_eq!(task_weight(1024, &[(4096, 0)]), 1024);
    assert_eq!(task_weight(1024, &[(4096, -5)]), 1024);
}

#[test]
fn share_task_weights_add_up_to_the_groups_shares() {
    // calc_group_shares() gives a group's entities, over all CPUs, its
    // shares; its tasks' flattened weights add up to them (less the
    // fixed point's truncation, under one unit per task), at any depth.
    for (n, shares) in [(3u32, 1024u32), (7, 338), (160, 10240), (5, 102400)] {
        let load = n as i64 * 1024;
        let each = task_weight(1024, &[(shares, load)]);
        let sum = n * each;
        assert!(sum <= shares && shares - sum < n, "{n} tasks in {shares}: {sum}");
    }
    // Mixed nice levels, two levels deep: group B (shares 512) holds a
    // nice-0 and a nice-5 task, its parent A (shares 3000) B and a nice -5
    // task (3121).
    let b_load = (NICE_0 + NICE_5) as i64;
    let a_load = 3121 + 512;
    let w0 = task_weight(1024, &[(512, b_load), (3000, a_load)]);
    let w5 = task_weight(335, &[(512, b_load), (3000, a_load)]);
    let wa = task_weight(3121, &[(3000, a_load)]);
    // By hand: 1024 x 512/1359 x 3000/3633 = 318.6, 335 x ... = 104.2,
    // 3121 x 3000/3633 = 2577.2.
    assert_eq!((w0, w5, wa), (318, 104, 2577));
    assert!((2998..=3000).contains(&(w0 + w5 + wa)));
}

#[test]
fn share_task_weight_keeps_min_shares() {
    // cpu.weight 1 (shares 10) with ten nice-0 tasks: each would weigh 1;
    // calc_group_shares() clamps at MIN_SHARES (2).
    assert_eq!(of_cpu_weight(1), 10);
    assert_eq!(task_weight(1024, &[(10, 10 * 1024)]), 2);
    // A SCHED_IDLE task (3) in a crowded group too.
    assert_eq!(task_weight(3, &[(1024, 100 * 1024)]), 2);
}

/// Three CPUs racing on one group's contribution (share_host.c's replay: a
/// sync reads the state, then two other CPUs' tasks leave before its
/// exchange): the group ends idle and must add nothing to its parent. A sync
/// that trusted its first read would leave a phantom 1024 there.
#[test]
fn share_sync_contrib_leaves_no_phantom_after_a_three_cpu_race() {
    let (mut contrib, mut parent_sum) = (-1i64, -1i64);
    // SAFETY: both pointers are to live i64s.
    unsafe { fairrs_share_sync_replay(&mut contrib, &mut parent_sum) };
    assert_eq!((contrib, parent_sum), (0, 0));
}
