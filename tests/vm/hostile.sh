#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
# Guest side of the hostile suite: workloads built to break the scheduler's
# promises (fairrs-guest hostile, tests/guest/src/hostile.rs), under the
# kernel's own scheduler and under scx_fairrs in one boot; then, under
# scx_fairrs only, the scx project's stress-ng smoke, suspend and resume
# cycles under load with the shares checked after, and a timed stop.
# The guest's case table is the plan: this script takes its counts from it.
. tests/vm/lib.sh
SECS=${HOSTILE_SECS:-8}
dmesg -C

cgroups_classic

read_plan hostile $BENCH hostile --plan
# Each result and its calibration (the calibrated ones), the attach and exit
# checks, the case count, the group slots, phantoms, stress-ng, suspend, the
# shares after it, the stop and the kernel log.
expect_checks $((EXPECTED + CALIBRATED + 10))

cases() { $BENCH hostile --secs "$SECS"; }
side_by_side hostile "$EXPECTED" cases

# unit_churn removes scopes that an exiting child may still be counted in:
# no task may ever leave a group slot that no longer counts it
# (group_underflow; group_late_free says how often a slot had to wait for
# such a child). Before 6.19 the kernel lets a scope go while such a child
# is still runnable, and the case holds some children so (held_exits): the
# slot must then have waited for them, or the check proved nothing. From
# 6.19 the kernel refuses the removal until the child is gone (EBUSY).
late=$(daemon_total group_late_free "$OUT/hostile-daemon.log")
under=$(daemon_total group_underflow "$OUT/hostile-daemon.log")
held=$(sed -n 's/.*held exits: \([0-9]*\) of.*/\1/p' "$OUT/hostile-fairrs.txt" | head -n 1)
case "$(uname -r)" in 6.1[2-8].*) window=open ;; *) window=closed ;; esac
slots_consistent() {
    [ "${under:-x}" = 0 ] || return 1
    [ "$window" = closed ] || { [ "${held:-0}" -gt 0 ] && [ "${late:-0}" -gt 0 ]; }
}
check hostile_group_slots_consistent "group_underflow=${under:-missing} group_late_free=${late:-missing}; held exits ${held:-missing} (window $window on $(uname -r))" \
    slots_consistent

# A group idle for 100 ms must add nothing to its parent's shares: the
# timer counts any it finds still adding (group_phantom), as a race between
# CPUs syncing one group's contribution would leave it (share_sync_contrib()).
phantom=$(daemon_total group_phantom "$OUT/hostile-daemon.log")
check hostile_group_no_phantom "group_phantom=${phantom:-missing} (groups idle 100 ms found still adding to their parent)" \
    [ "${phantom:-x}" = 0 ]

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

# Suspend and resume under load, three times, alternating suspend-to-idle
# and deep (suspend_cycle, lib.sh). scx_fairrs must stay attached
# throughout, and three equal hogs share a CPU exactly afterwards.
suspended_attached() {
    [ "$seq" != none ] || return 1
    $BENCH spin --cpu 1 --threads 3 --secs 20 > /dev/null &
    local load=$! ok=0
    sleep 1
    suspend_cycle freeze && suspend_cycle mem && suspend_cycle freeze || ok=1
    kill $load 2>/dev/null; wait $load
    [ "$ok" = 0 ] && attached_since "$seq" "$pid"
}
suspend_ok=no
! suspended_attached || suspend_ok=yes
check hostile_suspend_resume "3 cycles under load (pm_test freezer):${SUSPENDS:- not run}; state=$(sx_state) enable_seq $seq -> $(sx_enable_seq)" \
    [ "$suspend_ok" = yes ]
after=$($BENCH fairness --only three_equal_max_over_min --secs 4 | grep '^RESULT ' | head -n 1)
echo "after suspend: $after"
set -- $after
check hostile_suspend_shares_after "three equal hogs on one CPU after the cycles, max/min ${3:-missing} (bounds ${4:-?}..${5:-?})" \
    within_present "${3:-}" "${4:-}" "${5:-}"

timed_stop $pid
stopped_quickly() { [ "$STOP_MS" -lt 5000 ] && [ "$DAEMON_RC" = 0 ]; }
check hostile_stop_ms "stopped in $STOP_MS ms (bound 5000), daemon rc=$DAEMON_RC, state=$(sx_state)" stopped_quickly

check_kernel_log hostile_kernel_log_clean
