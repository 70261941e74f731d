//! Host facts netattr depends on: privileges, bpffs, kernel release.
use std::fs;
use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};

pub const CAP_DAC_READ_SEARCH: u32 = 2;
pub const CAP_NET_ADMIN: u32 = 12;
pub const CAP_SYS_ADMIN: u32 = 21;
pub const CAP_SYS_PTRACE: u32 = 19;
pub const CAP_PERFMON: u32 = 38;
pub const CAP_BPF: u32 = 39;

/// What netattr needs: BPF objects (CAP_BPF), tc filters (CAP_NET_ADMIN), cgroup
/// attachment, setns and the kernel's cgroup names (CAP_SYS_ADMIN), cgroup file handles
/// (CAP_DAC_READ_SEARCH), and the network namespaces of workloads that run as other users,
/// to find a veth's owner (CAP_SYS_PTRACE: /proc/PID/ns/net; measured: without it, such
/// owners are not found). The deploy/ files grant exactly these.
pub const NEEDED_CAPS: [(u32, &str); 5] = [
    (CAP_BPF, "CAP_BPF"),
    (CAP_NET_ADMIN, "CAP_NET_ADMIN"),
    (CAP_SYS_ADMIN, "CAP_SYS_ADMIN"),
    (CAP_DAC_READ_SEARCH, "CAP_DAC_READ_SEARCH"),
    (CAP_SYS_PTRACE, "CAP_SYS_PTRACE"),
];

const BPF_FS_MAGIC: i64 = 0xcafe_4a11;

/// The effective capability set of this process.
pub fn effective_caps() -> Result<u64> {
    let status = fs::read_to_string("/proc/self/status").context("reading /proc/self/status")?;
    parse_cap_eff(&status).context("no CapEff line in /proc/self/status")
}

fn parse_cap_eff(status: &str) -> Option<u64> {
    let hex = status.lines().find_map(|l| l.strip_prefix("CapEff:"))?;
    u64::from_str_radix(hex.trim(), 16).ok()
}

/// Names of the needed capabilities this process lacks.
pub fn missing_caps() -> Result<Vec<&'static str>> {
    let caps = effective_caps()?;
    Ok(NEEDED_CAPS.iter().filter(|(bit, _)| caps & (1u64 << bit) == 0).map(|(_, n)| *n).collect())
}

/// What the commands that only read and name need: all of `NEEDED_CAPS` but
/// CAP_SYS_PTRACE, which only finding veth owners (`load`'s callers `attach`, `demo`) uses.
pub const READER_CAPS: [(u32, &str); 4] = [NEEDED_CAPS[0], NEEDED_CAPS[1], NEEDED_CAPS[2], NEEDED_CAPS[3]];

/// Fails with one line naming what is missing and the fix (every needed capability).
pub fn require_privileges(what: &str) -> Result<()> {
    require(what, &NEEDED_CAPS)
}

/// Like `require_privileges`, for the commands that read and name (`READER_CAPS`).
pub fn require_reader_privileges(what: &str) -> Result<()> {
    require(what, &READER_CAPS)
}

fn require(what: &str, needed: &[(u32, &'static str)]) -> Result<()> {
    let caps = effective_caps()?;
    let missing: Vec<&str> =
        needed.iter().filter(|(bit, _)| caps & (1u64 << bit) == 0).map(|(_, n)| *n).collect();
    if !missing.is_empty() {
        bail!(
            "{what} needs root privileges ({} missing): run it as root, e.g. 'sudo netattr {what}'",
            missing.join(", ")
        );
    }
    Ok(())
}

// f_type is i64 on x86_64 but narrower on other targets: the cast is for those.
#[allow(clippy::unnecessary_cast)]
pub fn is_bpffs(path: &Path) -> bool {
    nix::sys::statfs::statfs(path).map(|s| s.filesystem_type().0 as i64 == BPF_FS_MAGIC).unwrap_or(false)
}

/// The nearest existing ancestor of `path` (itself if it exists).
pub fn existing_ancestor(path: &Path) -> PathBuf {
    let mut p = path.to_path_buf();
    while !p.exists() {
        if !p.pop() {
            return PathBuf::from("/");
        }
    }
    p
}

/// The conventional bpffs mount point.
pub const BPFFS: &str = "/sys/fs/bpf";

/// Mounts bpffs at /sys/fs/bpf when nothing is mounted there yet.
pub fn mount_bpffs() -> Result<()> {
    use nix::mount::{mount, MsFlags};
    mount(Some("bpf"), BPFFS, Some("bpf"), MsFlags::empty(), Some("mode=0700"))
        .with_context(|| format!("mounting bpffs at {BPFFS} (try 'mount -t bpf bpf {BPFFS}')"))
}

/// Kernel release as (major, minor), and the full string.
pub fn kernel_release() -> Result<((u32, u32), String)> {
    let u = nix::sys::utsname::uname().context("uname")?;
    let rel = u.release().to_string_lossy().into_owned();
    let mut parts = rel.split(|c: char| !c.is_ascii_digit());
    let major = parts.next().and_then(|s| s.parse().ok()).unwrap_or(0);
    let minor = parts.next().and_then(|s| s.parse().ok()).unwrap_or(0);
    Ok(((major, minor), rel))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cap_eff() {
        let s = "Name:\tx\nCapInh:\t0000000000000000\nCapEff:\t000001ffffffffff\n";
        assert_eq!(parse_cap_eff(s), Some(0x1ff_ffff_ffff));
        assert_eq!(parse_cap_eff("Name: x\n"), None);
        assert_eq!(parse_cap_eff("CapEff:\tzz\n"), None);
    }
}
