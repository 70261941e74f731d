//! Cgroup fixtures: a test-owned subtree of cgroup2 and its leaves, and starting a process
//! in one.
use std::fs;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use super::*;

/// The cgroup2 mount, as netattr finds it.
pub fn cgroup2() -> PathBuf {
    netattr::cgroup::mount_point().expect("a cgroup2 mount")
}

/// A test-owned cgroup subtree: <cgroup2>/netattr-test-PID-N. Drop kills what runs in it
/// and removes it.
pub struct CgroupTree {
    pub root: PathBuf,
}

impl CgroupTree {
    pub fn new() -> Self {
        let root = cgroup2().join(format!("netattr-test-{}-{}", pid(), uniq()));
        let t = CgroupTree { root };
        t.remove();
        fs::create_dir_all(&t.root).expect("creating the test cgroup tree");
        t
    }

    /// A cgroup at `rel` below the tree root (parents made as needed).
    pub fn cgroup(&self, rel: &str) -> Cgroup {
        let path = self.root.join(rel);
        fs::create_dir_all(&path).expect("creating a test cgroup");
        let id = netattr::cgroup::id_of(&path).expect("cgroup id");
        let rel_to_mount = format!("/{}", path.strip_prefix(cgroup2()).unwrap().display());
        Cgroup { path, id, rel: rel_to_mount }
    }

    /// The tree's path relative to the cgroup2 mount ("/netattr-test-…"), for `--cgroup`.
    pub fn rel(&self) -> String {
        format!("/{}", self.root.strip_prefix(cgroup2()).unwrap().display())
    }

    /// A cgroup named like a Docker container's under the systemd driver.
    pub fn docker_like(&self) -> Cgroup {
        let hex: String =
            (0..4).map(|i| format!("{:016x}", (pid() as u64) << 32 | (uniq() as u64) << 8 | i)).collect();
        self.cgroup(&format!("system.slice/docker-{hex}.scope"))
    }

    fn remove(&self) {
        if !self.root.exists() {
            return;
        }
        let mut dirs = vec![];
        collect_dirs(&self.root, &mut dirs);
        for d in dirs.iter().rev() {
            let _ = fs::write(d.join("cgroup.kill"), "1");
        }
        for d in dirs.iter().rev() {
            poll_until(Duration::from_secs(1), Duration::from_millis(20), || {
                fs::remove_dir(d).is_ok() || !d.exists()
            });
        }
    }
}

pub(crate) fn collect_dirs(d: &Path, out: &mut Vec<PathBuf>) {
    out.push(d.to_path_buf());
    if let Ok(rd) = fs::read_dir(d) {
        for e in rd.flatten() {
            if e.file_type().map(|t| t.is_dir()).unwrap_or(false) {
                collect_dirs(&e.path(), out);
            }
        }
    }
}

impl Drop for CgroupTree {
    fn drop(&mut self) {
        self.remove();
    }
}

#[derive(Debug, Clone)]
pub struct Cgroup {
    pub path: PathBuf,
    pub id: u64,
    /// Path relative to the cgroup2 mount, as netattr prints it.
    pub rel: String,
}

/// Makes `cmd` start in `cgroup` (its child joins the cgroup before it execs).
pub fn in_cgroup(cmd: &mut Command, cgroup: &Cgroup) {
    let procs =
        std::ffi::CString::new(cgroup.path.join("cgroup.procs").into_os_string().into_encoded_bytes())
            .unwrap();
    // SAFETY: the closure runs between fork and exec and makes only async-signal-safe
    // calls (open, write, close) on memory it owns.
    unsafe {
        cmd.pre_exec(move || {
            // Only async-signal-safe calls between fork and exec.
            let fd = libc::open(procs.as_ptr(), libc::O_WRONLY);
            if fd < 0 {
                return Err(std::io::Error::last_os_error());
            }
            let ok = libc::write(fd, b"0\n".as_ptr().cast(), 2) == 2;
            libc::close(fd);
            if ok {
                Ok(())
            } else {
                Err(std::io::Error::last_os_error())
            }
        });
    }
}
