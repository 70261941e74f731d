//! Compiles bpf/netattr.bpf.c into a libbpf skeleton in $OUT_DIR.
use std::env;
use std::path::PathBuf;

use libbpf_cargo::SkeletonBuilder;

const SRC: &str = "bpf/netattr.bpf.c";

fn main() {
    let out = PathBuf::from(env::var_os("OUT_DIR").expect("OUT_DIR is set by cargo"));
    let arch = env::var("CARGO_CFG_TARGET_ARCH").unwrap_or_else(|_| "x86_64".into());
    // The uapi headers (<linux/bpf.h>) include <asm/types.h>, which Debian and Ubuntu keep
    // under the multiarch directory.
    let multiarch = format!("/usr/include/{arch}-linux-gnu");
    SkeletonBuilder::new()
        .source(SRC)
        .clang_args(["-I", "bpf", "-I", multiarch.as_str(), "-Wall", "-O2", "-g"])
        .build_and_generate(out.join("netattr.skel.rs"))
        .expect("building bpf/netattr.bpf.c (needs clang, libelf-dev, zlib1g-dev, pkg-config)");
    println!("cargo:rerun-if-changed={SRC}");
    println!("cargo:rerun-if-changed=bpf/netattr.h");
}
