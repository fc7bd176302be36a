// SPDX-License-Identifier: GPL-2.0
//! Compiles the BPF scheduler into a libbpf-rs skeleton and generates Rust
//! bindings for the shared interface header. scx_cargo supplies the scx BPF
//! headers and vmlinux.h, so nothing from the running kernel is needed.

use std::process::Command;

fn main() {
    // The git revision, for --version.
    let rev = Command::new("git")
        .args(["rev-parse", "--short=12", "HEAD"])
        .output()
        .ok()
        .filter(|o| o.status.success())
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
        .unwrap_or_else(|| "unknown".into());
    println!("cargo:rustc-env=FAIRRS_GIT_REV={rev}");
    println!("cargo:rerun-if-changed=.git/HEAD");
    println!("cargo:rerun-if-changed=.git/refs");

    // The host library: the PELT maths (src/bpf/pelt.bpf.h, through
    // pelt_host.c), CFS's (src/bpf/cfs.bpf.h, through cfs_host.c) and the
    // balancer's and groups' (src/bpf/share.bpf.h, through share_host.c), so
    // the tests in src/pelt.rs, src/cfs.rs and src/share.rs run the very
    // headers the BPF side inlines, and the counter names of intf.h
    // (intf_host.c), which the daemon reports.
    for file in [
        "src/bpf/pelt.bpf.h",
        "src/bpf/pelt_host.c",
        "src/bpf/cfs.bpf.h",
        "src/bpf/cfs_host.c",
        "src/bpf/share.bpf.h",
        "src/bpf/share_host.c",
        "src/bpf/intf.h",
        "src/bpf/intf_host.c",
    ] {
        println!("cargo:rerun-if-changed={file}");
    }
    cc::Build::new()
        .file("src/bpf/pelt_host.c")
        .file("src/bpf/cfs_host.c")
        .file("src/bpf/share_host.c")
        .file("src/bpf/intf_host.c")
        .include("src/bpf")
        .compile("fairrs_host");

    scx_cargo::BpfBuilder::new()
        .expect("BPF build environment (clang >= 16 for the BPF target; set BPF_CLANG)")
        .enable_intf("src/bpf/intf.h", "bpf_intf.rs")
        .enable_skel("src/bpf/main.bpf.c", "bpf")
        .build()
        .expect("building the BPF scheduler");
}
