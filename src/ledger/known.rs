//! What the recording connection knows the file holds, kept between bills so that a bill
//! writes without reading back: the cursors of the instance it bills, and the workloads
//! billed lately with their descriptions. Valid only while no other connection has billed into
//! the file: each bill reads the version of the last bill (`versions`) inside its (immediate)
//! transaction and reloads the cursors when it is not this connection's own last one. (An
//! export's acknowledgement writes only `exports`, so a recorder with an exporter beside it
//! does not reload at every export; SQLite's `data_version`, used before, changed with any
//! commit.) Changes are applied only after their transaction commits, so a failed bill leaves
//! it as the file is.
use std::rc::Rc;

use anyhow::{anyhow, Result};
use foldhash::HashMap;
use rusqlite::{params, Transaction};

use crate::bpf::{Counters, Source};
use crate::model::Workload;

/// A cursor: the counters last billed of one row (source, cgroup, class) of an instance.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cursor {
    pub source: Source,
    pub cgroup_id: u64,
    pub class: String,
    pub counters: Counters,
}

/// The counters last billed of one row of a cgroup.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Last {
    pub source: Source,
    pub class: String,
    pub counters: Counters,
}

/// The counters last billed of each row of one cgroup. The ledger keeps them in one
/// `cursors` row a cgroup (a bill writes a cgroup's cursors once, however many sources and
/// classes moved), as the JSON array of `[source, class, rx_bytes, tx_bytes, rx_packets,
/// tx_packets]`.
pub type Rows = Vec<Last>;

#[derive(Debug, Default)]
pub struct Known {
    /// The version of the last bill in the file when this was read or this connection last
    /// billed, and the instance it billed.
    version: Option<(i64, String)>,
    /// cgroup id -> the counters billed of its rows, of the instance.
    cursors: HashMap<u64, Rows>,
    /// cgroup id -> the workload it was last billed to, as the file held it when read.
    billed_to: HashMap<u64, i64>,
    /// identity -> (workload id, the description last written, its last_seen).
    workloads: HashMap<String, (i64, Rc<Workload>, i64)>,
    /// How often the file was read (tests: what does not make it read again).
    pub(super) reads: usize,
}

/// What a bill changed, applied once it committed.
#[derive(Debug, Default)]
pub struct Changes {
    /// (cgroup id, its cursors now; none left: its row was dropped).
    pub cursors: Vec<(u64, Rows)>,
    /// (id, description, last_seen) of the workloads written.
    pub workloads: Vec<(i64, Rc<Workload>, i64)>,
    /// The version the bill wrote under.
    pub version: Option<i64>,
}

/// One cursor as the ledger's JSON holds it.
type Stored<C> = (Source, C, u64, u64, u64, u64);

/// The `cursors.counters` text of a cgroup's rows.
pub fn encode(rows: &Rows) -> Result<String> {
    let stored: Vec<Stored<&str>> = rows
        .iter()
        .map(|Last { source, class, counters: c }| {
            (*source, class.as_str(), c.rx_bytes, c.tx_bytes, c.rx_packets, c.tx_packets)
        })
        .collect();
    Ok(serde_json::to_string(&stored)?)
}

/// A cgroup's rows from its `cursors.counters` text.
pub fn decode(cgroup_id: u64, text: &str) -> Result<Rows> {
    let stored: Vec<Stored<String>> = serde_json::from_str(text).map_err(|e| {
        anyhow!("the ledger's cursors of cgroup {cgroup_id} are not what netattr writes ({e}): restore the file from a backup, or move it aside to start a new ledger")
    })?;
    Ok(stored
        .into_iter()
        .map(|(source, class, rx_bytes, tx_bytes, rx_packets, tx_packets)| Last {
            source,
            class,
            counters: Counters { rx_bytes, tx_bytes, rx_packets, tx_packets },
        })
        .collect())
}

impl Known {
    /// Makes sure this is what the file holds for `instance`, read in `tx`.
    pub fn check(&mut self, tx: &Transaction<'_>, instance: &str) -> Result<()> {
        // The version of the last bill, whoever wrote it: another recorder's bill moves it,
        // an export's acknowledgement (which writes `exports` only) does not.
        let v: i64 = tx.query_row("SELECT version FROM versions WHERE id = 1", [], |r| r.get(0))?;
        if self.version.as_ref().is_some_and(|(seen, i)| *seen == v && i == instance) {
            return Ok(());
        }
        *self = Known { reads: self.reads + 1, ..Known::default() };
        let mut q = tx.prepare(
            "SELECT cgroup_id, counters, workload FROM cursors
             WHERE instance = (SELECT id FROM instances WHERE instance = ?1)",
        )?;
        let mut rows = q.query(params![instance])?;
        while let Some(r) = rows.next()? {
            let id = r.get::<_, i64>(0)? as u64;
            self.cursors.insert(id, decode(id, r.get_ref(1)?.as_str()?)?);
            if let Some(w) = r.get::<_, Option<i64>>(2)? {
                self.billed_to.insert(id, w);
            }
        }
        // The workloads billed in the last day, as the file describes them: a recorder that
        // starts again finds them unchanged and only moves their last_seen.
        let mut q = tx.prepare(
            "SELECT id, identity, kind, runtime, name, pod_namespace, pod_name, container_id, pod_uid, path, labels, last_seen
             FROM workloads WHERE last_seen >= (SELECT max(last_seen) FROM workloads) - 86400",
        )?;
        let mut rows = q.query([])?;
        while let Some(r) = rows.next()? {
            let who = workload_at(r, 1)?;
            self.workloads.insert(who.identity.clone(), (r.get(0)?, Rc::new(who), r.get(11)?));
        }
        self.version = Some((v, instance.to_string()));
        Ok(())
    }

    /// The counters last billed of a cgroup's rows (none: never billed).
    pub fn rows(&self, cgroup_id: u64) -> Option<&Rows> {
        self.cursors.get(&cgroup_id)
    }

    /// Every cursor known.
    pub fn cursors(&self) -> Vec<Cursor> {
        let rows = self.cursors.iter();
        rows.flat_map(|(id, v)| {
            v.iter().map(|l| Cursor {
                source: l.source,
                cgroup_id: *id,
                class: l.class.clone(),
                counters: l.counters,
            })
        })
        .collect()
    }

    /// Workload each cgroup with cursors was last billed to, where that workload was billed in the
    /// last day (as the file held them when read): a recorder that starts again bills its
    /// reads to them until it has named them again.
    pub fn billed_to(&self) -> Vec<(u64, Rc<Workload>)> {
        let by_id: HashMap<i64, &Rc<Workload>> =
            self.workloads.values().map(|(id, who, _)| (*id, who)).collect();
        let known = self.billed_to.iter();
        known.filter_map(|(cgroup, w)| Some((*cgroup, Rc::clone(by_id.get(w)?)))).collect()
    }

    /// The id of `who`'s workload and its last_seen, if it was written with this very
    /// description.
    pub fn workload(&self, who: &Rc<Workload>) -> Option<(i64, i64)> {
        let (id, known, seen) = self.workloads.get(&who.identity)?;
        (Rc::ptr_eq(known, who) || **known == **who).then_some((*id, *seen))
    }

    /// Takes in what a committed bill changed.
    pub fn apply(&mut self, changes: Changes) {
        // This bill's version is what the file holds now.
        if let (Some(v), Some((seen, _))) = (changes.version, self.version.as_mut()) {
            *seen = v;
        }
        for (id, rows) in changes.cursors {
            if rows.is_empty() {
                self.cursors.remove(&id);
            } else {
                self.cursors.insert(id, rows);
            }
        }
        for (id, who, seen) in changes.workloads {
            self.workloads.insert(who.identity.clone(), (id, who, seen));
        }
    }

    /// Forgets everything (a bill failed: the next one reads the file again).
    pub fn forget(&mut self) {
        *self = Known::default();
    }
}

/// A workload's description from a row whose columns from `at` on are identity, kind,
/// runtime, name, pod_namespace, pod_name, container_id, pod_uid, path, labels.
pub(super) fn workload_at(r: &rusqlite::Row<'_>, at: usize) -> rusqlite::Result<Workload> {
    Ok(Workload {
        identity: r.get(at)?,
        kind: r.get(at + 1)?,
        runtime: r.get(at + 2)?,
        name: r.get(at + 3)?,
        pod_namespace: r.get(at + 4)?,
        pod_name: r.get(at + 5)?,
        container_id: r.get(at + 6)?,
        pod_uid: r.get(at + 7)?,
        path: r.get(at + 8)?,
        labels: r.get(at + 9)?,
    })
}
