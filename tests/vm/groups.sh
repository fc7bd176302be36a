#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
# Guest side of the groups suite: cgroup cpu.weight shares (group.bpf.h),
# measured under the kernel's own scheduler and under scx_fairrs in one boot
# (fairrs-guest groups, tests/guest/src/groups.rs): one CPU with 1 hog
# against 4 in a heavier group, nested groups, a hog 17 levels deep (past
# the 16 tracked), two groups across every CPU
# with unequal task counts, a live cpu.weight change, and tasks moved between
# groups under load, and two sessions of the root cgroup as autogroups (1 hog
# against 8). Every figure follows CFS's classic group scheduling, and the
# kernel's scheduler must meet the same bounds (a calibration). Kernels from
# 7.3 default to a mode that grows a group's weight with its task count; the
# suite puts them in the classic one (cgroup_mode "smp") first. scx_fairrs
# runs with --autogroup throughout: the cgroup cases show that autogroups
# leave tasks in other cgroups alone.
. tests/vm/lib.sh
SECS=${GROUPS_SECS:-5}
dmesg -C

cgroups_classic

# The kernel's autogroups (CONFIG_SCHED_AUTOGROUP) are on unless booted off.
echo 1 > /proc/sys/kernel/sched_autogroup_enabled 2>/dev/null
echo "== kernel autogroups: $(cat /proc/sys/kernel/sched_autogroup_enabled 2>/dev/null || echo absent)"
FAIRRS="$FAIRRS --autogroup"

cases() { $BENCH groups --secs "$SECS"; }
# The results, from the guest's table (tests/guest/src/groups.rs: the
# autogroup case is shown beside the kernel's figure, not calibrated by it;
# its row says why).
read_plan groups $BENCH groups --plan
# Each result and its calibration (the calibrated ones), the attach and exit
# checks, the case count, the per-group stats, the deep cgroup's warning, the
# bounded slot searches and the kernel log.
expect_checks $((EXPECTED + CALIBRATED + 7))
side_by_side groups "$EXPECTED" cases

# The daemon's stats show each group's share beside its ideal: A and B of a
# one-CPU case, 1 hog against 4 (B weighs 200).
# Then a cgroup at level 16, one deeper than the scheduler tracks, whose
# tasks count as its parent's: the daemon must say so in its log.
$FAIRRS --stats 1 > "$OUT/groups-stats.log" 2>&1 &
pid=$!
if wait_state enabled 60 $pid; then
    $BENCH groups --secs 3 --only one_cpu > /dev/null
    sleep 1.5
    deep=/sys/fs/cgroup
    for level in $(seq 1 16); do
        echo +cpu > "$deep/cgroup.subtree_control"
        deep=$deep/fairrs-d$level
        mkdir "$deep"
    done
    sleep 2
    while [ "$deep" != /sys/fs/cgroup ]; do rmdir "$deep"; deep=${deep%/*}; done
    # Every group slot taken (4100 cgroups), then a session of the root
    # cgroup wakes 3000 times: its autogroup finds no slot, and searches the
    # 4096 again at most every 100 ms (GROUP_FULL_RETRY_NS), not at each
    # wakeup; each failed search counts in group_untracked.
    full=/sys/fs/cgroup/fairrs-full
    mkdir -p "$full" && echo +cpu > "$full/cgroup.subtree_control"
    python3 -c "import os; [os.mkdir('$full/c%d' % i) for i in range(4100)]"
    t0=$(date +%s%N)
    setsid python3 -c "import time; [time.sleep(0.0005) for i in range(3000)]"
    full_ms=$((($(date +%s%N) - t0) / 1000000))
    python3 -c "import os; [os.rmdir('$full/c%d' % i) for i in range(4100)]"
    rmdir "$full"
fi
stop_daemon $pid 60
line=$(grep -E '^ +200 +[0-9]+ +[0-9]+\.[0-9]{3} +0\.[0-9]+ +0\.6[0-9]+ /fairrs-groups/B$' "$OUT/groups-stats.log" | tail -n 1)
check groups_stats_shares "--stats group line for B: '${line:-none}'" [ -n "$line" ]
said=$(grep -m 1 'group_untracked=[1-9][0-9]*: cgroups nested deeper' "$OUT/groups-stats.log")
check groups_untracked_logged "a cgroup at level 16: '${said:-no warning in the log}'" [ -n "$said" ]
# Counted: the level-16 cgroup, the cgroups beyond the slots (4100 less the
# few free ones) and the session's searches (one per 100 ms of its run); one
# search per wakeup would count about 3000 more.
untracked=$(daemon_total group_untracked "$OUT/groups-stats.log")
check groups_full_searches_bounded "group_untracked=${untracked:-missing} after 4100 cgroups and ${full_ms:-?} ms of a session waking 3000 times without a slot" \
    [ "${untracked:-0}" -ge 2 -a "${untracked:-99999}" -le $((${full_ms:-0} / 100 + 200)) ]
check_kernel_log groups_kernel_log_clean
