#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
# Guest side of one boot (vm/test.sh): each named suite in turn, with its own
# results directory under $OUT and its exit status there. What a suite leaves
# running (workloads, a daemon; matched by process name) is listed there and
# killed, so that it cannot load the next one.
for suite in "$@"; do
    mkdir -p "$OUT/$suite"
    OUT="$OUT/$suite" sh "tests/vm/$suite.sh"
    echo $? > "$OUT/$suite/exit-status"
    for name in '^fairrs-guest$' '^scx_fairrs$' '^stress-ng'; do
        pgrep -a "$name" >> "$OUT/$suite/left-running"
        pkill -KILL "$name"
    done
done
exit 0
