//! Host facts netattr depends on: privileges, bpffs, kernel release.
use std::fs;
use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};

pub const CAP_DAC_READ_SEARCH: u32 = 2;
pub const CAP_NET_ADMIN: u32 = 12;
pub const CAP_SYS_ADMIN: u32 = 21;
pub const CAP_SYS_PTRACE: u32 = 19;
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
    Ok(lacking(effective_caps()?, &NEEDED_CAPS))
}

/// Those of `needed` that `caps` lacks. CAP_SYS_ADMIN stands in for CAP_BPF as the kernel
/// lets it (bpf_capable()): runtimes that cannot grant CAP_BPF (Docker 20.10) still run us.
fn lacking(caps: u64, needed: &[(u32, &'static str)]) -> Vec<&'static str> {
    let has = |bit: u32| caps & (1u64 << bit) != 0;
    needed
        .iter()
        .filter(|(bit, _)| !(has(*bit) || (*bit == CAP_BPF && has(CAP_SYS_ADMIN))))
        .map(|(_, n)| *n)
        .collect()
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
    let missing = lacking(effective_caps()?, needed);
    if !missing.is_empty() {
        bail!("{what} needs {}", grant(&missing, &format!("sudo netattr {what}")));
    }
    Ok(())
}

/// What is missing and how to get it, in one phrase: root for a user, or (for root whose
/// capability set was cut, as in a container or a unit) the names to add where it runs.
pub fn grant(missing: &[&str], as_root: &str) -> String {
    if !nix::unistd::geteuid().is_root() {
        return format!("root privileges ({} missing): run it as root, e.g. '{as_root}'", missing.join(", "));
    }
    let bare: Vec<&str> = missing.iter().map(|c| c.trim_start_matches("CAP_")).collect();
    format!(
        "{} (running as root, but without {}): grant {} (Kubernetes: securityContext.capabilities.add: [{}]; \
         Docker: --cap-add {}; systemd: add {} to CapabilityBoundingSet=)",
        missing.join(", "),
        if missing.len() == 1 { "it" } else { "them" },
        if missing.len() == 1 { "it" } else { "them" },
        bare.iter().map(|c| format!("\"{c}\"")).collect::<Vec<_>>().join(", "),
        bare.join(" --cap-add "),
        missing.join(" "),
    )
}

// f_type is i64 on x86_64 but narrower on other targets: the cast is for those.
#[allow(clippy::unnecessary_cast)]
pub fn is_bpffs(path: &Path) -> bool {
    nix::sys::statfs::statfs(path).map(|s| s.filesystem_type().0 as i64 == BPF_FS_MAGIC).unwrap_or(false)
}

/// Whether the filesystem holding `path` is mounted read-only.
pub fn is_read_only(path: &Path) -> bool {
    nix::sys::statvfs::statvfs(path).is_ok_and(|s| s.flags().contains(nix::sys::statvfs::FsFlags::ST_RDONLY))
}

/// The fix for a bpffs mounted read-only where netattr must pin.
pub fn read_only_bpffs(at: &Path) -> String {
    format!(
        "bpffs at {} is mounted read-only and netattr pins its programs and maps there: mount it \
         read-write (Kubernetes: no readOnly on the bpffs volumeMount; Docker: -v {}:{} without :ro)",
        at.display(),
        BPFFS,
        BPFFS
    )
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

    #[test]
    fn sys_admin_stands_in_for_bpf_only() {
        let all = NEEDED_CAPS.iter().fold(0u64, |a, (b, _)| a | 1 << b);
        assert!(lacking(all, &NEEDED_CAPS).is_empty());
        assert!(lacking(all & !(1 << CAP_BPF), &NEEDED_CAPS).is_empty());
        assert_eq!(lacking(all & !(1 << CAP_SYS_ADMIN), &NEEDED_CAPS), ["CAP_SYS_ADMIN"]);
        assert_eq!(
            lacking(all & !(1 << CAP_SYS_ADMIN | 1 << CAP_BPF), &NEEDED_CAPS),
            ["CAP_BPF", "CAP_SYS_ADMIN"]
        );
        assert_eq!(lacking(all & !(1 << CAP_NET_ADMIN), &NEEDED_CAPS), ["CAP_NET_ADMIN"]);
    }
}
