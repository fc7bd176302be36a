#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
# Guest side of the benchmark suite (vm/bench.sh; a short run is the "bench"
# suite of vm/test.sh). Each round runs every workload under every scheduler
# in turn -- the kernel's own, scx_fairrs, then any peers -- the order rotated
# each round, so host noise (this is an emulated VM) hits all of them alike.
#
# Records go to $OUT/bench.txt: "BENCH <scheduler> <round> <metric> <value>",
# and "EJECTED <scheduler> <round> <why>" when a scheduler failed to attach or
# was ejected mid-round (its figures are kept, and marked).
#
#   BENCH_ROUNDS   rounds (3; vm/test.sh's short version runs 1, without peers)
#   BENCH_PEERS    "name=/path/to/binary[:arg:arg...] ..." schedulers to run beside
#                  the kernel's and scx_fairrs with its defaults (peers, or
#                  scx_fairrs with other flags; ':' separates the arguments)
#   BENCH_SECS     seconds per timed workload (5)
# The checks only make sure every figure exists, scx_fairrs stayed attached
# and detached cleanly and the kernel log is clean: the figures themselves
# (and their targets) are read in the table, not asserted here, since a
# single short round under emulation is too noisy for a ratio bound.
. tests/vm/lib.sh
ROUNDS=${BENCH_ROUNDS:-3}
expect_checks $((ROUNDS + 3))  # scx_fairrs detached each round; figures, never ejected, kernel log
SECS=${BENCH_SECS:-5}
RECORDS="$OUT/bench.txt"
: > "$RECORDS"
dmesg -C
sysctl -qw kernel.bpf_stats_enabled=1

SCHEDS="kernel fairrs=$FAIRRS ${BENCH_PEERS:-}"

# The workloads, each printing "BENCH <metric> <value>" lines.
messaging() {  # messaging METRIC ARGS...: perf's hackbench, total seconds
    local metric=$1 t
    shift
    t=$(perf bench sched messaging "$@" 2>&1 | awk '/Total time:/ { print $3 }')
    [ -n "$t" ] && echo "BENCH $metric $t"
}
# hackbench started three cgroup levels down, as under systemd (a slice, a
# user slice, a scope), the cpu controller on at each level: what group
# weights cost (scx_fairrs beside fairrs_nocg, its --no-cgroup variant, in
# vm/bench.sh's runs).
CG3=/sys/fs/cgroup/bench.slice/user.slice/session.scope
setup_cg3() {
    local d=/sys/fs/cgroup l
    [ -f $d/cgroup.controllers ] || mount -t cgroup2 none $d
    for l in bench.slice user.slice session.scope; do
        echo +cpu > $d/cgroup.subtree_control
        d=$d/$l
        mkdir -p $d
    done
}
messaging_cg3() {  # messaging_cg3 METRIC ARGS...: the same, from $CG3
    local metric=$1 t
    shift
    t=$(sh -c 'echo $$ > '"$CG3"'/cgroup.procs && exec perf bench sched messaging "$@"' sh "$@" 2>&1 \
        | awk '/Total time:/ { print $3 }')
    [ -n "$t" ] && echo "BENCH $metric $t"
}
from_results() {  # turn fairrs-guest RESULT lines into BENCH lines
    awk '$1 == "RESULT" { print "BENCH", $2, $3 }'
}
workloads() {
    messaging hackbench_proc_sock_s -g 4 -l 100
    messaging hackbench_thread_sock_s -g 4 -l 100 -t
    messaging hackbench_proc_pipe_s -g 4 -l 100 -p
    messaging hackbench_thread_pipe_s -g 4 -l 100 -p -t
    messaging_cg3 hackbench_cgroup3_proc_sock_s -g 4 -l 100
    $BENCH bench latency --workers 2 --secs "$SECS"
    $BENCH bench latency --workers 8 --secs "$SECS"
    $BENCH bench timer --secs "$SECS"
    $BENCH bench nice_mix --secs "$SECS"
    $BENCH fairness --only nice --secs 3 | from_results
    $BENCH balance --only spread --secs "$SECS" | from_results | grep -E 'hog_max_dev|utilisation'
    $BENCH balance --only churn --secs "$SECS" | from_results
}

# BPF time the scheduler's programs have run, ns (kernel.bpf_stats_enabled).
bpf_run_ns() { bpf_prog_stats "$1" | awk '{ s += $3 } END { printf "%d\n", s }'; }
ctxt() { awk '/^ctxt/ { print $2 }' /proc/stat; }

# run_under SPEC: one round of the workloads under one scheduler: "kernel",
# or a scheduler to start ("name=/path/to/binary[:arg...]", start_scheduler).
run_under() {
    local spec=$1 name=${1%%=*} pid="" seq="" b0 c0 t0
    if [ "$name" != kernel ]; then
        if ! start_scheduler "$spec" "$OUT/bench-$name-$round.log" 120; then
            echo "EJECTED $name $round did not attach: $(tail -n 3 "$OUT/bench-$name-$round.log" | tr '\n' ' ')" \
                | tee -a "$RECORDS"
            return
        fi
        pid=$SCHED_PID
        seq=$(sx_enable_seq)
    fi
    echo "== round $round: $name ($(sx_ops))"
    t0=$(date +%s)
    b0=$( [ -n "$pid" ] && bpf_run_ns $pid || echo 0) c0=$(ctxt)
    workloads | awk -v s="$name" -v r="$round" '$1 == "BENCH" { print "BENCH", s, r, $2, $3; fflush() }' \
        | tee -a "$RECORDS"
    echo "== round $round: $name done in $(( $(date +%s) - t0 ))s"
    if [ -n "$pid" ]; then
        if attached_since "$seq" $pid; then
            echo "BENCH $name $round bpf_ns_per_switch $(( ($(bpf_run_ns $pid) - b0) / ($(ctxt) - c0 + 1) ))" \
                | tee -a "$RECORDS"
        else
            echo "EJECTED $name $round state=$(sx_state): $(tail -n 3 "$OUT/bench-$name-$round.log" | tr '\n' ' ')" \
                | tee -a "$RECORDS"
        fi
        stop_daemon $pid 60
        wait_state disabled 30
        [ "$name" != fairrs ] || check "bench_fairrs_round_${round}_detached" "daemon rc=$DAEMON_RC state=$(sx_state)" \
            detached_cleanly
    fi
}

setup_cg3
round=1
while [ "$round" -le "$ROUNDS" ]; do
    # Rotate the order each round: round 1 starts with the kernel, round 2
    # with the next scheduler, and so on.
    set -- $SCHEDS
    i=1
    while [ "$i" -lt "$round" ]; do first=$1; shift; set -- "$@" "$first"; i=$((i + 1)); done
    for s in "$@"; do
        run_under "$s"
    done
    round=$((round + 1))
done

echo "== report"
$BENCH bench report "$RECORDS" --json "$OUT/bench.json" | tee "$OUT/bench.md"

# What the suite checks (the figures are the product; these only make sure
# they exist and that nothing went badly wrong).
# figures_complete: scx_fairrs reported, in every round, each metric the
# kernel's scheduler did (at least the 23 the workloads produce).
figures_complete() {
    local n r
    n=$(awk '$1 == "BENCH" && $2 == "kernel" { print $4 }' "$RECORDS" | sort -u | wc -l)
    [ "$n" -ge 23 ] || return 1
    for r in $(seq "$ROUNDS"); do
        [ "$(awk -v r="$r" '$1 == "BENCH" && $2 == "fairrs" && $3 == r && $4 != "bpf_ns_per_switch" { print $4 }'             "$RECORDS" | sort -u | wc -l)" -eq "$n" ] || return 1
    done
}
check bench_every_figure "$(grep -c "^BENCH fairrs" "$RECORDS") scx_fairrs figures over $ROUNDS rounds" figures_complete
check bench_fairrs_never_ejected "$(grep '^EJECTED fairrs' "$RECORDS" | head -n 1)" \
    sh -c "! grep -q '^EJECTED fairrs' '$RECORDS'"
# The kernel log, less what it says of the peers: a peer ejected (the kernel's
# watchdog, say) is marked in the table, not a failure of scx_fairrs.
check_kernel_log bench_kernel_log_clean 'BPF scheduler "\(bpfland\|flash\)'
