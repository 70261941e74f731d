//! Can this host run netattr: the kernel, BTF, the JIT, bpffs, cgroup2, the privileges, and
//! whether an instance is loaded; one check each, with what to do when one fails.
use std::fs;
use std::path::Path;

use serde::Serialize;

use crate::bpf::{PinState, Pins};
use crate::{cgroup, sys};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    Ok,
    Warn,
    Fail,
}

#[derive(Debug, Serialize)]
pub struct Check {
    pub name: &'static str,
    pub status: Status,
    pub detail: String,
}

/// Every check, in order, for the instance at `pin_dir`.
pub fn all(pin_dir: &Path) -> Vec<Check> {
    vec![kernel(), btf(), jit(), bpffs(pin_dir), cgroup2(), privileges(), loaded(pin_dir)]
}

fn check(name: &'static str, status: Status, detail: impl Into<String>) -> Check {
    Check { name, status, detail: detail.into() }
}

fn kernel() -> Check {
    match sys::kernel_release() {
        // Ring buffers (5.8) and gso_segs in __sk_buff (5.x) are the newest features used.
        Ok((v, rel)) if v >= (5, 8) => check("kernel", Status::Ok, format!("Linux {rel}")),
        Ok((_, rel)) => check("kernel", Status::Fail, format!("Linux {rel}: netattr needs 5.8 or newer")),
        Err(e) => check("kernel", Status::Fail, format!("{e:#}")),
    }
}

fn btf() -> Check {
    if Path::new("/sys/kernel/btf/vmlinux").exists() {
        check("btf", Status::Ok, "/sys/kernel/btf/vmlinux")
    } else {
        check(
            "btf",
            Status::Warn,
            "no /sys/kernel/btf/vmlinux (CONFIG_DEBUG_INFO_BTF): bpftool cannot show kernel types",
        )
    }
}

fn jit() -> Check {
    match fs::read_to_string("/proc/sys/net/core/bpf_jit_enable").map(|s| s.trim().to_string()) {
        Ok(v) if v == "1" || v == "2" => check("bpf_jit", Status::Ok, "enabled"),
        Ok(v) => check(
            "bpf_jit",
            Status::Warn,
            format!("bpf_jit_enable={v}: programs run interpreted and cost more per packet (sysctl net.core.bpf_jit_enable=1)"),
        ),
        Err(_) => check("bpf_jit", Status::Ok, "always on (no bpf_jit_enable knob)"),
    }
}

fn bpffs(pin_dir: &Path) -> Check {
    let at = sys::existing_ancestor(pin_dir);
    if sys::is_bpffs(&at) && sys::is_read_only(&at) {
        check("bpffs", Status::Fail, sys::read_only_bpffs(&at))
    } else if sys::is_bpffs(&at) {
        check("bpffs", Status::Ok, format!("{} is on bpffs", at.display()))
    } else if pin_dir.starts_with(sys::BPFFS) {
        check("bpffs", Status::Warn, format!("not mounted at {}: 'netattr load' mounts it", sys::BPFFS))
    } else {
        check(
            "bpffs",
            Status::Fail,
            format!(
                "pin directory {} is not on bpffs: pick a --pin-dir under {}",
                pin_dir.display(),
                sys::BPFFS
            ),
        )
    }
}

fn cgroup2() -> Check {
    match cgroup::mount_point() {
        Ok(p) => check("cgroup2", Status::Ok, format!("mounted at {}", p.display())),
        Err(e) => check("cgroup2", Status::Fail, format!("{e:#}")),
    }
}

fn privileges() -> Check {
    match sys::missing_caps() {
        Ok(m) if m.is_empty() => {
            let names: Vec<&str> = sys::NEEDED_CAPS.iter().map(|(_, n)| *n).collect();
            check("privileges", Status::Ok, names.join(", "))
        }
        Ok(m) => check("privileges", Status::Fail, format!("missing {}", sys::grant(&m, "sudo netattr"))),
        Err(e) => check("privileges", Status::Fail, format!("{e:#}")),
    }
}

fn loaded(pin_dir: &Path) -> Check {
    match Pins::new(pin_dir).state() {
        PinState::Loaded => {
            check("loaded", Status::Ok, format!("netattr is loaded at {}", pin_dir.display()))
        }
        PinState::Absent => check(
            "loaded",
            Status::Ok,
            format!("not loaded yet ('netattr load' pins at {})", pin_dir.display()),
        ),
        PinState::Partial(p) => check(
            "loaded",
            Status::Warn,
            format!("unfinished load at {} ({}): run 'netattr cleanup'", pin_dir.display(), p.join(", ")),
        ),
    }
}
