#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
# Guest side of the service suite: the daemon started the way
# packaging/scx_fairrs.service starts it, and the exit statuses a service
# manager acts on. The guest has no systemd, so the unit is read here and
# its start replayed: the ExecStart line itself (flags in $SCX_FAIRRS_FLAGS,
# split at whitespace as systemd splits an unbraced variable), the variables
# of a defaults file, the capability bounding set and no-new-privileges
# (through setpriv, as root, which is how systemd runs it). Then:
#
#   a refused flag in the defaults file -> exit 2 (RestartPreventExitStatus)
#   attach -> stats work with only the unit's capabilities
#   the unit's KillSignal (SIGTERM) -> exit 0, sched_ext disabled
#   attach, sysrq-S (the kernel disables sched_ext) -> non-zero exit, not 2,
#     with the kernel's reason printed
#   attach again, as Restart=on-failure would -> SIGINT -> exit 0
. tests/vm/lib.sh
expect_checks 17
dmesg -C
echo "== kernel $(uname -r)"

UNIT=packaging/scx_fairrs.service
DEFAULTS=$OUT/scx_fairrs.default

# unit_key KEY: the value of KEY= in the unit (the last one, as systemd reads
# a single-valued key).
unit_key() { sed -n "s/^$1=//p" "$UNIT" | tail -n 1; }

exec_start=$(unit_key ExecStart)
env_file=$(unit_key EnvironmentFile)
caps=$(unit_key CapabilityBoundingSet)
kill_signal=$(unit_key KillSignal)
kill_signal=${kill_signal:-SIGTERM}
prevent=$(unit_key RestartPreventExitStatus)
exec_bin=${exec_start%% *}
unit_as_shipped() {
    [ "${exec_bin##*/}" = scx_fairrs ] && has "$exec_start" "SCX_FAIRRS_FLAGS" &&
        [ "${env_file#-}" = /etc/default/scx_fairrs ] && [ -n "$caps" ]
}
check service_unit_read "ExecStart=$exec_start EnvironmentFile=$env_file CapabilityBoundingSet=$caps KillSignal=$kill_signal" \
    unit_as_shipped

# setpriv options for the unit's sandbox: a root process whose bounding set
# is the unit's capabilities has exactly those (no inheritable or ambient
# ones to add back).
bounding=$(printf '%s\n' $caps | tr 'A-Z' 'a-z' | sed -n 's/^cap_/+/p' | paste -sd, -)
privs="--bounding-set -all,$bounding --inh-caps -all --ambient-caps -all"
[ "$(unit_key NoNewPrivileges)" = yes ] && privs="$privs --no-new-privs"
# shellcheck disable=SC2086
want_caps=$(setpriv $privs awk '/^CapEff/ { print $2 }' /proc/self/status)
root_caps=$(awk '/^CapEff/ { print $2 }' /proc/self/status)

# write_defaults FLAGS: the shipped defaults file with SCX_FAIRRS_FLAGS=FLAGS.
write_defaults() {
    sed "s/^SCX_FAIRRS_FLAGS=.*/SCX_FAIRRS_FLAGS=\"$1\"/" packaging/scx_fairrs.default > "$DEFAULTS"
    grep -qx "SCX_FAIRRS_FLAGS=\"$1\"" "$DEFAULTS" || fail service_defaults_file "no SCX_FAIRRS_FLAGS= line to set"
}

# start_service LOG: start the daemon as the unit does, output in LOG; its pid
# in $SERVICE_PID. The unit's binary path is replaced by this build's.
start_service() {
    (
        set -a
        . "$DEFAULTS"
        set +a
        eval "set -- $exec_start"
        shift
        # shellcheck disable=SC2086
        exec setpriv $privs "$FAIRRS" "$@"
    ) > "$1" 2>&1 &
    SERVICE_PID=$!
}

# wait_exit PID SECONDS: wait at most SECONDS for the daemon to exit by
# itself ($EXITED yes or no), then reap it with stop_daemon (which stops it,
# with evidence, if it is still running): its exit code lands in $DAEMON_RC.
wait_exit() {
    local i=0
    EXITED=yes
    while kill -0 "$1" 2>/dev/null; do
        i=$((i + 1))
        if [ "$i" -gt $(($2 * 4)) ]; then
            EXITED=no
            break
        fi
        sleep 0.25
    done
    stop_daemon "$1" 60
}

ours_enabled_by() { ours_enabled && kill -0 "$1" 2>/dev/null; }

# attached NAME PID LOG: check the daemon attached; if not, the rest of the
# suite has nothing to run on.
attached() {
    wait_state enabled 180 "$2"
    check "$1" "state=$(sx_state) ops=$(sx_ops) enable_seq=$(sx_enable_seq): $(grep -m1 -o 'attached on.*' "$3")" \
        ours_enabled_by "$2"
    if [ "$(sx_state)" != enabled ]; then
        echo "--- daemon log"; cat "$3"
        stop_daemon "$2" 60
        exit 0
    fi
}

# --- a refused flag: exit 2, so Restart=on-failure does not retry it ----------
write_defaults "--sched-latency-us 50"
start_service "$OUT/service-refused.log"
wait_exit "$SERVICE_PID" 30
refused_with_2() {
    [ "$EXITED" = yes ] && [ "$DAEMON_RC" = 2 ] && [ "$prevent" = 2 ] && [ "$(sx_state)" = disabled ] &&
        grep -q "sched-latency-us" "$OUT/service-refused.log"
}
check service_refused_flag_exit_2 "rc=$DAEMON_RC RestartPreventExitStatus=$prevent state=$(sx_state): $(cat "$OUT/service-refused.log")" \
    refused_with_2

# --- attach with the flags of the defaults file, the unit's capabilities ----
write_defaults "--sched-latency-us 9000 --stats 1"
LOG=$OUT/service-1.log
start_service "$LOG"
pid=$SERVICE_PID
attached service_attached "$pid" "$LOG"
check service_flags_from_defaults_file "$(grep -m1 -o 'attached on.*' "$LOG")" \
    grep -q "sched_latency 9000us" "$LOG"
capeff=$(awk '/^CapEff/ { print $2 }' "/proc/$pid/status")
unit_capabilities_only() { [ -n "$capeff" ] && [ "$capeff" = "$want_caps" ] && [ "$capeff" != "$root_caps" ]; }
check service_capabilities "daemon CapEff=$capeff; the unit's $caps = $want_caps; root's $root_caps" \
    unit_capabilities_only
# The stats read the task iterator and the per-CPU queues (BPF under the
# unit's capabilities); --monitor (root) reads the socket the daemon made.
sleep 3
check service_stats "--stats blocks: $(grep -c 'cpu  nr  util' "$LOG")" grep -q "cpu  nr  util" "$LOG"
$BENCH stats shape --case service_monitor --top 5 > "$OUT/service-results.txt"
record_results service 1 "$OUT/service-results.txt"
check_kernel_log service_kernel_log_clean

# --- the unit's stop: KillSignal -> detach, exit 0 ----------------------------
kill -s "${kill_signal#SIG}" "$pid"
wait_exit "$pid" 60
wait_state disabled 30
stopped_by_unit() { [ "$EXITED" = yes ] && detached_cleanly && grep -q "scx_fairrs detached" "$LOG"; }
check service_stop_exit_0 "$kill_signal: exited by itself=$EXITED rc=$DAEMON_RC state=$(sx_state); $(grep -o 'scx_fairrs detached' "$LOG")" \
    stopped_by_unit

# --- ejected by the kernel (sysrq-S): non-zero, not 2, the reason printed ------
write_defaults "--sched-latency-us 9000"
LOG=$OUT/service-2.log
start_service "$LOG"
pid=$SERVICE_PID
attached service_attached_again "$pid" "$LOG"
seq=$(sx_enable_seq)
echo S > /proc/sysrq-trigger
wait_exit "$pid" 60
wait_state disabled 30
reason=$(grep 'ejected' "$LOG" | tail -n 1)
klog=$(dmesg | grep -i 'sysrq' | tail -n 2 | tr '\n' ' ')
ejected_with_reason() {
    [ "$EXITED" = yes ] && [ "$DAEMON_RC" -ne 0 ] && [ "$DAEMON_RC" -ne 2 ] && [ "$(sx_state)" = disabled ] &&
        printf '%s' "$reason" | grep -qi "sysrq"
}
check service_ejection_exit_nonzero "exited by itself=$EXITED rc=$DAEMON_RC state=$(sx_state); daemon: '$reason'; kernel: $klog" \
    ejected_with_reason
# sysrq-S makes the kernel log the disable; anything else is trouble.
trouble=$(kernel_trouble | grep -vi 'sysrq')
check service_kernel_log_clean_after_ejection "${trouble:-clean}" [ -z "$trouble" ]

# --- what Restart=on-failure does next: the same start attaches again ---------
LOG=$OUT/service-3.log
start_service "$LOG"
pid=$SERVICE_PID
attached service_restart_after_ejection "$pid" "$LOG"
check service_restart_is_a_new_attach "enable_seq $seq -> $(sx_enable_seq)" [ "$(sx_enable_seq)" -gt "$seq" ]
check_detached service_sigint_exit_0 "$pid"
trouble=$(kernel_trouble | grep -vi 'sysrq')
check service_kernel_log_clean_at_end "${trouble:-clean}" [ -z "$trouble" ]

echo "--- daemon logs"
for f in "$OUT"/service-*.log; do echo "-- $f"; cat "$f"; done
