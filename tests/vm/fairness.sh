#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
# Guest side of the fairness suite: the same measurements under the kernel's
# own scheduler and under scx_fairrs, in one boot, printed side by side; the
# scx_fairrs figures are checked against CFS's ideal ratios.
. tests/vm/lib.sh
BENCH=${BENCH:-target/release/fairrs-guest}
SECS=${FAIRNESS_SECS:-10}
dmesg -C

echo "== kernel scheduler ($(uname -r)), ${SECS}s per case"
$BENCH fairness --secs "$SECS" | tee "$OUT/kernel.txt"

$FAIRRS > "$OUT/fairness-daemon.log" 2>&1 &
pid=$!
if ! wait_state enabled 180 $pid; then
    fail fairness_attach "scx_fairrs did not attach: $(cat "$OUT/fairness-daemon.log")"
    exit 0
fi
seq=$(sx_enable_seq)
echo "== scx_fairrs, ${SECS}s per case"
$BENCH fairness --secs "$SECS" | tee "$OUT/fairrs.txt"
check fairness_scheduler_stayed_attached "state=$(sx_state) enable_seq $seq -> $(sx_enable_seq)" \
    '[ "$(sx_state)" = enabled ] && [ "$(sx_enable_seq)" = "$seq" ] && kill -0 $pid'
kill -INT $pid; wait $pid

# One check per case: scx_fairrs's figure within its bounds; the kernel's
# figure for the same case is shown beside it.
grep '^RESULT' "$OUT/fairrs.txt" | while read -r _ case value lo hi detail; do
    kernel=$(awk -v c="$case" '$1 == "RESULT" && $2 == c { print $3 }' "$OUT/kernel.txt")
    check "$case" "scx_fairrs $value (bounds $lo..$hi) vs kernel ${kernel:-n/a}; $detail" \
        'awk -v v="$value" -v lo="$lo" -v hi="$hi" "BEGIN { exit !(v >= lo && v <= hi) }"'
done
n=$(grep -c '^RESULT' "$OUT/fairrs.txt")
check fairness_cases_ran "$n of 7 cases reported" '[ "$n" -eq 7 ]'
trouble=$(kernel_trouble)
check fairness_kernel_log_clean "${trouble:-clean}" '[ -z "$trouble" ]'
