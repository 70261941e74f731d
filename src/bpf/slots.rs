//! The per-cgroup fast path (bpf/netattr.h, `COUNTER_SLOTS`). Each source has 4,096
//! direct-mapped slots: a cgroup that holds its home slot is counted there, one inlined
//! array lookup per packet instead of a hash lookup (measured in BENCHMARKS.md). Every
//! counted cgroup also has its hash entry, inserted at its first packet, so the hash stays
//! the list of counted cgroups, its capacity and its overflow; a reader adds each held
//! slot's counters to its owner's row (`fold_into`), and `reap` gives the slots of gone
//! cgroups back (`retire`). With the class breakdown a held slot also has class lanes: the
//! per-class counters of its owner's first classes (`fold_lanes`).
use std::collections::{BTreeSet, HashMap, HashSet};

use anyhow::{Context, Result};
use libbpf_rs::{MapCore, MapFlags, MapHandle};

use super::layout::{
    mul_hash, peer_lane, Counters, CGID_UNRESOLVED, CLASS_LANES, CLASS_LANE_FREE, COUNTER_SLOTS, PEER_CELLS,
    PEER_POOL_COUNT, SLOT_FREE, SLOT_RETIRED,
};
use super::percpu;

/// Per-class counters: (cgroup id, class id) -> counters. A fixed hasher, so that a map
/// made from the same reads iterates in the same order each time (the recorder finds its
/// rows by their position in the last read, core::unbilled).
pub type ClassRows = HashMap<(u64, u16), Counters, foldhash::fast::FixedState>;

/// A cgroup's home slot, as `home_slot` in bpf/netattr.bpf.c computes it (slot 0 is the
/// unresolved bucket's alone).
pub fn home_slot(cgid: u64) -> u32 {
    let s = mul_hash(cgid, COUNTER_SLOTS.trailing_zeros()) as u32;
    match (cgid, s) {
        (0, _) => 0,
        (_, 0) => 1,
        _ => s,
    }
}

/// Above this many held slots, one batch read of the whole counter array beats a lookup
/// per slot.
const BATCH_ABOVE: usize = 64;

/// One source's slots: `<prefix>_slot_owner` (slot -> cgroup id) and `<prefix>_slots`
/// (slot -> per-CPU counters).
pub struct Slots {
    owner_map: String,
    owners: MapHandle,
    /// The owner array mapped into memory (loads since layout 6), else None: read in batches.
    mapped: Option<crate::ffi::MappedU64s>,
    counters: MapHandle,
    /// `<prefix>_class_lanes` and `<prefix>_class_slots`, where the load counts classes.
    lanes: Option<(MapHandle, MapHandle)>,
    /// `<prefix>_peer_lanes`, `<prefix>_peer_slots` and `<prefix>_peer_claims`, where the
    /// load counts peers.
    peer_lanes: Option<(MapHandle, MapHandle, MapHandle)>,
}

/// Per-peer counters of the peer lanes: (cgroup id, class id, address) -> counters.
pub type PeerLaneRows = HashMap<(u64, u16, [u8; 16]), Counters>;

impl Slots {
    /// Opens one source's slot maps pinned in `dir`.
    pub fn open(dir: &std::path::Path, prefix: &str) -> Result<Self> {
        let map = |name: String| {
            MapHandle::from_pinned_path(dir.join(&name))
                .with_context(|| format!("opening pinned map {}", dir.join(&name).display()))
        };
        let owner_map = format!("{prefix}_slot_owner");
        let owners = map(owner_map.clone())?;
        let mapped =
            crate::ffi::MappedU64s::map(std::os::fd::AsFd::as_fd(&owners), COUNTER_SLOTS as usize).ok();
        let lane_names = map(format!("{prefix}_class_lanes"))?;
        let lanes = (lane_names.max_entries() == COUNTER_SLOTS)
            .then(|| Ok::<_, anyhow::Error>((lane_names, map(format!("{prefix}_class_slots"))?)))
            .transpose()?;
        let peer_names = map(format!("{prefix}_peer_lanes"))?;
        let peer_lanes = (peer_names.max_entries() == PEER_CELLS)
            .then(|| {
                let counters = map(format!("{prefix}_peer_slots"))?;
                Ok::<_, anyhow::Error>((peer_names, counters, map(format!("{prefix}_peer_claims"))?))
            })
            .transpose()?;
        Ok(Slots { owners, mapped, counters: map(format!("{prefix}_slots"))?, owner_map, lanes, peer_lanes })
    }

    /// Adds the class lanes of every held slot to `rows` ((owner cgroup id, class id) ->
    /// counters): the counts of the class fast path.
    pub fn fold_lanes(&self, rows: &mut ClassRows) -> Result<()> {
        let Some((names, counters)) = &self.lanes else { return Ok(()) };
        let held = self.held()?;
        let words: HashMap<u32, u64> = percpu::read_u64s(names)?.into_iter().collect();
        // (lane index, owner, class) of every claimed lane of a held slot.
        let mut claimed = Vec::new();
        for (slot, owner) in held {
            let w = words.get(&slot).copied().unwrap_or(u64::MAX);
            for lane in 0..CLASS_LANES {
                let class = (w >> (8 * lane)) as u8;
                if class != CLASS_LANE_FREE {
                    claimed.push((slot * CLASS_LANES + lane, owner, u16::from(class)));
                }
            }
        }
        let lanes: Vec<u32> = claimed.iter().map(|(l, ..)| *l).collect();
        let sums = counters_at(counters, &lanes)?;
        for (lane, owner, class) in claimed {
            if let Some(c) = sums.get(&lane) {
                rows.entry((owner, class)).or_default().add(c);
            }
        }
        Ok(())
    }

    /// The peer lanes of every held slot: (owner, class, address) -> counters, the counts of
    /// the peer fast path.
    pub fn fold_peer_lanes(&self) -> Result<PeerLaneRows> {
        let mut rows = PeerLaneRows::new();
        let Some((keys, counters, _)) = &self.peer_lanes else { return Ok(rows) };
        let held: HashMap<u32, u64> = self.held()?.into_iter().collect();
        let mut claimed = Vec::new();
        percpu::for_each(keys, |k, v| {
            let Some(lane) = percpu::key_u32(k) else { return };
            if let Some((slot, class, addr)) = peer_lane(v) {
                if let Some(owner) = held.get(&slot) {
                    claimed.push((lane, *owner, class, addr));
                }
            }
        })?;
        let lanes: Vec<u32> = claimed.iter().map(|(l, ..)| *l).collect();
        let sums = counters_at(counters, &lanes)?;
        for (lane, owner, class, addr) in claimed {
            if let Some(c) = sums.get(&lane) {
                rows.entry((owner, class, addr)).or_default().add(c);
            }
        }
        Ok(rows)
    }

    /// The classes in the lanes of the held slots (their counters are this source's class
    /// rows of the slots' owners).
    pub fn lane_classes(&self) -> Result<BTreeSet<u16>> {
        let Some((names, _)) = &self.lanes else { return Ok(BTreeSet::new()) };
        let held: Vec<u32> = self.held()?.into_iter().map(|(s, _)| s).collect();
        let words: HashMap<u32, u64> = percpu::read_u64s(names)?.into_iter().collect();
        Ok(held
            .iter()
            .filter_map(|s| words.get(s))
            .flat_map(|w| (0..CLASS_LANES).map(move |l| (w >> (8 * l)) as u8))
            .filter(|c| *c != CLASS_LANE_FREE)
            .map(u16::from)
            .collect())
    }

    /// The name of the pinned owner array.
    pub fn owner_map(&self) -> &str {
        &self.owner_map
    }

    /// (slot, owner cgroup id) of every held slot; slot 0 (the unresolved bucket's) always.
    fn held(&self) -> Result<Vec<(u32, u64)>> {
        let owners = match &self.mapped {
            Some(m) => m
                .values()
                .iter()
                .enumerate()
                .map(|(slot, o)| (slot as u32, o.load(std::sync::atomic::Ordering::Relaxed)))
                .collect(),
            None => percpu::read_u64s(&self.owners)?,
        };
        Ok(owners
            .into_iter()
            .filter(|&(slot, owner)| slot == 0 || (owner != SLOT_FREE && owner != SLOT_RETIRED))
            .map(|(slot, owner)| (slot, if slot == 0 { CGID_UNRESOLVED } else { owner }))
            .collect())
    }

    /// How many cgroups hold a slot (the unresolved bucket's slot 0 left out).
    pub fn holders(&self) -> Result<usize> {
        Ok(self.held()?.iter().filter(|(s, _)| *s != 0).count())
    }

    /// Per-CPU sums of the counters of `slots`.
    fn counters_of(&self, slots: &[u32]) -> Result<HashMap<u32, Counters>> {
        counters_at(&self.counters, slots)
    }

    /// Adds each held slot's counters to its owner's row of `rows` (the hash's entries,
    /// keyed by the u64 cgroup id); a row is added for an owner the hash no longer has
    /// (a `reap` under way). Returns how many cgroups hold a slot.
    pub fn fold_into(&self, rows: &mut Vec<(u64, Counters)>) -> Result<usize> {
        let held = self.held()?;
        let holders = held.iter().filter(|(s, _)| *s != 0).count();
        let counters = self.counters_of(&held.iter().map(|(s, _)| *s).collect::<Vec<_>>())?;
        // Slots with counts, by owner: usually far fewer than the rows.
        let mut by_owner: HashMap<u64, Counters> = held
            .iter()
            .filter_map(|(slot, owner)| {
                Some((*owner, *counters.get(slot).filter(|c| **c != Counters::default())?))
            })
            .collect();
        for (k, c) in rows.iter_mut() {
            if by_owner.is_empty() {
                break;
            }
            if let Some(x) = by_owner.remove(k) {
                c.add(&x);
            }
        }
        rows.extend(by_owner);
        Ok(holders)
    }

    /// Takes back the slots held by `ids`, exactly, and returns what each had counted (the
    /// per-CPU sums, by owner) and what its class lanes had counted (by owner and class).
    /// Each slot is first marked retired: from then on its owner's packets go to its hash
    /// entries and no cgroup claims it. Once every program that may have seen the old owner
    /// has finished (an RCU grace period), nothing writes the slot or its lanes: they are
    /// read, zeroed and freed for the next cgroup. A slot of a cgroup that lost it to
    /// another (not held) is left alone.
    pub fn retire(&self, ids: &BTreeSet<u64>) -> Result<Taken> {
        let mine: Vec<(u32, u64)> =
            self.held()?.into_iter().filter(|(s, id)| *s != 0 && ids.contains(id)).collect();
        let mut out = Taken::default();
        if mine.is_empty() {
            return Ok(out);
        }
        let set = |slot: u32, owner: u64| {
            self.owners
                .update(&slot.to_ne_bytes(), &owner.to_ne_bytes(), MapFlags::ANY)
                .context("writing a slot owner")
        };
        for &(s, _) in &mine {
            set(s, SLOT_RETIRED)?;
        }
        crate::ffi::wait_for_running_programs().context("waiting for running BPF programs (membarrier)")?;
        let zero = vec![vec![0u8; Counters::SIZE]; libbpf_rs::num_possible_cpus()?];
        // Read, then zeroed: nothing writes a retired slot or its lanes any more.
        let take = |map: &MapHandle, k: u32| -> Result<Counters> {
            let values = map.lookup_percpu(&k.to_ne_bytes(), MapFlags::ANY).context("reading a slot")?;
            map.update_percpu(&k.to_ne_bytes(), &zero, MapFlags::ANY).context("zeroing a slot")?;
            Ok(percpu::sum(values.iter().flatten().map(Vec::as_slice)))
        };
        // The retired slots' peer lanes in the pool: (lane, class, address) by slot; and how
        // many lanes the others hold (the pool's count, written again once they are freed).
        let mut pool: HashMap<u32, Vec<(u32, u16, [u8; 16])>> = HashMap::new();
        let mut kept = 0u64;
        if let Some((keys, ..)) = &self.peer_lanes {
            let retiring: HashSet<u32> = mine.iter().map(|(s, _)| *s).collect();
            percpu::for_each(keys, |k, v| {
                if let (Some(lane), Some((slot, class, addr))) = (percpu::key_u32(k), peer_lane(v)) {
                    if retiring.contains(&slot) {
                        pool.entry(slot).or_default().push((lane, class, addr));
                    } else {
                        kept += 1;
                    }
                }
            })?;
        }
        for &(s, owner) in &mine {
            let c = take(&self.counters, s)?;
            if let Some((names, counters)) = &self.lanes {
                // The gone cgroup's class lanes are handed on with its counters and emptied
                // for the slot's next owner.
                let w = names
                    .lookup(&s.to_ne_bytes(), MapFlags::ANY)
                    .context("reading class lanes")?
                    .and_then(|b| Some(u64::from_ne_bytes(b.get(..8)?.try_into().ok()?)))
                    .unwrap_or(u64::MAX);
                for lane in 0..CLASS_LANES {
                    let class = (w >> (8 * lane)) as u8;
                    let lc = take(counters, s * CLASS_LANES + lane)?;
                    if class != CLASS_LANE_FREE {
                        out.lanes.entry((owner, u16::from(class))).or_default().add(&lc);
                    }
                }
                names
                    .update(&s.to_ne_bytes(), &u64::MAX.to_ne_bytes(), MapFlags::ANY)
                    .context("freeing class lanes")?;
            }
            if let Some((keys, counters, claims)) = &self.peer_lanes {
                // Its peer lanes the same way: handed on, then freed (a zero state), and its
                // count of them back to zero.
                for (lane, class, addr) in pool.remove(&s).unwrap_or_default() {
                    let lc = take(counters, lane)?;
                    out.peers.entry((owner, class, addr)).or_default().add(&lc);
                    keys.update(&lane.to_ne_bytes(), &[0u8; 24], MapFlags::ANY)
                        .context("freeing a peer lane")?;
                }
                claims
                    .update(&s.to_ne_bytes(), &0u64.to_ne_bytes(), MapFlags::ANY)
                    .context("zeroing a slot's count of peer lanes")?;
            }
            set(s, SLOT_FREE)?;
            out.totals.entry(owner).or_default().add(&c);
        }
        if let Some((.., claims)) = &self.peer_lanes {
            // The pool's count from the scan: the programs add each claim to it and nothing
            // takes a freed lane off, so it is written again here (claims made during the scan
            // are missed until the next one: the count only says when a slot may pass its
            // share, nothing is counted by it).
            claims
                .update(&PEER_POOL_COUNT.to_ne_bytes(), &kept.to_ne_bytes(), MapFlags::ANY)
                .context("writing the pool's count of peer lanes")?;
        }
        Ok(out)
    }
}

/// What `Slots::retire` took back: per-cgroup counters by owner, and class lanes by (owner,
/// class id).
#[derive(Debug, Default)]
pub struct Taken {
    pub totals: HashMap<u64, Counters>,
    pub lanes: HashMap<(u64, u16), Counters>,
    /// Peer lanes by (owner, class id, address).
    pub peers: PeerLaneRows,
}

/// Per-CPU sums of the counters at `keys` of a per-CPU array: a lookup each, or one batch
/// read of the whole array when there are many.
fn counters_at(map: &MapHandle, keys: &[u32]) -> Result<HashMap<u32, Counters>> {
    if keys.len() > BATCH_ABOVE {
        return Ok(percpu::read_counters(map, percpu::key_u32)?.into_iter().collect());
    }
    let mut out = HashMap::with_capacity(keys.len());
    for &k in keys {
        let values = map.lookup_percpu(&k.to_ne_bytes(), MapFlags::ANY).context("reading a slot")?;
        out.insert(k, percpu::sum(values.iter().flatten().map(Vec::as_slice)));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn home_slots_stay_in_range_and_keep_slot_0_for_the_unresolved_bucket() {
        assert_eq!(home_slot(0), 0);
        for id in (1..200_000u64).chain([u64::MAX - 1, 1 << 40]) {
            let s = home_slot(id);
            assert!((1..COUNTER_SLOTS).contains(&s), "{id} -> {s}");
        }
    }
}
