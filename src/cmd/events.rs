//! `netattr events`: a stream of the cgroups netattr counts for the first time, each with
//! its identity, one JSON object per line (for pipelines) or a line of text per event.
//!
//! A record is written when a cgroup is inserted into a source's counter map: once per
//! cgroup per source (a cgroup counted by both sources is announced by each, and `source`
//! says which), and again if `reap` collected it and it is counted anew. The records come
//! from the pinned `events` ring buffer, which keeps what no reader has taken yet (up to
//! 256 KiB, about 10,000 events): a reader first gets that backlog. A ring buffer has one
//! reader: two `events` processes share the records between them. After `cleanup` and a new
//! `load`, the stream goes on from the new instance (said on stderr).
use std::cell::RefCell;
use std::process::ExitCode;
use std::rc::Rc;
use std::time::Duration;

use anyhow::Result;
use serde::Serialize;

use crate::bpf::layout::HookCode;
use crate::bpf::{Pins, Source};
use crate::cli::{EventsArgs, Global};
use crate::core::events::{self, End, Next};
use crate::core::namer::Named;
use crate::output::{self, stream::Stream};
use crate::sys;

#[derive(Debug, Serialize)]
pub struct Event {
    pub schema: u32,
    /// Boot-time clock of the first packet, in nanoseconds (CLOCK_BOOTTIME).
    pub ts_ns: u64,
    /// "tc_ingress", "tc_egress", "socket_ingress" or "socket_egress".
    pub hook: HookCode,
    /// The source whose counters the cgroup entered: "tc" or "socket".
    pub source: Source,
    /// The interface of the first packet (0 where the hook has none).
    pub ifindex: u32,
    #[serde(flatten)]
    pub cgroup: Named,
}

pub fn execute(g: &Global, a: &EventsArgs) -> Result<ExitCode> {
    sys::require_reader_privileges("events")?;
    output::require_stdout()?;
    let pins = Pins::new(&g.pin_dir);
    let stream = Rc::new(RefCell::new(Stream::new(
        g.format,
        &["TS_NS", "HOOK", "CGROUP_ID", "STATE", "KIND", "NAME", "PATH"],
    )?));
    let seen = Rc::new(RefCell::new(0usize));
    crate::signals::catch();
    let mut first = true;
    loop {
        let inst = match pins.open() {
            Ok(i) => i,
            Err(e) if first => return Err(e),
            Err(_) => {
                // Between a cleanup and the next load.
                if !crate::core::live::sleep_until(std::time::Instant::now() + Duration::from_millis(250)) {
                    return Ok(ExitCode::SUCCESS);
                }
                continue;
            }
        };
        if !first {
            eprintln!("netattr: a new instance was loaded at {}: following its events", pins.dir.display());
        }
        first = false;
        match follow(g, a, &inst, &stream, &seen)? {
            End::Done => return Ok(ExitCode::SUCCESS),
            End::Replaced => eprintln!("netattr: the instance at {} was removed", pins.dir.display()),
        }
    }
}

/// Streams the events of one instance until the count, a signal, or the instance is replaced.
fn follow(
    g: &Global,
    a: &EventsArgs,
    inst: &crate::bpf::Instance,
    stream: &Rc<RefCell<Stream>>,
    seen: &Rc<RefCell<usize>>,
) -> Result<End> {
    let count = a.count;
    events::follow(&g.place(), inst, &crate::signals::stopped, |ev, cgroup| {
        let cells = [
            ev.ts_ns.to_string(),
            output::label(&ev.hook),
            ev.cgroup_id.to_string(),
            output::label(&cgroup.state),
            output::label(&cgroup.who.kind),
            cgroup.who.name.clone().unwrap_or_else(|| "-".into()),
            cgroup.path.clone().unwrap_or_else(|| "-".into()),
        ];
        let record = Event {
            schema: output::SCHEMA,
            ts_ns: ev.ts_ns,
            hook: ev.hook,
            source: ev.hook.source(),
            ifindex: ev.ifindex,
            cgroup,
        };
        if let Err(e) = stream.borrow_mut().record(&record, &cells) {
            return Next::Fail(e); // stdout is gone
        }
        *seen.borrow_mut() += 1;
        if count.is_some_and(|n| *seen.borrow() >= n) {
            Next::Stop
        } else {
            Next::Continue
        }
    })
}
