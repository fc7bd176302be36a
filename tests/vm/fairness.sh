#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
# Guest side of the fairness suite: the same measurements under the kernel's
# own scheduler and under scx_fairrs, in one boot, printed side by side; the
# scx_fairrs figures are checked against CFS's ideal ratios.
. tests/vm/lib.sh
BENCH=${BENCH:-target/release/fairrs-guest}
SECS=${FAIRNESS_SECS:-10}
dmesg -C

side_by_side fairness "$BENCH fairness --secs $SECS"
n=$(grep -c '^RESULT' "$OUT/fairness-fairrs.txt")
check fairness_cases_ran "$n of 8 cases reported" '[ "$n" -eq 8 ]'
trouble=$(kernel_trouble)
check fairness_kernel_log_clean "${trouble:-clean}" '[ -z "$trouble" ]'
