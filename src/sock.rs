//! The socket source: the cgroup_skb programs attached to a cgroup through bpf_links pinned
//! in the pin directory. Link attachments always coexist with other programs on the cgroup
//! (they behave as BPF_F_ALLOW_MULTI); removing the pin detaches.
use std::fs;
use std::os::fd::AsFd;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;

use anyhow::{bail, Context, Result};
use libbpf_rs::libbpf_sys as sys;

use crate::bpf::pins::LINKS;
use crate::bpf::{Instance, Pins};
use crate::ffi;
use crate::tc::{Attached, Hook};

fn link_name(h: Hook) -> &'static str {
    match h {
        Hook::Ingress => LINKS[0],
        Hook::Egress => LINKS[1],
    }
}

/// The cgroup id a pinned socket link is attached to.
pub fn attached_to(pins: &Pins, h: Hook) -> Option<u64> {
    let path = std::ffi::CString::new(pins.path(link_name(h)).into_os_string().into_encoded_bytes()).ok()?;
    let fd = ffi::bpf_obj_get(&path).ok()?;
    ffi::link_cgroup_id(fd.as_fd()).ok().flatten()
}

/// Attaches both socket programs to the cgroup at `dir` (a directory of the cgroup2 mount).
pub fn attach(inst: &Instance, dir: &Path) -> Result<Vec<(Hook, Attached)>> {
    let want = crate::cgroup::id_of(dir).with_context(|| format!("no cgroup at {}", dir.display()))?;
    let mut out = Vec::new();
    for h in Hook::BOTH {
        let pin = inst.pins.path(link_name(h));
        if pin.exists() {
            match attached_to(&inst.pins, h) {
                Some(id) if id == want => {
                    out.push((h, Attached::Already));
                    continue;
                }
                _ => bail!(
                    "the socket programs are already attached to another cgroup (see 'netattr status'): \
                     run 'netattr detach --cgroup' first"
                ),
            }
        }
        let cg = fs::File::open(dir).with_context(|| format!("opening cgroup {}", dir.display()))?;
        let (prog, kind) = match h {
            Hook::Ingress => (&inst.sock_ingress, sys::BPF_CGROUP_INET_INGRESS),
            Hook::Egress => (&inst.sock_egress, sys::BPF_CGROUP_INET_EGRESS),
        };
        let link = match ffi::bpf_link_create(prog.as_fd(), cg.as_fd(), kind) {
            Ok(l) => l,
            Err(e) => bail!(
                "cannot attach the socket {} program to cgroup {}: {e} (an exclusive, non-multi \
                 program there refuses others)",
                h.name(),
                dir.display()
            ),
        };
        let c = std::ffi::CString::new(pin.clone().into_os_string().into_encoded_bytes())?;
        if let Err(e) = ffi::bpf_obj_pin(link.as_fd(), &c) {
            bail!("pinning {}: {e}", pin.display());
        }
        let _ = fs::set_permissions(&pin, fs::Permissions::from_mode(0o600));
        out.push((h, Attached::New));
    }
    Ok(out)
}

/// Detaches the socket programs by removing their link pins. Returns, per hook, whether a
/// link was removed.
pub fn detach(pins: &Pins) -> Result<Vec<(Hook, bool)>> {
    let mut out = Vec::new();
    for h in Hook::BOTH {
        let pin = pins.path(link_name(h));
        let removed = match fs::remove_file(&pin) {
            Ok(()) => true,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => false,
            Err(e) => return Err(e).with_context(|| format!("removing {}", pin.display())),
        };
        out.push((h, removed));
    }
    Ok(out)
}
