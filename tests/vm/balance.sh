#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
# Guest side of the balance suite: spreading, unpinning, affinity and (on a
# 2-node VM) NUMA placement, measured under the kernel's own scheduler and
# under scx_fairrs in one boot; the scx_fairrs figures are checked.
#   balance.sh [CASE]     CASE: spread, unpin, affinity, rt_cpu, churn, nice_mix, nice_mix_stuck,
#                       numa, smt_split or smt_wake (default: all but numa and the smt ones)
. tests/vm/lib.sh
SECS=${BALANCE_SECS:-6}
CASES=${1:-spread unpin affinity rt_cpu churn nice_mix nice_mix_stuck}
dmesg -C

cases() { for c in $CASES; do $BENCH balance --secs "$SECS" --only "$c"; done; }
# The results of those cases, from the guest's table
# (tests/guest/src/balance.rs; a case the kernel's scheduler cannot
# calibrate says why in its row).
plan_cases() { for c in $CASES; do $BENCH balance --plan --only "$c"; done; }
read_plan balance plan_cases
# Each result and its calibration (the calibrated ones), the attach and exit
# checks, the case count and the kernel log; with numa or the smt cases, the
# topology the daemon saw in the VM their suites ask for (numa.sh, smt.sh):
# two sockets, one node and one last-level cache each; for smt, two cores of
# two threads per socket.
topology=""
! has " $CASES " " numa " || topology=' 2 LLCs, 2 NUMA nodes)'
! has " $CASES " " smt_" || topology='(4 cores with SMT, 2 LLCs, 2 NUMA nodes)'
# With spread (the default cases), that idle CPUs pulled waiting tasks (the
# daemon's totals): without the idle pull they would wait for the periodic
# balancer, which no share figure here tells apart.
pulls=""
! has " $CASES " " spread " || pulls=yes
expect_checks $((EXPECTED + CALIBRATED + 4 ${topology:++ 1} ${pulls:++ 1}))
side_by_side balance "$EXPECTED" cases
if [ -n "$topology" ]; then
    check topology_seen "daemon: $(grep -o 'attached on .*NUMA nodes)' "$OUT/balance-daemon.log")" \
        grep -qF "$topology" "$OUT/balance-daemon.log"
fi
if [ -n "$pulls" ]; then
    idle=$(daemon_total mig_idle "$OUT/balance-daemon.log")
    check balance_idle_pulled "idle CPUs took ${idle:-?} waiting tasks, reading $(daemon_total pull_reads "$OUT/balance-daemon.log") marked queues" \
        [ "${idle:-0}" -gt 0 ]
fi
check_kernel_log balance_kernel_log_clean
