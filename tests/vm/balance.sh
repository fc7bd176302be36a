#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
# Guest side of the balance suite: spreading, unpinning, affinity and (on a
# 2-node VM) NUMA placement, measured under the kernel's own scheduler and
# under scx_fairrs in one boot; the scx_fairrs figures are checked.
#   balance.sh [CASE]     CASE: spread, unpin, affinity or numa (default: all but numa)
. tests/vm/lib.sh
BENCH=${BENCH:-target/release/fairrs-guest}
SECS=${BALANCE_SECS:-10}
CASES=${1:-spread unpin affinity}
dmesg -C

cmd=""
for c in $CASES; do cmd="$cmd $BENCH balance --secs $SECS --only $c;"; done
side_by_side balance "$cmd"

expected=0
for c in $CASES; do case $c in spread) expected=$((expected + 4)) ;; numa) expected=$((expected + 2)) ;; *) expected=$((expected + 1)) ;; esac; done
n=$(grep -c '^RESULT' "$OUT/balance-fairrs.txt")
check balance_cases_ran "$n of $expected results reported" '[ "$n" -eq "$expected" ]'
trouble=$(kernel_trouble)
check balance_kernel_log_clean "${trouble:-clean}" '[ -z "$trouble" ]'
