#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
# Guest side of the hostile suite: workloads built to break the scheduler's
# promises (fairrs-guest hostile, tests/guest/src/hostile.rs), under the
# kernel's own scheduler and under scx_fairrs in one boot; then, under
# scx_fairrs only, the scx project's stress-ng smoke and a timed stop.
# The guest's case table is the plan: this script takes its counts from it.
. tests/vm/lib.sh
SECS=${HOSTILE_SECS:-8}
dmesg -C

cgroups_classic

read_plan hostile $BENCH hostile --plan
# Each result and its calibration (the calibrated ones), the attach and exit
# checks, the case count, stress-ng, the stop and the kernel log.
expect_checks $((EXPECTED + CALIBRATED + 6))

cases() { $BENCH hostile --secs "$SECS"; }
side_by_side hostile "$EXPECTED" cases

# The scx project's smoke (its CI's stress-ng line); Debian 12's 0.15 has
# every flag. scx_fairrs must stay attached throughout.
$FAIRRS > "$OUT/hostile-stress-daemon.log" 2>&1 &
pid=$!
seq=none src=none
if wait_state enabled 180 $pid; then
    seq=$(sx_enable_seq)
    (cd /tmp && stress-ng -t 20 --aggressive -M -c 4 -f 4 --affinity 1 --affinity-delay 1 --affinity-pin \
        --temp-path /tmp) > "$OUT/hostile-stress.log" 2>&1
    src=$?
fi
stress_passed_attached() { [ "$src" = 0 ] && attached_since "$seq" "$pid"; }
check hostile_stress_ng_affinity "stress-ng rc=$src; state=$(sx_state) enable_seq $seq -> $(sx_enable_seq)" \
    stress_passed_attached

timed_stop $pid
stopped_quickly() { [ "$STOP_MS" -lt 5000 ] && [ "$DAEMON_RC" = 0 ]; }
check hostile_stop_ms "stopped in $STOP_MS ms (bound 5000), daemon rc=$DAEMON_RC, state=$(sx_state)" stopped_quickly

check_kernel_log hostile_kernel_log_clean
