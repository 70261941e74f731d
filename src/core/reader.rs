//! The reader: one query in, one snapshot of the counters out. Every report (`stats`,
//! `status`, `reap`, `serve`, `top`, the demo) reads the counter maps through here, each map
//! once per snapshot, per-CPU values summed and each held fast-path slot folded into its
//! owner's row.
use std::collections::HashMap;

use anyhow::{bail, Result};

use super::peers::Peer;
use super::row::{By, Extra, RawRow};
use crate::bpf::layout::{
    ClassKey, IfaceKey, PortKey, CGID_OVERFLOW, CGID_UNRESOLVED, META_IFACES, META_PORTS,
};
use crate::bpf::percpu;
use crate::bpf::{Counters, Instance, Source};
use crate::netlink;

/// What to read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Query {
    pub source: Source,
    pub by: By,
}

/// One read of one source's counters.
#[derive(Debug)]
pub struct Snapshot {
    pub source: Source,
    pub by: By,
    pub rows: Vec<RawRow>,
    /// (map name, entries) of the maps this read counted on the way: the per-cgroup hash
    /// and its slot owner array (with `By::Cgroup`), so that a health export need not read
    /// them again.
    pub fill: Vec<(String, usize)>,
}

/// The source `stats` reads unless told: socket where it is attached to a cgroup, else tc.
pub fn default_source(inst: &Instance, asked: Option<Source>) -> Source {
    asked.unwrap_or(if inst.socket_attached() { Source::Socket } else { Source::Tc })
}

/// Reads the counters `q` asks for.
pub fn read(inst: &Instance, q: Query) -> Result<Snapshot> {
    let mut fill = Vec::new();
    let mut rows = match q.by {
        By::Cgroup => {
            let (rows, seen) = inst.per_cgroup_with_fill(q.source)?;
            fill.extend(seen.iter().map(|(n, c)| (n.to_string(), *c)));
            rows.into_iter()
                .map(|(id, c)| RawRow { key: (id, 0, 0, 0, 0), extra: Extra::None, counters: c })
                .collect()
        }
        By::Iface => by_iface(inst, q.source)?,
        By::Port => by_port(inst, q.source)?,
        By::Class => by_class(inst, q.source)?,
        By::Peer => by_peer(inst, q.source)?,
    };
    with_buckets(&mut rows, q.by);
    Ok(Snapshot { source: q.source, by: q.by, rows, fill })
}

/// Every listing shows both buckets: a breakdown that has counted nothing unresolved or
/// nothing in overflow yet gets zero rows for them, as the per-cgroup hash (whose bucket keys
/// `load` inserts) always has.
fn with_buckets(rows: &mut Vec<RawRow>, by: By) {
    let extra = match by {
        By::Cgroup => Extra::None,
        By::Iface => Extra::Iface(0, None),
        By::Port => Extra::Port(0, 0),
        By::Class => Extra::Class(0, crate::bpf::layout::BUILTIN_CLASSES[0].to_string()),
        By::Peer => Extra::Peer(0, crate::bpf::layout::BUILTIN_CLASSES[0].to_string(), Peer::Class),
    };
    fill_buckets(rows, extra);
}

fn fill_buckets(rows: &mut Vec<RawRow>, extra: Extra) {
    for id in [CGID_UNRESOLVED, CGID_OVERFLOW] {
        if !rows.iter().any(|r| r.key.0 == id) {
            let key = match &extra {
                Extra::Class(c, _) => (id, u32::from(*c), 0, 0, 0),
                Extra::Peer(c, _, p) => (id, u32::from(*c), p.key().0, 0, p.key().1),
                _ => (id, 0, 0, 0, 0),
            };
            rows.push(RawRow { key, extra: extra.clone(), counters: Counters::default() });
        }
    }
}

/// The per-cgroup counters of one source: every key of its hash, with the counters of the
/// slot its cgroup holds added in.
pub fn per_cgroup(inst: &Instance, source: Source) -> Result<Vec<(u64, Counters)>> {
    inst.per_cgroup(source)
}

/// Whether the load counts the per-interface breakdown, or why not.
pub fn require_breakdown(inst: &Instance, by: By, source: Source) -> Result<()> {
    match by {
        By::Cgroup => Ok(()),
        By::Iface if source != Source::Tc => bail!(
            "the per-interface breakdown is counted by the tc source only: use 'stats --by iface --source tc'"
        ),
        By::Iface if !inst.meta.has(META_IFACES) => bail!(
            "the per-interface breakdown is off for this load: run 'netattr cleanup' and 'netattr load --breakdown iface'"
        ),
        By::Port if !inst.meta.has(META_PORTS) => bail!(
            "the per-port breakdown is off for this load: run 'netattr cleanup' and 'netattr load --breakdown port'"
        ),
        By::Class => super::classes::require(inst),
        By::Peer => super::peers::require(inst),
        _ => Ok(()),
    }
}

fn by_iface(inst: &Instance, source: Source) -> Result<Vec<RawRow>> {
    require_breakdown(inst, By::Iface, source)?;
    let names: HashMap<u32, String> = netlink::links()?.into_iter().map(|l| (l.index, l.name)).collect();
    Ok(percpu::read_counters(&inst.iface_stats, IfaceKey::from_bytes)?
        .into_iter()
        .map(|(k, c)| RawRow {
            key: (k.cgroup_id, k.ifindex, 0, 0, 0),
            extra: Extra::Iface(k.ifindex, names.get(&k.ifindex).cloned()),
            counters: c,
        })
        .collect())
}

fn by_port(inst: &Instance, source: Source) -> Result<Vec<RawRow>> {
    require_breakdown(inst, By::Port, source)?;
    let of_source = |b: &[u8]| PortKey::from_bytes(b).filter(|k| k.source == source.code());
    Ok(percpu::read_counters(&inst.port_stats, of_source)?
        .into_iter()
        .map(|(k, c)| RawRow {
            key: (k.cgroup_id, 0, k.proto, k.port, 0),
            extra: Extra::Port(k.proto, k.port),
            counters: c,
        })
        .collect())
}

/// Keeps only the rows of the classes named in `names` (all rows when it is empty); a name
/// the instance has no class of is an error that lists the classes it has.
pub fn keep_classes(inst: &Instance, snap: &mut Snapshot, names: &[String]) -> Result<()> {
    if names.is_empty() {
        return Ok(());
    }
    if !matches!(snap.by, By::Class | By::Peer) {
        bail!("--class picks rows of the class breakdown: add '--by class' (or '--by peer')");
    }
    let all = crate::bpf::class_table::names(&inst.class_names)?;
    let known: Vec<&String> = all.iter().flatten().collect();
    if let Some(bad) = names.iter().find(|n| !known.contains(n)) {
        let list: Vec<&str> = known.iter().map(|s| s.as_str()).collect();
        bail!("no class '{bad}' in this load: its classes are {} (see 'netattr classes')", list.join(", "));
    }
    snap.rows.retain(|r| matches!(&r.extra, Extra::Class(_, n) | Extra::Peer(_, n, _) if names.contains(n)));
    // The buckets stay in every listing: zero rows in the first class asked for.
    let first = &names[0];
    let id = all.iter().position(|n| n.as_ref() == Some(first)).unwrap_or(0) as u16;
    fill_buckets(
        &mut snap.rows,
        match snap.by {
            By::Peer => Extra::Peer(id, first.clone(), Peer::Class),
            _ => Extra::Class(id, first.clone()),
        },
    );
    Ok(())
}

/// One source's class rows, (cgroup, class) -> counters, lanes folded in.
fn class_rows(inst: &Instance, source: Source) -> Result<crate::bpf::slots::ClassRows> {
    let of_source = |b: &[u8]| ClassKey::from_bytes(b).filter(|k| k.source == source.code());
    let mut rows: crate::bpf::slots::ClassRows = percpu::read_counters(&inst.class_stats, of_source)?
        .into_iter()
        .map(|(k, c)| ((k.cgroup_id, k.class_id), c))
        .collect();
    inst.counters_of(source).1.fold_lanes(&mut rows)?;
    Ok(rows)
}

/// The peer rows: read before the class rows, so that a packet a peer row holds is in its
/// class row too (the programs count the class first), whatever traffic runs meanwhile.
fn by_peer(inst: &Instance, source: Source) -> Result<Vec<RawRow>> {
    require_breakdown(inst, By::Peer, source)?;
    let names = crate::bpf::class_table::names(&inst.class_names)?;
    let peers = super::peers::rows(inst, source)?;
    let classes: Vec<_> = class_rows(inst, source)?.into_iter().collect();
    Ok(super::peers::with_classes(inst, peers, &classes)?
        .into_iter()
        .map(|r| RawRow {
            key: (r.cgroup_id, u32::from(r.class_id), r.peer.key().0, 0, r.peer.key().1),
            extra: Extra::Peer(r.class_id, super::classes::name_of(&names, r.class_id), r.peer),
            counters: r.counters,
        })
        .collect())
}

fn by_class(inst: &Instance, source: Source) -> Result<Vec<RawRow>> {
    require_breakdown(inst, By::Class, source)?;
    let names = crate::bpf::class_table::names(&inst.class_names)?;
    Ok(class_rows(inst, source)?
        .into_iter()
        .map(|((id, class), c)| RawRow {
            key: (id, u32::from(class), 0, 0, 0),
            extra: Extra::Class(class, super::classes::name_of(&names, class)),
            counters: c,
        })
        .collect())
}

/// The unresolved and overflow buckets of one source.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub struct Buckets {
    pub unresolved_bytes: u64,
    pub unresolved_packets: u64,
    pub overflow_bytes: u64,
    pub overflow_packets: u64,
}

impl Buckets {
    pub fn of<'a>(rows: impl IntoIterator<Item = (u64, &'a Counters)>) -> Buckets {
        let mut b = Buckets::default();
        for (id, c) in rows {
            let (bytes, packets) = match id {
                CGID_UNRESOLVED => (&mut b.unresolved_bytes, &mut b.unresolved_packets),
                CGID_OVERFLOW => (&mut b.overflow_bytes, &mut b.overflow_packets),
                _ => continue,
            };
            *bytes += c.total_bytes();
            *packets += c.rx_packets + c.tx_packets;
        }
        b
    }
}
