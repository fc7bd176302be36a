#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
# Guest side of the smoke suite, run on the other kernels the project supports
# (vm/test.sh smoke@6.16 smoke@6.18): the BPF program passes this kernel's
# verifier, attaches, survives a mixed stress run with affinity churn, serves
# its stats (task iterator, PELT), and detaches cleanly.
. tests/vm/lib.sh
expect_checks 8
dmesg -C
echo "== kernel $(uname -r)"

$FAIRRS --stats 5 > "$OUT/smoke-stats.out" 2> "$OUT/smoke-daemon.log" &
pid=$!
wait_state enabled 180 $pid
check smoke_attached "kernel $(uname -r): state=$(sx_state) ops=$(sx_ops); $(grep -m1 -o 'attached on.*' "$OUT/smoke-daemon.log")" \
    ours_enabled
seq=$(sx_enable_seq)
# The verifier's work on this kernel, per the daemon's attach log: the
# programs' total and the largest against the kernel's limit.
line=$(log_line "$OUT/smoke-daemon.log" "$VERIFIER_LINE")
check smoke_verifier "kernel $(uname -r): ${line:-no verifier line in the daemon's log}" [ -n "$line" ]

(cd /tmp && stress-ng -t 15 -c 4 -f 2 --pipe 2 --yield 2 --affinity 1 --affinity-delay 1 \
    --temp-path /tmp) > "$OUT/smoke-stress.log" 2>&1
src=$?
check smoke_stress "stress-ng rc=$src; state=$(sx_state) enable_seq $seq -> $(sx_enable_seq)" \
    [ "$src" -eq 0 ]
check smoke_stayed_attached "state=$(sx_state) enable_seq $seq -> $(sx_enable_seq)" attached_since "$seq" "$pid"

# --monitor --json parses as the daemon's report type, with 5 top tasks and
# every CPU (fairrs-guest stats shape).
$BENCH stats shape --case smoke_monitor --top 5 > "$OUT/smoke-results.txt"
record_results smoke 1 "$OUT/smoke-results.txt"

check_detached smoke_detached $pid
check_kernel_log smoke_kernel_log_clean
