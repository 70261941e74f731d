//! `status`'s report: what is pinned, where it is attached, how full the maps are, what the
//! kernel counted in its buckets, how many gone cgroups hold counters, and the recorder's
//! last cycle.
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use anyhow::{bail, Result};
use serde::Serialize;

use super::inventory::{carriers, maps, MapRow, ProgRow};
use super::namer::{Namer, State};
use super::reader::{self, Buckets};
use super::Place;
use crate::bpf::attachments;
use crate::bpf::layout::{ATTACH_QDISC_CREATED, META_FAST_PATH, RESERVED_KEYS};
use crate::bpf::{Health, Instance, PinState, Pins, Source};
use crate::owner::Owner;
use crate::sock;
use crate::tc::Hook;

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
    /// New peers that found the peer map full (`--breakdown peer`): their bytes are in
    /// their class's other-peers row.
    pub peer_spills: u64,
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
    /// The fleet stores the ledger exports to, and what each has not acknowledged yet.
    pub exports: Vec<crate::ledger::export::Backlog>,
}

/// The recorder's last cycle and the exports' backlogs from the ledger at `path`, where
/// there is one.
fn ledger_state(
    path: &std::path::Path,
) -> (Option<crate::ledger::query::RecorderState>, Vec<crate::ledger::export::Backlog>) {
    if !path.exists() {
        return (None, Vec::new());
    }
    let read = crate::ledger::Ledger::open_ro(path)
        .and_then(|l| Ok((crate::ledger::query::recorder(&l)?, l.backlogs()?)));
    match read {
        Ok(state) => state,
        Err(e) => {
            eprintln!("netattr: status: cannot read the recorder's state: {e:#}");
            (None, Vec::new())
        }
    }
}

/// The status of the instance at `pins` (a partial load as such), with the recorder of the
/// ledger at `ledger` where there is one.
pub fn status(place: &Place, pins: &Pins, ledger: &Path) -> Result<StatusReport> {
    pins.check_dir()?;
    match pins.state() {
        PinState::Absent => bail!(
            "netattr is not loaded at {}: run 'netattr load' first (or pass the --pin-dir it was loaded with)",
            pins.dir.display()
        ),
        PinState::Partial(present) => {
            let report = StatusReport {
                schema: crate::output::SCHEMA,
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
                exports: Vec::new(),
            };
            return Ok(report);
        }
        PinState::Loaded => {}
    }
    let inst = pins.open()?;
    let mut namer = Namer::new(place, Some(&inst))?;
    // The per-cgroup counters of each source are read once, for their fill, their buckets
    // and the gone cgroups.
    let tc = reader::per_cgroup(&inst, Source::Tc)?;
    let socket = reader::per_cgroup(&inst, Source::Socket)?;
    let mut counted: BTreeSet<u64> =
        tc.iter().chain(&socket).map(|(id, _)| *id).filter(|id| !RESERVED_KEYS.contains(id)).collect();
    counted.extend(crate::core::retire::class_row_cgroups(&inst)?);
    let gone = counted.iter().filter(|id| namer.certainly_gone(**id)).count() as u64;
    let Health { insert_failures, ringbuf_drops, peer_spills } = inst.health()?;
    let health = HealthRow {
        insert_failures,
        ringbuf_drops,
        peer_spills,
        tc: Buckets::of(tc.iter().map(|(id, c)| (*id, c))),
        socket: Buckets::of(socket.iter().map(|(id, c)| (*id, c))),
    };
    let (recorder, exports) = ledger_state(ledger);
    let report = StatusReport {
        schema: crate::output::SCHEMA,
        pin_dir: pins.dir.clone(),
        state: InstanceState::Loaded,
        loaded_at: Some(crate::output::unix_time(inst.meta.loaded_at_unix)),
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
        recorder,
        exports,
        pins: pins.present(),
    };
    Ok(report)
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
