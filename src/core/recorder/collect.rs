//! The recorder's collection of gone workloads: their counters (and class rows) taken out
//! of the maps exactly, billed with their cursors' removal, put back if the bill fails.
use std::collections::{BTreeSet, HashMap, HashSet};
use std::rc::Rc;
use std::time::Instant;

use anyhow::Result;

use super::read::Reads;
use super::{now, Recorder, LOOK_TURN};
use crate::bpf::Counters;
use crate::core::group::who_of;
use crate::core::namer::Namer;
use crate::core::retire;
use crate::ledger::Ledger;
use crate::model::{Reading, Workload};

impl Recorder<'_> {
    /// Asks the kernel which of the cgroups read are gone, and collects those: the cgroups
    /// whose counters did not move since the last read (a workload that is gone stops
    /// sending), and a turning share of the others (a gone cgroup whose sockets live on is
    /// collected within LOOK_TURN looks); every one at a stop (`all`). Returns the rows
    /// billed and the cgroups collected.
    pub(super) fn look_for_gone(
        &mut self,
        ledger: &mut Ledger,
        reads: &Reads,
        all: bool,
    ) -> Result<(usize, usize)> {
        self.collected_at = Some(Instant::now());
        self.looks += 1;
        let turn = self.looks % LOOK_TURN;
        let ask = reads
            .counted
            .iter()
            .copied()
            .filter(|id| all || !reads.moving.contains(id) || id % LOOK_TURN == turn)
            .collect();
        self.collect(ledger, &reads.counted, &ask)
    }

    /// Collects the workloads the kernel says are gone: their counters removed from the
    /// maps (exactly what the removal returned) and billed with their cursors' removal; put
    /// back if the bill fails. Returns (rows billed, workloads collected).
    pub(super) fn collect(
        &mut self,
        ledger: &mut Ledger,
        counted: &BTreeSet<u64>,
        ask: &BTreeSet<u64>,
    ) -> Result<(usize, usize)> {
        let inst = self.inst;
        let plan = retire::plan_among(inst, &mut Namer::new(self.g, Some(inst))?, counted, ask)?;
        if plan.gone.is_empty() {
            return Ok((0, 0));
        }
        let retired = retire::take(inst, &plan)?;
        let at = now();
        if let Err(e) = self.collect_peers(ledger, &plan.gone, &retired, at) {
            retire::restore(inst, &retired)?;
            return Err(e);
        }
        // Their reads still waiting, then the final counters, their class rows' too: each
        // exactly what its removal returned, billed to the workload of the cgroup's row.
        let mut batch = self.unbilled.of(&plan.gone);
        let names = if retired.iter().any(|r| r.class.is_some()) {
            crate::bpf::class_table::names(&inst.class_names)?
        } else {
            Vec::new()
        };
        let mut whos: HashMap<u64, Rc<Workload>> = HashMap::new();
        let mut finals = HashSet::new();
        // Peer lanes' rows are the peer bill's (collect_peers), not the usage's.
        let (peer_lanes, retired): (Vec<_>, Vec<_>) = retired.into_iter().partition(|r| r.peer.is_some());
        for r in &retired {
            let who = whos
                .entry(r.cgroup_id)
                .or_insert_with(|| {
                    Rc::new(who_of(&self.reporter.gone_row(r.cgroup_id, r.source, r.counters)))
                })
                .clone();
            let class = r.class.map(|c| crate::core::classes::name_of(&names, c)).unwrap_or_default();
            finals.insert((r.source, r.cgroup_id, class.clone()));
            batch.seen.push(Reading {
                source: r.source,
                cgroup_id: r.cgroup_id,
                class,
                counters: r.counters,
                who,
                at,
                last: true,
            });
        }
        // Class rows read before that the maps no longer held: their cursors go.
        for ((source, id, class), c) in self.unbilled.class_rows(&plan.gone) {
            let class = self.unbilled.class_names.name(class).to_string();
            if finals.contains(&(source, id, class.clone())) {
                continue;
            }
            let who = whos
                .entry(id)
                .or_insert_with(|| Rc::new(who_of(&self.reporter.gone_row(id, source, Counters::default()))))
                .clone();
            batch.seen.push(Reading { source, cgroup_id: id, class, counters: c, who, at, last: true });
        }
        match ledger.bill(&self.key, &batch.seen, at, false) {
            Ok(b) => {
                self.unbilled.billed(&batch);
                self.unbilled.forget(&plan.gone);
                retire::finish(inst, &plan)?;
                Ok((b.rows, retired.iter().filter(|r| r.class.is_none()).count()))
            }
            Err(e) => {
                // Not billed: the counters go back into the maps for the next cycle (the peer
                // lanes' were billed with their peers: they stay out).
                drop(peer_lanes);
                retire::restore(inst, &retired)?;
                Err(e.context("billing the final counters of gone workloads (they were put back)"))
            }
        }
    }
}
