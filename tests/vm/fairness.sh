#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
# Guest side of the fairness suite: the same measurements under the kernel's
# own scheduler and under scx_fairrs, in one boot, printed side by side; the
# scx_fairrs figures are checked against CFS's ideal ratios. Then wakeup
# preemption A/B: the sleeper's wakeup latency with the default
# wakeup_granularity, and with one so large that nothing preempts.
. tests/vm/lib.sh
SECS=${FAIRNESS_SECS:-6}
dmesg -C

# The cases and their results are the guest's table
# (tests/guest/src/fairness.rs). Two follow rules of CFS that the kernel
# here, EEVDF, no longer has (yield, the fork storm): their rows say why, and
# their figures are shown beside ours but not held to our bounds; the cfs
# suite holds CFS itself (Debian 12's 6.1 kernel) to them instead.
read_plan fairness $BENCH fairness --plan
# Each result and its calibration (the calibrated ones), the attach and exit
# checks, the case count; the A/B's two daemon exits and its verdict, and the
# kernel log.
expect_checks $((EXPECTED + CALIBRATED + 7))
side_by_side fairness "$EXPECTED" $BENCH fairness --secs "$SECS"

# Wakeup preemption A/B: the sleeper's wakeup latency with wakeup
# preemption and without (a wakeup_granularity of 1 s). Both runs use 24 ms
# slices (sched_latency = min_granularity = 24 ms), so that nothing else ends
# a hog's slice early: without wakeup preemption a wakee waits for the slice
# to end (about 12 ms at the median); at the defaults tick preemption
# (check_preempt_tick()) already serves it within a tick. The default run's
# p50 must be at most 1 ms too.
p50_of() { sed -n 's/^RESULT wakeup_latency_p99_ms .* p50 \([0-9.]*\) ms.*/\1/p' "$1"; }
latency_run() {  # latency_run NAME FLAGS...: the latency case under scx_fairrs FLAGS
    local name=$1 pid
    shift
    $FAIRRS "$@" > "$OUT/$name-daemon.log" 2>&1 &
    pid=$!
    if wait_state enabled 180 $pid; then
        $BENCH fairness --secs "$SECS" --only latency --latency-bound-ms 1000 | tee "$OUT/$name.txt"
    fi
    check_detached "${name}_daemon_exited" $pid
}
latency_run preempt --sched-latency-us 24000 --min-granularity-us 24000
latency_run no_preempt --sched-latency-us 24000 --min-granularity-us 24000 --wakeup-granularity-us 1000000
default=$(p50_of "$OUT/fairness-fairrs.txt")
with=$(p50_of "$OUT/preempt.txt")
without=$(p50_of "$OUT/no_preempt.txt")
preemption_shortens_wakeups() {
    [ -n "$default" ] && [ -n "$with" ] && [ -n "$without" ] &&
        awk -v d="$default" -v a="$with" -v b="$without" 'BEGIN { exit !(d <= 1.0 && a <= 1.0 && b >= 3 * a) }'
}
check wakeup_preemption_ab "sleeper p50: ${default:-?} ms at defaults; with 24 ms slices ${with:-?} ms with preemption, ${without:-?} ms without (kernel's scheduler: $(p50_of "$OUT/fairness-kernel.txt") ms)" \
    preemption_shortens_wakeups
check_kernel_log fairness_kernel_log_clean
