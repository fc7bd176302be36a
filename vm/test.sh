#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# The project's test command (README): set up a bare machine, build, run the
# host tests, then boot the sched_ext kernel once per VM suite and collect the
# suite's results. Exits non-zero if anything failed; the last line is
# "vm: N passed, N failed".
#
#   vm/test.sh            all suites
#   vm/test.sh lifecycle  only the named suites (tests/vm/<name>.sh)
#   vm/test.sh smoke@6.16 a suite on another kernel series (see vm/setup.sh)
set -euo pipefail
cd "$(dirname "$0")/.."

bash vm/setup.sh >/dev/null
. vm/env.sh

echo "== build"
start=$(date +%s)
cargo build --release --locked --workspace
echo "build: $(( $(date +%s) - start ))s"

echo "== host tests"
cargo test --release --locked --workspace

suites=("$@")
[ ${#suites[@]} -gt 0 ] || suites=(lifecycle fairness cfs@cfs balance numa smt groups hostile stats hotplug soak service bench smoke@6.12 hotplug@6.12 groups@6.12 smoke@6.16 hotplug@6.16 groups@6.16 smoke@6.18 hotplug@6.18 groups@6.18 hostile@6.18)

out_root=$(mktemp -d /tmp/fairrs-vm.XXXXXX)
# The longest suite takes about 190 s here; a suite is stopped after this.
suite_timeout=${SCX_FAIRRS_SUITE_TIMEOUT:-480}
# The guest dumps its state (tests/vm/lib.sh) this long after its suite starts,
# before the host's limit, so a hang leaves evidence.
budget=$(( suite_timeout > 180 ? suite_timeout - 90 : suite_timeout / 2 ))
# Knobs the long runs turn (README): rounds of the hotplug suite, length of
# the soak.
guest_env="HOTPLUG_ROUNDS=${SCX_FAIRRS_HOTPLUG_ROUNDS:-5} SOAK_SECS=${SCX_FAIRRS_SOAK_SECS:-180} BENCH_ROUNDS=${SCX_FAIRRS_BENCH_ROUNDS:-1}"
passed=0 failed=0
for name in "${suites[@]}"; do
    suite=${name%@*}
    series=7
    [ "$suite" = "$name" ] || series=${name#*@}
    echo "== vm suite: $suite on kernel series $series"
    out="$out_root/${name/@/-on-}"
    if ! bash vm/setup.sh "$series" >/dev/null 2>&1; then
        echo "FAIL $name: kernel series $series could not be set up"
        failed=$((failed + 1))
        continue
    fi
    # A suite may ask for a VM shape on a "# vm-args:" line (e.g. NUMA nodes).
    read -r -a vmargs <<< "$(sed -n 's/^# vm-args: //p' "tests/vm/$suite.sh")"
    # A suite that hangs (a stuck boot, a wedged guest) must not hang CI: each
    # boot is bounded. A boot that never reached the suite's first line (the
    # guest writes guest-started) is retried, twice at most, and says so (QEMU
    # under TCG here sometimes dies at boot on an internal assertion, once
    # twice in a row; that says nothing of the scheduler); a suite that
    # started and then ran out of time is a failure. (Not --console by
    # default: with vng's early serial console such boot failures came about
    # 1 boot in 7 here, against fewer without; SCX_FAIRRS_VM_CONSOLE=1 turns
    # it on to chase a hang.)
    for attempt in 1 2 3; do
        rm -rf "$out"; mkdir -p "$out"
        start=$(date +%s)
        rc=0
        console=()
        [ "${SCX_FAIRRS_VM_CONSOLE:-0}" = 0 ] || console=(--console)
        timeout --kill-after=30 "$suite_timeout" \
            vm/run.sh --kernel "$series" "${console[@]}" "${vmargs[@]}" --out "$out" \
                -- "SUITE_BUDGET=$budget $guest_env sh tests/vm/$suite.sh" 2>&1 \
            | tee "$out/console.log" || rc=$?
        echo "vm suite $name: guest exit $rc after $(( $(date +%s) - start ))s"
        [ ! -f "$out/guest-started" ] && [ "$attempt" -lt 3 ] || break
        echo "vm suite $name: the guest never reached the suite (boot hang?); booting once more"
    done
    if [ ! -s "$out/results.txt" ]; then
        echo "FAIL $name: the guest produced no results (boot or harness failure)"
        failed=$((failed + 1))
        continue
    fi
    if [ "$rc" = 124 ] || [ "$rc" = 137 ]; then
        echo "FAIL $name: the suite did not finish within ${suite_timeout}s (results so far below)" \
            | tee -a "$out/results.txt"
    elif [ "$rc" != 0 ]; then
        # A suite ends with status 0 once it has recorded its checks; anything
        # else means it died part-way, and its "ok" lines are not the verdict.
        echo "FAIL $name: the guest exited with status $rc (results so far below)" \
            | tee -a "$out/results.txt"
    fi
    # Each suite declares how many checks it reports when it runs to the end
    # (expect_checks in tests/vm/lib.sh); fewer means part of it never ran.
    declared=$(cat "$out/expected-checks" 2>/dev/null || echo 0)
    reported=$(grep -cE '^(ok|FAIL) ' "$out/results.txt" || true)
    if [ "$declared" -le 0 ]; then
        echo "FAIL $name: the suite declared no check count (expect_checks)" | tee -a "$out/results.txt"
    elif [ "$reported" -lt "$declared" ]; then
        echo "FAIL $name: $reported of the $declared checks it declares were reported" | tee -a "$out/results.txt"
    fi
    p=$(grep -c '^ok ' "$out/results.txt" || true)
    f=$(grep -c '^FAIL ' "$out/results.txt" || true)
    passed=$((passed + p)); failed=$((failed + f))
    echo "-- $name results"; sed "s/^\(ok\|FAIL\) /\1 [$series] /" "$out/results.txt"
done

echo "vm results kept in $out_root"
echo "vm: $passed passed, $failed failed"
[ "$failed" -eq 0 ] && [ "$passed" -gt 0 ]
