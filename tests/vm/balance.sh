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

run_cases() {  # run_cases OUTFILE
    : > "$1"
    for c in $CASES; do $BENCH balance --secs "$SECS" --only "$c" | tee -a "$1"; done
}

echo "== kernel scheduler ($(uname -r)), cases: $CASES"
run_cases "$OUT/balance-kernel.txt"

$FAIRRS --stats 5 > "$OUT/balance-daemon.log" 2>&1 &
pid=$!
if ! wait_state enabled 180 $pid; then
    fail balance_attach "scx_fairrs did not attach: $(cat "$OUT/balance-daemon.log")"
    exit 0
fi
seq=$(sx_enable_seq)
echo "== scx_fairrs, cases: $CASES"
run_cases "$OUT/balance-fairrs.txt"
check balance_scheduler_stayed_attached "state=$(sx_state) enable_seq $seq -> $(sx_enable_seq)" \
    '[ "$(sx_state)" = enabled ] && [ "$(sx_enable_seq)" = "$seq" ] && kill -0 $pid'
kill -INT $pid; wait $pid

grep '^RESULT' "$OUT/balance-fairrs.txt" | while read -r _ case value lo hi detail; do
    kernel=$(awk -v c="$case" '$1 == "RESULT" && $2 == c { print $3 }' "$OUT/balance-kernel.txt")
    kdetail=$(awk -v c="$case" '$1 == "RESULT" && $2 == c { $1 = $2 = $3 = $4 = $5 = ""; print }' "$OUT/balance-kernel.txt")
    check "$case" "scx_fairrs $value (bounds $lo..$hi) vs kernel ${kernel:-n/a}; $detail | kernel:$kdetail" \
        'awk -v v="$value" -v lo="$lo" -v hi="$hi" "BEGIN { exit !(v >= lo && v <= hi) }"'
done
expected=0
for c in $CASES; do case $c in spread) expected=$((expected + 4)) ;; numa) expected=$((expected + 2)) ;; *) expected=$((expected + 1)) ;; esac; done
n=$(grep -c '^RESULT' "$OUT/balance-fairrs.txt")
check balance_cases_ran "$n of $expected results reported" '[ "$n" -eq "$expected" ]'
trouble=$(kernel_trouble)
check balance_kernel_log_clean "${trouble:-clean}" '[ -z "$trouble" ]'
echo "--- scx_fairrs stats during the cases"; tail -n 9 "$OUT/balance-daemon.log"
