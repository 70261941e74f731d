//! What an instance is made of and where it is attached: its programs, its maps with their
//! fill, the health counters, and the interfaces that carry its filters.

use anyhow::Result;
use libbpf_rs::{MapCore, MapHandle, MapType};
use serde::Serialize;

use crate::bpf::pins::MAPS;
use crate::bpf::{percpu, Health, Instance};
use crate::netlink::{self, Link};
use crate::tc::{self, Hook};

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
        let id = crate::bpf::pins::map_id(&m).unwrap_or(0);
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

/// The instance-wide figures a scrape reports beside the rows.
#[derive(Debug)]
pub struct HealthExport {
    pub maps: Vec<MapRow>,
    pub health: Health,
}

impl HealthExport {
    /// Reads map fill and health; `known` gives the entry counts a snapshot already read.
    pub fn read(inst: &Instance, known: &[(String, usize)]) -> Result<Self> {
        let known: Vec<(&str, usize)> = known.iter().map(|(n, c)| (n.as_str(), *c)).collect();
        Ok(HealthExport { maps: maps(inst, &known)?, health: inst.health()? })
    }
}

/// An interface carrying this instance's filters, and on which hooks.
pub struct Carrier {
    pub link: Link,
    pub ingress: bool,
    pub egress: bool,
}

/// Every interface that carries one of this instance's tc filters.
pub fn carriers(inst: &Instance) -> Result<Vec<Carrier>> {
    let ids = inst.prog_ids();
    let mut out = Vec::new();
    for link in netlink::links()? {
        let on = |h: Hook| matches!(tc::query(link.index, h), Ok(Some(id)) if ids.contains(&id));
        let (ingress, egress) = (on(Hook::Ingress), on(Hook::Egress));
        if ingress || egress {
            out.push(Carrier { link, ingress, egress });
        }
    }
    Ok(out)
}
