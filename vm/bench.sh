#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# The benchmark suite: boot one VM and run the same workloads under the
# kernel's own scheduler, scx_fairrs and sched_ext peers from the crate
# registry, alternating them within the boot (tests/vm/bench.sh), then print
# the table: median of the rounds, min..max, ratio to the kernel's scheduler.
#
#   vm/bench.sh [--rounds N] [--kernel SERIES] [--no-peers] [--update-docs]
#
# Peers (scx_bpfland and scx_flash, pinned versions) are built once with
# `cargo install` into the cache (~/.cache/scx_fairrs/peers); one that fails
# to build is reported and skipped. --update-docs writes the table, with the
# kernel, VM shape and date, to docs/BENCHMARKS.md. The run's records, JSON
# and logs stay in the printed directory; the chart (PNG) is drawn on the host
# and goes to docs/benchmarks.png with --update-docs.
set -euo pipefail
cd "$(dirname "$0")/.."
. vm/lib.sh

rounds=3 series=7 peers=1 update_docs=0
while [ $# -gt 0 ]; do
    case "$1" in
        --rounds) rounds=$2; shift 2 ;;
        --kernel) series=$2; shift 2 ;;
        --no-peers) peers=0; shift ;;
        --update-docs) update_docs=1; shift ;;
        *) echo "vm/bench.sh: unknown option $1 (--rounds N, --kernel SERIES, --no-peers, --update-docs)" >&2; exit 2 ;;
    esac
done
count_option vm/bench.sh --rounds "$rounds" 20

bash vm/setup.sh "$series" >/dev/null
. vm/env.sh

echo "== build"
cargo build --release --locked --workspace

bench_peers=""
if [ "$peers" = 1 ]; then
    build_peers
    bench_peers=$PEER_SPECS
fi

# scx_fairrs with CFS's wakeup preemption exactly (no protection of a fresh
# slice): what it costs on messaging workloads (docs/DESIGN.md).
bench_peers="$(peer_spec fairrs_strict target/release/scx_fairrs --wakeup-protect-us 0)$bench_peers"
# scx_fairrs without cgroup weights: the cost of groups on the cgroup row.
bench_peers="$(peer_spec fairrs_nocg target/release/scx_fairrs --no-cgroup) $bench_peers"
out=$(mktemp -d /tmp/fairrs-bench.XXXXXX)
echo "== benchmark: kernel series $series, $rounds rounds, schedulers: kernel fairrs${bench_peers:+ ($bench_peers )}"
vm/run.sh --kernel "$series" --cpus 4 --out "$out" \
    -- "BENCH_ROUNDS=$rounds BENCH_PEERS='$bench_peers' sh tests/vm/bench.sh" 2>&1 | tee "$out/console.log"
[ -s "$out/bench.md" ] || { echo "vm/bench.sh: the guest produced no table; see $out/console.log" >&2; exit 1; }
# The chart is drawn here, on the host (the guest's table and JSON stand).
target/release/fairrs-guest bench report "$out/bench.txt" --png "$out/bench.png" > /dev/null

kernel=$(cut -d' ' -f1 "$out/guest-started")
header="Kernel $kernel; VM: 4 vCPUs, 2 GiB, QEMU TCG (software emulation) on a 2-core host; $rounds rounds, \
schedulers alternated within one boot; $(date -u +%Y-%m-%d), at $(git rev-parse --short HEAD 2>/dev/null || echo "an unknown commit")."
echo
echo "$header"
cat "$out/bench.md"
echo "records, JSON and logs: $out"
if [ "$update_docs" = 1 ]; then
    {
        echo "# Benchmarks"
        echo
        echo "Produced by \`vm/bench.sh --update-docs\` (see README). $header"
        echo
        echo "Each cell: median of the rounds (min..max, n = rounds), then the ratio of medians to the kernel's"
        echo "scheduler. Lower is better except \`_rps\`; \`nice_mix_share\` is best at its ideal 0.7535,"
        echo "\`nice_maxmin\` at 1, \`*_nice*\` shares at the ideal in their names' cases (fairness suite)."
        echo
        cat "$out/bench.md"
        if [ -s "$out/bench.png" ]; then
            echo
            echo "![median / kernel's scheduler, per metric and scheduler](benchmarks.png)"
        fi
    } > docs/BENCHMARKS.md
    [ ! -s "$out/bench.png" ] || cp "$out/bench.png" docs/benchmarks.png
    echo "wrote docs/BENCHMARKS.md"
fi
