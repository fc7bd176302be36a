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

    // The PELT maths (src/bpf/pelt.bpf.h) built for the host as well, so
    // src/pelt.rs runs the very header the BPF side inlines. The library is
    // small, and the binary only pulls in what it calls.
    println!("cargo:rerun-if-changed=src/bpf/pelt.bpf.h");
    println!("cargo:rerun-if-changed=src/bpf/pelt_host.c");
    cc::Build::new()
        .file("src/bpf/pelt_host.c")
        .include("src/bpf")
        .compile("fairrs_pelt");

    scx_cargo::BpfBuilder::new()
        .expect("BPF build environment (clang >= 16 for the BPF target; set BPF_CLANG)")
        .enable_intf("src/bpf/intf.h", "bpf_intf.rs")
        .enable_skel("src/bpf/main.bpf.c", "bpf")
        .build()
        .expect("building the BPF scheduler");
}
