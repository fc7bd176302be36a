#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
# Guest side of the bandwidth suite: cgroup cpu.max (bandwidth.bpf.h).
# Kernels from 6.17 report it to sched_ext: there the limits are measured
# under the kernel's own scheduler and under scx_fairrs in one boot
# (fairrs-guest bandwidth, tests/guest/src/bandwidth.rs: quotas below, at
# and above one CPU, a limited parent over limited children, a limited group
# beside a free one, a live change and a lift, a burst); then a group kept
# throttled through CPU hotplug and a stop, after which every one of its
# tasks must run again, and the counters. Older kernels do not report it:
# the daemon must say at start that cpu.max is not enforced.
. tests/vm/lib.sh
SECS=${BANDWIDTH_SECS:-3}
dmesg -C
cgroups_classic

version=$(uname -r | sed 's/^\([0-9]*\)\.\([0-9]*\).*/\1 \2/')
set -- $version
if [ "$1" -lt 6 ] || { [ "$1" -eq 6 ] && [ "$2" -lt 17 ]; }; then
    echo "== cpu.max on $(uname -r): not reported to sched_ext (6.17+)"
    expect_checks 4
    $FAIRRS > "$OUT/bandwidth-daemon.log" 2>&1 &
    pid=$!
    wait_state enabled 60 $pid
    said=$(grep -m 1 'cpu.max is not enforced on this kernel' "$OUT/bandwidth-daemon.log")
    check bandwidth_not_enforced_logged "${said:-no such line in the daemon's log}" [ -n "$said" ]
    said=$(grep -m 1 'cpu.idle is not enforced on this kernel' "$OUT/bandwidth-daemon.log")
    check bandwidth_idle_not_enforced_logged "${said:-no such line in the daemon's log}" [ -n "$said" ]
    check_detached bandwidth_daemon_exited $pid
    check_kernel_log bandwidth_kernel_log_clean
    exit 0
fi

cases() { $BENCH bandwidth --secs "$SECS"; }
read_plan bandwidth $BENCH bandwidth --plan
# Each result and its calibration, the attach and exit checks, the case
# count; the throttled group through hotplug and stop (4, with its stats
# line), the counters, the kernel log; before 6.19, the cpu.idle line.
idle_hook=1
[ "$1" -eq 6 ] && [ "$2" -lt 19 ] && idle_hook=0
expect_checks $((EXPECTED + CALIBRATED + 3 + 4 + 1 + 1 + 1 - idle_hook))
side_by_side bandwidth "$EXPECTED" cases
if [ "$idle_hook" = 0 ]; then
    said=$(grep -m 1 'cpu.idle is not enforced on this kernel' "$OUT/bandwidth-daemon.log")
    check bandwidth_idle_not_enforced_logged "${said:-no such line in the daemon's log}" [ -n "$said" ]
fi

# used_cpus CG SECS: the CPUs cgroup CG used over SECS seconds.
used_cpus() {
    local u0 u1 t0 t1
    u0=$(sed -n 's/^usage_usec //p' "$1/cpu.stat"); t0=$(date +%s%N)
    sleep "$2"
    u1=$(sed -n 's/^usage_usec //p' "$1/cpu.stat"); t1=$(date +%s%N)
    awk -v u=$((u1 - u0)) -v t=$((t1 - t0)) 'BEGIN { printf "%.3f", u * 1000 / t }'
}

# held_in_band FLIPS BEFORE AFTER: every hotplug transition done, and the
# group at its 0.1 CPU before and after them.
held_in_band() { [ "$1" = 12 ] && within "$2" 0.08 0.12 && within "$3" 0.08 0.12; }

# 8 spinning tasks in a group limited to 0.1 CPU, so throttled most of the
# time; CPUs 1-3 go offline and back twice under it, then the scheduler
# stops. A task left in a held queue would stall the offlining or the stop.
cg=/sys/fs/cgroup/fairrs-bw-held
rmdir "$cg" 2>/dev/null
mkdir "$cg" && echo "10000 100000" > "$cg/cpu.max"
$FAIRRS --stats 1 > "$OUT/bandwidth-held.log" 2>&1 &
pid=$!
if wait_state enabled 60 $pid; then
    seq=$(sx_enable_seq)
    for i in 1 2 3 4 5 6 7 8; do
        sh -c "echo \$\$ > $cg/cgroup.procs && exec sh -c 'while :; do :; done'" &
    done
    sleep 1
    before=$(used_cpus "$cg" 2)
    flips=$(flip_cpus 2)
    after=$(used_cpus "$cg" 2)
    check bandwidth_held_through_hotplug \
        "0.1-CPU group of 8: ${before} CPUs, then ${after} after ${flips}/12 CPU transitions" \
        held_in_band "$flips" "$before" "$after"
    check bandwidth_held_stayed_attached "state=$(sx_state) enable_seq $seq -> $(sx_enable_seq)" attached_since "$seq" "$pid"
    # The stats show the group's CPUs used at its limit (0.07-0.139 of its
    # 0.1), the limit and its throttles (periods, throttled count, ms).
    line=$(grep -E '^ +[0-9]+ +[0-9]+ +0\.(0[7-9]|1[0-3])[0-9] +[0-9.]+ +[0-9.]+ +10\.0ms/100\.0ms +[0-9]+ +[1-9][0-9]* +[0-9.]+ /fairrs-bw-held' "$OUT/bandwidth-held.log" | tail -n 1)
    check bandwidth_stats_group "--stats line: '${line:-none}'" [ -n "$line" ]
    timed_stop $pid
    check bandwidth_stop_throttled "stopped in ${STOP_MS} ms (rc=$DAEMON_RC) with 8 tasks of a throttled group" \
        [ "$DAEMON_RC" = 0 -a "$STOP_MS" -lt 5000 ]
    # Every task runs again once the limit is lifted (the kernel's own
    # scheduler now enforces it).
    echo max > "$cg/cpu.max"
    procs=$(cat "$cg/cgroup.procs")
    t0=""; for p in $procs; do t0="$t0 $(cut -d' ' -f1 /proc/$p/schedstat)"; done
    sleep 1
    stuck=0; n=0; set -- $t0
    for p in $procs; do
        n=$((n + 1))
        [ "$(cut -d' ' -f1 /proc/$p/schedstat)" -gt "$1" ] || stuck=$((stuck + 1))
        shift
    done
    check bandwidth_all_run_after_stop "$stuck of $n tasks got no CPU in the second after the stop" [ "$n" = 8 -a "$stuck" = 0 ]
    for p in $procs; do kill "$p" 2>/dev/null; done
    sleep 0.5
else
    fail bandwidth_held_attach "scx_fairrs did not attach: $(cat "$OUT/bandwidth-held.log")"
fi
rmdir "$cg" 2>/dev/null

# The suite's own daemon run: the groups were throttled and released through
# the held queues, and nothing was let go by the starvation guard.
log=$OUT/bandwidth-daemon.log
throttle=$(daemon_total bw_throttle "$log"); hold=$(daemon_total bw_hold "$log")
release=$(daemon_total bw_release "$log"); guard=$(daemon_total bw_guard "$log")
check bandwidth_counters "bw_throttle=${throttle:-missing} bw_hold=${hold:-missing} bw_release=${release:-missing} bw_guard=${guard:-missing}" \
    [ "${throttle:-0}" -gt 0 -a "${hold:-0}" -gt 0 -a "${release:-0}" -gt 0 -a "${guard:-1}" = 0 ]
check_kernel_log bandwidth_kernel_log_clean
