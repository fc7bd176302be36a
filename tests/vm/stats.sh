#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
# Guest side of the stats suite: PELT figures, --monitor over the stats
# socket, live retuning with --set, the live fairness index (on pinned hogs,
# then on a nice mix that keeps migrating), the BPF cost per callback with
# kernel.bpf_stats_enabled off and on, and scx_stats' own client at its
# default path (as scxtop connects), against real workloads in one boot. The
# reports are read and judged by `fairrs-guest stats`
# (tests/guest/src/stats.rs) with the daemon's own report types; this script
# sets the scene.
. tests/vm/lib.sh
expect_checks 29
dmesg -C

# The harness (the daemon answering the stats socket, the monitor client,
# parsing) runs on CPU 0, away from the workloads it measures on CPUs 1-3:
# starting a process and parsing 100+ tasks is CPU-heavy under emulation and
# would otherwise show up in the very figures it reads. (Only the daemon's
# process is pinned; the BPF scheduler schedules every CPU as always.)
stats_check() { taskset -c 0 $BENCH stats "$@" | tee -a "$OUT/stats-results.txt"; }
: > "$OUT/stats-results.txt"

taskset -c 0 $FAIRRS --sched-latency-us 9000 --stats 1 --top 3 > "$OUT/stats-daemon.out" 2> "$OUT/stats-daemon.log" &
pid=$!
wait_state enabled 180 $pid || { fail stats_attach "did not attach: $(cat "$OUT/stats-daemon.log")"; exit 0; }
# The verifier's work on this kernel, per the daemon's attach log.
line=$(log_line "$OUT/stats-daemon.log" "$VERIFIER_LINE")
check stats_verifier "kernel $(uname -r): ${line:-no verifier line in the daemon's log}" [ -n "$line" ]

# A 50 %-duty task alone on CPU 2, measured first while the other CPUs are
# quiet (its busy share each second goes to duty.tids; see `stats duty`).
$BENCH spin --cpu 2 --duty 50 --secs 300 > "$OUT/duty.tids" &
spinners=$!
sleep 3
duty_tid=$(awk '$1 == "tid" {print $2}' "$OUT/duty.tids")
stats_check duty --tid "${duty_tid:-0}" --spin-log "$OUT/duty.tids"

# Then a hog alone on CPU 3 and four equal hogs on CPU 1.
$BENCH spin --cpu 3 --secs 300 > "$OUT/hog.tids" &
spinners="$spinners $!"
$BENCH spin --cpu 1 --threads 4 --secs 300 > "$OUT/four.tids" &
spinners="$spinners $!"
sleep 3
stats_check loaded --hog-cpu 3 --four-cpu 1 --latency-us 9000 --daemon-out "$OUT/stats-daemon.out"
# BPF cost per callback: off says so; on, counted and per switch as the bench
# suite reads it (the check turns kernel.bpf_stats_enabled on, then off).
stats_check bpf --daemon-pid $pid --daemon-out "$OUT/stats-daemon.out"
# Tasks of nice 0, 5, -5, 19 and SCHED_IDLE on CPU 2 (the duty task's CPU):
# the weights the report gives them.
stats_check weights --cpu 2
# --set: refused values change nothing; a good one retunes without
# reloading; nobody but root may set.
stats_check retune --hog-cpu 3 --from 9000 --to 12000
check daemon_logged_retune "$(grep retuned "$OUT/stats-daemon.log")" \
    grep -q "retuned sched_latency_us 9000 -> 12000" "$OUT/stats-daemon.log"

# A plain StatsClient, no path given: it reads this instance, then holds its
# connection across the stop below (default_client_fails_after_stop).
taskset -c 0 $BENCH stats default_client --daemon-pid $pid --latency-us 12000 > "$OUT/default-client.txt" &
holder=$!
i=0
while ! grep -q '^RESULT default_client_reads' "$OUT/default-client.txt" && [ $i -lt 120 ]; do sleep 0.25; i=$((i + 1)); done

ls -l /var/run/scx/root/stats > "$OUT/socket.txt" 2>&1
check stats_socket_root_only "$(cat "$OUT/socket.txt")" grep -q "^srw-------" "$OUT/socket.txt"
ls -ld /var/run/scx/root > "$OUT/socket-dir.txt" 2>&1
check stats_socket_dir_private "$(cat "$OUT/socket-dir.txt")" grep -q "^drwx------ .* root root" "$OUT/socket-dir.txt"

# By pid: dash's $(jobs -p) runs in a subshell, which has no jobs, and the
# spinners would outlive the suite into the next one of the boot.
kill $spinners 2>/dev/null; wait $spinners 2>/dev/null
# Live fairness on a load that migrates: a nice mix on CPUs 1-3, moved about.
stats_check live --reports 8
check_detached stats_daemon_exited $pid
# The holder ends by itself once the daemon is gone (each of its waits is bounded).
wait $holder
cat "$OUT/default-client.txt" >> "$OUT/stats-results.txt"
record_results stats 22 "$OUT/stats-results.txt"
check_kernel_log stats_kernel_log_clean
echo "--- an in-process --stats block"; grep -B1 -A14 'fairness:' "$OUT/stats-daemon.out" | tail -16
echo "--- one with BPF cost"; grep -B3 -A12 'ns per context switch' "$OUT/stats-daemon.out" | tail -16
