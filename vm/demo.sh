#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# The project's main job (README): set up a bare machine, build, boot the
# sched_ext kernel in a VM, run scx_fairrs under a mixed workload with live
# stats, then detach it and show what it did.
#
#   vm/demo.sh [SECONDS]     workload length, default 20
set -euo pipefail
cd "$(dirname "$0")/.."

secs=${1:-20}
bash vm/setup.sh >/dev/null
. vm/env.sh
cargo build --release --locked --workspace

out=$(mktemp -d /tmp/fairrs-demo.XXXXXX)
vm/run.sh --out "$out" -- "sh tests/vm/demo.sh $secs"
echo "(outputs kept in $out)"
