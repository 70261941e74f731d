//! clsact hooks: netattr's filters on an interface, added and removed without touching
//! anybody else's.
//!
//! netattr's filter on a hook is the one at [`PRIORITY`]/[`HANDLE`] whose program is one of
//! this instance's pinned programs. Attaching refuses to replace a filter at that place that
//! runs another program; detaching removes only netattr's own; the clsact qdisc is removed
//! only when netattr created it and no filter at all is left on it.
use std::io;
use std::mem::size_of;
use std::os::fd::{AsRawFd, BorrowedFd};

use anyhow::Result;
use libbpf_rs::libbpf_sys as sys;

use crate::netlink;

/// tc preference of netattr's filters: low, so that netattr counts a packet before
/// filters that may drop or redirect it (its programs return TC_ACT_UNSPEC, so the packet
/// goes on to the next filter).
pub const PRIORITY: u32 = 7;
/// tc handle of netattr's filters ("na").
pub const HANDLE: u32 = 0x6e61;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Hook {
    Ingress,
    Egress,
}

impl Hook {
    pub const BOTH: [Hook; 2] = [Hook::Ingress, Hook::Egress];

    fn attach_point(self) -> sys::bpf_tc_attach_point {
        match self {
            Hook::Ingress => sys::BPF_TC_INGRESS,
            Hook::Egress => sys::BPF_TC_EGRESS,
        }
    }

    /// The tc parent of this hook on a clsact qdisc.
    pub fn parent(self) -> u32 {
        const TC_H_CLSACT: u32 = 0xFFFF_FFF1;
        match self {
            Hook::Ingress => (TC_H_CLSACT & 0xFFFF_0000) | 0xFFF2,
            Hook::Egress => (TC_H_CLSACT & 0xFFFF_0000) | 0xFFF3,
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Hook::Ingress => "ingress",
            Hook::Egress => "egress",
        }
    }
}

fn hook(ifindex: u32, point: sys::bpf_tc_attach_point) -> sys::bpf_tc_hook {
    sys::bpf_tc_hook {
        sz: size_of::<sys::bpf_tc_hook>() as _,
        ifindex: ifindex as i32,
        attach_point: point,
        ..Default::default()
    }
}

fn opts(prog_fd: i32) -> sys::bpf_tc_opts {
    sys::bpf_tc_opts {
        sz: size_of::<sys::bpf_tc_opts>() as _,
        prog_fd,
        handle: HANDLE,
        priority: PRIORITY,
        ..Default::default()
    }
}

/// Adds a clsact qdisc if the interface has none. Returns whether netattr created it.
pub fn ensure_clsact(ifindex: u32) -> io::Result<bool> {
    let mut h = hook(ifindex, sys::BPF_TC_INGRESS | sys::BPF_TC_EGRESS);
    match crate::ffi::tc::hook_create(&mut h) {
        Ok(()) => Ok(true),
        Err(e) if e.raw_os_error() == Some(libc::EEXIST) => Ok(false),
        Err(e) => Err(e),
    }
}

/// The program id of the filter at netattr's place on a hook, if there is one.
pub fn query(ifindex: u32, hook_: Hook) -> io::Result<Option<u32>> {
    let h = hook(ifindex, hook_.attach_point());
    let mut o = opts(0);
    match crate::ffi::tc::query(&h, &mut o) {
        Ok(()) => Ok(Some(o.prog_id)),
        // ENOENT: no such filter; EINVAL: no clsact qdisc on the interface.
        Err(e) if matches!(e.raw_os_error(), Some(libc::ENOENT | libc::EINVAL)) => Ok(None),
        Err(e) => Err(e),
    }
}

/// netattr's place on a hook holds a program of another netattr instance (or tool).
#[derive(Debug)]
pub struct Foreign {
    pub hook: Hook,
    pub prog_id: u32,
}

impl std::fmt::Display for Foreign {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "tc {} preference {PRIORITY} handle {HANDLE:#x} already holds BPF program {}, which is not this \
             netattr instance's (another --pin-dir?): detach it there first",
            self.hook.name(),
            self.prog_id
        )
    }
}

impl std::error::Error for Foreign {}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Attached {
    New,
    Already,
}

/// Attaches `prog` at netattr's place on a hook (the qdisc must exist). Idempotent: a
/// filter already running `prog` there is left as it is.
pub fn attach(ifindex: u32, hook_: Hook, prog: BorrowedFd<'_>, prog_id: u32) -> Result<Attached> {
    let h = hook(ifindex, hook_.attach_point());
    let mut o = opts(prog.as_raw_fd());
    match crate::ffi::tc::attach(&h, &mut o) {
        Ok(()) => Ok(Attached::New),
        Err(e) if e.raw_os_error() == Some(libc::EEXIST) => match query(ifindex, hook_)? {
            Some(id) if id == prog_id => Ok(Attached::Already),
            Some(id) => Err(Foreign { hook: hook_, prog_id: id }.into()),
            None => Err(e.into()),
        },
        Err(e) => Err(e.into()),
    }
}

/// Removes netattr's filter from a hook if it runs one of `ours`. Returns whether it did.
pub fn detach(ifindex: u32, hook_: Hook, ours: &[u32]) -> io::Result<bool> {
    match query(ifindex, hook_)? {
        Some(id) if ours.contains(&id) => {
            let h = hook(ifindex, hook_.attach_point());
            let o = opts(0);
            match crate::ffi::tc::detach(&h, &o) {
                Ok(()) => Ok(true),
                Err(e) if e.raw_os_error() == Some(libc::ENOENT) => Ok(false),
                Err(e) => Err(e),
            }
        }
        _ => Ok(false),
    }
}

/// Deletes the clsact qdisc if no filter at all is left on either hook. Returns whether it did.
pub fn remove_clsact_if_empty(ifindex: u32) -> Result<bool> {
    for hook_ in Hook::BOTH {
        if !netlink::filters(ifindex, hook_.parent())?.is_empty() {
            return Ok(false);
        }
    }
    let mut h = hook(ifindex, sys::BPF_TC_INGRESS | sys::BPF_TC_EGRESS);
    match crate::ffi::tc::hook_destroy(&mut h) {
        Ok(()) => Ok(true),
        Err(e) if matches!(e.raw_os_error(), Some(libc::ENOENT | libc::EINVAL | libc::ENODEV)) => Ok(false),
        Err(e) => Err(e.into()),
    }
}
