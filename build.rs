//! Compiles bpf/netattr.bpf.c into a libbpf skeleton in $OUT_DIR.
// A build script reports a failure by panicking: expect() names what failed.
#![allow(clippy::expect_used)]

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
    if env::var_os("CARGO_FEATURE_STATIC").is_some() || env::var_os("CARGO_FEATURE_VENDORED").is_some() {
        static_libgcc(&out);
    }
    println!("cargo:rerun-if-changed={SRC}");
    println!("cargo:rerun-if-changed=bpf/netattr.h");
}

/// Rust's standard library links GCC's unwinder as `-lgcc_s` (libgcc_s.so.1). For a binary that
/// needs only the C library, a directory searched first offers the same unwinder from GCC's
/// static libgcc_eh.a under that name, so the linker takes it in and libgcc_s.so.1 is not
/// needed (what gcc's own -static-libgcc does).
fn static_libgcc(out: &std::path::Path) {
    let cc = env::var("CC").unwrap_or_else(|_| "cc".into());
    let found = std::process::Command::new(&cc)
        .arg("-print-file-name=libgcc_eh.a")
        .output()
        .expect("running the C compiler to find libgcc_eh.a");
    let eh = PathBuf::from(String::from_utf8_lossy(&found.stdout).trim());
    assert!(eh.is_absolute(), "{cc} does not know libgcc_eh.a: install gcc");
    let dir = out.join("static-libgcc");
    std::fs::create_dir_all(&dir).expect("creating $OUT_DIR/static-libgcc");
    let link = dir.join("libgcc_s.a");
    let _ = std::fs::remove_file(&link);
    std::os::unix::fs::symlink(&eh, &link).expect("linking libgcc_eh.a as libgcc_s.a");
    println!("cargo:rustc-link-search=native={}", dir.display());
}
