//! A netattr instance in its own pin directory, and the scene most tests start from.
use std::fs;
use std::path::PathBuf;
use std::process::Command;
use std::sync::{RwLockReadGuard, RwLockWriteGuard};

use super::*;

/// A netattr instance in its own pin directory; Drop runs `cleanup` and removes the pins.
pub struct Netattr {
    pub pin_dir: PathBuf,
}

impl Netattr {
    pub fn new() -> Self {
        ensure_bpffs();
        let pin_dir = PathBuf::from(format!("/sys/fs/bpf/netattr-test-{}-{}", pid(), uniq()));
        let n = Netattr { pin_dir };
        n.purge();
        n
    }

    pub fn cmd(&self, args: &[&str]) -> Command {
        let mut c = Command::new(BIN);
        c.args(args).arg("--pin-dir").arg(&self.pin_dir).env_remove("NETATTR_PIN_DIR");
        c
    }

    pub fn run(&self, args: &[&str]) -> Run {
        run_cmd(&mut self.cmd(args))
    }

    pub fn pin(&self, name: &str) -> PathBuf {
        self.pin_dir.join(name)
    }

    /// bpftool's view of the first 8 bytes of entry `key` of the pinned array `map`, as a
    /// number (native byte order).
    pub fn map_u64(&self, map: &str, key: u32) -> u64 {
        let pin = self.pin(map).to_string_lossy().into_owned();
        let key: Vec<String> = key.to_ne_bytes().iter().map(u8::to_string).collect();
        let mut args = vec!["bpftool", "-j", "map", "lookup", "pinned", &pin, "key"];
        args.extend(key.iter().map(String::as_str));
        let v: serde_json::Value = serde_json::from_str(&sh(&args)).unwrap();
        let bytes: Vec<u8> = v["value"]
            .as_array()
            .unwrap()
            .iter()
            .take(8)
            .map(|b| u8::from_str_radix(b.as_str().unwrap().trim_start_matches("0x"), 16).unwrap())
            .collect();
        u64::from_ne_bytes(bytes.try_into().unwrap())
    }

    fn purge(&self) {
        let _ = self.run(&["cleanup"]);
        if let Ok(entries) = fs::read_dir(&self.pin_dir) {
            for e in entries.flatten() {
                let _ = fs::remove_file(e.path());
            }
        }
        let _ = fs::remove_dir(&self.pin_dir);
    }
}

impl Drop for Netattr {
    fn drop(&mut self) {
        self.purge();
    }
}

pub fn ensure_bpffs() {
    let out = sh(&["stat", "-f", "-c", "%T", "/sys/fs/bpf"]);
    if out.trim() != "bpf_fs" {
        quiet(&["mount", "-t", "bpf", "bpf", "/sys/fs/bpf"]);
    }
}

enum Lock {
    Shared(#[allow(dead_code)] RwLockReadGuard<'static, ()>),
    Exclusive(#[allow(dead_code)] RwLockWriteGuard<'static, ()>),
}

/// What most tests start from: a netattr instance, a cgroup tree and `n` containers.
/// Fields drop in order: containers, then their cgroups, the instance, the lock.
pub struct Scene {
    pub c: Vec<Container>,
    pub tree: CgroupTree,
    pub na: Netattr,
    _lock: Lock,
}

/// None when the test must skip (not root, and CI unset). `host_wide` tests run alone.
pub fn scene(containers: usize, host_wide: bool) -> Option<Scene> {
    if !privileged() {
        return None;
    }
    let _lock = if host_wide { Lock::Exclusive(exclusive()) } else { Lock::Shared(shared()) };
    let na = Netattr::new();
    let tree = CgroupTree::new();
    let c = (0..containers).map(|_| Container::new(&tree)).collect();
    Some(Scene { c, tree, na, _lock })
}
