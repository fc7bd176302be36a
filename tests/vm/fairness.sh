#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
# Guest side of the fairness suite: the same measurements under the kernel's
# own scheduler and under scx_fairrs, in one boot, printed side by side; the
# scx_fairrs figures are checked against CFS's ideal ratios.
. tests/vm/lib.sh
SECS=${FAIRNESS_SECS:-10}
dmesg -C

side_by_side fairness 8 $BENCH fairness --secs "$SECS"
check_kernel_log fairness_kernel_log_clean
