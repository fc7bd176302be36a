#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
# Guest side of the CFS calibration suite, on Debian 12's 6.1 kernel
# (vm/setup.sh cfs), whose fair class is the Completely Fair Scheduler itself.
# Every other suite calibrates its bounds against the kernel's scheduler in
# the same boot, but today's kernels run EEVDF, which dropped some of CFS's
# rules (START_DEBIT, the yield skip buddy): the fairness suite cannot
# calibrate those cases there (their rows in tests/guest/src/fairness.rs say
# why). Here CFS runs the whole
# fairness workload with scx_fairrs's default tunables (taken from its --help)
# and must meet the very bounds scx_fairrs is held to. If it does not, the
# bound is wrong, not scx_fairrs.
. tests/vm/lib.sh
read_plan cfs $BENCH fairness --plan
expect_checks $((EXPECTED + 3))  # CFS present, tunables set, each result, the case count
SECS=${FAIRNESS_SECS:-6}
SCHED=/sys/kernel/debug/sched
mount -t debugfs none /sys/kernel/debug 2>/dev/null || true

is_cfs() { [ -f "$SCHED/latency_ns" ] && [ ! -d /sys/kernel/sched_ext ]; }
check cfs_kernel "$(uname -r): $( [ -f "$SCHED/latency_ns" ] && echo "CFS tunables present" || echo "no $SCHED/latency_ns") $( [ -d /sys/kernel/sched_ext ] && echo "but sched_ext too")" is_cfs

# The defaults scx_fairrs starts with, in microseconds ("[default: N]" under
# each flag in its --help).
default_of() { $FAIRRS --help | awk -v f="--$1" '$1 == f { on = 1 } on && /\[default: / { gsub(/.*\[default: |\].*/, ""); print; exit }'; }
latency=$(default_of sched-latency-us)
min_gran=$(default_of min-granularity-us)
wakeup_gran=$(default_of wakeup-granularity-us)
set_tunables() {
    [ -n "$latency" ] && [ -n "$min_gran" ] && [ -n "$wakeup_gran" ] &&
        echo $((latency * 1000)) > "$SCHED/latency_ns" &&
        echo $((min_gran * 1000)) > "$SCHED/min_granularity_ns" &&
        echo $((wakeup_gran * 1000)) > "$SCHED/wakeup_granularity_ns" &&
        [ "$(cat "$SCHED/latency_ns")" = $((latency * 1000)) ]
}
check cfs_tunables_as_scx_fairrs "latency ${latency:-?} us, min_granularity ${min_gran:-?} us, wakeup_granularity ${wakeup_gran:-?} us" set_tunables

echo "== fairness under CFS ($(uname -r))"
$BENCH fairness --secs "$SECS" | sed 's/^RESULT /RESULT cfs_/' | tee "$OUT/cfs.txt"
SUBJECT=CFS record_results cfs "$EXPECTED" "$OUT/cfs.txt"
