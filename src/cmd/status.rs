//! `netattr status`: what is pinned, where it is attached, how full the maps are.
use std::io::{self, Write};
use std::os::fd::AsFd;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{bail, Result};
use libbpf_rs::{MapCore, MapHandle, MapType};
use serde::Serialize;

use crate::bpf::layout::{ATTACH_QDISC_CREATED, CGID_OVERFLOW, CGID_UNRESOLVED};
use crate::bpf::percpu::{self, key_u64};
use crate::bpf::pins::MAPS;
use crate::bpf::{Counters, Health, Instance, PinState, Pins};
use crate::cgroup::{self, Lookup, Resolver};
use crate::cli::Global;
use crate::output::{self, Report};
use crate::owner::Owner;
use crate::tc::{self, Hook};
use crate::{iface, netlink, sock, sys};

#[derive(Debug, Serialize)]
pub struct ProgRow {
    pub name: String,
    pub id: u32,
    pub tag: String,
}

impl ProgRow {
    pub fn of(inst: &Instance) -> Vec<ProgRow> {
        [&inst.tc_ingress, &inst.tc_egress, &inst.sock_ingress, &inst.sock_egress]
            .iter()
            .map(|p| ProgRow {
                name: p.name().to_string_lossy().into_owned(),
                id: p.id(),
                tag: p.tag().iter().map(|b| format!("{b:02x}")).collect(),
            })
            .collect()
    }
}

#[derive(Debug, Serialize)]
pub struct MapRow {
    pub name: String,
    #[serde(rename = "type")]
    pub kind: String,
    pub id: u32,
    /// Keys present (hash maps), slots held (the fast-path owner arrays), all slots (other
    /// arrays), or null where it does not apply (ring buffer).
    pub entries: Option<u64>,
    /// Capacity in keys; for the ring buffer, its size in bytes.
    pub max_entries: u32,
    /// `entries` were counted (keys present, slots held), so a fill means something; other
    /// arrays are full by construction.
    #[serde(skip)]
    pub counted: bool,
}

impl MapRow {
    /// (entries, entries over capacity), where that says how full the map is.
    pub fn fill(&self) -> Option<(u64, f64)> {
        let n = self.entries.filter(|_| self.counted)?;
        Some((n, n as f64 / f64::from(self.max_entries.max(1))))
    }
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

#[derive(Debug, Default, Serialize)]
pub struct Buckets {
    pub unresolved_bytes: u64,
    pub unresolved_packets: u64,
    pub overflow_bytes: u64,
    pub overflow_packets: u64,
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
    pub state: &'static str,
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
}

impl Report for StatusReport {
    fn render_table(&self, out: &mut dyn Write) -> io::Result<()> {
        writeln!(out, "netattr at {}: {}", self.pin_dir.display(), self.state)?;
        if let (Some(at), Some(v)) = (&self.loaded_at, self.layout_version) {
            let fast = if self.fast_path == Some(true) { "on" } else { "off" };
            writeln!(out, "loaded {at}, map layout {v}, per-cgroup fast path {fast}")?;
        }
        if self.state == "partial" {
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
        Ok(())
    }
}

pub fn execute(g: &Global) -> Result<ExitCode> {
    sys::require_privileges("status")?;
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
                state: "partial",
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
            };
            output::emit(g.format, &report)?;
            eprintln!("netattr: the load at {} did not finish: run 'netattr cleanup' and load again", pins.dir.display());
            return Ok(ExitCode::from(1));
        }
        PinState::Loaded => {}
    }
    let inst = pins.open()?;
    let mut resolver = Resolver::new(cgroup::mount_point()?)?;
    // The per-cgroup counter maps are read once, for their fill and their buckets.
    let tc_entries = inst.per_cgroup(crate::bpf::Source::Tc)?;
    let sock_entries = inst.per_cgroup(crate::bpf::Source::Socket)?;
    let report = StatusReport {
        schema: output::SCHEMA,
        pin_dir: pins.dir.clone(),
        state: "loaded",
        loaded_at: Some(output::unix_time(inst.meta.loaded_at_unix)),
        layout_version: Some(inst.meta.layout_version),
        fast_path: Some(inst.meta.flags & crate::bpf::layout::META_FAST_PATH != 0),
        programs: ProgRow::of(&inst),
        maps: maps(&inst, &[("stats_map", tc_entries.len()), ("sock_stats", sock_entries.len())])?,
        interfaces: interfaces(&inst, &mut resolver)?,
        socket: Some(socket(&inst, &mut resolver)),
        health: Some(health(&inst, &tc_entries, &sock_entries)?),
        gone_cgroups: Some(
            crate::cmd::reap::gone_ids(
                tc_entries.iter().chain(&sock_entries).map(|(k, _)| k.as_slice()),
                &mut resolver,
            )
            .len() as u64,
        ),
        pins: pins.present(),
    };
    output::emit(g.format, &report)?;
    Ok(ExitCode::SUCCESS)
}

/// Every pinned map with its fill; `known` gives the entry counts already read.
pub fn maps(inst: &Instance, known: &[(&str, usize)]) -> Result<Vec<MapRow>> {
    let mut rows = Vec::new();
    for name in MAPS {
        let m = MapHandle::from_pinned_path(inst.pins.path(name))?;
        let slots = [&inst.tc_slots, &inst.sock_slots].into_iter().find(|s| s.owner_map() == name);
        let (entries, counted) = match (m.map_type(), known.iter().find(|(n, _)| *n == name), slots) {
            (_, Some((_, n)), _) => (Some(*n as u64), true),
            (_, None, Some(slots)) => (Some(slots.holders()? as u64), true),
            (MapType::RingBuf, ..) => (None, false),
            (MapType::Array | MapType::PercpuArray, ..) => (Some(u64::from(m.max_entries())), false),
            _ => (Some(percpu::count(&m)? as u64), true),
        };
        let id = libbpf_rs::MapInfo::new(m.as_fd()).map(|i| i.info.id).unwrap_or(0);
        rows.push(MapRow {
            name: name.to_string(),
            kind: format!("{:?}", m.map_type()).to_lowercase(),
            id,
            entries,
            max_entries: m.max_entries(),
            counted,
        });
    }
    Ok(rows)
}

fn owner_of(id: u64, resolver: &mut Resolver) -> Owner {
    let path = match resolver.lookup(id) {
        Lookup::Path(p) => p,
        Lookup::Gone => "(gone)".into(),
    };
    Owner { cgroup_id: id, path }
}

fn socket(inst: &Instance, resolver: &mut Resolver) -> SocketRow {
    let id = Hook::BOTH.iter().find_map(|h| sock::attached_to(&inst.pins, *h));
    let path = id.and_then(|id| match resolver.lookup(id) {
        Lookup::Path(p) => Some(p),
        Lookup::Gone => None,
    });
    SocketRow { attached: id.is_some(), cgroup_id: id, path }
}

fn interfaces(inst: &Instance, resolver: &mut Resolver) -> Result<Vec<IfaceRow>> {
    let ids = inst.prog_ids();
    let mut rows = Vec::new();
    for l in netlink::links()? {
        let on = |h: Hook| matches!(tc::query(l.index, h), Ok(Some(id)) if ids.contains(&id));
        let (ingress, egress) = (on(Hook::Ingress), on(Hook::Egress));
        if ingress || egress {
            let qdisc_created = iface::record(&inst.attachments, l.index)?
                .is_some_and(|r| r.flags & ATTACH_QDISC_CREATED != 0);
            let owner = inst.owners.get(l.index).map(|id| owner_of(id, resolver));
            rows.push(IfaceRow { iface: l.name, ifindex: l.index, ingress, egress, qdisc_created, owner });
        }
    }
    Ok(rows)
}

type Entries = [(Vec<u8>, Counters)];

fn health(inst: &Instance, tc: &Entries, socket: &Entries) -> Result<HealthRow> {
    let Health { insert_failures, ringbuf_drops } = inst.health()?;
    Ok(HealthRow { insert_failures, ringbuf_drops, tc: buckets(tc), socket: buckets(socket) })
}

fn buckets(entries: &Entries) -> Buckets {
    let mut b = Buckets::default();
    for (k, c) in entries {
        let (bytes, packets) = match key_u64(k) {
            Some(CGID_UNRESOLVED) => (&mut b.unresolved_bytes, &mut b.unresolved_packets),
            Some(CGID_OVERFLOW) => (&mut b.overflow_bytes, &mut b.overflow_packets),
            _ => continue,
        };
        *bytes += c.total_bytes();
        *packets += c.rx_packets + c.tx_packets;
    }
    b
}
