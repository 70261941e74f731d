//! What the recording connection knows the file holds, kept between bills so that a bill
//! writes without reading back: the cursors of the instance it bills, and the workloads
//! billed lately with their descriptions. Valid only while no other connection has written the file: each bill
//! asks SQLite's `PRAGMA data_version` inside its (immediate) transaction and reloads the
//! cursors when another writer committed since this connection's last bill. Changes are
//! applied only after their transaction commits, so a failed bill leaves it as the file is.
use std::collections::HashMap;
use std::rc::Rc;

use anyhow::Result;
use rusqlite::{params, Transaction};

use super::bill::Who;
use crate::bpf::{Counters, Source};

/// A cursor: (source, cgroup id, class) and the counters last billed of that row.
pub type Cursor = ((Source, u64, String), Counters);

#[derive(Debug, Default)]
pub struct Known {
    /// `data_version` seen by the last bill that committed, and the instance it billed.
    version: Option<(i64, String)>,
    /// (source, cgroup id) -> (class, counters billed) of the instance.
    cursors: HashMap<(Source, u64), Vec<(String, Counters)>>,
    /// identity -> (workload id, the description last written, its last_seen).
    workloads: HashMap<String, (i64, Rc<Who>, i64)>,
}

/// What a bill changed, applied once it committed.
#[derive(Debug, Default)]
pub struct Changes {
    /// (source, cgroup id, class, the new cursor or none: dropped).
    pub cursors: Vec<(Source, u64, String, Option<Counters>)>,
    /// (id, description, last_seen) of the workloads written.
    pub workloads: Vec<(i64, Rc<Who>, i64)>,
}

impl Known {
    /// Makes sure this is what the file holds for `instance`, read in `tx`.
    pub fn check(&mut self, tx: &Transaction<'_>, instance: &str) -> Result<()> {
        let v: i64 = tx.pragma_query_value(None, "data_version", |r| r.get(0))?;
        if self.version.as_ref().is_some_and(|(seen, i)| *seen == v && i == instance) {
            return Ok(());
        }
        *self = Known::default();
        let mut q = tx.prepare(
            "SELECT source, cgroup_id, class, rx_bytes, tx_bytes, rx_packets, tx_packets FROM cursors
             WHERE instance = (SELECT id FROM instances WHERE instance = ?1)",
        )?;
        let mut rows = q.query(params![instance])?;
        while let Some(r) = rows.next()? {
            let source = if r.get_ref(0)?.as_str()? == "tc" { Source::Tc } else { Source::Socket };
            let c = Counters {
                rx_bytes: r.get::<_, i64>(3)? as u64,
                tx_bytes: r.get::<_, i64>(4)? as u64,
                rx_packets: r.get::<_, i64>(5)? as u64,
                tx_packets: r.get::<_, i64>(6)? as u64,
            };
            self.cursors.entry((source, r.get::<_, i64>(1)? as u64)).or_default().push((r.get(2)?, c));
        }
        // The workloads billed in the last day, as the file describes them: a recorder that
        // starts again finds them unchanged and only moves their last_seen.
        let mut q = tx.prepare(
            "SELECT id, identity, kind, runtime, name, pod_namespace, pod_name, container_id, pod_uid, path, labels, last_seen
             FROM workloads WHERE last_seen >= (SELECT max(last_seen) FROM workloads) - 86400",
        )?;
        let mut rows = q.query([])?;
        while let Some(r) = rows.next()? {
            let who = Who {
                identity: r.get(1)?,
                kind: r.get(2)?,
                runtime: r.get(3)?,
                name: r.get(4)?,
                pod_namespace: r.get(5)?,
                pod_name: r.get(6)?,
                container_id: r.get(7)?,
                pod_uid: r.get(8)?,
                path: r.get(9)?,
                labels: r.get(10)?,
            };
            self.workloads.insert(who.identity.clone(), (r.get(0)?, Rc::new(who), r.get(11)?));
        }
        self.version = Some((v, instance.to_string()));
        Ok(())
    }

    /// The counters last billed of a row (zero: never billed).
    pub fn cursor(&self, source: Source, cgroup_id: u64, class: &str) -> Counters {
        self.cursors
            .get(&(source, cgroup_id))
            .and_then(|v| v.iter().find(|(c, _)| c == class))
            .map(|(_, c)| *c)
            .unwrap_or_default()
    }

    /// Every cursor known: (source, cgroup id, class) and the counters last billed.
    pub fn cursors(&self) -> Vec<Cursor> {
        let rows = self.cursors.iter();
        rows.flat_map(|((source, id), v)| v.iter().map(|(class, c)| ((*source, *id, class.clone()), *c)))
            .collect()
    }

    /// The id of `who`'s workload and its last_seen, if it was written with this very
    /// description.
    pub fn workload(&self, who: &Rc<Who>) -> Option<(i64, i64)> {
        let (id, known, seen) = self.workloads.get(&who.identity)?;
        (Rc::ptr_eq(known, who) || **known == **who).then_some((*id, *seen))
    }

    /// Takes in what a committed bill changed.
    pub fn apply(&mut self, changes: Changes) {
        for (source, id, class, c) in changes.cursors {
            let row = self.cursors.entry((source, id)).or_default();
            let at = row.iter().position(|(k, _)| *k == class);
            match (at, c) {
                (Some(i), Some(c)) => row[i].1 = c,
                (None, Some(c)) => row.push((class, c)),
                (Some(i), None) => {
                    row.swap_remove(i);
                    if row.is_empty() {
                        self.cursors.remove(&(source, id));
                    }
                }
                (None, None) => {}
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
