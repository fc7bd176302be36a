#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
# Guest side of vm/profile.sh: where the time of a wakeup goes, per scheduler.
# For each scheduler in turn (the kernel's own, scx_fairrs, then PROFILE_PEERS)
# it runs the schbench-like latency workload twice:
#   - with kernel.bpf_stats_enabled, then prints each of the scheduler's BPF
#     programs with its calls, mean and total run time (fdinfo's run_cnt and
#     run_time_ns, named through /proc/kallsyms), costliest first;
#   - under the sched_wakeup / sched_switch tracepoints, then prints where
#     the workers' wakeups were activated (on the target CPU, from its wake
#     list, or remotely by the waker) and how long each took from
#     sched_wakeup to running (median, p90).
#
#   PROFILE_PEERS    "name=/path/to/binary[:arg:arg...] ..." as BENCH_PEERS
#   PROFILE_WORKERS  workers (2)     PROFILE_SECS  seconds per run (4)
set -u
. tests/vm/lib.sh
WORKERS=${PROFILE_WORKERS:-2}
SECS=${PROFILE_SECS:-4}
T=/sys/kernel/tracing
[ -d $T/events ] || mount -t tracefs none $T
sysctl -qw kernel.bpf_stats_enabled=1
echo 16384 > $T/buffer_size_kb

# "tag run_cnt run_time_ns" for each BPF program the process holds.
prog_stats() { bpf_prog_stats "$1" | sort -u; }

callbacks() {  # callbacks PID: run the workload, print each program's cost
    prog_stats "$1" > /tmp/profile.s0
    $BENCH bench latency --workers "$WORKERS" --secs "$SECS"
    prog_stats "$1" > /tmp/profile.s1
    echo "  BPF program                  calls     us/call    ms total"
    join /tmp/profile.s0 /tmp/profile.s1 | while read -r tag c0 r0 c1 r1; do
        name=$(grep -m1 " bpf_prog_${tag}_" /proc/kallsyms | awk '{ print $3 }' | sed "s/^bpf_prog_${tag}_//")
        [ "$c1" -gt "$c0" ] && awk -v n="$name" -v c=$((c1 - c0)) -v r=$((r1 - r0)) \
            'BEGIN { printf "  %-26s %8d %11.2f %11.1f\n", n, c, r / c / 1000, r / 1e6 }'
    done | sort -k4 -n -r
}

wakeups() {  # trace the workload's wakeups for 2 s
    echo 1 > $T/events/sched/sched_wakeup/enable
    echo 1 > $T/events/sched/sched_switch/enable
    echo > $T/trace
    echo 1 > $T/tracing_on
    $BENCH bench latency --workers "$WORKERS" --secs 2 > /dev/null
    echo 0 > $T/tracing_on
    echo 0 > $T/events/sched/enable
    awk '
        / sched_wakeup: comm=fairrs-guest/ {
            cpu = $0; sub(/.*\[0*/, "", cpu); sub(/\].*/, "", cpu)
            ts = $0; sub(/.*\] [^ ]+ +/, "", ts); sub(/:.*/, "", ts)
            pid = $0; sub(/.* pid=/, "", pid); sub(/ .*/, "", pid)
            tgt = $0; sub(/.*target_cpu=0*/, "", tgt)
            n++; if (cpu + 0 == tgt + 0) local++
            woke[pid] = ts
        }
        / sched_switch: / {
            ts = $0; sub(/.*\] [^ ]+ +/, "", ts); sub(/:.*/, "", ts)
            pid = $0; sub(/.* next_pid=/, "", pid); sub(/ .*/, "", pid)
            if (pid in woke) { print (ts - woke[pid]) * 1e6 > "/tmp/profile.delays"; delete woke[pid] }
        }
        END { printf "  wakeups activated on the target CPU: %d of %d\n", local, n }' $T/trace
    sort -n /tmp/profile.delays | awk '{ d[NR] = $1 }
        END { if (!NR) exit; p90 = int(NR * 0.9); if (p90 < 1) p90 = 1
              printf "  sched_wakeup -> running: median %.0f us, p90 %.0f us (%d)\n", d[int((NR + 1) / 2)], d[p90], NR }'
    rm -f /tmp/profile.delays
}

for spec in kernel "fairrs=$FAIRRS" ${PROFILE_PEERS:-}; do
    name=${spec%%=*}
    echo "== $name ($WORKERS workers)"
    if [ "$name" = kernel ]; then
        $BENCH bench latency --workers "$WORKERS" --secs "$SECS"
        wakeups
        continue
    fi
    if ! start_scheduler "$spec" "$OUT/profile-$name.log" 20; then
        echo "  $name did not attach: $(tail -n 2 "$OUT/profile-$name.log" | tr '\n' ' ')"
        continue
    fi
    pid=$SCHED_PID
    callbacks $pid
    wakeups
    kill -INT $pid; wait $pid
    wait_state disabled 20 || echo "  $name did not detach"
done
