# SPDX-License-Identifier: GPL-2.0
# Guest-side helpers for the VM suites: result recording and scheduler control.
# Sourced by the suites, which run as root inside the VM from the repo root.

# The daemon under test and the guest workload program (tests/guest), which
# reads FAIRRS too.
FAIRRS=${FAIRRS:-target/release/scx_fairrs}
BENCH=${BENCH:-target/release/fairrs-guest}
export FAIRRS BENCH
OUT=${OUT:-/tmp/fairrs-out}
RESULTS="$OUT/results.txt"
SCX=/sys/kernel/sched_ext
mkdir -p "$OUT"
# The host tells a boot that never reached the suite from a suite that hung.
[ -f "$OUT/guest-started" ] || echo "$(uname -r) $(date +%s)" > "$OUT/guest-started"

# Every check prints and records one line: "ok <name>: <detail>" or
# "FAIL <name>: <detail>". The host counts them.
pass() { echo "ok $1: $2" | tee -a "$RESULTS"; }
fail() { echo "FAIL $1: $2" | tee -a "$RESULTS"; }
# check NAME DETAIL COMMAND [ARG...]: the command's exit status is the verdict.
# A compound condition is a function with a name that says what it checks.
check() {
    local name=$1 detail=$2
    shift 2
    if "$@"; then pass "$name" "$detail"; else fail "$name" "$detail"; fi
}
has() { printf '%s' "$1" | grep -q -- "$2"; }  # has TEXT PATTERN
within() { awk -v v="$1" -v lo="$2" -v hi="$3" 'BEGIN { exit !(v >= lo && v <= hi) }'; }  # within VALUE LO HI
within_present() { [ -n "$1" ] && within "$@"; }  # the same, and VALUE is not missing

# expect_checks N: how many checks this suite reports when it runs to the
# end. The host (vm/test.sh) fails the suite when fewer arrive, so a guest
# that dies mid-suite cannot pass on the checks it wrote before.
expect_checks() { echo "$1" > "$OUT/expected-checks"; }

# read_plan NAME COMMAND [ARG...]: the plan of a measuring suite, from the
# guest's case table (`fairrs-guest SUITE --plan`, tests/guest/src/cases.rs),
# which COMMAND prints: one line per result the suite will report,
# "PLAN <result> <calibrated 1|0> <why not, or ->". Shows it and sets
# EXPECTED (how many results), CALIBRATED (how many of them the kernel's
# scheduler is held to as well) and UNCALIBRATED (the others' names, for
# record_results; their rows say why), from which the suite counts its
# checks. A plan with no result is a failure of its own ("NAME_plan").
read_plan() {
    local name=$1 plan
    shift
    plan=$("$@" | grep '^PLAN ')
    printf '%s\n' "$plan"
    EXPECTED=$(printf '%s\n' "$plan" | grep -c '^PLAN ')
    CALIBRATED=$(printf '%s\n' "$plan" | awk '$3 == 1' | grep -c .)
    [ "${KERNEL_SIDE:-1}" = 1 ] || CALIBRATED=0
    UNCALIBRATED=$(printf '%s\n' "$plan" | awk '$3 == 0 { printf "%s ", $2 }')
    [ "$EXPECTED" -gt 0 ] || fail "${name}_plan" "$* listed no results"
}

# record_results SUITE EXPECTED FILE [KERNEL_FILE]: one check per
# "RESULT <case> <value> <lo> <hi> <detail>" line of FILE (written by
# fairrs-guest), the value within its bounds, with the kernel's figure for the
# same case beside it when KERNEL_FILE is given; then a check that EXPECTED
# results were reported (a measurement that died leaves fewer). SUBJECT names
# what was measured (scx_fairrs unless set).
#
# With KERNEL_FILE, every case is also a calibration: the kernel's own
# scheduler follows the same rules (nice weights, equal shares, balancing),
# so its figure must meet the same bounds ("<case>_kernel_calibration"). If
# it does not, the bound or the VM is wrong, not only scx_fairrs. A missing
# kernel figure fails that check too. Cases listed in $UNCALIBRATED are the
# exception: rules where today's kernel deliberately differs from CFS
# (read_plan sets the list from the guest's case table, whose rows say
# why); their kernel figure is shown, not checked.
record_results() {
    local suite=$1 expected=$2 file=$3 kfile=${4:-} n kernel kvalue
    grep '^RESULT' "$file" > "$OUT/$suite-results.tmp"
    while read -r _ case value lo hi detail; do
        kernel=""
        [ -z "$kfile" ] || kernel=" | kernel:$(awk -v c="$case" '$1 == "RESULT" && $2 == c { $1 = $2 = $4 = $5 = ""; print }' "$kfile")"
        check "$case" "${SUBJECT:-scx_fairrs} $value (bounds $lo..$hi): $detail$kernel" within "$value" "$lo" "$hi"
        if [ -n "$kfile" ] && ! has " ${UNCALIBRATED:-} " " $case "; then
            kvalue=$(awk -v c="$case" '$1 == "RESULT" && $2 == c { print $3; exit }' "$kfile")
            check "${case}_kernel_calibration" "kernel's scheduler ${kvalue:-missing} (same bounds $lo..$hi)" \
                within_present "$kvalue" "$lo" "$hi"
        fi
    done < "$OUT/$suite-results.tmp"
    n=$(wc -l < "$OUT/$suite-results.tmp")
    check "${suite}_cases_ran" "$n of $expected results reported" [ "$n" -eq "$expected" ]
}

# check_kernel_log NAME [IGNORE]: nothing in the kernel log says the scheduler
# or the kernel went wrong (kernel_trouble below), lines matching the grep
# pattern IGNORE aside.
check_kernel_log() {
    local trouble
    trouble=$(kernel_trouble | { if [ -n "${2:-}" ]; then grep -v -- "$2"; else cat; fi; } || true)
    # The whole log, for the report the first lines only begin (an RCU stall's blocked tasks).
    [ -z "$trouble" ] || dmesg > "$OUT/$1-dmesg.log" 2>&1 || true
    local stale=$(stale_ddsp_warnings)
    [ "$stale" = 0 ] || stale=" ($stale warnings of the kernel's stale direct-dispatch bug, exempt on $(uname -r))"
    check "$1" "${trouble:-clean}${stale#0}" [ -z "$trouble" ]
}

# suspend_cycle STATE: one suspend and resume cycle (freeze or mem) stopped at
# the freezer (pm_test): the PM notifier (sched_ext bypasses the BPF scheduler
# from PM_SUSPEND_PREPARE to PM_POST_SUSPEND) and every task frozen and
# thawed. This VM's disks do not come back from a full device suspend (an ata
# "check power mode" hang), a matter of QEMU, not of scheduling. Appends
# "STATE:rc=N,Mms" to $SUSPENDS; fails if the cycle did.
SUSPENDS=""
suspend_cycle() {
    local t0=$(date +%s%N) rc=0
    echo freezer > /sys/power/pm_test || return 1
    echo 1 > /sys/module/suspend/parameters/pm_test_delay  # s at the test point (5 by default)
    timeout 60 sh -c "echo $1 > /sys/power/state" || rc=$?
    echo none > /sys/power/pm_test
    SUSPENDS="$SUSPENDS $1:rc=$rc,$(( ($(date +%s%N) - t0) / 1000000 ))ms"
    [ "$rc" = 0 ]
}

# daemon_total NAME LOG: the counter NAME in the totals a daemon logged at exit.
daemon_total() { sed -n "s/.*totals over .* $1=\([0-9]*\).*/\1/p" "$2" | tail -n 1; }

# cgroups_classic: cgroup v2 with the cpu controller, and on kernels from 7.3
# the classic group mode ("smp"; their default grows a group's weight with its
# task count), so the kernel's figures follow CFS's documented shares.
cgroups_classic() {
    local mode=/sys/kernel/debug/sched/cgroup_mode
    [ -f /sys/fs/cgroup/cgroup.controllers ] || mount -t cgroup2 none /sys/fs/cgroup
    mountpoint -q /sys/kernel/debug || mount -t debugfs none /sys/kernel/debug 2>/dev/null
    if [ -f "$mode" ]; then
        echo smp > "$mode"
        echo "== kernel group mode: $(cat "$mode")"
    fi
}

# A scheduler to run, as vm/lib.sh's peer_spec writes it:
# "name=/path/to/binary[:arg:arg...]" (':' separates the arguments).
spec_command() { echo "${1#*=}" | tr ':' ' '; }

# start_scheduler SPEC LOG SECONDS: start the scheduler SPEC names, its
# output to LOG, and wait at most SECONDS for sched_ext to report it enabled;
# its pid goes to $SCHED_PID. One that does not attach by then is stopped
# (SIGINT), sched_ext is given 30 s to read disabled again, and the status
# is 1 (LOG says why).
start_scheduler() {
    # shellcheck disable=SC2046
    $(spec_command "$1") > "$2" 2>&1 &
    SCHED_PID=$!
    wait_state enabled "$3" $SCHED_PID && return 0
    kill -INT $SCHED_PID 2>/dev/null; wait $SCHED_PID 2>/dev/null
    wait_state disabled 30
    return 1
}

# bpf_prog_stats PID: "tag run_cnt run_time_ns" for each BPF program the
# process holds, from its fds' fdinfo (the run figures count while
# kernel.bpf_stats_enabled is set).
bpf_prog_stats() {
    for f in /proc/"$1"/fdinfo/*; do
        awk '/^prog_tag:/ { t = $2 } /^run_cnt:/ { c = $2 } /^run_time_ns:/ { r = $2 }
             END { if (t != "" && c != "" && r != "") print t, c, r }' "$f" 2>/dev/null
    done
}

sx_state() { cat "$SCX/state" 2>/dev/null || echo missing; }
sx_ops() { cat "$SCX/root/ops" 2>/dev/null || echo none; }
sx_enable_seq() { cat "$SCX/enable_seq" 2>/dev/null || echo -1; }

# wait_state STATE SECONDS [PID]: poll until sched_ext reports STATE; give up
# early if PID (the daemon) has exited.
wait_state() {
    local want=$1 limit=$2 pid=${3:-} i=0
    while [ "$(sx_state)" != "$want" ]; do
        i=$((i + 1))
        [ "$i" -le $((limit * 4)) ] || return 1
        [ -z "$pid" ] || kill -0 "$pid" 2>/dev/null || return 1
        sleep 0.25
    done
}

# wait_enable_seq SEQ SECONDS: poll until enable_seq reaches SEQ and enabled.
wait_enable_seq() {
    local want=$1 limit=$2 i=0
    while [ "$(sx_enable_seq)" -lt "$want" ] || [ "$(sx_state)" != enabled ]; do
        i=$((i + 1))
        [ "$i" -le $((limit * 4)) ] || return 1
        sleep 0.25
    done
}

# log_line FILE REGEX: the first match of REGEX (grep -E -o) in FILE, waiting
# up to 5 s for the daemon to write it (it logs right after attaching).
log_line() {
    local i=0 m
    while [ "$i" -lt 20 ]; do
        m=$(grep -m1 -oE "$2" "$1") && { echo "$m"; return 0; }
        i=$((i + 1))
        sleep 0.25
    done
    return 1
}

# The daemon's attach log line with the verifier's work (a log_line REGEX).
VERIFIER_LINE="verifier: [0-9]+ programs?, [0-9]+ instructions processed; most: [A-Za-z0-9_]+ [0-9]+ \\(the kernel's limit: 1000000 per program\\)"

# stop_daemon PID SECONDS: SIGINT the daemon and wait for it, at most SECONDS;
# its exit code lands in $DAEMON_RC (not printed: a command substitution is a
# subshell, which cannot wait for this shell's children). A daemon that does
# not exit in time is a failure in itself: its kernel stacks, the sched_ext
# state and the blocked tasks (sysrq-w), the running CPUs (sysrq-l) go to $OUT/stuck-daemon.txt and the
# console before it is killed, so a hang in CI leaves evidence instead of a
# suite timeout.
stop_daemon() {
    local pid=$1 limit=$2 i=0
    kill -INT "$pid" 2>/dev/null
    while kill -0 "$pid" 2>/dev/null; do
        i=$((i + 1))
        if [ "$i" -gt $((limit * 4)) ]; then
            {
                echo "--- daemon $pid still running ${limit}s after SIGINT; state=$(sx_state)"
                for t in /proc/"$pid"/task/*; do
                    echo "task ${t##*/} $(cat "$t/comm" 2>/dev/null) wchan=$(cat "$t/wchan" 2>/dev/null)"
                    cat "$t/stack" 2>/dev/null
                done
                # sysrq-w lists blocked tasks only; a disable worker that
                # spins shows up in the running CPUs' backtraces (sysrq-l),
                # taken twice to tell a spin from a passing moment.
                echo w > /proc/sysrq-trigger 2>/dev/null
                echo l > /proc/sysrq-trigger 2>/dev/null
                sleep 2
                echo l > /proc/sysrq-trigger 2>/dev/null
                sleep 1
                echo "--- kernel log tail"
                dmesg | tail -n 300
            } > "$OUT/stuck-daemon.txt" 2>&1
            cat "$OUT/stuck-daemon.txt"
            kill -KILL "$pid" 2>/dev/null
            wait "$pid" 2>/dev/null
            DAEMON_RC=124
            return
        fi
        sleep 0.25
    done
    wait "$pid"
    DAEMON_RC=$?
}

# timed_stop PID: stop_daemon PID (60 s at most), wait for sched_ext to read
# disabled; $STOP_MS is how long that took, in ms.
timed_stop() {
    local t0
    t0=$(date +%s%N)
    stop_daemon "$1" 60
    wait_state disabled 30
    STOP_MS=$(( ($(date +%s%N) - t0) / 1000000 ))
}

# flip_cpus N: take CPUs 1-3 offline and back N times; prints the number of
# transitions that succeeded.
flip_cpus() {
    local n=0 i=0 c
    while [ "$i" -lt "$1" ]; do
        for c in 1 2 3; do echo 0 > /sys/devices/system/cpu/cpu$c/online && n=$((n + 1)); done
        sleep 0.5
        for c in 1 2 3; do echo 1 > /sys/devices/system/cpu/cpu$c/online && n=$((n + 1)); done
        sleep 0.5
        i=$((i + 1))
    done
    echo "$n"
}

# check_detached NAME PID: stop the daemon (stop_daemon) and check that it
# exited 0 and that sched_ext is back to disabled.
check_detached() {
    stop_daemon "$2" 60
    wait_state disabled 30
    check "$1" "daemon rc=$DAEMON_RC state=$(sx_state)" detached_cleanly
}
ours_enabled() { [ "$(sx_state)" = enabled ] && [ "$(sx_ops)" = fairrs ]; }
detached_cleanly() { [ "$DAEMON_RC" = 0 ] && [ "$(sx_state)" = disabled ]; }

# attached_since SEQ PID: sched_ext is enabled, has not reloaded since SEQ,
# and the daemon PID is alive.
attached_since() { [ "$(sx_state)" = enabled ] && [ "$(sx_enable_seq)" = "$1" ] && kill -0 "$2" 2>/dev/null; }

# Kernel log lines that mean something went wrong under the scheduler.
# "disabled (unregistered from user space)" is the normal detach message;
# the sched_ext watchdog says "runnable task stall", RCU "self-detected stall".
kernel_trouble() {
    dmesg | grep -E 'BUG:|WARNING:|[^a-zA-Z]stall|hung_task|soft lockup|hard LOCKUP|runtime error|sched_ext: .*disabled \(' \
          | grep -v 'unregistered from user space' \
          | { if [ -n "$STALE_DDSP_WARNING" ]; then grep -vE "$STALE_DDSP_WARNING"; else cat; fi; } || true
}

# A kernel bug, not the scheduler's: sched_ext leaves a task's direct-dispatch
# verdict set on paths that cancel it (a dequeue, a class switch of a queued
# wakeup), and the task's next direct insert (ours: from ops.select_cpu())
# warns in mark_direct_dispatch(). Fixed by 7e0ffb72de8a (7.0-rc7; 6.18.22), which
# Debian's 6.18.15, 6.16 and our 6.12 lack. That warning site is exempt there.
STALE_DDSP_WARNING=
case "$(uname -r)" in
    6.12.*|6.16.*|6.18.[0-9]|6.18.[0-9][^0-9]*|6.18.1[0-9]*|6.18.2[01]*)
        STALE_DDSP_WARNING='WARNING: .* (scx_dsq_insert_commit|scx_dispatch_commit|mark_direct_dispatch)\+' ;;
esac

# How often the exempt warning above appeared (for a check's detail).
stale_ddsp_warnings() {
    if [ -n "$STALE_DDSP_WARNING" ]; then dmesg | grep -cE "$STALE_DDSP_WARNING" || true; else echo 0; fi
}

# side_by_side NAME EXPECTED COMMAND [ARG...]: run COMMAND (a measurement that
# prints "RESULT <case> <value> <lo> <hi> <detail>" lines) under the kernel's
# own scheduler, then under scx_fairrs, in this boot. One check per case: the
# scx_fairrs figure within its bounds, the kernel's figure and detail beside
# it (record_results); plus a check that scx_fairrs stayed attached
# throughout. Results go to $OUT/NAME-kernel.txt and $OUT/NAME-fairrs.txt.
# With KERNEL_SIDE=0 (vm/test.sh: boots of the older series) only scx_fairrs
# runs, and read_plan counts no calibrations.
side_by_side() {
    local name=$1 expected=$2 pid seq kfile="$OUT/$name-kernel.txt"
    shift 2
    if [ "${KERNEL_SIDE:-1}" = 1 ]; then
        echo "== $name under the kernel's scheduler ($(uname -r))"
        "$@" | tee "$kfile"
    else
        echo "== $name: the kernel's scheduler runs these cases in the 7.x boot (KERNEL_SIDE=0)"
        kfile=""
    fi

    $FAIRRS > "$OUT/$name-daemon.log" 2>&1 &
    pid=$!
    if ! wait_state enabled 180 $pid; then
        fail "${name}_attach" "scx_fairrs did not attach: $(cat "$OUT/$name-daemon.log")"
        return 1
    fi
    seq=$(sx_enable_seq)
    echo "== $name under scx_fairrs"
    "$@" | tee "$OUT/$name-fairrs.txt"
    check "${name}_scheduler_stayed_attached" "state=$(sx_state) enable_seq $seq -> $(sx_enable_seq)" \
        attached_since "$seq" "$pid"
    check_detached "${name}_daemon_exited" $pid
    record_results "$name" "$expected" "$OUT/$name-fairrs.txt" $kfile
}

# A suite still running after $SUITE_BUDGET seconds (the host's limit for the
# boot, less a margin; vm/test.sh sets it) leaves evidence before the host
# kills the VM: the running CPUs' backtraces and the blocked tasks, into the
# kernel log and the console (which the host sees with
# SCX_FAIRRS_VM_CONSOLE=1; the log level is raised first, as those dumps are
# informational), then the scheduler state, every task's wait channel and the
# tail of the kernel log (with the dumps). Each step is bounded, since a
# wedged guest can block any of them (ps reads every task's memory map), and
# the dumps come first for that reason. Silent timeouts in CI cannot
# be diagnosed. This stays last in the file: the watchdog's subshell only
# knows the functions defined before it starts.
suite_watchdog() {
    sleep "$1"
    echo "--- guest watchdog: suite still running after ${1}s"
    echo 8 > /proc/sys/kernel/printk 2>/dev/null
    for dump in l w l; do echo $dump > /proc/sysrq-trigger 2>/dev/null; sleep 1; done
    {
        echo "--- sched_ext state=$(timeout 5 cat "$SCX/state" 2>&1)"
        timeout 10 ps -eo pid,stat,wchan:32,etime,args 2>&1 | grep -v ' \[' | head -n 60
        echo "--- kernel log tail"
        timeout 10 dmesg 2>&1 | tail -n 200
    } > "$OUT/guest-watchdog.txt" 2>&1
    cat "$OUT/guest-watchdog.txt"
}
if [ -n "${SUITE_BUDGET:-}" ]; then
    suite_watchdog "$SUITE_BUDGET" &
    WATCHDOG_PID=$!
    trap 'kill $WATCHDOG_PID 2>/dev/null' EXIT
fi
