#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# The project's test command (README): set up a bare machine, build, run the
# host tests, then boot the sched_ext kernel for the VM suites (one boot each,
# or a few to a boot) and collect each suite's results. Exits non-zero if anything failed; the last line is
# "vm: N passed, N failed".
#
#   vm/test.sh            all suites
#   vm/test.sh lifecycle  only the named suites (tests/vm/<name>.sh)
#   vm/test.sh smoke@6.16 a suite on another kernel series (see vm/setup.sh)
#   vm/test.sh smoke+groups@6.16  suites that share one boot
set -euo pipefail
cd "$(dirname "$0")/.."

# A boot runs one suite or several joined by "+" (each in its own results
# directory, one after the other): a boot costs about 20 s here, and the
# suites of the older kernels share theirs. A suite that provokes kernel
# warnings (hotplug) goes last in its boot; every suite clears the kernel log
# first.
boots=("$@")
[ ${#boots[@]} -gt 0 ] || boots=(lifecycle+stats+service+fairness+balance+hotplug groups+hostile+bandwidth+soak+bench cfs@cfs numa smt
    smoke+groups+bandwidth+hotplug@6.12 smoke+groups+bandwidth+hotplug@6.16 smoke+groups+hostile+bandwidth+hotplug@6.18)

# A suite may ask for a VM shape on a "# vm-args:" line (e.g. NUMA nodes);
# the suites of one boot must ask for the same. Checked for every boot before
# the first one starts.
vm_args() { sed -n 's/^# vm-args: //p' "tests/vm/$1.sh"; }
for boot in "${boots[@]}"; do
    IFS=+ read -r -a suites <<< "${boot%@*}"
    for suite in "${suites[@]}"; do
        [ -f "tests/vm/$suite.sh" ] || { echo "vm/test.sh: no suite $suite (tests/vm/$suite.sh)" >&2; exit 2; }
        if [ "$(vm_args "$suite")" != "$(vm_args "${suites[0]}")" ]; then
            echo "vm/test.sh: $boot joins suites that ask for different VM shapes" >&2
            exit 2
        fi
    done
done

bash vm/setup.sh >/dev/null
. vm/env.sh

echo "== build"
start=$(date +%s)
# The dependencies' build outputs are cached per Cargo.lock (a fresh clone
# then builds only this workspace's two crates, whose outputs the cache
# never holds).
dep_cache="$CACHE_DIR/target-$(sha256sum Cargo.lock | cut -c1-16)"
if [ ! -d target ] && [ -d "$dep_cache" ]; then
    cp -a --reflink=auto "$dep_cache" target
fi
cargo build --release --locked --workspace
if [ ! -d "$dep_cache" ]; then
    rm -rf "$CACHE_DIR"/target-* && cp -a --reflink=auto target "$dep_cache.tmp" &&
        CARGO_TARGET_DIR="$dep_cache.tmp" cargo clean --release --locked -p scx_fairrs -p fairrs-guest &&
        mv "$dep_cache.tmp" "$dep_cache"
fi
echo "build: $(( $(date +%s) - start ))s"

echo "== host tests"
cargo test --release --locked --workspace

out_root=$(mktemp -d /tmp/fairrs-vm.XXXXXX)
# The longest suite takes about 260 s here; a boot is stopped after this much
# per suite it runs.
suite_timeout=${SCX_FAIRRS_SUITE_TIMEOUT:-480}
# The guest dumps its state (tests/vm/lib.sh) this long after a suite starts,
# before the host's limit, so a hang leaves evidence.
budget=$(( suite_timeout > 180 ? suite_timeout - 90 : suite_timeout / 2 ))
boot_limit=${SCX_FAIRRS_BOOT_LIMIT:-180}
# Knobs the long runs turn (README): rounds of the hotplug suite, length of
# the soak.
guest_env="HOTPLUG_ROUNDS=${SCX_FAIRRS_HOTPLUG_ROUNDS:-5} SOAK_SECS=${SCX_FAIRRS_SOAK_SECS:-150} BENCH_ROUNDS=${SCX_FAIRRS_BENCH_ROUNDS:-1}"
passed=0 failed=0

# verdict NAME DIR RC: count the checks of one suite's results directory, and
# fail it if it died, ran out of time or reported fewer checks than it
# declared (expect_checks in tests/vm/lib.sh).
verdict() {
    local name=$1 out=$2 rc=$3 declared reported p f
    if [ ! -s "$out/results.txt" ]; then
        echo "FAIL $name: the guest produced no results (boot or harness failure)"
        failed=$((failed + 1))
        return
    fi
    if [ "$rc" = 124 ] || [ "$rc" = 137 ]; then
        echo "FAIL $name: the suite did not finish within its boot's time (results so far below)" \
            | tee -a "$out/results.txt"
    elif [ "$rc" != 0 ]; then
        # A suite ends with status 0 once it has recorded its checks; anything
        # else means it died part-way, and its "ok" lines are not the verdict.
        echo "FAIL $name: the guest exited with status $rc (results so far below)" \
            | tee -a "$out/results.txt"
    fi
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
}

for boot in "${boots[@]}"; do
    series=7
    [ "${boot%@*}" = "$boot" ] || series=${boot#*@}
    IFS=+ read -r -a suites <<< "${boot%@*}"
    echo "== vm boot: ${suites[*]} on kernel series $series"
    out="$out_root/${boot/@/-on-}"
    if ! bash vm/setup.sh "$series" >/dev/null 2>&1; then
        for suite in "${suites[@]}"; do
            echo "FAIL $suite@$series: kernel series $series could not be set up"
            failed=$((failed + 1))
        done
        continue
    fi
    read -r -a vmargs <<< "$(vm_args "${suites[0]}")"
    # tests/vm/boot.sh runs the suites, each in its own directory with its
    # exit status; a boot that dies leaves the later suites without either.
    # (The guest command travels on the kernel command line, which is short.)
    # The side-by-side suites run the kernel's own scheduler too in the
    # default series' boot; on the older series only when asked, for CI time
    # (about 4 minutes: each case's calibration is the same check there).
    kernel_side=1
    [ "$series" = 7 ] || [ "$series" = cfs ] || kernel_side=${SCX_FAIRRS_KERNEL_SIDE_ALL:-0}
    guest_cmd="SUITE_BUDGET=$budget KERNEL_SIDE=$kernel_side $guest_env sh tests/vm/boot.sh ${suites[*]}"
    # A suite that hangs (a stuck boot, a wedged guest) must not hang CI: each
    # boot is bounded. A boot that never reached its first suite's first line
    # (the guest writes guest-started) is retried, twice at most, and says so
    # (QEMU under TCG here sometimes dies at boot on an internal assertion,
    # once twice in a row; that says nothing of the scheduler); a suite that
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
        timeout --kill-after=30 $((suite_timeout * ${#suites[@]})) \
            vm/run.sh --kernel "$series" "${console[@]}" "${vmargs[@]}" --out "$out" \
                -- "$guest_cmd" 2>&1 \
            | tee "$out/console.log" &
        vm=$!
        # A boot that has not reached its first suite within boot_limit is
        # stuck (boots take 13-40 s here): stop it (every process naming this
        # run's results directory, a regex without special characters: run.sh,
        # vng, QEMU) and boot again.
        while kill -0 $vm 2>/dev/null && [ ! -f "$out/${suites[0]}/guest-started" ]; do
            sleep 5
            if [ $(( $(date +%s) - start )) -ge "$boot_limit" ]; then
                echo "vm boot $boot: no suite started within ${boot_limit}s"
                pkill -TERM -f -- "$out_root/" || true
                break
            fi
        done
        wait $vm || rc=$?
        echo "vm boot $boot: guest exit $rc after $(( $(date +%s) - start ))s"
        [ ! -f "$out/${suites[0]}/guest-started" ] && [ "$attempt" -lt 3 ] || break
        echo "vm boot $boot: the guest never reached the suite (boot hang?); booting once more"
    done
    for suite in "${suites[@]}"; do
        src=$(cat "$out/$suite/exit-status" 2>/dev/null || echo "$rc")
        # A boot cut short leaves the suites it never finished without a status.
        [ -f "$out/$suite/exit-status" ] || [ "$rc" != 0 ] || src=1
        verdict "$suite@$series" "$out/$suite" "$src"
    done
done

echo "vm results kept in $out_root"
echo "vm: $passed passed, $failed failed"
[ "$failed" -eq 0 ] && [ "$passed" -gt 0 ]
