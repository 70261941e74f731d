//! Following an instance's first-seen records (the `events` ring buffer), each named as it
//! comes: `events` streams them, `serve` learns names from them. One follower for both.
use std::time::Duration;

use anyhow::{Context, Result};
use libbpf_rs::RingBufferBuilder;

use super::namer::{Named, Namer};
use super::Place;
use crate::bpf::layout::FirstSeen;
use crate::bpf::Instance;

/// Why a follow ended.
#[derive(Debug, PartialEq, Eq)]
pub enum End {
    /// `stopped()` said so, or the handler asked to stop.
    Done,
    /// The instance was replaced (a cleanup, maybe a new load).
    Replaced,
}

/// What a handler says after a record.
pub enum Next {
    Continue,
    /// Stop within this poll: libbpf has consumed this record and leaves the rest in the
    /// ring for the next reader.
    Stop,
    /// Stop, and end the follow with this error.
    Fail(anyhow::Error),
}

/// Follows `inst`'s first-seen records, each with its cgroup named (the container and pod
/// tables fetched again on a miss: a container may have started after the last lookup),
/// until `stopped()`, the handler stops, or the instance is replaced.
pub fn follow(
    place: &Place,
    inst: &Instance,
    stopped: &dyn Fn() -> bool,
    mut handle: impl FnMut(&FirstSeen, Named) -> Next,
) -> Result<End> {
    let mut namer = Namer::new(place, Some(inst))?;
    let outcome = std::rc::Rc::new(std::cell::RefCell::new(None::<Next>));
    let mut b = RingBufferBuilder::new();
    {
        let outcome = outcome.clone();
        b.add(inst.events(), move |d: &[u8]| {
            let Some(ev) = FirstSeen::from_bytes(d) else { return 0 };
            namer.refresh_on_miss();
            let named = namer.name(ev.cgroup_id);
            match handle(&ev, named) {
                Next::Continue => 0,
                stop => {
                    *outcome.borrow_mut() = Some(stop);
                    -1
                }
            }
        })?;
    }
    let rb = b.build()?;
    loop {
        let r = rb.poll(Duration::from_millis(250));
        match outcome.borrow_mut().take() {
            Some(Next::Fail(e)) => return Err(e),
            Some(_) => return Ok(End::Done),
            None => {}
        }
        if stopped() {
            return Ok(End::Done);
        }
        if inst.replaced() {
            return Ok(End::Replaced);
        }
        // EINTR from a caught signal is checked above on the next turn.
        if let Err(e) = r {
            if !stopped() {
                return Err(e).context("reading the events ring buffer");
            }
        }
    }
}
