#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# Idempotent set-up of a bare Debian 12 machine for building scx_fairrs and
# running it inside a virtme-ng VM:
#
#   1. host packages: the BPF toolchain (clang-19/llvm-19 from bookworm-backports),
#      the C libraries libbpf-sys and bindgen need, QEMU, and what virtme-ng needs
#      on the host to boot a guest from the host's own root (busybox, kmod, udev);
#   2. virtme-ng itself (PyPI);
#   3. a sched_ext kernel from Debian's trixie-backports suite, resolved to the
#      newest build of a series at set-up time, fetched through a private apt
#      configuration (the host's sources are never touched for trixie), cached
#      under ~/.cache/scx_fairrs/kernel/<ver>, with its modules installed in
#      /usr/lib/modules/<ver> because the guest boots on the host's root.
#
#   vm/setup.sh [SERIES]    SERIES: 7 (default: the newest 7.x), 6.16, 6.18,
#                           6.12 (built from Debian's linux-source-6.12: vm/kernel-6.12.sh),
#                           or cfs: Debian 12's own 6.1 kernel, the Completely Fair
#                           Scheduler itself (no sched_ext), to calibrate the checks of
#                           CFS rules that today's kernels no longer follow
#
# Prints nothing but progress; the last line is the path of the kernel's
# environment file (KVER=, VMLINUZ=, KCONFIG=, KBOOT=): kernel.env for the
# default series, kernel-<SERIES>.env for the others.
set -euo pipefail

log() { printf '[setup] %s\n' "$*" >&2; }

. "$(dirname "$0")/env.sh"
mkdir -p "$CACHE_DIR"

SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO="sudo"

# --- 1. host packages -------------------------------------------------------
# linux-perf: hackbench (perf bench sched messaging) in the bench suite;
# fonts-dejavu-core: the benchmark chart's font.
HOST_PKGS=(clang-19 llvm-19 libclang-19-dev libelf-dev zlib1g-dev pkg-config
           qemu-system-x86 busybox-static kmod udev stress-ng
           zstd ca-certificates systemd linux-perf fonts-dejavu-core python3 python3-pip)
BACKPORTS=/etc/apt/sources.list.d/bookworm-backports.list

missing_pkgs() {
    local p
    for p in "${HOST_PKGS[@]}"; do
        dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || echo "$p"
    done
}

# The Debian archive this machine already uses (a local mirror or proxy
# included): the URI its apt sources give for the release it runs. Every
# further suite (bookworm-backports, trixie, trixie-backports) comes from there.
debian_mirror() {
    local codename uri
    codename=$(. /etc/os-release && echo "$VERSION_CODENAME")
    uri=$(apt-get indextargets --no-release-info --format '$(RELEASE) $(REPO_URI)' 2>/dev/null \
          | awk -v r="$codename" '$1 == r { print $2; exit }')
    [ -n "$uri" ] || { log "no apt source for Debian $codename in /etc/apt: cannot tell which mirror to use"; exit 1; }
    echo "${uri%/}"
}
MIRROR=$(debian_mirror)

if [ -n "$(missing_pkgs)" ]; then
    if ! grep -rqs 'bookworm-backports' /etc/apt/sources.list /etc/apt/sources.list.d/; then
        log "adding bookworm-backports from $MIRROR (clang-19 lives there)"
        echo "deb $MIRROR bookworm-backports main" | $SUDO tee "$BACKPORTS" >/dev/null
    fi
    log "apt-get update"
    $SUDO apt-get update -qq
    # shellcheck disable=SC2046
    log "installing: $(missing_pkgs | tr '\n' ' ')"
    $SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq -t bookworm-backports \
        --no-install-recommends $(missing_pkgs) >/dev/null
fi

# --- 2. virtme-ng -----------------------------------------------------------
if ! command -v vng >/dev/null 2>&1; then
    log "installing virtme-ng from PyPI"
    python3 -m pip install -q --root-user-action=ignore virtme-ng
fi
command -v vng >/dev/null || { log "vng not on PATH after pip install"; exit 1; }

# --- 3. the sched_ext kernel ------------------------------------------------
SERIES=${1:-7}
case "$SERIES" in
    7) KENV="$CACHE_DIR/kernel.env" ;;
    6.12|6.16|6.18|cfs) KENV="$CACHE_DIR/kernel-$SERIES.env" ;;
    *) log "unknown kernel series '$SERIES' (7, 6.12, 6.16, 6.18 or cfs)"; exit 2 ;;
esac
if [ -f "$KENV" ]; then
    # shellcheck disable=SC1090
    . "$KENV"
    # Debian's kernels need their modules; the 6.12 build (everything built
    # in) is checked against its recipe by vm/kernel-6.12.sh below.
    if [ -f "$VMLINUZ" ] && [ -f "$KCONFIG" ] && [ "$SERIES" != 6.12 ] &&
       [ -d "/usr/lib/modules/$KVER/kernel" ]; then
        log "kernel $KVER already set up"
        echo "$KENV"
        exit 0
    fi
fi

# cfs comes from bookworm (Debian 12, kernel 6.1, the last CFS before EEVDF),
# the rest from trixie-backports, each through its own private apt state.
if [ "$SERIES" = cfs ]; then
    APT_DIR="$CACHE_DIR/apt-bookworm"
    SUITES="bookworm"
else
    APT_DIR="$CACHE_DIR/apt-trixie"
    SUITES="trixie-backports trixie"
fi
mkdir -p "$APT_DIR/lists/partial" "$APT_DIR/archives/partial" "$APT_DIR/etc"
for suite in $SUITES; do
    echo "deb [signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] $MIRROR $suite main"
done > "$APT_DIR/etc/sources.list"
APT_OPTS=(-o "Dir::Etc::SourceList=$APT_DIR/etc/sources.list"
          -o "Dir::Etc::SourceParts=/dev/null"
          -o "Dir::State::Lists=$APT_DIR/lists"
          -o "Dir::Cache=$APT_DIR"
          -o "Dir::State::status=/dev/null"
          -o "APT::Get::List-Cleanup=0"
          -o "Debug::NoLocking=1"
          -o "APT::Sandbox::User=root")

if [ "$SERIES" = 6.12 ]; then
    # shellcheck source=vm/kernel-6.12.sh
    . "$(dirname "$0")/kernel-6.12.sh"
    echo "$KENV"
    exit 0
fi

log "resolving the newest $SERIES kernel in $SUITES"
apt-get "${APT_OPTS[@]}" update -qq
# 7.x ships as linux-binary-unsigned-<ver> + linux-modules-<ver> + linux-base-<ver>
# (config, System.map); 6.x as one linux-image-<ver> with /boot/config-<ver>.
# Pick the highest version of the series by version ordering.
if [ "$SERIES" = 7 ]; then
    PKG_PREFIX=linux-binary-unsigned-
    VER_RE='7\.[0-9.]*+deb13-amd64'
elif [ "$SERIES" = cfs ]; then
    PKG_PREFIX=linux-image-
    VER_RE='6\.1\.0-[0-9]*-amd64'
else
    PKG_PREFIX=linux-image-
    VER_RE="${SERIES//./\\.}\\.[0-9]*+deb13-amd64"
fi
stem=$PKG_PREFIX$SERIES.
[ "$SERIES" != cfs ] || stem=${PKG_PREFIX}6.1.
KVER=$(apt-cache "${APT_OPTS[@]}" pkgnames "$stem" \
        | sed -n "s/^$PKG_PREFIX\($VER_RE\)\$/\1/p" \
        | sort -V | tail -n 1)
[ -n "$KVER" ] || { log "no $PKG_PREFIX$SERIES kernel in $SUITES"; exit 1; }
log "kernel: $KVER"

KDIR="$CACHE_DIR/kernel/$KVER"
DEBS="$KDIR/debs"
ROOT="$KDIR/root"
mkdir -p "$DEBS" "$ROOT"
(
    cd "$DEBS"
    # 7.x splits the kernel in three: the image, its modules, and linux-base-<ver>
    # (config, System.map, modules.builtin*).
    if [ "$SERIES" = 7 ]; then
        pkgs=("linux-binary-unsigned-$KVER" "linux-modules-$KVER" "linux-base-$KVER")
    else
        pkgs=("linux-image-$KVER")
    fi
    for pkg in "${pkgs[@]}"; do
        ls "${pkg}"_*.deb >/dev/null 2>&1 || apt-get "${APT_OPTS[@]}" download -qq "$pkg" 2>/dev/null
    done
)
for deb in "$DEBS"/*.deb; do
    dpkg-deb -x "$deb" "$ROOT"
done

MODSRC="$ROOT/usr/lib/modules/$KVER"
[ -d "$MODSRC" ] || MODSRC="$ROOT/lib/modules/$KVER"
VMLINUZ="$MODSRC/vmlinuz.unsigned"
[ -f "$VMLINUZ" ] || VMLINUZ="$ROOT/boot/vmlinuz-$KVER"
KCONFIG="$MODSRC/config"
[ -f "$KCONFIG" ] || KCONFIG="$ROOT/boot/config-$KVER"
[ -f "$VMLINUZ" ] || { log "no kernel image in the $KVER packages"; exit 1; }
[ -f "$KCONFIG" ] || { log "no kernel config in the $KVER packages"; exit 1; }
[ "$SERIES" = cfs ] || grep -q '^CONFIG_SCHED_CLASS_EXT=y' "$KCONFIG" ||
    { log "$KVER lacks CONFIG_SCHED_CLASS_EXT"; exit 1; }

# The guest boots on the host's root, so it loads modules from the host's
# /usr/lib/modules/<ver>.
log "installing modules in /usr/lib/modules/$KVER"
$SUDO mkdir -p /usr/lib/modules
$SUDO rm -rf "/usr/lib/modules/$KVER"
$SUDO cp -a "$MODSRC" "/usr/lib/modules/$KVER"
$SUDO depmod "$KVER"

# The guest gets /boot from here (libbpf reads the kernel's Kconfig from
# /boot/config-<ver>; Debian kernels have no /proc/config.gz).
mkdir -p "$KDIR/boot"
cp "$KCONFIG" "$KDIR/boot/config-$KVER"

cat > "$KENV" <<ENV
KVER=$KVER
VMLINUZ=$VMLINUZ
KCONFIG=$KCONFIG
KBOOT=$KDIR/boot
ENV
log "kernel $KVER ready"
echo "$KENV"
