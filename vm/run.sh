#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# Boot the cached sched_ext kernel in a virtme-ng VM on the host's own root
# (read-only) and run one guest command; exit with the guest command's code.
#
#   vm/run.sh [--kernel SERIES] [--cpus N] [--topology S,C,T] [--memory SIZE] [--numa SPEC]...
#             [--out DIR] [--console] -- 'guest command'
#
# --topology S,C,T lays the CPUs out as S sockets of C cores of T threads
# (S * C * T must equal --cpus); each socket has its own last-level cache.
#
# --kernel picks a kernel series vm/setup.sh has fetched (7 by default, 6.16, 6.18).
#
# --out DIR is shared read-write at the same path in the guest, and the guest
# command gets it as $OUT, for results that must survive the VM (the console
# may mangle a line).
#
# KVM: these machines have a /dev/kvm whose backend cannot boot a stock kernel
# and vng would pick it and die, so the first run probes a KVM boot once and
# caches the answer; SCX_FAIRRS_KVM=1 or =0 forces either mode.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
. "$(dirname "$0")/env.sh"
cpus=4 memory=2G out="" extra=() series=7 topology="" console=0
while [ $# -gt 0 ]; do
    case "$1" in
        --kernel) series=$2; shift 2 ;;
        --cpus) cpus=$2; shift 2 ;;
        --memory) memory=$2; shift 2 ;;
        --numa) extra+=(--numa "$2"); shift 2 ;;
        --topology) topology=$2; shift 2 ;;
        --out) out=$2; shift 2 ;;
        --console) console=1; shift ;;
        --) shift; break ;;
        *) echo "vm/run.sh: unknown option $1" >&2; exit 2 ;;
    esac
done
[ $# -ge 1 ] || { echo "usage: vm/run.sh [options] -- 'guest command'" >&2; exit 2; }
if [ -n "$topology" ]; then
    IFS=, read -r sockets cores threads <<< "$topology"
    [ "$((sockets * cores * threads))" = "$cpus" ] ||
        { echo "vm/run.sh: --topology $topology makes $((sockets * cores * threads)) CPUs, not --cpus $cpus" >&2; exit 2; }
    # QEMU merges this with the -smp N vng passes (one L3 cache per socket).
    extra+=(--qemu-opts "-smp $cpus,sockets=$sockets,cores=$cores,threads=$threads")
fi

KENV="$CACHE_DIR/kernel.env"
[ "$series" = 7 ] || KENV="$CACHE_DIR/kernel-$series.env"
[ -f "$KENV" ] || { echo "vm/run.sh: kernel series $series is not set up; run vm/setup.sh $series" >&2; exit 1; }
# shellcheck disable=SC1090
. "$KENV"

kvm_mode() {
    case "${SCX_FAIRRS_KVM:-auto}" in
        1|yes) echo kvm; return ;;
        0|no) echo tcg; return ;;
    esac
    local cached="$CACHE_DIR/kvm-mode"
    if [ -f "$cached" ]; then cat "$cached"; return; fi
    local mode=tcg
    if [ -w /dev/kvm ] && timeout 90 vng -r "$VMLINUZ" --force-9p --cpus 1 --memory 512M \
            -- 'exit 42' >/dev/null 2>&1; then
        :
    else
        rc=$?
        [ "$rc" -eq 42 ] && mode=kvm
    fi
    echo "$mode" > "$cached"
    echo "$mode"
}

args=(-r "$VMLINUZ" --force-9p --cpus "$cpus" --memory "$memory"
      --rodir "/boot=$KBOOT" "${extra[@]}")
# Under TCG the guest's TSC is QEMU's virtual clock: constant-rate and the same
# on every vCPU. The kernel's clocksource watchdog still marks it unstable
# whenever the host stalls a vCPU thread across a watchdog interval (2 cores
# running 4 vCPUs: every busy run) and switches to the HPET. Each clock read
# is then an emulated MMIO access under QEMU's global lock, tens of us, for
# the rest of the boot: every clock_gettime(), every bpf_ktime_get_ns(). That
# struck at a random point of a run and slowed whatever came after it (the
# benchmark's schedulers alternate within one boot).
[ "$(kvm_mode)" = kvm ] || args+=(--disable-kvm --append "tsc=reliable")
# --console: the kernel's warnings and worse (loglevel 4) reach the console as
# they happen, so a guest that wedges still shows its lockup, RCU stall or
# hung-task reports on the host.
[ "$console" = 0 ] || args+=(-v --append "loglevel=4")
if [ -n "$out" ]; then
    mkdir -p "$out"
    out=$(cd "$out" && pwd)
    args+=(--rwdir "$out")
    set -- "export OUT='$out'; $*"
fi

exec vng "${args[@]}" -- "$@"
