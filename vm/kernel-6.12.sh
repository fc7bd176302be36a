#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# Build the 6.12 LTS kernel the project claims, since no Debian binary of 6.12
# enables sched_ext: Debian's linux-source-6.12 (bookworm-security), configured
# for virtme-ng plus BPF, BTF and sched_ext, everything built in (no modules).
# Sourced by vm/setup.sh (which has set log, CACHE_DIR, KENV, SUDO and the
# private trixie apt options APT_OPTS); writes $KENV. About 16 minutes with
# -j2 on these machines; the result is cached under $CACHE_DIR/kernel/.
#
# BTF for 6.12 needs pahole >= 1.26 and Debian 12 has 1.24: trixie's pahole
# runs here through trixie's own dynamic loader with trixie's libraries,
# unpacked into the cache (never installed, the host's apt sources untouched).

KSRC_PKGS=(linux-source-6.12 bc bison flex libssl-dev libelf-dev cpio)
# shellcheck disable=SC2046
missing=$(for p in "${KSRC_PKGS[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || echo "$p"
done)
if [ -n "$missing" ]; then
    log "installing the 6.12 source and its build tools: $(echo $missing)"
    $SUDO apt-get update -qq
    # shellcheck disable=SC2086
    $SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $missing >/dev/null
fi
TARBALL=$(ls /usr/src/linux-source-6.12.tar.xz 2>/dev/null) ||
    { log "linux-source-6.12 installed no /usr/src/linux-source-6.12.tar.xz"; exit 1; }
SRCVER=$(dpkg-query -W -f='${Version}' linux-source-6.12)

# Debian versions carry a "~", which vng refuses in --rodir paths: the tree
# is named after the version with "~" replaced.
BUILD="$CACHE_DIR/kernel/6.12-${SRCVER//\~/+}-build"
PAHOLE_ROOT="$CACHE_DIR/pahole-trixie"

# --- pahole from trixie ------------------------------------------------------
if [ ! -x "$PAHOLE_ROOT/pahole" ]; then
    log "fetching trixie's pahole and its libraries"
    apt-get "${APT_OPTS[@]}" update -qq
    mkdir -p "$PAHOLE_ROOT/debs" "$PAHOLE_ROOT/root"
    (cd "$PAHOLE_ROOT/debs" && apt-get "${APT_OPTS[@]}" download -qq \
        pahole libc6 libbpf1 libdw1t64 libelf1t64 zlib1g liblzma5 libbz2-1.0 libzstd1 2>/dev/null)
    for deb in "$PAHOLE_ROOT"/debs/*.deb; do dpkg-deb -x "$deb" "$PAHOLE_ROOT/root"; done
    r="$PAHOLE_ROOT/root"
    cat > "$PAHOLE_ROOT/pahole" <<WRAP
#!/bin/sh
exec "$r/usr/lib/x86_64-linux-gnu/ld-linux-x86-64.so.2" \\
    --library-path "$r/usr/lib/x86_64-linux-gnu:$r/lib/x86_64-linux-gnu" "$r/usr/bin/pahole" "\$@"
WRAP
    chmod +x "$PAHOLE_ROOT/pahole"
fi
pv=$("$PAHOLE_ROOT/pahole" --version) || { log "trixie's pahole does not run here"; exit 1; }
log "pahole $pv for BTF"
# Kconfig reads pahole's version too (DEBUG_INFO_BTF depends on it, and
# SCHED_CLASS_EXT on that): the wrapper is first in PATH for configure and build.
mkdir -p "$PAHOLE_ROOT/bin"
ln -sf "$PAHOLE_ROOT/pahole" "$PAHOLE_ROOT/bin/pahole"
export PATH="$PAHOLE_ROOT/bin:$PATH"

# --- configure ----------------------------------------------------------------
# What the build must have (TRANSPARENT_HUGEPAGE: Debian's own 6.12 has it,
# and the hostile suite's RCU case collapses huge pages). A tree cached by an
# older recipe that lacks one is configured and built again.
NEEDED="SCHED_CLASS_EXT DEBUG_INFO_BTF FUNCTION_TRACER IKCONFIG_PROC HOTPLUG_CPU TRANSPARENT_HUGEPAGE"
configured() {
    local opt
    [ -f "$BUILD/.config.done" ] || return 1
    for opt in $NEEDED; do grep -q "^CONFIG_$opt=y" "$BUILD/.config" || return 1; done
}
if ! configured; then
    log "unpacking linux-source-6.12 $SRCVER"
    rm -rf "$BUILD"; mkdir -p "$BUILD"
    tar -xJf "$TARBALL" -C "$BUILD" --strip-components=1
    (
        cd "$BUILD"
        vng --kconfig >/dev/null 2>&1
        # What sched_ext, libbpf CO-RE and scx_utils need (FUNCTION_TRACER:
        # scx_utils refuses kernels without it), and what the suites use:
        # hotplug, NUMA, cgroups, schedstats, /proc/config.gz for libbpf.
        scripts/config \
            -e BPF -e BPF_SYSCALL -e BPF_JIT -e BPF_JIT_ALWAYS_ON \
            -e DEBUG_INFO -e DEBUG_INFO_DWARF_TOOLCHAIN_DEFAULT -d DEBUG_INFO_REDUCED \
            -d DEBUG_INFO_SPLIT -e DEBUG_INFO_BTF -e SCHED_CLASS_EXT \
            -e FTRACE -e FUNCTION_TRACER -e DYNAMIC_FTRACE -e KALLSYMS_ALL \
            -e NUMA -e HOTPLUG_CPU -e CGROUPS -e CGROUP_SCHED -e FAIR_GROUP_SCHED \
            -e EXT_GROUP_SCHED -e SCHED_AUTOGROUP -e IKCONFIG -e IKCONFIG_PROC \
            -e SCHED_DEBUG -e SCHEDSTATS -e MAGIC_SYSRQ \
            -e TRANSPARENT_HUGEPAGE -e TRANSPARENT_HUGEPAGE_MADVISE \
            -e 9P_FS -e NET_9P -e NET_9P_VIRTIO -e VIRTIO_PCI
        make olddefconfig >/dev/null
        for opt in $NEEDED; do
            grep -q "^CONFIG_$opt=y" .config || { echo "CONFIG_$opt did not survive olddefconfig" >&2; exit 1; }
        done
    ) || { log "configuring 6.12 failed"; exit 1; }
    touch "$BUILD/.config.done"
fi

# --- build ----------------------------------------------------------------------
if [ ! -f "$BUILD/arch/x86/boot/bzImage" ] || [ ! -f "$BUILD/.build.done" ]; then
    log "building 6.12 $SRCVER (about 16 minutes with 2 CPUs; cached afterwards)"
    start=$(date +%s)
    make -C "$BUILD" -j"$(nproc)" bzImage > "$BUILD/build.log" 2>&1 ||
        { log "building 6.12 failed; the tail of $BUILD/build.log:"; tail -n 20 "$BUILD/build.log" >&2; exit 1; }
    touch "$BUILD/.build.done"
    log "built in $(( $(date +%s) - start ))s"
fi

# The image and its config go outside the build tree: vng takes a kernel
# inside a source tree for a development build and looks for its modules.
KVER=$(make -s -C "$BUILD" kernelrelease)
OUT="$CACHE_DIR/kernel/$KVER"
mkdir -p "$OUT/boot"
cp "$BUILD/arch/x86/boot/bzImage" "$OUT/vmlinuz"
cp "$BUILD/.config" "$OUT/config"
cp "$BUILD/.config" "$OUT/boot/config-$KVER"
cat > "$KENV" <<ENV
KVER=$KVER
VMLINUZ=$OUT/vmlinuz
KCONFIG=$OUT/config
KBOOT=$OUT/boot
ENV
log "kernel $KVER ready"
