//! The recorder's part of who talks to whom (a load with `--breakdown peer`): every cycle,
//! each peer row's delta billed to its cgroup's workload and the address book noted; at a
//! collection, the gone cgroups' peer rows taken out of the maps and billed last.
use std::collections::{BTreeMap, BTreeSet};

use anyhow::Result;

use super::read::Reads;
use super::Recorder;
use crate::bpf::layout::META_PEERS;
use crate::core::peers::{self, Peer};
use crate::core::reader::{self, Query};
use crate::core::retire::Retired;
use crate::core::row::{By, Extra};
use crate::ledger::peers::{PeerReading, PeerRowKey};
use crate::ledger::Ledger;
use crate::model::{Counters, Source};

/// The address book is noted at least this often.
const NOTE_EVERY: std::time::Duration = std::time::Duration::from_secs(60);

impl Recorder<'_> {
    /// Reads both sources' peer rows and bills them; notes who holds each address. The
    /// cgroups with peer rows are counted (a cgroup's peer rows are collected with it).
    pub(super) fn record_peers(&mut self, ledger: &mut Ledger, at: i64, reads: &mut Reads) -> Result<usize> {
        let inst = self.inst;
        if !inst.meta.has(META_PEERS) {
            return Ok(0);
        }
        let mut rows = Vec::new();
        for source in [Source::Tc, Source::Socket] {
            for r in reader::read(inst, Query { source, by: By::Peer })?.rows {
                let Extra::Peer(_, class, peer) = r.extra else { continue };
                if r.counters == Counters::default() {
                    continue;
                }
                reads.counted.insert(r.key.0);
                let row = PeerReading {
                    source,
                    cgroup_id: r.key.0,
                    class,
                    peer: peers::ledger_text(&peer),
                    counters: r.counters,
                };
                // A row as it was last billed has nothing to bill: no question to the ledger.
                if self.peers_billed.get(&row.key()) != Some(&r.counters) {
                    rows.push(row);
                }
            }
        }
        let (n, waiting) = ledger.bill_peers(&self.key.key, at, &rows, &[])?;
        // What was billed is remembered (what waits for its cgroup's workload is asked again).
        let waiting: std::collections::HashSet<usize> = waiting.into_iter().collect();
        for (_, r) in rows.iter().enumerate().filter(|(i, _)| !waiting.contains(i)) {
            self.peers_billed.insert(r.key(), r.counters);
        }
        // Who holds each address: noted again when a namespace came or went (an address can
        // change hands then), and at least every NOTE_EVERY; entering every namespace is the
        // costly part.
        let fingerprint = crate::core::addrbook::namespaces_fingerprint();
        if self.noted.is_some_and(|(t, f)| f == fingerprint && t.elapsed() < NOTE_EVERY) {
            return Ok(n);
        }
        self.noted = Some((std::time::Instant::now(), fingerprint));
        let book = self.reporter.address_book();
        ledger.note_addresses(at, book.entries())?;
        Ok(n)
    }

    /// Takes the peer rows of the cgroups `gone` out of the maps and bills them (with the
    /// rows of their classes not counted per peer, from `retired`), their cursors dropped;
    /// put back if the bill fails. Runs before their usage is billed: the workload their
    /// peers are billed to is their usage cursors'.
    pub(super) fn collect_peers(
        &mut self,
        ledger: &mut Ledger,
        gone: &BTreeSet<u64>,
        retired: &[Retired],
        at: i64,
    ) -> Result<()> {
        let inst = self.inst;
        if !inst.meta.has(META_PEERS) {
            return Ok(());
        }
        let taken = peers::take(inst, gone)?;
        let marked = peers::classes(inst)?;
        let names = crate::bpf::class_table::names(&inst.class_names)?;
        // A peer taken from its lane and from the hash is one row, as the reader merges them.
        let mut merged: BTreeMap<PeerRowKey, PeerReading> = BTreeMap::new();
        let mut add = |source, cgroup_id, class_id, peer: String, counters: Counters| {
            let class = crate::core::classes::name_of(&names, class_id);
            let row = PeerReading { source, cgroup_id, class, peer, counters };
            merged.entry(row.key()).and_modify(|m| m.counters.add(&counters)).or_insert(row);
        };
        for t in &taken {
            add(t.source, t.row.cgroup_id, t.row.class_id, peers::ledger_text(&t.row.peer), t.row.counters);
        }
        for r in retired {
            match (r.class, r.peer) {
                (Some(c), Some(addr)) => {
                    add(r.source, r.cgroup_id, c, crate::bpf::layout::ip_of(addr).to_string(), r.counters)
                }
                (Some(c), None) if !marked.contains(&c) => {
                    add(r.source, r.cgroup_id, c, peers::ledger_text(&Peer::Class), r.counters)
                }
                _ => {}
            }
        }
        let rows: Vec<PeerReading> = merged.into_values().collect();
        let finals: Vec<u64> = gone.iter().copied().collect();
        if let Err(e) = ledger.bill_peers(&self.key.key, at, &rows, &finals) {
            peers::restore(inst, &taken)?;
            return Err(e.context("billing the peer rows of gone workloads (they were put back)"));
        }
        self.peers_billed.retain(|(_, id, ..), _| !gone.contains(id));
        Ok(())
    }
}
