#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# Where the time of a wakeup goes: boot one VM and, under the kernel's own
# scheduler, scx_fairrs and (with --peers) the benchmark's peers, run the
# schbench-like latency workload and print each BPF callback's calls and mean
# cost, and where and how fast the workers' wakeups were activated
# (tests/vm/profile.sh). A diagnostic, not a test: it asserts nothing.
#
#   vm/profile.sh [--workers N] [--kernel SERIES] [--peers]
set -euo pipefail
cd "$(dirname "$0")/.."
. vm/lib.sh

workers=2 series=7 peers=0
while [ $# -gt 0 ]; do
    case "$1" in
        --workers) workers=$2; shift 2 ;;
        --kernel) series=$2; shift 2 ;;
        --peers) peers=1; shift ;;
        *) echo "vm/profile.sh: unknown option $1 (--workers N, --kernel SERIES, --peers)" >&2; exit 2 ;;
    esac
done
count_option vm/profile.sh --workers "$workers" 64

bash vm/setup.sh "$series" >/dev/null
. vm/env.sh
cargo build --release --locked --workspace
profile_peers=""
if [ "$peers" = 1 ]; then
    # The peers vm/bench.sh builds and caches (run it once first).
    cached_peers
    profile_peers=$PEER_SPECS
    [ -n "$profile_peers" ] || echo "vm/profile.sh: no cached peers; vm/bench.sh builds them" >&2
fi
out=$(mktemp -d /tmp/fairrs-profile.XXXXXX)
vm/run.sh --kernel "$series" --cpus 4 --out "$out" \
    -- "PROFILE_WORKERS=$workers PROFILE_PEERS='$profile_peers' sh tests/vm/profile.sh"
