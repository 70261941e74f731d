//! The per-peer breakdown (`load --breakdown peer`): which classes are counted per remote
//! address, and one read of a source's peer rows. For a cgroup and a class counted per
//! peer, its peer rows plus its other-peers row (the peers the map had no room for) equal
//! its class row; a class not counted per peer is its own single peer.
use std::collections::HashMap;
use std::net::IpAddr;

use anyhow::{bail, Context, Result};
use libbpf_rs::{MapCore, MapFlags};

use crate::bpf::layout::{
    class_bits, marked_classes, ClassKey, PeerKey, CLASS_MAX, CLASS_NON_IP, META_PEERS,
};
use crate::bpf::{percpu, Counters, Instance, Source};

/// Classes never counted per peer unless asked: the internet (its addresses are nobody's
/// workload), loopback (every namespace has 127.0.0.1) and non-IP (no address).
const NOT_BY_DEFAULT: [&str; 3] = ["internet", "loopback", "non-ip"];

/// Who a peer row's bytes went to or came from.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Peer {
    /// One remote address.
    Addr(IpAddr),
    /// The addresses of a peer class the peer map had no room for.
    Other,
    /// A class not counted per peer: the class is the peer.
    Class,
}

impl Peer {
    /// A row key's part: the kind and the address as a number.
    pub fn key(&self) -> (u8, u128) {
        match self {
            Peer::Addr(IpAddr::V4(a)) => (1, u128::from(a.to_ipv6_mapped())),
            Peer::Addr(IpAddr::V6(a)) => (1, u128::from(*a)),
            Peer::Other => (2, 0),
            Peer::Class => (3, 0),
        }
    }
}

/// One peer row of one source.
#[derive(Debug, Clone)]
pub struct PeerRow {
    pub cgroup_id: u64,
    pub class_id: u16,
    pub peer: Peer,
    pub counters: Counters,
}

/// Whether the load counts the peer breakdown, or how to get it.
pub fn require(inst: &Instance) -> Result<()> {
    if !inst.meta.has(META_PEERS) {
        bail!("the peer breakdown is off for this load: run 'netattr cleanup' and 'netattr load --breakdown peer'");
    }
    Ok(())
}

/// Writes the classes counted per peer: `asked` by name (each must be a class of `names`),
/// or every class id but those of NOT_BY_DEFAULT (so that classes added later are counted
/// per peer too; `names` always has the built-in ones).
pub fn mark_classes(map: &dyn MapCore, names: &[Option<String>], asked: &[String]) -> Result<()> {
    let ids: Vec<u16> = if asked.is_empty() {
        let skip: Vec<u16> = NOT_BY_DEFAULT
            .iter()
            .filter_map(|n| names.iter().position(|x| x.as_deref() == Some(n)).map(|i| i as u16))
            .collect();
        (0..CLASS_MAX).filter(|id| !skip.contains(id)).collect()
    } else {
        let mut ids = Vec::new();
        for a in asked {
            match names.iter().position(|n| n.as_deref() == Some(a.as_str())) {
                Some(i) if i as u16 == CLASS_NON_IP => {
                    bail!("--peer-classes: non-ip packets have no address to count per peer: leave it out")
                }
                Some(i) => ids.push(i as u16),
                None => {
                    let known: Vec<&str> = names.iter().flatten().map(String::as_str).collect();
                    bail!("--peer-classes: no class '{a}': the classes are {}", known.join(", "));
                }
            }
        }
        ids
    };
    map.update(&0u32.to_ne_bytes(), &class_bits(ids), MapFlags::ANY).context("writing the peer classes")
}

/// The class ids counted per peer.
pub fn classes(inst: &Instance) -> Result<Vec<u16>> {
    let v =
        inst.peer_classes.lookup(&0u32.to_ne_bytes(), MapFlags::ANY).context("reading the peer classes")?;
    Ok(v.map(|b| marked_classes(&b)).unwrap_or_default())
}

/// One source's peer-map rows, read before its class rows (see `with_classes`).
pub struct Read {
    addrs: Vec<PeerRow>,
    others: HashMap<(u64, u16), Counters>,
}

/// Reads one source's peer rows and other-peers rows.
pub fn rows(inst: &Instance, source: Source) -> Result<Read> {
    require(inst)?;
    let code = source.code();
    // The peer lanes of the held slots, then the hash's rows added (a peer can be in both:
    // counted in the hash while its lane was being claimed by another packet).
    let mut merged = inst.counters_of(source).1.fold_peer_lanes()?;
    let of_source = |b: &[u8]| PeerKey::from_bytes(b).filter(|k| k.source == code);
    for (k, c) in percpu::read_counters(&inst.peer_stats, of_source)? {
        merged.entry((k.cgroup_id, k.class_id, k.addr)).or_default().add(&c);
    }
    let addrs = merged
        .into_iter()
        .map(|((cgroup_id, class_id, addr), counters)| PeerRow {
            cgroup_id,
            class_id,
            peer: Peer::Addr(crate::bpf::layout::ip_of(addr)),
            counters,
        })
        .collect();
    let mut others: HashMap<(u64, u16), Counters> = HashMap::new();
    for (k, c) in
        percpu::read_counters(&inst.peer_other, |b| ClassKey::from_bytes(b).filter(|k| k.source == code))?
    {
        others.entry((k.cgroup_id, k.class_id)).or_default().add(&c);
    }
    Ok(Read { addrs, others })
}

/// The peer rows of one source: each address of a peer class, each other-peers row (once
/// a peer of that cgroup and class found the map full), and each class row of a class not
/// counted per peer. `class_rows` are the source's class rows (cgroup, class), read after
/// `read`: the programs count a packet's class before its peer, so a reader that sees a
/// peer's count sees its class's.
pub fn with_classes(
    inst: &Instance,
    read: Read,
    class_rows: &[((u64, u16), Counters)],
) -> Result<Vec<PeerRow>> {
    let marked = classes(inst)?;
    let Read { mut addrs, mut others } = read;
    for ((id, class), c) in class_rows {
        if marked.contains(class) {
            if let Some(c) = others.remove(&(*id, *class)) {
                addrs.push(PeerRow { cgroup_id: *id, class_id: *class, peer: Peer::Other, counters: c });
            }
        } else {
            addrs.push(PeerRow { cgroup_id: *id, class_id: *class, peer: Peer::Class, counters: *c });
        }
    }
    // Other-peers rows of a (cgroup, class) without a class row (its class row spilled to
    // the class map's overflow key, or none counted yet): kept, nothing counted is hidden.
    addrs.extend(others.into_iter().filter(|(_, c)| *c != Counters::default()).map(
        |((cgroup_id, class_id), counters)| PeerRow { cgroup_id, class_id, peer: Peer::Other, counters },
    ));
    Ok(addrs)
}

/// A peer row taken out of a map, with what is needed to put it back.
#[derive(Debug, Clone)]
pub struct Taken {
    pub source: Source,
    pub row: PeerRow,
    /// The map key it was taken from, and whether that map is `peer_other`.
    key: Vec<u8>,
    other: bool,
}

/// Takes the peer rows (both maps, both sources) of the cgroups `gone` out of the maps,
/// each exactly what its removal returned.
pub fn take(inst: &Instance, gone: &std::collections::BTreeSet<u64>) -> Result<Vec<Taken>> {
    if !inst.meta.has(META_PEERS) || gone.is_empty() {
        return Ok(Vec::new());
    }
    let mut keys = Vec::new();
    percpu::for_each(&inst.peer_stats, |k, _| {
        if let Some(p) = PeerKey::from_bytes(k).filter(|p| gone.contains(&p.cgroup_id)) {
            keys.push((k.to_vec(), false, p.cgroup_id, p.class_id, p.source, Peer::Addr(p.ip())));
        }
    })?;
    percpu::for_each(&inst.peer_other, |k, _| {
        if let Some(p) = ClassKey::from_bytes(k).filter(|p| gone.contains(&p.cgroup_id)) {
            keys.push((k.to_vec(), true, p.cgroup_id, p.class_id, p.source, Peer::Other));
        }
    })?;
    let mut out = Vec::new();
    for (key, other, cgroup_id, class_id, code, peer) in keys {
        let map = if other { &inst.peer_other } else { &inst.peer_stats };
        let Some(source) = Source::of_code(code) else { continue };
        match percpu::take_counters(map, &key) {
            Ok(Some(counters)) => {
                out.push(Taken { source, row: PeerRow { cgroup_id, class_id, peer, counters }, key, other })
            }
            Ok(None) => {}
            Err(e) => {
                restore(inst, &out)?;
                return Err(e.context("taking the peer rows of gone cgroups (what was taken is put back)"));
            }
        }
    }
    Ok(out)
}

/// Puts taken peer rows back (their bill failed).
pub fn restore(inst: &Instance, taken: &[Taken]) -> Result<()> {
    for t in taken {
        let map = if t.other { &inst.peer_other } else { &inst.peer_stats };
        super::retire::add_back(map, &t.key, &t.row.counters)
            .with_context(|| format!("putting back a peer row of cgroup {}", t.row.cgroup_id))?;
    }
    Ok(())
}

/// How the ledger writes a peer: the address, "(other peers)", or "" for a class row.
pub fn ledger_text(p: &Peer) -> String {
    match p {
        Peer::Addr(ip) => ip.to_string(),
        Peer::Other => crate::model::pairs::OTHER_PEERS.to_string(),
        Peer::Class => String::new(),
    }
}
