#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
# Guest side of the soak suite: scx_fairrs under every kind of scheduling
# churn at once for SOAK_SECS (150 in CI; 1800 for the documented long run:
# `SCX_FAIRRS_SOAK_SECS=1800 vm/test.sh soak`), as a busy machine has it:
# stress-ng's mix, one CPU taken offline and back every 10 s, transient
# cgroup scopes created, populated and removed without pause, two hogs pinned
# to CPU 0 behind a SCHED_FIFO poller there, and a suspend and resume cycle
# every fourth hotplug round; then the shares, and a stop. Checks: attached throughout (no
# restart, no ejection), every stressor completed, at least 2,000
# short-lived threads created, the scope churn and the suspend cycles without
# error, exact shares after it all (three equal hogs on a CPU; a cgroup of
# weight 200 beside one of 100), no stall / sched_ext error / WARNING in the
# kernel log, the daemon's RSS at the end within 10 % of its RSS after one
# minute (no leak), and a stop under 5 s with exit 0.
. tests/vm/lib.sh
expect_checks 9

SECS=${SOAK_SECS:-150}
dmesg -C
cgroups_classic
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

# Pinned and real-time neighbours on CPU 0 (never taken offline): a
# SCHED_FIFO poller busy half of each 10 ms, two nice-0 hogs pinned behind it.
chrt -f 1 $BENCH spin --cpu 0 --duty 50 --secs "$SECS" > /dev/null &
rt=$!
$BENCH spin --cpu 0 --threads 2 --secs "$SECS" > /dev/null &
pinned=$!

# Unit churn, as systemd makes and removes scopes: each scope gets a shell
# and a 0.1 s spinner, then goes; a scope still busy after its processes
# exited is retried for 1 s.
UNITS=/sys/fs/cgroup/fairrs-soak.slice
echo +cpu > /sys/fs/cgroup/cgroup.subtree_control
mkdir -p $UNITS && echo +cpu > $UNITS/cgroup.subtree_control
unit_churn() {
    local i=0 errors=0 d n
    while kill -0 $spid 2>/dev/null; do
        d=$UNITS/run-u$i.scope
        if mkdir "$d"; then
            sh -c "echo \$\$ > $d/cgroup.procs || exit 1; timeout 0.1 yes > /dev/null; exit 0" 2> /dev/null ||
                errors=$((errors + 1))
            n=0
            until rmdir "$d" 2>/dev/null; do
                n=$((n + 1)); [ "$n" -le 100 ] || { errors=$((errors + 1)); break; }; sleep 0.01
            done
        else
            errors=$((errors + 1))
        fi
        i=$((i + 1))
    done
    echo "$i $errors" > "$OUT/soak-units.txt"
}
unit_churn &
churner=$!

# One CPU offline and back every 10 s, rotating over CPUs 1-3, and every
# fourth round a suspend and resume cycle (suspend_cycle, lib.sh), until the
# workload ends; the daemon's RSS is sampled after one minute.
flips=0 failed_flips=0 t=0 c=1 rss1= rounds=0 suspends=0 failed_suspends=0
while kill -0 $spid 2>/dev/null; do
    sleep 8; t=$((t + 8))
    if echo 0 > /sys/devices/system/cpu/cpu$c/online; then flips=$((flips + 1)); else failed_flips=$((failed_flips + 1)); fi
    sleep 2; t=$((t + 2))
    if echo 1 > /sys/devices/system/cpu/cpu$c/online; then flips=$((flips + 1)); else failed_flips=$((failed_flips + 1)); fi
    c=$((c % 3 + 1))
    rounds=$((rounds + 1))
    if [ $((rounds % 4)) = 0 ] && kill -0 $spid 2>/dev/null; then
        state=freeze; [ $((rounds % 8)) = 0 ] && state=mem
        if suspend_cycle $state; then suspends=$((suspends + 1)); else failed_suspends=$((failed_suspends + 1)); fi
    fi
    [ -n "$rss1" ] || [ "$t" -lt 60 ] || rss1=$(rss_kb $pid)
done
wait $spid
src=$?
wait $churner
kill $rt $pinned 2>/dev/null; wait $rt $pinned 2>/dev/null
read -r units unit_errors < "$OUT/soak-units.txt" 2>/dev/null
rmdir $UNITS 2>/dev/null
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
# Each scope costs a few forks and execs, slow beside the stressors under
# emulation (49 in 180 s seen): the churn must go on, not be fast.
units_churned() { [ "${units:-0}" -ge $((SECS / 10)) ] && [ "${unit_errors:-1}" = 0 ]; }
check soak_unit_churn "${units:-?} scopes made, run and removed ($((SECS / 10)) wanted), ${unit_errors:-?} errors" units_churned
suspended() { [ "$suspends" -ge $((SECS / 90)) ] && [ "$failed_suspends" = 0 ]; }
check soak_suspend_cycles "$suspends suspend/resume cycles, $failed_suspends failed" suspended

# The shares after it all (the stressors done, the scheduler as the soak
# left it): one check per RESULT line, its own bounds.
$BENCH fairness --only three_equal_max_over_min --secs 4 > "$OUT/soak-shares.txt"
$BENCH groups --only one_cpu --secs 4 >> "$OUT/soak-shares.txt"
after_shares_exact() {
    [ "$(grep -c '^RESULT ' "$OUT/soak-shares.txt")" = 3 ] &&
        ! grep '^RESULT ' "$OUT/soak-shares.txt" | while read -r _ case v lo hi _; do within "$v" "$lo" "$hi" || echo "$case"; done | grep -q .
}
check soak_shares_after "$(awk '$1 == "RESULT" { printf "%s %s (%s..%s); ", $2, $3, $4, $5 }' "$OUT/soak-shares.txt")" after_shares_exact
timed_stop $pid
check soak_stop "stop ${STOP_MS} ms, daemon rc=$DAEMON_RC, state=$(sx_state)" quick_clean_stop
check_kernel_log soak_kernel_log_clean
echo "--- stress-ng"; tail -n 20 "$OUT/soak-stress.log"
echo "--- daemon log"; tail -n 5 "$OUT/soak-daemon.log"
