// SPDX-License-Identifier: GPL-2.0
//! Host tests of CFS's arithmetic: src/bpf/cfs.bpf.h, the header the BPF
//! scheduler inlines, compiled by build.rs into the host library
//! (src/bpf/cfs_host.c) and called through FFI. Test-only (main.rs builds it
//! under #[cfg(test)]).
//!
//! The expected values are worked out here from Linux v6.5
//! kernel/sched/fair.c's formulas (and kernel/sched/core.c's weight tables),
//! by hand or with the kernel's own fixed-point arithmetic, not by calling
//! the header again.

use std::os::raw::c_int;

extern "C" {
    fn fairrs_cfs_weight(nice: i32, idle: c_int) -> u32;
    fn fairrs_cfs_scale(delta: u64, weight: u32) -> u64;
    fn fairrs_cfs_slice(weight: u32, load: u64, nr_running: u64, latency: u64, min_gran: u64) -> u64;
    fn fairrs_cfs_place_new(floor: u64, weight: u32, slice: u64, parent_lag: i64) -> u64;
    fn fairrs_cfs_place_waking(vruntime: u64, floor: u64, thresh: u64) -> u64;
    fn fairrs_cfs_group_thresh(thresh: u64, task_weight: u32, weight: u32) -> u64;
    fn fairrs_cfs_ideal_runtime(slice: u64, latency: u64) -> u64;
    fn fairrs_cfs_wakeup_preempts(wakee_vr: u64, weight: u32, curr_vr: u64, gran: u64) -> c_int;
    fn fairrs_cfs_yield_skips(yielder_vr: u64, weight: u32, next_vr: u64, gran: u64) -> c_int;
    fn fairrs_cfs_tick_preempts(
        ran: u64,
        ideal: u64,
        min_gran: u64,
        curr_vr: u64,
        has_leftmost: c_int,
        leftmost_vr: u64,
    ) -> c_int;
    fn fairrs_cfs_min_vruntime(floor: u64, has_curr: c_int, curr_vr: u64, has_leftmost: c_int, leftmost_vr: u64) -> u64;
    fn fairrs_cfs_rebase(v: u64, from: u64, to: u64) -> u64;
    fn fairrs_cfs_lag_limit(floor: u64, load: u64, guard_ns: u64) -> u64;
    fn fairrs_cfs_fair_step(dt: u64, load: u64) -> u64;
    fn fairrs_cfs_fair_entitled(weight: u32, dclock: u64) -> u64;
}

// SAFETY (every wrapper): pure functions of their arguments.
fn weight(nice: i32) -> u32 {
    unsafe { fairrs_cfs_weight(nice, 0) }
}
fn idle_weight() -> u32 {
    unsafe { fairrs_cfs_weight(0, 1) }
}
fn scale(delta: u64, w: u32) -> u64 {
    unsafe { fairrs_cfs_scale(delta, w) }
}
fn slice(w: u32, load: u64, nr: u64) -> u64 {
    unsafe { fairrs_cfs_slice(w, load, nr, LATENCY, MIN_GRAN) }
}
fn place_new(floor: u64, w: u32, slice: u64, parent_lag: i64) -> u64 {
    unsafe { fairrs_cfs_place_new(floor, w, slice, parent_lag) }
}
fn place_waking(v: u64, floor: u64) -> u64 {
    unsafe { fairrs_cfs_place_waking(v, floor, LATENCY) }
}
fn place_waking_idle(v: u64, floor: u64) -> u64 {
    unsafe { fairrs_cfs_place_waking(v, floor, MIN_GRAN) }
}
fn ideal_runtime(slice: u64) -> u64 {
    unsafe { fairrs_cfs_ideal_runtime(slice, LATENCY) }
}
fn wakeup_preempts(wakee: u64, w: u32, curr: u64) -> bool {
    unsafe { fairrs_cfs_wakeup_preempts(wakee, w, curr, WAKEUP_GRAN) != 0 }
}
fn yield_skips(yielder: u64, w: u32, next: u64) -> bool {
    unsafe { fairrs_cfs_yield_skips(yielder, w, next, WAKEUP_GRAN) != 0 }
}
fn tick_preempts(ran: u64, ideal: u64, curr: u64, leftmost: Option<u64>) -> bool {
    unsafe { fairrs_cfs_tick_preempts(ran, ideal, MIN_GRAN, curr, leftmost.is_some().into(), leftmost.unwrap_or(0)) != 0 }
}
fn min_vruntime(floor: u64, curr: u64, leftmost: Option<u64>) -> u64 {
    unsafe { fairrs_cfs_min_vruntime(floor, 1, curr, leftmost.is_some().into(), leftmost.unwrap_or(0)) }
}
fn min_vruntime_asleep(floor: u64, leftmost: Option<u64>) -> u64 {
    unsafe { fairrs_cfs_min_vruntime(floor, 0, 0, leftmost.is_some().into(), leftmost.unwrap_or(0)) }
}
fn rebase(v: u64, from: u64, to: u64) -> u64 {
    unsafe { fairrs_cfs_rebase(v, from, to) }
}
fn lag_limit(floor: u64, load: u64, guard: u64) -> u64 {
    unsafe { fairrs_cfs_lag_limit(floor, load, guard) }
}
fn fair_step(dt: u64, load: u64) -> u64 {
    unsafe { fairrs_cfs_fair_step(dt, load) }
}
fn fair_entitled(w: u32, dclock: u64) -> u64 {
    unsafe { fairrs_cfs_fair_entitled(w, dclock) }
}

/// The defaults (CFS's unscaled sysctls): sched_latency 6 ms,
/// min_granularity 0.75 ms, wakeup_granularity 1 ms.
const LATENCY: u64 = 6_000_000;
const MIN_GRAN: u64 = 750_000;
const WAKEUP_GRAN: u64 = 1_000_000;

#[test]
fn cfs_weights_are_the_kernels_table() {
    // sched_prio_to_weight[] at both ends, around nice 0, and WEIGHT_IDLEPRIO.
    let table = [(-20, 88761), (-5, 3121), (-1, 1277), (0, 1024), (1, 820), (5, 335), (19, 15)];
    for (nice, w) in table {
        assert_eq!(weight(nice), w, "nice {nice}");
    }
    assert_eq!(idle_weight(), 3);
    // Each level is ~1.25x the next (the "10% per nice level" rule).
    for nice in -20..19 {
        let r = weight(nice) as f64 / weight(nice + 1) as f64;
        assert!((1.2..1.3).contains(&r), "nice {nice}: ratio {r}");
    }
    // Out of range (the kernel never asks): clamped to the ends.
    assert_eq!(weight(-25), 88761);
    assert_eq!(weight(25), 15);
}

#[test]
fn cfs_scale_matches_the_kernels_fixed_point() {
    // __calc_delta(delta, NICE_0_LOAD, lw): delta * 1024 * inv_weight >> 32,
    // inv_weight from sched_prio_to_wmult[] (2^32 / weight, rounded). Ours is
    // the exact quotient; the kernel's fixed point is off it by at most a
    // relative 2^-32 x weight (under 1e-7 here).
    let wmult = [(1024u32, 4194304u64), (335, 12820798), (3121, 1376151), (15, 286331153), (88761, 48388)];
    for delta in [1_000_000u64, 4_000_000, 123_456_789] {
        for (w, inv) in wmult {
            let kernel = ((delta as u128 * 1024 * inv as u128) >> 32) as u64;
            let ours = scale(delta, w);
            let slack = (ours as f64 * w as f64 / 4294967296.0) as u64 + 1;
            assert!(ours.abs_diff(kernel) <= slack, "delta {delta} weight {w}: {ours} vs kernel {kernel}");
        }
    }
    assert_eq!(scale(1_000_000, 1024), 1_000_000, "nice 0 runs at wall-clock rate");
    assert_eq!(scale(1_000_000, 2048), 500_000);
    assert_eq!(scale(1_000_000, 0), 1_024_000_000, "a zero weight is taken as 1, not a division by zero");
}

#[test]
fn cfs_slices_share_the_period_by_weight() {
    let w0 = weight(0);
    // One task: the whole latency.
    assert_eq!(slice(w0, 1024, 1), 6_000_000);
    // Four nice-0 tasks: a quarter each.
    assert_eq!(slice(w0, 4 * 1024, 4), 1_500_000);
    // Nine: the period stretches to 9 x min_granularity (6.75 ms), 750 us each.
    assert_eq!(slice(w0, 9 * 1024, 9), 750_000);
    // Nice 0 beside nice 5: 6 ms x 1024 / 1359 and 6 ms x 335 / 1359.
    assert_eq!(slice(w0, 1359, 2), 4_520_971);
    assert_eq!(slice(weight(5), 1359, 2), 1_479_028);
    // Nice 19 among eight nice-0: 6.75 ms x 15 / 8207 = 12337 ns, floored
    // to min_granularity (BASE_SLICE).
    assert_eq!(slice(weight(19), 8 * 1024 + 15, 9), MIN_GRAN);
    // A task not yet counted in the queue's load (load < its weight) is
    // sliced as if it were alone, never more than the period.
    assert_eq!(slice(w0, 0, 0), 6_000_000);
}

#[test]
fn cfs_placement_debits_new_tasks_and_bounds_sleepers() {
    let floor = 1_000_000_000;
    // START_DEBIT: one virtual slice after the floor.
    assert_eq!(place_new(floor, 1024, 1_500_000, 0), floor + 1_500_000);
    assert_eq!(place_new(floor, 335, 1_500_000, 0), floor + 4_585_074, "1.5 ms x 1024 / 335");
    // task_fork_fair(): the child starts at its parent's vruntime when that
    // is later (the parent 2 ms past its floor), else one vslice in.
    assert_eq!(place_new(floor, 1024, 1_500_000, 2_000_000), floor + 2_000_000);
    assert_eq!(place_new(floor, 1024, 1_500_000, 1_000_000), floor + 1_500_000);
    assert_eq!(place_new(floor, 1024, 1_500_000, -3_000_000), floor + 1_500_000, "a parent behind the floor");
    // GENTLE_FAIR_SLEEPERS: at most latency / 2 of credit...
    assert_eq!(place_waking(floor - 500_000_000, floor), floor - 3_000_000);
    // ...and a task already ahead of that keeps its own vruntime.
    assert_eq!(place_waking(floor - 1_000_000, floor), floor - 1_000_000);
    assert_eq!(place_waking(floor + 7, floor), floor + 7);
    // A SCHED_IDLE sleeper gets min_granularity / 2 (se_is_idle()).
    assert_eq!(place_waking_idle(floor - 500_000_000, floor), floor - 375_000);
    // Near zero the credit wraps like the kernel's u64 vruntimes and still
    // orders correctly.
    assert_eq!(place_waking(0, 1_000), 0, "0 is after 1000 - 3 ms (wrapped)");
}

#[test]
fn cfs_sleeper_credit_in_a_group_is_worth_what_it_is_on_the_groups_clock() {
    let group_thresh = |task_weight, weight| unsafe { fairrs_cfs_group_thresh(LATENCY, task_weight, weight) };
    // Outside a group (flat weight = own weight): unchanged.
    assert_eq!(group_thresh(1024, 1024), LATENCY);
    // A nice-0 task that weighs 64 from the root (16 busy siblings): its
    // flat vruntime runs 16 times as fast, so the credit is 16 times as much
    // vruntime, which is the same CPU time as CFS's in the group's queue.
    assert_eq!(group_thresh(1024, 64), 16 * LATENCY);
    let floor = 1_000_000_000_000;
    let placed = unsafe { fairrs_cfs_place_waking(0, floor, group_thresh(1024, 64)) };
    // CPU time = vruntime x weight / NICE_0_LOAD.
    assert_eq!((floor - placed) * 64 / 1024, floor - place_waking(0, floor), "the same CPU time of credit");
    // A task that weighs more than itself (a heavy group's only task): less.
    assert_eq!(group_thresh(1024, 10240), LATENCY / 10);
    // No weight yet: unchanged.
    assert_eq!(group_thresh(1024, 0), LATENCY);
}

#[test]
fn cfs_wakeup_preemption_needs_the_granularity_lead() {
    let curr = 10_000_000;
    assert!(wakeup_preempts(8_500_000, 1024, curr), "1.5 ms behind, gran 1 ms");
    assert!(!wakeup_preempts(9_500_000, 1024, curr), "0.5 ms behind is not enough");
    assert!(!wakeup_preempts(9_000_000, 1024, curr), "exactly the granularity is not enough");
    // wakeup_gran() scales to the wakee: a weight-2048 wakee needs 0.5 ms,
    // a nice-5 one 1 ms x 1024 / 335 = 3.06 ms.
    assert!(wakeup_preempts(9_400_000, 2048, curr));
    assert!(!wakeup_preempts(7_000_000, 335, curr));
    assert!(wakeup_preempts(6_900_000, 335, curr));
}

#[test]
fn cfs_yield_skips_the_yielder_only_within_the_granularity() {
    // pick_next_entity(): the yielder (leftmost) gives way to the next task
    // when wakeup_preempt_entity(next, yielder) < 1, i.e. when next leads it
    // by at most wakeup_gran(yielder) = 1 ms x 1024 / weight.
    let yielder = 10_000_000;
    assert!(yield_skips(yielder, 1024, 10_000_000), "level: skipped");
    assert!(yield_skips(yielder, 1024, 10_500_000), "0.5 ms ahead: skipped");
    assert!(yield_skips(yielder, 1024, 11_000_000), "exactly the granularity: skipped");
    assert!(!yield_skips(yielder, 1024, 11_000_001), "further ahead: the yielder runs on");
    // Scaled to the yielder's weight: nice 5 (335) has 3.06 ms, weight 2048 0.5 ms.
    assert!(yield_skips(yielder, 335, 13_000_000));
    assert!(!yield_skips(yielder, 335, 13_100_000));
    assert!(!yield_skips(yielder, 2048, 10_600_000));
}

#[test]
fn cfs_ideal_runtime_is_capped_at_the_latency() {
    // 2 nice-0 and 30 SCHED_IDLE tasks: the period is 32 x 0.75 ms = 24 ms,
    // and a nice-0 task's part of it 24 ms x 1024 / 2138 = 11.49 ms; CFS
    // runs it at most sched_latency (check_preempt_tick()).
    let s = slice(weight(0), 2 * 1024 + 30 * 3, 32);
    assert_eq!(s, 11_494_855);
    assert_eq!(ideal_runtime(s), LATENCY);
    assert_eq!(ideal_runtime(1_500_000), 1_500_000, "a slice within the latency is kept");
}

#[test]
fn cfs_tick_preemption_ends_overlong_or_leading_slices() {
    let ideal = 2_000_000;
    assert!(tick_preempts(2_000_001, ideal, 0, None), "ran past its ideal slice");
    assert!(!tick_preempts(2_000_000, ideal, 0, None));
    // Leading the leftmost by more than the ideal slice, after min_granularity.
    assert!(tick_preempts(1_000_000, ideal, 12_500_000, Some(10_000_000)));
    assert!(!tick_preempts(1_000_000, ideal, 11_500_000, Some(10_000_000)), "a lead of 1.5 ms < 2 ms");
    assert!(!tick_preempts(500_000, ideal, 15_000_000, Some(10_000_000)), "not before min_granularity");
    assert!(!tick_preempts(1_000_000, ideal, 8_000_000, Some(10_000_000)), "behind the leftmost");
}

#[test]
fn cfs_min_vruntime_follows_the_smaller_of_running_and_leftmost() {
    assert_eq!(min_vruntime(100, 150, Some(120)), 120);
    assert_eq!(min_vruntime(100, 110, Some(120)), 110);
    assert_eq!(min_vruntime(100, 150, None), 150, "alone: the running task drags the floor");
    assert_eq!(min_vruntime(100, 90, Some(80)), 100, "never back");
    assert_eq!(min_vruntime(u64::MAX - 5, 10, None), 10, "forward across the wrap");
    // The task that stopped is going to sleep: only the leftmost counts.
    assert_eq!(min_vruntime_asleep(100, Some(120)), 120);
    assert_eq!(min_vruntime_asleep(100, Some(80)), 100, "never back");
    assert_eq!(min_vruntime_asleep(100, None), 100, "nothing left: the floor stays");
}

#[test]
fn cfs_rebase_keeps_the_distance_to_the_floor() {
    let (from, to) = (1_000_000_000, 3_000_000_000);
    assert_eq!(rebase(from + 5_000_000, from, to), to + 5_000_000);
    assert_eq!(rebase(from - 2_000_000, from, to), to - 2_000_000);
    // Across the u64 wrap: still the same distance.
    assert_eq!(rebase(u64::MAX - 9, u64::MAX - 10, 5), 6);
}

#[test]
fn cfs_lag_limit_is_the_guard_in_vruntime() {
    let floor = 1_000_000_000;
    assert_eq!(lag_limit(floor, 1024, 5_000_000_000), floor + 5_000_000_000);
    assert_eq!(lag_limit(floor, 0, 5_000_000_000), floor + 5_000_000_000, "an empty queue counts as nice 0");
    // Three nice -20 hogs: the floor moves 1024 / 266283 as fast, so the
    // vruntime lead allowed is that much smaller.
    assert_eq!(lag_limit(floor, 3 * 88761, 5_000_000_000), floor + 19_227_663);
}

#[test]
fn fair_clock_shares_a_queue_by_weight() {
    // Nice 0 and nice 5 runnable together on one queue (load 1359) for 1 s:
    // owed 1024/1359 and 335/1359 of it (753495217.07 and 246504782.93 ns).
    let d = fair_step(1_000_000_000, 1359);
    let (a, b) = (fair_entitled(1024, d), fair_entitled(335, d));
    assert!(a.abs_diff(753_495_217) <= 1 && b.abs_diff(246_504_783) <= 1, "{a} {b}");
    // Together they are owed the second, less the fixed point's rounding.
    assert!((999_999_998..=1_000_000_000).contains(&(a + b)), "{}", a + b);
    // The clock advanced tick by tick owes the same, within a ns per tick.
    let ticks: u64 = (0..250).map(|_| fair_step(4_000_000, 1359)).sum();
    assert!(fair_entitled(1024, ticks).abs_diff(a) <= 250, "{}", fair_entitled(1024, ticks));
    // An empty queue's clock stands still.
    assert_eq!(fair_step(1_000_000, 0), 0);
    // A nice -20 task alone for an hour is owed the hour.
    let hour = 3_600_000_000_000u64;
    assert!(fair_entitled(88761, fair_step(hour, 88761)).abs_diff(hour) <= 3);
    // A stretch too long for the fixed point is clamped to 2^47 ns, not
    // wrapped, and owing it does not overflow at the lightest load.
    assert_eq!(fair_step(u64::MAX, 2), 1 << 62);
    assert_eq!(fair_entitled(2, fair_step(u64::MAX, 2)), 1 << 47);
}
