# SPDX-License-Identifier: GPL-2.0
# Host-side helpers for vm/bench.sh and vm/profile.sh (sourced, from the repo
# root; the guest's are tests/vm/lib.sh): their option checks, and the
# sched_ext peers the benchmark builds and both run.

# count_option SCRIPT OPTION VALUE MAX: VALUE is a whole number 1..MAX, or
# SCRIPT exits 2 saying so.
count_option() {
    case "$3" in ''|*[!0-9]*|0) ;; *) [ "$3" -le "$4" ] && return 0 ;; esac
    echo "$1: $2 $3: expected 1..$4" >&2
    exit 2
}

. vm/env.sh  # CACHE_DIR
# The peers: schedulers of the scx project from the crate registry, pinned;
# each is built once into $CACHE_DIR/peers/NAME-VERSION/bin.
PEERS=(scx_bpfland@1.1.4 scx_flash@1.1.4)

# peer_spec NAME BINARY [ARG...]: a scheduler to run, as the guest scripts
# take it (tests/vm/lib.sh, start_scheduler): "NAME=BINARY[:ARG...]".
peer_spec() {
    local name=$1 IFS=:
    shift
    echo "$name=$*"
}

# build_peers: build each of PEERS not yet in the cache (a peer that fails to
# build is reported and skipped); PEER_SPECS: " spec spec ..." of those built,
# each named without its scx_ prefix.
build_peers() {
    local spec name ver dir
    PEER_SPECS=""
    for spec in "${PEERS[@]}"; do
        name=${spec%@*} ver=${spec#*@}
        dir="$CACHE_DIR/peers/$name-$ver"
        if [ ! -x "$dir/bin/$name" ]; then
            echo "== building peer $name $ver (once; cached in $dir)"
            mkdir -p "$dir"
            if ! cargo install --quiet --locked --root "$dir" --version "$ver" "$name" > "$dir/build.log" 2>&1; then
                echo "peer $name $ver failed to build, skipped: $(tail -n 1 "$dir/build.log") (log: $dir/build.log)"
                continue
            fi
        fi
        PEER_SPECS="$PEER_SPECS $(peer_spec "${name#scx_}" "$dir/bin/$name")"
    done
}

# cached_peers: PEER_SPECS, " spec spec ...", of every peer in the cache
# (whatever build_peers built there before).
cached_peers() {
    local bin
    PEER_SPECS=""
    for bin in "$CACHE_DIR"/peers/*/bin/scx_*; do
        if [ -x "$bin" ]; then
            PEER_SPECS="$PEER_SPECS $(peer_spec "$(basename "$bin" | sed 's/^scx_//')" "$bin")"
        fi
    done
}
