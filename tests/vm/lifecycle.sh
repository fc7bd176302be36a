#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
# Guest side of the lifecycle suite: refusals, attach, stress, a CPU hotplug
# restart, and a clean detach, in one boot. See docs/DESIGN.md "Tests".
. tests/vm/lib.sh
expect_checks 19

LOG="$OUT/daemon.log"
dmesg -C

# --- refusals: nothing may be attached after any of them --------------------
msg=$($FAIRRS --sched-latency-us 6000 --min-granularity-us 7000 2>&1); rc=$?
# refused_in_one_line TEXT...: $rc non-zero, nothing attached, $msg one line
# naming every TEXT.
refused_in_one_line() {
    local t
    [ "$rc" -ne 0 ] && [ "$(sx_state)" = disabled ] && [ "$(printf '%s\n' "$msg" | wc -l)" -eq 1 ] || return 1
    for t in "$@"; do has "$msg" "$t" || return 1; done
}
check bad_flag_refused "rc=$rc state=$(sx_state) msg='$msg'" \
    refused_in_one_line --min-granularity-us 7000 "100..=6000"

msg=$(setpriv --reuid=65534 --regid=65534 --clear-groups $FAIRRS 2>&1); rc=$?
check non_root_refused "rc=$rc state=$(sx_state) msg='$msg'" refused_in_one_line "must run as root"

# --- attach -----------------------------------------------------------------
seq0=$(sx_enable_seq)
t0=$(date +%s)
$FAIRRS --stats 5 > "$OUT/stats.log" 2> "$LOG" &
pid=$!
wait_state enabled 180 $pid
newly_attached() { ours_enabled && [ "$(sx_enable_seq)" -gt "$seq0" ]; }
check attached "state=$(sx_state) ops=$(sx_ops) after $(( $(date +%s) - t0 ))s" newly_attached
seq1=$(sx_enable_seq)

msg=$($FAIRRS 2>&1); rc=$?
second_refused() { [ "$rc" -ne 0 ] && has "$msg" "another sched_ext scheduler (fairrs)" && attached_since "$seq1" "$pid"; }
check second_instance_refused "rc=$rc msg='$msg'" second_refused

# --- stress, the way the scx project tests its schedulers --------------------
(cd /tmp && stress-ng -t 31 --aggressive -M -c 4 -f 4 --affinity 1 --affinity-delay 1 \
    --affinity-pin --pipe 2 --yield 2 --temp-path /tmp) > "$OUT/stress.log" 2>&1
src=$?
check stress_completed "stress-ng rc=$src: $(grep -o 'successful run completed.*' "$OUT/stress.log")" \
    [ "$src" -eq 0 ]
check still_attached_after_stress "state=$(sx_state) enable_seq $seq1 -> $(sx_enable_seq)" \
    attached_since "$seq1" "$pid"
check_kernel_log kernel_log_clean

# --- CPU hotplug under load: ops.cpu_online/offline keep us attached ---------
(cd /tmp && stress-ng -t 25 -c 4 --pipe 2 --fork 1 --temp-path /tmp) > "$OUT/hotplug-stress.log" 2>&1 &
spid=$!
flips=$(flip_cpus 5)
wait $spid
hrc=$?
through_hotplug() { [ "$flips" -eq 30 ] && [ "$hrc" -eq 0 ] && attached_since "$seq1" "$pid"; }
check hotplug_stays_attached "$flips CPU on/offline transitions in 5 rounds; stress-ng rc=$hrc; state=$(sx_state) enable_seq $seq1 -> $(sx_enable_seq); online $(cat /sys/devices/system/cpu/online)" \
    through_hotplug
check_kernel_log kernel_log_clean_through_hotplug

# --- detach on SIGINT ---------------------------------------------------------
check_detached sigint_detaches $pid
check_kernel_log kernel_log_clean_after_detach

# --- clients without an instance: one line, exit 1 -----------------------------
no_instance_reached() { [ "$rc" -eq 1 ] && [ "$(printf '%s\n' "$msg" | wc -l)" -eq 1 ] && has "$msg" "cannot reach a running scx_fairrs"; }
for args in "--monitor 1" "--set sched_latency_us=12000"; do
    msg=$($FAIRRS $args 2>&1); rc=$?
    check "no_instance_${args%% *}" "rc=$rc msg='$msg'" no_instance_reached
done

# --- SIGKILL: the kernel drops the scheduler with its last link; a new start
# is not blocked by anything the killed daemon left (its stats socket) -------
$FAIRRS > "$OUT/killed-daemon.log" 2>&1 &
pid=$!
wait_state enabled 120 $pid
kill -KILL $pid; wait $pid 2>/dev/null
t0=$(date +%s%N)
wait_state disabled 5
ms=$(( ($(date +%s%N) - t0) / 1000000 ))
check sigkill_detaches "state=$(sx_state) ${ms} ms after SIGKILL" [ "$(sx_state)" = disabled ]
$FAIRRS > "$OUT/after-kill-daemon.log" 2>&1 &
pid=$!
wait_state enabled 120 $pid
m=$(timeout 20 $FAIRRS --monitor 1 --json 2>&1 | head -c 60)
restarted_and_serving() { [ "$(sx_state)" = enabled ] && kill -0 "$pid" && has "$m" "{"; }
check start_after_sigkill "state=$(sx_state); --monitor: ${m}..." restarted_and_serving
check_detached start_after_sigkill_detaches $pid

# --- two instances started at the same instant: exactly one attaches, the
# other exits 1 with one line ---------------------------------------------------
$FAIRRS > "$OUT/race-a.log" 2>&1 & a=$!
$FAIRRS > "$OUT/race-b.log" 2>&1 & b=$!
wait_state enabled 120
i=0; while kill -0 $a 2>/dev/null && kill -0 $b 2>/dev/null && [ $i -lt 80 ]; do sleep 0.25; i=$((i + 1)); done
if kill -0 $a 2>/dev/null; then winner=$a loser=$b lose_log=race-b.log; else winner=$b loser=$a lose_log=race-a.log; fi
wait $loser; lrc=$?
lmsg=$(grep -v '^\[' "$OUT/$lose_log")
one_winner() {
    kill -0 "$winner" && [ "$(sx_state)" = enabled ] && [ "$lrc" -eq 1 ] &&
        [ "$(printf '%s\n' "$lmsg" | wc -l)" -eq 1 ] && has "$lmsg" "another sched_ext scheduler"
}
check two_instances_one_attaches "state=$(sx_state); loser rc=$lrc: '$lmsg'" one_winner
check_detached two_instances_winner_detaches $winner
check_kernel_log kernel_log_clean_at_end

echo "--- daemon log"; cat "$LOG"
echo "--- last stats block"; tail -n 8 "$OUT/stats.log"
