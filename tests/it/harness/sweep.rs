//! What earlier runs of this suite left behind when their process was killed: removed before
//! the first privileged test, and only what a process that no longer exists made.
use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

use super::*;

/// The test process that made `name` ("netattr-test-<pid>-..."), if that process is gone.
pub(crate) fn dead_owner(name: &str) -> bool {
    let Some(pid) = name
        .strip_prefix("netattr-test-")
        .and_then(|r| r.split('-').next())
        .and_then(|p| p.parse::<u32>().ok())
    else {
        return false;
    };
    pid != std::process::id() && !Path::new(&format!("/proc/{pid}")).exists()
}

/// Guards cannot run when a test process is killed (SIGKILL, SIGPIPE): before the first
/// test, remove what earlier runs of this suite left behind. Only objects named with this
/// suite's prefix and the pid of a process that no longer exists are touched.
pub(crate) fn sweep_dead_runs() {
    ensure_bpffs();
    if let Ok(rd) = fs::read_dir("/sys/fs/bpf") {
        for e in rd.flatten() {
            let name = e.file_name().to_string_lossy().into_owned();
            if dead_owner(&name) {
                quiet(&[BIN, "cleanup", "--pin-dir", &e.path().to_string_lossy()]);
                let _ = fs::remove_dir_all(e.path());
            }
        }
    }
    for line in sh(&["ip", "netns", "list"]).lines() {
        let name = line.split_whitespace().next().unwrap_or("");
        if dead_owner(name) {
            quiet(&["ip", "netns", "del", name]);
        }
    }
    if let Ok(rd) = fs::read_dir("/sys/class/net") {
        for e in rd.flatten() {
            let alias = fs::read_to_string(e.path().join("ifalias")).unwrap_or_default();
            if dead_owner(alias.trim()) {
                quiet(&["ip", "link", "del", &e.file_name().to_string_lossy()]);
            }
        }
    }
    if let Ok(rd) = fs::read_dir(cgroup2()) {
        for e in rd.flatten() {
            if dead_owner(&e.file_name().to_string_lossy()) {
                drop(CgroupTree { root: e.path() });
            }
        }
    }
    if docker_up() {
        let names = sh(&["docker", "ps", "-a", "--format", "{{.Names}}"]);
        for n in names.lines().filter(|n| dead_owner(n)) {
            quiet(&["docker", "rm", "-f", n]);
        }
    }
    // ClickHouse servers of dead runs: their config lives in the run's temporary directory.
    for p in fs::read_dir("/proc").into_iter().flatten().flatten() {
        let cmdline = fs::read(p.path().join("cmdline")).unwrap_or_default();
        let cmdline = String::from_utf8_lossy(&cmdline);
        if !cmdline.starts_with("clickhouse-server") {
            continue;
        }
        let owner = cmdline.split(['/', '\0']).find(|part| part.starts_with("netattr-test-"));
        if let (Some(owner), Ok(pid)) = (owner, p.file_name().to_string_lossy().parse::<u32>()) {
            if dead_owner(owner) {
                signal(pid, libc::SIGKILL);
            }
        }
    }
    let mut names: Vec<String> = sh(&["ip", "netns", "list"])
        .lines()
        .filter_map(|l| l.split_whitespace().next().map(String::from))
        .collect();
    for dir in [cgroup2(), PathBuf::from("/sys/fs/bpf")] {
        names.extend(
            fs::read_dir(dir)
                .into_iter()
                .flatten()
                .flatten()
                .map(|e| e.file_name().to_string_lossy().into_owned()),
        );
    }
    if let Ok(out) = Command::new("docker").args(["ps", "-a", "--format", "{{.Names}}"]).output() {
        names.extend(String::from_utf8_lossy(&out.stdout).lines().map(String::from));
    }
    sweep_dead_demos(names);
}

/// Demos started by a test are named "nt<pid>-<n>" (12 characters at most); `demo --clean`
/// removes what one left when its test process died.
pub(crate) fn sweep_dead_demos(names: impl IntoIterator<Item = String>) {
    let mut prefixes = std::collections::BTreeSet::new();
    for name in names {
        let Some(rest) = name.strip_prefix("nt") else { continue };
        let mut parts = rest.splitn(3, ['-', '.']);
        let (Some(pid), Some(n)) = (parts.next(), parts.next()) else { continue };
        if pid.parse::<u32>().is_ok() && n.len() == 1 && n.parse::<u8>().is_ok() {
            prefixes.insert(format!("nt{pid}-{n}"));
        }
    }
    for p in prefixes.into_iter().filter(|p| dead_owner(&format!("netattr-test-{}", &p[2..]))) {
        quiet(&[BIN, "demo", "--clean", "--prefix", &p, "--pin-dir", &format!("/sys/fs/bpf/{p}")]);
    }
}

/// Marks a link this test process made, so that a later run can remove it if we die.
pub fn mark_link(name: &str) {
    quiet(&["ip", "link", "set", "dev", name, "alias", &format!("netattr-test-{}", pid())]);
}
