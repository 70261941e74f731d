//! `netattr events`: a stream of the cgroups netattr counts for the first time, each with
//! its identity, one JSON object per line (for pipelines) or a line of text per event.
//!
//! The records come from the pinned `events` ring buffer, which keeps what no reader has
//! taken yet (up to 256 KiB, about 10,000 events): a reader first gets that backlog. A ring
//! buffer has one reader: two `events` processes share the records between them.
use std::cell::RefCell;
use std::process::ExitCode;
use std::rc::Rc;
use std::time::Duration;

use anyhow::{Context, Result};
use libbpf_rs::{MapHandle, RingBufferBuilder};
use serde::Serialize;

use crate::bpf::Pins;
use crate::cgroup::{self, Resolver};
use crate::cli::{EventsArgs, Global};
use crate::cmd::resolve::{names_for, resolve, ResolveRow};
use crate::output::{self, Stream};
use crate::sys;

#[derive(Debug, Serialize)]
pub struct Event {
    pub schema: u32,
    /// Boot-time clock of the first packet, in nanoseconds (CLOCK_BOOTTIME).
    pub ts_ns: u64,
    /// "tc_ingress", "tc_egress", "socket_ingress" or "socket_egress".
    pub hook: &'static str,
    /// The interface of the first packet (0 where the hook has none).
    pub ifindex: u32,
    #[serde(flatten)]
    pub cgroup: ResolveRow,
}

fn hook_name(h: u32) -> &'static str {
    match h {
        1 => "tc_ingress",
        2 => "tc_egress",
        3 => "socket_ingress",
        4 => "socket_egress",
        _ => "unknown",
    }
}

/// A first_seen record: (cgroup id, ts_ns, ifindex, hook).
pub fn decode(d: &[u8]) -> Option<(u64, u64, u32, u32)> {
    let u64_at = |o: usize| Some(u64::from_ne_bytes(d.get(o..o + 8)?.try_into().ok()?));
    let u32_at = |o: usize| Some(u32::from_ne_bytes(d.get(o..o + 4)?.try_into().ok()?));
    Some((u64_at(0)?, u64_at(8)?, u32_at(16)?, u32_at(20)?))
}

pub fn execute(g: &Global, a: &EventsArgs) -> Result<ExitCode> {
    sys::require_privileges("events")?;
    let inst = Pins::new(&g.pin_dir).open()?;
    let mut resolver = Resolver::new(cgroup::mount_point()?)?;
    let mut names = names_for(g, Some(&inst));
    let events =
        MapHandle::from_pinned_path(inst.pins.path("events")).context("opening the pinned events map")?;
    let stream = Rc::new(RefCell::new(Stream::new(
        g.format,
        &["TS_NS", "HOOK", "CGROUP_ID", "STATE", "KIND", "NAME", "PATH"],
    )?));
    let seen = Rc::new(RefCell::new(0usize));
    let failure: Rc<RefCell<Option<anyhow::Error>>> = Rc::default();
    let count = a.count;
    let mut b = RingBufferBuilder::new();
    {
        let (stream, seen, failure) = (stream.clone(), seen.clone(), failure.clone());
        b.add(&events, move |d: &[u8]| {
            let Some((id, ts_ns, ifindex, hook)) = decode(d) else { return 0 };
            let cgroup = resolve(id, &mut resolver, Some(&inst), &mut names);
            let cells = [
                ts_ns.to_string(),
                hook_name(hook).to_string(),
                id.to_string(),
                output::label(&cgroup.state),
                output::label(&cgroup.who.kind),
                cgroup.who.name.clone().unwrap_or_else(|| "-".into()),
                cgroup.path.clone().unwrap_or_else(|| "-".into()),
            ];
            let ev = Event { schema: output::SCHEMA, ts_ns, hook: hook_name(hook), ifindex, cgroup };
            if let Err(e) = stream.borrow_mut().record(&ev, &cells) {
                *failure.borrow_mut() = Some(e);
                return -1; // stops the poll: stdout is gone
            }
            *seen.borrow_mut() += 1;
            // At --count, stop within this poll: libbpf has consumed this record and leaves
            // the rest in the ring for the next reader.
            if count.is_some_and(|n| *seen.borrow() >= n) {
                return -1;
            }
            0
        })?;
    }
    let rb = b.build()?;
    loop {
        let r = rb.poll(Duration::from_millis(250));
        if let Some(e) = failure.borrow_mut().take() {
            return Err(e);
        }
        if count.is_some_and(|n| *seen.borrow() >= n) {
            return Ok(ExitCode::SUCCESS);
        }
        r.context("reading the events ring buffer")?;
    }
}
