#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
# Guest side of vm/demo.sh: scx_fairrs with --stats under a CPU + pipe + fork
# + nice-level mix, then a clean detach.
. tests/vm/lib.sh
secs=${1:-20}

echo "== kernel $(uname -r), $(nproc) CPUs; starting scx_fairrs --stats 2"
# The daemon's log (stderr, written a piece at a time) and its stats blocks
# (stdout) reach the host as separate streams, cut wherever they were read:
# they go through one pipe instead, and sed -u passes on whole lines only, so
# they and this script's own lines never meet mid-line.
fifo=/tmp/fairrs-demo-daemon.fifo
rm -f "$fifo"; mkfifo "$fifo"
sed -u '' < "$fifo" &
lines=$!
$FAIRRS --stats 2 > "$fifo" 2>&1 &
pid=$!
wait_state enabled 180 $pid || { echo "scx_fairrs did not attach"; exit 1; }
echo "== sched_ext state: $(sx_state), ops: $(sx_ops)"

echo "== workload: stress-ng cpu x4, nice-5 cpu x2, pipe x2, fork x2 for ${secs}s"
# The workload's own output goes to a file and is shown after the run, so the
# live stats blocks stay readable.
(cd /tmp && { stress-ng -t "$secs" -c 4 --pipe 2 --fork 2 --temp-path /tmp --metrics-brief > "$OUT/workload.log" 2>&1 &
 nice -n 5 stress-ng -t "$secs" -c 2 --temp-path /tmp --metrics-brief > "$OUT/workload-nice5.log" 2>&1; wait; })

stop_daemon $pid 60
wait $lines; rm -f "$fifo"
echo "== scx_fairrs exited with $DAEMON_RC; sched_ext state: $(sx_state)"
echo "== workload (stress-ng --metrics-brief): cpu x4, pipe x2, fork x2 at nice 0"
grep -E 'stressor|cpu |pipe |fork |successful|fail' "$OUT/workload.log"
echo "== workload: cpu x2 at nice 5"
grep -E 'stressor|cpu |successful|fail' "$OUT/workload-nice5.log"
