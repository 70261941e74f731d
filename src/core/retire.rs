//! Retiring the counters of cgroups that are gone (`reap`), exactly: what is removed is what
//! is returned, and what is returned is put back if it cannot be handed on.
//!
//! A socket keeps the cgroup it was created in, so a removed cgroup can still be counted.
//! Its slots are taken back first (`Slots::retire`, after which its packets go to its hash
//! entry), then each hash entry is looked up and deleted in one step: a packet counted
//! before the removal is in the result, one counted after lands in a new entry that the
//! next reap collects. The kernel's record of the cgroup's path is kept while any counter
//! of it may come back, so a re-counted cgroup keeps its name.
use std::collections::{BTreeSet, HashSet};

use anyhow::{Context, Result};
use libbpf_rs::{MapCore, MapFlags, MapHandle};

use super::namer::Namer;
use crate::bpf::layout::{ClassKey, IfaceKey, PeerKey, PortKey, RESERVED_KEYS};
use crate::bpf::percpu::{self, key_u64};
use crate::bpf::{Counters, Instance, Source};
use crate::cgroup::Lookup;

const SOURCES: [Source; 2] = [Source::Tc, Source::Socket];

/// What a reap will do.
#[derive(Debug, Default)]
pub struct Plan {
    /// Cgroups the kernel says are gone: their counters are collected.
    pub gone: BTreeSet<u64>,
    /// Cgroups netattr cannot find but the kernel did not say are gone: kept.
    pub uncertain: BTreeSet<u64>,
    /// Gone cgroups with a recorded path and no counter left: their records are dropped.
    stale_names: Vec<u64>,
}

/// Counters removed from one source's maps.
#[derive(Debug, Clone)]
pub struct Retired {
    pub source: Source,
    pub cgroup_id: u64,
    /// The destination class (its kernel id) of a row of the class breakdown; None for the
    /// cgroup's own row.
    pub class: Option<u16>,
    /// The remote address of a peer lane's row (with its class); None for the others.
    pub peer: Option<[u8; 16]>,
    pub counters: Counters,
}

/// Which counted cgroups are gone, and which are uncertain.
pub fn plan(inst: &Instance, namer: &mut Namer<'_>) -> Result<Plan> {
    let mut counted = BTreeSet::new();
    for source in SOURCES {
        let (hash, _) = inst.counters_of(source);
        percpu::for_each(hash, |k, _| counted.extend(key_u64(k)))?;
    }
    counted.extend(class_row_cgroups(inst)?);
    plan_among(inst, namer, &counted, &counted)
}

/// The cgroups with rows in the class breakdown's hash (one left without its own row by an
/// older netattr, that collected no class rows, is collected all the same).
pub fn class_row_cgroups(inst: &Instance) -> Result<BTreeSet<u64>> {
    let mut ids = BTreeSet::new();
    percpu::for_each(&inst.class_stats, |k, _| ids.extend(ClassKey::from_bytes(k).map(|k| k.cgroup_id)))?;
    ids.retain(|id| !RESERVED_KEYS.contains(id));
    Ok(ids)
}

/// Which of the cgroups `ask` are gone, and which are uncertain, of those `counted` (read
/// from the counter maps: the recorder's cycle has just read them).
pub fn plan_among(
    inst: &Instance,
    namer: &mut Namer<'_>,
    counted: &BTreeSet<u64>,
    ask: &BTreeSet<u64>,
) -> Result<Plan> {
    let mut plan = Plan::default();
    // One question to the kernel per cgroup that one walk of the tree did not find alive
    // (at 10,000 live cgroups, a walk instead of 10,000 questions).
    let alive = namer.alive_in_walk(ask);
    for &id in ask.iter().filter(|id| !RESERVED_KEYS.contains(id) && !alive.contains(id)) {
        match namer.kernel_lookup(id) {
            Lookup::Path(_) => {}
            Lookup::Gone => {
                plan.gone.insert(id);
            }
            Lookup::Unknown => {
                plan.uncertain.insert(id);
            }
        }
    }
    let mut named = Vec::new();
    percpu::for_each(&inst.cgroup_names, |k, _| named.extend(key_u64(k)))?;
    // A record is stale once its cgroup is gone and has no counter left: asked of the maps
    // now, since `counted` may be older than a short-lived cgroup's first packet (its record
    // is what names it once it is gone).
    let uncounted = |id: &u64| {
        SOURCES.iter().all(|s| {
            matches!(inst.counters_of(*s).0.lookup_percpu(&id.to_ne_bytes(), MapFlags::ANY), Ok(None))
        })
    };
    plan.stale_names = named
        .into_iter()
        .filter(|id| !counted.contains(id) && uncounted(id) && namer.certainly_gone(*id))
        .collect();
    Ok(plan)
}

/// Removes the counters of `plan.gone` from both sources, their own rows and their class
/// breakdown's, returning exactly what was removed (every removed entry is returned, zero
/// or not).
pub fn take(inst: &Instance, plan: &Plan) -> Result<Vec<Retired>> {
    let mut out = Vec::new();
    if let Err(e) = take_into(inst, plan, &mut out) {
        // What was taken so far goes back before the error is reported.
        restore(inst, &out)?;
        return Err(e.context("collecting the counters of gone cgroups (what was taken is put back)"));
    }
    Ok(out)
}

fn take_into(inst: &Instance, plan: &Plan, out: &mut Vec<Retired>) -> Result<()> {
    if plan.gone.is_empty() {
        return Ok(());
    }
    // The class rows of the gone cgroups, both sources: one read of the keys.
    let mut class_keys = Vec::new();
    percpu::for_each(&inst.class_stats, |k, _| {
        class_keys.extend(ClassKey::from_bytes(k).filter(|k| plan.gone.contains(&k.cgroup_id)))
    })?;
    for source in SOURCES {
        let (hash, slots) = inst.counters_of(source);
        let taken = slots.retire(&plan.gone)?;
        // The slots' and lanes' counts are out of the maps from here: each goes in `out` as
        // soon as it is whole, the rest on an error, so that restore puts all of it back.
        let (mut from_slots, mut from_lanes) = (taken.totals, taken.lanes);
        let peer_lanes = taken.peers;
        let result = (|| -> Result<()> {
            for &id in &plan.gone {
                let taken = percpu::take_counters(hash, &id.to_ne_bytes())?;
                let slot = from_slots.remove(&id);
                if taken.is_none() && slot.is_none() {
                    continue;
                }
                let mut c = taken.unwrap_or_default();
                if let Some(s) = slot {
                    c.add(&s);
                }
                out.push(Retired { source, cgroup_id: id, class: None, peer: None, counters: c });
            }
            for k in class_keys.iter().filter(|k| k.source == source.code()) {
                let taken = percpu::take_counters(&inst.class_stats, &k.to_bytes())?;
                let lane = from_lanes.remove(&(k.cgroup_id, k.class_id));
                if taken.is_none() && lane.is_none() {
                    continue;
                }
                let mut c = taken.unwrap_or_default();
                if let Some(l) = lane {
                    c.add(&l);
                }
                out.push(Retired {
                    source,
                    cgroup_id: k.cgroup_id,
                    class: Some(k.class_id),
                    peer: None,
                    counters: c,
                });
            }
            Ok(())
        })();
        // Whatever the slots held and no hash entry took (all of it on an error).
        out.extend(from_slots.drain().map(|(cgroup_id, counters)| Retired {
            source,
            cgroup_id,
            class: None,
            peer: None,
            counters,
        }));
        out.extend(from_lanes.drain().map(|((cgroup_id, class), counters)| Retired {
            source,
            cgroup_id,
            class: Some(class),
            peer: None,
            counters,
        }));
        // Peer lanes: whole as taken (their rows are not in a hash of the class maps).
        out.extend(peer_lanes.into_iter().map(|((cgroup_id, class, addr), counters)| Retired {
            source,
            cgroup_id,
            class: Some(class),
            peer: Some(addr),
            counters,
        }));
        result?;
    }
    Ok(())
}

/// Puts removed counters back (their output could not be written): added to the entry a
/// packet may have created since, or inserted again, on the first CPU's value.
pub fn restore(inst: &Instance, retired: &[Retired]) -> Result<()> {
    for r in retired {
        let (hash, key) = match (r.class, r.peer) {
            (None, _) => (inst.counters_of(r.source).0, r.cgroup_id.to_ne_bytes().to_vec()),
            // A peer lane's counts go back into the peer map (its lane is free now).
            (Some(class_id), Some(addr)) => (
                &inst.peer_stats,
                PeerKey { cgroup_id: r.cgroup_id, addr, class_id, source: r.source.code() }
                    .to_bytes()
                    .to_vec(),
            ),
            (Some(class_id), None) => (
                &inst.class_stats,
                ClassKey { cgroup_id: r.cgroup_id, class_id, source: r.source.code() }.to_bytes().to_vec(),
            ),
        };
        add_back(hash, &key, &r.counters)
            .with_context(|| format!("putting back the counters of cgroup {}", r.cgroup_id))?;
    }
    Ok(())
}

pub(super) fn add_back(hash: &MapHandle, key: &[u8], c: &Counters) -> Result<()> {
    let ncpu = libbpf_rs::num_possible_cpus()?;
    for _ in 0..3 {
        let (mut values, flags) = match hash.lookup_percpu(key, MapFlags::ANY)? {
            Some(v) => (v, MapFlags::EXIST),
            None => (vec![vec![0u8; Counters::SIZE]; ncpu], MapFlags::NO_EXIST),
        };
        let mut first = Counters::from_bytes(&values[0]).unwrap_or_default();
        first.add(c);
        values[0] = first.to_bytes().to_vec();
        if hash.update_percpu(key, &values, flags).is_ok() {
            return Ok(());
        }
    }
    anyhow::bail!("the entry kept changing")
}

/// What `finish` removed: breakdown rows (interface and port) of the gone cgroups, and path
/// records of cgroups gone with no counter left.
#[derive(Debug, Default, Clone, Copy)]
pub struct Finished {
    pub breakdown_rows: usize,
    pub path_records: usize,
}

/// After the removed counters were handed on: drops the breakdown rows of the gone cgroups
/// and the path records nothing refers to any more.
pub fn finish(inst: &Instance, plan: &Plan) -> Result<Finished> {
    let gone: HashSet<u64> = plan.gone.iter().copied().collect();
    let mut removed = delete_where(&inst.iface_stats, |k| {
        IfaceKey::from_bytes(k).is_some_and(|k| gone.contains(&k.cgroup_id))
    })?;
    removed += delete_where(&inst.port_stats, |k| {
        PortKey::from_bytes(k).is_some_and(|k| gone.contains(&k.cgroup_id))
    })?;
    let mut records = 0;
    for id in &plan.stale_names {
        if inst.cgroup_names.delete(&id.to_ne_bytes()).is_ok() {
            records += 1;
        }
    }
    Ok(Finished { breakdown_rows: removed, path_records: records })
}

/// Deletes the keys `matches` picks; only deletes that succeed are counted.
fn delete_where(map: &MapHandle, matches: impl Fn(&[u8]) -> bool) -> Result<usize> {
    let mut keys = Vec::new();
    percpu::for_each(map, |k, _| {
        if matches(k) {
            keys.push(k.to_vec());
        }
    })?;
    Ok(keys.iter().filter(|k| map.delete(k).is_ok()).count())
}
