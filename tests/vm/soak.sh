#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
# Guest side of the soak suite: scx_fairrs under every kind of scheduling
# churn at once for SOAK_SECS (180 in CI; 1800 for the documented long run:
# `SCX_FAIRRS_SOAK_SECS=1800 vm/test.sh soak`), with one CPU taken offline and
# back every 10 s, then a stop. Checks: attached throughout (no restart, no
# ejection), every stressor completed, at least 2,000 short-lived threads
# created, no stall / sched_ext error / WARNING in the kernel log, the
# daemon's RSS at the end within 10 % of its RSS after one minute (no leak),
# and a stop under 5 s with exit 0.
. tests/vm/lib.sh
expect_checks 6

SECS=${SOAK_SECS:-180}
dmesg -C
echo "== soak on $(uname -r) for ${SECS}s"

$FAIRRS --stats 10 > "$OUT/soak-stats.log" 2> "$OUT/soak-daemon.log" &
pid=$!
if ! wait_state enabled 120 $pid; then
    fail soak_attached "did not attach: $(tail -n 3 "$OUT/soak-daemon.log")"
    exit 0
fi
seq=$(sx_enable_seq)
rss_kb() { awk '/^VmRSS:/ { print $2 }' /proc/"$1"/status 2>/dev/null || echo 0; }

# cpu, fork/exec, pipe, futex, yield, policy churn (SCHED_OTHER/BATCH/IDLE/
# FIFO/RR), affinity churn, nice churn, short-lived threads, SCHED_FIFO
# bursts (cyclic: a real-time task waking every 100 us).
# --verbose: when a stressor fails without a "fail:" line (a child that dies
# on a signal is only reported at debug level), the log still says which.
(cd /tmp && stress-ng -t "$SECS" --verbose --metrics-brief --temp-path /tmp \
    --cpu 2 --fork 1 --exec 1 --pipe 1 --futex 1 --yield 1 \
    --schedpolicy 1 --affinity 1 --nice 1 --pthread 1 --pthread-max 16 \
    --cyclic 1 --cyclic-policy fifo --cyclic-sleep 100000) > "$OUT/soak-stress.log" 2>&1 &
spid=$!

# One CPU offline and back every 10 s, rotating over CPUs 1-3, until the
# workload ends; the daemon's RSS is sampled after one minute.
flips=0 failed_flips=0 t=0 c=1 rss1=
while kill -0 $spid 2>/dev/null; do
    sleep 8; t=$((t + 8))
    if echo 0 > /sys/devices/system/cpu/cpu$c/online; then flips=$((flips + 1)); else failed_flips=$((failed_flips + 1)); fi
    sleep 2; t=$((t + 2))
    if echo 1 > /sys/devices/system/cpu/cpu$c/online; then flips=$((flips + 1)); else failed_flips=$((failed_flips + 1)); fi
    c=$((c % 3 + 1))
    [ -n "$rss1" ] || [ "$t" -lt 60 ] || rss1=$(rss_kb $pid)
done
wait $spid
src=$?
rss2=$(rss_kb $pid)
# All CPUs back, whatever happened.
for c in 1 2 3; do echo 1 > /sys/devices/system/cpu/cpu$c/online 2>/dev/null; done

stressors_completed() { [ $src -eq 0 ] && [ "$failed_flips" -eq 0 ] && [ "$flips" -ge $((SECS / 10)) ]; }
enough_threads() { [ -n "$threads" ] && [ "${threads%%.*}" -ge 2000 ]; }
rss_flat() { [ -n "$rss1" ] && [ "$rss2" -le $((rss1 * 110 / 100)) ]; }
quick_clean_stop() { [ "$STOP_MS" -lt 5000 ] && detached_cleanly; }

check soak_attached_throughout "state=$(sx_state) enable_seq $seq -> $(sx_enable_seq) after ${SECS}s" \
    attached_since "$seq" "$pid"
passed_line=$(grep -o 'successful run completed.*\|unsuccessful run completed.*' "$OUT/soak-stress.log")
# What a failed run says about its stressors (nothing when it succeeded).
why=""
[ $src -eq 0 ] || why=" [$(grep -iE 'fail|terminated|signal|error|killed' "$OUT/soak-stress.log" | grep -v 'metrc' | head -n 4 | tr '\n' ';')]"
check soak_stressors_completed "stress-ng rc=$src: ${passed_line:-no summary}$why; $flips hotplug transitions ($failed_flips refused)" \
    stressors_completed
threads=$(awk '$2 == "metrc:" && $4 == "pthread" { print $5; exit }' "$OUT/soak-stress.log")
check soak_short_lived_threads "${threads:-none} threads created and ended (pthread bogo ops)" enough_threads
check soak_daemon_rss "VmRSS ${rss1:-?} kB after 1 min, $rss2 kB at the end (limit +10 %)" rss_flat
timed_stop $pid
check soak_stop "stop ${STOP_MS} ms, daemon rc=$DAEMON_RC, state=$(sx_state)" quick_clean_stop
check_kernel_log soak_kernel_log_clean
echo "--- stress-ng"; tail -n 20 "$OUT/soak-stress.log"
echo "--- daemon log"; tail -n 5 "$OUT/soak-daemon.log"
