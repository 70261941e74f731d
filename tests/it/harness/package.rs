//! What scripts/package.sh built (the self-contained binary and the .deb), and the clean
//! Debian base image the package and the DaemonSet tests run in.
use std::path::{Path, PathBuf};
use std::process::Output;

use super::*;

pub const ROOT: &str = env!("CARGO_MANIFEST_DIR");
pub const BASE: &str = "netattr-base:bookworm";

/// The newest modification time of the files under `dir` (recursively).
pub(crate) fn newest(dir: &Path) -> std::time::SystemTime {
    let mut t = std::time::UNIX_EPOCH;
    for e in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        let m = if e.path().is_dir() {
            newest(&e.path())
        } else {
            e.metadata().and_then(|m| m.modified()).unwrap_or(t)
        };
        t = t.max(m);
    }
    t
}

/// The packaged binary and .deb, or None (a failure under CI) when they were not built, or
/// were built before the sources last changed.
pub fn artifacts() -> Option<(PathBuf, PathBuf)> {
    let dir = Path::new(ROOT).join("target/package");
    let bin = dir.join("netattr");
    let deb = std::fs::read_dir(&dir)
        .into_iter()
        .flatten()
        .flatten()
        .map(|e| e.path())
        .find(|p| p.extension().is_some_and(|x| x == "deb"));
    let built = bin.metadata().and_then(|m| m.modified()).ok();
    let sources = ["src", "bpf"].iter().map(|d| newest(&Path::new(ROOT).join(d))).max().unwrap();
    let why = match (&deb, built) {
        (Some(_), Some(t)) if t >= sources => None,
        (Some(_), Some(_)) => Some("are older than the sources"),
        _ => Some("are missing"),
    };
    match (why, deb) {
        (None, Some(deb)) => Some((bin, deb)),
        (why, _) => {
            let why = format!("the packages in {} {}", dir.display(), why.unwrap_or(""));
            skip(
                &format!("{why} (run scripts/package.sh)"),
                &format!("{why}: run scripts/package.sh (scripts/test.sh does)"),
            );
            None
        }
    }
}

/// The clean Debian base image (scripts/base-image.sh), built once.
pub fn base_image() {
    sh(&[&format!("{ROOT}/scripts/base-image.sh"), BASE]);
}

/// A finished command's stdout and stderr, as text.
pub fn text(o: &Output) -> String {
    format!("{}{}", String::from_utf8_lossy(&o.stdout), String::from_utf8_lossy(&o.stderr))
}
