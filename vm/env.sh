# SPDX-License-Identifier: GPL-2.0
# Sourced by the vm/ scripts: where slow things are cached (kernels, the
# benchmark's peers, dependency builds), and the toolchain environment set up
# by vm/setup.sh.
CACHE_DIR="${SCX_FAIRRS_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/scx_fairrs}"
# scx_cargo compiles the BPF side with $BPF_CLANG (default "clang"); Debian 12
# gets clang-19 from bookworm-backports, which installs no plain "clang".
if [ -z "${BPF_CLANG:-}" ] && ! command -v clang >/dev/null 2>&1; then
    export BPF_CLANG=clang-19
fi
export PATH="$HOME/.local/bin:$PATH"
