// SPDX-License-Identifier: GPL-2.0
//! Host tests of PELT load tracking: the maths of src/bpf/pelt.bpf.h, the
//! header the BPF scheduler inlines, compiled by build.rs into a small static
//! library (src/bpf/pelt_host.c) and called through FFI. Test-only (main.rs
//! builds it under #[cfg(test)]).
//!
//! The signals are the kernel's (kernel/sched/pelt.c): geometric sums over
//! periods of 1024 "us" (1024 ns each), decayed by y per period with
//! y^32 = 1/2, and averages in 0..1024 (util, runnable per task) or in weight
//! units (load). The tests below check the header against the maths,
//! computed independently in f64.

use std::os::raw::c_int;

use crate::bpf_intf::fairrs_pelt;

/// One period in "us" (PELT_PERIOD_US in pelt.bpf.h).
pub const PELT_PERIOD_US: u64 = 1024;
/// One period in ns: 1024 "us" of 1024 ns.
pub const PELT_PERIOD_NS: u64 = PELT_PERIOD_US << 10;
/// Half-life in periods (LOAD_AVG_PERIOD).
pub const LOAD_AVG_PERIOD: u64 = 32;
/// Largest sum of 1024-per-period contributions (LOAD_AVG_MAX).
pub const LOAD_AVG_MAX: u64 = 47742;

extern "C" {
    fn fairrs_pelt_init(sa: *mut fairrs_pelt, now_ns: u64);
    fn fairrs_pelt_update(
        sa: *mut fairrs_pelt,
        now_ns: u64,
        load: u64,
        runnable: u64,
        running: c_int,
        avg_weight: u64,
    ) -> c_int;
    fn fairrs_pelt_decay(val: u64, n: u64) -> u64;
}

/// `val * y^n` with y^32 = 1/2, in the kernel's integer arithmetic
/// (pelt_decay(), the kernel's decay_load()).
pub fn decay(val: u64, n: u64) -> u64 {
    // SAFETY: a pure function of its arguments.
    unsafe { fairrs_pelt_decay(val, n) }
}

/// One entity's PELT signals: a task's or a CPU queue's. Transparent over
/// the bindgen struct, so it has the layout the BPF side writes.
#[derive(Debug, Clone, Copy)]
#[repr(transparent)]
pub struct Pelt(fairrs_pelt);

impl Pelt {
    /// Starts tracking at `now_ns` with no history (pelt_init()).
    pub fn new(now_ns: u64) -> Self {
        // SAFETY: fairrs_pelt is plain integers, for which zero is valid, and
        // fairrs_pelt_init() only writes through the pointer it is given.
        unsafe {
            let mut raw: fairrs_pelt = std::mem::zeroed();
            fairrs_pelt_init(&mut raw, now_ns);
            Self(raw)
        }
    }

    /// Accounts the time since the last update to `now_ns`, spent in the
    /// state the arguments describe (pelt_update(); see pelt.bpf.h for what
    /// a task and a queue pass). Returns whether the averages were
    /// recomputed, which happens when a period boundary was crossed.
    pub fn update(&mut self, now_ns: u64, load: u64, runnable: u64, running: bool, avg_weight: u64) -> bool {
        // SAFETY: self.0 is a valid, exclusively borrowed fairrs_pelt.
        unsafe {
            fairrs_pelt_update(&mut self.0, now_ns, load, runnable, c_int::from(running), avg_weight) != 0
        }
    }

    /// A task's update: runnable (queued or running), running (on a CPU),
    /// and its weight.
    pub fn update_task(&mut self, now_ns: u64, runnable: bool, running: bool, weight: u64) -> bool {
        self.update(now_ns, u64::from(runnable), u64::from(runnable), running, weight)
    }

    /// A CPU queue's update: the sum of its queued weights, its number of
    /// runnable tasks (running included), and whether a task runs there.
    pub fn update_queue(&mut self, now_ns: u64, load_weight: u64, nr_running: u64, running: bool) -> bool {
        self.update(now_ns, load_weight, nr_running, running, 1)
    }

    pub fn raw(&self) -> &fairrs_pelt {
        &self.0
    }

    pub fn load_avg(&self) -> u64 {
        self.0.load_avg
    }

    pub fn runnable_avg(&self) -> u64 {
        self.0.runnable_avg
    }

    pub fn util_avg(&self) -> u64 {
        self.0.util_avg
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const US: u64 = 1 << 10; // PELT's microsecond: 1024 ns
    const MS: u64 = 1_000_000;
    const NICE_0: u64 = 1024;
    const NICE_5: u64 = 335;
    /// Arbitrary start, far from 0 so nothing relies on time starting there.
    const T0: u64 = 123_456_789_012;

    /// y, the per-period decay factor: y^32 = 1/2.
    fn y() -> f64 {
        0.5f64.powf(1.0 / 32.0)
    }

    fn within(what: &str, got: f64, want: f64, tol: f64) {
        assert!((got - want).abs() <= tol, "{what}: got {got}, want {want} +- {tol}");
    }

    fn fields(p: &Pelt) -> [u64; 8] {
        let r = p.raw();
        [
            r.last_update_ns,
            r.load_sum,
            r.runnable_sum,
            r.util_sum,
            u64::from(r.period_contrib),
            r.load_avg,
            r.runnable_avg,
            r.util_avg,
        ]
    }

    /// Deterministic pseudo-random numbers (xorshift64*), for irregular steps.
    struct Rng(u64);

    impl Rng {
        fn below(&mut self, n: u64) -> u64 {
            self.0 ^= self.0 >> 12;
            self.0 ^= self.0 << 25;
            self.0 ^= self.0 >> 27;
            self.0.wrapping_mul(0x2545_f491_4f6c_dd1d) % n
        }
    }

    /// Runs a task from `from` to `to` in steps of `step(t)` ns, runnable and
    /// running exactly when `on(t)` holds at the start of the step, and
    /// calls `sample` after each update.
    fn drive(
        p: &mut Pelt,
        from: u64,
        to: u64,
        weight: u64,
        mut step: impl FnMut(u64) -> u64,
        on: impl Fn(u64) -> bool,
        mut sample: impl FnMut(u64, &Pelt),
    ) {
        let mut t = from;
        while t < to {
            let next = (t + step(t).max(1)).min(to);
            let busy = on(t);
            p.update_task(next, busy, busy, weight);
            sample(next, p);
            t = next;
        }
    }

    /// The struct is as intf.h spells it, with no hidden padding: four u64s,
    /// two u32s, three u64s; the host C compiler lays it out the same way.
    #[test]
    fn pelt_struct_layout() {
        assert_eq!(std::mem::size_of::<fairrs_pelt>(), 64);
        assert_eq!(std::mem::size_of::<Pelt>(), 64);
        assert_eq!(std::mem::offset_of!(fairrs_pelt, period_contrib), 32);
        assert_eq!(std::mem::offset_of!(fairrs_pelt, util_avg), 56);
    }

    /// The table (read through decay(2^32, n), which returns the entry itself:
    /// the multiply-shift of 2^32 by e is e) is y^n in 32-bit fixed point.
    #[test]
    fn pelt_yn_inv_table_is_y_to_the_n() {
        for n in 0..LOAD_AVG_PERIOD {
            let entry = decay(1 << 32, n);
            let exact = 2f64.powi(32) * 0.5f64.powf(n as f64 / 32.0);
            within(&format!("yN_inv[{n}]"), entry as f64, exact.floor(), 1.0);
            // Documentation/scheduler/sched-pelt.c's own rule, (2^32 - 1) * y^n
            // rounded down. n = 0 is exact; for the others (2^32 - 1) * y^n
            // is at least 0.0025 from an integer, far beyond f64 error there.
            let generated = ((u32::MAX as f64) * 0.5f64.powf(n as f64 / 32.0)).floor() as u64;
            assert_eq!(entry, generated, "yN_inv[{n}]");
        }
    }

    /// decay() is x * y^n rounded down, for every n up to the cut-off: the
    /// shift and the floor of the product each lose under one unit, and a
    /// table entry, floor((2^32 - 1) y^k) >= 2^31, is below 2^32 y^k by a
    /// relative 2^-32 (the 2^32 - 1) plus under 2^-31 (the floor).
    #[test]
    fn pelt_decay_matches_y_to_the_n() {
        for x in [1u64, 1000, LOAD_AVG_MAX, 1 << 20, 123_456_789_123, 1 << 40, 1 << 62] {
            for n in 0..=63 * LOAD_AVG_PERIOD {
                let exact = x as f64 * y().powi(n as i32);
                within(
                    &format!("decay({x}, {n})"),
                    decay(x, n) as f64,
                    exact,
                    2.0 + exact * 3.0 * 2f64.powi(-32),
                );
            }
        }
    }

    #[test]
    fn pelt_decay_halves_every_32_periods() {
        for x in [2u64, 1000, 1024, LOAD_AVG_MAX, (1 << 33) - 2, 1 << 33, 987_654_321_987, u64::MAX] {
            // A whole number of half-lives is a shift, then the multiply by
            // y^0 = (2^32 - 1) / 2^32, which takes v down by ceil(v / 2^32):
            // one unit below 2^32, a relative 2^-32 above.
            for (n, v) in [(0, x), (32, x / 2), (64, x / 4)] {
                let d = decay(x, n);
                assert!(d <= v && v - d <= 1 + (v >> 32), "decay({x}, {n}) = {d}, want {v}");
                if v > 0 && v < 1 << 32 {
                    assert_eq!(d, v - 1, "decay({x}, {n})");
                }
            }
        }
        let half = LOAD_AVG_MAX as f64 / 2.0;
        within("decay(LOAD_AVG_MAX, 32)", decay(LOAD_AVG_MAX, 32) as f64, half, half / 100.0);
    }

    /// Past 63 half-lives everything is gone; just before, the largest value
    /// is not yet (so the cut-off, not a shift overflow, does it).
    #[test]
    fn pelt_decay_cuts_off_after_63_half_lives() {
        assert!(decay(u64::MAX, 63 * LOAD_AVG_PERIOD - 1) > 0);
        assert_eq!(decay(u64::MAX, 63 * LOAD_AVG_PERIOD + 1), 0);
        assert_eq!(decay(u64::MAX, 1 << 40), 0);
        assert_eq!(decay(u64::MAX, u64::MAX), 0);
    }

    /// LOAD_AVG_MAX is the fixed point of x = floor(x * y) + 1024, and close
    /// to the exact series 1024 / (1 - y).
    #[test]
    fn pelt_load_avg_max_is_the_integer_series_limit() {
        let mut x = 0f64;
        for _ in 0..10_000 {
            x = (x * y()).floor() + 1024.0;
        }
        assert_eq!(x as u64, LOAD_AVG_MAX);
        let series = 1024.0 / (1.0 - y());
        within("LOAD_AVG_MAX", LOAD_AVG_MAX as f64, series, series * 0.001);
    }

    /// A task always runnable and running, updated at 1 ms, tick-like 4 ms,
    /// and irregular steps (sub-us to 7 ms), converges to util and runnable
    /// 1024 and load = its weight: the divider matches the decay.
    #[test]
    fn pelt_always_running_task_converges_to_full() {
        let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
        for (name, fixed_step) in [("1 ms", Some(MS)), ("4 ms", Some(4 * MS)), ("irregular", None)] {
            for weight in [NICE_0, NICE_5] {
                let mut p = Pelt::new(T0);
                let mut samples = 0;
                drive(
                    &mut p,
                    T0,
                    T0 + 2000 * MS,
                    weight,
                    |_| fixed_step.unwrap_or_else(|| 1 + rng.below(7 * MS)),
                    |_| true,
                    |t, p| {
                        // After 1 s (~30 half-lives) the signals are at their limit.
                        if t < T0 + 1000 * MS {
                            return;
                        }
                        samples += 1;
                        let what = format!("{name}, weight {weight}, t {}", t - T0);
                        assert!((1000..=1024).contains(&p.util_avg()), "{what}: util {}", p.util_avg());
                        assert!(
                            (1000..=1024).contains(&p.runnable_avg()),
                            "{what}: runnable {}",
                            p.runnable_avg()
                        );
                        within(&what, p.load_avg() as f64, weight as f64, weight as f64 * 0.02);
                    },
                );
                assert!(samples >= 100, "{name}: {samples} samples");
            }
        }
    }

    /// Square-wave duty cycles (run D ms of every T ms, asleep otherwise)
    /// converge to the running share of 1024, both sampled every 1 ms and
    /// averaged over whole cycles.
    #[test]
    fn pelt_duty_cycles_converge_to_their_share() {
        for (on_ms, cycle_ms) in [(1u64, 4u64), (4, 16), (2, 4), (8, 16)] {
            let share = 1024.0 * on_ms as f64 / cycle_ms as f64;
            let mut p = Pelt::new(T0);
            let (mut sum, mut n) = (0u64, 0u64);
            let (mut lo, mut hi) = (u64::MAX, 0u64);
            let warm = T0 + 1000 * MS;
            drive(
                &mut p,
                T0,
                warm + 100 * cycle_ms * MS,
                NICE_0,
                |_| MS,
                |t| (t - T0) % (cycle_ms * MS) < on_ms * MS,
                |t, p| {
                    if t > warm {
                        sum += p.util_avg();
                        n += 1;
                        lo = lo.min(p.util_avg());
                        hi = hi.max(p.util_avg());
                    }
                },
            );
            let what = format!("{on_ms} ms of {cycle_ms} ms");
            within(&what, sum as f64 / n as f64, share, share * 0.05);
            // The wave itself: an exponential average with half-life 32
            // periods of a square wave peaks at 1024 (1 - y^D) / (1 - y^T)
            // and bottoms at that times y^(T - D), D and T in periods. PELT
            // decays a period's contributions as a block, so each may be aged
            // up to one period more or less than the continuous average
            // would: allow a factor y^{+-1}, plus a unit of rounding.
            let (d, t) =
                (on_ms as f64 * 1e6 / PELT_PERIOD_NS as f64, cycle_ms as f64 * 1e6 / PELT_PERIOD_NS as f64);
            let peak = 1024.0 * (1.0 - y().powf(d)) / (1.0 - y().powf(t));
            let trough = peak * y().powf(t - d);
            within(&format!("{what} peak"), hi as f64, peak, peak * (1.0 / y() - 1.0) + 1.0);
            within(&format!("{what} trough"), lo as f64, trough, trough * (1.0 / y() - 1.0) + 1.0);
        }
    }

    /// Once a task stops, util_avg halves every 32 periods (~33.5 ms): exactly
    /// after 32 periods, and after 32 ms as y^(32 ms / period). Averages are
    /// only recomputed by an update that crosses a period boundary (as in the
    /// kernel), so each phase below ends with one.
    #[test]
    fn pelt_idle_task_halves_in_32_periods() {
        let mut p = Pelt::new(T0);
        let busy_until = T0 + 1000 * MS;
        drive(&mut p, T0, busy_until, NICE_0, |_| MS, |_| true, |_, _| {});
        // Longer than a period: crosses a boundary, so the averages are fresh.
        let t1 = busy_until + PELT_PERIOD_NS + 123 * US;
        assert!(p.update_task(t1, true, true, NICE_0));
        let u0 = p.util_avg() as f64;
        assert!(u0 >= 1000.0, "util {u0}");

        // 32 periods later, idle updates every period on the way (each
        // crossing one boundary): period_contrib ends where it started, so the
        // divider is unchanged and util_sum was decayed by y^32 = 1/2 in 32
        // steps, each rounding down by under a unit of util_sum (nothing next
        // to the divider ~47000); so the average is within a unit of rounding.
        let mut idle = p;
        let t2 = t1 + 32 * PELT_PERIOD_NS;
        drive(&mut idle, t1, t2, NICE_0, |_| PELT_PERIOD_NS, |_| false, |_, _| {});
        assert_eq!(idle.raw().period_contrib, p.raw().period_contrib);
        within("util after 32 periods", idle.util_avg() as f64, u0 / 2.0, 1.0);
        within("load after 32 periods", idle.load_avg() as f64, p.load_avg() as f64 / 2.0, 1.0);
        within("runnable after 32 periods", idle.runnable_avg() as f64, p.runnable_avg() as f64 / 2.0, 1.0);

        // 32 ms later (30.5 periods, one update crossing 30 or 31 boundaries)
        // the sum has decayed by whole periods only, but the divider
        // LOAD_AVG_MAX - 1024 + period_contrib tracks the position in the
        // open period, so util_avg follows the continuous y^(elapsed periods).
        // That linear ramp departs from y^(1 - contrib / 1024) by at most
        // `ramp` (relative), at each end; plus a unit of rounding per division.
        let lam = LOAD_AVG_MAX as f64;
        let ramp = (0..1024)
            .map(|c| {
                let lin = (lam - 1024.0 + c as f64) / lam;
                let exp = y().powf(1.0 - c as f64 / 1024.0);
                (lin - exp).abs() / exp
            })
            .fold(0f64, f64::max);
        let mut idle = p;
        assert!(idle.update_task(t1 + 32 * MS, false, false, NICE_0));
        let want = u0 * y().powf(32.0 * MS as f64 / PELT_PERIOD_NS as f64);
        within("util after 32 ms", idle.util_avg() as f64, want, want * 2.0 * ramp + 2.0);
    }

    /// One update spanning the rest of the open period, full periods and part
    /// of a new one gives the closed-form three-segment sum, which must match
    /// the same interval fed 1 us at a time.
    #[test]
    fn pelt_three_segment_update_matches_microsecond_steps() {
        for (load, runnable, running, weight) in
            [(1, 1, true, NICE_0), (3 * NICE_0, 3, true, 1), (2 * NICE_5, 2, false, 1)]
        {
            for full in [0u64, 1, 5, 40, 100] {
                // A history with a partly filled period: 50 ms at 50%, then
                // 300 us into a period.
                let mut p = Pelt::new(T0);
                drive(&mut p, T0, T0 + 50 * MS, NICE_0, |_| MS, |t| (t - T0) % (2 * MS) < MS, |_, _| {});
                let c0 = u64::from(p.raw().period_contrib);
                let start = p.raw().last_update_ns;
                let (d1, d3) = (PELT_PERIOD_US - c0, 300);
                let end = start + (d1 + full * PELT_PERIOD_US + d3) * US;

                let mut one = p;
                assert!(one.update(end, load, runnable, running, weight));
                let mut steps = p;
                let mut t = start;
                while t < end {
                    t += US;
                    steps.update(t, load, runnable, running, weight);
                }

                let (a, b) = (fields(&one), fields(&steps));
                assert_eq!(a[0], end);
                assert_eq!(a[0], b[0], "last_update_ns");
                assert_eq!(a[4], d3, "period_contrib");
                assert_eq!(a[4], b[4], "period_contrib");
                // Both against the exact series, V = S y^p + L (d1 y^p +
                // 1024 \Sum_{n=1}^{p-1} y^n + d3), p = full + 1 boundaries,
                // L the load (times 1024 for the runnable and util sums):
                // - the single update: decay(S, p) and decay(d1, p) each lose
                //   under 2 (the shift, the product), and c2 = LOAD_AVG_MAX -
                //   decay(LOAD_AVG_MAX, p) - 1024 is under 2 from LOAD_AVG_MAX
                //   (1 - y^p) - 1024, which is exactly `short` (1 - y^p) below
                //   the exact sum, `short` being how far LOAD_AVG_MAX falls
                //   below 1024 / (1 - y). So: L (4 + short (1 - y^p)) + 2.
                // - the steps: at each of the p boundaries the decay by y
                //   floors (under 1) and the 1 us crossing it contributes
                //   decay(1, 1) = 0 instead of under 1 (under L); what is lost
                //   at a boundary then decays with the later ones, so in all
                //   (L + 1) g, g = \Sum_{k=0}^{p-1} y^k = (1 - y^p) / (1 - y).
                // - and each decay's table entry is a relative 3 * 2^-32 off
                //   (see pelt_decay_matches_y_to_the_n), p + 1 decays at most
                //   on any value, none larger than the sums compared here.
                let p_ = (full + 1) as f64;
                let short = 1024.0 / (1.0 - y()) - LOAD_AVG_MAX as f64;
                let g = (1.0 - y().powf(p_)) / (1.0 - y());
                let units = 4.0 + short * (1.0 - y().powf(p_)) + g;
                let floors = 2.0 + g;
                let rel = 3.0 * (p_ + 1.0) * 2f64.powi(-32);
                let (s0, what) =
                    (fields(&p), format!("load {load} runnable {runnable} running {running}, {full} full"));
                let scale = [0, load, runnable << 10, u64::from(running) << 10];
                let mut tols = [0f64; 4];
                for (i, name) in [(1, "load_sum"), (2, "runnable_sum"), (3, "util_sum")] {
                    let largest = s0[i].max(a[i]).max(b[i]) as f64;
                    tols[i] = units * scale[i] as f64 + floors + largest * rel;
                    within(&format!("{what}: {name}"), a[i] as f64, b[i] as f64, tols[i]);
                }

                // Averages only refresh at a boundary, which the last 1 us
                // steps did not cross; one more identical update spanning a
                // period refreshes both. It decays the sums' difference by y
                // and floors each (1 more), adds the same to both, and both
                // divide by the same divider: (difference * weight) / divider,
                // plus a unit of rounding.
                assert!(one.update(end + PELT_PERIOD_NS, load, runnable, running, weight));
                assert!(steps.update(end + PELT_PERIOD_NS, load, runnable, running, weight));
                let (a, b) = (fields(&one), fields(&steps));
                let div = (LOAD_AVG_MAX - PELT_PERIOD_US + a[4]) as f64;
                for (i, name, w) in [(5, "load_avg", weight), (6, "runnable_avg", 1), (7, "util_avg", 1)] {
                    let tol = (tols[i - 4] + 1.0) * w as f64 / div + 1.0;
                    within(&format!("{what}: {name}"), a[i] as f64, b[i] as f64, tol);
                }
            }
        }
    }

    /// With no load nothing counts, whatever runnable and running say (a
    /// dequeued task the CPU still points at, an emptied queue).
    #[test]
    fn pelt_no_load_counts_nothing() {
        let mut p = Pelt::new(T0);
        drive(&mut p, T0, T0 + 10 * MS, NICE_0, |_| MS, |_| true, |_, _| {});
        let (mut a, mut b) = (p, p);
        for t in [T0 + 10 * MS + 100 * US, T0 + 11 * MS, T0 + 15 * MS + 7 * US] {
            a.update(t, 0, 3, true, NICE_0);
            b.update(t, 0, 0, false, NICE_0);
            assert_eq!(fields(&a), fields(&b));
        }
        assert!(a.util_avg() < p.util_avg());
    }

    /// Time going backwards and deltas under 1 us (1024 ns) change nothing;
    /// the sub-us remainder is not lost but counted at the next update.
    #[test]
    fn pelt_backwards_and_sub_microsecond_updates_do_nothing() {
        let mut p = Pelt::new(T0);
        drive(&mut p, T0, T0 + 20 * MS + 100 * US, NICE_0, |_| MS, |_| true, |_, _| {});
        let before = fields(&p);
        let last = p.raw().last_update_ns;
        assert!(p.raw().period_contrib < 1000);

        assert!(!p.update(last - 1, 1, 1, true, NICE_0));
        assert!(!p.update(0, 1, 1, true, NICE_0));
        assert_eq!(fields(&p), before, "time going backwards");
        assert!(!p.update(last + US - 1, 1, 1, true, NICE_0));
        assert_eq!(fields(&p), before, "1023 ns");

        // The 1023 ns were kept: 1 ns more makes 1 us, within the period.
        assert!(!p.update(last + US, 1, 1, true, NICE_0));
        let after = fields(&p);
        assert_eq!(after[0], last + US);
        assert_eq!(after[1], before[1] + 1);
        assert_eq!(after[2], before[2] + 1024);
        assert_eq!(after[3], before[3] + 1024);
        assert_eq!(after[4], before[4] + 1);
        assert_eq!(after[5..], before[5..], "averages only move at a period boundary");

        // 976 updates of 1000 ns land exactly where one of 976,000 ns does.
        let mut fresh = Pelt::new(T0);
        let mut steps = fresh;
        for i in 1..=976 {
            steps.update(T0 + i * 1000, 1, 1, true, NICE_0);
        }
        fresh.update(T0 + 976_000, 1, 1, true, NICE_0);
        assert_eq!(fields(&steps), fields(&fresh));
        assert_eq!(fresh.raw().load_sum, 976_000 >> 10);
    }

    /// A CPU queue with two runnable nice-0 tasks, one running: load and
    /// runnable tend to the sum over tasks, util to 1024. And the largest
    /// queue the header allows for (1000 nice -20 tasks) does not overflow.
    #[test]
    fn pelt_cpu_queue_sums_its_tasks() {
        for (weight, nr) in [(2 * NICE_0, 2), (1000 * 88761, 1000)] {
            let mut q = Pelt::new(T0);
            let mut t = T0;
            while t < T0 + 1000 * MS {
                t += 4 * MS;
                q.update_queue(t, weight, nr, true);
            }
            let what = format!("{nr} tasks of load {weight}");
            within(&what, q.load_avg() as f64, weight as f64, weight as f64 * 0.02);
            within(&what, q.runnable_avg() as f64, (nr * 1024) as f64, (nr * 1024) as f64 * 0.02);
            assert!((1000..=1024).contains(&q.util_avg()), "{what}: util {}", q.util_avg());

            // Emptied: two half-lives take a quarter, 64 take everything.
            let full = q;
            q.update_queue(t + 2 * LOAD_AVG_PERIOD * PELT_PERIOD_NS, 0, 0, false);
            within(&what, q.load_avg() as f64, full.load_avg() as f64 / 4.0, 1.0);
            within(&what, q.util_avg() as f64, full.util_avg() as f64 / 4.0, 1.0);
            q.update_queue(t + 64 * LOAD_AVG_PERIOD * PELT_PERIOD_NS, 0, 0, false);
            let f = fields(&q);
            assert_eq!([f[1], f[2], f[3], f[5], f[6], f[7]], [0; 6], "{what}: after 64 half-lives");
        }
    }
}
