//! `netattr status`: what is pinned, where it is attached, how full the maps are.
use std::collections::BTreeSet;
use std::io::{self, Write};
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{bail, Result};
use serde::Serialize;

use crate::bpf::attachments;
use crate::bpf::layout::{ATTACH_QDISC_CREATED, META_FAST_PATH, RESERVED_KEYS};
use crate::bpf::{Health, Instance, PinState, Pins, Source};
use crate::cli::Global;
use crate::core::inventory::{carriers, maps, MapRow, ProgRow};
use crate::core::namer::{Namer, State};
use crate::core::reader::{self, Buckets};
use crate::output::{self, Report};
use crate::owner::Owner;
use crate::tc::Hook;
use crate::{sock, sys};

/// What the pin directory holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum InstanceState {
    Loaded,
    /// A load that did not finish: run cleanup.
    Partial,
}

#[derive(Debug, Serialize)]
pub struct IfaceRow {
    pub iface: String,
    pub ifindex: u32,
    pub ingress: bool,
    pub egress: bool,
    /// netattr added the clsact qdisc, and removes it on detach when nothing else uses it.
    pub qdisc_created: bool,
    /// The cgroup behind a host-side veth, recorded at attach.
    pub owner: Option<Owner>,
}

#[derive(Debug, Serialize)]
pub struct SocketRow {
    pub attached: bool,
    /// The cgroup the socket programs are attached to, and its path.
    pub cgroup_id: Option<u64>,
    pub path: Option<String>,
}

#[derive(Debug, Serialize)]
pub struct HealthRow {
    pub insert_failures: u64,
    pub ringbuf_drops: u64,
    /// The unresolved and overflow buckets of each source.
    pub tc: Buckets,
    pub socket: Buckets,
}

#[derive(Debug, Serialize)]
pub struct StatusReport {
    pub schema: u32,
    pub pin_dir: PathBuf,
    /// "loaded" or "partial" (an unfinished load: run cleanup)
    pub state: InstanceState,
    pub loaded_at: Option<String>,
    pub layout_version: Option<u32>,
    /// Whether per-cgroup counters take the slot fast path (off before Linux 5.12, or
    /// with `load --no-fast-path`); null for a partial load.
    pub fast_path: Option<bool>,
    pub programs: Vec<ProgRow>,
    pub maps: Vec<MapRow>,
    pub interfaces: Vec<IfaceRow>,
    pub socket: Option<SocketRow>,
    pub health: Option<HealthRow>,
    /// Cgroups that no longer exist but still hold counters (collect them with `reap`).
    pub gone_cgroups: Option<u64>,
    /// Pins present in a partial state.
    pub pins: Vec<String>,
    /// The last cycle of the recorder writing the ledger (`--ledger`), null without one.
    pub recorder: Option<crate::ledger::query::RecorderState>,
}

impl Report for StatusReport {
    fn render_table(&self, out: &mut dyn Write) -> io::Result<()> {
        writeln!(out, "netattr at {}: {}", self.pin_dir.display(), output::label(&self.state))?;
        if let (Some(at), Some(v)) = (&self.loaded_at, self.layout_version) {
            let fast = if self.fast_path == Some(true) { "on" } else { "off" };
            writeln!(out, "loaded {at}, map layout {v}, per-cgroup fast path {fast}")?;
        }
        if self.state == InstanceState::Partial {
            writeln!(out, "unfinished load, pins present: {}", self.pins.join(", "))?;
            return Ok(());
        }
        writeln!(out)?;
        let mut t = output::table(["PROGRAM", "ID", "TAG"]);
        for p in &self.programs {
            output::add_row(&mut t, [p.name.clone(), p.id.to_string(), p.tag.clone()]);
        }
        output::write_table(out, &t)?;
        writeln!(out)?;
        let mut t = output::table(["MAP", "TYPE", "ID", "ENTRIES", "CAPACITY", "FILL"]);
        for m in &self.maps {
            let entries = m.entries.map_or_else(|| "-".into(), |e| e.to_string());
            let fill = m.fill().map_or_else(|| "-".into(), |(_, r)| format!("{:.1}%", 100.0 * r));
            output::add_row(
                &mut t,
                [m.name.clone(), m.kind.clone(), m.id.to_string(), entries, m.max_entries.to_string(), fill],
            );
        }
        output::align_right(&mut t, &[2, 3, 4, 5]);
        output::write_table(out, &t)?;
        writeln!(out)?;
        if self.interfaces.is_empty() {
            writeln!(out, "attached to no interface")?;
        } else {
            let mut t = output::table(["IFACE", "IFINDEX", "INGRESS", "EGRESS", "QDISC", "OWNER"]);
            for i in &self.interfaces {
                let yn = |b: bool| if b { "yes" } else { "no" };
                let q = if i.qdisc_created { "added by netattr" } else { "pre-existing" };
                let owner = i.owner.as_ref().map(|o| o.path.clone()).unwrap_or_else(|| "-".into());
                output::add_row(
                    &mut t,
                    [
                        i.iface.clone(),
                        i.ifindex.to_string(),
                        yn(i.ingress).into(),
                        yn(i.egress).into(),
                        q.into(),
                        owner,
                    ],
                );
            }
            output::write_table(out, &t)?;
        }
        match &self.socket {
            Some(SocketRow { attached: true, path, cgroup_id }) => writeln!(
                out,
                "socket programs attached to cgroup {} (id {})",
                output::clean(path.as_deref().unwrap_or("(gone)")),
                cgroup_id.unwrap_or(0)
            )?,
            _ => writeln!(out, "socket programs attached to no cgroup")?,
        }
        if let Some(h) = &self.health {
            writeln!(out)?;
            writeln!(
                out,
                "health: insert failures {}, ring buffer drops {}",
                h.insert_failures, h.ringbuf_drops
            )?;
            for (name, b) in [("tc", &h.tc), ("socket", &h.socket)] {
                writeln!(
                    out,
                    "  {name:<6} unresolved {} in {} packets, overflow {} in {} packets",
                    output::bytes(b.unresolved_bytes),
                    b.unresolved_packets,
                    output::bytes(b.overflow_bytes),
                    b.overflow_packets
                )?;
            }
        }
        if let Some(n) = self.gone_cgroups {
            writeln!(out, "{n} gone cgroup(s) hold counters (collect them with 'netattr reap')")?;
        }
        match &self.recorder {
            Some(r) => writeln!(
                out,
                "recorder: last cycle {} ({} cycles, {:.1} ms, {:.1} ms CPU, {} rows billed, {} waiting for their 5-minute bucket, {} gone workloads collected, {} resets){}",
                output::unix_time(r.at.max(0) as u64),
                r.cycles,
                r.duration_ms,
                r.cpu_ms,
                r.rows,
                r.waiting,
                r.collected,
                r.resets,
                r.last_error.as_ref().map(|e| format!("; last error: {e}")).unwrap_or_default()
            )?,
            None => writeln!(out, "recorder: no ledger (netattr record writes one)")?,
        }
        Ok(())
    }
}

/// The recorder's last cycle from the ledger at `path`, where there is one.
fn recorder_state(path: &std::path::Path) -> Option<crate::ledger::query::RecorderState> {
    if !path.exists() {
        return None;
    }
    match crate::ledger::Ledger::open_ro(path).and_then(|l| crate::ledger::query::recorder(&l)) {
        Ok(r) => r,
        Err(e) => {
            eprintln!("netattr: status: cannot read the recorder's state: {e:#}");
            None
        }
    }
}

pub fn execute(g: &Global, a: &crate::cli::StatusArgs) -> Result<ExitCode> {
    sys::require_reader_privileges("status")?;
    let pins = Pins::new(&g.pin_dir);
    pins.check_dir()?;
    match pins.state() {
        PinState::Absent => bail!(
            "netattr is not loaded at {}: run 'netattr load' first (or pass the --pin-dir it was loaded with)",
            pins.dir.display()
        ),
        PinState::Partial(present) => {
            let report = StatusReport {
                schema: output::SCHEMA,
                pin_dir: pins.dir.clone(),
                state: InstanceState::Partial,
                loaded_at: None,
                layout_version: None,
                fast_path: None,
                programs: vec![],
                maps: vec![],
                interfaces: vec![],
                socket: None,
                health: None,
                gone_cgroups: None,
                pins: present,
                recorder: None,
            };
            output::emit(g.format, &report)?;
            eprintln!("netattr: the load at {} did not finish: run 'netattr cleanup' and load again", pins.dir.display());
            return Ok(ExitCode::from(1));
        }
        PinState::Loaded => {}
    }
    let inst = pins.open()?;
    let mut namer = Namer::new(&g.place(), Some(&inst))?;
    // The per-cgroup counters of each source are read once, for their fill, their buckets
    // and the gone cgroups.
    let tc = reader::per_cgroup(&inst, Source::Tc)?;
    let socket = reader::per_cgroup(&inst, Source::Socket)?;
    let mut counted: BTreeSet<u64> =
        tc.iter().chain(&socket).map(|(id, _)| *id).filter(|id| !RESERVED_KEYS.contains(id)).collect();
    counted.extend(crate::core::retire::class_row_cgroups(&inst)?);
    let gone = counted.iter().filter(|id| namer.certainly_gone(**id)).count() as u64;
    let Health { insert_failures, ringbuf_drops } = inst.health()?;
    let health = HealthRow {
        insert_failures,
        ringbuf_drops,
        tc: Buckets::of(tc.iter().map(|(id, c)| (*id, c))),
        socket: Buckets::of(socket.iter().map(|(id, c)| (*id, c))),
    };
    let report = StatusReport {
        schema: output::SCHEMA,
        pin_dir: pins.dir.clone(),
        state: InstanceState::Loaded,
        loaded_at: Some(output::unix_time(inst.meta.loaded_at_unix)),
        layout_version: Some(inst.meta.layout_version),
        fast_path: Some(inst.meta.has(META_FAST_PATH)),
        programs: ProgRow::of(&inst),
        maps: maps(
            &inst,
            &[
                (Instance::hash_name(Source::Tc), tc.len()),
                (Instance::hash_name(Source::Socket), socket.len()),
            ],
        )?,
        interfaces: interfaces(&inst, &mut namer)?,
        socket: Some(socket_row(&inst, &mut namer)),
        health: Some(health),
        gone_cgroups: Some(gone),
        recorder: recorder_state(&a.ledger),
        pins: pins.present(),
    };
    output::emit(g.format, &report)?;
    Ok(ExitCode::SUCCESS)
}

fn socket_row(inst: &Instance, namer: &mut Namer<'_>) -> SocketRow {
    let id = Hook::BOTH.iter().find_map(|h| sock::attached_to(&inst.pins, *h));
    let path = id.and_then(|id| match namer.locate(id) {
        (State::Live, p) => p,
        _ => None,
    });
    SocketRow { attached: id.is_some(), cgroup_id: id, path }
}

fn interfaces(inst: &Instance, namer: &mut Namer<'_>) -> Result<Vec<IfaceRow>> {
    let mut rows = Vec::new();
    for c in carriers(inst)? {
        let index = c.link.index;
        let qdisc_created = attachments::record(&inst.attachments, index)?
            .is_some_and(|r| r.flags & ATTACH_QDISC_CREATED != 0);
        let owner = inst.owners.get(index).map(|id| Owner { cgroup_id: id, path: namer.path_label(id) });
        rows.push(IfaceRow {
            iface: c.link.name,
            ifindex: index,
            ingress: c.ingress,
            egress: c.egress,
            qdisc_created,
            owner,
        });
    }
    Ok(rows)
}
